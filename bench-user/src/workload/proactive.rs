//! Proactive-writeback threads and the per-kernel interface they use.
//!
//! The series changed its interface across versions (../shared/context/series.md):
//! v5 `"<N> source=zswap"` and v2–v4 `"<N> zswap_writeback_only"` written to memory.reclaim,
//! v1 a `memory.zswap.proactive_writeback` file. [`detect`] tries each with a harmless one-page
//! request on an empty memcg and reads the errno; the decision is a pure function of the
//! attempts, recorded as evidence in the result. No interface means the threads do not run and
//! the result says so.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench_results::schema::{
    Histogram, PER_CALL_MAX, ProactiveCall, ProactiveInterface, ProactiveThread, Unit, ret,
};

use super::Stop;
use crate::machine::write_ctl;

/// What one probing write returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Ok,
    Errno(i32),
    /// The control file does not exist.
    Missing,
}

impl Attempt {
    pub fn from_io(r: &std::io::Result<()>) -> Attempt {
        match r {
            Ok(()) => Attempt::Ok,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Attempt::Missing,
            Err(e) => Attempt::Errno(e.raw_os_error().unwrap_or(-1)),
        }
    }
    fn show(self) -> String {
        match self {
            Attempt::Ok => "0".into(),
            Attempt::Errno(e) => ret::key(-(e as i64)),
            Attempt::Missing => "file missing".into(),
        }
    }
}

/// The control file and text of one request of `bytes`.
pub fn request(iface: ProactiveInterface, bytes: u64) -> Option<(&'static str, String)> {
    match iface {
        ProactiveInterface::V5SourceZswap => {
            Some(("memory.reclaim", format!("{bytes} source=zswap")))
        }
        ProactiveInterface::V2V4WritebackOnly => {
            Some(("memory.reclaim", format!("{bytes} zswap_writeback_only")))
        }
        // v1: "max=<size> <minimum age in seconds>". Posted v1 refuses an age of 0 with
        // EINVAL (its parser requires a non-zero age), so the smallest it takes, 1 s: every
        // entry stored at least a second ago. Found by running posted v1 (kernels/posted/).
        ProactiveInterface::V1ProactiveWriteback => {
            Some(("memory.zswap.proactive_writeback", format!("max={bytes} 1")))
        }
        ProactiveInterface::None => None,
    }
}

/// Whether a probing write shows the kernel understood the request: success, or an error the
/// request itself produced (EAGAIN: fewer bytes than asked on an empty memcg; EINTR; ENOENT,
/// EBUSY...). EINVAL is how memory.reclaim rejects an unknown key; a missing file means no v1.
fn understood(a: Attempt) -> bool {
    match a {
        Attempt::Ok => true,
        Attempt::Errno(e) => e != libc::EINVAL,
        Attempt::Missing => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub interface: ProactiveInterface,
    /// Each attempt and its outcome, for the result and the log.
    pub evidence: Vec<String>,
}

/// The interface a manifest's `[probes] interface` names ("source=zswap",
/// "zswap_writeback_only", "memory.zswap.proactive_writeback"), if it is one we can drive.
pub fn named(key: &str) -> Option<ProactiveInterface> {
    match key {
        "source=zswap" => Some(ProactiveInterface::V5SourceZswap),
        "zswap_writeback_only" => Some(ProactiveInterface::V2V4WritebackOnly),
        "memory.zswap.proactive_writeback" => Some(ProactiveInterface::V1ProactiveWriteback),
        _ => None,
    }
}

/// Decides the interface from probing writes made by `try_write(file, text)` on an empty memcg
/// with memory.zswap.writeback = 1 (so a v5 kernel has no reason for EINVAL). Order: v5, v2–v4,
/// v1; a control write of a plain one-page reclaim tells "key rejected" from "memory.reclaim
/// itself failing" (then the evidence says the detection is unreliable). `first` (a manifest's
/// `[probes] interface`) is tried before that order.
pub fn detect(
    first: Option<ProactiveInterface>,
    try_write: &mut dyn FnMut(&str, &str) -> Attempt,
) -> Detection {
    let mut evidence = Vec::new();
    let mut attempt = |file: &str, text: &str, ev: &mut Vec<String>| {
        let a = try_write(file, text);
        // EINTR: a signal arrived; one retry.
        let a = if a == Attempt::Errno(libc::EINTR) {
            try_write(file, text)
        } else {
            a
        };
        ev.push(format!("{file} <- {text:?}: {}", a.show()));
        a
    };
    let page = 4096;
    let order = [
        ProactiveInterface::V5SourceZswap,
        ProactiveInterface::V2V4WritebackOnly,
        ProactiveInterface::V1ProactiveWriteback,
    ];
    let first = first.into_iter();
    for iface in first.clone().chain(
        order
            .into_iter()
            .filter(|i| !first.clone().any(|f| f == *i)),
    ) {
        let (file, text) = request(iface, page).expect("real interface");
        if understood(attempt(file, &text, &mut evidence)) {
            return Detection {
                interface: iface,
                evidence,
            };
        }
    }
    let plain = attempt("memory.reclaim", &page.to_string(), &mut evidence);
    if !understood(plain) {
        evidence.push("plain memory.reclaim failed too: the probe memcg or cgroup v2 setup is broken, not only the keys".into());
    }
    Detection {
        interface: ProactiveInterface::None,
        evidence,
    }
}

/// Runs [`detect`] on a fresh empty child of `parent_dir` (removed afterwards).
pub fn detect_in(parent_dir: &Path) -> Detection {
    let dir = parent_dir.join("proactive-probe");
    if let Err(e) = std::fs::create_dir(&dir) {
        return Detection {
            interface: ProactiveInterface::None,
            evidence: vec![format!("cannot create probe memcg {}: {e}", dir.display())],
        };
    }
    let _ = write_ctl(&dir.join("memory.zswap.writeback"), "1");
    let first = crate::probes::profiles::from_env()
        .ok()
        .flatten()
        .and_then(|n| n.interface)
        .and_then(|k| named(&k));
    let d = detect(first, &mut |file, text| {
        Attempt::from_io(&write_ctl(&dir.join(file), text))
    });
    let _ = std::fs::remove_dir(&dir);
    d
}

/// Key of a write's outcome in `returns` maps.
pub fn outcome_key(r: &std::io::Result<()>) -> String {
    match r {
        Ok(()) => ret::OK.into(),
        Err(e) => match e.raw_os_error() {
            Some(errno) => ret::key(-(errno as i64)),
            None => format!("io:{}", e.kind()),
        },
    }
}

/// Per-thread record of proactive writes (latency in ns).
pub struct Recorder {
    pub calls: u64,
    pub returns: BTreeMap<String, u64>,
    pub bytes_requested: u64,
    /// Recorded straight into the result's buckets, with exact min/max/sum.
    pub latency: Histogram,
    /// The same latencies in an HdrHistogram (3 significant digits).
    pub latency_hdr: hdrhistogram::Histogram<u64>,
    /// Calls cut short by the end of the phase (not counted above).
    pub interrupted_at_stop: u64,
    /// The first PER_CALL_MAX calls one by one.
    pub per_call: Vec<ProactiveCall>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            calls: 0,
            returns: BTreeMap::new(),
            bytes_requested: 0,
            latency: Histogram::empty(Unit::Ns),
            latency_hdr: bench_results::schema::new_hdr(),
            interrupted_at_stop: 0,
            per_call: Vec::new(),
        }
    }
}

impl Recorder {
    /// `when` = (start from the thread's start, duration); `written` = bytes the call wrote
    /// back, where they can be told.
    pub fn record_call(
        &mut self,
        bytes: u64,
        when: (Duration, Duration),
        r: &std::io::Result<()>,
        stopping: bool,
        written: Option<u64>,
    ) {
        let key = outcome_key(r);
        if stopping && key == ret::EINTR {
            self.interrupted_at_stop += 1;
            return;
        }
        let ns = when.1.as_nanos().max(1) as u64;
        self.calls += 1;
        self.bytes_requested += bytes;
        if self.per_call.len() < PER_CALL_MAX {
            self.per_call.push(ProactiveCall {
                start_ns: when.0.as_nanos() as u64,
                ns,
                ret: key.clone(),
                written,
            });
        }
        *self.returns.entry(key).or_default() += 1;
        self.latency.record(ns);
        bench_results::schema::record_n(&mut self.latency_hdr, ns, 1);
    }

    pub fn into_schema(
        self,
        target: String,
        mode: &str,
        bytes_achieved: Option<u64>,
    ) -> ProactiveThread {
        ProactiveThread {
            target,
            mode: mode.into(),
            calls: self.calls,
            returns: self.returns,
            bytes_requested: self.bytes_requested,
            bytes_achieved,
            latency: self.latency,
            latency_hdr: Some(bench_results::schema::HdrSummary::of(&self.latency_hdr)),
            per_call: self.per_call,
        }
    }
}

/// One proactive-writeback thread's job.
#[derive(Debug, Clone)]
pub struct Job {
    pub dir: PathBuf,
    pub interface: ProactiveInterface,
    pub budget: u64,
    pub interval: Duration,
    /// 0 = until stopped.
    pub count: u64,
    /// Threads sharing a lock never overlap (sequential-on-one).
    pub serial: Option<Arc<Mutex<()>>>,
    /// The target's memory.stat, read around each call, when this thread is the only proactive
    /// one in its subtree (so the stat's change is this call's writeback).
    pub stat: Option<PathBuf>,
}

/// memory.stat key counting proactive writeback in bytes (the reference series and v5).
pub const WRITTEN_KEY: &str = "zswpwb_proactive_b";

/// The proactive-writeback bytes in a memory.stat, if it has the key.
fn written_so_far(stat: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(stat).ok()?;
    let v = crate::workload::counters::parse_kv(&text)
        .get(WRITTEN_KEY)
        .copied()?;
    u64::try_from(v).ok()
}

/// Runs the calls until `count` is reached or `stop`; returns the record.
pub fn run_thread(job: &Job, stop: &Stop) -> Recorder {
    let mut rec = Recorder::default();
    let Some((file, text)) = request(job.interface, job.budget) else {
        return rec;
    };
    let path = job.dir.join(file);
    let mut n = 0;
    let start = Instant::now();
    // Only the first PER_CALL_MAX calls are kept one by one, so only they pay for the reads.
    let stat = |n: u64| {
        job.stat
            .as_deref()
            .filter(|_| (n as usize) < PER_CALL_MAX)
            .and_then(written_so_far)
    };
    while !stop.stopped() && (job.count == 0 || n < job.count) {
        let guard = job
            .serial
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()));
        let before = stat(n);
        let t0 = Instant::now();
        let r = write_ctl(&path, &text);
        let took = t0.elapsed();
        let written = before.zip(stat(n)).map(|(b, a)| a.saturating_sub(b));
        drop(guard);
        rec.record_call(
            job.budget,
            (t0.duration_since(start), took),
            &r,
            stop.stopped(),
            written,
        );
        n += 1;
        if !job.interval.is_zero() && !stop.sleep(job.interval) {
            break;
        }
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(
        accepts: &'static [&'static str],
        v1_file: bool,
    ) -> impl FnMut(&str, &str) -> Attempt {
        move |file, text| {
            if file == "memory.zswap.proactive_writeback" {
                // As posted v1's parser: "max=<size> <age>", the age a non-zero whole number
                // of seconds, else EINVAL.
                let age = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|a| a.parse::<u32>().ok());
                return match (v1_file, age) {
                    (false, _) => Attempt::Missing,
                    (true, Some(a)) if a > 0 => Attempt::Errno(libc::EAGAIN),
                    (true, _) => Attempt::Errno(libc::EINVAL),
                };
            }
            let key = text.split_whitespace().nth(1).unwrap_or("");
            if key.is_empty() || accepts.contains(&key) {
                // An empty memcg never meets the budget.
                Attempt::Errno(libc::EAGAIN)
            } else {
                Attempt::Errno(libc::EINVAL)
            }
        }
    }

    #[test]
    fn detects_each_version() {
        assert_eq!(
            detect(None, &mut kernel(&["source=zswap"], false)).interface,
            ProactiveInterface::V5SourceZswap
        );
        assert_eq!(
            detect(None, &mut kernel(&["zswap_writeback_only"], false)).interface,
            ProactiveInterface::V2V4WritebackOnly
        );
        assert_eq!(
            detect(None, &mut kernel(&[], true)).interface,
            ProactiveInterface::V1ProactiveWriteback
        );
        let base = detect(None, &mut kernel(&[], false));
        assert_eq!(base.interface, ProactiveInterface::None);
        assert_eq!(base.evidence.len(), 4, "{:?}", base.evidence);
        assert!(
            base.evidence[0].contains("source=zswap") && base.evidence[0].contains("-EINVAL"),
            "{:?}",
            base.evidence
        );
        assert!(
            base.evidence[3].ends_with("-EAGAIN"),
            "plain reclaim works: {:?}",
            base.evidence
        );
    }

    /// Posted v1 refuses an age of 0 (EINVAL), which once made every v1 kernel read as having
    /// no interface: its proactive threads never ran.
    #[test]
    fn v1_requests_carry_a_non_zero_age() {
        let (file, text) = request(ProactiveInterface::V1ProactiveWriteback, 2 << 20).unwrap();
        assert_eq!(
            (file, text.as_str()),
            ("memory.zswap.proactive_writeback", "max=2097152 1")
        );
        let mut v1 = kernel(&[], true);
        assert_eq!(v1(file, "max=4096 0"), Attempt::Errno(libc::EINVAL));
        assert_eq!(v1(file, &text), Attempt::Errno(libc::EAGAIN));
    }

    #[test]
    fn success_and_eintr_retry() {
        let mut calls = 0;
        let d = detect(None, &mut |_f: &str, _t: &str| {
            calls += 1;
            if calls == 1 {
                Attempt::Errno(libc::EINTR)
            } else {
                Attempt::Ok
            }
        });
        assert_eq!(d.interface, ProactiveInterface::V5SourceZswap);
        assert_eq!(calls, 2);
    }

    #[test]
    fn broken_reclaim_is_called_out() {
        let d = detect(None, &mut |_f: &str, _t: &str| Attempt::Missing);
        // A named interface is tried first.
        let mut seen = vec![];
        detect(named("zswap_writeback_only"), &mut |f: &str, t: &str| {
            seen.push(format!("{f} {t}"));
            Attempt::Ok
        });
        assert_eq!(seen, ["memory.reclaim 4096 zswap_writeback_only"]);
        assert_eq!(d.interface, ProactiveInterface::None);
        assert!(
            d.evidence.last().unwrap().contains("broken"),
            "{:?}",
            d.evidence
        );
    }

    #[test]
    fn request_texts() {
        assert_eq!(
            request(ProactiveInterface::V5SourceZswap, 2 << 20).unwrap(),
            ("memory.reclaim", "2097152 source=zswap".to_string())
        );
        assert_eq!(
            request(ProactiveInterface::V2V4WritebackOnly, 4096)
                .unwrap()
                .1,
            "4096 zswap_writeback_only"
        );
        assert_eq!(
            request(ProactiveInterface::V1ProactiveWriteback, 4096)
                .unwrap()
                .0,
            "memory.zswap.proactive_writeback"
        );
        assert!(request(ProactiveInterface::None, 1).is_none());
    }

    #[test]
    fn outcomes_classified() {
        let e = |n| Err(std::io::Error::from_raw_os_error(n));
        assert_eq!(outcome_key(&Ok(())), "0");
        assert_eq!(outcome_key(&e(libc::EAGAIN)), "-EAGAIN");
        assert_eq!(outcome_key(&e(libc::EINTR)), "-EINTR");
        assert_eq!(outcome_key(&e(libc::EINVAL)), "-EINVAL");
        // One errno table for the probe and userspace keys: EBUSY is named on both sides now.
        assert_eq!(outcome_key(&e(libc::EBUSY)), "-EBUSY");
        // An errno the table does not name keeps its number.
        assert_eq!(outcome_key(&e(libc::EPERM)), "-1");
        let mut r = Recorder::default();
        let at = |us| (Duration::from_micros(us * 10), Duration::from_micros(us));
        r.record_call(4096, at(50), &Ok(()), false, Some(8192));
        r.record_call(4096, at(70), &e(libc::EAGAIN), false, Some(0));
        r.record_call(4096, at(90), &e(libc::EINTR), true, None);
        assert_eq!(r.calls, 2);
        assert_eq!(r.interrupted_at_stop, 1);
        // Each counted call one by one, in order, with what it wrote back.
        let calls: Vec<(u64, &str, Option<u64>)> = r
            .per_call
            .iter()
            .map(|c| (c.start_ns, c.ret.as_str(), c.written))
            .collect();
        assert_eq!(
            calls,
            [(500_000, "0", Some(8192)), (700_000, "-EAGAIN", Some(0))]
        );
        let t = r.into_schema("/zb/p".into(), "sequential-on-one", None);
        assert_eq!(t.returns["0"], 1);
        assert_eq!(t.returns["-EAGAIN"], 1);
        assert_eq!(t.bytes_requested, 8192);
        assert_eq!(t.latency.count, 2);
        // Recorded once, exactly: no second quantisation of min/max/sum.
        assert_eq!(
            (t.latency.min, t.latency.max, t.latency.sum),
            (50_000, 70_000, 120_000)
        );
        // The HdrHistogram holds the same two calls, within its 3 significant digits.
        let h = t.latency_hdr.unwrap();
        assert_eq!(h.count, 2);
        assert!(
            h.min_ns.abs_diff(50_000) <= 50 && h.max_ns.abs_diff(70_000) <= 70,
            "{h:?}"
        );
    }

    #[test]
    fn thread_writes_count_times_to_the_file() {
        // A regular file stands in for memory.reclaim: every write succeeds.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("memory.reclaim"), "").unwrap();
        let job = Job {
            dir: tmp.path().into(),
            interface: ProactiveInterface::V5SourceZswap,
            budget: 2 << 20,
            interval: Duration::ZERO,
            count: 5,
            serial: Some(Arc::new(Mutex::new(()))),
            stat: None,
        };
        let rec = run_thread(&job, &Stop::new());
        assert_eq!(rec.calls, 5);
        assert_eq!(rec.returns["0"], 5);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("memory.reclaim")).unwrap(),
            "2097152 source=zswap"
        );
        let none = Job {
            interface: ProactiveInterface::None,
            ..job
        };
        assert_eq!(run_thread(&none, &Stop::new()).calls, 0);
    }
}
