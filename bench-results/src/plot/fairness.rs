//! Fairness over the children of one memcg: writeback per child, the first child's share
//! against the fair share, and Lorenz curves.

use std::collections::BTreeMap;

use super::{
    BarChart, BarGroup, Extras, Figure, KernelGroups, Line, LineChart, basename, missing_notes,
    title,
};
use crate::metrics::{Fairness, MetricUnit, parent_of, proactive_fairness, writeback_fairness};
use crate::schema::ResultFile;
use crate::stats;

/// Per child memcg: median over repeats with min..max whiskers, one bar colour per kernel.
pub(super) fn per_memcg_bars(
    scenario: &str,
    kernels: &KernelGroups,
    proactive: bool,
) -> Option<Figure> {
    let mut categories: Vec<String> = Vec::new();
    let mut per_kernel: Vec<(String, usize, BTreeMap<String, Vec<f64>>)> = Vec::new();
    let mut parent = String::new();
    for (ki, (k, runs)) in kernels.iter().enumerate() {
        let mut vals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in runs {
            let Ok(f) = fairness_of(r, proactive) else {
                continue;
            };
            for (path, v) in f.children {
                // Run-specific cgroup prefixes differ per run and kernel: the child's name is
                // what lines runs up.
                if parent.is_empty() {
                    parent = basename(parent_of(&path)).to_string();
                }
                let c = basename(&path).to_string();
                if !categories.contains(&c) {
                    categories.push(c.clone());
                }
                vals.entry(c).or_default().push(v);
            }
        }
        if !vals.is_empty() {
            per_kernel.push((k.clone(), ki, vals));
        }
    }
    if per_kernel.is_empty() {
        return None;
    }
    let groups: Vec<BarGroup> = per_kernel
        .into_iter()
        .map(|(k, ki, vals)| BarGroup {
            label: k,
            color: ki,
            values: categories
                .iter()
                .map(|c| {
                    vals.get(c)
                        .and_then(|v| stats::median(v))
                        .unwrap_or(f64::NAN)
                })
                .collect(),
            whiskers: categories
                .iter()
                .map(|c| {
                    let s = stats::Summary::of(vals.get(c)?)?;
                    (s.n > 1).then_some((s.min, s.max))
                })
                .collect(),
        })
        .collect();
    let what = if proactive {
        "Proactive writeback per memcg"
    } else {
        "Writeback per memcg (all sources)"
    };
    let drawn: Vec<String> = groups.iter().map(|g: &BarGroup| g.label.clone()).collect();
    let notes = missing_notes(kernels, &drawn, |r| {
        if proactive {
            proactive_fairness(r).err()
        } else {
            writeback_fairness(r).err()
        }
    });
    Some(Figure::Bars(BarChart {
        title: title(what, scenario, &drawn),
        x_label: format!("child memcg of {parent}"),
        y_label: "pages written back per run (median, min..max)".into(),
        y_unit: MetricUnit::Count,
        categories: categories.clone(),
        groups,
        stacked: false,
        reference: None,
        notes,
    }))
}

/// The first child's share per kernel (median, min..max) against the fair share 1/N.
pub(super) fn first_child_share(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut cats = Vec::new();
    let mut values = Vec::new();
    let mut whiskers = Vec::new();
    let mut n_children = 0;
    for (k, runs) in kernels {
        let shares: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let f = proactive_fairness(r).ok()?;
                n_children = f.children.len();
                Some(f.shares()?[0])
            })
            .collect();
        let Some(s) = stats::Summary::of(&shares) else {
            continue;
        };
        cats.push(k.clone());
        values.push(s.median);
        whiskers.push((s.n > 1).then_some((s.min, s.max)));
    }
    if cats.is_empty() {
        return None;
    }
    let notes = missing_notes(kernels, &cats, |r| proactive_fairness(r).err());
    Some(Figure::Bars(BarChart {
        title: title(
            "First child's share of proactive writeback",
            scenario,
            &cats,
        ),
        x_label: "kernel".into(),
        y_label: "share of proactive writeback (median, min..max)".into(),
        y_unit: MetricUnit::Ratio,
        categories: cats,
        groups: vec![BarGroup {
            label: "first child".into(),
            color: 0,
            values,
            whiskers,
        }],
        stacked: false,
        reference: Some((
            1.0 / n_children as f64,
            format!("fair share 1/{n_children}"),
        )),
        notes,
    }))
}

/// Lorenz curve per kernel of the amounts per child summed over repeats: proactive writeback
/// when any kernel has it, else all writeback.
pub(super) fn lorenz(scenario: &str, kernels: &KernelGroups) -> Option<Figure> {
    let mut lines: Vec<Line> = Vec::new();
    let mut used_proactive = None;
    for proactive in [true, false] {
        for (ki, (k, runs)) in kernels.iter().enumerate() {
            // Amount per child summed over repeats, then one curve per kernel.
            let mut sums: Vec<f64> = Vec::new();
            for r in runs {
                let Ok(f) = fairness_of(r, proactive) else {
                    continue;
                };
                let v = f.values();
                if sums.is_empty() {
                    sums = v;
                } else if sums.len() == v.len() {
                    sums.iter_mut().zip(v).for_each(|(s, x)| *s += x);
                }
            }
            if let Some(points) = stats::lorenz(&sums) {
                lines.push(Line {
                    label: k.clone(),
                    points,
                    color: ki,
                    legend: true,
                    reference: false,
                });
            }
        }
        if !lines.is_empty() {
            used_proactive = Some(proactive);
            break;
        }
    }
    let proactive = used_proactive?;
    let drawn: Vec<String> = lines.iter().map(|l| l.label.clone()).collect();
    let notes = missing_notes(kernels, &drawn, |r| {
        let f = if proactive {
            proactive_fairness(r)
        } else {
            writeback_fairness(r)
        };
        Some(match f {
            Err(e) => e,
            Ok(_) => "nothing written back in any run".into(),
        })
    });
    lines.push(Line {
        label: "perfect equality".into(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        color: 6,
        legend: true,
        reference: true,
    });
    let what = if proactive {
        "Lorenz curve of proactive writeback over child memcgs"
    } else {
        "Lorenz curve of writeback over child memcgs"
    };
    Some(Figure::Lines(LineChart {
        title: title(what, scenario, &drawn),
        x_label: "cumulative share of child memcgs (least first)".into(),
        y_label: "cumulative share of writeback (all repeats)".into(),
        x_unit: MetricUnit::Ratio,
        y_unit: MetricUnit::Ratio,
        x_log: false,
        y_range: Some((0.0, 1.0)),
        lines,
        extras: Extras {
            notes,
            ..Extras::default()
        },
    }))
}

/// Proactive writeback's split over the children, or all writeback's.
fn fairness_of(r: &ResultFile, proactive: bool) -> Result<Fairness, String> {
    if proactive {
        proactive_fairness(r)
    } else {
        writeback_fairness(r)
    }
}
