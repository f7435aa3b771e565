//! `[phases]`: the measured phase must have a length and set-up a time limit.
use crate::scenario::errors::{Problems, Seg::Key};
use crate::scenario::plan;
use crate::scenario::spec::Phases;

pub(super) fn check(ph: &Phases, p: &mut Problems) -> plan::Phases {
    if ph.measure.0.is_zero() {
        p.push(
            &[Key("phases"), Key("measure")],
            "the measured phase has zero length",
            "set e.g. measure = \"30s\"",
        );
    }
    if ph.setup_timeout.0.is_zero() {
        p.push(
            &[Key("phases"), Key("setup_timeout")],
            "setup_timeout is zero",
            "set e.g. setup_timeout = \"60s\"",
        );
    }
    plan::Phases {
        setup_timeout: ph.setup_timeout.0,
        warmup: ph.warmup.0,
        measure: ph.measure.0,
    }
}
