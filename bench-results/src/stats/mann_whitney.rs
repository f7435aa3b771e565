//! The two-sample rank test behind every verdict, and the effect estimate and interval that go
//! with it.
//!
//! - Test: two-sided Mann–Whitney U (Mann & Whitney 1947). Exact whenever the pooled sample has
//!   at most [`EXACT_MAX_N`] values, *including* with ties: the null distribution of the rank sum
//!   is then counted over all C(N, n1) splits of the observed midranks (the permutation
//!   distribution; Lehmann, "Nonparametrics", 1975, ch. 1 §3). Ties are common here (counts that
//!   are 0 in most runs), and the normal approximation is far off in the tail the Holm-corrected
//!   rule looks at. Larger samples use the normal approximation with the tie correction.
//! - Estimate: the Hodges–Lehmann shift, the median of all pairwise differences cand − base
//!   (Hodges & Lehmann 1963): the location difference the U test is about.
//! - Interval: the exact distribution-free interval for that shift (Moses 1953; Lehmann ch. 2
//!   §6): order statistics of the pairwise differences cut where the U distribution puts
//!   (1 − confidence)/2 in each tail. It excludes 0 exactly when the two-sided exact test rejects
//!   at 1 − confidence (without ties).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{Interval, median_sorted};

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
}

/// Two-sided Mann–Whitney U test of `a` against `b` (module docs).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let ranks = doubled_midranks(a, b);
    let n = n1 + n2;
    // Doubled rank sum of `a` (integers: midranks are multiples of 1/2).
    let w2: u64 = ranks.iter().filter(|r| r.1 == 0).map(|r| r.0).sum();
    let u = w2 as f64 / 2.0 - (n1 * (n1 + 1)) as f64 / 2.0;
    let tie_term = tie_term(&ranks);
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if var <= 0.0 {
        // Every value equal: no evidence of a difference.
        return Some(MannWhitney {
            u,
            p: 1.0,
            exact: true,
        });
    }
    if tie_term == 0.0 && n <= EXACT_MAX_N {
        return Some(MannWhitney {
            u,
            p: tie_free_p(n1, n2, u),
            exact: true,
        });
    }
    if n <= EXACT_MAX_N {
        let all: Vec<u64> = ranks.iter().map(|r| r.0).collect();
        return Some(MannWhitney {
            u,
            p: exact_p(&all, n1, w2),
            exact: true,
        });
    }
    let mu = n1f * n2f / 2.0;
    let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
    Some(MannWhitney {
        u,
        p: (2.0 * normal_sf(z)).min(1.0),
        exact: false,
    })
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

/// Exact two-sided p of the doubled rank sum `w2` of `n1` values drawn without replacement from
/// `ranks`: counts of every subset's sum by dynamic programming over the values.
fn exact_p(ranks: &[u64], n1: usize, w2: u64) -> f64 {
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
    let total: f64 = row.iter().sum();
    // Mean of the doubled sum: n1 (N + 1), an integer, so distances compare exactly.
    let mean2 = (n1 * (n + 1)) as i64;
    let observed = (w2 as i64 - mean2).abs();
    let tail: f64 = row
        .iter()
        .enumerate()
        .filter(|(s, _)| (*s as i64 - mean2).abs() >= observed)
        .map(|(_, c)| c)
        .sum();
    (tail / total).min(1.0)
}

/// Exact two-sided p without ties, from the U distribution of (n1, n2), computed once per
/// thread and size (the simulation test runs tens of thousands of same-sized tests).
fn tie_free_p(n1: usize, n2: usize, u: f64) -> f64 {
    /// P(U = u) for u = 0..=n1·n2, by (n1, n2).
    type Nulls = HashMap<(usize, usize), Rc<Vec<f64>>>;
    thread_local! {
        static CACHE: RefCell<Nulls> = RefCell::default();
    }
    let dist = CACHE.with(|c| {
        c.borrow_mut()
            .entry((n1, n2))
            .or_insert_with(|| {
                let d = u_distribution(n1, n2);
                let total: f64 = d.iter().sum();
                Rc::new(d.into_iter().map(|x| x / total).collect())
            })
            .clone()
    });
    let mean = (n1 * n2) as f64 / 2.0;
    let observed = (u - mean).abs();
    let p: f64 = dist
        .iter()
        .enumerate()
        .filter(|(k, _)| (*k as f64 - mean).abs() >= observed - 1e-9)
        .map(|(_, q)| q)
        .sum();
    p.min(1.0)
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

/// The smallest two-sided p the exact test can give for these sample sizes: both samples
/// completely separated, 2 / C(n1 + n2, n1). No correction can call a change whose p cannot go
/// below its threshold, whatever the data.
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

/// Sorted pairwise differences c − b.
fn pairwise(base: &[f64], cand: &[f64]) -> Vec<f64> {
    let mut d: Vec<f64> = cand
        .iter()
        .flat_map(|c| base.iter().map(move |b| c - b))
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

/// Hodges–Lehmann estimate of the shift cand − base.
pub fn hodges_lehmann(base: &[f64], cand: &[f64]) -> Option<f64> {
    (!base.is_empty() && !cand.is_empty()).then(|| median_sorted(&pairwise(base, cand)))
}

/// Exact (Moses) confidence interval of the Hodges–Lehmann shift, at least `confidence`
/// coverage; `None` when the sample sizes cannot reach it (3 vs 3 reaches 90 % at most).
pub fn shift_ci(base: &[f64], cand: &[f64], confidence: f64) -> Option<Interval> {
    let (n1, n2) = (cand.len(), base.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let dist = u_distribution(n1, n2);
    let total: f64 = dist.iter().sum();
    let tail = (1.0 - confidence) / 2.0;
    // Largest k with P(U <= k - 1) <= tail: the interval [D(k), D(n1 n2 + 1 - k)].
    let mut k = 0;
    let mut cum = 0.0;
    for c in &dist {
        cum += c / total;
        if cum > tail + 1e-12 {
            break;
        }
        k += 1;
    }
    if k == 0 {
        return None;
    }
    let d = pairwise(base, cand);
    Some(Interval {
        lo: d[k - 1],
        hi: d[d.len() - k],
    })
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
}
