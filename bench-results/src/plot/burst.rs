//! The burst-after-idle experiment: how slow a latency-sensitive worker's requests get when a
//! burst needs memory after an idle window, per kernel and idle action (nothing, plain reclaim,
//! proactive writeback).
//!
//! Two figures. The percentile distribution on a "nines" axis, where the tail that proactive
//! writeback is meant to shorten gets as much room as the median: repeats are merged by adding
//! their HdrHistograms, never by averaging percentiles (one slow run's tail is the merged tail).
//! And latency over time with the writeback rate under it, so a reader sees a stall line up with
//! the writeback of the same seconds. Runs whose positive control failed (`exercised == false`)
//! are left out of both, with a note: they measure a burst that did not need what is compared.

use std::collections::BTreeMap;

use hdrhistogram::Histogram as Hdr;

use super::series::{median_band, rate_on_grid};
use super::{Extras, Figure, KernelGroups, Line, LineChart, Marker, title};
use crate::metrics::MetricUnit;
use crate::schema::{self, HdrSummary, QUANTILES, ResultFile, group_label, ts_key};
use crate::stats;

const S: f64 = 1e9;
const MS: f64 = 1e6;
const TIME_AXIS: &str = "time since start of measured phase (s)";

/// Whether any run of the scenario has a latency-sensitive worker (else neither figure exists).
fn has_latency(kernels: &KernelGroups) -> bool {
    kernels
        .iter()
        .flat_map(|g| &g.1)
        .any(|r| !r.latency.is_empty())
}

/// The scenario's runs regrouped by kernel and idle action, groups in order of first appearance
/// (so the two figures give a group the same colour).
pub(super) fn burst_groups<'a>(kernels: &KernelGroups<'a>) -> KernelGroups<'a> {
    let mut out: KernelGroups = Vec::new();
    for (k, runs) in kernels {
        for &r in runs {
            let label = group_label(k, r.burst.as_ref().map(|b| b.action));
            match out.iter_mut().find(|(l, _)| *l == label) {
                Some(g) => g.1.push(r),
                None => out.push((label, vec![r])),
            }
        }
    }
    out
}

/// The runs of a group that are compared, and a note on those left out (control failed).
fn exercised<'a>(label: &str, runs: &[&'a ResultFile]) -> (Vec<&'a ResultFile>, Option<String>) {
    let (kept, left): (Vec<&ResultFile>, Vec<&ResultFile>) = runs
        .iter()
        .partition(|r| r.burst.as_ref().is_none_or(|b| b.exercised));
    let note = left.first().map(|r| {
        let why = r
            .burst
            .as_ref()
            .and_then(|b| b.note.clone())
            .unwrap_or_else(|| "not exercised".into());
        format!(
            "{label}: {} of {} runs left out, {why}",
            left.len(),
            runs.len()
        )
    });
    (kept, note)
}

/// "41230" -> "41 230": request counts read at a glance.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The histograms a run adds to its group's line: its workers' requests during the burst when
/// the run has one, else all their requests.
fn run_hists(r: &ResultFile) -> Vec<&HdrSummary> {
    if r.burst.is_some() {
        r.latency.iter().filter_map(|w| w.burst.as_ref()).collect()
    } else {
        r.latency.iter().map(|w| &w.all).collect()
    }
}

/// Position of quantile `q` on the nines axis: 90 % -> 1, 99 % -> 2, 99.9 % -> 3.
pub(super) fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

/// Quantiles a line of `n` requests gets a point at: every 0.02 nines from the median up to
/// 99.99 %, with the named percentiles exactly. Not beyond 1 - 1/n: above it every quantile is
/// the slowest request again, and a flat line out to 99.99 % would claim a tail not measured.
pub(super) fn nines_quantiles(n: u64) -> Vec<f64> {
    let top = 4f64.min((n.max(1) as f64).log10()) + 1e-9;
    let named: Vec<f64> = QUANTILES.iter().map(|q| q.1).collect();
    let grid = (16..=200)
        .map(|k| 1.0 - 10f64.powf(-f64::from(k) / 50.0))
        .filter(|&q| named.iter().all(|&m| (nines(q) - nines(m)).abs() > 1e-6));
    let mut qs: Vec<f64> = grid
        .chain(named.iter().copied())
        .filter(|&q| nines(q) <= top)
        .collect();
    qs.sort_by(f64::total_cmp);
    qs
}

/// The nines x axis' ticks, named as readers know them.
fn nines_ticks() -> Vec<(f64, String)> {
    QUANTILES
        .iter()
        .map(|&(name, q)| (nines(q), format!("{}%", name.trim_start_matches('p'))))
        .collect()
}

/// One group's line: the merged histogram's value (ms) at each quantile.
fn nines_line(label: &str, color: usize, h: &Hdr<u64>, runs: usize) -> Line {
    let points = nines_quantiles(h.len())
        .into_iter()
        .map(|q| (nines(q), h.value_at_quantile(q) as f64 / MS))
        .collect();
    let s = if runs == 1 { "" } else { "s" };
    Line {
        label: format!("{label} (n={} requests, {runs} run{s})", grouped(h.len())),
        points,
        color,
        legend: true,
        reference: false,
    }
}

/// Percentile distribution of request latency per kernel and idle action: the requests during
/// the burst (every request for runs without one), all repeats merged.
pub(super) fn latency_nines(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    if !has_latency(kernels) {
        return None;
    }
    let (mut lines, mut drawn, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut burst_lines, mut all_lines) = (0, 0);
    for (gi, (label, runs)) in burst_groups(kernels).iter().enumerate() {
        let (kept, note) = exercised(label, runs);
        notes.extend(note);
        // A group whose runs were all left out has its note already.
        let compared = kept.iter().any(|r| !r.latency.is_empty());
        let kept: Vec<&ResultFile> = kept
            .into_iter()
            .filter(|r| !run_hists(r).is_empty())
            .collect();
        let h = match schema::merge(kept.iter().flat_map(|r| run_hists(r))) {
            Ok(h) => h,
            Err(e) => {
                notes.push(format!("{label}: n/a: {e}"));
                continue;
            }
        };
        if h.is_empty() {
            if compared {
                notes.push(format!("{label}: n/a: no request in any compared run"));
            }
            continue;
        }
        if kept.iter().any(|r| r.burst.is_some()) {
            burst_lines += 1;
        } else {
            all_lines += 1;
        }
        lines.push(nines_line(label, gi, &h, kept.len()));
        drawn.push(label.clone());
    }
    if lines.is_empty() {
        return None;
    }
    let what = match (burst_lines, all_lines) {
        (_, 0) => "Request latency during the burst",
        (0, _) => "Request latency (all requests; no burst)",
        _ => "Request latency during the burst (all requests where no burst)",
    };
    Some(Figure::Lines(LineChart {
        title: title(what, scenario, &drawn),
        x_label: "percentile (nines scale)".into(),
        y_label: "request latency (ms, log scale; repeats merged)".into(),
        x_unit: MetricUnit::Ratio,
        y_unit: MetricUnit::Count,
        x_log: false,
        y_range: None,
        lines,
        extras: Extras {
            y_log: true,
            x_ticks: nines_ticks(),
            notes,
            ..Extras::default()
        },
    }))
}

/// One run's seconds as (middle of the second, worst worker's p99 ms, worst worker's max ms).
/// The intervals keep percentiles, not histograms, so workers cannot be merged: the worst is
/// what a stall shows. A second without a completed request has no point (its requests complete,
/// late, in a later second).
pub(super) fn interval_series(r: &ResultFile) -> Vec<(f64, f64, f64)> {
    let mut by_sec: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for i in r.latency.iter().flat_map(|w| &w.intervals) {
        if i.count == 0 {
            continue;
        }
        let e = by_sec
            .entry((i.start_ns + 500_000_000) / 1_000_000_000)
            .or_default();
        *e = (e.0.max(i.p99_ns), e.1.max(i.max_ns));
    }
    by_sec
        .into_iter()
        .map(|(s, (p99, max))| (s as f64 + 0.5, p99 as f64 / MS, max as f64 / MS))
        .collect()
}

/// Pages written back per second (/proc/vmstat zswpwb, cumulative since the measured phase's
/// start in the series), each at the middle of its second like the latency intervals.
pub(super) fn writeback_rate(r: &ResultFile) -> Option<Vec<(f64, f64)>> {
    let s = r.series(&ts_key::vmstat("zswpwb"));
    (!s.is_empty()).then(|| {
        rate_on_grid(&s)
            .into_iter()
            .map(|(t, v)| (t - 0.5, v))
            .collect()
    })
}

/// Burst start markers: one when every run starts its burst at the same tenth of a second (the
/// usual case: one scenario, one idle window), else one per start naming its groups.
fn burst_markers(groups: &[(String, Vec<&ResultFile>)]) -> Vec<Marker> {
    let mut at: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (label, runs) in groups {
        for b in runs.iter().filter_map(|r| r.burst.as_ref()) {
            let l = at
                .entry((b.idle_ns + 50_000_000) / 100_000_000)
                .or_default();
            if !l.contains(label) {
                l.push(label.clone());
            }
        }
    }
    let one = at.len() == 1;
    at.into_iter()
        .map(|(tenths, labels)| Marker {
            x: tenths as f64 / 10.0,
            label: if one {
                "burst starts".into()
            } else {
                format!("burst starts ({})", labels.join(", "))
            },
        })
        .collect()
}

/// "<group>: burst done in 3.20 s (median of 8 runs; 1 did not finish)".
fn completion_note(label: &str, runs: &[&ResultFile]) -> Option<String> {
    let bursts: Vec<_> = runs.iter().filter_map(|r| r.burst.as_ref()).collect();
    let done: Vec<f64> = bursts
        .iter()
        .filter_map(|b| b.completion_ns.map(|ns| ns as f64 / S))
        .collect();
    let unfinished = bursts.len() - done.len();
    let median = stats::median(&done);
    let tail = if unfinished > 0 {
        format!("; {unfinished} did not finish")
    } else {
        String::new()
    };
    match median {
        Some(m) => Some(format!(
            "{label}: burst done in {m:.2} s (median of {} runs{tail})",
            done.len()
        )),
        None if unfinished > 0 => Some(format!(
            "{label}: burst did not finish within the measured phase ({unfinished} runs)"
        )),
        None => None,
    }
}

/// Per kernel and idle action: the p99 of each second (median over repeats, band min..max) and
/// its max (thin; median over repeats), with the writeback rate in a panel below (median and
/// band) and a marker at the burst's start. Of several latency workers, the worst each second.
pub(super) fn latency_over_time(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    if !has_latency(kernels) {
        return None;
    }
    let mut up = Extras {
        y_log: true,
        ..Extras::default()
    };
    let (mut lines, mut drawn, mut compared) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wb_lines, mut wb_areas) = (Vec::new(), Vec::new());
    for (gi, (label, runs)) in burst_groups(kernels).iter().enumerate() {
        let (kept, note) = exercised(label, runs);
        up.notes.extend(note);
        let per_run: Vec<Vec<(f64, f64, f64)>> = kept
            .iter()
            .map(|r| interval_series(r))
            .filter(|s| !s.is_empty())
            .collect();
        if per_run.is_empty() {
            continue;
        }
        let p99: Vec<Vec<(f64, f64)>> = per_run
            .iter()
            .map(|s| s.iter().map(|p| (p.0, p.1)).collect())
            .collect();
        let max: Vec<Vec<(f64, f64)>> = per_run
            .iter()
            .map(|s| s.iter().map(|p| (p.0, p.2)).collect())
            .collect();
        let (line, area) = median_band(&format!("{label} p99"), gi, &p99);
        lines.push(line);
        up.areas.push(area);
        // No legend entry: the y label says thin is the max, and the colour names the group.
        let (mut thin, _) = median_band(label, gi, &max);
        thin.legend = false;
        up.thin.push(thin);
        let wb: Vec<Vec<(f64, f64)>> = kept.iter().filter_map(|r| writeback_rate(r)).collect();
        if !wb.is_empty() {
            // The panel's colours are the groups' above: a second legend would only crowd it.
            let (mut line, area) = median_band(label, gi, &wb);
            line.legend = false;
            wb_lines.push(line);
            wb_areas.push(area);
        }
        up.notes.extend(completion_note(label, &kept));
        drawn.push(label.clone());
        compared.push((label.clone(), kept));
    }
    if lines.is_empty() {
        return None;
    }
    up.markers = burst_markers(&compared);
    if wb_lines.is_empty() {
        up.notes
            .push("writeback not drawn: no run recorded the vmstat:zswpwb series".into());
    } else {
        up.lower = Some(Box::new(LineChart {
            title: "zswap writeback, whole system (/proc/vmstat zswpwb), colours as above".into(),
            x_label: TIME_AXIS.into(),
            y_label: "pages written back per second".into(),
            x_unit: MetricUnit::Count,
            y_unit: MetricUnit::PagesPerSecond,
            x_log: false,
            y_range: None,
            lines: wb_lines,
            extras: Extras {
                areas: wb_areas,
                markers: up.markers.clone(),
                ..Extras::default()
            },
        }));
    }
    Some(Figure::Lines(LineChart {
        title: title("Request latency per second", scenario, &drawn),
        x_label: TIME_AXIS.into(),
        y_label: "p99 (thick), max (thin) of each second (ms, log)".into(),
        x_unit: MetricUnit::Count,
        y_unit: MetricUnit::Count,
        x_log: false,
        y_range: None,
        lines,
        extras: up,
    }))
}
