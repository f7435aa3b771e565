//! Tables of one scenario's runs per kernel: fairness (with the per-call side) and the cursor
//! lock's contention run by run.

use super::{by_kernel, footnotes, spread, table, value};
use crate::metrics::{MetricUnit, written_per_call};
use crate::schema::ResultFile;
use crate::stats;

/// Per kernel: the first child's share, Jain's index, and how the call sequence wrote back.
pub(super) fn fairness(results: &[&ResultFile]) -> String {
    let mut why = vec![];
    let mut rows = vec![];
    for (k, runs) in by_kernel(results) {
        rows.push(vec![
            k.clone(),
            runs.len().to_string(),
            spread("fairness.first_child_share", &runs, &mut why),
            spread("fairness.proactive_jain", &runs, &mut why),
            spread("proactive.eagain_share", &runs, &mut why),
            spread("proactive.calls_to_first_writeback", &runs, &mut why),
            thirds(&runs),
            coverage(&runs),
        ]);
    }
    let children = results
        .iter()
        .find_map(|r| crate::metrics::proactive_fairness(r).ok())
        .map_or(0, |f| f.children.len());
    let share = format!("first child's share (1/{children} fair)");
    table(
        &[
            "kernel",
            "runs",
            &share,
            "Jain's index over children",
            "calls returning -EAGAIN",
            "calls before the first writeback",
            "written back by each third of the calls",
            "per-call sum / whole phase",
        ],
        &rows,
    ) + &footnotes(&why)
        + "\nmedian [min–max] over runs; the thirds are medians over runs of the bytes the \
           first, second and last third of each run's calls wrote back (each call's memory.stat \
           delta; a late stats flush moves bytes to a later call, never an earlier one); the \
           last column is what the calls' deltas add up to over the phase's whole delta.\n"
}

/// How much of each run's proactive writeback the per-call deltas saw (median [min–max]).
fn coverage(runs: &[&ResultFile]) -> String {
    let v: Vec<f64> = runs
        .iter()
        .filter_map(|r| crate::metrics::per_call_coverage(r).ok())
        .collect();
    super::spread_of(&v, MetricUnit::Ratio)
}

/// Medians over runs of the bytes written back by each third of the call sequence.
fn thirds(runs: &[&ResultFile]) -> String {
    let mut parts: [Vec<f64>; 3] = Default::default();
    for r in runs {
        let Ok(w) = written_per_call(r) else { continue };
        let n = w.len().div_ceil(3).max(1);
        for (i, chunk) in w.chunks(n).enumerate().take(3) {
            parts[i].push(chunk.iter().sum::<u64>() as f64);
        }
    }
    if parts[0].is_empty() {
        return "n/a".into();
    }
    parts
        .iter()
        .map(|p| stats::median(p).map_or("n/a".into(), |m| MetricUnit::Bytes.format(m, false)))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Per kernel, one value per run of what the spin slow-path hook saw on the cursor lock.
pub(super) fn contention(results: &[&ResultFile]) -> String {
    let mut why = vec![];
    let mut rows = vec![];
    for (k, runs) in by_kernel(results) {
        let per_run = |name: &str, why: &mut Vec<String>| -> String {
            let Some(m) = crate::metrics::by_name(name) else {
                return "n/a".into();
            };
            let v: Vec<String> = runs
                .iter()
                .map(|r| value(name, r, why).map_or("n/a".into(), |x| m.unit.format(x, false)))
                .collect();
            if v.iter().all(|x| x == "n/a") {
                "n/a".into()
            } else {
                v.join(", ")
            }
        };
        rows.push(vec![
            k.clone(),
            runs.len().to_string(),
            per_run("lock.cursor.contended_per_s", &mut why),
            per_run("lock.cursor.contended_share", &mut why),
            per_run("lock.cursor.utilization", &mut why),
            per_run("lock.cursor.wait_ns_per_s", &mut why),
            per_run("lock.cursor.max_wait_ns", &mut why),
            spread("workload.pages_per_s", &runs, &mut why),
            slow_path_check(&runs),
        ]);
    }
    table(
        &[
            "kernel",
            "runs",
            "contended/s",
            "contended share",
            "utilization (upper bound)",
            "wait/s",
            "longest wait",
            "workload pages/s",
            "slow-path waits = kprobe entries",
        ],
        &rows,
    ) + &footnotes(&why)
        + "\nper run in repeat order, except pages/s: median [min–max].\n"
}

/// The cross-check of the slow-path hook per run: "a = b" or the disagreement.
fn slow_path_check(runs: &[&ResultFile]) -> String {
    let v: Vec<String> = runs
        .iter()
        .map(|r| {
            r.crosschecks
                .iter()
                .find(|c| c.what.starts_with("watched spinlock waits"))
                .map_or("n/a".into(), |c| match (c.agree, c.kernel - c.bpf) {
                    (true, 0) => format!("{} = {}", c.bpf, c.kernel),
                    // Agreeing up to waits the timing program missed (counted as lost).
                    (true, missed) => format!("{} + {missed} lost = {}", c.bpf, c.kernel),
                    (false, _) => format!("{} ≠ {}", c.bpf, c.kernel),
                })
        })
        .collect();
    if v.iter().all(|x| x == "n/a") {
        return "n/a (no cross-check)".into();
    }
    if v.windows(2).all(|w| w[0] == w[1]) {
        return format!("{} ×{}", v[0], v.len());
    }
    v.join(", ")
}
