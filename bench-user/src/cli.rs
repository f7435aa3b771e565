//! Command-line interface (clap). Parsing only: commands live in their own modules.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::options::{Accel, GuestShape, NumaMode, SpinlockMode};

#[derive(Parser, Debug)]
#[command(
    name = "zswap-bench",
    version,
    about = "What does a zswap patch series do to writeback, cursor-lock contention and per-memcg fairness?"
)]
pub struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Folder of *.mbox / *.mbx files holding the mails of series that kernel manifests name by
    /// Message-Id (kernels/posted/); same as ZSWAP_BENCH_MBOX_DIR.
    #[arg(long, global = true, value_name = "DIR")]
    pub mbox_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build and list guest kernels (manifests in kernels/).
    Kernel {
        #[command(subcommand)]
        cmd: KernelCmd,
    },
    /// Boot a kernel in QEMU and run a command inside; exit status and output come back.
    Vm(VmArgs),
    /// What the running kernel offers: cgroup v2, zswap, BTF, program types, probe targets.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Attach the probes and print live tables (perf-lock-contention style) per interval.
    Probe(ProbeArgs),
    /// Run a scenario (in a VM with --kernel, or on this machine with --host).
    Run(RunArgs),
    /// Restore what an interrupted run changed (cgroups, swap, zswap parameters) from its state file.
    Cleanup,
    /// Plot result directories (SVG + PNG).
    Plot {
        #[arg(required = true)]
        results: Vec<PathBuf>,
        #[arg(long, default_value = "plots")]
        out: PathBuf,
        /// As compare's --split-builds.
        #[arg(long)]
        split_builds: bool,
    },
    /// Compare result directories across kernels: one verdict rule (exact Mann-Whitney,
    /// Holm-corrected over the report, 5% effect), a mailing-list report by default.
    Compare {
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Kernel (manifest name) the others are compared against.
        #[arg(long)]
        baseline: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: bench_results::Format,
        /// Every metric's table (summary per kernel, shift, interval, p, verdict) instead of
        /// the short mailing-list report. JSON always has everything.
        #[arg(long)]
        full: bool,
        /// Split each kernel's runs by how many cells ran at once (`matrix --jobs`), e.g.
        /// "baseline jobs=1" vs "baseline jobs=2": does running side by side move the numbers?
        #[arg(long, value_enum)]
        split_by: Option<SplitBy>,
        /// Runs under one kernel name from different builds (patches, config, release or
        /// command line) are refused; this compares each build as a kernel of its own
        /// ("ref-nocursor build-2") instead.
        #[arg(long)]
        split_builds: bool,
    },
    /// A markdown table the documentation quotes, from result files alone (README.md's
    /// generated blocks name the command that made each one; a test re-runs them).
    Table {
        #[arg(value_enum)]
        kind: bench_results::tables::Kind,
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Only the runs of this scenario (directories often hold several).
        #[arg(long)]
        scenario: Option<String>,
        /// The kernel the verdicts table compares against.
        #[arg(long)]
        baseline: Option<String>,
        /// As compare's --split-by.
        #[arg(long, value_enum)]
        split_by: Option<SplitBy>,
        /// As compare's --split-builds.
        #[arg(long)]
        split_builds: bool,
    },
    /// Probe overhead figures from a scripts/bench-probes output directory (off-*/on-*/bpftrace-*).
    Overhead { dir: PathBuf },
    /// Kernels x scenarios x repeats, then compare and plot: here, one cell at a time or
    /// `--jobs N` at once (each pinned to its own host CPUs), or as Slurm job arrays.
    Matrix(MatrixArgs),
    /// Run one cell of a matrix plan (what each Slurm array task runs; the index defaults to
    /// SLURM_ARRAY_TASK_ID).
    RunCell {
        /// The plan (`<out>/plan.json`, or its directory).
        #[arg(long)]
        plan: PathBuf,
        /// The cell: 0 to the plan's cells − 1 (default: SLURM_ARRAY_TASK_ID).
        #[arg(long)]
        index: Option<usize>,
    },
}

#[derive(Args, Debug)]
pub struct MatrixArgs {
    /// Matrix file (scenarios/matrix/*.toml). Not needed with --status or --report, nor with
    /// --resume (the plan in --out names it).
    #[arg(required_unless_present_any = ["status", "report", "resume"])]
    pub matrix: Option<PathBuf>,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Complete the matrix run in --out: keep cells with a valid result, run the missing,
    /// failed and lost ones again (earlier attempts are renamed, never deleted).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Cells at once on this machine: a number (1 to 1024), or auto (as many as fit on its cores). Each
    /// running cell gets its own host cores.
    #[arg(long, value_parser = clap::value_parser!(crate::options::Jobs))]
    pub jobs: Option<crate::options::Jobs>,
    /// Allow --jobs × vCPUs beyond the host's CPUs (results and reports say so).
    #[arg(long)]
    pub overcommit: bool,
    /// Submit the cells as Slurm job arrays instead (the out directory and the kernel cache
    /// must be on storage every node sees).
    #[arg(long, conflicts_with_all = ["jobs", "overcommit"])]
    pub slurm: bool,
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Slurm node features the cells need (e.g. a KVM-capable node class).
    #[arg(long, requires = "slurm")]
    pub constraint: Option<String>,
    /// Passed to every sbatch as is; repeatable (e.g. --sbatch-arg=--time=2:00:00).
    #[arg(long = "sbatch-arg", requires = "slurm", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Show each cell's state in this out directory (done, running, failed, lost) and exit 0
    /// only when all are done.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["matrix", "slurm", "resume", "report"])]
    pub status: Option<PathBuf>,
    /// With --status: wait until no cell is pending or running.
    #[arg(long, requires = "status")]
    pub wait: bool,
    /// Write the reports and plots of this out directory (the Slurm backend's last job).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["matrix", "slurm", "resume"])]
    pub report: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBy {
    /// The `--jobs` value each run's matrix ran under.
    Jobs,
    /// Whether the walk-step probe was attached (`--walk-steps`): the observer effect.
    WalkSteps,
    /// The burst-after-idle experiment's idle action (nothing, reclaim, proactive): actions
    /// judged like kernels.
    IdleAction,
    /// The guest each run ran on, where a kernel ran one scenario on several (vCPUs,
    /// spinlocks, NUMA nodes, accelerator): labelled with what differs, e.g. "baseline 4 vCPUs".
    Guest,
}

#[derive(Subcommand, Debug)]
pub enum KernelCmd {
    /// Fetch the source, apply the series, configure and build bzImage (cached).
    Build {
        /// Manifest name (kernels/<name>.toml) or path.
        kernel: String,
    },
    /// Apply the series to the source tree and say how each patch went in, without building
    /// (to check fuzz and fix-ups before a 20-minute build).
    Apply {
        /// Manifest name (kernels/<name>.toml) or path.
        kernel: String,
    },
    /// Show built kernels in the cache.
    List,
    /// Print the path of a built kernel's bzImage (building it if needed).
    Path { kernel: String },
    /// Run the kernel's own zswap selftest (test_zswap) inside the kernel.
    Selftest {
        kernel: String,
        /// Fail if a test that passes on this kernel does not pass on `kernel`.
        #[arg(long)]
        against: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct VmArgs {
    /// Manifest name, manifest path, or a bzImage path.
    #[arg(long)]
    pub kernel: String,
    /// Guest vCPUs. Parsed up to 1024; the kernel's CONFIG_NR_CPUS and QEMU's pc machine (255)
    /// are checked before boot.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub cpus: u32,
    /// Guest NUMA nodes: off, host (as many as the host nodes QEMU runs on), or a count (1 to
    /// 64, at most --cpus); vCPUs and memory are split evenly.
    #[arg(long, default_value = "off", value_parser = NumaMode::parse)]
    pub numa: NumaMode,
    /// Guest memory, e.g. 2G or 1536M: 256M to 1T, and at most the host's RAM (checked before
    /// boot).
    #[arg(long, default_value = "2G", value_parser = crate::limits::parse_guest_mem)]
    pub mem: u64,
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: Accel,
    /// Guest spinlocks: native queued spinlocks as on bare metal (the hypervisor CPUID bit is
    /// hidden), or virt = the test-and-set locks a guest uses when it sees a hypervisor.
    #[arg(long, value_enum, default_value = "native")]
    pub spinlocks: SpinlockMode,
    /// Kill the guest after this long, e.g. 90s or 10m (1s to 24h).
    #[arg(long, default_value = "10m", value_parser = crate::limits::parse_timeout)]
    pub timeout: Duration,
    /// Swap disk size for the guest (a sparse file in the temporary directory): 0 to 1T, and at
    /// most that directory's free space (checked before boot).
    #[arg(long, default_value = "2G", value_parser = crate::limits::parse_guest_swap)]
    pub swap: u64,
    /// Host directory mounted writable at the same path in the guest (default: a temp dir at /out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the guest console log goes (default: next to the output).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Command and arguments to run inside the guest.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Stop after this long, at most 24h (default: until Ctrl-C).
    #[arg(long, value_parser = crate::limits::parse_probe_duration)]
    pub duration: Option<Duration>,
    /// One table (or JSON document) per interval: 100ms to 1h.
    #[arg(long, default_value = "1s", value_parser = crate::limits::parse_interval)]
    pub interval: Duration,
    /// Print one JSON document per interval instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also attach second, independent mechanisms to cross-check counts (e.g. kprobe beside fentry).
    #[arg(long)]
    pub crosscheck: bool,
    /// Print the attach plan and exit (no sampling).
    #[arg(long)]
    pub plan: bool,
    /// Also watch contention on this lock (kallsyms name); repeatable.
    #[arg(long = "watch-lock", value_name = "SYMBOL")]
    pub watch_lock: Vec<String>,
    /// Attach the walk-step probe even where the kernel's manifest declares one cursor-lock
    /// acquisition per call (per-step evidence, at a cost inside the lock).
    #[arg(long)]
    pub walk_steps: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (scenarios/<name>.toml) or name.
    pub scenario: String,
    /// Build/boot this kernel and run inside a VM.
    #[arg(long, conflicts_with = "host")]
    pub kernel: Option<String>,
    /// Run on the current kernel of this machine.
    #[arg(long)]
    pub host: bool,
    /// Repeats (1..=1000); default: the scenario's `repeats`.
    #[arg(long, allow_hyphen_values = true, value_parser = crate::options::parse_repeat)]
    pub repeat: Option<u32>,
    /// Results directory (default: results/<run-id>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: Accel,
    /// Guest vCPUs (with --kernel). More than the host's cores is allowed under TCG; results
    /// are then labelled "overcommitted vCPUs". Parsed up to 1024; the kernel's CONFIG_NR_CPUS
    /// and QEMU's pc machine (255) are checked before boot.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub cpus: u32,
    /// Guest NUMA nodes (with --kernel): off, host or a count, see `zswap-bench vm --help`.
    #[arg(long, default_value = "off", value_parser = NumaMode::parse)]
    pub numa: NumaMode,
    /// Guest spinlocks (with --kernel): native (default) or virt, see `zswap-bench vm --help`.
    #[arg(long, value_enum, default_value = "native")]
    pub spinlocks: SpinlockMode,
    /// Run without eBPF probes (the workload alone; for overhead comparisons).
    #[arg(long)]
    pub no_probes: bool,
    /// Attach the walk-step probe (css_next_descendant_pre) even where the kernel's manifest
    /// declares one cursor-lock acquisition per call: per-step evidence of the held lock, at the
    /// cost of a program inside the critical section (see README, observer effect).
    #[arg(long, conflicts_with = "no_probes")]
    pub walk_steps: bool,
    /// What the idle window of a `[burst]` scenario does (nothing, reclaim or proactive),
    /// instead of the scenario's `burst.action`.
    #[arg(long, value_name = "ACTION", value_parser = parse_idle_action)]
    pub idle_action: Option<bench_results::schema::IdleAction>,
}

fn parse_idle_action(s: &str) -> Result<bench_results::schema::IdleAction, String> {
    bench_results::schema::IdleAction::parse(s)
        .ok_or_else(|| format!("unknown idle action {s:?}; use nothing, reclaim or proactive"))
}

// The flags a guest is booted with, as the domain type the VM layer takes (the arrow points
// from the command line to the options, never back).
impl From<&VmArgs> for GuestShape {
    fn from(a: &VmArgs) -> Self {
        GuestShape {
            cpus: a.cpus,
            accel: a.accel,
            spinlocks: a.spinlocks,
            numa: a.numa,
        }
    }
}

impl From<&RunArgs> for GuestShape {
    fn from(a: &RunArgs) -> Self {
        GuestShape {
            cpus: a.cpus,
            accel: a.accel,
            spinlocks: a.spinlocks,
            numa: a.numa,
        }
    }
}
