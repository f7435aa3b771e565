//! Maps -> result schema. Per-CPU values are summed here; histograms are replayed bucket by
//! bucket into the same log2x4 scheme; cgroup ids become paths.
use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aya::Ebpf;
use aya::maps::{HashMap as AyaHashMap, MapData, PerCpuArray, PerCpuHashMap, StackTraceMap};
use bench_common::{
    HistKey, LockCallerKey, LockHold, LockInfo, LockStat, MemcgCtxKey, ProactiveStat, ShrinkStat,
    WbStat, counter, ctx, hist, hist_id, lock_id, lock_kind, names,
};
use bench_results::schema::{
    CursorIter, Histogram, LockCaller, LockKind, LockStats, LockUnavailable, MemcgCalls,
    MemcgProactive, MemcgWriteback, PagesBytes, ProactiveProbe, Probes, SelfCost, ShrinkMemcg,
    ShrinkWorker, Store, Unit, Writeback, ret,
};

use super::ProbeSession;

fn percpu_hash<'a, K: aya::Pod, V: aya::Pod>(
    e: &'a Ebpf,
    name: &str,
) -> Result<PerCpuHashMap<&'a MapData, K, V>> {
    PerCpuHashMap::try_from(e.map(name).with_context(|| format!("map {name}"))?)
        .with_context(|| format!("map {name}"))
}

/// Field-wise sums of the per-CPU counters structs whose fields all add up (no maxima), so
/// each per-CPU read is one line and a field added on the eBPF side is added here once.
trait AddFields {
    fn add(&mut self, other: &Self);
}
macro_rules! add_fields {
    ($t:ty: $($f:ident),+) => {
        impl AddFields for $t {
            fn add(&mut self, b: &Self) {
                $(self.$f += b.$f;)+
            }
        }
    };
}
add_fields!(ShrinkStat: calls, ret_zero, ret_positive, ret_eagain, ret_enoent, ret_other, bytes, lat_ns);
add_fields!(ProactiveStat: calls, req_bytes, ret_zero, ret_eagain, ret_eintr, ret_einval, ret_other, lat_ns);

/// Sum a per-CPU hash into a plain map with `add`.
fn summed<K: aya::Pod + Eq + std::hash::Hash, V: aya::Pod + Default>(
    e: &Ebpf,
    name: &str,
    add: impl Fn(&mut V, &V),
) -> Result<HashMap<K, V>> {
    let m = percpu_hash::<K, V>(e, name)?;
    let mut out: HashMap<K, V> = HashMap::new();
    for item in m.iter() {
        let (k, vals) = item?;
        let acc = out.entry(k).or_default();
        for v in vals.iter() {
            add(acc, v);
        }
    }
    Ok(out)
}

/// The first `len` slots of a per-CPU u64 array, each summed over all CPUs.
fn array_sums(e: &Ebpf, name: &str, len: u32) -> Result<Vec<u64>> {
    let m: PerCpuArray<&MapData, u64> =
        PerCpuArray::try_from(e.map(name).with_context(|| name.to_string())?)?;
    (0..len).map(|i| Ok(m.get(&i, 0)?.iter().sum())).collect()
}

pub fn counters(e: &Ebpf) -> Result<Vec<u64>> {
    array_sums(e, names::COUNTERS, counter::LEN)
}

/// All histograms: (hist id, sub id) -> Histogram.
fn histograms(e: &Ebpf) -> Result<HashMap<(u32, u64), Histogram>> {
    let m = percpu_hash::<HistKey, u64>(e, names::HISTS)?;
    let mut dense: HashMap<(u32, u64), (Vec<u64>, u64, u64)> = HashMap::new();
    for item in m.iter() {
        let (k, vals) = item?;
        let d = dense
            .entry((k.hist, k.id))
            .or_insert_with(|| (vec![0; hist::BUCKETS], 0, 0));
        match k.bucket {
            hist::SUM_BUCKET => d.1 += vals.iter().sum::<u64>(),
            hist::MAX_BUCKET => d.2 = d.2.max(vals.iter().copied().max().unwrap_or(0)),
            b if (b as usize) < hist::BUCKETS => d.0[b as usize] += vals.iter().sum::<u64>(),
            _ => {}
        }
    }
    let unit = |h: u32| {
        if h == hist_id::SHRINK_WORKER_RUN
            || h == hist_id::LOCK_WAIT
            || h == hist_id::LOCK_HOLD
            || h == hist_id::SHRINK_MEMCG_LAT
            || h == hist_id::PROACTIVE_LAT
            || h == hist_id::WRITEBACK_ENTRY_LAT
        {
            Unit::Ns
        } else {
            Unit::Bytes
        }
    };
    Ok(dense
        .into_iter()
        .map(|((h, id), (d, sum, max))| {
            let min = d
                .iter()
                .position(|c| *c > 0)
                .map_or(0, |i| hist::bucket_bounds(i as u32).0);
            ((h, id), Histogram::from_dense(unit(h), &d, sum, min, max))
        })
        .collect())
}

/// Stack frames that only say "we were spinning": skipped so the first frame is the caller.
const LOCK_FRAMES: &[&str] = &[
    "queued_spin_lock_slowpath",
    "native_queued_spin_lock_slowpath",
    "__pv_queued_spin_lock_slowpath",
    "_raw_spin_lock",
    "do_raw_spin_lock",
    "__lock_acquire",
    "lock_acquire",
    "__mutex_lock",
    "mutex_lock",
    "rwsem_down_",
    "down_read",
    "down_write",
    "bpf_",
    "__bpf_trace",
    "__traceiter",
    "trace_contention",
    "0x", // addresses kallsyms does not cover (BPF trampolines)
];

/// The writeback family from the per-(memcg, caller) sums: pages and compressed bytes per memcg
/// and source (bytes only where every page's size was seen), and the LRU walk's statuses.
fn writeback(
    cg: &mut super::cgroups::CgroupNames,
    e: &Ebpf,
    live: &super::Live,
    wb: &HashMap<MemcgCtxKey, WbStat>,
    point: &str,
) -> Result<Writeback> {
    let mut per: BTreeMap<u64, (MemcgWriteback, u64)> = BTreeMap::new();
    for (k, v) in wb {
        let src = ctx::name_of(k.ctx).to_string();
        let (m, known) = per.entry(k.cgroup_id).or_insert_with(|| {
            (
                MemcgWriteback {
                    cgroup: cg.name(k.cgroup_id),
                    cgroup_id: k.cgroup_id,
                    pages: 0,
                    bytes: Some(0),
                    by_source: BTreeMap::new(),
                },
                0,
            )
        });
        m.pages += v.pages;
        *known += v.pages_with_bytes;
        m.bytes = m.bytes.map(|b| b + v.bytes);
        let e = m.by_source.entry(src).or_insert(PagesBytes {
            pages: 0,
            bytes: Some(0),
        });
        e.pages += v.pages;
        e.bytes = if v.pages_with_bytes == v.pages {
            e.bytes.map(|b| b + v.bytes)
        } else {
            None
        };
    }
    let mut per_memcg = vec![];
    let (mut pages, mut bytes, mut complete) = (0, 0, true);
    for (_, (mut m, known)) in per {
        pages += m.pages;
        bytes += m.bytes.unwrap_or(0);
        if known != m.pages {
            // Some pages were written back where no probe saw the entry: bytes incomplete.
            m.bytes = None;
            complete = false;
        }
        per_memcg.push(m);
    }
    let mut lru_status = BTreeMap::new();
    if live.lru_status {
        let sums = array_sums(e, names::LRU_STATUS, bench_common::LRU_STATUS_MAX)?;
        for (i, n) in sums.into_iter().enumerate() {
            if n > 0 {
                let name = live
                    .lru_names
                    .iter()
                    .find(|(_, v)| *v == i as u64)
                    .map_or(i.to_string(), |(n, _)| n.clone());
                lru_status.insert(name, n);
            }
        }
    }
    let bytes_from = if live.wb_entry {
        "fentry zswap_writeback_entry entry->length"
    } else if live.lru_status {
        "shrink_memcg_cb entry->length"
    } else {
        "none"
    };
    Ok(Writeback {
        point: format!("pages: {point}; compressed bytes: {bytes_from}"),
        pages,
        bytes: (complete && pages > 0).then_some(bytes),
        per_memcg,
        lru_status,
    })
}

pub fn snapshot(s: &mut ProbeSession) -> Result<Probes> {
    let e = &s.ebpf;
    let c = counters(e)?;
    let hists = histograms(e)?;
    let h = |id: u32, sub: u64, unit: Unit| {
        hists
            .get(&(id, sub))
            .cloned()
            .unwrap_or_else(|| Histogram::empty(unit))
    };
    let live = s.live.clone();
    let mut probes = Probes::default();

    if live.shrink_memcg {
        let stats = summed::<MemcgCtxKey, ShrinkStat>(e, names::SHRINK_STATS, ShrinkStat::add)?;
        let rets = summed::<i64, u64>(e, names::SHRINK_RETS, |a, b| *a += b)?;
        let mut per: BTreeMap<u64, MemcgCalls> = BTreeMap::new();
        let mut by_caller: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in &stats {
            let caller = ctx::name_of(k.ctx).to_string();
            *by_caller.entry(caller.clone()).or_default() += v.calls;
            let m = per.entry(k.cgroup_id).or_insert_with(|| MemcgCalls {
                cgroup: s.cg.name(k.cgroup_id),
                cgroup_id: k.cgroup_id,
                calls: 0,
                by_caller: BTreeMap::new(),
            });
            m.calls += v.calls;
            *m.by_caller.entry(caller).or_default() += v.calls;
        }
        probes.shrink_memcg = Some(ShrinkMemcg {
            calls: c[counter::SHRINK_MEMCG_CALLS as usize],
            latency: h(hist_id::SHRINK_MEMCG_LAT, 0, Unit::Ns),
            returns: rets.iter().map(|(k, v)| (ret::key(*k), *v)).collect(),
            bytes_returned: live
                .shrink_memcg_ret_bytes
                .then_some(c[counter::SHRINK_MEMCG_BYTES as usize]),
            per_memcg: per.into_values().collect(),
            by_caller,
        });
    }

    // Writeback per (memcg, caller): read once, used by the writeback and proactive families.
    let wb = if live.wb_per_memcg.is_some() || live.proactive.is_some() {
        summed::<MemcgCtxKey, WbStat>(e, names::WB_STATS, |a, b| {
            a.pages += b.pages;
            a.bytes += b.bytes;
            a.pages_with_bytes += b.pages_with_bytes;
        })?
    } else {
        HashMap::new()
    };
    if let Some(point) = &live.wb_per_memcg {
        probes.writeback = Some(writeback(&mut s.cg, e, &live, &wb, point)?);
    }

    if live.shrink_worker {
        probes.shrink_worker = Some(ShrinkWorker {
            wakeups: c[counter::SHRINK_WORKER_WAKEUPS as usize],
            runtime: h(hist_id::SHRINK_WORKER_RUN, 0, Unit::Ns),
        });
    }
    if live.store {
        probes.store = Some(Store {
            calls: c[counter::STORE_CALLS as usize],
            failures: c[counter::STORE_FAILURES as usize],
        });
    }

    if live.proactive.is_some() {
        let st = summed::<u64, ProactiveStat>(e, names::PROACTIVE_STATS, ProactiveStat::add)?;
        // Bytes written back while a task was inside proactive writeback, per memcg.
        let mut returns = BTreeMap::new();
        let mut per_memcg = vec![];
        for (id, p) in &st {
            for (k, v) in [
                (ret::OK, p.ret_zero),
                (ret::EAGAIN, p.ret_eagain),
                (ret::EINTR, p.ret_eintr),
                (ret::EINVAL, p.ret_einval),
                ("other", p.ret_other),
            ] {
                if v > 0 {
                    *returns.entry(k.to_string()).or_insert(0) += v;
                }
            }
            per_memcg.push(MemcgProactive {
                cgroup: s.cg.name(*id),
                cgroup_id: *id,
                calls: p.calls,
                written_bytes: 0,
            });
        }
        let written: u64 = wb
            .iter()
            .filter(|(k, _)| k.ctx == ctx::PROACTIVE)
            .map(|(_, v)| v.bytes)
            .sum();
        probes.proactive = Some(ProactiveProbe {
            calls: c[counter::PROACTIVE_CALLS as usize],
            // The probe sums the budget argument as passed; v1/v3/v4 pass pages.
            requested_bytes: c[counter::PROACTIVE_REQ_BYTES as usize]
                .saturating_mul(s.live.proactive_unit.bytes()),
            written_bytes: written,
            returns,
            latency: h(hist_id::PROACTIVE_LAT, 0, Unit::Ns),
            per_memcg,
        });
    }

    if let Some(f) = &live.cursor_iter {
        let calls = c[counter::CURSOR_ITER_CALLS as usize];
        let inner = c[counter::CURSOR_INNER_CALLS as usize];
        probes.cursor_iter = Some(CursorIter {
            function: f.clone(),
            calls,
            restarts: if live.cursor_restarts {
                inner.saturating_sub(calls)
            } else {
                0
            },
        });
    }

    if live.locks {
        let calls = probes
            .cursor_iter
            .as_ref()
            .map(|c| (c.function.clone(), c.calls));
        let (locks, na) = read_locks(e, &s.locks, &s.ksyms, &mut s.cg, &h, calls)?;
        probes.locks = Some(locks);
        probes.locks_unavailable = na;
    }

    // Self-cost (BPF run-time statistics) and events we could not account.
    for name in s.attached.iter() {
        if let Some(p) = e.program(name)
            && let Ok(i) = p.info()
        {
            probes.self_cost.push(SelfCost {
                program: name.to_string(),
                run_count: i.run_count(),
                run_time_ns: i.run_time().as_nanos() as u64,
            });
        }
    }
    for (n, idx) in counter::PROBLEMS {
        let v = c[idx as usize];
        if v > 0 {
            probes.map_errors.insert(n.into(), v);
        }
        if idx != counter::STACK_ERRORS {
            probes.lost_events += v;
        }
    }
    Ok(probes)
}

/// Contended acquisitions of every watched lock, all CPUs.
pub fn lock_contended_total(e: &Ebpf) -> Result<u64> {
    let m = summed::<u64, LockStat>(e, names::LOCK_STATS, |a, b| a.contended += b.contended)?;
    Ok(m.values().map(|v| v.contended).sum())
}

/// Every watched lock with its waits, callers and (cursor locks) acquisitions and hold time;
/// lock families the kernel never takes are returned apart, as `n/a` with the reason.
fn read_locks(
    e: &Ebpf,
    lp: &super::locks::LockPlan,
    ksyms: &super::kallsyms::Kallsyms,
    cg: &mut super::cgroups::CgroupNames,
    h: &impl Fn(u32, u64, Unit) -> Histogram,
    cursor_calls: Option<(String, u64)>,
) -> Result<(Vec<LockStats>, Vec<LockUnavailable>)> {
    let watched: AyaHashMap<&MapData, u64, LockInfo> =
        AyaHashMap::try_from(e.map(names::WATCHED_LOCKS).context("WATCHED_LOCKS")?)?;
    let add = |a: &mut LockStat, b: &LockStat| {
        a.contended += b.contended;
        a.total_wait_ns += b.total_wait_ns;
        a.max_wait_ns = a.max_wait_ns.max(b.max_wait_ns);
    };
    let stats = summed::<u64, LockStat>(e, names::LOCK_STATS, add)?;
    let callers = summed::<LockCallerKey, LockStat>(e, names::LOCK_CALLERS, add)?;
    let holds = summed::<u64, LockHold>(e, names::LOCK_HOLD, |a, b| {
        a.acquisitions += b.acquisitions;
        a.hold_total_ns += b.hold_total_ns;
        a.hold_max_ns = a.hold_max_ns.max(b.hold_max_ns);
    })?;
    let stacks: StackTraceMap<&MapData> =
        StackTraceMap::try_from(e.map(names::STACKS).context("STACKS")?)?;
    // (id, name, kind, address, is a cursor lock). Global locks are keyed by address,
    // per-memcg locks by their memcg's cgroup id (addresses are reused after a memcg is freed).
    let mut ids: Vec<(u64, String, LockKind, u64, bool)> = lp
        .global
        .iter()
        .map(|(a, n)| (*a, n.clone(), LockKind::Global, *a, *n == lp.global_name))
        .collect();
    for item in watched.iter() {
        let (addr, info) = item?;
        if info.kind == lock_kind::PER_MEMCG {
            let id = lock_id(addr, &info);
            ids.push((id, cg.name(info.cgroup_id), LockKind::PerMemcg, addr, true));
        }
    }
    let mut seen: Vec<u64> = stats.keys().chain(holds.keys()).copied().collect();
    seen.sort_unstable();
    seen.dedup();
    for id in seen {
        if !ids.iter().any(|x| x.0 == id) {
            // A freed memcg's lock: its address is forgotten, its figures are not.
            ids.push((id, cg.name(id), LockKind::PerMemcg, 0, true));
        }
    }
    let mut out = vec![];
    for (id, name, kind, addr, cursor) in ids {
        let st = stats.get(&id).copied().unwrap_or_default();
        let mut cl: Vec<LockCaller> = callers
            .iter()
            .filter(|(k, _)| k.lock == id)
            .map(|(k, v)| LockCaller {
                stack: stack_frames(ksyms, &stacks, k.stack_id),
                contended: v.contended,
                total_wait_ns: v.total_wait_ns,
            })
            .collect();
        cl.sort_by_key(|c| std::cmp::Reverse(c.total_wait_ns));
        let hold = (lp.hold && cursor).then(|| h(hist_id::LOCK_HOLD, id, Unit::Ns));
        out.push(LockStats {
            name,
            kind,
            addr,
            contended: st.contended,
            total_wait_ns: st.total_wait_ns,
            max_wait_ns: st.max_wait_ns,
            wait: h(hist_id::LOCK_WAIT, id, Unit::Ns),
            acquisitions: hold.as_ref().map(|x| x.count),
            callers: cl,
            mechanism: if cursor {
                lp.mechanism_for(true)
            } else {
                Some(
                    [lp.spin.clone(), lp.sleeping.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ; "),
                )
            },
            hold,
        });
    }
    let na = never_taken(&mut out, lp, cursor_calls);
    Ok((out, na))
}

/// Cursor-lock families that the cursor function never held and nobody waited on are not
/// "0 contended": the design does not take them. Removed from the list, returned as n/a.
/// Without a cursor function there is no acquisition evidence; a per-memcg lock nobody waited
/// on is then n/a too (only a cursor uses a per-memcg cursor lock).
fn never_taken(
    out: &mut Vec<LockStats>,
    lp: &super::locks::LockPlan,
    cursor_calls: Option<(String, u64)>,
) -> Vec<LockUnavailable> {
    let mut na = vec![];
    let idle = |l: &LockStats| l.contended == 0 && l.acquisitions.unwrap_or(0) == 0;
    let per_memcg_name = format!(
        "per-memcg cursor locks (mem_cgroup.{})",
        lp.per_memcg.as_ref().map_or("?", |(_, n)| n.as_str())
    );
    let families: [(LockKind, String); 2] = [
        (LockKind::PerMemcg, per_memcg_name),
        (LockKind::Global, lp.global_name.clone()),
    ];
    for (kind, label) in families {
        let fam = |l: &LockStats| {
            l.kind == kind && (kind == LockKind::PerMemcg || l.name == lp.global_name)
        };
        if !out.iter().any(&fam) || !out.iter().filter(|l| fam(l)).all(idle) {
            continue;
        }
        let reason = match (&cursor_calls, lp.hold) {
            (Some((f, 0)), true) => format!("n/a: not exercised: {f} never ran"),
            (Some((f, calls)), true) if lp.declared => format!(
                "n/a: never taken: the manifest declares another lock as the one each of {calls} {f} calls takes (walk steps off; --walk-steps checks it), and nothing waited on it"
            ),
            (Some((f, calls)), true) => format!(
                "n/a: never taken: none of {calls} {f} calls held it, and nothing waited on it"
            ),
            (None, _) if kind == LockKind::PerMemcg => "n/a: never taken: the kernel has no cursor function to take it, and nothing waited on it".to_string(),
            // The global lock without a cursor function is taken inline (shrink_worker): its
            // zero waits are a measurement.
            _ => continue,
        };
        out.retain(|l| !fam(l));
        na.push(LockUnavailable {
            name: label,
            reason,
        });
    }
    na
}

fn stack_frames(
    ksyms: &super::kallsyms::Kallsyms,
    stacks: &StackTraceMap<&MapData>,
    id: i64,
) -> Vec<String> {
    if id < 0 {
        return vec!["(stack unavailable)".to_string()];
    }
    match stacks.get(&(id as u32), 0) {
        Ok(st) => st
            .frames()
            .iter()
            .map(|f| ksyms.symbolize(f.ip))
            .filter(|n| !LOCK_FRAMES.iter().any(|l| n.starts_with(l)))
            .take(bench_common::STACK_DEPTH as usize)
            .collect(),
        Err(_) => vec!["(stack evicted)".to_string()],
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
