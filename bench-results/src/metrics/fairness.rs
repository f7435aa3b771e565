//! Fairness of writeback over the children of one memcg: the amounts per child, and the
//! fairness metrics compared for them.
//!
//! Every fairness metric has a direction that makes starving a child bad: Jain's index is
//! higher-is-better (1 = equal, 1/N = one child gets everything), and a single child's share is
//! judged by its distance from the fair share 1/N, so a design that gives the first child
//! nothing is as unfair as one that gives it everything else. The raw share is shown beside
//! it as information.

use serde::{Deserialize, Serialize};

use super::{Metric, MetricUnit as U, Value, no_interface};
use crate::schema::{MemcgWriteback, ResultFile, Writeback, caller};
use crate::stats::Direction::{HigherIsBetter as Higher, Informational, LowerIsBetter as Lower};
use crate::stats::{jain_index, shares};

use super::exercise::Exercise;

/// The fairness metrics, in report order.
pub(super) fn metrics() -> Vec<Metric> {
    vec![
        metric!(
            "fairness.first_child_share",
            U::Ratio,
            Informational,
            "first child's share of proactive writeback (1/N is fair; judged as \
             fairness.first_child_share_gap)",
            |r| {
                let f = proactive_fairness(r)?;
                Ok(f.shares().ok_or("no proactive writeback in any child")?[0])
            }
        )
        .needs(Exercise::Proactive),
        metric!(
            "fairness.first_child_share_gap",
            U::Ratio,
            Lower,
            "|first child's share - 1/N| of proactive writeback: distance from the fair \
             share, so favouring and starving the first child both count",
            first_child_share_gap
        )
        .needs(Exercise::Proactive),
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
        )
        .needs(Exercise::Proactive),
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
    ]
}

fn first_child_share_gap(r: &ResultFile) -> Value {
    let f = proactive_fairness(r)?;
    let shares = f.shares().ok_or("no proactive writeback in any child")?;
    Ok((shares[0] - 1.0 / shares.len() as f64).abs())
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
        let amounts = per_child(&children, w, |m| {
            m.by_source.get(caller::PROACTIVE).map_or(0, |pb| pb.pages)
        });
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
    let amounts = per_child(&children, w, |m| m.pages);
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

/// Each child's written-back pages as `pages` picks them from its per-memcg record (0 for a
/// child the probe never saw write back).
fn per_child(
    children: &[String],
    w: &Writeback,
    pages: impl Fn(&MemcgWriteback) -> u64,
) -> Vec<(String, f64)> {
    children
        .iter()
        .map(|c| {
            let n = w
                .per_memcg
                .iter()
                .find(|m| &m.cgroup == c)
                .map_or(0, &pages);
            (c.clone(), n as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockResult;

    #[test]
    fn parent_paths() {
        assert_eq!(parent_of("/zswap-bench/p/c1"), "/zswap-bench/p");
        assert_eq!(parent_of("/zswap-bench"), "/");
    }

    #[test]
    fn starving_the_first_child_is_as_unfair_as_favouring_it() {
        let gap = |share: f64| {
            let mut m = MockResult::percg(0);
            m.first_child_share = share;
            m.noise = 0.0;
            first_child_share_gap(&m.build()).unwrap()
        };
        let fair = gap(1.0 / 8.0);
        assert!(fair < 0.005, "{fair}");
        // Starved (0) and favoured (1/4) are both 1/8 away from fair.
        let starved = gap(0.0);
        let favoured = gap(0.25);
        assert!((starved - 0.125).abs() < 0.005, "{starved}");
        assert!((favoured - 0.125).abs() < 0.005, "{favoured}");
        let m = super::super::by_name("fairness.first_child_share_gap").unwrap();
        assert_eq!(m.direction, Lower);
        // The raw share has no better direction: informational, never judged.
        let raw = super::super::by_name("fairness.first_child_share").unwrap();
        assert_eq!(raw.direction, Informational);
    }
}
