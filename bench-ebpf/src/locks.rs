//! Sleeping-lock contention (mutex, rwsem) via lock:contention_begin/end, restricted to
//! WATCHED_LOCKS. Columns follow `perf lock contention`: contended, total wait, max wait, per
//! caller stack. Spinlocks are served by the slow-path hook (spinlock.rs) when it is attached:
//! the tracepoint misses most spinlock waits and would count the rest twice.
use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext, tracing::StackIdContext},
};
use bench_common::{counter, lock_id, names::setting};

use crate::common::*;

/// include/trace/events/lock.h: a plain spinlock's contention_begin carries exactly this flag
/// (mutex optimistic spinning adds LCB_F_MUTEX, rwlocks add READ/WRITE).
const LCB_F_SPIN: u32 = 1 << 0;

fn begin<C: StackIdContext>(ctx: &C, addr: u64, flags: u32) {
    if flags == LCB_F_SPIN && setting(setting::SPIN_VIA_SLOWPATH) != 0 {
        return;
    }
    if unsafe { WATCHED_LOCKS.get(&addr) }.is_none() {
        return;
    }
    let stack_id: i64 = match ctx.get_stackid(&STACKS, 0) {
        Ok(id) => id,
        Err(_) => {
            problem(counter::STACK_ERRORS);
            -1
        }
    };
    let s = Start {
        ts: now(),
        a: addr,
        b: stack_id as u64,
    };
    if START_LOCK.insert(&tid(), &s, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
}

fn end(addr: u64) {
    let t = tid();
    let Some(s) = (unsafe { START_LOCK.get(&t) }).copied() else {
        return;
    };
    if s.a != addr {
        return;
    }
    let _ = START_LOCK.remove(&t);
    let id = match unsafe { WATCHED_LOCKS.get(&addr) } {
        Some(info) => lock_id(addr, info),
        None => addr,
    };
    let wait = now().saturating_sub(s.ts);
    inc(counter::SLEEP_CONTENDED, 1);
    account_wait(id, s.b as i64, wait);
}

#[btf_tracepoint(function = "contention_begin")]
pub fn tp_btf_contention_begin(ctx: BtfTracePointContext) -> u32 {
    begin(&ctx, ctx.arg::<u64>(0), ctx.arg::<u32>(1));
    0
}

#[btf_tracepoint(function = "contention_end")]
pub fn tp_btf_contention_end(ctx: BtfTracePointContext) -> u32 {
    end(ctx.arg::<u64>(0));
    0
}

/// Classic tracepoints: lock_addr @8 (checked against the format file by the loader).
#[tracepoint(category = "lock", name = "contention_begin")]
pub fn tp_contention_begin(ctx: TracePointContext) -> u32 {
    let addr: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    let flags: u32 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    begin(&ctx, addr, flags);
    0
}

#[tracepoint(category = "lock", name = "contention_end")]
pub fn tp_contention_end(ctx: TracePointContext) -> u32 {
    let addr: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    end(addr);
    0
}
