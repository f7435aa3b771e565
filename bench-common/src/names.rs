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
}
