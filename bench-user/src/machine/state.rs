//! Machine-state save/restore. Before the runner changes anything it writes what it is about to
//! change into `<state_dir>/<run-id>.json` (cgroups created, swap enabled, original zswap
//! parameters); [`Guard`] undoes it on normal exit, on error (Drop) and after SIGINT/SIGTERM
//! (the flags from [`install_signal_flags`] make the runner unwind instead of dying);
//! `zswap-bench cleanup` ([`cleanup_cli`]) undoes it from the file after a SIGKILL.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{cgroup, swap, write_ctl};

pub const ZSWAP_PARAMS: &str = "/sys/module/zswap/parameters";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub pid: u32,
    pub run_id: String,
    /// Cgroup directories created (the run root; children are found by walking).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// Swap areas this run enabled.
    #[serde(default)]
    pub swaps: Vec<SwapRecord>,
    /// Original values of zswap parameters this run changed (file name -> value).
    #[serde(default)]
    pub zswap_params: BTreeMap<String, String>,
    /// Where the parameters live (overridable for tests).
    #[serde(default)]
    pub zswap_params_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapRecord {
    pub path: PathBuf,
    /// The runner created this file (delete it after swapoff).
    pub created_file: bool,
}

/// Live state of a run: every `record_*` rewrites the state file before the change it records.
pub struct Guard {
    file: PathBuf,
    pub state: State,
    restored: bool,
}

/// SIGINT, SIGTERM and SIGHUP set the returned flag instead of killing the process; a second
/// SIGINT/SIGTERM while the flag is set terminates at once (for a stuck restore).
pub fn install_signal_flags() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag))?;
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    signal_hook::flag::register(SIGHUP, Arc::clone(&flag))?;
    Ok(flag)
}

pub fn interrupted(flag: &AtomicBool) -> bool {
    flag.load(Ordering::SeqCst)
}

impl Guard {
    /// Starts a state file for `run_id` in `dir`. Refuses when an earlier run left one behind
    /// (its changes must be undone first) or another run is active.
    pub fn begin(dir: &Path, run_id: &str) -> Result<Guard> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating state directory {}", dir.display()))?;
        // Any state file refuses the start (read_states also rejects a file that is not ours);
        // the first one by name is the one reported.
        if let Some((path, st)) = read_states(dir)?.into_iter().next() {
            if pid_alive(st.pid) {
                bail!(
                    "another zswap-bench run ({}, pid {}) is active (state file {}); wait for it or stop it first",
                    st.run_id,
                    st.pid,
                    path.display()
                );
            }
            bail!(
                "an earlier run ({}) was interrupted and left changes behind (state file {}); run `zswap-bench cleanup` first",
                st.run_id,
                path.display()
            );
        }
        let g = Guard {
            file: dir.join(format!("{run_id}.json")),
            state: State {
                pid: std::process::id(),
                run_id: run_id.into(),
                ..State::default()
            },
            restored: false,
        };
        g.save()?;
        Ok(g)
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    fn save(&self) -> Result<()> {
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.state)?)
            .with_context(|| format!("writing state file {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.file)
            .with_context(|| format!("writing state file {}", self.file.display()))?;
        Ok(())
    }

    pub fn record_cgroup(&mut self, dir: &Path) -> Result<()> {
        self.state.cgroups.push(dir.to_path_buf());
        self.save()
    }

    pub fn record_swap(&mut self, path: &Path, created_file: bool) -> Result<()> {
        self.state.swaps.push(SwapRecord {
            path: path.to_path_buf(),
            created_file,
        });
        self.save()
    }

    /// Records the original value of a zswap parameter (only the first time it is changed).
    pub fn record_param(&mut self, dir: &Path, name: &str, original: &str) -> Result<()> {
        self.state.zswap_params_dir = Some(dir.to_path_buf());
        if !self.state.zswap_params.contains_key(name) {
            self.state
                .zswap_params
                .insert(name.into(), original.trim().into());
            self.save()?;
        }
        Ok(())
    }

    /// Undoes everything recorded; removes the state file when all of it worked. Returns the
    /// problems (empty = clean).
    pub fn restore(&mut self) -> Vec<String> {
        if self.restored {
            return vec![];
        }
        self.restored = true;
        let problems = restore_state(&self.state);
        if problems.is_empty() {
            let _ = std::fs::remove_file(&self.file);
        } else {
            // Keep the file for `zswap-bench cleanup`, but mark it as belonging to no live run.
            self.state.pid = 0;
            let _ = self.save();
        }
        problems
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for p in self.restore() {
            eprintln!("zswap-bench: restore: {p}");
        }
    }
}

/// Undo in the reverse order of set-up: cgroups (killing their processes), swap, parameters.
pub fn restore_state(st: &State) -> Vec<String> {
    let mut problems = Vec::new();
    for cg in cgroup::removal_order(st.cgroups.clone()) {
        if let Err(e) = cgroup::remove_tree(&cg, Duration::from_secs(10)) {
            problems.push(format!("{e:#}"));
        }
    }
    for s in st.swaps.iter().rev() {
        if let Err(e) = swap::swapoff(&s.path) {
            problems.push(format!("{e:#}"));
            continue;
        }
        if s.created_file {
            if let Err(e) = std::fs::remove_file(&s.path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    problems.push(format!("removing swap file {}: {e}", s.path.display()));
                }
            }
        }
    }
    let dir = st
        .zswap_params_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(ZSWAP_PARAMS));
    // `enabled` last: restore the configuration first, then the on/off switch.
    let mut params: Vec<_> = st.zswap_params.iter().collect();
    params.sort_by_key(|(k, _)| *k == "enabled");
    for (k, v) in params {
        if let Err(e) = write_ctl(&dir.join(k), v) {
            problems.push(format!("restoring zswap parameter {k}={v}: {e}"));
        }
    }
    problems
}

fn read_states(dir: &Path) -> Result<Vec<(PathBuf, State)>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            let st: State = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a zswap-bench state file; remove it if it is stale",
                    p.display()
                )
            })?;
            out.push((p, st));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only checks existence/permission.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// `zswap-bench cleanup`: restores every state file left in the state directory.
pub fn cleanup_cli() -> Result<()> {
    cleanup_dir(&crate::paths::state_dir())
}

pub fn cleanup_dir(dir: &Path) -> Result<()> {
    let states = read_states(dir)?;
    if states.is_empty() {
        println!("nothing to clean up (no state files in {})", dir.display());
        return Ok(());
    }
    let mut failed = 0;
    for (path, st) in states {
        if pid_alive(st.pid) {
            println!(
                "skipping {}: run {} is still active as pid {} (stop it first)",
                path.display(),
                st.run_id,
                st.pid
            );
            failed += 1;
            continue;
        }
        println!(
            "restoring after run {}: {} cgroup tree(s), {} swap area(s), {} zswap parameter(s)",
            st.run_id,
            st.cgroups.len(),
            st.swaps.len(),
            st.zswap_params.len()
        );
        let problems = restore_state(&st);
        if problems.is_empty() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            println!("  done");
        } else {
            failed += 1;
            for p in problems {
                println!("  problem: {p}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} state file(s) could not be fully restored; the files were kept, fix the problems above and re-run `zswap-bench cleanup`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_records_before_and_restores_params() {
        let tmp = tempfile::tempdir().unwrap();
        let sdir = tmp.path().join("state");
        let params = tmp.path().join("params");
        std::fs::create_dir(&params).unwrap();
        std::fs::write(params.join("max_pool_percent"), "20\n").unwrap();
        std::fs::write(params.join("enabled"), "Y\n").unwrap();
        let mut g = Guard::begin(&sdir, "r1").unwrap();
        g.record_param(&params, "max_pool_percent", "20\n").unwrap();
        g.record_param(&params, "enabled", "Y").unwrap();
        std::fs::write(params.join("max_pool_percent"), "1").unwrap();
        std::fs::write(params.join("enabled"), "N").unwrap();
        // A second change of the same parameter keeps the original.
        g.record_param(&params, "max_pool_percent", "1").unwrap();
        let on_disk: State =
            serde_json::from_str(&std::fs::read_to_string(g.file()).unwrap()).unwrap();
        assert_eq!(on_disk.zswap_params["max_pool_percent"], "20");
        assert_eq!(on_disk.pid, std::process::id());
        // A second run is refused while this state exists.
        let e = Guard::begin(&sdir, "r2").err().unwrap().to_string();
        assert!(e.contains("interrupted") || e.contains("active"), "{e}");
        assert!(g.restore().is_empty());
        assert_eq!(
            std::fs::read_to_string(params.join("max_pool_percent")).unwrap(),
            "20"
        );
        assert_eq!(
            std::fs::read_to_string(params.join("enabled")).unwrap(),
            "Y"
        );
        assert!(!g.file().exists());
    }

    #[test]
    fn cleanup_restores_after_kill_and_removes_state() {
        let tmp = tempfile::tempdir().unwrap();
        let sdir = tmp.path().join("state");
        let params = tmp.path().join("params");
        std::fs::create_dir(&params).unwrap();
        std::fs::write(params.join("shrinker_enabled"), "N").unwrap();
        // What a SIGKILLed run leaves: a state file whose pid is gone, a changed parameter, an
        // (empty) tree directory.
        let cg = tmp.path().join("zswap-bench-r9");
        std::fs::create_dir_all(cg.join("parent")).unwrap();
        let st = State {
            pid: 0,
            run_id: "r9".into(),
            cgroups: vec![cg.clone()],
            swaps: vec![],
            zswap_params: [("shrinker_enabled".to_string(), "Y".to_string())].into(),
            zswap_params_dir: Some(params.clone()),
        };
        std::fs::create_dir_all(&sdir).unwrap();
        std::fs::write(sdir.join("r9.json"), serde_json::to_string(&st).unwrap()).unwrap();
        cleanup_dir(&sdir).unwrap();
        assert_eq!(
            std::fs::read_to_string(params.join("shrinker_enabled")).unwrap(),
            "Y"
        );
        assert!(!cg.exists(), "tree removed bottom-up");
        assert!(!sdir.join("r9.json").exists());
        // Nothing left: a second cleanup is a no-op.
        cleanup_dir(&sdir).unwrap();
    }

    #[test]
    fn failed_restore_keeps_the_state_file() {
        let tmp = tempfile::tempdir().unwrap();
        let sdir = tmp.path().join("state");
        let mut g = Guard::begin(&sdir, "r3").unwrap();
        g.record_param(&tmp.path().join("no-such-dir"), "enabled", "Y")
            .unwrap();
        let problems = g.restore();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("enabled=Y"));
        assert!(g.file().exists());
        let e = cleanup_dir(&sdir).unwrap_err().to_string();
        assert!(e.contains("could not be fully restored"), "{e}");
    }
}
