//! Time series over repeats. Each run's cumulative counters are put on a common 1 s grid
//! (linear between samples: under load a sample can come late or twice in a second), then each
//! design is drawn as the median over its runs with a min..max band — one line per run (15 runs
//! of 5 designs) cannot be read.
//!
//! Fairness over time is cumulative: Jain's index of the writeback *so far* per child. Per
//! second, with one or two proactive calls a second, even a perfectly rotating cursor puts
//! everything of that second into one or two children, and the index sits near 2/N for every
//! design.

use std::collections::BTreeMap;

use super::{Area, Extras, Figure, KernelGroups, Line, LineChart, missing_notes, title};
use crate::metrics::{self, MetricUnit, writeback_fairness};
use crate::schema::{ResultFile, ts_key};
use crate::stats;

/// Value of a cumulative series at `t_ns`: linear between samples, 0 at the start of the
/// measured phase; `None` after the last sample.
pub(crate) fn cumulative_at(points: &[(u64, f64)], t_ns: u64) -> Option<f64> {
    let mut prev = (0u64, 0.0);
    for &(t, v) in points {
        if t >= t_ns {
            if t == prev.0 {
                return Some(v);
            }
            let f = (t_ns - prev.0) as f64 / (t - prev.0) as f64;
            return Some(prev.1 + f * (v - prev.1));
        }
        prev = (t, v);
    }
    None
}

const S: u64 = 1_000_000_000;

/// Whole seconds 1..=end of the run's samples.
fn grid(points: &[(u64, f64)]) -> impl Iterator<Item = u64> {
    let end = points.last().map_or(0, |p| p.0 / S);
    1..=end
}

/// (t_ns, Σ keys) of the samples that have any of `keys`.
fn summed(r: &ResultFile, keys: &[String]) -> Vec<(u64, f64)> {
    r.timeseries
        .iter()
        .filter(|s| keys.iter().any(|k| s.values.contains_key(k)))
        .map(|s| (s.t_ns, keys.iter().filter_map(|k| s.values.get(k)).sum()))
        .collect()
}

/// Per-second rate of a cumulative series over each second of the grid.
pub(crate) fn rate_on_grid(points: &[(u64, f64)]) -> Vec<(f64, f64)> {
    grid(points)
        .filter_map(|t| {
            let a = cumulative_at(points, (t - 1) * S)?;
            let b = cumulative_at(points, t * S)?;
            Some((t as f64, b - a))
        })
        .collect()
}

/// Median over runs with its min..max band, point by point on the grid.
pub(crate) fn median_band(label: &str, color: usize, runs: &[Vec<(f64, f64)>]) -> (Line, Area) {
    let mut by_x: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for &(x, y) in run {
            by_x.entry((x * 1000.0).round() as i64).or_default().push(y);
        }
    }
    let mut points = Vec::new();
    let mut band = Vec::new();
    for (x, ys) in by_x {
        let s = stats::Summary::of(&ys).expect("non-empty by construction");
        let x = x as f64 / 1000.0;
        points.push((x, s.median));
        band.push((x, s.min, s.max));
    }
    let n = runs.len();
    let label = if n > 1 {
        format!("{label} (median of {n} runs, band min..max)")
    } else {
        label.to_string()
    };
    let line = Line {
        label,
        points,
        color,
        legend: true,
        reference: false,
    };
    (
        line,
        Area {
            color,
            points: band,
        },
    )
}

/// What a time-series figure shows, apart from its data.
struct Spec<'a> {
    what: &'a str,
    y_label: &'a str,
    y_unit: MetricUnit,
    y_range: Option<(f64, f64)>,
}

impl<'a> Spec<'a> {
    /// A spec whose y range follows the data.
    fn new(what: &'a str, y_label: &'a str, y_unit: MetricUnit) -> Self {
        Spec {
            what,
            y_label,
            y_unit,
            y_range: None,
        }
    }
}

/// One median line and band per kernel whose runs give a series; `None` when no kernel has one
/// or every value of every run is 0 (nothing happened: the report says "not exercised").
fn over_time(
    scenario: &str,
    kernels: &KernelGroups,
    spec: Spec,
    series: impl Fn(&ResultFile) -> Option<Vec<(f64, f64)>>,
    why: impl Fn(&ResultFile) -> Option<String>,
) -> Option<(LineChart, Vec<String>)> {
    let mut lines = Vec::new();
    let mut areas = Vec::new();
    let mut drawn = Vec::new();
    let mut any_nonzero = false;
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let per_run: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .filter_map(|r| series(r))
            .filter(|s| !s.is_empty())
            .collect();
        if per_run.is_empty() {
            continue;
        }
        any_nonzero |= per_run.iter().flatten().any(|p| p.1 != 0.0);
        let (line, area) = median_band(k, ki, &per_run);
        lines.push(line);
        areas.push(area);
        drawn.push(k.clone());
    }
    if lines.is_empty() || !any_nonzero {
        return None;
    }
    let notes = missing_notes(kernels, &drawn, why);
    let chart = LineChart {
        title: title(spec.what, scenario, &drawn),
        x_label: "time since start of measured phase (s)".into(),
        y_label: spec.y_label.into(),
        x_unit: MetricUnit::Count,
        y_unit: spec.y_unit,
        x_log: false,
        y_range: spec.y_range,
        lines,
        extras: Extras {
            areas,
            notes,
            ..Extras::default()
        },
    };
    Some((chart, drawn))
}

/// Contended cursor-lock acquisitions per second, summed over the locks of each run.
pub(super) fn lock_contended_rate(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let keys = |r: &ResultFile| -> Vec<String> {
        r.timeseries_keys()
            .into_iter()
            .filter(|key| matches!(ts_key::split(key), Some(("lock", _, "contended"))))
            .collect()
    };
    let spec = Spec::new(
        "Cursor-lock contention over time",
        "contended acquisitions per second",
        MetricUnit::PerSecond,
    );
    over_time(
        scenario,
        kernels,
        spec,
        |r| {
            let k = keys(r);
            (!k.is_empty()).then(|| rate_on_grid(&summed(r, &k)))
        },
        |r| {
            Some(match metrics::locks(r, None) {
                Err(why) => why,
                Ok(l) if l.iter().all(|l| l.contended == 0) => {
                    "cursor lock never contended (0 in every run)".into()
                }
                Ok(_) => "no contended-lock series recorded".into(),
            })
        },
    )
    .map(|(c, _)| Figure::Lines(c))
}

/// Pages the workers touch per second.
pub(super) fn workload_throughput(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let key = ts_key::workload("pages_touched");
    let spec = Spec::new(
        "Workload throughput",
        "pages touched per second",
        MetricUnit::PagesPerSecond,
    );
    over_time(
        scenario,
        kernels,
        spec,
        |r| {
            let s = r.series(&key);
            (!s.is_empty()).then(|| rate_on_grid(&s))
        },
        |_| Some("no workload series recorded".into()),
    )
    .map(|(c, _)| Figure::Lines(c))
}

/// Jain's index over the children of the writeback so far (memory.stat zswpwb, cumulative),
/// at each second; `None` for a run without per-child series.
pub(crate) fn cumulative_jain(r: &ResultFile) -> Option<Vec<(f64, f64)>> {
    let f = writeback_fairness(r).ok()?;
    let per_child: Vec<Vec<(u64, f64)>> = f
        .children
        .iter()
        .map(|(c, _)| r.series(&ts_key::memcg(c, "zswpwb")))
        .collect();
    if per_child.iter().any(Vec::is_empty) {
        return None;
    }
    let end = per_child
        .iter()
        .map(|s| s.last().map_or(0, |p| p.0))
        .min()?;
    let points = (1..=end / S)
        .filter_map(|t| {
            let so_far: Option<Vec<f64>> =
                per_child.iter().map(|s| cumulative_at(s, t * S)).collect();
            stats::jain_index(&so_far?).map(|j| (t as f64, j))
        })
        .collect();
    Some(points)
}

/// Fairness so far: cumulative Jain's index over the children, median and band per design, with
/// the index of one child taking everything (1/N) for scale.
pub(super) fn jain_over_time(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let spec = Spec {
        what: "Fairness of writeback so far",
        y_label: "Jain's index of writeback so far (1 = fair)",
        y_unit: MetricUnit::Ratio,
        y_range: Some((0.0, 1.05)),
    };
    let (mut chart, _) = over_time(scenario, kernels, spec, cumulative_jain, |r| {
        Some(
            writeback_fairness(r)
                .err()
                .unwrap_or_else(|| "nothing written back while sampled".into()),
        )
    })?;
    let n = kernels
        .iter()
        .flat_map(|(_, runs)| runs.iter())
        .find_map(|r| writeback_fairness(r).ok())
        .map_or(0, |f| f.children.len());
    let x_end = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    if n > 1 {
        chart.lines.push(Line {
            label: format!("1/{n}: one child gets everything"),
            points: vec![(0.0, 1.0 / n as f64), (x_end, 1.0 / n as f64)],
            color: 6,
            legend: true,
            reference: true,
        });
    }
    Some(Figure::Lines(chart))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_values_interpolate_on_the_grid() {
        // Samples late (1.5 s) and twice within one second (2.6, 2.9 s).
        let pts = [
            (1_500_000_000, 15.0),
            (2_600_000_000, 26.0),
            (2_900_000_000, 29.0),
        ];
        assert_eq!(cumulative_at(&pts, 0), Some(0.0));
        assert_eq!(cumulative_at(&pts, S), Some(10.0));
        assert!((cumulative_at(&pts, 2 * S).unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(cumulative_at(&pts, 3 * S), None);
        // 10 per second throughout, whatever the sampling.
        let r = rate_on_grid(&pts);
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|p| (p.1 - 10.0).abs() < 1e-9), "{r:?}");
    }

    #[test]
    fn median_and_band_over_runs() {
        let runs = vec![
            vec![(1.0, 1.0), (2.0, 4.0)],
            vec![(1.0, 3.0), (2.0, 2.0)],
            vec![(1.0, 2.0)],
        ];
        let (line, area) = median_band("k", 2, &runs);
        assert_eq!(line.points, vec![(1.0, 2.0), (2.0, 3.0)]);
        assert_eq!(area.points, vec![(1.0, 1.0, 3.0), (2.0, 2.0, 4.0)]);
        assert_eq!(line.label, "k (median of 3 runs, band min..max)");
        assert_eq!((line.color, area.color), (2, 2));
    }
}
