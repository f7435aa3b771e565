//! The request workers' record: read back from the interval logs they wrote (with the crate's
//! reader, the same way any HdrHistogram tool would read them), cut into the idle window and
//! the burst by interval timestamps, with the counters the workers kept beside.
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bench_results::schema::{
    Burst, HdrSummary, LatencyInterval, LatencyWorker, SlowRequest, decode_base64_hdr, new_hdr,
};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::workload::memory::{Role, WorkerPool};

/// One interval of a log: its start (from the log's base time) and histogram.
pub(crate) fn read_intervals(path: &Path) -> Result<Vec<(Duration, Histogram<u64>)>> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for e in IntervalLogIterator::new(&text) {
        let e = e.map_err(|e| {
            anyhow!(
                "{}: not an HdrHistogram interval log: {e:?}",
                path.display()
            )
        })?;
        if let LogEntry::Interval(i) = e {
            let h = decode_base64_hdr(i.encoded_histogram())
                .with_context(|| path.display().to_string())?;
            out.push((i.start_timestamp(), h));
        }
    }
    Ok(out)
}

/// Adds the intervals whose start lies in `[from, to)`.
fn window(iv: &[(Duration, Histogram<u64>)], from: Duration, to: Duration) -> Histogram<u64> {
    let mut h = new_hdr();
    for (_, x) in iv.iter().filter(|(t, _)| *t >= from && *t < to) {
        // Same bounds and digits on both sides: `add` cannot fail.
        let _ = h.add(x);
    }
    h
}

/// Every request worker's record, in worker order; a log that cannot be read is an error
/// naming the file (the run's latency figures would otherwise be silently missing).
pub(super) fn records(
    pool: &WorkerPool,
    dir: &Path,
    burst: Option<&Burst>,
) -> Result<Vec<LatencyWorker>> {
    let sh = pool.shared();
    let mut out = Vec::new();
    for (i, c) in pool.configs.iter().enumerate() {
        let Role::Requests {
            rate, pages, hlog, ..
        } = &c.role
        else {
            continue;
        };
        let iv = read_intervals(hlog)?;
        let all = window(&iv, Duration::ZERO, Duration::MAX);
        let (idle, during) = match burst {
            Some(b) => {
                let start = Duration::from_nanos(b.idle_ns);
                // The burst's seconds: from its start to the end of the second it completed in
                // (to the end of the log when it did not complete).
                let end = b.completion_ns.map_or(Duration::MAX, |c| {
                    Duration::from_secs((b.idle_ns + c).div_ceil(1_000_000_000))
                });
                (
                    Some(HdrSummary::of(&window(&iv, Duration::ZERO, start))),
                    Some(HdrSummary::of(&window(&iv, start, end))),
                )
            }
            None => (None, None),
        };
        let s = sh.slot(i);
        let slowest_ns = s.slowest_ns.load(Ordering::Relaxed);
        out.push(LatencyWorker {
            cgroup: c.memcg.clone(),
            rate: *rate,
            pages_per_request: *pages,
            hlog: hlog
                .strip_prefix(dir)
                .unwrap_or(hlog)
                .to_string_lossy()
                .into_owned(),
            requests: s.requests.load(Ordering::Relaxed),
            faulted_requests: s.faulted_requests.load(Ordering::Relaxed),
            major_faults: s.request_faults.load(Ordering::Relaxed),
            minor_faults: s.request_minor_faults.load(Ordering::Relaxed),
            preempted: s.request_preempted.load(Ordering::Relaxed),
            slowest: (slowest_ns > 0).then(|| SlowRequest {
                at_ns: s.slowest_at_ns.load(Ordering::Relaxed),
                ns: slowest_ns,
                major_faults: s.slowest_faults.load(Ordering::Relaxed),
                minor_faults: s.slowest_minor_faults.load(Ordering::Relaxed),
                preempted: s.slowest_preempted.load(Ordering::Relaxed),
            }),
            all: HdrSummary::of(&all),
            idle,
            burst: during,
            intervals: iv
                .iter()
                .map(|(t, h)| LatencyInterval {
                    start_ns: t.as_nanos() as u64,
                    count: h.len(),
                    p50_ns: h.value_at_quantile(0.5),
                    p99_ns: h.value_at_quantile(0.99),
                    max_ns: h.max(),
                })
                .collect(),
        });
    }
    Ok(out)
}
