//! Helpers for tests that boot the guest kernel. Those tests are #[ignore]d, so plain `cargo
//! test` lists them as ignored; scripts/test runs them with --include-ignored and
//! ZSWAP_BENCH_VM_TESTS=1
//! (scripts/test sets it after building the kernels); otherwise they say they were skipped.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn zb() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zswap-bench"))
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// VM tests are `#[ignore]`d, so they run only when asked for (`--include-ignored`). Asked for
/// without the switch they fail, saying why, instead of passing without having run.
pub fn require_vm() {
    assert!(
        std::env::var("ZSWAP_BENCH_VM_TESTS").is_ok_and(|v| v == "1"),
        "this test boots guest kernels: run it through scripts/test, or set ZSWAP_BENCH_VM_TESTS=1 \
         with the kernels built (`zswap-bench kernel build ...`)"
    );
}

/// Slow-tier tests are named `full_tier_*`: scripts/test skips them by that prefix in the CI
/// tier (reported as filtered out, not passed). Run by hand without the tier, they fail.
pub fn require_full_tier() {
    require_vm();
    assert!(
        std::env::var("ZSWAP_BENCH_TEST_TIER").is_ok_and(|v| v == "full"),
        "slow-tier test: run `ZSWAP_BENCH_TEST_TIER=full scripts/test` (it builds the debug kernels)"
    );
}

/// Is this kernel's manifest present (reference series kernels arrive with their patches)?
pub fn have_kernel(name: &str) -> bool {
    repo()
        .join("kernels")
        .join(format!("{name}.toml"))
        .is_file()
}

pub fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

/// [`run`] with variables set in the command's environment.
pub fn run_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let out = Command::new(zb())
        .args(args)
        .current_dir(repo())
        .envs(env.iter().copied())
        .output()
        .expect("run zswap-bench");
    eprintln!(
        "$ zswap-bench {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Boot `kernel` and run `cmd` inside; returns (exit code, stdout, stderr).
pub fn vm(kernel: &str, timeout: &str, cmd: &[&str]) -> (i32, String, String) {
    let mut args = vec!["vm", "--kernel", kernel, "--timeout", timeout, "--"];
    args.extend_from_slice(cmd);
    let out = run(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

pub fn zb_str() -> String {
    zb().display().to_string()
}

/// Like [`vm`], with extra `zswap-bench vm` options (e.g. `--cpus 4`, `--spinlocks virt`).
pub fn vm_with(kernel: &str, timeout: &str, opts: &[&str], cmd: &[&str]) -> (i32, String, String) {
    let mut args = vec!["vm", "--kernel", kernel, "--timeout", timeout];
    args.extend_from_slice(opts);
    args.push("--");
    args.extend_from_slice(cmd);
    let out = run(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The value after `tag` on the first output line that starts with it.
pub fn field<'a>(out: &'a str, tag: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(tag))
        .unwrap_or_else(|| panic!("no {tag} in guest output"))
        .trim()
}

/// Runs `scenarios/<scenario>.toml` on `kernel` in a VM and reads its result file.
pub fn run_scenario(scenario: &str, kernel: &str) -> bench_results::schema::ResultFile {
    assert!(have_kernel(kernel), "kernels/{kernel}.toml is missing");
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        &format!("scenarios/{scenario}.toml"),
        "--kernel",
        kernel,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{kernel}: {scenario} run failed");
    bench_results::schema::ResultFile::read(out.path()).expect("result.json")
}

/// Processes whose parent is `ppid` and whose command name starts with `comm`, with their state
/// letter (`/proc/<pid>/stat`).
pub fn children_named(ppid: u32, comm: &str) -> Vec<(u32, char)> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let parent: u32 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if parent == ppid && name.starts_with(comm) {
            v.push((pid, state));
        }
    }
    v
}

/// A process that is gone or only a zombie waiting for its new parent to reap it.
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rfind(')')
            .is_some_and(|c| s[c + 1..].trim_start().starts_with('Z')),
    }
}
