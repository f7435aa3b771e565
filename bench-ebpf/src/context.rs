//! Caller contexts: who is running zswap writeback right now (shrink_worker, zswap_store, the
//! memcg shrinker, proactive writeback). Also shrink_worker wakeups/run time and store failures.
use aya_ebpf::{
    macros::{fentry, fexit, tracepoint},
    programs::{FEntryContext, FExitContext, TracePointContext},
};
use bench_common::{counter, ctx, hist_id};

use crate::common::*;

fn worker_enter() {
    ctx_push(ctx::SHRINK_WORKER);
    inc(counter::SHRINK_WORKER_WAKEUPS, 1);
    learn_root_lock();
    let _ = START_WORKER.insert(
        &tid(),
        &Start {
            ts: now(),
            a: 0,
            b: 0,
        },
        0,
    );
}

fn worker_exit() {
    ctx_pop();
    let t = tid();
    if let Some(s) = unsafe { START_WORKER.get(&t) }.copied() {
        let _ = START_WORKER.remove(&t);
        hist_add(hist_id::SHRINK_WORKER_RUN, 0, now().saturating_sub(s.ts));
    }
}

#[fentry(function = "shrink_worker")]
pub fn fentry_shrink_worker(_ctx: FEntryContext) -> u32 {
    worker_enter();
    0
}

#[fexit(function = "shrink_worker")]
pub fn fexit_shrink_worker(_ctx: FExitContext) -> u32 {
    worker_exit();
    0
}

/// Address of shrink_worker (kallsyms), to match the workqueue tracepoint's function field.
#[unsafe(no_mangle)]
pub static ADDR_SHRINK_WORKER: u64 = 0;

/// workqueue:workqueue_execute_start (work, function): fallback when fentry is refused.
/// Field offsets of the classic tracepoint format are checked by the loader.
#[tracepoint(category = "workqueue", name = "workqueue_execute_start")]
pub fn tp_workqueue_execute_start(ctx: TracePointContext) -> u32 {
    let f: u64 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    if f != 0 && f == g(&ADDR_SHRINK_WORKER) {
        worker_enter();
    }
    0
}

#[tracepoint(category = "workqueue", name = "workqueue_execute_end")]
pub fn tp_workqueue_execute_end(ctx: TracePointContext) -> u32 {
    let f: u64 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    if f != 0 && f == g(&ADDR_SHRINK_WORKER) {
        worker_exit();
    }
    0
}

#[fentry(function = "zswap_store")]
pub fn fentry_zswap_store(_ctx: FEntryContext) -> u32 {
    ctx_push(ctx::STORE);
    inc(counter::STORE_CALLS, 1);
    0
}

#[fexit(function = "zswap_store")]
pub fn fexit_zswap_store(ctx: FExitContext) -> u32 {
    ctx_pop();
    // bool return: only the low byte is defined.
    if let Ok(r) = ctx.ret::<u64>() {
        if r & 0xff == 0 {
            inc(counter::STORE_FAILURES, 1);
        }
    }
    0
}

#[fentry(function = "zswap_shrinker_scan")]
pub fn fentry_shrinker_scan(_ctx: FEntryContext) -> u32 {
    ctx_push(ctx::SHRINKER);
    0
}

#[fexit(function = "zswap_shrinker_scan")]
pub fn fexit_shrinker_scan(_ctx: FExitContext) -> u32 {
    ctx_pop();
    0
}
