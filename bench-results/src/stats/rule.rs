//! The verdict rule. A maintainer quotes "regression" from a report, so it must mean the same
//! every time:
//!
//! 1. Each judged comparison (one metric, one kernel against the baseline) gets the exact
//!    two-sided Mann–Whitney p ([`super::mann_whitney`]).
//! 2. Holm's step-down correction (Holm 1979) over *every* judged comparison of the report
//!    keeps the probability of calling any change when nothing changed (the family-wise error
//!    rate) at most α. Holm rather than Benjamini–Hochberg: a verdict is quoted on its own,
//!    so each one, not the average of a list, must be trustworthy; and Holm is uniformly more
//!    powerful than Bonferroni at no cost in assumptions.
//! 3. A change is called only when the Holm-adjusted p < α *and* the Hodges–Lehmann shift is
//!    at least the threshold (5 %) of the baseline median and at least the metric's absolute
//!    floor. The floor is what makes a baseline median of 0 well defined: 0 → 0.001 is not a
//!    change, 0 → 30 contended acquisitions/s is.
//! 4. Otherwise the verdict is "~" (as in Go's benchstat). Informational metrics (the tool's
//!    own cost, activity counts with no better direction) are shown and never judged, and are
//!    not part of the family.
//!
//! With n repeats per side and no ties the exact test cannot go below 2 / C(2n, n) (0.1 for
//! n = 3), so the rule can call nothing unless that is below α / m; [`repeats_needed`] says how
//! many repeats would be. Each comparison also carries the smallest p of its own values, ties
//! included ([`Difference::min_p`]), which is what decides whether a report can call anything.

use serde::{Deserialize, Serialize};

use super::mann_whitney::{hodges_lehmann, min_p, shift_test};
use super::{Interval, median};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Shown, never judged: the tool's own cost, or an activity level that is neither good nor
    /// bad in itself (e.g. how often shrink_memcg ran).
    Informational,
}

impl Direction {
    pub fn text(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
            Direction::Informational => "informational, not judged",
        }
    }

    pub fn judged(self) -> bool {
        self != Direction::Informational
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improvement,
    Regression,
    /// Not called: the adjusted p is not below α, or the shift is below the threshold.
    NoChange,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improvement => "improvement",
            Verdict::Regression => "regression",
            Verdict::NoChange => "~",
        }
    }
}

/// Multiple-comparison correction; one is offered, and named in every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    Holm,
}

/// Parameters of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Family-wise error rate over all judged comparisons of a report.
    pub alpha: f64,
    pub correction: Correction,
    /// Smallest shift that counts, relative to |median(baseline)|, e.g. 0.05.
    pub threshold: f64,
    /// Coverage of the interval shown beside each shift.
    pub confidence: f64,
}

impl Default for Method {
    fn default() -> Self {
        Method {
            alpha: 0.05,
            correction: Correction::Holm,
            threshold: 0.05,
            confidence: 0.95,
        }
    }
}

/// Candidate vs baseline for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// median(candidate) − median(baseline), for reading beside the medians.
    pub diff: f64,
    /// Hodges–Lehmann shift candidate − baseline: the effect the test and the rule are about.
    pub shift: f64,
    /// shift / |median(baseline)|; `None` when the baseline median is 0.
    pub relative: Option<f64>,
    /// Interval of the shift at `Method::confidence`, per comparison (not adjusted for
    /// multiplicity), from the test's own null distribution, so that it excludes 0 exactly when
    /// the unadjusted p rejects at 1 − confidence; `None` when the repeats cannot reach that
    /// coverage.
    pub ci: Option<Interval>,
    /// Two-sided Mann–Whitney p, unadjusted.
    pub p_value: f64,
    /// Smallest p any split of these pooled values allows (ties included): no correction can
    /// call this comparison unless its threshold is above it.
    pub min_p: f64,
    /// `p_value`, `min_p` and `ci` come from the exact distribution (false: the normal
    /// approximation, above 60 values in all).
    #[serde(default = "exact_by_default")]
    pub exact: bool,
    /// |shift| >= max(threshold · |median(baseline)|, floor).
    pub effect_ok: bool,
    /// Holm-adjusted p within the report's family; `None` when not judged.
    pub p_adjusted: Option<f64>,
    /// `None`: not judged (informational metric, or not in a family yet).
    pub verdict: Option<Verdict>,
}

fn exact_by_default() -> bool {
    true
}

/// The per-comparison part of the rule: test, shift, interval, effect size. The verdict needs
/// the whole family ([`judge_family`]). `floor` is the metric's smallest absolute shift that
/// matters, in its unit.
pub fn compare_samples(
    base: &[f64],
    cand: &[f64],
    floor: f64,
    method: &Method,
) -> Option<Difference> {
    let bm = median(base)?;
    let cm = median(cand)?;
    let shift = hodges_lehmann(base, cand)?;
    let relative = (bm != 0.0).then(|| shift / bm.abs());
    let needed = (method.threshold * bm.abs()).max(floor);
    let (test, ci) = shift_test(base, cand, method.confidence)?;
    Some(Difference {
        diff: cm - bm,
        shift,
        relative,
        ci,
        p_value: test.p,
        min_p: test.min_p,
        exact: test.exact,
        effect_ok: shift != 0.0 && shift.abs() >= needed,
        p_adjusted: None,
        verdict: None,
    })
}

/// Holm-adjusted p-values, in input order: sorted ascending, p_(i) · (m − i + 1), made
/// monotone, capped at 1. Rejecting where adjusted p < α is Holm's step-down procedure.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (i, &idx) in order.iter().enumerate() {
        running = running.max(((m - i) as f64 * p[idx]).min(1.0));
        out[idx] = running;
    }
    out
}

/// Applies the rule to one family: every judged comparison of a report, each with its
/// metric's direction. Informational comparisons must not be passed in.
pub fn judge_family(family: &mut [(&mut Difference, Direction)], method: &Method) {
    let p: Vec<f64> = family.iter().map(|(d, _)| d.p_value).collect();
    let adjusted = match method.correction {
        Correction::Holm => holm(&p),
    };
    for ((d, dir), adj) in family.iter_mut().zip(adjusted) {
        d.p_adjusted = Some(adj);
        d.verdict = Some(if adj < method.alpha && d.effect_ok {
            match (dir, d.shift > 0.0) {
                (Direction::HigherIsBetter, true) | (Direction::LowerIsBetter, false) => {
                    Verdict::Improvement
                }
                _ => Verdict::Regression,
            }
        } else {
            Verdict::NoChange
        });
    }
}

/// Repeats per kernel of `scenarios/matrix/default.toml` and `full.toml` (a test checks the
/// files say the same). The full matrix's reports judge about 28 (fairness) and 52 (contention)
/// comparisons, so the smallest p must be below 0.05 / 52 ≈ 0.00096: 7 repeats reach
/// 2 / C(14, 7) = 0.00058. One more so that a failed run still leaves 8 vs 7 (0.00031), and for
/// power (the simulation test).
pub const DEFAULT_REPEATS: usize = 8;

/// Smallest n such that n vs n repeats can give p < α / m (the first Holm step over m
/// comparisons): n = 3 never can (p >= 0.1); n = 5 reaches 0.0079, 6 0.0022, 7 0.00058.
pub fn repeats_needed(m: usize, alpha: f64) -> usize {
    let bar = alpha / m.max(1) as f64;
    (1..).find(|&n| min_p(n, n) < bar).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn judge_one(d: &mut Difference, dir: Direction) -> Verdict {
        judge_family(&mut [(d, dir)], &Method::default());
        d.verdict.unwrap()
    }

    #[test]
    fn holm_adjustment() {
        // Sorted 0.01, 0.02, 0.04 over m = 3: 0.03, max(0.03, 0.04), max(0.04, 0.04).
        let a = holm(&[0.04, 0.01, 0.02]);
        for (x, want) in a.iter().zip([0.04, 0.03, 0.04]) {
            assert!(close(*x, want, 1e-12), "{a:?}");
        }
        // Monotone and capped.
        let a = holm(&[0.5, 0.001, 0.9]);
        assert!(
            close(a[1], 0.003, 1e-12) && a[0] == 1.0 && a[2] == 1.0,
            "{a:?}"
        );
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn verdicts_need_significance_and_size() {
        let m = Method::default();
        let base = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8];
        // +20 %, completely separated 7 vs 7: p = 2/3432, alone in its family.
        let worse = [120.0, 121.0, 119.0, 120.5, 119.5, 120.2, 119.8];
        let mut d = compare_samples(&base, &worse, 0.0, &m).unwrap();
        assert!(close(d.p_value, 2.0 / 3432.0, 1e-12));
        assert!(close(d.relative.unwrap(), 0.2, 1e-12));
        assert_eq!(
            judge_one(&mut d, Direction::LowerIsBetter),
            Verdict::Regression
        );
        assert_eq!(
            judge_one(&mut d, Direction::HigherIsBetter),
            Verdict::Improvement
        );
        // +3 %: significant, below the 5 % threshold -> "~".
        let small: Vec<f64> = base.iter().map(|x| x * 1.03).collect();
        let mut d = compare_samples(&base, &small, 0.0, &m).unwrap();
        assert!(d.p_value < 0.001 && !d.effect_ok);
        assert_eq!(
            judge_one(&mut d, Direction::LowerIsBetter),
            Verdict::NoChange
        );
        // The same +20 % among 10 000 comparisons: Holm needs p < 5e-6 -> "~".
        let mut d = compare_samples(&base, &worse, 0.0, &m).unwrap();
        let mut others: Vec<Difference> = (0..9_999)
            .map(|_| compare_samples(&base, &base, 0.0, &m).unwrap())
            .collect();
        let mut family: Vec<(&mut Difference, Direction)> =
            vec![(&mut d, Direction::LowerIsBetter)];
        family.extend(others.iter_mut().map(|o| (o, Direction::LowerIsBetter)));
        judge_family(&mut family, &m);
        assert_eq!(d.verdict, Some(Verdict::NoChange));
        assert!(close(
            d.p_adjusted.unwrap(),
            1.0_f64.min(10_000.0 * 2.0 / 3432.0),
            1e-9
        ));
    }

    #[test]
    fn three_repeats_never_call_anything() {
        let m = Method::default();
        let mut d = compare_samples(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0], 0.0, &m).unwrap();
        assert!(close(d.p_value, 0.1, 1e-12) && close(d.min_p, 0.1, 1e-12));
        assert_eq!(d.ci, None, "3 vs 3 cannot reach 95 % coverage");
        assert_eq!(
            judge_one(&mut d, Direction::HigherIsBetter),
            Verdict::NoChange
        );
    }

    #[test]
    fn a_zero_baseline_uses_the_floor() {
        let m = Method::default();
        let zeros = [0.0; 7];
        let tiny = [0.001, 0.002, 0.001, 0.003, 0.002, 0.001, 0.002];
        let mut d = compare_samples(&zeros, &tiny, 0.1, &m).unwrap();
        assert_eq!(d.relative, None);
        assert!(d.p_value < 0.001 && !d.effect_ok);
        assert_eq!(
            judge_one(&mut d, Direction::LowerIsBetter),
            Verdict::NoChange
        );
        let big = [30.0, 31.0, 29.0, 30.5, 29.5, 30.2, 29.8];
        let mut d = compare_samples(&zeros, &big, 0.1, &m).unwrap();
        assert!(d.effect_ok);
        assert_eq!(
            judge_one(&mut d, Direction::LowerIsBetter),
            Verdict::Regression
        );
        // Nothing moved at all: never an effect, whatever the floor.
        let d = compare_samples(&zeros, &zeros, 0.0, &m).unwrap();
        assert!(!d.effect_ok && d.p_value == 1.0);
    }

    #[test]
    fn repeats_for_a_family() {
        // One comparison at 0.05: 2/C(8,4) = 0.029 -> 4.
        assert_eq!(repeats_needed(1, 0.05), 4);
        // 9 comparisons: 0.0056 -> 6 (0.0022; 5 gives 0.0079).
        assert_eq!(repeats_needed(9, 0.05), 6);
        // 28: 0.0018 -> 7 (0.00058).
        assert_eq!(repeats_needed(28, 0.05), 7);
        // 100: 0.0005 -> 8 (0.000155).
        assert_eq!(repeats_needed(100, 0.05), 8);
        for m in [1, 5, 24, 60, 96, 500] {
            let n = repeats_needed(m, 0.05);
            assert!(min_p(n, n) < 0.05 / m as f64 && min_p(n - 1, n - 1) >= 0.05 / m as f64);
        }
    }
}
