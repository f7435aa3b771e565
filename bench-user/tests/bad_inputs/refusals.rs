//! Bad-input cases refused before any output exists: a `--baseline` the results do not hold,
//! `overhead` on a folder without its runs, a kernel name that names nothing.
use super::Case;

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            area: "analysis",
            what: "`--baseline` naming a kernel the results do not hold",
            args: &[
                "compare",
                "results/reference/global-shrinker",
                "--baseline",
                "no-such",
            ],
            files: &[],
            expect: &[
                "--baseline \"no-such\" is not a kernel of these results",
                "\"baseline-walk1\"",
                "name one of those",
            ],
        },
        Case {
            area: "analysis",
            what: "`table` with a `--baseline` that only exists before `--split-by`",
            args: &[
                "table",
                "verdicts",
                "results/reference/latency-beside",
                "--split-by",
                "idle-action",
                "--baseline",
                "ref-nocursor",
            ],
            files: &[],
            expect: &["\"ref-nocursor nothing\"", "\"ref-nocursor proactive\""],
        },
        Case {
            area: "analysis",
            what: "`overhead` on a folder without probe-overhead runs",
            args: &["overhead", "results/reference/global-shrinker"],
            files: &[],
            expect: &["holds no probe-overhead runs", "scripts/bench-probes"],
        },
        Case {
            area: "cli",
            what: "`run --kernel` with a kernel that does not exist",
            args: &[
                "run",
                "quick",
                "--kernel",
                "no-such-kernel",
                "--out",
                "{d}/o",
            ],
            files: &[],
            expect: &["unknown kernel \"no-such-kernel\""],
        },
    ]
}

/// The last case above leaves nothing behind: the results directory is made only after the
/// kernel name resolved.
#[test]
fn an_unknown_kernel_leaves_no_results_directory() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zswap-bench"))
        .args(["run", "quick", "--kernel", "no-such-kernel", "--out"])
        .arg(&out)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!out.exists(), "{} was created", out.display());
}
