//! `[[pressure]]`: a declared target memcg, the size every kind needs, and the keys that only
//! one kind uses (`rate` and `threads` for reclaim, `period` for high-squeeze) set only there.
//! Becomes one `Pressure` per section, with its targets resolved and its kind's values.
use std::time::Duration;

use bench_results::human::fmt_bytes;

use super::Declared;
use crate::scenario::errors::{
    Problems,
    Seg::{Idx, Key},
};
use crate::scenario::plan::{Pressure, PressureAction};
use crate::scenario::spec::{PressureKind, PressureSpec};
use crate::scenario::values::PAGE;

pub(super) fn expand(specs: &[PressureSpec], d: &Declared, p: &mut Problems) -> Vec<Pressure> {
    let mut out = Vec::new();
    for (i, pr) in specs.iter().enumerate() {
        let targets = d.resolve(&pr.memcg);
        check_target_and_size(i, pr, &targets, d, p);
        check_kind_keys(i, pr, p);
        out.push(plan(pr, targets));
    }
    out
}

/// The section's action with its defaults: reclaim back to back unless a `rate` is given. A
/// missing `size` (every kind) or `period` (high-squeeze) is a problem above, and the plan is
/// then discarded, so the placeholders here never run.
fn plan(pr: &PressureSpec, targets: Vec<String>) -> Pressure {
    let size = pr.size.map_or(0, |s| s.0);
    let (threads, action) = match pr.kind {
        PressureKind::Reclaim => (
            pr.threads,
            PressureAction::Reclaim {
                size,
                rate: pr.rate.unwrap_or(0.0),
            },
        ),
        PressureKind::HighSqueeze => (
            1,
            PressureAction::HighSqueeze {
                size,
                period: pr.period.map_or(Duration::from_secs(2), |d| d.0),
            },
        ),
        PressureKind::Limit => (0, PressureAction::Limit { size }),
        PressureKind::Push => (0, PressureAction::Push { size }),
    };
    Pressure {
        targets,
        threads,
        action,
    }
}

fn check_target_and_size(
    i: usize,
    pr: &PressureSpec,
    targets: &[String],
    d: &Declared,
    p: &mut Problems,
) {
    let at = |k: &'static str| [Key("pressure"), Idx(i), Key(k)];
    if targets.is_empty() {
        p.push(
            &at("memcg"),
            format!("unknown memcg {:?}", pr.memcg),
            format!("name a declared [[memcg]]: {}", d.known()),
        );
    }
    if pr.threads == 0 {
        p.push(&at("threads"), "threads is 0", "use 1 or more");
    }
    match pr.size {
        None => p.push(
            &[Key("pressure"), Idx(i)],
            format!("kind \"{}\" needs size", pr.kind.as_str()),
            match pr.kind {
                PressureKind::Reclaim => "add size = \"8M\" (bytes per memory.reclaim write)",
                PressureKind::HighSqueeze => "add size = \"64M\" (memory.high at the squeeze)",
                PressureKind::Limit => "add size = \"128M\" (memory.max after set-up)",
                PressureKind::Push => "add size = \"64M\" (bytes pushed to zswap after set-up)",
            },
        ),
        Some(sz) if sz.0 == 0 => p.push(
            &at("size"),
            "size is zero",
            "use a positive size such as \"8M\"",
        ),
        Some(sz)
            if matches!(pr.kind, PressureKind::HighSqueeze | PressureKind::Limit)
                && sz.0 < 16 * PAGE =>
        {
            p.push(
                &at("size"),
                format!("size {} is too small for a limit", fmt_bytes(sz.0)),
                "use at least a few MB",
            )
        }
        _ => {}
    }
}

/// `rate`, `period` and `threads` belong to one kind each.
fn check_kind_keys(i: usize, pr: &PressureSpec, p: &mut Problems) {
    let at = |k: &'static str| [Key("pressure"), Idx(i), Key(k)];
    if let Some(r) = pr.rate {
        // The runner sleeps 1/rate between writes: a rate too close to 0 would be an endless
        // (unrepresentable) sleep.
        if !(r == 0.0 || (0.001..=1e6).contains(&r)) {
            p.push(
                &at("rate"),
                format!("rate {r} is outside 0.001 to 1000000 writes/s (or 0)"),
                "use writes per second per thread, or 0 for back-to-back",
            );
        }
        if pr.kind != PressureKind::Reclaim {
            p.push(
                &at("rate"),
                "rate is only used by kind \"reclaim\"",
                "remove rate",
            );
        }
    }
    if pr.kind == PressureKind::HighSqueeze {
        match pr.period {
            None => p.push(
                &[Key("pressure"), Idx(i)],
                "kind \"high-squeeze\" needs period",
                "add period = \"2s\"",
            ),
            Some(d) if d.0 < Duration::from_millis(10) => p.push(
                &at("period"),
                "period is below 10ms",
                "use e.g. period = \"2s\"",
            ),
            _ => {}
        }
    } else if pr.period.is_some() {
        p.push(
            &at("period"),
            "period is only used by kind \"high-squeeze\"",
            "remove period",
        );
    }
    if pr.kind != PressureKind::Reclaim && pr.threads != 1 {
        p.push(
            &at("threads"),
            "threads is only used by kind \"reclaim\"",
            "remove threads",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::fixture::{BASE, one_err};

    #[test]
    fn pressure_needs_its_fields() {
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\n"
        ));
        assert!(e.message.contains("needs size"), "{e}");
        assert_eq!(e.line, Some(16));
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"high-squeeze\"\nmemcg = \"parent\"\nsize = \"64M\"\n"
        ));
        assert!(e.message.contains("needs period"), "{e}");
        let e = one_err(&format!(
            "{BASE}[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\nsize = \"1M\"\nrate = -2.0\n"
        ));
        assert_eq!(e.field, "pressure[0].rate");
    }
}
