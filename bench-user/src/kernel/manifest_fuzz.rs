//! Fuzzing the kernel-manifest parser for a wall-clock budget (issue 13): arbitrary text, and
//! arbitrary edits of the shipped manifests (kernels/*.toml: byte edits with TOML tokens, and
//! whole lines dropped or repeated), go through `parse` and, when that succeeds, `resolve`
//! (which reads the patches and config fragments the manifest names) and the cache keys.
//! Nothing may panic. Budget: `ZSWAP_BENCH_FUZZ_SECS` per test (default 5 s, scripts/test
//! sets 60); each test prints how many cases it ran. A crasher found here becomes a named test
//! in manifest.rs with its input inline.
use std::path::{Path, PathBuf};

use bench_results::testing::{apply_edits, fuzz_for_budget as fuzz, text_edits, toml_tokens};

use super::manifest::{available, parse};

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels")
}

/// `(path, text)` of every shipped manifest.
fn shipped() -> Vec<(PathBuf, String)> {
    let dir = kernels_dir();
    let v: Vec<_> = available(&dir)
        .into_iter()
        .map(|n| {
            let p = super::manifest::locate(&dir, &n).unwrap();
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

/// Manifest keys and values, beside the TOML syntax every fuzzer inserts.
const KEYS: &[&str] = &[
    "patches",
    "dir",
    "mbox",
    "mails",
    "cover",
    "message_id",
    "id",
    "subject",
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

#[test]
fn fuzz_manifest_with_edits_of_the_shipped_ones() {
    let manifests = shipped();
    let tokens = toml_tokens(KEYS);
    fuzz(
        "edits of the shipped manifests",
        (0..manifests.len(), text_edits(tokens.len())),
        |(i, edits)| {
            let (path, text) = &manifests[i];
            check(&apply_edits(text, &edits, &tokens), path)
        },
    );
}
