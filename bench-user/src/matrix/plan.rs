//! `<out>/plan.json`: the matrix as a list of cells, each complete enough for any machine that
//! shares `<out>` and the kernel cache to run it alone (`zswap-bench run-cell --plan FILE --index
//! N`). The local backend and every Slurm task read the same plan and run a cell through the same
//! function (`matrix::cell`), so a backend cannot change what a cell is.
//!
//! Kernels are content-addressed: the plan names each by its cache key and the sha256 of its
//! bzImage, and a cell checks both before it boots (a node with another build of "baseline" must
//! not file its numbers under this one).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{Block, MatrixFile, cpu_tag, schedule};
use crate::options::{Accel, NumaMode, SpinlockMode};
use crate::run::vm_cell::kernel_name;

pub const PLAN_FILE: &str = "plan.json";
/// Bumped when a field changes meaning; a plan of another version is refused.
const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixPlan {
    pub version: u32,
    pub name: String,
    /// The matrix file as given, and its text when the plan was written.
    pub matrix_file: PathBuf,
    pub matrix_toml: String,
    pub baseline: Option<String>,
    /// Results and reports carry the vCPU count in their names only when the matrix has more
    /// than one.
    pub several_cpus: bool,
    pub spinlocks: SpinlockMode,
    /// The accelerator every cell must use. `Auto` only for the local backend; a Slurm matrix
    /// asks for `kvm` unless its file says `accel = "tcg"`, so a node without KVM fails the cell
    /// instead of silently running it a hundred times slower.
    pub accel: Accel,
    #[serde(default)]
    pub numa: NumaMode,
    pub kernels: Vec<PlannedKernel>,
    pub blocks: Vec<PlannedBlock>,
    pub cells: Vec<PlannedCell>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedKernel {
    /// As the matrix file names it (a manifest name or path).
    pub arg: String,
    /// Cache key of the build (kernels/<key>/ in the kernel cache).
    pub key: String,
    pub bzimage_sha256: String,
}

/// One (scenario, vCPU count) block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedBlock {
    pub scenario_path: PathBuf,
    pub scenario_name: String,
    /// The scenario's text when the plan was written: a cell refuses to run another.
    pub scenario_toml: String,
    pub cpus: u32,
    /// The cells run with `--walk-steps` (reported apart from the same scenario's others).
    #[serde(default)]
    pub walk_steps: bool,
    /// The `[burst]` idle action the cells run with (a sweep's `idle_actions`), None for the
    /// scenario's own.
    #[serde(default)]
    pub idle_action: Option<bench_results::schema::IdleAction>,
}

impl PlannedBlock {
    /// What a block adds to its scenario's name in directory and report names.
    pub fn tag(&self, several_cpus: bool) -> String {
        let walk = if self.walk_steps { "-walk-steps" } else { "" };
        let action = self
            .idle_action
            .map(|a| format!("-{}", a.as_str()))
            .unwrap_or_default();
        format!("{}{walk}{action}", cpu_tag(several_cpus, self.cpus))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlannedCell {
    pub kernel: usize,
    pub block: usize,
    pub repeat: u32,
    /// Directory of the cell's results, relative to the plan's directory.
    pub dir: String,
}

impl MatrixPlan {
    /// The plan of matrix `m` (read from `path`) over validated `blocks`, with every kernel
    /// built (or found in the cache) first.
    pub fn new(path: &Path, m: &MatrixFile, blocks: &[Block], accel: Accel) -> Result<MatrixPlan> {
        let several_cpus = blocks.iter().any(|b| b.cpus != blocks[0].cpus);
        let kernel_sets: Vec<(Vec<usize>, u32)> = blocks
            .iter()
            .map(|b| (b.kernels.clone(), b.repeats))
            .collect();
        let mut kernels = vec![];
        let mut facts = vec![];
        for k in &m.kernels {
            eprintln!("kernel {k}: building or finding it in the cache");
            let built = crate::kernel::build(k)
                .with_context(|| format!("kernel {k} of {}", path.display()))?;
            facts.push(crate::run::preboot::KernelFacts::of(&built));
            kernels.push(PlannedKernel {
                arg: k.clone(),
                key: built.key.clone(),
                bzimage_sha256: crate::kernel::manifest::file_sha256(&built.bzimage)?,
            });
        }
        // Every (scenario, kernel) pair, before the first cell boots.
        let free = crate::vm::tmp_free_bytes();
        for b in blocks {
            for &i in &b.kernels {
                crate::run::preboot::check(&b.plan, &facts[i], crate::vm::GUEST_MEM, free)
                    .with_context(|| format!("matrix {}", path.display()))?;
            }
        }
        let blocks: Vec<PlannedBlock> = blocks
            .iter()
            .map(|b| PlannedBlock {
                scenario_path: b.path.canonicalize().unwrap_or_else(|_| b.path.clone()),
                scenario_name: b.plan.name.clone(),
                scenario_toml: b.plan.text.clone(),
                cpus: b.cpus,
                walk_steps: b.plan.probes.walk_steps,
                idle_action: b.plan.burst.as_ref().map(|x| x.action),
            })
            .collect();
        let cells = schedule(&kernel_sets)
            .into_iter()
            .map(|c| {
                let b = &blocks[c.scenario];
                PlannedCell {
                    kernel: c.kernel,
                    block: c.scenario,
                    repeat: c.repeat,
                    dir: format!(
                        "{}-{}{}-r{}",
                        b.scenario_name,
                        kernel_name(&m.kernels[c.kernel]),
                        b.tag(several_cpus),
                        c.repeat
                    ),
                }
            })
            .collect();
        Ok(MatrixPlan {
            version: PLAN_VERSION,
            name: m.name_or(path),
            matrix_file: path.to_path_buf(),
            matrix_toml: std::fs::read_to_string(path).unwrap_or_default(),
            baseline: m.baseline.clone(),
            several_cpus,
            spinlocks: m.spinlocks,
            accel,
            numa: m.numa,
            kernels,
            blocks,
            cells,
        })
    }

    /// Writes `<out>/plan.json` atomically (a node must never read half a plan).
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        let bytes = serde_json::to_vec_pretty(self)?;
        Ok(bench_results::schema::write_file_atomic(
            out, PLAN_FILE, &bytes,
        )?)
    }

    /// Reads a plan written by `write`; `path` is the file or its directory.
    pub fn read(path: &Path) -> Result<(MatrixPlan, PathBuf)> {
        let file = if path.is_dir() {
            path.join(PLAN_FILE)
        } else {
            path.to_path_buf()
        };
        let text = bench_results::input::read_bytes(&file, bench_results::input::limit::RESULT)
            .with_context(|| {
            format!(
                "reading {}; fix: name the out directory of a `zswap-bench matrix` run (it holds {PLAN_FILE})",
                file.display()
            )
        })?;
        let plan: MatrixPlan = serde_json::from_slice(&text).with_context(|| {
            format!(
                "{}: not a matrix plan of this zswap-bench; fix: write it again with `zswap-bench matrix FILE --out DIR`",
                file.display()
            )
        })?;
        if plan.version != PLAN_VERSION {
            bail!(
                "{}: plan version {} (this zswap-bench reads {PLAN_VERSION}); fix: run the matrix with the zswap-bench that planned it",
                file.display(),
                plan.version
            );
        }
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok((plan, dir))
    }

    /// "quick on baseline, 2 vCPUs, repeat 0": a cell as people say it.
    pub fn describe(&self, i: usize) -> String {
        let c = &self.cells[i];
        let b = &self.blocks[c.block];
        format!(
            "{} on {}, {} vCPUs, repeat {}",
            b.scenario_name, self.kernels[c.kernel].arg, b.cpus, c.repeat
        )
    }

    /// Largest vCPU count of any cell.
    pub fn max_cpus(&self) -> u32 {
        self.blocks.iter().map(|b| b.cpus).max().unwrap_or(1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plan of `n` repeats of one cell (quick on baseline, 1 vCPU).
    pub fn plan_of(n: u32) -> MatrixPlan {
        let mut p = plan();
        p.cells = (0..n)
            .map(|r| PlannedCell {
                kernel: 0,
                block: 0,
                repeat: r,
                dir: format!("quick-baseline-r{r}"),
            })
            .collect();
        p
    }

    fn plan() -> MatrixPlan {
        MatrixPlan {
            version: PLAN_VERSION,
            name: "t".into(),
            matrix_file: "m.toml".into(),
            matrix_toml: String::new(),
            baseline: None,
            several_cpus: false,
            spinlocks: SpinlockMode::Native,
            accel: Accel::Tcg,
            numa: NumaMode::Off,
            kernels: vec![PlannedKernel {
                arg: "baseline".into(),
                key: "k".into(),
                bzimage_sha256: "s".into(),
            }],
            blocks: vec![PlannedBlock {
                scenario_path: "quick.toml".into(),
                scenario_name: "quick".into(),
                scenario_toml: "x".into(),
                cpus: 1,
                walk_steps: false,
                idle_action: None,
            }],
            cells: vec![PlannedCell {
                kernel: 0,
                block: 0,
                repeat: 0,
                dir: "quick-baseline-r0".into(),
            }],
        }
    }

    #[test]
    fn a_plan_reads_back_as_written_and_another_version_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let p = plan();
        p.write(t.path()).unwrap();
        let (back, dir) = MatrixPlan::read(t.path()).unwrap();
        assert_eq!(back.cells, p.cells);
        assert_eq!(dir, t.path());
        assert_eq!(back.describe(0), "quick on baseline, 1 vCPUs, repeat 0");
        let mut v = p.clone();
        v.version = 99;
        v.write(t.path()).unwrap();
        let e = MatrixPlan::read(t.path()).unwrap_err().to_string();
        assert!(e.contains("plan version 99"), "{e}");
        let e = MatrixPlan::read(&t.path().join("nope")).unwrap_err();
        assert!(
            format!("{e:#}").contains("fix: name the out directory"),
            "{e:#}"
        );
    }
}
