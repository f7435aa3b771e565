//! `zswap-bench plot`: figures from result files alone (re-plotting needs no VM).
//!
//! Data first: [`figures`] turns results into plain [`Figure`] values (titles, labelled series,
//! bars); [`save`] draws a figure with plotters as SVG and PNG. Several kernels overlay in one
//! figure (one colour per kernel); several scenarios facet into separate files. Text is drawn
//! with DejaVu Sans embedded in the binary (the `dejavu` crate), so PNGs render on machines
//! without any system font.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::metrics::{self, MetricUnit, parent_of, proactive_fairness, writeback_fairness};
use crate::schema::{Histogram, ResultFile, Unit, ts_key};
use crate::stats;

mod extras;
pub use extras::{Band, BandPoint, Extras};

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the colour palette (same kernel → same colour).
    pub color: usize,
    /// Only the first line of a group gets a legend entry.
    pub legend: bool,
    /// Reference lines (equality diagonal) are drawn dashed in grey.
    pub reference: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_unit: MetricUnit,
    pub y_unit: MetricUnit,
    pub x_log: bool,
    pub y_range: Option<(f64, f64)>,
    pub lines: Vec<Line>,
    /// Error bars, median markers and notes (figures of summarised points, e.g. scaling).
    pub extras: Extras,
}

/// Bars: one cluster per category, one bar per group inside it (or stacked).
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_unit: MetricUnit,
    pub categories: Vec<String>,
    pub groups: Vec<BarGroup>,
    pub stacked: bool,
    /// Horizontal reference line and its legend text (e.g. the fair share 1/N).
    pub reference: Option<(f64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub label: String,
    pub color: usize,
    /// One value per category (NaN = no bar).
    pub values: Vec<f64>,
    /// Optional (low, high) whisker per category, e.g. min..max over repeats.
    pub whiskers: Vec<Option<(f64, f64)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Lines(LineChart),
    Bars(BarChart),
}

impl Figure {
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines(c) => &c.title,
            Figure::Bars(c) => &c.title,
        }
    }
}

/// Okabe–Ito colour-blind-safe palette (black last).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const SIZE: (u32, u32) = (1000, 620);
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the crate; failure would be a bug there.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Renders every figure the results support into `out` (SVG and PNG each) and returns the
/// files written. Figures without data (e.g. lock contention on a run without lock probes) are
/// skipped.
pub fn plot_all(results: &[ResultFile], out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut files = Vec::new();
    for (stem, fig) in figures(results) {
        files.extend(save(&fig, out, &stem)?);
    }
    Ok(files)
}

/// Draws one figure to `out/<stem>.svg` and `out/<stem>.png`.
pub fn save(fig: &Figure, out: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    register_font();
    let svg = out.join(format!("{stem}.svg"));
    let png = out.join(format!("{stem}.png"));
    let size = match fig {
        Figure::Lines(c) => (SIZE.0, SIZE.1 + extras::notes_height(&c.extras)),
        Figure::Bars(_) => SIZE,
    };
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw(&root, fig).with_context(|| format!("drawing {}", svg.display()))?;
        root.present().map_err(pe)?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw(&root, fig).with_context(|| format!("drawing {}", png.display()))?;
        root.present().map_err(pe)?;
    }
    Ok(vec![svg, png])
}

fn pe<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}

// ---------------------------------------------------------------------------------------------
// Data → figures
// ---------------------------------------------------------------------------------------------

/// Results of one scenario grouped by kernel label, kernels in order of first appearance.
type KernelGroups<'a> = Vec<(String, Vec<&'a ResultFile>)>;

fn by_scenario(results: &[ResultFile]) -> Vec<(String, KernelGroups<'_>)> {
    let mut out: Vec<(String, KernelGroups)> = Vec::new();
    for r in results.iter().filter(|r| r.failed.is_none()) {
        let s = r.scenario.name.clone();
        let idx = match out.iter().position(|(n, _)| *n == s) {
            Some(i) => i,
            None => {
                out.push((s, Vec::new()));
                out.len() - 1
            }
        };
        let groups = &mut out[idx].1;
        let k = r.kernel.label().to_string();
        match groups.iter_mut().find(|(l, _)| *l == k) {
            Some(g) => g.1.push(r),
            None => groups.push((k, vec![r])),
        }
    }
    out
}

fn title(what: &str, scenario: &str, kernels: &KernelGroups) -> String {
    let names: Vec<&str> = kernels.iter().map(|(k, _)| k.as_str()).collect();
    format!("{what} - {scenario} - {}", names.join(" vs "))
}

/// A file-name-safe form of a name.
pub(crate) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// "/zswap-bench-<run>/parent/child1" -> "/parent/child1" (the run's root dropped).
fn below_root(path: &str) -> &str {
    match path.trim_start_matches('/').find('/') {
        Some(i) => &path.trim_start_matches('/')[i..],
        None => path,
    }
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Every figure the results support, as `(file stem, figure)`.
pub fn figures(results: &[ResultFile]) -> Vec<(String, Figure)> {
    let mut out = Vec::new();
    for (scenario, kernels) in by_scenario(results) {
        let prefix = slug(&scenario);
        let mut add = |name: &str, f: Option<Figure>| {
            if let Some(f) = f {
                out.push((format!("{prefix}-{name}"), f));
            }
        };
        add("lock-wait-cdf", lock_wait_cdf(&scenario, &kernels));
        add(
            "lock-contended-rate",
            lock_contended_rate(&scenario, &kernels),
        );
        add(
            "proactive-writeback-per-memcg",
            per_memcg_bars(&scenario, &kernels, true),
        );
        add(
            "writeback-per-memcg",
            per_memcg_bars(&scenario, &kernels, false),
        );
        add("first-child-share", first_child_share(&scenario, &kernels));
        add("lorenz", lorenz(&scenario, &kernels));
        add("jain-over-time", jain_over_time(&scenario, &kernels));
        add(
            "proactive-latency-cdf",
            proactive_latency_cdf(&scenario, &kernels),
        );
        add("proactive-returns", proactive_returns(&scenario, &kernels));
        add(
            "shrink-memcg-latency-cdf",
            shrink_memcg_latency_cdf(&scenario, &kernels),
        );
        add(
            "workload-throughput",
            workload_throughput(&scenario, &kernels),
        );
    }
    out
}

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

fn cdf_chart(
    what: &str,
    scenario: &str,
    kernels: &KernelGroups,
    x_label: &str,
    lines: Vec<Line>,
) -> Option<Figure> {
    (!lines.is_empty()).then(|| {
        Figure::Lines(LineChart {
            title: title(what, scenario, kernels),
            x_label: x_label.into(),
            y_label: "fraction of events <= x".into(),
            x_unit: MetricUnit::Ns,
            y_unit: MetricUnit::Ratio,
            x_log: true,
            y_range: Some((0.0, 1.0)),
            lines,
            extras: Extras::default(),
        })
    })
}

/// Wait-time CDF per lock (merged over repeats), the most contended locks of each kernel.
fn lock_wait_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
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
                crate::schema::LockKind::PerMemcg => below_root(&l.name).to_string(),
                crate::schema::LockKind::Global => l.name.clone(),
            };
            let h = merged
                .entry(name)
                .or_insert_with(|| Histogram::empty(Unit::Ns));
            let _ = h.merge(&l.wait);
        }
        let mut locks: Vec<(String, Histogram)> = merged.into_iter().collect();
        locks.sort_by_key(|(_, h)| std::cmp::Reverse(h.count));
        for (li, (name, h)) in locks.into_iter().take(3).enumerate() {
            if let Some(mut line) = cdf_line(format!("{k}: {name}"), &h, ki) {
                // Further locks of the same kernel: same hue family, next palette slot.
                line.color = ki + li * kernels.len();
                lines.push(line);
            }
        }
    }
    cdf_chart(
        "Cursor-lock wait time (contended acquisitions)",
        scenario,
        kernels,
        "wait time",
        lines,
    )
}

fn lock_contended_rate(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        for (i, r) in runs.iter().enumerate() {
            let keys: Vec<String> = r
                .timeseries_keys()
                .into_iter()
                .filter(|key| matches!(ts_key::split(key), Some(("lock", _, "contended"))))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let points = summed_rate(r, &keys);
            lines.push(Line {
                label: k.clone(),
                points,
                color: ki,
                legend: i == 0,
                reference: false,
            });
        }
    }
    (!lines.is_empty()).then(|| {
        Figure::Lines(LineChart {
            title: title("Cursor-lock contention over time", scenario, kernels),
            x_label: "time since start of measured phase (s)".into(),
            y_label: "contended acquisitions per second".into(),
            x_unit: MetricUnit::Count,
            y_unit: MetricUnit::PerSecond,
            x_log: false,
            y_range: None,
            lines,
            extras: Extras::default(),
        })
    })
}

/// Rate of the sum of several cumulative keys, x in seconds.
fn summed_rate(r: &ResultFile, keys: &[String]) -> Vec<(f64, f64)> {
    let pts: Vec<(u64, f64)> = r
        .timeseries
        .iter()
        .map(|s| (s.t_ns, keys.iter().filter_map(|k| s.values.get(k)).sum()))
        .collect();
    crate::schema::rates(&pts)
        .into_iter()
        .map(|(t, v)| (t as f64 / 1e9, v))
        .collect()
}

/// Per child memcg: mean over repeats with min..max whiskers, one bar colour per kernel.
fn per_memcg_bars(scenario: &str, kernels: &KernelGroups, proactive: bool) -> Option<Figure> {
    let mut categories: Vec<String> = Vec::new();
    let mut per_kernel: Vec<(String, usize, BTreeMap<String, Vec<f64>>)> = Vec::new();
    let mut source = String::new();
    let mut parent = String::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let mut vals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in runs {
            let f = if proactive {
                proactive_fairness(r)
            } else {
                writeback_fairness(r)
            };
            let Ok(f) = f else { continue };
            source = f.source.clone();
            for (path, v) in f.children {
                // Run-specific cgroup prefixes differ per run and kernel: the child's name is
                // what lines runs up.
                if parent.is_empty() {
                    parent = basename(parent_of(&path)).to_string();
                }
                let c = basename(&path).to_string();
                if !categories.contains(&c) {
                    categories.push(c.clone());
                }
                vals.entry(c).or_default().push(v);
            }
        }
        if !vals.is_empty() {
            per_kernel.push((k.clone(), ki, vals));
        }
    }
    if per_kernel.is_empty() {
        return None;
    }
    let groups = per_kernel
        .into_iter()
        .map(|(k, ki, vals)| BarGroup {
            label: k,
            color: ki,
            values: categories
                .iter()
                .map(|c| vals.get(c).and_then(|v| stats::mean(v)).unwrap_or(f64::NAN))
                .collect(),
            whiskers: categories
                .iter()
                .map(|c| {
                    let s = stats::Summary::of(vals.get(c)?)?;
                    (s.n > 1).then_some((s.min, s.max))
                })
                .collect(),
        })
        .collect();
    let what = if proactive {
        "Proactive writeback per memcg"
    } else {
        "Writeback per memcg (all sources)"
    };
    let _ = source; // the measuring point is in each result's probe plan
    Some(Figure::Bars(BarChart {
        title: title(what, scenario, kernels),
        x_label: format!("child memcg of {parent}"),
        y_label: "pages written back per run (mean, min..max)".into(),
        y_unit: MetricUnit::Count,
        categories: categories.clone(),
        groups,
        stacked: false,
        reference: None,
    }))
}

fn first_child_share(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut cats = Vec::new();
    let mut values = Vec::new();
    let mut whiskers = Vec::new();
    let mut n_children = 0;
    for (k, runs) in kernels {
        let shares: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let f = proactive_fairness(r).ok()?;
                n_children = f.children.len();
                Some(f.shares()?[0])
            })
            .collect();
        let Some(s) = stats::Summary::of(&shares) else {
            continue;
        };
        cats.push(k.clone());
        values.push(s.median);
        whiskers.push((s.n > 1).then_some((s.min, s.max)));
    }
    if cats.is_empty() {
        return None;
    }
    Some(Figure::Bars(BarChart {
        title: title(
            "First child's share of proactive writeback",
            scenario,
            kernels,
        ),
        x_label: "kernel".into(),
        y_label: "share of proactive writeback (median, min..max)".into(),
        y_unit: MetricUnit::Ratio,
        categories: cats,
        groups: vec![BarGroup {
            label: "first child".into(),
            color: 0,
            values,
            whiskers,
        }],
        stacked: false,
        reference: Some((
            1.0 / n_children as f64,
            format!("fair share 1/{n_children}"),
        )),
    }))
}

fn lorenz(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines = Vec::new();
    let mut used_proactive = None;
    for proactive in [true, false] {
        for (ki, (k, runs)) in kernels.iter().enumerate() {
            // Mean amount per child over repeats, then one curve per kernel.
            let mut sums: Vec<f64> = Vec::new();
            for r in runs {
                let f = if proactive {
                    proactive_fairness(r)
                } else {
                    writeback_fairness(r)
                };
                let Ok(f) = f else { continue };
                let v = f.values();
                if sums.is_empty() {
                    sums = v;
                } else if sums.len() == v.len() {
                    sums.iter_mut().zip(v).for_each(|(s, x)| *s += x);
                }
            }
            if let Some(points) = stats::lorenz(&sums) {
                lines.push(Line {
                    label: k.clone(),
                    points,
                    color: ki,
                    legend: true,
                    reference: false,
                });
            }
        }
        if !lines.is_empty() {
            used_proactive = Some(proactive);
            break;
        }
    }
    let proactive = used_proactive?;
    lines.push(Line {
        label: "perfect equality".into(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        color: 6,
        legend: true,
        reference: true,
    });
    let what = if proactive {
        "Lorenz curve of proactive writeback over child memcgs"
    } else {
        "Lorenz curve of writeback over child memcgs"
    };
    Some(Figure::Lines(LineChart {
        title: title(what, scenario, kernels),
        x_label: "cumulative share of child memcgs (least first)".into(),
        y_label: "cumulative share of writeback".into(),
        x_unit: MetricUnit::Ratio,
        y_unit: MetricUnit::Ratio,
        x_log: false,
        y_range: Some((0.0, 1.0)),
        lines,
        extras: Extras::default(),
    }))
}

/// Jain's index over the children's zswpwb per 1 s interval.
fn jain_over_time(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        for (i, r) in runs.iter().enumerate() {
            let Ok(f) = writeback_fairness(r) else {
                continue;
            };
            let keys: Vec<String> = f
                .children
                .iter()
                .map(|(c, _)| ts_key::memcg(c, "zswpwb"))
                .collect();
            let per_child: Vec<Vec<(u64, f64)>> = keys.iter().map(|key| r.series(key)).collect();
            if per_child.iter().any(|s| s.len() < 2) {
                continue;
            }
            let n = per_child.iter().map(Vec::len).min().unwrap_or(0);
            let points: Vec<(f64, f64)> = (1..n)
                .filter_map(|j| {
                    let deltas: Vec<f64> = per_child.iter().map(|s| s[j].1 - s[j - 1].1).collect();
                    stats::jain_index(&deltas).map(|v| (per_child[0][j].0 as f64 / 1e9, v))
                })
                .collect();
            if !points.is_empty() {
                lines.push(Line {
                    label: k.clone(),
                    points,
                    color: ki,
                    legend: i == 0,
                    reference: false,
                });
            }
        }
    }
    (!lines.is_empty()).then(|| {
        Figure::Lines(LineChart {
            title: title(
                "Jain's fairness index of writeback per second",
                scenario,
                kernels,
            ),
            x_label: "time since start of measured phase (s)".into(),
            y_label: "Jain's index over child memcgs (1 = fair)".into(),
            x_unit: MetricUnit::Count,
            y_unit: MetricUnit::Ratio,
            x_log: false,
            y_range: Some((0.0, 1.05)),
            lines,
            extras: Extras::default(),
        })
    })
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

fn proactive_latency_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let lines = kernels
        .iter()
        .enumerate()
        .filter_map(|(ki, (k, runs))| {
            let h = merged(runs, |r| metrics::proactive_latency(r).ok());
            cdf_line(k.clone(), &h, ki)
        })
        .collect();
    cdf_chart(
        "Proactive writeback latency",
        scenario,
        kernels,
        "latency of one write",
        lines,
    )
}

fn shrink_memcg_latency_cdf(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let lines = kernels
        .iter()
        .enumerate()
        .filter_map(|(ki, (k, runs))| {
            let h = merged(runs, |r| {
                r.probes.shrink_memcg.as_ref().map(|s| s.latency.clone())
            });
            cdf_line(k.clone(), &h, ki)
        })
        .collect();
    cdf_chart(
        "shrink_memcg latency",
        scenario,
        kernels,
        "latency of one call",
        lines,
    )
}

/// Return-code mix of proactive writes per kernel, stacked shares.
fn proactive_returns(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut cats = Vec::new();
    let mut mixes: Vec<BTreeMap<String, u64>> = Vec::new();
    for (k, runs) in kernels {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for r in runs {
            for (code, n) in metrics::proactive_returns(r).unwrap_or_default() {
                *m.entry(code).or_default() += n;
            }
        }
        if m.values().sum::<u64>() > 0 {
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
                "0" => "0 (budget met)".into(),
                "-EAGAIN" => "-EAGAIN (short of budget)".into(),
                c => c.to_string(),
            },
            color: ci,
            values: mixes
                .iter()
                .map(|m| m.get(code).copied().unwrap_or(0) as f64 / m.values().sum::<u64>() as f64)
                .collect(),
            whiskers: vec![None; mixes.len()],
        })
        .collect();
    Some(Figure::Bars(BarChart {
        title: title("Proactive writeback return codes", scenario, kernels),
        x_label: "kernel".into(),
        y_label: "share of writes".into(),
        y_unit: MetricUnit::Ratio,
        categories: cats,
        groups,
        stacked: true,
        reference: None,
    }))
}

fn workload_throughput(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let key = ts_key::workload("pages_touched");
    let mut lines = Vec::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        for (i, r) in runs.iter().enumerate() {
            let points: Vec<(f64, f64)> = r
                .rate_series(&key)
                .into_iter()
                .map(|(t, v)| (t as f64 / 1e9, v))
                .collect();
            if !points.is_empty() {
                lines.push(Line {
                    label: k.clone(),
                    points,
                    color: ki,
                    legend: i == 0,
                    reference: false,
                });
            }
        }
    }
    (!lines.is_empty()).then(|| {
        Figure::Lines(LineChart {
            title: title("Workload throughput", scenario, kernels),
            x_label: "time since start of measured phase (s)".into(),
            y_label: "pages touched per second".into(),
            x_unit: MetricUnit::Count,
            y_unit: MetricUnit::PagesPerSecond,
            x_log: false,
            y_range: None,
            lines,
            extras: Extras::default(),
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<()> {
    root.fill(&WHITE).map_err(pe)?;
    match fig {
        Figure::Lines(c) => draw_lines(&extras::split_notes(root, &c.extras)?, c),
        Figure::Bars(c) => draw_bars(root, c),
    }
}

fn bounds(points: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    points
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

fn pad(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        (lo, hi + (hi - lo) * 0.05)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> Result<()> {
    let (x0, x1) = bounds(c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))
        .ok_or_else(|| anyhow!("no points"))?;
    let (y0, y1) = match c.y_range {
        Some(r) => r,
        None => {
            let ys = c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
            let (lo, hi) =
                bounds(ys.chain(extras::band_ys(&c.extras))).ok_or_else(|| anyhow!("no points"))?;
            pad(lo.min(0.0), hi)
        }
    };
    if c.x_log {
        let (x0, x1) = (x0.max(1.0) / 1.2, x1.max(1.0) * 1.2);
        let chart = base(root, &c.title)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(pe)?;
        finish_lines(chart, c)
    } else {
        let (x0, x1) = if x1 > x0 {
            // Markers at the first and last x would be cut in half at the plot's edges.
            let m = if c.extras.bands.is_empty() {
                0.0
            } else {
                (x1 - x0) * 0.04
            };
            (x0 - m, x1 + m)
        } else {
            (x0 - 1.0, x1 + 1.0)
        };
        let chart = base(root, &c.title)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(pe)?;
        finish_lines(chart, c)
    }
}

fn base<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    // Long titles (several kernels) shrink rather than run off the image: DejaVu Sans averages
    // ~0.5 em per character as plotters sizes it.
    let width = root.dim_in_pixel().0 as f64 - 30.0;
    let size = (width / (0.5 * title.chars().count() as f64)).clamp(11.0, 20.0);
    let mut b = ChartBuilder::on(root);
    b.caption(title, (FONT, size))
        .margin(14)
        .x_label_area_size(55)
        .y_label_area_size(85);
    b
}

fn finish_lines<'a, DB, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    c: &LineChart,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let xf = |v: &f64| c.x_unit.format(*v, false);
    let yf = |v: &f64| c.y_unit.format(*v, false);
    chart
        .configure_mesh()
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(pe)?;
    for l in &c.lines {
        let col = if l.reference {
            RGBColor(150, 150, 150)
        } else {
            color(l.color)
        };
        let style = ShapeStyle::from(&col).stroke_width(2);
        let anno = if l.reference {
            chart
                .draw_series(DashedLineSeries::new(l.points.iter().copied(), 8, 6, style))
                .map_err(pe)?
        } else {
            chart
                .draw_series(LineSeries::new(l.points.iter().copied(), style))
                .map_err(pe)?
        };
        if l.legend {
            anno.label(l.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
    }
    extras::draw_bands(&mut chart, &c.extras)?;
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(pe)?;
    Ok(())
}

fn draw_bars<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, Shift>,
    c: &BarChart,
) -> Result<()> {
    let n = c.categories.len();
    let g = c.groups.len().max(1);
    let top = if c.stacked {
        (0..n)
            .map(|i| {
                c.groups
                    .iter()
                    .map(|gr| gr.values[i])
                    .filter(|v| v.is_finite())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    } else {
        let vals = c.groups.iter().flat_map(|gr| {
            gr.values
                .iter()
                .copied()
                .chain(gr.whiskers.iter().flatten().map(|w| w.1))
        });
        bounds(vals).map_or(1.0, |b| b.1)
    };
    let top = top.max(c.reference.as_ref().map_or(0.0, |r| r.0)) * 1.15;
    let top = if top > 0.0 { top } else { 1.0 };
    let mut chart = base(root, &c.title)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)
        .map_err(pe)?;
    let cats = c.categories.clone();
    let xf = move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
            cats[i as usize].clone()
        } else {
            String::new()
        }
    };
    let yf = |v: &f64| c.y_unit.format(*v, false);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(pe)?;

    let width = 0.8 / if c.stacked { 1.0 } else { g as f64 };
    let mut stack = vec![0.0f64; n];
    for (gi, gr) in c.groups.iter().enumerate() {
        let col = color(gr.color);
        let mut rects = Vec::new();
        let mut whiskers = Vec::new();
        for (i, &v) in gr.values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let (x0, y0) = if c.stacked {
                (i as f64 - 0.4, stack[i])
            } else {
                (i as f64 - 0.4 + gi as f64 * width, 0.0)
            };
            rects.push(Rectangle::new(
                [(x0, y0), (x0 + width * 0.95, y0 + v)],
                col.filled(),
            ));
            if let Some(Some((lo, hi))) = gr.whiskers.get(i) {
                let xm = x0 + width * 0.475;
                whiskers.push(PathElement::new(
                    vec![(xm, *lo), (xm, *hi)],
                    BLACK.stroke_width(2),
                ));
                for y in [*lo, *hi] {
                    whiskers.push(PathElement::new(
                        vec![(xm - width * 0.15, y), (xm + width * 0.15, y)],
                        BLACK.stroke_width(2),
                    ));
                }
            }
            if c.stacked {
                stack[i] += v;
            }
        }
        chart
            .draw_series(rects)
            .map_err(pe)?
            .label(gr.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
        chart.draw_series(whiskers).map_err(pe)?;
    }
    if let Some((y, label)) = &c.reference {
        let style = ShapeStyle::from(&RGBColor(200, 0, 0)).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, *y), (n as f64 - 0.5, *y)],
                8,
                6,
                style,
            ))
            .map_err(pe)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(pe)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MockResult, repeats};

    fn results() -> Vec<ResultFile> {
        let mut v = repeats(3, MockResult::baseline);
        v.extend(repeats(3, MockResult::nocursor));
        v.extend(repeats(3, MockResult::percg));
        v
    }

    #[test]
    fn figures_carry_the_data() {
        let figs = figures(&results());
        let stems: Vec<&str> = figs.iter().map(|(s, _)| s.as_str()).collect();
        for want in [
            "lock-wait-cdf",
            "lock-contended-rate",
            "proactive-writeback-per-memcg",
            "writeback-per-memcg",
            "first-child-share",
            "lorenz",
            "jain-over-time",
            "proactive-latency-cdf",
            "proactive-returns",
            "shrink-memcg-latency-cdf",
            "workload-throughput",
        ] {
            assert!(
                stems.contains(&format!("fairness-small-budget-{want}").as_str()),
                "missing {want} in {stems:?}"
            );
        }
        let get = |name: &str| &figs.iter().find(|(s, _)| s.ends_with(name)).unwrap().1;
        let Figure::Bars(b) = get("first-child-share") else {
            panic!()
        };
        // The baseline has no proactive writeback: no bar rather than a zero bar.
        assert_eq!(b.categories, ["ref-nocursor", "ref-percg-lock"]);
        assert!(b.groups[0].values[0] > 0.7 && b.groups[0].values[1] < 0.2);
        assert_eq!(b.reference.as_ref().unwrap().0, 1.0 / 8.0);
        assert!(b.title.contains("fairness-small-budget") && b.title.contains("ref-nocursor"));
        let Figure::Bars(b) = get("proactive-writeback-per-memcg") else {
            panic!()
        };
        assert_eq!(b.categories.len(), 8);
        assert_eq!(b.categories[0], "child1");
        let Figure::Lines(l) = get("lock-wait-cdf") else {
            panic!()
        };
        assert!(
            l.lines
                .iter()
                .any(|l| l.label == "baseline: zswap_shrink_lock")
        );
        assert!(
            l.lines
                .iter()
                // The run's own cgroup root is dropped, so repeats merge into one line.
                .any(|l| l.label == "ref-percg-lock: /parent")
        );
        assert!(
            l.lines
                .iter()
                .all(|l| (l.points.last().unwrap().1 - 1.0).abs() < 1e-12)
        );
        let Figure::Lines(j) = get("jain-over-time") else {
            panic!()
        };
        // One line per run; the fair kernel stays near 1, the unfair one well below.
        assert_eq!(j.lines.len(), 9);
        let nocursor = j.lines.iter().find(|l| l.label == "ref-nocursor").unwrap();
        assert!(nocursor.points.iter().all(|p| p.1 < 0.6));
        let percg = j
            .lines
            .iter()
            .find(|l| l.label == "ref-percg-lock")
            .unwrap();
        assert!(percg.points.iter().all(|p| p.1 > 0.9));
    }

    #[test]
    fn unmeasured_figures_are_skipped() {
        let mut m = MockResult::baseline(0);
        m.probes = false;
        let figs = figures(&[m.build()]);
        let stems: Vec<&str> = figs.iter().map(|(s, _)| s.as_str()).collect();
        assert!(
            !stems
                .iter()
                .any(|s| s.contains("lock-wait") || s.contains("shrink-memcg"))
        );
        assert!(!stems.iter().any(|s| s.contains("proactive")));
        assert!(stems.iter().any(|s| s.ends_with("workload-throughput")));
    }

    #[test]
    fn per_memcg_lock_names_drop_the_run_root() {
        assert_eq!(below_root("/zswap-bench-contention-r0/parent"), "/parent");
        assert_eq!(below_root("/zb/parent/child1"), "/parent/child1");
        assert_eq!(below_root("/parent"), "/parent");
    }

    #[test]
    fn renders_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::env::var_os("PLOT_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.path().to_path_buf());
        let files = plot_all(&results(), &out).unwrap();
        assert_eq!(files.len(), 2 * figures(&results()).len());
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            match f.extension().and_then(|e| e.to_str()) {
                Some("png") => {
                    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
                    assert!(
                        bytes.len() > 20_000,
                        "{} is only {} bytes",
                        f.display(),
                        bytes.len()
                    );
                }
                Some("svg") => {
                    let s = String::from_utf8(bytes).unwrap();
                    assert!(s.contains("<svg") && s.contains("fairness-small-budget"));
                    assert!(
                        s.matches("<text").count() > 10,
                        "{}: axis labels",
                        f.display()
                    );
                }
                other => panic!("unexpected file {other:?}"),
            }
        }
    }
}
