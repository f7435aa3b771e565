//! Memcg churn: short-lived child memcgs created and removed at a rate under a parent. With a
//! size, each churned memcg first gets data pushed into zswap (a helper process allocates in it,
//! memory.reclaim pushes it out, the helper steps back to its home memcg), so the removal goes
//! through zswap's offline cleanup with entries still charged to the dying memcg.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::Stop;
use super::memory::{Shared, hcmd, helper_cmd};
use crate::machine::cgroup::{Tree, enable_memory};
use crate::machine::write_ctl;

/// Name of the leaf the helpers live in between cycles.
pub const HOME: &str = "churn-home";

#[derive(Default)]
pub struct ChurnStats {
    pub cycles: AtomicU64,
    pub errors: AtomicU64,
    /// (cgroup id = directory inode, cgroup path) of every churned memcg, so probe counts
    /// keyed by the id of a memcg that no longer exists can still be named.
    pub names: std::sync::Mutex<Vec<(u64, String)>>,
}

#[derive(Debug, Clone)]
pub struct ChurnJob {
    pub parent: String,
    pub rate: f64,
    pub live: u32,
    pub size: u64,
    /// (pool slot, pid) of each helper (one per live memcg), when size > 0.
    pub helpers: Vec<(usize, i32)>,
}

/// Name of the `n`-th churned memcg.
pub fn churn_name(parent: &str, n: u64) -> String {
    format!("{parent}/churn-{n}")
}

/// Prepares the parent: memory controller for its children and the helpers' home leaf.
pub fn setup(tree: &Tree, job: &ChurnJob) -> Result<()> {
    enable_memory(&tree.dir(&job.parent))?;
    if job.size > 0 {
        let home = tree.dir(&format!("{}/{HOME}", job.parent));
        std::fs::create_dir(&home).map_err(|e| crate::machine::ctx(&home, "creating", e))?;
    }
    Ok(())
}

/// Runs cycles until stopped; every problem is counted and the first few are returned.
pub fn run(
    tree: &Tree,
    pool: Option<&Shared>,
    job: &ChurnJob,
    stop: &Stop,
    stats: &Arc<ChurnStats>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let note = |p: String, problems: &mut Vec<String>| {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        if problems.len() < 10 {
            problems.push(p);
        }
    };
    let period = Duration::from_secs_f64(1.0 / job.rate);
    let home = format!("{}/{HOME}", job.parent);
    let mut slots: Vec<Option<String>> = vec![None; job.live as usize];
    let mut n = 0u64;
    let mut next = Instant::now();
    'outer: while !stop.stopped() {
        for (k, slot) in slots.iter_mut().enumerate() {
            if stop.stopped() {
                break 'outer;
            }
            let helper = pool.zip(job.helpers.get(k).copied());
            if let Some(old) = slot.take() {
                if let Err(e) = std::fs::remove_dir(tree.dir(&old)) {
                    note(format!("rmdir {old}: {e}"), &mut problems);
                }
                if let Some((sh, (i, _))) = helper
                    && let Err(e) = helper_cmd(sh, i, hcmd::FREE, Duration::from_secs(30))
                {
                    note(format!("{e:#}"), &mut problems);
                }
            }
            n += 1;
            let name = churn_name(&job.parent, n);
            let dir = tree.dir(&name);
            if let Err(e) = std::fs::create_dir(&dir) {
                note(format!("mkdir {name}: {e}"), &mut problems);
                continue;
            }
            if let Ok(md) = std::fs::metadata(&dir) {
                use std::os::unix::fs::MetadataExt;
                let mut names = stats.names.lock().unwrap_or_else(|e| e.into_inner());
                names.push((md.ino(), tree.cgroup_path(&name)));
            }
            let _ = write_ctl(&dir.join("memory.zswap.writeback"), "1");
            if let Some((sh, (i, pid))) = helper {
                let r = tree
                    .move_pid(&name, pid)
                    .and_then(|_| helper_cmd(sh, i, hcmd::ALLOC, Duration::from_secs(30)))
                    .and_then(|_| {
                        // EAGAIN (not all of it reclaimed) is fine: some data is in zswap.
                        let _ = write_ctl(&dir.join("memory.reclaim"), &job.size.to_string());
                        tree.move_pid(&home, pid)
                    });
                if let Err(e) = r {
                    note(format!("{e:#}"), &mut problems);
                }
            }
            *slot = Some(name);
            stats.cycles.fetch_add(1, Ordering::Relaxed);
            next += period;
            let now = Instant::now();
            if next > now {
                if !stop.sleep(next - now) {
                    break 'outer;
                }
            } else {
                next = now;
            }
        }
    }
    // Leave no churned memcg behind (the tree removal would get them too).
    for (k, s) in slots.iter_mut().enumerate() {
        if let Some(old) = s.take() {
            if let Some((_, (_, pid))) = pool.zip(job.helpers.get(k).copied()) {
                let _ = tree.move_pid(&home, pid);
            }
            let _ = std::fs::remove_dir(tree.dir(&old));
        }
    }
    problems
}

/// Directories of churned memcgs currently present.
#[cfg(test)]
pub fn present(tree: &Tree, parent: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tree.dir(parent))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("churn-") && n != HOME)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_create_and_remove_on_a_plain_directory() {
        // Plain directories behave like empty memcgs for mkdir/rmdir.
        let tmp = tempfile::tempdir().unwrap();
        let tree = Tree::new(tmp.path(), "t");
        std::fs::create_dir_all(tree.dir("churn")).unwrap();
        let job = ChurnJob {
            parent: "churn".into(),
            rate: 200.0,
            live: 3,
            size: 0,
            helpers: vec![],
        };
        let stop = Stop::new();
        let stats = Arc::new(ChurnStats::default());
        let (t2, s2, st2, j2) = (tree.clone(), stop.clone(), stats.clone(), job.clone());
        let h = std::thread::spawn(move || run(&t2, None, &j2, &s2, &st2));
        std::thread::sleep(Duration::from_millis(200));
        assert!(present(&tree, "churn").len() <= 3);
        stop.stop();
        let problems = h.join().unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let cycles = stats.cycles.load(Ordering::Relaxed);
        assert!(cycles >= 10, "{cycles}");
        let names = stats.names.lock().unwrap();
        assert_eq!(names.len() as u64, cycles);
        assert_eq!(names[0].1, "/zswap-bench-t/churn/churn-1");
        assert!(
            present(&tree, "churn").is_empty(),
            "all churned memcgs removed at the end"
        );
        assert_eq!(churn_name("p", 7), "p/churn-7");
    }
}
