//! The second side of fairness: how soon a series of small proactive budgets starts writing
//! back. A cursor spreads second-chance rotations over every child, so under a give-up rule
//! (v5: 16 memcg visits that write nothing end the call with -EAGAIN) a cursor design can write
//! nothing for many calls in a row where no cursor writes back from the first child at once.
//! These figures come from the calls of the one proactive thread whose writeback can be told
//! apart (`ProactiveThread::per_call`).

use super::{Metric, MetricUnit as U, Value, no_interface};
use crate::schema::{ProactiveThread, ResultFile};
use crate::stats::Direction::{Informational, LowerIsBetter as Lower};

use super::exercise::Exercise;

pub(super) fn metrics() -> Vec<Metric> {
    vec![
        metric!(
            "proactive.calls_to_first_writeback",
            U::Count,
            Lower,
            "proactive calls made before the first one that wrote anything back (all of them \
             when none did): how soon a small budget bites",
            calls_to_first_writeback
        )
        .needs(Exercise::Proactive),
        metric!(
            "proactive.zero_write_share",
            U::Ratio,
            Informational,
            "share of proactive calls that wrote nothing back",
            |r| {
                let w = written_per_call(r)?;
                Ok(w.iter().filter(|&&b| b == 0).count() as f64 / w.len() as f64)
            }
        )
        .needs(Exercise::Proactive),
    ]
}

/// The thread whose calls carry their own writeback figures.
pub fn per_call_thread(r: &ResultFile) -> Result<&ProactiveThread, String> {
    no_interface(r)?;
    r.proactive_writes
        .per_thread
        .iter()
        .find(|t| !t.per_call.is_empty() && t.per_call.iter().all(|c| c.written.is_some()))
        .ok_or_else(|| {
            "no per-call writeback figures: every proactive thread shares its subtree with \
             another (a call's writeback cannot be told apart), the kernel has no \
             zswpwb_proactive_b, or the file predates per-call records"
                .to_string()
        })
}

/// Bytes each call wrote back, in call order.
pub fn written_per_call(r: &ResultFile) -> Result<Vec<u64>, String> {
    Ok(per_call_thread(r)?
        .per_call
        .iter()
        .map(|c| c.written.unwrap_or(0))
        .collect())
}

/// The first call that wrote back: its memory.stat delta is above 0, or it returned 0 (met its
/// budget, so it wrote at least that much). The return settles it where the memcg's stats were
/// flushed after the call had ended (memory.stat flushes only past a batch of updates, else
/// every 2 s), which moves bytes to a later call's delta but never to an earlier one.
fn calls_to_first_writeback(r: &ResultFile) -> Value {
    let t = per_call_thread(r)?;
    let n = t.per_call.len();
    Ok(t.per_call
        .iter()
        .position(|c| c.written.unwrap_or(0) > 0 || c.ret == crate::schema::ret::OK)
        .unwrap_or(n) as f64)
}

/// Bytes the per-call deltas add up to, over the thread's whole-phase figure
/// (`bytes_achieved`): 1 when every byte was seen inside a call; below 1 when the last
/// flush came after the last call.
pub fn per_call_coverage(r: &ResultFile) -> Result<f64, String> {
    let t = per_call_thread(r)?;
    let sum: u64 = t.per_call.iter().filter_map(|c| c.written).sum();
    match t.bytes_achieved {
        Some(total) if total > 0 => Ok(sum as f64 / total as f64),
        _ => Err("no whole-phase proactive writeback figure to check the calls against".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ProactiveCall;
    use crate::testing::MockResult;

    fn with_calls(written: &[Option<u64>]) -> ResultFile {
        let mut r = MockResult::nocursor(0).build();
        let t = &mut r.proactive_writes.per_thread[0];
        t.per_call = written
            .iter()
            .enumerate()
            .map(|(i, &w)| ProactiveCall {
                start_ns: i as u64 * 1000,
                ns: 10,
                ret: "-EAGAIN".into(),
                written: w,
            })
            .collect();
        r
    }

    #[test]
    fn first_writeback_counts_the_calls_before_it() {
        let r = with_calls(&[Some(0), Some(0), Some(4096), Some(0)]);
        assert_eq!(calls_to_first_writeback(&r), Ok(2.0));
        // A call that met its budget wrote back even if its stat delta came late.
        let mut late = with_calls(&[Some(0), Some(0), Some(0), Some(8192)]);
        late.proactive_writes.per_thread[0].per_call[1].ret = "0".into();
        assert_eq!(calls_to_first_writeback(&late), Ok(1.0));
        let share = metrics()[1].extract;
        assert_eq!(share(&r), Ok(0.75));
        // None wrote anything: all of them, not 0.
        let none = with_calls(&[Some(0), Some(0), Some(0)]);
        assert_eq!(calls_to_first_writeback(&none), Ok(3.0));
        // The first call wrote: 0.
        assert_eq!(calls_to_first_writeback(&with_calls(&[Some(1)])), Ok(0.0));
    }

    #[test]
    fn calls_without_their_own_figures_are_not_a_zero() {
        let shared = with_calls(&[None, None]);
        let e = calls_to_first_writeback(&shared).unwrap_err();
        assert!(e.contains("cannot be told apart"), "{e}");
        let old = with_calls(&[]);
        assert!(calls_to_first_writeback(&old).is_err());
    }
}
