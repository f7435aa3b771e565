//! The reference series on real patched kernels (kernels/ref-*.toml): the kernel's own zswap
//! selftest passes wherever it passes on baseline, doctor sees each variant's interface and
//! cursor, and proactive writeback has the v5 semantics (budget, EAGAIN, EINVAL cases).
//!
//! The reference kernels are built as the posted series is: no function is forced out of line,
//! so these tests also check what the probes make of a build where the compiler inlined
//! static helpers (`zswap_writeback_entry`, as on baseline).
mod common;
use common::*;

const VARIANTS: &[&str] = &[
    "ref-nocursor",
    "ref-percg-lock",
    "ref-global-lock",
    "ref-cmpxchg",
    "ref-key-v2",
];

/// Every variant: a missing manifest is a broken checkout, not a reason to test less.
fn variants() -> Vec<&'static str> {
    for v in VARIANTS {
        assert!(have_kernel(v), "kernels/{v}.toml is missing");
    }
    VARIANTS.to_vec()
}

/// The designs that keep a cursor in struct mem_cgroup (series/ref-cursor).
fn has_cursor(v: &str) -> bool {
    matches!(v, "ref-percg-lock" | "ref-global-lock" | "ref-cmpxchg")
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn selftest_passes_wherever_baseline_passes() {
    require_vm();
    for v in variants() {
        let out = run(&["kernel", "selftest", v, "--against", "baseline"]);
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn doctor_sees_each_variants_interface_and_cursor() {
    require_vm();
    for v in variants() {
        let (code, out, _) = vm(v, "300s", &[&zb_str(), "doctor", "--json"]);
        assert_eq!(code, 0, "{v}");
        let j: serde_json::Value =
            serde_json::from_str(out[out.find('{').unwrap()..].trim()).unwrap();
        let t = |n: &str| {
            j["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"].as_str().unwrap().starts_with(n))
                .cloned()
                .unwrap()
        };
        let want = if v == "ref-key-v2" {
            "v2-v4 zswap_writeback_only"
        } else {
            "v5 source=zswap"
        };
        assert_eq!(j["proactive_interface"], want, "{v}");
        assert_eq!(t("zswap_proactive_writeback")["kallsyms"], true, "{v}");
        // No forced noinline: the compiler inlines it into shrink_memcg_cb, as on baseline.
        assert_eq!(
            t("zswap_writeback_entry")["kallsyms"],
            false,
            "{v}: zswap_writeback_entry out of line: was noinline forced again?"
        );
        let iter = t("zswap_mem_cgroup_iter")["kallsyms"].as_bool().unwrap();
        assert_eq!(iter, has_cursor(v), "{v}: cursor iterator");
        let member = j["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "per-memcg cursor lock")
            .cloned()
            .expect("doctor lists the per-memcg cursor lock");
        assert_eq!(
            member["btf"],
            has_cursor(v),
            "{v}: a cursor member in struct mem_cgroup only where the design has a cursor: {member}"
        );
        if has_cursor(v) {
            assert_eq!(member["name"], "mem_cgroup.zswap_wb_iter.lock", "{v}");
        }
        if v == "ref-global-lock" {
            assert_eq!(
                t("zswap_shrink_lock")["kallsyms"],
                true,
                "{v}: the one global lock"
            );
        }
    }
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn proactive_writeback_semantics() {
    require_vm();
    let script = repo().join("bench-user/tests/guest/proactive.py");
    for v in variants() {
        let key = if v == "ref-key-v2" {
            "zswap_writeback_only"
        } else {
            "source=zswap"
        };
        let (code, out, _) = vm(
            v,
            "400s",
            &["/usr/bin/python3", script.to_str().unwrap(), key],
        );
        assert_eq!(code, 0, "{v}");
        let checks: Vec<&str> = out.lines().filter(|l| l.starts_with("CHECK ")).collect();
        assert!(checks.len() >= 8, "{v}: {out}");
        let failed: Vec<&&str> = checks.iter().filter(|l| l.contains(" FAIL ")).collect();
        assert!(failed.is_empty(), "{v}: {failed:#?}");
    }
}

/// Slow tier (ZSWAP_BENCH_TEST_TIER=full): memcg churn during concurrent proactive writeback on
/// each variant's debug kernel (PROVE_LOCKING, DEBUG_VM, DEBUG_LIST, DEBUG_ATOMIC_SLEEP). The VM
/// runner fails the run on any lockdep splat, BUG, WARNING or hung task on the console.
#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn full_tier_churn_runs_clean_on_debug_kernels() {
    require_full_tier();
    for v in variants() {
        let dbg = format!("{v}-debug");
        assert!(have_kernel(&dbg), "kernels/{dbg}.toml is missing");
        let out_dir = tempfile::Builder::new()
            .prefix("churn-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let out = run(&[
            "run",
            "scenarios/churn.toml",
            "--kernel",
            &dbg,
            "--out",
            out_dir.path().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{dbg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn patched_kernels_make_series_metrics_live() {
    require_vm();
    for v in VARIANTS.iter().copied().filter(|v| has_cursor(v)) {
        let (code, out, _) = vm(v, "300s", &[&zb_str(), "probe", "--plan"]);
        assert_eq!(code, 0, "{v}");
        let line = |m: &str| {
            out.lines()
                .find(|l| l.trim_start().starts_with(&format!("{m} ")))
                .unwrap_or_else(|| panic!("{v}: {m} not in plan:\n{out}"))
                .to_string()
        };
        assert!(
            line("proactive").contains("fentry:zswap_proactive_writeback"),
            "{v}: {}",
            line("proactive")
        );
        assert!(line("cursor_iter").contains("zswap_mem_cgroup_iter"), "{v}");
        assert!(
            line("locks.per_memcg").contains("zswap_wb_iter.lock"),
            "{v}: {}",
            line("locks.per_memcg")
        );
        // Inlined in this build: the plan must say so rather than show a dead probe.
        let entry = line("writeback.entry");
        assert!(
            entry.contains("unavailable") && entry.contains("inlined"),
            "{v}: {entry}"
        );
        assert!(
            line("writeback.lru_status").contains("shrink_memcg_cb"),
            "{v}: {}",
            line("writeback.lru_status")
        );
        let global = line("locks.global");
        assert_eq!(
            global.contains("unavailable"),
            v != "ref-global-lock",
            "{v}: zswap_shrink_lock exists only where the design keeps it: {global}"
        );
    }
}
