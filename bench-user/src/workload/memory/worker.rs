//! What a forked worker process does: fill anonymous memory with template pages, then touch it
//! in its access pattern (or, as a churn helper, allocate and free on command), publishing its
//! state and counters in its slot of the control region.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memmap2::{Advice, MmapMut, MmapOptions};
use nix::sys::resource::{UsageWho, getrusage};
use zerocopy::FromBytes;

use super::control::{Shared, Slot, hcmd, phase, wstate};
use super::pages::{PAGE_SZ, Rng, Template, measure_ratio};
use crate::scenario::Pattern;

/// What one worker process does.
#[derive(Debug, Clone)]
pub enum Role {
    Toucher {
        size: u64,
        threads: u32,
        pattern: Pattern,
        hot_fraction: f64,
        hot_share: f64,
        chunk: u64,
        interval: Option<Duration>,
        seed: u64,
        /// Index into the template list.
        template: usize,
    },
    /// Allocates/frees `size` on command (memcg churn with data).
    ChurnHelper { size: u64, template: usize },
    /// A latency-sensitive worker: fills `size`, then from the START command issues requests
    /// of `pages` hot/cold page touches at `rate` a second (0 = back to back), logging each
    /// second's latencies to `hlog`.
    Requests {
        size: u64,
        hot_fraction: f64,
        hot_share: f64,
        rate: f64,
        pages: u64,
        seed: u64,
        template: usize,
        hlog: std::path::PathBuf,
    },
    /// The burst: allocates and fills `size` on the ALLOC command (timed in `fill_ns`), then
    /// holds it.
    Burst { size: u64, template: usize },
}

impl Role {
    /// Workers that fill their memory in set-up (the runner waits for them) and whose touches
    /// are the workload's; helpers and the burst allocate on command.
    pub fn fills_in_setup(&self) -> bool {
        matches!(self, Role::Toucher { .. } | Role::Requests { .. })
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Memcg (relative to the run root) the process is placed in.
    pub memcg: String,
    pub role: Role,
}

// ---------------------------------------------------------------------------------------------
// Access patterns
// ---------------------------------------------------------------------------------------------

/// Which page to touch next, within `[first, first + n)`.
#[derive(Debug, Clone)]
pub struct Access {
    pattern: Pattern,
    first: usize,
    n: usize,
    hot: usize,
    hot_share: f64,
    pos: usize,
    rng: Rng,
}

impl Access {
    pub fn new(
        pattern: Pattern,
        first: usize,
        n: usize,
        hot_fraction: f64,
        hot_share: f64,
        seed: u64,
    ) -> Self {
        let hot = ((n as f64 * hot_fraction).round() as usize).clamp(1, n.max(1));
        Access {
            pattern,
            first,
            n: n.max(1),
            hot,
            hot_share,
            pos: 0,
            rng: Rng::new(seed),
        }
    }

    pub fn next_page(&mut self) -> usize {
        let i = match self.pattern {
            Pattern::Sequential | Pattern::Idle | Pattern::Periodic => {
                let i = self.pos;
                self.pos = (self.pos + 1) % self.n;
                i
            }
            Pattern::Random => self.rng.below(self.n as u64) as usize,
            Pattern::HotCold | Pattern::Requests => {
                if self.hot >= self.n || self.rng.unit() < self.hot_share {
                    self.rng.below(self.hot as u64) as usize
                } else {
                    self.hot + self.rng.below((self.n - self.hot) as u64) as usize
                }
            }
        };
        self.first + i
    }
}

// ---------------------------------------------------------------------------------------------
// The worker's memory
// ---------------------------------------------------------------------------------------------

/// Anonymous private memory of base pages, unmapped on drop.
struct Area(MmapMut);

impl Area {
    fn new(len: usize) -> std::io::Result<Area> {
        // mmap(2) refuses an empty mapping (memmap2 would quietly map one byte): keep that.
        if len == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let map = MmapOptions::new().len(len).no_reserve_swap().map_anon()?;
        // 4 KiB pages: zswap stores base pages; THP would change what is measured. Best
        // effort: a kernel without THP has nothing to turn off.
        let _ = map.advise(Advice::NoHugePage);
        Ok(Area(map))
    }

    fn pages(&self) -> usize {
        self.0.len() / PAGE_SZ
    }

    /// Copies template pages in, starting at template page `offset_pages`.
    fn fill(&mut self, t: &Template, offset_pages: usize) {
        for (i, page) in self.0.chunks_exact_mut(PAGE_SZ).enumerate() {
            page.copy_from_slice(t.page(i + offset_pages));
            // Stamp the page number so no two pages are identical.
            page[..8].copy_from_slice(&((i + offset_pages) as u64).to_ne_bytes());
        }
    }

    /// lz4 ratio of up to 64 pages spread over the area.
    fn sample_ratio(&self) -> f64 {
        let pages = self.pages();
        let n = pages.min(64);
        let mut buf = Vec::with_capacity(n * PAGE_SZ);
        for k in 0..n {
            let i = k * pages / n;
            buf.extend_from_slice(&self.0[i * PAGE_SZ..(i + 1) * PAGE_SZ]);
        }
        measure_ratio(&buf)
    }

    /// The area as 64-bit words that several touching threads may share (random patterns let
    /// threads touch the same page at once).
    fn words(&mut self) -> &[AtomicU64] {
        let (words, _) = <[AtomicU64]>::mut_from_prefix(&mut self.0[..])
            .expect("a page-aligned mapping holds whole u64 words");
        words
    }
}

/// Reads and rewrites one word of page `i` (faults it in if it was reclaimed). Relaxed load and
/// store, not an atomic add: plain moves, like the touch of a program's data.
fn touch(words: &[AtomicU64], i: usize) {
    let w = &words[i * (PAGE_SZ / 8) + 1];
    w.store(w.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

fn major_faults() -> u64 {
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.major_page_faults() as u64)
}

// ---------------------------------------------------------------------------------------------
// Following the phase word
// ---------------------------------------------------------------------------------------------

/// Waits while the phase is PAUSE; returns the phase that ended the pause.
fn pause_point(sh: &Shared) -> u32 {
    loop {
        let p = sh.phase();
        if p != phase::PAUSE {
            return p;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the phase reaches `at_least` in HOLD < FILL < RUN (PAUSE counts as RUN) < STOP.
fn wait_phase(sh: &Shared, at_least: u32) -> u32 {
    loop {
        let p = sh.phase();
        if p == phase::STOP || (p == phase::PAUSE && at_least <= phase::RUN) {
            return p;
        }
        if p >= at_least {
            return p;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Publishes a failed allocation; returns the process exit code.
fn fail(slot: &Slot, e: &std::io::Error) -> i32 {
    slot.errno
        .store(e.raw_os_error().unwrap_or(0) as u32, Ordering::SeqCst);
    slot.state.store(wstate::FAILED, Ordering::SeqCst);
    2
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

/// The body of worker `i`; returns its exit code.
pub fn child_main(sh: &Shared, i: usize, cfg: &WorkerConfig, templates: &[Template]) -> i32 {
    let slot = sh.slot(i);
    match &cfg.role {
        Role::ChurnHelper { size, template } | Role::Burst { size, template } => {
            helper_main(sh, slot, *size, &templates[*template])
        }
        Role::Requests { .. } => requests_main(sh, slot, cfg, templates),
        Role::Toucher {
            size,
            pattern,
            chunk,
            interval,
            template,
            ..
        } => {
            let t = &templates[*template];
            if wait_phase(sh, phase::FILL) == phase::STOP {
                return 0;
            }
            slot.state.store(wstate::FILLING, Ordering::SeqCst);
            if *pattern == Pattern::Periodic {
                slot.state.store(wstate::FILLED, Ordering::SeqCst);
                if wait_phase(sh, phase::RUN) == phase::STOP {
                    return 0;
                }
                slot.state.store(wstate::RUNNING, Ordering::SeqCst);
                let interval = interval.unwrap_or(Duration::from_millis(2));
                return periodic(sh, slot, *size, *chunk, interval, t);
            }
            toucher(sh, slot, &cfg.role, t)
        }
    }
}

/// Allocates and fills `size` bytes (publishing the measured ratio and the fill time), then
/// waits for RUN. `Err` is the exit code: the allocation failed, or STOP came first (0).
fn fill_and_wait(sh: &Shared, slot: &Slot, size: u64, t: &Template) -> Result<Area, i32> {
    let t0 = Instant::now();
    let mut area = Area::new(size as usize).map_err(|e| fail(slot, &e))?;
    area.fill(t, 0);
    slot.ratio_ppm
        .store((area.sample_ratio() * 1e6) as u64, Ordering::SeqCst);
    slot.fill_ns
        .store(t0.elapsed().as_nanos() as u64, Ordering::SeqCst);
    slot.state.store(wstate::FILLED, Ordering::SeqCst);
    if wait_phase(sh, phase::RUN) == phase::STOP {
        return Err(0);
    }
    slot.state.store(wstate::RUNNING, Ordering::SeqCst);
    Ok(area)
}

/// Fills `size` bytes once, then touches them in the pattern until STOP.
fn toucher(sh: &Shared, slot: &Slot, role: &Role, t: &Template) -> i32 {
    let Role::Toucher { size, pattern, .. } = role else {
        unreachable!("toucher() is only called for touchers")
    };
    let mut area = match fill_and_wait(sh, slot, *size, t) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if *pattern == Pattern::Idle {
        while sh.phase() != phase::STOP {
            std::thread::sleep(Duration::from_millis(20));
        }
        return 0;
    }
    touch_threads(sh, slot, role, &mut area);
    slot.major_faults.store(major_faults(), Ordering::Relaxed);
    slot.state.store(wstate::EXITED, Ordering::SeqCst);
    0
}

/// Runs the touching threads until STOP: sequential threads each cycle through their own share
/// of the pages, the other patterns draw from all of them.
fn touch_threads(sh: &Shared, slot: &Slot, role: &Role, area: &mut Area) {
    let Role::Toucher {
        threads,
        pattern,
        hot_fraction,
        hot_share,
        interval,
        seed,
        ..
    } = role
    else {
        unreachable!("touch_threads() is only called for touchers")
    };
    let pages = area.pages();
    let words = area.words();
    let nthreads = (*threads as usize).clamp(1, pages);
    std::thread::scope(|sc| {
        for th in 0..nthreads {
            let (first, n) = if *pattern == Pattern::Sequential {
                (
                    th * pages / nthreads,
                    (th + 1) * pages / nthreads - th * pages / nthreads,
                )
            } else {
                (0, pages)
            };
            let mut acc = Access::new(
                *pattern,
                first,
                n,
                *hot_fraction,
                *hot_share,
                seed.wrapping_add(th as u64 * 7919),
            );
            sc.spawn(move || {
                let mut last_ru = Instant::now();
                loop {
                    for _ in 0..256 {
                        touch(words, acc.next_page());
                    }
                    slot.pages_touched.fetch_add(256, Ordering::Relaxed);
                    if th == 0 && last_ru.elapsed() >= Duration::from_millis(100) {
                        slot.major_faults.store(major_faults(), Ordering::Relaxed);
                        last_ru = Instant::now();
                    }
                    if pause_point(sh) == phase::STOP {
                        break;
                    }
                    if let Some(d) = interval {
                        std::thread::sleep(*d);
                    }
                }
            });
        }
    });
}

/// A ring of `chunk`-sized allocations: one new chunk every `interval`, the oldest freed once
/// the ring holds `size` (the split-series shape: small periodic allocations).
fn periodic(
    sh: &Shared,
    slot: &Slot,
    size: u64,
    chunk: u64,
    interval: Duration,
    t: &Template,
) -> i32 {
    let mut ring = std::collections::VecDeque::new();
    let keep = (size / chunk.max(1)).max(1) as usize;
    let mut k = 0usize;
    let mut next = Instant::now();
    while pause_point(sh) != phase::STOP {
        let mut area = match Area::new(chunk as usize) {
            Ok(a) => a,
            Err(e) => return fail(slot, &e),
        };
        area.fill(t, k);
        k += area.pages();
        slot.pages_touched
            .fetch_add(area.pages() as u64, Ordering::Relaxed);
        ring.push_back(area);
        while ring.len() > keep {
            ring.pop_front();
        }
        slot.major_faults.store(major_faults(), Ordering::Relaxed);
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    slot.state.store(wstate::EXITED, Ordering::SeqCst);
    0
}

/// A request worker: fills its memory, then runs the request loop from START to STOP.
fn requests_main(sh: &Shared, slot: &Slot, cfg: &WorkerConfig, templates: &[Template]) -> i32 {
    let Role::Requests {
        size,
        hot_fraction,
        hot_share,
        rate,
        pages,
        seed,
        template,
        hlog,
    } = &cfg.role
    else {
        unreachable!("requests_main() is only called for request workers")
    };
    if wait_phase(sh, phase::FILL) == phase::STOP {
        return 0;
    }
    slot.state.store(wstate::FILLING, Ordering::SeqCst);
    let mut area = match fill_and_wait(sh, slot, *size, &templates[*template]) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let n = area.pages();
    let words = area.words();
    let mut acc = Access::new(Pattern::HotCold, 0, n, *hot_fraction, *hot_share, *seed);
    let code = super::requests::RequestLoop {
        rate: *rate,
        pages: *pages,
        hlog: hlog.as_path(),
        memcg: &cfg.memcg,
    }
    .run(sh, slot, || touch(words, acc.next_page()));
    slot.major_faults.store(major_faults(), Ordering::Relaxed);
    if code != 0 {
        slot.errno.store(libc::EIO as u32, Ordering::SeqCst);
        slot.state.store(wstate::FAILED, Ordering::SeqCst);
    } else {
        slot.state.store(wstate::EXITED, Ordering::SeqCst);
    }
    code
}

/// A churn helper: holds `size` bytes of template data after ALLOC, nothing after FREE,
/// acknowledging each command by its sequence number.
fn helper_main(sh: &Shared, slot: &Slot, size: u64, t: &Template) -> i32 {
    slot.state.store(wstate::EMPTY, Ordering::SeqCst);
    let mut held: Option<Area> = None;
    let mut seen = 0u32;
    while sh.phase() != phase::STOP {
        let seq = slot.seq.load(Ordering::SeqCst);
        if seq == seen {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        seen = seq;
        match slot.cmd.load(Ordering::SeqCst) {
            hcmd::ALLOC => match Area::new(size as usize) {
                Ok(mut area) => {
                    let t0 = Instant::now();
                    area.fill(t, 0);
                    slot.fill_ns
                        .store(t0.elapsed().as_nanos() as u64, Ordering::SeqCst);
                    held = Some(area);
                    slot.state.store(wstate::HOLDING, Ordering::SeqCst);
                }
                Err(e) => {
                    fail(slot, &e);
                }
            },
            hcmd::FREE => {
                held = None;
                slot.state.store(wstate::EMPTY, Ordering::SeqCst);
            }
            _ => {}
        }
        slot.ack.store(seq, Ordering::SeqCst);
    }
    drop(held);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_cycles_in_order() {
        let mut a = Access::new(Pattern::Sequential, 10, 3, 0.2, 0.9, 1);
        let v: Vec<usize> = (0..7).map(|_| a.next_page()).collect();
        assert_eq!(v, [10, 11, 12, 10, 11, 12, 10]);
    }

    #[test]
    fn random_covers_range_and_is_seeded() {
        let mut a = Access::new(Pattern::Random, 0, 100, 0.2, 0.9, 42);
        let mut b = Access::new(Pattern::Random, 0, 100, 0.2, 0.9, 42);
        let va: Vec<usize> = (0..5000).map(|_| a.next_page()).collect();
        let vb: Vec<usize> = (0..5000).map(|_| b.next_page()).collect();
        assert_eq!(va, vb);
        assert!(va.iter().all(|&p| p < 100));
        let distinct: std::collections::BTreeSet<_> = va.iter().collect();
        assert_eq!(distinct.len(), 100);
    }

    #[test]
    fn hot_cold_share() {
        let mut a = Access::new(Pattern::HotCold, 0, 1000, 0.1, 0.9, 3);
        let n = 100_000;
        let hot = (0..n).filter(|_| a.next_page() < 100).count();
        let share = hot as f64 / n as f64;
        assert!((share - 0.9).abs() < 0.01, "{share}");
    }

    #[test]
    fn area_is_filled_stamped_and_touched() {
        let t = Template::calibrate(0.5, 3);
        let mut area = Area::new(8 * PAGE_SZ).unwrap();
        area.fill(&t, 5);
        assert_eq!(area.pages(), 8);
        for i in 0..8 {
            let page = &area.0[i * PAGE_SZ..(i + 1) * PAGE_SZ];
            assert_eq!(page[..8], ((i + 5) as u64).to_ne_bytes());
            assert_eq!(page[8..], t.page(i + 5)[8..]);
        }
        assert!((area.sample_ratio() - t.measured).abs() < 0.03);
        let before = u64::from_ne_bytes(
            area.0[2 * PAGE_SZ + 8..2 * PAGE_SZ + 16]
                .try_into()
                .unwrap(),
        );
        touch(area.words(), 2);
        let after = u64::from_ne_bytes(
            area.0[2 * PAGE_SZ + 8..2 * PAGE_SZ + 16]
                .try_into()
                .unwrap(),
        );
        assert_eq!(after, before.wrapping_add(1));
        assert_eq!(
            Area::new(0).err().and_then(|e| e.raw_os_error()),
            Some(libc::EINVAL)
        );
    }
}
