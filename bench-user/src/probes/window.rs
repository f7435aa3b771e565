//! Probe counts over the measured window: end snapshot minus start snapshot.
//!
//! The BPF maps count from the moment the probes attach. Attaching (slow under TCG) and the
//! quiet points before and after the measured phase add writeback, waits and calls that the
//! measured duration, the kernel counters and the workload figures do not cover. Every rate is
//! only right when its count covers the same window as its divisor, so the result file stores
//! these deltas (`probes.window = "measured"`).

use std::collections::BTreeMap;

use bench_results::schema::{Histogram, LockStats, ProbeWindow, Probes, SelfCost, bucket_bounds};

/// `end - start` for every count, histogram and per-memcg entry. Entries only in `end` (a memcg
/// or lock first seen during the window) are kept whole; entries only in `start` are dropped.
pub fn measured(start: &Probes, end: &Probes) -> Probes {
    let mut p = end.clone();
    p.window = ProbeWindow::Measured;
    if let (Some(e), Some(s)) = (p.shrink_memcg.as_mut(), start.shrink_memcg.as_ref()) {
        e.calls = e.calls.saturating_sub(s.calls);
        e.latency = hist(&s.latency, &e.latency);
        map(&mut e.returns, &s.returns);
        if let (Some(b), Some(sb)) = (e.bytes_returned.as_mut(), s.bytes_returned) {
            *b = b.saturating_sub(sb);
        }
        map(&mut e.by_caller, &s.by_caller);
        for m in &mut e.per_memcg {
            if let Some(sm) = s.per_memcg.iter().find(|x| x.cgroup_id == m.cgroup_id) {
                m.calls = m.calls.saturating_sub(sm.calls);
                map(&mut m.by_caller, &sm.by_caller);
            }
        }
    }
    if let (Some(e), Some(s)) = (p.writeback.as_mut(), start.writeback.as_ref()) {
        e.pages = e.pages.saturating_sub(s.pages);
        opt(&mut e.bytes, s.bytes);
        map(&mut e.lru_status, &s.lru_status);
        for m in &mut e.per_memcg {
            if let Some(sm) = s.per_memcg.iter().find(|x| x.cgroup_id == m.cgroup_id) {
                m.pages = m.pages.saturating_sub(sm.pages);
                opt(&mut m.bytes, sm.bytes);
                for (k, v) in &mut m.by_source {
                    if let Some(sv) = sm.by_source.get(k) {
                        v.pages = v.pages.saturating_sub(sv.pages);
                        opt(&mut v.bytes, sv.bytes);
                    }
                }
            }
        }
    }
    if let (Some(e), Some(s)) = (p.shrink_worker.as_mut(), start.shrink_worker.as_ref()) {
        e.wakeups = e.wakeups.saturating_sub(s.wakeups);
        e.runtime = hist(&s.runtime, &e.runtime);
    }
    if let (Some(e), Some(s)) = (p.store.as_mut(), start.store.as_ref()) {
        e.calls = e.calls.saturating_sub(s.calls);
        e.failures = e.failures.saturating_sub(s.failures);
    }
    if let (Some(e), Some(s)) = (p.proactive.as_mut(), start.proactive.as_ref()) {
        e.calls = e.calls.saturating_sub(s.calls);
        e.requested_bytes = e.requested_bytes.saturating_sub(s.requested_bytes);
        e.written_bytes = e.written_bytes.saturating_sub(s.written_bytes);
        map(&mut e.returns, &s.returns);
        e.latency = hist(&s.latency, &e.latency);
        for m in &mut e.per_memcg {
            if let Some(sm) = s.per_memcg.iter().find(|x| x.cgroup_id == m.cgroup_id) {
                m.calls = m.calls.saturating_sub(sm.calls);
                m.written_bytes = m.written_bytes.saturating_sub(sm.written_bytes);
            }
        }
    }
    if let (Some(e), Some(s)) = (p.locks.as_mut(), start.locks.as_ref()) {
        for l in e.iter_mut() {
            if let Some(sl) = s.iter().find(|x| x.kind == l.kind && x.name == l.name) {
                lock(l, sl);
            }
        }
    }
    if let (Some(e), Some(s)) = (p.cursor_iter.as_mut(), start.cursor_iter.as_ref()) {
        e.calls = e.calls.saturating_sub(s.calls);
        e.restarts = e.restarts.saturating_sub(s.restarts);
    }
    self_cost(&mut p.self_cost, &start.self_cost);
    p.lost_events = p.lost_events.saturating_sub(start.lost_events);
    map(&mut p.map_errors, &start.map_errors);
    p
}

fn lock(e: &mut LockStats, s: &LockStats) {
    e.contended = e.contended.saturating_sub(s.contended);
    e.total_wait_ns = e.total_wait_ns.saturating_sub(s.total_wait_ns);
    e.wait = hist(&s.wait, &e.wait);
    // The longest wait of the window is the end's maximum when it grew during the window;
    // otherwise it is bounded by the window's own histogram.
    e.max_wait_ns = e.wait.max;
    if let (Some(a), Some(sa)) = (e.acquisitions.as_mut(), s.acquisitions) {
        *a = a.saturating_sub(sa);
    }
    if let (Some(h), Some(sh)) = (e.hold.as_mut(), s.hold.as_ref()) {
        *h = hist(sh, h);
    }
    for c in &mut e.callers {
        if let Some(sc) = s.callers.iter().find(|x| x.stack == c.stack) {
            c.contended = c.contended.saturating_sub(sc.contended);
            c.total_wait_ns = c.total_wait_ns.saturating_sub(sc.total_wait_ns);
        }
    }
    e.callers.retain(|c| c.contended > 0);
}

fn self_cost(e: &mut [SelfCost], s: &[SelfCost]) {
    for c in e {
        if let Some(sc) = s.iter().find(|x| x.program == c.program) {
            c.run_count = c.run_count.saturating_sub(sc.run_count);
            c.run_time_ns = c.run_time_ns.saturating_sub(sc.run_time_ns);
        }
    }
}

fn map(e: &mut BTreeMap<String, u64>, s: &BTreeMap<String, u64>) {
    for (k, v) in e.iter_mut() {
        if let Some(sv) = s.get(k) {
            *v = v.saturating_sub(*sv);
        }
    }
    e.retain(|_, v| *v > 0);
}

fn opt(e: &mut Option<u64>, s: Option<u64>) {
    if let (Some(v), Some(sv)) = (e.as_mut(), s) {
        *v = v.saturating_sub(sv);
    }
}

/// Histogram of the values recorded between the two snapshots. Counts and sums subtract
/// exactly. The window's minimum and maximum are exact when the end's extreme moved during the
/// window; otherwise they are the bounds of the window's outermost buckets, clamped to the end's
/// extremes.
pub fn hist(start: &Histogram, end: &Histogram) -> Histogram {
    let mut buckets: Vec<(u32, u64)> = end
        .buckets
        .iter()
        .map(|&(i, c)| {
            let s = start
                .buckets
                .iter()
                .find(|(si, _)| *si == i)
                .map_or(0, |x| x.1);
            (i, c.saturating_sub(s))
        })
        .collect();
    buckets.retain(|b| b.1 > 0);
    let count = end.count.saturating_sub(start.count);
    let (min, max) = match (buckets.first(), buckets.last()) {
        (Some(&(lo, _)), Some(&(hi, _))) if count > 0 => {
            let min = if start.count == 0 || end.min < start.min {
                end.min
            } else {
                bucket_bounds(lo as usize).0.max(end.min)
            };
            let max = if start.count == 0 || end.max > start.max {
                end.max
            } else {
                bucket_bounds(hi as usize).1.min(end.max)
            };
            (min, max)
        }
        _ => (0, 0),
    };
    Histogram {
        unit: end.unit,
        scheme: end.scheme,
        buckets,
        count,
        sum: end.sum.saturating_sub(start.sum),
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::schema::{LockKind, ShrinkMemcg, Unit};

    fn lock_stats(values: &[u64]) -> LockStats {
        let wait = Histogram::from_values(Unit::Ns, values.iter().copied());
        LockStats {
            name: "zswap_shrink_lock".into(),
            kind: LockKind::Global,
            addr: 1,
            contended: values.len() as u64,
            total_wait_ns: values.iter().sum(),
            max_wait_ns: values.iter().copied().max().unwrap_or(0),
            wait,
            acquisitions: Some(10 * values.len() as u64),
            callers: Vec::new(),
            mechanism: None,
            hold: None,
        }
    }

    #[test]
    fn histogram_delta_is_the_window_values() {
        let before = [100u64, 5_000, 7];
        let during = [300u64, 40_000, 300];
        let all: Vec<u64> = before.iter().chain(&during).copied().collect();
        let s = Histogram::from_values(Unit::Ns, before);
        let e = Histogram::from_values(Unit::Ns, all);
        let d = hist(&s, &e);
        let want = Histogram::from_values(Unit::Ns, during);
        assert_eq!(d.buckets, want.buckets);
        assert_eq!((d.count, d.sum), (want.count, want.sum));
        // The max grew during the window: exact. The min did not: bounded by its bucket.
        assert_eq!(d.max, 40_000);
        let (lo, hi) = bucket_bounds(bench_results::schema::bucket_index(300));
        assert!(d.min >= lo && d.min <= hi && d.min >= 7, "{}", d.min);
    }

    #[test]
    fn counts_subtract_and_window_is_marked() {
        let mut s = Probes::default();
        let mut e = Probes::default();
        s.locks = Some(vec![lock_stats(&[10, 20])]);
        e.locks = Some(vec![lock_stats(&[10, 20, 5_000])]);
        let sm = |calls| ShrinkMemcg {
            calls,
            latency: Histogram::empty(Unit::Ns),
            returns: BTreeMap::from([("0".into(), calls)]),
            bytes_returned: None,
            per_memcg: Vec::new(),
            by_caller: BTreeMap::from([("proactive".into(), calls)]),
        };
        s.shrink_memcg = Some(sm(40));
        e.shrink_memcg = Some(sm(100));
        s.lost_events = 2;
        e.lost_events = 5;
        let d = measured(&s, &e);
        assert_eq!(d.window, ProbeWindow::Measured);
        let l = &d.locks.as_ref().unwrap()[0];
        assert_eq!(
            (l.contended, l.total_wait_ns, l.max_wait_ns),
            (1, 5_000, 5_000)
        );
        assert_eq!(l.acquisitions, Some(10));
        let m = d.shrink_memcg.unwrap();
        assert_eq!(
            (m.calls, m.returns["0"], m.by_caller["proactive"]),
            (60, 60, 60)
        );
        assert_eq!(d.lost_events, 3);
    }

    #[test]
    fn probe_writeback_delta_subtracts_start() {
        let mw = |id, pages| bench_results::schema::MemcgWriteback {
            cgroup: format!("/x/{id}"),
            cgroup_id: id,
            pages,
            bytes: None,
            by_source: BTreeMap::new(),
        };
        let wb = |pages, per| bench_results::schema::Writeback {
            point: "p".into(),
            pages,
            bytes: None,
            per_memcg: per,
            lru_status: BTreeMap::new(),
        };
        let p0 = bench_results::schema::Probes {
            writeback: Some(wb(5, vec![mw(1, 5)])),
            ..Default::default()
        };
        let p1 = bench_results::schema::Probes {
            writeback: Some(wb(20, vec![mw(1, 12), mw(2, 8)])),
            ..Default::default()
        };
        let d = measured(&p0, &p1).writeback.unwrap();
        assert_eq!(d.pages, 15);
        assert_eq!(d.per_memcg[0].pages, 7);
        assert_eq!(d.per_memcg[1].pages, 8);
    }
}
