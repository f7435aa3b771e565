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
//! Infinities break it (∞ − ∞ is NaN, sorted by its sign bit), so samples with a non-finite
//! value take the former materialising code, kept verbatim ([`sorted_differences`],
//! [`moses_interval_materialised`]): same results, same cost, same flaw (see there). `compare`
//! only passes finite values.
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

use super::mann_whitney::{Null, rejected_at};
use super::{Interval, median_sorted};

/// Whether a doubled distance |2U − n1·n2| is accepted: its p not rejected at the interval's
/// level ([`invert`]).
type Accepted<'a> = &'a dyn Fn(u64) -> bool;

/// A search for the interval's bounds given the accepted distances: [`moses_interval`], or the
/// former [`moses_interval_materialised`] (the tests' oracle).
pub(super) type Bounds = fn(&[f64], &[f64], Accepted) -> Option<Interval>;

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
mod tests {
    use std::time::Instant;

    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::stats::mann_whitney::{
        MannWhitney, hodges_lehmann, mann_whitney, normal_sf, ranked, shift_test,
    };

    /// The former `hodges_lehmann`.
    fn hodges_lehmann_materialised(base: &[f64], cand: &[f64]) -> Option<f64> {
        (!base.is_empty() && !cand.is_empty())
            .then(|| median_sorted(&sorted_differences(base, cand)))
    }

    /// The former `shift_test`.
    fn shift_test_materialised(
        base: &[f64],
        cand: &[f64],
        confidence: f64,
    ) -> Option<(MannWhitney, Option<Interval>)> {
        let r = ranked(cand, base)?;
        let bounds = moses_interval_materialised;
        Some((
            r.test(),
            invert(&r.null, base, cand, 1.0 - confidence, bounds),
        ))
    }

    type Bits = (u64, u64, bool, u64, Option<(u64, u64, bool, bool)>);

    /// Every bit of a shift test's output: `==` on f64 would let −0 pass for +0.
    fn bits(r: Option<(MannWhitney, Option<Interval>)>) -> Option<Bits> {
        r.map(|(m, ci)| {
            let ci = ci.map(|i| (i.lo.to_bits(), i.hi.to_bits(), i.lo_open, i.hi_open));
            (m.u.to_bits(), m.p.to_bits(), m.exact, m.min_p.to_bits(), ci)
        })
    }

    /// The estimate, and the test with its interval, are the former ones, bit for bit: the
    /// whole shift test at 95 % and 90 %, the interval alone at other levels (one ranking: the
    /// exact null with ties is the costly part).
    fn assert_same(base: &[f64], cand: &[f64]) {
        assert_eq!(
            hodges_lehmann(base, cand).map(f64::to_bits),
            hodges_lehmann_materialised(base, cand).map(f64::to_bits),
            "{base:?} {cand:?}"
        );
        for confidence in [0.95, 0.9] {
            assert_eq!(
                bits(shift_test(base, cand, confidence)),
                bits(shift_test_materialised(base, cand, confidence)),
                "{base:?} {cand:?} at {confidence}"
            );
        }
        let r = ranked(cand, base).unwrap();
        for confidence in [0.99, 0.8, 0.5, 1.0, 0.0] {
            let ci = |bounds: Bounds| {
                let ci = invert(&r.null, base, cand, 1.0 - confidence, bounds);
                ci.map(|i| (i.lo.to_bits(), i.hi.to_bits(), i.lo_open, i.hi_open))
            };
            assert_eq!(
                ci(moses_interval),
                ci(moses_interval_materialised),
                "{base:?} {cand:?} at {confidence}"
            );
        }
    }

    fn config(cases: u32) -> Config {
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// 1 to 40 values of `value`.
    fn sample(value: impl Strategy<Value = f64>) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(value, 1..=40)
    }

    /// 1 to 12 values of `value`, for the checks that go over every difference.
    fn small(value: impl Strategy<Value = f64>) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(value, 1..=12)
    }

    /// The interval of `bounds` as bits, for any prefix `0..w` of accepted distances.
    fn cut(bounds: Bounds, base: &[f64], cand: &[f64], w: u64) -> Option<(u64, u64, bool, bool)> {
        let ci = bounds(base, cand, &move |dist| dist < w);
        ci.map(|i| (i.lo.to_bits(), i.hi.to_bits(), i.lo_open, i.hi_open))
    }

    /// Few distinct values, zeros of both signs among them: ties within, between and among the
    /// differences.
    fn tied() -> impl Strategy<Value = f64> {
        proptest::sample::select(vec![-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0])
    }

    /// Finite values of every magnitude and sign, subnormals and zeros: differences that round,
    /// tie after rounding, and overflow to ±∞.
    fn any_finite() -> impl Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        prop_oneof![
            POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
            -1e3..1e3f64,
            (-20i32..20).prop_map(f64::from),
        ]
    }

    proptest! {
        #![proptest_config(config(1_000))]

        #[test]
        fn matches_the_materialised_differences_with_ties(
            base in sample(tied()),
            cand in sample(tied()),
        ) {
            assert_same(&base, &cand);
        }

        #[test]
        fn matches_the_materialised_differences_continuous(
            base in sample(-1e3..1e3f64),
            cand in sample(-1e3..1e3f64),
            shift in -50.0..50.0f64,
        ) {
            let cand: Vec<f64> = cand.iter().map(|c| c * 0.1 + shift).collect();
            assert_same(&base, &cand);
        }

        #[test]
        fn matches_the_materialised_differences_any_finite(
            base in sample(any_finite()),
            cand in sample(any_finite()),
        ) {
            assert_same(&base, &cand);
        }

        #[test]
        fn matches_the_materialised_differences_equal_samples(base in sample(any_finite())) {
            assert_same(&base, &base);
            let negated: Vec<f64> = base.iter().map(|x| -x).collect();
            assert_same(&base, &negated);
        }

        #[test]
        fn every_order_statistic_is_the_sorted_entry(
            base in small(any_finite()),
            cand in small(tied()),
        ) {
            let sorted = sorted_differences(&base, &cand);
            let d = Differences::new(&base, &cand).unwrap();
            for (k, x) in sorted.iter().enumerate() {
                assert_eq!(d.kth(k as u64 + 1).to_bits(), x.to_bits(), "{k}");
            }
        }

        #[test]
        fn the_search_matches_the_scan_at_every_cut(
            base in small(tied()),
            cand in small(tied()),
        ) {
            // Any prefix of accepted distances, not only those a null distribution gives.
            let nn = (base.len() * cand.len()) as u64;
            for w in 0..=nn + 1 {
                assert_eq!(
                    cut(moses_interval, &base, &cand, w),
                    cut(moses_interval_materialised, &base, &cand, w),
                    "{base:?} {cand:?} below {w}"
                );
            }
        }
    }

    #[test]
    fn non_finite_values_take_the_former_path() {
        // Infinities on either side but no ∞ − ∞: a NaN difference would make the former
        // interval code, and so the fallback, loop until memory runs out.
        let (base, cand) = (
            [1.0, f64::INFINITY, 2.0],
            [f64::NEG_INFINITY, 0.0, -3.0, 5.0],
        );
        assert!(Differences::new(&base, &cand).is_none());
        assert_same(&base, &cand);
        let nan = [f64::NAN, 1.0];
        assert_eq!(
            hodges_lehmann(&nan, &cand).map(f64::to_bits),
            hodges_lehmann_materialised(&nan, &cand).map(f64::to_bits)
        );
    }

    #[test]
    fn differences_that_overflow_stay_on_the_new_path() {
        // Finite values whose differences round to ±∞ (and ±MAX): still ordered, still exact.
        let base = [-1.5e308, -0.0, 1e308, f64::MAX, 1.0];
        let cand = [1.5e308, -1e308, 0.0, -f64::MAX, f64::MAX, 2.0];
        assert!(Differences::new(&base, &cand).is_some());
        assert!(sorted_differences(&base, &cand).contains(&f64::INFINITY));
        assert_same(&base, &cand);
        assert_same(&cand, &base);
    }

    #[test]
    fn keys_sort_as_total_cmp() {
        let mut v = vec![
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
        ];
        v.sort_by_key(|&x| key(x));
        for w in v.windows(2) {
            assert!(w[0].total_cmp(&w[1]).is_lt(), "{w:?}");
        }
        for x in v {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
    }

    /// 300 values a side (the normal approximation), from a seeded generator.
    fn large_cases() -> Vec<(&'static str, Vec<f64>, Vec<f64>)> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(300);
        let mut draw = |f: &mut dyn FnMut(&mut rand_chacha::ChaCha8Rng) -> f64| {
            (0..300).map(|_| f(&mut rng)).collect::<Vec<f64>>()
        };
        let continuous = draw(&mut |r| 100.0 + r.random_range(-5.0..5.0));
        let shifted = draw(&mut |r| 100.6 + r.random_range(-5.0..5.0));
        let counts = draw(&mut |r| f64::from(r.random_range(0..=5)));
        let more = draw(&mut |r| f64::from(r.random_range(0..=6)));
        let rare = draw(&mut |r| f64::from(u8::from(r.random_range(0..40) == 0)));
        let rarer = draw(&mut |r| f64::from(u8::from(r.random_range(0..60) == 0)));
        let zeros = draw(&mut |r| if r.random() { -0.0 } else { 0.0 });
        let far: Vec<f64> = continuous.iter().map(|x| x + 20.0).collect();
        vec![
            ("continuous, shifted", continuous.clone(), shifted.clone()),
            (
                "continuous, no shift",
                continuous.clone(),
                continuous.clone(),
            ),
            ("separated", continuous.clone(), far),
            ("counts 0..=5 vs 0..=6", counts.clone(), more),
            ("rare events", rare.clone(), rarer),
            ("zeros of both signs", zeros.clone(), rare),
            ("counts vs zeros", counts, zeros),
        ]
    }

    #[test]
    fn matches_the_materialised_differences_at_300_a_side() {
        for (name, base, cand) in large_cases() {
            assert!(!mann_whitney(&cand, &base).unwrap().exact, "{name}");
            assert_same(&base, &cand);
        }
    }

    #[test]
    fn the_normal_p_falls_on_a_fine_grid() {
        // What the module docs' argument takes from the erfc fit: p falls by a relative of
        // at least √(2/π) per unit of z (here with 1 % to spare) between points 1e-6 apart.
        let step = 1e-6;
        let mut prev = 2.0 * normal_sf(0.0);
        for i in 1..=9_000_000 {
            let p = 2.0 * normal_sf(f64::from(i) * step);
            assert!(
                prev / p - 1.0 >= 0.99 * (2.0 / std::f64::consts::PI).sqrt() * step,
                "at z = {}: {prev} then {p}",
                f64::from(i) * step
            );
            prev = p;
        }
    }

    #[test]
    fn five_thousand_a_side_in_well_under_two_seconds() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5_000);
        let mut draw = |shift: f64| -> Vec<f64> {
            (0..5_000)
                .map(|_| shift + rng.random_range(0.0..10.0f64).powi(2))
                .collect()
        };
        let (base, cand) = (draw(0.0), draw(0.3));
        let start = Instant::now();
        let shift = hodges_lehmann(&base, &cand).unwrap();
        let (test, ci) = shift_test(&base, &cand, 0.95).unwrap();
        let elapsed = start.elapsed();
        let ci = ci.unwrap();
        println!(
            "5,000 vs 5,000: HL {shift}, p {}, 95 % [{}, {}] in {elapsed:?}",
            test.p, ci.lo, ci.hi
        );
        assert!(ci.lo <= shift && shift <= ci.hi);
        assert!(elapsed.as_secs_f64() < 2.0, "{elapsed:?}");
    }
}
