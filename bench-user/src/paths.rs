//! Where things live: the repository (manifests, scenarios) and the cache outside it (kernel
//! sources, builds, built kernels), overridable with ZSWAP_BENCH_CACHE / ZSWAP_BENCH_ROOT.
use std::path::PathBuf;

/// The repository root: ZSWAP_BENCH_ROOT, else the directory holding kernels/ above the
/// executable or the current directory.
pub fn repo_root() -> PathBuf {
    if let Some(p) = std::env::var_os("ZSWAP_BENCH_ROOT") {
        return PathBuf::from(p);
    }
    let mut candidates = vec![];
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(PathBuf::from));
    }
    for c in &candidates {
        for a in c.ancestors() {
            if a.join("kernels").is_dir() && a.join("Cargo.toml").is_file() {
                return a.to_path_buf();
            }
        }
    }
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn cache_dir() -> PathBuf {
    std::env::var_os("ZSWAP_BENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/zswap-bench"))
}

/// Runtime state of the workload runner (for `zswap-bench cleanup` after a SIGKILL).
pub fn state_dir() -> PathBuf {
    std::env::var_os("ZSWAP_BENCH_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/zswap-bench"))
}
