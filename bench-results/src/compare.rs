//! `zswap-bench compare`: results grouped by scenario × kernel, per metric a summary over
//! repeats and the difference to the baseline kernel with a bootstrap CI, a Mann–Whitney p-value
//! and a verdict (rule in [`crate::stats`]). The comparison is plain data; text, markdown and JSON
//! are renderings of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::metrics::{self, MetricUnit};
use crate::schema::ResultFile;
use crate::stats::{Difference, Direction, Method, Summary, Verdict, compare_samples};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompareOptions {
    /// Kernel label to compare against; default "baseline" if present, else the first kernel.
    pub baseline: Option<String>,
    pub method: Method,
    /// Restrict to these metric names (all when `None`).
    pub metrics: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
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
    /// The method in words, as printed in every report.
    pub method_text: String,
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
    pub patches: Vec<String>,
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
    /// Against the baseline (absent for the baseline itself and when either side has no data).
    pub vs_baseline: Option<Difference>,
}

pub fn method_text(m: &Method) -> String {
    format!(
        "Per kernel: median over repeats. Change = median(kernel) - \
         median(baseline), relative to the baseline median, with a {:.0}% \
         percentile-bootstrap CI of the difference of medians ({} resamples, \
         seed {}); p = two-sided Mann-Whitney U. Verdict: improvement or \
         regression when the CI excludes 0 and |change| >= {:.0}%; no verdict \
         with fewer than {} repeats.",
        m.confidence * 100.0,
        m.resamples,
        m.seed,
        m.threshold * 100.0,
        m.min_n
    )
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

    // Kernel identities, first result of each label; warn when the same label differs.
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
                let w = format!(
                    "kernel {} differs between results (release, config, spinlocks or vCPUs): {} {:?} {} vCPUs vs {} {:?} {} vCPUs",
                    id.label, k.release, k.spinlocks, k.cpus, id.release, id.spinlocks, id.cpus
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            Some(_) => {}
        }
    }
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

    let mut scenarios = Vec::new();
    for ((name, sha256), runs) in groups {
        let mut order: Vec<String> = Vec::new();
        for r in &runs {
            let l = r.kernel.label().to_string();
            if !order.contains(&l) {
                order.push(l);
            }
        }
        let baseline = match &baseline_global {
            Some(b) if order.contains(b) => b.clone(),
            _ => {
                let b = order[0].clone();
                if let Some(g) = &baseline_global {
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
            let ok = runs
                .iter()
                .filter(|r| r.kernel.label() == k && r.failed.is_none())
                .count();
            let failed = runs
                .iter()
                .filter(|r| r.kernel.label() == k && r.failed.is_some())
                .count();
            counts.insert(k.clone(), (ok, failed));
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

        let mut metric_rows = Vec::new();
        for m in &metric_list {
            let mut cells: Vec<KernelCell> = order
                .iter()
                .map(|k| {
                    let mut values = Vec::new();
                    let mut reasons: Vec<String> = Vec::new();
                    for r in runs
                        .iter()
                        .filter(|r| r.kernel.label() == k && r.failed.is_none())
                    {
                        match (m.extract)(r) {
                            Ok(v) if v.is_finite() => values.push(v),
                            Ok(_) => reasons.push("not a finite number".into()),
                            Err(e) => {
                                // One line per kind of reason: runs that differ only in a
                                // count ("none of 29052 calls" vs "none of 29562") say it once.
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
            let base_values = cells[0].values.clone();
            for c in cells.iter_mut().skip(1) {
                c.vs_baseline = compare_samples(&base_values, &c.values, m.direction, &opts.method);
            }
            metric_rows.push(MetricComparison {
                name: m.name.into(),
                unit: m.unit,
                direction: m.direction,
                description: m.description.into(),
                cells,
            });
        }
        let params = runs[0].scenario.params.clone();
        scenarios.push(ScenarioComparison {
            name,
            sha256,
            params,
            kernels: order,
            baseline,
            runs: counts,
            metrics: metric_rows,
        });
    }

    Comparison {
        method: opts.method,
        method_text: method_text(&opts.method),
        kernels,
        scenarios,
        warnings,
    }
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
                s.patches
                    .iter()
                    .map(|p| format!("{} ({})", p.name, short(&p.sha256)))
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

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

// ---------------------------------------------------------------------------------------------
// Renderers
// ---------------------------------------------------------------------------------------------

/// Width limit of the text report (mailing-list replies).
pub const TEXT_WIDTH: usize = 72;
const KW: usize = 16; // kernel column

fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::HigherIsBetter => "higher is better",
        Direction::LowerIsBetter => "lower is better",
        Direction::Neither => "informational",
    }
}

fn kcol(k: &str) -> String {
    if k.chars().count() <= KW {
        format!("{k:<KW$}")
    } else {
        let cut: String = k.chars().take(KW - 1).collect();
        format!("{cut}~")
    }
}

/// Greedy word wrap to `width`, every line starting with `indent`.
fn wrap(out: &mut String, text: &str, indent: &str, width: usize) {
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        // A single word longer than the line is cut rather than overflowing.
        let room = width.saturating_sub(line.len()).max(1);
        line.extend(word.chars().take(room));
    }
    if line.len() > indent.len() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn fmt_change(d: &Difference, unit: MetricUnit) -> String {
    match d.relative {
        Some(r) if r.abs() >= 10.0 => format!("{:+.0}%", r * 100.0),
        Some(r) => format!("{:+.1}%", r * 100.0),
        None => unit.format(d.diff, true),
    }
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

fn fmt_ci(d: &Difference, unit: MetricUnit) -> String {
    format!(
        "[{}, {}]",
        unit.format(d.ci.lo, true),
        unit.format(d.ci.hi, true)
    )
}

fn verdict_text(d: &Difference) -> &'static str {
    d.verdict.map_or("n<min", |v| v.as_str())
}

/// "n/a: <why>", unless the reason already says so itself (e.g. a lock family's "n/a: never
/// taken: ..."), which would otherwise read "n/a: n/a: ...".
fn na(why: &str) -> String {
    if why.starts_with("n/a") {
        why.to_string()
    } else {
        format!("n/a: {why}")
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

/// Plain-text report for a mailing-list reply: ≤ 72 columns, ASCII only, no decoration.
pub fn render_text(c: &Comparison) -> String {
    let mut o = String::new();
    o.push_str("zswap-bench compare\n\n");
    o.push_str("Kernels:\n");
    for k in &c.kernels {
        let mut desc = format!("{} {}", k.release, k.machine);
        if let Some(s) = &k.config_sha256 {
            desc += &format!(", config {}", short(s));
        }
        match &k.series {
            Some(s) => desc += &format!(", series {s} ({} patches)", k.patches.len()),
            None => desc += ", no series",
        }
        desc += &format!(", {}, {} CPUs, {}", k.accel, k.cpus, mib(k.mem_bytes));
        if let Some(sl) = &k.spinlocks {
            desc += &format!(", {sl}");
        }
        if let Some(n) = &k.overcommit {
            desc += &format!("; {n}");
        }
        let first = format!("  {} ", kcol(&k.label));
        let mut block = String::new();
        wrap(&mut block, &desc, &" ".repeat(first.len()), TEXT_WIDTH);
        o.push_str(&first);
        o.push_str(block.trim_start());
        for p in &k.patches {
            wrap(&mut o, p, &" ".repeat(first.len() + 2), TEXT_WIDTH);
        }
    }
    o.push('\n');
    wrap(
        &mut o,
        &format!("Method: {}", c.method_text),
        "",
        TEXT_WIDTH,
    );

    for s in &c.scenarios {
        o.push('\n');
        wrap(
            &mut o,
            &format!("Scenario {} (sha256 {})", s.name, short(&s.sha256)),
            "",
            TEXT_WIDTH,
        );
        if !s.params.is_empty() {
            let p: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            wrap(&mut o, &p.join(" "), "  ", TEXT_WIDTH);
        }
        let runs: Vec<String> = s
            .kernels
            .iter()
            .map(|k| {
                let (ok, failed) = s.runs.get(k).copied().unwrap_or((0, 0));
                if failed > 0 {
                    format!("{k} {ok} (+{failed} failed)")
                } else {
                    format!("{k} {ok}")
                }
            })
            .collect();
        wrap(
            &mut o,
            &format!("Baseline: {}. Runs: {}", s.baseline, runs.join(", ")),
            "  ",
            TEXT_WIDTH,
        );

        // The verdicts first, so a reader sees what changed before the tables.
        let mut significant = Vec::new();
        for m in &s.metrics {
            for cell in m.cells.iter().skip(1) {
                if let Some(d) = &cell.vs_baseline
                    && matches!(d.verdict, Some(v) if v != Verdict::NoChange)
                {
                    significant.push(format!(
                        "  {} {:<30} {:>8}  {}",
                        kcol(&cell.kernel),
                        m.name,
                        fmt_change(d, m.unit),
                        verdict_text(d)
                    ));
                }
            }
        }
        o.push('\n');
        if significant.is_empty() {
            o.push_str("No significant change against the baseline.\n");
        } else {
            o.push_str("Significant changes against the baseline:\n");
            for line in significant {
                let _ = writeln!(o, "{}", line.trim_end());
            }
        }

        let mut not_available = Vec::new();
        for m in &s.metrics {
            if m.cells.iter().all(|c| c.summary.is_none()) {
                let why = m.cells.iter().find_map(|c| c.unavailable.clone());
                not_available.push(format!(
                    "{}: {}",
                    m.name,
                    why.unwrap_or_else(|| "no data".into())
                ));
                continue;
            }
            o.push('\n');
            wrap(
                &mut o,
                &format!(
                    "{} [{}, {}]",
                    m.name,
                    m.unit.as_str(),
                    direction_text(m.direction)
                ),
                "",
                TEXT_WIDTH,
            );
            let _ = writeln!(
                o,
                "  {} {:>3} {:>10} {:>10} {:>10}",
                kcol("kernel"),
                "n",
                "median",
                "mean",
                "stddev"
            );
            for cell in &m.cells {
                match &cell.summary {
                    Some(sm) => {
                        let _ = writeln!(
                            o,
                            "  {} {:>3} {:>10} {:>10} {:>10}",
                            kcol(&cell.kernel),
                            sm.n,
                            m.unit.format(sm.median, false),
                            m.unit.format(sm.mean, false),
                            m.unit.format(sm.stddev, false)
                        );
                    }
                    None => {
                        let why = cell.unavailable.as_deref().unwrap_or("no data");
                        let head = format!("  {} ", kcol(&cell.kernel));
                        let mut block = String::new();
                        wrap(&mut block, &na(why), &" ".repeat(head.len()), TEXT_WIDTH);
                        o.push_str(&head);
                        o.push_str(block.trim_start());
                    }
                }
            }
            if m.cells.iter().skip(1).any(|c| c.vs_baseline.is_some()) {
                let _ = writeln!(
                    o,
                    "  {} {:>8}  {:<22} {:>6}  verdict",
                    kcol("vs baseline"),
                    "change",
                    "95% CI of difference",
                    "p"
                );
                for cell in m.cells.iter().skip(1) {
                    if let Some(d) = &cell.vs_baseline {
                        let _ = writeln!(
                            o,
                            "  {} {:>8}  {:<22} {:>6}  {}",
                            kcol(&cell.kernel),
                            fmt_change(d, m.unit),
                            fmt_ci(d, m.unit),
                            fmt_p(d.p_value),
                            verdict_text(d)
                        );
                    }
                }
            }
        }
        if !not_available.is_empty() {
            o.push_str("\nNot available on any kernel here:\n");
            for n in &not_available {
                wrap(&mut o, n, "  ", TEXT_WIDTH);
            }
        }
    }
    if !c.warnings.is_empty() {
        o.push_str("\nWarnings:\n");
        for w in &c.warnings {
            wrap(&mut o, w, "  ", TEXT_WIDTH);
        }
    }
    o
}

/// Markdown report: kernel list, method, one table per scenario.
pub fn render_markdown(c: &Comparison) -> String {
    let mut o = String::from("# zswap-bench compare\n\n## Kernels\n\n");
    o.push_str("| kernel | release | config | series | accel | CPUs | memory | spinlocks |\n");
    o.push_str("|---|---|---|---|---|---:|---:|---|\n");
    for k in &c.kernels {
        let _ = writeln!(
            o,
            "| {} | {} {} | {} | {} | {} | {}{} | {} | {} |",
            k.label,
            k.release,
            k.machine,
            k.config_sha256.as_deref().map(short).unwrap_or("-"),
            k.series
                .as_ref()
                .map(|s| format!("{s}: {}", k.patches.join(", ")))
                .unwrap_or_else(|| "-".into()),
            k.accel,
            k.cpus,
            if k.overcommit.is_some() {
                " (overcommitted)"
            } else {
                ""
            },
            mib(k.mem_bytes),
            k.spinlocks.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(o, "\n**Method.** {}", c.method_text);
    for s in &c.scenarios {
        let _ = writeln!(
            o,
            "\n## Scenario `{}` (sha256 `{}`)\n",
            s.name,
            short(&s.sha256)
        );
        if !s.params.is_empty() {
            let p: Vec<String> = s.params.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
            let _ = writeln!(o, "Parameters: {}\n", p.join(" "));
        }
        let _ = writeln!(o, "Baseline: `{}`\n", s.baseline);
        o.push_str(
            "| metric | kernel | n | median | mean | stddev | change | 95% CI | p | verdict |\n",
        );
        o.push_str("|---|---|---:|---:|---:|---:|---:|---|---:|---|\n");
        for m in &s.metrics {
            for (i, cell) in m.cells.iter().enumerate() {
                let metric = if i == 0 {
                    format!("{} ({})", m.name, m.unit.as_str())
                } else {
                    String::new()
                };
                let (n, med, mean, sd) = match &cell.summary {
                    Some(sm) => (
                        sm.n.to_string(),
                        m.unit.format(sm.median, false),
                        m.unit.format(sm.mean, false),
                        m.unit.format(sm.stddev, false),
                    ),
                    None => (
                        "0".into(),
                        na(cell.unavailable.as_deref().unwrap_or("no data")).replace('|', "/"),
                        String::new(),
                        String::new(),
                    ),
                };
                let (ch, ci, p, v) = match &cell.vs_baseline {
                    Some(d) => (
                        fmt_change(d, m.unit),
                        fmt_ci(d, m.unit),
                        fmt_p(d.p_value),
                        verdict_text(d).to_string(),
                    ),
                    None if i == 0 => (
                        "(baseline)".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                    None => Default::default(),
                };
                let _ = writeln!(
                    o,
                    "| {metric} | {} | {n} | {med} | {mean} | {sd} | {ch} | {ci} | {p} | {v} |",
                    cell.kernel
                );
            }
        }
    }
    if !c.warnings.is_empty() {
        o.push_str("\n## Warnings\n\n");
        for w in &c.warnings {
            let _ = writeln!(o, "- {w}");
        }
    }
    o
}

pub fn render_json(c: &Comparison) -> String {
    // Comparison holds only strings, numbers and maps with string keys: cannot fail.
    serde_json::to_string_pretty(c).expect("comparison serializes") + "\n"
}

pub fn render(c: &Comparison, f: Format) -> String {
    match f {
        Format::Text => render_text(c),
        Format::Markdown => render_markdown(c),
        Format::Json => render_json(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MockResult, repeats};

    fn cell<'a>(c: &'a Comparison, metric: &str, kernel: &str) -> &'a KernelCell {
        c.scenarios[0]
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .unwrap_or_else(|| panic!("no metric {metric}"))
            .cell(kernel)
            .unwrap_or_else(|| panic!("no kernel {kernel} for {metric}"))
    }

    fn fairness_results() -> Vec<ResultFile> {
        let mut v = repeats(5, MockResult::baseline);
        v.extend(repeats(5, MockResult::nocursor));
        v.extend(repeats(5, MockResult::percg));
        v
    }

    #[test]
    fn nocursor_unfairness_is_significant() {
        let opts = CompareOptions {
            baseline: Some("ref-percg-lock".into()),
            ..Default::default()
        };
        let c = compare(&fairness_results(), &opts);
        assert_eq!(c.scenarios.len(), 1);
        let s = &c.scenarios[0];
        assert_eq!(s.kernels, ["ref-percg-lock", "baseline", "ref-nocursor"]);
        assert_eq!(s.runs["ref-nocursor"], (5, 0));

        let fair = cell(&c, "fairness.proactive_jain", "ref-percg-lock");
        assert!(fair.summary.unwrap().median >= 0.9, "{fair:?}");
        let first = cell(&c, "fairness.first_child_share", "ref-nocursor");
        assert!(first.summary.unwrap().median > 0.5, "{first:?}");
        let d = first.vs_baseline.unwrap();
        assert_eq!(d.verdict, Some(Verdict::Regression));
        assert!(d.ci.lo > 0.0);
        assert!(d.p_value < 0.01, "5 vs 5 separated: exact p = 2/252");
        let jain = cell(&c, "fairness.proactive_jain", "ref-nocursor");
        assert_eq!(jain.vs_baseline.unwrap().verdict, Some(Verdict::Regression));
        // Per-memcg locks contend less than the global lock in the mocks: an improvement for
        // percg when nocursor is the baseline.
        let c2 = compare(
            &fairness_results(),
            &CompareOptions {
                baseline: Some("ref-nocursor".into()),
                ..Default::default()
            },
        );
        let l = cell(&c2, "lock.cursor.contended_per_s", "ref-percg-lock");
        assert_eq!(l.vs_baseline.unwrap().verdict, Some(Verdict::Improvement));
    }

    #[test]
    fn missing_data_is_not_available_never_zero() {
        let c = compare(&fairness_results(), &CompareOptions::default());
        assert_eq!(c.scenarios[0].baseline, "baseline");
        let b = cell(&c, "proactive.latency_p99_ns", "baseline");
        assert!(b.values.is_empty() && b.summary.is_none());
        assert!(
            b.unavailable
                .as_deref()
                .unwrap()
                .contains("no proactive writeback interface")
        );
        // No baseline numbers -> no difference is claimed.
        let n = cell(&c, "proactive.latency_p99_ns", "ref-nocursor");
        assert!(n.summary.is_some() && n.vs_baseline.is_none());
        // The baseline kernel has no per-memcg lock; the plan's reason travels with it.
        let p = cell(&c, "lock.per_memcg.contended_per_s", "baseline");
        assert!(
            p.unavailable.as_deref().unwrap().contains("per-memcg"),
            "{p:?}"
        );

        let mut m = MockResult::baseline(0);
        m.probes = false;
        let r = m.build();
        let c = compare(std::slice::from_ref(&r), &CompareOptions::default());
        let l = cell(&c, "lock.cursor.contended_per_s", "baseline");
        assert!(l.summary.is_none());
        assert!(
            l.unavailable.as_deref().unwrap().contains("no BTF"),
            "{l:?}"
        );
    }

    #[test]
    fn identical_distributions_give_no_change() {
        let mut results = repeats(5, MockResult::percg);
        results.extend((0..5).map(|i| {
            let mut m = MockResult::percg(i).kernel("ref-percg-lock-again");
            m.seed = 4242;
            m.build()
        }));
        let c = compare(
            &results,
            &CompareOptions {
                baseline: Some("ref-percg-lock".into()),
                ..Default::default()
            },
        );
        let mut checked = 0;
        for m in &c.scenarios[0].metrics {
            if let Some(d) = m.cell("ref-percg-lock-again").unwrap().vs_baseline {
                assert_eq!(d.verdict, Some(Verdict::NoChange), "{}: {d:?}", m.name);
                checked += 1;
            }
        }
        assert!(checked >= 15, "only {checked} metrics compared");
    }

    #[test]
    fn spinlocks_and_overcommitted_vcpus_are_named_per_kernel() {
        let mut results = repeats(2, MockResult::percg);
        for r in &mut results {
            r.kernel.cpus = 8;
        }
        let c = compare(&results, &CompareOptions::default());
        let t = render_text(&c);
        assert!(t.contains("native qspinlock"), "{t}");
        assert!(t.contains("overcommitted vCPUs (8 on 2 host"), "{t}");
        assert!(render_markdown(&c).contains("(overcommitted)"));
        // A label whose runs used different spinlock implementations is flagged.
        results[1].kernel.spinlocks.as_mut().unwrap().implementation =
            crate::schema::SpinlockImpl::VirtTestAndSet;
        let c = compare(&results, &CompareOptions::default());
        assert!(
            c.warnings.iter().any(|w| w.contains("spinlocks")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn reasons_differing_only_in_counts_are_said_once() {
        assert!(same_but_numbers("none of 29052 calls", "none of 362 calls"));
        assert!(!same_but_numbers("never taken", "not exercised"));
    }

    #[test]
    fn failed_runs_are_left_out_and_reported() {
        let mut results = repeats(3, MockResult::percg);
        results[1].failed = Some("guest console: BUG: soft lockup".into());
        let c = compare(&results, &CompareOptions::default());
        assert_eq!(c.scenarios[0].runs["ref-percg-lock"], (2, 1));
        assert_eq!(
            cell(&c, "workload.pages_per_s", "ref-percg-lock")
                .values
                .len(),
            2
        );
        assert!(c.warnings.iter().any(|w| w.contains("soft lockup")));
    }

    #[test]
    fn text_report_fits_a_mail() {
        let c = compare(&fairness_results(), &CompareOptions::default());
        let t = render_text(&c);
        if std::env::var_os("SHOW_REPORT").is_some() {
            println!("{t}");
        }
        for line in t.lines() {
            assert!(
                line.len() <= TEXT_WIDTH,
                "too wide ({}): {line:?}",
                line.len()
            );
            assert!(line.is_ascii(), "non-ASCII: {line:?}");
        }
        for needle in [
            "Mann-Whitney",
            "percentile-bootstrap",
            "5%",
            "ref-nocursor",
            "7.3.4 x86_64",
            "(2 patches)",
            "children=8",
            "budget=2M",
            "fairness.first_child_share [ratio, lower is better]",
            "regression",
            "95% CI of difference",
            "Significant changes against the baseline:",
        ] {
            assert!(t.contains(needle), "missing {needle:?} in\n{t}");
        }
        // Metrics without data anywhere are listed once, not as tables of zeros.
        let mut m = MockResult::baseline(0);
        m.probes = false;
        let t = render_text(&compare(&[m.build()], &CompareOptions::default()));
        assert!(t.contains("Not available on any kernel here:"));
        assert!(
            t.contains("lock.cursor.contended_per_s: locks unavailable"),
            "{t}"
        );
    }

    #[test]
    fn markdown_and_json() {
        let c = compare(&fairness_results(), &CompareOptions::default());
        let md = render_markdown(&c);
        assert!(md.contains("| metric | kernel | n | median |"));
        assert!(md.contains("| fairness.first_child_share (ratio) | baseline | 0 | n/a:"));
        assert!(
            md.lines()
                .any(|l| l.starts_with("|  | ref-nocursor | 5 |") && l.contains("regression"))
        );
        let back: Comparison = serde_json::from_str(&render_json(&c)).unwrap();
        assert_eq!(
            back.scenarios[0].metrics.len(),
            c.scenarios[0].metrics.len()
        );
        assert_eq!(back.kernels, c.kernels);
        let f = |c: &Comparison| {
            c.scenarios[0]
                .metrics
                .iter()
                .find(|m| m.name == "fairness.first_child_share")
                .unwrap()
                .clone()
        };
        assert_eq!(f(&back), f(&c));
    }

    #[test]
    fn scenarios_are_grouped_separately() {
        let mut results = repeats(3, MockResult::percg);
        results.extend((0..3).map(|i| {
            let mut m = MockResult::percg(i);
            m.scenario = "contention".into();
            m.build()
        }));
        let c = compare(&results, &CompareOptions::default());
        let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fairness-small-budget", "contention"]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }
}
