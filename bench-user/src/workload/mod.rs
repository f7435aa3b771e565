//! The workload side of `run`: a cgroup v2 tree, memory workers placed in their memcgs,
//! reclaim-pressure and proactive-writeback threads, memcg churn, kernel counters, and the
//! machine-state file that lets every change be undone (also after a SIGKILL).
//!
//! Root-only effects are confined to a few narrow functions (cgroup file writes, swapon,
//! zswap parameter writes, fork); the decisions around them (interface detection, return-code
//! classification, page contents, access order, counter parsing, removal order) are pure
//! functions with unit tests.
pub mod cgroup;
pub mod churn;
pub mod counters;
pub mod memory;
pub mod pressure;
pub mod proactive;
pub mod state;
pub mod swap;

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

/// Writes `text` to a kernel control file in one write(2), returning the raw errno on failure
/// (cgroup and sysfs files report errors per write, so the errno is the answer).
pub fn write_ctl(path: &std::path::Path, text: &str) -> Result<(), std::io::Error> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// Adds the path to an io error.
pub fn ctx(path: &std::path::Path, what: &str, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("{what} {}: {e}", path.display())
}
