//! The scaling table: the points the scaling figures draw (`scaling.json`), one row per design
//! and sweep point, "median [min–max]" over the repeats there.

use std::collections::BTreeMap;

use super::table;
use crate::scaling::{Axis, ScalingPoint, scaling_figures};
use crate::schema::ResultFile;

pub(super) fn scaling(results: &[ResultFile]) -> Result<String, String> {
    let (_, data) = scaling_figures(results);
    if data.points.is_empty() {
        return Err("no scaling sweep in these results (scenarios named <family>-t<threads> at two or more thread or vCPU counts)".into());
    }
    let mut metrics: Vec<String> = vec![];
    // (vCPUs, threads, kernel) -> metric -> cell. A point both sweeps share (e.g. 8 threads at
    // 2 vCPUs) is one row.
    let mut cells: BTreeMap<(u32, u32, String), BTreeMap<String, String>> = BTreeMap::new();
    let mut over: BTreeMap<(u32, u32, String), bool> = BTreeMap::new();
    for p in &data.points {
        if !metrics.contains(&p.metric) {
            metrics.push(p.metric.clone());
        }
        let key = key_of(p);
        *over.entry(key.clone()).or_default() |= p.overcommitted.is_some();
        cells
            .entry(key)
            .or_default()
            .insert(p.metric.clone(), cell(p));
    }
    // Gaps: at one point, or (x = None) at every point of that kernel in that sweep.
    for g in &data.missing {
        let why = format!("n/a: {}", short(&g.reason));
        for (k, row) in cells.iter_mut() {
            let x = if g.sweep == Axis::Threads { k.1 } else { k.0 };
            if k.2 == g.kernel && g.x.is_none_or(|gx| gx == x) {
                row.entry(g.metric.clone()).or_insert_with(|| why.clone());
            }
        }
    }
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(k, vals)| {
            let o = if over[k] { " (overcommitted)" } else { "" };
            let mut row = vec![k.2.clone(), format!("{} × {}{o}", k.1, k.0)];
            for m in &metrics {
                row.push(vals.get(m).cloned().unwrap_or_else(|| "–".into()));
            }
            row
        })
        .collect();
    let mut header = vec!["design", "threads × vCPUs"];
    header.extend(metrics.iter().map(String::as_str));
    Ok(table(&header, &rows)
        + "\nmedian [min–max] over the repeats at each point (n in scaling.json); descriptions, not verdicts.\n")
}

/// (vCPUs, threads, kernel) of a point.
fn key_of(p: &ScalingPoint) -> (u32, u32, String) {
    match p.sweep {
        Axis::Threads => (p.fixed_vcpus.unwrap_or(0), p.x, p.kernel.clone()),
        Axis::Vcpus => (p.x, p.fixed_threads.unwrap_or(0), p.kernel.clone()),
    }
}

fn cell(p: &ScalingPoint) -> String {
    super::spread_of(&[p.min, p.median, p.max], p.unit)
}

/// The first clause of a reason: tables have no room for the whole sentence.
fn short(reason: &str) -> String {
    let r = reason.trim_start_matches("n/a: ");
    r.split([':', ';', '('])
        .next()
        .unwrap_or(r)
        .trim()
        .to_string()
}
