//! `zswap-bench kernel selftest`: the kernel's own zswap selftest
//! (tools/testing/selftests/cgroup/test_zswap.c), built from the kernel's own series branch (a
//! series may add tests to it) and run inside that kernel. `--against K` reports every test that
//! passes on K but not here: a series must not break what the baseline passes.
//!
//! A command above both kernel/ and vm/ (it builds with one and boots with the other), so that
//! kernel/ never reaches up into the VM layer.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::kernel::{self, BuiltKernel, sh, source};
use crate::paths;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// TAP lines `ok N name`, `not ok N name`, `ok N name # SKIP ...` -> name -> outcome.
pub fn parse_tap(out: &str) -> BTreeMap<String, Outcome> {
    let mut m = BTreeMap::new();
    for l in out.lines() {
        let l = l.trim();
        let (rest, ok) = if let Some(r) = l.strip_prefix("not ok ") {
            (r, false)
        } else if let Some(r) = l.strip_prefix("ok ") {
            (r, true)
        } else {
            continue;
        };
        let Some((_, name)) = rest.split_once(' ') else {
            continue;
        };
        let (name, directive) = name.split_once(" # ").map_or((name, ""), |(a, b)| (a, b));
        let o = if directive.to_ascii_uppercase().starts_with("SKIP") {
            Outcome::Skip
        } else if ok {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        m.insert(name.trim().to_string(), o);
    }
    m
}

/// Tests that pass on `base` and do not pass on `other`.
pub fn regressions(
    base: &BTreeMap<String, Outcome>,
    other: &BTreeMap<String, Outcome>,
) -> Vec<String> {
    base.iter()
        .filter(|(n, o)| **o == Outcome::Pass && other.get(*n) != Some(&Outcome::Pass))
        .map(|(n, _)| n.clone())
        .collect()
}

/// Build test_zswap from the kernel's branch, statically (it runs in the guest from the host's
/// root, so it must not depend on the guest having matching libraries).
fn build(k: &BuiltKernel) -> Result<PathBuf> {
    let bin = k.dir.join("test_zswap");
    if bin.is_file() {
        return Ok(bin);
    }
    let r = kernel::load(&k.name)?;
    let tree = source::prepare(&paths::cache_dir(), &r)?;
    let tmp = tempfile::tempdir()?;
    let sel = "tools/testing/selftests";
    // git archive | tar -x, as two processes joined by a pipe: no shell, so no path or branch
    // name (the cache folder comes from ZSWAP_BENCH_CACHE) is ever parsed as shell text.
    let mut git = Command::new("git")
        .arg("-C")
        .arg(&tree.dir)
        .arg("archive")
        .arg(format!("zb/{}", k.key))
        .args([
            format!("{sel}/kselftest.h"),
            format!("{sel}/cgroup"),
            format!("{sel}/clone3"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running git archive")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tmp.path())
        .stdin(git.stdout.take().context("git archive's output")?)
        .output()
        .context("running tar")?;
    let archived = git.wait()?;
    if !archived.success() || !tar.status.success() {
        bail!(
            "extracting the selftests from the series branch failed (git archive {archived}, tar {}): {}",
            tar.status,
            String::from_utf8_lossy(&tar.stderr).trim()
        );
    }
    let cg = tmp.path().join(sel).join("cgroup");
    let out = tmp.path().join("test_zswap");
    sh(
        Command::new("gcc")
            .current_dir(&cg)
            .args(["-static", "-O2", "-I..", "-Ilib", "-Ilib/include", "-o"])
            .arg(&out)
            .args(["test_zswap.c", "lib/cgroup_util.c"]),
        "compiling test_zswap (gcc -static; needs libc6-dev)",
    )?;
    std::fs::copy(&out, &bin)?;
    Ok(bin)
}

/// Run the selftest in `kernel`'s guest; results are cached next to the kernel unless `fresh`.
pub fn run(kernel: &str, fresh: bool) -> Result<BTreeMap<String, Outcome>> {
    let k = kernel::build(kernel)?;
    let tap = k.dir.join("test_zswap.tap");
    if let (false, Ok(t)) = (fresh, std::fs::read_to_string(&tap)) {
        return Ok(parse_tap(&t));
    }
    let bin = build(&k)?;
    // A constant script; the binary's path is its argument ($0), never part of its text.
    let script = "mkswap /dev/vda >/dev/null && swapon /dev/vda && exec \"$0\"";
    let o = crate::vm::run_in_guest(&crate::vm::GuestRun {
        kernel: kernel.to_string(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            script.into(),
            bin.display().to_string(),
        ],
        timeout: std::time::Duration::from_secs(900),
        ..Default::default()
    })?;
    if o.timed_out || !o.problems.is_empty() {
        o.ok()?;
    }
    let results = parse_tap(&o.output);
    if results.is_empty() {
        bail!(
            "test_zswap printed no TAP results; console log {}",
            o.log.display()
        );
    }
    std::fs::write(&tap, &o.output).with_context(|| format!("writing {}", tap.display()))?;
    Ok(results)
}

/// `zswap-bench kernel selftest <kernel> [--against <base>]`
pub fn cli(kernel: &str, against: Option<&str>) -> Result<ExitCode> {
    let mut mine = run(kernel, false)?;
    for (n, o) in &mine {
        println!(
            "{:<5} {n}",
            match o {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "skip",
            }
        );
    }
    let Some(base) = against else {
        return Ok(if mine.values().any(|o| *o == Outcome::Fail) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    };
    let theirs = run(base, false)?;
    let mut reg = regressions(&theirs, &mine);
    if !reg.is_empty() {
        // Some of these tests are timing-sensitive under TCG (test_no_kmem_bypass, and
        // test_zswap_usage fails on 7.3.4 itself): a regression must reproduce on a second boot.
        eprintln!(
            "not passing on {kernel}: {}; running the selftest again to rule out flakes",
            reg.join(", ")
        );
        let again = run(kernel, true)?;
        for (n, o) in again {
            if o == Outcome::Pass {
                mine.insert(n, o);
            }
        }
        reg = regressions(&theirs, &mine);
    }
    if reg.is_empty() {
        println!("every test that passes on {base} passes on {kernel}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("pass on {base} but not on {kernel}: {}", reg.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real output of test_zswap on the 7.3.4 baseline guest.
    const BASELINE: &str = "TAP version 13\n1..8\n# zswpout does not increase after test program\nnot ok 1 test_zswap_usage\nok 2 test_swapin_nozswap\nok 3 test_zswapin\nok 4 test_zswap_writeback_enabled\nnot ok 5 test_zswap_writeback_disabled\nok 6 test_no_kmem_bypass\nok 7 test_no_invasive_cgroup_shrink\nok 8 test_zswap_incompressible\n# Totals: pass:6 fail:2 xfail:0 xpass:0 skip:0 error:0\n";

    #[test]
    fn parses_tap_including_failures_and_skips() {
        let m = parse_tap(&format!(
            "{BASELINE}ok 9 test_zswap_proactive_writeback # SKIP no interface\n"
        ));
        assert_eq!(m.len(), 9);
        assert_eq!(m["test_zswap_usage"], Outcome::Fail);
        assert_eq!(m["test_zswapin"], Outcome::Pass);
        assert_eq!(m["test_zswap_proactive_writeback"], Outcome::Skip);
    }

    #[test]
    fn only_baseline_passes_that_now_fail_are_regressions() {
        let base = parse_tap(BASELINE);
        let variant = parse_tap(
            &BASELINE
                .replace("ok 3 test_zswapin", "not ok 3 test_zswapin")
                .replace("not ok 1 test_zswap_usage", "ok 1 test_zswap_usage"),
        );
        assert_eq!(regressions(&base, &variant), ["test_zswapin"]);
        assert!(regressions(&base, &base).is_empty());
    }
}
