//! Fuzzing the scenario parser for a wall-clock budget (issue 13): arbitrary text, and edits of
//! the shipped scenarios (scenarios/*.toml), go through `parse` (TOML, the model, every
//! section's validation, the plan) and, when that succeeds, the memory-fit check on a small and
//! a large machine. Nothing may panic; rejecting is fine. The budget and the case count are
//! those of `bench_results::testing::fuzz_for_budget`.
use std::path::{Path, PathBuf};

use bench_results::testing::{apply_edits, fuzz_for_budget as fuzz, text_edits, toml_tokens};

use super::{MachineMemory, check_fit, parse};

fn shipped() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    v.sort();
    assert!(v.len() > 3, "no scenarios in {}", dir.display());
    v
}

fn check(text: &str) {
    if let Ok(plan) = parse(text, "fuzz.toml", "fuzz") {
        for gib in [1u64, 64] {
            let m = MachineMemory {
                mem_total: gib << 30,
                mem_available: gib << 29,
                swap_free: 0,
            };
            let _ = check_fit(&plan, &m);
        }
    }
}

#[test]
fn fuzz_scenario_with_arbitrary_text() {
    fuzz("arbitrary scenario text", ".{0,400}", |t: String| check(&t));
}

/// Scenario keys and values at the edges of what sections accept, beside the TOML syntax every
/// fuzzer inserts.
const KEYS: &[&str] = &[
    "0.0",
    "1.5",
    "nan",
    "inf",
    "\"0\"",
    "\"1\"",
    "\"-1M\"",
    "\"16E\"",
    "\"0s\"",
    "\"1ns\"",
    "\"max\"",
    "memcg",
    "worker",
    "pressure",
    "proactive",
    "phases",
    "swap",
    "zswap",
    "churn",
    "probes",
    "name",
    "count",
    "size",
    "threads",
    "compressibility",
    "pattern",
    "\"periodic\"",
    "\"hot-cold\"",
    "kind",
    "\"limit\"",
    "\"push\"",
    "budget",
    "interval",
    "mode",
    "memory_max",
    "memory_high",
    "zswap_max",
    "\"parent/child\"",
    "\"a/b/c/d\"",
];

#[test]
fn fuzz_scenario_with_edits_of_the_shipped_ones() {
    let scenarios = shipped();
    let tokens = toml_tokens(KEYS);
    fuzz(
        "edits of the shipped scenarios",
        (0..scenarios.len(), text_edits(tokens.len())),
        |(i, edits)| check(&apply_edits(&scenarios[i].1, &edits, &tokens)),
    );
}
