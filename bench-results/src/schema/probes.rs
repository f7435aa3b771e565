//! What the eBPF probes measured, family by family (`ResultFile::probes`).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

/// eBPF-measured families. `None` = not measurable on this kernel (reason in `probe_plan`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Probes {
    /// The window the counts and histograms cover. Result files written before this field
    /// existed hold counts since attach, which include the quiet points around the measured
    /// phase; rates over the measured duration are then only approximate.
    #[serde(default)]
    pub window: ProbeWindow,
    #[serde(default)]
    pub shrink_memcg: Option<ShrinkMemcg>,
    #[serde(default)]
    pub writeback: Option<Writeback>,
    #[serde(default)]
    pub shrink_worker: Option<ShrinkWorker>,
    #[serde(default)]
    pub store: Option<Store>,
    #[serde(default)]
    pub proactive: Option<ProactiveProbe>,
    /// Every cursor lock tracked (also those never contended); `None` = lock contention
    /// tracepoints unavailable.
    #[serde(default)]
    pub locks: Option<Vec<LockStats>>,
    /// Lock families that are not reported, with the reason (e.g. a per-memcg lock member the
    /// design never takes: "n/a: never taken", which is not the same as 0 contended).
    #[serde(default)]
    pub locks_unavailable: Vec<LockUnavailable>,
    #[serde(default)]
    pub cursor_iter: Option<CursorIter>,
    #[serde(default)]
    pub self_cost: Vec<SelfCost>,
    #[serde(default)]
    pub lost_events: u64,
    #[serde(default)]
    pub map_errors: BTreeMap<String, u64>,
}

/// See [`Probes::window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeWindow {
    /// Cumulative since the probes attached (files older than the field).
    #[default]
    SinceAttach,
    /// End-of-measured-phase snapshot minus start-of-measured-phase snapshot: the same window
    /// as `duration_ns`, the kernel counters and the workload figures.
    Measured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkMemcg {
    pub calls: u64,
    pub latency: Histogram,
    /// Return value -> calls (see [`ret`]).
    pub returns: BTreeMap<String, u64>,
    /// Sum of positive returns on kernels whose shrink_memcg returns bytes (v5); else `None`.
    #[serde(default)]
    pub bytes_returned: Option<u64>,
    pub per_memcg: Vec<MemcgCalls>,
    /// Caller context -> calls (see [`caller`]).
    pub by_caller: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemcgCalls {
    /// cgroup v2 path relative to the cgroup root, e.g. "/zswap-bench/parent/child1".
    pub cgroup: String,
    pub cgroup_id: u64,
    pub calls: u64,
    pub by_caller: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Writeback {
    /// Attach point that measured it, e.g. "fexit:zswap_writeback_entry".
    pub point: String,
    pub pages: u64,
    /// Compressed bytes written back, when the attach point sees the size.
    #[serde(default)]
    pub bytes: Option<u64>,
    pub per_memcg: Vec<MemcgWriteback>,
    /// shrink_memcg_cb LRU status -> count ("LRU_REMOVED", "LRU_ROTATE", ...), when measured.
    #[serde(default)]
    pub lru_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemcgWriteback {
    pub cgroup: String,
    pub cgroup_id: u64,
    pub pages: u64,
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Source (see [`caller`]: proactive, shrinker, shrink_worker, zswap_store) -> amount.
    #[serde(default)]
    pub by_source: BTreeMap<String, PagesBytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PagesBytes {
    pub pages: u64,
    #[serde(default)]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkWorker {
    pub wakeups: u64,
    pub runtime: Histogram,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Store {
    pub calls: u64,
    pub failures: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProactiveProbe {
    pub calls: u64,
    pub requested_bytes: u64,
    pub written_bytes: u64,
    pub returns: BTreeMap<String, u64>,
    pub latency: Histogram,
    /// Per target memcg of the proactive call.
    pub per_memcg: Vec<MemcgProactive>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemcgProactive {
    pub cgroup: String,
    pub cgroup_id: u64,
    pub calls: u64,
    pub written_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Global,
    PerMemcg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockStats {
    /// "zswap_shrink_lock" for the global lock, the memcg path for a per-memcg cursor lock.
    pub name: String,
    pub kind: LockKind,
    pub addr: u64,
    pub contended: u64,
    pub total_wait_ns: u64,
    pub max_wait_ns: u64,
    pub wait: Histogram,
    /// Acquisitions (contended or not), where a cheap probe counts them.
    #[serde(default)]
    pub acquisitions: Option<u64>,
    #[serde(default)]
    pub callers: Vec<LockCaller>,
    /// What measured the contention, e.g. "fentry:queued_spin_lock_slowpath".
    #[serde(default)]
    pub mechanism: Option<String>,
    /// Hold time per acquisition (an upper bound: the cursor call's duration minus its spin
    /// wait); `count` = acquisitions. `None` where acquisitions are not measured.
    #[serde(default)]
    pub hold: Option<Histogram>,
}

impl LockStats {
    /// Contended acquisitions / acquisitions, where acquisitions are measured.
    pub fn contended_share(&self) -> Option<f64> {
        match self.acquisitions {
            Some(a) if a > 0 => Some(self.contended as f64 / a as f64),
            _ => None,
        }
    }
    /// Lock utilization over `duration_ns`: acquisitions/s × mean hold time, i.e. the fraction
    /// of time the lock is held. It predicts contention on machines with more CPUs.
    pub fn utilization(&self, duration_ns: u64) -> Option<f64> {
        let h = self.hold.as_ref()?;
        if duration_ns == 0 {
            return None;
        }
        Some(h.sum as f64 / duration_ns as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockUnavailable {
    /// The lock or lock family, e.g. "per-memcg cursor locks (mem_cgroup.zswap_wb_iter.lock)".
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockCaller {
    /// Symbolized stack, innermost frame first.
    pub stack: Vec<String>,
    pub contended: u64,
    pub total_wait_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorIter {
    pub function: String,
    pub calls: u64,
    pub restarts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfCost {
    pub program: String,
    pub run_count: u64,
    pub run_time_ns: u64,
}

/// Whether the run had the per-step cursor probe (`css_next_descendant_pre`) attached: the
/// probe plan's `cursor_iter.walk_steps` entry (results from before the declared-lock path had
/// it wherever a cursor function was live).
pub fn walk_steps_on(r: &super::ResultFile) -> bool {
    r.probe_plan.iter().any(|e| {
        e.metric == "cursor_iter.walk_steps"
            && e.mechanism != Mechanism::None
            && e.status == PlanStatus::Live
    })
}
