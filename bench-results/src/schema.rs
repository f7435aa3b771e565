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

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod fuzz_tests;
mod histogram;
#[cfg(test)]
mod hostile_tests;
mod io;
mod latency;
mod placement;
mod probes;
mod set;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;

pub use histogram::*;
pub use io::{rates, write_file_atomic};
pub use latency::*;
pub use placement::{Placement, cpu_list};
pub use probes::*;

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
    /// Latency-sensitive workers' requests (HdrHistograms; see `latency`).
    #[serde(default)]
    pub latency: Vec<LatencyWorker>,
    /// The burst-after-idle experiment, when the scenario has a `[burst]`.
    #[serde(default)]
    pub burst: Option<Burst>,
    /// Set when the run did not complete; the rest holds what was measured before the failure.
    #[serde(default)]
    pub failed: Option<String>,
    /// Where the guest ran on the host (VM runs; `None` for `--host` runs and older files).
    #[serde(default)]
    pub placement: Option<Placement>,
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
    /// NUMA nodes online in the kernel that ran (`/sys/devices/system/node/online`): zswap's
    /// pools, the LRU lists and memcg's per-node state are per node, so runs compare only with
    /// the same count. `None`: a kernel without NUMA, or a result from before this field.
    #[serde(default)]
    pub numa_nodes: Option<u32>,
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
    /// Seconds the kernel took to build (from the kernel cache), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_secs: Option<f64>,
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
    /// The same calls' latencies as an HdrHistogram (3 significant digits): the userspace
    /// measure of record; `latency` keeps the log-linear buckets the reports have always drawn.
    #[serde(default)]
    pub latency_hdr: Option<HdrSummary>,
    /// The first calls one by one, in order (at most [`PER_CALL_MAX`]): how soon a small
    /// budget starts writing back, and what each call wrote. Empty in files older than the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_call: Vec<ProactiveCall>,
}

/// Calls kept one by one per proactive thread.
pub const PER_CALL_MAX: usize = 4096;

/// One proactive write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProactiveCall {
    /// Start, from the thread's start (the measured phase's start).
    pub start_ns: u64,
    pub ns: u64,
    /// The outcome, keyed as in `returns` ("0", "-EAGAIN", ...).
    pub ret: String,
    /// Bytes written back during the call: the target's memory.stat zswpwb_proactive_b before
    /// and after. `None` when another proactive thread works in the same subtree (the delta
    /// would not be this call's) or the kernel has no such key.
    #[serde(default)]
    pub written: Option<u64>,
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
