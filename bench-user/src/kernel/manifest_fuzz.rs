//! Fuzzing the kernel-manifest parser for a wall-clock budget (issue 13): arbitrary text, and
//! arbitrary edits of the shipped manifests (kernels/*.toml: byte edits with TOML tokens, and
//! whole lines dropped or repeated), go through `parse` and, when that succeeds, `resolve`
//! (which reads the patches and config fragments the manifest names) and the cache keys.
//! Nothing may panic. Budget: `ZSWAP_BENCH_FUZZ_SECS` per test (default 5 s, scripts/test
//! sets 60); each test prints how many cases it ran. A crasher found here becomes a named test
//! in manifest.rs with its input inline.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::manifest::{available, parse};

/// Runs `check` on values of `strategy` until the budget is spent; a panic fails the test with
/// proptest's shrunk input in the message.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value)) {
    let secs: u64 = std::env::var("ZSWAP_BENCH_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let cases = std::cell::Cell::new(0u64);
    while Instant::now() < deadline {
        // A runner per batch: one runner stops after `cases` in total. Each gets a fresh seed
        // (every test run explores anew); no persistence file, a crasher is kept as a named
        // test instead.
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |v| {
            check(v);
            cases.set(cases.get() + 1);
            Ok(())
        });
        if let Err(e) = result {
            panic!(
                "{name}: fuzzing found a crasher after {} cases: {e}",
                cases.get()
            );
        }
    }
    let cases = cases.get();
    eprintln!("{name}: {cases} cases in {secs} s, no panic");
}

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels")
}

/// `(path, text)` of every shipped manifest.
fn shipped() -> Vec<(PathBuf, String)> {
    let dir = kernels_dir();
    let v: Vec<_> = available(&dir)
        .into_iter()
        .map(|n| {
            let p = dir.join(format!("{n}.toml"));
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    assert!(v.len() > 1, "no manifests in {}", dir.display());
    v
}

/// Parse as the manifest at `path`; whatever parses is resolved and keyed too.
fn check(text: &str, path: &Path) {
    if let Ok(m) = parse(text, path)
        && let Ok(r) = m.resolve(path)
    {
        r.cache_key("fuzz");
        r.config_key();
    }
}

#[test]
fn fuzz_manifest_with_arbitrary_text() {
    let path = kernels_dir().join("fuzz.toml");
    fuzz("arbitrary manifest text", ".{0,400}", |t: String| {
        check(&t, &path)
    });
}

const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    ",",
    "\n",
    "#",
    "{",
    "}",
    "-1",
    "0",
    "4294967296",
    "1e308",
    "true",
    "\"\"",
    "\"..\"",
    "\"/\"",
    "patches",
    "dir",
    "mbox",
    "file",
    "fuzz",
    "fixups",
    "after",
    "before",
    "source",
    "debian",
    "tarball",
    "git",
    "config",
    "fragments",
    "options",
    "boot",
    "cmdline",
    "probes",
    "name",
    "\"# CONFIG_X is not set\"",
    "\\u0000",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, usize),
    DropLine(f64),
    RepeatLine(f64),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
    for e in edits {
        match *e {
            Edit::Delete(p, n) => {
                let i = at(p, b.len());
                b.drain(i..(i + n).min(b.len()));
            }
            Edit::Insert(p, t) => {
                let i = at(p, b.len());
                b.splice(i..i, TOKENS[t].bytes());
            }
            Edit::DropLine(p) | Edit::RepeatLine(p) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let i = at(p, lines.len() - 1);
                if matches!(e, Edit::DropLine(_)) {
                    lines.remove(i);
                } else {
                    lines.insert(i, lines[i]);
                }
                b = (lines.join("\n") + "\n").into_bytes();
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn fuzz_manifest_with_edits_of_the_shipped_ones() {
    let manifests = shipped();
    let edit = prop_oneof![
        (0.0..1.0f64, 1..32usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..1.0f64, 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (0.0..1.0f64).prop_map(Edit::DropLine),
        (0.0..1.0f64).prop_map(Edit::RepeatLine),
    ];
    fuzz(
        "edits of the shipped manifests",
        (0..manifests.len(), proptest::collection::vec(edit, 1..6)),
        |(i, edits)| {
            let (path, text) = &manifests[i];
            check(&apply(text, &edits), path)
        },
    );
}
