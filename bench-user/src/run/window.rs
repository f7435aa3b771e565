//! The edges of the measured window. At its start, a quiet point: workers and pressure pause
//! while the probes attach and the start snapshots are taken; at its end the same snapshots are
//! taken of a system whose load has stopped. Either snapshot waits until writeback has been
//! still for longer than the memcg stats flush period, so the memory.stat deltas and the probe
//! counts describe the same writeback.
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use bench_results::schema::{self, ResultFile};

use super::interrupt::check_interrupt;
use super::load::Pressure;
use crate::machine::cgroup::Tree;
use crate::probes::ProbeSession;
use crate::scenario::Plan;
use crate::workload::counters::{self, Sources};
use crate::workload::memory::{WorkerPool, phase};

pub(super) type Pair = Option<(u64, u64)>;

/// (shrink_memcg primary vs kprobe, spin waits timed vs kprobe entries), cumulative.
fn xcheck_counts(p: &ProbeSession) -> (Pair, Pair) {
    (
        p.shrink_memcg_xcheck().ok().flatten(),
        p.spin_xcheck().ok().flatten(),
    )
}

fn delta2(a: Pair, b: Pair) -> Pair {
    let ((a0, a1), (b0, b1)) = (a?, b?);
    Some((b0.saturating_sub(a0), b1.saturating_sub(a1)))
}

/// The workers' page touches and major faults so far, in total and per worker.
pub(super) struct Totals {
    pub pages: u64,
    pub major_faults: u64,
    pub per_worker: Vec<(String, u64, u64)>,
}

impl Totals {
    pub fn of(pool: &WorkerPool) -> Self {
        let (pages, major_faults) = pool.totals();
        Totals {
            pages,
            major_faults,
            per_worker: pool.per_worker(),
        }
    }
}

/// What the measured window starts from.
pub(super) struct Start {
    /// None when the probes are disabled or did not attach (a warning says why).
    pub probes: Option<ProbeSession>,
    /// The counters read at both edges and by the sampler.
    pub src: Sources,
    pub counters: counters::Snapshot,
    pub probe_counts: Option<schema::Probes>,
    xcheck: Option<(Pair, Pair)>,
    pub totals: Totals,
}

/// Opens the measured window: pause, attach the probes, take the start snapshots, resume, and
/// note the start time in `res`. On Err the pressure threads have been told to stop.
pub(super) async fn open(
    l: &Plan,
    tree: &Tree,
    pool: &mut WorkerPool,
    pressure: &Pressure,
    res: &mut ResultFile,
    interrupted: &AtomicBool,
) -> Result<Start> {
    // A quiet point between warm-up and measure: workers and pressure pause while the probes
    // attach (slow under TCG) and the start snapshots are taken, so the probe counts and the
    // memory.stat deltas cover the same writeback (see `quiet_snapshots`).
    pool.set_phase(phase::PAUSE);
    pressure.pause.stop();
    let mut probes = attach_probes(l, res).await;
    res.kernel.spinlocks = Some(match probes.as_ref() {
        Some(p) => p.spinlocks(),
        None => crate::probes::spinlocks::detect(None, None),
    });
    let memcg_sources: Vec<(String, PathBuf)> = l
        .memcgs
        .iter()
        .map(|m| (tree.cgroup_path(&m.path), tree.dir(&m.path)))
        .collect();
    let src = Sources::system(memcg_sources);
    let quiet = quiet_snapshots(&src, probes.as_mut(), &mut res.warnings, interrupted).await;
    // Cross-check counters at the same quiet point: both mechanisms are then compared over
    // the measured window, not over their different attach times.
    let xcheck0 = probes.as_ref().map(xcheck_counts);
    pool.set_phase(phase::RUN);
    pressure.pause.resume();
    let (c0, p0) = match quiet {
        Ok(x) => x,
        Err(e) => {
            pressure.stop.stop();
            return Err(e);
        }
    };
    let totals = Totals::of(pool);
    res.started_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    Ok(Start {
        probes,
        src,
        counters: c0,
        probe_counts: p0,
        xcheck: xcheck0,
        totals,
    })
}

/// Attaches the probes (unless the scenario or `--no-probes` disabled them) and records the
/// probe plan; when they do not attach, the plan and a warning say why.
async fn attach_probes(l: &Plan, res: &mut ResultFile) -> Option<ProbeSession> {
    let popts = &l.probes;
    let (enabled, opts) = (
        popts.enabled,
        crate::probes::ProbeOptions {
            crosscheck: popts.crosscheck,
            extra_locks: popts.watch_locks.clone(),
            walk_steps: popts.walk_steps,
        },
    );
    // Loading and attaching takes seconds under TCG (BTF parse, verifier): on the blocking
    // pool, so the runtime's thread keeps the pressure threads' bookkeeping and the live line
    // going meanwhile.
    let attached = tokio::task::spawn_blocking(move || {
        if !enabled {
            anyhow::bail!("disabled (--no-probes or [probes] enabled = false)");
        }
        crate::probes::ProbeSession::attach(&opts)
    })
    .await
    .unwrap_or_else(|e| Err(anyhow::anyhow!("the attach task failed: {e}")));
    let mut probes = match attached {
        Ok(p) => Some(p),
        Err(e) => {
            res.warnings.push(format!(
                "probes not attached, every probe metric is unavailable: {e:#}"
            ));
            res.probe_plan.push(schema::PlanEntry {
                metric: "all".into(),
                mechanism: schema::Mechanism::None,
                target: String::new(),
                status: schema::PlanStatus::Unavailable,
                reason: Some(format!("{e:#}")),
            });
            None
        }
    };
    if let Some(p) = probes.as_mut() {
        p.refresh_cgroup_names();
        res.probe_plan = p.plan();
    }
    probes
}

/// What the measured window ends with.
pub(super) struct End {
    pub counters: counters::Snapshot,
    pub probe_counts: Option<schema::Probes>,
    /// shrink_memcg calls (fentry, kprobe) over the window.
    pub xcheck: Pair,
    /// Watched spinlock waits (slow-path waits timed, kprobe entries) over the window.
    pub spin_xcheck: Pair,
}

/// Closes the measured window once the load and the workers stopped: the end snapshots (a
/// failure becomes a warning) and the cross-check counts over the window. Detaches the probes.
pub(super) async fn close(start: &mut Start, warnings: &mut Vec<String>) -> End {
    let mut probes = start.probes.take();
    let (c1, p1) = match quiet_snapshots(
        &start.src,
        probes.as_mut(),
        warnings,
        &AtomicBool::new(false),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => {
            warnings.push(format!("end snapshot: {e:#}"));
            (start.src.snapshot(), None)
        }
    };
    // Two independent mechanisms counting the same calls (fentry and kprobe on shrink_memcg).
    let (xcheck, spin_xcheck) = match (start.xcheck, probes.as_ref().map(xcheck_counts)) {
        (Some(a), Some(b)) => (delta2(a.0, b.0), delta2(a.1, b.1)),
        _ => (None, None),
    };
    End {
        counters: c1,
        probe_counts: p1,
        xcheck,
        spin_xcheck,
    }
}

/// memcg statistics are flushed to memory.stat at least every 2 s (FLUSH_TIME in
/// mm/memcontrol.c); between flushes a read may lag by up to a batch of events per CPU.
const STATS_FLUSH: Duration = Duration::from_millis(2100);

fn wb_fingerprint(p: &schema::Probes) -> Option<(u64, Vec<(u64, u64)>)> {
    p.writeback.as_ref().map(|w| {
        (
            w.pages,
            w.per_memcg.iter().map(|m| (m.cgroup_id, m.pages)).collect(),
        )
    })
}

/// Counter and probe snapshots taken at a moment when writeback has been still for longer than
/// the stats flush period: the BPF writeback counts did not move across a window of more than
/// 2 s that ends after the memory.stat read, so that read is flushed and both describe the same
/// writeback. Gives up after 5 tries with a warning (the cross-check may then be off by the
/// writeback of that moment).
async fn quiet_snapshots(
    src: &Sources,
    probes: Option<&mut ProbeSession>,
    warnings: &mut Vec<String>,
    interrupted: &AtomicBool,
) -> Result<(counters::Snapshot, Option<schema::Probes>)> {
    tokio::time::sleep(STATS_FLUSH).await;
    let Some(p) = probes else {
        return Ok((src.snapshot(), None));
    };
    let mut before = match p.snapshot() {
        Ok(b) => b,
        Err(e) => {
            warnings.push(format!("probe snapshot: {e:#}"));
            return Ok((src.snapshot(), None));
        }
    };
    if before.writeback.is_none() {
        return Ok((src.snapshot(), Some(before)));
    }
    for _ in 0..5 {
        tokio::time::sleep(STATS_FLUSH).await;
        check_interrupt(interrupted)?;
        let c = src.snapshot();
        let after = p.snapshot()?;
        if wb_fingerprint(&before) == wb_fingerprint(&after) {
            return Ok((c, Some(after)));
        }
        before = after;
    }
    warnings.push(
        "writeback never stayed still for 2 s around a snapshot (5 tries): the zswpwb cross-check \
         may be off by the writeback of that moment"
            .into(),
    );
    Ok((src.snapshot(), Some(p.snapshot()?)))
}
