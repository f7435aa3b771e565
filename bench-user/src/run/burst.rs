//! The burst-after-idle experiment inside the measured phase: the request workers start with
//! the phase; the idle window opens with its action (nothing, a plain `memory.reclaim`, or one
//! proactive-writeback call); at the window's end the burst process allocates and fills its
//! memory. Writeback (vmstat zswpwb) and PSI are read at the window's edges, so the record says
//! whether writeback happened before the burst or during it (the positive control).
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench_results::schema::{
    self, ActionCall, Burst, HdrSummary, IdleAction, ProactiveInterface, new_hdr, record_n,
};

use crate::machine::cgroup::Tree;
use crate::machine::write_ctl;
use crate::scenario::Plan;
use crate::workload::memory::{Role, Shared, WorkerPool, hcmd, wstate};
use crate::workload::{Stop, counters, proactive};

/// Tells every request worker the measured phase started at `t0_unix_ns`: they start issuing
/// requests and count their interval log from there.
pub(super) fn start_requests(pool: &WorkerPool, t0_unix_ns: u64) {
    let sh = pool.shared();
    for (i, c) in pool.configs.iter().enumerate() {
        if matches!(c.role, Role::Requests { .. }) {
            let s = sh.slot(i);
            s.start_unix_ns.store(t0_unix_ns, Ordering::SeqCst);
            s.cmd.store(hcmd::START, Ordering::SeqCst);
        }
    }
}

pub(super) fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One `key value` counter of a stat file (/proc/vmstat, memory.stat), as the sampler parses them.
fn stat_value(file: &Path, key: &str) -> Option<u64> {
    let kv = counters::parse_kv(&std::fs::read_to_string(file).ok()?);
    kv.get(key).and_then(|&v| u64::try_from(v).ok())
}

fn zswpwb() -> u64 {
    stat_value(Path::new("/proc/vmstat"), "zswpwb").unwrap_or(0)
}

/// Bytes the memcg of control file `ctl` holds in zswap (memory.stat `zswapped`).
fn zswapped(ctl: &Path) -> Option<u64> {
    stat_value(&ctl.with_file_name("memory.stat"), "zswapped")
}

fn psi() -> Option<counters::PsiRaw> {
    counters::parse_psi(&std::fs::read_to_string("/proc/pressure/memory").ok()?)
}

/// What the burst thread needs, cloned out of the plan and the pool.
pub(super) struct BurstJob {
    plan: crate::scenario::Burst,
    target_dir: std::path::PathBuf,
    iface: ProactiveInterface,
    shared: std::sync::Arc<Shared>,
    slot: usize,
}

impl BurstJob {
    pub fn new(
        l: &Plan,
        tree: &Tree,
        pool: &WorkerPool,
        iface: ProactiveInterface,
    ) -> Option<Self> {
        let b = l.burst.clone()?;
        let slot = pool
            .configs
            .iter()
            .position(|c| matches!(c.role, Role::Burst { .. }))?;
        Some(BurstJob {
            target_dir: tree.dir(&b.target),
            plan: b,
            iface,
            shared: pool.shared(),
            slot,
        })
    }

    /// Runs the idle window and the burst; `t0` is the measured phase's start. Returns early
    /// (completion None) when `stop` is set.
    pub fn run(self, t0: Instant, stop: &Stop) -> Burst {
        let b = &self.plan;
        let wb0 = zswpwb();
        let action_call = self.act(t0);
        let idle_left = (t0 + b.idle).saturating_duration_since(Instant::now());
        let reached = stop.sleep(idle_left);
        let wb1 = zswpwb();
        let psi1 = psi();
        let mut completion_ns = None;
        if reached {
            let s = self.shared.slot(self.slot);
            s.cmd.store(hcmd::ALLOC, Ordering::SeqCst);
            s.seq.fetch_add(1, Ordering::SeqCst);
            loop {
                let st = s.state.load(Ordering::SeqCst);
                if st == wstate::HOLDING {
                    completion_ns = Some(s.fill_ns.load(Ordering::SeqCst));
                    break;
                }
                if st == wstate::FAILED || !stop.sleep(Duration::from_millis(2)) {
                    break;
                }
            }
        }
        let (wb2, psi2) = (zswpwb(), psi());
        let (writeback_idle, writeback_burst) = (wb1.saturating_sub(wb0), wb2.saturating_sub(wb1));
        let control = if completion_ns.is_none() {
            Err("not exercised: the burst did not finish within the measured phase".to_string())
        } else {
            schema::positive_control(b.action, writeback_idle, writeback_burst)
        };
        let stall = |f: fn(&counters::PsiRaw) -> u64| {
            Some(f(psi2.as_ref()?).saturating_sub(f(psi1.as_ref()?)))
        };
        Burst {
            action: b.action,
            target: b.target.clone(),
            amount: b.amount,
            action_call,
            memcg: b.memcg.clone(),
            size: b.size,
            idle_ns: b.idle.as_nanos() as u64,
            completion_ns,
            writeback_idle,
            writeback_burst,
            psi_some_us: stall(|p| p.some_total_us),
            psi_full_us: stall(|p| p.full_total_us),
            exercised: control.is_ok(),
            note: control.err(),
        }
    }

    /// The idle window's action, timed.
    fn act(&self, t0: Instant) -> Option<ActionCall> {
        let b = &self.plan;
        let (file, text) = match b.action {
            IdleAction::Nothing => return None,
            IdleAction::Reclaim => ("memory.reclaim", b.amount.to_string()),
            IdleAction::Proactive => match proactive::request(self.iface, b.amount) {
                Some(r) => r,
                None => {
                    return Some(ActionCall {
                        start_ns: 0,
                        ns: 0,
                        calls: 0,
                        ret: "n/a: this kernel has no proactive-writeback interface".into(),
                        returns: Default::default(),
                        latency: HdrSummary::of(&new_hdr()),
                    });
                }
            },
        };
        // Leave the burst its start: no write begins in the window's last tenth.
        let until = t0 + b.idle.mul_f64(0.9);
        Some(repeated_writes(
            &self.target_dir.join(file),
            &text,
            t0,
            until,
        ))
    }
}

/// Writes `text` to `path` until a write meets its amount (returns 0), the memcg has nothing
/// left in zswap, [`schema::ACTION_CALLS_MAX`] writes were made, or `until` passed: what a
/// userspace agent does with memory.reclaim, which answers -EAGAIN when it did less than asked
/// (a first proactive pass may only rotate referenced entries). Times from `t0`.
fn repeated_writes(path: &Path, text: &str, t0: Instant, until: Instant) -> ActionCall {
    let first = Instant::now();
    let mut h = new_hdr();
    let mut returns = std::collections::BTreeMap::new();
    let mut ret = String::new();
    let mut calls = 0;
    while calls < schema::ACTION_CALLS_MAX && (calls == 0 || Instant::now() < until) {
        let start = Instant::now();
        let r = write_ctl(path, text);
        record_n(&mut h, start.elapsed().as_nanos() as u64, 1);
        calls += 1;
        ret = proactive::outcome_key(&r);
        *returns.entry(ret.clone()).or_insert(0) += 1;
        if r.is_ok() || zswapped(path) == Some(0) {
            break;
        }
    }
    ActionCall {
        start_ns: first.duration_since(t0).as_nanos() as u64,
        ns: first.elapsed().as_nanos() as u64,
        calls,
        ret,
        returns,
        latency: HdrSummary::of(&h),
    }
}
