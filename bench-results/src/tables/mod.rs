//! `zswap-bench table KIND DIR...`: the markdown tables the documentation quotes, made from
//! result files alone. Each block of numbers in README.md, kernels/series/README.md and
//! results/README.md sits between markers naming the command that made it, and a test re-runs
//! every such command on `results/reference/` and fails when a block differs, so a table can
//! never drift from the files it claims to summarise.

use std::fmt::Write;

use crate::metrics::{self, MetricUnit};
use crate::schema::ResultFile;
use crate::stats;

mod applied;
mod burst;
mod observer;
mod runs;
mod scaling;
mod shrinker;
mod verdicts;

/// What a table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Kind {
    /// Per kernel: fairness over the children and how soon the calls wrote back.
    Fairness,
    /// Per kernel, run by run: the cursor lock's contention as the slow-path hook saw it.
    ContentionRuns,
    /// Per kernel: the walk-step probe on vs off, judged under the verdict rule.
    WalkSteps,
    /// Per kernel: the global shrinker's wakeups, calls and writeback, and the ratios.
    GlobalShrinker,
    /// Per design and sweep point: median [min-max] of the scaling figures.
    Scaling,
    /// Per kernel and idle action: the burst-after-idle experiment (burst time, the service's
    /// tail in the burst, where writeback happened).
    Burst,
    /// Every judged comparison against the baseline: medians, shift and interval, p, verdict.
    Verdicts,
    /// Per kernel: how each patch of its series went in (git am, fuzz, fix-up) and its build
    /// time, as recorded in the results.
    Applied,
    /// Wall time per `--jobs` value: matrix output directories (made by the binary, which
    /// reads their matrix.json).
    Jobs,
}

/// The table of `kind` from `results` (those of one scenario: the caller filters), or why not.
/// `baseline`: the kernel the verdicts table compares against (compare's default otherwise).
pub fn render(
    kind: Kind,
    results: &[ResultFile],
    baseline: Option<String>,
) -> Result<String, String> {
    let ok: Vec<&ResultFile> = results.iter().filter(|r| r.failed.is_none()).collect();
    if ok.is_empty() {
        return Err("no completed run among the result files".into());
    }
    match kind {
        Kind::Fairness => Ok(runs::fairness(&ok)),
        Kind::ContentionRuns => Ok(runs::contention(&ok)),
        Kind::WalkSteps => observer::walk_steps(&ok),
        Kind::GlobalShrinker => shrinker::global_shrinker(&ok, baseline.as_deref()),
        Kind::Scaling => scaling::scaling(results),
        Kind::Verdicts => verdicts::verdicts(results, baseline),
        Kind::Burst => burst::burst(&ok),
        Kind::Applied => Ok(applied::applied(&ok)),
        Kind::Jobs => {
            Err("the jobs table is made from matrix directories, not result files".into())
        }
    }
}

/// Runs grouped by kernel label, kernels in order of first appearance.
pub(crate) fn by_kernel<'a>(results: &[&'a ResultFile]) -> Vec<(String, Vec<&'a ResultFile>)> {
    group_by(results, |r| r.kernel.label().to_string())
}

/// Runs grouped by `key`, groups in order of first appearance, repeats in order.
pub(crate) fn group_by<'a>(
    results: &[&'a ResultFile],
    key: impl Fn(&ResultFile) -> String,
) -> Vec<(String, Vec<&'a ResultFile>)> {
    let mut out: Vec<(String, Vec<&ResultFile>)> = Vec::new();
    for r in results {
        let k = key(r);
        match out.iter_mut().find(|(l, _)| *l == k) {
            Some(g) => g.1.push(r),
            None => out.push((k, vec![r])),
        }
    }
    // Repeats in order, so "per run" columns read r0, r1, ...
    for (_, runs) in &mut out {
        runs.sort_by_key(|r| r.repeat);
    }
    out
}

/// A markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", header.iter().map(|_| "---|").collect::<String>());
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// A metric's value in one run, formatted in its unit, or `n/a` (the reason goes to `why`).
pub(crate) fn value(name: &str, r: &ResultFile, why: &mut Vec<String>) -> Option<f64> {
    let m = metrics::by_name(name)?;
    match (m.extract)(r) {
        Ok(v) if v.is_finite() => Some(v),
        Ok(_) => None,
        Err(e) => {
            if !why.contains(&e) {
                why.push(e);
            }
            None
        }
    }
}

/// "median [min–max]" of a metric over runs, in its unit; "n/a" when no run has it.
pub(crate) fn spread(name: &str, runs: &[&ResultFile], why: &mut Vec<String>) -> String {
    let Some(m) = metrics::by_name(name) else {
        return "n/a".into();
    };
    let v: Vec<f64> = runs.iter().filter_map(|r| value(name, r, why)).collect();
    spread_of(&v, m.unit)
}

pub(crate) fn spread_of(v: &[f64], unit: MetricUnit) -> String {
    let Some(s) = stats::Summary::of(v) else {
        return "n/a".into();
    };
    if s.n == 1 || s.min == s.max {
        return unit.format(s.median, false);
    }
    format!(
        "{} [{}–{}]",
        unit.format(s.median, false),
        unit.format(s.min, false),
        unit.format(s.max, false)
    )
}

/// "shift [lo, hi]" of a comparison in the metric's unit (the interval per comparison), or the
/// shift and `none` when the repeats give no interval.
pub(crate) fn shift_text(unit: MetricUnit, d: &crate::stats::Difference, none: &str) -> String {
    match &d.ci {
        Some(ci) => format!(
            "{} [{}, {}]",
            unit.format(d.shift, true),
            unit.format(ci.lo, true),
            unit.format(ci.hi, true)
        ),
        None => format!("{}{none}", unit.format(d.shift, true)),
    }
}

/// Reasons under a table, each once, as "n/a: ..." footnotes.
pub(crate) fn footnotes(why: &[String]) -> String {
    let mut s = String::new();
    for w in why {
        let _ = writeln!(s, "\nn/a: {w}");
    }
    s
}

#[cfg(test)]
mod tests;
