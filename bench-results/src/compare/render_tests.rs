//! Tests of the report's renderings: the mail, the full tables, markdown and JSON, and what
//! each names per kernel.
use super::*;

#[test]
fn the_mail_fits_72_columns_and_40_lines() {
    // Two kernels, one scenario, shaped like the reference fairness comparison.
    let mut results = idle_like(repeats(3, MockResult::nocursor));
    results.extend(idle_like(repeats(3, MockResult::percg)));
    let c = compare(&results, &against("ref-nocursor"));
    let t = render_text(&c);
    if std::env::var_os("SHOW_REPORT").is_some() {
        println!("{t}");
    }
    assert!(t.lines().count() <= 40, "{} lines:\n{t}", t.lines().count());
    for line in t.lines() {
        assert!(
            line.len() <= TEXT_WIDTH,
            "too wide ({}): {line:?}",
            line.len()
        );
        assert!(line.is_ascii(), "non-ASCII: {line:?}");
    }
    for needle in [
        "zswap-bench compare: ref-percg-lock against ref-nocursor",
        "Mann-Whitney",
        "Holm-corrected over the m = ",
        "Hodges-Lehmann",
        "5%",
        "7.3.4 x86_64",
        "2 patches ",
        "Not exercised by this scenario",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    // The same content in markdown.
    let md = render_markdown(&c);
    assert!(md.contains("**Not exercised by this scenario**"));
    assert!(md.contains(&c.conclusion));
}

#[test]
fn called_changes_are_listed_with_their_intervals() {
    let c = compare(&fairness_results(DEFAULT_REPEATS), &against("ref-nocursor"));
    let t = render_text(&c);
    if std::env::var_os("SHOW_REPORT").is_some() {
        println!("{t}");
    }
    assert!(t.contains("Changes against ref-nocursor:"), "{t}");
    assert!(
        t.contains("ref-percg-lock fairness.first_child_share_gap"),
        "{t}"
    );
    assert!(t.contains("improvement") && t.contains("CI [") && t.contains("adj. p"));
    for line in t.lines().chain(render_full_text(&c).lines()) {
        assert!(
            line.len() <= TEXT_WIDTH,
            "too wide ({}): {line:?}",
            line.len()
        );
        assert!(line.is_ascii(), "non-ASCII: {line:?}");
    }
    let md = render_markdown(&c);
    assert!(md.contains("| ref-percg-lock | `fairness.first_child_share_gap` | improvement |"));
}

#[test]
fn spinlocks_and_overcommitted_vcpus_are_named_per_kernel() {
    let mut results = repeats(2, MockResult::percg);
    for r in &mut results {
        r.kernel.cpus = 8;
    }
    let c = compare(&results, &CompareOptions::default());
    let t = render_text(&c);
    assert!(t.contains("native qspinlock"), "{t}");
    assert!(t.contains("overcommitted vCPUs (8 on 2 host"), "{t}");
    assert!(render_full_markdown(&c).contains("(overcommitted)"));
    // A label whose runs used different spinlock implementations is flagged.
    results[1].kernel.spinlocks.as_mut().unwrap().implementation =
        crate::schema::SpinlockImpl::VirtTestAndSet;
    let c = compare(&results, &CompareOptions::default());
    assert!(
        c.warnings.iter().any(|w| w.contains("spinlocks")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn probe_rates_of_old_result_files_are_marked_approximate() {
    let mut results = fairness_results(3);
    let c = compare(&results, &CompareOptions::default());
    // Mocks are written as old files (no probes.window): counts since attach.
    let m = &c.scenarios[0].metrics;
    let get = |n: &str| m.iter().find(|x| x.name == n).unwrap();
    assert!(get("lock.cursor.contended_per_s").approximate);
    assert!(
        !get("workload.pages_per_s").approximate,
        "not from probe counts"
    );
    assert!(c.warnings.iter().any(|w| w.contains("approximate")));
    assert!(render_full_text(&c).contains("approximate: probe counts since attach"));
    // Still computed: the values are there.
    assert!(
        get("lock.cursor.contended_per_s").cells[0]
            .summary
            .is_some()
    );
    for r in &mut results {
        r.probes.window = crate::schema::ProbeWindow::Measured;
    }
    let c = compare(&results, &CompareOptions::default());
    assert!(!c.warnings.iter().any(|w| w.contains("approximate")));
}

#[test]
fn reasons_differing_only_in_counts_are_said_once() {
    assert!(same_but_numbers("none of 29052 calls", "none of 362 calls"));
    assert!(!same_but_numbers("never taken", "not exercised"));
}

#[test]
fn failed_runs_are_left_out_and_reported() {
    let mut results = repeats(3, MockResult::percg);
    results[1].failed = Some("guest console: BUG: soft lockup".into());
    let c = compare(&results, &CompareOptions::default());
    assert_eq!(c.scenarios[0].runs["ref-percg-lock"], (2, 1));
    assert_eq!(
        cell(&c, "workload.pages_per_s", "ref-percg-lock")
            .values
            .len(),
        2
    );
    assert!(c.warnings.iter().any(|w| w.contains("soft lockup")));
}

#[test]
fn full_report_keeps_every_table() {
    let c = compare(&fairness_results(3), &CompareOptions::default());
    let t = render_full_text(&c);
    for needle in [
        "children=8",
        "budget=2M",
        "fairness.first_child_share_gap [ratio, lower is better, floor 0.010",
        "fairness.first_child_share [ratio, informational, not judged",
        "95% CI of shift",
        "p(Holm)",
        "No change called against the baseline.",
        "workload.pages_per_s [pages/s, higher is better",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    // Metrics without data anywhere are listed once, not as tables of zeros.
    let mut m = MockResult::percg(0);
    m.probes = false;
    let t = render_full_text(&compare(&[m.build()], &CompareOptions::default()));
    assert!(t.contains("Not available on any kernel here:"));
    assert!(
        t.contains("lock.cursor.contended_per_s: n/a: locks unavailable"),
        "{t}"
    );
}

#[test]
fn markdown_and_json() {
    let c = compare(&fairness_results(3), &CompareOptions::default());
    let md = render_full_markdown(&c);
    assert!(md.contains("| metric | kernel | n | median |"));
    assert!(md.contains(
        "| fairness.first_child_share_gap (ratio, lower is better) | baseline | 0 | n/a:"
    ));
    assert!(
        md.lines()
            .any(|l| l.starts_with("|  | ref-nocursor | 3 |") && l.contains("| ~ |"))
    );
    let back: Comparison = serde_json::from_str(&render_json(&c)).unwrap();
    // serde_json parses floats to within an ulp, not bit for bit: compare what is stated.
    assert_eq!(back.kernels, c.kernels);
    assert_eq!(
        (&back.method_text, &back.conclusion, back.family.m),
        (&c.method_text, &c.conclusion, c.family.m)
    );
    let verdicts = |c: &Comparison| -> Vec<Option<Verdict>> {
        c.scenarios[0]
            .metrics
            .iter()
            .flat_map(|m| {
                m.cells
                    .iter()
                    .map(|x| x.vs_baseline.and_then(|d| d.verdict))
            })
            .collect()
    };
    assert_eq!(verdicts(&back), verdicts(&c));
    assert_eq!(
        render(&c, Format::Json, false),
        render(&c, Format::Json, true)
    );
    assert_eq!(render(&c, Format::Text, false), render_text(&c));
    assert_eq!(render(&c, Format::Markdown, true), md);
}

#[test]
fn scenarios_are_grouped_separately() {
    let mut results = repeats(3, MockResult::percg);
    results.extend((0..3).map(|i| {
        let mut m = MockResult::percg(i);
        m.scenario = "contention".into();
        m.build()
    }));
    let c = compare(&results, &CompareOptions::default());
    let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fairness-small-budget", "contention"]);
    assert!(
        c.warnings.iter().all(|w| w.contains("approximate")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn runs_that_shared_the_host_are_counted_per_kernel() {
    let mut results = repeats(3, MockResult::percg);
    let c = compare(&results, &CompareOptions::default());
    assert!(c.kernels.iter().all(|k| k.shared_host.is_none()));
    results[0].placement = Some(crate::schema::Placement {
        backend: "local".into(),
        host_cpus: vec![1],
        beside: Some(vec!["quick-baseline-r0".into()]),
        jobs: Some(2),
        ..Default::default()
    });
    let label = results[0].kernel.label().to_string();
    let c = compare(&results, &CompareOptions::default());
    let k = c.kernels.iter().find(|k| k.label == label).unwrap();
    assert_eq!(
        k.shared_host.as_deref(),
        Some("1 of 3 runs ran beside 1 other cell(s)")
    );
    assert!(render_text(&c).contains("1 of 3 runs ran beside"));
}

#[test]
fn split_by_jobs_makes_one_sample_per_jobs_value() {
    let mut results = repeats(4, MockResult::percg);
    let label = results[0].kernel.label().to_string();
    for (i, r) in results.iter_mut().enumerate() {
        if i % 2 == 1 {
            r.placement = Some(crate::schema::Placement {
                jobs: Some(2),
                ..Default::default()
            });
        }
    }
    results[2].placement = Some(crate::schema::Placement {
        jobs: Some(1),
        ..Default::default()
    });
    split_by_jobs(&mut results);
    let labels: Vec<&str> = results.iter().map(|r| r.kernel.label()).collect();
    assert_eq!(
        labels,
        [
            format!("{label} jobs=?"),
            format!("{label} jobs=2"),
            format!("{label} jobs=1"),
            format!("{label} jobs=2")
        ]
    );
}
