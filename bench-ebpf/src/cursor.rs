//! Writeback cursor iterator (zswap_mem_cgroup_iter() and later renamings; target chosen by
//! the loader): calls = cursor advances (= lock acquisitions on locked designs); on the
//! lockless design, extra inner walk steps per call count as cmpxchg restarts.
use aya_ebpf::{
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use bench_common::counter;

use crate::common::*;

#[fentry(function = "zswap_mem_cgroup_iter")]
pub fn fentry_cursor_iter(ctx: FEntryContext) -> u32 {
    inc(counter::CURSOR_ITER_CALLS, 1);
    let root = ctx.arg::<u64>(0);
    if root == 0 {
        learn_root_lock();
    } else {
        learn_memcg_lock(root);
    }
    let t = tid();
    let depth = unsafe { IN_CURSOR.get(&t) }.copied().unwrap_or(0);
    let _ = IN_CURSOR.insert(&t, &(depth + 1), 0);
    0
}

#[fexit(function = "zswap_mem_cgroup_iter")]
pub fn fexit_cursor_iter(_ctx: FExitContext) -> u32 {
    let t = tid();
    let depth = unsafe { IN_CURSOR.get(&t) }.copied().unwrap_or(0);
    if depth <= 1 {
        let _ = IN_CURSOR.remove(&t);
    } else {
        let _ = IN_CURSOR.insert(&t, &(depth - 1), 0);
    }
    0
}

/// The walk step used inside the iterator (css_next_descendant_pre or mem_cgroup_iter).
#[fentry(function = "css_next_descendant_pre")]
pub fn fentry_cursor_inner(_ctx: FEntryContext) -> u32 {
    if unsafe { IN_CURSOR.get(&tid()) }.is_some() {
        inc(counter::CURSOR_INNER_CALLS, 1);
    }
    0
}
