//! The run's cgroup v2 tree under `/sys/fs/cgroup/zswap-bench-<run-id>/`: check the memory
//! controller is on v2, create memcgs with their limits, move tasks. The tree's removal
//! (bottom-up, killing what is left in it) is an undo record the guard holds from before the
//! root is created.
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};

use super::state::Guard;
pub use super::sys::walk;
use super::undo::Undo;
use super::{ctx, write_ctl};
use crate::scenario::{Limit, MemcgNode};

pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

/// Refuses unless `mount` is a cgroup2 filesystem offering the memory controller.
pub fn check_v2_memory(mount: &Path) -> Result<()> {
    let how = "run it in a VM instead (`zswap-bench run <scenario> --kernel baseline`), or boot this \
               machine with cgroup v2 for memory (kernel command line `systemd.unified_cgroup_hierarchy=1 \
               cgroup_no_v1=memory`)";
    let is_cgroup2 = statfs(mount).is_ok_and(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if !is_cgroup2 {
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
    /// children and writing the limits. The guard records the root's removal before it is
    /// created (the memcgs below go with it); a root that already exists is not the run's, so
    /// its record is withdrawn and the creation refused.
    pub fn create(&self, memcgs: &[MemcgNode], guard: &mut Guard) -> Result<()> {
        enable_memory(&self.mount)?;
        let undo = Undo::RemoveCgroup {
            path: self.root.clone(),
        };
        guard.push(undo.clone())?;
        if let Err(e) = std::fs::create_dir(&self.root) {
            guard.retract(&undo)?;
            return Err(ctx(&self.root, "creating cgroup", e));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            limit_at: (None, None),
            memory_max: max,
            memory_high: Limit::Max,
            zswap_max: Limit::Max,
            zswap_writeback: true,
            has_children: kids,
        };
        // On a plain directory the control files do not exist: writes of default values are
        // skipped, a required one is an error naming the file.
        std::fs::write(tmp.path().join("cgroup.subtree_control"), "memory").unwrap();
        let mut g = Guard::begin(&tmp.path().join("state"), "x1").unwrap();
        let memcgs = [node("p", false, Limit::Bytes(1 << 20))];
        let err = t.create(&memcgs, &mut g).unwrap_err();
        let undo = Undo::RemoveCgroup {
            path: t.root.clone(),
        };
        assert_eq!(g.changes(), std::slice::from_ref(&undo));
        // The run root has no control files on a plain directory: the error names the file.
        assert!(
            format!("{err:#}").contains("cgroup.subtree_control"),
            "{err:#}"
        );
        assert!(t.root.is_dir());
        // Its removal was recorded, so the half-made tree is undone.
        assert!(g.restore().is_empty());
        assert!(!t.root.exists());
    }

    #[test]
    fn an_existing_root_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Tree::new(tmp.path(), "x2");
        std::fs::create_dir_all(t.root.join("theirs")).unwrap();
        let mut g = Guard::begin(&tmp.path().join("state"), "x2").unwrap();
        std::fs::write(tmp.path().join("cgroup.subtree_control"), "memory").unwrap();
        let err = t.create(&[], &mut g).unwrap_err();
        assert!(format!("{err:#}").contains("creating cgroup"), "{err:#}");
        assert!(g.changes().is_empty());
        assert!(g.restore().is_empty());
        assert!(t.root.join("theirs").is_dir());
    }

    #[test]
    fn v1_or_plain_dir_is_refused_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let e = check_v2_memory(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("not a cgroup v2"), "{e}");
        assert!(e.contains("--kernel"), "{e}");
    }
}
