//! `zswap-bench run`: validate a scenario, then either boot a kernel in a VM and run it there
//! (`--kernel`), or run it on this machine (`--host`): swap, zswap parameters, the cgroup tree,
//! workers, pressure and proactive-writeback threads, probes for the measured phase, counters,
//! and one result file per repeat (written as soon as that repeat ends, so finished repeats
//! survive a later failure). Every change to the machine is recorded first in a state file and
//! undone at the end, on error, on Ctrl-C/SIGTERM, or by `zswap-bench cleanup` after a SIGKILL.
//!
//! Phases: set-up (tree, swap, parameters, workers fill their memory; bounded by
//! `phases.setup_timeout`) -> warm-up (workers touch, pressure runs; nothing recorded) ->
//! measure (probes attached, counters and time series recorded; proactive writeback and churn
//! run only here, so their counts and return codes describe exactly the measured window).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bench_results::schema::{
    self, KernelInfo, ProactiveInterface, ResultFile, ScenarioInfo, WorkerStats,
};
use sha2::Digest;

use crate::cli::RunArgs;
use crate::scenario::{self, Loaded, MachineMemory, PressureKind};
use crate::units::fmt_bytes;
use crate::workload::cgroup::{self, CGROUP_MOUNT, Tree};
use crate::workload::counters::{self, Sampler, Sources};
use crate::workload::memory::{self, Role, WorkerConfig, WorkerPool, phase, wstate};
use crate::workload::pressure::{self, ReclaimStats};
use crate::workload::proactive::{self, Job};
use crate::workload::state::{self, Guard};
use crate::workload::{Stop, churn, swap, write_ctl};

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let path = scenario::resolve_path(&args.scenario).map_err(|e| anyhow!(e))?;
    // Validation first: nothing on the machine changes for a malformed scenario.
    let mut loaded = scenario::load(&path)?;
    if args.no_probes {
        loaded.scenario.probes.enabled = false;
    }
    let repeats = args.repeat.unwrap_or(loaded.scenario.repeats);
    if repeats == 0 {
        bail!("--repeat 0 runs nothing; use 1 or more");
    }
    match (&args.kernel, args.host) {
        (Some(k), _) => run_vm(args, k, &path, &loaded, repeats),
        (None, true) => run_host(&loaded, repeats, args.out.as_deref()),
        (None, false) => bail!(
            "say where to run the scenario: --kernel <name> boots that kernel in a VM (e.g. --kernel baseline), \
             --host runs it on this machine's kernel (needs root and the cgroup v2 memory controller)"
        ),
    }
}

/// A matrix file: kernels x scenarios x repeats.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Manifest names (kernels/<name>.toml) or paths.
    pub kernels: Vec<String>,
    /// Scenario names (scenarios/<name>.toml) or paths.
    pub scenarios: Vec<String>,
    #[serde(default = "one")]
    pub repeats: u32,
    /// Kernel the others are compared against (default: "baseline" if listed, else the first).
    #[serde(default)]
    pub baseline: Option<String>,
    /// Guest vCPU counts: every scenario runs at each (default [2]).
    #[serde(default = "two_cpus")]
    pub cpus: Vec<u32>,
    #[serde(default)]
    pub spinlocks: crate::cli::SpinlockMode,
    /// Further (scenarios × cpus) blocks, for sweeps that are not a full cross product, e.g.
    /// thread counts at 2 vCPUs plus vCPU counts at one thread count.
    #[serde(default, rename = "sweep")]
    pub sweeps: Vec<Sweep>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    pub scenarios: Vec<String>,
    pub cpus: Vec<u32>,
}

fn two_cpus() -> Vec<u32> {
    vec![2]
}

impl MatrixFile {
    /// (scenario, cpus) blocks in run order, each scenario × vCPU count once.
    pub fn blocks(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = vec![];
        let all = std::iter::once((&self.scenarios, &self.cpus))
            .chain(self.sweeps.iter().map(|s| (&s.scenarios, &s.cpus)));
        for (scen, cpus) in all {
            for s in scen {
                for c in cpus {
                    if !v.contains(&(s.clone(), *c)) {
                        v.push((s.clone(), *c));
                    }
                }
            }
        }
        v
    }
}

fn one() -> u32 {
    1
}

/// One boot of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub kernel: usize,
    pub scenario: usize,
    pub repeat: u32,
}

/// Run order: repeat rounds outermost, so every kernel's k-th repeat happens in the same stretch
/// of time, and the kernel order rotates each round, so slow drift of the machine (thermal,
/// page cache, a noisy neighbour) does not line up with one kernel.
pub fn schedule(kernels: usize, scenarios: usize, repeats: u32) -> Vec<Cell> {
    let mut v = Vec::new();
    for r in 0..repeats {
        for s in 0..scenarios {
            for i in 0..kernels {
                v.push(Cell {
                    kernel: (i + r as usize) % kernels,
                    scenario: s,
                    repeat: r,
                });
            }
        }
    }
    v
}

pub fn matrix(path: &Path, out: Option<&Path>) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let m: MatrixFile = toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if m.kernels.is_empty() || m.scenarios.is_empty() || m.repeats == 0 || m.cpus.is_empty() {
        bail!(
            "{}: needs at least one kernel, one scenario, one cpus value and repeats >= 1",
            path.display()
        );
    }
    if let Some(c) = m.blocks().iter().map(|b| b.1).find(|c| *c == 0 || *c > 64) {
        bail!("{}: cpus = {c}: use 1 to 64 vCPUs", path.display());
    }
    // Every scenario is validated before the first VM boots.
    let blocks = m.blocks();
    let mut scen: Vec<(PathBuf, Loaded, u32)> = Vec::new();
    for (s, cpus) in &blocks {
        let p = scenario::resolve_path(s).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let l = scenario::load(&p)?;
        scen.push((p, l, *cpus));
    }
    let several_cpus = blocks.iter().any(|b| b.1 != blocks[0].1);
    let name = m.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "matrix".into())
    });
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => crate::paths::repo_root()
            .join("results")
            .join(format!("matrix-{name}-{}", utc_stamp(now))),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let cells = schedule(m.kernels.len(), scen.len(), m.repeats);
    let t0 = Instant::now();
    let mut status: Vec<serde_json::Value> = Vec::new();
    let mut failed = Vec::new();
    for (n, c) in cells.iter().enumerate() {
        let kernel = &m.kernels[c.kernel];
        let (spath, l, cpus) = &scen[c.scenario];
        let cpu_tag = if several_cpus {
            format!("-c{cpus}")
        } else {
            String::new()
        };
        let dir = out.join(format!(
            "{}-{}{cpu_tag}-r{}",
            l.name,
            kernel_name(kernel),
            c.repeat
        ));
        let left = if n == 0 {
            "?".to_string()
        } else {
            format!(
                "{:.0} min",
                t0.elapsed().as_secs_f64() / n as f64 * (cells.len() - n) as f64 / 60.0
            )
        };
        eprintln!(
            "== matrix cell {}/{} ({left} left): {} on {kernel}, {cpus} vCPUs, repeat {}",
            n + 1,
            cells.len(),
            l.name,
            c.repeat
        );
        let shape = Shape {
            cpus: *cpus,
            accel: crate::cli::Accel::Auto,
            spinlocks: m.spinlocks,
        };
        let r = vm_cell(kernel, spath, l, &dir, 1, shape);
        if let Err(e) = &r {
            eprintln!("zswap-bench: cell failed (continuing): {e:#}");
            failed.push(format!(
                "{} on {kernel} ({cpus} vCPUs) r{}: {e:#}",
                l.name, c.repeat
            ));
        }
        status.push(serde_json::json!({
            "kernel": kernel, "scenario": l.name, "cpus": cpus, "repeat": c.repeat, "dir": dir,
            "ok": r.is_ok(), "error": r.as_ref().err().map(|e| format!("{e:#}")),
        }));
        std::fs::write(out.join("matrix.json"), serde_json::to_vec_pretty(&status)?)?;
    }
    // Compare and plot per scenario (results of different scenarios are never pooled).
    let files = ResultFile::read_all(&[out.clone()]).unwrap_or_default();
    // Runs of one scenario at different vCPU counts are never pooled either.
    for (_, l, cpus) in &scen {
        let tag = if several_cpus {
            format!("-c{cpus}")
        } else {
            String::new()
        };
        let group: Vec<ResultFile> = files
            .iter()
            .filter(|f| f.scenario.name == l.name && f.kernel.cpus == *cpus && f.failed.is_none())
            .cloned()
            .collect();
        if group.is_empty() {
            continue;
        }
        let opts = bench_results::CompareOptions {
            baseline: m.baseline.clone(),
            ..Default::default()
        };
        let c = bench_results::compare(&group, &opts);
        let report = bench_results::render_text(&c);
        let rp = out.join(format!("report-{}{tag}.txt", l.name));
        std::fs::write(&rp, &report)?;
        // The mailing-list form is printed; every table stays beside it.
        let full = bench_results::render_full_text(&c);
        std::fs::write(out.join(format!("report-{}{tag}-full.txt", l.name)), full)?;
        println!("{report}");
        match bench_results::plot_all(&group, &out.join(format!("plots-{}{tag}", l.name))) {
            Ok(p) => eprintln!("{} plot(s) for {} in {}", p.len(), l.name, out.display()),
            Err(e) => eprintln!("zswap-bench: plotting {}: {e:#}", l.name),
        }
        eprintln!("report: {}", rp.display());
    }
    if blocks.len() > 1 {
        let ok: Vec<ResultFile> = files
            .iter()
            .filter(|f| f.failed.is_none())
            .cloned()
            .collect();
        match bench_results::plot_scaling(&ok, &out.join("plots-scaling")) {
            Ok(p) => eprintln!(
                "{} scaling plot(s) in {}",
                p.len(),
                out.join("plots-scaling").display()
            ),
            Err(e) => eprintln!("zswap-bench: scaling plots: {e:#}"),
        }
    }
    eprintln!(
        "matrix done in {:.0} min: {} of {} cells ok; everything under {}",
        t0.elapsed().as_secs_f64() / 60.0,
        cells.len() - failed.len(),
        cells.len(),
        out.display()
    );
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("  failed: {f}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// Run ids and directories
// ---------------------------------------------------------------------------------------------

/// UTC `YYYYMMDDTHHMMSS` of a Unix time (civil-from-days, no time zone database needed).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub fn make_run_id(scenario: &str, kernel_label: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let clean: String = kernel_label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{scenario}-{clean}-{}", utc_stamp(now))
}

/// Directory of repeat `r`: the run directory itself for a single repeat, else `r<k>/` in it.
pub fn repeat_dir(out: &Path, repeats: u32, r: u32) -> PathBuf {
    if repeats == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("r{r}"))
    }
}

// ---------------------------------------------------------------------------------------------
// In a VM
// ---------------------------------------------------------------------------------------------

/// Manifest name of a `--kernel` argument (a path's file stem).
fn kernel_name(kernel: &str) -> String {
    Path::new(kernel)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| kernel.to_string())
}

fn run_vm(
    args: &RunArgs,
    kernel: &str,
    scenario_path: &Path,
    l: &Loaded,
    repeats: u32,
) -> Result<ExitCode> {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => crate::paths::repo_root()
            .join("results")
            .join(make_run_id(&l.name, &kernel_name(kernel))),
    };
    let shape = Shape {
        cpus: args.cpus,
        accel: args.accel,
        spinlocks: args.spinlocks,
    };
    vm_cell(kernel, scenario_path, l, &out, repeats, shape)?;
    Ok(ExitCode::SUCCESS)
}

type Pair = Option<(u64, u64)>;

/// (shrink_memcg primary vs kprobe, spin waits timed vs kprobe entries), cumulative.
fn xcheck_counts(p: &crate::probes::ProbeSession) -> (Pair, Pair) {
    (
        p.shrink_memcg_xcheck().ok().flatten(),
        p.spin_xcheck().ok().flatten(),
    )
}

fn delta2(a: Pair, b: Pair) -> Pair {
    let ((a0, a1), (b0, b1)) = (a?, b?);
    Some((b0.saturating_sub(a0), b1.saturating_sub(a1)))
}

/// The guest a cell runs in.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub cpus: u32,
    pub accel: crate::cli::Accel,
    pub spinlocks: crate::cli::SpinlockMode,
}

/// Boots `kernel`, runs the scenario inside with `--host`, and adds the kernel identity to the
/// results. Err when the guest run cannot be trusted (exit status, timeout, kernel trouble); the
/// results it wrote stay in `out`.
fn vm_cell(
    kernel: &str,
    scenario_path: &Path,
    l: &Loaded,
    out: &Path,
    repeats: u32,
    shape: Shape,
) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let scen = std::fs::canonicalize(scenario_path)
        .with_context(|| format!("resolving {}", scenario_path.display()))?;
    let kname = kernel_name(kernel);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out = std::fs::canonicalize(out)?;
    let ph = &l.scenario.phases;
    // TCG is slow and uneven (probe attach alone takes ~10-30 s): generous, but bounded.
    let per_repeat =
        ph.setup_timeout.0 + (ph.warmup.0 + ph.measure.0) * 2 + Duration::from_secs(90);
    // Overcommitted vCPUs (TCG, more vCPUs than cores) slow everything down in proportion.
    let host = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let slow = shape.cpus.div_ceil(host).max(1);
    let timeout = (per_repeat * repeats + Duration::from_secs(120)) * slow;
    let req = crate::vm::GuestRun {
        kernel: kernel.to_string(),
        command: vec![
            exe.to_string_lossy().into_owned(),
            "run".into(),
            scen.to_string_lossy().into_owned(),
            "--host".into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--repeat".into(),
            repeats.to_string(),
        ]
        .into_iter()
        .chain((!l.scenario.probes.enabled).then(|| "--no-probes".to_string()))
        .collect(),
        out_dir: Some(out.clone()),
        swap: l.scenario.swap.size.0.max(256 << 20),
        accel: shape.accel,
        cpus: shape.cpus,
        spinlocks: shape.spinlocks,
        timeout,
        ..Default::default()
    };
    eprintln!(
        "running {} on kernel {kernel} in a VM; results in {}",
        l.name,
        out.display()
    );
    let outcome = crate::vm::run_in_guest(&req)?;
    let annotated = annotate(&out, &kname, &outcome).unwrap_or_else(|e| {
        eprintln!("zswap-bench: could not add the kernel identity to the results: {e:#}");
        0
    });
    eprintln!(
        "{annotated} result file(s) under {}; console log {}",
        out.display(),
        outcome.log.display()
    );
    outcome.ok()?;
    Ok(outcome.log)
}

/// Adds what only the host knows (manifest name, config hash, patches, accelerator) to every
/// result the guest wrote.
fn annotate(out: &Path, manifest: &str, o: &crate::vm::GuestOutcome) -> Result<usize> {
    let mut n = 0;
    for dir in cgroup::walk(out) {
        if !dir.join(schema::RESULT_FILE).is_file() {
            continue;
        }
        let mut r = ResultFile::read(&dir)?;
        r.kernel.manifest = Some(manifest.to_string());
        r.kernel.config_sha256 = Some(o.kernel.config_sha256.clone());
        r.kernel.host_cpus = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u32);
        r.kernel.accel = if o.accel.contains("kvm") {
            schema::Accel::Kvm
        } else {
            schema::Accel::Tcg
        };
        if !o.kernel.patches.is_empty() {
            r.kernel.series = Some(schema::Series {
                name: o.kernel.name.clone(),
                patches: o
                    .kernel
                    .patches
                    .iter()
                    .map(|p| schema::Patch {
                        name: p.name.clone(),
                        sha256: p.sha256.clone(),
                    })
                    .collect(),
                applied: o
                    .kernel
                    .applied
                    .iter()
                    .map(|(patch, how)| schema::AppliedPatch {
                        patch: patch.clone(),
                        how: how.clone(),
                    })
                    .collect(),
            });
        }
        if !o.problems.is_empty() {
            r.warnings.push(format!(
                "kernel reported problems during the run (console log {}): {}",
                o.log.display(),
                o.problems.join(" | ")
            ));
        }
        r.write_atomic(&dir)?;
        n += 1;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// On this machine
// ---------------------------------------------------------------------------------------------

/// /proc/meminfo and /proc/swaps numbers for the fit check.
pub fn machine_memory(meminfo: &str, swaps: &[swap::ActiveSwap]) -> MachineMemory {
    let kv = counters::parse_kv(&meminfo.replace(':', " "));
    let kb = |k: &str| kv.get(k).copied().unwrap_or(0).max(0) as u64 * 1024;
    MachineMemory {
        mem_total: kb("MemTotal"),
        mem_available: kb("MemAvailable"),
        swap_free: swaps.iter().map(|s| s.size.saturating_sub(s.used)).sum(),
    }
}

/// Everything checked before the first change to the machine.
fn preflight(l: &Loaded) -> Result<MachineMemory> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "--host changes cgroups, swap and zswap parameters and needs root; run as root, or in a VM with --kernel <name>"
        );
    }
    cgroup::check_v2_memory(Path::new(CGROUP_MOUNT))?;
    if !Path::new(state::ZSWAP_PARAMS).is_dir() {
        bail!(
            "this kernel has no zswap ({} missing); build it with CONFIG_ZSWAP=y or use --kernel baseline",
            state::ZSWAP_PARAMS
        );
    }
    for (k, _) in l.scenario.zswap.params() {
        if !Path::new(state::ZSWAP_PARAMS).join(k).exists() {
            bail!(
                "the scenario sets zswap.{k}, but this kernel has no {}/{k}; remove it from the scenario",
                state::ZSWAP_PARAMS
            );
        }
    }
    let mm = machine_memory(
        &std::fs::read_to_string("/proc/meminfo").unwrap_or_default(),
        &swap::active_swaps(),
    );
    let fit = scenario::check_fit(l, &mm)?;
    eprintln!(
        "memory: workers {} (resident at most {}, to swap {}), RAM available {}, swap available {}",
        fmt_bytes(fit.demand),
        fmt_bytes(fit.resident),
        fmt_bytes(fit.to_swap),
        fmt_bytes(fit.ram_available),
        fmt_bytes(fit.swap_available)
    );
    Ok(mm)
}

fn run_host(l: &Loaded, repeats: u32, out: Option<&Path>) -> Result<ExitCode> {
    if !l.scenario.description.is_empty() {
        eprintln!("{}: {}", l.name, l.scenario.description);
    }
    let mm = preflight(l)?;
    let interrupted = state::install_signal_flags()?;
    let kinfo = kernel_info(mm.mem_total);
    let base = match out.and_then(|o| o.file_name()) {
        Some(n) => n.to_string_lossy().into_owned(),
        None => make_run_id(&l.name, &kinfo.release),
    };
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => crate::paths::repo_root().join("results").join(&base),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut failed = 0;
    for r in 0..repeats {
        let dir = repeat_dir(&out, repeats, r);
        let run_id = if repeats == 1 {
            base.clone()
        } else {
            format!("{base}-r{r}")
        };
        eprintln!("== {} repeat {}/{repeats} ({run_id})", l.name, r + 1);
        let mut res = ResultFile::new(&run_id, kinfo.clone(), scenario_info(l));
        res.repeat = r;
        res.seed = l.scenario.seed.wrapping_add(r as u64);
        let outcome = run_once(l, &run_id, &mut res, &interrupted);
        if let Err(e) = &outcome {
            failed += 1;
            res.failed = Some(format!("{e:#}"));
            eprintln!("zswap-bench: repeat {r} failed: {e:#}");
        }
        match res
            .write_atomic(&dir)
            .and_then(|p| res.write_csv(&dir).map(|_| p))
        {
            Ok(p) => eprintln!("{}\nwrote {}", summary(&res), p.display()),
            Err(e) => {
                failed += 1;
                eprintln!("zswap-bench: writing the result of repeat {r}: {e}");
            }
        }
        if state::interrupted(&interrupted) {
            eprintln!(
                "interrupted: the machine was restored; finished repeats are kept in {}",
                out.display()
            );
            return Ok(ExitCode::from(130));
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {repeats} repeat(s) failed (their result files carry `failed`); results in {}",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One paragraph per repeat: what a reader checks first.
pub fn summary(r: &ResultFile) -> String {
    let secs = r.duration_s().unwrap_or(0.0).max(1e-9);
    let top = r.counters.memcg.first();
    let stat = |k: &str| top.and_then(|m| m.stat_delta.get(k)).copied().unwrap_or(0);
    let mut returns: BTreeMap<&str, u64> = BTreeMap::new();
    let mut calls = 0;
    for t in &r.proactive_writes.per_thread {
        calls += t.calls;
        for (k, v) in &t.returns {
            *returns.entry(k).or_default() += v;
        }
    }
    let disagree = r.crosschecks.iter().filter(|c| !c.agree).count();
    format!(
        "  {:.1}s measured: {} pages touched ({}/s), {} major faults; {}: zswpout {} zswpwb {}\n  \
         proactive ({:?}): {calls} calls {returns:?}; crosschecks: {} of {} agree; {} warning(s)",
        secs,
        compact(r.workload.pages_touched as f64),
        compact(r.workload.pages_touched as f64 / secs),
        compact(r.workload.major_faults as f64),
        top.map_or("-", |m| m.path.as_str()),
        stat("zswpout"),
        stat("zswpwb"),
        r.proactive_writes.interface,
        r.crosschecks.len() - disagree,
        r.crosschecks.len(),
        r.warnings.len()
    )
}

pub fn kernel_info(mem_total: u64) -> KernelInfo {
    // SAFETY: uname fills the struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let s = |f: &[libc::c_char]| {
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    KernelInfo {
        release: s(&u.release),
        version_string: s(&u.version),
        machine: s(&u.machine),
        config_sha256: None,
        manifest: None,
        series: None,
        cmdline: std::fs::read_to_string("/proc/cmdline")
            .unwrap_or_default()
            .trim()
            .to_string(),
        accel: schema::Accel::Host,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        mem_bytes: mem_total,
        spinlocks: None,
        host_cpus: None,
    }
}

pub fn scenario_info(l: &Loaded) -> ScenarioInfo {
    ScenarioInfo {
        name: l.name.clone(),
        sha256: hex::encode(sha2::Sha256::digest(l.text.as_bytes())),
        toml: l.text.clone(),
        params: l.params(),
    }
}

/// Distinct compressibility targets and, per worker, the index of its template.
fn templates(l: &Loaded) -> (Vec<f64>, Vec<usize>) {
    let mut targets: Vec<f64> = Vec::new();
    let mut idx = Vec::new();
    for w in &l.workers {
        let c = l.scenario.workers[w.spec].compressibility;
        let i = match targets.iter().position(|&t| t == c) {
            Some(i) => i,
            None => {
                targets.push(c);
                targets.len() - 1
            }
        };
        idx.push(i);
    }
    (targets, idx)
}

fn worker_configs(l: &Loaded, seed: u64) -> (Vec<WorkerConfig>, Vec<f64>, Vec<usize>) {
    let (mut targets, idx) = templates(l);
    let mut v: Vec<WorkerConfig> = l
        .workers
        .iter()
        .zip(&idx)
        .enumerate()
        .map(|(k, (w, &t))| {
            let s = &l.scenario.workers[w.spec];
            WorkerConfig {
                memcg: w.memcg.clone(),
                role: Role::Toucher {
                    size: s.size.0,
                    threads: s.threads,
                    pattern: s.pattern,
                    hot_fraction: s.hot_fraction,
                    hot_share: s.hot_share,
                    chunk: s.chunk.map_or(scenario::PAGE, |c| c.0),
                    interval: s.interval.map(|d| d.0),
                    seed: seed.wrapping_mul(1_000_003).wrapping_add(k as u64),
                    template: t,
                },
            }
        })
        .collect();
    let mut helpers = Vec::new();
    if let Some(c) = l.scenario.churn.as_ref().filter(|c| c.size.0 > 0) {
        targets.push(0.5);
        let t = targets.len() - 1;
        for _ in 0..c.live {
            helpers.push(v.len());
            v.push(WorkerConfig {
                memcg: format!("{}/{}", c.parent, churn::HOME),
                role: Role::ChurnHelper {
                    size: c.size.0,
                    template: t,
                },
            });
        }
    }
    (v, targets, helpers)
}

/// One repeat: set up, warm up, measure, tear down (always), filling `res` as it goes.
fn run_once(
    l: &Loaded,
    run_id: &str,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
) -> Result<()> {
    let mut guard = Guard::begin(&crate::paths::state_dir(), run_id)?;
    let mut pool: Option<WorkerPool> = None;
    let r = run_phases(l, run_id, res, interrupted, &mut guard, &mut pool);
    // Teardown, whatever happened: workers first (they hold memory), then the recorded changes.
    if let Some(mut p) = pool.take() {
        p.stop(Duration::from_secs(5));
    }
    let problems = guard.restore();
    for p in &problems {
        res.warnings.push(format!("restore: {p}"));
        eprintln!("zswap-bench: restore: {p}");
    }
    if !problems.is_empty() {
        eprintln!(
            "zswap-bench: the machine was not fully restored; the state file {} is kept for `zswap-bench cleanup`",
            guard.file().display()
        );
    }
    r
}

fn check_interrupt(flag: &AtomicBool) -> Result<()> {
    if flag.load(Ordering::SeqCst) {
        bail!("interrupted by a signal");
    }
    Ok(())
}

fn run_phases(
    l: &Loaded,
    run_id: &str,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
    guard: &mut Guard,
    pool_slot: &mut Option<WorkerPool>,
) -> Result<()> {
    let s = &l.scenario;
    let t_setup = Instant::now();
    // zswap parameters (originals recorded first).
    let pdir = Path::new(state::ZSWAP_PARAMS);
    for (k, v) in s.zswap.params() {
        let f = pdir.join(k);
        let orig =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        guard.record_param(pdir, k, &orig)?;
        write_ctl(&f, &v).map_err(|e| anyhow!("setting zswap {k}={v} ({}): {e}", f.display()))?;
    }
    check_interrupt(interrupted)?;
    let sw = swap::setup(&s.swap, run_id, guard)?;
    eprintln!("swap: {}", sw.what);
    log::debug!("swap area {} of {} bytes", sw.path.display(), sw.size);
    check_interrupt(interrupted)?;

    let tree = Tree::new(Path::new(CGROUP_MOUNT), run_id);
    tree.create(&l.memcgs, &mut |d| guard.record_cgroup(d))?;
    let churn_job = s.churn.as_ref().map(|c| churn::ChurnJob {
        parent: c.parent.clone(),
        rate: c.rate,
        live: c.live,
        size: c.size.0,
        helpers: vec![],
    });
    if let Some(j) = &churn_job {
        churn::setup(&tree, j)?;
    }

    // Which proactive interface this kernel has (probe on an empty memcg).
    let det = proactive::detect_in(&tree.root);
    res.proactive_writes.interface = det.interface;
    log::info!(
        "proactive writeback interface: {:?} ({})",
        det.interface,
        det.evidence.join("; ")
    );
    if !l.proactive_threads.is_empty() && det.interface == ProactiveInterface::None {
        res.warnings.push(format!(
            "the scenario's {} proactive-writeback thread(s) did not run: this kernel has no proactive writeback interface (tried: {})",
            l.proactive_threads.len(),
            det.evidence.join("; ")
        ));
    }

    // Workers: fork while single-threaded, place, fill.
    let (configs, targets, helpers) = worker_configs(l, res.seed);
    let pool = pool_slot.insert(WorkerPool::spawn(configs, &targets, res.seed)?);
    for (t, m) in targets.iter().zip(&pool.template_ratio) {
        if (t - m).abs() > 0.05 {
            res.warnings.push(format!(
                "compressibility target {t:.2} could not be met: lz4 measured {m:.3}"
            ));
        }
    }
    for (i, &pid) in pool.pids.iter().enumerate() {
        tree.move_pid(&pool.configs[i].memcg, pid)?;
    }
    pool.set_phase(phase::FILL);
    let fill_left = s.phases.setup_timeout.0.saturating_sub(t_setup.elapsed());
    let flag = Arc::clone(interrupted);
    pool.wait_for(wstate::FILLED, fill_left, &move || {
        flag.load(Ordering::SeqCst)
    })?;
    eprintln!(
        "set-up done in {:.1}s ({} workers filled)",
        t_setup.elapsed().as_secs_f64(),
        l.workers.len()
    );
    for p in s.pressure.iter().filter(|p| p.kind == PressureKind::Push) {
        for t in l.targets(&p.memcg) {
            let r = pressure::push(&tree.dir(&t), p.size.map_or(0, |x| x.0));
            log::info!(
                "push: memory.reclaim of {} on {t}: {r}",
                fmt_bytes(p.size.map_or(0, |x| x.0))
            );
            if r != schema::ret::OK && r != schema::ret::EAGAIN {
                res.warnings
                    .push(format!("push to zswap on {t} returned {r}"));
            }
        }
    }
    for p in s.pressure.iter().filter(|p| p.kind == PressureKind::Limit) {
        for t in l.targets(&p.memcg) {
            pressure::apply_limit(&tree.dir(&t), p.size.map_or(0, |x| x.0))?;
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(512)
        .enable_all()
        .build()?;
    let churn_job = churn_job.map(|mut j| {
        j.helpers = helpers.iter().map(|&i| (i, pool.pids[i])).collect();
        j
    });
    rt.block_on(orchestrate(
        l,
        &tree,
        pool,
        res,
        interrupted,
        det.interface,
        churn_job,
    ))
}

/// What the progress line shows.
fn live_line(
    phase: &str,
    left: Duration,
    pages_rate: f64,
    tree: &Tree,
    reclaim: &ReclaimStats,
    proactive_calls: u64,
) -> String {
    let st = counters::parse_kv(
        &std::fs::read_to_string(tree.root.join("memory.stat")).unwrap_or_default(),
    );
    let n = |k: &str| compact(st.get(k).copied().unwrap_or(0) as f64);
    // Kept under 80 columns: a wrapped line garbles the redraw on the guest console.
    format!(
        "{phase} {}s left | {} pages/s | zswpout {} zswpwb {} | reclaim {} | proactive {}",
        left.as_secs(),
        compact(pages_rate),
        n("zswpout"),
        n("zswpwb"),
        compact(reclaim.writes.load(Ordering::Relaxed) as f64),
        compact(proactive_calls as f64)
    )
}

/// 1234 -> "1.2k", 5600000 -> "5.6M".
pub fn compact(v: f64) -> String {
    match v.abs() {
        a if a >= 1e9 => format!("{:.1}G", v / 1e9),
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

async fn wait_phase(
    name: &str,
    d: Duration,
    pool: &mut WorkerPool,
    tree: &Tree,
    reclaim: &ReclaimStats,
    proactive_calls: &dyn Fn() -> u64,
    interrupted: &AtomicBool,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last = (Instant::now(), pool.totals().0);
    let mut logged = Instant::now();
    while start.elapsed() < d {
        tick.tick().await;
        check_interrupt(interrupted)?;
        pool.check_alive()?;
        let (pages, _) = pool.totals();
        let rate = (pages - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
        last = (Instant::now(), pages);
        bar.set_position(start.elapsed().as_millis().min(d.as_millis()) as u64);
        let line = live_line(
            name,
            d.saturating_sub(start.elapsed()),
            rate,
            tree,
            reclaim,
            proactive_calls(),
        );
        // No terminal (CI, logs): a line every 10 s instead of a redrawn bar.
        if bar.is_hidden() && logged.elapsed() >= Duration::from_secs(10) {
            log::info!("{line}");
            logged = Instant::now();
        }
        bar.set_message(line);
    }
    Ok(())
}

fn progress_bar(d: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(d.as_millis() as u64);
    if std::env::var_os(crate::vm::NO_PROGRESS_ENV).is_some() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

type Joined<T> = tokio::task::JoinHandle<T>;

async fn orchestrate(
    l: &Loaded,
    tree: &Tree,
    pool: &mut WorkerPool,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
    iface: ProactiveInterface,
    churn_job: Option<churn::ChurnJob>,
) -> Result<()> {
    let s = &l.scenario;
    let reclaim = Arc::new(ReclaimStats::default());
    let pressure_stop = Stop::new();
    let pressure_pause = Stop::new();
    let mut pressure_tasks: Vec<Joined<pressure::PressureResult>> = Vec::new();
    for p in &s.pressure {
        for t in l.targets(&p.memcg) {
            for _ in 0..pressure::threads_for(p) {
                let (dir, stop, pause, live) = (
                    tree.dir(&t),
                    pressure_stop.clone(),
                    pressure_pause.clone(),
                    Arc::clone(&reclaim),
                );
                let size = p.size.map_or(0, |x| x.0);
                pressure_tasks.push(match p.kind {
                    PressureKind::Reclaim => {
                        let rate = p.rate.unwrap_or(0.0);
                        tokio::task::spawn_blocking(move || {
                            pressure::reclaim_thread(dir, size, rate, stop, pause, live)
                        })
                    }
                    PressureKind::HighSqueeze => {
                        let period = p.period.map_or(Duration::from_secs(2), |d| d.0);
                        tokio::task::spawn_blocking(move || {
                            pressure::squeeze_thread(dir, size, period, stop, pause)
                        })
                    }
                    PressureKind::Limit | PressureKind::Push => continue,
                });
            }
        }
    }
    pool.set_phase(phase::RUN);
    let no_calls = || 0u64;

    // Warm-up.
    if !s.phases.warmup.0.is_zero() {
        log::info!("warm-up {:?}", s.phases.warmup.0);
        let bar = progress_bar(s.phases.warmup.0);
        let r = wait_phase(
            "warm-up",
            s.phases.warmup.0,
            pool,
            tree,
            &reclaim,
            &no_calls,
            interrupted,
            &bar,
        )
        .await;
        bar.finish_and_clear();
        if let Err(e) = r {
            pressure_stop.stop();
            return Err(e);
        }
    }

    // A quiet point between warm-up and measure: workers and pressure pause while the probes
    // attach (slow under TCG) and the start snapshots are taken, so the probe counts and the
    // memory.stat deltas cover the same writeback (see `quiet_snapshots`).
    pool.set_phase(phase::PAUSE);
    pressure_pause.stop();
    let popts = &s.probes;
    let mut probes = match tokio::task::block_in_place(|| {
        if !popts.enabled {
            anyhow::bail!("disabled (--no-probes or [probes] enabled = false)");
        }
        crate::probes::ProbeSession::attach(&crate::probes::ProbeOptions {
            crosscheck: popts.crosscheck,
            extra_locks: popts.watch_locks.clone(),
        })
    }) {
        Ok(p) => Some(p),
        Err(e) => {
            res.warnings.push(format!(
                "probes not attached, every probe metric is unavailable: {e:#}"
            ));
            res.probe_plan.push(schema::PlanEntry {
                metric: "all".into(),
                mechanism: schema::Mechanism::None,
                target: String::new(),
                status: schema::PlanStatus::Unavailable,
                reason: Some(format!("{e:#}")),
            });
            None
        }
    };
    if let Some(p) = probes.as_mut() {
        p.refresh_cgroup_names();
        res.probe_plan = p.plan();
    }
    res.kernel.spinlocks = Some(match probes.as_ref() {
        Some(p) => p.spinlocks(),
        None => crate::probes::spinlocks::detect(None, None),
    });
    let memcg_sources: Vec<(String, PathBuf)> = l
        .memcgs
        .iter()
        .map(|m| (tree.cgroup_path(&m.path), tree.dir(&m.path)))
        .collect();
    let src = Sources::system(memcg_sources);
    let quiet = quiet_snapshots(&src, probes.as_mut(), &mut res.warnings, interrupted).await;
    // Cross-check counters at the same quiet point: both mechanisms are then compared over
    // the measured window, not over their different attach times.
    let xcheck0 = probes.as_ref().map(xcheck_counts);
    pool.set_phase(phase::RUN);
    pressure_pause.resume();
    let (c0, p0) = match quiet {
        Ok(x) => x,
        Err(e) => {
            pressure_stop.stop();
            return Err(e);
        }
    };
    let (pages0, majflt0) = pool.totals();
    let per0 = pool.per_worker();
    res.started_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;

    // Sampler: kernel counters + workload counters + per-lock contention.
    // The sampler's callback is `Fn`; the lock reader caches cgroup names, hence the mutex.
    let lock_sampler = Mutex::new(probes.as_ref().and_then(|p| p.lock_sampler()));
    let shared_totals = {
        let pool_ptr = &pool.shared as *const memory::Shared as usize;
        let n = pool.pids.len();
        let reclaim = Arc::clone(&reclaim);
        move || {
            // SAFETY: the pool (and its shared region) outlives the sampler, which is finished
            // below before the pool is stopped.
            let sh = unsafe { &*(pool_ptr as *const memory::Shared) };
            let pages: u64 = (0..n)
                .map(|i| sh.slot(i).pages_touched.load(Ordering::Relaxed))
                .sum();
            let majflt: u64 = (0..n)
                .map(|i| sh.slot(i).major_faults.load(Ordering::Relaxed))
                .sum();
            let mut m = BTreeMap::new();
            m.insert(
                schema::ts_key::workload("pages_touched"),
                pages.saturating_sub(pages0) as f64,
            );
            m.insert(
                schema::ts_key::workload("major_faults"),
                majflt.saturating_sub(majflt0) as f64,
            );
            m.insert(
                schema::ts_key::workload("reclaim_writes"),
                reclaim.writes.load(Ordering::Relaxed) as f64,
            );
            m.insert(
                schema::ts_key::workload("reclaim_eagain"),
                reclaim.eagain.load(Ordering::Relaxed) as f64,
            );
            if let Some(ls) = lock_sampler
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                m.extend(ls.sample());
            }
            m
        }
    };
    let sampler = Sampler::start(
        src.clone(),
        c0.clone(),
        Duration::from_secs(1),
        Box::new(shared_totals),
    );

    // Proactive writeback threads and churn: measured phase only.
    let measure_stop = Stop::new();
    let mut serial: BTreeMap<usize, Arc<Mutex<()>>> = BTreeMap::new();
    let mut proactive_tasks = Vec::new();
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    if iface != ProactiveInterface::None {
        for t in &l.proactive_threads {
            let spec = &s.proactive[t.spec];
            let job = Job {
                dir: tree.dir(&t.target),
                interface: iface,
                budget: spec.budget.0,
                interval: spec.interval.0,
                count: spec.count,
                serial: t
                    .serial_group
                    .map(|g| Arc::clone(serial.entry(g).or_default())),
            };
            let stop = measure_stop.clone();
            let calls = Arc::clone(&calls);
            proactive_tasks.push(tokio::task::spawn_blocking(move || {
                let r = proactive::run_thread(&job, &stop);
                calls.fetch_add(r.calls, Ordering::Relaxed);
                r
            }));
        }
    }
    let churn_stats = Arc::new(churn::ChurnStats::default());
    let churn_task = churn_job.map(|j| {
        let (tree, stop, stats) = (tree.clone(), measure_stop.clone(), Arc::clone(&churn_stats));
        let shared_ptr = &pool.shared as *const memory::Shared as usize;
        tokio::task::spawn_blocking(move || {
            // SAFETY: the pool's shared region outlives this task: it is joined below before
            // the pool is stopped.
            let shared = unsafe { &*(shared_ptr as *const memory::Shared) };
            churn::run(&tree, (j.size > 0).then_some(shared), &j, &stop, &stats)
        })
    });

    log::info!("measure {:?}", s.phases.measure.0);
    let t_measure = Instant::now();
    let bar = progress_bar(s.phases.measure.0);
    let calls_now = {
        let c = Arc::clone(&calls);
        move || c.load(Ordering::Relaxed)
    };
    let measured = wait_phase(
        "measure",
        s.phases.measure.0,
        pool,
        tree,
        &reclaim,
        &calls_now,
        interrupted,
        &bar,
    )
    .await;
    bar.finish_and_clear();
    let duration = t_measure.elapsed();

    // Stop the load, then the workers, then read the counters of a quiet system.
    measure_stop.stop();
    pressure_stop.stop();
    let mut recorders = Vec::new();
    for t in proactive_tasks {
        recorders.push(t.await?);
    }
    if let Some(t) = churn_task {
        for p in t.await? {
            res.warnings.push(format!("churn: {p}"));
        }
    }
    let mut pressure_results = Vec::new();
    for t in pressure_tasks {
        pressure_results.push(t.await?);
    }
    let (pages1, majflt1) = pool.totals();
    let per1 = pool.per_worker();
    let measured_ratio = pool.measured_ratio();
    pool.stop(Duration::from_secs(10));
    let samples = sampler.finish();
    let (c1, p1) = match quiet_snapshots(
        &src,
        probes.as_mut(),
        &mut res.warnings,
        &AtomicBool::new(false),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => {
            res.warnings.push(format!("end snapshot: {e:#}"));
            (src.snapshot(), None)
        }
    };
    // Two independent mechanisms counting the same calls (fentry and kprobe on shrink_memcg).
    let (xcheck, spin_xcheck) = match (xcheck0, probes.as_ref().map(xcheck_counts)) {
        (Some(a), Some(b)) => (delta2(a.0, b.0), delta2(a.1, b.1)),
        _ => (None, None),
    };
    drop(probes);

    res.duration_ns = duration.as_nanos() as u64;
    res.counters = counters::to_counters(&c0, &c1);
    res.timeseries = samples;
    res.workload = schema::Workload {
        pages_touched: pages1.saturating_sub(pages0),
        major_faults: majflt1.saturating_sub(majflt0),
        duration_ns: res.duration_ns,
        per_worker: per1
            .iter()
            .zip(&per0)
            .map(|(a, b)| WorkerStats {
                cgroup: tree.cgroup_path(&a.0),
                pages_touched: a.1.saturating_sub(b.1),
                major_faults: a.2.saturating_sub(b.2),
            })
            .collect(),
        compressibility: measured_ratio.or_else(|| pool.template_ratio.first().copied()),
    };
    res.proactive_writes.per_thread = proactive_records(l, tree, &res.counters, recorders, iface);
    for p in &pressure_results {
        log::info!(
            "pressure: {} — {} writes, {:?}",
            p.what,
            p.writes,
            p.returns
        );
    }
    if churn_stats.cycles.load(Ordering::Relaxed) > 0 {
        log::info!(
            "churn: {} cycles, {} errors",
            churn_stats.cycles.load(Ordering::Relaxed),
            churn_stats.errors.load(Ordering::Relaxed)
        );
    }
    let churned = std::mem::take(&mut *churn_stats.names.lock().unwrap_or_else(|e| e.into_inner()));
    let p0 = p0.map(|mut p| {
        name_removed(&mut p, &churned);
        p
    });
    if let Some(mut p1) = p1 {
        name_removed(&mut p1, &churned);
        // Counts over the measured window only, like the duration they are divided by.
        res.probes = match p0.as_ref() {
            Some(start) => crate::probes::window::measured(start, &p1),
            None => {
                res.warnings.push(
                    "no probe snapshot at the start of the measured phase: probe counts are \
                     since attach (probes.window = since_attach)"
                        .into(),
                );
                p1
            }
        };
        res.crosschecks =
            counters::crosscheck_writeback(&res.counters, res.probes.writeback.as_ref());
        let pairs = [
            ("shrink_memcg calls: fentry vs kprobe", xcheck),
            (
                "watched spinlock waits: slow-path waits timed vs kprobe entries",
                spin_xcheck,
            ),
        ];
        for (what, pair) in pairs {
            if let Some((primary, kprobe)) = pair {
                res.crosschecks.push(schema::Crosscheck {
                    what: what.into(),
                    bpf: primary as i64,
                    kernel: kprobe as i64,
                    agree: primary == kprobe,
                    note: "both over the measured window; 'kernel' holds the kprobe count".into(),
                });
            }
        }
        for c in res.crosschecks.iter().filter(|c| !c.agree) {
            eprintln!(
                "crosscheck disagreement: {}: memory.stat {} vs BPF {} {}",
                c.what, c.kernel, c.bpf, c.note
            );
        }
    }
    measured
}

/// Names probe entries of memcgs removed during the run ("cgroup#<id> (removed)") with the
/// path the churn thread created them under.
pub fn name_removed(p: &mut schema::Probes, churned: &[(u64, String)]) {
    let name = |id: u64, cur: &mut String| {
        if cur.starts_with("cgroup#") {
            if let Some((_, path)) = churned.iter().find(|(i, _)| *i == id) {
                *cur = format!("{path} (removed)");
            }
        }
    };
    if let Some(w) = p.writeback.as_mut() {
        w.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
    if let Some(s) = p.shrink_memcg.as_mut() {
        s.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
    if let Some(x) = p.proactive.as_mut() {
        x.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
}

/// memcg statistics are flushed to memory.stat at least every 2 s (FLUSH_TIME in
/// mm/memcontrol.c); between flushes a read may lag by up to a batch of events per CPU.
const STATS_FLUSH: Duration = Duration::from_millis(2100);

fn wb_fingerprint(p: &schema::Probes) -> Option<(u64, Vec<(u64, u64)>)> {
    p.writeback.as_ref().map(|w| {
        (
            w.pages,
            w.per_memcg.iter().map(|m| (m.cgroup_id, m.pages)).collect(),
        )
    })
}

/// Counter and probe snapshots taken at a moment when writeback has been still for longer than
/// the stats flush period: the BPF writeback counts did not move across a window of more than
/// 2 s that ends after the memory.stat read, so that read is flushed and both describe the same
/// writeback. Gives up after 5 tries with a warning (the cross-check may then be off by the
/// writeback of that moment).
async fn quiet_snapshots(
    src: &Sources,
    probes: Option<&mut crate::probes::ProbeSession>,
    warnings: &mut Vec<String>,
    interrupted: &AtomicBool,
) -> Result<(counters::Snapshot, Option<schema::Probes>)> {
    tokio::time::sleep(STATS_FLUSH).await;
    let Some(p) = probes else {
        return Ok((src.snapshot(), None));
    };
    let mut before = match p.snapshot() {
        Ok(b) => b,
        Err(e) => {
            warnings.push(format!("probe snapshot: {e:#}"));
            return Ok((src.snapshot(), None));
        }
    };
    if before.writeback.is_none() {
        return Ok((src.snapshot(), Some(before)));
    }
    for _ in 0..5 {
        tokio::time::sleep(STATS_FLUSH).await;
        check_interrupt(interrupted)?;
        let c = src.snapshot();
        let after = p.snapshot()?;
        if wb_fingerprint(&before) == wb_fingerprint(&after) {
            return Ok((c, Some(after)));
        }
        before = after;
    }
    warnings.push(
        "writeback never stayed still for 2 s around a snapshot (5 tries): the zswpwb cross-check \
         may be off by the writeback of that moment"
            .into(),
    );
    Ok((src.snapshot(), Some(p.snapshot()?)))
}

/// Per-thread records; bytes achieved from memory.stat `zswpwb_proactive_b` when a thread is
/// the only one whose target overlaps that memcg (else the kernel number cannot be split).
fn proactive_records(
    l: &Loaded,
    tree: &Tree,
    c: &schema::Counters,
    recs: Vec<proactive::Recorder>,
    iface: ProactiveInterface,
) -> Vec<schema::ProactiveThread> {
    let mut recs = recs.into_iter();
    l.proactive_threads
        .iter()
        .map(|t| {
            let mode = l.scenario.proactive[t.spec].mode;
            let overlapping = l
                .proactive_threads
                .iter()
                .filter(|o| {
                    scenario::is_under(&o.target, &t.target)
                        || scenario::is_under(&t.target, &o.target)
                })
                .count();
            let path = tree.cgroup_path(&t.target);
            let achieved = if overlapping == 1 {
                c.memcg
                    .iter()
                    .find(|m| m.path == path)
                    .and_then(|m| m.stat_delta.get("zswpwb_proactive_b"))
                    .map(|&b| b.max(0) as u64)
            } else {
                None
            };
            // With no interface no thread ran: every thread is listed with zero calls.
            let rec = if iface == ProactiveInterface::None {
                proactive::Recorder::default()
            } else {
                recs.next().unwrap_or_default()
            };
            rec.into_schema(path, mode.as_str(), achieved)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000");
        assert_eq!(utc_stamp(1_795_000_000), "20261118T110640"); // date -u -d @1795000000
    }

    #[test]
    fn repeat_dirs() {
        let o = Path::new("/r/x");
        assert_eq!(repeat_dir(o, 1, 0), PathBuf::from("/r/x"));
        assert_eq!(repeat_dir(o, 3, 2), PathBuf::from("/r/x/r2"));
        let id = make_run_id("quick", "7.3.4 #1");
        assert!(id.starts_with("quick-7.3.4__1-"), "{id}");
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(1234.0), "1.2k");
        assert_eq!(compact(56_789.0), "57k");
        assert_eq!(compact(5_600_000.0), "5.6M");
    }

    #[test]
    fn matrix_order_interleaves_and_rotates() {
        let s = schedule(3, 2, 2);
        assert_eq!(s.len(), 12);
        let round0: Vec<usize> = s[..3].iter().map(|c| c.kernel).collect();
        let round1: Vec<usize> = s[6..9].iter().map(|c| c.kernel).collect();
        assert_eq!(round0, [0, 1, 2]);
        assert_eq!(round1, [1, 2, 0], "kernel order rotates per repeat round");
        assert!(s[..6].iter().all(|c| c.repeat == 0) && s[6..].iter().all(|c| c.repeat == 1));
        // Every (kernel, scenario, repeat) exactly once.
        let mut all: Vec<(usize, usize, u32)> =
            s.iter().map(|c| (c.kernel, c.scenario, c.repeat)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn sweeps_add_blocks_without_repeating_any() {
        let m: MatrixFile = toml::from_str(
            "kernels = [\"a\"]\nscenarios = [\"s4\", \"s8\"]\n[[sweep]]\nscenarios = [\"s8\"]\ncpus = [2, 4]\n",
        )
        .unwrap();
        assert_eq!(
            m.blocks(),
            vec![("s4".into(), 2), ("s8".into(), 2), ("s8".into(), 4)]
        );
        assert_eq!(m.spinlocks, crate::cli::SpinlockMode::Native);
    }

    #[test]
    fn shipped_matrix_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/matrix");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m: MatrixFile = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            for (s, _) in &m.blocks() {
                let sp =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{s}.toml"));
                scenario::load(&sp).unwrap();
            }
            assert!(!m.kernels.is_empty());
        }
    }

    #[test]
    fn meminfo_numbers() {
        let m = machine_memory(
            "MemTotal:        2000000 kB\nMemFree: 1 kB\nMemAvailable:    1500000 kB\n",
            &[swap::ActiveSwap {
                path: "/dev/vda".into(),
                size: 1 << 30,
                used: 1 << 20,
            }],
        );
        assert_eq!(m.mem_total, 2_000_000 * 1024);
        assert_eq!(m.mem_available, 1_500_000 * 1024);
        assert_eq!(m.swap_free, (1 << 30) - (1 << 20));
    }

    #[test]
    fn worker_configs_share_templates_and_add_churn_helpers() {
        let text = r#"
[phases]
measure = "5s"
[[memcg]]
name = "a"
count = 3
[[memcg]]
name = "churn"
[[worker]]
memcg = "a"
size = "1M"
compressibility = 0.3
[churn]
parent = "churn"
rate = 5
live = 2
size = "1M"
"#;
        let l = scenario::parse(text, "t", "t").unwrap();
        let (cfgs, targets, helpers) = worker_configs(&l, 1);
        assert_eq!(cfgs.len(), 5);
        assert_eq!(targets, vec![0.3, 0.5]);
        assert_eq!(helpers, vec![3, 4]);
        assert_eq!(cfgs[4].memcg, "churn/churn-home");
        assert!(matches!(cfgs[0].role, Role::Toucher { template: 0, .. }));
    }

    #[test]
    fn removed_memcgs_get_their_churn_path() {
        let mw = |c: &str, id| schema::MemcgWriteback {
            cgroup: c.into(),
            cgroup_id: id,
            pages: 3,
            bytes: None,
            by_source: BTreeMap::new(),
        };
        let mut p = schema::Probes {
            writeback: Some(schema::Writeback {
                point: "p".into(),
                pages: 6,
                bytes: None,
                per_memcg: vec![
                    mw("cgroup#208 (removed)", 208),
                    mw("/zb/steady", 94),
                    mw("cgroup#9 (removed)", 9),
                ],
                lru_status: BTreeMap::new(),
            }),
            ..Default::default()
        };
        name_removed(&mut p, &[(208, "/zb/churn/churn-3".into())]);
        let w = p.writeback.unwrap();
        assert_eq!(w.per_memcg[0].cgroup, "/zb/churn/churn-3 (removed)");
        assert!(scenario::is_under(&w.per_memcg[0].cgroup, "/zb/churn"));
        assert_eq!(w.per_memcg[1].cgroup, "/zb/steady");
        assert_eq!(w.per_memcg[2].cgroup, "cgroup#9 (removed)");
    }
}
