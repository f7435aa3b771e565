//! Writeback cursor iterator (zswap_mem_cgroup_iter() and later renamings; target chosen by
//! the loader): calls = cursor advances; on the lockless design, extra inner walk steps per
//! call count as cmpxchg restarts.
//!
//! Cursor-lock acquisitions and hold time. Hooking spin_lock() itself would run a program on
//! every spinlock in the kernel; instead the walk step inside the cursor function (which the
//! locked designs run with the cursor lock held) reads the candidate locks' words. A lock seen
//! held there was taken by this call: one acquisition, held for at most the call's duration
//! minus the time it spun. A design that never takes a lock never shows it held, which is how
//! "never taken" is told apart from "never contended".
//!
//! That walk step runs inside the lock's critical section, millions of times a run, so it
//! lengthens the holds and waits it helps report. A design whose manifest declares that it takes
//! its cursor lock exactly once per cursor call needs no evidence per step: the loader leaves the
//! walk-step program off (unless asked) and sets DECLARED_CURSOR_LOCK, and each call is one
//! acquisition of that lock.
use aya_ebpf::{
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use bench_common::{LockHold, counter, hist_id, lock_id, lock_kind};

use crate::common::*;

#[fentry(function = "zswap_mem_cgroup_iter")]
pub fn fentry_cursor_iter(ctx: FEntryContext) -> u32 {
    inc(counter::CURSOR_ITER_CALLS, 1);
    let arg = ctx.arg::<u64>(0);
    let root = if arg != 0 { arg } else { root_memcg() };
    learn_memcg_lock(root);
    let off = g(&OFF_MEMCG_CURSOR_LOCK);
    // The iterator does not recurse, so each entry starts a fresh call: no nesting count that
    // an entry seen without its exit (attach order) could leave stuck.
    let st = CursorState {
        t0: now(),
        memcg_lock: if root != 0 && off != 0 { root + off } else { 0 },
        // "Held at every walk step" (AND over the steps, so start from 1): a lock another CPU
        // happens to hold during one step of a design that never takes it is not counted.
        held_memcg: 1,
        held_global: 1,
        ..Default::default()
    };
    if CURSOR_STATE.insert(&tid(), &st, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
    0
}

#[inline(always)]
fn account_hold(addr: u64, hold: u64) {
    let Some(info) = (unsafe { WATCHED_LOCKS.get(&addr) }) else {
        return;
    };
    let id = lock_id(addr, info);
    upsert(
        &LOCK_HOLD,
        &id,
        counter::LOST_STATS_MAP,
        |h: &mut LockHold| {
            h.acquisitions += 1;
            h.hold_total_ns += hold;
            if hold > h.hold_max_ns {
                h.hold_max_ns = hold;
            }
        },
    );
    hist_add(hist_id::LOCK_HOLD, id, hold);
}

#[fexit(function = "zswap_mem_cgroup_iter")]
pub fn fexit_cursor_iter(_ctx: FExitContext) -> u32 {
    let t = tid();
    let Some(st) = (unsafe { CURSOR_STATE.get(&t) }).copied() else {
        return 0;
    };
    let _ = CURSOR_STATE.remove(&t);
    let hold = now().saturating_sub(st.t0).saturating_sub(st.spin_ns);
    if st.steps == 0 {
        // No walk-step evidence: either the per-step program is off and the design declared
        // its lock, or the call returned before walking (no evidence either way).
        match g(&DECLARED_CURSOR_LOCK) as u32 {
            lock_kind::GLOBAL => account_hold(g(&ADDR_GLOBAL_CURSOR_LOCK), hold),
            lock_kind::PER_MEMCG => account_hold(st.memcg_lock, hold),
            _ => {}
        }
        return 0;
    }
    if st.held_global != 0 {
        account_hold(g(&ADDR_GLOBAL_CURSOR_LOCK), hold);
    }
    if st.held_memcg != 0 {
        account_hold(st.memcg_lock, hold);
    }
    0
}

/// A qspinlock's low byte is non-zero while it is held.
#[inline(always)]
fn held(addr: u64) -> bool {
    addr != 0 && read::<u8>(addr).is_some_and(|b| b != 0)
}

/// The walk step used inside the iterator (css_next_descendant_pre or mem_cgroup_iter).
#[fentry(function = "css_next_descendant_pre")]
pub fn fentry_cursor_inner(_ctx: FEntryContext) -> u32 {
    let t = tid();
    let Some(st) = CURSOR_STATE.get_ptr_mut(&t) else {
        return 0;
    };
    inc(counter::CURSOR_INNER_CALLS, 1);
    let st = unsafe { &mut *st };
    st.steps += 1;
    if !held(g(&ADDR_GLOBAL_CURSOR_LOCK)) {
        st.held_global = 0;
    }
    if !held(st.memcg_lock) {
        st.held_memcg = 0;
    }
    0
}

/// mem_cgroup_css_free(css): the memcg's memory is about to be reused, so its cursor lock's
/// address stops meaning this memcg. Its figures stay, filed under its cgroup id.
#[fentry(function = "mem_cgroup_css_free")]
pub fn fentry_memcg_free(ctx: FEntryContext) -> u32 {
    let off = g(&OFF_MEMCG_CURSOR_LOCK);
    let css = ctx.arg::<u64>(0);
    if off == 0 || css == 0 {
        return 0;
    }
    let memcg = css - g(&OFF_MEMCG_CSS);
    let _ = WATCHED_LOCKS.remove(&(memcg + off));
    0
}
