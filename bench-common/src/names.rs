//! Program, map and global names: one definition for the eBPF side and the loader.

// Maps
pub const COUNTERS: &str = "COUNTERS";
pub const HISTS: &str = "HISTS";
pub const SHRINK_STATS: &str = "SHRINK_STATS";
pub const SHRINK_RETS: &str = "SHRINK_RETS";
pub const WB_STATS: &str = "WB_STATS";
pub const LRU_STATUS: &str = "LRU_STATUS";
pub const PROACTIVE_STATS: &str = "PROACTIVE_STATS";
pub const WATCHED_LOCKS: &str = "WATCHED_LOCKS";
pub const LOCK_STATS: &str = "LOCK_STATS";
pub const LOCK_CALLERS: &str = "LOCK_CALLERS";
pub const STACKS: &str = "STACKS";
pub const LOCK_HOLD: &str = "LOCK_HOLD";
pub const KVARS: &str = "KVARS";
/// Runtime switches set by userspace after attaching (index into the SETTINGS array).
pub const SETTINGS: &str = "SETTINGS";
pub mod setting {
    /// 1 = spinlock contention is served by the slow-path hook, so lock:contention_begin/end
    /// skip spinlocks (they would count the MCS-queue case twice).
    pub const SPIN_VIA_SLOWPATH: u32 = 0;
    /// 1 = freed memcgs' lock addresses are forgotten at mem_cgroup_css_free, so learning
    /// need not re-read the cgroup id behind a known address on every probe hit.
    pub const FORGET_FREED_LIVE: u32 = 1;
    pub const LEN: u32 = 4;
}

// Globals (set with EbpfLoader::set_global before load). Offsets come from the running kernel's
// BTF because Rust eBPF has no CO-RE relocations.
pub const G_OFF_MEMCG_CSS: &str = "OFF_MEMCG_CSS";
pub const G_OFF_CSS_CGROUP: &str = "OFF_CSS_CGROUP";
pub const G_OFF_CGROUP_KN: &str = "OFF_CGROUP_KN";
pub const G_OFF_KN_ID: &str = "OFF_KN_ID";
/// Offset of the per-memcg cursor lock inside struct mem_cgroup (0 = kernel has none).
pub const G_OFF_MEMCG_CURSOR_LOCK: &str = "OFF_MEMCG_CURSOR_LOCK";
/// Offset of `lru` and `length` in struct zswap_entry (for compressed bytes per entry).
pub const G_OFF_ENTRY_LRU: &str = "OFF_ENTRY_LRU";
pub const G_OFF_ENTRY_LENGTH: &str = "OFF_ENTRY_LENGTH";
/// Return value width in bytes (4 = int, sign-extend the low half; 8 = long).
pub const G_RET32_SHRINK_MEMCG: &str = "RET32_SHRINK_MEMCG";
pub const G_RET32_PROACTIVE: &str = "RET32_PROACTIVE";
/// kallsyms addresses: the root_mem_cgroup pointer variable, shrink_worker.
pub const G_ADDR_ROOT_MEMCG_PTR: &str = "ADDR_ROOT_MEMCG_PTR";
pub const G_ADDR_SHRINK_WORKER: &str = "ADDR_SHRINK_WORKER";
/// vm_event_item values of ZSWPOUT/ZSWPIN/ZSWPWB (from BTF enum vm_event_item).
pub const G_ITEM_ZSWPOUT: &str = "ITEM_ZSWPOUT";
pub const G_ITEM_ZSWPIN: &str = "ITEM_ZSWPIN";
pub const G_ITEM_ZSWPWB: &str = "ITEM_ZSWPWB";
/// `enum lru_status` value meaning "entry written back" in shrink_memcg_cb's return.
pub const G_LRU_REMOVED_RETRY: &str = "LRU_REMOVED_RETRY";
/// Learn per-memcg cursor locks from memcg pointers seen by the probes (1 = on).
pub const G_LEARN_MEMCG_LOCKS: &str = "LEARN_MEMCG_LOCKS";
/// Address of the global cursor lock (zswap_shrink_lock), 0 if the kernel has none.
pub const G_ADDR_GLOBAL_CURSOR_LOCK: &str = "ADDR_GLOBAL_CURSOR_LOCK";
/// The cursor lock a design declares it takes exactly once per cursor call (lock_kind::GLOBAL or
/// PER_MEMCG; 0 = none declared, acquisitions need the walk-step evidence).
pub const G_DECLARED_CURSOR_LOCK: &str = "DECLARED_CURSOR_LOCK";
/// The thread group whose syscalls trigger the kernel-variable reader.
pub const G_KVAR_TGID: &str = "KVAR_TGID";

/// Programs. One eBPF function per (hook, mechanism); the loader picks per metric.
pub mod prog {
    pub const FENTRY_SHRINK_MEMCG: &str = "fentry_shrink_memcg";
    pub const FEXIT_SHRINK_MEMCG: &str = "fexit_shrink_memcg";
    pub const KPROBE_SHRINK_MEMCG: &str = "kprobe_shrink_memcg";
    pub const KRETPROBE_SHRINK_MEMCG: &str = "kretprobe_shrink_memcg";
    /// Second, independent counter of shrink_memcg calls (cross-check).
    pub const KPROBE_SHRINK_MEMCG_XCHECK: &str = "kprobe_shrink_memcg_xcheck";

    pub const FENTRY_SHRINK_MEMCG_CB: &str = "fentry_shrink_memcg_cb";
    pub const FEXIT_SHRINK_MEMCG_CB: &str = "fexit_shrink_memcg_cb";
    pub const KPROBE_SHRINK_MEMCG_CB: &str = "kprobe_shrink_memcg_cb";
    pub const KRETPROBE_SHRINK_MEMCG_CB: &str = "kretprobe_shrink_memcg_cb";
    pub const FENTRY_WB_ENTRY: &str = "fentry_writeback_entry";
    pub const FEXIT_WB_ENTRY: &str = "fexit_writeback_entry";

    pub const FENTRY_SHRINK_WORKER: &str = "fentry_shrink_worker";
    pub const FEXIT_SHRINK_WORKER: &str = "fexit_shrink_worker";
    pub const TP_WQ_START: &str = "tp_workqueue_execute_start";
    pub const TP_WQ_END: &str = "tp_workqueue_execute_end";

    pub const FENTRY_STORE: &str = "fentry_zswap_store";
    pub const FEXIT_STORE: &str = "fexit_zswap_store";
    pub const FENTRY_SHRINKER_SCAN: &str = "fentry_shrinker_scan";
    pub const FEXIT_SHRINKER_SCAN: &str = "fexit_shrinker_scan";

    pub const FENTRY_PROACTIVE: &str = "fentry_proactive";
    pub const FEXIT_PROACTIVE: &str = "fexit_proactive";
    pub const KPROBE_PROACTIVE: &str = "kprobe_proactive";
    pub const KRETPROBE_PROACTIVE: &str = "kretprobe_proactive";

    pub const FENTRY_CURSOR_ITER: &str = "fentry_cursor_iter";
    pub const FEXIT_CURSOR_ITER: &str = "fexit_cursor_iter";
    pub const FENTRY_CURSOR_INNER: &str = "fentry_cursor_inner";
    pub const FENTRY_USER_RECLAIM: &str = "fentry_user_reclaim";
    pub const FEXIT_USER_RECLAIM: &str = "fexit_user_reclaim";

    pub const TP_BTF_MEMCG_EVENTS: &str = "tp_btf_count_memcg_events";
    pub const TP_MEMCG_EVENTS: &str = "tp_count_memcg_events";

    pub const TP_BTF_CONTENTION_BEGIN: &str = "tp_btf_contention_begin";
    pub const TP_BTF_CONTENTION_END: &str = "tp_btf_contention_end";
    pub const TP_CONTENTION_BEGIN: &str = "tp_contention_begin";
    pub const TP_CONTENTION_END: &str = "tp_contention_end";

    /// Spinlock slow path (queued_spin_lock_slowpath and its paravirt/native names).
    pub const FENTRY_SPIN_SLOW: &str = "fentry_spin_slowpath";
    pub const FEXIT_SPIN_SLOW: &str = "fexit_spin_slowpath";
    pub const KPROBE_SPIN_SLOW: &str = "kprobe_spin_slowpath";
    pub const KRETPROBE_SPIN_SLOW: &str = "kretprobe_spin_slowpath";
    /// Independent count of watched slow-path entries (cross-check of the timed waits).
    pub const KPROBE_SPIN_SLOW_XCHECK: &str = "kprobe_spin_slowpath_xcheck";
    /// A freed memcg's cursor lock address is forgotten (memory is reused by later memcgs).
    pub const FENTRY_MEMCG_FREE: &str = "fentry_memcg_free";
    /// One-shot kernel-variable reader, triggered by our own syscall.
    pub const TP_BTF_KVAR: &str = "tp_btf_kvar_sys_enter";
}

/// Kernel function names the probe layer hooks, in one place for the loader and `doctor`.
pub mod kfunc {
    // zswap's own paths. The eBPF programs name the same functions in their attach attributes,
    // which take literals only.
    pub const SHRINK_MEMCG: &str = "shrink_memcg";
    pub const SHRINK_MEMCG_CB: &str = "shrink_memcg_cb";
    pub const WRITEBACK_ENTRY: &str = "zswap_writeback_entry";
    pub const SHRINK_WORKER: &str = "shrink_worker";
    pub const STORE: &str = "zswap_store";
    pub const SHRINKER_SCAN: &str = "zswap_shrinker_scan";
    pub const USER_PROACTIVE_RECLAIM: &str = "user_proactive_reclaim";
    /// Only checked by `doctor`: present where offlined memcgs are dropped from the cursor.
    pub const MEMCG_OFFLINE_CLEANUP: &str = "zswap_memcg_offline_cleanup";
    /// The step of a cursor walk, counted inside the cursor iterator.
    pub const CSS_NEXT_DESCENDANT_PRE: &str = "css_next_descendant_pre";
    /// The pointer variable to the root memcg (kallsyms).
    pub const ROOT_MEM_CGROUP: &str = "root_mem_cgroup";
    /// A function every kernel has, for `doctor`'s attach test where zswap_store is missing.
    pub const VFS_READ: &str = "vfs_read";
    /// The spinlock slow path under its possible names, first match wins: the generic name,
    /// the native one when CONFIG_PARAVIRT_SPINLOCKS renames it, and the paravirt slow path.
    pub const SPIN_SLOWPATH: &[&str] = &[
        "queued_spin_lock_slowpath",
        "native_queued_spin_lock_slowpath",
    ];
    pub const PV_SPIN_SLOWPATH: &str = "__pv_queued_spin_lock_slowpath";
    pub const MEMCG_FREE: &str = "mem_cgroup_css_free";
    /// The static key that turns spinlocks into test-and-set locks under a hypervisor.
    pub const VIRT_SPIN_LOCK_KEY: &str = "virt_spin_lock_key";
    pub const GLOBAL_CURSOR_LOCK: &str = "zswap_shrink_lock";
}
