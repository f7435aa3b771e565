//! The shipped reference runs (results/reference/default, made by scenarios/matrix/default.toml)
//! through today's analysis: the reports quoted in README must follow the verdict rule, fit a
//! mail, and be what `compare` prints now. Skipped when the directory is absent (a checkout
//! without result files).

use std::path::{Path, PathBuf};

use bench_results::compare::TEXT_WIDTH;
use bench_results::stats::Verdict;
use bench_results::{CompareOptions, Comparison, ResultFile, compare, render_text};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn reference_dir() -> PathBuf {
    Path::new(ROOT).join("../results/reference/default")
}

/// `baseline = "..."` of the default matrix, as `zswap-bench matrix` passes it to compare.
fn matrix_baseline() -> Option<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("../scenarios/matrix/default.toml"))
        .expect("scenarios/matrix/default.toml");
    text.lines().find_map(|l| {
        let v = l
            .trim()
            .strip_prefix("baseline")?
            .trim()
            .strip_prefix('=')?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// The completed runs of one scenario, as the matrix groups them for its report.
fn scenario_runs(scenario: &str) -> Option<Vec<ResultFile>> {
    let dir = reference_dir();
    if !dir.is_dir() {
        eprintln!("skipped: no {}", dir.display());
        return None;
    }
    let all = ResultFile::read_all(&[dir]).expect("reference result files");
    Some(
        all.into_iter()
            .filter(|r| r.scenario.name == scenario && r.failed.is_none())
            .collect(),
    )
}

fn with_baseline(baseline: Option<String>) -> CompareOptions {
    CompareOptions {
        baseline,
        ..Default::default()
    }
}

/// Every called change passes the rule; every other judged comparison is "~"; informational
/// metrics carry no verdict; a fairness change between a cursor design and no cursor points
/// the right way.
fn check_rule(c: &Comparison) {
    let alpha = c.method.alpha;
    for s in &c.scenarios {
        for m in &s.metrics {
            for cell in m.cells.iter().skip(1) {
                let Some(d) = cell.vs_baseline else { continue };
                if !m.direction.judged() {
                    assert_eq!(d.verdict, None, "{} {}", m.name, cell.kernel);
                    continue;
                }
                let adj = d.p_adjusted.expect("judged comparisons are adjusted");
                assert!(adj >= d.p_value, "{}: adjusted below raw", m.name);
                match d.verdict {
                    Some(Verdict::Improvement | Verdict::Regression) => {
                        assert!(
                            adj < alpha && d.effect_ok,
                            "{} {}: {d:?}",
                            m.name,
                            cell.kernel
                        );
                    }
                    Some(Verdict::NoChange) => assert!(adj >= alpha || !d.effect_ok),
                    None => panic!("{} {}: judged but no verdict", m.name, cell.kernel),
                }
                let fairness = m.name.starts_with("fairness.");
                if fairness && s.baseline == "ref-nocursor" && cell.kernel != "baseline" {
                    assert_ne!(
                        d.verdict,
                        Some(Verdict::Regression),
                        "{}: a cursor design made writeback less fair than no cursor",
                        m.name
                    );
                }
            }
        }
    }
}

fn check_mail(t: &str) {
    for line in t.lines() {
        assert!(
            line.len() <= TEXT_WIDTH,
            "too wide ({}): {line:?}",
            line.len()
        );
        assert!(line.is_ascii(), "non-ASCII: {line:?}");
    }
}

#[test]
fn the_matrix_reports_follow_the_rule_and_are_current() {
    for scenario in ["fairness-small-budget", "contention"] {
        let Some(runs) = scenario_runs(scenario) else {
            return;
        };
        let c = compare(&runs, &with_baseline(matrix_baseline()));
        check_rule(&c);
        let t = render_text(&c);
        check_mail(&t);
        let path = reference_dir().join(format!("report-{scenario}.txt"));
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == t,
            "{} is not what compare prints now; regenerate it: zswap-bench compare \
             results/reference/default/{scenario}-* --baseline {} > {}",
            path.display(),
            matrix_baseline().unwrap_or_default(),
            path.display()
        );
    }
}

#[test]
fn the_two_kernel_fairness_mail_fits_72_by_40() {
    let Some(runs) = scenario_runs("fairness-small-budget") else {
        return;
    };
    let two: Vec<ResultFile> = runs
        .into_iter()
        .filter(|r| ["ref-nocursor", "ref-percg-lock"].contains(&r.kernel.label()))
        .collect();
    let c = compare(&two, &with_baseline(Some("ref-nocursor".into())));
    check_rule(&c);
    let t = render_text(&c);
    if std::env::var_os("SHOW_REPORT").is_some() {
        println!("{t}");
    }
    check_mail(&t);
    // 40 lines for everything but the changes, which take 2 to 3 lines each.
    let lines = t.lines().count();
    assert!(lines <= 40 + 3 * c.family.called, "{lines} lines:\n{t}");
    // The fairness metrics are judged here (both kernels measure them).
    let judged: Vec<&str> = c.scenarios[0]
        .metrics
        .iter()
        .filter(|m| m.direction.judged() && m.cells[1].vs_baseline.is_some())
        .map(|m| m.name.as_str())
        .collect();
    for m in ["fairness.first_child_share_gap", "fairness.proactive_jain"] {
        assert!(judged.contains(&m), "{m} not judged: {judged:?}");
    }
}
