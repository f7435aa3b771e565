//! The workload side of `run`: memory workers placed in their memcgs, reclaim-pressure and
//! proactive-writeback threads, memcg churn and kernel counters. What it changes on the
//! machine (the cgroup tree, swap, zswap parameters) lives in `crate::machine`.
//!
//! Root-only effects are confined to a few narrow functions (control-file writes, fork); the
//! decisions around them (interface detection, return-code classification, page contents,
//! access order, counter parsing) are pure functions with unit tests.
pub mod churn;
pub mod counters;
pub mod memory;
pub mod pressure;
pub mod proactive;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Stop flag shared by the threads of one phase.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Clears the flag (used as a pause switch).
    pub fn resume(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// Sleeps up to `d`, waking early (in steps of at most 50 ms) when stopped. Returns false
    /// when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}
