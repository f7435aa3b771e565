//! Workload tests in a real guest (baseline kernel, TCG). They boot a VM, so they run when
//! ZSWAP_BENCH_VM_TESTS=1 (scripts/test sets it; each takes 1–3 min).
mod common;
use std::path::Path;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_zswap-bench");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn out_dir(name: &str) -> std::path::PathBuf {
    // Under the target dir: a host path the VM runner can share writable (not a guest tmpfs).
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `run scenarios/quick.toml --kernel baseline` into a fresh `name` directory with `env` set:
/// whether it succeeded, and the result file it wrote.
fn quick_in_vm(name: &str, env: &[(&str, &str)]) -> (bool, serde_json::Value) {
    let out = out_dir(name);
    let st = Command::new(EXE)
        .args([
            "run",
            &format!("{ROOT}/scenarios/quick.toml"),
            "--kernel",
            "baseline",
            "--out",
        ])
        .arg(&out)
        .envs(env.iter().copied())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(out.join("result.json"))
        .unwrap_or_else(|e| panic!("no result in {}: {e}", out.display()));
    (st.success(), serde_json::from_str(&text).unwrap())
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn quick_in_vm_gives_a_complete_result_with_matching_writeback() {
    common::require_vm();
    let (ok, r) = quick_in_vm("quick-vm", &[]);
    assert!(ok, "run failed; see the console.log beside its result");
    assert!(r["failed"].is_null(), "{}", r["failed"]);
    assert_eq!(r["kernel"]["manifest"], "baseline");
    // Baseline has no proactive writeback: said so, never silently nothing.
    assert_eq!(r["proactive_writes"]["interface"], "none");
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("did not run"))
    );
    // Writeback happened, by both accounts, so the cross-checks below compare real counts
    // (0 == 0 would agree and prove nothing).
    let wb = r["probes"]["writeback"]["pages"].as_u64();
    assert!(wb.is_some_and(|p| p > 0), "BPF saw no writeback: {wb:?}");
    let stat_wb: i64 = r["counters"]["memcg"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["stat_delta"]["zswpwb"].as_i64())
        .sum();
    assert!(stat_wb > 0, "memory.stat shows no zswpwb in any memcg");
    // Per-memcg zswpwb (memory.stat deltas) equals the BPF writeback totals.
    let xs = r["crosschecks"].as_array().unwrap();
    assert!(!xs.is_empty());
    for x in xs {
        assert_eq!(x["agree"], true, "{x}");
    }
    let memcgs = r["counters"]["memcg"].as_array().unwrap();
    assert_eq!(memcgs.len(), 3);
    assert!(memcgs[0]["stat_delta"]["zswpout"].as_i64().unwrap() > 0);
    assert!(r["workload"]["pages_touched"].as_u64().unwrap() > 0);
    let ratio = r["workload"]["compressibility"].as_f64().unwrap();
    assert!(
        (ratio - 0.4).abs() < 0.05,
        "measured compressibility {ratio}"
    );
    assert!(r["timeseries"].as_array().unwrap().len() >= 10);
    assert!(
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("quick-vm/timeseries.csv")
            .is_file()
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn an_oom_killed_worker_is_an_event_and_the_run_ends_cleanly() {
    common::require_vm();
    // The first worker's memcg loses its swap and gets memory.max = 1M as the measured phase
    // starts: the kernel's OOM killer, not the test, picks the victim.
    let fault = [
        ("ZSWAP_BENCH_FAULT", "oom"),
        ("ZSWAP_BENCH_ALLOW_FAULTS", "1"),
    ];
    let (ok, r) = quick_in_vm("oom-vm", &fault);
    assert!(!ok, "a run whose worker was OOM-killed must fail");
    let failed = r["failed"].as_str().expect("the result says it failed");
    assert!(failed.contains("SIGKILL"), "{failed}");
    let ev = r["events"].as_array().expect("events");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["kind"], "oom_kill", "{ev:?}");
    let memcg = ev[0]["memcg"].as_str().unwrap();
    assert!(memcg.starts_with("parent/child"), "{memcg}");
    assert!(ev[0]["victim"].as_str().unwrap().starts_with("worker "));
    // The same memcg's counters show the kill (the evidence the event names).
    let m = r["counters"]["memcg"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"].as_str().unwrap().ends_with(&format!("/{memcg}")))
        .unwrap();
    assert!(
        m["stat_delta"]["events.oom_kill"].as_i64().unwrap() >= 1,
        "{m}"
    );
}

/// Start a run in the guest, wait until set-up is done (tree exists), do `interrupt`, then
/// check nothing is left behind: no memcg, no swap, zswap parameters as before, then `extra`.
/// Returns the guest's output; asserts the script reached "CLEAN".
fn interrupted_run(
    name: &str,
    scenario: &str,
    interrupt: &str,
    extra: &str,
) -> (std::path::PathBuf, String) {
    let out = out_dir(name);
    let script = out.join("t.sh");
    let body = format!(
        r#"B=$1; OUT=$2
before=$(cd /sys/module/zswap/parameters && grep -H . * | sort)
$B run $3 --host --out $OUT/run > $OUT/run.log 2>&1 &
pid=$!
i=0; while [ $i -lt 120 ]; do grep -q "set-up done" $OUT/run.log 2>/dev/null && break; sleep 1; i=$((i+1)); done
sleep 3
ls -d /sys/fs/cgroup/zswap-bench-* >/dev/null 2>&1 || {{ echo "NO TREE BEFORE INTERRUPT"; exit 3; }}
{interrupt}
ls -d /sys/fs/cgroup/zswap-bench-* 2>/dev/null && {{ echo LEFTOVER CGROUP; exit 5; }}
tail -n +2 /proc/swaps | grep . && {{ echo LEFTOVER SWAP; exit 6; }}
after=$(cd /sys/module/zswap/parameters && grep -H . * | sort)
[ "$before" = "$after" ] || {{ echo PARAMS DIFFER; exit 7; }}
{extra}
echo CLEAN
"#
    );
    std::fs::write(&script, body).unwrap();
    let o = Command::new(EXE)
        .args(["vm", "--kernel", "baseline", "--out"])
        .arg(&out)
        .args(["--", "/bin/sh"])
        .arg(&script)
        .args([
            EXE,
            out.to_str().unwrap(),
            &format!("{ROOT}/scenarios/{scenario}"),
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success() && text.contains("CLEAN"), "{text}");
    (out, text)
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn kill9_during_a_run_then_cleanup_leaves_nothing_behind() {
    common::require_vm();
    interrupted_run(
        "kill9-vm",
        "global-shrinker.toml",
        "kill -9 $pid; sleep 1\n$B cleanup || exit 4",
        "",
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn sigterm_during_a_run_restores_the_machine_by_itself() {
    common::require_vm();
    let (out, _) = interrupted_run(
        "sigterm-vm",
        "quick.toml",
        "kill -TERM $pid\nwait $pid; rc=$?\necho \"runner exit $rc\"\n[ $rc -eq 130 ] || { echo \"EXIT NOT 130\"; cat $OUT/run.log; exit 4; }",
        "ls /run/zswap-bench/*.json 2>/dev/null && { echo LEFTOVER STATE FILE; exit 8; }\ngrep -q '\"failed\"' $OUT/run/result.json || { echo NO RESULT; exit 9; }",
    );
    // The interrupted repeat is kept, marked failed.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run/result.json")).unwrap())
            .unwrap();
    assert!(
        r["failed"].as_str().unwrap().contains("interrupted"),
        "{}",
        r["failed"]
    );
}
