//! The run's cgroup v2 tree under `/sys/fs/cgroup/zswap-bench-<run-id>/`: check the memory
//! controller is on v2, create memcgs with their limits, move tasks, remove bottom-up.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{ctx, write_ctl};
use crate::scenario::{Limit, MemcgNode};

pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Refuses unless `mount` is a cgroup2 filesystem offering the memory controller.
pub fn check_v2_memory(mount: &Path) -> Result<()> {
    let c = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes())?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a properly sized out-parameter.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    let how = "run it in a VM instead (`zswap-bench run <scenario> --kernel baseline`), or boot this \
               machine with cgroup v2 for memory (kernel command line `systemd.unified_cgroup_hierarchy=1 \
               cgroup_no_v1=memory`)";
    if rc != 0 || st.f_type as i64 != CGROUP2_SUPER_MAGIC {
        bail!(
            "{} is not a cgroup v2 (unified) mount, so memory.reclaim and memory.zswap.* do not exist here; {how}",
            mount.display()
        );
    }
    let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        bail!(
            "the memory controller is not available on cgroup v2 at {} (cgroup.controllers: {:?}; it is probably bound to cgroup v1); {how}",
            mount.display(),
            controllers.trim()
        );
    }
    Ok(())
}

/// The run's tree. Paths given to its methods are relative to the run root ("parent/child1").
#[derive(Debug, Clone)]
pub struct Tree {
    /// Absolute directory of the run root, e.g. /sys/fs/cgroup/zswap-bench-quick-20261121T1200.
    pub root: PathBuf,
    /// The cgroup mount it lives under.
    pub mount: PathBuf,
}

impl Tree {
    pub fn new(mount: &Path, run_id: &str) -> Self {
        Tree {
            root: mount.join(format!("zswap-bench-{run_id}")),
            mount: mount.to_path_buf(),
        }
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Path as the kernel and the probes name it: relative to the cgroup mount, leading '/'.
    pub fn cgroup_path(&self, rel: &str) -> String {
        let d = self.dir(rel);
        let r = d.strip_prefix(&self.mount).unwrap_or(&d);
        format!("/{}", r.display())
    }

    /// Creates the root and every memcg (parents first), enabling the memory controller for
    /// children and writing the limits. `before_create` is called with each directory before it
    /// is created (the state file records it first).
    pub fn create(
        &self,
        memcgs: &[MemcgNode],
        before_create: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<()> {
        enable_memory(&self.mount)?;
        before_create(&self.root)?;
        std::fs::create_dir(&self.root).map_err(|e| ctx(&self.root, "creating cgroup", e))?;
        enable_memory(&self.root)?;
        for m in memcgs {
            self.create_one(m)?;
        }
        Ok(())
    }

    pub fn create_one(&self, m: &MemcgNode) -> Result<()> {
        let d = self.dir(&m.path);
        std::fs::create_dir(&d).map_err(|e| ctx(&d, "creating cgroup", e))?;
        set_limits(&d, m)?;
        if m.has_children {
            enable_memory(&d)?;
        }
        Ok(())
    }

    /// Moves a process (all its threads) into `rel`.
    pub fn move_pid(&self, rel: &str, pid: i32) -> Result<()> {
        let f = self.dir(rel).join("cgroup.procs");
        write_ctl(&f, &pid.to_string()).map_err(|e| ctx(&f, &format!("moving pid {pid} into"), e))
    }
}

/// Writes the memcg's files. Files the kernel lacks are an error only when the scenario asks
/// for a non-default value (e.g. memory.zswap.max on a kernel without zswap memcg support).
pub fn set_limits(dir: &Path, m: &MemcgNode) -> Result<()> {
    let items: [(&str, String, bool); 4] = [
        (
            "memory.max",
            m.memory_max.to_cgroup(),
            m.memory_max != Limit::Max,
        ),
        (
            "memory.high",
            m.memory_high.to_cgroup(),
            m.memory_high != Limit::Max,
        ),
        (
            "memory.zswap.max",
            m.zswap_max.to_cgroup(),
            m.zswap_max != Limit::Max,
        ),
        (
            "memory.zswap.writeback",
            if m.zswap_writeback { "1" } else { "0" }.into(),
            !m.zswap_writeback,
        ),
    ];
    for (file, value, required) in items {
        let p = dir.join(file);
        match write_ctl(&p, &value) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(e) => return Err(ctx(&p, &format!("writing {value:?} to"), e)),
        }
    }
    Ok(())
}

/// Adds "+memory" to `dir/cgroup.subtree_control` unless already there.
pub fn enable_memory(dir: &Path) -> Result<()> {
    let f = dir.join("cgroup.subtree_control");
    let cur = std::fs::read_to_string(&f).unwrap_or_default();
    if cur.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    write_ctl(&f, "+memory").map_err(|e| ctx(&f, "enabling the memory controller in", e))
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
/// directory busy briefly, so rmdir is retried for up to `timeout`.
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
        {
            // SAFETY: plain kill(2) on a pid read from the cgroup; no memory is touched.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn tree_paths_and_creation_on_a_plain_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Tree::new(tmp.path(), "x1");
        assert_eq!(
            t.cgroup_path("parent/child1"),
            "/zswap-bench-x1/parent/child1"
        );
        assert_eq!(t.cgroup_path(""), "/zswap-bench-x1");
        let node = |path: &str, kids: bool, max: Limit| MemcgNode {
            path: path.into(),
            spec: 0,
            memory_max: max,
            memory_high: Limit::Max,
            zswap_max: Limit::Max,
            zswap_writeback: true,
            has_children: kids,
        };
        // On a plain directory the control files do not exist: writes of default values are
        // skipped, a required one is an error naming the file.
        std::fs::write(tmp.path().join("cgroup.subtree_control"), "memory").unwrap();
        let mut seen = vec![];
        let err = t
            .create(&[node("p", false, Limit::Bytes(1 << 20))], &mut |p| {
                seen.push(p.to_path_buf());
                Ok(())
            })
            .unwrap_err();
        assert_eq!(seen, vec![t.root.clone()]);
        // The run root has no control files on a plain directory: the error names the file.
        assert!(
            format!("{err:#}").contains("cgroup.subtree_control"),
            "{err:#}"
        );
        assert!(t.root.is_dir());
    }

    #[test]
    fn v1_or_plain_dir_is_refused_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let e = check_v2_memory(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("not a cgroup v2"), "{e}");
        assert!(e.contains("--kernel"), "{e}");
    }
}
