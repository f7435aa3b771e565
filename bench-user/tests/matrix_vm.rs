//! A matrix survives its runner being SIGKILLed and a kernel panic in one cell, and
//! `matrix --resume` completes it: no QEMU outlives the runner, finished cells stay as they are,
//! the crashed cell is marked failed and listed in the report, no result of it claims numbers;
//! resuming reruns only what is missing or failed and keeps every earlier attempt beside it.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn results_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("result.json").is_file() {
        out.push(dir.join("result.json"));
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            results_under(&e.path(), out);
        }
    }
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn matrix(args: &[&str], fault: Option<&str>) -> Output {
    let mut c = Command::new(zb());
    c.arg("matrix").args(args).current_dir(repo());
    if let Some(f) = fault {
        c.env("ZSWAP_BENCH_FAULT", f)
            .env("ZSWAP_BENCH_ALLOW_FAULTS", "1");
    }
    let o = c.output().unwrap();
    eprintln!(
        "$ matrix {args:?} (fault {fault:?})\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Waits (up to `secs`) for `f` to hold, polling every 200 ms.
fn wait_for(secs: u64, what: &str, f: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed().as_secs() < secs, "{what}: not after {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn a_killed_then_panicked_matrix_keeps_finished_cells_and_resume_completes_it() {
    require_vm();
    let d = tempfile::Builder::new()
        .prefix("matrix-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let m = d.path().join("m.toml");
    std::fs::write(
        &m,
        "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 2\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let (m, o) = (m.to_str().unwrap(), out.to_str().unwrap());
    let (r0, r1) = (out.join("quick-baseline-r0"), out.join("quick-baseline-r1"));
    let results = |dir: &Path| {
        let mut v = vec![];
        results_under(dir, &mut v);
        v
    };

    // 1. SIGKILL the host runner while cell r1 boots, after r0 finished: no QEMU stays, and
    //    r0's result is whole.
    let mut runner = Command::new(zb())
        .args(["matrix", m, "--out", o])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(400, "cell r0's result", || results(&r0).len() == 1);
    wait_for(120, "cell r1's QEMU", || {
        r1.join("console.log").is_file() && !children_named(runner.id(), "qemu-system").is_empty()
    });
    let qemu = children_named(runner.id(), "qemu-system");
    assert!(
        !qemu.is_empty(),
        "the runner has a QEMU child to outlive it"
    );
    runner.kill().unwrap();
    runner.wait().unwrap();
    for (pid, _) in qemu {
        wait_for(15, "QEMU to die with its runner", || gone(pid));
    }
    let r0_result = results(&r0).pop().unwrap();
    let r0_bytes = std::fs::read(&r0_result).unwrap();
    assert!(json(&r0_result)["failed"].is_null());

    // The same --out again without --resume: refused before anything boots.
    let again = matrix(&[m, "--out", o], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // 2. Resume while r1's kernel panics at the start of its measured phase: r0 is kept, r1
    //    fails naming the panic, no result of r1 claims numbers, the report lists it.
    let panicked = matrix(&[m, "--out", o, "--resume"], Some("panic:-r1"));
    assert!(
        !panicked.status.success(),
        "a matrix with a failed cell must fail"
    );
    let err = String::from_utf8_lossy(&panicked.stderr);
    assert!(
        err.to_lowercase().contains("kernel panic"),
        "the error names the panic"
    );
    assert_eq!(
        err.matches("done in an earlier attempt").count(),
        1,
        "{err}"
    );
    for f in results(&r1) {
        assert!(
            !json(&f)["failed"].is_null(),
            "{} claims numbers",
            f.display()
        );
    }
    let report = std::fs::read_to_string(out.join("report-quick.txt")).unwrap();
    assert!(
        report.contains("Failed cells") && report.contains("r1"),
        "{report}"
    );

    // 3. Resume again: only r1 runs; both earlier attempts of it are kept beside it.
    let resumed = matrix(&[m, "--out", o, "--resume"], None);
    assert!(resumed.status.success());
    assert_eq!(std::fs::read(&r0_result).unwrap(), r0_bytes);
    for n in 1..=2 {
        assert!(out.join(format!("quick-baseline-r1.attempt-{n}")).is_dir());
    }
    let rerun = results(&r1);
    assert_eq!(rerun.len(), 1);
    assert!(json(&rerun[0])["failed"].is_null());
}
