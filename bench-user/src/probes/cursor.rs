//! The cursor iterator's probes: the function itself (calls = cursor advances) and the walk
//! step inside it (restarts on the lockless design; on the lock designs, per-step evidence of
//! the held lock, off where the manifest declares one lock per call: there it would run inside
//! the critical section it helps measure).
use super::Live;
use super::attach::{self, Attacher, Candidate, FuncPresence, Hook};
use super::profiles::Resolved;
use bench_common::names::{kfunc, prog};
use bench_results::schema::Mechanism;

/// Attaches the cursor function and decides the walk step; `declared` = the lock kind the
/// manifest declares (and `--walk-steps` was not given).
pub(super) fn attach(
    a: &mut Attacher<'_>,
    series: &Resolved,
    pres: &dyn Fn(&str) -> FuncPresence,
    declared: Option<u32>,
    live: &mut Live,
) {
    let cands = attach::first_present(
        &series.cursor_iter,
        pres,
        prog::FENTRY_CURSOR_ITER,
        prog::FEXIT_CURSOR_ITER,
        None,
        || {
            if series.cursor_optional {
                format!(
                    "no cursor iterator ({}) in BTF or kallsyms: this design walks with mem_cgroup_iter() under zswap_shrink_lock or a local iterator (or the function was inlined)",
                    series.cursor_iter.join(", ")
                )
            } else if series.cursor_iter.is_empty() {
                format!(
                    "profile {} has no cursor iterator: walks use mem_cgroup_iter() under zswap_shrink_lock or a local iterator",
                    series.profile
                )
            } else {
                format!(
                    "inlined: {} has no out-of-line copy in BTF or kallsyms (static); cursor advances and lock acquisitions are not counted, lock waits still are",
                    series.cursor_iter.join(", ")
                )
            }
        },
    );
    live.cursor_iter = a.serve("cursor_iter", cands).map(|h| h[0].target());
    if let (Some(f), Some(_)) = (&live.cursor_iter, declared) {
        a.note(
            "cursor_iter.walk_steps",
            Mechanism::None,
            String::new(),
            Some(format!(
                "off: the manifest declares one {} acquisition per {f} call, so the per-step program (which would run inside that lock) is not needed; --walk-steps attaches it",
                series.cursor_lock.join(", ")
            )),
        );
        live.declared_lock = true;
    } else if live.cursor_iter.is_some() {
        let p = pres(kfunc::CSS_NEXT_DESCENDANT_PRE);
        let c = if p.in_btf && p.in_kallsyms {
            Candidate {
                hooks: vec![Hook::Fentry {
                    prog: prog::FENTRY_CURSOR_INNER,
                    func: kfunc::CSS_NEXT_DESCENDANT_PRE.into(),
                }],
                unusable: None,
            }
        } else {
            Candidate {
                hooks: vec![],
                unusable: Some(format!(
                    "fentry {}: {}",
                    kfunc::CSS_NEXT_DESCENDANT_PRE,
                    p.describe()
                )),
            }
        };
        live.cursor_restarts = a.serve("cursor_iter.walk_steps", vec![c]).is_some();
    } else {
        a.note(
            "cursor_iter.walk_steps",
            Mechanism::None,
            String::new(),
            Some("no cursor iterator on this kernel".into()),
        );
    }
}
