//! Fuzzing the matrix-file reader for a wall-clock budget (`ZSWAP_BENCH_FUZZ_SECS`, as every
//! fuzzer): arbitrary edits of the shipped matrix files (byte edits with TOML tokens, the
//! boundary values among them, and lines dropped or repeated) go through `read`, which bounds
//! every list and multiplies out the blocks. Nothing may panic, and each read ends within a
//! second (a file of 1 MiB at most is linear to read).
use std::path::{Path, PathBuf};

use bench_results::testing::{apply_edits, fuzz_for_budget as fuzz, text_edits, toml_tokens};

fn shipped() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/matrix");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(v.len() > 2, "no matrix files in {}", dir.display());
    v.iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

const KEYS: &[&str] = &[
    "kernels",
    "scenarios",
    "repeats",
    "baseline",
    "cpus",
    "spinlocks",
    "accel",
    "numa",
    "[[sweep]]",
    "walk_steps",
    "idle_actions",
    "\"proactive\"",
    "\"host\"",
    "[1, 2, 255, 256]",
];

#[test]
fn fuzz_matrix_files_with_edits_of_the_shipped_ones() {
    let files = shipped();
    let tokens = toml_tokens(KEYS);
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.toml");
    fuzz(
        "edits of the shipped matrix files",
        (0..files.len(), text_edits(tokens.len())),
        |(i, edits)| {
            std::fs::write(&path, apply_edits(&files[i], &edits, &tokens)).unwrap();
            let t = std::time::Instant::now();
            let _ = super::file::read(&path);
            assert!(t.elapsed().as_secs() < 1, "{:?}", t.elapsed());
        },
    );
}
