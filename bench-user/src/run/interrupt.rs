//! Signals while the measured phase's runtime runs. There are two listeners, on purpose:
//! signal-hook's flag (installed before set-up, see the state guard) serves the synchronous
//! parts (set-up, teardown, `cleanup`), where no runtime is running, and decides the exit status;
//! `tokio::signal` wakes the async waits the moment a signal lands, instead of at their next
//! poll of the flag. Both are registered through signal-hook's registry, so each sees every
//! signal.
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use tokio::signal::unix::{SignalKind, signal};

/// Err once a signal asked the run to stop (checked between the steps that can take long).
pub(super) fn check_interrupt(flag: &AtomicBool) -> Result<()> {
    if flag.load(Ordering::SeqCst) {
        bail!("interrupted by a signal");
    }
    Ok(())
}

/// Resolves with an error once SIGINT, SIGTERM or SIGHUP arrives, or at once when the flag
/// says one already did (before this listener existed). Cancel-safe: drop it to stop listening.
pub(super) async fn signalled(flag: &AtomicBool) -> Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    if check_interrupt(flag).is_ok() {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    bail!("interrupted by a signal")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_signal_wakes_the_wait_and_a_raised_flag_ends_it_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let set = AtomicBool::new(true);
            assert!(signalled(&set).await.is_err());
            let unset = AtomicBool::new(false);
            // No signal yet: still waiting after a while.
            let waiting = tokio::time::timeout(Duration::from_millis(100), signalled(&unset)).await;
            assert!(waiting.is_err(), "ended without a signal");
            // SIGHUP to ourselves (SIGINT would also reach the test harness's other threads'
            // default handlers only if no listener existed; this one does).
            let wait = signalled(&unset);
            tokio::pin!(wait);
            tokio::select! {
                _ = &mut wait => panic!("ended before the signal"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
            let r = tokio::time::timeout(Duration::from_secs(5), wait).await;
            assert!(matches!(r, Ok(Err(_))), "the signal did not end the wait");
        });
    }
}
