//! Cursor-lock contention on the lock designs that take a cursor lock, measured where spinlock
//! contention happens (the slow path), under the reviewers' `contention` scenario:
//! - a non-zero contended count if and only if an independent kprobe count of slow-path entries
//!   on the same locks is non-zero, and the two are equal;
//! - acquisitions and hold time for the lock the design takes;
//! - the lock the design carries but never takes is `n/a: never taken`, not 0.
mod common;
use common::*;

use bench_results::schema::{LockKind, ResultFile, SpinlockImpl};

/// (waits timed, kprobe entries): they agree up to the waits the timing program missed, which
/// are counted as lost events (spin_unmatched) and must stay rare.
fn spin_crosscheck(r: &ResultFile) -> (i64, i64) {
    let c = r
        .crosschecks
        .iter()
        .find(|c| c.what.starts_with("watched spinlock waits"))
        .expect("spin slow-path cross-check recorded");
    assert!(c.agree, "{c:?}");
    let missed = r
        .probes
        .map_errors
        .get("spin_unmatched")
        .copied()
        .unwrap_or(0) as i64;
    assert_eq!(c.bpf + missed, c.kernel, "{c:?}");
    assert!(
        missed * 100 <= c.kernel.max(1),
        "{missed} of {} waits untimed",
        c.kernel
    );
    (c.bpf, c.kernel)
}

fn common_checks(r: &ResultFile) {
    let s = r
        .kernel
        .spinlocks
        .as_ref()
        .expect("spinlock implementation recorded");
    assert_eq!(s.implementation, SpinlockImpl::NativeQspinlock, "{s:?}");
    // Lost events are allowed but must each be accounted for by a named cause (e.g. a wait
    // the BPF recursion guard skipped in interrupt context), and stay rare.
    let explained: u64 = r
        .probes
        .map_errors
        .iter()
        .filter(|(k, _)| k.as_str() != "stack_errors")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(r.probes.lost_events, explained, "{:?}", r.probes.map_errors);
    assert!(r.probes.lost_events <= 10, "{:?}", r.probes.map_errors);
    assert!(
        r.probes.proactive.as_ref().is_some_and(|p| p.calls > 0),
        "proactive threads ran"
    );
    let cursor = r
        .probes
        .cursor_iter
        .as_ref()
        .expect("cursor function probed");
    assert!(cursor.calls > 0);
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn global_lock_design_contention_matches_the_independent_count() {
    require_vm();
    assert!(
        have_kernel("ref-global-lock"),
        "kernels/ref-global-lock.toml is missing"
    );
    let r = run_scenario("contention", "ref-global-lock");
    common_checks(&r);
    let locks = r.probes.locks.as_ref().expect("locks measured");
    let g = locks
        .iter()
        .find(|l| l.name == "zswap_shrink_lock")
        .expect("the global cursor lock is listed");
    // timed + missed = entries is checked inside.
    let (timed, entries) = spin_crosscheck(&r);
    assert_eq!(
        g.contended as i64, timed,
        "all watched spin waits are the global lock's"
    );
    assert_eq!((g.contended > 0), (entries > 0));
    assert!(
        g.mechanism
            .as_deref()
            .unwrap()
            .contains("spin_lock_slowpath"),
        "{:?}",
        g.mechanism
    );
    let acq = g
        .acquisitions
        .expect("acquisitions measured by the cursor function");
    assert!(acq > 0 && acq <= r.probes.cursor_iter.as_ref().unwrap().calls);
    let hold = g.hold.as_ref().expect("hold time");
    assert_eq!(hold.count, acq);
    assert!(g.contended_share().is_some() && g.utilization(r.duration_ns).is_some());
    // The per-memcg lock member exists in this kernel's struct but is never taken.
    assert!(
        !locks.iter().any(|l| l.kind == LockKind::PerMemcg),
        "{locks:?}"
    );
    let na = r
        .probes
        .locks_unavailable
        .iter()
        .find(|n| n.name.starts_with("per-memcg cursor locks"))
        .expect("per-memcg locks reported as n/a");
    assert!(na.reason.starts_with("n/a: never taken"), "{}", na.reason);
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn per_memcg_lock_design_contention_matches_the_independent_count() {
    require_vm();
    assert!(
        have_kernel("ref-percg-lock"),
        "kernels/ref-percg-lock.toml is missing"
    );
    let r = run_scenario("contention", "ref-percg-lock");
    common_checks(&r);
    let locks = r.probes.locks.as_ref().expect("locks measured");
    let per: Vec<_> = locks
        .iter()
        .filter(|l| l.kind == LockKind::PerMemcg)
        .collect();
    assert!(!per.is_empty(), "per-memcg cursor locks listed: {locks:?}");
    assert!(!locks.iter().any(|l| l.name == "zswap_shrink_lock"));
    let contended: u64 = per.iter().map(|l| l.contended).sum();
    // timed + missed = entries is checked inside.
    let (timed, entries) = spin_crosscheck(&r);
    assert_eq!(contended as i64, timed);
    assert_eq!((contended > 0), (entries > 0));
    let acq: u64 = per.iter().filter_map(|l| l.acquisitions).sum();
    assert!(acq > 0, "the proactive threads' target takes its own lock");
    for l in &per {
        if let (Some(a), Some(h)) = (l.acquisitions, &l.hold) {
            assert_eq!(h.count, a, "{}", l.name);
        }
    }
}
