//! `[churn]`: one declared parent of its own (no workers in it), a cycle rate the runner can
//! keep, and churned memcgs that are empty or hold at least a page.
use super::Declared;
use crate::scenario::errors::{Problems, Seg::Key};
use crate::scenario::plan::{Churn, Worker};
use crate::scenario::spec::ChurnSpec;
use crate::scenario::values::PAGE;

/// The section's values for the plan (the other sections' checks need its demand before
/// `check` runs in file order).
pub(super) fn plan(c: &ChurnSpec) -> Churn {
    Churn {
        parent: c.parent.clone(),
        rate: c.rate,
        live: c.live,
        size: c.size.0,
    }
}

pub(super) fn check(c: &ChurnSpec, d: &Declared, workers: &[Worker], p: &mut Problems) {
    let at = |k: &'static str| [Key("churn"), Key(k)];
    let targets = d.resolve(&c.parent);
    if targets.len() != 1 {
        p.push(
            &at("parent"),
            format!("unknown churn parent {:?}", c.parent),
            format!("name one declared [[memcg]]: {}", d.known()),
        );
    } else if workers.iter().any(|w| w.memcg == targets[0]) {
        p.push(
            &at("parent"),
            format!(
                "churn parent {:?} also holds workers; cgroup v2 allows processes only in leaves",
                c.parent
            ),
            "give churn its own [[memcg]]",
        );
    }
    if !(0.001..=1000.0).contains(&c.rate) {
        p.push(
            &at("rate"),
            format!("rate {} is outside 0.001 to 1000 cycles/s", c.rate),
            "use e.g. rate = 10",
        );
    }
    if c.live == 0 {
        p.push(&at("live"), "live is 0", "use 1 or more");
    }
    if c.size.0 > 0 && c.size.0 < PAGE {
        p.push(
            &at("size"),
            "size is below one page",
            "use 0 (empty memcgs) or at least \"4K\"",
        );
    }
}
