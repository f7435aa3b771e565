//! Probe overhead: the same workload with probes detached ("off"), attached ("on") and under an
//! equivalent bpftrace script ("bpftrace"), alternating in one boot (scripts/bench-probes).
//! Figures: throughput ratio on/off (goal >= 0.98), events/s the programs handled, BPF ns per
//! event (BPF run-time statistics), lost events (goal 0).
use std::fmt::Write;

use crate::schema::ResultFile;
use crate::stats;

/// Pages touched per second of the measured phase.
pub fn throughput(r: &ResultFile) -> Option<f64> {
    let d = r.workload.duration_ns;
    (d > 0).then(|| r.workload.pages_touched as f64 / (d as f64 / 1e9))
}

#[derive(Debug, Default)]
pub struct Overhead {
    pub off: Vec<f64>,
    pub on: Vec<f64>,
    pub bpftrace: Vec<f64>,
    /// Program runs per second while attached.
    pub events_per_s: Vec<f64>,
    /// BPF run time per program run, ns.
    pub ns_per_event: Vec<f64>,
    pub lost: u64,
}

/// Results labelled by the name of the directory they sit in: off-*, on-*, bpftrace-*.
pub fn collect(results: &[(String, ResultFile)]) -> Overhead {
    let mut o = Overhead::default();
    for (label, r) in results {
        let Some(t) = throughput(r) else { continue };
        if label.starts_with("off") {
            o.off.push(t);
        } else if label.starts_with("bpftrace") {
            o.bpftrace.push(t);
        } else if label.starts_with("on") {
            o.on.push(t);
            let runs: u64 = r.probes.self_cost.iter().map(|c| c.run_count).sum();
            let ns: u64 = r.probes.self_cost.iter().map(|c| c.run_time_ns).sum();
            let secs = r.duration_ns as f64 / 1e9;
            if secs > 0.0 {
                o.events_per_s.push(runs as f64 / secs);
            }
            if runs > 0 {
                o.ns_per_event.push(ns as f64 / runs as f64);
            }
            o.lost += r.probes.lost_events;
        }
    }
    o
}

fn med(v: &[f64]) -> String {
    stats::median(v).map_or("n/a".into(), |m| format!("{m:.0}"))
}

fn ratio(a: &[f64], b: &[f64]) -> String {
    match (stats::median(a), stats::median(b)) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "n/a".into(),
    }
}

pub fn render(o: &Overhead) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "probe overhead (medians of {} off / {} on / {} bpftrace runs)",
        o.off.len(),
        o.on.len(),
        o.bpftrace.len()
    );
    let _ = writeln!(s, "  workload pages/s, probes off      {}", med(&o.off));
    let _ = writeln!(s, "  workload pages/s, zswap-bench on  {}", med(&o.on));
    let _ = writeln!(
        s,
        "  workload pages/s, bpftrace on     {}",
        med(&o.bpftrace)
    );
    let _ = writeln!(
        s,
        "  throughput ratio on/off           {}  (goal >= 0.98)",
        ratio(&o.on, &o.off)
    );
    let _ = writeln!(
        s,
        "  throughput ratio bpftrace/off     {}",
        ratio(&o.bpftrace, &o.off)
    );
    let _ = writeln!(
        s,
        "  BPF program runs/s                {}",
        med(&o.events_per_s)
    );
    let _ = writeln!(
        s,
        "  BPF ns per run                    {}",
        med(&o.ns_per_event)
    );
    let _ = writeln!(
        s,
        "  lost events                       {}  (goal 0)",
        o.lost
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockResult;

    fn with(pages: u64, runs: u64, ns: u64) -> ResultFile {
        let mut r = MockResult::baseline(0).build();
        r.workload.pages_touched = pages;
        r.workload.duration_ns = 10_000_000_000;
        r.duration_ns = 10_000_000_000;
        r.probes.self_cost = vec![crate::schema::SelfCost {
            program: "p".into(),
            run_count: runs,
            run_time_ns: ns,
        }];
        r.probes.lost_events = 0;
        r
    }

    #[test]
    fn ratio_rate_and_cost_come_from_the_right_runs() {
        let rs = vec![
            ("off-1".to_string(), with(1_000_000, 0, 0)),
            ("on-1".to_string(), with(990_000, 50_000, 5_000_000)),
            ("off-2".to_string(), with(1_000_000, 0, 0)),
            ("on-2".to_string(), with(990_000, 50_000, 5_000_000)),
            ("bpftrace-1".to_string(), with(900_000, 0, 0)),
        ];
        let o = collect(&rs);
        let t = render(&o);
        assert!(t.contains("throughput ratio on/off           0.990"), "{t}");
        assert!(t.contains("throughput ratio bpftrace/off     0.900"), "{t}");
        assert!(t.contains("BPF program runs/s                5000"), "{t}");
        assert!(t.contains("BPF ns per run                    100"), "{t}");
    }
}
