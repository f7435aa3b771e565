//! Proactive writeback (zswap_proactive_writeback() in v4/v5, zswap_proactive_shrink_memcg()
//! in v1–v3; the loader picks the target by name): calls, requested bytes, return codes,
//! duration, per memcg. Also marks the caller context so writeback is attributed to it.
use aya_ebpf::{
    macros::{fentry, fexit, kprobe, kretprobe},
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};
use bench_common::{counter, ctx, hist_id};

use crate::common::*;

fn enter(memcg: u64, bytes: u64) {
    ctx_push(ctx::PROACTIVE);
    learn_memcg_lock(memcg);
    inc(counter::PROACTIVE_CALLS, 1);
    inc(counter::PROACTIVE_REQ_BYTES, bytes);
    let s = Start {
        ts: now(),
        a: memcg_id(memcg),
        b: bytes,
    };
    if START_PROACTIVE.insert(&tid(), &s, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
}

fn exit(raw: u64) {
    ctx_pop();
    let t = tid();
    let Some(s) = (unsafe { START_PROACTIVE.get(&t) }).copied() else {
        return;
    };
    let _ = START_PROACTIVE.remove(&t);
    let lat = now().saturating_sub(s.ts);
    hist_add(hist_id::PROACTIVE_LAT, 0, lat);
    let ret = ret_value(raw, g(&RET32_PROACTIVE) != 0);
    upsert(&PROACTIVE_STATS, &s.a, counter::LOST_STATS_MAP, |p| {
        p.calls += 1;
        p.req_bytes += s.b;
        p.lat_ns += lat;
        match ret {
            0 => p.ret_zero += 1,
            -11 => p.ret_eagain += 1,
            -4 => p.ret_eintr += 1,
            -22 => p.ret_einval += 1,
            _ => p.ret_other += 1,
        }
    });
}

#[fentry(function = "zswap_proactive_writeback")]
pub fn fentry_proactive(ctx: FEntryContext) -> u32 {
    enter(ctx.arg::<u64>(0), ctx.arg::<u64>(1));
    0
}

#[fexit(function = "zswap_proactive_writeback")]
pub fn fexit_proactive(ctx: FExitContext) -> u32 {
    if let Ok(r) = ctx.ret::<u64>() {
        exit(r);
    }
    0
}

#[kprobe]
pub fn kprobe_proactive(ctx: ProbeContext) -> u32 {
    enter(
        ctx.arg::<u64>(0).unwrap_or(0),
        ctx.arg::<u64>(1).unwrap_or(0),
    );
    0
}

#[kretprobe]
pub fn kretprobe_proactive(ctx: RetProbeContext) -> u32 {
    exit(ctx.ret::<u64>());
    0
}

/// user_proactive_reclaim() (memory.reclaim writes of any kind): context only, so writeback
/// done by proactive reclaim on kernels without the series is attributed to "proactive".
#[fentry(function = "user_proactive_reclaim")]
pub fn fentry_user_reclaim(_ctx: FEntryContext) -> u32 {
    ctx_push(ctx::PROACTIVE);
    0
}

#[fexit(function = "user_proactive_reclaim")]
pub fn fexit_user_reclaim(_ctx: FExitContext) -> u32 {
    ctx_pop();
    0
}
