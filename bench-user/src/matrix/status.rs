//! What state each cell of a matrix is in, from its out directory and (for a Slurm matrix) what
//! the scheduler still lists. The records decide, the scheduler only tells running from lost
//! (lessons of ReFrame's job tracking: accounting (`sacct`) is often missing, and a job that is
//! still listed may still be writing):
//! - a cell is done when its result is valid and the scheduler no longer lists its task as
//!   active; failed when it has a failure record (or an unusable result) and is no longer active;
//! - a task Slurm lists as cancelled, timed out or failed without either record failed;
//! - a task that is no longer listed, or listed as completed, without either record is lost;
//!   `--resume` runs failed and lost cells again.
use std::collections::BTreeMap;
use std::path::Path;

use super::plan::MatrixPlan;
use super::resume::{self, Earlier, read_failure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    Done,
    /// The first line of why.
    Failed(String),
    /// Submitted and waiting for a node.
    Pending(String),
    /// Running (or finishing: its record may be there, the task is not gone yet).
    Running(String),
    /// Submitted, gone from the scheduler, and left neither record.
    Lost(String),
    /// Never run (or, for the local backend, not yet).
    NotRun,
}

impl CellState {
    pub fn describe(&self) -> String {
        match self {
            CellState::Done => "done".into(),
            CellState::Failed(w) => format!("failed: {w}"),
            CellState::Pending(t) => format!("pending ({t})"),
            CellState::Running(t) => format!("running ({t})"),
            CellState::Lost(w) => format!("lost: {w}"),
            CellState::NotRun => "not run".into(),
        }
    }

    /// Done, failed or lost: nothing will change it without a `--resume`.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CellState::Done | CellState::Failed(_) | CellState::Lost(_) | CellState::NotRun
        )
    }
}

/// What the scheduler says of each submitted cell: its task id (`<job>_<index>`) and, if it
/// still lists the task, its state (`PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`...).
#[derive(Debug, Clone, Default)]
pub struct SlurmView {
    pub tasks: BTreeMap<usize, (String, Option<String>)>,
}

const ACTIVE: [&str; 7] = [
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "RESIZING",
];

/// One state per cell of `plan`, in plan order.
pub fn cell_states(plan: &MatrixPlan, out: &Path, slurm: Option<&SlurmView>) -> Vec<CellState> {
    (0..plan.cells.len())
        .map(|i| {
            let task = slurm.and_then(|s| s.tasks.get(&i));
            state(plan, out, i, task)
        })
        .collect()
}

fn state(
    plan: &MatrixPlan,
    out: &Path,
    i: usize,
    task: Option<&(String, Option<String>)>,
) -> CellState {
    let cell = &plan.cells[i];
    let dir = out.join(&cell.dir);
    let block = &plan.blocks[cell.block];
    let active = task.and_then(|(id, st)| {
        st.as_deref()
            .filter(|s| ACTIVE.contains(s))
            .map(|s| (id.clone(), s.to_string()))
    });
    if let Some((id, st)) = &active {
        return if st == "PENDING" {
            CellState::Pending(format!("Slurm task {id}"))
        } else {
            CellState::Running(format!("Slurm task {id} {st}"))
        };
    }
    match resume::earlier(&dir, &block.scenario_toml, block.cpus) {
        Earlier::Done => CellState::Done,
        Earlier::Unusable(why) => CellState::Failed(
            read_failure(&dir)
                .map(|f| f.first_line().to_string())
                .unwrap_or(why),
        ),
        Earlier::Nothing => match task {
            // Slurm says how it ended (cancelled, timed out, node failure, out of memory): the
            // task was killed before it could write its own record.
            Some((id, Some(st))) if st != "COMPLETED" => CellState::Failed(format!(
                "Slurm task {id} ended {st} before it wrote a result or failure record"
            )),
            Some((id, Some(st))) => CellState::Lost(format!(
                "Slurm lists task {id} as {st}, and it left neither a result nor a failure record"
            )),
            Some((id, None)) => CellState::Lost(format!(
                "Slurm no longer lists task {id}, and it left neither a result nor a failure record"
            )),
            None => CellState::NotRun,
        },
    }
}

/// The status table `matrix --status` prints, and whether every cell is done.
pub fn render(plan: &MatrixPlan, states: &[CellState]) -> (String, bool) {
    let mut t = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in states.iter().enumerate() {
        let kind = match s {
            CellState::Done => "done",
            CellState::Failed(_) => "failed",
            CellState::Pending(_) => "pending",
            CellState::Running(_) => "running",
            CellState::Lost(_) => "lost",
            CellState::NotRun => "not run",
        };
        *counts.entry(kind).or_default() += 1;
        t += &format!(
            "{i:>4}  {:<40}  {}\n",
            plan.cells[i].dir,
            s.describe().lines().next().unwrap_or("")
        );
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    t += &format!(
        "matrix {}: {} cells: {}\n",
        plan.name,
        states.len(),
        summary.join(", ")
    );
    (t, states.iter().all(|s| *s == CellState::Done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::plan::tests::plan_of;

    #[test]
    fn records_decide_and_the_scheduler_only_tells_running_from_lost() {
        let t = tempfile::tempdir().unwrap();
        let plan = plan_of(4);
        let mut view = SlurmView::default();
        // 0: done, its task gone; 1: done but still listed (finishing); 2: no record, task
        // gone (lost); 3: failure record.
        for i in [0, 1] {
            let mut r = bench_results::testing::MockResult::baseline(0).build();
            r.scenario.toml = plan.blocks[0].scenario_toml.clone();
            r.kernel.cpus = plan.blocks[0].cpus;
            r.write_atomic(&t.path().join(&plan.cells[i].dir)).unwrap();
        }
        crate::matrix::resume::record_failure(
            &t.path().join(&plan.cells[3].dir),
            3,
            &anyhow::anyhow!("cancelled by SIGTERM\nmore"),
        );
        view.tasks
            .insert(0, ("7_0".into(), Some("COMPLETED".into())));
        view.tasks
            .insert(1, ("7_1".into(), Some("COMPLETING".into())));
        view.tasks.insert(2, ("7_2".into(), None));
        view.tasks
            .insert(3, ("7_3".into(), Some("CANCELLED".into())));
        let mut killed = view.clone();
        killed
            .tasks
            .insert(2, ("7_2".into(), Some("CANCELLED".into())));
        let k = cell_states(&plan, t.path(), Some(&killed));
        assert!(matches!(&k[2], CellState::Failed(w) if w.contains("7_2 ended CANCELLED")));
        let s = cell_states(&plan, t.path(), Some(&view));
        assert_eq!(s[0], CellState::Done);
        assert!(matches!(&s[1], CellState::Running(w) if w.contains("7_1 COMPLETING")));
        assert!(matches!(&s[2], CellState::Lost(w) if w.contains("no longer lists task 7_2")));
        assert_eq!(s[3], CellState::Failed("cancelled by SIGTERM".into()));
        let (text, all_done) = render(&plan, &s);
        assert!(!all_done);
        assert!(
            text.contains("4 cells: 1 done, 1 failed, 1 lost, 1 running"),
            "{text}"
        );
        // Without a scheduler: a cell with no record has not run.
        assert_eq!(cell_states(&plan, t.path(), None)[2], CellState::NotRun);
        assert_eq!(cell_states(&plan, t.path(), None)[1], CellState::Done);
    }
}
