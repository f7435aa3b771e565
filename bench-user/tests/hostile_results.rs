//! `zswap-bench compare` and `plot` on hostile result files (issue 13): each exits with an
//! error naming the file, the problem and the fix; never a panic, never a silent merge. No VM.
//! And `run --kernel` / `matrix` refuse a read-only results directory before any VM boots.
mod common;
use std::path::{Path, PathBuf};

use bench_results::schema::{RESULT_FILE, ResultFile};
use bench_results::testing::{MockResult, repeats};
use common::*;

fn write_run(root: &Path, dir: &str, r: &ResultFile) -> PathBuf {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join(RESULT_FILE),
        serde_json::to_string_pretty(r).unwrap(),
    )
    .unwrap();
    d
}

/// A results tree that compares fine: 2 repeats each of baseline and ref-percg-lock.
fn good_tree(root: &Path) {
    for r in repeats(2, MockResult::baseline)
        .into_iter()
        .chain(repeats(2, MockResult::percg))
    {
        write_run(root, &r.run_id.clone(), &r);
    }
}

/// Runs compare and plot on `root`; both must fail cleanly with every `want` in stderr.
fn both_refuse(root: &Path, want: &[&str]) {
    let plots = root.join("plots-out");
    for args in [
        vec!["compare", root.to_str().unwrap()],
        vec![
            "plot",
            root.to_str().unwrap(),
            "--out",
            plots.to_str().unwrap(),
        ],
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("zswap-bench: error: "), "{args:?}: {err}");
        for w in want {
            assert!(err.contains(w), "{args:?}: no {w:?} in {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}: printed a report anyway");
    }
    assert!(!plots.exists(), "plot drew figures from a refused set");
}

#[test]
fn truncated_result_file_is_named_with_the_fix() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let r = MockResult::percg(7).build();
    let bad = write_run(d.path(), "torn", &r).join(RESULT_FILE);
    let text = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(&bad, &text[..text.len() / 2]).unwrap();
    both_refuse(d.path(), &[bad.to_str().unwrap(), "truncated", "fix: "]);
}

#[test]
fn newer_schema_version_is_named() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let mut r = MockResult::percg(7).build();
    r.schema_version += 1;
    let bad = write_run(d.path(), "future", &r).join(RESULT_FILE);
    both_refuse(
        d.path(),
        &[bad.to_str().unwrap(), "newer", "use a newer zswap-bench"],
    );
}

#[test]
fn negative_count_is_named_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let r = MockResult::percg(7).build();
    let bad = write_run(d.path(), "neg", &r).join(RESULT_FILE);
    let text = std::fs::read_to_string(&bad).unwrap().replacen(
        "\"pages_touched\": ",
        "\"pages_touched\": -",
        1,
    );
    std::fs::write(&bad, text).unwrap();
    both_refuse(d.path(), &[bad.to_str().unwrap(), "pages_touched", "fix: "]);
}

#[test]
fn copied_run_is_refused_naming_both_copies() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let r = MockResult::percg(0).build();
    let copy = write_run(d.path(), "copy", &r);
    both_refuse(
        d.path(),
        &[copy.to_str().unwrap(), &r.run_id, "fix: keep one copy"],
    );
}

#[test]
fn one_scenario_name_with_two_texts_is_refused() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let mut r = MockResult::percg(5).build();
    r.scenario.toml.push_str("# edited\n");
    r.scenario.sha256 = "cd".repeat(32);
    let edited = write_run(d.path(), "edited", &r);
    both_refuse(
        d.path(),
        &[
            edited.to_str().unwrap(),
            "different texts",
            "not merged",
            "fix: ",
        ],
    );
}

#[test]
fn good_tree_compares_and_plots() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let out = run(&["compare", d.path().to_str().unwrap()]);
    assert!(out.status.success());
    let plots = d.path().join("plots-out");
    let out = run(&[
        "plot",
        d.path().to_str().unwrap(),
        "--out",
        plots.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(plots.read_dir().unwrap().count() > 0);
}

/// Two builds under one kernel name (another `.config` for one repeat) are never pooled:
/// compare and plot refuse with both builds named; `--split-builds` compares them apart.
#[test]
fn one_kernel_name_from_two_builds_is_refused_then_split() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    let mut r = MockResult::percg(5).build();
    r.kernel.config_sha256 = Some("c0ffee0000000000000000".into());
    write_run(d.path(), "rebuilt", &r);
    both_refuse(
        d.path(),
        &[
            "\"ref-percg-lock\" names 2 different builds",
            "config c0ffee000000",
            "--split-builds",
        ],
    );
    let out = run(&[
        "compare",
        d.path().to_str().unwrap(),
        "--split-builds",
        "--full",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ref-percg-lock build-2"), "{text}");
}

/// A read-only results directory (a read-only tmpfs: root ignores permission bits) is reported
/// by `run --kernel` and `matrix` before any kernel is built or VM boots.
#[test]
#[ignore = "mounts a tmpfs (root): scripts/test runs it (ZSWAP_BENCH_ROOT_TESTS=1, --include-ignored)"]
fn read_only_results_dir_is_refused_before_any_boot() {
    assert!(
        std::env::var("ZSWAP_BENCH_ROOT_TESTS").is_ok_and(|v| v == "1"),
        "this test mounts a tmpfs: run it as root with ZSWAP_BENCH_ROOT_TESTS=1 (scripts/test does)"
    );
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,ro", "zswap-bench-test"])
        .arg(&ro)
        .status()
        .unwrap();
    assert!(st.success(), "mount failed");
    struct Umount<'a>(&'a Path);
    impl Drop for Umount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0)
                .status();
        }
    }
    let _u = Umount(&ro);
    let m = d.path().join("m.toml");
    std::fs::write(
        &m,
        "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 1\n",
    )
    .unwrap();
    for args in [
        vec![
            "run",
            "scenarios/quick.toml",
            "--kernel",
            "baseline",
            "--out",
            ro.to_str().unwrap(),
        ],
        vec!["matrix", m.to_str().unwrap(), "--out", ro.to_str().unwrap()],
    ] {
        let t0 = std::time::Instant::now();
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{} is not writable", ro.display()))
                && err.contains("choose another --out"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("in a VM"),
            "{args:?}: got as far as the VM: {err}"
        );
        assert!(
            t0.elapsed().as_secs() < 30,
            "{args:?}: took long: built or booted?"
        );
    }
}

/// One kernel's runs on two vCPU counts: `compare` refuses to pool them, `--split-by guest`
/// compares them apart, and `plot` draws them apart by itself, saying so.
#[test]
fn runs_on_two_guests_are_refused_split_or_drawn_apart() {
    let d = tempfile::tempdir().unwrap();
    good_tree(d.path());
    for mut r in repeats(2, MockResult::percg) {
        r.kernel.cpus = 4;
        r.run_id = format!("{}-c4", r.run_id);
        r.started_unix_ns += 1;
        write_run(d.path(), &r.run_id.clone(), &r);
    }
    let root = d.path().to_str().unwrap();
    let out = run(&["compare", root]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("on 2 different guests") && err.contains("--split-by guest"),
        "{err}"
    );
    let out = run(&["compare", root, "--split-by", "guest"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ref-percg-lock 2 vCPUs 2") && text.contains("ref-percg-lock 4 vCPUs 2"),
        "{text}"
    );
    let plots = d.path().join("plots");
    let out = run(&["plot", root, "--out", plots.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("drawn apart"), "{err}");
    let svg = std::fs::read_dir(&plots)
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(
        svg.contains("ref-percg-lock 4 vCPUs"),
        "no split label in the figure"
    );
}
