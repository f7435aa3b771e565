//! The reference series on real patched kernels (kernels/ref-*.toml): the kernel's own zswap
//! selftest passes wherever it passes on baseline, doctor sees each variant's interface and
//! cursor, and proactive writeback has the v5 semantics (budget, EAGAIN, EINVAL cases).
mod common;
use common::*;

const VARIANTS: &[&str] = &[
    "ref-nocursor",
    "ref-percg-lock",
    "ref-global-lock",
    "ref-cmpxchg",
    "ref-key-v2",
];

fn variants() -> Vec<&'static str> {
    VARIANTS
        .iter()
        .copied()
        .filter(|v| have_kernel(v))
        .collect()
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
        assert_eq!(
            t("zswap_writeback_entry")["kallsyms"],
            true,
            "{v}: noinline in ref-base"
        );
        let iter = t("zswap_mem_cgroup_iter")["kallsyms"].as_bool().unwrap();
        assert_eq!(
            iter,
            matches!(v, "ref-percg-lock" | "ref-global-lock" | "ref-cmpxchg"),
            "{v}: cursor iterator"
        );
        assert_eq!(
            t("mem_cgroup.zswap_wb_iter")["btf"],
            true,
            "{v}: per-memcg cursor in struct mem_cgroup"
        );
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
        if !have_kernel(&dbg) {
            continue;
        }
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
    for v in ["ref-percg-lock", "ref-cmpxchg", "ref-global-lock"] {
        if !have_kernel(v) {
            continue;
        }
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
        assert!(
            line("writeback.entry").contains("fentry:zswap_writeback_entry"),
            "{v}"
        );
        let global = line("locks.global");
        assert_eq!(
            global.contains("unavailable"),
            v != "ref-global-lock",
            "{v}: zswap_shrink_lock exists only where the design keeps it: {global}"
        );
    }
}
