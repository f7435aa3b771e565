//! The control region the runner shares with its forked workers: a header holding the phase
//! word (runner -> workers) and one slot per worker (state, counters, and the churn helpers'
//! command handshake). It is MAP_SHARED memory, so it stays shared across fork, and it is only
//! ever accessed through atomics.
use std::fs::File;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use memmap2::{MmapOptions, MmapRaw};
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use super::pages::PAGE_SZ;

/// Phase word (runner -> workers).
pub mod phase {
    pub const HOLD: u32 = 0;
    pub const FILL: u32 = 1;
    pub const RUN: u32 = 2;
    pub const STOP: u32 = 3;
    /// Touchers hold still (the runner takes quiet snapshots); RUN resumes.
    pub const PAUSE: u32 = 4;
}

/// Worker state (worker -> runner).
pub mod wstate {
    pub const FORKED: u32 = 1;
    pub const FILLING: u32 = 2;
    pub const FILLED: u32 = 3;
    pub const RUNNING: u32 = 4;
    pub const EXITED: u32 = 5;
    pub const FAILED: u32 = 6;
    /// Churn helpers: holding `arg` bytes / holding nothing.
    pub const HOLDING: u32 = 7;
    pub const EMPTY: u32 = 8;
}

/// Per-slot command for churn helpers (runner -> helper).
/// (0 = no command yet.)
pub mod hcmd {
    pub const ALLOC: u32 = 1;
    pub const FREE: u32 = 2;
    /// Request workers: start issuing requests (the measured phase began).
    pub const START: u32 = 3;
}

/// One worker's part of the region. Any bit pattern is a valid `Slot` (all atomics; zerocopy's
/// derives check that), so the zero-filled mapping starts as all slots in state 0.
#[repr(C)]
#[derive(Default, FromBytes, IntoBytes, KnownLayout)]
pub struct Slot {
    pub state: AtomicU32,
    pub cmd: AtomicU32,
    /// Bumped by the runner with each helper command so a repeated command is seen.
    pub seq: AtomicU32,
    pub ack: AtomicU32,
    pub errno: AtomicU32,
    /// Unused: spells out the gap before the 64-bit counters (the byte view must have no
    /// padding).
    _reserved: AtomicU32,
    pub pages_touched: AtomicU64,
    pub major_faults: AtomicU64,
    /// Measured lz4 ratio of a sample of the filled pages, in parts per million.
    pub ratio_ppm: AtomicU64,
    pub fill_ns: AtomicU64,
    /// Request workers: the measured phase's start (Unix ns) their intervals count from, set by
    /// the runner with the START command.
    pub start_unix_ns: AtomicU64,
    /// Request workers: requests done, requests that took a major fault, and the major faults
    /// taken inside requests.
    pub requests: AtomicU64,
    pub faulted_requests: AtomicU64,
    pub request_faults: AtomicU64,
    /// Request workers: the slowest request (ns), its major faults, and when it completed (ns
    /// from `start_unix_ns`).
    pub slowest_ns: AtomicU64,
    pub slowest_faults: AtomicU64,
    pub slowest_at_ns: AtomicU64,
    /// Request workers: minor faults and involuntary context switches inside requests, and
    /// the slowest request's.
    pub request_minor_faults: AtomicU64,
    pub request_preempted: AtomicU64,
    pub slowest_minor_faults: AtomicU64,
    pub slowest_preempted: AtomicU64,
}

/// Start of the region; one cache line, so the slots that follow start aligned.
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout)]
struct Header {
    phase: AtomicU32,
    _reserved: [AtomicU32; 15],
}

/// The shared region: its header and `slots` slots, viewed as atomics.
pub struct Shared {
    header: &'static Header,
    slots: &'static [Slot],
    /// Owns (and on drop unmaps) the memory the views above point into. The views are private
    /// and only handed out borrowed from `&self`, so none outlives the mapping.
    _map: MmapRaw,
}

impl Shared {
    pub fn new(slots: usize) -> Result<Shared> {
        let len =
            (size_of::<Header>() + slots.max(1) * size_of::<Slot>()).next_multiple_of(PAGE_SZ);
        // A memfd mapped MAP_SHARED is the same shmem memory as a MAP_SHARED|MAP_ANONYMOUS
        // mapping, and memmap2 owns it safely; memmap2's own anonymous maps are MAP_PRIVATE,
        // which fork would copy instead of share.
        let fd = memfd_create(c"zswap-bench-workers", MemFdCreateFlag::MFD_CLOEXEC)
            .context("memfd for the shared worker region")?;
        let file = File::from(fd);
        file.set_len(len as u64)
            .context("sizing the shared worker region")?;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .context("mmap of the shared worker region")?;
        // SAFETY: `map` is `len` readable and writable bytes that stay mapped as long as `map`
        // lives, and `Shared` keeps `map` for as long as the views made here can be reached
        // (see the field). Nothing else refers to the memory yet (the workers are forked
        // later), so this exclusive reference aliases nothing; it is at once split into shared
        // views of atomics, the only way the memory is accessed afterwards, here and in the
        // forked workers.
        let bytes: &'static mut [u8] =
            unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr(), len) };
        let (header, rest) =
            Header::mut_from_prefix(bytes).map_err(|_| anyhow!("worker region: header layout"))?;
        let (slots, _) = <[Slot]>::mut_from_prefix_with_elems(rest, slots)
            .map_err(|_| anyhow!("worker region: slot layout"))?;
        Ok(Shared {
            header,
            slots,
            _map: map,
        })
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }
    pub fn phase(&self) -> u32 {
        self.header.phase.load(Ordering::SeqCst)
    }
    pub fn set_phase(&self, p: u32) {
        self.header.phase.store(p, Ordering::SeqCst)
    }
}

/// Helper command (churn): ALLOC or FREE to the helper in slot `i`, waiting for its answer.
pub fn helper_cmd(sh: &Shared, i: usize, cmd: u32, timeout: Duration) -> Result<()> {
    let s = sh.slot(i);
    let seq = s.seq.load(Ordering::SeqCst).wrapping_add(1);
    s.cmd.store(cmd, Ordering::SeqCst);
    s.seq.store(seq, Ordering::SeqCst);
    let end = Instant::now() + timeout;
    while s.ack.load(Ordering::SeqCst) != seq {
        if Instant::now() >= end {
            bail!("churn helper {i} did not answer within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if s.state.load(Ordering::SeqCst) == wstate::FAILED {
        bail!(
            "churn helper {i} failed (errno {})",
            s.errno.load(Ordering::SeqCst)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_starts_zeroed_and_slots_are_separate() {
        let sh = Shared::new(3).unwrap();
        assert_eq!(sh.phase(), phase::HOLD);
        for i in 0..3 {
            assert_eq!(sh.slot(i).state.load(Ordering::SeqCst), 0);
            assert_eq!(sh.slot(i).pages_touched.load(Ordering::SeqCst), 0);
        }
        sh.slot(1).pages_touched.store(7, Ordering::SeqCst);
        sh.set_phase(phase::RUN);
        assert_eq!(sh.slot(0).pages_touched.load(Ordering::SeqCst), 0);
        assert_eq!(sh.slot(1).pages_touched.load(Ordering::SeqCst), 7);
        assert_eq!(sh.slot(2).pages_touched.load(Ordering::SeqCst), 0);
        assert_eq!(sh.phase(), phase::RUN);
    }

    #[test]
    #[should_panic]
    fn slot_out_of_range_panics() {
        Shared::new(2).unwrap().slot(2);
    }
}
