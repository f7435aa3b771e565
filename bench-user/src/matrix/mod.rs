//! `zswap-bench matrix`: kernels × scenarios × vCPU counts × repeats, one VM boot per cell, in
//! an order that interleaves kernels so drift of the machine does not favour one; a failed cell
//! is recorded and the rest still run. At the end, one comparison report and plot set per
//! (scenario, vCPU count) block, and scaling plots when there is more than one block.
//!
//! The rooms: `plan` (the cells, written to `<out>/plan.json` before any boots), `cell` (one
//! cell, whichever backend runs it; `run-cell`), `resume` (what an earlier attempt left), `local` (this
//! machine, `--jobs N` at once, each cell pinned), `slurm` (job arrays), `status` (what state each
//! cell is in), `report` (reports and plots from the out directory alone). Every backend runs a
//! cell through `cell::run_cell`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};

use crate::cli::MatrixArgs;
use crate::options::{Accel, Jobs};
use crate::run::ids::{self, utc_stamp};
use crate::scenario::{self, Plan};

pub mod cell;
pub mod file;
#[cfg(test)]
mod file_fuzz;
pub mod local;
pub mod plan;
pub mod report;
pub mod resume;
pub mod slurm;
pub mod status;

pub use file::MatrixFile;
pub use slurm::SlurmOptions;

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
/// `blocks[s]` is (the kernels block `s` runs on, its repeats); a block with fewer repeats
/// than another sits out the later rounds.
pub fn schedule(blocks: &[(Vec<usize>, u32)]) -> Vec<Cell> {
    let mut v = Vec::new();
    let rounds = blocks.iter().map(|b| b.1).max().unwrap_or(0);
    for r in 0..rounds {
        for (s, (ks, repeats)) in blocks.iter().enumerate() {
            if r >= *repeats {
                continue;
            }
            for i in 0..ks.len() {
                v.push(Cell {
                    kernel: ks[(i + r as usize) % ks.len()],
                    scenario: s,
                    repeat: r,
                });
            }
        }
    }
    v
}

/// A block's scenario (path and validated contents, `probes.walk_steps` set for a walk-steps
/// block), vCPU count, kernels and repeats.
pub struct Block {
    pub path: PathBuf,
    pub plan: Plan,
    pub cpus: u32,
    pub kernels: Vec<usize>,
    pub repeats: u32,
}

/// What `zswap-bench matrix` was asked to do.
#[derive(Debug, Default)]
pub struct MatrixRequest<'a> {
    /// The matrix file; with `--resume` it may come from the plan in `out`.
    pub path: Option<&'a Path>,
    pub out: Option<&'a Path>,
    pub resume: bool,
    pub jobs: Option<Jobs>,
    pub overcommit: bool,
    /// `Some` for the Slurm backend.
    pub slurm: Option<SlurmOptions>,
}

/// Plans the matrix into its out directory (default: a new `results/matrix-<name>-<time>`), then
/// runs it here or submits it to Slurm. `resume` completes an earlier run in `out`: cells with a
/// valid result are kept, the rest run again (see `resume`).
pub fn matrix(req: &MatrixRequest) -> Result<ExitCode> {
    if req.resume && req.out.is_none() {
        bail!("--resume completes an earlier matrix run: name its directory with --out DIR");
    }
    let earlier_file = match (req.path, req.out) {
        (None, Some(out)) if req.resume => Some(plan::MatrixPlan::read(out)?.0.matrix_file),
        _ => None,
    };
    let Some(path) = req.path.or(earlier_file.as_deref()) else {
        bail!("name the matrix file (e.g. scenarios/matrix/default.toml)");
    };
    let m = file::read(path)?;
    // Every scenario is validated before the first VM boots.
    let mut blocks: Vec<Block> = Vec::new();
    for b in m.blocks().map_err(|e| anyhow!("{}: {e}", path.display()))? {
        let p =
            scenario::resolve_path(&b.scenario).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut l = scenario::load(&p)?;
        l.probes.walk_steps |= b.walk_steps;
        if let Some(a) = b.idle_action {
            scenario::set_idle_action(&mut l, a).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        }
        blocks.push(Block {
            path: p,
            plan: l,
            cpus: b.cpus,
            kernels: b.kernels,
            repeats: b.repeats,
        });
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let out = match req.out {
        Some(o) => o.to_path_buf(),
        None => crate::paths::repo_root().join("results").join(format!(
            "matrix-{}-{}",
            m.name_or(path),
            utc_stamp(now)
        )),
    };
    if !req.resume && (out.join("matrix.json").exists() || out.join(plan::PLAN_FILE).exists()) {
        bail!(
            "{} already holds a matrix run; fix: add --resume to complete it (only missing or failed cells run again), or choose another --out",
            out.display()
        );
    }
    if req.slurm.is_none() {
        let max_cpus = blocks.iter().map(|b| b.cpus).max().unwrap_or(1);
        local::place(req.jobs.unwrap_or(Jobs::N(1)), max_cpus, req.overcommit)?;
    }
    ids::ensure_writable(&out)?;
    // Under Slurm, "auto" would let a node without KVM fall back to TCG unseen.
    let accel = match (m.accel, &req.slurm) {
        (Accel::Auto, Some(_)) => Accel::Kvm,
        (a, _) => a,
    };
    let plan = plan::MatrixPlan::new(path, &m, &blocks, accel)?;
    plan.write(&out)?;
    match &req.slurm {
        Some(o) => submit(&plan, &out, o),
        None => run_here(&plan, &out, req.jobs.unwrap_or(Jobs::N(1)), req.overcommit),
    }
}

fn run_here(plan: &plan::MatrixPlan, out: &Path, jobs: Jobs, overcommit: bool) -> Result<ExitCode> {
    let t0 = Instant::now();
    local::run(plan, out, jobs, overcommit)?;
    let failed = report::report_dir(plan, out)?;
    eprintln!(
        "matrix done in {:.0} min: {} of {} cells ok; everything under {}",
        t0.elapsed().as_secs_f64() / 60.0,
        plan.cells.len() - failed.len(),
        plan.cells.len(),
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

fn submit(plan: &plan::MatrixPlan, out: &Path, o: &SlurmOptions) -> Result<ExitCode> {
    let sub = slurm::submit(plan, out, o)?;
    let cells: usize = sub.arrays.values().map(Vec::len).sum();
    println!(
        "submitted {cells} cell(s) of matrix {} in {} array job(s) ({}), report job {}",
        plan.name,
        sub.arrays.len(),
        sub.arrays.keys().cloned().collect::<Vec<_>>().join(", "),
        sub.report_job.as_deref().unwrap_or("-")
    );
    println!(
        "follow it: zswap-bench matrix --status {} [--wait]; results, failure records and Slurm logs land in that directory",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `matrix --status DIR [--wait]`: each cell's state; exit 0 when all are done.
pub fn status(out: &Path, wait: bool) -> Result<ExitCode> {
    let (plan, dir) = plan::MatrixPlan::read(out)?;
    let slurm = dir.join(slurm::SUBMISSIONS_FILE).exists();
    loop {
        let view = if slurm {
            Some(slurm::view(&dir)?)
        } else {
            None
        };
        let states = status::cell_states(&plan, &dir, view.as_ref());
        let settled = states.iter().all(status::CellState::is_final);
        if settled || !wait {
            let (text, all_done) = status::render(&plan, &states);
            print!("{text}");
            if let Some(w) = local_wall_secs(&dir) {
                println!(
                    "wall time of the local run: {w:.0} s (first cell's start to last cell's end, matrix.json)"
                );
            }
            return Ok(if all_done {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}

/// `table jobs DIR...`: each local matrix run's wall time by the `--jobs` it ran under (from its
/// results' placement), one row per value with the runs in the order given and their median.
pub fn jobs_table(dirs: &[PathBuf]) -> Result<String> {
    let mut by_jobs: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for d in dirs {
        let wall = local_wall_secs(d).ok_or_else(|| {
            anyhow!(
                "{}: no wall time (matrix.json of a local matrix run); fix: name the out directory of `zswap-bench matrix`",
                d.display()
            )
        })?;
        let jobs = bench_results::ResultFile::read_all(std::slice::from_ref(d))?
            .iter()
            .find_map(|r| r.placement.as_ref().and_then(|p| p.jobs))
            .ok_or_else(|| anyhow!("{}: its results do not record --jobs", d.display()))?;
        by_jobs.entry(jobs).or_default().push(wall);
    }
    let most = by_jobs.values().map(Vec::len).max().unwrap_or(0);
    let mut header = vec!["`--jobs`".to_string()];
    header.extend((1..=most).map(|i| format!("run {i}")));
    header.push("median".into());
    let rows: Vec<Vec<String>> = by_jobs
        .iter()
        .map(|(j, w)| {
            let mut row = vec![j.to_string()];
            row.extend((0..most).map(|i| w.get(i).map_or("–".into(), |s| format!("{s:.0} s"))));
            let med = bench_results::stats::median(w).unwrap_or(f64::NAN);
            row.push(format!("{med:.0} s"));
            row
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    Ok(bench_results::tables::table(&h, &rows))
}

/// First start to last end of the cells a local run recorded in `matrix.json`.
fn local_wall_secs(dir: &Path) -> Option<f64> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("matrix.json")).ok()?).ok()?;
    let cells = v.as_array()?;
    let start = cells
        .iter()
        .filter_map(|c| c["started_unix_ms"].as_u64())
        .min()?;
    let end = cells
        .iter()
        .filter_map(|c| c["ended_unix_ms"].as_u64())
        .max()?;
    Some(end.saturating_sub(start) as f64 / 1000.0)
}

/// `matrix --report DIR`: the reports and plots from an out directory (the Slurm backend's
/// final job runs this).
pub fn report(out: &Path) -> Result<ExitCode> {
    let (plan, dir) = plan::MatrixPlan::read(out)?;
    let failed = report::report_dir(&plan, &dir)?;
    for f in &failed {
        eprintln!("  not in the report: {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Names of results and reports carry the vCPU count only when the matrix has more than one.
pub fn cpu_tag(several_cpus: bool, cpus: u32) -> String {
    if several_cpus {
        format!("-c{cpus}")
    } else {
        String::new()
    }
}

/// `zswap-bench matrix ...`
pub fn cli(a: &MatrixArgs) -> Result<ExitCode> {
    if let Some(d) = &a.status {
        return status(d, a.wait);
    }
    if let Some(d) = &a.report {
        return report(d);
    }
    matrix(&MatrixRequest {
        path: a.matrix.as_deref(),
        out: a.out.as_deref(),
        resume: a.resume,
        jobs: a.jobs,
        overcommit: a.overcommit,
        slurm: a.slurm.then(|| SlurmOptions {
            partition: a.partition.clone(),
            constraint: a.constraint.clone(),
            sbatch_args: a.sbatch_args.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_order_interleaves_and_rotates() {
        let s = schedule(&[(vec![0, 1, 2], 2), (vec![0, 1, 2], 2)]);
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

    /// A block with fewer repeats sits out the later rounds; the others keep their rotation.
    #[test]
    fn blocks_with_their_own_repeats_run_that_many_times() {
        let s = schedule(&[(vec![0, 1], 3), (vec![0, 1, 2], 1)]);
        let count = |b: usize| s.iter().filter(|c| c.scenario == b).count();
        assert_eq!((count(0), count(1)), (6, 3));
        assert!(s.iter().filter(|c| c.scenario == 1).all(|c| c.repeat == 0));
        let rounds: Vec<u32> = s.iter().map(|c| c.repeat).collect();
        assert_eq!(rounds, [0, 0, 0, 0, 0, 1, 1, 2, 2]);
        assert_eq!(
            s[5].kernel, 1,
            "round 1 starts the rotation at the second kernel"
        );
    }
}
