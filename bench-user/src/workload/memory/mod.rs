//! Memory workers: processes placed in their memcg that fill anonymous memory with data of a
//! target lz4 compression ratio (calibrated and *measured* with lz4, zswap's usual compressor,
//! page by page as zswap compresses), then touch it sequentially, randomly or hot/cold, counting
//! pages touched and major faults.
//!
//! A memcg charges by process, so each worker is its own process. They are forked by the runner
//! while it is still single-threaded (before the tokio runtime, progress bar and samplers
//! exist), die with it (PR_SET_PDEATHSIG), and talk to it through a small MAP_SHARED region of
//! atomics: the runner moves each pid into its memcg, then flips the phase word; the workers
//! publish their state and counters.
//!
//! Parts: [`pages`] (page contents of a target ratio), [`control`] (the shared region),
//! [`worker`] (what a forked worker does); this file is the runner's side, [`WorkerPool`].
pub mod control;
pub mod pages;
pub mod requests;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use nix::sys::signal::{SigHandler, Signal, kill, signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getppid};

pub use control::{Shared, hcmd, helper_cmd, phase, wstate};
pub use worker::{Role, WorkerConfig};

use pages::Template;

pub struct WorkerPool {
    shared: Arc<Shared>,
    pub configs: Vec<WorkerConfig>,
    /// One per config; negated once reaped.
    pub pids: Vec<i32>,
    /// Measured template ratio per template (compressed/original).
    pub template_ratio: Vec<f64>,
    /// Workers that died before the pool stopped them, in the order they were found.
    pub deaths: Vec<Death>,
}

/// A worker that died while it should have been running.
#[derive(Debug, Clone, PartialEq)]
pub struct Death {
    /// "worker" (a memory worker) or "churn helper" (the runner's helper that fills churned
    /// memcgs).
    pub role: &'static str,
    pub index: usize,
    pub pid: i32,
    pub memcg: String,
    /// Killed by SIGKILL (what the OOM killer sends).
    pub sigkill: bool,
    /// "was killed by SIGKILL", "exited with status 1 (errno 12)".
    pub how: String,
}

/// The forked child's side of [`WorkerPool::spawn`]: never returns.
fn child_entry(
    shared: &Shared,
    parent: Pid,
    i: usize,
    cfg: &WorkerConfig,
    templates: &[Template],
) -> ! {
    // Die with the runner; if it already died before this took effect, leave now.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let code = if getppid() != parent {
        1
    } else {
        // SAFETY: SIG_IGN and SIG_DFL install no handler code, so no handler can run at an
        // unsafe point. Ctrl-C goes to the whole process group: the runner stops the workers
        // itself.
        unsafe {
            let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
            let _ = signal(Signal::SIGTERM, SigHandler::SigDfl);
            let _ = signal(Signal::SIGHUP, SigHandler::SigDfl);
        }
        worker::child_main(shared, i, cfg, templates)
    };
    // SAFETY: _exit has no preconditions. It is used rather than process::exit so the child
    // neither runs the runner's atexit handlers nor flushes its copy of the runner's stdio
    // buffers.
    unsafe { libc::_exit(code) }
}

impl WorkerPool {
    /// Calibrates the templates, then forks one process per config. Call while the process is
    /// single-threaded. The children wait (phase HOLD) until the phase is set to FILL.
    pub fn spawn(configs: Vec<WorkerConfig>, targets: &[f64], seed: u64) -> Result<WorkerPool> {
        let templates: Vec<Template> = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| Template::calibrate(t, seed.wrapping_add(i as u64)))
            .collect();
        let shared = Arc::new(Shared::new(configs.len())?);
        shared.set_phase(phase::HOLD);
        let parent = Pid::this();
        let mut pids = Vec::new();
        for (i, cfg) in configs.iter().enumerate() {
            // SAFETY: the runner forks before it starts other threads (see `spawn`'s doc), so
            // no lock is held by a thread that does not exist in the child; the child only
            // maps memory, uses atomics and its own threads, and leaves by _exit.
            match unsafe { fork() } {
                Err(e) => {
                    for &p in &pids {
                        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                    }
                    bail!("fork for worker {i} ({}): {e}", cfg.memcg);
                }
                Ok(ForkResult::Child) => child_entry(&shared, parent, i, cfg, &templates),
                Ok(ForkResult::Parent { child }) => {
                    shared.slot(i).state.store(wstate::FORKED, Ordering::SeqCst);
                    pids.push(child.as_raw());
                }
            }
        }
        Ok(WorkerPool {
            shared,
            configs,
            pids,
            template_ratio: templates.iter().map(|t| t.measured).collect(),
            deaths: Vec::new(),
        })
    }

    /// The control region, for threads that follow the workers' counters or command the churn
    /// helpers; it stays mapped as long as any clone lives.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    pub fn set_phase(&self, p: u32) {
        self.shared.set_phase(p);
    }

    /// Waits until every toucher reached `state` (or later), failing when a worker died (e.g.
    /// OOM-killed), on timeout, or when `interrupted` says so.
    pub fn wait_for(
        &mut self,
        state: u32,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<()> {
        let end = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            let pending: Vec<usize> = (0..self.pids.len())
                .filter(|&i| self.configs[i].role.fills_in_setup())
                .filter(|&i| self.shared.slot(i).state.load(Ordering::SeqCst) < state)
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if interrupted() {
                bail!("interrupted");
            }
            if Instant::now() >= end {
                let names: Vec<String> = pending
                    .iter()
                    .take(5)
                    .map(|&i| format!("{} (pid {})", self.configs[i].memcg, self.pids[i]))
                    .collect();
                bail!(
                    "{} worker(s) did not get ready within {:?}: {}; the guest may be too slow for this scenario (raise phases.setup_timeout)",
                    pending.len(),
                    timeout,
                    names.join(", ")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Errors if a worker exited before being told to stop.
    pub fn check_alive(&mut self) -> Result<()> {
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            if pid <= 0 {
                continue;
            }
            let (how, sigkill) = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _)) => (
                    "was killed by SIGKILL (the OOM killer? check the memcg's memory.events)"
                        .to_string(),
                    true,
                ),
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    (format!("died from signal {}", sig as i32), false)
                }
                Ok(WaitStatus::Exited(_, status)) => {
                    let errno = self.shared.slot(i).errno.load(Ordering::SeqCst);
                    (
                        format!("exited with status {status} (errno {errno})"),
                        false,
                    )
                }
                // Still running (or not ours to wait for).
                _ => continue,
            };
            self.pids[i] = -pid;
            if self.shared.phase() != phase::STOP {
                let memcg = self.configs[i].memcg.clone();
                self.deaths.push(Death {
                    role: match self.configs[i].role {
                        Role::Toucher { .. } => "worker",
                        Role::Requests { .. } => "request worker",
                        Role::ChurnHelper { .. } => "churn helper",
                        Role::Burst { .. } => "burst",
                    },
                    index: i,
                    pid,
                    memcg: memcg.clone(),
                    sigkill,
                    how: how.clone(),
                });
                bail!("worker {i} in {memcg} (pid {pid}) {how}");
            }
        }
        Ok(())
    }

    pub fn totals(&self) -> (u64, u64) {
        let mut t = (0, 0);
        for i in 0..self.pids.len() {
            let s = self.shared.slot(i);
            t.0 += s.pages_touched.load(Ordering::Relaxed);
            t.1 += s.major_faults.load(Ordering::Relaxed);
        }
        t
    }

    /// Per worker (memcg, pages touched, major faults).
    pub fn per_worker(&self) -> Vec<(String, u64, u64)> {
        (0..self.pids.len())
            .filter(|&i| self.configs[i].role.fills_in_setup())
            .map(|i| {
                let s = self.shared.slot(i);
                (
                    self.configs[i].memcg.clone(),
                    s.pages_touched.load(Ordering::Relaxed),
                    s.major_faults.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Mean of the workers' own measurements of their filled pages (compressed/original).
    pub fn measured_ratio(&self) -> Option<f64> {
        let v: Vec<f64> = (0..self.pids.len())
            .map(|i| self.shared.slot(i).ratio_ppm.load(Ordering::Relaxed))
            .filter(|&p| p > 0)
            .map(|p| p as f64 / 1e6)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Tells everyone to stop, waits up to `grace`, then SIGKILLs and reaps the rest.
    pub fn stop(&mut self, grace: Duration) {
        self.shared.set_phase(phase::STOP);
        let end = Instant::now() + grace;
        loop {
            let mut alive = 0;
            for pid in self.pids.iter_mut().filter(|p| **p > 0) {
                let reaped = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG))
                    .is_ok_and(|st| st.pid() == Some(Pid::from_raw(*pid)));
                if reaped {
                    *pid = -*pid;
                } else {
                    alive += 1;
                }
            }
            if alive == 0 {
                return;
            }
            if Instant::now() >= end {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in self.pids.iter_mut().filter(|p| **p > 0) {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(*pid), None);
            *pid = -*pid;
        }
    }

    /// Pids still running (positive entries).
    #[cfg(test)]
    pub fn live_pids(&self) -> Vec<(usize, i32)> {
        self.pids
            .iter()
            .enumerate()
            .filter(|(_, p)| **p > 0)
            .map(|(i, p)| (i, *p))
            .collect()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{PAGE, Pattern};

    #[test]
    fn forked_workers_fill_touch_and_report() {
        // Runs without root or cgroups: the processes stay in the test's own cgroup.
        let cfg = |pattern| WorkerConfig {
            memcg: "t".into(),
            role: Role::Toucher {
                size: 64 * PAGE,
                threads: 2,
                pattern,
                hot_fraction: 0.2,
                hot_share: 0.9,
                chunk: PAGE,
                interval: None,
                seed: 1,
                template: 0,
            },
        };
        let mut pool = WorkerPool::spawn(
            vec![
                cfg(Pattern::Sequential),
                cfg(Pattern::Random),
                cfg(Pattern::Idle),
            ],
            &[0.4],
            9,
        )
        .unwrap();
        assert!((pool.template_ratio[0] - 0.4).abs() < 0.03);
        pool.set_phase(phase::FILL);
        pool.wait_for(wstate::FILLED, Duration::from_secs(20), &|| false)
            .unwrap();
        let r = pool.measured_ratio().unwrap();
        assert!((r - 0.4).abs() < 0.05, "ratio measured in the workers: {r}");
        pool.set_phase(phase::RUN);
        std::thread::sleep(Duration::from_millis(300));
        let per = pool.per_worker();
        assert!(per[0].1 > 0 && per[1].1 > 0, "{per:?}");
        assert_eq!(per[2].1, 0, "idle worker touches nothing");
        // PAUSE: touching stops (after the batch in flight), the idle worker stays alive.
        pool.set_phase(phase::PAUSE);
        std::thread::sleep(Duration::from_millis(100));
        let a = pool.totals().0;
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(pool.totals().0, a, "no touches while paused");
        pool.check_alive().unwrap();
        pool.set_phase(phase::RUN);
        std::thread::sleep(Duration::from_millis(200));
        assert!(pool.totals().0 > a, "resumed");
        pool.stop(Duration::from_secs(5));
        assert!(pool.live_pids().is_empty());
    }

    #[test]
    fn dead_worker_is_reported() {
        let cfg = WorkerConfig {
            memcg: "t/x".into(),
            role: Role::ChurnHelper {
                size: PAGE,
                template: 0,
            },
        };
        let mut pool = WorkerPool::spawn(vec![cfg], &[0.5], 1).unwrap();
        kill(Pid::from_raw(pool.pids[0]), Signal::SIGKILL).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let e = pool.check_alive().unwrap_err().to_string();
        assert!(e.contains("t/x") && e.contains("SIGKILL"), "{e}");
    }

    #[test]
    fn churn_helper_allocates_and_frees_on_command() {
        let cfg = WorkerConfig {
            memcg: "c".into(),
            role: Role::ChurnHelper {
                size: 16 * PAGE,
                template: 0,
            },
        };
        let pool = WorkerPool::spawn(vec![cfg], &[0.5], 1).unwrap();
        // A handle of its own, as the churn thread has.
        let shared = pool.shared();
        helper_cmd(&shared, 0, hcmd::ALLOC, Duration::from_secs(5)).unwrap();
        assert_eq!(shared.slot(0).state.load(Ordering::SeqCst), wstate::HOLDING);
        helper_cmd(&shared, 0, hcmd::FREE, Duration::from_secs(5)).unwrap();
        assert_eq!(shared.slot(0).state.load(Ordering::SeqCst), wstate::EMPTY);
    }
}
