//! The n1·n2 pairwise differences c − b behind the Hodges–Lehmann shift and its Moses interval
//! ([`super::mann_whitney`]), without materialising them.
//!
//! Both need only a few order statistics of the differences, and the interval how many of them
//! equal or exceed a value. Sorting all of them meant 25 million f64 a metric at 5,000 runs a
//! side, twice (over a minute and 1.3 GiB for a `compare` of 10,000 files). Instead each sample
//! is sorted once, and then:
//!
//! - Counting: for a fixed c the computed c − b never rises as b rises, and never falls as c
//!   rises, in [`f64::total_cmp`] order (below). So the b giving c − b at most x are a suffix
//!   of the sorted base that only shrinks as c grows: one pass over both samples counts the
//!   differences at most x.
//! - Selection: the k-th smallest difference is the smallest x, as a 64-bit key in total
//!   order, with at least k differences at most x: a bisection of the keys, at most 64 counts.
//!   The count only steps up at the key of a difference, so that x is one: bit for bit the
//!   k-th entry of the sorted list, −0 and +0 apart where the sort kept them apart.
//! - The interval: the scan over groups of equal differences stops at a group found by
//!   selection ([`moses_interval`]), which needs the accepted distances to be a prefix, i.e.
//!   `Null::p` non-increasing in the distance (below).
//!
//! Why c − b is monotone in total order: IEEE subtraction rounds the exact difference, and
//! rounding to nearest (overflow to ±∞ included) never reverses an order. Only the zeros are
//! numerically equal with different bits; c − b is zero only when c == b (gradual underflow),
//! so with b1 < b2 both differences cannot be zero, and for b1 = −0, b2 = +0 they are equal
//! except at c = −0, where −0 − −0 = +0 sorts above −0 − +0 = −0, as it must. Likewise in c.
//! Infinities break it (∞ − ∞ is NaN, sorted by its sign bit), so the public functions
//! (`shift_test`, `mann_whitney`, `hodges_lehmann`) refuse samples with a non-finite value
//! (None: no test), and `compare` only passes finite values. Here such samples would still take
//! the former materialising code, kept verbatim ([`sorted_differences`],
//! [`moses_interval_materialised`]) as the tests' oracle.
//!
//! Why `Null::p` is non-increasing in the doubled distance:
//! - Exact: `tail[t]` is a sum of non-negative counts taken from the top (adding one never
//!   lowers a rounded sum) over a fixed total, capped at 1 (both keep order); past it, 0.
//! - Normal: z comes from the distance by steps that keep order (each rounds, and rounding
//!   keeps order), but the `erfc` fit does not quite: adjacent f64 z can reverse p by ~1 ulp.
//!   Consecutive distances are 0.5 / sd apart in z, over which p falls by a relative
//!   ≥ √(2/π) · 0.5 / sd (the normal tail's log-slope, smallest at z = 0; a test checks the
//!   fit on a grid), while its rounding error stays far below 1e-13. A reversal would need
//!   sd > 2e12, so n1·n2 > 6e12 (sd² <= n1 n2 (n1 + n2 + 1) / 12): a sample whose list of
//!   differences the former code could not have held either.
//!
//! Cost: the two sorts, then O(n1 + n2) per count, about 64 counts per order statistic (two for
//! the estimate, two for the interval); memory O(n1 + n2).

use super::{Interval, median_sorted};

/// Whether a doubled distance |2U − n1·n2| is accepted: its p not rejected at the interval's
/// level ([`invert`]).
pub(super) type Accepted<'a> = &'a dyn Fn(u64) -> bool;

/// A search for the interval's bounds given the accepted distances: [`moses_interval`], or the
/// former [`moses_interval_materialised`] (the tests' oracle).
pub(super) type Bounds = fn(&[f64], &[f64], Accepted) -> Option<Interval>;

/// Median of the differences cand − b (the Hodges–Lehmann estimate), for non-empty samples:
/// [`median_sorted`] of the sorted differences, applied to the one or two it reads.
pub(super) fn median_difference(base: &[f64], cand: &[f64]) -> f64 {
    let Some(d) = Differences::new(base, cand) else {
        return median_sorted(&sorted_differences(base, cand));
    };
    let n = d.len();
    // median_sorted reads v[n/2], or v[n/2 − 1] and v[n/2]: the (n/2 + 1)-th and n/2-th
    // smallest. Its own arithmetic on them gives the same bits.
    let middle = if n % 2 == 1 {
        vec![d.kth(n / 2 + 1)]
    } else {
        vec![d.kth(n / 2), d.kth(n / 2 + 1)]
    };
    median_sorted(&middle)
}

/// The Moses interval of the shift cand − base: the lowest and the highest shift δ whose
/// doubled U(δ) is at an `accepted` doubled distance from n1·n2, open or closed, or `None`,
/// exactly as the materialised scan ([`moses_interval_materialised`]) gives them.
///
/// `accepted` must hold on the distances 0..=w for some w and nowhere beyond: `Null::p` is
/// non-increasing in the distance (module docs). Then the scan's answer needs no scan:
/// - From the lowest difference up, it tries 2U at each group's value (2g + t: g greater, t
///   tied) and in the gap above it (2g); these only fall, from 2 n1n2 towards 0, and are
///   accepted within w of n1n2. So every group before the first with 2g <= n1n2 + w fails,
///   and that group decides: accepted at its value (closed bound), in the gap above (open),
///   or neither, and then its 2g is below n1n2 − w, as is all that follows: no bound. That
///   group holds the (n1n2 − ⌊(n1n2 + w)/2⌋)-th smallest difference: the first with at most
///   ⌊(n1n2 + w)/2⌋ greater.
/// - From the highest down, mirrored: 2g + t and 2(g + t) only rise, and the group deciding is
///   the first with 2(g + t) >= n1n2 − w, the one holding the ⌈(n1n2 − w)/2⌉-th largest.
pub(super) fn moses_interval(base: &[f64], cand: &[f64], accepted: Accepted) -> Option<Interval> {
    let Some(d) = Differences::new(base, cand) else {
        return moses_interval_materialised(base, cand, accepted);
    };
    let nn = d.len();
    // Below every difference 2U = 2 n1n2, above every one 0, both at distance n1n2: accepted
    // there, no bound (as the scan's early return).
    if accepted(nn) {
        return None;
    }
    // Not even U at its mean accepted: no distance is, no group passes.
    if !accepted(0) {
        return None;
    }
    // The widest accepted distance w: accepted(w), not accepted(w + 1).
    let (mut w, mut out) = (0, nn);
    while out - w > 1 {
        let mid = w + (out - w) / 2;
        if accepted(mid) {
            w = mid;
        } else {
            out = mid;
        }
    }
    let at = |twice_u: u64| accepted(twice_u.abs_diff(nn));
    // Lowest accepted δ: the deciding group's value (2U = 2 greater + ties) or the gap just
    // above it (2U = 2 greater), which leaves the bound itself out.
    let (e, t, g) = d.group(d.kth(nn - (nn + w) / 2));
    let (lo, lo_open) = if at(2 * g + t) {
        (e, false)
    } else if at(2 * g) {
        (e, true)
    } else {
        return None;
    };
    // Highest accepted δ: a difference, or the gap just below it (2U = 2 (greater + ties)).
    let (e, t, g) = d.group(d.kth(nn - (nn - w).div_ceil(2) + 1));
    let (hi, hi_open) = if at(2 * g + t) {
        (e, false)
    } else if at(2 * (g + t)) {
        (e, true)
    } else {
        return None;
    };
    // Bounds are shown closed (module docs of mann_whitney), except one at 0 that the test
    // rejects.
    Some(Interval {
        lo,
        hi,
        lo_open: lo_open && lo == 0.0,
        hi_open: hi_open && hi == 0.0,
    })
}

/// Both samples sorted in total order, all values finite (module docs: what the counting
/// needs).
struct Differences {
    base: Vec<f64>,
    cand: Vec<f64>,
}

impl Differences {
    /// `None` when a sample is empty or holds a non-finite value.
    fn new(base: &[f64], cand: &[f64]) -> Option<Differences> {
        let usable = |v: &[f64]| !v.is_empty() && v.iter().all(|x| x.is_finite());
        let sorted = |v: &[f64]| {
            let mut v = v.to_vec();
            // Values equal in total order have the same bits: any sort gives the same list.
            v.sort_unstable_by(f64::total_cmp);
            v
        };
        (usable(base) && usable(cand)).then(|| Differences {
            base: sorted(base),
            cand: sorted(cand),
        })
    }

    fn len(&self) -> u64 {
        (self.base.len() * self.cand.len()) as u64
    }

    /// How many differences have a key at most `k`: for each c, ascending, the b giving
    /// c − b at most `k` are the base from `j` on, and `j` only moves forward (module docs).
    fn at_most(&self, k: u64) -> u64 {
        let nb = self.base.len();
        let mut j = 0;
        let mut count = 0;
        for &c in &self.cand {
            while j < nb && key(c - self.base[j]) > k {
                j += 1;
            }
            if j == nb {
                break;
            }
            count += (nb - j) as u64;
        }
        count
    }

    /// The k-th smallest difference in total order, k in 1..=len: the smallest key with at
    /// least k differences at or below it, bisected between the keys of the smallest and the
    /// largest difference (the count is monotone in the key). It is a difference's key: the
    /// count only steps there.
    fn kth(&self, k: u64) -> f64 {
        let (b, c) = (&self.base, &self.cand);
        let mut lo = key(c[0] - b[b.len() - 1]);
        let mut hi = key(c[c.len() - 1] - b[0]);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at_most(mid) >= k {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        from_key(lo)
    }

    /// The group of differences == `x` (a difference) as the materialised scan has it: (its
    /// first value in sorted order, how many, how many are greater). Only zeros differ in bits
    /// while equal: a −0 difference (−0 − +0) sorts first and then names the group.
    fn group(&self, x: f64) -> (f64, u64, u64) {
        let (first, last) = if x == 0.0 {
            (key(-0.0), key(0.0))
        } else {
            (key(x), key(x))
        };
        // No key is 0: that of −∞ is above it, so first − 1 is fine.
        let below = self.at_most(first - 1);
        let through = self.at_most(last);
        let value = if x != 0.0 {
            x
        } else if self.at_most(first) > below {
            -0.0
        } else {
            0.0
        };
        (value, through - below, self.len() - through)
    }
}

/// A key whose unsigned order is [`f64::total_cmp`]'s: negative values (sign bit set, bits
/// growing with magnitude) have every bit flipped, the others get the sign bit set.
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

fn from_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Sorted pairwise differences c − b: the former implementation, for samples with a
/// non-finite value, and the oracle the tests compare with.
fn sorted_differences(base: &[f64], cand: &[f64]) -> Vec<f64> {
    let mut d: Vec<f64> = cand
        .iter()
        .flat_map(|c| base.iter().map(move |b| c - b))
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

/// The former interval code over the materialised differences, verbatim but for `accepted`
/// taking the distance: for samples with a non-finite value, and the tests' oracle. It keeps
/// its old flaw there: a NaN difference (∞ − ∞) is not == itself, so the grouping loop makes
/// no progress (t = 0) and pushes groups until memory runs out.
pub(super) fn moses_interval_materialised(
    base: &[f64],
    cand: &[f64],
    accepted: Accepted,
) -> Option<Interval> {
    let nn = (base.len() * cand.len()) as u64;
    // Twice U(δ) against its accepted band around n1 n2.
    let accepted = |twice_u: u64| accepted(twice_u.abs_diff(nn));
    let d = sorted_differences(base, cand);
    // Distinct differences ascending: (value, how many, how many are greater).
    let mut groups: Vec<(f64, u64, u64)> = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let t = d[i..].iter().take_while(|&&x| x == d[i]).count();
        groups.push((d[i], t as u64, (d.len() - i - t) as u64));
        i += t;
    }
    // Below every difference 2U = 2 n1 n2, above every one 0: accepted there, no bound.
    if accepted(2 * nn) || accepted(0) {
        return None;
    }
    // Lowest accepted δ: a difference itself (2U = 2 greater + ties) or the gap just above it
    // (2U = 2 greater), which leaves the bound itself out.
    let (lo, lo_open) = groups.iter().find_map(|&(e, t, g)| {
        if accepted(2 * g + t) {
            Some((e, false))
        } else {
            accepted(2 * g).then_some((e, true))
        }
    })?;
    // Highest accepted δ: a difference, or the gap just below it (2U = 2 (greater + ties)).
    let (hi, hi_open) = groups.iter().rev().find_map(|&(e, t, g)| {
        if accepted(2 * g + t) {
            Some((e, false))
        } else {
            accepted(2 * (g + t)).then_some((e, true))
        }
    })?;
    // Bounds are shown closed (module docs of mann_whitney), except one at 0 that the test
    // rejects.
    Some(Interval {
        lo,
        hi,
        lo_open: lo_open && lo == 0.0,
        hi_open: hi_open && hi == 0.0,
    })
}

#[cfg(test)]
#[path = "pairwise_tests.rs"]
mod tests;
