//! Statistics over repeats: summaries, fairness indices, and the two-sample test and verdict
//! rule behind `compare`.
//!
//! - [`mann_whitney`]: the two-sided Mann–Whitney U test (exact up to 60 values, ties
//!   included), the smallest p the samples allow, the Hodges–Lehmann shift and its (Moses)
//!   confidence interval from the test's own distribution.
//! - [`rule`]: the verdict rule: Holm's correction over every judged comparison of a report,
//!   then an effect-size threshold; everything else is "~".
//!
//! Ranks, medians and the Mann–Whitney distribution assume nothing about the shape of the
//! run-to-run noise, which in a VM is skewed and often tied (counts of rare events).

pub mod mann_whitney;
mod pairwise;
pub mod rule;
#[cfg(test)]
mod simulation;

pub use mann_whitney::{
    MannWhitney, hodges_lehmann, mann_whitney, min_p, rejected_at, shift_ci, shift_test,
};
pub use rule::{
    Correction, DEFAULT_REPEATS, Difference, Direction, Method, Verdict, compare_samples, holm,
    judge_family, repeats_needed,
};

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

pub(crate) fn median_sorted(v: &[f64]) -> f64 {
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
    /// The bound itself is outside: `(lo, ...`. Set only for a bound at 0 that the test rejects
    /// (see [`mann_whitney`]); other bounds are closed, as Moses' are.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lo_open: bool,
    /// The bound itself is outside: `..., hi)`; as `lo_open`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hi_open: bool,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        (self.lo < x || (self.lo == x && !self.lo_open))
            && (x < self.hi || (x == self.hi && !self.hi_open))
    }
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
}
