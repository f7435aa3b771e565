//! Proactive writeback call by call: what each call of a series of small budgets wrote back,
//! and the running total, per kernel (median over repeats at each call number). Where a cursor
//! spends its first calls rotating every child (-EAGAIN, nothing written) and where no cursor
//! writes from the first child at once, these lines show it; the per-child bars do not.

use super::{Extras, Figure, KernelGroups, Line, LineChart, missing_notes, title};
use crate::metrics::{MetricUnit, written_per_call};
use crate::stats;

/// Per kernel, the median over repeats of `f(written per call)` at each call number.
fn median_lines(
    kernels: &KernelGroups,
    f: impl Fn(&[u64]) -> Vec<f64>,
) -> (Vec<Line>, Vec<String>) {
    let mut lines = vec![];
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let series: Vec<Vec<f64>> = runs
            .iter()
            .filter_map(|r| written_per_call(r).ok())
            .map(|w| f(&w))
            .collect();
        let n = series.iter().map(Vec::len).max().unwrap_or(0);
        let points: Vec<(f64, f64)> = (0..n)
            .filter_map(|i| {
                let at: Vec<f64> = series.iter().filter_map(|s| s.get(i).copied()).collect();
                Some(((i + 1) as f64, stats::median(&at)?))
            })
            .collect();
        if !points.is_empty() {
            lines.push(Line {
                label: k.clone(),
                points,
                color: ki,
                legend: true,
                reference: false,
            });
        }
    }
    let drawn = lines.iter().map(|l| l.label.clone()).collect();
    (lines, drawn)
}

fn chart(scenario: &str, kernels: &KernelGroups, cumulative: bool) -> Option<Figure> {
    let (lines, drawn) = median_lines(kernels, |w| {
        let mut total = 0u64;
        w.iter()
            .map(|&b| {
                total += b;
                (if cumulative { total } else { b }) as f64
            })
            .collect()
    });
    if lines.is_empty() {
        return None;
    }
    let notes = missing_notes(kernels, &drawn, |r| written_per_call(r).err());
    let (what, y) = if cumulative {
        (
            "Proactive writeback so far, by call",
            "bytes written back by calls 1..n (median over repeats)",
        )
    } else {
        (
            "Proactive writeback per call",
            "bytes written back by call n (median over repeats)",
        )
    };
    Some(Figure::Lines(LineChart {
        title: title(what, scenario, &drawn),
        x_label: "call number n (one proactive thread, in order)".into(),
        y_label: y.into(),
        x_unit: MetricUnit::Count,
        y_unit: MetricUnit::Bytes,
        x_log: false,
        y_range: None,
        lines,
        extras: Extras {
            notes,
            ..Extras::default()
        },
    }))
}

pub(super) fn written_per_call_chart(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    chart(scenario, kernels, false)
}

pub(super) fn written_so_far_chart(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    chart(scenario, kernels, true)
}
