//! shrink_memcg(): calls, latency, return values, per memcg and caller context.
//! fentry/fexit preferred; kprobe/kretprobe fallback; a second kprobe counter for cross-checks.
use aya_ebpf::{
    macros::{fentry, fexit, kprobe, kretprobe},
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};
use bench_common::{MemcgCtxKey, counter, hist_id};

use crate::common::*;

fn enter(memcg: u64) -> u32 {
    let id = memcg_id(memcg);
    learn_memcg_lock(memcg);
    let s = Start {
        ts: now(),
        a: id,
        b: ctx_current() as u64,
    };
    if START_SHRINK.insert(&tid(), &s, 0).is_err() {
        problem(counter::LOST_START_MAP);
    }
    0
}

fn exit(raw: u64) -> u32 {
    let t = tid();
    let Some(s) = (unsafe { START_SHRINK.get(&t) }).copied() else {
        return 0; // entered before we attached
    };
    let _ = START_SHRINK.remove(&t);
    let lat = now().saturating_sub(s.ts);
    let ret = ret_value(raw, g(&RET32_SHRINK_MEMCG) != 0);
    inc(counter::SHRINK_MEMCG_CALLS, 1);
    hist_add(hist_id::SHRINK_MEMCG_LAT, 0, lat);
    // Positive returns (v5: bytes written) are folded into one bucket to bound the map.
    let ret_key: i64 = if ret > 0 { 1 } else { ret };
    upsert(&SHRINK_RETS, &ret_key, counter::LOST_STATS_MAP, |c| *c += 1);
    if ret > 0 {
        inc(counter::SHRINK_MEMCG_BYTES, ret as u64);
    }
    let key = MemcgCtxKey {
        cgroup_id: s.a,
        ctx: s.b as u32,
        _pad: 0,
    };
    upsert(&SHRINK_STATS, &key, counter::LOST_STATS_MAP, |st| {
        st.calls += 1;
        st.lat_ns += lat;
        match ret {
            0 => st.ret_zero += 1,
            -11 => st.ret_eagain += 1,
            -2 => st.ret_enoent += 1,
            r if r > 0 => {
                st.ret_positive += 1;
                st.bytes += r as u64
            }
            _ => st.ret_other += 1,
        }
    });
    0
}

#[fentry(function = "shrink_memcg")]
pub fn fentry_shrink_memcg(ctx: FEntryContext) -> u32 {
    enter(ctx.arg::<u64>(0))
}

#[fexit(function = "shrink_memcg")]
pub fn fexit_shrink_memcg(ctx: FExitContext) -> u32 {
    match ctx.ret::<u64>() {
        Ok(r) => exit(r),
        Err(_) => 0,
    }
}

#[kprobe]
pub fn kprobe_shrink_memcg(ctx: ProbeContext) -> u32 {
    enter(ctx.arg::<u64>(0).unwrap_or(0))
}

#[kretprobe]
pub fn kretprobe_shrink_memcg(ctx: RetProbeContext) -> u32 {
    exit(ctx.ret::<u64>())
}

/// Independent counter for the cross-check (attached as a kprobe beside fentry).
#[kprobe]
pub fn kprobe_shrink_memcg_xcheck(_ctx: ProbeContext) -> u32 {
    inc(counter::SHRINK_MEMCG_CALLS_XCHECK, 1);
    0
}
