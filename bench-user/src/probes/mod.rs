//! The probe layer: decide per metric which attach point serves it on the running kernel
//! (fentry/fexit > kprobe/kretprobe > tracepoint), load and attach, read the per-CPU maps and
//! turn them into result-schema metrics. `probe` (live tables) and `run` both use it.
pub mod attach;
pub mod btf;
pub mod cgroups;
pub mod cli;
mod cursor;
mod ebpf_log;
pub mod kallsyms;
mod locks;
pub mod profiles;
mod read;
pub mod sample;
pub mod spinlocks;
pub mod window;

use std::os::fd::OwnedFd;

use anyhow::{Context, Result, bail};
use aya::{Btf, Ebpf, EbpfLoader};
use bench_common::names::{self, kfunc, prog};
use bench_common::{LockInfo, lock_kind};
use bench_results::schema::{Mechanism, PlanEntry};

use attach::{Attacher, Candidate, FuncPresence, Hook, entry_exit};
use btf::KernelBtf;
use kallsyms::Kallsyms;

/// The eBPF object, built by build.rs (aya-build) for the BPF target.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/zswap-bench-probes"));

pub fn object() -> &'static [u8] {
    OBJECT
}

/// What to attach.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Also attach second, independent mechanisms for cross-checks (kprobe beside fentry).
    pub crosscheck: bool,
    /// More locks to watch by kallsyms name (any spinlock/mutex/rwsem the kernel reports on
    /// lock:contention_*), e.g. to compare against a well-known lock or to test attribution.
    pub extra_locks: Vec<String>,
    /// Attach the walk-step probe (css_next_descendant_pre) even where the design declares one
    /// cursor-lock acquisition per call: per-step evidence of which lock is held, at the cost of
    /// a program inside the critical section.
    pub walk_steps: bool,
}

/// What the plan decided, for the reader.
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub shrink_memcg: bool,
    pub shrink_memcg_ret_bytes: bool,
    pub xcheck: bool,
    pub wb_per_memcg: Option<String>,
    pub wb_entry: bool,
    pub lru_status: bool,
    pub shrink_worker: bool,
    pub store: bool,
    pub proactive: Option<String>,
    pub cursor_iter: Option<String>,
    pub cursor_restarts: bool,
    /// Acquisitions come from the design's declaration, not from walk-step evidence.
    pub declared_lock: bool,
    pub locks: bool,
    pub lru_names: Vec<(String, u64)>,
    /// Unit of the proactive entry point's budget argument (v1/v3/v4: pages).
    pub proactive_unit: profiles::Unit,
}

/// Attached probes. Dropping it detaches everything (aya owns the links).
pub struct ProbeSession {
    ebpf: Ebpf,
    plan: Vec<PlanEntry>,
    live: Live,
    attached: Vec<&'static str>,
    ksyms: Kallsyms,
    /// Watched locks and what measures them.
    locks: locks::LockPlan,
    spinlocks: bench_results::schema::Spinlocks,
    cg: cgroups::CgroupNames,
    /// Holding this fd keeps BPF run-time statistics on (self-cost), like bpftop.
    _stats: Option<OwnedFd>,
    /// The programs' diagnostics (aya-log), drained at every snapshot.
    log: Option<ebpf_log::ProbeLog>,
}

/// Lifts the locked-memory limit that kernels before 5.11 charge BPF maps against. Best
/// effort: a kernel that charges maps to the memcg instead does not need it.
fn raise_memlock() {
    use nix::sys::resource::{RLIM_INFINITY, Resource, setrlimit};
    let _ = setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY);
}

impl ProbeSession {
    pub fn attach(opts: &ProbeOptions) -> Result<Self> {
        if !nix::unistd::geteuid().is_root() {
            bail!(
                "attaching eBPF probes needs root (CAP_BPF + CAP_PERFMON); fix: run as root, or inside the VM (`zswap-bench vm --kernel baseline -- zswap-bench probe`)"
            );
        }
        raise_memlock();
        let kbtf = KernelBtf::load()?;
        let abtf = Btf::from_sys_fs()
            .context("loading kernel BTF for aya; fix: a kernel with CONFIG_DEBUG_INFO_BTF=y")?;
        let ksyms = Kallsyms::load()?;
        if !ksyms.has_addresses() {
            bail!(
                "/proc/kallsyms shows no addresses (kptr_restrict?); fix: run as root or `sysctl kernel.kptr_restrict=0`"
            );
        }
        // Which names this kernel's version of the series uses (manifest [probes] first).
        let series = profiles::resolve(&kbtf, profiles::from_env()?.as_ref());
        // A declared lock replaces the per-step evidence unless that was asked for.
        let declared = series.declared_lock_kind().filter(|_| !opts.walk_steps);
        let g = Globals::resolve(&kbtf, &ksyms, &series, declared);
        let mut loader = EbpfLoader::new();
        loader.btf(Some(&abtf));
        for (name, v) in g.values() {
            loader.override_global(name, v, true);
        }
        let mut ebpf = loader
            .load(OBJECT)
            .context("loading the eBPF object (maps and globals)")?;
        // Before any program loads: the programs are relocated against the log map, which the
        // reader must own from here on (dropping it would close the map under them).
        let log = ebpf_log::ProbeLog::take(&mut ebpf);
        let stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
        let mut a = Attacher {
            ebpf: &mut ebpf,
            btf: &abtf,
            plan: vec![],
            attached: vec![],
        };
        let mut live = Live {
            lru_names: kbtf.enum_members("lru_status"),
            ..Default::default()
        };
        let pres = |f: &str| FuncPresence::of(f, &kbtf, &ksyms);
        a.note(
            "names",
            Mechanism::Userspace,
            format!(
                "profile {}: {}; proactive budget in {:?}, stat {} in {:?}",
                series.profile,
                series.evidence,
                series.proactive_unit,
                series.proactive_stat.0,
                series.proactive_stat.1
            ),
            None,
        );
        live.proactive_unit = series.proactive_unit;

        // Caller contexts first, so every later metric can be split by caller.
        let p = pres(kfunc::SHRINK_WORKER);
        let mut c = entry_exit(
            kfunc::SHRINK_WORKER,
            &p,
            prog::FENTRY_SHRINK_WORKER,
            prog::FEXIT_SHRINK_WORKER,
            None,
        );
        c.push(match ksyms.addr(kfunc::SHRINK_WORKER) {
            Some(_) => Candidate {
                hooks: vec![
                    Hook::Tracepoint {
                        prog: prog::TP_WQ_START,
                        category: "workqueue",
                        name: "workqueue_execute_start",
                    },
                    Hook::Tracepoint {
                        prog: prog::TP_WQ_END,
                        category: "workqueue",
                        name: "workqueue_execute_end",
                    },
                ],
                unusable: tp_field_check("workqueue", "workqueue_execute_start", "function", 16),
            },
            None => Candidate {
                hooks: vec![],
                unusable: Some(
                    "workqueue tracepoints: shrink_worker address not in kallsyms".into(),
                ),
            },
        });
        live.shrink_worker = a.serve("shrink_worker", c).is_some();
        let p = pres(kfunc::STORE);
        live.store = a
            .serve(
                "store",
                entry_exit(
                    kfunc::STORE,
                    &p,
                    prog::FENTRY_STORE,
                    prog::FEXIT_STORE,
                    None,
                ),
            )
            .is_some();
        let p = pres(kfunc::SHRINKER_SCAN);
        a.serve(
            "context.shrinker",
            entry_exit(
                kfunc::SHRINKER_SCAN,
                &p,
                prog::FENTRY_SHRINKER_SCAN,
                prog::FEXIT_SHRINKER_SCAN,
                None,
            ),
        );
        let p = pres(kfunc::USER_PROACTIVE_RECLAIM);
        a.serve(
            "context.proactive_reclaim",
            entry_exit(
                kfunc::USER_PROACTIVE_RECLAIM,
                &p,
                prog::FENTRY_USER_RECLAIM,
                prog::FEXIT_USER_RECLAIM,
                None,
            ),
        );

        // shrink_memcg
        let p = pres(kfunc::SHRINK_MEMCG);
        let hooks = a.serve(
            "shrink_memcg",
            entry_exit(
                kfunc::SHRINK_MEMCG,
                &p,
                prog::FENTRY_SHRINK_MEMCG,
                prog::FEXIT_SHRINK_MEMCG,
                Some((prog::KPROBE_SHRINK_MEMCG, prog::KRETPROBE_SHRINK_MEMCG)),
            ),
        );
        live.shrink_memcg = hooks.is_some();
        live.shrink_memcg_ret_bytes = kbtf
            .func(kfunc::SHRINK_MEMCG)
            .is_some_and(|f| f.ret_size == 8);
        if opts.crosscheck {
            let fentry_won = matches!(hooks.as_deref(), Some([Hook::Fentry { .. }, ..]));
            let c = if !fentry_won {
                Candidate {
                    hooks: vec![],
                    unusable: Some("cross-check needs fentry as the primary mechanism".into()),
                }
            } else {
                Candidate {
                    hooks: vec![Hook::Kprobe {
                        prog: prog::KPROBE_SHRINK_MEMCG_XCHECK,
                        func: kfunc::SHRINK_MEMCG.into(),
                    }],
                    unusable: None,
                }
            };
            live.xcheck = a.serve("shrink_memcg.crosscheck", vec![c]).is_some();
        }

        // Writeback: per-memcg pages from the kernel's own counter event.
        let w = a.serve(
            "writeback.per_memcg",
            vec![
                Candidate {
                    hooks: vec![Hook::TpBtf {
                        prog: prog::TP_BTF_MEMCG_EVENTS,
                        tp: "count_memcg_events",
                    }],
                    unusable: None,
                },
                Candidate {
                    hooks: vec![Hook::Tracepoint {
                        prog: prog::TP_MEMCG_EVENTS,
                        category: "memcg",
                        name: "count_memcg_events",
                    }],
                    unusable: tp_field_check("memcg", "count_memcg_events", "item", 16),
                },
            ],
        );
        live.wb_per_memcg = w.map(|h| {
            format!(
                "{}:{} (ZSWPWB)",
                attach::mech_str(match &h[0] {
                    Hook::TpBtf { .. } => Mechanism::TpBtf,
                    _ => Mechanism::Tracepoint,
                }),
                h[0].target()
            )
        });
        let p = pres(kfunc::WRITEBACK_ENTRY);
        live.wb_entry = a
            .serve(
                "writeback.entry",
                entry_exit(
                    kfunc::WRITEBACK_ENTRY,
                    &p,
                    prog::FENTRY_WB_ENTRY,
                    prog::FEXIT_WB_ENTRY,
                    None,
                ),
            )
            .is_some();
        let p = pres(kfunc::SHRINK_MEMCG_CB);
        live.lru_status = a
            .serve(
                "writeback.lru_status",
                entry_exit(
                    kfunc::SHRINK_MEMCG_CB,
                    &p,
                    prog::FENTRY_SHRINK_MEMCG_CB,
                    prog::FEXIT_SHRINK_MEMCG_CB,
                    Some((
                        prog::KPROBE_SHRINK_MEMCG_CB,
                        prog::KRETPROBE_SHRINK_MEMCG_CB,
                    )),
                ),
            )
            .is_some();

        // Proactive writeback: the first name this kernel has.
        let cands = attach::first_present(
            &series.proactive,
            pres,
            prog::FENTRY_PROACTIVE,
            prog::FEXIT_PROACTIVE,
            Some((prog::KPROBE_PROACTIVE, prog::KRETPROBE_PROACTIVE)),
            || {
                if series.interface.is_some() {
                    format!(
                        "inlined: {} has no out-of-line copy in BTF or kallsyms; proactive writeback is measured from userspace instead (memory.reclaim call timing per thread, writeback by caller)",
                        series.proactive.join(", ")
                    )
                } else {
                    format!(
                        "no proactive writeback function ({}) in BTF or kallsyms: the kernel has no proactive zswap writeback",
                        series.proactive.join(", ")
                    )
                }
            },
        );
        live.proactive = a.serve("proactive", cands).map(|h| h[0].target());

        // Cursor iterator and, inside it, the walk steps (restarts on the lockless design).
        cursor::attach(&mut a, &series, &pres, declared, &mut live);
        // Cursor locks (and any --watch-lock): what serves which kind, see locks.rs.
        let lp = locks::attach(
            &mut a,
            &kbtf,
            &ksyms,
            g.cursor_lock.clone(),
            &g.global_lock,
            &opts.extra_locks,
            (
                live.cursor_iter.as_deref(),
                live.cursor_restarts,
                live.declared_lock,
            ),
            opts.crosscheck,
        )?;
        live.locks = lp.any();
        let plan = std::mem::take(&mut a.plan);
        let attached = std::mem::take(&mut a.attached);
        drop(a);
        if live.locks {
            let mut map: aya::maps::HashMap<_, u64, LockInfo> = aya::maps::HashMap::try_from(
                ebpf.map_mut(names::WATCHED_LOCKS)
                    .context("WATCHED_LOCKS map")?,
            )?;
            for (addr, _) in &lp.global {
                map.insert(
                    addr,
                    LockInfo {
                        cgroup_id: 0,
                        kind: lock_kind::GLOBAL,
                        _pad: 0,
                    },
                    0,
                )?;
            }
        }
        let spinlocks = spinlocks::detect(Some((&mut ebpf, &abtf)), Some(&ksyms));
        let cg = cgroups::CgroupNames::scan(std::path::Path::new("/sys/fs/cgroup"));
        Ok(ProbeSession {
            ebpf,
            plan,
            live,
            attached,
            ksyms,
            locks: lp,
            spinlocks,
            cg,
            _stats: stats,
            log,
        })
    }

    /// The attach plan: metric -> mechanism + target, or unavailable with the reason.
    pub fn plan(&self) -> Vec<PlanEntry> {
        self.plan.clone()
    }

    /// A per-second reader of lock contention for the time series (None: no lock measured).
    pub fn lock_sampler(&self) -> Option<sample::LockSampler> {
        if !self.live.locks {
            return None;
        }
        sample::LockSampler::new(&self.ebpf, self.locks.global.clone())
            .map_err(|e| log::warn!("lock time series unavailable: {e:#}"))
            .ok()
    }

    /// The spinlock implementation of the running kernel (read once at attach).
    pub fn spinlocks(&self) -> bench_results::schema::Spinlocks {
        self.spinlocks.clone()
    }

    /// Cumulative metrics since attach, cgroup ids resolved to paths.
    pub fn snapshot(&mut self) -> Result<bench_results::schema::Probes> {
        if let Some(l) = &mut self.log {
            l.drain();
        }
        read::snapshot(self)
    }

    /// Re-read cgroup names (call before cgroups are removed, so their ids keep their paths).
    pub fn refresh_cgroup_names(&mut self) {
        self.cg.refresh();
    }

    /// Spin slow-path cross-check: (contended waits timed by the primary hook on watched
    /// spinlocks, entries counted by the independent kprobe).
    pub fn spin_xcheck(&self) -> Result<Option<(u64, u64)>> {
        if !self.locks.spin_xcheck {
            return Ok(None);
        }
        let c = read::counters(&self.ebpf)?;
        let timed = read::lock_contended_total(&self.ebpf)?;
        let sleeping = c[bench_common::counter::SLEEP_CONTENDED as usize];
        Ok(Some((
            timed.saturating_sub(sleeping),
            c[bench_common::counter::SPIN_XCHECK as usize],
        )))
    }

    /// Raw cross-check counters: (primary shrink_memcg calls, independent kprobe count).
    pub fn shrink_memcg_xcheck(&self) -> Result<Option<(u64, u64)>> {
        if !self.live.xcheck {
            return Ok(None);
        }
        let c = read::counters(&self.ebpf)?;
        Ok(Some((
            c[bench_common::counter::SHRINK_MEMCG_CALLS as usize],
            c[bench_common::counter::SHRINK_MEMCG_CALLS_XCHECK as usize],
        )))
    }
}

/// Load-time globals from BTF and kallsyms.
struct Globals {
    v: Vec<(&'static str, u64)>,
    cursor_lock: Option<(u64, String)>,
    /// The global cursor lock's symbol (zswap_shrink_lock unless the names say otherwise).
    global_lock: String,
}

impl Globals {
    fn resolve(
        b: &KernelBtf,
        k: &Kallsyms,
        series: &profiles::Resolved,
        declared: Option<u32>,
    ) -> Self {
        let mut v = vec![];
        let mut set = |n: &'static str, x: Option<u64>| v.push((n, x.unwrap_or(0)));
        set(
            names::G_OFF_MEMCG_CSS,
            b.offset("mem_cgroup", &["css"]).ok(),
        );
        set(
            names::G_OFF_CSS_CGROUP,
            b.offset("cgroup_subsys_state", &["cgroup"]).ok(),
        );
        set(names::G_OFF_CGROUP_KN, b.offset("cgroup", &["kn"]).ok());
        set(names::G_OFF_KN_ID, b.offset("kernfs_node", &["id"]).ok());
        set(
            names::G_OFF_ENTRY_LRU,
            b.offset("zswap_entry", &["lru"]).ok(),
        );
        set(
            names::G_OFF_ENTRY_LENGTH,
            b.offset("zswap_entry", &["length"]).ok(),
        );
        let cursor_lock = series.memcg_lock(b);
        let global_lock = series.global_lock(|l| k.addr(l).is_some());
        set(
            names::G_OFF_MEMCG_CURSOR_LOCK,
            cursor_lock.as_ref().map(|(o, _)| *o),
        );
        set(
            names::G_LEARN_MEMCG_LOCKS,
            Some(cursor_lock.is_some() as u64),
        );
        set(
            names::G_RET32_SHRINK_MEMCG,
            Some(b.func(kfunc::SHRINK_MEMCG).is_none_or(|f| f.ret_size <= 4) as u64),
        );
        let proactive_ret = series.proactive.iter().find_map(|f| b.func(f));
        set(
            names::G_RET32_PROACTIVE,
            Some(proactive_ret.is_none_or(|f| f.ret_size <= 4) as u64),
        );
        // Absent enumerators map to a value no event has, so the filter never matches.
        for (g, item) in [
            (names::G_ITEM_ZSWPOUT, "ZSWPOUT"),
            (names::G_ITEM_ZSWPIN, "ZSWPIN"),
            (names::G_ITEM_ZSWPWB, "ZSWPWB"),
        ] {
            set(
                g,
                Some(
                    b.enum_value("vm_event_item", item)
                        .unwrap_or(u32::MAX as u64),
                ),
            );
        }
        set(
            names::G_LRU_REMOVED_RETRY,
            b.enum_value("lru_status", "LRU_REMOVED_RETRY").ok(),
        );
        set(names::G_ADDR_ROOT_MEMCG_PTR, k.addr(kfunc::ROOT_MEM_CGROUP));
        set(names::G_ADDR_SHRINK_WORKER, k.addr(kfunc::SHRINK_WORKER));
        set(names::G_ADDR_GLOBAL_CURSOR_LOCK, k.addr(&global_lock));
        set(names::G_DECLARED_CURSOR_LOCK, declared.map(u64::from));
        set(names::G_KVAR_TGID, Some(u64::from(std::process::id())));
        Globals {
            v,
            cursor_lock,
            global_lock,
        }
    }

    fn values(&self) -> impl Iterator<Item = (&'static str, &u64)> {
        self.v.iter().map(|(n, x)| (*n, x))
    }
}

/// Classic tracepoint fallbacks read fields at fixed offsets: check them against the
/// running kernel's format file, and say so if they moved.
fn tp_field_check(category: &str, name: &str, field: &str, offset: usize) -> Option<String> {
    let path = format!("/sys/kernel/tracing/events/{category}/{name}/format");
    let text = match std::fs::read_to_string(&path).or_else(|_| {
        std::fs::read_to_string(format!(
            "/sys/kernel/debug/tracing/events/{category}/{name}/format"
        ))
    }) {
        Ok(t) => t,
        Err(e) => return Some(format!("tracepoint {category}:{name}: {path}: {e}")),
    };
    let ok = text
        .lines()
        .any(|l| l.contains(&format!(" {field};")) && l.contains(&format!("offset:{offset};")));
    if ok {
        None
    } else {
        Some(format!(
            "tracepoint {category}:{name}: field {field} is not at offset {offset} on this kernel"
        ))
    }
}
