//! Undo records: one per reversible change a run makes to the machine. Each is handed to the
//! [`Guard`](super::state::Guard), and so written to the state file, *before* its change is
//! made, so a crash between the two still gets it undone. Undoing a change that never happened
//! is therefore harmless for every kind: a parameter rewritten with the value it had, swapoff of
//! an area that is not swapped on, removal of a file or cgroup tree that does not exist. (A
//! creation that fails because its target already exists withdraws its record with
//! [`Guard::retract`](super::state::Guard::retract), so nothing that is not the run's own is
//! removed.)
//!
//! A record knows how to undo itself through the leaf primitives in [`super::sys`], so neither
//! this module nor the state file depends on the modules that make the changes.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::{sys, write_ctl};

/// How long removing a cgroup tree waits for its processes to exit and dying memcgs to go.
const CGROUP_REMOVE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Undo {
    /// Write back the value zswap parameter `dir/name` had before the run.
    ZswapParam {
        dir: PathBuf,
        name: String,
        old: String,
    },
    /// swapoff an area the run swapped on.
    SwapOff { path: PathBuf },
    /// Delete a file the run created (kept while it is still swapped on: deleting it would lose
    /// the name a later swapoff needs).
    RemoveFile { path: PathBuf },
    /// Kill the processes in a cgroup tree the run created and remove it bottom-up.
    RemoveCgroup { path: PathBuf },
}

impl Undo {
    pub fn undo(&self) -> Result<()> {
        match self {
            Undo::ZswapParam { dir, name, old } => write_ctl(&dir.join(name), old)
                .map_err(|e| anyhow!("restoring zswap parameter {name}={old}: {e}")),
            Undo::SwapOff { path } => sys::swapoff(path),
            Undo::RemoveFile { path } => {
                if sys::is_active_swap(path) {
                    bail!(
                        "keeping {}: it is still in use as swap (see the swapoff problem)",
                        path.display()
                    );
                }
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        bail!("removing {}: {e}", path.display())
                    }
                    _ => Ok(()),
                }
            }
            Undo::RemoveCgroup { path } => sys::remove_tree(path, CGROUP_REMOVE_TIMEOUT),
        }
    }
}

/// Undoes `changes` (in the order they were made) last-first, so each undo finds the machine as
/// it was right after its change: cgroups go before the swap their memory sits in, swapoff
/// before the swap file is deleted, and zswap's `enabled` (set first) is restored last.
/// Carries on past failures; returns them (empty = all undone).
pub fn undo_all(changes: &[Undo]) -> Vec<String> {
    changes
        .iter()
        .rev()
        .filter_map(|u| u.undo().err().map(|e| format!("{e:#}")))
        .collect()
}

/// "2 cgroup tree(s), 1 swap area(s), 3 zswap parameter(s)", for `cleanup`'s report.
pub fn summary(changes: &[Undo]) -> String {
    let count = |f: fn(&Undo) -> bool| changes.iter().filter(|u| f(u)).count();
    format!(
        "{} cgroup tree(s), {} swap area(s), {} file(s), {} zswap parameter(s)",
        count(|u| matches!(u, Undo::RemoveCgroup { .. })),
        count(|u| matches!(u, Undo::SwapOff { .. })),
        count(|u| matches!(u, Undo::RemoveFile { .. })),
        count(|u| matches!(u, Undo::ZswapParam { .. })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undone_in_reverse_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        // Control files take a write whole; plain files are overwritten in place, so the test
        // values have one length.
        std::fs::write(dir.join("p"), "now").unwrap();
        // The same parameter recorded twice: undone in reverse, the first record's value wins.
        let param = |old: &str| Undo::ZswapParam {
            dir: dir.clone(),
            name: "p".into(),
            old: old.into(),
        };
        // A file inside a created directory: forwards, the rmdir would find it non-empty.
        let cg = dir.join("cg");
        std::fs::create_dir(&cg).unwrap();
        std::fs::write(cg.join("f"), "").unwrap();
        let changes = [
            param("1st"),
            Undo::RemoveCgroup { path: cg.clone() },
            Undo::RemoveFile { path: cg.join("f") },
            param("2nd"),
        ];
        assert_eq!(undo_all(&changes), Vec::<String>::new());
        assert_eq!(std::fs::read_to_string(dir.join("p")).unwrap(), "1st");
        assert!(!cg.exists());
        assert_eq!(
            summary(&changes),
            "1 cgroup tree(s), 0 swap area(s), 1 file(s), 2 zswap parameter(s)"
        );
    }

    #[test]
    fn undo_of_changes_that_never_happened_is_harmless() {
        let tmp = tempfile::tempdir().unwrap();
        let changes = [
            Undo::RemoveFile {
                path: tmp.path().join("never-created"),
            },
            Undo::SwapOff {
                path: tmp.path().join("never-swapped-on"),
            },
            Undo::RemoveCgroup {
                path: tmp.path().join("never-made"),
            },
        ];
        assert_eq!(undo_all(&changes), Vec::<String>::new());
        assert!(tmp.path().exists());
    }

    #[test]
    fn failures_are_reported_and_the_rest_still_undone() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("ok"), "new").unwrap();
        let changes = [
            Undo::ZswapParam {
                dir: tmp.path().into(),
                name: "ok".into(),
                old: "old".into(),
            },
            Undo::ZswapParam {
                dir: tmp.path().join("no-such-dir"),
                name: "enabled".into(),
                old: "Y".into(),
            },
        ];
        let p = undo_all(&changes);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("enabled=Y"), "{p:?}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("ok")).unwrap(),
            "old"
        );
    }
}
