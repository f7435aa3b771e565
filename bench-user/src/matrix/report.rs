//! The matrix's reports and plots, from its out directory alone (the plan and the cells'
//! records), so the local backend, the Slurm backend's final job and `matrix --report DIR` write
//! the same thing: one comparison report and plot set per (scenario, vCPU count) block, scaling
//! plots when there is more than one block, and the failed cells listed in every report.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bench_results::schema::ResultFile;

use super::plan::MatrixPlan;
use super::status::{CellState, cell_states};

/// Reads the out directory `out` of `plan` and writes its reports. Returns the failed cells,
/// described (cells not yet finished count as failed: a report must never look complete).
pub fn report_dir(plan: &MatrixPlan, out: &Path) -> Result<Vec<String>> {
    let states = cell_states(plan, out, None);
    let mut done = vec![];
    let mut failed = vec![];
    for (i, s) in states.iter().enumerate() {
        match s {
            CellState::Done => done.push((plan.cells[i].block, out.join(&plan.cells[i].dir))),
            other => failed.push(format!(
                "{} ({}): {}",
                plan.cells[i].dir,
                plan.describe(i),
                other.describe()
            )),
        }
    }
    write(plan, out, &done, &failed)?;
    Ok(failed)
}

/// Compares and plots per scenario (results of different scenarios are never pooled).
/// `failed` cells are listed at the end of every report: a reader must see what is missing
/// from the comparison, not infer it from smaller sample counts.
fn write(
    plan: &MatrixPlan,
    out: &Path,
    done: &[(usize, PathBuf)],
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
    let mut files = vec![];
    // Runs of one scenario at different vCPU counts, or with another probe set, are never
    // pooled either: each block is reported from its own cells.
    for (bi, b) in plan.blocks.iter().enumerate() {
        let tag = b.tag(plan.several_cpus);
        let dirs: Vec<PathBuf> = done
            .iter()
            .filter(|(i, _)| *i == bi)
            .map(|(_, d)| d.clone())
            .collect();
        if dirs.is_empty() {
            continue;
        }
        let group: Vec<ResultFile> = ResultFile::read_all(&dirs)
            .context("reading the finished cells' results back for the report")?
            .into_iter()
            .filter(|f| f.failed.is_none())
            .collect();
        // The scaling plots draw the default probe set only.
        if !b.walk_steps {
            files.extend(group.iter().cloned());
        }
        if group.is_empty() {
            continue;
        }
        let opts = bench_results::CompareOptions {
            baseline: plan.baseline.clone(),
            ..Default::default()
        };
        let c = bench_results::compare(&group, &opts);
        let report = bench_results::render_text(&c) + &failed_note;
        let rp = out.join(format!("report-{}{tag}.txt", b.scenario_name));
        std::fs::write(&rp, &report)?;
        // The mailing-list form is printed; every table stays beside it.
        let full = bench_results::render_full_text(&c) + &failed_note;
        std::fs::write(
            out.join(format!("report-{}{tag}-full.txt", b.scenario_name)),
            full,
        )?;
        println!("{report}");
        let dir = out.join(format!("plots-{}{tag}", b.scenario_name));
        match bench_results::plot_all(&group, &dir) {
            Ok(p) => eprintln!(
                "{} plot(s) for {} in {}",
                p.len(),
                b.scenario_name,
                out.display()
            ),
            Err(e) => eprintln!("zswap-bench: plotting {}: {e:#}", b.scenario_name),
        }
        eprintln!("report: {}", rp.display());
    }
    if plan.blocks.len() > 1 {
        match bench_results::plot_scaling(&files, &out.join("plots-scaling")) {
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
