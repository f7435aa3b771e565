//! Tests of the exact Mann–Whitney test, its null distribution and the Moses interval.
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
            let (a, b): (Vec<_>, Vec<_>) = (0..pooled.len()).partition(|i| mask & (1 << i) != 0);
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
