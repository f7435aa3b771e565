//! Which locks are watched, and which mechanism serves each kind:
//! - spinlocks (the cursor locks): the spin slow path, fentry/fexit, else kprobe/kretprobe;
//! - sleeping locks (mutex, rwsem, e.g. `--watch-lock cgroup_mutex`): lock:contention_begin/end;
//! - cursor-lock acquisitions and hold time: the cursor function and its walk step;
//! - forgetting a freed memcg's lock address: fentry on the memcg free function.
//!
//! Each decision is a plan entry, so a result says what measured what.
use anyhow::{Context, Result, bail};
use aya::maps::Array;
use bench_common::names::{self, kfunc, prog, setting};
use bench_results::schema::Mechanism;

use super::attach::{Attacher, Candidate, FuncPresence, Hook, entry_exit, mech_str};
use super::btf::KernelBtf;
use super::kallsyms::Kallsyms;

/// What the lock part of the plan decided.
#[derive(Debug, Default, Clone)]
pub struct LockPlan {
    /// Global locks watched: (address, name).
    pub global: Vec<(u64, String)>,
    /// Per-memcg cursor lock member (offset, path), when the kernel's struct has one.
    pub per_memcg: Option<(u64, String)>,
    /// The global cursor lock's symbol (a watched global lock of this name is a cursor lock).
    pub global_name: String,
    /// "fentry:queued_spin_lock_slowpath" etc.; `None` = spinlock waits not measurable.
    pub spin: Option<String>,
    /// "tp_btf:btf:contention_begin" etc.; `None` = sleeping-lock waits not measurable.
    pub sleeping: Option<String>,
    /// Acquisitions/hold time measured (cursor function + walk step live, or a declared lock).
    pub hold: bool,
    /// Acquisitions come from the manifest's declaration (one lock per cursor call), not from
    /// walk-step evidence: a lock "never taken" is then so by that declaration.
    pub declared: bool,
    /// A second, independent count of watched slow-path entries is attached.
    pub spin_xcheck: bool,
}

impl LockPlan {
    pub fn any(&self) -> bool {
        self.spin.is_some() || self.sleeping.is_some()
    }
    /// The mechanism that measured waits on `name`'s kind of lock.
    pub fn mechanism_for(&self, spinlock: bool) -> Option<String> {
        if spinlock {
            self.spin.clone().or_else(|| self.sleeping.clone())
        } else {
            self.sleeping.clone()
        }
    }
}

fn hooks_str(h: &[Hook]) -> String {
    h.iter()
        .map(|h| format!("{}:{}", mech_str(h.mechanism()), h.target()))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn spin_candidates(kbtf: &KernelBtf, ksyms: &Kallsyms) -> Vec<Candidate> {
    let Some(f) = kfunc::SPIN_SLOWPATH
        .iter()
        .find(|f| ksyms.addr(f).is_some() || kbtf.func(f).is_some())
    else {
        return vec![Candidate {
            hooks: vec![],
            unusable: Some(format!(
                "no spinlock slow path ({}) in kallsyms or BTF",
                kfunc::SPIN_SLOWPATH.join(", ")
            )),
        }];
    };
    let p = FuncPresence::of(f, kbtf, ksyms);
    let mut c = entry_exit(
        f,
        &p,
        prog::FENTRY_SPIN_SLOW,
        prog::FEXIT_SPIN_SLOW,
        Some((prog::KPROBE_SPIN_SLOW, prog::KRETPROBE_SPIN_SLOW)),
    );
    // Exit hook first: an entry pushed before its exit hook existed would never be popped and
    // would sit at the bottom of that CPU's stack for the rest of the run. An exit without a
    // recorded entry is ignored, so this order loses nothing.
    for cand in &mut c {
        cand.hooks.reverse();
    }
    c
}

fn sleeping_candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            hooks: vec![
                Hook::TpBtf {
                    prog: prog::TP_BTF_CONTENTION_BEGIN,
                    tp: "contention_begin",
                },
                Hook::TpBtf {
                    prog: prog::TP_BTF_CONTENTION_END,
                    tp: "contention_end",
                },
            ],
            unusable: None,
        },
        Candidate {
            hooks: vec![
                Hook::Tracepoint {
                    prog: prog::TP_CONTENTION_BEGIN,
                    category: "lock",
                    name: "contention_begin",
                },
                Hook::Tracepoint {
                    prog: prog::TP_CONTENTION_END,
                    category: "lock",
                    name: "contention_end",
                },
            ],
            unusable: super::tp_field_check("lock", "contention_begin", "lock_addr", 8)
                .or_else(|| super::tp_field_check("lock", "contention_begin", "flags", 16)),
        },
    ]
}

/// Set a runtime switch the programs read (SETTINGS map).
fn turn_on(a: &mut Attacher, which: u32) -> Result<()> {
    let mut s: Array<_, u64> =
        Array::try_from(a.ebpf.map_mut(names::SETTINGS).context("SETTINGS map")?)?;
    s.set(which, 1, 0)?;
    Ok(())
}

/// Decide and attach everything lock-related. `cursor` = the cursor iterator, whether its walk
/// step is live (the acquisition evidence), and whether the design declared its lock instead.
// Eight inputs, each a different source the decision reads (BTF, kallsyms, the names of this
// kernel's locks, the user's extra locks, what else went live); a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn attach(
    a: &mut Attacher,
    kbtf: &KernelBtf,
    ksyms: &Kallsyms,
    per_memcg: Option<(u64, String)>,
    global_name: &str,
    extra_locks: &[String],
    cursor: (Option<&str>, bool, bool),
    crosscheck: bool,
) -> Result<LockPlan> {
    let mut lp = LockPlan {
        per_memcg,
        global_name: global_name.to_string(),
        ..Default::default()
    };
    match ksyms.addr(global_name) {
        Some(addr) => {
            lp.global.push((addr, global_name.to_string()));
            a.note("locks.global", Mechanism::Userspace, format!("kallsyms:{global_name}@{addr:#x}"), None);
        }
        None => a.note("locks.global", Mechanism::None, String::new(), Some(if kbtf.func(kfunc::SHRINK_WORKER).is_some() { format!("{global_name} not in kallsyms (removed by the series, or CONFIG_KALLSYMS_ALL=n)") } else { "no zswap".into() })),
    }
    match &lp.per_memcg {
        Some((off, name)) => a.note("locks.per_memcg", Mechanism::Userspace, format!("btf:mem_cgroup.{name}@+{off:#x}, learnt from memcg pointers seen by the probes"), None),
        None => a.note("locks.per_memcg", Mechanism::None, String::new(), Some("struct mem_cgroup has no zswap cursor lock member in BTF (baseline, or a design without a per-memcg lock)".into())),
    }
    for name in extra_locks {
        let Some(addr) = ksyms.addr(name) else {
            bail!(
                "--watch-lock {name}: no such symbol in /proc/kallsyms; fix: check the name (static locks need CONFIG_KALLSYMS_ALL=y)"
            );
        };
        lp.global.push((addr, name.clone()));
        a.note(
            &format!("locks.extra.{name}"),
            Mechanism::Userspace,
            format!("kallsyms:{name}@{addr:#x}"),
            None,
        );
    }
    if lp.global.is_empty() && lp.per_memcg.is_none() {
        for m in ["locks.spin", "locks.sleeping", "locks.acquisitions"] {
            a.note(
                m,
                Mechanism::None,
                String::new(),
                Some("no lock to watch on this kernel".into()),
            );
        }
        return Ok(lp);
    }
    // Spinlocks first, so the tracepoint programs know to leave spinlocks alone before they
    // see their first event.
    lp.spin = a
        .serve("locks.spin", spin_candidates(kbtf, ksyms))
        .map(|h| hooks_str(&h));
    if lp.spin.is_some() {
        turn_on(a, setting::SPIN_VIA_SLOWPATH)?;
    }
    if crosscheck {
        let f = kfunc::SPIN_SLOWPATH
            .iter()
            .find(|f| ksyms.addr(f).is_some());
        let c = match (&lp.spin, f) {
            (Some(_), Some(f)) => Candidate {
                hooks: vec![Hook::Kprobe {
                    prog: prog::KPROBE_SPIN_SLOW_XCHECK,
                    func: f.to_string(),
                }],
                unusable: None,
            },
            _ => Candidate {
                hooks: vec![],
                unusable: Some(
                    "cross-check needs the slow-path hook live and its symbol in kallsyms".into(),
                ),
            },
        };
        lp.spin_xcheck = a.serve("locks.spin.crosscheck", vec![c]).is_some();
    }
    lp.sleeping = a
        .serve("locks.sleeping", sleeping_candidates())
        .map(|h| hooks_str(&h));
    lp.hold = match cursor {
        (Some(f), _, true) => {
            a.note(
                "locks.acquisitions",
                Mechanism::Fentry,
                format!("{f} calls, each one acquisition of the lock the manifest declares (cursor_lock_once_per_call); hold <= call duration - spin wait; --walk-steps checks the declaration per step"),
                None,
            );
            lp.declared = true;
            true
        }
        (Some(f), true, false) => {
            a.note(
                "locks.acquisitions",
                Mechanism::Fentry,
                format!("{f} + css_next_descendant_pre: a lock held at every walk step of a call is one acquisition; hold <= call duration - spin wait"),
                None,
            );
            true
        }
        (Some(f), false, false) => {
            a.note(
                "locks.acquisitions",
                Mechanism::None,
                String::new(),
                Some(format!(
                    "{f} is live but its walk step is not, so a held lock cannot be seen"
                )),
            );
            false
        }
        (None, ..) => {
            a.note("locks.acquisitions", Mechanism::None, String::new(), Some("no cursor function: the kernel takes zswap_shrink_lock inline in shrink_worker, where no cheap probe sees acquisitions".into()));
            false
        }
    };
    if lp.per_memcg.is_some() {
        let p = FuncPresence::of(kfunc::MEMCG_FREE, kbtf, ksyms);
        let c = if p.in_btf && p.in_kallsyms {
            Candidate {
                hooks: vec![Hook::Fentry {
                    prog: prog::FENTRY_MEMCG_FREE,
                    func: kfunc::MEMCG_FREE.into(),
                }],
                unusable: None,
            }
        } else {
            Candidate {
                hooks: vec![],
                unusable: Some(format!("fentry {}: {}", kfunc::MEMCG_FREE, p.describe())),
            }
        };
        // Without it, learning re-checks the memcg behind an address each time, so a reused
        // address is re-learnt at its new memcg's first probe hit; only waits in between
        // would still be filed under the dead memcg. The plan entry says so.
        if a.serve("locks.per_memcg.forget_freed", vec![c]).is_some() {
            turn_on(a, setting::FORGET_FREED_LIVE)?;
        }
    }
    Ok(lp)
}
