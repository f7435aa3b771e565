use super::*;
use crate::schema::{Histogram, Unit};
use crate::stats::{DEFAULT_REPEATS, Verdict};
use crate::testing::{MockResult, repeats};

/// The report's renderings and what they name (mail, full tables, markdown, JSON).
#[path = "render_tests.rs"]
mod render;

fn cell<'a>(c: &'a Comparison, metric: &str, kernel: &str) -> &'a KernelCell {
    c.scenarios[0]
        .metrics
        .iter()
        .find(|m| m.name == metric)
        .unwrap_or_else(|| panic!("no metric {metric}"))
        .cell(kernel)
        .unwrap_or_else(|| panic!("no kernel {kernel} for {metric}"))
}

fn verdict(c: &Comparison, metric: &str, kernel: &str) -> Option<Verdict> {
    cell(c, metric, kernel).vs_baseline.and_then(|d| d.verdict)
}

fn at(n: usize) -> u32 {
    n as u32
}

fn fairness_results(n: usize) -> Vec<ResultFile> {
    let mut v = repeats(at(n), MockResult::baseline);
    v.extend(repeats(at(n), MockResult::nocursor));
    v.extend(repeats(at(n), MockResult::percg));
    v
}

fn against(baseline: &str) -> CompareOptions {
    CompareOptions {
        baseline: Some(baseline.into()),
        ..Default::default()
    }
}

/// Mocks shaped like fairness-small-budget: idle workers, one proactive thread, shrink_worker
/// never woken, nothing stored while measured.
fn idle_like(mut v: Vec<ResultFile>) -> Vec<ResultFile> {
    for r in &mut v {
        r.scenario.toml = "name = \"fairness-small-budget\"\n[[worker]]\nmemcg = \"p/c\"\n\
                           size = \"24M\"\npattern = \"idle\"\n[[proactive]]\nmemcg = \"p\"\n"
            .into();
        r.workload.pages_touched = 0;
        r.workload.major_faults = 0;
        r.timeseries.clear();
        if let Some(s) = r.probes.shrink_worker.as_mut() {
            s.wakeups = 0;
        }
        if let Some(s) = r.probes.store.as_mut() {
            s.calls = 0;
            s.failures = 0;
        }
        for l in r.probes.locks.iter_mut().flatten() {
            l.contended = 0;
            l.total_wait_ns = 0;
            l.max_wait_ns = 0;
            l.wait = Histogram::empty(Unit::Ns);
        }
    }
    v
}

#[test]
fn nocursor_unfairness_is_a_regression_at_the_default_repeats() {
    let c = compare(
        &fairness_results(DEFAULT_REPEATS),
        &against("ref-percg-lock"),
    );
    assert_eq!(c.scenarios.len(), 1);
    let s = &c.scenarios[0];
    assert_eq!(s.kernels, ["ref-percg-lock", "baseline", "ref-nocursor"]);
    assert_eq!(s.runs["ref-nocursor"], (DEFAULT_REPEATS, 0));
    assert!(c.family.reachable, "{:?}", c.family);

    let fair = cell(&c, "fairness.proactive_jain", "ref-percg-lock");
    assert!(fair.summary.unwrap().median >= 0.9, "{fair:?}");
    // The first child getting 0.8 instead of 1/8 is further from fair: worse.
    let gap = cell(&c, "fairness.first_child_share_gap", "ref-nocursor");
    let d = gap.vs_baseline.unwrap();
    assert_eq!(d.verdict, Some(Verdict::Regression));
    assert!(d.ci.unwrap().lo > 0.0);
    assert!(d.p_adjusted.unwrap() < 0.05 && d.p_value <= d.p_adjusted.unwrap());
    assert_eq!(
        verdict(&c, "fairness.proactive_jain", "ref-nocursor"),
        Some(Verdict::Regression)
    );
    // The raw share is shown, never judged.
    let raw = cell(&c, "fairness.first_child_share", "ref-nocursor");
    assert!(raw.summary.unwrap().median > 0.5);
    assert_eq!(raw.vs_baseline.unwrap().verdict, None);
    // Per-memcg locks contend less than the global lock in the mocks: an improvement for
    // percg when nocursor is the baseline.
    let c2 = compare(&fairness_results(DEFAULT_REPEATS), &against("ref-nocursor"));
    assert_eq!(
        verdict(&c2, "lock.cursor.contended_per_s", "ref-percg-lock"),
        Some(Verdict::Improvement)
    );
    assert_eq!(
        verdict(&c2, "fairness.first_child_share_gap", "ref-percg-lock"),
        Some(Verdict::Improvement)
    );
}

#[test]
fn three_repeats_call_nothing_and_say_how_many_are_needed() {
    let c = compare(&fairness_results(3), &against("ref-percg-lock"));
    assert!(!c.family.reachable);
    for m in &c.scenarios[0].metrics {
        for cl in &m.cells {
            if let Some(v) = cl.vs_baseline.and_then(|d| d.verdict) {
                assert_eq!(v, Verdict::NoChange, "{} {}", m.name, cl.kernel);
            }
        }
    }
    let need = crate::stats::repeats_needed(c.family.m, 0.05);
    assert!(need > 3);
    let want = format!("need >= {need} repeats per kernel for alpha = 0.05");
    for report in [render_text(&c), render_full_text(&c), render_markdown(&c)] {
        // Wrapping may break a sentence anywhere.
        let flat = report.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("smallest possible p is 0.10"), "{report}");
        assert!(flat.contains(&want), "{report}");
    }
    assert!(render_json(&c).contains(&want));
}

#[test]
fn the_family_is_every_judged_exercised_comparison() {
    let c = compare(
        &fairness_results(DEFAULT_REPEATS),
        &CompareOptions::default(),
    );
    let mut judged = 0;
    for m in &c.scenarios[0].metrics {
        for cl in m.cells.iter().skip(1) {
            let Some(d) = cl.vs_baseline else { continue };
            if m.direction.judged() {
                judged += 1;
                assert!(d.verdict.is_some() && d.p_adjusted.is_some(), "{}", m.name);
            } else {
                assert_eq!((d.verdict, d.p_adjusted), (None, None), "{}", m.name);
            }
        }
    }
    assert_eq!(c.family.m, judged);
    assert!(c.method_text.contains(&format!("m = {judged} judged")));
    // Self-cost differs wildly between kernels in real runs; it is never a verdict.
    let mut results = fairness_results(DEFAULT_REPEATS);
    for r in results
        .iter_mut()
        .filter(|r| r.kernel.label() == "ref-nocursor")
    {
        r.probes.self_cost[0].run_time_ns *= 20;
    }
    let c = compare(&results, &CompareOptions::default());
    let d = cell(&c, "probe.overhead_ns_per_s", "ref-nocursor")
        .vs_baseline
        .unwrap();
    assert!(d.p_value < 0.001 && d.verdict.is_none());
}

#[test]
fn missing_data_is_not_available_never_zero() {
    let c = compare(&fairness_results(3), &CompareOptions::default());
    assert_eq!(c.scenarios[0].baseline, "baseline");
    let b = cell(&c, "proactive.latency_p99_ns", "baseline");
    assert!(b.values.is_empty() && b.summary.is_none());
    assert!(
        b.unavailable
            .as_deref()
            .unwrap()
            .contains("no proactive writeback interface")
    );
    // No baseline numbers -> no difference is claimed.
    let n = cell(&c, "proactive.latency_p99_ns", "ref-nocursor");
    assert!(n.summary.is_some() && n.vs_baseline.is_none());
    // The baseline kernel has no per-memcg lock; the plan's reason travels with it.
    let p = cell(&c, "lock.per_memcg.contended_per_s", "baseline");
    assert!(
        p.unavailable.as_deref().unwrap().contains("per-memcg"),
        "{p:?}"
    );

    let mut m = MockResult::baseline(0);
    m.probes = false;
    let r = m.build();
    let c = compare(std::slice::from_ref(&r), &CompareOptions::default());
    let l = cell(&c, "lock.cursor.contended_per_s", "baseline");
    assert!(l.summary.is_none());
    assert!(
        l.unavailable.as_deref().unwrap().contains("no BTF"),
        "{l:?}"
    );
}

#[test]
fn identical_distributions_give_no_change() {
    let mut results = repeats(at(DEFAULT_REPEATS), MockResult::percg);
    results.extend((0..at(DEFAULT_REPEATS)).map(|i| {
        let mut m = MockResult::percg(i).kernel("ref-percg-lock-again");
        m.seed = 4242;
        m.build()
    }));
    let c = compare(&results, &against("ref-percg-lock"));
    assert!(c.family.reachable);
    let mut checked = 0;
    for m in &c.scenarios[0].metrics {
        if let Some(d) = m.cell("ref-percg-lock-again").unwrap().vs_baseline
            && m.direction.judged()
        {
            assert_eq!(d.verdict, Some(Verdict::NoChange), "{}: {d:?}", m.name);
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} metrics compared");
}

#[test]
fn not_exercised_is_said_once_with_its_reason() {
    let mut results = idle_like(repeats(3, MockResult::nocursor));
    results.extend(idle_like(repeats(3, MockResult::percg)));
    let c = compare(&results, &against("ref-nocursor"));
    let m = |n: &str| c.scenarios[0].metrics.iter().find(|m| m.name == n).unwrap();
    assert!(
        m("workload.pages_per_s")
            .not_exercised
            .as_deref()
            .unwrap()
            .contains("idle")
    );
    assert!(m("lock.cursor.contended_per_s").not_exercised.is_some());
    // Not compared, so not in the family either.
    assert!(m("workload.pages_per_s").cells[1].vs_baseline.is_none());
    assert!(m("fairness.proactive_jain").not_exercised.is_none());

    let full = render_full_text(&c);
    let line = "workload.pages_per_s: n/a: not exercised by this scenario: every";
    assert_eq!(full.matches(line).count(), 1, "{full}");
    assert!(
        !full.contains("workload.pages_per_s [pages/s"),
        "no table of zeros: {full}"
    );
    let mail = render_text(&c);
    assert!(mail.contains("Not exercised by this scenario (n/a, not a measured 0):"));
    assert!(
        mail.contains("workload.{pages_per_s, major_faults_per_s}: every memory"),
        "{mail}"
    );
    assert_eq!(mail.matches("workload.").count(), 1, "{mail}");
}

/// Major faults per second as given, one run each, on `kernel`.
fn faults_runs(kernel: &str, faults_per_s: &[u64]) -> Vec<ResultFile> {
    faults_per_s
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let m = MockResult::baseline(at(i)).kernel(kernel);
            let mut r = m.build();
            r.workload.major_faults = f * m.duration_s;
            r
        })
        .collect()
}

fn faults_only() -> CompareOptions {
    CompareOptions {
        baseline: Some("baseline".into()),
        metrics: Some(vec!["workload.major_faults_per_s".into()]),
        ..Default::default()
    }
}

/// The review's case: with ties and unequal repeats the smallest p of the values at hand (1/35)
/// is below what 4 vs 3 repeats give without ties (2/35 > 0.05). The report calls the change,
/// and its conclusion says so instead of "No change can be called".
#[test]
fn a_change_called_with_ties_is_what_the_conclusion_says() {
    let mut results = faults_runs("baseline", &[3, 3, 3, 0]);
    results.extend(faults_runs("ref-percg-lock", &[5, 5, 6]));
    let c = compare(&results, &faults_only());
    let d = cell(&c, "workload.major_faults_per_s", "ref-percg-lock")
        .vs_baseline
        .unwrap();
    assert_eq!(c.family.m, 1);
    assert!((d.p_value - 1.0 / 35.0).abs() < 1e-12, "{d:?}");
    assert!((d.min_p - 1.0 / 35.0).abs() < 1e-12, "{d:?}");
    assert_eq!(d.verdict, Some(Verdict::Regression));
    // The interval agrees: 0 is out of it.
    assert!(!d.ci.unwrap().contains(0.0), "{d:?}");
    assert!(
        c.family.reachable && c.family.underpowered == 0,
        "{:?}",
        c.family
    );
    assert_eq!(c.family.called, 1);
    assert_eq!(
        c.conclusion,
        "1 of m = 1 judged comparisons called (the smallest p must be < 0.050)."
    );
    let t = render_text(&c);
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!flat.contains("No change can be called"), "{t}");
    assert!(
        flat.contains("ref-percg-lock workload.major_faults_per_s regression"),
        "{t}"
    );
    assert!(flat.contains("CI [+2.00, +6.00]"), "{t}");
}

/// When ties, not the repeats, set the smallest p, the conclusion says so.
#[test]
fn ties_that_keep_every_p_high_are_named() {
    let mut results = faults_runs("baseline", &[0, 0, 0]);
    results.extend(faults_runs("ref-percg-lock", &[0, 0, 1]));
    let c = compare(&results, &faults_only());
    assert!(!c.family.reachable && c.family.best_min_p == Some(1.0));
    let flat = c
        .conclusion
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.starts_with(
            "No change can be called: with 3 repeats per kernel and the ties among their \
             values the smallest possible p is 1.0,"
        ),
        "{flat}"
    );
}

/// "exact" is said only where the exact distribution was used: not above 60 runs.
#[test]
fn exact_is_said_only_up_to_60_runs() {
    let c = compare(
        &fairness_results(DEFAULT_REPEATS),
        &against("ref-percg-lock"),
    );
    assert_eq!(c.family.approximate, 0);
    assert!(
        c.method_text
            .starts_with("exact two-sided Mann-Whitney U per metric")
    );
    assert!(
        c.method_text
            .contains("CI: exact 95% (Moses), per comparison.")
    );
    let c = compare(&fairness_results(31), &against("ref-percg-lock"));
    assert!(c.family.approximate > 0, "{:?}", c.family);
    assert!(!c.method_text.contains("exact 95%"), "{}", c.method_text);
    assert!(
        c.method_text.starts_with(&format!(
            "two-sided Mann-Whitney U (exact up to 60 runs in all; the normal approximation, \
             for p and CI, in the {} comparison(s) with more) per metric",
            c.family.approximate
        )),
        "{}",
        c.method_text
    );
    assert!(c.method_text.contains("CI: 95% (Moses), per comparison."));
    let d = cell(&c, "fairness.proactive_jain", "ref-nocursor")
        .vs_baseline
        .unwrap();
    assert!(!d.exact && d.min_p <= d.p_value);
}
