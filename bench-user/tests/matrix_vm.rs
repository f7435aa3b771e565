//! `matrix --resume`: after an interrupted or partly failed matrix, only what is missing or
//! unusable runs again; finished cells and earlier attempts are kept.
mod common;
use common::*;

fn result_under(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let direct = dir.join("result.json");
    if direct.is_file() {
        return Some(direct);
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .find_map(|e| result_under(&e.path()))
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn resume_keeps_finished_cells_and_reruns_an_unusable_one() {
    require_vm();
    let d = tempfile::Builder::new()
        .prefix("resume-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let m = d.path().join("m.toml");
    std::fs::write(&m, "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 1\n").unwrap();
    let out = d.path().join("out");
    let (m, o) = (m.to_str().unwrap(), out.to_str().unwrap());
    assert!(run(&["matrix", m, "--out", o]).status.success(), "first run failed");
    let cell = out.join("quick-baseline-r0");
    let result = result_under(&cell).expect("the cell wrote a result");
    let first = std::fs::read(&result).unwrap();

    // The same --out again without --resume: refused before anything boots.
    let again = run(&["matrix", m, "--out", o]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // Nothing missing: nothing boots, the result is untouched.
    let kept = run(&["matrix", m, "--out", o, "--resume"]);
    assert!(kept.status.success());
    let err = String::from_utf8_lossy(&kept.stderr);
    assert!(err.contains("done in an earlier attempt"), "{err}");
    assert!(!err.contains("set aside"), "{err}");
    assert_eq!(std::fs::read(&result).unwrap(), first);

    // A torn result (what a kill during the write of a non-atomic writer would leave): the
    // cell runs again in a fresh directory, the torn attempt is kept beside it.
    std::fs::write(&result, &first[..first.len() / 2]).unwrap();
    let rerun = run(&["matrix", m, "--out", o, "--resume"]);
    assert!(rerun.status.success());
    let err = String::from_utf8_lossy(&rerun.stderr);
    assert!(err.contains("set aside"), "{err}");
    assert!(out.join("quick-baseline-r0.attempt-1").is_dir());
    let new = result_under(&cell).expect("the rerun wrote a result");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(new).unwrap()).unwrap();
    assert!(v["failed"].is_null(), "{}", v["failed"]);
}
