//! Swap for the run: an unused block device (the guest's /dev/vda swap disk), a swap file, or
//! what the machine already has. zswap only stores pages that have a swap slot, so a run
//! without swap measures nothing.
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bench_results::human::fmt_bytes;
use nix::fcntl::FallocateFlags;

use super::state::Guard;
use super::sys::swapon;
pub use super::sys::{ActiveSwap, active_swaps};
use super::undo::Undo;
use crate::scenario::{Swap, SwapChoice};

/// A version-1 swap header for an area of `bytes` (what mkswap writes, without a label/UUID).
pub fn swap_header(bytes: u64, page: usize) -> Vec<u8> {
    let mut h = vec![0u8; page];
    let pages = bytes / page as u64;
    // struct swap_header.info: bootbits[1024], version u32, last_page u32, nr_badpages u32.
    h[1024..1028].copy_from_slice(&1u32.to_ne_bytes());
    h[1028..1032]
        .copy_from_slice(&((pages.saturating_sub(1)).min(u32::MAX as u64) as u32).to_ne_bytes());
    h[page - 10..].copy_from_slice(b"SWAPSPACE2");
    h
}

/// Why a block device may not be used, or None when it is free: not swapped on, not mounted,
/// no partitions, and its first 64 KiB are zeros or a swap signature (never clobber data).
pub fn device_problem(
    dev: &Path,
    head: &[u8],
    mounts: &str,
    swaps: &[ActiveSwap],
    has_partitions: bool,
    page: usize,
) -> Option<String> {
    let d = dev.to_string_lossy();
    if swaps.iter().any(|s| s.path == dev) {
        return Some(format!("{d} is already in use as swap"));
    }
    if mounts.lines().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|s| s == d || s.starts_with(&*d))
    }) {
        return Some(format!("{d} (or a partition of it) is mounted"));
    }
    if has_partitions {
        return Some(format!("{d} has partitions"));
    }
    let is_swap = head.len() >= page && &head[page - 10..page] == b"SWAPSPACE2";
    if !is_swap && head.iter().any(|&b| b != 0) {
        return Some(format!(
            "{d} holds data (no swap signature and not zeroed); refusing to overwrite it"
        ));
    }
    None
}

fn page_size() -> usize {
    use nix::unistd::{SysconfVar, sysconf};
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    usize::try_from(page).unwrap_or(4096).max(4096)
}

fn block_size(dev: &Path) -> Option<u64> {
    let name = dev.file_name()?.to_string_lossy().into_owned();
    let sectors: u64 = std::fs::read_to_string(format!("/sys/class/block/{name}/size"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(sectors * 512)
}

fn has_partitions(dev: &Path) -> bool {
    let Some(name) = dev.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return false;
    };
    std::fs::read_dir(format!("/sys/class/block/{name}"))
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&name))
        })
        .unwrap_or(false)
}

fn device_usable(dev: &Path) -> Result<u64, String> {
    let size = block_size(dev).ok_or_else(|| format!("{} is not a block device", dev.display()))?;
    let page = page_size();
    let mut head = vec![0u8; 65536.min(size as usize)];
    let f = std::fs::File::open(dev).map_err(|e| format!("{}: {e}", dev.display()))?;
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut head, 0)
        .map_err(|e| format!("{}: {e}", dev.display()))?;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    match device_problem(
        dev,
        &head,
        &mounts,
        &active_swaps(),
        has_partitions(dev),
        page,
    ) {
        Some(p) => Err(p),
        None => Ok(size),
    }
}

/// What the run uses.
#[derive(Debug, Clone)]
pub struct SwapInUse {
    pub path: PathBuf,
    pub size: u64,
    /// Human-readable description for the log and the result's warnings.
    pub what: String,
}

/// Sets up swap per the scenario, recording every change in the state file first.
pub fn setup(spec: &Swap, run_id: &str, guard: &mut Guard) -> Result<SwapInUse> {
    match spec.choice.clone() {
        SwapChoice::Existing => {
            let s = active_swaps();
            let free: u64 = s.iter().map(|a| a.size - a.used).sum();
            if free < spec.size {
                bail!(
                    "swap.device = \"existing\" but only {} of enabled swap is free (scenario wants {}); enable swap or use swap.device = \"auto\"",
                    fmt_bytes(free),
                    fmt_bytes(spec.size)
                );
            }
            Ok(SwapInUse {
                path: s.first().map(|a| a.path.clone()).unwrap_or_default(),
                size: free,
                what: format!("existing swap ({} free)", fmt_bytes(free)),
            })
        }
        SwapChoice::Device(dev) => {
            let size = device_usable(&dev).map_err(|p| anyhow::anyhow!("swap.device: {p}"))?;
            enable_device(&dev, size.min(spec.size), guard)
        }
        SwapChoice::Auto => {
            let vda = PathBuf::from("/dev/vda");
            if vda.exists() {
                match device_usable(&vda) {
                    Ok(size) => return enable_device(&vda, size.min(spec.size), guard),
                    Err(why) => log::info!("not using {} for swap: {why}", vda.display()),
                }
            }
            enable_file(spec, run_id, guard)
        }
        SwapChoice::File => enable_file(spec, run_id, guard),
    }
}

fn enable_device(dev: &Path, size: u64, guard: &mut Guard) -> Result<SwapInUse> {
    let page = page_size();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .with_context(|| format!("opening {}", dev.display()))?;
    std::os::unix::fs::FileExt::write_all_at(&f, &swap_header(size, page), 0)
        .with_context(|| format!("writing a swap header to {}", dev.display()))?;
    f.sync_all()?;
    guard.push(Undo::SwapOff { path: dev.into() })?;
    swapon(dev)?;
    Ok(SwapInUse {
        path: dev.into(),
        size,
        what: format!("block device {} ({})", dev.display(), fmt_bytes(size)),
    })
}

fn enable_file(spec: &Swap, run_id: &str, guard: &mut Guard) -> Result<SwapInUse> {
    let path = spec
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/var/tmp/zswap-bench-{run_id}.swap")));
    let page = page_size();
    let size = spec.size / page as u64 * page as u64;
    let f = create_owned(&path, guard)?;
    // Swap files must have no holes: allocate, falling back to writing zeros.
    let allocated = libc::off_t::try_from(size).is_ok_and(|len| {
        nix::fcntl::fallocate(f.as_raw_fd(), FallocateFlags::empty(), 0, len).is_ok()
    });
    if !allocated {
        let zeros = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            let n = (size - off).min(zeros.len() as u64) as usize;
            std::os::unix::fs::FileExt::write_all_at(&f, &zeros[..n], off)?;
            off += n as u64;
        }
    }
    std::os::unix::fs::FileExt::write_all_at(&f, &swap_header(size, page), 0)?;
    f.sync_all()?;
    drop(f);
    guard.push(Undo::SwapOff { path: path.clone() })?;
    swapon(&path).with_context(|| format!("the filesystem of {} may not support swap files (tmpfs, 9p do not); set swap.file elsewhere or give the VM a swap disk", path.display()))?;
    Ok(SwapInUse {
        path: path.clone(),
        size,
        what: format!("swap file {} ({})", path.display(), fmt_bytes(size)),
    })
}

/// Creates `path` as a new file of the run's, recording its removal first. Never takes over
/// (and later deletes) a file that is not the run's: one that exists is refused, and a creation
/// that fails withdraws its record.
fn create_owned(path: &Path, guard: &mut Guard) -> Result<std::fs::File> {
    let failed = |e: std::io::Error| {
        anyhow::Error::new(e).context(format!(
            "creating swap file {} (set swap.file to a writable disk filesystem, not tmpfs or a read-only root)",
            path.display()
        ))
    };
    if path.symlink_metadata().is_ok() {
        return Err(failed(std::io::ErrorKind::AlreadyExists.into()));
    }
    let undo = Undo::RemoveFile { path: path.into() };
    guard.push(undo.clone())?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => Ok(f),
        Err(e) => {
            guard.retract(&undo)?;
            Err(failed(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_mkswap() {
        let h = swap_header(64 << 20, 4096);
        assert_eq!(h.len(), 4096);
        assert_eq!(&h[4086..], b"SWAPSPACE2");
        assert_eq!(u32::from_ne_bytes(h[1024..1028].try_into().unwrap()), 1);
        assert_eq!(
            u32::from_ne_bytes(h[1028..1032].try_into().unwrap()),
            (64 << 20) / 4096 - 1
        );
        assert!(h[..1024].iter().all(|&b| b == 0));
    }

    #[test]
    fn devices_with_data_or_in_use_are_refused() {
        let dev = Path::new("/dev/vda");
        let zero = vec![0u8; 8192];
        assert_eq!(device_problem(dev, &zero, "", &[], false, 4096), None);
        let mut sw = zero.clone();
        sw[4086..4096].copy_from_slice(b"SWAPSPACE2");
        sw[1024] = 1;
        assert_eq!(device_problem(dev, &sw, "", &[], false, 4096), None);
        let mut data = zero.clone();
        data[510] = 0x55;
        assert!(
            device_problem(dev, &data, "", &[], false, 4096)
                .unwrap()
                .contains("holds data")
        );
        assert!(
            device_problem(dev, &zero, "/dev/vda1 / ext4 rw 0 0\n", &[], false, 4096)
                .unwrap()
                .contains("mounted")
        );
        assert!(
            device_problem(dev, &zero, "", &[], true, 4096)
                .unwrap()
                .contains("partitions")
        );
        let active = [ActiveSwap {
            path: dev.into(),
            size: 1,
            used: 0,
        }];
        assert!(
            device_problem(dev, &zero, "", &active, false, 4096)
                .unwrap()
                .contains("already in use")
        );
    }

    #[test]
    fn swap_file_removal_is_recorded_before_creation_and_never_of_a_foreign_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut g = Guard::begin(&tmp.path().join("state"), "s1").unwrap();
        // A file that is not the run's is refused, kept, and leaves no record behind.
        let foreign = tmp.path().join("theirs.swap");
        std::fs::write(&foreign, "data").unwrap();
        let e = format!("{:#}", create_owned(&foreign, &mut g).unwrap_err());
        assert!(
            e.contains("creating swap file") && e.contains("theirs.swap"),
            "{e}"
        );
        assert!(g.changes().is_empty());
        // A creation that fails for another reason withdraws its record too.
        assert!(create_owned(&tmp.path().join("no-dir/x.swap"), &mut g).is_err());
        assert!(g.changes().is_empty());
        let ours = tmp.path().join("ours.swap");
        drop(create_owned(&ours, &mut g).unwrap());
        assert_eq!(g.changes(), [Undo::RemoveFile { path: ours.clone() }]);
        assert!(g.restore().is_empty());
        assert!(!ours.exists());
        assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "data");
    }
}
