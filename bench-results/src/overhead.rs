//! Probe overhead: the same workload with probes detached ("off"), attached ("on") and under an
//! equivalent bpftrace script ("bpftrace"), alternating in one boot (scripts/bench-probes).
//! Figures: throughput ratio on/off (goal >= 0.98), events/s the programs handled, BPF ns per
//! event (BPF run-time statistics), lost events (goal 0).
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::schema::{ResultFile, SelfCost};
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
    /// Every BPF program seen in an attached run, whatever its name, so a newly added program
    /// cannot hide in the totals.
    pub programs: BTreeMap<String, ProgramCost>,
    /// The spinlock slow-path hook, apart: it runs only on contended spinlocks, so its cost
    /// scales with contention rather than with the workload's event rate.
    pub spin_slowpath: SpinHook,
}

/// One program's runs per second and BPF ns per run, one value per attached run.
#[derive(Debug, Default)]
pub struct ProgramCost {
    pub runs_per_s: Vec<f64>,
    pub ns_per_run: Vec<f64>,
}

/// The programs on `queued_spin_lock_slowpath` (entry, exit and any cross-check) taken as one
/// hook: a slow-path entry runs each of them once, so the entries are the largest run count
/// among them, and the cost of an entry is their run time together.
#[derive(Debug, Default)]
pub struct SpinHook {
    pub programs: BTreeSet<String>,
    pub entries_per_s: Vec<f64>,
    pub ns_per_entry: Vec<f64>,
}

/// Programs of the spinlock slow-path hook: "fentry_spin_slowpath"/"fexit_spin_slowpath" or
/// "kprobe_spin_slowpath"/"kretprobe_spin_slowpath" (and "kprobe_spin_slowpath_xcheck").
pub fn is_spin_slowpath(program: &str) -> bool {
    program.contains("spin_slowpath")
}

fn add_programs(o: &mut Overhead, costs: &[SelfCost], secs: f64) {
    for c in costs {
        let p = o.programs.entry(c.program.clone()).or_default();
        p.runs_per_s.push(c.run_count as f64 / secs);
        if c.run_count > 0 {
            p.ns_per_run.push(c.run_time_ns as f64 / c.run_count as f64);
        }
    }
    let spin: Vec<&SelfCost> = costs
        .iter()
        .filter(|c| is_spin_slowpath(&c.program))
        .collect();
    if spin.is_empty() {
        return;
    }
    let h = &mut o.spin_slowpath;
    h.programs.extend(spin.iter().map(|c| c.program.clone()));
    let entries = spin.iter().map(|c| c.run_count).max().unwrap_or(0);
    h.entries_per_s.push(entries as f64 / secs);
    if entries > 0 {
        let ns: f64 = spin.iter().map(|c| c.run_time_ns as f64).sum();
        h.ns_per_entry.push(ns / entries as f64);
    }
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
            // In f64: counts from a file can add up past u64.
            let runs: f64 = r.probes.self_cost.iter().map(|c| c.run_count as f64).sum();
            let ns: f64 = r
                .probes
                .self_cost
                .iter()
                .map(|c| c.run_time_ns as f64)
                .sum();
            let secs = r.duration_ns as f64 / 1e9;
            if secs > 0.0 {
                o.events_per_s.push(runs / secs);
                add_programs(&mut o, &r.probes.self_cost, secs);
            }
            if runs > 0.0 {
                o.ns_per_event.push(ns / runs);
            }
            o.lost = o.lost.saturating_add(r.probes.lost_events);
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
    let h = &o.spin_slowpath;
    if h.programs.is_empty() {
        let _ = writeln!(s, "  spin slow-path hook               not attached");
    } else {
        let _ = writeln!(
            s,
            "  spin slow-path hook runs/s        {}  ns/run {}  (contended spinlocks only; {})",
            med(&h.entries_per_s),
            med(&h.ns_per_entry),
            h.programs.iter().cloned().collect::<Vec<_>>().join("+")
        );
    }
    let _ = writeln!(
        s,
        "  lost events                       {}  (goal 0)",
        o.lost
    );
    if !o.programs.is_empty() {
        let _ = writeln!(
            s,
            "  {:<33} {:>10} {:>10}",
            "per BPF program (medians)", "runs/s", "ns/run"
        );
        for (name, p) in &o.programs {
            let _ = writeln!(
                s,
                "    {name:<31} {:>10} {:>10}",
                med(&p.runs_per_s),
                med(&p.ns_per_run)
            );
        }
    }
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
        assert!(
            t.contains("spin slow-path hook               not attached"),
            "{t}"
        );
        assert!(
            t.contains("  per BPF program (medians)             runs/s     ns/run\n    p "),
            "{t}"
        );
    }

    fn cost(program: &str, run_count: u64, run_time_ns: u64) -> crate::schema::SelfCost {
        crate::schema::SelfCost {
            program: program.into(),
            run_count,
            run_time_ns,
        }
    }

    #[test]
    fn every_program_is_listed_and_the_spin_hook_apart() {
        let mut on = with(990_000, 0, 0);
        on.probes.self_cost = vec![
            cost("shrink_memcg_exit", 1_000, 300_000),
            cost("fentry_spin_slowpath", 500, 50_000),
            cost("fexit_spin_slowpath", 500, 100_000),
        ];
        let mut kp = with(990_000, 0, 0);
        kp.probes.self_cost = vec![
            cost("shrink_memcg_exit", 1_000, 300_000),
            cost("kprobe_spin_slowpath", 300, 90_000),
            cost("kretprobe_spin_slowpath", 300, 120_000),
        ];
        let rs = vec![
            ("off-1".to_string(), with(1_000_000, 0, 0)),
            ("on-1".to_string(), on.clone()),
            ("on-2".to_string(), on),
        ];
        let t = render(&collect(&rs));
        // 500 slow-path entries in 10 s, 150 us of BPF time for both programs together.
        assert!(
            t.contains("spin slow-path hook runs/s        50  ns/run 300  (contended spinlocks only; fentry_spin_slowpath+fexit_spin_slowpath)"),
            "{t}"
        );
        for line in [
            "    fentry_spin_slowpath                    50        100",
            "    fexit_spin_slowpath                     50        200",
            "    shrink_memcg_exit                      100        300",
        ] {
            assert!(t.contains(line), "missing {line:?} in\n{t}");
        }
        // The totals still include the hook.
        assert!(t.contains("BPF program runs/s                200"), "{t}");
        let t = render(&collect(&[("on-1".to_string(), kp)]));
        assert!(
            t.contains("spin slow-path hook runs/s        30  ns/run 700"),
            "{t}"
        );
        assert!(
            t.contains("    kretprobe_spin_slowpath                 30        400"),
            "{t}"
        );
        assert!(
            t.contains("    kprobe_spin_slowpath                    30        300"),
            "{t}"
        );
    }
}
