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
            area: "scenario",
            what: "a scenario that is a character device (`/dev/zero`)",
            args: &["run", "/dev/zero", "--kernel", "no-such-kernel"],
            files: &[],
            expect: &["no scenario \"/dev/zero\": not a file"],
        },
        Case {
            area: "patch",
            what: "a patch file that is `/dev/zero`",
            args: &["kernel", "build", "{d}/k.toml"],
            files: &[
                (
                    "k.toml",
                    "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\nfile = \"/dev/zero\"\n[config]\nfragments = [\"g.config\"]\n",
                ),
                ("g.config", "CONFIG_ZSWAP=y\n"),
            ],
            expect: &[
                "patches[0]: cannot read /dev/zero",
                "a character device, not a regular file",
            ],
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

/// A FIFO as a patch file is refused at once: opening it to read would wait for a writer forever.
#[test]
fn a_fifo_patch_is_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("p.patch");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(
        d.path().join("k.toml"),
        "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\nfile = \"p.patch\"\n[config]\nfragments = [\"g.config\"]\n",
    )
    .unwrap();
    std::fs::write(d.path().join("g.config"), "CONFIG_ZSWAP=y\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zswap-bench"))
        .args(["kernel", "build"])
        .arg(d.path().join("k.toml"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("kernel build with a FIFO patch still runs after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(
        err.contains("a FIFO (named pipe), not a regular file"),
        "{err}"
    );
}
