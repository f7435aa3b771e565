//! Formatting shared by the text and markdown reports: wrapping to a mail's width, columns,
//! numbers, and compact lists of metric names.

use crate::metrics::MetricUnit;
use crate::stats::{Difference, Verdict};

use super::KernelIdentity;

/// Width limit of the text reports (mailing-list replies).
pub const TEXT_WIDTH: usize = 72;

/// Greedy word wrap to `width`: the first line starts with `first`, the others with `indent`.
pub fn wrap_hanging(out: &mut String, text: &str, first: &str, indent: &str, width: usize) {
    let mut line = String::from(first);
    let mut lead = first.len();
    for word in text.split_whitespace() {
        if line.len() > lead && line.len() + 1 + word.len() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
            lead = indent.len();
        }
        if line.len() > lead {
            line.push(' ');
        }
        // A single word longer than the line is cut rather than overflowing.
        let room = width.saturating_sub(line.len()).max(1);
        line.extend(word.chars().take(room));
    }
    if line.len() > lead {
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Greedy word wrap, every line starting with `indent`.
pub fn wrap(out: &mut String, text: &str, indent: &str, width: usize) {
    wrap_hanging(out, text, indent, indent, width);
}

/// `k` padded (or cut with '~') to `w` columns.
pub fn col(k: &str, w: usize) -> String {
    if k.chars().count() <= w {
        format!("{k:<w$}")
    } else {
        let cut: String = k.chars().take(w - 1).collect();
        format!("{cut}~")
    }
}

pub fn fmt_shift(d: &Difference, unit: MetricUnit) -> String {
    unit.format(d.shift, true)
}

pub fn fmt_relative(d: &Difference) -> Option<String> {
    // Whole percents from 10 % on: the effects worth quoting are far above the 5 % threshold.
    d.relative.map(|r| {
        if r.abs() >= 0.1 {
            format!("{:+.0}%", r * 100.0)
        } else {
            format!("{:+.1}%", r * 100.0)
        }
    })
}

pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

pub fn fmt_ci(d: &Difference, unit: MetricUnit) -> String {
    match d.ci {
        // A bound the test rejects is open: only ever one at 0 (stats::mann_whitney).
        Some(ci) => format!(
            "{}{}, {}{}",
            if ci.lo_open { '(' } else { '[' },
            unit.format(ci.lo, true),
            unit.format(ci.hi, true),
            if ci.hi_open { ')' } else { ']' }
        ),
        // 3 vs 3 cannot reach 95 % coverage: there is no such interval.
        None => "none: too few runs".into(),
    }
}

/// Verdict word, or "-" for a comparison that is not judged.
pub fn verdict_text(d: &Difference) -> &'static str {
    d.verdict.map_or("-", Verdict::as_str)
}

/// "n/a: <why>", unless the reason already says so itself (e.g. a lock family's "n/a: never
/// taken: ..."), which would otherwise read "n/a: n/a: ...".
pub fn na(why: &str) -> String {
    if why.starts_with("n/a") {
        why.to_string()
    } else {
        format!("n/a: {why}")
    }
}

pub fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

pub fn short(sha: &str, n: usize) -> &str {
    &sha[..sha.len().min(n)]
}

/// Where the kernel ran and what it is, apart from its patches.
pub fn machine_desc(k: &KernelIdentity) -> String {
    let mut d = format!("{} {}", k.release, k.machine);
    if let Some(s) = &k.config_sha256 {
        d += &format!(", config {}", short(s, 12));
    }
    d += &format!(", {}, {} vCPUs, {}", k.accel, k.cpus, gib(k.mem_bytes));
    if let Some(sl) = &k.spinlocks {
        d += &format!(", {sl}");
    }
    if let Some(n) = &k.overcommit {
        d += &format!("; {n}");
    }
    if let Some(n) = &k.shared_host {
        d += &format!("; {n}");
    }
    d
}

/// Runs per kernel, baseline first: "ref-nocursor 3", "baseline 2 (+1 failed)".
pub fn runs_desc(s: &super::ScenarioComparison) -> Vec<String> {
    s.kernels
        .iter()
        .map(|k| {
            let (ok, failed) = s.runs.get(k).copied().unwrap_or((0, 0));
            if failed > 0 {
                format!("{k} {ok} (+{failed} failed)")
            } else {
                format!("{k} {ok}")
            }
        })
        .collect()
}

/// The patch series in a line: "unpatched" or "[series S,] N patches h1 h2 ..." with short
/// hashes of the patch files (sha256).
pub fn series_desc(k: &KernelIdentity) -> String {
    match &k.series {
        None => "unpatched".into(),
        Some(s) => {
            let name = if *s == k.label {
                String::new()
            } else {
                format!("series {s}, ")
            };
            let hashes: Vec<&str> = k.patches.iter().map(|p| short(&p.sha256, 8)).collect();
            let mut d = format!("{name}{} patches {}", k.patches.len(), hashes.join(" "));
            // A series fuzzed or fixed up to apply is not quite what was posted: say so.
            let fuzzed = k.applied.iter().filter(|a| a.starts_with("patch ")).count();
            let fixups = k
                .applied
                .iter()
                .filter(|a| a.starts_with("fix-up "))
                .count();
            if fuzzed > 0 {
                d += &format!(", {fuzzed} applied with patch -F (fuzz)");
            }
            if fixups > 0 {
                d += &format!(", {fixups} fix-up(s)");
            }
            d
        }
    }
}

/// Metric names with runs of a shared prefix folded: "a.x, a.y, b.z" -> "a.{x,y}, b.z".
pub fn compress_names(names: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let prefix = names[i].rsplit_once('.').map_or("", |p| p.0);
        let mut j = i + 1;
        while j < names.len()
            && !prefix.is_empty()
            && names[j].rsplit_once('.').map(|p| p.0) == Some(prefix)
        {
            j += 1;
        }
        if j - i > 1 {
            let tails: Vec<&str> = names[i..j]
                .iter()
                .map(|n| n.rsplit_once('.').map_or(*n, |p| p.1))
                .collect();
            // ", " inside the braces too, so a long group can wrap.
            out.push(format!("{prefix}.{{{}}}", tails.join(", ")));
        } else {
            out.push(names[i].to_string());
        }
        i = j;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_by_prefix() {
        assert_eq!(
            compress_names(&["lock.cursor.a", "lock.cursor.b", "lock.global.c", "psi.d"]),
            "lock.cursor.{a, b}, lock.global.c, psi.d"
        );
        assert_eq!(compress_names(&[]), "");
    }

    #[test]
    fn a_bound_the_test_rejects_is_printed_open() {
        use crate::stats::{Method, compare_samples};
        // p = 1/30 rejects a shift of 0, and the interval ends there.
        let d = compare_samples(&[1.0, 1.0, 0.0, 1.0], &[0.0; 6], 0.0, &Method::default());
        assert_eq!(fmt_ci(&d.unwrap(), MetricUnit::Count), "[-1, 0)");
        let d = compare_samples(
            &[1.0, 2.0, 3.0, 4.0],
            &[5.0, 6.0, 7.0, 8.0],
            0.0,
            &Method::default(),
        );
        assert_eq!(fmt_ci(&d.unwrap(), MetricUnit::Count), "[+1, +7]");
    }

    #[test]
    fn wrapping_keeps_the_width() {
        let mut o = String::new();
        wrap_hanging(&mut o, &"word ".repeat(40), "first: ", "    ", 30);
        assert!(o.lines().all(|l| l.len() <= 30), "{o}");
        assert!(o.starts_with("first: word"));
        assert!(o.lines().nth(1).unwrap().starts_with("    word"));
    }
}
