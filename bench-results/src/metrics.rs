//! Scalar metrics extracted from a result file: the rows of `compare`.
//!
//! Each metric knows its unit and which direction is better. A metric whose data was not
//! measured (probe family unavailable, kernel without the interface, zero-length run) extracts
//! to `Err(reason)`, shown as "n/a" — never as 0, which would read as a measurement.

use crate::schema::Histogram;
use crate::schema::{ProactiveInterface, ResultFile, Unit, caller, ret};
use crate::stats::{Direction, jain_index, shares};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Extracted value, or why there is none.
pub type Value = Result<f64, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricUnit {
    Ns,
    Bytes,
    PerSecond,
    NsPerSecond,
    BytesPerSecond,
    PagesPerSecond,
    /// A fraction in 0..=1 (shares, fairness indices).
    Ratio,
    Count,
}

impl MetricUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricUnit::Ns => "ns",
            MetricUnit::Bytes => "bytes",
            MetricUnit::PerSecond => "1/s",
            MetricUnit::NsPerSecond => "ns/s",
            MetricUnit::BytesPerSecond => "bytes/s",
            MetricUnit::PagesPerSecond => "pages/s",
            MetricUnit::Ratio => "ratio",
            MetricUnit::Count => "count",
        }
    }

    /// Compact human form (≤ 9 characters for realistic values): 3 significant digits with an
    /// SI or binary prefix; `signed` adds '+' to positive values (differences).
    pub fn format(self, v: f64, signed: bool) -> String {
        if !v.is_finite() {
            return "n/a".into();
        }
        let sign = if v < 0.0 {
            "-"
        } else if signed && v > 0.0 {
            "+"
        } else {
            ""
        };
        let a = v.abs();
        let body = match self {
            MetricUnit::Ns | MetricUnit::NsPerSecond => {
                let suffix = if self == MetricUnit::Ns { "" } else { "/s" };
                let (x, u) = if a >= 1e9 {
                    (a / 1e9, "s")
                } else if a >= 1e6 {
                    (a / 1e6, "ms")
                } else if a >= 1e3 {
                    (a / 1e3, "us")
                } else {
                    (a, "ns")
                };
                format!("{}{u}{suffix}", sig3(x))
            }
            MetricUnit::Bytes | MetricUnit::BytesPerSecond => {
                let suffix = if self == MetricUnit::Bytes { "" } else { "/s" };
                let (x, u) = if a >= 1024.0 * 1024.0 * 1024.0 {
                    (a / (1024.0 * 1024.0 * 1024.0), "G")
                } else if a >= 1024.0 * 1024.0 {
                    (a / (1024.0 * 1024.0), "M")
                } else if a >= 1024.0 {
                    (a / 1024.0, "K")
                } else {
                    (a, "B")
                };
                format!("{}{u}{suffix}", sig3(x))
            }
            MetricUnit::Ratio => format!("{a:.3}"),
            // Whole counts (axis ticks of thread or vCPU counts, lost events) read as integers.
            MetricUnit::Count if a < 1e3 && a.fract() == 0.0 => format!("{a:.0}"),
            MetricUnit::PerSecond | MetricUnit::PagesPerSecond | MetricUnit::Count => {
                let (x, u) = if a >= 1e9 {
                    (a / 1e9, "G")
                } else if a >= 1e6 {
                    (a / 1e6, "M")
                } else if a >= 1e3 {
                    (a / 1e3, "k")
                } else {
                    (a, "")
                };
                format!("{}{u}", sig3(x))
            }
        };
        format!("{sign}{body}")
    }
}

/// Three significant digits without exponent notation.
fn sig3(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

#[derive(Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub unit: MetricUnit,
    pub direction: Direction,
    pub description: &'static str,
    pub extract: fn(&ResultFile) -> Value,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric").field("name", &self.name).finish()
    }
}

use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower, Neither};
use MetricUnit as U;

macro_rules! metric {
    ($name:literal, $unit:expr, $dir:expr, $desc:literal, $f:expr) => {
        Metric {
            name: $name,
            unit: $unit,
            direction: $dir,
            description: $desc,
            extract: $f,
        }
    };
}

// After the macro: the submodule defines its metrics with it.
mod cursor;
pub use cursor::{GLOBAL_CURSOR_LOCK, is_cursor_lock, locks};

/// Every metric `compare` reports, in report order.
pub fn all() -> Vec<Metric> {
    let mut v = vec![
        metric!(
            "workload.pages_per_s",
            U::PagesPerSecond,
            Higher,
            "pages touched by the memory workers per second",
            workload_pages_per_s
        ),
        metric!(
            "workload.major_faults_per_s",
            U::PerSecond,
            Lower,
            "major faults of the workers per second",
            |r| { per_s(r, r.workload.major_faults as f64) }
        ),
    ];
    v.extend(cursor::metrics());
    v.extend([
        metric!(
            "cursor_iter.restart_share",
            U::Ratio,
            Lower,
            "lockless cursor: restarts per iterator call",
            |r| {
                let c = r
                    .probes
                    .cursor_iter
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "cursor_iter"))?;
                ratio(c.restarts as f64, c.calls as f64)
            }
        ),
        metric!(
            "shrink_memcg.calls_per_s",
            U::PerSecond,
            Neither,
            "shrink_memcg calls per second",
            |r| {
                let s = r
                    .probes
                    .shrink_memcg
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "shrink_memcg"))?;
                per_s(r, s.calls as f64)
            }
        ),
        metric!(
            "shrink_memcg.latency_p99_ns",
            U::Ns,
            Lower,
            "99th percentile of shrink_memcg latency",
            |r| {
                let s = r
                    .probes
                    .shrink_memcg
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "shrink_memcg"))?;
                s.latency
                    .quantile(0.99)
                    .ok_or_else(|| "no shrink_memcg call".into())
            }
        ),
        metric!(
            "shrink_worker.wakeups_per_s",
            U::PerSecond,
            Neither,
            "shrink_worker runs per second",
            |r| {
                let s = r
                    .probes
                    .shrink_worker
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "shrink_worker"))?;
                per_s(r, s.wakeups as f64)
            }
        ),
        metric!(
            "writeback.pages_per_s",
            U::PagesPerSecond,
            Neither,
            "zswap pages written back to swap per second",
            |r| {
                let w = r
                    .probes
                    .writeback
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "writeback"))?;
                per_s(r, w.pages as f64)
            }
        ),
        metric!(
            "store.failures_per_s",
            U::PerSecond,
            Lower,
            "zswap_store failures per second",
            |r| {
                let s = r
                    .probes
                    .store
                    .as_ref()
                    .ok_or_else(|| unavailable(r, "store"))?;
                per_s(r, s.failures as f64)
            }
        ),
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
        ),
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
        ),
        metric!(
            "proactive.eagain_share",
            U::Ratio,
            Lower,
            "share of proactive writes returning -EAGAIN (budget not met)",
            |r| {
                let rets = proactive_returns(r)?;
                let total: u64 = rets.values().sum();
                ratio(
                    rets.get(ret::EAGAIN).copied().unwrap_or(0) as f64,
                    total as f64,
                )
            }
        ),
        metric!(
            "proactive.written_bytes_per_s",
            U::BytesPerSecond,
            Higher,
            "bytes written back by proactive writeback per second",
            |r| { per_s(r, proactive_written_bytes(r)?) }
        ),
        metric!(
            "fairness.first_child_share",
            U::Ratio,
            Lower,
            "first child's share of proactive writeback (1/N is fair)",
            |r| {
                let f = proactive_fairness(r)?;
                Ok(f.shares().ok_or("no proactive writeback in any child")?[0])
            }
        ),
        metric!(
            "fairness.proactive_jain",
            U::Ratio,
            Higher,
            "Jain's index of proactive writeback over the target's children",
            |r| {
                proactive_fairness(r)?
                    .jain()
                    .ok_or_else(|| "no proactive writeback".into())
            }
        ),
        metric!(
            "fairness.writeback_jain",
            U::Ratio,
            Higher,
            "Jain's index of all writeback (zswpwb) over sibling memcgs",
            |r| {
                writeback_fairness(r)?
                    .jain()
                    .ok_or_else(|| "no writeback".into())
            }
        ),
        metric!(
            "psi.memory_some_share",
            U::Ratio,
            Lower,
            "share of time some task stalled on memory (PSI some)",
            |r| {
                let p = r.counters.psi.as_ref().ok_or("PSI not recorded")?;
                ratio(p.some_total_us as f64 * 1e3, r.duration_ns as f64)
            }
        ),
        metric!(
            "probe.overhead_ns_per_s",
            U::NsPerSecond,
            Lower,
            "eBPF programs' own run time per second (BPF stats)",
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
        ),
        metric!(
            "probe.lost_events",
            U::Count,
            Lower,
            "events the probes dropped (should be 0)",
            |r| Ok(r.probes.lost_events as f64)
        ),
    ]);
    v
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

fn no_interface(r: &ResultFile) -> Result<(), String> {
    if r.proactive_writes.interface == ProactiveInterface::None && r.probes.proactive.is_none() {
        Err("kernel has no proactive writeback interface".into())
    } else {
        Ok(())
    }
}

/// Latency of proactive writes: the userspace measurement (every write, whatever the kernel),
/// else the probe's.
pub fn proactive_latency(r: &ResultFile) -> Result<Histogram, String> {
    no_interface(r)?;
    let threads = &r.proactive_writes.per_thread;
    if !threads.is_empty() {
        let mut h = Histogram::empty(Unit::Ns);
        for t in threads {
            h.merge(&t.latency).map_err(|e| e.to_string())?;
        }
        return Ok(h);
    }
    r.probes
        .proactive
        .as_ref()
        .map(|p| p.latency.clone())
        .ok_or_else(|| "no proactive writeback thread in this scenario".into())
}

/// Return-code mix of proactive writes (userspace first, else the probe's).
pub fn proactive_returns(r: &ResultFile) -> Result<BTreeMap<String, u64>, String> {
    no_interface(r)?;
    let threads = &r.proactive_writes.per_thread;
    if !threads.is_empty() {
        let mut m = BTreeMap::new();
        for t in threads {
            for (k, v) in &t.returns {
                *m.entry(k.clone()).or_insert(0) += v;
            }
        }
        return Ok(m);
    }
    r.probes
        .proactive
        .as_ref()
        .map(|p| p.returns.clone())
        .ok_or_else(|| "no proactive writeback thread in this scenario".into())
}

fn proactive_written_bytes(r: &ResultFile) -> Value {
    no_interface(r)?;
    if let Some(p) = &r.probes.proactive {
        return Ok(p.written_bytes as f64);
    }
    let achieved: Option<u64> = r
        .proactive_writes
        .per_thread
        .iter()
        .map(|t| t.bytes_achieved)
        .sum();
    achieved
        .map(|b| b as f64)
        .ok_or_else(|| "written bytes not measured (no probe, no kernel counter)".into())
}

/// Amount per child memcg of one parent, in the parent's child order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    pub parent: String,
    /// Where the amounts come from, e.g. "probe writeback by_source=proactive (pages)".
    pub source: String,
    pub children: Vec<(String, f64)>,
}

impl Fairness {
    pub fn values(&self) -> Vec<f64> {
        self.children.iter().map(|c| c.1).collect()
    }
    pub fn jain(&self) -> Option<f64> {
        jain_index(&self.values())
    }
    pub fn shares(&self) -> Option<Vec<f64>> {
        shares(&self.values())
    }
}

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// Memcgs of the scenario (counters order = creation order), else those the probes saw.
fn memcg_paths(r: &ResultFile) -> Vec<String> {
    if !r.counters.memcg.is_empty() {
        return r.counters.memcg.iter().map(|m| m.path.clone()).collect();
    }
    r.probes
        .writeback
        .iter()
        .flat_map(|w| w.per_memcg.iter().map(|m| m.cgroup.clone()))
        .collect()
}

fn children_of(r: &ResultFile, parent: &str) -> Vec<String> {
    memcg_paths(r)
        .into_iter()
        .filter(|p| parent_of(p) == parent)
        .collect()
}

/// The memcg the proactive threads target (first thread), else the probe's first target.
pub fn proactive_target(r: &ResultFile) -> Option<String> {
    r.proactive_writes
        .per_thread
        .first()
        .map(|t| t.target.clone())
        .or_else(|| {
            r.probes
                .proactive
                .as_ref()
                .and_then(|p| p.per_memcg.first().map(|m| m.cgroup.clone()))
        })
}

/// Proactive writeback per child of the proactive target: BPF writeback by source when
/// measured, else the kernel's `zswpwb_proactive_b` per memcg (patched kernels).
pub fn proactive_fairness(r: &ResultFile) -> Result<Fairness, String> {
    no_interface(r)?;
    let parent = proactive_target(r).ok_or("no proactive writeback target")?;
    let children = children_of(r, &parent);
    if children.len() < 2 {
        return Err(format!("{parent} has fewer than 2 child memcgs"));
    }
    if let Some(w) = &r.probes.writeback {
        let amounts: Vec<(String, f64)> = children
            .iter()
            .map(|c| {
                let pages = w
                    .per_memcg
                    .iter()
                    .find(|m| &m.cgroup == c)
                    .and_then(|m| m.by_source.get(caller::PROACTIVE))
                    .map_or(0, |pb| pb.pages);
                (c.clone(), pages as f64)
            })
            .collect();
        let any_source = w.per_memcg.iter().any(|m| !m.by_source.is_empty());
        if any_source {
            return Ok(Fairness {
                parent,
                source: format!("{} by source=proactive (pages)", w.point),
                children: amounts,
            });
        }
    }
    from_memcg_stat(r, parent, children, "zswpwb_proactive_b")
        .map_err(|_| "proactive writeback per memcg not measured (no probe source split, no zswpwb_proactive_b)".to_string())
}

/// All writeback (memory.stat zswpwb, else BPF pages) per child of the proactive target, or of
/// the memcg with the most children when nothing is proactive.
pub fn writeback_fairness(r: &ResultFile) -> Result<Fairness, String> {
    let parent = proactive_target(r)
        .filter(|t| children_of(r, t).len() >= 2)
        .or_else(|| {
            let paths = memcg_paths(r);
            paths
                .iter()
                .map(|p| (children_of(r, p).len(), p.clone()))
                .filter(|(n, _)| *n >= 2)
                .max_by_key(|(n, _)| *n)
                .map(|(_, p)| p)
        })
        .ok_or("no memcg with at least 2 children")?;
    let children = children_of(r, &parent);
    if let Ok(f) = from_memcg_stat(r, parent.clone(), children.clone(), "zswpwb") {
        return Ok(f);
    }
    let w = r
        .probes
        .writeback
        .as_ref()
        .ok_or("per-memcg writeback not recorded")?;
    let amounts = children
        .iter()
        .map(|c| {
            let pages = w
                .per_memcg
                .iter()
                .find(|m| &m.cgroup == c)
                .map_or(0, |m| m.pages);
            (c.clone(), pages as f64)
        })
        .collect();
    Ok(Fairness {
        parent,
        source: format!("{} (pages)", w.point),
        children: amounts,
    })
}

fn from_memcg_stat(
    r: &ResultFile,
    parent: String,
    children: Vec<String>,
    key: &str,
) -> Result<Fairness, String> {
    let mut amounts = Vec::new();
    for c in children {
        let m = r
            .counters
            .memcg
            .iter()
            .find(|m| m.path == c)
            .ok_or_else(|| format!("{c}: memory.stat not recorded"))?;
        let v = m
            .stat_delta
            .get(key)
            .ok_or_else(|| format!("{c}: memory.stat has no {key}"))?;
        amounts.push((c, *v as f64));
    }
    Ok(Fairness {
        parent,
        source: format!("memory.stat {key}"),
        children: amounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_compact() {
        assert_eq!(MetricUnit::Ns.format(1_234_567.0, false), "1.23ms");
        assert_eq!(MetricUnit::Ns.format(850.0, false), "850ns");
        assert_eq!(MetricUnit::Ns.format(-2_500.0, true), "-2.50us");
        assert_eq!(
            MetricUnit::Bytes.format(2.0 * 1024.0 * 1024.0, false),
            "2.00M"
        );
        assert_eq!(MetricUnit::PerSecond.format(12_345.0, true), "+12.3k");
        assert_eq!(MetricUnit::Ratio.format(0.9123, false), "0.912");
        assert_eq!(MetricUnit::Ratio.format(f64::NAN, false), "n/a");
        assert_eq!(MetricUnit::Count.format(16.0, false), "16");
        assert_eq!(MetricUnit::Count.format(2.5, false), "2.50");
        assert_eq!(MetricUnit::Count.format(12_345.0, false), "12.3k");
    }

    #[test]
    fn parent_paths() {
        assert_eq!(parent_of("/zswap-bench/p/c1"), "/zswap-bench/p");
        assert_eq!(parent_of("/zswap-bench"), "/");
    }

    #[test]
    fn metric_names_unique() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
