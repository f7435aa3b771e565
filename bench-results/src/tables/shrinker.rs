//! The global shrinker experiment (`scenarios/global-shrinker.toml`): per kernel, how often
//! shrink_worker woke, how many shrink_memcg calls it made, and how much it wrote back, then
//! the same change as ratios: each kernel against the first one listed (the series' base).

use super::{by_kernel, table};
use crate::schema::ResultFile;
use crate::stats;

/// (wakeups, shrink_memcg calls, pages written back) medians over a kernel's runs.
fn figures(runs: &[&ResultFile]) -> Result<(f64, f64, f64), String> {
    let mut w = vec![];
    let mut c = vec![];
    let mut p = vec![];
    for r in runs {
        let sw = r
            .probes
            .shrink_worker
            .as_ref()
            .ok_or("shrink_worker was not probed")?;
        let sm = r
            .probes
            .shrink_memcg
            .as_ref()
            .ok_or("shrink_memcg was not probed")?;
        let wb = r
            .counters
            .vmstat_delta
            .get("zswpwb")
            .ok_or("no zswpwb in /proc/vmstat")?;
        w.push(sw.wakeups as f64);
        c.push(sm.calls as f64);
        p.push(*wb as f64);
    }
    let med = |v: &[f64]| stats::median(v).ok_or("no runs".to_string());
    Ok((med(&w)?, med(&c)?, med(&p)?))
}

fn count(v: f64) -> String {
    let n = v.round() as u64;
    // Thousands separated, as the posted figures are written.
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn fewer(base: f64, x: f64) -> String {
    if x <= 0.0 || base <= 0.0 {
        "n/a".into()
    } else if x <= base {
        format!("{:.1}× fewer", base / x)
    } else {
        format!("{:.1}× more", x / base)
    }
}

/// `baseline`: the kernel the ratios are against (default: the first listed).
pub(super) fn global_shrinker(
    results: &[&ResultFile],
    baseline: Option<&str>,
) -> Result<String, String> {
    let mut groups = by_kernel(results);
    if let Some(b) = baseline {
        let i = groups.iter().position(|(k, _)| k == b).ok_or_else(|| {
            format!(
                "--baseline {b}: no such kernel among the results ({})",
                groups
                    .iter()
                    .map(|g| g.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let g = groups.remove(i);
        groups.insert(0, g);
    }
    let mut rows = vec![];
    let mut figs = vec![];
    for (k, runs) in &groups {
        let f = figures(runs).map_err(|e| format!("kernel {k}: {e}"))?;
        rows.push(vec![
            k.clone(),
            runs.len().to_string(),
            count(f.0),
            count(f.1),
            count(f.2),
        ]);
        figs.push((k.clone(), f));
    }
    let (base, b) = figs[0].clone();
    for (k, f) in figs.iter().skip(1) {
        rows.push(vec![
            format!("{base} → {k}"),
            String::new(),
            fewer(b.0, f.0),
            fewer(b.1, f.1),
            if b.2 > 0.0 {
                format!("{:.2}×", f.2 / b.2)
            } else {
                "n/a".into()
            },
        ]);
    }
    Ok(table(
        &[
            "kernel",
            "runs",
            "shrink_worker wakeups",
            "shrink_memcg calls",
            "pages written back (zswpwb)",
        ],
        &rows,
    ) + "\nmedians over runs; ratios against the first kernel listed (`--baseline`).\n")
}
