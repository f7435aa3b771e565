//! Whether a scenario can exercise a metric at all. A row of zeros for the workers' page rate in
//! a scenario whose workers are idle, or for cursor-lock contention where only one thread ever
//! walks a cursor, is not a measurement of the kernel: reports say once "n/a: not exercised by
//! this scenario" with the reason, and such metrics are not judged (they would only dilute the
//! multiple-comparison correction).
//!
//! Derived from the result files only — the scenario text and the counters every run carries —
//! and confirmed by the values: a metric that is nonzero in any run was exercised, whatever the
//! scenario looks like.

use serde::{Deserialize, Serialize};

use super::Metric;
use crate::schema::{ProactiveInterface, ResultFile};

/// What a metric needs from a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exercise {
    /// Meaningful in every scenario.
    Always,
    /// Memory workers that touch their memory while measured.
    Workers,
    /// shrink_worker woken (the zswap pool reaching its limit).
    ShrinkWorker,
    /// Pages stored into zswap while measured.
    Stores,
    /// At least two concurrent cursor walkers (proactive threads, shrink_worker, memcg
    /// offlining): one walker cannot contend with itself.
    CursorContention,
    /// Proactive-writeback threads.
    Proactive,
    /// A `[burst]` (the burst-after-idle experiment).
    Burst,
}

impl Exercise {
    /// Short name of the group, for reports that list not-exercised metrics by reason.
    pub fn label(self) -> &'static str {
        match self {
            Exercise::Always => "",
            Exercise::Workers => "workload",
            Exercise::ShrinkWorker => "shrink_worker",
            Exercise::Stores => "zswap_store",
            Exercise::CursorContention => "cursor contention",
            Exercise::Proactive => "proactive writeback",
            Exercise::Burst => "burst",
        }
    }
}

/// Why the scenario of `runs` (all kernels, completed runs) cannot exercise `metric`, or `None`.
pub fn not_exercised(metric: &Metric, runs: &[&ResultFile]) -> Option<String> {
    let why = scenario_reason(metric.exercise, runs)?;
    let measured_something = runs
        .iter()
        .any(|r| matches!((metric.extract)(r), Ok(v) if v != 0.0));
    (!measured_something).then_some(why)
}

fn scenario_reason(e: Exercise, runs: &[&ResultFile]) -> Option<String> {
    let first = runs.first()?;
    match e {
        Exercise::Always => None,
        Exercise::Workers => idle_workers(&scenario_toml(first)),
        Exercise::ShrinkWorker => runs.iter().all(|r| pool_limit_hits(r) == Some(0)).then(|| {
            "the zswap pool never hit its limit (pool_limit_hit +0), the only thing that wakes \
             shrink_worker"
                .to_string()
        }),
        Exercise::Stores => runs
            .iter()
            .all(|r| r.probes.store.as_ref().is_some_and(|s| s.calls == 0))
            .then(|| "no zswap_store call while measured".into()),
        Exercise::CursorContention => single_walker(runs),
        Exercise::Proactive => runs
            .iter()
            .all(|r| {
                r.proactive_writes.per_thread.is_empty()
                    && r.probes.proactive.as_ref().is_none_or(|p| p.calls == 0)
            })
            .then(|| "the scenario runs no proactive-writeback thread".into()),
        Exercise::Burst => runs
            .iter()
            .all(|r| r.burst.is_none())
            .then(|| "the scenario has no [burst]".into()),
    }
}

/// The scenario as run, parsed loosely: only a few keys are read, and a text that does not
/// parse (or a mock's minimal one) simply proves nothing.
fn scenario_toml(r: &ResultFile) -> toml::Table {
    r.scenario.toml.parse::<toml::Table>().unwrap_or_default()
}

fn idle_workers(t: &toml::Table) -> Option<String> {
    let workers = t.get("worker").and_then(|w| w.as_array());
    match workers {
        None => Some("the scenario has no memory workers".into()),
        Some(ws) if ws.is_empty() => Some("the scenario has no memory workers".into()),
        Some(ws) => ws
            .iter()
            .all(|w| w.get("pattern").and_then(|p| p.as_str()) == Some("idle"))
            .then(|| {
                "every memory worker is idle (fills its memory in set-up, never touches it \
                 while measured)"
                    .into()
            }),
    }
}

/// `pool_limit_hit` end − start, when recorded.
pub fn pool_limit_hits(r: &ResultFile) -> Option<i64> {
    let d = &r.counters.zswap_debugfs;
    Some(d.end.get("pool_limit_hit")? - d.start.get("pool_limit_hit")?)
}

/// Whether shrink_worker provably never ran in this run.
fn shrink_worker_idle(r: &ResultFile) -> bool {
    match &r.probes.shrink_worker {
        Some(s) => s.wakeups == 0,
        None => pool_limit_hits(r) == Some(0),
    }
}

/// Cursor walkers that can run at once: proactive-writeback threads (on kernels where they ran),
/// shrink_worker if it ever woke, and memcg offlining if the scenario churns memcgs.
fn single_walker(runs: &[&ResultFile]) -> Option<String> {
    let threads = runs
        .iter()
        .filter(|r| r.proactive_writes.interface != ProactiveInterface::None)
        .map(|r| r.proactive_writes.per_thread.len())
        .max()
        .unwrap_or(0);
    let worker_idle = runs.iter().all(|r| shrink_worker_idle(r));
    let churn = runs
        .first()
        .is_some_and(|r| scenario_toml(r).contains_key("churn"));
    if threads + usize::from(!worker_idle) + usize::from(churn) > 1 {
        return None;
    }
    let who = match (threads, worker_idle) {
        (0, true) => "no proactive-writeback thread, shrink_worker never woke".to_string(),
        (0, false) => "shrink_worker only".to_string(),
        (1, _) => "1 proactive-writeback thread, shrink_worker never woke".to_string(),
        (n, _) => format!("{n} proactive-writeback threads"),
    };
    Some(format!(
        "one cursor walker at a time ({who}, no memcg churn): nothing to contend with"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::by_name;
    use crate::testing::{MockResult, repeats};

    fn fairness_like(n: u32) -> Vec<ResultFile> {
        let mut v = repeats(n, MockResult::percg);
        for r in &mut v {
            r.scenario.toml = "name = \"f\"\n[[worker]]\nmemcg = \"p/c\"\nsize = \"24M\"\n\
                               pattern = \"idle\"\n[[proactive]]\nmemcg = \"p\"\n"
                .into();
            r.workload.pages_touched = 0;
            r.workload.major_faults = 0;
            r.probes.shrink_worker.as_mut().unwrap().wakeups = 0;
            r.probes.store.as_mut().unwrap().calls = 0;
            r.probes.store.as_mut().unwrap().failures = 0;
            for l in r.probes.locks.as_mut().unwrap() {
                l.contended = 0;
                l.total_wait_ns = 0;
                l.max_wait_ns = 0;
                l.wait = crate::schema::Histogram::empty(crate::schema::Unit::Ns);
            }
            r.counters
                .zswap_debugfs
                .start
                .insert("pool_limit_hit".into(), 7);
            r.counters
                .zswap_debugfs
                .end
                .insert("pool_limit_hit".into(), 7);
        }
        v
    }

    fn why(name: &str, runs: &[ResultFile]) -> Option<String> {
        let refs: Vec<&ResultFile> = runs.iter().collect();
        not_exercised(&by_name(name).unwrap(), &refs)
    }

    #[test]
    fn idle_workers_single_walker_and_no_pool_limit_are_not_exercised() {
        let runs = fairness_like(3);
        assert!(why("workload.pages_per_s", &runs).unwrap().contains("idle"));
        assert!(why("workload.major_faults_per_s", &runs).is_some());
        assert!(
            why("shrink_worker.wakeups_per_s", &runs)
                .unwrap()
                .contains("pool_limit_hit +0")
        );
        // A kernel where only shrink_worker walks (no proactive interface): one walker.
        let mut base = repeats(2, MockResult::baseline);
        for r in &mut base {
            for l in r.probes.locks.iter_mut().flatten() {
                l.contended = 0;
                l.total_wait_ns = 0;
                l.max_wait_ns = 0;
                l.wait = crate::schema::Histogram::empty(crate::schema::Unit::Ns);
            }
        }
        let lock = why("lock.cursor.contended_per_s", &base).unwrap();
        assert!(lock.contains("(shrink_worker only,"), "{lock}");
        assert!(why("store.failures_per_s", &runs).is_some());
        let lock = why("lock.cursor.contended_per_s", &runs).unwrap();
        assert!(
            lock.contains("(1 proactive-writeback thread, shrink_worker never"),
            "{lock}"
        );
        assert!(why("cursor_iter.restart_share", &runs).is_some());
        // Measured in this scenario: the lock is taken, writeback happens.
        for m in [
            "lock.cursor.hold_mean_ns",
            "fairness.proactive_jain",
            "proactive.latency_p99_ns",
            "psi.memory_some_share",
        ] {
            assert_eq!(why(m, &runs), None, "{m}");
        }
    }

    #[test]
    fn a_second_walker_or_a_nonzero_value_means_exercised() {
        // A second proactive thread: contention is possible, so a 0 is a measured 0.
        let mut runs = fairness_like(3);
        let t = runs[0].proactive_writes.per_thread[0].clone();
        runs[0].proactive_writes.per_thread.push(t);
        assert_eq!(why("lock.cursor.contended_per_s", &runs), None);
        // shrink_worker woke once somewhere: a second walker too.
        let mut runs = fairness_like(3);
        runs[2].probes.shrink_worker.as_mut().unwrap().wakeups = 1;
        assert_eq!(why("lock.cursor.contended_per_s", &runs), None);
        // Memcg churn walks cursors when memcgs go offline.
        let mut runs = fairness_like(3);
        runs[0]
            .scenario
            .toml
            .push_str("[churn]\nparent = \"p\"\nrate = 10\n");
        assert_eq!(why("lock.cursor.contended_per_s", &runs), None);
        // Whatever the scenario says, a measured nonzero value was exercised.
        let mut runs = fairness_like(3);
        runs[1].workload.pages_touched = 10;
        assert_eq!(why("workload.pages_per_s", &runs), None);
        // The pool limit was hit in one run.
        let mut runs = fairness_like(3);
        runs[0]
            .counters
            .zswap_debugfs
            .end
            .insert("pool_limit_hit".into(), 9);
        runs[0].probes.shrink_worker = None;
        assert_eq!(why("shrink_worker.wakeups_per_s", &runs), None);
    }

    #[test]
    fn the_mock_presets_exercise_everything() {
        let runs = repeats(3, MockResult::percg);
        // The presets have no [burst]: metrics/burst.rs checks those metrics on burst runs.
        for m in crate::metrics::all()
            .into_iter()
            .filter(|m| m.exercise != Exercise::Burst)
        {
            assert_eq!(why(m.name, &runs), None, "{}", m.name);
        }
    }
}
