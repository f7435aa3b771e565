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
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn exact_known_values() {
        // Completely separated 3 vs 3: U = 0, P(U <= 0) = 1/20, two-sided 0.1.
        let m = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!(m.exact);
        assert_eq!(m.u, 0.0);
        assert!(close(m.p, 0.1, 1e-12));
        // 5 vs 5 separated: 2 / C(10,5) = 2/252.
        let m = mann_whitney(&[10.0, 11.0, 12.0, 13.0, 14.0], &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(m.u, 25.0);
        assert!(close(m.p, 2.0 / 252.0, 1e-12));
        // Interleaved: a = {1,3,5}, b = {2,4,6}: U_a = 0+1+2 = 3, P(U<=3) = 7/20 -> p = 0.7.
        let m = mann_whitney(&[1.0, 3.0, 5.0], &[2.0, 4.0, 6.0]).unwrap();
        assert_eq!(m.u, 3.0);
        assert!(close(m.p, 0.7, 1e-12));
        // The counting over midranks agrees with the classic U recurrence when nothing ties.
        let dist = u_distribution(4, 6);
        let total: f64 = dist.iter().sum();
        assert_eq!(total, binomial(10, 4));
        let a = [0.5, 2.5, 7.5, 9.5];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = mann_whitney(&a, &b).unwrap();
        let u = m.u as usize; // 0 + 2 + 6 + 6 = 14 of 24
        assert_eq!(u, 14);
        let mean = 12.0;
        let p: f64 = dist
            .iter()
            .enumerate()
            .filter(|(k, _)| (*k as f64 - mean).abs() >= (u as f64 - mean).abs())
            .map(|(_, c)| c / total)
            .sum();
        assert!(close(m.p, p, 1e-12), "{} vs {p}", m.p);
        // The subset counting used with ties gives the same p on tie-free ranks.
        let ranks = doubled_midranks(&a, &b);
        let all: Vec<u64> = ranks.iter().map(|r| r.0).collect();
        let w2 = ranks.iter().filter(|r| r.1 == 0).map(|r| r.0).sum();
        assert!(close(exact_p(&all, 4, w2), p, 1e-12));
    }

    #[test]
    fn exact_with_ties() {
        // a = {0,0,1}, b = {1,1,1}: midranks 1.5,1.5 (zeros), 4.5 x4 (ones). Rank sum of a =
        // 1.5+1.5+4.5 = 7.5. Of the C(6,3) = 20 splits, the sum's distance from its mean 10.5
        // is >= 3 for: both zeros in a (4 splits: sum 7.5) or both in b (4 splits: 13.5).
        let m = mann_whitney(&[0.0, 0.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert!(m.exact);
        assert!(close(m.p, 8.0 / 20.0, 1e-12), "{}", m.p);
        assert_eq!(mann_whitney(&[5.0; 4], &[5.0; 4]).unwrap().p, 1.0);
        // Separated, with ties inside each sample: only the observed split and its mirror are
        // that extreme, as without ties: 2/20.
        let m = mann_whitney(&[0.0; 3], &[1.0; 3]).unwrap();
        assert!(close(m.p, 0.1, 1e-12), "{}", m.p);
    }

    #[test]
    fn normal_approximation_for_large_samples() {
        // 40 vs 40 separated: U = 0, mu = 800, var = 40*40*81/12 = 10800, z = 799.5/103.9 =
        // 7.69 -> p ~ 1.4e-14.
        let a: Vec<f64> = (0..40).map(f64::from).collect();
        let b: Vec<f64> = (100..140).map(f64::from).collect();
        let m = mann_whitney(&a, &b).unwrap();
        assert!(!m.exact);
        assert!(m.p > 1e-15 && m.p < 1e-13, "p = {}", m.p);
    }

    #[test]
    fn normal_tail() {
        assert!(close(normal_sf(0.0), 0.5, 1e-7));
        assert!(close(normal_sf(1.959_964), 0.025, 1e-6));
        assert!(close(normal_sf(-1.0), 0.841_344_75, 1e-6));
    }

    #[test]
    fn smallest_possible_p() {
        assert!(close(min_p(3, 3), 0.1, 1e-12));
        assert!(close(min_p(5, 5), 2.0 / 252.0, 1e-12));
        assert!(close(min_p(6, 6), 2.0 / 924.0, 1e-12));
        assert!(close(min_p(7, 7), 2.0 / 3432.0, 1e-12));
        assert_eq!(min_p(1, 1), 1.0);
        assert_eq!(min_p(0, 4), 1.0);
    }

    #[test]
    fn shift_and_its_interval() {
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        let cand = [120.0, 118.0, 122.0, 119.0, 121.0];
        assert_eq!(hodges_lehmann(&base, &cand), Some(20.0));
        // 5 vs 5: P(U <= 2) = 4/252 = 0.0159 <= 0.025 < P(U <= 3) = 7/252, so k = 3: the 3rd
        // smallest and 3rd largest of the 25 differences: 17 and 23.
        let ci = shift_ci(&base, &cand, 0.95).unwrap();
        assert_eq!((ci.lo, ci.hi), (17.0, 23.0));
        // 3 vs 3 cannot reach 95 % coverage (the full range covers 90 %).
        assert_eq!(shift_ci(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.95), None);
        let ci = shift_ci(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.90).unwrap();
        assert_eq!((ci.lo, ci.hi), (1.0, 5.0));
    }

    /// Every split of `pooled` into `n1` values and the rest: (first group, second group).
    fn splits(pooled: &[f64], n1: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
        (0u32..1 << pooled.len())
            .filter(|mask| mask.count_ones() as usize == n1)
            .map(|mask| {
                let (a, b): (Vec<_>, Vec<_>) =
                    (0..pooled.len()).partition(|i| mask & (1 << i) != 0);
                (
                    a.iter().map(|&i| pooled[i]).collect(),
                    b.iter().map(|&i| pooled[i]).collect(),
                )
            })
            .collect()
    }

    /// Small samples of small integers: ties within and between the groups, unequal sizes.
    fn tied_cases(count: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..count)
            .map(|_| {
                let (n1, n2) = (rng.random_range(1..=6), rng.random_range(2..=6));
                let top = rng.random_range(1..=5);
                let mut draw = |n| {
                    (0..n)
                        .map(|_| f64::from(rng.random_range(0..=top)))
                        .collect()
                };
                (draw(n1), draw(n2))
            })
            .collect()
    }

    #[test]
    fn smallest_p_with_ties_is_that_of_the_most_extreme_split() {
        // The review's case: [5, 5, 6] against [3, 3, 3, 0]. Doubled midranks 2 (the 0), 6 x3
        // (the 3s), 11 x2 (the 5s), 14; the candidates' sum 36 is 12 from its mean 24, and no
        // other of the C(7, 3) = 35 splits is that far (the lowest, 2 + 6 + 6 = 14, is 10 away):
        // p = 1/35, below the 2/35 two samples of 3 and 4 reach without ties.
        let m = mann_whitney(&[5.0, 5.0, 6.0], &[3.0, 3.0, 3.0, 0.0]).unwrap();
        assert!(m.exact);
        assert!(close(m.p, 1.0 / 35.0, 1e-12), "{m:?}");
        assert!(close(m.min_p, 1.0 / 35.0, 1e-12), "{m:?}");
        assert!(m.min_p < min_p(3, 4));
        // Ties can also raise it: all equal -> 1; separated groups of ties -> as without ties.
        assert_eq!(mann_whitney(&[2.0; 3], &[2.0; 5]).unwrap().min_p, 1.0);
        let m = mann_whitney(&[0.0, 0.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert!(close(m.min_p, 8.0 / 20.0, 1e-12), "{m:?}");
        assert!(close(
            mann_whitney(&[0.0; 3], &[1.0; 3]).unwrap().min_p,
            0.1,
            1e-12
        ));
        // Against enumeration: the smallest p over every split of the pooled values is the
        // min_p of every one of them, and no p is below it.
        for (a, b) in tied_cases(300) {
            let pooled: Vec<f64> = a.iter().chain(&b).copied().collect();
            let all = splits(&pooled, a.len());
            let ps: Vec<MannWhitney> = all
                .iter()
                .map(|(x, y)| mann_whitney(x, y).unwrap())
                .collect();
            let smallest = ps.iter().map(|m| m.p).fold(1.0, f64::min);
            for m in &ps {
                assert!(close(m.min_p, smallest, 1e-12), "{a:?} {b:?}: {m:?}");
                assert!(m.min_p <= m.p, "{a:?} {b:?}: {m:?}");
            }
        }
        // Above 60 values (normal approximation): still the most extreme split's p.
        let a: Vec<f64> = (0..40).map(|i| f64::from(i % 4)).collect();
        let b: Vec<f64> = (0..30).map(|i| f64::from(i % 5)).collect();
        let m = mann_whitney(&a, &b).unwrap();
        let mut pooled: Vec<f64> = a.iter().chain(&b).copied().collect();
        pooled.sort_by(f64::total_cmp);
        let low = mann_whitney(&pooled[..40], &pooled[40..]).unwrap();
        let high = mann_whitney(&pooled[30..], &pooled[..30]).unwrap();
        assert!(!m.exact && m.min_p <= m.p);
        assert!(close(m.min_p, low.p.min(high.p), 1e-15), "{m:?}");
    }

    #[test]
    fn the_interval_excludes_zero_exactly_when_the_test_rejects() {
        // The review's case: rejected at 5 % (p = 1/35), so 0 is out, though the differences
        // include 2 and the classic no-ties cut would have been reached at one of them.
        let (base, cand) = ([3.0, 3.0, 3.0, 0.0], [5.0, 5.0, 6.0]);
        let ci = shift_ci(&base, &cand, 0.95).unwrap();
        assert!(!ci.contains(0.0) && ci.contains(2.5), "{ci:?}");
        // An interval that ends at 0 where the test rejects 0 (p = 1/30): open there. The
        // no-ties cut gave [-1, 0], closed, though 0 is rejected.
        let (base, cand) = ([1.0, 1.0, 0.0, 1.0], [0.0; 6]);
        let m = mann_whitney(&cand, &base).unwrap();
        assert!(close(m.p, 1.0 / 30.0, 1e-12), "{m:?}");
        let ci = shift_ci(&base, &cand, 0.95).unwrap();
        assert_eq!(
            (ci.lo, ci.hi, ci.lo_open, ci.hi_open),
            (-1.0, 0.0, false, true)
        );
        assert!(!ci.contains(0.0) && ci.contains(-1.0) && ci.contains(-0.5));
        let mut zero_bounds = 0;
        for (base, cand) in tied_cases(3_000) {
            let m = mann_whitney(&cand, &base).unwrap();
            for confidence in [0.95, 0.9, 0.8] {
                let level = 1.0 - confidence;
                let Some(ci) = shift_ci(&base, &cand, confidence) else {
                    // Unbounded: no split of these values is rejected, so neither is this one.
                    assert!(!rejected_at(m.min_p, level), "{base:?} {cand:?} {m:?}");
                    continue;
                };
                assert!(ci.lo <= ci.hi, "{base:?} {cand:?} {ci:?}");
                assert_eq!(
                    ci.contains(0.0),
                    !rejected_at(m.p, level),
                    "{base:?} {cand:?} at {confidence}: {m:?} {ci:?}"
                );
                zero_bounds += usize::from(ci.lo == 0.0 || ci.hi == 0.0);
                let hl = hodges_lehmann(&base, &cand).unwrap();
                assert!(ci.lo <= hl && hl <= ci.hi, "{base:?} {cand:?} {ci:?}");
            }
        }
        // The cases include bounds at 0, the ones the closed form would get wrong.
        assert!(zero_bounds > 50, "{zero_bounds}");
    }
}
