//! `compare --full`: every metric's table — per kernel the summary over repeats, against the
//! baseline the shift, its interval, the Holm-adjusted p and the verdict. A metric the scenario
//! cannot exercise is one line with the reason instead of a table of zeros.

use std::fmt::Write as _;

use super::text::{
    TEXT_WIDTH, col, fmt_ci, fmt_p, fmt_relative, fmt_shift, gib, na, runs_desc, short,
    verdict_text, wrap, wrap_hanging,
};
use super::{Comparison, MetricComparison, ScenarioComparison};
use crate::stats::Verdict;

/// Kernel column of the tables.
const KW: usize = 16;

fn header(m: &MetricComparison) -> String {
    let mut h = format!("{} [{}, {}", m.name, m.unit.as_str(), m.direction.text());
    if m.direction.judged() {
        h += &format!(", floor {}", m.unit.format(m.floor, false));
    }
    if m.approximate {
        h += ", approximate: probe counts since attach";
    }
    h + "]"
}

/// Full plain-text report: ≤ 72 columns, ASCII only.
pub fn render_full_text(c: &Comparison) -> String {
    let w = TEXT_WIDTH;
    let mut o = String::from("zswap-bench compare (full)\n\nKernels:\n");
    for k in &c.kernels {
        let mut desc = format!("{} {}", k.release, k.machine);
        if let Some(s) = &k.config_sha256 {
            desc += &format!(", config {}", short(s, 12));
        }
        match &k.series {
            Some(s) => desc += &format!(", series {s} ({} patches)", k.patches.len()),
            None => desc += ", no series",
        }
        desc += &format!(", {}, {} vCPUs, {}", k.accel, k.cpus, gib(k.mem_bytes));
        if let Some(sl) = &k.spinlocks {
            desc += &format!(", {sl}");
        }
        if let Some(n) = &k.overcommit {
            desc += &format!("; {n}");
        }
        if let Some(n) = &k.shared_host {
            desc += &format!("; {n}");
        }
        let first = format!("  {} ", col(&k.label, KW));
        wrap_hanging(&mut o, &desc, &first, &" ".repeat(first.len()), w);
        for p in &k.patches {
            let line = format!("{} ({})", p.name, short(&p.sha256, 12));
            wrap(&mut o, &line, &" ".repeat(first.len() + 2), w);
        }
        for a in &k.applied {
            wrap(
                &mut o,
                &format!("not as posted: {a}"),
                &" ".repeat(first.len() + 2),
                w,
            );
        }
    }
    o.push('\n');
    wrap(&mut o, &format!("Method: {}", c.method_text), "", w);
    o.push('\n');
    wrap(&mut o, &c.conclusion, "", w);
    for s in &c.scenarios {
        scenario_text(&mut o, s);
    }
    if !c.warnings.is_empty() {
        o.push_str("\nWarnings:\n");
        for x in &c.warnings {
            wrap(&mut o, x, "  ", w);
        }
    }
    o
}

fn scenario_text(o: &mut String, s: &ScenarioComparison) {
    let w = TEXT_WIDTH;
    o.push('\n');
    wrap(
        o,
        &format!("Scenario {} (sha256 {})", s.name, short(&s.sha256, 12)),
        "",
        w,
    );
    if !s.params.is_empty() {
        let p: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        wrap(o, &p.join(" "), "  ", w);
    }
    let runs = runs_desc(s);
    wrap(
        o,
        &format!("Baseline: {}. Runs: {}", s.baseline, runs.join(", ")),
        "  ",
        w,
    );
    // The verdicts first, so a reader sees what changed before the tables.
    let mut called = Vec::new();
    for m in &s.metrics {
        for cell in m.cells.iter().skip(1) {
            if let Some(d) = &cell.vs_baseline
                && matches!(d.verdict, Some(v) if v != Verdict::NoChange)
            {
                called.push(format!(
                    "  {} {:<30} {:>8}  {}",
                    col(&cell.kernel, KW),
                    m.name,
                    fmt_relative(d).unwrap_or_else(|| fmt_shift(d, m.unit)),
                    verdict_text(d)
                ));
            }
        }
    }
    o.push('\n');
    if called.is_empty() {
        o.push_str("No change called against the baseline.\n");
    } else {
        o.push_str("Changes called against the baseline:\n");
        for line in called {
            let _ = writeln!(o, "{}", line.trim_end());
        }
    }
    let mut nowhere = Vec::new();
    for m in &s.metrics {
        if let Some(why) = &m.not_exercised {
            o.push('\n');
            let text = format!("{}: n/a: not exercised by this scenario: {why}", m.name);
            wrap_hanging(o, &text, "", "  ", w);
            continue;
        }
        if m.cells.iter().all(|c| c.summary.is_none()) {
            let why = m.cells.iter().find_map(|c| c.unavailable.clone());
            nowhere.push(format!(
                "{}: {}",
                m.name,
                na(&why.unwrap_or_else(|| "no data".into()))
            ));
            continue;
        }
        metric_table(o, m);
    }
    if !nowhere.is_empty() {
        o.push_str("\nNot available on any kernel here:\n");
        for n in &nowhere {
            wrap_hanging(o, n, "  ", "    ", w);
        }
    }
}

fn metric_table(o: &mut String, m: &MetricComparison) {
    let w = TEXT_WIDTH;
    o.push('\n');
    wrap(o, &header(m), "", w);
    let _ = writeln!(
        o,
        "  {} {:>3} {:>10} {:>10} {:>10}",
        col("kernel", KW),
        "n",
        "median",
        "mean",
        "stddev"
    );
    for cell in &m.cells {
        match &cell.summary {
            Some(sm) => {
                let _ = writeln!(
                    o,
                    "  {} {:>3} {:>10} {:>10} {:>10}",
                    col(&cell.kernel, KW),
                    sm.n,
                    m.unit.format(sm.median, false),
                    m.unit.format(sm.mean, false),
                    m.unit.format(sm.stddev, false)
                );
            }
            None => {
                let why = cell.unavailable.as_deref().unwrap_or("no data");
                let head = format!("  {} ", col(&cell.kernel, KW));
                wrap_hanging(o, &na(why), &head, &" ".repeat(head.len()), w);
            }
        }
    }
    if !m.cells.iter().skip(1).any(|c| c.vs_baseline.is_some()) {
        return;
    }
    // kernel 15, shift 9, CI 22, p(Holm) 8, verdict 11: 72 columns with the separators.
    let _ = writeln!(
        o,
        "  {} {:>9}  {:<22}{:>8}  verdict",
        col("vs baseline", KW - 1),
        "shift",
        "95% CI of shift",
        "p(Holm)"
    );
    for cell in m.cells.iter().skip(1) {
        if let Some(d) = &cell.vs_baseline {
            let p = d.p_adjusted.map_or("-".to_string(), fmt_p);
            let line = format!(
                "  {} {:>9}  {:<22}{:>8}  {}",
                col(&cell.kernel, KW - 1),
                fmt_shift(d, m.unit),
                fmt_ci(d, m.unit),
                p,
                verdict_text(d)
            );
            let _ = writeln!(o, "{}", line.trim_end());
        }
    }
}

/// Full markdown report: kernel list, method, one table per scenario with every statistic.
pub fn render_full_markdown(c: &Comparison) -> String {
    let mut o = String::from("# zswap-bench compare (full)\n\n## Kernels\n\n");
    o.push_str("| kernel | release | config | series | accel | vCPUs | memory | spinlocks |\n");
    o.push_str("|---|---|---|---|---|---:|---:|---|\n");
    for k in &c.kernels {
        let patches: Vec<String> = k
            .patches
            .iter()
            .map(|p| format!("{} ({})", p.name, short(&p.sha256, 12)))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} {} | {} | {} | {} | {}{} | {} | {} |",
            k.label,
            k.release,
            k.machine,
            k.config_sha256.as_deref().map_or("-", |s| short(s, 12)),
            k.series
                .as_ref()
                .map(|s| format!("{s}: {}", patches.join(", ")))
                .unwrap_or_else(|| "-".into()),
            k.accel,
            k.cpus,
            if k.overcommit.is_some() {
                " (overcommitted)"
            } else {
                ""
            },
            gib(k.mem_bytes),
            k.spinlocks.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(o, "\n**Method:** {}\n\n{}", c.method_text, c.conclusion);
    for s in &c.scenarios {
        scenario_markdown(&mut o, s);
    }
    if !c.warnings.is_empty() {
        o.push_str("\n## Warnings\n\n");
        for w in &c.warnings {
            let _ = writeln!(o, "- {w}");
        }
    }
    o
}

fn scenario_markdown(o: &mut String, s: &ScenarioComparison) {
    let _ = writeln!(
        o,
        "\n## Scenario `{}` (sha256 `{}`)\n",
        s.name,
        short(&s.sha256, 12)
    );
    if !s.params.is_empty() {
        let p: Vec<String> = s.params.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
        let _ = writeln!(o, "Parameters: {}\n", p.join(" "));
    }
    let _ = writeln!(o, "Baseline: `{}`\n", s.baseline);
    o.push_str(
        "| metric | kernel | n | median | mean | stddev | shift | 95% CI | p | p (Holm) | verdict |\n",
    );
    o.push_str("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|\n");
    for m in &s.metrics {
        let name = format!("{} ({}, {})", m.name, m.unit.as_str(), m.direction.text());
        if let Some(why) = &m.not_exercised {
            let _ = writeln!(
                o,
                "| {name} | all | | n/a: not exercised by this scenario: {} | | | | | | | |",
                why.replace('|', "/")
            );
            continue;
        }
        for (i, cell) in m.cells.iter().enumerate() {
            let metric = if i == 0 { name.clone() } else { String::new() };
            let (n, med, mean, sd) = match &cell.summary {
                Some(sm) => (
                    sm.n.to_string(),
                    m.unit.format(sm.median, false),
                    m.unit.format(sm.mean, false),
                    m.unit.format(sm.stddev, false),
                ),
                None => (
                    "0".into(),
                    na(cell.unavailable.as_deref().unwrap_or("no data")).replace('|', "/"),
                    String::new(),
                    String::new(),
                ),
            };
            let stats = match &cell.vs_baseline {
                Some(d) => format!(
                    "{} | {} | {} | {} | {}",
                    fmt_shift(d, m.unit),
                    fmt_ci(d, m.unit),
                    fmt_p(d.p_value),
                    d.p_adjusted.map_or("-".to_string(), fmt_p),
                    verdict_text(d)
                ),
                None if i == 0 => "(baseline) | | | | ".into(),
                None => " | | | | ".into(),
            };
            let _ = writeln!(
                o,
                "| {metric} | {} | {n} | {med} | {mean} | {sd} | {stats} |",
                cell.kernel
            );
        }
    }
}
