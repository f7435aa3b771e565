//! Tests of reading the probes' maps into a snapshot.
use super::*;
use crate::probes::locks::LockPlan;

fn lock(name: &str, kind: LockKind, contended: u64, acq: Option<u64>) -> LockStats {
    LockStats {
        name: name.into(),
        kind,
        addr: 1,
        contended,
        total_wait_ns: 0,
        max_wait_ns: 0,
        wait: Histogram::empty(Unit::Ns),
        acquisitions: acq,
        callers: vec![],
        mechanism: None,
        hold: None,
    }
}

fn plan(hold: bool) -> LockPlan {
    LockPlan {
        per_memcg: Some((0x100, "zswap_wb_iter.lock".into())),
        global_name: "zswap_shrink_lock".into(),
        hold,
        ..Default::default()
    }
}

#[test]
fn untaken_per_memcg_locks_are_na_not_zero() {
    // Global-lock design: the cursor function held the global lock, never a per-memcg one.
    let mut v = vec![
        lock("zswap_shrink_lock", LockKind::Global, 3, Some(900)),
        lock("/zb/parent", LockKind::PerMemcg, 0, Some(0)),
        lock("/zb/parent/child1", LockKind::PerMemcg, 0, Some(0)),
    ];
    let na = never_taken(
        &mut v,
        &plan(true),
        Some(("zswap_mem_cgroup_iter".into(), 900)),
    );
    assert_eq!(v.len(), 1);
    assert_eq!(na.len(), 1);
    assert!(na[0].name.contains("zswap_wb_iter.lock"));
    assert!(
        na[0].reason.starts_with("n/a: never taken: none of 900"),
        "{}",
        na[0].reason
    );
    // Walk steps off, the global lock declared: "never taken" rests on the declaration,
    // and the reason says so.
    let mut v = vec![
        lock("zswap_shrink_lock", LockKind::Global, 3, Some(900)),
        lock("/zb/parent", LockKind::PerMemcg, 0, Some(0)),
    ];
    let declared = LockPlan {
        declared: true,
        ..plan(true)
    };
    let na = never_taken(&mut v, &declared, Some(("f".into(), 900)));
    assert!(
        na[0].reason.contains("the manifest declares another lock"),
        "{}",
        na[0].reason
    );
}

#[test]
fn a_lock_with_waits_or_acquisitions_stays() {
    let mut v = vec![
        lock("/zb/parent", LockKind::PerMemcg, 0, Some(10)),
        lock("/zb/other", LockKind::PerMemcg, 0, Some(0)),
    ];
    let na = never_taken(&mut v, &plan(true), Some(("f".into(), 10)));
    assert!(na.is_empty());
    assert_eq!(
        v.len(),
        2,
        "the family is taken, so each lock's zero is a measurement"
    );
    // Without a cursor function, the inline-taken global lock's zero waits stay listed.
    let mut v = vec![lock("zswap_shrink_lock", LockKind::Global, 0, None)];
    assert!(never_taken(&mut v, &plan(false), None).is_empty());
    assert_eq!(v.len(), 1);
}
