//! Spinlock contention where it happens: the slow path. Every contended spin_lock() enters
//! queued_spin_lock_slowpath() (native_queued_spin_lock_slowpath with PARAVIRT_SPINLOCKS),
//! whichever way it then waits: the pending bit (one waiter), virt_spin_lock()'s test-and-set
//! loop (a guest with the hypervisor bit and no paravirt spinlocks), or the MCS queue.
//! lock:contention_begin fires only on the MCS path, so a lone waiter on bare metal and every
//! waiter in such a guest are invisible to it; this hook sees them all.
//!
//! Entry pushes (lock, time, caller stack) on a per-CPU stack, exit pops it: a CPU spins with
//! preemption off, so only interrupts nest another slow path on the same CPU. Unwatched locks
//! are pushed too (without a stack), so that kretprobe exits, which carry no arguments, pair
//! with the right entry. The filter is one hash lookup; nothing else runs for other locks.
use aya_ebpf::{
    macros::{fentry, fexit, kprobe, kretprobe},
    programs::{
        FEntryContext, FExitContext, ProbeContext, RetProbeContext, tracing::StackIdContext,
    },
};
use bench_common::{SPIN_NEST, counter, lock_id};

use crate::common::*;

#[inline(always)]
fn enter<C: StackIdContext>(ctx: &C, addr: u64) {
    let Some(st) = SPIN_STACK.get_ptr_mut(0) else {
        return;
    };
    let st = unsafe { &mut *st };
    let d = st.depth as usize;
    if d >= SPIN_NEST {
        problem(counter::SPIN_UNMATCHED);
        return;
    }
    // The mask lets the compiler drop the bounds check (a panic path the verifier refuses).
    let d = d & (SPIN_NEST - 1);
    let (id, stack) = match unsafe { WATCHED_LOCKS.get(&addr) } {
        Some(info) => {
            let stack = match ctx.get_stackid(&STACKS, 0) {
                Ok(id) => id,
                Err(_) => {
                    problem(counter::STACK_ERRORS);
                    -1
                }
            };
            (lock_id(addr, info), stack)
        }
        None => (0, -1),
    };
    st.addr[d] = addr;
    st.id[d] = id;
    st.stack[d] = stack;
    st.ts[d] = now();
    st.depth = (d + 1) as u64;
}

/// `addr` is the lock the exiting call spun on, or 0 when the mechanism cannot tell (kretprobe).
#[inline(always)]
fn exit(addr: u64) {
    let Some(st) = SPIN_STACK.get_ptr_mut(0) else {
        return;
    };
    let st = unsafe { &mut *st };
    let d = st.depth as usize;
    if d == 0 || d > SPIN_NEST {
        return; // entered before we attached
    }
    let d = (d - 1) & (SPIN_NEST - 1);
    if addr != 0 && st.addr[d] != addr {
        // The exit of a nested slow path (an interrupt spinning while the entry program ran
        // on this CPU) whose entry the BPF recursion guard skipped: it is not ours to pop, and
        // the entry below it is still waiting. Only a watched lock's skipped wait is a loss.
        if unsafe { WATCHED_LOCKS.get(&addr) }.is_some() {
            problem(counter::SPIN_UNMATCHED);
        }
        return;
    }
    st.depth = d as u64;
    let id = st.id[d];
    if id == 0 {
        return;
    }
    let wait = now().saturating_sub(st.ts[d]);
    account_wait(id, st.stack[d], wait);
    // Spinning inside the cursor function is not holding its lock.
    if let Some(c) = CURSOR_STATE.get_ptr_mut(&tid()) {
        unsafe { (*c).spin_ns += wait };
    }
}

#[fentry(function = "queued_spin_lock_slowpath")]
pub fn fentry_spin_slowpath(ctx: FEntryContext) -> u32 {
    enter(&ctx, ctx.arg::<u64>(0));
    0
}

#[fexit(function = "queued_spin_lock_slowpath")]
pub fn fexit_spin_slowpath(ctx: FExitContext) -> u32 {
    exit(ctx.arg::<u64>(0));
    0
}

#[kprobe]
pub fn kprobe_spin_slowpath(ctx: ProbeContext) -> u32 {
    enter(&ctx, ctx.arg::<u64>(0).unwrap_or(0));
    0
}

#[kretprobe]
pub fn kretprobe_spin_slowpath(_ctx: RetProbeContext) -> u32 {
    exit(0);
    0
}

/// Cross-check: counts entries on watched locks by another mechanism, at entry rather than
/// exit, with nothing shared with the timed path but the watch list.
#[kprobe]
pub fn kprobe_spin_slowpath_xcheck(ctx: ProbeContext) -> u32 {
    let addr = ctx.arg::<u64>(0).unwrap_or(0);
    if unsafe { WATCHED_LOCKS.get(&addr) }.is_some() {
        inc(counter::SPIN_XCHECK, 1);
    }
    0
}
