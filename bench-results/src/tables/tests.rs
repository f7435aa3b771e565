use super::*;
use crate::schema::{Crosscheck, PlanEntry, PlanStatus, ProactiveCall};
use crate::testing::MockResult;

fn with_calls(mut r: ResultFile, written: &[u64]) -> ResultFile {
    r.proactive_writes.per_thread[0].per_call = written
        .iter()
        .enumerate()
        .map(|(i, &w)| ProactiveCall {
            start_ns: i as u64,
            ns: 1,
            ret: if w > 0 { "0" } else { "-EAGAIN" }.into(),
            written: Some(w),
        })
        .collect();
    r
}

#[test]
fn fairness_table_has_a_row_per_kernel_and_the_call_thirds() {
    let mut runs = vec![];
    for i in 0..3 {
        runs.push(with_calls(
            MockResult::nocursor(i).build(),
            &[4096, 4096, 4096, 0, 0, 0],
        ));
        runs.push(with_calls(
            MockResult::percg(i).build(),
            &[0, 0, 0, 0, 8192, 8192],
        ));
    }
    let t = render(Kind::Fairness, &runs, None).unwrap();
    let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("| ref-")).collect();
    assert_eq!(rows.len(), 2, "{t}");
    // No cursor writes from the first call; the cursor design only in its last third.
    assert!(
        rows[0].contains("| 0 |") && rows[0].contains("8.00K / 4.00K / 0B"),
        "{t}"
    );
    assert!(
        rows[1].contains("| 4 |") && rows[1].contains("0B / 0B / 16.0K"),
        "{t}"
    );
}

#[test]
fn contention_table_lists_each_run_and_the_cross_check() {
    let mut runs: Vec<ResultFile> = (0..2).map(|i| MockResult::percg(i).build()).collect();
    for r in &mut runs {
        r.crosschecks.push(Crosscheck {
            what: "watched spinlock waits: slow-path waits timed vs kprobe entries".into(),
            bpf: 7,
            kernel: 7,
            agree: true,
            note: String::new(),
        });
    }
    let t = render(Kind::ContentionRuns, &runs, None).unwrap();
    let row = t
        .lines()
        .find(|l| l.starts_with("| ref-percg-lock"))
        .unwrap();
    assert!(row.contains("| 2 |"), "{row}");
    assert!(row.contains("7 = 7 ×2"), "{row}");
    // Two runs, two values in the per-run columns.
    assert_eq!(
        row.split('|').nth(3).unwrap().matches(',').count(),
        1,
        "{row}"
    );
}

fn walk(mut r: ResultFile, on: bool) -> ResultFile {
    r.probe_plan.push(PlanEntry {
        metric: "cursor_iter.walk_steps".into(),
        mechanism: if on {
            crate::schema::Mechanism::Fentry
        } else {
            crate::schema::Mechanism::None
        },
        target: String::new(),
        status: if on {
            PlanStatus::Live
        } else {
            PlanStatus::Unavailable
        },
        reason: None,
    });
    r
}

#[test]
fn walk_steps_table_judges_on_against_off_per_kernel() {
    let mut runs = vec![];
    for i in 0..6 {
        runs.push(walk(MockResult::percg(i).build(), false));
        // The probe inside the lock: twice the contention.
        let mut m = MockResult::percg(i + 10);
        m.lock_contended_per_s *= 2.0;
        runs.push(walk(m.build(), true));
    }
    let t = render(Kind::WalkSteps, &runs, None).unwrap();
    let row = t
        .lines()
        .find(|l| l.contains("lock.cursor.contended_per_s"))
        .unwrap();
    assert!(row.contains("6 / 6") && row.contains("regression"), "{t}");
    // Runs that are all off cannot answer it.
    let off: Vec<ResultFile> = runs
        .into_iter()
        .filter(|r| !crate::schema::walk_steps_on(r))
        .collect();
    assert!(
        render(Kind::WalkSteps, &off, None)
            .unwrap_err()
            .contains("on and off")
    );
}

#[test]
fn an_empty_set_is_an_error_not_an_empty_table() {
    let mut r = MockResult::percg(0).build();
    r.failed = Some("boom".into());
    assert!(render(Kind::Fairness, &[r], None).is_err());
}

#[test]
fn applied_table_lists_each_patch_how_it_went_in_and_the_build_time() {
    use crate::schema::AppliedPatch;
    let mut v5 = MockResult::nocursor(0).kernel("posted-v5").build();
    let s = v5.kernel.series.as_mut().unwrap();
    s.build_secs = Some(1249.4);
    s.applied = vec![
        AppliedPatch {
            patch: "fix-up a.patch before \"[PATCH v5 1/6] x\"".into(),
            how: "git am".into(),
        },
        AppliedPatch {
            patch: "[PATCH v5 1/6] x".into(),
            how: "patch -F2: mm/vmscan.c hunk #1 fuzz 1".into(),
        },
    ];
    let v3 = MockResult::nocursor(0).kernel("posted-v3").build();
    let base = MockResult::baseline(0).build();
    let t = render(Kind::Applied, &[v5.clone(), v5, v3, base], None).unwrap();
    assert!(
        t.contains(
            "| posted-v5 | 2 | 1249 s | 1 | fix-up a.patch before \"[PATCH v5 1/6] x\" | git am |"
        ),
        "{t}"
    );
    assert!(
        t.contains("|  |  |  | 2 | [PATCH v5 1/6] x | patch -F2: mm/vmscan.c hunk #1 fuzz 1 |"),
        "{t}"
    );
    assert!(t.contains("| posted-v3 | 1 | n/a: not recorded |"), "{t}");
    assert!(t.contains("| baseline | 1 | | | (no patches) | |"), "{t}");
}
