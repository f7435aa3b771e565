//! Statistics over repeats: summaries, fairness indices, and the two-sample comparison behind
//! `compare`'s verdicts.
//!
//! Verdict basis: the percentile-bootstrap 95 % confidence interval of the difference of medians
//! (candidate − baseline). A change is significant when that interval excludes 0 *and* the
//! relative change of the median is at least the threshold (default 5 %); the metric's
//! [`Direction`] turns a significant change into an improvement or a regression. Medians and the
//! bootstrap assume nothing about the distribution (run-to-run noise in a VM is skewed). The
//! Mann–Whitney U p-value is reported beside it as a second, rank-based opinion; it is not used
//! for the verdict because with 3 repeats per kernel its smallest possible two-sided p is 0.1.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for n = 1.
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(xs: &[f64]) -> Option<Summary> {
        Some(Summary {
            n: xs.len(),
            median: median(xs)?,
            mean: mean(xs)?,
            stddev: stddev(xs).unwrap_or(0.0),
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some(median_sorted(&v))
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Sample standard deviation (Bessel-corrected); `None` for fewer than 2 values.
pub fn stddev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m).powi(2)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Quantile by linear interpolation between order statistics (Hyndman & Fan type 7).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Jain's fairness index (Jain, Chiu & Hawe 1984): (Σx)² / (n·Σx²). 1 when all shares are
/// equal, 1/n when one member gets everything. `None` when empty or all zero (undefined).
pub fn jain_index(xs: &[f64]) -> Option<f64> {
    let s: f64 = xs.iter().sum();
    let s2: f64 = xs.iter().map(|x| x * x).sum();
    (!xs.is_empty() && s2 > 0.0).then(|| s * s / (xs.len() as f64 * s2))
}

/// Each member's share of the total, in input order; `None` when the total is 0.
pub fn shares(xs: &[f64]) -> Option<Vec<f64>> {
    let s: f64 = xs.iter().sum();
    (s > 0.0).then(|| xs.iter().map(|x| x / s).collect())
}

/// Lorenz curve: members sorted ascending, points (cumulative population share, cumulative
/// share of the total), starting at (0, 0) and ending at (1, 1). The diagonal is perfect
/// equality. `None` when the total is 0.
pub fn lorenz(xs: &[f64]) -> Option<Vec<(f64, f64)>> {
    let mut v = shares(xs)?;
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mut acc = 0.0;
    let mut out = vec![(0.0, 0.0)];
    for (i, s) in v.iter().enumerate() {
        acc += s;
        out.push(((i + 1) as f64 / n, acc));
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Percentile-bootstrap confidence interval of median(cand) − median(base) (Efron & Tibshirani,
/// "An Introduction to the Bootstrap", 1993, ch. 13 and 16.2 for two samples): each group is
/// resampled with replacement independently, the statistic is recomputed `resamples` times and
/// the interval is the (α/2, 1 − α/2) quantiles of those replicates. The generator is ChaCha8
/// seeded with `seed`, so a report is reproducible bit for bit.
pub fn bootstrap_median_diff(
    base: &[f64],
    cand: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Interval> {
    if base.is_empty() || cand.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bb = vec![0.0; base.len()];
    let mut cb = vec![0.0; cand.len()];
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        resample(&mut rng, base, &mut bb);
        resample(&mut rng, cand, &mut cb);
        diffs.push(median_sorted(&cb) - median_sorted(&bb));
    }
    diffs.sort_by(f64::total_cmp);
    let alpha = 1.0 - confidence;
    Some(Interval {
        lo: quantile_sorted(&diffs, alpha / 2.0),
        hi: quantile_sorted(&diffs, 1.0 - alpha / 2.0),
    })
}

/// Fills `out` with a sorted resample of `xs`.
fn resample(rng: &mut ChaCha8Rng, xs: &[f64], out: &mut [f64]) {
    for o in out.iter_mut() {
        *o = xs[rng.random_range(0..xs.len())];
    }
    out.sort_by(f64::total_cmp);
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of the first sample.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// True when `p` comes from the exact null distribution, false for the normal approximation.
    pub exact: bool,
}

/// Two-sided Mann–Whitney U test (Mann & Whitney 1947). Exact null distribution (counted by the
/// recurrence of Mann & Whitney's paper) when there are no ties and n1 + n2 ≤ 40; otherwise the
/// normal approximation with tie-corrected variance and a 0.5 continuity correction (Lehmann,
/// "Nonparametrics", 1975, ch. 1).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Midranks over the pooled sample.
    let mut pooled: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0; // Σ (t³ − t) over tie groups
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for rank in &mut ranks[i..=j] {
            *rank = r;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = pooled
        .iter()
        .zip(&ranks)
        .filter(|(p, _)| p.1 == 0)
        .map(|(_, r)| r)
        .sum();
    let u = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let (n1f, n2f) = (n1 as f64, n2 as f64);

    if tie_term == 0.0 && n1 + n2 <= 40 {
        let dist = u_distribution(n1, n2);
        let total: f64 = dist.iter().sum();
        let u_int = u.round() as usize;
        let le: f64 = dist[..=u_int].iter().sum::<f64>() / total;
        let ge: f64 = dist[u_int..].iter().sum::<f64>() / total;
        return Some(MannWhitney {
            u,
            p: (2.0 * le.min(ge)).min(1.0),
            exact: true,
        });
    }
    let mu = n1f * n2f / 2.0;
    let nf = n as f64;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if var <= 0.0 {
        // Every value equal: no evidence of a difference.
        return Some(MannWhitney {
            u,
            p: 1.0,
            exact: false,
        });
    }
    let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
    Some(MannWhitney {
        u,
        p: (2.0 * normal_sf(z)).min(1.0),
        exact: false,
    })
}

/// Number of arrangements giving each U = 0..=n1·n2 under H0 (no ties):
/// f(m, n, u) = f(m − 1, n, u − n) + f(m, n − 1, u).
fn u_distribution(n1: usize, n2: usize) -> Vec<f64> {
    let max_u = n1 * n2;
    // table[m][n] as a vector over u, built up in n for each m.
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

/// Upper tail of the standard normal, via erfc (Numerical Recipes' Chebyshev fit, |rel err| <
/// 1.2e-7, ample for a reported p-value).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Informational: a significant change is reported as `Changed`.
    Neither,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improvement,
    Regression,
    NoChange,
    /// Significant change of a metric that has no better direction.
    Changed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improvement => "improvement",
            Verdict::Regression => "regression",
            Verdict::NoChange => "no change",
            Verdict::Changed => "changed",
        }
    }
}

/// Parameters of the comparison method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Smallest relative change of the median that counts, e.g. 0.05.
    pub threshold: f64,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    /// Fewer repeats than this in either group gives no verdict.
    pub min_n: usize,
}

impl Default for Method {
    fn default() -> Self {
        Method {
            threshold: 0.05,
            confidence: 0.95,
            resamples: 10_000,
            seed: 1,
            min_n: 3,
        }
    }
}

/// Candidate vs baseline for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// median(candidate) − median(baseline).
    pub diff: f64,
    /// diff / |median(baseline)|; `None` when the baseline median is 0.
    pub relative: Option<f64>,
    pub ci: Interval,
    pub p_value: f64,
    /// `None` when either group has fewer than `Method::min_n` values.
    pub verdict: Option<Verdict>,
}

/// Applies the documented rule (module docs). With a zero baseline median any nonzero change
/// counts as beyond the threshold, since no relative change exists.
pub fn compare_samples(
    base: &[f64],
    cand: &[f64],
    direction: Direction,
    method: &Method,
) -> Option<Difference> {
    let bm = median(base)?;
    let cm = median(cand)?;
    let diff = cm - bm;
    let relative = (bm != 0.0).then(|| diff / bm.abs());
    let ci = bootstrap_median_diff(base, cand, method.resamples, method.confidence, method.seed)?;
    let p_value = mann_whitney(cand, base)?.p;
    let verdict = (base.len() >= method.min_n && cand.len() >= method.min_n).then(|| {
        let big_enough = match relative {
            Some(r) => r.abs() >= method.threshold,
            None => diff != 0.0,
        };
        if ci.contains(0.0) || !big_enough {
            Verdict::NoChange
        } else {
            match (direction, diff > 0.0) {
                (Direction::Neither, _) => Verdict::Changed,
                (Direction::HigherIsBetter, true) | (Direction::LowerIsBetter, false) => {
                    Verdict::Improvement
                }
                _ => Verdict::Regression,
            }
        }
    });
    Some(Difference {
        diff,
        relative,
        ci,
        p_value,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn summary_values() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mean, 2.5);
        assert!(close(s.stddev, 1.290_994_45, 1e-8)); // sqrt(5/3)
        assert_eq!((s.min, s.max), (1.0, 4.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[7.0]).unwrap().stddev, 0.0);
    }

    #[test]
    fn jain_bounds() {
        assert!(close(jain_index(&[5.0; 8]).unwrap(), 1.0, 1e-12));
        let mut one_hot = [0.0; 8];
        one_hot[0] = 10.0;
        assert!(close(jain_index(&one_hot).unwrap(), 1.0 / 8.0, 1e-12));
        // (1+2+3)^2 / (3 * 14) = 36/42
        assert!(close(
            jain_index(&[1.0, 2.0, 3.0]).unwrap(),
            36.0 / 42.0,
            1e-12
        ));
        assert_eq!(jain_index(&[0.0, 0.0]), None);
    }

    #[test]
    fn lorenz_curve() {
        let l = lorenz(&[3.0, 1.0]).unwrap();
        assert_eq!(l, vec![(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)]);
        let eq = lorenz(&[2.0; 4]).unwrap();
        assert!(eq.iter().all(|&(x, y)| close(x, y, 1e-12)));
        assert_eq!(lorenz(&[0.0]), None);
    }

    #[test]
    fn mann_whitney_exact_known_values() {
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
    }

    #[test]
    fn mann_whitney_normal_with_ties() {
        // Tied data goes to the normal approximation; all-equal data gives p = 1.
        let m = mann_whitney(&[1.0, 1.0, 2.0, 2.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!(!m.exact);
        assert!(m.p > 0.3 && m.p <= 1.0);
        assert_eq!(mann_whitney(&[5.0; 4], &[5.0; 4]).unwrap().p, 1.0);
        // Large separated samples: tiny p. U = 0, mu = 450, var = 30*30*61/12 = 4575,
        // z = 449.5/67.64 = 6.646 -> p ~ 3.0e-11.
        let a: Vec<f64> = (0..30).map(f64::from).collect();
        let b: Vec<f64> = (100..130).map(f64::from).collect();
        let m = mann_whitney(&a, &b).unwrap();
        assert!(!m.exact);
        assert!(m.p > 1e-11 && m.p < 1e-10, "p = {}", m.p);
    }

    #[test]
    fn normal_tail() {
        assert!(close(normal_sf(0.0), 0.5, 1e-7));
        assert!(close(normal_sf(1.959_964), 0.025, 1e-6));
        assert!(close(normal_sf(-1.0), 0.841_344_75, 1e-6));
    }

    #[test]
    fn bootstrap_is_reproducible_and_sensible() {
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        let cand = [120.0, 118.0, 122.0, 119.0, 121.0];
        let a = bootstrap_median_diff(&base, &cand, 10_000, 0.95, 7).unwrap();
        let b = bootstrap_median_diff(&base, &cand, 10_000, 0.95, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.lo > 0.0 && a.contains(20.0), "{a:?}");
        // Same distribution: interval straddles zero.
        let same =
            bootstrap_median_diff(&base, &[101.0, 99.0, 100.0, 98.0, 102.0], 10_000, 0.95, 7)
                .unwrap();
        assert!(same.contains(0.0), "{same:?}");
    }

    #[test]
    fn verdict_rule() {
        let m = Method::default();
        let base = [100.0, 101.0, 99.0, 100.5, 99.5];
        // +20 %: lower is better -> regression; higher is better -> improvement.
        let worse = [120.0, 121.0, 119.0, 120.5, 119.5];
        let d = compare_samples(&base, &worse, Direction::LowerIsBetter, &m).unwrap();
        assert_eq!(d.verdict, Some(Verdict::Regression));
        assert!(close(d.relative.unwrap(), 0.2, 1e-12));
        let d = compare_samples(&base, &worse, Direction::HigherIsBetter, &m).unwrap();
        assert_eq!(d.verdict, Some(Verdict::Improvement));
        let d = compare_samples(&base, &worse, Direction::Neither, &m).unwrap();
        assert_eq!(d.verdict, Some(Verdict::Changed));
        // +3 %: CI excludes 0 but below the 5 % threshold -> no change.
        let small = [103.0, 104.0, 102.0, 103.5, 102.5];
        let d = compare_samples(&base, &small, Direction::LowerIsBetter, &m).unwrap();
        assert!(!d.ci.contains(0.0));
        assert_eq!(d.verdict, Some(Verdict::NoChange));
        // Too few repeats -> no verdict at all.
        let d = compare_samples(&base[..2], &worse[..2], Direction::LowerIsBetter, &m).unwrap();
        assert_eq!(d.verdict, None);
        // Zero baseline: relative change undefined, any significant change counts.
        let d = compare_samples(&[0.0; 3], &[5.0, 6.0, 7.0], Direction::LowerIsBetter, &m).unwrap();
        assert_eq!(d.relative, None);
        assert_eq!(d.verdict, Some(Verdict::Regression));
    }
}
