//! The series' own claim on a real guest (issue 22): `burst-after-idle` on the reference series
//! with each idle action. The positive controls hold (writeback during the burst when the idle
//! window does nothing, before it when it writes back proactively), every figure of the
//! experiment is present, the request worker's HdrHistogram interval log reads back with
//! HdrHistogram's Python implementation (`scripts/hlog-check`, independent of the Rust crate
//! that wrote it) to the result's count, max and p99, and the percentile plot is drawn.
mod common;
use common::*;

use bench_results::schema::{IdleAction, ResultFile};

fn run_action(action: &str, out: &std::path::Path) -> ResultFile {
    let o = run(&[
        "run",
        "scenarios/burst-after-idle.toml",
        "--kernel",
        "ref-nocursor",
        "--idle-action",
        action,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{action}: run failed");
    ResultFile::read(out).expect("result.json")
}

/// Every figure the experiment reports is there, and the log reads back independently.
fn figures_present(action: &str, r: &ResultFile, dir: &std::path::Path) {
    let b = r.burst.as_ref().expect("burst recorded");
    assert_eq!(b.action.as_str(), action);
    assert!(
        b.completion_ns.is_some(),
        "{action}: burst did not complete: {b:?}"
    );
    assert!(
        b.psi_some_us.is_some() && b.psi_full_us.is_some(),
        "{action}: PSI missing"
    );
    let w = &r.latency[0];
    let (idle, burst) = (w.idle.as_ref().unwrap(), w.burst.as_ref().unwrap());
    assert!(idle.count > 1000 && burst.count > 0, "{action}: {w:?}");
    assert_eq!(
        w.all.count, w.requests,
        "{action}: the log holds every request the worker counted"
    );
    assert!(burst.p99_ns > 0 && burst.p999_ns >= burst.p99_ns);
    assert!(
        w.intervals.len() >= 20,
        "{action}: one interval a second: {}",
        w.intervals.len()
    );
    if action != "nothing" {
        let c = b.action_call.as_ref().expect("the idle action's writes");
        assert!(
            c.calls >= 1 && c.latency.count == c.calls,
            "{action}: {c:?}"
        );
    }
    let o = std::process::Command::new(repo().join("scripts/hlog-check"))
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{action}: hlog-check: {text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("== result.json"), "{text}");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn burst_after_idle_runs_each_action_with_its_control() {
    require_vm();
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = vec![];
    for action in ["nothing", "reclaim", "proactive"] {
        let dir = tmp.path().join(action);
        let r = run_action(action, &dir);
        figures_present(action, &r, &dir);
        let b = r.burst.as_ref().unwrap();
        // The positive controls: where writeback happened is what the action says.
        match b.action {
            IdleAction::Nothing => assert!(
                b.exercised && b.writeback_burst > 0,
                "nothing: writeback must happen during the burst: {b:?}"
            ),
            IdleAction::Proactive => assert!(
                b.exercised && b.writeback_idle > 0,
                "proactive: writeback must happen before the burst: {b:?}"
            ),
            IdleAction::Reclaim => {}
        }
        dirs.push(dir);
    }
    let plots = tmp.path().join("plots");
    let mut args = vec!["plot".to_string()];
    args.extend(dirs.iter().map(|d| d.to_string_lossy().into_owned()));
    args.extend(["--out".into(), plots.to_string_lossy().into_owned()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(run(&a).status.success());
    let drawn: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        drawn
            .iter()
            .any(|f| f.contains("nines") && f.ends_with(".png")),
        "no percentile plot among {drawn:?}"
    );
}
