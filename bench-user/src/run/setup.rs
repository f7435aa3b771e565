//! The set-up phase of one repeat, bounded by `phases.setup_timeout`: zswap parameters, swap,
//! the cgroup tree (and churn's parent), which proactive-writeback interface the kernel has,
//! the workers (forked, placed, filled), and the one-off pressure (push to zswap, memory
//! limits). Then the warm-up and measured phases run on a small async runtime (see `measure`).
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use bench_results::human::fmt_bytes;
use bench_results::schema::{self, ProactiveInterface, ResultFile};

use super::interrupt::check_interrupt;
use super::measure::orchestrate;
use crate::machine::cgroup::{CGROUP_MOUNT, Tree};
use crate::machine::state::Guard;
use crate::machine::{swap, zswap};
use crate::scenario::{Plan, PressureAction};
use crate::workload::churn;
use crate::workload::memory::{Role, WorkerConfig, WorkerPool, phase, wstate};
use crate::workload::pressure;
use crate::workload::proactive;

pub(super) fn run_phases(
    dir: &Path,
    l: &Plan,
    run_id: &str,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
    guard: &mut Guard,
    pool_slot: &mut Option<WorkerPool>,
) -> Result<()> {
    let t_setup = Instant::now();
    zswap::set_params(guard, &l.zswap.params())?;
    check_interrupt(interrupted)?;
    let sw = swap::setup(&l.swap, run_id, guard)?;
    eprintln!("swap: {}", sw.what);
    log::debug!("swap area {} of {} bytes", sw.path.display(), sw.size);
    check_interrupt(interrupted)?;

    let tree = Tree::new(Path::new(CGROUP_MOUNT), run_id);
    tree.create(&l.memcgs, guard)?;
    let churn_job = l.churn.as_ref().map(|c| churn::ChurnJob {
        parent: c.parent.clone(),
        rate: c.rate,
        live: c.live,
        size: c.size,
        helpers: vec![],
    });
    if let Some(j) = &churn_job {
        churn::setup(&tree, j)?;
    }
    let iface = detect_proactive(l, &tree, res);
    let (pool, helpers) = start_workers(dir, l, &tree, res, pool_slot, t_setup, interrupted)?;
    one_off_pressure(l, &tree, res)?;

    // Built only now: the workers are forked, and fork needs a single-threaded parent. One
    // thread runs the orchestration, the sampler and the live line; every thread that blocks
    // in the kernel (memory.reclaim writes, churn, the probe attach) gets its own blocking-pool
    // thread, so the pool is sized to exactly those and none waits for another to finish.
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(blocking_threads(l))
        .enable_all()
        .build()?;
    let churn_job = churn_job.map(|mut j| {
        j.helpers = helpers.iter().map(|&i| (i, pool.pids[i])).collect();
        j
    });
    rt.block_on(orchestrate(
        dir,
        l,
        &tree,
        pool,
        res,
        interrupted,
        iface,
        churn_job,
    ))
}

/// Threads of the measured phase that block in the kernel: the pressure threads, the
/// proactive-writeback threads, churn and the probe attach (each at most one at a time).
fn blocking_threads(l: &Plan) -> usize {
    let pressure: usize = l
        .pressure
        .iter()
        .map(|p| p.running_threads() as usize)
        .sum();
    pressure + l.proactive_threads.len() + usize::from(l.burst.is_some()) + 2
}

/// Which proactive interface this kernel has (probe on an empty memcg).
fn detect_proactive(l: &Plan, tree: &Tree, res: &mut ResultFile) -> ProactiveInterface {
    let det = proactive::detect_in(&tree.root);
    res.proactive_writes.interface = det.interface;
    log::info!(
        "proactive writeback interface: {:?} ({})",
        det.interface,
        det.evidence.join("; ")
    );
    if l.burst
        .as_ref()
        .is_some_and(|b| b.action == crate::scenario::IdleAction::Proactive)
        && det.interface == ProactiveInterface::None
    {
        res.warnings.push(
            "idle action \"proactive\" did not run: this kernel has no proactive writeback interface; the burst is not exercised".into(),
        );
    }
    if !l.proactive_threads.is_empty() && det.interface == ProactiveInterface::None {
        res.warnings.push(format!(
            "the scenario's {} proactive-writeback thread(s) did not run: this kernel has no proactive writeback interface (tried: {})",
            l.proactive_threads.len(),
            det.evidence.join("; ")
        ));
    }
    det.interface
}

/// Workers: fork while single-threaded, place, fill. Returns the pool and the indices of the
/// churn helpers in it.
fn start_workers<'p>(
    dir: &Path,
    l: &Plan,
    tree: &Tree,
    res: &mut ResultFile,
    pool_slot: &'p mut Option<WorkerPool>,
    t_setup: Instant,
    interrupted: &Arc<AtomicBool>,
) -> Result<(&'p mut WorkerPool, Vec<usize>)> {
    let (configs, targets, helpers) = worker_configs(l, res.seed, dir);
    let pool = pool_slot.insert(WorkerPool::spawn(configs, &targets, res.seed)?);
    for (t, m) in targets.iter().zip(&pool.template_ratio) {
        if (t - m).abs() > 0.05 {
            res.warnings.push(format!(
                "compressibility target {t:.2} could not be met: lz4 measured {m:.3}"
            ));
        }
    }
    for (i, &pid) in pool.pids.iter().enumerate() {
        tree.move_pid(&pool.configs[i].memcg, pid)?;
    }
    pool.set_phase(phase::FILL);
    let fill_left = l.phases.setup_timeout.saturating_sub(t_setup.elapsed());
    let flag = Arc::clone(interrupted);
    pool.wait_for(wstate::FILLED, fill_left, &move || {
        flag.load(Ordering::SeqCst)
    })?;
    eprintln!(
        "set-up done in {:.1}s ({} workers filled)",
        t_setup.elapsed().as_secs_f64(),
        l.workers.len()
    );
    Ok((pool, helpers))
}

/// Pressure that acts once, before the warm-up: a push to zswap through memory.reclaim, and
/// memory limits.
fn one_off_pressure(l: &Plan, tree: &Tree, res: &mut ResultFile) -> Result<()> {
    // Every push first, then every limit: the pushed data leaves before a limit tightens.
    for p in &l.pressure {
        let PressureAction::Push { size } = p.action else {
            continue;
        };
        for t in &p.targets {
            let r = pressure::push(&tree.dir(t), size);
            log::info!("push: memory.reclaim of {} on {t}: {r}", fmt_bytes(size));
            if r != schema::ret::OK && r != schema::ret::EAGAIN {
                res.warnings
                    .push(format!("push to zswap on {t} returned {r}"));
            }
        }
    }
    for p in &l.pressure {
        if let PressureAction::Limit { size } = p.action {
            for t in &p.targets {
                pressure::apply_limit(&tree.dir(t), size)?;
            }
        }
    }
    Ok(())
}

/// Distinct compressibility targets and, per worker, the index of its template.
fn templates(l: &Plan) -> (Vec<f64>, Vec<usize>) {
    let mut targets: Vec<f64> = Vec::new();
    let mut idx = Vec::new();
    for w in &l.workers {
        let c = w.compressibility;
        let i = match targets.iter().position(|&t| t == c) {
            Some(i) => i,
            None => {
                targets.push(c);
                targets.len() - 1
            }
        };
        idx.push(i);
    }
    (targets, idx)
}

/// One config per worker process, then the churn helpers (their indices returned) and the
/// burst process; request workers log to `latency-<k>.hlog` in `dir`.
fn worker_configs(l: &Plan, seed: u64, dir: &Path) -> (Vec<WorkerConfig>, Vec<f64>, Vec<usize>) {
    let (mut targets, idx) = templates(l);
    let mut n_req = 0;
    let mut v: Vec<WorkerConfig> = l
        .workers
        .iter()
        .zip(&idx)
        .enumerate()
        .map(|(k, (w, &t))| WorkerConfig {
            memcg: w.memcg.clone(),
            role: if let Some((rate, pages)) = w.requests {
                n_req += 1;
                Role::Requests {
                    size: w.size,
                    hot_fraction: w.hot_fraction,
                    hot_share: w.hot_share,
                    rate,
                    pages,
                    seed: seed.wrapping_mul(1_000_003).wrapping_add(k as u64),
                    template: t,
                    hlog: dir.join(format!("latency-{}.hlog", n_req - 1)),
                }
            } else {
                Role::Toucher {
                    size: w.size,
                    threads: w.threads,
                    pattern: w.pattern,
                    hot_fraction: w.hot_fraction,
                    hot_share: w.hot_share,
                    chunk: w.chunk,
                    interval: w.interval,
                    seed: seed.wrapping_mul(1_000_003).wrapping_add(k as u64),
                    template: t,
                }
            },
        })
        .collect();
    let mut helpers = Vec::new();
    if let Some(c) = l.churn.as_ref().filter(|c| c.size > 0) {
        targets.push(0.5);
        let t = targets.len() - 1;
        for _ in 0..c.live {
            helpers.push(v.len());
            v.push(WorkerConfig {
                memcg: format!("{}/{}", c.parent, churn::HOME),
                role: Role::ChurnHelper {
                    size: c.size,
                    template: t,
                },
            });
        }
    }
    if let Some(b) = &l.burst {
        // The burst's pages are like the other workers' (the first template).
        v.push(WorkerConfig {
            memcg: b.memcg.clone(),
            role: Role::Burst {
                size: b.size,
                template: 0,
            },
        });
        if targets.is_empty() {
            targets.push(0.5);
        }
    }
    (v, targets, helpers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    #[test]
    fn worker_configs_share_templates_and_add_churn_helpers() {
        let text = r#"
[phases]
measure = "5s"
[[memcg]]
name = "a"
count = 3
[[memcg]]
name = "churn"
[[worker]]
memcg = "a"
size = "1M"
compressibility = 0.3
[churn]
parent = "churn"
rate = 5
live = 2
size = "1M"
"#;
        let l = scenario::parse(text, "t", "t").unwrap();
        let (cfgs, targets, helpers) = worker_configs(&l, 1, Path::new("/nonexistent"));
        assert_eq!(cfgs.len(), 5);
        assert_eq!(targets, vec![0.3, 0.5]);
        assert_eq!(helpers, vec![3, 4]);
        assert_eq!(cfgs[4].memcg, "churn/churn-home");
        assert!(matches!(cfgs[0].role, Role::Toucher { template: 0, .. }));
    }
}
