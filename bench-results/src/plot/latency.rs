//! Distributions merged over repeats: wait and latency CDFs, and the return-code mix of
//! proactive writes. A CDF of all repeats' events is one line per kernel already, so there is
//! nothing to summarise across runs.

use std::collections::BTreeMap;

use super::{
    BarChart, BarGroup, Extras, Figure, KernelGroups, Line, LineChart, below_root, missing_notes,
    title,
};
use crate::metrics::{self, MetricUnit};
use crate::schema::{Histogram, LockKind, ResultFile, Unit, ret};

fn cdf_line(label: String, h: &Histogram, color: usize) -> Option<Line> {
    if h.count == 0 {
        return None;
    }
    let mut points = vec![(h.min.max(1) as f64, 0.0)];
    points.extend(h.cdf().into_iter().map(|(x, y)| (x.max(1.0), y)));
    Some(Line {
        label,
        points,
        color,
        legend: true,
        reference: false,
    })
}

/// The CDF figure of one latency per kernel (`drawn` names the kernels that have a line,
/// `notes` say why the others have none); `None` when no kernel has a line.
fn cdf_chart(
    scenario: &str,
    what: &str,
    x_label: &str,
    lines: Vec<Line>,
    drawn: Vec<String>,
    notes: Vec<String>,
) -> Option<Figure> {
    (!lines.is_empty()).then(|| {
        Figure::Lines(LineChart {
            title: title(what, scenario, &drawn),
            x_label: x_label.into(),
            y_label: "fraction of events <= x (all repeats)".into(),
            x_unit: MetricUnit::Ns,
            y_unit: MetricUnit::Ratio,
            x_log: true,
            y_range: Some((0.0, 1.0)),
            lines,
            extras: Extras {
                notes,
                ..Extras::default()
            },
        })
    })
}

/// Wait-time histograms of one kernel's cursor locks, merged over repeats, most contended first.
fn cursor_lock_waits(runs: &[&ResultFile]) -> Vec<(String, Histogram)> {
    let mut merged: BTreeMap<String, Histogram> = BTreeMap::new();
    // Only cursor locks: locks watched by name are not what this figure is about.
    for l in runs
        .iter()
        .flat_map(|r| r.probes.locks.iter().flatten())
        .filter(|l| metrics::is_cursor_lock(l))
    {
        // A per-memcg lock is named by its memcg's path under the run's own cgroup root;
        // repeats of one scenario have different roots, so merge by the path below it.
        let name = match l.kind {
            LockKind::PerMemcg => below_root(&l.name).to_string(),
            LockKind::Global => l.name.clone(),
        };
        let h = merged
            .entry(name)
            .or_insert_with(|| Histogram::empty(Unit::Ns));
        let _ = h.merge(&l.wait);
    }
    let mut locks: Vec<(String, Histogram)> = merged.into_iter().collect();
    locks.sort_by_key(|(_, h)| std::cmp::Reverse(h.count));
    locks
}

/// Wait-time CDF per lock (merged over repeats), the most contended locks of each kernel.
pub(super) fn lock_wait_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines = Vec::new();
    let mut drawn = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let locks = cursor_lock_waits(runs);
        for (li, (name, h)) in locks.into_iter().take(3).enumerate() {
            if let Some(mut line) = cdf_line(format!("{k}: {name}"), &h, ki) {
                // Further locks of the same kernel: same hue family, next palette slot.
                line.color = ki + li * kernels.len();
                lines.push(line);
                if !drawn.contains(k) {
                    drawn.push(k.clone());
                }
            }
        }
    }
    let notes = missing_notes(kernels, &drawn, |r| {
        Some(match metrics::locks(r, None) {
            Err(why) => why,
            Ok(_) => "no contended cursor-lock wait in any run".into(),
        })
    });
    let what = "Cursor-lock wait time (contended acquisitions)";
    let x_label = "wait time";
    cdf_chart(scenario, what, x_label, lines, drawn, notes)
}

fn merged<'a>(
    runs: &[&'a ResultFile],
    f: impl Fn(&'a ResultFile) -> Option<Histogram>,
) -> Histogram {
    let mut h = Histogram::empty(Unit::Ns);
    for r in runs {
        if let Some(x) = f(r) {
            let _ = h.merge(&x);
        }
    }
    h
}

/// One CDF line per kernel of a histogram each run has (or says why it has not).
fn per_kernel_cdf(
    scenario: &str,
    kernels: &KernelGroups,
    what: &str,
    x_label: &str,
    hist: impl Fn(&ResultFile) -> Result<Histogram, String>,
) -> Option<Figure> {
    let mut lines = Vec::new();
    let mut drawn = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let h = merged(runs, |r| hist(r).ok());
        if let Some(l) = cdf_line(k.clone(), &h, ki) {
            lines.push(l);
            drawn.push(k.clone());
        }
    }
    let notes = missing_notes(kernels, &drawn, |r| {
        Some(
            hist(r)
                .err()
                .unwrap_or_else(|| "no event in any run".into()),
        )
    });
    cdf_chart(scenario, what, x_label, lines, drawn, notes)
}

pub(super) fn proactive_latency_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    per_kernel_cdf(
        scenario,
        kernels,
        "Proactive writeback latency",
        "latency of one write",
        metrics::proactive_latency,
    )
}

pub(super) fn shrink_memcg_latency_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    per_kernel_cdf(
        scenario,
        kernels,
        "shrink_memcg latency",
        "latency of one call",
        |r| {
            r.probes
                .shrink_memcg
                .as_ref()
                .map(|s| s.latency.clone())
                .ok_or_else(|| "shrink_memcg not probed on this kernel".into())
        },
    )
}

/// Return-code mix of proactive writes per kernel, stacked shares.
pub(super) fn proactive_returns(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut cats = Vec::new();
    let mut mixes: Vec<BTreeMap<String, u64>> = Vec::new();
    for (k, runs) in kernels {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for r in runs {
            for (code, n) in metrics::proactive_returns(r).unwrap_or_default() {
                let c = m.entry(code).or_default();
                *c = c.saturating_add(n);
            }
        }
        if m.values().any(|&n| n > 0) {
            cats.push(k.clone());
            mixes.push(m);
        }
    }
    if cats.is_empty() {
        return None;
    }
    let mut codes: Vec<String> = mixes.iter().flat_map(|m| m.keys().cloned()).collect();
    codes.sort();
    codes.dedup();
    let groups = codes
        .iter()
        .enumerate()
        .map(|(ci, code)| BarGroup {
            label: match code.as_str() {
                ret::OK => format!("{} (budget met)", ret::OK),
                ret::EAGAIN => format!("{} (short of budget)", ret::EAGAIN),
                c => c.to_string(),
            },
            color: ci,
            values: mixes
                .iter()
                .map(|m| {
                    let total: f64 = m.values().map(|&n| n as f64).sum();
                    m.get(code).copied().unwrap_or(0) as f64 / total
                })
                .collect(),
            whiskers: vec![None; mixes.len()],
        })
        .collect();
    let notes = missing_notes(kernels, &cats, |r| {
        Some(
            metrics::proactive_returns(r)
                .err()
                .unwrap_or_else(|| "no proactive write in any run".into()),
        )
    });
    Some(Figure::Bars(BarChart {
        title: title("Proactive writeback return codes", scenario, &cats),
        x_label: "kernel".into(),
        y_label: "share of writes (all repeats)".into(),
        y_unit: MetricUnit::Ratio,
        categories: cats,
        groups,
        stacked: true,
        reference: None,
        notes,
    }))
}
