//! Scenario files (`scenarios/<name>.toml`): the serde model, expansion of memcg templates into
//! concrete cgroup paths, and validation with line/field-precise errors that name the fix.
//!
//! Everything here is pure: a scenario is parsed and validated (including the memory-fit check
//! against numbers read from the machine) before the runner changes anything. The file format is
//! documented in `scenarios/README.md`.
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::units::{fmt_bytes, parse_duration, parse_size};

pub const PAGE: u64 = 4096;

// ---------------------------------------------------------------------------------------------
// Value types: sizes, limits, durations as users write them
// ---------------------------------------------------------------------------------------------

/// A size in bytes, written as `"64M"`, `"4K"` or a plain non-negative integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"64M\", \"4K\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                if s.trim_start().starts_with('-') {
                    return Err(E::custom(format!(
                        "negative size {s:?}: sizes are positive, e.g. \"64M\""
                    )));
                }
                parse_size(s).map(Size).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v).map(Size).map_err(|_| {
                    E::custom(format!(
                        "negative size {v}: sizes are positive, e.g. \"64M\""
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A cgroup limit: `"max"` (unlimited) or a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    #[default]
    Max,
    Bytes(u64),
}

impl Limit {
    pub fn bytes(self) -> Option<u64> {
        match self {
            Limit::Max => None,
            Limit::Bytes(b) => Some(b),
        }
    }
    /// The string the cgroup file takes.
    pub fn to_cgroup(self) -> String {
        match self {
            Limit::Max => "max".into(),
            Limit::Bytes(b) => b.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Limit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"max\" or a size such as \"256M\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Limit, E> {
                if s.trim().eq_ignore_ascii_case("max") {
                    return Ok(Limit::Max);
                }
                Size::deserialize(de::value::StrDeserializer::<E>::new(s))
                    .map(|s| Limit::Bytes(s.0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                Size::deserialize(de::value::I64Deserializer::<E>::new(v))
                    .map(|s| Limit::Bytes(s.0))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                Ok(Limit::Bytes(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written with a unit: `"500ms"`, `"30s"`, `"2m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit such as \"500ms\", \"30s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                if s.trim_start().starts_with('-') {
                    return Err(E::custom(format!(
                        "negative duration {s:?}: durations are positive, e.g. \"30s\""
                    )));
                }
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit: write it as a string with a unit, e.g. \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit: write it as a string with a unit, e.g. \"{v}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

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
}

impl Default for ProbesSpec {
    fn default() -> Self {
        ProbesSpec {
            enabled: true,
            crosscheck: false,
            watch_locks: vec![],
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

impl ZswapSpec {
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

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One problem in a scenario file, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based.
    pub line: Option<usize>,
    pub col: Option<usize>,
    /// e.g. `proactive[0].budget`.
    pub field: String,
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.col {
                write!(f, ":{c}")?;
            }
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, "\n    fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "scenario rejected ({n} problem{}), nothing was changed on this machine:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// A field path segment for locating a value in the TOML text.
#[derive(Debug, Clone)]
enum Seg {
    Key(&'static str),
    Idx(usize),
}

fn field_name(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Byte span of the value at `path`, else of the closest existing ancestor (e.g. the
/// `[[worker]]` header when the key is missing).
fn locate(doc: &toml_edit::ImDocument<String>, path: &[Seg]) -> Option<Range<usize>> {
    locate_in(doc.as_table(), None, path)
}

fn locate_in(
    t: &dyn toml_edit::TableLike,
    own: Option<Range<usize>>,
    path: &[Seg],
) -> Option<Range<usize>> {
    use toml_edit::{Item, Value};
    let Some((Seg::Key(k), rest)) = path.split_first() else {
        return own;
    };
    let Some((key, item)) = t.get_key_value(k) else {
        return own;
    };
    let here = item.span().or_else(|| key.span()).or(own);
    match (rest.first(), item) {
        (None, _) => here,
        (Some(Seg::Idx(i)), Item::ArrayOfTables(a)) => match a.get(*i) {
            Some(tb) => locate_in(tb, tb.span().or(here.clone()), &rest[1..]),
            None => here,
        },
        (Some(Seg::Idx(i)), Item::Value(Value::Array(a))) => {
            a.get(*i).and_then(|v| v.span()).or(here)
        }
        (Some(Seg::Key(_)), _) => match item.as_table_like() {
            Some(tb) => locate_in(tb, here, rest),
            None => here,
        },
        _ => here,
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    doc: Option<toml_edit::ImDocument<String>>,
    out: Vec<ScenarioError>,
}

impl Problems<'_> {
    fn push(&mut self, path: &[Seg], message: impl Into<String>, fix: impl Into<String>) {
        let span = self.doc.as_ref().and_then(|d| locate(d, path));
        let (line, col) = match span {
            Some(s) => {
                let (l, c) = line_col(self.text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.out.push(ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            field: field_name(path),
            message: message.into(),
            fix: fix.into(),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Expansion: concrete memcgs, workers, proactive threads
// ---------------------------------------------------------------------------------------------

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
        let mut d: u64 = self
            .workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| self.worker_bytes(w))
            .sum();
        if let Some(c) = &self.scenario.churn {
            if is_under(&c.parent, path) {
                d += c.size.0 * c.live as u64;
            }
        }
        d
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
        if let Some(ch) = &self.scenario.churn {
            if is_under(&ch.parent, path) {
                c += (ch.size.0 * ch.live as u64) as f64 * 0.5;
            }
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

fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

// ---------------------------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------------------------

/// Finds a scenario by path or by name (`scenarios/<name>.toml` under the repository root).
pub fn resolve_path(arg: &str) -> Result<PathBuf, String> {
    let p = Path::new(arg);
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    let dir = crate::paths::repo_root().join("scenarios");
    let by_name = dir.join(format!("{arg}.toml"));
    if by_name.is_file() {
        return Ok(by_name);
    }
    let mut known: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    if p.extension()? != "toml" {
                        return None;
                    }
                    Some(p.file_stem()?.to_string_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    Err(format!(
        "no scenario {arg:?}: not a file, and no {} (known scenarios: {})",
        by_name.display(),
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    ))
}

pub fn load(path: &Path) -> Result<Loaded, ScenarioErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors(vec![ScenarioError {
            file: path.display().to_string(),
            line: None,
            col: None,
            field: String::new(),
            message: format!("cannot read: {e}"),
            fix: "check the path (scenarios live in scenarios/<name>.toml)".into(),
        }])
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut l = parse(&text, &path.display().to_string(), &stem)?;
    l.path = Some(path.to_path_buf());
    Ok(l)
}

/// Parses and validates `text`. `file` names it in errors; `default_name` is used when the file
/// has no `name`.
pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Loaded, ScenarioErrors> {
    let scenario: Scenario = match toml::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let (line, col, field) = match e.span() {
                Some(s) => {
                    let (l, c) = line_col(text, s.start);
                    let snippet = text.get(s.clone()).unwrap_or("").trim();
                    let field = if snippet.len() <= 40 && !snippet.contains('\n') {
                        snippet.to_string()
                    } else {
                        String::new()
                    };
                    (Some(l), Some(c), field)
                }
                None => (None, None, String::new()),
            };
            let msg = e.message().trim().to_string();
            let fix = parse_fix(&msg);
            return Err(ScenarioErrors(vec![ScenarioError {
                file: file.into(),
                line,
                col,
                field,
                message: msg,
                fix,
            }]));
        }
    };
    let doc = toml_edit::ImDocument::parse(text.to_string()).ok();
    let mut p = Problems {
        file,
        text,
        doc,
        out: Vec::new(),
    };
    let loaded = validate(scenario, text, default_name, &mut p);
    if p.out.is_empty() {
        Ok(loaded)
    } else {
        Err(ScenarioErrors(p.out))
    }
}

fn parse_fix(msg: &str) -> String {
    if msg.contains("unknown field") {
        "remove or rename the key: the allowed keys are listed above (scenarios/README.md documents each)".into()
    } else if msg.contains("missing field") {
        "add the field (scenarios/README.md lists required fields)".into()
    } else if msg.contains("unknown variant") {
        "use one of the listed values".into()
    } else {
        "see scenarios/README.md for the format".into()
    }
}

fn validate(s: Scenario, text: &str, default_name: &str, p: &mut Problems) -> Loaded {
    use Seg::{Idx, Key};
    let name = s.name.clone().unwrap_or_else(|| default_name.to_string());
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        p.push(
            &[Key("name")],
            format!("invalid name {name:?}"),
            "use letters, digits, '-' and '_' only",
        );
    }
    if s.repeats == 0 {
        p.push(&[Key("repeats")], "repeats is 0", "set repeats = 1 or more");
    }
    if s.phases.measure.0.is_zero() {
        p.push(
            &[Key("phases"), Key("measure")],
            "the measured phase has zero length",
            "set e.g. measure = \"30s\"",
        );
    }
    if s.phases.setup_timeout.0.is_zero() {
        p.push(
            &[Key("phases"), Key("setup_timeout")],
            "setup_timeout is zero",
            "set e.g. setup_timeout = \"60s\"",
        );
    }
    if s.swap.choice().is_none() {
        p.push(
            &[Key("swap"), Key("device")],
            format!("unknown swap device {:?}", s.swap.device),
            "use \"auto\", \"file\", \"existing\" or a block device path such as \"/dev/vda\"",
        );
    }
    if s.swap.size.0 < 16 * PAGE && s.swap.choice() != Some(SwapChoice::Existing) {
        p.push(
            &[Key("swap"), Key("size")],
            format!("swap size {} is too small", fmt_bytes(s.swap.size.0)),
            "use at least 64K; zswap needs swap slots for every page it stores",
        );
    }
    if let Some(f) = &s.swap.file {
        if !f.is_absolute() {
            p.push(
                &[Key("swap"), Key("file")],
                format!("swap file {} is not absolute", f.display()),
                "give an absolute path on a disk filesystem (not tmpfs)",
            );
        }
    }
    for (k, v) in [
        ("max_pool_percent", s.zswap.max_pool_percent),
        ("accept_threshold_percent", s.zswap.accept_threshold_percent),
    ] {
        if let Some(v) = v {
            if v > 100 || (k == "max_pool_percent" && v == 0) {
                p.push(
                    &[Key("zswap"), Key(k)],
                    format!("{k} = {v} is out of range"),
                    "use a percentage from 1 to 100",
                );
            }
        }
    }
    if let Some(c) = &s.zswap.compressor {
        if c.is_empty() || c.contains(char::is_whitespace) {
            p.push(
                &[Key("zswap"), Key("compressor")],
                format!("invalid compressor {c:?}"),
                "use a crypto compressor name such as \"lz4\", \"lzo\" or \"zstd\"",
            );
        }
    }
    if !s.zswap.enabled && (!s.proactive.is_empty() || !s.workers.is_empty()) {
        p.push(
            &[Key("zswap"), Key("enabled")],
            "zswap is disabled but the scenario runs workers/proactive writeback",
            "set enabled = true (this suite measures zswap)",
        );
    }

    // memcgs
    let mut memcgs: Vec<MemcgNode> = Vec::new();
    if s.memcgs.is_empty() {
        p.push(
            &[Key("memcg")],
            "no [[memcg]] declared",
            "declare at least one [[memcg]] with a name",
        );
    }
    for (i, m) in s.memcgs.iter().enumerate() {
        let bad_name = m.name.is_empty()
            || m.name.starts_with('/')
            || m.name.ends_with('/')
            || m.name.split('/').any(|c| {
                c.is_empty()
                    || c == "."
                    || c == ".."
                    || !c
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            });
        if bad_name {
            p.push(&[Key("memcg"), Idx(i), Key("name")], format!("invalid memcg name {:?}", m.name), "use a relative path of letters, digits, '-', '_' separated by '/', e.g. \"parent/child\"");
            continue;
        }
        if m.count == 0 {
            p.push(
                &[Key("memcg"), Idx(i), Key("count")],
                "count is 0",
                "remove count (default 1) or set it to 1 or more",
            );
            continue;
        }
        if let Some(par) = parent_of(&m.name) {
            if !memcgs.iter().any(|n| n.path == par) {
                p.push(&[Key("memcg"), Idx(i), Key("name")], format!("parent memcg {par:?} of {:?} is not declared above it", m.name), format!("declare [[memcg]] name = \"{par}\" before this one (a template parent with count > 1 cannot have children)"));
                continue;
            }
        }
        for (k, l) in [("memory_max", m.memory_max), ("memory_high", m.memory_high)] {
            if let Limit::Bytes(b) = l {
                if b < 16 * PAGE {
                    p.push(
                        &[Key("memcg"), Idx(i), Key(k)],
                        format!("{k} {} is too small (zero or below 64K)", fmt_bytes(b)),
                        "use \"max\" or a size of at least a few MB, e.g. \"64M\"",
                    );
                }
            }
        }
        if let (Limit::Bytes(h), Limit::Bytes(mx)) = (m.memory_high, m.memory_max) {
            if h > mx {
                p.push(
                    &[Key("memcg"), Idx(i), Key("memory_high")],
                    format!(
                        "memory_high {} is above memory_max {}",
                        fmt_bytes(h),
                        fmt_bytes(mx)
                    ),
                    "memory_high must not exceed memory_max; lower it or use \"max\"",
                );
            }
        }
        let paths: Vec<String> = if m.count == 1 {
            vec![m.name.clone()]
        } else {
            (1..=m.count).map(|k| format!("{}{k}", m.name)).collect()
        };
        for path in paths {
            if memcgs.iter().any(|n| n.path == path) {
                p.push(
                    &[Key("memcg"), Idx(i), Key("name")],
                    format!("memcg {path:?} is declared twice"),
                    "give each [[memcg]] a distinct name",
                );
                continue;
            }
            if let Some(par) = parent_of(&path) {
                if let Some(n) = memcgs.iter_mut().find(|n| n.path == par) {
                    n.has_children = true;
                }
            }
            memcgs.push(MemcgNode {
                path,
                spec: i,
                memory_max: m.memory_max,
                memory_high: m.memory_high,
                zswap_max: m.zswap_max,
                zswap_writeback: m.zswap_writeback,
                has_children: false,
            });
        }
    }
    // A template name refers to all its instances; a concrete path to itself.
    let resolve = |name: &str| -> Vec<String> {
        if memcgs.iter().any(|n| n.path == name) {
            return vec![name.to_string()];
        }
        match s.memcgs.iter().find(|m| m.name == name && m.count > 1) {
            Some(m) => (1..=m.count)
                .map(|k| format!("{}{k}", m.name))
                .filter(|p| memcgs.iter().any(|n| &n.path == p))
                .collect(),
            None => vec![],
        }
    };
    let known = || -> String {
        let mut names: Vec<String> = s
            .memcgs
            .iter()
            .map(|m| {
                if m.count > 1 {
                    format!("{} (x{})", m.name, m.count)
                } else {
                    m.name.clone()
                }
            })
            .collect();
        names.dedup();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };

    // workers
    let mut workers = Vec::new();
    for (i, w) in s.workers.iter().enumerate() {
        let at = |k: &'static str| [Key("worker"), Idx(i), Key(k)];
        let targets = resolve(&w.memcg);
        if targets.is_empty() {
            p.push(
                &at("memcg"),
                format!("unknown memcg {:?}", w.memcg),
                format!("name a declared [[memcg]]: {}", known()),
            );
        }
        for t in &targets {
            if memcgs.iter().any(|n| &n.path == t && n.has_children) {
                p.push(&at("memcg"), format!("memcg {t:?} has child memcgs; cgroup v2 allows processes only in leaf memcgs when memory is delegated"), "put the worker in a leaf (a memcg without children)");
            }
        }
        if w.size.0 == 0 {
            p.push(
                &at("size"),
                "size is zero",
                "give each worker some memory, e.g. size = \"32M\"",
            );
        } else if w.size.0 < PAGE {
            p.push(
                &at("size"),
                format!("size {} is below one page", fmt_bytes(w.size.0)),
                "use at least \"4K\"",
            );
        }
        if w.processes == 0 {
            p.push(
                &at("processes"),
                "processes is 0",
                "use 1 or more (or remove the [[worker]])",
            );
        }
        if w.threads == 0 {
            p.push(&at("threads"), "threads is 0", "use 1 or more");
        }
        if !(w.compressibility > 0.0 && w.compressibility <= 1.0) {
            p.push(&at("compressibility"), format!("compressibility {} is outside (0, 1]", w.compressibility), "give the target compressed/original ratio, e.g. 0.3 (compresses to 30%) or 1.0 (incompressible)");
        }
        if w.pattern == Pattern::HotCold {
            if !(w.hot_fraction > 0.0 && w.hot_fraction < 1.0) {
                p.push(
                    &at("hot_fraction"),
                    format!("hot_fraction {} is outside (0, 1)", w.hot_fraction),
                    "e.g. hot_fraction = 0.2 (the first 20% of the pages are hot)",
                );
            }
            if !(w.hot_share > 0.0 && w.hot_share <= 1.0) {
                p.push(
                    &at("hot_share"),
                    format!("hot_share {} is outside (0, 1]", w.hot_share),
                    "e.g. hot_share = 0.9 (90% of touches go to hot pages)",
                );
            }
        }
        if w.pattern == Pattern::Periodic {
            match w.chunk {
                None => p.push(
                    &[Key("worker"), Idx(i)],
                    "pattern \"periodic\" needs chunk",
                    "add chunk = \"4K\" (bytes allocated per step)",
                ),
                Some(c) if c.0 == 0 => {
                    p.push(&at("chunk"), "chunk is zero", "use e.g. chunk = \"4K\"")
                }
                Some(c) if c.0 > w.size.0 => p.push(
                    &at("chunk"),
                    format!(
                        "chunk {} is larger than size {}",
                        fmt_bytes(c.0),
                        fmt_bytes(w.size.0)
                    ),
                    "chunk must not exceed size (the ring of chunks kept)",
                ),
                _ => {}
            }
            match w.interval {
                None => p.push(
                    &[Key("worker"), Idx(i)],
                    "pattern \"periodic\" needs interval",
                    "add interval = \"2ms\"",
                ),
                Some(d) if d.0.is_zero() => p.push(
                    &at("interval"),
                    "interval is zero",
                    "use e.g. interval = \"2ms\"",
                ),
                _ => {}
            }
        } else if w.chunk.is_some() {
            p.push(
                &at("chunk"),
                "chunk is only used by pattern \"periodic\"",
                "remove chunk or set pattern = \"periodic\"",
            );
        }
        for t in targets {
            for k in 0..w.processes {
                workers.push(WorkerInstance {
                    memcg: t.clone(),
                    spec: i,
                    index: k,
                });
            }
        }
    }

    // Demand per subtree, for budget/limit checks.
    let demand_under = |path: &str| -> u64 {
        let mut d: u64 = workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| s.workers[w.spec].size.0)
            .sum();
        if let Some(c) = &s.churn {
            if is_under(&c.parent, path) {
                d += c.size.0 * c.live as u64;
            }
        }
        d
    };
    let eff_max = |path: &str| -> Option<(u64, String)> {
        memcgs
            .iter()
            .filter(|m| is_under(path, &m.path))
            .filter_map(|m| m.memory_max.bytes().map(|b| (b, m.path.clone())))
            .min()
    };

    // pressure
    for (i, pr) in s.pressure.iter().enumerate() {
        let at = |k: &'static str| [Key("pressure"), Idx(i), Key(k)];
        let targets = resolve(&pr.memcg);
        if targets.is_empty() {
            p.push(
                &at("memcg"),
                format!("unknown memcg {:?}", pr.memcg),
                format!("name a declared [[memcg]]: {}", known()),
            );
        }
        if pr.threads == 0 {
            p.push(&at("threads"), "threads is 0", "use 1 or more");
        }
        match pr.size {
            None => p.push(
                &[Key("pressure"), Idx(i)],
                format!("kind \"{}\" needs size", kind_name(pr.kind)),
                match pr.kind {
                    PressureKind::Reclaim => "add size = \"8M\" (bytes per memory.reclaim write)",
                    PressureKind::HighSqueeze => "add size = \"64M\" (memory.high at the squeeze)",
                    PressureKind::Limit => "add size = \"128M\" (memory.max after set-up)",
                    PressureKind::Push => "add size = \"64M\" (bytes pushed to zswap after set-up)",
                },
            ),
            Some(sz) if sz.0 == 0 => p.push(
                &at("size"),
                "size is zero",
                "use a positive size such as \"8M\"",
            ),
            Some(sz)
                if matches!(pr.kind, PressureKind::HighSqueeze | PressureKind::Limit)
                    && sz.0 < 16 * PAGE =>
            {
                p.push(
                    &at("size"),
                    format!("size {} is too small for a limit", fmt_bytes(sz.0)),
                    "use at least a few MB",
                )
            }
            _ => {}
        }
        if let Some(r) = pr.rate {
            if !(r >= 0.0 && r.is_finite()) {
                p.push(
                    &at("rate"),
                    format!("rate {r} is negative"),
                    "use writes per second per thread, or 0 for back-to-back",
                );
            }
            if pr.kind != PressureKind::Reclaim {
                p.push(
                    &at("rate"),
                    "rate is only used by kind \"reclaim\"",
                    "remove rate",
                );
            }
        }
        if pr.kind == PressureKind::HighSqueeze {
            match pr.period {
                None => p.push(
                    &[Key("pressure"), Idx(i)],
                    "kind \"high-squeeze\" needs period",
                    "add period = \"2s\"",
                ),
                Some(d) if d.0 < Duration::from_millis(10) => p.push(
                    &at("period"),
                    "period is below 10ms",
                    "use e.g. period = \"2s\"",
                ),
                _ => {}
            }
        } else if pr.period.is_some() {
            p.push(
                &at("period"),
                "period is only used by kind \"high-squeeze\"",
                "remove period",
            );
        }
        if pr.kind != PressureKind::Reclaim && pr.threads != 1 {
            p.push(
                &at("threads"),
                "threads is only used by kind \"reclaim\"",
                "remove threads",
            );
        }
    }

    // proactive
    let mut proactive_threads = Vec::new();
    for (i, pa) in s.proactive.iter().enumerate() {
        let at = |k: &'static str| [Key("proactive"), Idx(i), Key(k)];
        let targets = resolve(&pa.memcg);
        if targets.is_empty() {
            p.push(
                &at("memcg"),
                format!("unknown target memcg {:?}", pa.memcg),
                format!("name a declared [[memcg]]: {}", known()),
            );
        }
        if pa.budget.0 == 0 {
            p.push(
                &at("budget"),
                "budget is zero",
                "use a positive budget, e.g. budget = \"2M\"",
            );
        }
        if pa.threads == 0 {
            p.push(&at("threads"), "threads is 0", "use 1 or more");
        }
        if pa.mode == ProactiveMode::ConcurrentOnDifferent {
            if targets.len() == 1 {
                p.push(&at("memcg"), format!("concurrent-on-different needs several targets, {:?} is one memcg", pa.memcg), "name a template memcg declared with count > 1, or use mode = \"sequential-on-one\"");
            }
            if pa.threads != 1 {
                p.push(
                    &at("threads"),
                    "concurrent-on-different runs one thread per target memcg",
                    "remove threads (the target count decides)",
                );
            }
        } else if targets.len() > 1 {
            p.push(
                &at("memcg"),
                format!(
                    "{:?} names {} memcgs; mode {} targets one",
                    pa.memcg,
                    targets.len(),
                    pa.mode.as_str()
                ),
                "name one memcg, or use mode = \"concurrent-on-different\"",
            );
        }
        if pa.count == 0 && pa.interval.0.is_zero() && pa.mode == ProactiveMode::RepeatedSmallBudget
        {
            p.push(&at("interval"), "repeated-small-budget with no interval and no count issues calls back to back for the whole phase", "set interval = \"100ms\" or a count");
        }
        for t in &targets {
            if let Some(n) = memcgs.iter().find(|n| &n.path == t) {
                if !n.zswap_writeback {
                    p.push(&at("memcg"), format!("target {t:?} has zswap_writeback = false: every call would fail with EINVAL"), "set zswap_writeback = true on the target memcg");
                }
            }
            if pa.budget.0 > 0 {
                if let Some((lim, who)) = eff_max(t) {
                    if pa.budget.0 > lim {
                        p.push(
                            &at("budget"),
                            format!(
                                "budget {} is larger than memory.max {} of {who:?}",
                                fmt_bytes(pa.budget.0),
                                fmt_bytes(lim)
                            ),
                            format!(
                                "use a budget below {} (the memcg can never hold that much)",
                                fmt_bytes(lim)
                            ),
                        );
                        continue;
                    }
                }
                let d = demand_under(t);
                if pa.budget.0 > d {
                    p.push(
                        &at("budget"),
                        format!(
                            "budget {} is larger than all memory the workers under {t:?} hold ({})",
                            fmt_bytes(pa.budget.0),
                            fmt_bytes(d)
                        ),
                        "lower the budget or add [[worker]]s under the target",
                    );
                }
            }
        }
        let serial = (pa.mode == ProactiveMode::SequentialOnOne).then_some(i);
        for t in &targets {
            let n = if pa.mode == ProactiveMode::ConcurrentOnDifferent {
                1
            } else {
                pa.threads
            };
            for _ in 0..n {
                proactive_threads.push(ProactiveThreadPlan {
                    spec: i,
                    target: t.clone(),
                    serial_group: serial,
                });
            }
        }
    }

    // churn
    if let Some(c) = &s.churn {
        let at = |k: &'static str| [Key("churn"), Key(k)];
        let targets = resolve(&c.parent);
        if targets.len() != 1 {
            p.push(
                &at("parent"),
                format!("unknown churn parent {:?}", c.parent),
                format!("name one declared [[memcg]]: {}", known()),
            );
        } else if workers.iter().any(|w| w.memcg == targets[0]) {
            p.push(&at("parent"), format!("churn parent {:?} also holds workers; cgroup v2 allows processes only in leaves", c.parent), "give churn its own [[memcg]]");
        }
        if !(c.rate > 0.0 && c.rate <= 1000.0) {
            p.push(
                &at("rate"),
                format!("rate {} is outside (0, 1000] cycles/s", c.rate),
                "use e.g. rate = 10",
            );
        }
        if c.live == 0 {
            p.push(&at("live"), "live is 0", "use 1 or more");
        }
        if c.size.0 > 0 && c.size.0 < PAGE {
            p.push(
                &at("size"),
                "size is below one page",
                "use 0 (empty memcgs) or at least \"4K\"",
            );
        }
    }

    // A memcg's workers must fit within its own memory.max plus what zswap/swap absorb; a
    // memory.max smaller than one worker's fill is fine (that is pressure), but a zswap.max of 0
    // with writeback off and a limit below the demand can only OOM.
    for n in &memcgs {
        if let (Some(lim), Limit::Bytes(0), false) =
            (n.memory_max.bytes(), n.zswap_max, n.zswap_writeback)
        {
            let d = demand_under(&n.path);
            if d > lim {
                p.push(&[Key("memcg"), Idx(n.spec), Key("memory_max")], format!("{:?} holds {} under memory.max {} with zswap_max = 0 and writeback off: the workers would be OOM-killed", n.path, fmt_bytes(d), fmt_bytes(lim)), "raise memory_max or allow zswap/writeback");
            }
        }
    }
    Loaded {
        name,
        path: None,
        text: text.to_string(),
        scenario: s,
        memcgs,
        workers,
        proactive_threads,
    }
}

fn kind_name(k: PressureKind) -> &'static str {
    match k {
        PressureKind::Reclaim => "reclaim",
        PressureKind::HighSqueeze => "high-squeeze",
        PressureKind::Limit => "limit",
        PressureKind::Push => "push",
    }
}

// ---------------------------------------------------------------------------------------------
// Does it fit on this machine?
// ---------------------------------------------------------------------------------------------

/// Machine numbers the fit check needs (from /proc/meminfo and /proc/swaps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineMemory {
    pub mem_total: u64,
    pub mem_available: u64,
    /// Free space in swap that is already enabled.
    pub swap_free: u64,
}

/// What the fit check computed (shown to the user on success too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// All worker + churn memory.
    pub demand: u64,
    /// What stays in RAM at most given the memcg limits (plus the zswap pool).
    pub resident: u64,
    /// What must go to swap slots (zswap entries occupy them too).
    pub to_swap: u64,
    pub swap_available: u64,
    pub ram_available: u64,
}

/// RAM kept free for the kernel, the runner and page cache.
pub fn headroom(m: &MachineMemory) -> u64 {
    (m.mem_total / 10).max(128 << 20)
}

pub fn check_fit(l: &Loaded, m: &MachineMemory) -> Result<Fit, ScenarioErrors> {
    // Resident cap per top-level memcg: min(memory.max, own demand + children's caps).
    fn cap(l: &Loaded, path: &str) -> u64 {
        let node = l.memcg(path).expect("validated");
        let own: u64 = l
            .workers
            .iter()
            .filter(|w| w.memcg == path)
            .map(|w| l.worker_bytes(w))
            .sum();
        let churn = l
            .scenario
            .churn
            .as_ref()
            .filter(|c| c.parent == path)
            .map_or(0, |c| c.size.0 * c.live as u64);
        let children: u64 = l
            .memcgs
            .iter()
            .filter(|c| parent_of(&c.path) == Some(path))
            .map(|c| cap(l, &c.path))
            .sum();
        let sum = own + churn + children;
        match node.memory_max.bytes() {
            Some(b) => sum.min(b),
            None => sum,
        }
    }
    let tops: Vec<&MemcgNode> = l.memcgs.iter().filter(|n| !n.path.contains('/')).collect();
    let demand: u64 = tops.iter().map(|t| l.demand_under(&t.path)).sum();
    let resident_workers: u64 = tops.iter().map(|t| cap(l, &t.path)).sum();
    let to_swap = demand - resident_workers;
    let pool_pct = l.scenario.zswap.max_pool_percent.unwrap_or(20) as u64;
    let pool = (m.mem_total / 100 * pool_pct).min(to_swap);
    let resident = resident_workers + pool;
    let ram_available = m.mem_available.saturating_sub(headroom(m));
    let swap_available = match l.scenario.swap.choice() {
        Some(SwapChoice::Existing) => m.swap_free,
        _ => l.scenario.swap.size.0 + m.swap_free,
    };
    let mut errs = Vec::new();
    let file = l
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| l.name.clone());
    if resident > ram_available {
        errs.push(ScenarioError {
            file: file.clone(),
            line: None,
            col: None,
            field: "worker".into(),
            message: format!(
                "memory would not fit: workers keep up to {} resident (memcg limits applied) + {} zswap pool = {}, but only {} is available ({} MemAvailable - {} headroom)",
                fmt_bytes(resident_workers),
                fmt_bytes(pool),
                fmt_bytes(resident),
                fmt_bytes(ram_available),
                fmt_bytes(m.mem_available),
                fmt_bytes(headroom(m))
            ),
            fix: "lower worker sizes/processes, or set memory_max on the memcgs so the excess goes to zswap/swap".into(),
        });
    }
    if to_swap > swap_available {
        errs.push(ScenarioError {
            file: file.clone(),
            line: None,
            col: None,
            field: "swap.size".into(),
            message: format!(
                "swap too small: {} of worker memory exceeds the memcg limits and needs swap slots (zswap entries hold one each), but only {} of swap is available",
                fmt_bytes(to_swap),
                fmt_bytes(swap_available)
            ),
            fix: format!("set swap.size to at least {} or lower the worker sizes", fmt_bytes(to_swap.next_multiple_of(1 << 20))),
        });
    }
    // zswap's compressed pages are charged to the memcg. Unless the shrinker may write them back
    // to swap, a limited memcg must hold all of its compressed data (bounded by the pool limit,
    // which makes shrink_worker write back) or its workers are OOM-killed.
    let doc = toml_edit::ImDocument::parse(l.text.clone()).ok();
    let pool_max = m.mem_total / 100 * pool_pct;
    for n in &l.memcgs {
        let Some(lim) = n.memory_max.bytes() else {
            continue;
        };
        let writeback_helps = l.scenario.zswap.shrinker_enabled == Some(true) && n.zswap_writeback;
        if writeback_helps {
            continue;
        }
        let charged = l.compressed_under(&n.path).min(pool_max);
        if charged * 10 > lim * 8 {
            let at = [Seg::Key("memcg"), Seg::Idx(n.spec), Seg::Key("memory_max")];
            let (line, col) = match doc.as_ref().and_then(|d| locate(d, &at)) {
                Some(sp) => {
                    let (a, b) = line_col(&l.text, sp.start);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            errs.push(ScenarioError {
                file: file.clone(),
                line,
                col,
                field: field_name(&at),
                message: format!(
                    "{:?} would be OOM-killed: its workers' data compresses to about {} and zswap charges compressed pages to the memcg, but memory.max is {} and {}",
                    n.path,
                    fmt_bytes(charged),
                    fmt_bytes(lim),
                    if n.zswap_writeback { "the zswap shrinker is not enabled (zswap.shrinker_enabled), so nothing is written back to swap" } else { "zswap_writeback = false" }
                ),
                fix: format!(
                    "raise memory_max above {}, lower the worker sizes, set zswap.shrinker_enabled = true, or drop the limit and push the data to zswap with a [[pressure]] kind = \"push\"",
                    fmt_bytes((charged * 5 / 4).next_multiple_of(1 << 20))
                ),
            });
        }
    }
    if errs.is_empty() {
        Ok(Fit {
            demand,
            resident,
            to_swap,
            swap_available,
            ram_available,
        })
    } else {
        Err(ScenarioErrors(errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "t"
[phases]
measure = "10s"
[swap]
size = "512M"
[[memcg]]
name = "parent"
memory_max = "256M"
[[memcg]]
name = "parent/child"
count = 4
[[worker]]
memcg = "parent/child"
size = "32M"
"#;

    fn errs(text: &str) -> Vec<ScenarioError> {
        match parse(text, "t.toml", "t") {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.0,
        }
    }

    fn one_err(text: &str) -> ScenarioError {
        let e = errs(text);
        assert_eq!(e.len(), 1, "{e:#?}");
        e.into_iter().next().unwrap()
    }

    #[test]
    fn base_expands_templates() {
        let l = parse(BASE, "t.toml", "t").unwrap();
        let paths: Vec<&str> = l.memcgs.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "parent",
                "parent/child1",
                "parent/child2",
                "parent/child3",
                "parent/child4"
            ]
        );
        assert!(l.memcgs[0].has_children);
        assert!(!l.memcgs[1].has_children);
        assert_eq!(l.workers.len(), 4);
        assert_eq!(l.workers[2].memcg, "parent/child3");
        assert_eq!(l.demand_under("parent"), 128 << 20);
    }

    #[test]
    fn unknown_key_has_line_and_names_allowed_keys() {
        let text = BASE.replace("size = \"32M\"", "size = \"32M\"\nsizee = 3");
        let e = one_err(&text);
        assert_eq!(e.line, Some(16), "{e}");
        assert!(e.message.contains("unknown field `sizee`"), "{e}");
        assert!(
            e.message.contains("compressibility"),
            "lists allowed keys: {e}"
        );
        assert!(e.to_string().starts_with("t.toml:16:"), "{e}");
    }

    #[test]
    fn negative_size_rejected_at_its_line() {
        let text = BASE.replace("size = \"32M\"", "size = \"-32M\"");
        let e = one_err(&text);
        assert_eq!(e.line, Some(15));
        assert!(e.message.contains("negative size"), "{e}");
        let text = BASE.replace("size = \"32M\"", "size = -5");
        assert!(one_err(&text).message.contains("negative size -5"));
    }

    #[test]
    fn zero_size_rejected_with_field() {
        let text = BASE.replace("size = \"32M\"", "size = 0");
        let e = one_err(&text);
        assert_eq!(e.field, "worker[0].size");
        assert_eq!(e.line, Some(15));
        assert!(e.fix.contains("size = "), "{e}");
    }

    #[test]
    fn duration_without_unit() {
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = 10"));
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("\"10s\""), "{e}");
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = \"0s\""));
        assert_eq!(e.field, "phases.measure");
        assert_eq!(e.line, Some(4));
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = \"10 fortnights\""));
        assert!(e.message.contains("unknown duration unit"), "{e}");
    }

    #[test]
    fn budget_larger_than_limit() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"300M\"\n"
        );
        let e = one_err(&text);
        assert_eq!(e.field, "proactive[0].budget");
        assert_eq!(e.line, Some(19));
        assert!(
            e.message
                .contains("larger than memory.max 256.0 MiB of \"parent\""),
            "{e}"
        );
    }

    #[test]
    fn budget_larger_than_what_workers_hold() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent/child1\"\nmode = \"sequential-on-one\"\nbudget = \"64M\"\n"
        );
        let e = one_err(&text);
        assert!(e.message.contains("hold (32.0 MiB)"), "{e}");
    }

    #[test]
    fn missing_target_memcg() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"nosuch\"\nmode = \"sequential-on-one\"\nbudget = \"2M\"\n"
        );
        let e = one_err(&text);
        assert_eq!(e.field, "proactive[0].memcg");
        assert_eq!(e.line, Some(17));
        assert!(e.fix.contains("parent, parent/child (x4)"), "{e}");
        let e = one_err(&format!(
            "{BASE}[[proactive]]\nmode = \"sequential-on-one\"\nbudget = \"2M\"\n"
        ));
        assert!(e.message.contains("missing field `memcg`"), "{e}");
    }

    #[test]
    fn concurrent_needs_several_targets() {
        let ok = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent/child\"\nmode = \"concurrent-on-different\"\nbudget = \"2M\"\ncount = 10\n"
        );
        let l = parse(&ok, "t", "t").unwrap();
        assert_eq!(l.proactive_threads.len(), 4);
        assert_eq!(l.proactive_threads[3].target, "parent/child4");
        assert_eq!(l.proactive_threads[0].serial_group, None);
        let bad = ok.replace("memcg = \"parent/child\"\nmode", "memcg = \"parent\"\nmode");
        assert!(one_err(&bad).message.contains("needs several targets"));
        let bad = ok.replace("concurrent-on-different", "sequential-on-one");
        assert!(one_err(&bad).message.contains("names 4 memcgs"));
    }

    #[test]
    fn sequential_threads_share_a_serial_group() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"2M\"\nthreads = 3\n"
        );
        let l = parse(&text, "t", "t").unwrap();
        assert_eq!(l.proactive_threads.len(), 3);
        assert!(
            l.proactive_threads
                .iter()
                .all(|t| t.serial_group == Some(0) && t.target == "parent")
        );
    }

    #[test]
    fn worker_in_inner_memcg_rejected() {
        let text = format!("{BASE}[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"\n");
        let e = one_err(&text);
        assert!(e.message.contains("leaf"), "{e}");
        assert_eq!(e.line, Some(17));
    }

    #[test]
    fn parent_must_be_declared_first() {
        let text = BASE.replace(
            "name = \"parent\"\nmemory_max",
            "name = \"other\"\nmemory_max",
        );
        let e = errs(&text);
        assert!(e[0].message.contains("parent memcg \"parent\""), "{e:?}");
        assert_eq!(e[0].field, "memcg[1].name");
        assert_eq!(e[0].line, Some(11));
    }

    #[test]
    fn bad_enum_and_compressibility() {
        let e = one_err(&BASE.replace("size = \"32M\"", "size = \"32M\"\npattern = \"zigzag\""));
        assert!(e.message.contains("unknown variant `zigzag`"), "{e}");
        assert!(e.message.contains("hot-cold"), "{e}");
        let e = one_err(&BASE.replace("size = \"32M\"", "size = \"32M\"\ncompressibility = 1.5"));
        assert_eq!(e.field, "worker[0].compressibility");
        assert_eq!(e.line, Some(16));
    }

    #[test]
    fn pressure_needs_its_fields() {
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\n"
        ));
        assert!(e.message.contains("needs size"), "{e}");
        assert_eq!(e.line, Some(16));
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"high-squeeze\"\nmemcg = \"parent\"\nsize = \"64M\"\n"
        ));
        assert!(e.message.contains("needs period"), "{e}");
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\nsize = \"1M\"\nrate = -2.0\n"
        ));
        assert_eq!(e.field, "pressure[0].rate");
    }

    #[test]
    fn limits_checked() {
        let e = one_err(&BASE.replace(
            "memory_max = \"256M\"",
            "memory_max = \"256M\"\nmemory_high = \"512M\"",
        ));
        assert!(e.message.contains("above memory_max"), "{e}");
        let e = one_err(&BASE.replace("memory_max = \"256M\"", "memory_max = 0"));
        assert_eq!(e.field, "memcg[0].memory_max");
        let l = parse(
            &BASE.replace("memory_max = \"256M\"", "memory_max = \"max\""),
            "t",
            "t",
        )
        .unwrap();
        assert_eq!(l.memcgs[0].memory_max, Limit::Max);
    }

    #[test]
    fn several_errors_reported_together() {
        let text = BASE.replace("size = \"32M\"", "size = 0\nthreads = 0");
        let e = errs(&text);
        assert_eq!(e.len(), 2);
        let shown = ScenarioErrors(e).to_string();
        assert!(shown.contains("2 problems"), "{shown}");
        assert!(shown.contains("nothing was changed"), "{shown}");
    }

    #[test]
    fn fit_reports_numbers() {
        let l = parse(BASE, "t.toml", "t").unwrap();
        let big = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1800 << 20,
            swap_free: 0,
        };
        let f = check_fit(&l, &big).unwrap();
        assert_eq!(f.demand, 128 << 20);
        assert_eq!(f.to_swap, 0);
        // 4 x 200M under a 256M parent: 544M must go to swap, swap is 512M.
        let l = parse(
            &BASE
                .replace("size = \"32M\"", "size = \"200M\"")
                .replace("[swap]", "[zswap]\nshrinker_enabled = true\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        let e = check_fit(&l, &big).unwrap_err().0;
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains("544.0 MiB"), "{}", e[0]);
        assert!(e[0].fix.contains("544.0 MiB"), "{}", e[0]);
        // Unlimited parent on a small machine: does not fit in RAM.
        let l = parse(
            &BASE
                .replace("memory_max = \"256M\"", "memory_max = \"max\"")
                .replace("size = \"32M\"", "size = \"400M\""),
            "t.toml",
            "t",
        )
        .unwrap();
        let small = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1 << 30,
            swap_free: 0,
        };
        let e = check_fit(&l, &small).unwrap_err().0;
        assert!(e[0].message.contains("memory would not fit"), "{}", e[0]);
        assert!(e[0].message.contains("1.6 GiB"), "{}", e[0]);
    }

    #[test]
    fn compressed_data_over_the_limit_without_writeback_is_refused() {
        let big = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1800 << 20,
            swap_free: 0,
        };
        // 4 x 32M at 0.5 = 64M compressed under a 256M parent: fine.
        let l = parse(BASE, "t.toml", "t").unwrap();
        check_fit(&l, &big).unwrap();
        // 4 x 150M at 0.5 = 300M compressed under 256M, shrinker not enabled: OOM.
        let text = BASE
            .replace("size = \"32M\"", "size = \"150M\"")
            .replace("512M", "1G");
        let l = parse(&text, "t.toml", "t").unwrap();
        let e = check_fit(&l, &big).unwrap_err().0;
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "memcg[0].memory_max");
        assert_eq!(e[0].line, Some(9));
        assert!(
            e[0].message.contains("OOM-killed") && e[0].message.contains("300.0 MiB"),
            "{}",
            e[0]
        );
        assert!(e[0].fix.contains("push"), "{}", e[0]);
        // The shrinker writes back to swap: accepted.
        let l = parse(
            &text.replace("[swap]", "[zswap]\nshrinker_enabled = true\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        check_fit(&l, &big).unwrap();
        // A small pool limit bounds what is charged (shrink_worker writes back): accepted.
        let l = parse(
            &text.replace("[swap]", "[zswap]\nmax_pool_percent = 5\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        check_fit(&l, &big).unwrap();
    }

    #[test]
    fn shipped_scenarios_parse_and_fit_a_2g_guest() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let guest = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1900 << 20,
            swap_free: 0,
        };
        let mut seen = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let l = load(&p).unwrap_or_else(|e| panic!("{e}"));
                check_fit(&l, &guest).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                seen.push(l.name.clone());
            }
        }
        seen.sort();
        for want in [
            "churn",
            "concurrent-cgroups",
            "contention",
            "fairness-small-budget",
            "global-shrinker",
            "quick",
            "sequential-same-cgroup",
        ] {
            assert!(
                seen.iter().any(|s| s == want),
                "scenarios/{want}.toml missing: {seen:?}"
            );
        }
    }

    #[test]
    fn quick_is_short_enough_for_tcg() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quick.toml");
        let l = load(&dir).unwrap();
        let ph = &l.scenario.phases;
        assert!(
            ph.warmup.0 + ph.measure.0 <= Duration::from_secs(60),
            "{ph:?}"
        );
    }

    #[test]
    fn fairness_has_8_children_and_a_budget_below_one_batch_per_child() {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fairness-small-budget.toml");
        let l = load(&p).unwrap();
        let parent = &l.scenario.proactive[0].memcg;
        let kids = l
            .memcgs
            .iter()
            .filter(|m| parent_of(&m.path) == Some(parent.as_str()))
            .count();
        assert_eq!(kids, 8);
        // The thread's concern needs budget < batch x children (a batch is 64 entries, ~128 KiB
        // at this compressibility), else every call reaches every child anyway.
        assert!(l.scenario.proactive[0].budget.0 < 8 * (128 << 10));
        assert_eq!(
            l.scenario.proactive[0].mode,
            ProactiveMode::RepeatedSmallBudget
        );
    }
}
