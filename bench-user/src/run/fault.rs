//! Test-only fault injection, so the tests can prove what a kernel panic or an OOM kill does to
//! a run: the cell is marked failed, no result claims numbers, the matrix goes on. (A hung
//! guest needs no hook: `vm --timeout` with a command that sleeps is one.) Nothing
//! happens unless `ZSWAP_BENCH_ALLOW_FAULTS=1` is set beside `ZSWAP_BENCH_FAULT`, so a stray
//! variable cannot crash a real machine's kernel.
//!
//! `ZSWAP_BENCH_FAULT=KIND[:MATCH]`: `panic` (the guest's init exits on our signal, and the
//! kernel panics: "Attempted to kill init!"; the guests have no magic SysRq) or `oom` (the first worker's
//! memcg loses its swap and gets a 1M memory.max, so the kernel's OOM killer takes a worker), at
//! the start of the measured phase, and only when the run's output directory contains MATCH
//! (e.g. one matrix cell).
use std::path::Path;

use crate::machine::cgroup::Tree;
use crate::workload::memory::WorkerPool;

use crate::vm::{ALLOW_FAULTS_ENV as ALLOW_ENV, FAULT_ENV};

#[derive(Debug, PartialEq)]
enum Fault {
    Panic,
    Oom,
}

/// The fault asked for this run (`out`: its result directory), if faults are allowed.
fn asked(spec: Option<&str>, allowed: bool, out: &Path) -> Option<Fault> {
    let spec = spec.filter(|_| allowed)?;
    let (kind, filter) = spec.split_once(':').unwrap_or((spec, ""));
    if !out.to_string_lossy().contains(filter) {
        return None;
    }
    match kind {
        "panic" => Some(Fault::Panic),
        "oom" => Some(Fault::Oom),
        other => {
            log::warn!("{FAULT_ENV}={other}: unknown fault (panic or oom); ignored");
            None
        }
    }
}

static ARMED: std::sync::OnceLock<Option<Fault>> = std::sync::OnceLock::new();

/// Reads the environment once for a run writing to `out` (call before the first repeat).
pub(super) fn arm(out: &Path) {
    let spec = std::env::var(FAULT_ENV).ok();
    let allowed = std::env::var(ALLOW_ENV).is_ok_and(|v| v == "1");
    let _ = ARMED.set(asked(spec.as_deref(), allowed, out));
}

/// Injects the armed fault, if any (called where the measured phase starts).
pub(super) fn inject_if_armed(tree: &Tree, pool: &WorkerPool) {
    match ARMED.get().and_then(Option::as_ref) {
        Some(Fault::Oom) => {
            let Some(memcg) = pool.configs.first().map(|c| &c.memcg) else {
                return;
            };
            let dir = tree.dir(memcg);
            log::warn!("injected fault: OOM in {memcg}");
            // Nothing of the workers' memory can leave (no swap, no zswap), so a limit far
            // below their usage leaves the kernel one way out: the OOM killer. The write of
            // memory.max runs it before it returns.
            for (file, v) in [
                ("memory.swap.max", "0"),
                ("memory.zswap.max", "0"),
                ("memory.max", "1M"),
            ] {
                if let Err(e) = std::fs::write(dir.join(file), v) {
                    log::warn!("injected fault: writing {file}: {e}");
                }
            }
        }
        Some(Fault::Panic) => {
            log::warn!("injected fault: crashing the kernel (init exits)");
            let init = nix::unistd::Pid::from_raw(1);
            if let Err(e) = nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGUSR2) {
                log::warn!("injected fault: signalling init: {e}");
            }
            // The kernel is going down; do not go on measuring meanwhile.
            loop {
                std::thread::park();
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_needs_the_allow_switch_and_a_matching_directory() {
        let out = Path::new("/r/quick-baseline-r0/run");
        assert_eq!(asked(Some("panic"), false, out), None);
        assert_eq!(asked(Some("panic"), true, out), Some(Fault::Panic));
        assert_eq!(asked(Some("oom:-r0"), true, out), Some(Fault::Oom));
        assert_eq!(asked(Some("panic:-r1"), true, out), None);
        assert_eq!(asked(Some("oom"), true, out), Some(Fault::Oom));
        assert_eq!(asked(Some("explode"), true, out), None);
        assert_eq!(asked(None, true, out), None);
    }
}
