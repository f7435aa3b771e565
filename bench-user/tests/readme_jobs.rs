//! The README's `--jobs 1` vs `--jobs 2` figures come from `results/reference/jobs/` through the
//! suite's own commands: this test runs them again and fails when the README drifts from them.
mod common;
use common::*;

fn wall_secs(dir: &str) -> String {
    let o = run(&["matrix", "--status", dir]);
    assert!(o.status.success(), "matrix --status {dir}");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.lines()
        .find_map(|l| l.strip_prefix("wall time of the local run: "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no wall time for {dir}:\n{out}"))
        .to_string()
}

#[test]
fn readme_jobs_figures_match_their_result_files() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for jobs in [1, 2] {
        let mut walls: Vec<String> = (1..=3)
            .map(|r| wall_secs(&format!("results/reference/jobs/jobs{jobs}-run{r}")))
            .collect();
        let row = format!(
            "| {jobs} | {} s | {} s | {} s |",
            walls[0], walls[1], walls[2]
        );
        walls.sort_by_key(|w| w.parse::<u64>().unwrap());
        let row = format!("{row} {} s |", walls[1]);
        assert!(readme.contains(&row), "README lacks {row:?}");
    }
    let o = run(&[
        "compare",
        "results/reference/jobs/jobs1-run1",
        "results/reference/jobs/jobs1-run2",
        "results/reference/jobs/jobs1-run3",
        "results/reference/jobs/jobs2-run1",
        "results/reference/jobs/jobs2-run2",
        "results/reference/jobs/jobs2-run3",
        "--split-by",
        "jobs",
        "--baseline",
        "baseline jobs=1",
        "--full",
    ]);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        report.contains("No change called against the baseline."),
        "{report}"
    );
    assert!(report.contains("m = 5 judged"), "{report}");
    // Each figure the README quotes, as the report prints it.
    for (report_text, readme_text) in [
        ("-4.77k  [-157k, +156k]", "−4.77k pages/s [−157k, +156k]"),
        ("-89.7  [-337, +62.8]", "−89.7/s [−337, +62.8]"),
        ("-0.005  [-0.048, +0.029]", "−0.005 [−0.048, +0.029]"),
    ] {
        assert!(
            report.contains(report_text),
            "report lacks {report_text:?}:\n{report}"
        );
        assert!(flat.contains(readme_text), "README lacks {readme_text:?}");
    }
    assert!(flat.contains("m = 5 judged comparisons") && flat.contains("on a 999k median"));
    assert!(
        report.contains("baseline jobs=1   12       999k"),
        "{report}"
    );
}
