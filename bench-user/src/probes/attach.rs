//! The attach plan: for every metric, try mechanisms best-first (fentry/fexit, kprobe/kretprobe,
//! tracepoints) by really loading and attaching, and record what served it — or why nothing
//! could. A metric that cannot be measured is "unavailable: <reason>", never a zero.
use aya::programs::{BtfTracePoint, FEntry, FExit, KProbe, TracePoint};
use aya::{Btf, Ebpf};
use bench_results::schema::{Mechanism, PlanEntry, PlanStatus};

use super::btf::KernelBtf;
use super::kallsyms::Kallsyms;

/// One way to serve a metric: programs to load and attach, all or nothing.
#[derive(Clone, Debug)]
pub enum Hook {
    Fentry {
        prog: &'static str,
        func: String,
    },
    Fexit {
        prog: &'static str,
        func: String,
    },
    Kprobe {
        prog: &'static str,
        func: String,
    },
    Kretprobe {
        prog: &'static str,
        func: String,
    },
    TpBtf {
        prog: &'static str,
        tp: &'static str,
    },
    Tracepoint {
        prog: &'static str,
        category: &'static str,
        name: &'static str,
    },
}

impl Hook {
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Hook::Fentry { .. } => Mechanism::Fentry,
            Hook::Fexit { .. } => Mechanism::Fexit,
            Hook::Kprobe { .. } => Mechanism::Kprobe,
            Hook::Kretprobe { .. } => Mechanism::Kretprobe,
            Hook::TpBtf { .. } => Mechanism::TpBtf,
            Hook::Tracepoint { .. } => Mechanism::Tracepoint,
        }
    }
    fn prog(&self) -> &'static str {
        match self {
            Hook::Fentry { prog, .. }
            | Hook::Fexit { prog, .. }
            | Hook::Kprobe { prog, .. }
            | Hook::Kretprobe { prog, .. }
            | Hook::TpBtf { prog, .. }
            | Hook::Tracepoint { prog, .. } => prog,
        }
    }
    pub fn target(&self) -> String {
        match self {
            Hook::Fentry { func, .. }
            | Hook::Fexit { func, .. }
            | Hook::Kprobe { func, .. }
            | Hook::Kretprobe { func, .. } => func.clone(),
            Hook::TpBtf { tp, .. } => format!("btf:{tp}"),
            Hook::Tracepoint { category, name, .. } => format!("{category}:{name}"),
        }
    }
}

/// A candidate mechanism for a metric: its hooks, or the reason it cannot apply here.
pub struct Candidate {
    pub hooks: Vec<Hook>,
    pub unusable: Option<String>,
}

pub struct Attacher<'a> {
    pub ebpf: &'a mut Ebpf,
    pub btf: &'a Btf,
    pub plan: Vec<PlanEntry>,
    /// Programs attached, for self-cost reporting.
    pub attached: Vec<&'static str>,
}

impl Attacher<'_> {
    pub fn try_hook(&mut self, h: &Hook) -> Result<(), String> {
        let name = h.prog();
        let p = self
            .ebpf
            .program_mut(name)
            .ok_or_else(|| format!("program {name} missing from the object"))?;
        let e = |e: aya::programs::ProgramError| format!("{e}");
        match h {
            Hook::Fentry { func, .. } => {
                let p: &mut FEntry = p.try_into().map_err(e)?;
                p.load(func, self.btf).map_err(e)?;
                p.attach().map_err(e)?;
            }
            Hook::Fexit { func, .. } => {
                let p: &mut FExit = p.try_into().map_err(e)?;
                p.load(func, self.btf).map_err(e)?;
                p.attach().map_err(e)?;
            }
            Hook::Kprobe { func, .. } | Hook::Kretprobe { func, .. } => {
                let p: &mut KProbe = p.try_into().map_err(e)?;
                p.load().map_err(e)?;
                p.attach(func, 0).map_err(e)?;
            }
            Hook::TpBtf { tp, .. } => {
                let p: &mut BtfTracePoint = p.try_into().map_err(e)?;
                p.load(tp, self.btf).map_err(e)?;
                p.attach().map_err(e)?;
            }
            Hook::Tracepoint {
                category, name: n, ..
            } => {
                let p: &mut TracePoint = p.try_into().map_err(e)?;
                p.load().map_err(e)?;
                p.attach(category, n).map_err(e)?;
            }
        }
        Ok(())
    }

    /// Undo a partly attached candidate (unloading detaches its links), so e.g. an fentry
    /// without its fexit never leaves a caller context pushed and never popped.
    fn unload(&mut self, h: &Hook) {
        use aya::programs::Program;
        let Some(p) = self.ebpf.program_mut(h.prog()) else {
            return;
        };
        let _ = match p {
            Program::FEntry(x) => x.unload(),
            Program::FExit(x) => x.unload(),
            Program::KProbe(x) => x.unload(),
            Program::BtfTracePoint(x) => x.unload(),
            Program::TracePoint(x) => x.unload(),
            _ => Ok(()),
        };
    }

    /// Try candidates in order; the first whose hooks all attach serves the metric.
    /// Returns the winning hooks, and records the plan entry either way.
    pub fn serve(&mut self, metric: &str, candidates: Vec<Candidate>) -> Option<Vec<Hook>> {
        let mut reasons = vec![];
        for c in candidates {
            if let Some(why) = c.unusable {
                reasons.push(why);
                continue;
            }
            let mut done: Vec<Hook> = vec![];
            let mut failed = None;
            for h in &c.hooks {
                match self.try_hook(h) {
                    Ok(()) => done.push(h.clone()),
                    Err(e) => {
                        failed =
                            Some(format!("{:?} {}: {e}", h.mechanism(), h.target()).to_lowercase());
                        break;
                    }
                }
            }
            match failed {
                None => {
                    let first = &c.hooks[0];
                    let target = c
                        .hooks
                        .iter()
                        .map(|h| format!("{}:{}", mech_str(h.mechanism()), h.target()))
                        .collect::<Vec<_>>()
                        .join(" + ");
                    self.plan.push(PlanEntry {
                        metric: metric.to_string(),
                        mechanism: first.mechanism(),
                        target,
                        status: PlanStatus::Live,
                        reason: None,
                    });
                    self.attached.extend(c.hooks.iter().map(|h| h.prog()));
                    return Some(c.hooks);
                }
                Some(e) => {
                    for h in &done {
                        self.unload(h);
                    }
                    reasons.push(e);
                }
            }
        }
        self.plan.push(PlanEntry {
            metric: metric.to_string(),
            mechanism: Mechanism::None,
            target: String::new(),
            status: PlanStatus::Unavailable,
            reason: Some(reasons.join("; ")),
        });
        None
    }

    /// A metric served by userspace data (e.g. kallsyms) or unavailable for a stated reason.
    pub fn note(
        &mut self,
        metric: &str,
        mechanism: Mechanism,
        target: String,
        reason: Option<String>,
    ) {
        self.plan.push(PlanEntry {
            metric: metric.to_string(),
            mechanism,
            target,
            status: if reason.is_none() {
                PlanStatus::Live
            } else {
                PlanStatus::Unavailable
            },
            reason,
        });
    }
}

pub fn mech_str(m: Mechanism) -> &'static str {
    match m {
        Mechanism::Fentry => "fentry",
        Mechanism::Fexit => "fexit",
        Mechanism::Kprobe => "kprobe",
        Mechanism::Kretprobe => "kretprobe",
        Mechanism::Tracepoint => "tracepoint",
        Mechanism::TpBtf => "tp_btf",
        Mechanism::RawTracepoint => "raw_tracepoint",
        Mechanism::Userspace => "userspace",
        Mechanism::None => "none",
    }
}

/// Where a kernel function can be hooked: fentry needs it in BTF and as a plain symbol
/// (not inlined, not only a `.isra`/`.constprop` clone); kprobes need the symbol.
pub struct FuncPresence {
    pub in_btf: bool,
    pub in_kallsyms: bool,
    pub clones: Vec<String>,
}

impl FuncPresence {
    pub fn of(name: &str, btf: &KernelBtf, ksyms: &Kallsyms) -> Self {
        FuncPresence {
            in_btf: btf.func(name).is_some(),
            in_kallsyms: ksyms.addr(name).is_some(),
            clones: ksyms.variants(name),
        }
    }

    pub fn describe(&self) -> String {
        match (self.in_btf, self.in_kallsyms) {
            (true, true) => "symbol + BTF".into(),
            (false, true) => "symbol only (no BTF: kprobe only)".into(),
            (true, false) if !self.clones.is_empty() => format!(
                "BTF, but only compiler clones {} exist",
                self.clones.join(",")
            ),
            (true, false) => "BTF only (no symbol: inlined?)".into(),
            (false, false) if !self.clones.is_empty() => {
                format!("only compiler clones {}", self.clones.join(","))
            }
            (false, false) => "absent or inlined".into(),
        }
    }
}

/// fentry+fexit on `func` if possible, then kprobe+kretprobe, with reasons when impossible.
pub fn entry_exit(
    func: &str,
    pres: &FuncPresence,
    fentry: &'static str,
    fexit: &'static str,
    kprobe: Option<(&'static str, &'static str)>,
) -> Vec<Candidate> {
    let f = func.to_string();
    let mut v = vec![if pres.in_btf && pres.in_kallsyms {
        Candidate {
            hooks: vec![
                Hook::Fentry {
                    prog: fentry,
                    func: f.clone(),
                },
                Hook::Fexit {
                    prog: fexit,
                    func: f.clone(),
                },
            ],
            unusable: None,
        }
    } else {
        Candidate {
            hooks: vec![],
            unusable: Some(format!("fentry {func}: {}", pres.describe())),
        }
    }];
    if let Some((kp, krp)) = kprobe {
        v.push(if pres.in_kallsyms {
            Candidate {
                hooks: vec![
                    Hook::Kprobe {
                        prog: kp,
                        func: f.clone(),
                    },
                    Hook::Kretprobe { prog: krp, func: f },
                ],
                unusable: None,
            }
        } else {
            Candidate {
                hooks: vec![],
                unusable: Some(format!("kprobe {func}: {}", pres.describe())),
            }
        });
    }
    v
}

/// Entry/exit candidates for the first of `names` this kernel has (in BTF or kallsyms): series
/// versions name the same function differently. None present: one unusable candidate saying
/// `why_absent`, so the plan shows `n/a` with the reason instead of leaving the metric out.
pub fn first_present(
    names: &[String],
    pres: impl Fn(&str) -> FuncPresence,
    fentry: &'static str,
    fexit: &'static str,
    kprobe: Option<(&'static str, &'static str)>,
    why_absent: impl FnOnce() -> String,
) -> Vec<Candidate> {
    for f in names {
        let p = pres(f);
        if p.in_btf || p.in_kallsyms {
            return entry_exit(f, &p, fentry, fexit, kprobe);
        }
    }
    vec![Candidate {
        hooks: vec![],
        unusable: Some(why_absent()),
    }]
}
