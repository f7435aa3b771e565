//! Memory workers: processes placed in their memcg that fill anonymous memory with data of a
//! target lz4 compression ratio (calibrated and *measured* with lz4, zswap's usual compressor,
//! page by page as zswap compresses), then touch it sequentially, randomly or hot/cold, counting
//! pages touched and major faults.
//!
//! A memcg charges by process, so each worker is its own process. They are forked by the runner
//! while it is still single-threaded (before the tokio runtime, progress bar and samplers
//! exist), die with it (PR_SET_PDEATHSIG), and talk to it through a small MAP_SHARED region of
//! atomics: the runner moves each pid into its memcg, then flips the phase word; the workers
//! publish their state and counters.
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::scenario::{PAGE, Pattern};

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers (SplitMix64: tiny, seedable, same stream everywhere)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Page contents of a target compressibility
// ---------------------------------------------------------------------------------------------

const PAGE_SZ: usize = PAGE as usize;
/// Distinct template pages (the fill cycles through them).
pub const TEMPLATE_PAGES: usize = 64;

/// lz4 compressed/original size over whole pages, each compressed on its own as zswap does;
/// a page that does not shrink counts as stored uncompressed (ratio 1).
pub fn measure_ratio(buf: &[u8]) -> f64 {
    let mut total = 0usize;
    let mut n = 0usize;
    for page in buf.chunks_exact(PAGE_SZ) {
        total += lz4_flex::block::compress(page).len().min(PAGE_SZ);
        n += PAGE_SZ;
    }
    if n == 0 { 0.0 } else { total as f64 / n as f64 }
}

/// Fills one page: `random_bytes` of noise spread over runs between runs of a repeated short
/// pattern (so the page looks like data, not a zero page, which zswap would special-case).
fn fill_page(page: &mut [u8], random_bytes: usize, rng: &mut Rng) {
    const RUN: usize = 64;
    let runs = PAGE_SZ / RUN;
    let per_run = random_bytes / runs;
    let extra = random_bytes % runs;
    for (r, chunk) in page.chunks_exact_mut(RUN).enumerate() {
        let noisy = per_run + usize::from(r < extra);
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = if i < noisy {
                rng.next_u64() as u8
            } else {
                b"zswap-bench pattern "[i % 20]
            };
        }
    }
}

fn make_pages(random_bytes: usize, seed: u64, pages: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; pages * PAGE_SZ];
    for p in buf.chunks_exact_mut(PAGE_SZ) {
        fill_page(p, random_bytes, &mut rng);
    }
    buf
}

/// Template pages calibrated to a target ratio, with the ratio they actually achieve.
#[derive(Debug, Clone)]
pub struct Template {
    pub pages: Vec<u8>,
    pub measured: f64,
}

impl Template {
    /// Bisects the amount of noise per page until lz4 gives the target ratio (within 1%).
    pub fn calibrate(target: f64, seed: u64) -> Template {
        let (mut lo, mut hi) = (0usize, PAGE_SZ);
        let mut best = (make_pages(PAGE_SZ, seed, TEMPLATE_PAGES), 1.0f64);
        for _ in 0..14 {
            let mid = (lo + hi) / 2;
            let pages = make_pages(mid, seed, TEMPLATE_PAGES);
            let r = measure_ratio(&pages);
            if (r - target).abs() < (best.1 - target).abs() {
                best = (pages, r);
            }
            if (r - target).abs() < 0.01 || hi - lo <= 1 {
                break;
            }
            if r < target { lo = mid } else { hi = mid }
        }
        Template {
            pages: best.0,
            measured: best.1,
        }
    }

    pub fn page(&self, i: usize) -> &[u8] {
        let k = i % (self.pages.len() / PAGE_SZ);
        &self.pages[k * PAGE_SZ..(k + 1) * PAGE_SZ]
    }
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
            Pattern::HotCold => {
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
// Shared control region
// ---------------------------------------------------------------------------------------------

/// Phase word (runner -> workers).
pub mod phase {
    pub const HOLD: u32 = 0;
    pub const FILL: u32 = 1;
    pub const RUN: u32 = 2;
    pub const STOP: u32 = 3;
    /// Touchers hold still (the runner takes quiet snapshots); RUN resumes.
    pub const PAUSE: u32 = 4;
}

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
}

#[repr(C)]
#[derive(Default)]
pub struct Slot {
    pub state: AtomicU32,
    pub cmd: AtomicU32,
    /// Bumped by the runner with each helper command so a repeated command is seen.
    pub seq: AtomicU32,
    pub ack: AtomicU32,
    pub errno: AtomicU32,
    pub pages_touched: AtomicU64,
    pub major_faults: AtomicU64,
    /// Measured lz4 ratio of a sample of the filled pages, in parts per million.
    pub ratio_ppm: AtomicU64,
    pub fill_ns: AtomicU64,
}

#[repr(C)]
struct Header {
    phase: AtomicU32,
}

/// MAP_SHARED anonymous memory holding the header and one slot per worker; survives fork.
pub struct Shared {
    ptr: *mut u8,
    len: usize,
    slots: usize,
}

// SAFETY: the region only holds atomics.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    pub fn new(slots: usize) -> Result<Shared> {
        let len = (std::mem::size_of::<Header>().next_multiple_of(64)
            + slots.max(1) * std::mem::size_of::<Slot>())
        .next_multiple_of(PAGE_SZ);
        // SAFETY: anonymous shared mapping; zero-filled memory is a valid state for atomics.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            bail!(
                "mmap of the shared worker region: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(Shared {
            ptr: ptr.cast(),
            len,
            slots,
        })
    }
    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with a Header and lives as long as self.
        unsafe { &*(self.ptr as *const Header) }
    }
    pub fn slot(&self, i: usize) -> &Slot {
        assert!(i < self.slots);
        let off =
            std::mem::size_of::<Header>().next_multiple_of(64) + i * std::mem::size_of::<Slot>();
        // SAFETY: in bounds (checked above), aligned (64-aligned start, Slot size a multiple of 8).
        unsafe { &*(self.ptr.add(off) as *const Slot) }
    }
    pub fn phase(&self) -> u32 {
        self.header().phase.load(Ordering::SeqCst)
    }
    pub fn set_phase(&self, p: u32) {
        self.header().phase.store(p, Ordering::SeqCst)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmapping what new() mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

// ---------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------

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
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Memcg (relative to the run root) the process is placed in.
    pub memcg: String,
    pub role: Role,
}

pub struct WorkerPool {
    pub shared: Shared,
    pub configs: Vec<WorkerConfig>,
    pub pids: Vec<i32>,
    /// Measured template ratio per template (compressed/original).
    pub template_ratio: Vec<f64>,
}

fn getrusage_majflt() -> u64 {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_majflt as u64
}

/// Anonymous private mapping that is unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(len: usize) -> Option<Mapping> {
        // SAFETY: anonymous private mapping of len bytes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // 4 KiB pages: zswap stores base pages; THP would change what is measured.
        unsafe { libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE) };
        Some(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
    fn fill(&self, t: &Template, offset_pages: usize) {
        for i in 0..self.len / PAGE_SZ {
            // SAFETY: in bounds of the mapping; template page is PAGE_SZ bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    t.page(i + offset_pages).as_ptr(),
                    self.ptr.add(i * PAGE_SZ),
                    PAGE_SZ,
                );
                // Stamp the page number so no two pages are identical.
                std::ptr::write_unaligned(
                    self.ptr.add(i * PAGE_SZ) as *mut u64,
                    (i + offset_pages) as u64,
                );
            }
        }
    }
    /// Reads and rewrites one word of page `i` (faults it in if it was reclaimed).
    fn touch(&self, i: usize) {
        // SAFETY: i < len / PAGE_SZ (callers use Access within bounds).
        unsafe {
            let p = self.ptr.add(i * PAGE_SZ + 8) as *mut u64;
            let v = std::ptr::read_volatile(p);
            std::ptr::write_volatile(p, v.wrapping_add(1));
        }
    }
    fn sample_ratio(&self) -> f64 {
        let pages = self.len / PAGE_SZ;
        let n = pages.min(64);
        let mut buf = Vec::with_capacity(n * PAGE_SZ);
        for k in 0..n {
            let i = k * pages / n;
            // SAFETY: in bounds.
            buf.extend_from_slice(unsafe {
                std::slice::from_raw_parts(self.ptr.add(i * PAGE_SZ), PAGE_SZ)
            });
        }
        measure_ratio(&buf)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping what new() mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

impl WorkerPool {
    /// Calibrates the templates, then forks one process per config. Call while the process is
    /// single-threaded. The children wait (phase HOLD) until [`WorkerPool::start_fill`].
    pub fn spawn(configs: Vec<WorkerConfig>, targets: &[f64], seed: u64) -> Result<WorkerPool> {
        let templates: Vec<Template> = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| Template::calibrate(t, seed.wrapping_add(i as u64)))
            .collect();
        let shared = Shared::new(configs.len())?;
        shared.set_phase(phase::HOLD);
        let parent = std::process::id() as i32;
        let mut pids = Vec::new();
        for (i, cfg) in configs.iter().enumerate() {
            // SAFETY: the child only uses mmap, atomics, its own threads and _exit; the runner
            // forks before it starts other threads.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                let e = std::io::Error::last_os_error();
                for &p in &pids {
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
                bail!("fork for worker {i} ({}): {e}", cfg.memcg);
            }
            if pid == 0 {
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    // Ctrl-C goes to the whole process group: the runner stops the workers itself.
                    libc::signal(libc::SIGINT, libc::SIG_IGN);
                    libc::signal(libc::SIGTERM, libc::SIG_DFL);
                    libc::signal(libc::SIGHUP, libc::SIG_DFL);
                }
                let code = child_main(&shared, i, cfg, &templates);
                unsafe { libc::_exit(code) };
            }
            shared.slot(i).state.store(wstate::FORKED, Ordering::SeqCst);
            pids.push(pid);
        }
        Ok(WorkerPool {
            shared,
            configs,
            pids,
            template_ratio: templates.iter().map(|t| t.measured).collect(),
        })
    }

    pub fn set_phase(&self, p: u32) {
        self.shared.set_phase(p);
    }

    /// Waits until every toucher reached `state` (or later), failing when a worker died (e.g.
    /// OOM-killed), on timeout, or when `interrupted` says so.
    pub fn wait_for(
        &mut self,
        state: u32,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<()> {
        let end = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            let pending: Vec<usize> = (0..self.pids.len())
                .filter(|&i| matches!(self.configs[i].role, Role::Toucher { .. }))
                .filter(|&i| self.shared.slot(i).state.load(Ordering::SeqCst) < state)
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if interrupted() {
                bail!("interrupted");
            }
            if Instant::now() >= end {
                let names: Vec<String> = pending
                    .iter()
                    .take(5)
                    .map(|&i| format!("{} (pid {})", self.configs[i].memcg, self.pids[i]))
                    .collect();
                bail!(
                    "{} worker(s) did not get ready within {:?}: {}; the guest may be too slow for this scenario (raise phases.setup_timeout)",
                    pending.len(),
                    timeout,
                    names.join(", ")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Errors if a worker exited before being told to stop.
    pub fn check_alive(&mut self) -> Result<()> {
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            if pid <= 0 {
                continue;
            }
            let mut status = 0;
            // SAFETY: non-blocking wait on our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                let how = if libc::WIFSIGNALED(status) {
                    let sig = libc::WTERMSIG(status);
                    if sig == libc::SIGKILL {
                        "was killed by SIGKILL (the OOM killer? check the memcg's memory.events)"
                            .to_string()
                    } else {
                        format!("died from signal {sig}")
                    }
                } else {
                    let errno = self.shared.slot(i).errno.load(Ordering::SeqCst);
                    format!(
                        "exited with status {} (errno {errno})",
                        libc::WEXITSTATUS(status)
                    )
                };
                self.pids[i] = -pid;
                if self.shared.phase() != phase::STOP {
                    bail!("worker {i} in {} (pid {pid}) {how}", self.configs[i].memcg);
                }
            }
        }
        Ok(())
    }

    pub fn totals(&self) -> (u64, u64) {
        let mut t = (0, 0);
        for i in 0..self.pids.len() {
            let s = self.shared.slot(i);
            t.0 += s.pages_touched.load(Ordering::Relaxed);
            t.1 += s.major_faults.load(Ordering::Relaxed);
        }
        t
    }

    /// Per worker (memcg, pages touched, major faults).
    pub fn per_worker(&self) -> Vec<(String, u64, u64)> {
        (0..self.pids.len())
            .filter(|&i| matches!(self.configs[i].role, Role::Toucher { .. }))
            .map(|i| {
                let s = self.shared.slot(i);
                (
                    self.configs[i].memcg.clone(),
                    s.pages_touched.load(Ordering::Relaxed),
                    s.major_faults.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Mean of the workers' own measurements of their filled pages (compressed/original).
    pub fn measured_ratio(&self) -> Option<f64> {
        let v: Vec<f64> = (0..self.pids.len())
            .map(|i| self.shared.slot(i).ratio_ppm.load(Ordering::Relaxed))
            .filter(|&p| p > 0)
            .map(|p| p as f64 / 1e6)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Tells everyone to stop, waits up to `grace`, then SIGKILLs and reaps the rest.
    pub fn stop(&mut self, grace: Duration) {
        self.shared.set_phase(phase::STOP);
        let end = Instant::now() + grace;
        loop {
            let mut alive = 0;
            for pid in self.pids.iter_mut() {
                if *pid > 0 {
                    let mut st = 0;
                    // SAFETY: non-blocking wait on our child.
                    if unsafe { libc::waitpid(*pid, &mut st, libc::WNOHANG) } == *pid {
                        *pid = -*pid;
                    } else {
                        alive += 1;
                    }
                }
            }
            if alive == 0 {
                return;
            }
            if Instant::now() >= end {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in self.pids.iter_mut().filter(|p| **p > 0) {
            // SAFETY: our own child.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            }
            *pid = -*pid;
        }
    }

    /// Pids still running (positive entries).
    #[cfg(test)]
    pub fn live_pids(&self) -> Vec<(usize, i32)> {
        self.pids
            .iter()
            .enumerate()
            .filter(|(_, p)| **p > 0)
            .map(|(i, p)| (i, *p))
            .collect()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(200));
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

fn fail(slot: &Slot) -> i32 {
    slot.errno.store(
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as u32,
        Ordering::SeqCst,
    );
    slot.state.store(wstate::FAILED, Ordering::SeqCst);
    2
}

struct SendPtr<'a>(&'a Mapping);
unsafe impl Send for SendPtr<'_> {}

fn child_main(sh: &Shared, i: usize, cfg: &WorkerConfig, templates: &[Template]) -> i32 {
    let slot = sh.slot(i);
    match &cfg.role {
        Role::ChurnHelper { size, template } => helper_main(sh, slot, *size, &templates[*template]),
        Role::Toucher {
            size,
            threads,
            pattern,
            hot_fraction,
            hot_share,
            chunk,
            interval,
            seed,
            template,
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
                return periodic(
                    sh,
                    slot,
                    *size,
                    *chunk,
                    interval.unwrap_or(Duration::from_millis(2)),
                    t,
                );
            }
            let t0 = Instant::now();
            let Some(m) = Mapping::new(*size as usize) else {
                return fail(slot);
            };
            m.fill(t, 0);
            slot.ratio_ppm
                .store((m.sample_ratio() * 1e6) as u64, Ordering::SeqCst);
            slot.fill_ns
                .store(t0.elapsed().as_nanos() as u64, Ordering::SeqCst);
            slot.state.store(wstate::FILLED, Ordering::SeqCst);
            if wait_phase(sh, phase::RUN) == phase::STOP {
                return 0;
            }
            slot.state.store(wstate::RUNNING, Ordering::SeqCst);
            if *pattern == Pattern::Idle {
                while sh.phase() != phase::STOP {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return 0;
            }
            let pages = m.len / PAGE_SZ;
            let nthreads = (*threads as usize).clamp(1, pages);
            std::thread::scope(|sc| {
                for th in 0..nthreads {
                    let mp = SendPtr(&m);
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
                    let interval = *interval;
                    sc.spawn(move || {
                        let mp = mp;
                        let mut last_ru = Instant::now();
                        loop {
                            for _ in 0..256 {
                                mp.0.touch(acc.next_page());
                            }
                            slot.pages_touched.fetch_add(256, Ordering::Relaxed);
                            if th == 0 && last_ru.elapsed() >= Duration::from_millis(100) {
                                slot.major_faults
                                    .store(getrusage_majflt(), Ordering::Relaxed);
                                last_ru = Instant::now();
                            }
                            if pause_point(sh) == phase::STOP {
                                break;
                            }
                            if let Some(d) = interval {
                                std::thread::sleep(d);
                            }
                        }
                    });
                }
            });
            slot.major_faults
                .store(getrusage_majflt(), Ordering::Relaxed);
            slot.state.store(wstate::EXITED, Ordering::SeqCst);
            0
        }
    }
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
        let Some(m) = Mapping::new(chunk as usize) else {
            return fail(slot);
        };
        m.fill(t, k);
        k += m.len / PAGE_SZ;
        slot.pages_touched
            .fetch_add((m.len / PAGE_SZ) as u64, Ordering::Relaxed);
        ring.push_back(m);
        while ring.len() > keep {
            ring.pop_front();
        }
        slot.major_faults
            .store(getrusage_majflt(), Ordering::Relaxed);
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

fn helper_main(sh: &Shared, slot: &Slot, size: u64, t: &Template) -> i32 {
    slot.state.store(wstate::EMPTY, Ordering::SeqCst);
    let mut held: Option<Mapping> = None;
    let mut seen = 0u32;
    while sh.phase() != phase::STOP {
        let seq = slot.seq.load(Ordering::SeqCst);
        if seq == seen {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        seen = seq;
        match slot.cmd.load(Ordering::SeqCst) {
            hcmd::ALLOC => match Mapping::new(size as usize) {
                Some(m) => {
                    m.fill(t, 0);
                    held = Some(m);
                    slot.state.store(wstate::HOLDING, Ordering::SeqCst);
                }
                None => {
                    fail(slot);
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
    fn calibrated_ratio_is_measured_close_to_target() {
        for target in [0.1, 0.3, 0.5, 0.75] {
            let t = Template::calibrate(target, 7);
            assert!(
                (t.measured - target).abs() < 0.03,
                "target {target}: measured {}",
                t.measured
            );
            // The measurement is real: recompressing gives the same number.
            assert_eq!(measure_ratio(&t.pages), t.measured);
        }
        let t = Template::calibrate(1.0, 7);
        assert!(t.measured > 0.97, "{}", t.measured);
    }

    #[test]
    fn zero_pages_compress_far_and_noise_does_not() {
        assert!(measure_ratio(&vec![0u8; 4 * PAGE_SZ]) < 0.02);
        let mut rng = Rng::new(1);
        let noise: Vec<u8> = (0..4 * PAGE_SZ).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(measure_ratio(&noise), 1.0);
    }

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
    fn forked_workers_fill_touch_and_report() {
        // Runs without root or cgroups: the processes stay in the test's own cgroup.
        let cfg = |pattern| WorkerConfig {
            memcg: "t".into(),
            role: Role::Toucher {
                size: 64 * PAGE,
                threads: 2,
                pattern,
                hot_fraction: 0.2,
                hot_share: 0.9,
                chunk: PAGE,
                interval: None,
                seed: 1,
                template: 0,
            },
        };
        let mut pool = WorkerPool::spawn(
            vec![
                cfg(Pattern::Sequential),
                cfg(Pattern::Random),
                cfg(Pattern::Idle),
            ],
            &[0.4],
            9,
        )
        .unwrap();
        assert!((pool.template_ratio[0] - 0.4).abs() < 0.03);
        pool.set_phase(phase::FILL);
        pool.wait_for(wstate::FILLED, Duration::from_secs(20), &|| false)
            .unwrap();
        let r = pool.measured_ratio().unwrap();
        assert!((r - 0.4).abs() < 0.05, "ratio measured in the workers: {r}");
        pool.set_phase(phase::RUN);
        std::thread::sleep(Duration::from_millis(300));
        let per = pool.per_worker();
        assert!(per[0].1 > 0 && per[1].1 > 0, "{per:?}");
        assert_eq!(per[2].1, 0, "idle worker touches nothing");
        // PAUSE: touching stops (after the batch in flight), the idle worker stays alive.
        pool.set_phase(phase::PAUSE);
        std::thread::sleep(Duration::from_millis(100));
        let a = pool.totals().0;
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(pool.totals().0, a, "no touches while paused");
        pool.check_alive().unwrap();
        pool.set_phase(phase::RUN);
        std::thread::sleep(Duration::from_millis(200));
        assert!(pool.totals().0 > a, "resumed");
        pool.stop(Duration::from_secs(5));
        assert!(pool.live_pids().is_empty());
    }

    #[test]
    fn dead_worker_is_reported() {
        let cfg = WorkerConfig {
            memcg: "t/x".into(),
            role: Role::ChurnHelper {
                size: PAGE,
                template: 0,
            },
        };
        let mut pool = WorkerPool::spawn(vec![cfg], &[0.5], 1).unwrap();
        unsafe { libc::kill(pool.pids[0], libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(100));
        let e = pool.check_alive().unwrap_err().to_string();
        assert!(e.contains("t/x") && e.contains("SIGKILL"), "{e}");
    }

    #[test]
    fn churn_helper_allocates_and_frees_on_command() {
        let cfg = WorkerConfig {
            memcg: "c".into(),
            role: Role::ChurnHelper {
                size: 16 * PAGE,
                template: 0,
            },
        };
        let pool = WorkerPool::spawn(vec![cfg], &[0.5], 1).unwrap();
        helper_cmd(&pool.shared, 0, hcmd::ALLOC, Duration::from_secs(5)).unwrap();
        assert_eq!(
            pool.shared.slot(0).state.load(Ordering::SeqCst),
            wstate::HOLDING
        );
        helper_cmd(&pool.shared, 0, hcmd::FREE, Duration::from_secs(5)).unwrap();
        assert_eq!(
            pool.shared.slot(0).state.load(Ordering::SeqCst),
            wstate::EMPTY
        );
    }
}
