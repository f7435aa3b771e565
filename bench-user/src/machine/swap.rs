//! Swap for the run: an unused block device (the guest's /dev/vda swap disk), a swap file, or
//! what the machine already has. zswap only stores pages that have a swap slot, so a run
//! without swap measures nothing.
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bench_results::human::fmt_bytes;

use super::state::Guard;
use crate::scenario::{SwapChoice, SwapSpec};

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
    // SAFETY: sysconf has no memory-safety preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize
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
pub fn setup(spec: &SwapSpec, run_id: &str, guard: &mut Guard) -> Result<SwapInUse> {
    let choice = spec
        .choice()
        .context("invalid swap.device (validation should have caught this)")?;
    match choice {
        SwapChoice::Existing => {
            let s = active_swaps();
            let free: u64 = s.iter().map(|a| a.size - a.used).sum();
            if free < spec.size.0 {
                bail!(
                    "swap.device = \"existing\" but only {} of enabled swap is free (scenario wants {}); enable swap or use swap.device = \"auto\"",
                    fmt_bytes(free),
                    fmt_bytes(spec.size.0)
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
            enable_device(&dev, size.min(spec.size.0), guard)
        }
        SwapChoice::Auto => {
            let vda = PathBuf::from("/dev/vda");
            if vda.exists() {
                match device_usable(&vda) {
                    Ok(size) => return enable_device(&vda, size.min(spec.size.0), guard),
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
    guard.record_swap(dev, false)?;
    swapon(dev)?;
    Ok(SwapInUse {
        path: dev.into(),
        size,
        what: format!("block device {} ({})", dev.display(), fmt_bytes(size)),
    })
}

fn enable_file(spec: &SwapSpec, run_id: &str, guard: &mut Guard) -> Result<SwapInUse> {
    let path = spec
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/var/tmp/zswap-bench-{run_id}.swap")));
    let page = page_size();
    let size = spec.size.0 / page as u64 * page as u64;
    // create_new: never take over (and later delete) a file that is not ours.
    let f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).with_context(|| {
        format!("creating swap file {} (set swap.file to a writable disk filesystem, not tmpfs or a read-only root)", path.display())
    })?;
    guard.record_swap(&path, true)?;
    // Swap files must have no holes: allocate, falling back to writing zeros.
    // SAFETY: fallocate on a file we own; no memory is passed.
    let rc = unsafe {
        libc::fallocate(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            0,
            0,
            size as libc::off_t,
        )
    };
    if rc != 0 {
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
    swapon(&path).with_context(|| format!("the filesystem of {} may not support swap files (tmpfs, 9p do not); set swap.file elsewhere or give the VM a swap disk", path.display()))?;
    Ok(SwapInUse {
        path: path.clone(),
        size,
        what: format!("swap file {} ({})", path.display(), fmt_bytes(size)),
    })
}

pub fn swapon(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid NUL-terminated path; flags 0.
    if unsafe { libc::swapon(c.as_ptr(), 0) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!("swapon {}: {e}", path.display());
    }
    Ok(())
}

/// swapoff; "not swapped on" (EINVAL) counts as done, so cleanup can be repeated.
pub fn swapoff(path: &Path) -> Result<()> {
    if !active_swaps().iter().any(|s| s.path == path) {
        return Ok(());
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid NUL-terminated path.
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
}
