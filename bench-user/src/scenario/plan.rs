//! The plan the runner follows (`Plan`): a validated scenario with every default applied and
//! every memcg name resolved. Templates are expanded into cgroup paths (parents before
//! children), and there is one item per worker process, per pressure section (with its target
//! paths) and per proactive-writeback thread, each carrying the concrete values it runs with.
//! Validation builds it (each section's room in `validate` applies that section's defaults), so
//! the runner creates exactly what was checked and never re-reads the file's sections. `Option`
//! here means a real absence (no churn, a zswap parameter left as the machine has it), never
//! "default not applied yet".
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::spec::{Pattern, ProactiveMode, SwapChoice};
use super::values::Limit;
pub use bench_results::schema::IdleAction;

/// One concrete memcg, path relative to the run's root cgroup ("parent/child3").
#[derive(Debug, Clone, PartialEq)]
pub struct MemcgNode {
    pub path: String,
    /// Index of the `[[memcg]]` section it came from: where an error about this memcg points
    /// in the file. Nothing reads the section through it.
    pub spec: usize,
    /// Line and column of its `memory_max` in the file (the memory-fit check points there
    /// without parsing the file again).
    pub limit_at: (Option<usize>, Option<usize>),
    pub memory_max: Limit,
    pub memory_high: Limit,
    pub zswap_max: Limit,
    pub zswap_writeback: bool,
    pub has_children: bool,
}

/// One worker process.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub memcg: String,
    /// 0-based process number within its `[[worker]]` section and memcg.
    pub index: u32,
    /// Anonymous memory the process holds at most.
    pub size: u64,
    /// Touching threads (they share the process's memory).
    pub threads: u32,
    /// Target compressed/original ratio of the page contents.
    pub compressibility: f64,
    pub pattern: Pattern,
    pub hot_fraction: f64,
    pub hot_share: f64,
    /// `periodic`: bytes allocated per step (a page for the other patterns, which ignore it).
    pub chunk: u64,
    /// `periodic`: time between steps; others: pause between touches of one page batch (None:
    /// no pause).
    pub interval: Option<Duration>,
    /// `requests`: (requests per second, 0 = closed loop; pages per request).
    pub requests: Option<(f64, u64)>,
}

/// The burst after an idle window.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    pub memcg: String,
    pub size: u64,
    pub idle: Duration,
    pub action: IdleAction,
    pub target: String,
    pub amount: u64,
}

/// What one `[[pressure]]` section does on each of its targets.
#[derive(Debug, Clone, PartialEq)]
pub enum PressureAction {
    /// Threads write `size` bytes to memory.reclaim, `rate` times a second each (0 = back to
    /// back), from the warm-up to the end of the measured phase.
    Reclaim { size: u64, rate: f64 },
    /// memory.high alternates between `size` and "max" every half `period`.
    HighSqueeze { size: u64, period: Duration },
    /// memory.max is lowered to `size` at the end of set-up.
    Limit { size: u64 },
    /// One memory.reclaim write of `size` at the end of set-up (pushes memory into zswap).
    Push { size: u64 },
}

/// One `[[pressure]]` section, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Pressure {
    /// Concrete memcg paths (a template name means each instance).
    pub targets: Vec<String>,
    /// Running threads per target: the section's `threads` for reclaim, 1 for high-squeeze, 0
    /// for limit and push (they act once, in set-up).
    pub threads: u32,
    pub action: PressureAction,
}

impl Pressure {
    /// Threads this section runs in all: its count on every memcg it targets.
    pub fn running_threads(&self) -> u32 {
        self.threads.saturating_mul(self.targets.len() as u32)
    }
}

/// One proactive-writeback thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ProactiveThread {
    pub target: String,
    pub mode: ProactiveMode,
    /// Bytes per call (compressed bytes on v4/v5 kernels).
    pub budget: u64,
    /// Pause between calls.
    pub interval: Duration,
    /// Calls; 0 = until the measured phase ends.
    pub count: u64,
    /// Threads with the same `serial_group` never overlap (sequential-on-one).
    pub serial_group: Option<usize>,
}

/// Memcg churn under `parent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Churn {
    pub parent: String,
    /// Create+remove cycles per second.
    pub rate: f64,
    /// Churned memcgs alive at once.
    pub live: u32,
    /// Bytes each churned memcg holds before removal; 0 = empty memcgs.
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Upper bound for set-up.
    pub setup_timeout: Duration,
    /// Zero: no warm-up.
    pub warmup: Duration,
    pub measure: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub choice: SwapChoice,
    pub size: u64,
    /// Swap file location when a file is used (None: one under /var/tmp named after the run).
    pub file: Option<PathBuf>,
}

/// zswap module parameters; None leaves the parameter as the machine has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zswap {
    pub enabled: bool,
    pub compressor: Option<String>,
    pub max_pool_percent: Option<u32>,
    pub accept_threshold_percent: Option<u32>,
    pub shrinker_enabled: Option<bool>,
}

impl Zswap {
    /// `(parameter file name, value)` pairs to write under /sys/module/zswap/parameters.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let yn = |b: bool| if b { "Y" } else { "N" }.to_string();
        let mut v = vec![("enabled", yn(self.enabled))];
        if let Some(c) = &self.compressor {
            v.push(("compressor", c.clone()));
        }
        if let Some(p) = self.max_pool_percent {
            v.push(("max_pool_percent", p.to_string()));
        }
        if let Some(p) = self.accept_threshold_percent {
            v.push(("accept_threshold_percent", p.to_string()));
        }
        if let Some(s) = self.shrinker_enabled {
            v.push(("shrinker_enabled", yn(s)));
        }
        v
    }
}

/// What the probe layer attaches for the measured phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probes {
    /// false: no probes (the scenario or `--no-probes`).
    pub enabled: bool,
    pub crosscheck: bool,
    pub watch_locks: Vec<String>,
    /// The walk-step probe even where the design declares its cursor lock (`--walk-steps`).
    pub walk_steps: bool,
}

/// A parsed, validated scenario: everything the runner does, with concrete values.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub path: Option<PathBuf>,
    /// The file as written: echoed verbatim into every result file.
    pub text: String,
    pub description: String,
    /// Seed of the first repeat (repeat r uses seed + r).
    pub seed: u64,
    /// Repeats when `--repeat` is not given.
    pub repeats: u32,
    pub phases: Phases,
    pub swap: Swap,
    pub zswap: Zswap,
    pub probes: Probes,
    /// Parents before children.
    pub memcgs: Vec<MemcgNode>,
    pub workers: Vec<Worker>,
    pub pressure: Vec<Pressure>,
    pub proactive_threads: Vec<ProactiveThread>,
    pub churn: Option<Churn>,
    pub burst: Option<Burst>,
    /// Key parameters for reports (the result file's `scenario.params`).
    pub params: BTreeMap<String, String>,
}

impl Plan {
    pub fn memcg(&self, path: &str) -> Option<&MemcgNode> {
        self.memcgs.iter().find(|m| m.path == path)
    }

    /// Bytes held by workers in `path` and below (plus churned memcgs under it).
    pub fn demand_under(&self, path: &str) -> u64 {
        demand_under(&self.workers, self.churn.as_ref(), path)
    }

    /// Compressed bytes the workers in `path` and below hold when all their memory is in zswap
    /// (their target compressibility; churned memcgs at 0.5).
    pub fn compressed_under(&self, path: &str) -> u64 {
        let mut c: f64 = self
            .workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| w.size as f64 * w.compressibility)
            .sum();
        if let Some(ch) = &self.churn
            && is_under(&ch.parent, path)
        {
            c += ch.size as f64 * ch.live as f64 * 0.5;
        }
        c as u64
    }
}

/// `path` equals `root` or lies below it.
pub fn is_under(path: &str, root: &str) -> bool {
    path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

pub(super) fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

/// A sum of byte counts taken from the file: saturating, so an absurd total is refused as too
/// large instead of wrapping around into a small one.
pub(super) fn sat_sum(it: impl Iterator<Item = u64>) -> u64 {
    it.fold(0, u64::saturating_add)
}

/// Bytes held by `workers` in `path` and below (plus churned memcgs under it). Validation needs
/// this before a `Plan` exists; `Plan::demand_under` is the same sum.
pub(super) fn demand_under(workers: &[Worker], churn: Option<&Churn>, path: &str) -> u64 {
    let mut d = sat_sum(
        workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| w.size),
    );
    if let Some(c) = churn
        && is_under(&c.parent, path)
    {
        d = d.saturating_add(c.size.saturating_mul(c.live as u64));
    }
    d
}
