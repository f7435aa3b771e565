//! The validated scenario with its concrete tree (`Loaded`): memcg templates expanded into cgroup
//! paths (parents before children), one entry per worker process and per proactive-writeback
//! thread. The runner creates exactly the memcgs, workers and threads listed here, which are
//! what validation checked, and resolves section names to memcgs the way validation did.
use std::collections::BTreeMap;
use std::path::PathBuf;

use bench_results::human::fmt_bytes;

use super::spec::{MemcgSpec, PressureKind, Scenario};
use super::values::Limit;

/// One concrete memcg, path relative to the run's root cgroup ("parent/child3").
#[derive(Debug, Clone, PartialEq)]
pub struct MemcgNode {
    pub path: String,
    /// Index into `Scenario::memcgs`.
    pub spec: usize,
    pub memory_max: Limit,
    pub memory_high: Limit,
    pub zswap_max: Limit,
    pub zswap_writeback: bool,
    pub has_children: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInstance {
    pub memcg: String,
    /// Index into `Scenario::workers`.
    pub spec: usize,
    /// 0-based process number within the memcg.
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProactiveThreadPlan {
    /// Index into `Scenario::proactive`.
    pub spec: usize,
    pub target: String,
    /// Threads with the same `serial_group` never overlap (sequential-on-one).
    pub serial_group: Option<usize>,
}

/// A parsed, validated scenario with its concrete tree.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub name: String,
    pub path: Option<PathBuf>,
    pub text: String,
    pub scenario: Scenario,
    /// Parents before children.
    pub memcgs: Vec<MemcgNode>,
    pub workers: Vec<WorkerInstance>,
    pub proactive_threads: Vec<ProactiveThreadPlan>,
}

impl Loaded {
    pub fn memcg(&self, path: &str) -> Option<&MemcgNode> {
        self.memcgs.iter().find(|m| m.path == path)
    }

    /// Anonymous memory the workers of one process hold at most.
    pub fn worker_bytes(&self, w: &WorkerInstance) -> u64 {
        self.scenario.workers[w.spec].size.0
    }

    /// Bytes held by workers in `path` and below (plus churned memcgs under it).
    pub fn demand_under(&self, path: &str) -> u64 {
        demand_under(&self.scenario, &self.workers, path)
    }

    /// The concrete memcg paths a section's `memcg` names (see `resolve_targets`).
    pub fn targets(&self, name: &str) -> Vec<String> {
        resolve_targets(&self.memcgs, &self.scenario.memcgs, name)
    }

    /// Compressed bytes the workers in `path` and below hold when all their memory is in zswap
    /// (their target compressibility; churned memcgs at 0.5).
    pub fn compressed_under(&self, path: &str) -> u64 {
        let mut c: f64 = self
            .workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| self.worker_bytes(w) as f64 * self.scenario.workers[w.spec].compressibility)
            .sum();
        if let Some(ch) = &self.scenario.churn
            && is_under(&ch.parent, path)
        {
            c += (ch.size.0 * ch.live as u64) as f64 * 0.5;
        }
        c as u64
    }

    /// Key parameters for reports.
    pub fn params(&self) -> BTreeMap<String, String> {
        let s = &self.scenario;
        let mut p = BTreeMap::new();
        p.insert("memcgs".into(), self.memcgs.len().to_string());
        p.insert("workers".into(), self.workers.len().to_string());
        p.insert("measure".into(), format!("{:?}", s.phases.measure.0));
        p.insert(
            "worker_bytes".into(),
            fmt_bytes(self.workers.iter().map(|w| self.worker_bytes(w)).sum()),
        );
        let reclaim_threads: u32 = s
            .pressure
            .iter()
            .filter(|p| p.kind == PressureKind::Reclaim)
            .map(|p| p.threads)
            .sum();
        if reclaim_threads > 0 {
            p.insert("reclaim_threads".into(), reclaim_threads.to_string());
        }
        if !self.proactive_threads.is_empty() {
            p.insert(
                "proactive_threads".into(),
                self.proactive_threads.len().to_string(),
            );
            let budgets: Vec<String> = s.proactive.iter().map(|x| fmt_bytes(x.budget.0)).collect();
            p.insert("budget".into(), budgets.join(","));
            let modes: Vec<&str> = s.proactive.iter().map(|x| x.mode.as_str()).collect();
            p.insert("mode".into(), modes.join(","));
        }
        for (k, v) in s.zswap.params() {
            p.insert(format!("zswap.{k}"), v);
        }
        p
    }
}

/// `path` equals `root` or lies below it.
pub fn is_under(path: &str, root: &str) -> bool {
    path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

pub(super) fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

/// Bytes held by `workers` in `path` and below (plus churned memcgs under it). Validation needs
/// this before a `Loaded` exists; `Loaded::demand_under` is the same sum.
pub(super) fn demand_under(s: &Scenario, workers: &[WorkerInstance], path: &str) -> u64 {
    let mut d: u64 = workers
        .iter()
        .filter(|w| is_under(&w.memcg, path))
        .map(|w| s.workers[w.spec].size.0)
        .sum();
    if let Some(c) = &s.churn
        && is_under(&c.parent, path)
    {
        d += c.size.0 * c.live as u64;
    }
    d
}

/// A template name refers to all its instances; a concrete path to itself. Empty when `name`
/// is neither. Validation resolves every section's `memcg` with this and the runner resolves
/// them again from `Loaded`, so both always agree on what a name means.
pub(super) fn resolve_targets(
    memcgs: &[MemcgNode],
    specs: &[MemcgSpec],
    name: &str,
) -> Vec<String> {
    if memcgs.iter().any(|n| n.path == name) {
        return vec![name.to_string()];
    }
    match specs.iter().find(|m| m.name == name && m.count > 1) {
        Some(m) => (1..=m.count)
            .map(|k| format!("{}{k}", m.name))
            .filter(|p| memcgs.iter().any(|n| &n.path == p))
            .collect(),
        None => vec![],
    }
}
