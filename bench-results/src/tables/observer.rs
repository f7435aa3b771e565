//! The walk-step probe's observer effect: per kernel, the same cells with the per-step probe
//! off (the default where the manifest declares its lock) and on (`--walk-steps`), judged under
//! the verdict rule on what the spin slow-path hook alone sees and on throughput.

use super::{by_kernel, table};
use crate::compare::{CompareOptions, compare};
use crate::schema::ResultFile;
use crate::schema::walk_steps_on;

/// What the slow-path hook sees without the walk step, and the workers' throughput.
pub const JUDGED: [&str; 4] = [
    "lock.cursor.contended_per_s",
    "lock.cursor.wait_ns_per_s",
    "lock.cursor.max_wait_ns",
    "workload.pages_per_s",
];

pub(super) fn walk_steps(results: &[&ResultFile]) -> Result<String, String> {
    let mut rows = vec![];
    let mut notes = vec![];
    for (k, runs) in by_kernel(results) {
        let off = format!("{k} walk-steps=off");
        let mut split: Vec<ResultFile> = runs.iter().map(|r| (*r).clone()).collect();
        crate::compare::split_by_walk_steps(&mut split);
        let n_on = split.iter().filter(|r| walk_steps_on(r)).count();
        if n_on == 0 || n_on == split.len() {
            return Err(format!(
                "kernel {k}: every run has the walk-step probe {}; the table needs runs with it on and off (a walk-steps matrix)",
                if n_on == 0 { "off" } else { "on" }
            ));
        }
        let c = compare(
            &split,
            &CompareOptions {
                baseline: Some(off.clone()),
                metrics: Some(JUDGED.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        );
        notes.push(format!(
            "{k}: {} {}",
            c.conclusion,
            declaration_check(&split)
        ));
        for s in &c.scenarios {
            let on = s
                .kernels
                .iter()
                .find(|l| **l != off)
                .cloned()
                .unwrap_or_default();
            let (n_off, n_on) = (
                s.runs.get(&off).map_or(0, |r| r.0),
                s.runs.get(&on).map_or(0, |r| r.0),
            );
            for m in &s.metrics {
                let med = |l: &str| {
                    m.cell(l)
                        .and_then(|c| c.summary.as_ref())
                        .map_or("n/a".into(), |x| m.unit.format(x.median, false))
                };
                let d = m.cell(&on).and_then(|c| c.vs_baseline.as_ref());
                let (shift, p, verdict) = match d {
                    Some(d) => (
                        super::shift_text(m.unit, d, ""),
                        d.p_adjusted.map_or("–".into(), |p| format!("{p:.4}")),
                        d.verdict.map_or("–".into(), |v| v.as_str().to_string()),
                    ),
                    None => ("n/a".into(), "–".into(), "–".into()),
                };
                rows.push(vec![
                    k.clone(),
                    format!("{n_off} / {n_on}"),
                    m.name.clone(),
                    med(&off),
                    med(&on),
                    shift,
                    p,
                    verdict,
                ]);
            }
        }
    }
    let mut s = table(
        &[
            "kernel",
            "runs off / on",
            "metric",
            "walk steps off",
            "on",
            "shift on − off [95% CI, per comparison]",
            "p (Holm)",
            "verdict",
        ],
        &rows,
    );
    s += "\nPer kernel one family of the judged comparisons above (Holm, α = 0.05, exact \
          two-sided Mann–Whitney, 5% effect floor).\n";
    for n in notes {
        s += &format!("\n{n}\n");
    }
    Ok(s)
}

/// With the per-step probe on, the walk step sees which lock each cursor call held: where the
/// manifest declares one lock per call, every call should be one acquisition of it.
fn declaration_check(runs: &[ResultFile]) -> String {
    let on: Vec<&ResultFile> = runs.iter().filter(|r| walk_steps_on(r)).collect();
    let agree = on
        .iter()
        .filter(|r| {
            let calls = r.probes.cursor_iter.as_ref().map_or(0, |c| c.calls);
            let acq: u64 = r
                .probes
                .locks
                .iter()
                .flatten()
                .filter_map(|l| l.acquisitions)
                .sum();
            calls > 0 && acq == calls
        })
        .count();
    format!(
        "With the per-step probe on, {agree} of {} runs saw every cursor call hold the lock at every walk step (acquisitions = cursor calls), the declaration the probe-off runs rely on.",
        on.len()
    )
}
