//! `zswap-bench run` refuses bad input before it changes anything on the machine: no state file
//! is written, no cgroup is created. These run without a VM (and without root's privileges
//! being needed, since nothing gets far enough to use them).
use std::path::Path;
use std::process::Command;

fn zswap_bench(state: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zswap-bench"))
        .args(args)
        .env("ZSWAP_BENCH_STATE", state)
        .env(
            "ZSWAP_BENCH_ROOT",
            concat!(env!("CARGO_MANIFEST_DIR"), "/.."),
        )
        .output()
        .expect("running zswap-bench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const GOOD: &str = r#"[phases]
measure = "10s"
[[memcg]]
name = "parent"
memory_max = "64M"
[[worker]]
memcg = "parent"
size = "32M"
"#;

#[test]
fn malformed_scenarios_are_rejected_with_line_and_fix_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cases: &[(&str, String, &[&str])] = &[
        (
            "typo.toml",
            GOOD.replace("size = \"32M\"", "sise = \"32M\""),
            &["typo.toml:8:1", "unknown field `sise`"],
        ),
        (
            "neg.toml",
            GOOD.replace("\"32M\"", "\"-32M\""),
            &["neg.toml:8:8", "negative size"],
        ),
        (
            "budget.toml",
            format!(
                "{GOOD}[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"128M\"\n"
            ),
            &[
                "budget.toml:12:10",
                "proactive[0].budget",
                "larger than memory.max 64.0 MiB",
                "fix:",
            ],
        ),
        (
            "target.toml",
            format!(
                "{GOOD}[[proactive]]\nmemcg = \"prent\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"\n"
            ),
            &[
                "target.toml:10:9",
                "unknown target memcg \"prent\"",
                "name a declared [[memcg]]: parent",
            ],
        ),
        (
            "interval.toml",
            GOOD.replace("measure = \"10s\"", "measure = 10"),
            &["interval.toml:2:11", "\"10s\""],
        ),
    ];
    for (name, text, wants) in cases {
        let p = write(tmp.path(), name, text);
        let (code, out) = zswap_bench(&state, &["run", &p, "--host"]);
        assert_ne!(code, 0, "{name}: {out}");
        for w in *wants {
            assert!(out.contains(w), "{name}: expected {w:?} in:\n{out}");
        }
        assert!(out.contains("nothing was changed"), "{name}: {out}");
        assert!(
            !state.exists(),
            "{name}: a state file directory was created before validation"
        );
    }
}

#[test]
fn memory_that_does_not_fit_is_refused_with_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 GiB of workers over a 64M limit with 1G of swap fits nowhere.
    let p = write(
        tmp.path(),
        "huge.toml",
        &GOOD
            .replace("size = \"32M\"", "size = \"64G\"")
            .replace("memory_max = \"64M\"", "memory_max = \"max\""),
    );
    let (code, out) = zswap_bench(&tmp.path().join("state"), &["run", &p, "--host"]);
    assert_ne!(code, 0);
    // Either the host refuses first (not root / no cgroup v2: says so and what to do) or the
    // fit check does, with numbers.
    let refused_host = out.contains("cgroup v2") || out.contains("needs root");
    let refused_fit = out.contains("memory would not fit") && out.contains("64.0 GiB");
    assert!(refused_host || refused_fit, "{out}");
    if refused_host {
        assert!(out.contains("--kernel"), "names the alternative: {out}");
    }
}

#[test]
fn run_needs_a_place_and_unknown_scenarios_list_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = zswap_bench(&tmp.path().join("s"), &["run", "quick"]);
    assert_ne!(code, 0);
    assert!(
        out.contains("--kernel <name>") && out.contains("--host"),
        "{out}"
    );
    let (code, out) = zswap_bench(
        &tmp.path().join("s"),
        &["run", "no-such-scenario", "--host"],
    );
    assert_ne!(code, 0);
    assert!(
        out.contains("known scenarios") && out.contains("fairness-small-budget"),
        "{out}"
    );
}

#[test]
fn cleanup_with_nothing_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = zswap_bench(&tmp.path().join("state"), &["cleanup"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to clean up"), "{out}");
}
