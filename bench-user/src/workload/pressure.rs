//! Reclaim pressure: threads writing memory.reclaim at a rate, a memory.high squeeze, or a
//! memory.max lowered after set-up.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::Stop;
use super::proactive::outcome_key;
use crate::machine::{ctx, write_ctl};

/// Live counters of all reclaim threads (for progress and the time series).
#[derive(Default)]
pub struct ReclaimStats {
    pub writes: AtomicU64,
    pub eagain: AtomicU64,
    pub busy_ns: AtomicU64,
}

/// Totals a pressure thread hands back.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PressureResult {
    pub what: String,
    pub writes: u64,
    pub returns: BTreeMap<String, u64>,
    pub busy: Duration,
}

/// Pause after a write so that a thread makes `rate` writes/s (0 = no pause).
pub fn pause_for(rate: f64, took: Duration) -> Duration {
    if rate <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(1.0 / rate).saturating_sub(took)
}

/// The memory.high value for time `t` into a squeeze of `period`: `low` in the first half,
/// "max" in the second.
pub fn squeeze_value(t: Duration, period: Duration, low: u64) -> String {
    let half = period.as_nanos() / 2;
    if half == 0 || (t.as_nanos() / half).is_multiple_of(2) {
        low.to_string()
    } else {
        "max".into()
    }
}

/// memory.reclaim writes of `size` bytes at `rate` per second until stopped.
pub fn reclaim_thread(
    dir: PathBuf,
    size: u64,
    rate: f64,
    stop: Stop,
    pause: Stop,
    live: Arc<ReclaimStats>,
) -> PressureResult {
    let file = dir.join("memory.reclaim");
    let mut res = PressureResult {
        what: format!("reclaim {size} B on {}", dir.display()),
        ..Default::default()
    };
    let text = size.to_string();
    while !stop.stopped() {
        if pause.stopped() {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let t0 = Instant::now();
        let r = write_ctl(&file, &text);
        let took = t0.elapsed();
        res.writes += 1;
        res.busy += took;
        *res.returns.entry(outcome_key(&r)).or_default() += 1;
        live.writes.fetch_add(1, Ordering::Relaxed);
        live.busy_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        if r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EAGAIN) {
            live.eagain.fetch_add(1, Ordering::Relaxed);
        }
        if !stop.sleep(pause_for(rate, took)) {
            break;
        }
    }
    res
}

/// Alternates memory.high between `low` and "max" every half period; leaves it at "max".
pub fn squeeze_thread(
    dir: PathBuf,
    low: u64,
    period: Duration,
    stop: Stop,
    pause: Stop,
) -> PressureResult {
    let file = dir.join("memory.high");
    let mut res = PressureResult {
        what: format!("memory.high squeeze to {low} B on {}", dir.display()),
        ..Default::default()
    };
    let t0 = Instant::now();
    let step = (period / 2).max(Duration::from_millis(5));
    while !stop.stopped() {
        // Paused: no squeeze (memory.high at "max").
        let v = if pause.stopped() {
            "max".into()
        } else {
            squeeze_value(t0.elapsed(), period, low)
        };
        let r = write_ctl(&file, &v);
        res.writes += 1;
        *res.returns.entry(outcome_key(&r)).or_default() += 1;
        if !stop.sleep(step) {
            break;
        }
    }
    let _ = write_ctl(&file, "max");
    res
}

/// `limit` pressure: lowers memory.max once (after set-up, before warm-up).
pub fn apply_limit(dir: &std::path::Path, bytes: u64) -> Result<()> {
    let f = dir.join("memory.max");
    write_ctl(&f, &bytes.to_string()).map_err(|e| ctx(&f, "lowering", e))
}

/// `push`: one memory.reclaim write of `bytes`; EAGAIN (not all of it) is normal. Returns the
/// outcome key.
pub fn push(dir: &std::path::Path, bytes: u64) -> String {
    outcome_key(&write_ctl(&dir.join("memory.reclaim"), &bytes.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_pacing() {
        assert_eq!(pause_for(0.0, Duration::from_millis(5)), Duration::ZERO);
        assert_eq!(
            pause_for(10.0, Duration::from_millis(30)),
            Duration::from_millis(70)
        );
        assert_eq!(pause_for(10.0, Duration::from_millis(300)), Duration::ZERO);
    }

    #[test]
    fn squeeze_alternates() {
        let p = Duration::from_secs(2);
        assert_eq!(squeeze_value(Duration::from_millis(100), p, 64), "64");
        assert_eq!(squeeze_value(Duration::from_millis(1500), p, 64), "max");
        assert_eq!(squeeze_value(Duration::from_millis(2100), p, 64), "64");
    }

    #[test]
    fn reclaim_thread_counts_writes() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("memory.reclaim"), "").unwrap();
        let stop = Stop::new();
        let live = Arc::new(ReclaimStats::default());
        let (s2, l2, d) = (stop.clone(), live.clone(), tmp.path().to_path_buf());
        let pause = Stop::new();
        let p2 = pause.clone();
        let h = std::thread::spawn(move || reclaim_thread(d, 1 << 20, 100.0, s2, p2, l2));
        std::thread::sleep(Duration::from_millis(250));
        pause.stop();
        std::thread::sleep(Duration::from_millis(30));
        let paused_at = live.writes.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            live.writes.load(Ordering::Relaxed),
            paused_at,
            "no writes while paused"
        );
        stop.stop();
        let r = h.join().unwrap();
        assert!(
            (10..=30).contains(&r.writes),
            "~100/s for 0.25 s: {}",
            r.writes
        );
        assert_eq!(r.returns["0"], r.writes);
        assert_eq!(live.writes.load(Ordering::Relaxed), r.writes);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("memory.reclaim")).unwrap(),
            "1048576"
        );
    }
}
