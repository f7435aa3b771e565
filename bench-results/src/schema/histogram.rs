//! The log-linear histogram every latency and wait in a result uses (one bucket scheme, shared
//! with the eBPF programs through bench-common).
use serde::{Deserialize, Serialize};

use super::SchemaError;

/// Number of buckets needed to cover all of `u64` in the `log2x4` scheme.
pub const BUCKETS: usize = bench_common::hist::BUCKETS;

/// Bucket of `v` in the log-linear `log2x4` scheme: values 0..=3 have their own bucket; above
/// that each power of two `[2^p, 2^(p+1))` is split into 4 equal sub-buckets. The one
/// definition lives in bench-common, shared with the eBPF programs, so kernel-side and
/// userspace histograms have the same bucket indices.
pub fn bucket_index(v: u64) -> usize {
    bench_common::hist::bucket_index(v) as usize
}

/// Inclusive value range `(lo, hi)` of bucket `i` (`i < BUCKETS`).
pub fn bucket_bounds(i: usize) -> (u64, u64) {
    let (lo, hi) = bench_common::hist::bucket_bounds(i as u32);
    (
        lo,
        if hi == u64::MAX && i == BUCKETS - 1 {
            u64::MAX
        } else {
            hi - 1
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Ns,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// See [`bucket_index`].
    #[serde(rename = "log2x4")]
    Log2x4,
}

/// Raw histogram data in the `log2x4` scheme. `buckets` is sparse: `(index, count)` pairs with
/// count > 0, ascending by index. `min`/`max`/`sum` are exact: they are kept from the raw values
/// (eBPF side, [`Histogram::record`], [`Histogram::from_values`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub unit: Unit,
    pub scheme: Scheme,
    pub buckets: Vec<(u32, u64)>,
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
}

impl Histogram {
    pub fn empty(unit: Unit) -> Self {
        Histogram {
            unit,
            scheme: Scheme::Log2x4,
            buckets: Vec::new(),
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
        }
    }

    pub fn from_values(unit: Unit, values: impl IntoIterator<Item = u64>) -> Self {
        let mut h = Histogram::empty(unit);
        for v in values {
            h.record(v);
        }
        h
    }

    /// Adds one value: one count in its bucket (quantised once, here), and the exact
    /// count/sum/min/max.
    pub fn record(&mut self, v: u64) {
        let i = bucket_index(v) as u32;
        match self.buckets.binary_search_by_key(&i, |&(b, _)| b) {
            Ok(k) => self.buckets[k].1 += 1,
            Err(k) => self.buckets.insert(k, (i, 1)),
        }
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
    }

    /// Builds from a dense per-bucket array as read from a BPF map (index = bucket), plus the
    /// exact aggregates the BPF program kept.
    pub fn from_dense(unit: Unit, dense: &[u64], sum: u64, min: u64, max: u64) -> Self {
        let buckets = sparse(dense);
        let count = buckets.iter().map(|&(_, c)| c).sum();
        Histogram {
            unit,
            scheme: Scheme::Log2x4,
            buckets,
            count,
            sum,
            min,
            max,
        }
    }

    pub fn merge(&mut self, other: &Histogram) -> Result<(), SchemaError> {
        if self.unit != other.unit || self.scheme != other.scheme {
            return Err(SchemaError::Invalid(format!(
                "cannot merge a {:?}/{:?} histogram into a {:?}/{:?} one",
                other.unit, other.scheme, self.unit, self.scheme
            )));
        }
        if other.count == 0 {
            return Ok(());
        }
        let mut dense = self.dense();
        for &(i, c) in &other.buckets {
            dense[i as usize] += c;
        }
        self.buckets = sparse(&dense);
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        Ok(())
    }

    pub fn dense(&self) -> Vec<u64> {
        let mut dense = vec![0u64; BUCKETS];
        for &(i, c) in &self.buckets {
            dense[i as usize] += c;
        }
        dense
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Value at quantile `q` (0..=1): finds the bucket holding rank `q * count` and interpolates
    /// linearly inside it (values assumed uniform within a bucket), clamped to the exact min/max.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if q == 0.0 {
            return Some(self.min as f64);
        }
        if q == 1.0 {
            return Some(self.max as f64);
        }
        let rank = q * self.count as f64;
        let mut below = 0u64;
        for &(i, c) in &self.buckets {
            if (below + c) as f64 >= rank {
                let (lo, hi) = bucket_bounds(i as usize);
                let lo = (lo as f64).max(self.min as f64);
                let hi = (hi as f64 + 1.0).min(self.max as f64 + 1.0);
                let frac = (rank - below as f64) / c as f64;
                let v = lo + frac * (hi - lo);
                return Some(v.clamp(self.min as f64, self.max as f64));
            }
            below += c;
        }
        Some(self.max as f64)
    }

    /// Cumulative distribution as `(upper bound of bucket, fraction <= it)` points, for CDF plots.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(self.buckets.len());
        let mut acc = 0u64;
        for &(i, c) in &self.buckets {
            acc += c;
            let (_, hi) = bucket_bounds(i as usize);
            let x = (hi as f64).min(self.max as f64);
            out.push((x, acc as f64 / self.count as f64));
        }
        out
    }

    pub(super) fn check(&self, what: &str) -> Result<(), String> {
        let mut last = None;
        let mut total = 0u64;
        for &(i, c) in &self.buckets {
            if i as usize >= BUCKETS {
                return Err(format!("{what}: bucket index {i} out of range"));
            }
            if last.is_some_and(|l| l >= i) {
                return Err(format!("{what}: bucket indices not strictly ascending"));
            }
            last = Some(i);
            // Checked: a hostile file's counts can add up past u64 (a panic in debug builds).
            total = total
                .checked_add(c)
                .ok_or_else(|| format!("{what}: bucket counts add up past 2^64"))?;
        }
        if total != self.count {
            return Err(format!(
                "{what}: bucket counts add up to {total}, count says {}",
                self.count
            ));
        }
        if self.count > 0 && self.min > self.max {
            return Err(format!("{what}: min {} > max {}", self.min, self.max));
        }
        Ok(())
    }
}

fn sparse(dense: &[u64]) -> Vec<(u32, u64)> {
    dense
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| (i as u32, c))
        .collect()
}
