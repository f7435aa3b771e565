//! `zswap-bench compare`: results grouped by scenario × kernel, per metric a summary over
//! repeats and, against the baseline kernel, the Hodges–Lehmann shift with its exact interval,
//! the Mann–Whitney p and a verdict under one rule for the whole report ([`verdict`],
//! [`crate::stats::rule`]). The comparison is plain data; the mailing-list report ([`mail`]),
//! the full tables ([`report`]) and JSON are renderings of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{self, Exercise, MetricUnit};
use crate::schema::{AppliedPatch, ProbeWindow, ResultFile, walk_steps_on};
use crate::stats::{Difference, Direction, Method, Summary, compare_samples};

mod builds;
mod guests;
mod mail;
mod report;
mod text;
pub mod verdict;

pub use builds::{pooled_builds, split_by_build};
pub use guests::{pooled_guests, split_by_guest};
pub use mail::{render_mail_markdown, render_mail_text};
pub use report::{render_full_markdown, render_full_text};
pub use text::TEXT_WIDTH;
pub use verdict::Family;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompareOptions {
    /// Kernel label to compare against; default "baseline" if present, else the first kernel.
    pub baseline: Option<String>,
    pub method: Method,
    /// Restrict to these metric names (all when `None`).
    pub metrics: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    Text,
    #[cfg_attr(feature = "clap", value(alias = "md"))]
    Markdown,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Format::Text),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format {s:?} (text, markdown, json)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub method: Method,
    /// The rule in words, as printed in every report.
    pub method_text: String,
    /// The judged comparisons of this report as one family, and what it takes to call one.
    pub family: Family,
    /// What the family allows, in words: changes called, or why none can be.
    pub conclusion: String,
    pub kernels: Vec<KernelIdentity>,
    pub scenarios: Vec<ScenarioComparison>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelIdentity {
    pub label: String,
    pub release: String,
    pub machine: String,
    pub config_sha256: Option<String>,
    pub series: Option<String>,
    pub patches: Vec<PatchIdentity>,
    /// Patches that did not apply as posted ("patch -F2: ...: <subject>", "git am -3 (3-way
    /// merge): <subject>") and fix-ups ("fix-up <file> after <subject>").
    #[serde(default)]
    pub applied: Vec<String>,
    pub cmdline: String,
    pub accel: String,
    pub cpus: u32,
    pub mem_bytes: u64,
    /// How contended spinlocks waited ("native qspinlock", ...); contention figures only
    /// compare between runs with the same.
    #[serde(default)]
    pub spinlocks: Option<String>,
    /// Set when the guest had more vCPUs than the host had cores.
    #[serde(default)]
    pub overcommit: Option<String>,
    /// Set when some of this kernel's runs shared the host with other cells (`matrix --jobs`,
    /// Slurm): how many, and how.
    #[serde(default)]
    pub shared_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchIdentity {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioComparison {
    pub name: String,
    pub sha256: String,
    pub params: BTreeMap<String, String>,
    /// Baseline first, then in order of first appearance.
    pub kernels: Vec<String>,
    pub baseline: String,
    /// Runs per kernel that completed / that failed (failed runs are left out of the stats).
    pub runs: BTreeMap<String, (usize, usize)>,
    pub metrics: Vec<MetricComparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub name: String,
    pub unit: MetricUnit,
    pub direction: Direction,
    pub description: String,
    /// Smallest absolute shift that counts, in `unit`.
    pub floor: f64,
    pub exercise: Exercise,
    /// Why this scenario cannot exercise the metric; then nothing is compared or judged.
    pub not_exercised: Option<String>,
    /// A rate from probe counts that, in these result files, run from attach rather than over
    /// the measured phase: approximate.
    pub approximate: bool,
    pub cells: Vec<KernelCell>,
}

impl MetricComparison {
    pub fn cell(&self, kernel: &str) -> Option<&KernelCell> {
        self.cells.iter().find(|c| c.kernel == kernel)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelCell {
    pub kernel: String,
    /// One value per repeat where the metric was available.
    pub values: Vec<f64>,
    pub summary: Option<Summary>,
    /// Why the metric is missing in some or all repeats.
    pub unavailable: Option<String>,
    /// Against the baseline (absent for the baseline itself, when either side has no data, and
    /// for metrics the scenario does not exercise). Informational metrics have one without a
    /// verdict.
    pub vs_baseline: Option<Difference>,
}

pub fn compare(results: &[ResultFile], opts: &CompareOptions) -> Comparison {
    let mut warnings = Vec::new();
    let metric_list: Vec<metrics::Metric> = metrics::all()
        .into_iter()
        .filter(|m| {
            opts.metrics
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == m.name))
        })
        .collect();
    let kernels = identities(results, &mut warnings);
    let baseline_global = opts
        .baseline
        .clone()
        .or_else(|| {
            kernels
                .iter()
                .find(|k| k.label == "baseline")
                .map(|k| k.label.clone())
        })
        .or_else(|| kernels.first().map(|k| k.label.clone()));
    if let Some(b) = &opts.baseline
        && !kernels.iter().any(|k| &k.label == b)
    {
        warnings.push(format!("baseline kernel {b:?} is not among the results"));
    }

    // Scenario groups keyed by (name, sha256), in order of appearance.
    let mut groups: Vec<((String, String), Vec<&ResultFile>)> = Vec::new();
    for r in results {
        let key = (r.scenario.name.clone(), r.scenario.sha256.clone());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut scenarios: Vec<ScenarioComparison> = groups
        .into_iter()
        .map(|((name, sha256), runs)| {
            scenario(
                name,
                sha256,
                &runs,
                baseline_global.as_deref(),
                &metric_list,
                &opts.method,
                &mut warnings,
            )
        })
        .collect();
    if let Some(w) = window_warning(results, &scenarios) {
        warnings.push(w);
    }
    warnings.extend(shared_run_ids(results));
    let family = verdict::judge(&mut scenarios, &opts.method);
    Comparison {
        method: opts.method,
        method_text: verdict::method_text(&opts.method, &family),
        conclusion: verdict::conclusion(&family),
        family,
        kernels,
        scenarios,
        warnings,
    }
}

/// Kernel identities, first result of each label; a warning when the same label differs.
fn identities(results: &[ResultFile], warnings: &mut Vec<String>) -> Vec<KernelIdentity> {
    let mut kernels: Vec<KernelIdentity> = Vec::new();
    for r in results {
        let id = identity(r);
        match kernels.iter().find(|k| k.label == id.label) {
            None => kernels.push(id),
            Some(k)
                if k.release != id.release
                    || k.config_sha256 != id.config_sha256
                    || k.spinlocks != id.spinlocks
                    || k.cpus != id.cpus =>
            {
                let spin =
                    |s: &Option<String>| s.clone().unwrap_or_else(|| "spinlocks unknown".into());
                let w = format!(
                    "kernel {} differs between results (release, config, spinlocks or vCPUs): {} {} {} vCPUs vs {} {} {} vCPUs",
                    id.label,
                    k.release,
                    spin(&k.spinlocks),
                    k.cpus,
                    id.release,
                    spin(&id.spinlocks),
                    id.cpus
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            Some(_) => {}
        }
    }
    for k in &mut kernels {
        k.shared_host = shared_host(results.iter().filter(|r| r.kernel.label() == k.label));
    }
    kernels
}

/// "3 of 8 runs: ran beside 1 other cell(s) on disjoint host CPUs 1": runs measured while the
/// host was shared are labelled, so a reader can ask whether that moved the numbers.
fn shared_host<'a>(runs: impl Iterator<Item = &'a ResultFile>) -> Option<String> {
    let (mut n, mut notes) = (0, BTreeMap::<String, usize>::new());
    for r in runs {
        n += 1;
        if let Some(note) = r.placement.as_ref().and_then(|p| p.shared_note()) {
            // One line per kind of sharing, not per CPU set.
            let kind = note
                .split(" on disjoint")
                .next()
                .unwrap_or(&note)
                .to_string();
            *notes.entry(kind).or_default() += 1;
        }
    }
    if notes.is_empty() {
        return None;
    }
    Some(
        notes
            .iter()
            .map(|(note, m)| format!("{m} of {n} runs {note}"))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// One scenario's runs: kernels in order (baseline first), run counts, every metric's cells and
/// per-comparison statistics. Verdicts come later, for the whole report at once.
fn scenario(
    name: String,
    sha256: String,
    runs: &[&ResultFile],
    baseline_global: Option<&str>,
    metric_list: &[metrics::Metric],
    method: &Method,
    warnings: &mut Vec<String>,
) -> ScenarioComparison {
    let mut order: Vec<String> = Vec::new();
    for r in runs {
        let l = r.kernel.label().to_string();
        if !order.contains(&l) {
            order.push(l);
        }
    }
    let baseline = match baseline_global {
        Some(b) if order.iter().any(|k| k == b) => b.to_string(),
        _ => {
            let b = order[0].clone();
            if let Some(g) = baseline_global {
                warnings.push(format!(
                    "scenario {name}: no results for baseline {g}; comparing against {b}"
                ));
            }
            b
        }
    };
    order.retain(|k| k != &baseline);
    order.insert(0, baseline.clone());

    let mut counts = BTreeMap::new();
    for k in &order {
        let of = |failed: bool| {
            runs.iter()
                .filter(|r| r.kernel.label() == k && r.failed.is_some() == failed)
                .count()
        };
        counts.insert(k.clone(), (of(false), of(true)));
    }
    for r in runs.iter().filter(|r| r.failed.is_some()) {
        warnings.push(format!(
            "{} ({}, repeat {}) failed and is left out: {}",
            r.run_id,
            r.kernel.label(),
            r.repeat,
            r.failed.as_deref().unwrap_or("")
        ));
    }
    let ok: Vec<&ResultFile> = runs
        .iter()
        .copied()
        .filter(|r| r.failed.is_none())
        .collect();
    let metrics = metric_list
        .iter()
        .map(|m| metric_row(m, &order, &ok, method))
        .collect();
    ScenarioComparison {
        name,
        sha256,
        params: runs[0].scenario.params.clone(),
        kernels: order,
        baseline,
        runs: counts,
        metrics,
    }
}

fn metric_row(
    m: &metrics::Metric,
    order: &[String],
    ok: &[&ResultFile],
    method: &Method,
) -> MetricComparison {
    let not_exercised = metrics::exercise::not_exercised(m, ok);
    let mut cells: Vec<KernelCell> = order
        .iter()
        .map(|k| {
            let mut values = Vec::new();
            let mut reasons: Vec<String> = Vec::new();
            for r in ok.iter().filter(|r| r.kernel.label() == k) {
                match (m.extract)(r) {
                    Ok(v) if v.is_finite() => values.push(v),
                    Ok(_) => reasons.push("not a finite number".into()),
                    Err(e) => {
                        // One line per kind of reason: runs that differ only in a count
                        // ("none of 29052 calls" vs "none of 29562") say it once.
                        if !reasons.iter().any(|r| same_but_numbers(r, &e)) {
                            reasons.push(e)
                        }
                    }
                }
            }
            KernelCell {
                kernel: k.clone(),
                summary: Summary::of(&values),
                values,
                unavailable: (!reasons.is_empty()).then(|| reasons.join("; ")),
                vs_baseline: None,
            }
        })
        .collect();
    if not_exercised.is_none() {
        let base_values = cells[0].values.clone();
        for c in cells.iter_mut().skip(1) {
            c.vs_baseline = compare_samples(&base_values, &c.values, m.floor, method);
        }
    }
    let approximate = m.probe_rate
        && ok
            .iter()
            .any(|r| r.probes.window == ProbeWindow::SinceAttach && (m.extract)(r).is_ok());
    MetricComparison {
        name: m.name.into(),
        unit: m.unit,
        direction: m.direction,
        description: m.description.into(),
        floor: m.floor,
        exercise: m.exercise,
        not_exercised,
        approximate,
        cells,
    }
}

/// The one warning about result files whose probe counts run from attach: their per-second
/// probe rates include the quiet points around the measured phase. They are still computed.
fn window_warning(results: &[ResultFile], scenarios: &[ScenarioComparison]) -> Option<String> {
    let old = results
        .iter()
        .filter(|r| r.failed.is_none() && r.probes.window == ProbeWindow::SinceAttach)
        .count();
    let mut names: Vec<&str> = scenarios
        .iter()
        .flat_map(|s| s.metrics.iter())
        .filter(|m| m.approximate && m.not_exercised.is_none())
        .map(|m| m.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    (old > 0 && !names.is_empty()).then(|| {
        format!(
            "{old} result file(s) count probe events from attach (written before probes.window): \
             rates from probe counts include the quiet points around the measured phase and are \
             approximate ({} metrics, marked in --full)",
            names.len()
        )
    })
}

/// Run ids that name several runs (different start times): all are counted, and the report
/// says so, since its other warnings name runs by id. Copies of one run never get here:
/// `ResultFile::read_all` refuses them.
fn shared_run_ids(results: &[ResultFile]) -> Vec<String> {
    let mut starts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in results {
        starts.entry(&r.run_id).or_default().push(r.started_unix_ns);
    }
    starts
        .into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(id, s)| {
            format!(
                "run_id {id:?} names {} different runs (started at {s:?} ns since the epoch): \
                 each is counted as a repeat",
                s.len()
            )
        })
        .collect()
}

/// Relabels each run's kernel as "<kernel> <tag>", so one kernel's runs become one sample per
/// tag.
fn split_by(results: &mut [ResultFile], tag: impl Fn(&ResultFile) -> String) {
    for r in results {
        let t = tag(r);
        r.kernel.manifest = Some(format!("{} {t}", r.kernel.label()));
    }
}

/// `compare --split-by walk-steps`: one sample per kernel and walk-step probe setting, for the
/// observer-effect comparison (the same cells with the per-step probe on and off).
pub fn split_by_walk_steps(results: &mut [ResultFile]) {
    split_by(results, |r| {
        format!("walk-steps={}", if walk_steps_on(r) { "on" } else { "off" })
    });
}

/// `compare --split-by idle-action`: each kernel's runs become one sample per idle action of
/// the burst-after-idle experiment ("ref-nocursor proactive"), so the rule judges actions on
/// one kernel as it judges kernels. Runs without a burst keep "-" as their tag.
pub fn split_by_idle_action(results: &mut [ResultFile]) {
    split_by(results, |r| {
        r.burst
            .as_ref()
            .map_or("-".into(), |b| b.action.as_str().into())
    });
}

/// `compare --split-by jobs`: each kernel's runs become one sample per `--jobs` value they ran
/// under ("baseline jobs=2"), so the verdict rule can judge whether running cells side by side
/// moved the numbers (the interference question). Runs without a placement (older files, `run
/// --host`) are "jobs=?".
pub fn split_by_jobs(results: &mut [ResultFile]) {
    split_by(results, |r| {
        match r.placement.as_ref().and_then(|p| p.jobs) {
            Some(n) => format!("jobs={n}"),
            None => "jobs=?".into(),
        }
    });
}

fn identity(r: &ResultFile) -> KernelIdentity {
    let k = &r.kernel;
    KernelIdentity {
        label: k.label().into(),
        release: k.release.clone(),
        machine: k.machine.clone(),
        config_sha256: k.config_sha256.clone(),
        series: k.series.as_ref().map(|s| s.name.clone()),
        patches: k
            .series
            .iter()
            .flat_map(|s| {
                s.patches.iter().map(|p| PatchIdentity {
                    name: p.name.clone(),
                    sha256: p.sha256.clone(),
                })
            })
            .collect(),
        applied: k
            .series
            .iter()
            .flat_map(|s| {
                s.applied
                    .iter()
                    .filter_map(|a| AppliedPatch::not_as_posted(&a.patch, &a.how))
            })
            .collect(),
        cmdline: k.cmdline.clone(),
        accel: serde_json::to_value(k.accel)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        cpus: k.cpus,
        mem_bytes: k.mem_bytes,
        spinlocks: k
            .spinlocks
            .as_ref()
            .map(|s| s.implementation.describe().to_string()),
        overcommit: k.overcommit_note(),
        shared_host: None,
    }
}

fn same_but_numbers(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    strip(a) == strip(b)
}

/// The mailing-list report (the default): kernels, rule, called changes, what is n/a.
pub fn render_text(c: &Comparison) -> String {
    render_mail_text(c)
}

/// Markdown of the mailing-list report.
pub fn render_markdown(c: &Comparison) -> String {
    render_mail_markdown(c)
}

/// Everything: the rule, the family, every cell with its values' summary and statistics.
pub fn render_json(c: &Comparison) -> String {
    // Comparison holds only strings, numbers and maps with string keys: cannot fail.
    serde_json::to_string_pretty(c).expect("comparison serializes") + "\n"
}

/// `full`: every metric's table (`compare --full`); otherwise the mailing-list report. JSON
/// always carries everything.
pub fn render(c: &Comparison, f: Format, full: bool) -> String {
    match (f, full) {
        (Format::Text, false) => render_mail_text(c),
        (Format::Text, true) => render_full_text(c),
        (Format::Markdown, false) => render_mail_markdown(c),
        (Format::Markdown, true) => render_full_markdown(c),
        (Format::Json, _) => render_json(c),
    }
}

#[cfg(test)]
mod tests;
