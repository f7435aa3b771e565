//! Machine-state save/restore. Every change the runner makes hands its [`Undo`] record to the
//! [`Guard`] first, which writes the ordered list of changes to `<state_dir>/<run-id>.json`;
//! the guard undoes them last-first on normal exit, on error (Drop) and after
//! SIGINT/SIGTERM (the flags from [`install_signal_flags`] make the runner unwind instead of
//! dying); `zswap-bench cleanup` ([`cleanup_cli`]) does the same from the file after a SIGKILL.
//!
//! File versions: 2 (this one) holds `"version": 2` and `changes`, the ordered undo records.
//! Version 1 (no `version` field) held fixed lists of cgroups, swaps and zswap parameters; it
//! is still read, converted to the ordered list its set-up order implies.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::sys::removal_order;
use super::undo::{self, Undo};

/// The state-file version this build writes; it reads this one and 1.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub pid: u32,
    pub run_id: String,
    /// The changes in the order they were made (each recorded before it was made).
    pub changes: Vec<Undo>,
}

/// Version 1 of the file, kept for reading files left by an older zswap-bench.
#[derive(Debug, Deserialize)]
struct StateV1 {
    pid: u32,
    run_id: String,
    #[serde(default)]
    cgroups: Vec<PathBuf>,
    #[serde(default)]
    swaps: Vec<SwapRecordV1>,
    #[serde(default)]
    zswap_params: BTreeMap<String, String>,
    #[serde(default)]
    zswap_params_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct SwapRecordV1 {
    path: PathBuf,
    created_file: bool,
}

/// Where version-1 files meant their parameters to be when they did not say.
const V1_ZSWAP_PARAMS: &str = "/sys/module/zswap/parameters";

impl From<StateV1> for State {
    /// Version 1's set-up order was zswap parameters (`enabled` first), swap areas (file
    /// created, then swapped on), cgroup trees (parents first); its restore did the reverse.
    fn from(v1: StateV1) -> State {
        let dir = v1
            .zswap_params_dir
            .unwrap_or_else(|| PathBuf::from(V1_ZSWAP_PARAMS));
        let mut params: Vec<_> = v1.zswap_params.into_iter().collect();
        params.sort_by_key(|(k, _)| *k != "enabled");
        let mut changes: Vec<Undo> = params
            .into_iter()
            .map(|(name, old)| Undo::ZswapParam {
                dir: dir.clone(),
                name,
                old,
            })
            .collect();
        for s in v1.swaps {
            if s.created_file {
                changes.push(Undo::RemoveFile {
                    path: s.path.clone(),
                });
            }
            changes.push(Undo::SwapOff { path: s.path });
        }
        let cgroups = removal_order(v1.cgroups).into_iter().rev();
        changes.extend(cgroups.map(|path| Undo::RemoveCgroup { path }));
        State {
            version: VERSION,
            pid: v1.pid,
            run_id: v1.run_id,
            changes,
        }
    }
}

/// Reads a state file of any version this build knows; a newer one is refused with what to do.
pub fn parse_state(path: &Path, text: &str) -> Result<State> {
    let not_ours = || {
        format!(
            "{} is not a zswap-bench state file; remove it if it is stale",
            path.display()
        )
    };
    let v: serde_json::Value = serde_json::from_str(text).with_context(not_ours)?;
    let version = match v.get("version") {
        None => 1,
        Some(n) => n.as_u64().with_context(not_ours)?,
    };
    match version {
        1 => Ok(serde_json::from_value::<StateV1>(v)
            .with_context(not_ours)?
            .into()),
        n if n == u64::from(VERSION) => serde_json::from_value(v).with_context(not_ours),
        n if n > u64::from(VERSION) => bail!(
            "{} is a version-{n} state file, newer than this zswap-bench reads (up to {VERSION}); \
             run `zswap-bench cleanup` with the newer zswap-bench that wrote it, or undo its \
             changes by hand and remove the file",
            path.display()
        ),
        _ => bail!("{} (version {version})", not_ours()),
    }
}

/// Live state of a run: [`Guard::push`] rewrites the state file before the change it records.
pub struct Guard {
    file: PathBuf,
    state: State,
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
                version: VERSION,
                pid: std::process::id(),
                run_id: run_id.into(),
                changes: vec![],
            },
            restored: false,
        };
        g.save()?;
        Ok(g)
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The changes recorded so far, in the order they were made.
    pub fn changes(&self) -> &[Undo] {
        &self.state.changes
    }

    fn save(&self) -> Result<()> {
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.state)?)
            .with_context(|| format!("writing state file {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.file)
            .with_context(|| format!("writing state file {}", self.file.display()))?;
        Ok(())
    }

    /// Records how to undo a change; call it before making the change, and make the change
    /// only when this succeeded.
    pub fn push(&mut self, undo: Undo) -> Result<()> {
        self.state.changes.push(undo);
        self.save()
    }

    /// Withdraws the latest record equal to `undo`, for a creation that failed without
    /// creating anything (its target already existed and is not the run's to remove).
    pub fn retract(&mut self, undo: &Undo) -> Result<()> {
        if let Some(i) = self.state.changes.iter().rposition(|u| u == undo) {
            self.state.changes.remove(i);
            self.save()?;
        }
        Ok(())
    }

    /// Undoes everything recorded, last first; removes the state file when all of it worked.
    /// Returns the problems (empty = clean).
    pub fn restore(&mut self) -> Vec<String> {
        if self.restored {
            return vec![];
        }
        self.restored = true;
        let problems = undo::undo_all(&self.state.changes);
        if problems.is_empty() {
            let _ = std::fs::remove_file(&self.file);
        } else {
            // Keep the file for `zswap-bench cleanup` (every undo is safe to repeat), but mark
            // it as belonging to no live run.
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

fn read_states(dir: &Path) -> Result<Vec<(PathBuf, State)>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => bail!(
            "the state folder {} is a file, not a folder; fix: move that file away, or point ZSWAP_BENCH_STATE at a folder",
            dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            // A state file is small; anything else under that name is named, not read forever.
            let text = bench_results::input::read_text(&p, bench_results::input::limit::TEXT)
                .with_context(|| format!("reading {}", p.display()))?;
            out.push((p.clone(), parse_state(&p, &text)?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid == std::process::id() {
        return false;
    }
    // A pid beyond i32 would turn negative and name a process group: no such process.
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // No signal: only checks that the process exists (and may be signalled by us).
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
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
            "restoring after run {}: {}",
            st.run_id,
            undo::summary(&st.changes)
        );
        let problems = undo::undo_all(&st.changes);
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
mod tests;
