//! The versioned result file: `results/<run-id>/result.json` (+ `timeseries.csv`).
//!
//! One serde model is the single source of truth: the runner fills a [`ResultFile`], the JSON and
//! the CSV are both derived from it, and every analysis reads it back. Stored durations and sizes
//! are integers (nanoseconds, bytes); floats appear only for ratios, percentages and time-series
//! values. A probe family that could not be measured is `None` (with the reason in the probe
//! plan), never zeros. The field-by-field documentation is `results/README.md`.
//!
//! Versioning: [`SCHEMA_VERSION`] is bumped when a field is removed, renamed, or changes unit or
//! meaning. Adding a field with a default (`Option`, empty map/vec) does not bump it; readers
//! ignore fields they do not know. A file of another version is refused with a message saying
//! which side is newer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod hostile_tests;
mod set;
#[cfg(test)]
mod write_tests;

/// Version of the result-file layout written by this crate.
pub const SCHEMA_VERSION: u32 = 1;
/// File name of the result inside `results/<run-id>/`.
pub const RESULT_FILE: &str = "result.json";
/// File name of the time-series CSV inside `results/<run-id>/`.
pub const TIMESERIES_CSV: &str = "timeseries.csv";

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `detail` quotes the offending line and says how to fix it (see [`parse_detail`]). The
    /// serde error is in the message, not an error source, so `{:#}` does not repeat it after
    /// the fix.
    #[error("{}: not a valid result file: {cause}{detail}", path.display())]
    Parse {
        path: PathBuf,
        cause: serde_json::Error,
        detail: String,
    },
    #[error(
        "{}: schema_version {found} is newer than this zswap-bench understands ({supported}); \
         use a newer zswap-bench to read it",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "{}: schema_version {found} is older than this zswap-bench reads ({supported}); \
         re-run the scenario or read it with the zswap-bench release that wrote it",
        path.display()
    )]
    TooOld {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{}: no result.json found", path.display())]
    NotFound { path: PathBuf },
    #[error("invalid result: {0}")]
    Invalid(String),
    /// Files that cannot be analysed together (duplicate run ids, one scenario name with two
    /// texts); the message names the files and the fix.
    #[error("{0}")]
    Conflict(String),
    /// Writing failed (full or read-only filesystem...): the temp file is gone, the target
    /// untouched, and the message says what to do.
    #[error(
        "{}: cannot write: {cause}; no partial file was left there. fix: {fix}",
        path.display()
    )]
    Write {
        path: PathBuf,
        cause: std::io::Error,
        fix: &'static str,
    },
    #[error("{}: writing CSV: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Histogram
// ---------------------------------------------------------------------------------------------

/// Number of buckets needed to cover all of `u64` in the `log2x4` scheme.
pub const BUCKETS: usize = bench_common::hist::BUCKETS;

/// Bucket of `v` in the log-linear `log2x4` scheme: values 0..=3 have their own bucket; above
/// that each power of two `[2^p, 2^(p+1))` is split into 4 equal sub-buckets. The one
/// definition lives in bench-common, shared with the eBPF programs, so kernel-side and
/// userspace histograms have the same bucket indices.
pub fn bucket_index(v: u64) -> usize {
    bench_common::hist::bucket_index(v) as usize
}

/// Inclusive value range `(lo, hi)` of bucket `i` (`i < BUCKETS`).
pub fn bucket_bounds(i: usize) -> (u64, u64) {
    let (lo, hi) = bench_common::hist::bucket_bounds(i as u32);
    (
        lo,
        if hi == u64::MAX && i == BUCKETS - 1 {
            u64::MAX
        } else {
            hi - 1
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Ns,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// See [`bucket_index`].
    #[serde(rename = "log2x4")]
    Log2x4,
}

/// Raw histogram data in the `log2x4` scheme. `buckets` is sparse: `(index, count)` pairs with
/// count > 0, ascending by index. `min`/`max`/`sum` are exact: they are kept from the raw values
/// (eBPF side, [`Histogram::record`], [`Histogram::from_values`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub unit: Unit,
    pub scheme: Scheme,
    pub buckets: Vec<(u32, u64)>,
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
}

impl Histogram {
    pub fn empty(unit: Unit) -> Self {
        Histogram {
            unit,
            scheme: Scheme::Log2x4,
            buckets: Vec::new(),
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
        }
    }

    pub fn from_values(unit: Unit, values: impl IntoIterator<Item = u64>) -> Self {
        let mut h = Histogram::empty(unit);
        for v in values {
            h.record(v);
        }
        h
    }

    /// Adds one value: one count in its bucket (quantised once, here), and the exact
    /// count/sum/min/max.
    pub fn record(&mut self, v: u64) {
        let i = bucket_index(v) as u32;
        match self.buckets.binary_search_by_key(&i, |&(b, _)| b) {
            Ok(k) => self.buckets[k].1 += 1,
            Err(k) => self.buckets.insert(k, (i, 1)),
        }
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
    }

    /// Builds from a dense per-bucket array as read from a BPF map (index = bucket), plus the
    /// exact aggregates the BPF program kept.
    pub fn from_dense(unit: Unit, dense: &[u64], sum: u64, min: u64, max: u64) -> Self {
        let buckets = sparse(dense);
        let count = buckets.iter().map(|&(_, c)| c).sum();
        Histogram {
            unit,
            scheme: Scheme::Log2x4,
            buckets,
            count,
            sum,
            min,
            max,
        }
    }

    pub fn merge(&mut self, other: &Histogram) -> Result<(), SchemaError> {
        if self.unit != other.unit || self.scheme != other.scheme {
            return Err(SchemaError::Invalid(format!(
                "cannot merge a {:?}/{:?} histogram into a {:?}/{:?} one",
                other.unit, other.scheme, self.unit, self.scheme
            )));
        }
        if other.count == 0 {
            return Ok(());
        }
        let mut dense = self.dense();
        for &(i, c) in &other.buckets {
            dense[i as usize] += c;
        }
        self.buckets = sparse(&dense);
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        Ok(())
    }

    pub fn dense(&self) -> Vec<u64> {
        let mut dense = vec![0u64; BUCKETS];
        for &(i, c) in &self.buckets {
            dense[i as usize] += c;
        }
        dense
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Value at quantile `q` (0..=1): finds the bucket holding rank `q * count` and interpolates
    /// linearly inside it (values assumed uniform within a bucket), clamped to the exact min/max.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if q == 0.0 {
            return Some(self.min as f64);
        }
        if q == 1.0 {
            return Some(self.max as f64);
        }
        let rank = q * self.count as f64;
        let mut below = 0u64;
        for &(i, c) in &self.buckets {
            if (below + c) as f64 >= rank {
                let (lo, hi) = bucket_bounds(i as usize);
                let lo = (lo as f64).max(self.min as f64);
                let hi = (hi as f64 + 1.0).min(self.max as f64 + 1.0);
                let frac = (rank - below as f64) / c as f64;
                let v = lo + frac * (hi - lo);
                return Some(v.clamp(self.min as f64, self.max as f64));
            }
            below += c;
        }
        Some(self.max as f64)
    }

    /// Cumulative distribution as `(upper bound of bucket, fraction <= it)` points, for CDF plots.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(self.buckets.len());
        let mut acc = 0u64;
        for &(i, c) in &self.buckets {
            acc += c;
            let (_, hi) = bucket_bounds(i as usize);
            let x = (hi as f64).min(self.max as f64);
            out.push((x, acc as f64 / self.count as f64));
        }
        out
    }

    fn check(&self, what: &str) -> Result<(), String> {
        let mut last = None;
        let mut total = 0u64;
        for &(i, c) in &self.buckets {
            if i as usize >= BUCKETS {
                return Err(format!("{what}: bucket index {i} out of range"));
            }
            if last.is_some_and(|l| l >= i) {
                return Err(format!("{what}: bucket indices not strictly ascending"));
            }
            last = Some(i);
            // Checked: a hostile file's counts can add up past u64 (a panic in debug builds).
            total = total
                .checked_add(c)
                .ok_or_else(|| format!("{what}: bucket counts add up past 2^64"))?;
        }
        if total != self.count {
            return Err(format!(
                "{what}: bucket counts add up to {total}, count says {}",
                self.count
            ));
        }
        if self.count > 0 && self.min > self.max {
            return Err(format!("{what}: min {} > max {}", self.min, self.max));
        }
        Ok(())
    }
}

fn sparse(dense: &[u64]) -> Vec<(u32, u64)> {
    dense
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| (i as u32, c))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Keys shared by the runner, the probes and the analysis
// ---------------------------------------------------------------------------------------------

/// Keys of the `returns` maps: kernel-style errno names, `"0"`, and `">0"` for positive returns
/// (v5's shrink_memcg returns bytes). The names come from [`bench_common::errno`].
pub mod ret {
    use bench_common::errno;

    pub const OK: &str = "0";
    pub const POSITIVE: &str = ">0";
    pub use errno::neg::{EAGAIN, EBUSY, EINTR, EINVAL, ENOENT, ENOMEM};

    /// Map key for a kernel-style return value (negative errno, 0 or positive); an errno the
    /// table does not name keeps its number.
    pub fn key(v: i64) -> String {
        match v {
            0 => OK.into(),
            v if v > 0 => POSITIVE.into(),
            v => match v
                .checked_neg()
                .and_then(|n| i32::try_from(n).ok())
                .and_then(errno::name)
            {
                Some(name) => format!("-{name}"),
                None => v.to_string(),
            },
        }
    }
}

/// Keys of `by_caller` (shrink_memcg) and `by_source` (writeback): the caller contexts' names,
/// defined next to the context values the eBPF programs record.
pub use bench_common::ctx::name as caller;

/// Time-series keys: `<source>:<object>:<field>` (object may be empty, may contain `/`).
pub mod ts_key {
    pub fn memcg(path: &str, field: &str) -> String {
        format!("memcg:{path}:{field}")
    }
    pub fn lock(name: &str, field: &str) -> String {
        format!("lock:{name}:{field}")
    }
    pub fn workload(field: &str) -> String {
        format!("workload:{field}")
    }
    pub fn vmstat(field: &str) -> String {
        format!("vmstat:{field}")
    }
    /// Splits a key into (source, object, field); object is "" for two-part keys.
    pub fn split(key: &str) -> Option<(&str, &str, &str)> {
        let (source, rest) = key.split_once(':')?;
        match rest.rsplit_once(':') {
            Some((object, field)) => Some((source, object, field)),
            None => Some((source, "", rest)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The result file
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    pub tool: Tool,
    pub run_id: String,
    /// Start of the measured phase, Unix epoch nanoseconds.
    pub started_unix_ns: u64,
    /// Length of the measured phase: the denominator of every per-second metric.
    pub duration_ns: u64,
    /// Repeat index (0-based) of this run within its scenario × kernel cell.
    pub repeat: u32,
    pub seed: u64,
    pub kernel: KernelInfo,
    pub scenario: ScenarioInfo,
    pub probe_plan: Vec<PlanEntry>,
    pub probes: Probes,
    pub counters: Counters,
    pub workload: Workload,
    pub proactive_writes: ProactiveWrites,
    #[serde(default)]
    pub timeseries: Vec<Sample>,
    #[serde(default)]
    pub crosschecks: Vec<Crosscheck>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What happened to the run's processes that the numbers must be read with: a worker the
    /// OOM killer took, one that died otherwise. A run with any event is also `failed`.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Set when the run did not complete; the rest holds what was measured before the failure.
    #[serde(default)]
    pub failed: Option<String>,
}

/// One event in a run's life (see [`ResultFile::events`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// The victim's memcg, relative to the run's root cgroup.
    pub memcg: String,
    /// Which process: "worker 3 (pid 812)", "churn helper 0 (pid 815)".
    pub victim: String,
    /// The evidence, e.g. "SIGKILL; memory.events oom_kill +1".
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Killed by the kernel's OOM killer (SIGKILL and the memcg's `oom_kill` count went up).
    OomKill,
    /// Died otherwise (another signal, an exit status).
    ProcessDied,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "zswap-bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Where a run executed. One type for the whole tool: the command line asks for one (`auto`,
/// `kvm`, `tcg`), the VM layer resolves `Auto` to what really booted, and a result file records
/// that (`Auto` is never written: a result names the accelerator that ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM when it really works here, else TCG (a request, resolved before a run).
    Auto,
    Tcg,
    Kvm,
    /// On the machine itself, no VM (`run --host`).
    #[default]
    #[cfg_attr(feature = "clap", value(skip))]
    Host,
}

impl Accel {
    /// QEMU's `-accel` name (`Auto` and `Host` have none: resolve `Auto` first).
    pub fn qemu_name(self) -> Option<&'static str> {
        match self {
            Accel::Tcg => Some("tcg"),
            Accel::Kvm => Some("kvm"),
            Accel::Auto | Accel::Host => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KernelInfo {
    /// `uname -r`.
    pub release: String,
    /// `uname -v`.
    pub version_string: String,
    /// `uname -m`.
    pub machine: String,
    /// sha256 of the kernel's .config (hex), when known.
    #[serde(default)]
    pub config_sha256: Option<String>,
    /// Manifest name (`kernels/<name>.toml`), e.g. "baseline", "ref-percg-lock"; `None` on host.
    #[serde(default)]
    pub manifest: Option<String>,
    #[serde(default)]
    pub series: Option<Series>,
    pub cmdline: String,
    pub accel: Accel,
    pub cpus: u32,
    pub mem_bytes: u64,
    /// The spinlock implementation that ran: it decides how a contended spinlock waits, so
    /// contention figures are only comparable between runs with the same one.
    #[serde(default)]
    pub spinlocks: Option<Spinlocks>,
    /// Cores of the machine that ran the guest (VM runs): more vCPUs than this are
    /// overcommitted, and lock-holder preemption then inflates lock waits.
    #[serde(default)]
    pub host_cpus: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpinlockImpl {
    /// Queued spinlocks (pending bit, then an MCS queue), as on bare metal.
    NativeQspinlock,
    /// `virt_spin_lock()`: an unfair test-and-set loop, used by guests that see the hypervisor
    /// CPUID bit but have no paravirt spinlocks.
    VirtTestAndSet,
    /// Paravirt queued spinlocks (waiters halt and are kicked by the hypervisor).
    Paravirt,
}

impl SpinlockImpl {
    pub fn describe(self) -> &'static str {
        match self {
            SpinlockImpl::NativeQspinlock => "native qspinlock",
            SpinlockImpl::VirtTestAndSet => "virt test-and-set",
            SpinlockImpl::Paravirt => "paravirt qspinlock",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spinlocks {
    pub implementation: SpinlockImpl,
    /// How it was determined, e.g. "virt_spin_lock_key=0 (read by BPF); no hypervisor bit".
    pub evidence: String,
}

impl KernelInfo {
    /// Label for runs whose guest had more vCPUs than the host has cores.
    pub fn overcommit_note(&self) -> Option<String> {
        match self.host_cpus {
            Some(h) if self.cpus > h => Some(format!(
                "overcommitted vCPUs ({} on {h} host cores): lock-holder preemption inflates waits",
                self.cpus
            )),
            _ => None,
        }
    }

    /// The name results are grouped and compared by: the manifest, else `uname -r`.
    pub fn label(&self) -> &str {
        self.manifest.as_deref().unwrap_or(&self.release)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub patches: Vec<Patch>,
    /// How each mail of the series went in (real series are often fuzzed or fixed up to apply
    /// to our base); empty for results written before this field.
    #[serde(default)]
    pub applied: Vec<AppliedPatch>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AppliedPatch {
    /// The mail's subject, or the file name of a plain patch or fix-up.
    pub patch: String,
    /// "git am", "git am -3 (3-way merge)", "patch -F2: mm/zswap.c hunk #3 fuzz 2", ...
    pub how: String,
}

impl AppliedPatch {
    /// How a patch differs from what was posted, in one line for readers: a fix-up's own name,
    /// or "how: subject" for a fuzzed or 3-way-merged mail; `None` when it went in as posted.
    pub fn not_as_posted(patch: &str, how: &str) -> Option<String> {
        if patch.starts_with("fix-up ") {
            Some(patch.to_string())
        } else if how.starts_with("patch ") || how.contains("3-way") {
            Some(format!("{how}: {patch}"))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Patch {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    /// sha256 (hex) of `toml`: results are only grouped together when this matches.
    pub sha256: String,
    /// The scenario file's full text as run.
    pub toml: String,
    /// Key parameters shown in reports, e.g. "children" -> "8", "budget" -> "2M".
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    Fentry,
    Fexit,
    Kprobe,
    Kretprobe,
    Tracepoint,
    TpBtf,
    RawTracepoint,
    Userspace,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Live,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// Metric or probe family, e.g. "shrink_memcg", "writeback", "lock:per_memcg".
    pub metric: String,
    pub mechanism: Mechanism,
    /// Function, tracepoint or file the mechanism attaches to.
    pub target: String,
    pub status: PlanStatus,
    /// Why it is unavailable (or why a fallback was chosen).
    #[serde(default)]
    pub reason: Option<String>,
}

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

/// Kernel counters read before and after the measured phase.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Counters {
    #[serde(default)]
    pub vmstat_delta: BTreeMap<String, i64>,
    /// Every memcg of the scenario, in creation order (parent before its children).
    #[serde(default)]
    pub memcg: Vec<MemcgCounters>,
    #[serde(default)]
    pub zswap_debugfs: StartEnd<i64>,
    #[serde(default)]
    pub zswap_params: StartEnd<String>,
    #[serde(default)]
    pub psi: Option<Psi>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MemcgCounters {
    pub path: String,
    /// `memory.stat` end minus start (zswpout, zswpin, zswpwb, zswpwb_proactive_b, pgscan, ...),
    /// and `memory.events` end minus start as `events.<key>` (`events.oom_kill`, `events.max`).
    pub stat_delta: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartEnd<T> {
    pub start: BTreeMap<String, T>,
    pub end: BTreeMap<String, T>,
}

impl<T> Default for StartEnd<T> {
    fn default() -> Self {
        StartEnd {
            start: BTreeMap::new(),
            end: BTreeMap::new(),
        }
    }
}

/// `/proc/pressure/memory` (or the scenario root's `memory.pressure`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Psi {
    /// Delta of `some total=` over the measured phase, microseconds (the kernel's unit).
    pub some_total_us: u64,
    pub full_total_us: u64,
    /// `avg10` percentages at the end of the phase.
    pub some_avg10_end: f64,
    pub full_avg10_end: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Workload {
    pub pages_touched: u64,
    pub major_faults: u64,
    pub duration_ns: u64,
    #[serde(default)]
    pub per_worker: Vec<WorkerStats>,
    /// Measured compressed/original size ratio of the workers' data.
    #[serde(default)]
    pub compressibility: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkerStats {
    pub cgroup: String,
    pub pages_touched: u64,
    pub major_faults: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProactiveInterface {
    #[serde(rename = "v5 source=zswap")]
    V5SourceZswap,
    #[serde(rename = "v2-v4 zswap_writeback_only")]
    V2V4WritebackOnly,
    #[serde(rename = "v1 memory.zswap.proactive_writeback")]
    V1ProactiveWriteback,
    #[default]
    #[serde(rename = "none")]
    None,
}

/// What the userspace proactive-writeback threads did, measured from userspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProactiveWrites {
    pub interface: ProactiveInterface,
    #[serde(default)]
    pub per_thread: Vec<ProactiveThread>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProactiveThread {
    /// Target memcg path.
    pub target: String,
    /// "sequential-on-one" | "concurrent-on-different" | "repeated-small-budget".
    pub mode: String,
    pub calls: u64,
    pub returns: BTreeMap<String, u64>,
    pub bytes_requested: u64,
    /// Bytes written back as the kernel reports them (e.g. zswpwb_proactive_b delta), if known.
    #[serde(default)]
    pub bytes_achieved: Option<u64>,
    pub latency: Histogram,
}

/// One time-series sample. `t_ns` counts from the start of the measured phase. Counter values
/// are cumulative since that start (so a rate is the difference of two samples and a late sample
/// loses nothing); a key whose source is `level` is an instantaneous gauge instead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sample {
    pub t_ns: u64,
    pub values: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crosscheck {
    pub what: String,
    pub bpf: i64,
    pub kernel: i64,
    pub agree: bool,
    #[serde(default)]
    pub note: String,
}

// ---------------------------------------------------------------------------------------------
// Construction, IO, validation
// ---------------------------------------------------------------------------------------------

impl ResultFile {
    /// An empty result for the runner to fill: every probe family unavailable, no counters.
    pub fn new(run_id: impl Into<String>, kernel: KernelInfo, scenario: ScenarioInfo) -> Self {
        ResultFile {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            run_id: run_id.into(),
            started_unix_ns: 0,
            duration_ns: 0,
            repeat: 0,
            seed: 0,
            kernel,
            scenario,
            probe_plan: Vec::new(),
            probes: Probes::default(),
            counters: Counters::default(),
            workload: Workload::default(),
            proactive_writes: ProactiveWrites::default(),
            timeseries: Vec::new(),
            crosschecks: Vec::new(),
            warnings: Vec::new(),
            events: Vec::new(),
            failed: None,
        }
    }

    /// Reads `dir/result.json` (or `dir` itself when it is a file), checking the schema version
    /// before the full parse so a file of another version gets a version error, not a serde one.
    pub fn read(dir: &Path) -> Result<Self, SchemaError> {
        let path = if dir.is_dir() {
            dir.join(RESULT_FILE)
        } else {
            dir.to_path_buf()
        };
        let text = fs::read_to_string(&path).map_err(|source| SchemaError::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// [`ResultFile::read`] of text already in memory; `path` is only named in errors. Never
    /// panics, whatever the text (fuzzed: `schema/fuzz_tests.rs`).
    pub fn parse(text: &str, path: &Path) -> Result<Self, SchemaError> {
        let path = path.to_path_buf();
        #[derive(Deserialize)]
        struct VersionOnly {
            schema_version: u32,
        }
        let parse_err = |cause: serde_json::Error| SchemaError::Parse {
            detail: parse_detail(text, &cause),
            path: path.clone(),
            cause,
        };
        let v: VersionOnly = serde_json::from_str(text).map_err(parse_err)?;
        check_version(&path, v.schema_version)?;
        let r: ResultFile = serde_json::from_str(text).map_err(parse_err)?;
        r.validate().map_err(|e| match e {
            SchemaError::Invalid(m) => SchemaError::Invalid(format!("{}: {m}", path.display())),
            e => e,
        })?;
        Ok(r)
    }

    /// Reads every `result.json` under each path (a run directory, a result file, or a tree such
    /// as a matrix output), sorted by path for a stable order.
    pub fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultFile>, SchemaError> {
        let mut files = Vec::new();
        for p in paths {
            let before = files.len();
            find_result_files(p, &mut files)?;
            if files.len() == before {
                return Err(SchemaError::NotFound { path: p.clone() });
            }
        }
        files.sort();
        // The same file reached through two paths (`out` and `out/cell/result.json`, a
        // symlink) is one run, read once.
        let mut seen = BTreeSet::new();
        files.retain(|f| seen.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
        let read = files
            .into_iter()
            .map(|f| ResultFile::read(&f).map(|r| (f, r)))
            .collect::<Result<Vec<_>, _>>()?;
        set::check_set(&read)?;
        Ok(read.into_iter().map(|(_, r)| r).collect())
    }

    /// Writes `dir/result.json` atomically: temp file in the same directory, fsync, rename, fsync
    /// the directory. A crash leaves either the old file or the new one, never a torn one.
    pub fn write_atomic(&self, dir: &Path) -> Result<PathBuf, SchemaError> {
        self.validate()?;
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|cause| SchemaError::Parse {
            path: dir.join(RESULT_FILE),
            cause,
            detail: String::new(),
        })?;
        bytes.push(b'\n');
        write_file_atomic(dir, RESULT_FILE, &bytes)
    }

    /// Writes `dir/timeseries.csv` (atomically): `t_ns` then one column per key, sorted; an empty
    /// cell where a sample lacks that key.
    pub fn write_csv(&self, dir: &Path) -> Result<PathBuf, SchemaError> {
        let path = dir.join(TIMESERIES_CSV);
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |source| SchemaError::Csv {
            path: path.clone(),
            source,
        };
        let keys = self.timeseries_keys();
        let mut header = vec!["t_ns".to_string()];
        header.extend(keys.iter().cloned());
        w.write_record(&header).map_err(csv_err)?;
        for s in &self.timeseries {
            let mut row = vec![s.t_ns.to_string()];
            row.extend(
                keys.iter()
                    .map(|k| s.values.get(k).map(|v| v.to_string()).unwrap_or_default()),
            );
            w.write_record(&row).map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|e| SchemaError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        write_file_atomic(dir, TIMESERIES_CSV, &bytes)
    }

    /// All time-series keys, sorted.
    pub fn timeseries_keys(&self) -> Vec<String> {
        let keys: BTreeSet<&String> = self
            .timeseries
            .iter()
            .flat_map(|s| s.values.keys())
            .collect();
        keys.into_iter().cloned().collect()
    }

    /// `(t_ns, value)` of one key, skipping samples without it.
    pub fn series(&self, key: &str) -> Vec<(u64, f64)> {
        self.timeseries
            .iter()
            .filter_map(|s| s.values.get(key).map(|&v| (s.t_ns, v)))
            .collect()
    }

    /// Per-second rate of a cumulative key between consecutive samples, at each interval's end.
    pub fn rate_series(&self, key: &str) -> Vec<(u64, f64)> {
        rates(&self.series(key))
    }

    /// Consistency checks the type system cannot express.
    pub fn validate(&self) -> Result<(), SchemaError> {
        check_version(Path::new(RESULT_FILE), self.schema_version)?;
        let mut problems = Vec::new();
        let mut hist = |h: &Histogram, what: &str| {
            if let Err(e) = h.check(what) {
                problems.push(e);
            }
        };
        if let Some(s) = &self.probes.shrink_memcg {
            hist(&s.latency, "probes.shrink_memcg.latency");
        }
        if let Some(s) = &self.probes.shrink_worker {
            hist(&s.runtime, "probes.shrink_worker.runtime");
        }
        if let Some(p) = &self.probes.proactive {
            hist(&p.latency, "probes.proactive.latency");
        }
        for l in self.probes.locks.iter().flatten() {
            hist(&l.wait, &format!("probes.locks[{}].wait", l.name));
        }
        for (i, t) in self.proactive_writes.per_thread.iter().enumerate() {
            hist(
                &t.latency,
                &format!("proactive_writes.per_thread[{i}].latency"),
            );
        }
        if self.run_id.is_empty() {
            problems.push("run_id is empty".into());
        }
        // Ranges a measurement cannot leave: a value outside is a damaged or hand-made file.
        let mut in_range = |what: &str, v: f64, lo: f64, hi: f64| {
            if !(lo..=hi).contains(&v) {
                problems.push(format!("{what} = {v} is outside {lo}..={hi}"));
            }
        };
        if let Some(p) = &self.counters.psi {
            in_range("counters.psi.some_avg10_end", p.some_avg10_end, 0.0, 100.0);
            in_range("counters.psi.full_avg10_end", p.full_avg10_end, 0.0, 100.0);
        }
        if let Some(c) = self.workload.compressibility {
            // compressed/original: lz4 expands incompressible data by well under 1%.
            in_range("workload.compressibility", c, 0.0, 2.0);
        }
        if self.timeseries.windows(2).any(|w| w[0].t_ns > w[1].t_ns) {
            problems.push("timeseries samples are not in time order".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Invalid(problems.join("; ")))
        }
    }

    pub fn duration_s(&self) -> Option<f64> {
        (self.duration_ns > 0).then(|| self.duration_ns as f64 / 1e9)
    }
}

/// Per-second rates between consecutive `(t_ns, cumulative)` points.
pub fn rates(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    points
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| (w[1].0, (w[1].1 - w[0].1) / ((w[1].0 - w[0].0) as f64 / 1e9)))
        .collect()
}

/// The rest of a parse error's message: the offending line quoted (a pretty-printed result has
/// one field per line, so this names the field serde's type errors leave out) and the fix.
fn parse_detail(text: &str, e: &serde_json::Error) -> String {
    let fix = if e.is_eof() {
        "the file is truncated (a run killed while writing it, or a partial copy)"
    } else if e.is_syntax() {
        "the file is not JSON"
    } else {
        "a field is missing or has the wrong type"
    };
    let line = text
        .lines()
        .nth(e.line().saturating_sub(1))
        .map(str::trim)
        .filter(|l| !l.is_empty() && e.line() > 0)
        .map(|l| {
            let short: String = l.chars().take(80).collect();
            format!(" (line {}: {short})", e.line())
        })
        .unwrap_or_default();
    format!(
        "{line}; {fix}. fix: run that scenario on that kernel again, or move this run's \
         directory out of the results you pass"
    )
}

fn check_version(path: &Path, found: u32) -> Result<(), SchemaError> {
    use std::cmp::Ordering::*;
    let path = path.to_path_buf();
    match found.cmp(&SCHEMA_VERSION) {
        Equal => Ok(()),
        Greater => Err(SchemaError::TooNew {
            path,
            found,
            supported: SCHEMA_VERSION,
        }),
        Less => Err(SchemaError::TooOld {
            path,
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}

fn find_result_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), SchemaError> {
    let io = |source| SchemaError::Io {
        path: p.to_path_buf(),
        source,
    };
    if p.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    if p.join(RESULT_FILE).is_file() {
        out.push(p.join(RESULT_FILE));
        return Ok(());
    }
    if !p.is_dir() {
        return Err(SchemaError::NotFound {
            path: p.to_path_buf(),
        });
    }
    for entry in fs::read_dir(p).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            find_result_files(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Temp file in `dir`, fsync, rename over `name`, fsync `dir`. On any error the temp file is
/// removed (a full disk must not leave a torn `.result.json.tmp.*` behind) and the error names
/// the target and what to do.
fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, SchemaError> {
    let fail = |path: &Path, cause: std::io::Error| SchemaError::Write {
        path: path.to_path_buf(),
        fix: write_fix(&cause),
        cause,
    };
    fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        // Best effort: when even the removal fails the first error is the one to report.
        let _ = fs::remove_file(&tmp);
        return Err(fail(&target, e));
    }
    // Make the rename itself durable.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(dir, e))?;
    Ok(target)
}

fn write_fix(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | QuotaExceeded | FileTooLarge => {
            "free space on that filesystem, or choose another --out"
        }
        ReadOnlyFilesystem | PermissionDenied => {
            "make the directory writable, or choose another --out"
        }
        _ => "check that directory, or choose another --out",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockResult;

    #[test]
    fn buckets_cover_u64_contiguously() {
        assert_eq!(bucket_bounds(0), (0, 0));
        for i in 0..BUCKETS - 1 {
            let (lo, hi) = bucket_bounds(i);
            assert!(lo <= hi, "bucket {i}");
            assert_eq!(hi + 1, bucket_bounds(i + 1).0, "gap after bucket {i}");
            assert_eq!(bucket_index(lo), i);
            assert_eq!(bucket_index(hi), i);
        }
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_bounds(BUCKETS - 1).1, u64::MAX);
        // Known table the eBPF mirror must reproduce.
        let table = [
            (0, 0),
            (3, 3),
            (4, 4),
            (7, 7),
            (8, 8),
            (9, 8),
            (10, 9),
            (15, 11),
            (16, 12),
        ];
        for (v, i) in table {
            assert_eq!(bucket_index(v), i, "value {v}");
        }
        assert_eq!(bucket_index(1 << 20), 4 * 19);
        assert_eq!(bucket_index((1 << 20) + (3 << 18)), 4 * 19 + 3);
        // Relative width at most 25 % above the exact region.
        for i in 4..BUCKETS {
            let (lo, hi) = bucket_bounds(i);
            assert!(
                (hi - lo + 1) as f64 / lo as f64 <= 0.25 + 1e-12,
                "bucket {i}"
            );
        }
    }

    /// The bucket function (the one the eBPF programs run) against indices worked out by hand
    /// from the scheme's definition, not from the function itself: values 0..=3 are their own
    /// bucket, and each power of two 2^k (k >= 2) starts bucket 4(k-1) and is cut in quarters.
    #[test]
    fn same_buckets_as_the_ebpf_side() {
        use bench_common::hist::bucket_index as ebpf_index;
        let by_hand: [(u64, u32); 20] = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 5),
            (7, 7),
            (8, 8),
            (9, 8),
            (10, 9),
            (11, 9),
            (12, 10),
            (13, 10),
            (14, 11),
            (15, 11),
            (16, 12),
            (19, 12),
            (20, 13),
            (1000, 35), // 2^9 = 512 starts bucket 32; quarters of 128: 896..1024 is the 4th
            (u64::MAX, 251),
        ];
        for (v, i) in by_hand {
            assert_eq!(ebpf_index(v), i, "value {v}");
        }
        for k in 3..64u32 {
            let p = 1u64 << k;
            let q = p >> 2;
            let first = 4 * (k - 1);
            assert_eq!(ebpf_index(p), first, "2^{k}");
            assert_eq!(ebpf_index(p - 1), first - 1, "2^{k} - 1");
            assert_eq!(
                ebpf_index(p + q - 1),
                first,
                "last value of the first quarter of 2^{k}"
            );
            assert_eq!(ebpf_index(p + q), first + 1, "2^{k} + 2^{}", k - 2);
            assert_eq!(ebpf_index(p + 3 * q), first + 3, "last quarter of 2^{k}");
        }
        // Bounds worked out by hand (inclusive, as the reader reports them).
        assert_eq!(bucket_bounds(4), (4, 4));
        assert_eq!(bucket_bounds(8), (8, 9));
        assert_eq!(bucket_bounds(11), (14, 15));
        assert_eq!(bucket_bounds(12), (16, 19));
        assert_eq!(bucket_bounds(35), (896, 1023));
        assert_eq!(bucket_bounds(BUCKETS - 1), (7 << 61, u64::MAX));
        // The reader's bounds invert the eBPF-side function for every bucket: both ends map back
        // to the bucket, and one step outside lands in the neighbour.
        for i in 0..BUCKETS {
            let (lo, hi) = bucket_bounds(i);
            assert!(lo <= hi, "bucket {i}");
            assert_eq!(ebpf_index(lo) as usize, i, "lower bound of bucket {i}");
            assert_eq!(ebpf_index(hi) as usize, i, "upper bound of bucket {i}");
            if i > 0 {
                assert_eq!(ebpf_index(lo - 1) as usize, i - 1, "below bucket {i}");
            }
            if i < BUCKETS - 1 {
                assert_eq!(ebpf_index(hi + 1) as usize, i + 1, "above bucket {i}");
            }
        }
    }

    #[test]
    fn histogram_quantiles_and_mean() {
        let h = Histogram::from_values(Unit::Ns, 1..=10_000u64);
        assert_eq!((h.count, h.min, h.max), (10_000, 1, 10_000));
        assert_eq!(h.sum, 10_000 * 10_001 / 2);
        assert_eq!(h.mean(), Some(5_000.5));
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.02, "p50 {p50}");
        assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.02, "p99 {p99}");
        assert_eq!(h.quantile(0.0), Some(1.0));
        assert_eq!(h.quantile(1.0), Some(10_000.0));
        assert_eq!(Histogram::empty(Unit::Ns).quantile(0.5), None);
        // A single repeated value: every quantile is that value.
        let one = Histogram::from_values(Unit::Bytes, [4096; 10]);
        assert_eq!(one.quantile(0.5), Some(4096.0));
        let cdf = h.cdf();
        assert_eq!(cdf.last().unwrap().1, 1.0);
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn merge_equals_recording_everything() {
        let a: Vec<u64> = (0..500).map(|i| i * 37 % 1000 + 5).collect();
        let b: Vec<u64> = (0..300).map(|i| i * 91 % 50_000).collect();
        let mut h = Histogram::from_values(Unit::Ns, a.iter().copied());
        h.merge(&Histogram::from_values(Unit::Ns, b.iter().copied()))
            .unwrap();
        let all = Histogram::from_values(Unit::Ns, a.into_iter().chain(b));
        assert_eq!(h, all);
        let err = h
            .merge(&Histogram::from_values(Unit::Bytes, [1]))
            .unwrap_err();
        assert!(err.to_string().contains("cannot merge"));
        // Merging into an empty histogram takes the other's min.
        let mut e = Histogram::empty(Unit::Ns);
        e.merge(&Histogram::from_values(Unit::Ns, [70, 90]))
            .unwrap();
        assert_eq!((e.min, e.max, e.count), (70, 90, 2));
    }

    #[test]
    fn record_counts_each_value_once_in_its_bucket() {
        let mut h = Histogram::empty(Unit::Ns);
        // 0..=3 have buckets of their own; [8, 9] is bucket 8 (2^3 split in 4); 1000 is in
        // bucket 35, [896, 1023] (2^9 split in 4).
        for v in [9, 1000, 0, 8, 3, 1000, 1000] {
            h.record(v);
        }
        assert_eq!(bucket_bounds(8), (8, 9));
        assert_eq!(bucket_bounds(35), (896, 1023));
        assert_eq!(h.buckets, vec![(0, 1), (3, 1), (8, 2), (35, 3)]);
        assert_eq!((h.count, h.min, h.max, h.sum), (7, 0, 1000, 3020));
        h.check("record").unwrap();
        // The same as building from all the values at once.
        assert_eq!(
            h,
            Histogram::from_values(Unit::Ns, [0, 3, 8, 9, 1000, 1000, 1000])
        );
        // The first value sets min, however large.
        let mut one = Histogram::empty(Unit::Ns);
        one.record(70_000);
        assert_eq!((one.count, one.min, one.max), (1, 70_000, 70_000));
    }

    #[test]
    fn errno_keys() {
        assert_eq!(ret::key(0), "0");
        assert_eq!(ret::key(4096), ">0");
        assert_eq!(ret::key(-11), "-EAGAIN");
        assert_eq!(ret::key(-4), "-EINTR");
        assert_eq!(ret::key(-22), "-EINVAL");
        assert_eq!(ret::key(-99), "-99");
        assert_eq!(ret::key(-16), "-EBUSY");
        assert_eq!(ret::key(-12), "-ENOMEM");
        assert_eq!(ret::key(i64::MIN), i64::MIN.to_string());
        assert_eq!(
            ts_key::split("memcg:/zswap-bench/p/c1:zswpwb"),
            Some(("memcg", "/zswap-bench/p/c1", "zswpwb"))
        );
        assert_eq!(
            ts_key::split("workload:pages_touched"),
            Some(("workload", "", "pages_touched"))
        );
    }

    #[test]
    fn round_trip_is_lossless_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let r = MockResult::percg(0).build();
        let path = r.write_atomic(dir.path()).unwrap();
        assert_eq!(path, dir.path().join(RESULT_FILE));
        let back = ResultFile::read(dir.path()).unwrap();
        assert_eq!(back, r);
        // Reading the file path directly works too, and no temp file is left behind.
        assert_eq!(ResultFile::read(&path).unwrap(), r);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![RESULT_FILE.to_string()]);
        // Stored form: integers for durations, lowercase enum strings.
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"schema_version\": 1"));
        assert!(text.contains("\"duration_ns\": 30000000000"));
        assert!(text.contains("\"mechanism\": \"tp_btf\""));
        assert!(text.contains("\"kind\": \"per_memcg\""));
        assert!(text.contains("\"interface\": \"v5 source=zswap\""));
        assert!(text.contains("\"scheme\": \"log2x4\""));
    }

    #[test]
    fn unavailable_families_stay_null() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = MockResult::baseline(0);
        m.probes = false;
        let r = m.build();
        r.write_atomic(dir.path()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join(RESULT_FILE)).unwrap())
                .unwrap();
        assert!(v["probes"]["locks"].is_null());
        assert!(v["probes"]["writeback"].is_null());
        assert_eq!(ResultFile::read(dir.path()).unwrap().probes.locks, None);
    }

    fn write_with_version(dir: &Path, version: u32, strip: bool) {
        let mut v = serde_json::to_value(MockResult::baseline(0).build()).unwrap();
        v["schema_version"] = version.into();
        if strip {
            // A future layout: fields renamed away. The version error must win over serde's.
            v.as_object_mut().unwrap().remove("kernel");
        }
        fs::write(dir.join(RESULT_FILE), serde_json::to_vec(&v).unwrap()).unwrap();
    }

    #[test]
    fn other_versions_are_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        write_with_version(dir.path(), 2, true);
        let e = ResultFile::read(dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                SchemaError::TooNew {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("newer"), "{e}");
        assert!(e.to_string().contains("result.json"), "{e}");
        write_with_version(dir.path(), 0, false);
        let e = ResultFile::read(dir.path()).unwrap_err();
        assert!(matches!(e, SchemaError::TooOld { found: 0, .. }), "{e}");
        assert!(e.to_string().contains("older"), "{e}");
        // Garbage is a parse error naming the file; a missing file an IO error.
        fs::write(dir.path().join(RESULT_FILE), "{").unwrap();
        let e = ResultFile::read(dir.path()).unwrap_err();
        assert!(matches!(e, SchemaError::Parse { .. }), "{e}");
        let e = ResultFile::read(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(e, SchemaError::Io { .. }), "{e}");
    }

    #[test]
    fn validate_catches_inconsistent_histograms() {
        let mut r = MockResult::percg(0).build();
        r.validate().unwrap();
        r.probes.shrink_memcg.as_mut().unwrap().latency.count += 1;
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains("probes.shrink_memcg.latency"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(
            r.write_atomic(dir.path()).is_err(),
            "invalid results are not written"
        );
        let mut r = MockResult::percg(0).build();
        r.timeseries.swap(0, 3);
        assert!(r.validate().unwrap_err().to_string().contains("time order"));
    }

    #[test]
    fn csv_has_one_column_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = MockResult::nocursor(0).build();
        // A key present in only one sample leaves empty cells elsewhere.
        r.timeseries[2]
            .values
            .insert("level:zswap:pool_total_size".into(), 123.0);
        let path = r.write_csv(dir.path()).unwrap();
        let mut rd = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
        let mut expect = vec!["t_ns".to_string()];
        expect.extend(r.timeseries_keys());
        assert_eq!(header, expect);
        assert!(header.contains(&"memcg:/zswap-bench/parent/child1:zswpwb".to_string()));
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), r.timeseries.len());
        let col = header
            .iter()
            .position(|h| h == "level:zswap:pool_total_size")
            .unwrap();
        assert_eq!(&rows[2][col], "123");
        assert_eq!(&rows[1][col], "");
        assert_eq!(&rows[3][0], "3000000000");
        let wb = header
            .iter()
            .position(|h| h.ends_with("child1:zswpwb"))
            .unwrap();
        let last: f64 = rows.last().unwrap()[wb].parse().unwrap();
        assert_eq!(
            last,
            *r.timeseries
                .last()
                .unwrap()
                .values
                .get(&header[wb])
                .unwrap()
        );
    }

    #[test]
    fn read_all_walks_a_results_tree() {
        let dir = tempfile::tempdir().unwrap();
        for (i, m) in [
            MockResult::percg(0),
            MockResult::percg(1),
            MockResult::nocursor(0),
        ]
        .iter()
        .enumerate()
        {
            m.build()
                .write_atomic(&dir.path().join(format!("cell{}/run{i}", i % 2)))
                .unwrap();
        }
        let all = ResultFile::read_all(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(all.len(), 3);
        let e = ResultFile::read_all(&[dir.path().join("missing")]).unwrap_err();
        assert!(matches!(e, SchemaError::NotFound { .. }));
    }

    #[test]
    fn rates_from_cumulative_samples() {
        let r = MockResult::percg(0).build();
        let rate = r.rate_series(&ts_key::workload("pages_touched"));
        assert_eq!(rate.len(), 30);
        let mean = rate.iter().map(|p| p.1).sum::<f64>() / rate.len() as f64;
        // Mock throughput is 200k pages/s with 2 % noise.
        assert!((mean - 200_000.0).abs() / 200_000.0 < 0.05, "{mean}");
    }
}
