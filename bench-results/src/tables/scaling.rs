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
    // (sweep, fixed, x, kernel) -> metric -> cell
    let mut cells: BTreeMap<(u8, u32, u32, String), BTreeMap<String, String>> = BTreeMap::new();
    let mut order: Vec<(u8, u32, u32, String)> = vec![];
    for p in &data.points {
        if !metrics.contains(&p.metric) {
            metrics.push(p.metric.clone());
        }
        let key = key_of(p);
        if !order.contains(&key) {
            order.push(key.clone());
        }
        cells
            .entry(key)
            .or_default()
            .insert(p.metric.clone(), cell(p));
    }
    for g in &data.missing {
        if let Some(x) = g.x {
            let sweep = if g.sweep == Axis::Threads { 0 } else { 1 };
            for k in order.clone() {
                if k.0 == sweep && k.2 == x && k.3 == g.kernel {
                    cells
                        .entry(k)
                        .or_default()
                        .entry(g.metric.clone())
                        .or_insert_with(|| format!("n/a: {}", short(&g.reason)));
                }
            }
        }
    }
    order.sort();
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|k| {
            let (threads, vcpus) = if k.0 == 0 { (k.2, k.1) } else { (k.1, k.2) };
            let over = data
                .points
                .iter()
                .find(|p| key_of(p) == *k && p.overcommitted.is_some())
                .map_or("", |_| " (overcommitted)");
            let mut row = vec![k.3.clone(), format!("{threads} × {vcpus}{over}")];
            for m in &metrics {
                row.push(cells[k].get(m).cloned().unwrap_or_else(|| "–".into()));
            }
            row
        })
        .collect();
    let mut header = vec!["design", "threads × vCPUs"];
    header.extend(metrics.iter().map(String::as_str));
    Ok(table(&header, &rows)
        + "\nmedian [min–max] over the repeats at each point (n in scaling.json); descriptions, not verdicts.\n")
}

fn key_of(p: &ScalingPoint) -> (u8, u32, u32, String) {
    let (sweep, fixed) = match p.sweep {
        Axis::Threads => (0, p.fixed_vcpus.unwrap_or(0)),
        Axis::Vcpus => (1, p.fixed_threads.unwrap_or(0)),
    };
    (sweep, fixed, p.x, p.kernel.clone())
}

fn cell(p: &ScalingPoint) -> String {
    super::spread_of(&[p.min, p.median, p.max], p.unit)
}

/// The first clause of a reason: tables have no room for the whole sentence.
fn short(reason: &str) -> String {
    reason
        .split([':', ';', '('])
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}
