//! Bad-input cases of the limits of the command line, matrix files and kernel manifests
//! (bench-user/src/limits.rs), of the host checks of `vm --mem`/`--swap`, and of the
//! environment (`env:KEY=VALUE` arguments set a variable).
use super::Case;

/// A `vm` line on a bzImage that is never booted (every case is refused before QEMU).
macro_rules! vm_case {
    ($what:expr, [$($a:expr),+], $($e:expr),+) => {
        Case {
            area: "cli",
            what: $what,
            args: &["vm", "--kernel", "{d}/bzImage", $($a),+, "--", "true"],
            files: &[("bzImage", "never booted"), ("config", "CONFIG_NR_CPUS=8\n")],
            expect: &[$($e),+],
        }
    };
}

/// A matrix file of generated text.
fn matrix_case(what: &'static str, text: String, expect: &'static [&'static str]) -> Case {
    let text: &'static str = text.leak();
    Case {
        area: "matrix",
        what,
        args: &["matrix", "{d}/m.toml"],
        files: Box::leak(Box::new([("m.toml", text)])),
        expect,
    }
}

/// A manifest `k.toml` with `$patch` in its one [[patches]] entry and `$tail` at its end.
fn manifest_case(
    what: &'static str,
    patch: &str,
    tail: &str,
    expect: &'static [&'static str],
) -> Case {
    manifest_with_fragment(what, patch, "g.config", tail, expect)
}

/// As `manifest_case`, with `fragment` as its config fragment.
fn manifest_with_fragment(
    what: &'static str,
    patch: &str,
    fragment: &str,
    tail: &str,
    expect: &'static [&'static str],
) -> Case {
    let text = format!(
        "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\nfile = \"p.patch\"\n{patch}[config]\nfragments = [\"{fragment}\"]\n{tail}"
    );
    Case {
        area: "manifest",
        what,
        args: &["kernel", "build", "{d}/k.toml"],
        files: Box::leak(Box::new([
            ("k.toml", &*text.leak()),
            ("g.config", "CONFIG_ZSWAP=y\n"),
            ("p.patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"),
        ])),
        expect,
    }
}

fn list(n: usize, f: impl Fn(usize) -> String) -> String {
    (0..n).map(f).collect::<Vec<_>>().join(", ")
}

pub fn cases() -> Vec<Case> {
    let one = "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\n";
    vec![
        vm_case!(
            "`vm --mem 128M`",
            ["--mem", "128M"],
            "--mem 128M: must be from 256.0 MiB to 1.0 TiB"
        ),
        vm_case!(
            "`vm --mem 2T`",
            ["--mem", "2T"],
            "--mem 2T: must be from 256.0 MiB"
        ),
        vm_case!(
            "`vm --mem` above the host's RAM (1T)",
            ["--mem", "1T"],
            "--mem 1.0 TiB is more than this host's RAM",
            "this host has"
        ),
        vm_case!(
            "`vm --swap 2T`",
            ["--swap", "2T"],
            "--swap 2T: must be from 0 B to 1.0 TiB"
        ),
        vm_case!(
            "`vm --timeout 0`",
            ["--timeout", "0"],
            "--timeout 0: must be in 1s..=24h"
        ),
        vm_case!(
            "`vm --timeout 25h`",
            ["--timeout", "25h"],
            "--timeout 25h: must be in 1s..=24h"
        ),
        Case {
            area: "cli",
            what: "`probe --interval 0` (a busy loop of tables)",
            args: &["probe", "--interval", "0"],
            files: &[],
            expect: &["--interval 0: must be in 100ms..=1h"],
        },
        Case {
            area: "cli",
            what: "`probe --duration 25h`",
            args: &["probe", "--duration", "25h"],
            files: &[],
            expect: &["--duration 25h: must be in 0..=24h"],
        },
        matrix_case(
            "65 kernels",
            format!(
                "kernels = [{}]\nscenarios = [\"quick\"]\n",
                list(65, |i| format!("\"k{i}\""))
            ),
            &["kernels has 65 entries, above the maximum 64"],
        ),
        matrix_case(
            "a `cpus` list of 65 values",
            format!("{one}cpus = [{}]\n", list(65, |i| (i % 8 + 1).to_string())),
            &["cpus has 65 entries, above the maximum 64"],
        ),
        matrix_case(
            "257 `[[sweep]]` sections",
            format!(
                "{one}{}",
                "[[sweep]]\nscenarios = [\"quick\"]\n".repeat(257)
            ),
            &["[[sweep]] has 257 entries, above the maximum 256"],
        ),
        matrix_case(
            "256 scenarios at 17 vCPU counts (4,352 blocks)",
            format!(
                "kernels = [\"baseline\"]\nscenarios = [{}]\ncpus = [{}]\n",
                list(256, |i| format!("\"s{i}\"")),
                list(17, |i| (i + 1).to_string())
            ),
            &["more than 4096 blocks", "fix: split the matrix"],
        ),
        matrix_case(
            "a sweep's `repeats = 0`",
            format!("{one}[[sweep]]\nscenarios = [\"quick\"]\nrepeats = 0\n"),
            &["sweep 1: repeats = 0 is outside 1..=1000"],
        ),
        matrix_case(
            "a sweep's `cpus = [0]`",
            format!("{one}[[sweep]]\nscenarios = [\"quick\"]\ncpus = [0]\n"),
            &["cpus = 0: use 1 to 255 vCPUs"],
        ),
        manifest_case(
            "`fuzz = 4294967295`",
            "fuzz = 4294967295\n",
            "",
            &[
                "patches[0] fuzz = 4294967295 is above the maximum 3",
                "fix: use 0 to 3",
            ],
        ),
        manifest_case(
            "a kernel command line of 2,000 bytes",
            "",
            &format!("[boot]\ncmdline = \"{}\"\n", "x".repeat(2000)),
            &["[boot] cmdline is 2000 bytes, above the maximum 1024"],
        ),
        manifest_case(
            "a newline in the kernel command line",
            "",
            "[boot]\ncmdline = \"quiet\\ninit=/bin/sh\"\n",
            &["[boot] cmdline holds '\\n'", "printable ASCII"],
        ),
        manifest_case(
            "101 fix-ups",
            "",
            &"[[fixups]]\nfile = \"p.patch\"\nafter = \"p.patch\"\n".repeat(101),
            &["[[fixups]] has 101 entries, above the maximum 100"],
        ),
        manifest_with_fragment(
            "`/dev/zero` as a config fragment",
            "",
            "/dev/zero",
            "",
            &["[config] fragment /dev/zero", "a character device"],
        ),
        Case {
            area: "environment",
            what: "`ZSWAP_BENCH_CACHE` naming a file",
            args: &["env:ZSWAP_BENCH_CACHE={d}/f", "kernel", "list"],
            files: &[("f", "not a folder")],
            expect: &[
                "the kernel cache <dir>/f is not a folder",
                "point ZSWAP_BENCH_CACHE at a folder",
            ],
        },
        Case {
            area: "environment",
            what: "`ZSWAP_BENCH_MBOX_DIR` naming a file",
            args: &[
                "env:ZSWAP_BENCH_MBOX_DIR={d}/f",
                "kernel",
                "build",
                "posted-v5",
            ],
            files: &[("f", "not a folder")],
            expect: &[
                "mbox folder <dir>/f cannot be listed",
                "point ZSWAP_BENCH_MBOX_DIR",
            ],
        },
        Case {
            area: "environment",
            what: "`ZSWAP_BENCH_STATE` naming a file",
            args: &["env:ZSWAP_BENCH_STATE={d}/f", "cleanup"],
            files: &[("f", "not a folder")],
            expect: &[
                "the state folder <dir>/f is a file",
                "point ZSWAP_BENCH_STATE at a folder",
            ],
        },
    ]
}

/// Output folders that are files: named as files, with a fix that fits (not "make it writable").
pub fn out_cases() -> Vec<Case> {
    vec![
        Case {
            area: "cli",
            what: "`run --out` naming a file",
            args: &["run", "quick", "--kernel", "{d}/bzImage", "--out", "{d}/f"],
            files: &[
                ("bzImage", "never booted"),
                ("config", "CONFIG_NR_CPUS=8\n"),
                ("f", "a file"),
            ],
            expect: &[
                "<dir>/f is a regular file, not a folder",
                "choose another output folder",
            ],
        },
        Case {
            area: "analysis",
            what: "`plot --out` below a file",
            args: &[
                "plot",
                "results/reference/versions-shrinker",
                "--out",
                "{d}/f/plots",
            ],
            files: &[("f", "a file")],
            expect: &["--out <dir>/f/plots: <dir>/f is a regular file, not a folder"],
        },
    ]
}

/// Scenario `[probes]` and `[zswap]` names that no kernel can have, refused with the file.
pub fn name_cases() -> Vec<Case> {
    const BASE: &str = "[phases]\nmeasure = \"10s\"\n[swap]\nsize = \"256M\"\n[[memcg]]\nname = \"p\"\n[[worker]]\nmemcg = \"p\"\nsize = \"16M\"\n";
    let case = |what: &'static str, tail: String, expect: &'static [&'static str]| Case {
        area: "scenario",
        what,
        args: &["run", "{d}/s.toml", "--kernel", "{d}/bzImage"],
        files: Box::leak(Box::new([
            ("s.toml", &*format!("{BASE}{tail}").leak()),
            ("bzImage", "never booted"),
        ])),
        expect,
    };
    vec![
        case(
            "an empty `watch_locks` name",
            "[probes]\nwatch_locks = [\"\"]\n".into(),
            &["probes.watch_locks[0]: watch_locks[0] = \"\" is not a kernel symbol name"],
        ),
        case(
            "a `watch_locks` name with a slash",
            "[probes]\nwatch_locks = [\"zswap/lock\"]\n".into(),
            &[
                "\"zswap/lock\" is not a kernel symbol name",
                "letters, digits and '_'",
            ],
        ),
        case(
            "65 `watch_locks` names",
            format!(
                "[probes]\nwatch_locks = [{}]\n",
                (0..65)
                    .map(|i| format!("\"l{i}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &["65 is above the maximum 64 (probes.watch_locks (names))"],
        ),
        case(
            "a compressor name with a slash",
            "[zswap]\ncompressor = \"../lz4\"\n".into(),
            &["invalid compressor \"../lz4\""],
        ),
    ]
}

/// One kernel's runs of one scenario at three vCPU counts: refused, not pooled into n = 9.
pub fn guest_cases() -> Vec<Case> {
    vec![Case {
        area: "analysis",
        what: "`compare` over one kernel's runs at 2, 4 and 8 vCPUs (was pooled as 9 repeats)",
        args: &["compare", "results/archive/scaling-first-series"],
        files: &[],
        expect: &[
            "kernel \"ref-cmpxchg\" ran scenario scaling-t8 on 3 different guests",
            "guest-2: 3 run(s): 4 vCPUs",
            "--split-by guest",
        ],
    }]
}
