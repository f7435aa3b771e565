//! Kernel operations that both making a change and undoing it need: /proc/swaps, swapon and
//! swapoff, and removing a cgroup tree. A leaf module, so that [`super::undo`] can undo a
//! change without depending on the modules that make it.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{ctx, write_ctl};

/// One line of /proc/swaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSwap {
    pub path: PathBuf,
    pub size: u64,
    pub used: u64,
}

/// Parses /proc/swaps (sizes there are KiB).
pub fn parse_proc_swaps(text: &str) -> Vec<ActiveSwap> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(ActiveSwap {
                // Paths with spaces are escaped as \040 by the kernel.
                path: PathBuf::from(f[0].replace("\\040", " ")),
                size: f[2].parse::<u64>().ok()? * 1024,
                used: f[3].parse::<u64>().ok()? * 1024,
            })
        })
        .collect()
}

pub fn active_swaps() -> Vec<ActiveSwap> {
    parse_proc_swaps(&std::fs::read_to_string("/proc/swaps").unwrap_or_default())
}

pub fn is_active_swap(path: &Path) -> bool {
    active_swaps().iter().any(|s| s.path == path)
}

pub fn swapon(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: swapon(2) has no nix wrapper. It only reads the NUL-terminated string `c`, which
    // outlives the call; flags 0 asks for nothing else.
    if unsafe { libc::swapon(c.as_ptr(), 0) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!("swapon {}: {e}", path.display());
    }
    Ok(())
}

/// swapoff; an area not swapped on (absent from /proc/swaps, or EINVAL) counts as done, so
/// undoing is harmless when the swapon never happened and cleanup can be repeated.
pub fn swapoff(path: &Path) -> Result<()> {
    if !is_active_swap(path) {
        return Ok(());
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: swapoff(2) has no nix wrapper. It only reads the NUL-terminated string `c`,
    // which outlives the call.
    if unsafe { libc::swapoff(c.as_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            bail!(
                "swapoff {}: {e} (memory may be short; retry `zswap-bench cleanup` once it is free)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Directories to remove, deepest first (children before parents), so each rmdir finds its
/// directory empty of child cgroups.
pub fn removal_order(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    dirs.sort_by(|a, b| {
        b.components()
            .count()
            .cmp(&a.components().count())
            .then_with(|| b.cmp(a))
    });
    dirs.dedup();
    dirs
}

/// All cgroup directories at and below `root` (root included), found by walking.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// Kills every process in the subtree and removes it bottom-up. Dying memcgs can keep a
/// directory busy briefly, so rmdir is retried for up to `timeout`. A missing tree is done.
pub fn remove_tree(root: &Path, timeout: Duration) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    let dirs = removal_order(walk(root));
    for d in &dirs {
        kill_all(d);
    }
    let deadline = Instant::now() + timeout;
    for d in &dirs {
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => {
                    if Instant::now() >= deadline {
                        return Err(ctx(d, "removing cgroup", e)).context(
                            "processes may still be exiting; run `zswap-bench cleanup` again in a moment",
                        );
                    }
                    kill_all(d);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    Ok(())
}

/// `cgroup.kill` when the kernel has it, else SIGKILL to each pid in cgroup.procs.
fn kill_all(dir: &Path) {
    if write_ctl(&dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            // 0 or a negative number would signal a process group, never one pid.
            .filter(|&p| p > 0)
        {
            // A process that already exited is what we want; nothing to report.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_swaps_parsed() {
        let t = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vda                                partition\t2097148\t\t1024\t\t-2\n/var/tmp/my\\040swap file 1024 0 -3\n";
        let s = parse_proc_swaps(t);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            ActiveSwap {
                path: "/dev/vda".into(),
                size: 2097148 * 1024,
                used: 1024 * 1024
            }
        );
        assert_eq!(s[1].path, PathBuf::from("/var/tmp/my swap"));
    }

    #[test]
    fn removal_is_bottom_up() {
        let r = PathBuf::from("/cg/zb");
        let order = removal_order(vec![
            r.clone(),
            r.join("p"),
            r.join("p/c1"),
            r.join("p/c2"),
            r.join("q"),
        ]);
        let pos = |p: &PathBuf| order.iter().position(|x| x == p).unwrap();
        assert!(pos(&r.join("p/c1")) < pos(&r.join("p")));
        assert!(pos(&r.join("p/c2")) < pos(&r.join("p")));
        assert!(pos(&r.join("p")) < pos(&r));
        assert_eq!(order.last(), Some(&r));
    }
}
