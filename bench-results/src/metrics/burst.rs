//! The burst-after-idle experiment: how long the burst took and the latency-sensitive worker's
//! tail during it. A run whose positive control failed (writeback did not move where its idle
//! action says it should) extracts to n/a with the reason, never to a number to compare.
use super::{Metric, Value};
use crate::schema::{Burst, HdrSummary, ResultFile};
use crate::stats::Direction::{Informational, LowerIsBetter as Lower};

use super::MetricUnit as U;

pub(super) fn metrics() -> Vec<Metric> {
    use super::Exercise::Burst as B;
    vec![
        metric!("burst.completion", U::Ns, Lower, "time the burst took to allocate and fill its memory", |r| exercised(r).map(|b| b.completion_ns.unwrap_or(0) as f64)).needs(B),
        metric!("latency.burst_p99", U::Ns, Lower, "latency-sensitive requests during the burst: p99 (HdrHistogram, coordinated-omission corrected)", |r| during(r, |h| h.p99_ns)).needs(B),
        metric!("latency.burst_p999", U::Ns, Lower, "latency-sensitive requests during the burst: p99.9", |r| during(r, |h| h.p999_ns)).needs(B),
        metric!("latency.burst_max", U::Ns, Informational, "latency-sensitive requests during the burst: the slowest", |r| during(r, |h| h.max_ns)).needs(B),
        metric!("latency.idle_p99", U::Ns, Informational, "latency-sensitive requests before the burst (the idle window, its action included): p99", |r| {
            first_worker(r)?.idle.as_ref().map(|h| h.p99_ns as f64).ok_or_else(|| "no idle window".to_string())
        }).needs(B),
        metric!("burst.writeback_idle", U::Count, Informational, "pages written back during the idle window (vmstat zswpwb)", |r| burst(r).map(|b| b.writeback_idle as f64)).needs(B),
        metric!("burst.writeback_during", U::Count, Informational, "pages written back during the burst (vmstat zswpwb)", |r| burst(r).map(|b| b.writeback_burst as f64)).needs(B),
        metric!("burst.psi_full", U::Ns, Informational, "PSI memory full stall during the burst", |r| exercised(r)?.psi_full_us.map(|u| u as f64 * 1e3).ok_or_else(|| "no PSI on this kernel".into())).needs(B),
    ]
}

fn burst(r: &ResultFile) -> Result<&Burst, String> {
    r.burst
        .as_ref()
        .ok_or_else(|| "the scenario has no [burst]".into())
}

/// The burst of a run whose positive control held.
fn exercised(r: &ResultFile) -> Result<&Burst, String> {
    let b = burst(r)?;
    if b.exercised {
        Ok(b)
    } else {
        Err(b.note.clone().unwrap_or_else(|| "not exercised".into()))
    }
}

fn first_worker(r: &ResultFile) -> Result<&crate::schema::LatencyWorker, String> {
    r.latency
        .first()
        .ok_or_else(|| "no latency-sensitive worker".into())
}

fn during(r: &ResultFile, f: fn(&HdrSummary) -> u64) -> Value {
    exercised(r)?;
    let h = first_worker(r)?.burst.as_ref().ok_or("no burst window")?;
    if h.count == 0 {
        return Err("no request completed during the burst".into());
    }
    Ok(f(h) as f64)
}

/// A run of the burst-after-idle experiment on `kernel` with `action`: 1000 requests in the
/// burst, `tail` of them at 300 ms, the rest at 1 ms.
#[cfg(test)]
pub(crate) fn burst_run(
    kernel: &str,
    action: crate::schema::IdleAction,
    exercised: bool,
    tail: u64,
) -> ResultFile {
    let mut r = crate::testing::MockResult::nocursor(0)
        .kernel(kernel)
        .build();
    let mut h = crate::schema::new_hdr();
    crate::schema::record_n(&mut h, 1_000_000, 1000 - tail);
    crate::schema::record_n(&mut h, 300_000_000, tail);
    let s = HdrSummary::of(&h);
    r.latency = vec![crate::schema::LatencyWorker {
        cgroup: "app/service".into(),
        rate: 1000.0,
        pages_per_request: 16,
        hlog: "latency-0.hlog".into(),
        requests: 1000,
        faulted_requests: 0,
        major_faults: 0,
        minor_faults: 0,
        preempted: 0,
        slowest: None,
        all: s.clone(),
        idle: Some(s.clone()),
        burst: Some(s),
        intervals: vec![],
    }];
    r.burst = Some(Burst {
        action,
        target: "app/cold".into(),
        amount: 1 << 26,
        action_call: None,
        memcg: "app/burst".into(),
        size: 1 << 26,
        idle_ns: 8_000_000_000,
        completion_ns: Some(2_500_000_000),
        writeback_idle: 0,
        writeback_burst: if exercised { 14_000 } else { 0 },
        psi_some_us: Some(10),
        psi_full_us: Some(7),
        exercised,
        note: (!exercised).then(|| "not exercised: no writeback during the burst".into()),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exercise::not_exercised;
    use crate::schema::IdleAction;
    use crate::testing::MockResult;

    fn value(name: &str, r: &ResultFile) -> Value {
        let m = metrics().into_iter().find(|m| m.name == name).unwrap();
        (m.extract)(r)
    }

    #[test]
    fn figures_come_from_exercised_bursts_only() {
        let r = burst_run("k", IdleAction::Nothing, true, 20);
        assert_eq!(value("burst.completion", &r), Ok(2.5e9));
        // 20 of 1000 requests at 300 ms: p99 lands in the tail, within 3 digits.
        let p99 = value("latency.burst_p99", &r).unwrap();
        assert!((p99 - 3e8).abs() / 3e8 < 1e-3, "{p99}");
        assert_eq!(value("burst.psi_full", &r), Ok(7000.0));
        let n = burst_run("k", IdleAction::Nothing, false, 20);
        for m in [
            "burst.completion",
            "latency.burst_p99",
            "latency.burst_p999",
        ] {
            assert_eq!(
                value(m, &n),
                Err("not exercised: no writeback during the burst".into())
            );
        }
        // The idle-window counts are shown whatever the control said.
        assert_eq!(value("burst.writeback_idle", &n), Ok(0.0));
        let plain = MockResult::nocursor(0).build();
        assert_eq!(
            value("burst.completion", &plain),
            Err("the scenario has no [burst]".into())
        );
    }

    #[test]
    fn burst_runs_exercise_every_burst_metric() {
        let runs = [
            burst_run("k", IdleAction::Nothing, true, 20),
            burst_run("k", IdleAction::Nothing, true, 20),
        ];
        let refs: Vec<&ResultFile> = runs.iter().collect();
        let plain = [MockResult::nocursor(0).build()];
        let plain: Vec<&ResultFile> = plain.iter().collect();
        for m in metrics() {
            assert_eq!(not_exercised(&m, &refs), None, "{}", m.name);
            assert_eq!(
                not_exercised(&m, &plain),
                Some("the scenario has no [burst]".into()),
                "{}",
                m.name
            );
        }
    }
}
