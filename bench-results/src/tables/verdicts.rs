//! Every judged comparison of a report as one markdown table: the rule's call, its p after
//! Holm, and the shift with its interval, so the documentation quotes the report's own numbers.

use super::table;
use crate::compare::{CompareOptions, compare};
use crate::schema::ResultFile;

pub(super) fn verdicts(results: &[ResultFile], baseline: Option<String>) -> Result<String, String> {
    let c = compare(
        results,
        &CompareOptions {
            baseline,
            ..Default::default()
        },
    );
    let mut rows = vec![];
    for s in &c.scenarios {
        for m in &s.metrics {
            let Some(base) = m.cell(&s.baseline).and_then(|b| b.summary.as_ref()) else {
                continue;
            };
            for cell in &m.cells {
                let Some(d) = cell.vs_baseline.as_ref() else {
                    continue;
                };
                let (Some(p), Some(v)) = (d.p_adjusted, d.verdict) else {
                    continue;
                };
                let med = cell.summary.as_ref().map_or(f64::NAN, |x| x.median);
                let shift = super::shift_text(m.unit, d, " (no interval)");
                rows.push(vec![
                    s.name.clone(),
                    cell.kernel.clone(),
                    format!("`{}`", m.name),
                    m.unit.format(base.median, false),
                    m.unit.format(med, false),
                    shift,
                    p_text(d.p_value),
                    format!("{p:.3}"),
                    v.as_str().to_string(),
                ]);
            }
        }
    }
    if rows.is_empty() {
        return Err("no judged comparison in these results (one kernel only, or no metric both sides measured)".into());
    }
    let runs: Vec<String> = c
        .scenarios
        .iter()
        .map(|s| {
            let n: Vec<String> = s
                .kernels
                .iter()
                .map(|k| format!("{k} {}", s.runs.get(k).map_or(0, |r| r.0)))
                .collect();
            format!("{}: {}", s.name, n.join(", "))
        })
        .collect();
    Ok(table(
        &[
            "scenario",
            "kernel",
            "metric",
            "baseline median",
            "median",
            "shift [95% CI, per comparison]",
            "p",
            "p (Holm)",
            "verdict",
        ],
        &rows,
    ) + &format!(
        "\nRuns: {}. {} {}\n",
        runs.join("; "),
        c.method_text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        c.conclusion
    ))
}

/// p as a report prints it: three decimals, or two significant digits below 0.001.
fn p_text(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}
