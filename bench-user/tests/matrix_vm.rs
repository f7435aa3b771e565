//! A matrix survives a kernel panic in one cell, and `matrix --resume` then completes it: the
//! crashed cell is marked failed and listed in the report, no result of it claims numbers, the
//! next cell still runs; resuming keeps the finished cell and reruns only the crashed one,
//! keeping the crashed attempt beside it.
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

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn a_panicked_cell_fails_alone_and_resume_reruns_only_it() {
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

    // The kernel of cell r0 panics at the start of its measured phase.
    let first = matrix(&[m, "--out", o], Some("panic:-r0"));
    assert!(
        !first.status.success(),
        "a matrix with a failed cell must fail"
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(
        err.to_lowercase().contains("kernel panic"),
        "the console excerpt names the panic"
    );
    let mut crashed = vec![];
    results_under(&r0, &mut crashed);
    for f in &crashed {
        assert!(
            !json(f)["failed"].is_null(),
            "{} claims numbers",
            f.display()
        );
    }
    let mut fine = vec![];
    results_under(&r1, &mut fine);
    assert_eq!(fine.len(), 1, "the next cell ran");
    assert!(json(&fine[0])["failed"].is_null());
    let r1_bytes = std::fs::read(&fine[0]).unwrap();
    let report = std::fs::read_to_string(out.join("report-quick.txt")).unwrap();
    assert!(
        report.contains("Failed cells") && report.contains("r0"),
        "{report}"
    );

    // The same --out again without --resume: refused before anything boots.
    let again = matrix(&[m, "--out", o], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // Resume: r1 is kept as it is, r0 runs again, its crashed attempt set aside.
    let resumed = matrix(&[m, "--out", o, "--resume"], None);
    assert!(resumed.status.success());
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(
        err.matches("done in an earlier attempt").count(),
        1,
        "{err}"
    );
    assert_eq!(std::fs::read(&fine[0]).unwrap(), r1_bytes);
    assert!(
        out.join("quick-baseline-r0.attempt-1")
            .join("console.log")
            .is_file()
    );
    let mut rerun = vec![];
    results_under(&r0, &mut rerun);
    assert_eq!(rerun.len(), 1);
    assert!(json(&rerun[0])["failed"].is_null());
}
