//! A latency-sensitive worker: its unit of work is a request (touch K pages of its working set,
//! a hot/cold mix), issued at a fixed rate (open loop) or back to back (closed loop). Every
//! request's latency goes into an HdrHistogram, one per second, written as an HdrHistogram
//! interval log that HdrHistogram's own tools read.
//!
//! Open loop is corrected for coordinated omission as wrk2 does: a request's latency counts
//! from its *scheduled* start, so a 100 ms stall at 1 kHz shows as the ~100 requests it
//! delayed, not as one slow request ([`Schedule`]).
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench_results::schema::{new_hdr, record_n};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use nix::sys::resource::{UsageWho, getrusage};

use super::control::{Shared, Slot, hcmd, phase};

/// When each request starts, and from when its latency counts. Times are nanoseconds on any
/// monotonic clock, so a test can drive it with a simulated one.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// 0: closed loop.
    period_ns: u64,
    next_ns: u64,
}

impl Schedule {
    /// `rate` requests per second from `now_ns` (0 = closed loop).
    pub fn new(rate: f64, now_ns: u64) -> Self {
        let period_ns = if rate > 0.0 {
            (1e9 / rate).round().max(1.0) as u64
        } else {
            0
        };
        Schedule {
            period_ns,
            next_ns: now_ns,
        }
    }

    /// The start the next request's latency counts from: its slot in the schedule (open loop;
    /// the caller waits until then if it is early, and starts at once if it is late), or now
    /// (closed loop).
    pub fn start(&self, now_ns: u64) -> u64 {
        if self.period_ns == 0 {
            now_ns
        } else {
            self.next_ns
        }
    }

    /// A request that counted from `start_ns` completed at `end_ns`: its latency. The next slot
    /// follows this one whatever the delay, so the requests a stall held up all count it.
    pub fn done(&mut self, start_ns: u64, end_ns: u64) -> u64 {
        if self.period_ns > 0 {
            self.next_ns = start_ns + self.period_ns;
        }
        end_ns.saturating_sub(start_ns)
    }
}

/// Writes one interval per second to an HdrHistogram interval log (StartTime and BaseTime are
/// the measured phase's start; interval timestamps are seconds from it).
pub struct IntervalLog {
    file: BufWriter<File>,
    ser: V2DeflateSerializer,
    current: Histogram<u64>,
    /// Start of the current interval, ns from the base.
    interval_start: u64,
}

pub const INTERVAL_NS: u64 = 1_000_000_000;

impl IntervalLog {
    pub fn create(path: &Path, base_unix_ns: u64, comment: &str) -> std::io::Result<IntervalLog> {
        let mut file = BufWriter::new(File::create(path)?);
        let mut ser = V2DeflateSerializer::new();
        let base = UNIX_EPOCH + Duration::from_nanos(base_unix_ns);
        IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .add_comment("values in nanoseconds; one interval per second")
            .with_start_time(base)
            .with_base_time(base)
            .begin_log_with(&mut file, &mut ser)?;
        file.flush()?;
        Ok(IntervalLog {
            file,
            ser,
            current: new_hdr(),
            interval_start: 0,
        })
    }

    /// Records a latency that completed `at_ns` after the base, closing the intervals that
    /// ended before it.
    pub fn record(&mut self, at_ns: u64, latency_ns: u64) -> std::io::Result<()> {
        self.roll_to(at_ns)?;
        record_n(&mut self.current, latency_ns, 1);
        Ok(())
    }

    /// Writes every interval that ended by `at_ns` (empty ones too: a second without a
    /// completed request is itself a finding).
    pub fn roll_to(&mut self, at_ns: u64) -> std::io::Result<()> {
        while at_ns >= self.interval_start + INTERVAL_NS {
            self.write_current(INTERVAL_NS)?;
        }
        Ok(())
    }

    /// Writes the last, partial interval ending at `at_ns`.
    pub fn finish(mut self, at_ns: u64) -> std::io::Result<()> {
        self.roll_to(at_ns)?;
        let d = at_ns.saturating_sub(self.interval_start);
        if d > 0 || !self.current.is_empty() {
            self.write_current(d)?;
        }
        self.file.flush()
    }

    fn write_current(&mut self, duration_ns: u64) -> std::io::Result<()> {
        // A builder with no headers writes nothing of its own: it only frames this line.
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.file, &mut self.ser)?;
        w.write_histogram(
            &self.current,
            Duration::from_nanos(self.interval_start),
            Duration::from_nanos(duration_ns),
            None,
        )
        .map_err(|e| std::io::Error::other(format!("{e}")))?;
        self.file.flush()?;
        self.current.reset();
        self.interval_start += INTERVAL_NS;
        Ok(())
    }
}

/// What a request worker does once filled: wait for START (the measured phase), then issue
/// requests until STOP, each touching `pages` pages chosen by `next_page`.
pub struct RequestLoop<'a> {
    pub rate: f64,
    pub pages: u64,
    pub hlog: &'a Path,
    pub memcg: &'a str,
}

/// What this thread's rusage says a request went through: major faults (swap-ins, zswap loads
/// among them), minor faults, and involuntary context switches (the CPU taken away).
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    major: u64,
    minor: u64,
    preempted: u64,
}

impl Usage {
    fn now() -> Usage {
        getrusage(UsageWho::RUSAGE_THREAD).map_or(Usage::default(), |u| Usage {
            major: u.major_page_faults() as u64,
            minor: u.minor_page_faults() as u64,
            preempted: u.involuntary_context_switches() as u64,
        })
    }

    fn since(self, before: Usage) -> Usage {
        Usage {
            major: self.major.saturating_sub(before.major),
            minor: self.minor.saturating_sub(before.minor),
            preempted: self.preempted.saturating_sub(before.preempted),
        }
    }
}

/// Waits for the START command (true) or STOP (false).
fn wait_start(sh: &Shared, slot: &Slot) -> bool {
    loop {
        if sh.phase() == phase::STOP {
            return false;
        }
        if slot.cmd.load(Ordering::SeqCst) == hcmd::START {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl RequestLoop<'_> {
    /// Runs the loop; `touch_one` touches the next page of the working set. Returns the exit
    /// code (2: the interval log could not be written).
    pub fn run(&self, sh: &Shared, slot: &Slot, mut touch_one: impl FnMut()) -> i32 {
        if !wait_start(sh, slot) {
            return 0;
        }
        let base_unix = slot.start_unix_ns.load(Ordering::SeqCst);
        // The runner's clock named the base; this process counts from it on its monotonic clock.
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let t0 = Instant::now() - Duration::from_nanos(now_unix.saturating_sub(base_unix));
        let ns = || t0.elapsed().as_nanos() as u64;
        let comment = format!(
            "zswap-bench request worker in {}, rate {}/s, {} pages per request",
            self.memcg, self.rate, self.pages
        );
        let Ok(mut log) = IntervalLog::create(self.hlog, base_unix, &comment) else {
            return 2;
        };
        let mut sched = Schedule::new(self.rate, ns());
        while sh.phase() != phase::STOP {
            let now = ns();
            let start = sched.start(now);
            if start > now {
                std::thread::sleep(Duration::from_nanos((start - now).min(20_000_000)));
                if ns() < start {
                    continue;
                }
            }
            let u0 = Usage::now();
            for _ in 0..self.pages {
                touch_one();
            }
            let end = ns();
            let used = Usage::now().since(u0);
            let lat = sched.done(start, end);
            if log.record(end, lat).is_err() {
                return 2;
            }
            self.account(slot, end, lat, used);
        }
        if log.finish(ns()).is_err() {
            return 2;
        }
        0
    }

    fn account(&self, slot: &Slot, end: u64, lat: u64, u: Usage) {
        slot.requests.fetch_add(1, Ordering::Relaxed);
        slot.pages_touched.fetch_add(self.pages, Ordering::Relaxed);
        if u.major > 0 {
            slot.faulted_requests.fetch_add(1, Ordering::Relaxed);
            slot.request_faults.fetch_add(u.major, Ordering::Relaxed);
        }
        slot.request_minor_faults
            .fetch_add(u.minor, Ordering::Relaxed);
        slot.request_preempted
            .fetch_add(u.preempted, Ordering::Relaxed);
        // The slowest request's own counts (an open-loop latency also holds the wait for its
        // slot: a request queued behind a stall can be slow with nothing of its own).
        if lat > slot.slowest_ns.load(Ordering::Relaxed) {
            slot.slowest_ns.store(lat, Ordering::Relaxed);
            slot.slowest_faults.store(u.major, Ordering::Relaxed);
            slot.slowest_minor_faults.store(u.minor, Ordering::Relaxed);
            slot.slowest_preempted.store(u.preempted, Ordering::Relaxed);
            slot.slowest_at_ns.store(end, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz loop whose requests take 20 µs, except one that stalls 100 ms, on a simulated
    /// clock: what the schedule records.
    fn simulate(rate: f64) -> Histogram<u64> {
        let mut h = new_hdr();
        let mut now = 0u64;
        let mut s = Schedule::new(rate, now);
        for i in 0..2000 {
            let start = s.start(now);
            now = now.max(start);
            now += if i == 500 { 100_000_000 } else { 20_000 };
            record_n(&mut h, s.done(start, now), 1);
        }
        h
    }

    /// Requests that took 10 ms or more.
    fn over_10ms(h: &Histogram<u64>) -> u64 {
        h.iter_recorded()
            .filter(|v| v.value_iterated_to() >= 10_000_000)
            .map(|v| v.count_at_value())
            .sum()
    }

    #[test]
    fn open_loop_counts_the_requests_a_stall_delayed() {
        let h = simulate(1000.0);
        // The stalled request and the ~100 scheduled behind it each wait part of the 100 ms.
        let slow = over_10ms(&h);
        assert!((85..=101).contains(&slow), "{slow} requests over 10 ms");
        assert!(
            h.value_at_quantile(0.99) >= 50_000_000,
            "p99 {}",
            h.value_at_quantile(0.99)
        );
        assert!(h.max() >= 99_000_000);
    }

    #[test]
    fn closed_loop_shows_one_slow_request() {
        let h = simulate(0.0);
        let slow = over_10ms(&h);
        assert_eq!(slow, 1);
        assert!(h.value_at_quantile(0.99) < 1_000_000);
    }

    #[test]
    fn the_interval_log_reads_back_with_the_crates_reader() {
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.hlog");
        let mut log = IntervalLog::create(&p, 1_700_000_000_000_000_000, "t").unwrap();
        log.record(10, 1_000).unwrap();
        log.record(2_500_000_000, 2_000).unwrap();
        log.finish(2_700_000_000).unwrap();
        let text = std::fs::read(&p).unwrap();
        let iv: Vec<(Duration, Duration)> = IntervalLogIterator::new(&text)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(i) => Some((i.start_timestamp(), i.duration())),
                _ => None,
            })
            .collect();
        let secs: Vec<(f64, f64)> = iv
            .iter()
            .map(|(a, b)| (a.as_secs_f64(), b.as_secs_f64()))
            .collect();
        assert_eq!(secs, [(0.0, 1.0), (1.0, 1.0), (2.0, 0.7)]);
    }
}
