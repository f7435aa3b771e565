//! One cell of a matrix plan, run the same way whoever asked: the local backend (one after
//! another, or `--jobs N` at once) and each Slurm array task (`zswap-bench run-cell`). Nothing
//! about a backend reaches the cell but where it may run (`Seat`) and what the result records
//! about that (`Placement`).
//!
//! A cell ends with exactly one of two records in its directory, each written atomically: its
//! result files (from the guest), or `cell-failure.json` (from here). A status reader needs no
//! scheduler to tell a finished cell from a failed one, only to tell a running one from a lost one.
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bench_results::schema::Placement;

use super::plan::MatrixPlan;
use super::resume::{self, record_failure};
use crate::options::GuestShape;
use crate::run::vm_cell::{self, vm_cell};

/// Where a cell may run on the host, and what to record about it.
#[derive(Debug, Clone, Default)]
pub struct Seat {
    /// Host CPUs to pin QEMU to; `None` leaves its affinity as inherited.
    pub pin: Option<Vec<usize>>,
    /// The placement to record (filled in further once the cell has run).
    pub placement: Placement,
}

/// How a cell ended.
pub enum Ended {
    /// It ran and its results are trusted.
    Ran(PathBuf),
    /// An earlier attempt's valid result was kept.
    Kept(PathBuf),
}

/// Runs cell `i` of `plan` (whose directory is `out`) in `seat`. On failure the reason is
/// also written to the cell's `cell-failure.json` before the error is returned.
pub fn run_cell(plan: &MatrixPlan, out: &Path, i: usize, seat: &Seat) -> Result<Ended> {
    let Some(cell) = plan.cells.get(i) else {
        bail!(
            "cell {i} is not in the plan (it has cells 0 to {}); fix: use an index the plan lists",
            plan.cells.len().saturating_sub(1)
        );
    };
    let dir = out.join(&cell.dir);
    let block = &plan.blocks[cell.block];
    match resume::earlier(&dir, &block.scenario_toml, block.cpus) {
        resume::Earlier::Done => return Ok(Ended::Kept(dir)),
        resume::Earlier::Unusable(why) => {
            let to = resume::set_aside(&dir)?;
            eprintln!(
                "   earlier attempt unusable ({why}): set aside as {}",
                to.display()
            );
        }
        resume::Earlier::Nothing => {}
    }
    let r = boot(plan, i, &dir, seat);
    if let Err(e) = &r {
        record_failure(&dir, i, e);
    }
    r.map(|_| Ended::Ran(dir))
}

fn boot(plan: &MatrixPlan, i: usize, dir: &Path, seat: &Seat) -> Result<()> {
    let cell = &plan.cells[i];
    let block = &plan.blocks[cell.block];
    let k = &plan.kernels[cell.kernel];
    let built = crate::kernel::verify_cached(&k.arg, &k.key, &k.bzimage_sha256)?;
    let mut l = crate::scenario::load(&block.scenario_path)?;
    if l.text != block.scenario_toml {
        bail!(
            "{} changed since the plan was written; fix: `zswap-bench matrix {} --out {} --resume` plans the changed cells again",
            block.scenario_path.display(),
            plan.matrix_file.display(),
            dir.parent().unwrap_or(dir).display()
        );
    }
    l.probes.walk_steps |= block.walk_steps;
    if let Some(a) = block.idle_action {
        crate::scenario::set_idle_action(&mut l, a)?;
    }
    let shape = GuestShape {
        cpus: block.cpus,
        accel: plan.accel,
        spinlocks: plan.spinlocks,
        numa: plan.numa,
    };
    crate::vm::choose_accel(plan.accel).with_context(|| {
        format!(
            "this machine cannot run the accelerator matrix {} asks for; fix: run its cells on machines with KVM (e.g. --constraint), or set accel = \"tcg\" in the matrix file",
            plan.name
        )
    })?;
    let cellrun = vm_cell::CellRun {
        built: Some(built),
        pin: seat.pin.clone(),
    };
    vm_cell(&k.arg, &block.scenario_path, &l, dir, 1, shape, &cellrun)?;
    let mut p = seat.placement.clone();
    fill_placement(&mut p, seat.pin.as_deref());
    vm_cell::rewrite_results(dir, |r| r.placement = Some(p.clone()))?;
    Ok(())
}

/// What only the host knows about where the cell ran.
fn fill_placement(p: &mut Placement, pin: Option<&[usize]>) {
    let topo = crate::topology::Topology::host().unwrap_or_default();
    let cpus: Vec<usize> = match pin {
        Some(c) => c.to_vec(),
        None => crate::topology::own_affinity()
            .into_iter()
            .map(|c| c as usize)
            .collect(),
    };
    p.host_nodes = topo.nodes_of(&cpus);
    p.host_cpus = cpus.into_iter().map(|c| c as u32).collect();
    p.host_cpu_model = topo.model;
    p.host = crate::topology::hostname();
    p.qemu_version = crate::vm::qemu_version().unwrap_or_else(|e| format!("unknown ({e})"));
}

/// `zswap-bench run-cell --plan FILE [--index N]`: one cell, as a Slurm array task runs it. A
/// SIGTERM (scancel, the job's time limit) leaves a failure record saying so before the task
/// ends, so the cell reads "failed", not "lost"; QEMU dies with us (parent-death signal).
pub fn cli(plan_path: &std::path::Path, index: Option<usize>) -> Result<ExitCode> {
    let (plan, out) = MatrixPlan::read(plan_path)?;
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok();
    let i = match (index, &task) {
        (Some(i), _) => i,
        (None, Some(t)) => t.parse().map_err(|_| {
            anyhow!("SLURM_ARRAY_TASK_ID={t:?} is not a cell index; fix: pass --index N")
        })?,
        (None, None) => {
            bail!("which cell? pass --index N (Slurm array tasks get it from SLURM_ARRAY_TASK_ID)")
        }
    };
    if i >= plan.cells.len() {
        bail!(
            "cell {i} is not in {} (it has {} cells); fix: use --index 0 to {}",
            plan_path.display(),
            plan.cells.len(),
            plan.cells.len().saturating_sub(1)
        );
    }
    let dir = out.join(&plan.cells[i].dir);
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let name = if sig == signal_hook::consts::SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            record_failure(
                &dir,
                i,
                &anyhow!(
                    "cancelled by {name} while the cell ran (scancel, the job's time limit, or Ctrl-C); `matrix --resume` runs it again"
                ),
            );
            std::process::exit(128 + sig);
        }
    });
    let job = std::env::var("SLURM_ARRAY_JOB_ID").ok();
    // Slurm confines a task to its CPUs only with an affinity or cgroup task plugin; with
    // task/none the task may run anywhere, and the result must not claim otherwise.
    let confined = crate::topology::Topology::host()
        .is_ok_and(|t| crate::topology::own_affinity().len() < t.cpus.len());
    let seat = Seat {
        pin: None,
        placement: bench_results::schema::Placement {
            backend: if job.is_some() { "slurm" } else { "local" }.into(),
            pinned_by: match (job.is_some(), confined) {
                (true, true) => "slurm",
                (false, true) => "inherited affinity",
                _ => "none",
            }
            .into(),
            slurm_task: job.zip(task).map(|(j, t)| format!("{j}_{t}")),
            ..Default::default()
        },
    };
    eprintln!("== matrix cell {}: {}", i, plan.describe(i));
    match run_cell(&plan, &out, i, &seat)? {
        Ended::Ran(d) => eprintln!("cell {i} done: {}", d.display()),
        Ended::Kept(d) => eprintln!("cell {i} was done already: {}", d.display()),
    }
    Ok(ExitCode::SUCCESS)
}
