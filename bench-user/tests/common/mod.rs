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

pub fn vm_tests() -> bool {
    let on = std::env::var("ZSWAP_BENCH_VM_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set ZSWAP_BENCH_VM_TESTS=1 (scripts/test does) to boot guest kernels");
    }
    on
}

pub fn full_tier() -> bool {
    std::env::var("ZSWAP_BENCH_TEST_TIER").is_ok_and(|v| v == "full")
}

/// Is this kernel's manifest present (reference series kernels arrive with their patches)?
pub fn have_kernel(name: &str) -> bool {
    repo()
        .join("kernels")
        .join(format!("{name}.toml"))
        .is_file()
}

pub fn run(args: &[&str]) -> Output {
    let out = Command::new(zb())
        .args(args)
        .current_dir(repo())
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
