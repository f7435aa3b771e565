use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::Config;
use rand::{Rng, SeedableRng};

use super::*;
use crate::stats::mann_whitney::{
    MannWhitney, hodges_lehmann, invert, mann_whitney, normal_sf, ranked, shift_test,
};

/// The former `hodges_lehmann`.
fn hodges_lehmann_materialised(base: &[f64], cand: &[f64]) -> Option<f64> {
    (!base.is_empty() && !cand.is_empty()).then(|| median_sorted(&sorted_differences(base, cand)))
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
    // Infinities on either side but no ∞ − ∞. The public functions refuse them (the test
    // below); the estimate here still falls back to the former code, with its bits.
    let (base, cand) = (
        [1.0, f64::INFINITY, 2.0],
        [f64::NEG_INFINITY, 0.0, -3.0, 5.0],
    );
    assert!(Differences::new(&base, &cand).is_none());
    assert_eq!(
        median_difference(&base, &cand).to_bits(),
        hodges_lehmann_materialised(&base, &cand).unwrap().to_bits()
    );
    assert!(hodges_lehmann(&base, &cand).is_none());
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

/// The public functions refuse a non-finite value at once: ∞ on both sides once made the former
/// interval code loop until memory ran out.
#[test]
fn the_public_functions_refuse_non_finite_samples() {
    use super::super::mann_whitney::{hodges_lehmann, mann_whitney, shift_test};
    let fine = [1.0, 2.0, 3.0, 4.0];
    for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        let with = [1.0, bad, 3.0];
        let t = std::time::Instant::now();
        assert!(shift_test(&with, &[bad, 2.0, 5.0], 0.95).is_none());
        assert!(shift_test(&fine, &with, 0.95).is_none());
        assert!(mann_whitney(&with, &fine).is_none());
        assert!(hodges_lehmann(&fine, &with).is_none());
        assert!(t.elapsed().as_secs() < 1);
    }
    assert!(shift_test(&fine, &[5.0, 6.0, 7.0, 8.0], 0.9).is_some());
}
