//! Types shared by the eBPF programs (`bench-ebpf`) and userspace (`bench-user`).
//!
//! Everything here is `#[repr(C)]` plain data: it is the ABI of the BPF maps. Program and map
//! names are constants so that the loader and the programs cannot drift apart.
#![no_std]

pub mod errno;
pub mod hist;
pub mod names;

/// Maximum stack depth kept for lock-contention callers.
pub const STACK_DEPTH: u32 = 16;

/// Caller context of a zswap code path, tracked per task by the programs on the callers'
/// entry/exit (shrink_worker, zswap_store, zswap_shrinker_scan, proactive writeback).
pub mod ctx {
    pub const OTHER: u32 = 0;
    pub const SHRINK_WORKER: u32 = 1;
    pub const STORE: u32 = 2;
    pub const SHRINKER: u32 = 3;
    pub const PROACTIVE: u32 = 4;
    pub const COUNT: usize = 5;

    /// The callers' names: the keys of a result's `by_caller` (shrink_memcg) and `by_source`
    /// (writeback) maps.
    pub mod name {
        pub const OTHER: &str = "other";
        pub const SHRINK_WORKER: &str = "shrink_worker";
        pub const ZSWAP_STORE: &str = "zswap_store";
        pub const SHRINKER: &str = "shrinker";
        pub const PROACTIVE: &str = "proactive";
    }

    /// Name of each context, indexed by its value.
    pub const NAMES: [&str; COUNT] = [
        name::OTHER,
        name::SHRINK_WORKER,
        name::ZSWAP_STORE,
        name::SHRINKER,
        name::PROACTIVE,
    ];

    /// Name of context `ctx`; a value the programs should never produce counts as "other".
    pub fn name_of(ctx: u32) -> &'static str {
        NAMES.get(ctx as usize).copied().unwrap_or(name::OTHER)
    }
}

/// Histogram ids (first field of [`HistKey`]).
pub mod hist_id {
    pub const SHRINK_MEMCG_LAT: u32 = 1;
    pub const SHRINK_WORKER_RUN: u32 = 2;
    pub const PROACTIVE_LAT: u32 = 3;
    /// Lock wait; [`super::HistKey::id`] is the lock address.
    pub const LOCK_WAIT: u32 = 4;
    pub const WRITEBACK_ENTRY_LAT: u32 = 5;
    /// Cursor-lock hold time (upper bound); [`super::HistKey::id`] is the lock id.
    pub const LOCK_HOLD: u32 = 6;
}

/// Slots of the per-CPU `COUNTERS` array.
pub mod counter {
    pub const SHRINK_MEMCG_CALLS: u32 = 0;
    pub const SHRINK_MEMCG_CALLS_XCHECK: u32 = 1;
    pub const SHRINK_WORKER_WAKEUPS: u32 = 2;
    pub const STORE_CALLS: u32 = 3;
    pub const STORE_FAILURES: u32 = 4;
    pub const PROACTIVE_CALLS: u32 = 5;
    pub const PROACTIVE_REQ_BYTES: u32 = 6;
    pub const CURSOR_ITER_CALLS: u32 = 7;
    /// css_next_descendant_pre()/mem_cgroup_iter() calls made inside the cursor iterator.
    pub const CURSOR_INNER_CALLS: u32 = 8;
    pub const WB_ENTRY_CALLS: u32 = 9;
    pub const WB_ENTRY_OK: u32 = 10;
    pub const WB_ENTRY_BYTES: u32 = 11;
    pub const SHRINK_MEMCG_BYTES: u32 = 12;
    /// Map updates that failed (map full): events we could not account. Reported as lost.
    pub const LOST_START_MAP: u32 = 13;
    pub const LOST_STATS_MAP: u32 = 14;
    pub const LOST_HIST_MAP: u32 = 15;
    pub const LOST_LOCK_MAP: u32 = 16;
    pub const STACK_ERRORS: u32 = 17;
    /// Spin slow-path exits that did not match the entry on top of the per-CPU stack (or a
    /// stack deeper than [`super::SPIN_NEST`]): contention we could not time. Reported as lost.
    pub const SPIN_UNMATCHED: u32 = 18;
    /// Second, independent count of watched spin slow-path entries (kprobe, cross-check).
    pub const SPIN_XCHECK: u32 = 20;
    /// Contended acquisitions timed by lock:contention_begin/end (sleeping locks), so the
    /// spin-only part of LOCK_STATS can be compared with SPIN_XCHECK.
    pub const SLEEP_CONTENDED: u32 = 21;
    pub const LEN: u32 = 24;

    /// The problem counters with the names the result's `map_errors` uses for them; all but
    /// `STACK_ERRORS` (a caller left unnamed, the wait itself still counted) are lost events.
    pub const PROBLEMS: [(&str, u32); 6] = [
        ("start_map_full", LOST_START_MAP),
        ("stats_map_full", LOST_STATS_MAP),
        ("hist_map_full", LOST_HIST_MAP),
        ("lock_map_full", LOST_LOCK_MAP),
        ("spin_unmatched", SPIN_UNMATCHED),
        ("stack_errors", STACK_ERRORS),
    ];

    /// A problem counter's name in `PROBLEMS`, for the eBPF side's log lines (aya-log), so the
    /// log and the result file speak of the same thing in the same words. A `match` on purpose,
    /// not a search of `PROBLEMS`: a search hands the program a `&str` read out of relocated
    /// data, which the verifier takes for a plain number and refuses to dereference; the match
    /// returns pointers into .rodata. The unit test below keeps the two in step.
    #[inline(always)]
    pub fn problem_name(idx: u32) -> &'static str {
        match idx {
            LOST_START_MAP => PROBLEMS[0].0,
            LOST_STATS_MAP => PROBLEMS[1].0,
            LOST_HIST_MAP => PROBLEMS[2].0,
            LOST_LOCK_MAP => PROBLEMS[3].0,
            SPIN_UNMATCHED => PROBLEMS[4].0,
            STACK_ERRORS => PROBLEMS[5].0,
            _ => "other",
        }
    }
}

/// Key of the per-CPU `HISTS` hash: one bucket of one histogram.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct HistKey {
    pub hist: u32,
    pub bucket: u32,
    /// Sub-id, e.g. a lock address; 0 when unused.
    pub id: u64,
}

/// Per-memcg, per-caller-context statistics of shrink_memcg().
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MemcgCtxKey {
    /// cgroup id (kernfs node id = inode number of the cgroup directory).
    pub cgroup_id: u64,
    pub ctx: u32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ShrinkStat {
    pub calls: u64,
    pub ret_zero: u64,
    pub ret_positive: u64,
    pub ret_eagain: u64,
    pub ret_enoent: u64,
    pub ret_other: u64,
    /// Sum of positive return values (v5: compressed bytes written back).
    pub bytes: u64,
    pub lat_ns: u64,
}

/// Writeback per memcg and source (the caller context of the writeback).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WbStat {
    pub pages: u64,
    /// Compressed bytes (entry->length) of the pages written back; 0 when not resolvable.
    pub bytes: u64,
    /// Pages whose compressed size was known (so userspace can tell if `bytes` is complete).
    pub pages_with_bytes: u64,
}

/// Per-memcg proactive writeback statistics.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProactiveStat {
    pub calls: u64,
    pub req_bytes: u64,
    pub ret_zero: u64,
    pub ret_eagain: u64,
    pub ret_eintr: u64,
    pub ret_einval: u64,
    pub ret_other: u64,
    pub lat_ns: u64,
}

/// Per-lock contention statistics (perf lock contention's columns).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LockStat {
    pub contended: u64,
    pub total_wait_ns: u64,
    pub max_wait_ns: u64,
}

/// Acquisitions and hold time of a cursor lock, measured around the cursor function that
/// takes it once per call (hold = call duration minus spin wait: an upper bound).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LockHold {
    pub acquisitions: u64,
    pub hold_total_ns: u64,
    pub hold_max_ns: u64,
}

/// Per (lock, caller stack) contention. `lock` is the lock id (see [`lock_id`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct LockCallerKey {
    pub lock: u64,
    pub stack_id: i64,
}

/// A watched lock: where it came from.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LockInfo {
    /// 0 for global locks (address from kallsyms); cgroup id of the owning memcg otherwise.
    pub cgroup_id: u64,
    pub kind: u32,
    pub _pad: u32,
}

pub mod lock_kind {
    pub const GLOBAL: u32 = 1;
    pub const PER_MEMCG: u32 = 2;
}

/// The key every per-lock statistic is stored under. A global lock is its address. A
/// per-memcg lock is its memcg's cgroup id: memcgs are freed and their memory reused, so an
/// address can belong to several memcgs over a run, while cgroup ids are never reused.
#[inline(always)]
pub fn lock_id(addr: u64, info: &LockInfo) -> u64 {
    if info.kind == lock_kind::PER_MEMCG && info.cgroup_id != 0 {
        info.cgroup_id
    } else {
        addr
    }
}

/// Nesting levels of the spin slow path we time per CPU (task, softirq, hardirq, NMI: the
/// kernel's own qnode nesting limit is 4 too).
pub const SPIN_NEST: usize = 4;

/// Kernel variables read once through a BPF program (for facts no file shows, such as the
/// state of the `virt_spin_lock_key` static key). Slot index -> address in, value out.
pub const KVAR_SLOTS: u32 = 4;
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KVar {
    pub addr: u64,
    pub value: u64,
    /// 1 once the program has read `addr` (0 = not run, or the read faulted: see `ok`).
    pub done: u64,
    pub ok: u64,
}

/// zswap events recognised on memcg:count_memcg_events.
pub mod event {
    pub const ZSWPOUT: u32 = 0;
    pub const ZSWPIN: u32 = 1;
    pub const ZSWPWB: u32 = 2;
}

/// LRU walk callback return values (enum lru_status) are counted by value, up to this many.
pub const LRU_STATUS_MAX: u32 = 8;

#[cfg(feature = "user")]
mod pod {
    use super::*;
    unsafe impl aya::Pod for HistKey {}
    unsafe impl aya::Pod for MemcgCtxKey {}
    unsafe impl aya::Pod for ShrinkStat {}
    unsafe impl aya::Pod for WbStat {}
    unsafe impl aya::Pod for ProactiveStat {}
    unsafe impl aya::Pod for LockStat {}
    unsafe impl aya::Pod for LockCallerKey {}
    unsafe impl aya::Pod for LockInfo {}
    unsafe impl aya::Pod for LockHold {}
    unsafe impl aya::Pod for KVar {}
}

#[cfg(test)]
mod problem_tests {
    use super::counter::{PROBLEMS, problem_name};

    #[test]
    fn every_problem_counter_is_named_as_in_the_table() {
        for (name, idx) in PROBLEMS {
            assert_eq!(problem_name(idx), name);
        }
        assert_eq!(problem_name(0), "other");
    }
}
