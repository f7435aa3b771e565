//! Cursor-lock metrics: which of the reported locks are the writeback cursor's, and the figures
//! compared for them.
//!
//! `probes.locks` can also hold locks a user watched by name (e.g. "cgroup_mutex",
//! "swap_lock"); they are `LockKind::Global` like the global cursor lock. Mixing them into the
//! cursor figures would credit (or blame) a cursor design for contention it does not cause, so
//! only the global lock named [`GLOBAL_CURSOR_LOCK`] and the per-memcg locks count.

use super::{Exercise, Metric, Value, per_s, probed, ratio};
use crate::schema::{Histogram, LockKind, LockStats, ResultFile, Unit};
use crate::stats::Direction::{Informational, LowerIsBetter as Lower};

use super::MetricUnit as U;

/// Name of the global cursor lock (as `schema::LockStats::name` documents it).
pub use bench_common::names::kfunc::GLOBAL_CURSOR_LOCK;
/// Prefix of the `locks_unavailable` entry for the per-memcg cursor-lock family.
pub const PER_MEMCG_FAMILY: &str = "per-memcg cursor locks";

/// Whether a reported lock is a writeback-cursor lock (not an extra lock watched by name).
pub fn is_cursor_lock(l: &LockStats) -> bool {
    match l.kind {
        LockKind::PerMemcg => true,
        LockKind::Global => l.name == GLOBAL_CURSOR_LOCK,
    }
}

/// Tracked cursor locks, optionally of one kind; Err when contention was not measured or no
/// cursor lock of that kind is reported. A family the kernel never takes is listed in
/// `probes.locks_unavailable`; its reason ("n/a: never taken: ...") is returned as is, because
/// "never taken" is a finding about the design, not a gap in the measurement.
pub fn locks(r: &ResultFile, kind: Option<LockKind>) -> Result<Vec<&LockStats>, String> {
    let all = probed(r, &r.probes.locks, "locks")?;
    let v: Vec<&LockStats> = all
        .iter()
        .filter(|l| is_cursor_lock(l) && kind.is_none_or(|k| l.kind == k))
        .collect();
    if !v.is_empty() {
        return Ok(v);
    }
    if let Some(why) = family_unavailable(r, kind) {
        return Err(why);
    }
    Err(match kind {
        Some(LockKind::PerMemcg) => "no per-memcg cursor lock on this kernel".into(),
        Some(LockKind::Global) => "no global cursor lock on this kernel".into(),
        None => "no cursor lock tracked".into(),
    })
}

/// The `locks_unavailable` reason(s) of the cursor-lock family (or families, for `None`).
fn family_unavailable(r: &ResultFile, kind: Option<LockKind>) -> Option<String> {
    let of_kind = |name: &str, k: LockKind| match k {
        LockKind::Global => name == GLOBAL_CURSOR_LOCK,
        LockKind::PerMemcg => name.starts_with(PER_MEMCG_FAMILY),
    };
    let hits: Vec<_> = r
        .probes
        .locks_unavailable
        .iter()
        .filter(|u| match kind {
            Some(k) => of_kind(&u.name, k),
            None => of_kind(&u.name, LockKind::Global) || of_kind(&u.name, LockKind::PerMemcg),
        })
        .collect();
    match hits.as_slice() {
        [] => None,
        [one] => Some(one.reason.clone()),
        // Both families idle: the reasons differ per family, so each keeps its name.
        many => Some(
            many.iter()
                .map(|u| format!("{}: {}", u.name, u.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// Cursor locks whose acquisitions are counted, or why none are.
fn counted(r: &ResultFile) -> Result<Vec<&LockStats>, String> {
    let v: Vec<_> = locks(r, None)?
        .into_iter()
        .filter(|l| l.acquisitions.is_some())
        .collect();
    if v.is_empty() {
        return Err("acquisitions not counted on this kernel".into());
    }
    Ok(v)
}

/// Hold-time histograms of the cursor locks that have one, or why none do.
fn holds(r: &ResultFile) -> Result<Vec<&Histogram>, String> {
    let v: Vec<_> = locks(r, None)?
        .into_iter()
        .filter_map(|l| l.hold.as_ref())
        .collect();
    if v.is_empty() {
        return Err("hold time not measured on this kernel".into());
    }
    Ok(v)
}

/// Contended / all acquisitions over the cursor locks whose acquisitions are counted (a lock
/// without the count would add contended acquisitions with no denominator).
pub fn contended_share(r: &ResultFile) -> Value {
    let l = counted(r)?;
    // In f64: counts from a file can add up past u64.
    let acq: f64 = l
        .iter()
        .filter_map(|l| l.acquisitions)
        .map(|n| n as f64)
        .sum();
    ratio(l.iter().map(|l| l.contended as f64).sum(), acq)
}

/// 99th percentile of the cursor locks' contended waits, histograms merged.
pub fn wait_p99_ns(r: &ResultFile) -> Value {
    let mut h = Histogram::empty(Unit::Ns);
    for l in locks(r, None)? {
        h.merge(&l.wait).map_err(|e| e.to_string())?;
    }
    h.quantile(0.99)
        .ok_or_else(|| "no contended wait recorded".to_string())
}

pub fn contended_per_s(r: &ResultFile) -> Value {
    let l = locks(r, None)?;
    per_s(r, l.iter().map(|l| l.contended as f64).sum())
}

/// Sum over cursor locks of the fraction of the measured phase each was held.
pub fn utilization(r: &ResultFile) -> Value {
    holds(r)?;
    if r.duration_ns == 0 {
        return Err("measured phase has zero duration".into());
    }
    let l = locks(r, None)?;
    Ok(l.iter().filter_map(|l| l.utilization(r.duration_ns)).sum())
}

/// The cursor-lock metrics, in report order.
pub(super) fn metrics() -> Vec<Metric> {
    vec![
        metric!(
            "lock.cursor.contended_per_s",
            U::PerSecond,
            Lower,
            "contended acquisitions of all cursor locks per second",
            contended_per_s
        )
        .needs(Exercise::CursorContention)
        .probe_rate(),
        metric!(
            "lock.cursor.wait_ns_per_s",
            U::NsPerSecond,
            Lower,
            "time spent waiting for cursor locks per second",
            |r| {
                let l = locks(r, None)?;
                per_s(r, l.iter().map(|l| l.total_wait_ns as f64).sum())
            }
        )
        .needs(Exercise::CursorContention)
        .probe_rate(),
        metric!(
            "lock.cursor.max_wait_ns",
            U::Ns,
            Lower,
            "longest single wait for a cursor lock",
            |r| {
                Ok(locks(r, None)?
                    .iter()
                    .map(|l| l.max_wait_ns as f64)
                    .fold(0.0, f64::max))
            }
        )
        .needs(Exercise::CursorContention),
        metric!(
            "lock.cursor.wait_p99_ns",
            U::Ns,
            Lower,
            "99th percentile of contended waits, all cursor locks",
            wait_p99_ns
        )
        .needs(Exercise::CursorContention),
        metric!(
            "lock.cursor.contended_share",
            U::Ratio,
            Lower,
            "contended / all acquisitions of cursor locks",
            contended_share
        )
        .needs(Exercise::CursorContention),
        metric!(
            "lock.cursor.acquisitions_per_s",
            U::PerSecond,
            Informational,
            "acquisitions of cursor locks per second, contended or not",
            |r| per_s(
                r,
                counted(r)?
                    .iter()
                    .filter_map(|l| l.acquisitions)
                    .map(|n| n as f64)
                    .sum()
            )
        )
        .probe_rate(),
        metric!(
            "lock.cursor.hold_mean_ns",
            U::Ns,
            Lower,
            "mean time a cursor lock is held per acquisition (upper bound)",
            |r| {
                let h = holds(r)?;
                ratio(
                    h.iter().map(|h| h.sum as f64).sum(),
                    h.iter().map(|h| h.count as f64).sum(),
                )
            }
        ),
        metric!(
            "lock.cursor.utilization",
            U::Ratio,
            Lower,
            "fraction of time cursor locks are held, summed over locks (predicts contention \
             with more CPUs)",
            utilization
        )
        .probe_rate(),
        metric!(
            "lock.global.contended_per_s",
            U::PerSecond,
            Lower,
            "contended acquisitions of the global zswap_shrink_lock per second",
            |r| {
                let l = locks(r, Some(LockKind::Global))?;
                per_s(r, l.iter().map(|l| l.contended as f64).sum())
            }
        )
        .needs(Exercise::CursorContention)
        .probe_rate(),
        metric!(
            "lock.per_memcg.contended_per_s",
            U::PerSecond,
            Lower,
            "contended acquisitions of per-memcg cursor locks per second",
            |r| {
                let l = locks(r, Some(LockKind::PerMemcg))?;
                per_s(r, l.iter().map(|l| l.contended as f64).sum())
            }
        )
        .needs(Exercise::CursorContention)
        .probe_rate(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::LockUnavailable;
    use crate::testing::MockResult;

    const NEVER: &str = "n/a: never taken: none of 61234 zswap_mem_cgroup_iter calls held it, \
                         and nothing waited on it";
    const PER_MEMCG: &str = "per-memcg cursor locks (mem_cgroup.zswap_wb_iter.lock)";

    fn lock(name: &str, kind: LockKind, contended: u64, acq: Option<u64>) -> LockStats {
        let waits: Vec<u64> = (0..contended).map(|i| 1_000 + i).collect();
        let wait = Histogram::from_values(Unit::Ns, waits);
        LockStats {
            name: name.into(),
            kind,
            addr: 0,
            contended,
            total_wait_ns: wait.sum,
            max_wait_ns: wait.max,
            wait,
            acquisitions: acq,
            callers: Vec::new(),
            mechanism: None,
            hold: None,
        }
    }

    fn value(name: &str, r: &ResultFile) -> Value {
        (super::super::by_name(name).unwrap().extract)(r)
    }

    #[test]
    fn a_never_taken_family_reports_its_reason() {
        let mut r = MockResult::percg(0).build();
        r.probes.locks = Some(Vec::new());
        r.probes.locks_unavailable = vec![LockUnavailable {
            name: PER_MEMCG.into(),
            reason: NEVER.into(),
        }];
        assert_eq!(locks(&r, Some(LockKind::PerMemcg)).unwrap_err(), NEVER);
        assert_eq!(locks(&r, None).unwrap_err(), NEVER);
        // The other family has no entry: the generic reason stays.
        assert_eq!(
            locks(&r, Some(LockKind::Global)).unwrap_err(),
            "no global cursor lock on this kernel"
        );
        assert_eq!(
            value("lock.per_memcg.contended_per_s", &r).unwrap_err(),
            NEVER
        );
        assert_eq!(value("lock.cursor.wait_p99_ns", &r).unwrap_err(), NEVER);
        // Reports say it once: "n/a: never taken", not "n/a: n/a: never taken".
        let t = crate::render_full_text(&crate::compare(
            std::slice::from_ref(&r),
            &crate::CompareOptions::default(),
        ));
        assert!(
            t.contains("lock.cursor.contended_per_s: n/a: never taken"),
            "{t}"
        );
        assert!(!t.contains("n/a: n/a"), "{t}");

        // Both families idle: each reason under its family's name.
        r.probes.locks_unavailable.push(LockUnavailable {
            name: GLOBAL_CURSOR_LOCK.into(),
            reason: "n/a: not exercised: shrink_worker never ran".into(),
        });
        let e = locks(&r, None).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{PER_MEMCG}: {NEVER}; zswap_shrink_lock: n/a: not exercised: shrink_worker \
                 never ran"
            )
        );
        assert_eq!(
            locks(&r, Some(LockKind::Global)).unwrap_err(),
            "n/a: not exercised: shrink_worker never ran"
        );
        // A listed lock of the family wins over a stale entry.
        r.probes.locks = Some(vec![lock("/p", LockKind::PerMemcg, 3, Some(10))]);
        assert_eq!(locks(&r, None).unwrap().len(), 1);
    }

    #[test]
    fn locks_watched_by_name_are_not_cursor_locks() {
        let mut r = MockResult::baseline(0).build();
        let before: Vec<Value> = metrics().iter().map(|m| (m.extract)(&r)).collect();
        let mut noisy = lock("cgroup_mutex", LockKind::Global, 1_000_000, Some(2_000_000));
        noisy.hold = Some(Histogram::from_values(Unit::Ns, [1_000_000_000; 4]));
        noisy.wait = Histogram::from_values(Unit::Ns, std::iter::repeat_n(5_000_000_000, 1_000));
        let locks_v = r.probes.locks.as_mut().unwrap();
        locks_v.push(noisy);
        locks_v.push(lock("swap_lock", LockKind::Global, 7, None));
        let after: Vec<Value> = metrics().iter().map(|m| (m.extract)(&r)).collect();
        assert_eq!(
            before, after,
            "every lock.* metric ignores the watched locks"
        );
        assert!(before.iter().take(5).all(Result::is_ok), "{before:?}");
        let names: Vec<&str> = locks(&r, None)
            .unwrap()
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, [GLOBAL_CURSOR_LOCK]);
        // Only watched locks: no cursor lock at all.
        r.probes.locks = Some(vec![lock("swap_lock", LockKind::Global, 7, Some(9))]);
        assert_eq!(locks(&r, None).unwrap_err(), "no cursor lock tracked");
        assert!(value("lock.cursor.contended_per_s", &r).is_err());
    }

    #[test]
    fn acquisitions_hold_and_utilization() {
        let mut r = MockResult::percg(0).build();
        r.duration_ns = 10_000_000_000;
        let mut a = lock("/p", LockKind::PerMemcg, 1, Some(4));
        a.hold = Some(Histogram::from_values(
            Unit::Ns,
            [1_000, 2_000, 3_000, 4_000],
        ));
        let mut b = lock("/p/c1", LockKind::PerMemcg, 2, Some(6));
        b.hold = Some(Histogram::from_values(Unit::Ns, [500; 6]));
        // A lock whose acquisitions are not counted: in the contended rate, not in the share.
        let c = lock("/p/c2", LockKind::PerMemcg, 5, None);
        r.probes.locks = Some(vec![a, b, c]);
        let v = |n: &str, r: &ResultFile| value(n, r).unwrap();
        assert_eq!(v("lock.cursor.contended_per_s", &r), 0.8);
        assert_eq!(v("lock.cursor.acquisitions_per_s", &r), 1.0);
        assert_eq!(v("lock.cursor.contended_share", &r), 0.3);
        assert_eq!(v("lock.cursor.hold_mean_ns", &r), 1_300.0);
        // Summed per lock (10 000 + 3 000 ns held over 10 s): equal up to rounding.
        let u = v("lock.cursor.utilization", &r);
        assert!((u - 1.3e-6).abs() < 1e-18, "{u}");

        // No hold time anywhere: n/a, not 0.
        for l in r.probes.locks.as_mut().unwrap() {
            l.hold = None;
            l.acquisitions = None;
        }
        for n in [
            "lock.cursor.utilization",
            "lock.cursor.hold_mean_ns",
            "lock.cursor.acquisitions_per_s",
            "lock.cursor.contended_share",
        ] {
            let e = value(n, &r).unwrap_err();
            assert!(
                e.contains("not measured") || e.contains("not counted"),
                "{n}: {e}"
            );
        }
        assert_eq!(v("lock.cursor.contended_per_s", &r), 0.8);
        let m = super::super::by_name("lock.cursor.utilization").unwrap();
        assert_eq!((m.unit, m.direction), (U::Ratio, Lower));
    }
}
