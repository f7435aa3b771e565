//! `[zswap]`: module parameters in range, a plausible compressor name, and zswap left enabled
//! when the scenario exercises it.
use crate::scenario::errors::{Problems, Seg::Key};
use crate::scenario::plan::Zswap;
use crate::scenario::spec::Scenario;

pub(super) fn check(s: &Scenario, p: &mut Problems) -> Zswap {
    for (k, v) in [
        ("max_pool_percent", s.zswap.max_pool_percent),
        ("accept_threshold_percent", s.zswap.accept_threshold_percent),
    ] {
        if let Some(v) = v
            && (v > 100 || (k == "max_pool_percent" && v == 0))
        {
            p.push(
                &[Key("zswap"), Key(k)],
                format!("{k} = {v} is out of range"),
                "use a percentage from 1 to 100",
            );
        }
    }
    if let Some(c) = &s.zswap.compressor
        && (c.is_empty()
            || c.len() > 64
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
    {
        p.push(
            &[Key("zswap"), Key("compressor")],
            format!("invalid compressor {c:?}"),
            "use a crypto compressor name (letters, digits, '-', '_'; at most 64) such as \"lz4\", \"lzo\" or \"zstd\"",
        );
    }
    if !s.zswap.enabled && (!s.proactive.is_empty() || !s.workers.is_empty()) {
        p.push(
            &[Key("zswap"), Key("enabled")],
            "zswap is disabled but the scenario runs workers/proactive writeback",
            "set enabled = true (this suite measures zswap)",
        );
    }
    let z = &s.zswap;
    Zswap {
        enabled: z.enabled,
        compressor: z.compressor.clone(),
        max_pool_percent: z.max_pool_percent,
        accept_threshold_percent: z.accept_threshold_percent,
        shrinker_enabled: z.shrinker_enabled,
    }
}
