//! `zswap-bench matrix`: kernels × scenarios × vCPU counts × repeats, one VM boot per cell, in
//! an order that interleaves kernels so drift of the machine does not favour one; a failed cell
//! is recorded and the rest still run. At the end, one comparison report and plot set per
//! (scenario, vCPU count) block, and scaling plots when there is more than one block.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bench_results::schema::ResultFile;

use super::ids::utc_stamp;
use super::resume;
use super::vm_cell::{kernel_name, vm_cell};
use crate::options::{Accel, GuestShape, SpinlockMode};
use crate::scenario::{self, Plan};

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
    pub spinlocks: SpinlockMode,
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

/// A block's scenario (path and validated contents) and vCPU count.
type Block = (PathBuf, Plan, u32);

/// Runs the matrix in `path` into `out` (default: a new `results/matrix-<name>-<time>`).
/// `resume` completes an earlier run of it in `out`: cells with a valid result are kept, the
/// rest run again (see `resume`).
pub fn matrix(path: &Path, out: Option<&Path>, resume: bool) -> Result<ExitCode> {
    let m = read(path)?;
    if resume && out.is_none() {
        bail!("--resume completes an earlier matrix run: name its directory with --out DIR");
    }
    // Every scenario is validated before the first VM boots.
    let blocks = m.blocks();
    let mut scen: Vec<Block> = Vec::new();
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
    if !resume && out.join("matrix.json").exists() {
        bail!(
            "{} already holds a matrix run; fix: add --resume to complete it (only missing or failed cells run again), or choose another --out",
            out.display()
        );
    }
    super::ids::ensure_writable(&out)?;
    let cells = schedule(m.kernels.len(), scen.len(), m.repeats);
    let t0 = Instant::now();
    let (failed, done) = run_cells(&m, &scen, &cells, several_cpus, &out, t0)?;
    report(
        &m,
        &scen,
        (blocks.len(), several_cpus),
        &out,
        &done,
        &failed,
    )?;
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

/// Reads and checks a matrix file (the scenarios it names are loaded by the caller).
fn read(path: &Path) -> Result<MatrixFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let m: MatrixFile = toml::from_str(&text).map_err(|e| {
        anyhow!(
            "{}\n  fix: see scenarios/matrix/*.toml for the format",
            crate::toml_error::describe(path, &text, &e)
        )
    })?;
    if m.kernels.is_empty() || m.scenarios.is_empty() || m.repeats == 0 || m.cpus.is_empty() {
        bail!(
            "{}: needs at least one kernel, one scenario, one cpus value and repeats >= 1",
            path.display()
        );
    }
    if let Some(c) = m.blocks().iter().map(|b| b.1).find(|c| *c == 0 || *c > 64) {
        bail!("{}: cpus = {c}: use 1 to 64 vCPUs", path.display());
    }
    Ok(m)
}

/// Names of results and reports carry the vCPU count only when the matrix has more than one.
fn cpu_tag(several_cpus: bool, cpus: u32) -> String {
    if several_cpus {
        format!("-c{cpus}")
    } else {
        String::new()
    }
}

/// Boots every cell in turn, keeping `matrix.json` (what ran, where, how it ended) current after
/// each. Returns the failed cells, described, and the directories of the cells that finished
/// (the report reads those, not whatever else lies under `out`, such as set-aside attempts).
fn run_cells(
    m: &MatrixFile,
    scen: &[Block],
    cells: &[Cell],
    several_cpus: bool,
    out: &Path,
    t0: Instant,
) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let mut status: Vec<serde_json::Value> = Vec::new();
    let mut failed = Vec::new();
    let mut done = Vec::new();
    for (n, c) in cells.iter().enumerate() {
        let kernel = &m.kernels[c.kernel];
        let (spath, l, cpus) = &scen[c.scenario];
        let dir = out.join(format!(
            "{}-{}{}-r{}",
            l.name,
            kernel_name(kernel),
            cpu_tag(several_cpus, *cpus),
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
        let shape = GuestShape {
            cpus: *cpus,
            accel: Accel::Auto,
            spinlocks: m.spinlocks,
            ..Default::default()
        };
        let r = match resume::earlier(&dir, &l.text, *cpus) {
            resume::Earlier::Done => {
                eprintln!("   done in an earlier attempt: kept ({})", dir.display());
                Ok(dir.clone())
            }
            resume::Earlier::Unusable(why) => {
                let to = resume::set_aside(&dir)?;
                eprintln!(
                    "   earlier attempt unusable ({why}): set aside as {}",
                    to.display()
                );
                vm_cell(kernel, spath, l, &dir, 1, shape)
            }
            resume::Earlier::Nothing => vm_cell(kernel, spath, l, &dir, 1, shape),
        };
        match &r {
            Ok(_) => done.push(dir.clone()),
            Err(e) => {
                eprintln!("zswap-bench: cell failed (continuing): {e:#}");
                failed.push(format!(
                    "{} on {kernel} ({cpus} vCPUs) r{}: {e:#}",
                    l.name, c.repeat
                ));
            }
        }
        status.push(serde_json::json!({
            "kernel": kernel, "scenario": l.name, "cpus": cpus, "repeat": c.repeat, "dir": dir,
            "ok": r.is_ok(), "error": r.as_ref().err().map(|e| format!("{e:#}")),
        }));
        std::fs::write(out.join("matrix.json"), serde_json::to_vec_pretty(&status)?)?;
    }
    Ok((failed, done))
}

/// Compares and plots per scenario (results of different scenarios are never pooled).
/// `failed` cells are listed at the end of every report: a reader must see what is missing
/// from the comparison, not infer it from smaller sample counts.
fn report(
    m: &MatrixFile,
    scen: &[Block],
    (blocks, several_cpus): (usize, bool),
    out: &Path,
    done: &[PathBuf],
    failed: &[String],
) -> Result<()> {
    let failed_note = if failed.is_empty() {
        String::new()
    } else {
        let mut t = format!(
            "\nFailed cells, left out of this comparison ({}):\n",
            failed.len()
        );
        for f in failed {
            t += &format!("  {}\n", f.lines().next().unwrap_or(f));
        }
        t
    };
    if done.is_empty() {
        eprintln!("zswap-bench: no cell finished, so there is nothing to compare or plot");
        return Ok(());
    }
    let files = ResultFile::read_all(done)
        .context("reading the finished cells' results back for the report")?;
    // Runs of one scenario at different vCPU counts are never pooled either.
    for (_, l, cpus) in scen {
        let tag = cpu_tag(several_cpus, *cpus);
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
        let report = bench_results::render_text(&c) + &failed_note;
        let rp = out.join(format!("report-{}{tag}.txt", l.name));
        std::fs::write(&rp, &report)?;
        // The mailing-list form is printed; every table stays beside it.
        let full = bench_results::render_full_text(&c) + &failed_note;
        std::fs::write(out.join(format!("report-{}{tag}-full.txt", l.name)), full)?;
        println!("{report}");
        match bench_results::plot_all(&group, &out.join(format!("plots-{}{tag}", l.name))) {
            Ok(p) => eprintln!("{} plot(s) for {} in {}", p.len(), l.name, out.display()),
            Err(e) => eprintln!("zswap-bench: plotting {}: {e:#}", l.name),
        }
        eprintln!("report: {}", rp.display());
    }
    if blocks > 1 {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(m.spinlocks, SpinlockMode::Native);
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
}
