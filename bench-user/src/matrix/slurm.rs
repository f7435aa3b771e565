//! The Slurm backend: the plan's cells as job arrays (one task per cell, `--cpus-per-task` = the
//! cell's vCPUs; one array per vCPU count, since an array has one shape), then a report job that
//! runs after all of them (`afterany`: failed cells are listed in the report, not waited for).
//! Each task runs `zswap-bench run-cell --plan <out>/plan.json`, the function the local backend
//! runs, and writes its result or failure record atomically into `<out>`, which must be on storage
//! every node sees (so must the kernel cache).
//!
//! Only `sbatch`, `squeue` and `scancel` are used: no accounting (`sacct`), which many sites do not
//! run. What was submitted is kept in `<out>/slurm.json`, so `--status` and `--resume` know which
//! task ran which cell.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::plan::MatrixPlan;
use super::status::{CellState, SlurmView, cell_states};

pub const SUBMISSIONS_FILE: &str = "slurm.json";

/// `--slurm` and its options.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub constraint: Option<String>,
    /// Passed to every `sbatch` as they are (after ours, so they win).
    pub sbatch_args: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Submissions {
    pub submissions: Vec<Submission>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// Array job id -> the plan cells (task ids) it runs.
    pub arrays: BTreeMap<String, Vec<usize>>,
    pub report_job: Option<String>,
    pub unix_time: u64,
}

impl Submissions {
    pub fn read(out: &Path) -> Result<Submissions> {
        let p = out.join(SUBMISSIONS_FILE);
        match bench_results::input::read_bytes(&p, bench_results::input::limit::TEXT) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Submissions::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    fn write(&self, out: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        bench_results::schema::write_file_atomic(out, SUBMISSIONS_FILE, &bytes)?;
        Ok(())
    }

    /// The latest task of each cell: cell -> `<job>_<cell>`.
    fn latest_tasks(&self) -> BTreeMap<usize, (String, String)> {
        let mut m = BTreeMap::new();
        for s in &self.submissions {
            for (job, cells) in &s.arrays {
                for &c in cells {
                    m.insert(c, (job.clone(), format!("{job}_{c}")));
                }
            }
        }
        m
    }
}

fn need(tool: &str) -> Result<PathBuf> {
    crate::kernel::source::which(tool).with_context(|| {
        format!(
            "{tool} not found: --slurm needs the Slurm client commands on this machine; fix: install them (Debian: slurm-client) and point SLURM_CONF at the cluster's slurm.conf"
        )
    })
}

/// What Slurm lists for the submitted cells of `out` (nothing listed: the task is gone).
pub fn view(out: &Path) -> Result<SlurmView> {
    let subs = Submissions::read(out)?;
    let tasks = subs.latest_tasks();
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    let jobs: std::collections::BTreeSet<&String> = tasks.values().map(|(j, _)| j).collect();
    if !jobs.is_empty() {
        let squeue = need("squeue")?;
        for job in jobs {
            // -r: one line per array task; -t all: ended tasks too, while Slurm keeps them.
            let o = Command::new(&squeue)
                .args(["-h", "-r", "-t", "all", "-o", "%i|%T", "-j", job])
                .output()
                .context("running squeue")?;
            let text = String::from_utf8_lossy(&o.stdout);
            let err = String::from_utf8_lossy(&o.stderr);
            // A job Slurm has forgotten is "Invalid job id": nothing listed, not an error.
            if !o.status.success() && !err.contains("Invalid job id") {
                bail!("squeue -j {job} failed: {}", err.trim());
            }
            for l in text.lines() {
                if let Some((id, st)) = l.trim().split_once('|') {
                    // A pending array shows as "12_[0-3]": expand it onto its cells below.
                    listed.insert(id.to_string(), st.to_string());
                }
            }
        }
    }
    let mut v = SlurmView::default();
    for (cell, (job, task)) in tasks {
        let st = listed.get(&task).cloned().or_else(|| {
            listed
                .iter()
                .find(|(id, _)| id.starts_with(&format!("{job}_[")) && pending_range_has(id, cell))
                .map(|(_, s)| s.clone())
        });
        v.tasks.insert(cell, (task, st));
    }
    Ok(v)
}

/// Whether "12_[0-3,5%2]" covers task `cell`.
fn pending_range_has(id: &str, cell: usize) -> bool {
    let Some(inner) = id.split_once('[').and_then(|(_, r)| r.split(']').next()) else {
        return false;
    };
    let inner = inner.split('%').next().unwrap_or(inner);
    crate::topology::parse_cpulist(inner).is_ok_and(|v| v.contains(&cell))
}

/// Submits the cells of `plan` that are not done (all of them on a first run), then the report
/// job. Refuses while cells of an earlier submission are still pending or running.
pub fn submit(plan: &MatrixPlan, out: &Path, o: &SlurmOptions) -> Result<Submission> {
    let sbatch = need("sbatch")?;
    let v = view(out)?;
    let states = cell_states(plan, out, Some(&v));
    let busy: Vec<String> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, CellState::Pending(_) | CellState::Running(_)))
        .map(|(i, s)| format!("{} ({})", plan.cells[i].dir, s.describe()))
        .collect();
    if !busy.is_empty() {
        bail!(
            "{} cell(s) of {} are still pending or running under Slurm: {}; fix: wait for them (`zswap-bench matrix --status {} --wait`) or scancel them, then resume",
            busy.len(),
            out.display(),
            busy.join(", "),
            out.display()
        );
    }
    let todo: Vec<usize> = (0..plan.cells.len())
        .filter(|&i| states[i] != CellState::Done)
        .collect();
    let exe = std::env::current_exe()?.canonicalize()?;
    let logs = out.join("slurm");
    std::fs::create_dir_all(&logs)?;
    let mut by_cpus: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &i in &todo {
        by_cpus
            .entry(plan.blocks[plan.cells[i].block].cpus)
            .or_default()
            .push(i);
    }
    let mut sub = Submission {
        arrays: BTreeMap::new(),
        report_job: None,
        unix_time: now(),
    };
    for (cpus, cells) in &by_cpus {
        let mut c = Command::new(&sbatch);
        c.arg("--parsable")
            .arg(format!("--job-name=zb-{}", plan.name))
            .arg(format!("--array={}", list(cells)))
            .arg(format!("--cpus-per-task={cpus}"))
            // The guest's memory and QEMU's own: a site's small default would OOM-kill QEMU.
            .arg("--mem=3G")
            .arg(format!("--output={}/%A_%a.out", logs.display()))
            .arg(format!("--chdir={}", crate::paths::repo_root().display()));
        opts(&mut c, o);
        c.arg("--wrap").arg(format!(
            "exec {} run-cell --plan {}",
            shell_word(&exe.display().to_string()),
            shell_word(&out.join(super::plan::PLAN_FILE).display().to_string())
        ));
        let id = sbatch_id(&mut c)?;
        eprintln!(
            "submitted array job {id}: {} cell(s) of {cpus} vCPU(s)",
            cells.len()
        );
        sub.arrays.insert(id, cells.clone());
    }
    let deps: Vec<&String> = sub.arrays.keys().collect();
    let mut c = Command::new(&sbatch);
    c.arg("--parsable")
        .arg(format!("--job-name=zb-{}-report", plan.name))
        .arg("--cpus-per-task=1")
        .arg(format!("--output={}/report-%j.out", logs.display()))
        .arg(format!("--chdir={}", crate::paths::repo_root().display()));
    if !deps.is_empty() {
        c.arg(format!(
            "--dependency=afterany:{}",
            deps.iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(":")
        ));
    }
    opts(&mut c, o);
    c.arg("--wrap").arg(format!(
        "exec {} matrix --report {}",
        shell_word(&exe.display().to_string()),
        shell_word(&out.display().to_string())
    ));
    sub.report_job = Some(sbatch_id(&mut c)?);
    let mut all = Submissions::read(out)?;
    all.submissions.push(sub.clone());
    all.write(out)?;
    Ok(sub)
}

fn opts(c: &mut Command, o: &SlurmOptions) {
    if let Some(p) = &o.partition {
        c.arg(format!("--partition={p}"));
    }
    if let Some(k) = &o.constraint {
        c.arg(format!("--constraint={k}"));
    }
    c.args(&o.sbatch_args);
}

fn sbatch_id(c: &mut Command) -> Result<String> {
    let o = c.output().context("running sbatch")?;
    if !o.status.success() {
        bail!(
            "sbatch refused the job: {}; fix: check the partition and --sbatch-arg values against `sinfo`",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    // --parsable prints "<id>" or "<id>;<cluster>".
    let text = String::from_utf8_lossy(&o.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id: {text:?}");
    }
    Ok(id)
}

/// "0-3,7": Slurm's array index list.
fn list(cells: &[usize]) -> String {
    bench_results::schema::cpu_list(&cells.iter().map(|&c| c as u32).collect::<Vec<_>>())
}

/// One word for sbatch's `--wrap` shell: single-quoted, quotes escaped.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_and_index_lists_follow_slurms_formats() {
        assert_eq!(list(&[0, 1, 2, 3, 7]), "0-3,7");
        assert!(pending_range_has("12_[0-3,5%2]", 5));
        assert!(pending_range_has("12_[0-3,5%2]", 2));
        assert!(!pending_range_has("12_[0-3,5%2]", 4));
        assert_eq!(shell_word("a'b c"), "'a'\\''b c'");
        let s = Submissions {
            submissions: vec![
                Submission {
                    arrays: [("5".to_string(), vec![0, 1])].into(),
                    report_job: None,
                    unix_time: 0,
                },
                Submission {
                    arrays: [("9".to_string(), vec![1])].into(),
                    report_job: None,
                    unix_time: 1,
                },
            ],
        };
        let t = s.latest_tasks();
        assert_eq!(t[&0].1, "5_0");
        assert_eq!(
            t[&1].1, "9_1",
            "a resubmitted cell is tracked by its newest task"
        );
    }
}
