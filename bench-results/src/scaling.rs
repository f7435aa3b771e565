//! Scaling figures: how cursor-lock contention and reclaim throughput change with the number of
//! proactive writeback threads and with the guest's vCPUs, one line per design (kernel).
//!
//! Input is the result set of a scaling matrix: scenarios named `<family>-t<threads>` (e.g.
//! `scaling-t4`, `scaling-t8`) run on several kernels and `cpus` values. Two sweeps per family:
//! - threads: x = proactive threads, at the smallest vCPU count present (the one every
//!   matrix has, and the least likely to be overcommitted);
//! - vCPUs: x = vCPUs, at the thread count run with the most distinct vCPU counts (ties go
//!   to the larger thread count, where contention shows most).
//!
//! A sweep needs two x values or it says nothing about scaling, and is skipped. Each point is
//! the median over the repeats there, with a min..max error bar. The y values are the
//! `compare` metrics of the same names, so a figure and a report never disagree about what a
//! number means. Every kernel of the family appears in every figure: as a line, or as a note
//! saying why it has no value (e.g. "n/a: never taken: ..." for a design without that lock).
//! The plotted numbers are also written to `scaling.json` for tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::metrics::{self, MetricUnit};
use crate::plot::{Band, BandPoint, Extras, Figure, Line, LineChart, save, slug};
use crate::schema::ResultFile;
use crate::stats::Summary;

/// File with the plotted numbers, next to the figures.
pub const SCALING_JSON: &str = "scaling.json";

/// One y quantity: the file-stem suffix, the metric it plots, and its title text.
struct Quantity {
    stem: &'static str,
    metric: &'static str,
    what: &'static str,
    y_label: &'static str,
}

const QUANTITIES: [Quantity; 4] = [
    Quantity {
        stem: "contended-per-s",
        metric: "lock.cursor.contended_per_s",
        what: "Contended cursor-lock acquisitions per second",
        y_label: "contended acquisitions/s (median, min..max)",
    },
    Quantity {
        stem: "contended-share",
        metric: "lock.cursor.contended_share",
        what: "Contended share of cursor-lock acquisitions",
        y_label: "contended / all acquisitions (median, min..max)",
    },
    Quantity {
        stem: "wait-p99",
        metric: "lock.cursor.wait_p99_ns",
        what: "Cursor-lock wait p99",
        y_label: "p99 of contended waits (median, min..max)",
    },
    Quantity {
        stem: "reclaim-throughput",
        metric: "proactive.written_bytes_per_s",
        what: "Proactive writeback throughput",
        y_label: "bytes written back per second (median, min..max)",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    Threads,
    Vcpus,
}

impl Axis {
    fn stem(self) -> &'static str {
        match self {
            Axis::Threads => "threads",
            Axis::Vcpus => "vcpus",
        }
    }
    /// What the x values count, after a number: "16 threads", "8 vCPUs".
    fn word(self) -> &'static str {
        match self {
            Axis::Threads => "threads",
            Axis::Vcpus => "vCPUs",
        }
    }
    fn x_label(self) -> &'static str {
        match self {
            Axis::Threads => "proactive writeback threads",
            Axis::Vcpus => "guest vCPUs",
        }
    }
}

/// Runs of one sweep, each with its x value.
struct Sweep<'a> {
    family: String,
    axis: Axis,
    /// The parameter held fixed: vCPUs for the threads sweep, threads for the vCPU sweep.
    fixed: u32,
    /// Kernel labels of the whole family, in order of first appearance (= colour index).
    kernels: Vec<String>,
    runs: Vec<(u32, &'a ResultFile)>,
}

impl Sweep<'_> {
    fn fixed_text(&self) -> String {
        let held = match self.axis {
            Axis::Threads => Axis::Vcpus,
            Axis::Vcpus => Axis::Threads,
        };
        format!("{} {}", self.fixed, held.word())
    }
}

/// One plotted point: a kernel's values at one x of one sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingPoint {
    pub family: String,
    pub sweep: Axis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_vcpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_threads: Option<u32>,
    pub metric: String,
    pub unit: MetricUnit,
    pub kernel: String,
    pub x: u32,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
    /// `KernelInfo::overcommit_note()` of a run at this point, when the guest was overcommitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overcommitted: Option<String>,
}

/// A kernel (or one of its x values) without a value in a sweep, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingGap {
    pub family: String,
    pub sweep: Axis,
    pub metric: String,
    pub kernel: String,
    /// `None`: no value at any x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<u32>,
    pub reason: String,
}

/// Contents of `scaling.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ScalingData {
    pub points: Vec<ScalingPoint>,
    pub missing: Vec<ScalingGap>,
}

/// Splits `scaling-t16` into `("scaling", Some(16))`; other names are their own family.
fn split_name(name: &str) -> (&str, Option<u32>) {
    if let Some((family, t)) = name.rsplit_once("-t")
        && !family.is_empty()
        && !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit())
    {
        return (family, t.parse().ok());
    }
    (name, None)
}

/// Proactive writeback threads of a run: the scenario's own count, else the name's `-t<N>`.
pub fn threads(r: &ResultFile) -> Option<u32> {
    r.scenario
        .params
        .get("proactive_threads")
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| split_name(&r.scenario.name).1)
}

/// (threads, vCPUs, run)
type Run<'a> = (u32, u32, &'a ResultFile);

/// Scaling runs (name `<family>-t<N>`, or a family named `scaling*`) grouped into sweeps.
fn sweeps<'a>(results: &'a [ResultFile]) -> Vec<Sweep<'a>> {
    // Families in order of first appearance.
    let mut families: Vec<(String, Vec<Run<'a>>)> = Vec::new();
    for r in results.iter().filter(|r| r.failed.is_none()) {
        let (family, suffix) = split_name(&r.scenario.name);
        if suffix.is_none() && !family.starts_with("scaling") {
            continue;
        }
        let Some(t) = threads(r) else { continue };
        match families.iter_mut().find(|(f, _)| f == family) {
            Some((_, v)) => v.push((t, r.kernel.cpus, r)),
            None => families.push((family.to_string(), vec![(t, r.kernel.cpus, r)])),
        }
    }
    let mut out = Vec::new();
    for (family, runs) in families {
        let mut kernels: Vec<String> = Vec::new();
        for (_, _, r) in &runs {
            if !kernels.iter().any(|k| k == r.kernel.label()) {
                kernels.push(r.kernel.label().to_string());
            }
        }
        let mut sweep = |axis, fixed, runs: Vec<(u32, &'a ResultFile)>| {
            let xs: BTreeSet<u32> = runs.iter().map(|p| p.0).collect();
            if xs.len() >= 2 {
                out.push(Sweep {
                    family: family.clone(),
                    axis,
                    fixed,
                    kernels: kernels.clone(),
                    runs,
                });
            }
        };
        let min_cpus = runs.iter().map(|p| p.1).min().unwrap_or(0);
        let at_min: Vec<_> = runs
            .iter()
            .filter(|p| p.1 == min_cpus)
            .map(|p| (p.0, p.2))
            .collect();
        sweep(Axis::Threads, min_cpus, at_min);
        let mut cpus_per_t: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for (t, c, _) in &runs {
            cpus_per_t.entry(*t).or_default().insert(*c);
        }
        // max_by_key keeps the last maximum: ascending keys make ties go to more threads.
        if let Some((&t, _)) = cpus_per_t.iter().max_by_key(|(_, c)| c.len()) {
            let at_t: Vec<_> = runs
                .iter()
                .filter(|p| p.0 == t)
                .map(|p| (p.1, p.2))
                .collect();
            sweep(Axis::Vcpus, t, at_t);
        }
    }
    out
}

/// One kernel's summarised points in one sweep for one quantity.
struct Series {
    kernel: String,
    color: usize,
    /// (x, summary over repeats, overcommit note)
    points: Vec<(u32, Summary, Option<String>)>,
}

/// Summaries per kernel and x, and the gaps (kernel without any value, or without one at some
/// x), for one quantity of one sweep.
fn summarise(s: &Sweep, q: &Quantity) -> (Vec<Series>, Vec<ScalingGap>) {
    let Some(metric) = metrics::by_name(q.metric) else {
        return (Vec::new(), Vec::new());
    };
    let xs: BTreeSet<u32> = s.runs.iter().map(|p| p.0).collect();
    let mut series = Vec::new();
    let mut gaps = Vec::new();
    let gap = |kernel: &str, x, reason: String| ScalingGap {
        family: s.family.clone(),
        sweep: s.axis,
        metric: q.metric.into(),
        kernel: kernel.into(),
        x,
        reason,
    };
    for (ci, k) in s.kernels.iter().enumerate() {
        let mut points = Vec::new();
        let mut missing: Vec<(u32, String)> = Vec::new();
        for &x in &xs {
            let runs: Vec<&ResultFile> = s
                .runs
                .iter()
                .filter(|(px, r)| *px == x && r.kernel.label() == k)
                .map(|p| p.1)
                .collect();
            let mut values = Vec::new();
            let mut why = None;
            for r in &runs {
                match (metric.extract)(r) {
                    Ok(v) if v.is_finite() => values.push(v),
                    Ok(_) => {
                        why.get_or_insert_with(|| "not a finite number".to_string());
                    }
                    Err(e) => {
                        why.get_or_insert(e);
                    }
                }
            }
            match Summary::of(&values) {
                Some(sum) => {
                    let oc = runs.iter().find_map(|r| r.kernel.overcommit_note());
                    points.push((x, sum, oc));
                }
                None if runs.is_empty() => missing.push((x, "not run".into())),
                None => missing.push((x, why.unwrap_or_else(|| "no data".into()))),
            }
        }
        if points.is_empty() {
            // One reason for the whole kernel: the first measured one, else "not run".
            let reason = missing
                .iter()
                .map(|m| m.1.clone())
                .find(|m| m != "not run")
                .unwrap_or_else(|| format!("not run at {}", s.fixed_text()));
            gaps.push(gap(k, None, reason));
            continue;
        }
        gaps.extend(missing.into_iter().map(|(x, why)| gap(k, Some(x), why)));
        series.push(Series {
            kernel: k.clone(),
            color: ci,
            points,
        });
    }
    (series, gaps)
}

/// Notes under a figure: kernels or points without a value, overcommitted points, and mixed
/// spinlock implementations (their waits are not comparable).
fn notes(s: &Sweep, series: &[Series], gaps: &[ScalingGap]) -> Vec<String> {
    let mut out = Vec::new();
    // Each note adds a line of canvas; past a handful the figure is mostly notes.
    const MAX_GAP_NOTES: usize = 6;
    let shown = if gaps.len() > MAX_GAP_NOTES {
        MAX_GAP_NOTES - 1
    } else {
        gaps.len()
    };
    for g in &gaps[..shown] {
        let text = match g.x {
            None => format!("{}: {}", g.kernel, g.reason),
            Some(x) => format!(
                "{}: no value at {x} {}: {}",
                g.kernel,
                s.axis.word(),
                g.reason
            ),
        };
        out.push(shorten(&text, 130));
    }
    if shown < gaps.len() {
        out.push(format!(
            "{} more kernel/point(s) without a value: see {SCALING_JSON}, \"missing\"",
            gaps.len() - shown
        ));
    }
    let oc: BTreeSet<String> = series
        .iter()
        .flat_map(|se| se.points.iter().filter_map(|p| p.2.clone()))
        .collect();
    match oc.len() {
        0 => {}
        1 => out.push(format!(
            "hollow markers: {}",
            oc.first().cloned().unwrap_or_default()
        )),
        _ => {
            let cpus: BTreeSet<u32> = s
                .runs
                .iter()
                .filter(|p| p.1.kernel.overcommit_note().is_some())
                .map(|p| p.1.kernel.cpus)
                .collect();
            let list: Vec<String> = cpus.iter().map(u32::to_string).collect();
            out.push(format!(
                "hollow markers: overcommitted vCPUs ({} vCPUs exceed the host's cores): \
                 lock-holder preemption inflates waits",
                list.join(", ")
            ));
        }
    }
    if let Some(n) = runs_note(series) {
        out.push(n);
    }
    let drawn: BTreeSet<&str> = series.iter().map(|se| se.kernel.as_str()).collect();
    let spin: BTreeSet<&str> = s
        .runs
        .iter()
        .filter(|p| drawn.contains(p.1.kernel.label()))
        .filter_map(|p| p.1.kernel.spinlocks.as_ref())
        .map(|sp| sp.implementation.describe())
        .collect();
    if spin.len() > 1 {
        out.push(format!(
            "spinlock implementations differ between runs ({}): their waits are not comparable",
            spin.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out
}

/// "runs per point: baseline n=3, ref n=2..3": the repeats behind each kernel's points (a
/// range when its points differ).
fn runs_note(series: &[Series]) -> Option<String> {
    let parts: Vec<String> = series
        .iter()
        .filter_map(|se| {
            let lo = se.points.iter().map(|p| p.1.n).min()?;
            let hi = se.points.iter().map(|p| p.1.n).max()?;
            Some(if lo == hi {
                format!("{} n={lo}", se.kernel)
            } else {
                format!("{} n={lo}..{hi}", se.kernel)
            })
        })
        .collect();
    (!parts.is_empty()).then(|| shorten(&format!("runs per point: {}", parts.join(", ")), 130))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

/// The figure of one quantity in one sweep, or `None` when no kernel has a value.
fn figure(s: &Sweep, q: &Quantity, series: &[Series], gaps: &[ScalingGap]) -> Option<Figure> {
    if series.is_empty() {
        return None;
    }
    let unit = metrics::by_name(q.metric)?.unit;
    let lines = series
        .iter()
        .map(|se| Line {
            label: se.kernel.clone(),
            points: se.points.iter().map(|p| (p.0 as f64, p.1.median)).collect(),
            color: se.color,
            legend: true,
            reference: false,
        })
        .collect();
    let bands = series
        .iter()
        .map(|se| Band {
            color: se.color,
            points: se
                .points
                .iter()
                .map(|(x, sum, oc)| BandPoint {
                    x: *x as f64,
                    y: sum.median,
                    lo: sum.min,
                    hi: sum.max,
                    hollow: oc.is_some(),
                })
                .collect(),
        })
        .collect();
    let drawn: Vec<&str> = series.iter().map(|se| se.kernel.as_str()).collect();
    Some(Figure::Lines(LineChart {
        title: format!(
            "{} vs {} ({}) - {} - {}",
            q.what,
            s.axis.x_label(),
            s.fixed_text(),
            s.family,
            drawn.join(" vs ")
        ),
        x_label: s.axis.x_label().into(),
        y_label: q.y_label.into(),
        x_unit: MetricUnit::Count,
        y_unit: unit,
        // Linear in threads and vCPUs: linear scaling then reads as a straight line, and the
        // ticks are the counts themselves (plotters' log axis labels powers of ten only).
        x_log: false,
        // From 0 up to the data: contended shares are small, a 0..1 axis would flatten them.
        y_range: None,
        lines,
        extras: Extras {
            bands,
            notes: notes(s, series, gaps),
            ..Extras::default()
        },
    }))
}

fn json_points(s: &Sweep, q: &Quantity, series: &[Series]) -> Vec<ScalingPoint> {
    let unit = metrics::by_name(q.metric).map_or(MetricUnit::Count, |m| m.unit);
    let mut out = Vec::new();
    for se in series {
        for (x, sum, oc) in &se.points {
            out.push(ScalingPoint {
                family: s.family.clone(),
                sweep: s.axis,
                fixed_vcpus: (s.axis == Axis::Threads).then_some(s.fixed),
                fixed_threads: (s.axis == Axis::Vcpus).then_some(s.fixed),
                metric: q.metric.into(),
                unit,
                kernel: se.kernel.clone(),
                x: *x,
                median: sum.median,
                min: sum.min,
                max: sum.max,
                n: sum.n,
                overcommitted: oc.clone(),
            });
        }
    }
    out
}

/// Figures as `(file stem, figure)` and the numbers behind them.
pub fn scaling_figures(results: &[ResultFile]) -> (Vec<(String, Figure)>, ScalingData) {
    let mut figs = Vec::new();
    let mut data = ScalingData::default();
    for s in sweeps(results) {
        for q in &QUANTITIES {
            let (series, gaps) = summarise(&s, q);
            if let Some(f) = figure(&s, q, &series, &gaps) {
                figs.push((
                    format!("{}-{}-{}", slug(&s.family), s.axis.stem(), q.stem),
                    f,
                ));
            }
            data.points.extend(json_points(&s, q, &series));
            data.missing.extend(gaps);
        }
    }
    (figs, data)
}

/// Draws the scaling figures (SVG and PNG each) and writes `scaling.json` into `out`; returns
/// the files written. Results without a sweep (no `-t<N>` scenarios, or one x value only) give
/// an empty list and no directory, so calling this on any matrix is harmless.
pub fn plot_scaling(results: &[ResultFile], out: &Path) -> Result<Vec<PathBuf>> {
    let (figs, data) = scaling_figures(results);
    if data.points.is_empty() && data.missing.is_empty() {
        return Ok(Vec::new());
    }
    crate::plot::staged(out, |dir| {
        let mut files = Vec::new();
        for (stem, fig) in &figs {
            files.extend(save(fig, dir, stem)?);
        }
        let json = dir.join(SCALING_JSON);
        let mut bytes = serde_json::to_vec_pretty(&data)?;
        bytes.push(b'\n');
        std::fs::write(&json, bytes).with_context(|| format!("writing {}", json.display()))?;
        files.push(json);
        Ok(files)
    })
}

#[cfg(test)]
mod tests;
