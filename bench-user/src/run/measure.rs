//! The warm-up and the measured phase of one repeat, in order: pressure threads start and the
//! workers run; warm-up (nothing recorded); the quiet point that opens the measured window;
//! the sampler, proactive writeback and churn for the measured phase only; then the load stops,
//! the workers stop, the window closes on a quiet system, and `res` is filled.
//!
//! The pieces live beside this file: `load` (the threads), `window` (the snapshots at the
//! window's edges), `progress` (the wait and its live line) and `record` (the result's fields).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use bench_results::schema::{self, ProactiveInterface, ResultFile};

use super::burst;
use super::load::{self, MeasuredLoad, Pressure};
use super::progress::wait_phase;
use super::record;
use super::window::{self, Start, Totals};
use crate::machine::cgroup::Tree;
use crate::scenario::Plan;
use crate::workload::churn;
use crate::workload::counters::{self, Sampler};
use crate::workload::memory::{self, WorkerPool, phase};
use crate::workload::pressure::ReclaimStats;

/// Runs the warm-up and the measured phase on the workers set-up started, filling `res`. An
/// error in the measured phase's wait (a signal, a dead worker) still leaves a filled `res`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn orchestrate(
    dir: &std::path::Path,
    l: &Plan,
    tree: &Tree,
    pool: &mut WorkerPool,
    res: &mut ResultFile,
    interrupted: &Arc<AtomicBool>,
    iface: ProactiveInterface,
    churn_job: Option<churn::ChurnJob>,
) -> Result<()> {
    let pressure = Pressure::start(l, tree);
    pool.set_phase(phase::RUN);
    let no_calls = || 0u64;

    // Warm-up.
    if !l.phases.warmup.is_zero() {
        log::info!("warm-up {:?}", l.phases.warmup);
        let r = wait_phase(
            "warm-up",
            l.phases.warmup,
            pool,
            tree,
            &pressure.reclaim,
            &no_calls,
            interrupted,
        )
        .await;
        if let Err(e) = r {
            pressure.stop.stop();
            return Err(e);
        }
    }

    let mut start = window::open(l, tree, pool, &pressure, res, interrupted).await?;
    super::fault::inject_if_armed(tree, pool);
    let sampler = start_sampler(pool, &start, &pressure.reclaim);
    let load = MeasuredLoad::start(l, tree, pool, iface, churn_job);
    let t_measure = Instant::now();
    burst::start_requests(pool, burst::unix_now_ns());
    let burst_stop = crate::workload::Stop::new();
    let burst_task = burst::BurstJob::new(l, tree, pool, iface).map(|j| {
        let stop = burst_stop.clone();
        tokio::task::spawn_blocking(move || j.run(t_measure, &stop))
    });

    log::info!("measure {:?}", l.phases.measure);
    let calls_now = {
        let c = Arc::clone(&load.calls);
        move || c.load(Ordering::Relaxed)
    };
    let measured = wait_phase(
        "measure",
        l.phases.measure,
        pool,
        tree,
        &pressure.reclaim,
        &calls_now,
        interrupted,
    )
    .await;
    let duration = t_measure.elapsed();

    // Stop the load, then the workers, then read the counters of a quiet system.
    load.stop.stop();
    pressure.stop.stop();
    burst_stop.stop();
    if let Some(t) = burst_task {
        res.burst = Some(t.await?);
    }
    let churn_stats = Arc::clone(&load.churn_stats);
    let recorders = load.join(&mut res.warnings).await?;
    let pressure_results = pressure.join().await?;
    let totals = Totals::of(pool);
    let compressibility = pool
        .measured_ratio()
        .or_else(|| pool.template_ratio.first().copied());
    pool.stop(Duration::from_secs(10));
    // The request workers wrote their logs' last interval on STOP.
    res.latency = super::latency::records(pool, dir, res.burst.as_ref())?;
    let samples = sampler.finish().await;
    let end = window::close(&mut start, &mut res.warnings).await;

    res.duration_ns = duration.as_nanos() as u64;
    res.counters = counters::to_counters(&start.counters, &end.counters);
    res.events = record::events(&pool.deaths, &res.counters, tree);
    res.timeseries = samples;
    res.workload = record::workload(
        tree,
        &start.totals,
        &totals,
        res.duration_ns,
        compressibility,
    );
    res.proactive_writes.per_thread =
        record::proactive_records(l, tree, &res.counters, recorders, iface);
    load::log_results(&pressure_results, &churn_stats);
    let churned = std::mem::take(&mut *churn_stats.names.lock().unwrap_or_else(|e| e.into_inner()));
    record::probes(
        res,
        start.probe_counts,
        end.probe_counts,
        end.xcheck,
        end.spin_xcheck,
        &churned,
    );
    measured
}

/// Starts the sampler of the measured phase.
fn start_sampler(pool: &WorkerPool, start: &Start, reclaim: &Arc<ReclaimStats>) -> Sampler {
    let (pages0, majflt0) = (start.totals.pages, start.totals.major_faults);
    // Sampler: kernel counters + workload counters + per-lock contention.
    // The callback owns the lock reader (which caches cgroup names between samples).
    let mut lock_sampler = start.probes.as_ref().and_then(|p| p.lock_sampler());
    let shared_totals = {
        let sh: Arc<memory::Shared> = pool.shared();
        let n = pool.pids.len();
        let reclaim = Arc::clone(reclaim);
        move || {
            let pages: u64 = (0..n)
                .map(|i| sh.slot(i).pages_touched.load(Ordering::Relaxed))
                .sum();
            let majflt: u64 = (0..n)
                .map(|i| sh.slot(i).major_faults.load(Ordering::Relaxed))
                .sum();
            let mut m = BTreeMap::new();
            m.insert(
                schema::ts_key::workload("pages_touched"),
                pages.saturating_sub(pages0) as f64,
            );
            m.insert(
                schema::ts_key::workload("major_faults"),
                majflt.saturating_sub(majflt0) as f64,
            );
            m.insert(
                schema::ts_key::workload("reclaim_writes"),
                reclaim.writes.load(Ordering::Relaxed) as f64,
            );
            m.insert(
                schema::ts_key::workload("reclaim_eagain"),
                reclaim.eagain.load(Ordering::Relaxed) as f64,
            );
            if let Some(ls) = lock_sampler.as_mut() {
                m.extend(ls.sample());
            }
            m
        }
    };
    Sampler::start(
        start.src.clone(),
        start.counters.clone(),
        Duration::from_secs(1),
        Box::new(shared_totals),
    )
}
