//! Probe-layer checks on a real guest kernel: BPF per-memcg writeback equals memory.stat
//! zswpwb (and /proc/vmstat) exactly; shrink_memcg calls agree between fentry and kprobe;
//! the attach plan tells unavailable metrics apart from zeros.
mod common;
use common::*;

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn writeback_per_memcg_matches_kernel_counters_and_fentry_matches_kprobe() {
    require_vm();
    let script = repo().join("bench-user/tests/guest/writeback.sh");
    let (code, out, _) = vm(
        "baseline",
        "400s",
        &[script.to_str().unwrap(), &zb_str(), "--crosscheck"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(field(&out, "PROBE_JSON ")).unwrap();
    let memcg: u64 = field(&out, "MEMCG_ZSWPWB ").parse().unwrap();
    let vmstat: u64 = field(&out, "VMSTAT_ZSWPWB ").parse().unwrap();
    let wb = &v["probes"]["writeback"];
    let per = wb["per_memcg"].as_array().unwrap();
    let ours: u64 = per
        .iter()
        .filter(|m| m["cgroup"] == "/wbtest")
        .map(|m| m["pages"].as_u64().unwrap())
        .sum();
    let total = wb["pages"].as_u64().unwrap();
    // The guest script runs one phase per writeback path; each must have fed the comparison.
    let mine = per
        .iter()
        .find(|m| m["cgroup"] == "/wbtest")
        .expect("/wbtest listed");
    for src in ["shrink_worker", "shrinker"] {
        let pages = mine["by_source"][src]["pages"].as_u64().unwrap_or(0);
        assert!(pages > 0, "no writeback from {src}: {}", mine["by_source"]);
    }
    assert!(
        memcg > 1000,
        "the workload must write back (memory.stat zswpwb = {memcg})"
    );
    assert_eq!(
        ours, memcg,
        "BPF per-memcg writeback vs memory.stat zswpwb of /wbtest"
    );
    assert_eq!(total, vmstat, "BPF total writeback vs /proc/vmstat zswpwb");
    assert_eq!(v["probes"]["lost_events"], 0);
    // Independent mechanisms count the same shrink_memcg calls.
    let line = out
        .lines()
        .find(|l| l.starts_with("cross-check shrink_memcg calls"))
        .expect("cross-check line");
    assert!(line.ends_with("(agree)"), "{line}");
    assert!(
        v["probes"]["shrink_memcg"]["calls"].as_u64().unwrap() > 0,
        "shrink_memcg must run for the cross-check to mean anything"
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn forced_contention_is_attributed_to_the_lock_and_its_callers() {
    require_vm();
    let script = repo().join("bench-user/tests/guest/contention.sh");
    let (code, out, _) = vm("baseline", "300s", &[script.to_str().unwrap(), &zb_str()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(field(&out, "PROBE_JSON ")).unwrap();
    let locks = v["probes"]["locks"].as_array().expect("locks measured");
    let m = locks
        .iter()
        .find(|l| l["name"] == "cgroup_mutex")
        .expect("cgroup_mutex listed");
    let contended = m["contended"].as_u64().unwrap();
    assert!(
        contended > 0,
        "4 mkdir/rmdir loops on 2 vCPUs must contend cgroup_mutex"
    );
    assert_eq!(
        m["wait"]["count"].as_u64().unwrap(),
        contended,
        "histogram count = contended"
    );
    let callers = m["callers"].as_array().unwrap();
    let n: u64 = callers
        .iter()
        .map(|c| c["contended"].as_u64().unwrap())
        .sum();
    assert_eq!(n, contended, "callers add up to the lock's total");
    let top = callers[0]["stack"].as_array().unwrap();
    let frames: Vec<&str> = top.iter().map(|f| f.as_str().unwrap()).collect();
    // Lock-internal frames are dropped, so the first frame is the function that took the lock:
    // cgroup core (cgroup_kn_lock_live for mkdir/rmdir, css_* release work).
    assert!(
        frames[0].starts_with("cgroup_") || frames[0].starts_with("css_"),
        "caller is cgroup code: {frames:?}"
    );
    assert!(
        callers.iter().any(|c| c["stack"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("cgroup_mkdir"))),
        "mkdir callers seen"
    );
    // The cursor lock is watched too and was not contended by this workload: a measured zero.
    let g = locks
        .iter()
        .find(|l| l["name"] == "zswap_shrink_lock")
        .expect("global cursor lock listed");
    assert_eq!(g["kind"], "global");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn baseline_plan_marks_series_only_metrics_unavailable_with_reasons() {
    require_vm();
    let (code, out, _) = vm("baseline", "300s", &[&zb_str(), "probe", "--plan"]);
    assert_eq!(code, 0);
    let line = |metric: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{metric} ")))
            .unwrap_or_else(|| panic!("{metric} not in plan:\n{out}"))
            .to_string()
    };
    for m in ["proactive", "locks.per_memcg", "cursor_iter"] {
        let l = line(m);
        assert!(l.contains("unavailable: "), "{l}");
    }
    assert!(line("shrink_memcg").contains("fentry:shrink_memcg"));
    assert!(line("writeback.per_memcg").contains("count_memcg_events"));
    assert!(line("locks.global").contains("zswap_shrink_lock@0x"));
}

/// Positive control on a *spinlock* (the cursor locks are spinlocks): N processes calling
/// sysinfo(2) contend on swap_lock through the spin slow path. The suite must count it, time
/// every wait, attribute it to si_swapinfo, and agree exactly with two independent counts:
/// its own kprobe cross-check and bpftrace in the guest.
fn spin_control(cpus: &str, procs: &str) {
    let script = repo().join("bench-user/tests/guest/spin-contention.sh");
    let (code, out, _) = vm_with(
        "baseline",
        "500s",
        &["--cpus", cpus],
        &[script.to_str().unwrap(), &zb_str(), procs, "10"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(field(&out, "PROBE_JSON ")).unwrap();
    let locks = v["probes"]["locks"].as_array().expect("locks measured");
    let l = locks
        .iter()
        .find(|l| l["name"] == "swap_lock")
        .expect("swap_lock listed");
    let contended = l["contended"].as_u64().unwrap();
    assert!(
        contended > 0,
        "{procs} sysinfo loops on {cpus} vCPUs must contend swap_lock"
    );
    assert!(
        l["mechanism"]
            .as_str()
            .unwrap()
            .contains("queued_spin_lock_slowpath"),
        "served by the slow-path hook: {}",
        l["mechanism"]
    );
    assert_eq!(l["wait"]["count"].as_u64().unwrap(), contended);
    assert!(l["total_wait_ns"].as_u64().unwrap() > 0);
    let callers = l["callers"].as_array().unwrap();
    let n: u64 = callers
        .iter()
        .map(|c| c["contended"].as_u64().unwrap())
        .sum();
    assert_eq!(n, contended, "callers add up to the lock's total");
    let top = callers[0]["stack"][0].as_str().unwrap();
    assert!(
        top.starts_with("si_swapinfo+"),
        "first frame is the function that took the lock: {top}"
    );
    let bt: u64 = field(&out, "BPFTRACE_N").parse().unwrap_or(0);
    assert_eq!(
        bt, contended,
        "bpftrace's slow-path entries on swap_lock = the suite's contended count"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("cross-check spinlock slow path"))
        .expect("spin cross-check line");
    assert!(line.ends_with("(agree)"), "{line}");
    let lost = v["probes"]["lost_events"].as_u64().unwrap();
    let unmatched = v["probes"]["map_errors"]["spin_unmatched"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        lost <= unmatched && lost <= 10,
        "lost events without a cause: {}",
        v["probes"]
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn spinlock_contention_counted_with_2_vcpus() {
    require_vm();
    spin_control("2", "2");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn spinlock_contention_counted_with_4_vcpus() {
    require_vm();
    spin_control("4", "4");
}
