//! Tests of whole files: the parse step's own errors, and the scenarios shipped in
//! `scenarios/` (they parse, fit a 2 GiB guest, and keep the properties their names promise).
use std::path::Path;
use std::time::Duration;

use super::fixture::{BASE, one_err};
use super::plan::parent_of;
use super::spec::ProactiveMode;
use super::{MachineMemory, check_fit, load};

#[test]
fn unknown_key_has_line_and_names_allowed_keys() {
    let text = BASE.replace("size = \"32M\"", "size = \"32M\"\nsizee = 3");
    let e = one_err(&text);
    assert_eq!(e.line, Some(16), "{e}");
    assert!(e.message.contains("unknown field `sizee`"), "{e}");
    assert!(
        e.message.contains("compressibility"),
        "lists allowed keys: {e}"
    );
    assert!(e.to_string().starts_with("t.toml:16:"), "{e}");
}

#[test]
fn shipped_scenarios_parse_and_fit_a_2g_guest() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let guest = MachineMemory {
        mem_total: 2 << 30,
        mem_available: 1900 << 20,
        swap_free: 0,
    };
    let mut seen = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let l = load(&p).unwrap_or_else(|e| panic!("{e}"));
            check_fit(&l, &guest).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            seen.push(l.name.clone());
        }
    }
    seen.sort();
    for want in [
        "churn",
        "concurrent-cgroups",
        "contention",
        "fairness-small-budget",
        "global-shrinker",
        "quick",
        "sequential-same-cgroup",
    ] {
        assert!(
            seen.iter().any(|s| s == want),
            "scenarios/{want}.toml missing: {seen:?}"
        );
    }
}

#[test]
fn quick_is_short_enough_for_tcg() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quick.toml");
    let l = load(&dir).unwrap();
    let ph = &l.phases;
    assert!(ph.warmup + ph.measure <= Duration::from_secs(60), "{ph:?}");
}

#[test]
fn fairness_has_8_children_and_a_budget_below_one_batch_per_child() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fairness-small-budget.toml");
    let l = load(&p).unwrap();
    let parent = &l.proactive_threads[0].target;
    let kids = l
        .memcgs
        .iter()
        .filter(|m| parent_of(&m.path) == Some(parent.as_str()))
        .count();
    assert_eq!(kids, 8);
    // The thread's concern needs budget < batch x children (a batch is 64 entries, ~128 KiB
    // at this compressibility), else every call reaches every child anyway.
    assert!(l.proactive_threads[0].budget < 8 * (128 << 10));
    assert_eq!(
        l.proactive_threads[0].mode,
        ProactiveMode::RepeatedSmallBudget
    );
}
