//! The threads that load the kernel beside the workers. Pressure (memory.reclaim and
//! memory.high squeezes) runs from the warm-up to the end of the measured phase and holds still
//! at the quiet point; proactive writeback and memcg churn run in the measured phase only, so
//! their counts and return codes describe exactly the measured window.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bench_results::schema::ProactiveInterface;

use crate::machine::cgroup::Tree;
use crate::scenario::{Plan, PressureAction};
use crate::workload::memory::{self, WorkerPool};
use crate::workload::pressure::{self, ReclaimStats};
use crate::workload::proactive::{self, Job};
use crate::workload::{Stop, churn};

type Joined<T> = tokio::task::JoinHandle<T>;

/// The pressure threads of the scenario's `[[pressure]]` sections that keep running
/// (`limit` and `push` act once, in set-up).
pub(super) struct Pressure {
    /// What the reclaim threads did so far (shown live and sampled).
    pub reclaim: Arc<ReclaimStats>,
    pub stop: Stop,
    /// Set while the threads must hold still (the quiet point).
    pub pause: Stop,
    tasks: Vec<Joined<pressure::PressureResult>>,
}

impl Pressure {
    /// Starts the threads; they run until `stop`.
    pub fn start(l: &Plan, tree: &Tree) -> Self {
        let reclaim = Arc::new(ReclaimStats::default());
        let pressure_stop = Stop::new();
        let pressure_pause = Stop::new();
        let mut pressure_tasks: Vec<Joined<pressure::PressureResult>> = Vec::new();
        for p in &l.pressure {
            for t in &p.targets {
                for _ in 0..p.threads {
                    let (dir, stop, pause, live) = (
                        tree.dir(t),
                        pressure_stop.clone(),
                        pressure_pause.clone(),
                        Arc::clone(&reclaim),
                    );
                    pressure_tasks.push(match p.action {
                        PressureAction::Reclaim { size, rate } => {
                            tokio::task::spawn_blocking(move || {
                                pressure::reclaim_thread(dir, size, rate, stop, pause, live)
                            })
                        }
                        PressureAction::HighSqueeze { size, period } => {
                            tokio::task::spawn_blocking(move || {
                                pressure::squeeze_thread(dir, size, period, stop, pause)
                            })
                        }
                        // They act once, in set-up, and have no threads.
                        PressureAction::Limit { .. } | PressureAction::Push { .. } => continue,
                    });
                }
            }
        }
        Pressure {
            reclaim,
            stop: pressure_stop,
            pause: pressure_pause,
            tasks: pressure_tasks,
        }
    }

    /// What each thread did, in start order (call after `stop`).
    pub async fn join(self) -> Result<Vec<pressure::PressureResult>> {
        let mut pressure_results = Vec::new();
        for t in self.tasks {
            pressure_results.push(t.await?);
        }
        Ok(pressure_results)
    }
}

/// Proactive writeback threads and churn: measured phase only.
pub(super) struct MeasuredLoad {
    pub stop: Stop,
    /// Proactive writeback calls so far, over all threads (shown live).
    pub calls: Arc<AtomicU64>,
    pub churn_stats: Arc<churn::ChurnStats>,
    proactive_tasks: Vec<Joined<proactive::Recorder>>,
    churn_task: Option<Joined<Vec<String>>>,
}

/// Whether `t` is the only proactive thread working in its target's subtree (above or below
/// it): then the target's proactive-writeback stat changes by what this thread wrote back.
pub(super) fn alone_in_subtree(l: &Plan, t: &crate::scenario::ProactiveThread) -> bool {
    l.proactive_threads
        .iter()
        .filter(|o| {
            crate::scenario::is_under(&o.target, &t.target)
                || crate::scenario::is_under(&t.target, &o.target)
        })
        .count()
        == 1
}

impl MeasuredLoad {
    /// Starts a thread per proactive-writeback target (none when the kernel has no interface)
    /// and the churn thread; they run until `stop`.
    pub fn start(
        l: &Plan,
        tree: &Tree,
        pool: &WorkerPool,
        iface: ProactiveInterface,
        churn_job: Option<churn::ChurnJob>,
    ) -> Self {
        let measure_stop = Stop::new();
        let mut serial: BTreeMap<usize, Arc<Mutex<()>>> = BTreeMap::new();
        let mut proactive_tasks = Vec::new();
        let calls = Arc::new(AtomicU64::new(0));
        if iface != ProactiveInterface::None {
            for t in &l.proactive_threads {
                let job = Job {
                    dir: tree.dir(&t.target),
                    interface: iface,
                    budget: t.budget,
                    interval: t.interval,
                    count: t.count,
                    serial: t
                        .serial_group
                        .map(|g| Arc::clone(serial.entry(g).or_default())),
                    stat: alone_in_subtree(l, t).then(|| tree.dir(&t.target).join("memory.stat")),
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
            let (tree, stop, stats) =
                (tree.clone(), measure_stop.clone(), Arc::clone(&churn_stats));
            let shared: Arc<memory::Shared> = pool.shared();
            tokio::task::spawn_blocking(move || {
                churn::run(&tree, (j.size > 0).then_some(&*shared), &j, &stop, &stats)
            })
        });

        MeasuredLoad {
            stop: measure_stop,
            calls,
            churn_stats,
            proactive_tasks,
            churn_task,
        }
    }

    /// The proactive threads' records, in thread order (call after `stop`); what went wrong in
    /// churn is added to `warnings`.
    pub async fn join(self, warnings: &mut Vec<String>) -> Result<Vec<proactive::Recorder>> {
        let mut recorders = Vec::new();
        for t in self.proactive_tasks {
            recorders.push(t.await?);
        }
        if let Some(t) = self.churn_task {
            for p in t.await? {
                warnings.push(format!("churn: {p}"));
            }
        }
        Ok(recorders)
    }
}

/// What the load did, for the log.
pub(super) fn log_results(
    pressure_results: &[pressure::PressureResult],
    churn_stats: &churn::ChurnStats,
) {
    for p in pressure_results {
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
}
