//! What a run changes on the machine, and how each change is undone: the cgroup v2 tree
//! (`cgroup`), swap (`swap`), zswap module parameters (`zswap`). Each change hands its undo
//! record (`undo`) to the run's `state::Guard` before it is made; the guard keeps them in the
//! state file and undoes them last-first on exit, and `zswap-bench cleanup` does the same from
//! the file after a SIGKILL. `sys` holds the kernel operations that both sides need, so the
//! undo side depends on nothing that makes changes.
//!
//! Root-only effects are confined to a few narrow functions (cgroup file writes, swapon,
//! zswap parameter writes); the decisions around them (interface detection, device checks,
//! removal order, state-file versions) are pure functions with unit tests.
pub mod cgroup;
pub mod state;
pub mod swap;
pub mod sys;
pub mod undo;
pub mod zswap;

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
