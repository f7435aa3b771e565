//! Probe-layer checks on a real guest kernel: BPF per-memcg writeback equals memory.stat
//! zswpwb (and /proc/vmstat) exactly; shrink_memcg calls agree between fentry and kprobe;
//! the attach plan tells unavailable metrics apart from zeros.
mod common;
use common::*;

fn field<'a>(out: &'a str, tag: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(tag)).unwrap_or_else(|| panic!("no {tag} in guest output")).trim()
}

#[test]
fn writeback_per_memcg_matches_kernel_counters_and_fentry_matches_kprobe() {
    if !vm_tests() {
        return;
    }
    let script = repo().join("bench-user/tests/guest/writeback.sh");
    let (code, out, _) = vm("baseline", "400s", &[script.to_str().unwrap(), &zb_str(), "--crosscheck"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(field(&out, "PROBE_JSON ")).unwrap();
    let memcg: u64 = field(&out, "MEMCG_ZSWPWB ").parse().unwrap();
    let vmstat: u64 = field(&out, "VMSTAT_ZSWPWB ").parse().unwrap();
    let wb = &v["probes"]["writeback"];
    let per = wb["per_memcg"].as_array().unwrap();
    let ours: u64 = per.iter().filter(|m| m["cgroup"] == "/wbtest").map(|m| m["pages"].as_u64().unwrap()).sum();
    let total = wb["pages"].as_u64().unwrap();
    assert!(memcg > 1000, "the workload must write back (memory.stat zswpwb = {memcg})");
    assert_eq!(ours, memcg, "BPF per-memcg writeback vs memory.stat zswpwb of /wbtest");
    assert_eq!(total, vmstat, "BPF total writeback vs /proc/vmstat zswpwb");
    assert_eq!(v["probes"]["lost_events"], 0);
    // Independent mechanisms count the same shrink_memcg calls.
    let line = out.lines().find(|l| l.starts_with("cross-check shrink_memcg calls")).expect("cross-check line");
    assert!(line.ends_with("(agree)"), "{line}");
    assert!(v["probes"]["shrink_memcg"]["calls"].as_u64().unwrap() > 0, "shrink_memcg must run for the cross-check to mean anything");
}
