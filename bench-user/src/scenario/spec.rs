//! The serde model of a scenario file: one struct per TOML section, the enums its string values
//! name, and the defaults of the optional keys. Deserializing checks only shape and types (and
//! rejects unknown keys); what the values mean together is checked by `validate`.
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{Dur, Limit, Size};

/// A scenario file as written (`[phases]`, `[[memcg]]`, `[[worker]]`, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Defaults to the file stem.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Seed of every pseudo-random choice (page contents, random access order).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Repeats when `--repeat` is not given.
    #[serde(default = "one")]
    pub repeats: u32,
    pub phases: Phases,
    #[serde(default)]
    pub swap: SwapSpec,
    #[serde(default)]
    pub zswap: ZswapSpec,
    #[serde(rename = "memcg", default)]
    pub memcgs: Vec<MemcgSpec>,
    #[serde(rename = "worker", default)]
    pub workers: Vec<WorkerSpec>,
    #[serde(rename = "pressure", default)]
    pub pressure: Vec<PressureSpec>,
    #[serde(rename = "proactive", default)]
    pub proactive: Vec<ProactiveSpec>,
    #[serde(default)]
    pub churn: Option<ChurnSpec>,
    #[serde(default)]
    pub burst: Option<BurstSpec>,
    #[serde(default)]
    pub probes: ProbesSpec,
}

/// What the probe layer attaches for the measured phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesSpec {
    /// false = measure the workload without probes (overhead baselines); `--no-probes` too.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Attach second, independent mechanisms and record the agreement in `crosschecks`.
    #[serde(default)]
    pub crosscheck: bool,
    /// Extra locks to watch by kallsyms name.
    #[serde(default)]
    pub watch_locks: Vec<String>,
    /// Attach the walk-step probe even where the kernel declares one cursor-lock acquisition
    /// per call (as `--walk-steps`).
    #[serde(default)]
    pub walk_steps: bool,
}

impl Default for ProbesSpec {
    fn default() -> Self {
        ProbesSpec {
            enabled: true,
            crosscheck: false,
            watch_locks: vec![],
            walk_steps: false,
        }
    }
}

fn default_seed() -> u64 {
    1
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    /// Upper bound for set-up (tree, swap, workers filling their memory).
    #[serde(default = "default_setup_timeout")]
    pub setup_timeout: Dur,
    /// Workers and pressure run, nothing is recorded.
    #[serde(default)]
    pub warmup: Dur,
    /// Everything runs and is recorded; probes attached.
    pub measure: Dur,
}

fn default_setup_timeout() -> Dur {
    Dur(Duration::from_secs(120))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapSpec {
    #[serde(default = "default_swap_size")]
    pub size: Size,
    /// "auto" | "file" | "existing" | a block device path such as "/dev/vda".
    #[serde(default = "default_swap_device")]
    pub device: String,
    /// Swap file location when a file is used.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

fn default_swap_size() -> Size {
    Size(1 << 30)
}
fn default_swap_device() -> String {
    "auto".into()
}

impl Default for SwapSpec {
    fn default() -> Self {
        SwapSpec {
            size: default_swap_size(),
            device: default_swap_device(),
            file: None,
        }
    }
}

/// What swap to use, decided from `swap.device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapChoice {
    /// A block device if one is present and unused (the guest's /dev/vda), else a file.
    Auto,
    File,
    /// Swap already enabled on the machine; nothing is changed.
    Existing,
    Device(PathBuf),
}

impl SwapSpec {
    pub fn choice(&self) -> Option<SwapChoice> {
        match self.device.as_str() {
            "auto" => Some(SwapChoice::Auto),
            "file" => Some(SwapChoice::File),
            "existing" => Some(SwapChoice::Existing),
            d if d.starts_with("/dev/") => Some(SwapChoice::Device(PathBuf::from(d))),
            _ => None,
        }
    }
}

/// zswap module parameters; a field left out is left as the machine has it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZswapSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub compressor: Option<String>,
    #[serde(default)]
    pub max_pool_percent: Option<u32>,
    #[serde(default)]
    pub accept_threshold_percent: Option<u32>,
    #[serde(default)]
    pub shrinker_enabled: Option<bool>,
}

impl Default for ZswapSpec {
    fn default() -> Self {
        ZswapSpec {
            enabled: true,
            compressor: None,
            max_pool_percent: None,
            accept_threshold_percent: None,
            shrinker_enabled: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemcgSpec {
    /// Path below the run's root cgroup, e.g. "parent" or "parent/child".
    pub name: String,
    /// More than 1 creates `<name>1` .. `<name>N`; other sections naming `<name>` mean each.
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub memory_max: Limit,
    #[serde(default)]
    pub memory_high: Limit,
    #[serde(default)]
    pub zswap_max: Limit,
    #[serde(default = "yes")]
    pub zswap_writeback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Touch every page in address order, round after round.
    Sequential,
    /// Touch pages in a seeded random order.
    Random,
    /// `hot_share` of the touches go to the first `hot_fraction` of the pages.
    HotCold,
    /// Fill once, then never touch again (cold data for zswap).
    Idle,
    /// Allocate a `chunk` every `interval`, freeing the oldest beyond `size` (a ring).
    Periodic,
    /// Latency-sensitive requests from the start of the measured phase: each touches
    /// `pages_per_request` pages (hot/cold as `hot_fraction`/`hot_share`), `rate` a second
    /// (open loop) or back to back (`rate = 0`); each latency is recorded.
    Requests,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSpec {
    pub memcg: String,
    /// Anonymous memory per process.
    pub size: Size,
    #[serde(default = "one")]
    pub processes: u32,
    /// Touching threads per process (they share the process's memory).
    #[serde(default = "one")]
    pub threads: u32,
    /// Target lz4 compressed/original size ratio of the page contents, in (0, 1]. The achieved
    /// ratio is measured and recorded.
    #[serde(default = "default_compressibility")]
    pub compressibility: f64,
    #[serde(default = "default_pattern")]
    pub pattern: Pattern,
    #[serde(default = "default_hot_fraction")]
    pub hot_fraction: f64,
    #[serde(default = "default_hot_share")]
    pub hot_share: f64,
    /// `periodic`: bytes allocated per step.
    #[serde(default)]
    pub chunk: Option<Size>,
    /// `periodic`: time between steps; others: pause between touches of one page batch.
    #[serde(default)]
    pub interval: Option<Dur>,
    /// `requests`: requests per second (0 = closed loop, back to back).
    #[serde(default)]
    pub rate: Option<f64>,
    /// `requests`: pages each request touches.
    #[serde(default)]
    pub pages_per_request: Option<u64>,
}

fn default_compressibility() -> f64 {
    0.5
}
fn default_pattern() -> Pattern {
    Pattern::Sequential
}
fn default_hot_fraction() -> f64 {
    0.2
}
fn default_hot_share() -> f64 {
    0.9
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PressureKind {
    /// `threads` threads each write `size` to memory.reclaim, `rate` times a second.
    Reclaim,
    /// memory.high alternates between `size` and "max" every half `period`.
    HighSqueeze,
    /// memory.max is lowered to `size` after set-up, so the workers fault under the limit.
    Limit,
    /// One memory.reclaim write of `size` at the end of set-up: pushes the filled memory into
    /// zswap (cold data for proactive writeback to find).
    Push,
}

impl PressureKind {
    /// The name the file uses for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PressureKind::Reclaim => "reclaim",
            PressureKind::HighSqueeze => "high-squeeze",
            PressureKind::Limit => "limit",
            PressureKind::Push => "push",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PressureSpec {
    pub kind: PressureKind,
    pub memcg: String,
    #[serde(default = "one")]
    pub threads: u32,
    #[serde(default)]
    pub size: Option<Size>,
    /// Writes per second per thread (reclaim); 0 = back to back.
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub period: Option<Dur>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProactiveMode {
    /// Calls on one memcg never overlap (threads take turns).
    SequentialOnOne,
    /// One thread per target memcg, all at once.
    ConcurrentOnDifferent,
    /// Small budgets, repeated, threads may overlap on the same memcg.
    RepeatedSmallBudget,
}

impl ProactiveMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProactiveMode::SequentialOnOne => "sequential-on-one",
            ProactiveMode::ConcurrentOnDifferent => "concurrent-on-different",
            ProactiveMode::RepeatedSmallBudget => "repeated-small-budget",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProactiveSpec {
    /// Target memcg; with concurrent-on-different a template name (count > 1) means each.
    pub memcg: String,
    pub mode: ProactiveMode,
    /// Bytes per call (compressed bytes on v4/v5 kernels).
    pub budget: Size,
    /// Pause between calls of one thread.
    #[serde(default)]
    pub interval: Dur,
    /// Calls per thread; 0 = until the measured phase ends.
    #[serde(default)]
    pub count: u64,
    #[serde(default = "one")]
    pub threads: u32,
}

/// `[burst]`: the measured phase opens with an idle window (and its action), then a process
/// allocates and fills `size` at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstSpec {
    /// Leaf memcg of the burst process.
    pub memcg: String,
    /// What the burst allocates and fills.
    pub size: Size,
    /// Length of the idle window: the burst starts this long into the measured phase.
    pub idle: Dur,
    /// What the idle window does at its start: "nothing", "reclaim" (plain memory.reclaim of
    /// `amount`) or "proactive" (proactive writeback of `amount`). `--idle-action` overrides.
    #[serde(default = "default_action")]
    pub action: String,
    /// Memcg the action works on.
    pub target: String,
    /// Bytes asked of the action.
    pub amount: Size,
}

fn default_action() -> String {
    "nothing".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    /// Memcg under which short-lived children are created and removed.
    pub parent: String,
    /// Create+remove cycles per second.
    pub rate: f64,
    /// Churned memcgs alive at once.
    #[serde(default = "default_live")]
    pub live: u32,
    /// Memory each churned memcg holds (pushed to zswap) before removal; 0 = empty memcgs.
    #[serde(default)]
    pub size: Size,
}

fn default_live() -> u32 {
    4
}
