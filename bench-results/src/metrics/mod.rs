//! Scalar metrics extracted from a result file: the rows of `compare`.
//!
//! Each metric knows its unit, its direction (higher or lower is better, or informational:
//! shown, never judged), the smallest absolute shift that counts ([`Metric::floor`]), and
//! what a scenario must do for it to mean anything ([`exercise`]). A metric whose data was not
//! measured (probe family unavailable, kernel without the interface, zero-length run) extracts
//! to `Err(reason)`, shown as "n/a" — never as 0, which would read as a measurement. The table
//! of every metric with its direction is in results/README.md (a test keeps it complete).

use crate::schema::Histogram;
use crate::schema::{ProactiveInterface, ProactiveProbe, ProactiveThread, ResultFile, Unit, ret};
use crate::stats::Direction;
use std::collections::BTreeMap;

mod unit;
pub use unit::MetricUnit;

/// Extracted value, or why there is none.
pub type Value = Result<f64, String>;

#[derive(Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub unit: MetricUnit,
    pub direction: Direction,
    pub description: &'static str,
    pub extract: fn(&ResultFile) -> Value,
    /// Smallest absolute shift that can be called a change (the unit's default unless set).
    pub floor: f64,
    /// What the scenario must do for the metric to be exercised at all.
    pub exercise: Exercise,
    /// A probe count divided by the measured duration: approximate on result files whose probe
    /// counts run from attach ([`crate::schema::ProbeWindow::SinceAttach`]).
    pub probe_rate: bool,
}

impl Metric {
    fn needs(mut self, e: Exercise) -> Self {
        self.exercise = e;
        self
    }
    fn probe_rate(mut self) -> Self {
        self.probe_rate = true;
        self
    }
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric").field("name", &self.name).finish()
    }
}

use Direction::{HigherIsBetter as Higher, Informational, LowerIsBetter as Lower};
use MetricUnit as U;

macro_rules! metric {
    ($name:literal, $unit:expr, $dir:expr, $desc:literal, $f:expr) => {
        Metric {
            name: $name,
            unit: $unit,
            direction: $dir,
            description: $desc,
            extract: $f,
            floor: $unit.default_floor(),
            exercise: $crate::metrics::Exercise::Always,
            probe_rate: false,
        }
    };
}

// After the macro: the submodules define their metrics with it.
mod burst;
mod cursor;
pub mod exercise;
mod fairness;
mod per_call;
#[cfg(test)]
pub(crate) use burst::burst_run;
pub use cursor::{GLOBAL_CURSOR_LOCK, is_cursor_lock, locks};
pub use exercise::Exercise;
pub use fairness::{Fairness, parent_of, proactive_fairness, proactive_target, writeback_fairness};
pub use per_call::{per_call_coverage, per_call_thread, written_per_call};

/// Every metric `compare` reports, in report order.
pub fn all() -> Vec<Metric> {
    let mut v = workload();
    v.extend(cursor::metrics());
    v.extend(reclaim());
    v.extend(proactive());
    v.extend(fairness::metrics());
    v.extend(per_call::metrics());
    v.extend(burst::metrics());
    v.extend(system());
    v.extend(tool());
    v
}

/// The memory workers' progress.
fn workload() -> Vec<Metric> {
    vec![
        metric!(
            "workload.pages_per_s",
            U::PagesPerSecond,
            Higher,
            "pages touched by the memory workers per second",
            workload_pages_per_s
        )
        .needs(Exercise::Workers),
        metric!(
            "workload.major_faults_per_s",
            U::PerSecond,
            Lower,
            "major faults of the workers per second",
            |r| { per_s(r, r.workload.major_faults as f64) }
        )
        .needs(Exercise::Workers),
    ]
}

/// zswap's own writeback and reclaim machinery.
fn reclaim() -> Vec<Metric> {
    vec![
        metric!(
            "cursor_iter.restart_share",
            U::Ratio,
            Lower,
            "lockless cursor: restarts per iterator call",
            |r| {
                let c = probed(r, &r.probes.cursor_iter, "cursor_iter")?;
                // Restarts are counted at the walk step; without it the 0 would be no claim.
                if !crate::schema::walk_steps_on(r) {
                    return Err(unavailable(r, "cursor_iter.walk_steps"));
                }
                ratio(c.restarts as f64, c.calls as f64)
            }
        )
        .needs(Exercise::CursorContention),
        metric!(
            "shrink_memcg.calls_per_s",
            U::PerSecond,
            Informational,
            "shrink_memcg calls per second",
            |r| probed_per_s(r, &r.probes.shrink_memcg, "shrink_memcg", |p| p.calls)
        )
        .probe_rate(),
        metric!(
            "shrink_memcg.latency_p99_ns",
            U::Ns,
            Lower,
            "99th percentile of shrink_memcg latency",
            |r| {
                let s = probed(r, &r.probes.shrink_memcg, "shrink_memcg")?;
                s.latency
                    .quantile(0.99)
                    .ok_or_else(|| "no shrink_memcg call".into())
            }
        ),
        metric!(
            "shrink_worker.wakeups_per_s",
            U::PerSecond,
            Informational,
            "shrink_worker runs per second",
            |r| probed_per_s(r, &r.probes.shrink_worker, "shrink_worker", |p| p.wakeups)
        )
        .needs(Exercise::ShrinkWorker)
        .probe_rate(),
        metric!(
            "writeback.pages_per_s",
            U::PagesPerSecond,
            Informational,
            "zswap pages written back to swap per second",
            |r| probed_per_s(r, &r.probes.writeback, "writeback", |p| p.pages)
        )
        .probe_rate(),
        metric!(
            "store.failures_per_s",
            U::PerSecond,
            Lower,
            "zswap_store failures per second",
            |r| probed_per_s(r, &r.probes.store, "store", |p| p.failures)
        )
        .needs(Exercise::Stores)
        .probe_rate(),
    ]
}

/// Proactive writeback as userspace sees it (and the probe, where it measured).
fn proactive() -> Vec<Metric> {
    vec![
        metric!(
            "proactive.latency_p50_ns",
            U::Ns,
            Lower,
            "median latency of a proactive writeback write",
            |r| {
                proactive_latency(r)?
                    .quantile(0.5)
                    .ok_or_else(|| "no proactive call".into())
            }
        )
        .needs(Exercise::Proactive),
        metric!(
            "proactive.latency_p99_ns",
            U::Ns,
            Lower,
            "99th percentile latency of a proactive writeback write",
            |r| {
                proactive_latency(r)?
                    .quantile(0.99)
                    .ok_or_else(|| "no proactive call".into())
            }
        )
        .needs(Exercise::Proactive),
        metric!(
            "proactive.eagain_share",
            U::Ratio,
            Lower,
            "share of proactive writes returning -EAGAIN (budget not met)",
            |r| {
                let rets = proactive_returns(r)?;
                // In f64: counts from a file can add up past u64.
                let total: f64 = rets.values().map(|&n| n as f64).sum();
                ratio(rets.get(ret::EAGAIN).copied().unwrap_or(0) as f64, total)
            }
        )
        .needs(Exercise::Proactive),
        metric!(
            "proactive.written_bytes_per_s",
            U::BytesPerSecond,
            Higher,
            "bytes written back by proactive writeback per second",
            |r| { per_s(r, proactive_written_bytes(r)?) }
        )
        .needs(Exercise::Proactive)
        .probe_rate(),
    ]
}

/// Memory pressure of the whole guest.
fn system() -> Vec<Metric> {
    vec![metric!(
        "psi.memory_some_share",
        U::Ratio,
        Lower,
        "share of time some task stalled on memory (PSI some)",
        |r| {
            let p = r.counters.psi.as_ref().ok_or("PSI not recorded")?;
            ratio(p.some_total_us as f64 * 1e3, r.duration_ns as f64)
        }
    )]
}

/// The probes themselves: shown, never judged.
fn tool() -> Vec<Metric> {
    vec![
        metric!(
            "probe.overhead_ns_per_s",
            U::NsPerSecond,
            Informational,
            "eBPF programs' own run time per second (BPF stats): the tool's cost, not the \
             kernel's",
            |r| {
                if r.probes.self_cost.is_empty() {
                    return Err("BPF run-time stats not recorded".into());
                }
                per_s(
                    r,
                    r.probes
                        .self_cost
                        .iter()
                        .map(|c| c.run_time_ns as f64)
                        .sum(),
                )
            }
        )
        .probe_rate(),
        metric!(
            "probe.lost_events",
            U::Count,
            Informational,
            "events the probes dropped (should be 0): the tool's health, not the kernel's",
            |r| Ok(r.probes.lost_events as f64)
        ),
    ]
}

pub fn by_name(name: &str) -> Option<Metric> {
    all().into_iter().find(|m| m.name == name)
}

fn per_s(r: &ResultFile, v: f64) -> Value {
    let s = r.duration_s().ok_or("measured phase has zero duration")?;
    Ok(v / s)
}

fn ratio(num: f64, den: f64) -> Value {
    if den > 0.0 {
        Ok(num / den)
    } else {
        Err("denominator is 0 (nothing happened)".into())
    }
}

fn workload_pages_per_s(r: &ResultFile) -> Value {
    let d = if r.workload.duration_ns > 0 {
        r.workload.duration_ns
    } else {
        r.duration_ns
    };
    if d == 0 {
        return Err("workload duration is 0".into());
    }
    Ok(r.workload.pages_touched as f64 / (d as f64 / 1e9))
}

/// A probe family's figures, or why they are missing (see [`unavailable`]).
/// A probed counter per second of the measured phase, or why the family is unavailable.
fn probed_per_s<T>(
    r: &ResultFile,
    figures: &Option<T>,
    family: &str,
    count: impl Fn(&T) -> u64,
) -> Value {
    per_s(r, count(probed(r, figures, family)?) as f64)
}

fn probed<'a, T>(r: &ResultFile, figures: &'a Option<T>, family: &str) -> Result<&'a T, String> {
    figures.as_ref().ok_or_else(|| unavailable(r, family))
}

/// "unavailable: <plan reason>" for a family, using the probe plan's reason when it has one.
fn unavailable(r: &ResultFile, family: &str) -> String {
    let reason = r
        .probe_plan
        .iter()
        .find(|p| p.metric == family || p.metric.starts_with(&format!("{family}:")))
        .and_then(|p| p.reason.clone());
    match reason {
        Some(why) => format!("{family} unavailable: {why}"),
        None => format!("{family} unavailable on this kernel"),
    }
}

pub(super) fn no_interface(r: &ResultFile) -> Result<(), String> {
    if r.proactive_writes.interface == ProactiveInterface::None && r.probes.proactive.is_none() {
        Err("kernel has no proactive writeback interface".into())
    } else {
        Ok(())
    }
}

/// Latency of proactive writes: the userspace measurement (every write, whatever the kernel),
/// else the probe's.
pub fn proactive_latency(r: &ResultFile) -> Result<Histogram, String> {
    threads_else_probe(
        r,
        |threads| {
            let mut h = Histogram::empty(Unit::Ns);
            for t in threads {
                h.merge(&t.latency).map_err(|e| e.to_string())?;
            }
            Ok(h)
        },
        |p| p.latency.clone(),
    )
}

/// Return-code mix of proactive writes (userspace first, else the probe's).
pub fn proactive_returns(r: &ResultFile) -> Result<BTreeMap<String, u64>, String> {
    threads_else_probe(
        r,
        |threads| {
            let mut m = BTreeMap::new();
            for t in threads {
                for (k, v) in &t.returns {
                    let n = m.entry(k.clone()).or_insert(0u64);
                    *n = n.saturating_add(*v);
                }
            }
            Ok(m)
        },
        |p| p.returns.clone(),
    )
}

/// A proactive-write figure from the userspace threads when the scenario ran any, else from
/// the probe; Err when the kernel has no interface or neither measured.
fn threads_else_probe<T>(
    r: &ResultFile,
    from_threads: impl FnOnce(&[ProactiveThread]) -> Result<T, String>,
    from_probe: impl FnOnce(&ProactiveProbe) -> T,
) -> Result<T, String> {
    no_interface(r)?;
    let threads = &r.proactive_writes.per_thread;
    if !threads.is_empty() {
        return from_threads(threads);
    }
    r.probes
        .proactive
        .as_ref()
        .map(from_probe)
        .ok_or_else(|| "no proactive writeback thread in this scenario".into())
}

fn proactive_written_bytes(r: &ResultFile) -> Value {
    no_interface(r)?;
    if let Some(p) = &r.probes.proactive {
        return Ok(p.written_bytes as f64);
    }
    let achieved: Option<f64> = r
        .proactive_writes
        .per_thread
        .iter()
        .map(|t| t.bytes_achieved.map(|b| b as f64))
        .sum();
    achieved.ok_or_else(|| "written bytes not measured (no probe, no kernel counter)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_unique() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn every_judged_metric_has_a_floor() {
        // Without one, a baseline median of 0 would make any nonzero shift an effect.
        for m in all() {
            if m.direction.judged() {
                assert!(m.floor > 0.0, "{} has no floor", m.name);
            }
        }
    }

    #[test]
    fn self_cost_is_never_judged() {
        for name in ["probe.overhead_ns_per_s", "probe.lost_events"] {
            assert_eq!(by_name(name).unwrap().direction, Informational, "{name}");
        }
    }

    /// results/README.md documents every metric with its direction: a row
    /// "| `name` | unit | direction | floor |" per metric, and no row for a metric that is gone.
    #[test]
    fn results_readme_lists_every_metric_with_its_direction() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../results/README.md");
        let doc = std::fs::read_to_string(path).expect("results/README.md");
        for m in all() {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", m.name)))
                .unwrap_or_else(|| panic!("results/README.md has no row for {}", m.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[2], m.unit.as_str(), "{row}");
            assert_eq!(cells[3], m.direction.text(), "{row}");
            let floor = if m.direction.judged() {
                m.unit.format(m.floor, false)
            } else {
                "-".into()
            };
            assert_eq!(cells[4], floor, "{row}");
        }
        let documented = doc.lines().filter(|l| {
            l.starts_with("| `")
                && l.split('`').nth(1).is_some_and(|n| {
                    n.contains('.')
                        && !n.contains(' ')
                        && by_name(n).is_none()
                        && looks_like_metric(n)
                })
        });
        assert_eq!(
            documented.count(),
            0,
            "rows for metrics that no longer exist"
        );
    }

    fn looks_like_metric(n: &str) -> bool {
        let families = [
            "workload",
            "lock",
            "cursor_iter",
            "shrink_memcg",
            "shrink_worker",
            "writeback",
            "store",
            "proactive",
            "fairness",
            "psi",
            "probe",
            "burst",
            "latency",
        ];
        families.iter().any(|f| n.starts_with(&format!("{f}.")))
    }
}
