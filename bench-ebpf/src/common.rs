//! Maps, load-time globals and helpers shared by every program.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::map,
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap, StackTrace},
};
use bench_common::{
    HistKey, KVar, LockCallerKey, LockHold, LockInfo, LockStat, MemcgCtxKey, ProactiveStat,
    SPIN_NEST, ShrinkStat, WbStat, counter, hist, lock_kind, names::setting,
};

// ---- load-time globals (bench-common::names::G_*), set by the loader from the kernel's BTF ----
macro_rules! global {
    ($name:ident) => {
        #[unsafe(no_mangle)]
        pub static $name: u64 = 0;
    };
}
global!(OFF_MEMCG_CSS);
global!(OFF_CSS_CGROUP);
global!(OFF_CGROUP_KN);
global!(OFF_KN_ID);
global!(OFF_MEMCG_CURSOR_LOCK);
global!(OFF_ENTRY_LRU);
global!(OFF_ENTRY_LENGTH);
global!(RET32_SHRINK_MEMCG);
global!(RET32_PROACTIVE);
global!(ITEM_ZSWPOUT);
global!(ITEM_ZSWPIN);
global!(ITEM_ZSWPWB);
global!(LRU_REMOVED_RETRY);
global!(LEARN_MEMCG_LOCKS);
// Address of the `root_mem_cgroup` pointer variable (kallsyms), 0 if unknown.
global!(ADDR_ROOT_MEMCG_PTR);
global!(ADDR_GLOBAL_CURSOR_LOCK);
global!(DECLARED_CURSOR_LOCK);
global!(KVAR_TGID);

#[inline(always)]
pub fn g(v: &'static u64) -> u64 {
    unsafe { core::ptr::read_volatile(v) }
}

// ---- maps ----
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::LEN, 0);
#[map]
pub static HISTS: PerCpuHashMap<HistKey, u64> = PerCpuHashMap::with_max_entries(16384, 0);
#[map]
pub static SHRINK_STATS: PerCpuHashMap<MemcgCtxKey, ShrinkStat> =
    PerCpuHashMap::with_max_entries(4096, 0);
/// shrink_memcg return value -> count.
#[map]
pub static SHRINK_RETS: PerCpuHashMap<i64, u64> = PerCpuHashMap::with_max_entries(256, 0);
#[map]
pub static WB_STATS: PerCpuHashMap<MemcgCtxKey, WbStat> = PerCpuHashMap::with_max_entries(4096, 0);
#[map]
pub static LRU_STATUS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(bench_common::LRU_STATUS_MAX, 0);
#[map]
pub static PROACTIVE_STATS: PerCpuHashMap<u64, ProactiveStat> =
    PerCpuHashMap::with_max_entries(4096, 0);
/// Locks whose contention we account: address -> origin. Filled by userspace (global locks) and
/// by the programs themselves (per-memcg cursor locks learnt from memcg pointers).
#[map]
pub static WATCHED_LOCKS: HashMap<u64, LockInfo> = HashMap::with_max_entries(8192, 0);
#[map]
pub static LOCK_STATS: PerCpuHashMap<u64, LockStat> = PerCpuHashMap::with_max_entries(8192, 0);
#[map]
pub static LOCK_CALLERS: PerCpuHashMap<LockCallerKey, LockStat> =
    PerCpuHashMap::with_max_entries(8192, 0);
#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(2048, 0);
/// Lock id -> acquisitions and hold time (cursor locks taken by the cursor function).
#[map]
pub static LOCK_HOLD: PerCpuHashMap<u64, LockHold> = PerCpuHashMap::with_max_entries(8192, 0);
#[map]
pub static KVARS: Array<KVar> = Array::with_max_entries(bench_common::KVAR_SLOTS, 0);
#[map]
pub static SETTINGS: Array<u64> = Array::with_max_entries(setting::LEN, 0);

#[inline(always)]
pub fn setting(i: u32) -> u64 {
    SETTINGS.get(i).copied().unwrap_or(0)
}

/// Per-CPU stack of spin slow-path entries being timed. A CPU spins with preemption off, so
/// only interrupts can nest a second slow path on it; `SPIN_NEST` levels cover them.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SpinStack {
    pub depth: u64,
    pub addr: [u64; SPIN_NEST],
    pub ts: [u64; SPIN_NEST],
    pub stack: [i64; SPIN_NEST],
    /// Lock id when the lock is watched, else 0 (entry kept only so exits pair up).
    pub id: [u64; SPIN_NEST],
}
#[map]
pub static SPIN_STACK: PerCpuArray<SpinStack> = PerCpuArray::with_max_entries(1, 0);

/// Per-task state inside the cursor function: which locks it could take, whether the walk
/// step inside it saw them held, and how long it spun.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CursorState {
    pub t0: u64,
    /// The per-memcg cursor lock of the walk's root (0: the kernel has no such member).
    pub memcg_lock: u64,
    pub held_memcg: u64,
    pub held_global: u64,
    /// Walk steps seen inside this call.
    pub steps: u64,
    /// Spin wait on watched locks during this call (subtracted from the hold time).
    pub spin_ns: u64,
}
#[map]
pub static CURSOR_STATE: HashMap<u32, CursorState> = HashMap::with_max_entries(4096, 0);

/// Per-task state: entry timestamps and argument stashes, keyed by thread id.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Start {
    pub ts: u64,
    pub a: u64,
    pub b: u64,
}
#[map]
pub static START_SHRINK: HashMap<u32, Start> = HashMap::with_max_entries(16384, 0);
#[map]
pub static START_WORKER: HashMap<u32, Start> = HashMap::with_max_entries(1024, 0);
#[map]
pub static START_PROACTIVE: HashMap<u32, Start> = HashMap::with_max_entries(4096, 0);
#[map]
pub static START_CB: HashMap<u32, Start> = HashMap::with_max_entries(16384, 0);
#[map]
pub static START_WB: HashMap<u32, Start> = HashMap::with_max_entries(16384, 0);
#[map]
pub static START_LOCK: HashMap<u32, Start> = HashMap::with_max_entries(16384, 0);
/// Caller-context stack per task: 4-bit contexts, innermost in the low nibble.
#[map]
pub static CTX: HashMap<u32, u32> = HashMap::with_max_entries(16384, 0);

#[inline(always)]
pub fn tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

#[inline(always)]
pub fn now() -> u64 {
    unsafe { bpf_ktime_get_ns() }
}

#[inline(always)]
pub fn inc(idx: u32, v: u64) {
    if let Some(p) = COUNTERS.get_ptr_mut(idx) {
        unsafe { *p += v };
    }
}

/// Counts one event the results report as lost (a full map, a spin exit that matches no entry,
/// a stack id that could not be taken) and, on its 1st, 2nd, 4th, 8th... occurrence on this
/// CPU, says so through aya-log. The counter stays the number the result reports; the log line
/// tells the runner's log *when* events began to go missing and which kind, at most log2(n)
/// records per CPU, and only on paths where something already went wrong.
#[inline(always)]
pub fn problem(idx: u32) {
    let Some(p) = COUNTERS.get_ptr_mut(idx) else {
        return;
    };
    let n = unsafe { *p } + 1;
    unsafe { *p = n };
    if n & (n - 1) == 0 {
        aya_log_ebpf::warn!(
            &(),
            "lost event ({}): occurrence {} on this CPU",
            counter::problem_name(idx),
            n
        );
    }
}

/// Update-or-insert on a per-CPU hash; a full map is counted as lost, never silent.
#[inline(always)]
pub fn upsert<K, V: Copy + Default>(
    map: &PerCpuHashMap<K, V>,
    key: &K,
    lost: u32,
    f: impl FnOnce(&mut V),
) {
    if let Some(p) = map.get_ptr_mut(key) {
        f(unsafe { &mut *p });
        return;
    }
    let mut v = V::default();
    f(&mut v);
    if map.insert(key, &v, 0).is_err() {
        problem(lost);
    }
}

/// Record a value in histogram `h` (sub-id `id`): one bucket count plus the exact sum and max
/// in two reserved buckets, so userspace can report them without bucket error.
#[inline(always)]
pub fn hist_add(h: u32, id: u64, v: u64) {
    let b = hist::bucket_index(v);
    upsert(
        &HISTS,
        &HistKey {
            hist: h,
            bucket: b,
            id,
        },
        counter::LOST_HIST_MAP,
        |c| *c += 1,
    );
    upsert(
        &HISTS,
        &HistKey {
            hist: h,
            bucket: hist::SUM_BUCKET,
            id,
        },
        counter::LOST_HIST_MAP,
        |c| *c += v,
    );
    upsert(
        &HISTS,
        &HistKey {
            hist: h,
            bucket: hist::MAX_BUCKET,
            id,
        },
        counter::LOST_HIST_MAP,
        |c| {
            if v > *c {
                *c = v
            }
        },
    );
}

#[inline(always)]
pub fn read<T>(addr: u64) -> Option<T> {
    if addr == 0 {
        return None;
    }
    unsafe { bpf_probe_read_kernel(addr as *const T).ok() }
}

/// cgroup id of a memcg: memcg->css.cgroup->kn->id (the cgroup directory's inode number).
/// 0 for a NULL memcg (memcg disabled or the root LRU).
#[inline(always)]
pub fn memcg_id(memcg: u64) -> u64 {
    if memcg == 0 {
        return 0;
    }
    let cgrp: u64 = match read(memcg + g(&OFF_MEMCG_CSS) + g(&OFF_CSS_CGROUP)) {
        Some(p) => p,
        None => return 0,
    };
    let kn: u64 = match read(cgrp + g(&OFF_CGROUP_KN)) {
        Some(p) => p,
        None => return 0,
    };
    read(kn + g(&OFF_KN_ID)).unwrap_or(0)
}

/// On kernels with a per-memcg cursor lock, remember `memcg`'s lock so its contention is
/// attributed to the memcg. Cheap after the first time: one hash lookup.
#[inline(always)]
pub fn learn_memcg_lock(memcg: u64) {
    let off = g(&OFF_MEMCG_CURSOR_LOCK);
    if memcg == 0 || off == 0 || g(&LEARN_MEMCG_LOCKS) == 0 {
        return;
    }
    let addr = memcg + off;
    // Known: nothing to do while the free hook forgets freed memcgs' addresses. Without it,
    // re-read the cgroup id: a different one means the memory was reused by a new memcg,
    // which must not inherit the old one's figures (three reads, so only in that case).
    if let Some(info) = unsafe { WATCHED_LOCKS.get(&addr) } {
        if info.kind != lock_kind::PER_MEMCG
            || setting(setting::FORGET_FREED_LIVE) != 0
            || info.cgroup_id == memcg_id(memcg)
        {
            return;
        }
    }
    let info = LockInfo {
        cgroup_id: memcg_id(memcg),
        kind: lock_kind::PER_MEMCG,
        _pad: 0,
    };
    if WATCHED_LOCKS.insert(&addr, &info, 0).is_err() {
        problem(counter::LOST_LOCK_MAP);
    }
}

/// The root memcg (what a NULL memcg argument means to the zswap walks), 0 if unknown.
#[inline(always)]
pub fn root_memcg() -> u64 {
    read::<u64>(g(&ADDR_ROOT_MEMCG_PTR)).unwrap_or(0)
}

/// The root memcg's cursor lock (used by shrink_worker on per-memcg-cursor kernels).
#[inline(always)]
pub fn learn_root_lock() {
    learn_memcg_lock(root_memcg());
}

// ---- caller context ----
#[inline(always)]
pub fn ctx_push(c: u32) {
    let t = tid();
    let cur = unsafe { CTX.get(&t) }.copied().unwrap_or(0);
    let _ = CTX.insert(&t, &((cur << 4) | c), 0);
}

#[inline(always)]
pub fn ctx_pop() {
    let t = tid();
    let cur = unsafe { CTX.get(&t) }.copied().unwrap_or(0) >> 4;
    if cur == 0 {
        let _ = CTX.remove(&t);
    } else {
        let _ = CTX.insert(&t, &cur, 0);
    }
}

#[inline(always)]
pub fn ctx_current() -> u32 {
    unsafe { CTX.get(&tid()) }.copied().unwrap_or(0) & 0xf
}

/// Sign-extend a 32-bit return value when the traced function returns int.
#[inline(always)]
pub fn ret_value(raw: u64, ret32: bool) -> i64 {
    if ret32 {
        raw as u32 as i32 as i64
    } else {
        raw as i64
    }
}

/// Account one contended acquisition of lock `id` that waited `wait` ns, from caller stack
/// `stack_id` (the columns of `perf lock contention`), whatever mechanism timed it.
#[inline(always)]
pub fn account_wait(id: u64, stack_id: i64, wait: u64) {
    let f = |s: &mut LockStat| {
        s.contended += 1;
        s.total_wait_ns += wait;
        if wait > s.max_wait_ns {
            s.max_wait_ns = wait;
        }
    };
    upsert(&LOCK_STATS, &id, counter::LOST_STATS_MAP, f);
    let key = LockCallerKey { lock: id, stack_id };
    upsert(&LOCK_CALLERS, &key, counter::LOST_STATS_MAP, f);
    hist_add(bench_common::hist_id::LOCK_WAIT, id, wait);
}
