//! `matrix --resume`: what an earlier attempt left in a cell's directory decides whether the
//! cell runs again. A cell is done only when its directory holds result files that read and
//! validate, none marked failed, all of this scenario's exact text and this vCPU count. Anything
//! else is run again, and what the earlier attempt left is set aside (renamed), never deleted:
//! a failed cell's console log is what explains the failure.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bench_results::schema::ResultFile;
use serde::{Deserialize, Serialize};

/// What a cell's directory holds from an earlier attempt.
#[derive(Debug, PartialEq)]
pub enum Earlier {
    /// Nothing: the cell never ran.
    Nothing,
    /// A complete, valid result of this very cell: skip it.
    Done,
    /// Something that is not a usable result of this cell, and why.
    Unusable(String),
}

/// Looks at `dir` for the cell that runs scenario text `toml` on `cpus` vCPUs.
pub fn earlier(dir: &Path, toml: &str, cpus: u32) -> Earlier {
    if !dir.exists() {
        return Earlier::Nothing;
    }
    if let Some(f) = read_failure(dir) {
        return Earlier::Unusable(format!("the cell failed: {}", f.first_line()));
    }
    let files = match ResultFile::read_all(&[dir.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => return Earlier::Unusable(format!("{e}")),
    };
    for f in &files {
        if let Some(why) = &f.failed {
            return Earlier::Unusable(format!("the run failed: {why}"));
        }
        if f.scenario.toml != toml {
            return Earlier::Unusable("the scenario file changed since".into());
        }
        if f.kernel.cpus != cpus {
            return Earlier::Unusable(format!("ran on {} vCPUs, not {cpus}", f.kernel.cpus));
        }
    }
    Earlier::Done
}

/// Renames `dir` to the first free `<dir>.attempt-N`, so a rerun starts in an empty directory
/// and the earlier attempt stays readable.
pub fn set_aside(dir: &Path) -> Result<PathBuf> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.context("a cell directory has a name")?;
    for n in 1.. {
        let to = dir.with_file_name(format!("{name}.attempt-{n}"));
        if !to.exists() {
            std::fs::rename(dir, &to)
                .with_context(|| format!("setting {} aside as {}", dir.display(), to.display()))?;
            return Ok(to);
        }
    }
    unreachable!("attempt numbers are unbounded")
}

/// A cell's failure record (`matrix::cell` writes it when a cell fails, also on SIGTERM).
pub const FAILURE_FILE: &str = "cell-failure.json";

/// `cell-failure.json`: why a cell has no usable result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub cell: usize,
    pub error: String,
    pub host: String,
    pub unix_time: u64,
}

impl Failure {
    pub fn first_line(&self) -> &str {
        self.error.lines().next().unwrap_or("")
    }
}

/// Writes `cell-failure.json` (atomically; a failure to write it is said, not fatal: the error
/// itself is still returned to the caller).
pub fn record_failure(dir: &Path, cell: usize, e: &anyhow::Error) {
    let f = Failure {
        cell,
        error: format!("{e:#}"),
        host: crate::topology::hostname(),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let write = || -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&f)?;
        bench_results::schema::write_file_atomic(dir, FAILURE_FILE, &bytes)?;
        Ok(())
    };
    if let Err(w) = write() {
        eprintln!(
            "zswap-bench: could not write {} in {}: {w:#}",
            FAILURE_FILE,
            dir.display()
        );
    }
}

/// The failure record of a cell directory, if it has one.
pub fn read_failure(dir: &Path) -> Option<Failure> {
    serde_json::from_slice(&std::fs::read(dir.join(FAILURE_FILE)).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::testing::MockResult;

    fn write(dir: &Path, toml: &str, cpus: u32, failed: Option<&str>) {
        let mut r = MockResult::baseline(0).build();
        r.scenario.toml = toml.into();
        r.kernel.cpus = cpus;
        r.failed = failed.map(String::from);
        r.write_atomic(dir).unwrap();
    }

    #[test]
    fn only_a_valid_result_of_the_same_cell_counts_as_done() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("quick-baseline-r0");
        assert_eq!(earlier(&d, "a", 2), Earlier::Nothing);
        write(&d, "a", 2, None);
        assert_eq!(earlier(&d, "a", 2), Earlier::Done);
        assert!(matches!(earlier(&d, "b", 2), Earlier::Unusable(w) if w.contains("changed")));
        assert!(matches!(earlier(&d, "a", 4), Earlier::Unusable(w) if w.contains("2 vCPUs")));
        write(&d, "a", 2, Some("guest panicked"));
        assert!(matches!(earlier(&d, "a", 2), Earlier::Unusable(w) if w.contains("panicked")));
        std::fs::write(d.join("result.json"), "{\"schema_version\": 1, \"trunc").unwrap();
        assert!(matches!(earlier(&d, "a", 2), Earlier::Unusable(_)));
        // A directory a boot left without any result (killed before the guest wrote one).
        let e = t.path().join("empty");
        std::fs::create_dir(&e).unwrap();
        std::fs::write(e.join("console.log"), "boot").unwrap();
        assert!(matches!(earlier(&e, "a", 2), Earlier::Unusable(_)));
    }

    #[test]
    fn set_aside_keeps_every_earlier_attempt() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("cell");
        for n in 1..=2 {
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("console.log"), format!("try {n}")).unwrap();
            let to = set_aside(&d).unwrap();
            assert_eq!(to, t.path().join(format!("cell.attempt-{n}")));
            assert_eq!(
                std::fs::read_to_string(to.join("console.log")).unwrap(),
                format!("try {n}")
            );
        }
        assert!(!d.exists());
    }
}
