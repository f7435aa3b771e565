//! `zswap-bench plot`: figures from result files alone (re-plotting needs no VM).
//!
//! Data first: [`figures`] turns results into plain [`Figure`] values (titles, labelled series,
//! bars); [`save`] draws a figure with plotters as SVG and PNG ([`draw`]). Several kernels
//! overlay in one figure (one colour per kernel); several scenarios facet into separate files.
//! Repeats of a design are summarised, never drawn one line per run: a median line with a
//! min..max band over time ([`series`]), or a median bar with whiskers. The title names only the
//! kernels drawn; a kernel without data gets a note saying why. The burst-after-idle figures
//! ([`burst`]) group by kernel and idle action instead. Text is drawn with DejaVu Sans
//! embedded in the binary (the `dejavu` crate), so PNGs render on machines without any system
//! font.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::metrics::MetricUnit;
use crate::schema::ResultFile;

mod burst;
#[cfg(test)]
mod burst_tests;
mod draw;
mod extras;
mod fairness;
mod latency;
mod per_call;
mod series;
#[cfg(test)]
mod tests;

pub use extras::{Area, Band, BandPoint, Extras, Marker};

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
    /// One line each under the chart (e.g. why a kernel has no bar).
    pub notes: Vec<String>,
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

    /// The lines of text under the chart.
    pub fn notes(&self) -> &[String] {
        match self {
            Figure::Lines(c) => &c.extras.notes,
            Figure::Bars(c) => &c.notes,
        }
    }

    pub fn notes_mut(&mut self) -> &mut Vec<String> {
        match self {
            Figure::Lines(c) => &mut c.extras.notes,
            Figure::Bars(c) => &mut c.notes,
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
    staged(out, |dir| {
        let mut files = Vec::new();
        for (stem, fig) in figures(results) {
            files.extend(save(&fig, dir, &stem)?);
        }
        Ok(files)
    })
}

/// Draws a figure set into a staging folder inside `out`, then moves every file into `out`: a
/// failure half-way (a full disk, a figure that cannot be drawn) names the file it failed on and
/// leaves `out` as it was, never with part of a set beside older figures.
pub fn staged(
    out: &Path,
    draw: impl FnOnce(&Path) -> Result<Vec<PathBuf>>,
) -> Result<Vec<PathBuf>> {
    if let Some(why) = crate::input::not_a_folder(out) {
        anyhow::bail!("--out {}: {why}", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let stage = out.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let moved = draw(&stage).and_then(|files| {
        let mut placed = Vec::with_capacity(files.len());
        for f in files {
            let to = out.join(f.file_name().unwrap_or_default());
            std::fs::rename(&f, &to)
                .with_context(|| format!("moving {} to {}", f.display(), to.display()))?;
            placed.push(to);
        }
        Ok(placed)
    });
    let _ = std::fs::remove_dir_all(&stage);
    moved.with_context(|| format!("no figure of this set was written to {}", out.display()))
}

/// Draws one figure to `out/<stem>.svg` and `out/<stem>.png`.
pub fn save(fig: &Figure, out: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    register_font();
    let svg = out.join(format!("{stem}.svg"));
    let png = out.join(format!("{stem}.png"));
    let (notes, lower) = match fig {
        Figure::Lines(c) => (&c.extras.notes, c.extras.lower.is_some()),
        Figure::Bars(c) => (&c.notes, false),
    };
    let lower = if lower { extras::LOWER_PX } else { 0 };
    let size = (SIZE.0, SIZE.1 + lower + extras::notes_height(notes));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw::draw(&root, fig).with_context(|| format!("drawing {}", svg.display()))?;
        root.present().map_err(pe)?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw::draw(&root, fig).with_context(|| format!("drawing {}", png.display()))?;
        root.present().map_err(pe)?;
    }
    Ok(vec![svg, png])
}

fn pe<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}

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

/// "<what> - <scenario> - a vs b": only the kernels that are drawn.
fn title(what: &str, scenario: &str, drawn: &[String]) -> String {
    format!("{what} - {scenario} - {}", drawn.join(" vs "))
}

/// Notes for the kernels of the scenario that are not drawn, each with the first reason one of
/// its runs gives ("baseline: n/a: kernel has no proactive writeback interface").
fn missing_notes(
    kernels: &KernelGroups,
    drawn: &[String],
    why: impl Fn(&ResultFile) -> Option<String>,
) -> Vec<String> {
    kernels
        .iter()
        .filter(|(k, _)| !drawn.contains(k))
        .map(|(k, runs)| {
            let reason = runs
                .iter()
                .find_map(|r| why(r))
                .unwrap_or_else(|| "no data".into());
            let reason = if reason.starts_with("n/a") {
                reason
            } else {
                format!("n/a: {reason}")
            };
            format!("{k}: {reason}")
        })
        .collect()
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
pub(crate) fn below_root(path: &str) -> &str {
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
        let (s, k) = (scenario.as_str(), &kernels);
        // Every figure says how many runs stand behind each of its groups: the kernels, or for
        // the burst figures, which draw each idle action apart, kernel and action.
        let by_kernel = runs_note(k);
        let by_action = runs_note(&burst::burst_groups(k));
        let mut add = |name: &str, f: Option<Figure>, runs: &Option<String>| {
            if let Some(mut f) = f {
                f.notes_mut().extend(runs.clone());
                out.push((format!("{prefix}-{name}"), f));
            }
        };
        add("lock-wait-cdf", latency::lock_wait_cdf(s, k), &by_kernel);
        add(
            "lock-contended-rate",
            series::lock_contended_rate(s, k),
            &by_kernel,
        );
        add(
            "proactive-writeback-per-memcg",
            fairness::per_memcg_bars(s, k, true),
            &by_kernel,
        );
        add(
            "writeback-per-memcg",
            fairness::per_memcg_bars(s, k, false),
            &by_kernel,
        );
        add(
            "first-child-share",
            fairness::first_child_share(s, k),
            &by_kernel,
        );
        add("lorenz", fairness::lorenz(s, k), &by_kernel);
        add("jain-over-time", series::jain_over_time(s, k), &by_kernel);
        add(
            "proactive-written-per-call",
            per_call::written_per_call_chart(s, k),
            &by_kernel,
        );
        add(
            "proactive-written-so-far",
            per_call::written_so_far_chart(s, k),
            &by_kernel,
        );
        add(
            "proactive-latency-cdf",
            latency::proactive_latency_cdf(s, k),
            &by_kernel,
        );
        add(
            "proactive-returns",
            latency::proactive_returns(s, k),
            &by_kernel,
        );
        add(
            "shrink-memcg-latency-cdf",
            latency::shrink_memcg_latency_cdf(s, k),
            &by_kernel,
        );
        add(
            "workload-throughput",
            series::workload_throughput(s, k),
            &by_kernel,
        );
        add("latency-nines", burst::latency_nines(s, k), &by_action);
        add(
            "latency-over-time",
            burst::latency_over_time(s, k),
            &by_action,
        );
    }
    out
}

/// "runs per kernel: baseline n=6, ref-percg-lock n=6": the scenario's completed runs of each
/// kernel (a kernel a figure cannot draw is named in that figure's own notes).
fn runs_note(kernels: &KernelGroups) -> Option<String> {
    let parts: Vec<String> = kernels
        .iter()
        .map(|(k, runs)| format!("{k} n={}", runs.len()))
        .collect();
    (!parts.is_empty()).then(|| format!("runs per kernel: {}", parts.join(", ")))
}
