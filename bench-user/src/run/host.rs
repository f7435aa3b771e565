//! A run on this machine (`--host`, also what the guest runs inside a VM): the checks made
//! before anything changes, then each repeat in turn with its own state file, teardown and
//! result file, and the paragraph printed after it.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bench_results::schema::ResultFile;

use super::ids::{make_run_id, repeat_dir};
use super::record::{kernel_info, scenario_info};
use super::setup::run_phases;
use crate::machine::cgroup::{self, CGROUP_MOUNT};
use crate::machine::state::{self, Guard};
use crate::machine::swap;
use crate::machine::zswap::PARAMS_DIR;
use crate::scenario::{self, MachineMemory, Plan};
use crate::workload::counters;
use crate::workload::memory::WorkerPool;
use bench_results::human::compact;
use bench_results::human::fmt_bytes;

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
fn preflight(l: &Plan) -> Result<MachineMemory> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "--host changes cgroups, swap and zswap parameters and needs root; run as root, or in a VM with --kernel <name>"
        );
    }
    cgroup::check_v2_memory(Path::new(CGROUP_MOUNT))?;
    if !Path::new(PARAMS_DIR).is_dir() {
        bail!(
            "this kernel has no zswap ({} missing); build it with CONFIG_ZSWAP=y or use --kernel baseline",
            PARAMS_DIR
        );
    }
    for (k, _) in l.zswap.params() {
        if !Path::new(PARAMS_DIR).join(k).exists() {
            bail!(
                "the scenario sets zswap.{k}, but this kernel has no {}/{k}; remove it from the scenario",
                PARAMS_DIR
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

pub(super) fn run_host(l: &Plan, repeats: u32, out: Option<&Path>) -> Result<ExitCode> {
    if !l.description.is_empty() {
        eprintln!("{}: {}", l.name, l.description);
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
    super::fault::arm(&out);
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
        res.seed = l.seed.wrapping_add(r as u64);
        let outcome = run_once(l, &dir, &run_id, &mut res, &interrupted);
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

/// One repeat: set up, warm up, measure, tear down (always), filling `res` as it goes.
fn run_once(
    l: &Plan,
    dir: &Path,
    run_id: &str,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
) -> Result<()> {
    let mut guard = Guard::begin(&crate::paths::state_dir(), run_id)?;
    let mut pool: Option<WorkerPool> = None;
    // The request workers write their interval logs here during the run.
    let r = std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))
        .and_then(|()| run_phases(dir, l, run_id, res, interrupted, &mut guard, &mut pool));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
