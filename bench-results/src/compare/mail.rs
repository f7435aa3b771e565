//! The default report: what a maintainer pastes into a reply. For two kernels and one scenario
//! it fits 72 columns and about 40 lines: the kernels (patches by short hash), the rule, the
//! changes that pass it with their intervals, and what is n/a — metrics the scenario cannot
//! exercise once with the reason, then one line per kernel. `--full` has every table.
//!
//! Text and markdown are two renderings of one [`Mail`], so they cannot say different things.

use std::fmt::Write as _;

use super::text::{
    TEXT_WIDTH, col, compress_names, fmt_ci, fmt_p, fmt_relative, fmt_shift, machine_desc,
    runs_desc, series_desc, short, wrap, wrap_hanging,
};
use super::{Comparison, ScenarioComparison};
use crate::stats::Verdict;

struct Mail {
    title: String,
    /// Machine and kernel build shared by every kernel, when they share it.
    common: Option<String>,
    /// (label, series and, unless common, machine).
    kernels: Vec<(String, String)>,
    method: String,
    conclusion: String,
    scenarios: Vec<MailScenario>,
    warnings: Vec<String>,
}

struct MailScenario {
    name: String,
    sha: String,
    baseline: String,
    runs: String,
    changes: Vec<Change>,
    /// Judged comparisons of this scenario not called.
    unchanged: usize,
    /// (folded metric names, reason), one entry per reason.
    not_exercised: Vec<(String, String)>,
    /// (kernel or "all kernels", folded metric names).
    not_available: Vec<(String, String)>,
}

struct Change {
    kernel: String,
    metric: String,
    verdict: Verdict,
    /// "0.256 -> 0.996"
    medians: String,
    /// "+0.740 (+289%)"
    shift: String,
    ci: String,
    p_adjusted: f64,
}

fn mail(c: &Comparison) -> Mail {
    let baseline = c.scenarios.first().map(|s| s.baseline.clone());
    let others: Vec<&str> = c
        .kernels
        .iter()
        .map(|k| k.label.as_str())
        .filter(|k| Some(*k) != baseline.as_deref())
        .collect();
    let title = match &baseline {
        Some(b) if !others.is_empty() => {
            format!("zswap-bench compare: {} against {b}", others.join(", "))
        }
        _ => "zswap-bench compare".into(),
    };
    let descs: Vec<String> = c.kernels.iter().map(machine_desc).collect();
    let common =
        (!descs.is_empty() && descs.iter().all(|d| *d == descs[0])).then(|| descs[0].clone());
    let kernels = c
        .kernels
        .iter()
        .zip(&descs)
        .map(|(k, d)| {
            let s = series_desc(k);
            let text = if common.is_some() {
                s
            } else {
                format!("{s}; {d}")
            };
            (k.label.clone(), text)
        })
        .collect();
    Mail {
        title,
        common,
        kernels,
        method: c.method_text.clone(),
        conclusion: c.conclusion.clone(),
        scenarios: c.scenarios.iter().map(mail_scenario).collect(),
        warnings: c.warnings.clone(),
    }
}

fn mail_scenario(s: &ScenarioComparison) -> MailScenario {
    let runs = runs_desc(s);
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut not_exercised: Vec<(Vec<&str>, String)> = Vec::new();
    let mut not_available: Vec<(String, Vec<&str>)> = Vec::new();
    for m in &s.metrics {
        if let Some(why) = &m.not_exercised {
            match not_exercised.iter_mut().find(|(_, w)| w == why) {
                Some(e) => e.0.push(&m.name),
                None => not_exercised.push((vec![&m.name], why.clone())),
            }
            continue;
        }
        let missing: Vec<&str> = m
            .cells
            .iter()
            .filter(|c| c.summary.is_none())
            .map(|c| c.kernel.as_str())
            .collect();
        let who: Vec<String> = if missing.len() == m.cells.len() && m.cells.len() > 1 {
            vec!["all kernels".into()]
        } else {
            missing.iter().map(|k| k.to_string()).collect()
        };
        for k in who {
            match not_available.iter_mut().find(|(kk, _)| *kk == k) {
                Some(e) => e.1.push(&m.name),
                None => not_available.push((k, vec![&m.name])),
            }
        }
        let base = m.cells.first().and_then(|c| c.summary);
        for cell in m.cells.iter().skip(1) {
            let Some(d) = &cell.vs_baseline else { continue };
            match d.verdict {
                Some(Verdict::NoChange) => unchanged += 1,
                Some(v) => {
                    let (b, k) = (base.map(|s| s.median), cell.summary.map(|s| s.median));
                    let medians = match (b, k) {
                        (Some(b), Some(k)) => {
                            format!("{} -> {}", m.unit.format(b, false), m.unit.format(k, false))
                        }
                        _ => String::new(),
                    };
                    let rel = fmt_relative(d).map_or(String::new(), |r| format!(" ({r})"));
                    changes.push(Change {
                        kernel: cell.kernel.clone(),
                        metric: m.name.clone(),
                        verdict: v,
                        medians,
                        shift: format!("{}{rel}", fmt_shift(d, m.unit)),
                        ci: fmt_ci(d, m.unit),
                        p_adjusted: d.p_adjusted.unwrap_or(1.0),
                    })
                }
                None => {}
            }
        }
    }
    // "All kernels" first, then kernels in the scenario's order.
    not_available.sort_by_key(|(k, _)| s.kernels.iter().position(|x| x == k).map_or(0, |i| i + 1));
    MailScenario {
        name: s.name.clone(),
        sha: short(&s.sha256, 12).to_string(),
        baseline: s.baseline.clone(),
        runs: runs.join(", "),
        changes,
        unchanged,
        not_exercised: not_exercised
            .into_iter()
            .map(|(n, w)| (compress_names(&n), w))
            .collect(),
        not_available: not_available
            .into_iter()
            .map(|(k, n)| (k, compress_names(&n)))
            .collect(),
    }
}

/// The mailing-list report as plain text: ≤ 72 columns, ASCII only.
pub fn render_mail_text(c: &Comparison) -> String {
    let m = mail(c);
    let w = TEXT_WIDTH;
    let mut o = String::new();
    wrap(&mut o, &m.title, "", w);
    o.push('\n');
    match &m.common {
        Some(d) => wrap_hanging(&mut o, &format!("Kernels: all {d}"), "", "  ", w),
        None => o.push_str("Kernels:\n"),
    }
    let lw = m.kernels.iter().map(|k| k.0.len()).max().unwrap_or(0) + 2;
    for (label, desc) in &m.kernels {
        let first = format!("  {}", col(label, lw));
        wrap_hanging(&mut o, desc, &first, &" ".repeat(first.len()), w);
    }
    o.push('\n');
    wrap(&mut o, &format!("Method: {}", m.method), "", w);
    o.push('\n');
    wrap(&mut o, &m.conclusion, "", w);
    for s in &m.scenarios {
        o.push('\n');
        wrap_hanging(
            &mut o,
            &format!("Scenario {} ({}), runs: {}", s.name, s.sha, s.runs),
            "",
            "  ",
            w,
        );
        if !s.changes.is_empty() {
            let _ = writeln!(o, "Changes against {}:", s.baseline);
            for ch in &s.changes {
                let head = format!("  {} {}", ch.kernel, ch.metric);
                let pad = w
                    .saturating_sub(head.len() + ch.verdict.as_str().len())
                    .max(1);
                let _ = writeln!(o, "{head}{}{}", " ".repeat(pad), ch.verdict.as_str());
                let detail = format!(
                    "{}, shift {}, CI {}, adj. p {}",
                    ch.medians,
                    ch.shift,
                    ch.ci,
                    fmt_p(ch.p_adjusted)
                );
                wrap(&mut o, &detail, "    ", w);
            }
        }
        if s.unchanged > 0 {
            wrap(
                &mut o,
                &format!(
                    "~ (not called): {} judged comparison(s), see --full",
                    s.unchanged
                ),
                "",
                w,
            );
        }
        if !s.not_exercised.is_empty() {
            o.push_str("Not exercised by this scenario (n/a, not a measured 0):\n");
            for (names, why) in &s.not_exercised {
                wrap_hanging(&mut o, &format!("{names}: {why}"), "  ", "    ", w);
            }
        }
        if !s.not_available.is_empty() {
            o.push_str("Not available (n/a; reasons: --full):\n");
            for (k, names) in &s.not_available {
                wrap_hanging(&mut o, &format!("{k}: {names}"), "  ", "    ", w);
            }
        }
    }
    if !m.warnings.is_empty() {
        o.push_str("\nWarnings:\n");
        for x in &m.warnings {
            wrap_hanging(&mut o, x, "  ", "    ", w);
        }
    }
    o
}

/// The mailing-list report as markdown: the same content as [`render_mail_text`].
pub fn render_mail_markdown(c: &Comparison) -> String {
    let m = mail(c);
    let mut o = format!("# {}\n\n", m.title);
    match &m.common {
        Some(d) => {
            let _ = writeln!(o, "**Kernels** (all {d}):\n");
        }
        None => o.push_str("**Kernels:**\n\n"),
    }
    for (label, desc) in &m.kernels {
        let _ = writeln!(o, "- `{label}`: {desc}");
    }
    let _ = writeln!(o, "\n**Method:** {}\n\n{}", m.method, m.conclusion);
    for s in &m.scenarios {
        let _ = writeln!(
            o,
            "\n## Scenario `{}` (sha256 `{}`)\n\nRuns: {}\n",
            s.name, s.sha, s.runs
        );
        if !s.changes.is_empty() {
            let _ = writeln!(o, "Changes against `{}`:\n", s.baseline);
            o.push_str("| kernel | metric | verdict | medians | shift | 95% CI | p (Holm) |\n");
            o.push_str("|---|---|---|---|---|---|---:|\n");
            for ch in &s.changes {
                let _ = writeln!(
                    o,
                    "| {} | `{}` | {} | {} | {} | {} | {} |",
                    ch.kernel,
                    ch.metric,
                    ch.verdict.as_str(),
                    ch.medians,
                    ch.shift,
                    ch.ci,
                    fmt_p(ch.p_adjusted)
                );
            }
            o.push('\n');
        }
        if s.unchanged > 0 {
            let _ = writeln!(
                o,
                "~ (not called): {} judged comparison(s), see `--full`\n",
                s.unchanged
            );
        }
        if !s.not_exercised.is_empty() {
            o.push_str("**Not exercised by this scenario** (n/a, not a measured 0):\n\n");
            for (names, why) in &s.not_exercised {
                let _ = writeln!(o, "- `{names}`: {why}");
            }
            o.push('\n');
        }
        if !s.not_available.is_empty() {
            o.push_str("**Not available** (n/a; reasons: `--full`):\n\n");
            for (k, names) in &s.not_available {
                let _ = writeln!(o, "- {k}: `{names}`");
            }
        }
    }
    if !m.warnings.is_empty() {
        o.push_str("\n## Warnings\n\n");
        for x in &m.warnings {
            let _ = writeln!(o, "- {x}");
        }
    }
    o
}
