//! What a phase shows while it runs: a one-line progress display (redrawn on a terminal, logged
//! every 10 s without one) with the workers' touch rate and the kernel's zswap counters, and the
//! wait that drives it while checking for a signal and for dead workers.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use bench_results::human::compact;

use super::interrupt::signalled;
use crate::machine::cgroup::Tree;
use crate::workload::counters;
use crate::workload::memory::WorkerPool;
use crate::workload::pressure::ReclaimStats;

/// What the progress line shows.
fn live_line(
    phase: &str,
    left: Duration,
    pages_rate: f64,
    tree: &Tree,
    reclaim: &ReclaimStats,
    proactive_calls: u64,
) -> String {
    let st = counters::parse_kv(
        &std::fs::read_to_string(tree.root.join("memory.stat")).unwrap_or_default(),
    );
    let n = |k: &str| compact(st.get(k).copied().unwrap_or(0) as f64);
    // Kept under 80 columns: a wrapped line garbles the redraw on the guest console.
    format!(
        "{phase} {}s left | {} pages/s | zswpout {} zswpwb {} | reclaim {} | proactive {}",
        left.as_secs(),
        compact(pages_rate),
        n("zswpout"),
        n("zswpwb"),
        compact(reclaim.writes.load(Ordering::Relaxed) as f64),
        compact(proactive_calls as f64)
    )
}

/// Waits out phase `name` (`d` long) behind its own progress line, which is cleared at the end.
/// Err on a signal or when a worker died.
pub(super) async fn wait_phase(
    name: &str,
    d: Duration,
    pool: &mut WorkerPool,
    tree: &Tree,
    reclaim: &ReclaimStats,
    proactive_calls: &dyn Fn() -> u64,
    interrupted: &AtomicBool,
) -> Result<()> {
    let bar = progress_bar(d);
    // The bar is cleared whether the phase ends or fails.
    let r: Result<()> = async {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut last = (Instant::now(), pool.totals().0);
        let mut logged = Instant::now();
        let signal = signalled(interrupted);
        tokio::pin!(signal);
        while start.elapsed() < d {
            tokio::select! {
                r = &mut signal => r?,
                _ = tick.tick() => {}
            }
            pool.check_alive()?;
            let (pages, _) = pool.totals();
            let rate = (pages - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
            last = (Instant::now(), pages);
            bar.set_position(start.elapsed().as_millis().min(d.as_millis()) as u64);
            let line = live_line(
                name,
                d.saturating_sub(start.elapsed()),
                rate,
                tree,
                reclaim,
                proactive_calls(),
            );
            // No terminal (CI, logs): a line every 10 s instead of a redrawn bar.
            if bar.is_hidden() && logged.elapsed() >= Duration::from_secs(10) {
                log::info!("{line}");
                logged = Instant::now();
            }
            bar.set_message(line);
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    r
}

fn progress_bar(d: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(d.as_millis() as u64);
    if std::env::var_os(crate::vm::NO_PROGRESS_ENV).is_some() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
