//! The two-sample rank test behind every verdict, and the effect estimate and interval that go
//! with it.
//!
//! - Test: two-sided Mann–Whitney U (Mann & Whitney 1947). Exact whenever the pooled sample has
//!   at most [`EXACT_MAX_N`] values, *including* with ties: the null distribution of the rank sum
//!   is then counted over all C(N, n1) splits of the observed midranks (the permutation
//!   distribution; Lehmann, "Nonparametrics", 1975, ch. 1 §3). Ties are common here (counts that
//!   are 0 in most runs), and the normal approximation is far off in the tail the Holm-corrected
//!   rule looks at. Larger samples use the normal approximation with the tie correction
//!   ([`MannWhitney::exact`] says which).
//! - Smallest p: the p of the most extreme split of the pooled values under that same
//!   distribution ([`MannWhitney::min_p`]). Without ties it is 2 / C(N, n1) ([`min_p`]); ties
//!   move it either way (`[0, 3, 3, 3]` vs `[5, 5, 6]`: 1/35, below 2/35, because only one
//!   side can be that extreme).
//! - Estimate: the Hodges–Lehmann shift, the median of all pairwise differences cand − base
//!   (Hodges & Lehmann 1963): the location difference the U test is about.
//! - Interval: the distribution-free (Moses 1953; Lehmann ch. 2 §6) interval for that shift,
//!   by inverting the test: the shifts δ whose test of cand − δ against base does not reject at
//!   1 − confidence, with the statistic U(δ) = #{c − b > δ} + ½ #{c − b = δ} judged against
//!   the very null distribution the p-value used (ties included; the normal approximation above
//!   [`EXACT_MAX_N`]). U(δ) falls as δ grows, so the accepted shifts form an interval, bounded
//!   by pairwise differences. Without ties this is the classic [D(k), D(n1 n2 + 1 − k)], with
//!   k from the U distribution's (1 − confidence)/2 tails; with ties the cut comes from the
//!   distribution of the values at hand, as the p-value's does (the review's
//!   `[3, 3, 3, 0]` vs `[5, 5, 6]`, p = 1/35, gets [2, 6] at 95 %, where the no-ties cut had
//!   none). It is per comparison: not adjusted for the multiplicity the verdict's Holm
//!   correction handles.
//!
//!   The interval excludes 0 exactly when the test rejects at 1 − confidence
//!   ([`rejected_at`]). Its bounds are shown closed, as Moses' are, though the rank test
//!   itself rejects a shift equal to a bound (U(δ) is a midrank count there); that matters only
//!   for a bound at 0 — the "no shift" the verdict asks about, reachable only with ties between
//!   the samples — which is then marked open ([`Interval::lo_open`]), so that "0 in the
//!   interval" and "not rejected" never disagree.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::Interval;
use super::pairwise::{self, Bounds, moses_interval};

/// Largest pooled sample (n1 + n2) with an exact p-value; the counting costs N·n1·N² steps.
pub const EXACT_MAX_N: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of the first sample (midranks with ties).
    pub u: f64,
    /// Two-sided p-value: the null probability of a rank sum at least as far from its mean.
    pub p: f64,
    /// True when `p` is exact, false for the normal approximation.
    pub exact: bool,
    /// The smallest p any split of these pooled values into groups of these sizes gives (the
    /// most extreme one), under the same distribution as `p`: ties included. Never above `p`.
    pub min_p: f64,
}

/// Whether a two-sided p rejects at `level` (the per-comparison 1 − confidence of the
/// interval): p <= level, as Moses' interval counts its tails, with room for rounding (3 vs 3
/// reaches p = 0.1 = 1 − 0.9 exactly). The interval excludes 0 exactly when this holds for the
/// test's p.
pub fn rejected_at(p: f64, level: f64) -> bool {
    p <= level + 1e-12
}

/// The null distribution of the doubled distance |2U − n1·n2| (twice U: midranks make U a
/// multiple of 1/2), shared by the p-value, the smallest p and the interval.
pub(super) enum Null {
    /// `tail[t]` = P(|2U − n1 n2| >= t), t = 0..= the largest distance any split reaches.
    Exact(Rc<Vec<f64>>),
    /// Normal approximation with the tie-corrected standard deviation of U and a continuity
    /// correction; `max` is the largest distance any split reaches.
    Normal { sd: f64, max: u64 },
}

impl Null {
    /// Two-sided p of a doubled distance `dist`; non-increasing in `dist`, which the interval's
    /// search relies on (why: [`pairwise`]'s docs).
    pub(super) fn p(&self, dist: u64) -> f64 {
        match self {
            Null::Exact(tail) => usize::try_from(dist)
                .ok()
                .and_then(|d| tail.get(d))
                .copied()
                .unwrap_or(0.0),
            Null::Normal { sd, .. } => {
                let z = (dist as f64 / 2.0 - 0.5).max(0.0) / sd;
                (2.0 * normal_sf(z)).min(1.0)
            }
        }
    }

    /// The p of the most extreme split.
    pub(super) fn min_p(&self) -> f64 {
        match self {
            Null::Exact(tail) => tail.last().copied().unwrap_or(1.0),
            Null::Normal { max, .. } => self.p(*max),
        }
    }
}

/// The test's ingredients for `a` against `b`: the null distribution and the observed doubled
/// distance of U from its mean.
pub(super) struct Ranked {
    pub(super) null: Null,
    dist: u64,
    u: f64,
    exact: bool,
}

/// `None` for an empty sample or one with a non-finite value: a rank of ∞ or NaN is no
/// measurement, and ∞ − ∞ has no place among the shifts (stats/pairwise.rs).
pub(super) fn ranked(a: &[f64], b: &[f64]) -> Option<Ranked> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let ranks = doubled_midranks(a, b);
    let n = n1 + n2;
    // Doubled rank sum of `a` (integers: midranks are multiples of 1/2).
    let w2: u64 = ranks.iter().filter(|r| r.1 == 0).map(|r| r.0).sum();
    let u = w2 as f64 / 2.0 - (n1 * (n1 + 1)) as f64 / 2.0;
    // Mean of the doubled sum: n1 (N + 1); w2 − mean2 = 2U − n1 n2.
    let mean2 = (n1 * (n + 1)) as u64;
    let dist = w2.abs_diff(mean2);
    let tie_term = tie_term(&ranks);
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let (null, exact) = if var <= 0.0 {
        // Every value equal: every split is the observed one, no evidence of a difference.
        (Null::Exact(Rc::new(vec![1.0])), true)
    } else if tie_term == 0.0 && n <= EXACT_MAX_N {
        (Null::Exact(tie_free_tail(n1, n2)), true)
    } else if n <= EXACT_MAX_N {
        let all: Vec<u64> = ranks.iter().map(|r| r.0).collect();
        (Null::Exact(Rc::new(tied_tail(&all, n1))), true)
    } else {
        // The most extreme splits: the n1 smallest or the n1 largest midranks in `a`.
        let low: u64 = ranks.iter().take(n1).map(|r| r.0).sum();
        let high: u64 = ranks.iter().rev().take(n1).map(|r| r.0).sum();
        let max = (mean2 - low).max(high - mean2);
        (
            Null::Normal {
                sd: var.sqrt(),
                max,
            },
            false,
        )
    };
    Some(Ranked {
        null,
        dist,
        u,
        exact,
    })
}

impl Ranked {
    pub(super) fn test(&self) -> MannWhitney {
        let p = self.null.p(self.dist);
        MannWhitney {
            u: self.u,
            p,
            exact: self.exact,
            min_p: self.null.min_p().min(p),
        }
    }
}

/// Two-sided Mann–Whitney U test of `a` against `b` (module docs).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    ranked(a, b).map(|r| r.test())
}

/// The test of `cand` against `base` and the interval of the shift cand − base at
/// `confidence`, from one null distribution (module docs); the interval is `None` when these
/// values cannot reach that confidence (3 vs 3 reaches 90 % at most).
pub fn shift_test(
    base: &[f64],
    cand: &[f64],
    confidence: f64,
) -> Option<(MannWhitney, Option<Interval>)> {
    let r = ranked(cand, base)?;
    let test = r.test();
    let ci = invert(&r.null, base, cand, 1.0 - confidence, moses_interval);
    Some((test, ci))
}

/// (2 × midrank, sample index) of the pooled sample, in sorted order.
fn doubled_midranks(a: &[f64], b: &[f64]) -> Vec<(u64, usize)> {
    let mut pooled: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out = Vec::with_capacity(pooled.len());
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j + 1 < pooled.len() && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean; doubled: (i+1) + (j+1).
        for p in &pooled[i..=j] {
            out.push(((i + j + 2) as u64, p.1));
        }
        i = j + 1;
    }
    out
}

/// Σ (t³ − t) over groups of tied values.
fn tie_term(ranks: &[(u64, usize)]) -> f64 {
    let mut term = 0.0;
    let mut i = 0;
    while i < ranks.len() {
        let j = ranks[i..].iter().take_while(|r| r.0 == ranks[i].0).count();
        let t = j as f64;
        term += t * t * t - t;
        i += j;
    }
    term
}

/// `tail[t]` = share of `counts` (indexed by doubled distance) at distance >= t, cut after the
/// largest distance with a count.
fn tail_of(counts: &[f64]) -> Vec<f64> {
    let last = counts.iter().rposition(|&c| c > 0.0).unwrap_or(0);
    let total: f64 = counts.iter().sum();
    let mut tail = vec![0.0; last + 1];
    let mut acc = 0.0;
    for t in (0..=last).rev() {
        acc += counts[t];
        tail[t] = (acc / total).min(1.0);
    }
    tail
}

/// Exact null tail of the doubled distance for `n1` values drawn without replacement from the
/// doubled midranks `ranks`: counts of every subset's sum by dynamic programming over the
/// values.
fn tied_tail(ranks: &[u64], n1: usize) -> Vec<f64> {
    let n = ranks.len();
    let max_sum: u64 = ranks.iter().sum();
    let width = max_sum as usize + 1;
    // counts[k * width + s]: subsets of size k with doubled sum s.
    let mut counts = vec![0.0f64; (n1 + 1) * width];
    counts[0] = 1.0;
    for (i, &r) in ranks.iter().enumerate() {
        let r = r as usize;
        for k in (1..=n1.min(i + 1)).rev() {
            let (lower, upper) = counts.split_at_mut(k * width);
            let prev = &lower[(k - 1) * width..];
            let cur = &mut upper[..width];
            for s in (r..width).rev() {
                cur[s] += prev[s - r];
            }
        }
    }
    let row = &counts[n1 * width..(n1 + 1) * width];
    // Mean of the doubled sum: n1 (N + 1), an integer, so distances are exact.
    let mean2 = n1 * (n + 1);
    let mut by_dist = vec![0.0; width.max(mean2 + 1)];
    for (s, &c) in row.iter().enumerate() {
        by_dist[s.abs_diff(mean2)] += c;
    }
    tail_of(&by_dist)
}

/// Exact two-sided p of the doubled rank sum `w2` of `n1` values drawn from `ranks`.
/// The shifts δ whose test of cand − δ against base is not rejected at `level` under `null`,
/// as an interval (module docs of mann_whitney); `None` when that set is unbounded: no split
/// of these values reaches `level` (too few of them, or too many ties). `bounds` finds it
/// from the accepted doubled distances |2U(δ) − n1 n2|.
pub(super) fn invert(
    null: &Null,
    base: &[f64],
    cand: &[f64],
    level: f64,
    bounds: Bounds,
) -> Option<Interval> {
    // No split of these values is rejected: no shift is either (3 vs 3 at 95 %).
    if !rejected_at(null.min_p(), level) {
        return None;
    }
    bounds(base, cand, &|dist| !rejected_at(null.p(dist), level))
}

#[cfg(test)]
fn exact_p(ranks: &[u64], n1: usize, w2: u64) -> f64 {
    let mean2 = (n1 * (ranks.len() + 1)) as u64;
    let tail = tied_tail(ranks, n1);
    tail.get(w2.abs_diff(mean2) as usize)
        .copied()
        .unwrap_or(0.0)
}

/// Exact null tail without ties, from the U distribution of (n1, n2), computed once per thread
/// and size (the simulation test runs tens of thousands of same-sized tests).
fn tie_free_tail(n1: usize, n2: usize) -> Rc<Vec<f64>> {
    type Tails = HashMap<(usize, usize), Rc<Vec<f64>>>;
    thread_local! {
        static CACHE: RefCell<Tails> = RefCell::default();
    }
    CACHE.with(|c| {
        c.borrow_mut()
            .entry((n1, n2))
            .or_insert_with(|| {
                let d = u_distribution(n1, n2);
                let nn = n1 * n2;
                let mut by_dist = vec![0.0; nn + 1];
                for (k, c) in d.iter().enumerate() {
                    by_dist[(2 * k).abs_diff(nn)] += c;
                }
                Rc::new(tail_of(&by_dist))
            })
            .clone()
    })
}

/// Number of arrangements giving each U = 0..=n1·n2 under H0 without ties:
/// f(m, n, u) = f(m − 1, n, u − n) + f(m, n − 1, u).
pub fn u_distribution(n1: usize, n2: usize) -> Vec<f64> {
    let max_u = n1 * n2;
    let mut prev: Vec<Vec<f64>> = (0..=n2)
        .map(|_| {
            let mut v = vec![0.0; max_u + 1];
            v[0] = 1.0;
            v
        })
        .collect(); // m = 0: only U = 0
    for _m in 1..=n1 {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n2 + 1);
        let mut first = vec![0.0; max_u + 1];
        first[0] = 1.0; // n = 0: only U = 0
        cur.push(first);
        for n in 1..=n2 {
            let mut v = vec![0.0; max_u + 1];
            for (u, slot) in v.iter_mut().enumerate() {
                let a = if u >= n { prev[n][u - n] } else { 0.0 };
                *slot = a + cur[n - 1][u];
            }
            cur.push(v);
        }
        prev = cur;
    }
    prev.swap_remove(n2)
}

/// The smallest two-sided p the exact test can give for these sample sizes *without ties*: both
/// samples completely separated, 2 / C(n1 + n2, n1). What repeats to plan for; the smallest p of
/// samples at hand, ties included, is [`MannWhitney::min_p`].
pub fn min_p(n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    (2.0 / binomial(n1 + n2, n1)).min(1.0)
}

pub(crate) fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Hodges–Lehmann estimate of the shift cand − base: the median of the n1·n2 differences, found
/// without listing them (stats/pairwise.rs).
/// `None` for an empty sample or one with a non-finite value, as the test.
pub fn hodges_lehmann(base: &[f64], cand: &[f64]) -> Option<f64> {
    let usable = |v: &[f64]| !v.is_empty() && all_finite(v);
    (usable(base) && usable(cand)).then(|| pairwise::median_difference(base, cand))
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Confidence interval of the Hodges–Lehmann shift cand − base at `confidence` (module docs);
/// `None` when the values cannot reach that confidence (3 vs 3 reaches 90 % at most).
pub fn shift_ci(base: &[f64], cand: &[f64], confidence: f64) -> Option<Interval> {
    shift_test(base, cand, confidence)?.1
}

/// Upper tail of the standard normal, via erfc (Numerical Recipes' Chebyshev fit, |rel err| <
/// 1.2e-7, ample for a p-value of a large sample).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
#[path = "mann_whitney_tests.rs"]
mod tests;
