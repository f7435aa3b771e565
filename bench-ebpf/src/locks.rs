//! Cursor-lock contention via lock:contention_begin/end, restricted to WATCHED_LOCKS (the
//! global zswap_shrink_lock from kallsyms, per-memcg cursor locks learnt from memcg pointers).
//! Columns follow `perf lock contention`: contended, total wait, max wait, per caller stack.
use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext, tracing::StackIdContext},
};
use bench_common::{LockCallerKey, counter, hist_id};

use crate::common::*;

fn begin<C: StackIdContext>(ctx: &C, addr: u64) {
    if unsafe { WATCHED_LOCKS.get(&addr) }.is_none() {
        return;
    }
    let stack_id: i64 = match ctx.get_stackid(&STACKS, 0) {
        Ok(id) => id,
        Err(_) => {
            inc(counter::STACK_ERRORS, 1);
            -1
        }
    };
    let s = Start {
        ts: now(),
        a: addr,
        b: stack_id as u64,
    };
    if START_LOCK.insert(&tid(), &s, 0).is_err() {
        inc(counter::LOST_START_MAP, 1);
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
    let wait = now().saturating_sub(s.ts);
    let f = |st: &mut bench_common::LockStat| {
        st.contended += 1;
        st.total_wait_ns += wait;
        if wait > st.max_wait_ns {
            st.max_wait_ns = wait;
        }
    };
    upsert(&LOCK_STATS, &addr, counter::LOST_STATS_MAP, f);
    let key = LockCallerKey {
        addr,
        stack_id: s.b as i64,
    };
    upsert(&LOCK_CALLERS, &key, counter::LOST_STATS_MAP, f);
    hist_add(hist_id::LOCK_WAIT, addr, wait);
}

#[btf_tracepoint(function = "contention_begin")]
pub fn tp_btf_contention_begin(ctx: BtfTracePointContext) -> u32 {
    begin(&ctx, ctx.arg::<u64>(0));
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
    begin(&ctx, addr);
    0
}

#[tracepoint(category = "lock", name = "contention_end")]
pub fn tp_contention_end(ctx: TracePointContext) -> u32 {
    let addr: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    end(addr);
    0
}
