//! Latencies measured in userspace (a latency-sensitive worker's requests, timed
//! `memory.reclaim` writes) as HdrHistograms, and the burst-after-idle experiment's record.
//!
//! A summary keeps the whole histogram in HdrHistogram's standard compressed encoding (V2 +
//! DEFLATE, base64: what the interval log's lines hold), so repeats are merged with `add` on the
//! decoded histograms, never by averaging percentiles. The in-kernel (BPF) latencies stay in the
//! log-linear [`super::Histogram`].
use hdrhistogram::Histogram as Hdr;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::SchemaError;

/// Significant digits of every userspace latency histogram (values within 0.1 %).
pub const SIGFIG: u8 = 3;
/// Largest latency recorded exactly: one hour in nanoseconds; a larger one is clamped to it.
pub const HIGHEST_NS: u64 = 3_600_000_000_000;

/// An empty histogram of nanoseconds, 1 ns to [`HIGHEST_NS`], [`SIGFIG`] digits.
pub fn new_hdr() -> Hdr<u64> {
    Hdr::new_with_bounds(1, HIGHEST_NS, SIGFIG).expect("constant bounds are valid")
}

/// Records `ns` (at least 1, at most [`HIGHEST_NS`]) `n` times.
pub fn record_n(h: &mut Hdr<u64>, ns: u64, n: u64) {
    h.saturating_record_n(ns.clamp(1, HIGHEST_NS), n);
}

/// The percentiles every report shows, as quantiles.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

/// One HdrHistogram of nanoseconds: count, extremes and percentiles for a reader, and the
/// histogram itself for merging and plotting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HdrSummary {
    pub count: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    /// V2 + DEFLATE, base64: HdrHistogram's standard compressed encoding.
    pub encoded: String,
}

impl HdrSummary {
    pub fn of(h: &Hdr<u64>) -> Self {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut buf)
            .expect("serializing into memory cannot fail");
        let q = |x: f64| h.value_at_quantile(x);
        HdrSummary {
            count: h.len(),
            min_ns: if h.is_empty() { 0 } else { h.min() },
            max_ns: h.max(),
            mean_ns: h.mean(),
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            p9999_ns: q(0.9999),
            encoded: base64_encode(&buf),
        }
    }

    /// The histogram back from its encoding.
    pub fn decode(&self) -> Result<Hdr<u64>, SchemaError> {
        decode_base64_hdr(&self.encoded)
    }
}

/// A histogram from a base64 V2 (+ DEFLATE) encoding, as an interval log line or
/// [`HdrSummary::encoded`] holds it.
pub fn decode_base64_hdr(s: &str) -> Result<Hdr<u64>, SchemaError> {
    let bytes = base64_decode(s)
        .ok_or_else(|| SchemaError::Invalid("latency histogram: not base64".into()))?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| SchemaError::Invalid(format!("latency histogram: {e:?}")))
}

/// Adds every summary's histogram into one: how repeats are merged.
pub fn merge<'a>(parts: impl IntoIterator<Item = &'a HdrSummary>) -> Result<Hdr<u64>, SchemaError> {
    let mut all = new_hdr();
    for p in parts {
        all.add(p.decode()?)
            .map_err(|e| SchemaError::Invalid(format!("latency histogram: {e:?}")))?;
    }
    Ok(all)
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// One second of a latency-sensitive worker's requests (from its interval log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyInterval {
    /// Start of the interval from the start of the measured phase.
    pub start_ns: u64,
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// The slowest request of a worker, with what explains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRequest {
    /// When it completed, from the start of the measured phase.
    pub at_ns: u64,
    pub ns: u64,
    /// Major faults (swap-ins: zswap loads and reads from the swap device) during it.
    pub major_faults: u64,
    #[serde(default)]
    pub minor_faults: u64,
    /// Involuntary context switches during it: the CPU taken away.
    #[serde(default)]
    pub preempted: u64,
}

/// A latency-sensitive worker: its requests over the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyWorker {
    pub cgroup: String,
    /// Requests per second (open loop, latency from each request's scheduled start); 0 = closed
    /// loop (back to back, latency from the request's own start).
    pub rate: f64,
    pub pages_per_request: u64,
    /// The interval log beside `result.json` (one interval per second).
    pub hlog: String,
    pub requests: u64,
    /// Requests during which the worker took at least one major fault.
    pub faulted_requests: u64,
    /// Major faults taken during requests.
    pub major_faults: u64,
    /// Minor faults and involuntary context switches during requests (thread rusage).
    #[serde(default)]
    pub minor_faults: u64,
    #[serde(default)]
    pub preempted: u64,
    pub slowest: Option<SlowRequest>,
    /// Every request of the measured phase.
    pub all: HdrSummary,
    /// Requests that completed before the burst (the idle window); None without a burst.
    #[serde(default)]
    pub idle: Option<HdrSummary>,
    /// Requests of the whole seconds from the burst's start to the second it completed in.
    #[serde(default)]
    pub burst: Option<HdrSummary>,
    #[serde(default)]
    pub intervals: Vec<LatencyInterval>,
}

/// What the idle window did before the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum IdleAction {
    /// Nothing: writeback, if any, happens reactively during the burst.
    Nothing,
    /// One plain `memory.reclaim` write of the amount.
    Reclaim,
    /// One proactive-writeback call of the amount (`source=zswap` or `zswap_writeback_only`).
    Proactive,
}

impl IdleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            IdleAction::Nothing => "nothing",
            IdleAction::Reclaim => "reclaim",
            IdleAction::Proactive => "proactive",
        }
    }
    pub const ALL: [IdleAction; 3] = [
        IdleAction::Nothing,
        IdleAction::Reclaim,
        IdleAction::Proactive,
    ];
    pub fn parse(s: &str) -> Option<IdleAction> {
        IdleAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// "<kernel> <action>" for a run with a burst, the kernel alone without one. A kernel label
/// that already ends with the action word (results relabelled by action) keeps its own.
pub fn group_label(kernel: &str, action: Option<IdleAction>) -> String {
    let Some(a) = action.map(IdleAction::as_str) else {
        return kernel.to_string();
    };
    let ends_with_word = kernel.strip_suffix(a).is_some_and(|head| {
        head.is_empty() || !head.ends_with(|c: char| c.is_ascii_alphanumeric())
    });
    if ends_with_word {
        kernel.to_string()
    } else {
        format!("{kernel} {a}")
    }
}

/// The idle window's action: its control-file writes, repeated as a userspace agent would
/// until one meets the amount (returns 0), at most [`ACTION_CALLS_MAX`] of them, within the
/// window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionCall {
    /// Start of the first write, from the start of the measured phase.
    pub start_ns: u64,
    /// From the first write's start to the last one's end.
    pub ns: u64,
    pub calls: u64,
    /// Return key of the last write, as in `returns` maps ("0", "-EAGAIN", ...).
    pub ret: String,
    #[serde(default)]
    pub returns: std::collections::BTreeMap<String, u64>,
    /// Each write's latency, as every timed userspace call: an HdrHistogram.
    pub latency: HdrSummary,
}

/// Writes the idle window's action makes at most (and none in the window's last tenth). A
/// proactive call on entries stored recently may only rotate them (their referenced bit gives
/// them a second chance) and give up with -EAGAIN having written nothing; an agent calls again
/// until the amount is written, as this does. 16 calls wrote nothing in half the runs of the
/// reference series here, with its 16k cold entries; 256 leave the window the bound.
pub const ACTION_CALLS_MAX: u64 = 256;

/// The burst-after-idle experiment: an idle window (with its action), then a burst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    pub action: IdleAction,
    /// Memcg the action worked on.
    pub target: String,
    /// Bytes asked of the action (reclaim size or proactive budget).
    pub amount: u64,
    pub action_call: Option<ActionCall>,
    /// Memcg of the burst process and what it allocates and fills.
    pub memcg: String,
    pub size: u64,
    /// Start of the burst from the start of the measured phase (the idle window's length).
    pub idle_ns: u64,
    /// Time the burst process took to allocate and fill `size`; None if it did not finish
    /// within the measured phase.
    pub completion_ns: Option<u64>,
    /// Pages written back (vmstat zswpwb) during the idle window and during the burst.
    pub writeback_idle: u64,
    pub writeback_burst: u64,
    /// PSI memory stall (some / full) during the burst, microseconds.
    pub psi_some_us: Option<u64>,
    pub psi_full_us: Option<u64>,
    /// The positive control held: "nothing" wrote back during the burst, "proactive" during the
    /// idle window (plain reclaim has no control). A run that fails it is not compared.
    pub exercised: bool,
    /// Why not, when not exercised.
    #[serde(default)]
    pub note: Option<String>,
}

/// The control rule of [`Burst::exercised`], one place: `Err` names what did not happen.
pub fn positive_control(action: IdleAction, idle: u64, burst: u64) -> Result<(), String> {
    match action {
        IdleAction::Nothing if burst == 0 => Err(
            "not exercised: no writeback during the burst (nothing for proactive writeback to move)"
                .into(),
        ),
        IdleAction::Proactive if idle == 0 => {
            Err("not exercised: the proactive call wrote nothing back in the idle window".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_round_trips_and_merges_by_adding() {
        let mut a = new_hdr();
        let mut b = new_hdr();
        for v in 1..=1000u64 {
            record_n(&mut a, v * 1000, 1);
        }
        record_n(&mut b, 5_000_000, 10);
        let (sa, sb) = (HdrSummary::of(&a), HdrSummary::of(&b));
        assert_eq!(sa.count, 1000);
        assert!(
            (sa.p99_ns as f64 - 990_000.0).abs() / 990_000.0 < 0.001,
            "{}",
            sa.p99_ns
        );
        assert_eq!(sa.decode().unwrap(), a);
        let m = merge([&sa, &sb]).unwrap();
        assert_eq!(m.len(), 1010);
        // 10 of 1010 at 5 ms: the p99.9 of the merge is 5 ms, which no average of the two
        // summaries' p99.9 (≈1 ms and 5 ms) gives.
        assert!(m.value_at_quantile(0.999) >= 4_990_000);
        assert!(m.value_at_quantile(0.5) < 600_000);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
        assert_eq!(base64_encode(b"M"), "TQ==");
        for n in 0..40u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&v)).unwrap(), v);
        }
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn controls_fail_where_the_effect_is_missing() {
        assert!(positive_control(IdleAction::Nothing, 5, 0).is_err());
        assert!(positive_control(IdleAction::Nothing, 0, 1).is_ok());
        assert!(positive_control(IdleAction::Proactive, 0, 9).is_err());
        assert!(positive_control(IdleAction::Proactive, 3, 0).is_ok());
        assert!(positive_control(IdleAction::Reclaim, 0, 0).is_ok());
    }
}
