//! Writeback: pages and compressed bytes per memcg and source.
//! Pages per memcg come from memcg:count_memcg_events(ZSWPWB) — the kernel's own per-memcg
//! counter, so BPF totals can be checked against memory.stat exactly. Bytes come from the entry
//! being written back: zswap_writeback_entry() when it is a symbol, else shrink_memcg_cb()'s
//! entry (the LRU walk callback that calls the inlined writeback).
use aya_ebpf::{
    macros::{btf_tracepoint, fentry, fexit, kprobe, kretprobe, tracepoint},
    programs::{
        BtfTracePointContext, FEntryContext, FExitContext, ProbeContext, RetProbeContext,
        TracePointContext,
    },
};
use bench_common::{LRU_STATUS_MAX, MemcgCtxKey, counter, event};

use crate::common::*;

fn entry_len(entry: u64) -> u64 {
    read::<u32>(entry + g(&OFF_ENTRY_LENGTH)).unwrap_or(0) as u64
}

fn cb_enter(item: u64) {
    let entry = item.wrapping_sub(g(&OFF_ENTRY_LRU));
    let s = Start {
        ts: 0,
        a: entry_len(entry),
        b: 0,
    };
    if START_CB.insert(&tid(), &s, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
}

fn cb_exit(raw: u64) {
    let _ = START_CB.remove(&tid());
    let status = raw as u32;
    if status < LRU_STATUS_MAX {
        if let Some(p) = LRU_STATUS.get_ptr_mut(status) {
            unsafe { *p += 1 };
        }
    }
}

#[fentry(function = "shrink_memcg_cb")]
pub fn fentry_shrink_memcg_cb(ctx: FEntryContext) -> u32 {
    cb_enter(ctx.arg::<u64>(0));
    0
}

#[fexit(function = "shrink_memcg_cb")]
pub fn fexit_shrink_memcg_cb(ctx: FExitContext) -> u32 {
    if let Ok(r) = ctx.ret::<u64>() {
        cb_exit(r);
    }
    0
}

#[kprobe]
pub fn kprobe_shrink_memcg_cb(ctx: ProbeContext) -> u32 {
    cb_enter(ctx.arg::<u64>(0).unwrap_or(0));
    0
}

#[kretprobe]
pub fn kretprobe_shrink_memcg_cb(ctx: RetProbeContext) -> u32 {
    cb_exit(ctx.ret::<u64>());
    0
}

#[fentry(function = "zswap_writeback_entry")]
pub fn fentry_writeback_entry(ctx: FEntryContext) -> u32 {
    let s = Start {
        ts: now(),
        a: entry_len(ctx.arg::<u64>(0)),
        b: 0,
    };
    if START_WB.insert(&tid(), &s, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
    0
}

#[fexit(function = "zswap_writeback_entry")]
pub fn fexit_writeback_entry(ctx: FExitContext) -> u32 {
    let t = tid();
    let Some(s) = (unsafe { START_WB.get(&t) }).copied() else {
        return 0;
    };
    let _ = START_WB.remove(&t);
    inc(counter::WB_ENTRY_CALLS, 1);
    if let Ok(r) = ctx.ret::<u64>() {
        if r as u32 == 0 {
            inc(counter::WB_ENTRY_OK, 1);
            inc(counter::WB_ENTRY_BYTES, s.a);
        }
    }
    hist_add(
        bench_common::hist_id::WRITEBACK_ENTRY_LAT,
        0,
        now().saturating_sub(s.ts),
    );
    0
}

/// Compressed size of the entry this task is writing back right now, if a probe saw it.
fn current_entry_len() -> Option<u64> {
    let t = tid();
    if let Some(s) = unsafe { START_WB.get(&t) } {
        return Some(s.a);
    }
    unsafe { START_CB.get(&t) }.map(|s| s.a)
}

fn memcg_event(cgroup_id: u64, item: u64, val: u64) {
    let ev = if item == g(&ITEM_ZSWPWB) {
        event::ZSWPWB
    } else if item == g(&ITEM_ZSWPOUT) {
        event::ZSWPOUT
    } else if item == g(&ITEM_ZSWPIN) {
        event::ZSWPIN
    } else {
        return;
    };
    let c = ctx_current();
    if ev == event::ZSWPWB {
        let len = current_entry_len();
        let key = MemcgCtxKey {
            cgroup_id,
            ctx: c,
            _pad: 0,
        };
        upsert(&WB_STATS, &key, counter::LOST_STATS_MAP, |w| {
            w.pages += val;
            if let Some(l) = len {
                w.bytes += l;
                w.pages_with_bytes += val;
            }
        });
    }
}

/// tp_btf memcg:count_memcg_events(struct mem_cgroup *memcg, int item, unsigned long val).
#[btf_tracepoint(function = "count_memcg_events")]
pub fn tp_btf_count_memcg_events(ctx: BtfTracePointContext) -> u32 {
    let item = ctx.arg::<u64>(1) as u32 as u64;
    // Filter before touching the memcg: this tracepoint fires for every memcg event.
    if item != g(&ITEM_ZSWPWB) && item != g(&ITEM_ZSWPOUT) && item != g(&ITEM_ZSWPIN) {
        return 0;
    }
    let memcg = ctx.arg::<u64>(0);
    learn_memcg_lock(memcg);
    memcg_event(memcg_id(memcg), item, ctx.arg::<u64>(2));
    0
}

/// Classic tracepoint fallback: the event record carries the cgroup id itself
/// (u64 id @8, int item @16, unsigned long val @24; checked against the format file).
#[tracepoint(category = "memcg", name = "count_memcg_events")]
pub fn tp_count_memcg_events(ctx: TracePointContext) -> u32 {
    let item: i32 = unsafe { ctx.read_at(16) }.unwrap_or(-1);
    let id: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    let val: u64 = unsafe { ctx.read_at(24) }.unwrap_or(0);
    if item >= 0 {
        memcg_event(id, item as u64, val);
    }
    0
}
