//! Verdicts for a whole report at once. Every judged comparison of the report — a metric that is
//! not informational, exercised by its scenario, measured on the baseline and on the kernel —
//! is one member of one family, and [`crate::stats::rule`] corrects for all of them together.
//! The family's size decides how small a p must be, so the report also says whether its
//! repeats can get there at all, and how many would.

use serde::{Deserialize, Serialize};

use super::ScenarioComparison;
use crate::stats::mann_whitney::EXACT_MAX_N;
use crate::stats::{
    Correction, Difference, Direction, Method, Verdict, judge_family, min_p, repeats_needed,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// Judged comparisons in the report.
    pub m: usize,
    pub alpha: f64,
    pub correction: Correction,
    /// α / m: Holm's first step, which the smallest p must pass before anything is called.
    pub first_step: f64,
    /// Smallest p the values of any judged comparison allow (ties included), and that
    /// comparison's repeats (baseline, kernel).
    pub best_min_p: Option<f64>,
    pub best_repeats: Option<(usize, usize)>,
    /// Repeats per kernel with which this family could call a change.
    pub repeats_needed: usize,
    /// Whether any comparison can pass the first step with the values it has.
    pub reachable: bool,
    /// Comparisons called improvement or regression.
    pub called: usize,
    /// Comparisons whose values (repeats and ties) cannot pass the first step.
    pub underpowered: usize,
    /// Comparisons of the report (judged or not) whose p and interval use the normal
    /// approximation (more than 60 values in all) instead of the exact distribution.
    #[serde(default)]
    pub approximate: usize,
}

/// Applies the rule to every judged comparison of `scenarios` and describes the family.
pub fn judge(scenarios: &mut [ScenarioComparison], method: &Method) -> Family {
    let mut family: Vec<(&mut Difference, Direction)> = scenarios
        .iter_mut()
        .flat_map(|s| s.metrics.iter_mut())
        .filter(|m| m.direction.judged() && m.not_exercised.is_none())
        .flat_map(|m| {
            let dir = m.direction;
            m.cells
                .iter_mut()
                .filter_map(move |c| c.vs_baseline.as_mut().map(|d| (d, dir)))
        })
        .collect();
    let m = family.len();
    let first_step = method.alpha / m.max(1) as f64;
    // Holm's first step in Holm's own arithmetic (m · p < α, see `holm`): a comparison whose
    // smallest possible p fails it can never be called, and one that is called passed it.
    let passes_first_step = |p: f64| (m as f64 * p).min(1.0) < method.alpha;
    let best = family.iter().map(|(d, _)| d.min_p).min_by(f64::total_cmp);
    let underpowered = family
        .iter()
        .filter(|(d, _)| !passes_first_step(d.min_p))
        .count();
    judge_family(&mut family, method);
    let called = family
        .iter()
        .filter(|(d, _)| matches!(d.verdict, Some(v) if v != Verdict::NoChange))
        .count();
    drop(family);
    let best_repeats = best.and_then(|b| repeats_of(scenarios, b));
    Family {
        m,
        alpha: method.alpha,
        correction: method.correction,
        first_step,
        best_min_p: best,
        best_repeats,
        repeats_needed: repeats_needed(m, method.alpha),
        reachable: best.is_some_and(passes_first_step),
        called,
        underpowered,
        approximate: scenarios
            .iter()
            .flat_map(|s| s.metrics.iter())
            .flat_map(|m| m.cells.iter())
            .filter(|c| c.vs_baseline.is_some_and(|d| !d.exact))
            .count(),
    }
}

/// (baseline, kernel) repeats of a judged comparison whose smallest possible p is `best`.
fn repeats_of(scenarios: &[ScenarioComparison], best: f64) -> Option<(usize, usize)> {
    scenarios.iter().find_map(|s| {
        s.metrics
            .iter()
            .filter(|m| m.direction.judged() && m.not_exercised.is_none())
            .find_map(|m| {
                let base = m.cells.first()?.values.len();
                m.cells.iter().skip(1).find_map(|c| {
                    c.vs_baseline
                        .filter(|d| d.min_p == best)
                        .map(|_| (base, c.values.len()))
                })
            })
    })
}

/// Two significant digits, no exponent: 0.1 -> "0.10", 0.0055 -> "0.0055".
pub fn p2(p: f64) -> String {
    if p <= 0.0 || !p.is_finite() {
        return format!("{p}");
    }
    let decimals = (1 - p.log10().floor() as i32).max(0) as usize;
    format!("{p:.decimals$}")
}

/// The rule, stated the same way in every report (text, markdown, JSON).
pub fn method_text(method: &Method, f: &Family) -> String {
    let correction = match method.correction {
        Correction::Holm => "Holm",
    };
    // "exact" only where the exact distribution was used (every comparison up to 60 runs).
    let (test, ci) = if f.approximate == 0 {
        ("exact two-sided Mann-Whitney U".to_string(), "exact ")
    } else {
        (
            format!(
                "two-sided Mann-Whitney U (exact up to {EXACT_MAX_N} runs in all; the normal \
                 approximation, for p and CI, in the {} comparison(s) with more)",
                f.approximate
            ),
            "",
        )
    };
    // "per comparison": the interval is not adjusted for the m comparisons, the verdict is.
    format!(
        "{test} per metric and kernel vs the baseline, {correction}-corrected over the m = {} \
         judged comparisons here, alpha = {}. Called if the adjusted p < {} and the \
         Hodges-Lehmann shift >= {:.0}% of the baseline median and >= the metric's floor; else \
         \"~\". CI: {ci}{:.0}% (Moses), per comparison. Informational metrics: never judged.",
        f.m,
        method.alpha,
        method.alpha,
        method.threshold * 100.0,
        method.confidence * 100.0,
    )
}

/// What the family allows: how many changes were called, or why none can be.
pub fn conclusion(f: &Family) -> String {
    if f.m == 0 {
        return "Nothing judged: no judged metric was measured on both the baseline and another \
                kernel."
            .into();
    }
    if !f.reachable {
        let best = f.best_min_p.unwrap_or(1.0);
        let repeats = match f.best_repeats {
            Some((b, k)) if b == k => format!("{b} repeats per kernel"),
            Some((b, k)) => format!("{b} (baseline) vs {k} repeats"),
            None => "these repeats".into(),
        };
        // The smallest p is that of the values at hand; say so when their ties moved it away
        // from what the repeats alone give.
        let ties = match f.best_repeats {
            Some((b, k)) if (best - min_p(b, k)).abs() > 1e-9 * best => {
                " and the ties among their values"
            }
            _ => "",
        };
        return format!(
            "No change can be called: with {repeats}{ties} the smallest possible p is {}, and \
             Holm over m = {} comparisons needs p < {}: need >= {} repeats per kernel for alpha \
             = {}.",
            p2(best),
            f.m,
            p2(f.first_step),
            f.repeats_needed,
            f.alpha
        );
    }
    let mut s = format!(
        "{} of m = {} judged comparisons called (the smallest p must be < {}).",
        f.called,
        f.m,
        p2(f.first_step)
    );
    if f.underpowered > 0 {
        s += &format!(
            " {} of them cannot ever pass that with the repeats and ties they have (without ties: \
             >= {} repeats per kernel).",
            f.underpowered, f.repeats_needed
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_significant_digits() {
        assert_eq!(p2(0.1), "0.10");
        assert_eq!(p2(0.05 / 9.0), "0.0056");
        assert_eq!(p2(2.0 / 3432.0), "0.00058");
        assert_eq!(p2(0.5), "0.50");
    }
}
