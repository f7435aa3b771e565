//! cgroup id -> path. The probes see memcg->css.cgroup->kn->id, which on cgroup v2 is the
//! inode number of the cgroup's directory, so walking /sys/fs/cgroup resolves it.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub struct CgroupNames {
    root: std::path::PathBuf,
    by_id: HashMap<u64, String>,
}

impl CgroupNames {
    pub fn scan(root: &Path) -> Self {
        let mut c = CgroupNames {
            root: root.to_path_buf(),
            by_id: HashMap::new(),
        };
        c.walk(root, 0);
        c
    }

    fn walk(&mut self, dir: &Path, depth: usize) {
        if depth > 32 {
            return;
        }
        if let Ok(md) = std::fs::metadata(dir) {
            let rel = dir
                .strip_prefix(&self.root)
                .map(|p| format!("/{}", p.display()))
                .unwrap_or_default();
            self.by_id
                .insert(md.ino(), if rel == "/" { "/".into() } else { rel });
        }
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                self.walk(&e.path(), depth + 1);
            }
        }
    }

    /// Path relative to the cgroup2 mount ("/" for the root, "/a/b" below); ids of cgroups
    /// already removed are kept as "cgroup#<id> (removed)" so their numbers are not lost.
    pub fn name(&mut self, id: u64) -> String {
        if id == 0 {
            return "(no memcg)".into();
        }
        if let Some(n) = self.by_id.get(&id) {
            return n.clone();
        }
        let root = self.root.clone();
        self.by_id.clear();
        self.walk(&root, 0);
        self.by_id
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("cgroup#{id} (removed)"))
    }

    /// Remember names of cgroups that will disappear (churn): call before they are removed.
    pub fn refresh(&mut self) {
        let root = self.root.clone();
        self.walk(&root, 0);
    }
}
