//! `[burst]`: a leaf memcg for the burst process, a size, an idle window shorter than the
//! measured phase, an action the runner knows, and a declared target for it.
use std::time::Duration;

use bench_results::human::fmt_bytes;

use super::Declared;
use crate::scenario::errors::{Problems, Seg::Key};
use crate::scenario::plan::{Burst, IdleAction};
use crate::scenario::spec::BurstSpec;

pub(super) fn plan(b: &BurstSpec, d: &Declared, measure: Duration, p: &mut Problems) -> Burst {
    let at = |k: &'static str| [Key("burst"), Key(k)];
    for (key, name) in [("memcg", &b.memcg), ("target", &b.target)] {
        match d.node(name) {
            None => p.push(
                &at(key),
                format!("unknown memcg {name:?}"),
                format!(
                    "name one declared [[memcg]] (a template with count > 1 is not one memcg): {}",
                    d.known()
                ),
            ),
            Some(n) if key == "memcg" && n.has_children => p.push(
                &at(key),
                format!("memcg {name:?} has child memcgs; the burst process needs a leaf"),
                "put the burst in a leaf memcg",
            ),
            Some(_) => {}
        }
    }
    if b.size.0 == 0 {
        p.push(
            &at("size"),
            "size is zero",
            "give the burst memory to fill, e.g. size = \"64M\"",
        );
    }
    if b.amount.0 == 0 {
        p.push(
            &at("amount"),
            "amount is zero",
            "give the idle window's reclaim or writeback an amount, e.g. amount = \"32M\"",
        );
    }
    if b.idle.0.is_zero() || b.idle.0 >= measure {
        p.push(
            &at("idle"),
            format!("idle window {:?} must be above zero and shorter than the measured phase ({measure:?})", b.idle.0),
            "leave the burst time inside the measured phase, e.g. idle = \"10s\" with measure = \"25s\"",
        );
    }
    let action = IdleAction::parse(&b.action).unwrap_or_else(|| {
        p.push(
            &at("action"),
            format!("unknown action {:?}", b.action),
            "use \"nothing\", \"reclaim\" or \"proactive\"",
        );
        IdleAction::Nothing
    });
    log::debug!(
        "burst {} into {} after {:?}",
        fmt_bytes(b.size.0),
        b.memcg,
        b.idle.0
    );
    Burst {
        memcg: b.memcg.clone(),
        size: b.size.0,
        idle: b.idle.0,
        action,
        target: b.target.clone(),
        amount: b.amount.0,
    }
}
