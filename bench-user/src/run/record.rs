//! What goes into a repeat's result file besides the raw snapshots: the kernel and scenario
//! identity, the workload's numbers over the measured window, per-thread proactive-writeback
//! records, probe counts over the window (with memcgs that churn removed named by their path),
//! and the cross-checks between memory.stat, the probes and independent kprobe counts.
use bench_results::schema::{
    self, KernelInfo, ProactiveInterface, ResultFile, ScenarioInfo, WorkerStats,
};
use nix::sys::utsname::UtsName;
use sha2::Digest;

use super::window::{Pair, Totals};
use crate::machine::cgroup::Tree;
use crate::scenario::Plan;
use crate::workload::counters;
use crate::workload::proactive;

pub fn kernel_info(mem_total: u64) -> KernelInfo {
    // uname(2) cannot fail with a valid buffer; empty fields are the fallback all the same.
    let u = nix::sys::utsname::uname().ok();
    let s = |f: fn(&UtsName) -> &std::ffi::OsStr| {
        u.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    KernelInfo {
        release: s(UtsName::release),
        version_string: s(UtsName::version),
        machine: s(UtsName::machine),
        config_sha256: None,
        manifest: None,
        series: None,
        cmdline: std::fs::read_to_string("/proc/cmdline")
            .unwrap_or_default()
            .trim()
            .to_string(),
        accel: schema::Accel::Host,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        mem_bytes: mem_total,
        spinlocks: None,
        host_cpus: None,
        numa_nodes: numa_nodes(),
    }
}

/// NUMA nodes online (`/sys/devices/system/node/online`); `None` on a kernel without NUMA.
fn numa_nodes() -> Option<u32> {
    let list = std::fs::read_to_string("/sys/devices/system/node/online").ok()?;
    let nodes = crate::topology::parse_cpulist(&list).ok()?;
    u32::try_from(nodes.len()).ok()
}

pub fn scenario_info(l: &Plan) -> ScenarioInfo {
    ScenarioInfo {
        name: l.name.clone(),
        sha256: hex::encode(sha2::Sha256::digest(l.text.as_bytes())),
        toml: l.text.clone(),
        params: l.params.clone(),
    }
}

/// The workload's numbers over the measured window.
pub(super) fn workload(
    tree: &Tree,
    start: &Totals,
    end: &Totals,
    duration_ns: u64,
    compressibility: Option<f64>,
) -> schema::Workload {
    schema::Workload {
        pages_touched: end.pages.saturating_sub(start.pages),
        major_faults: end.major_faults.saturating_sub(start.major_faults),
        duration_ns,
        per_worker: end
            .per_worker
            .iter()
            .zip(&start.per_worker)
            .map(|(a, b)| WorkerStats {
                cgroup: tree.cgroup_path(&a.0),
                pages_touched: a.1.saturating_sub(b.1),
                major_faults: a.2.saturating_sub(b.2),
            })
            .collect(),
        compressibility,
    }
}

/// Per-thread records; bytes achieved from memory.stat `zswpwb_proactive_b` when a thread is
/// the only one whose target overlaps that memcg (else the kernel number cannot be split).
pub(super) fn proactive_records(
    l: &Plan,
    tree: &Tree,
    c: &schema::Counters,
    recs: Vec<proactive::Recorder>,
    iface: ProactiveInterface,
) -> Vec<schema::ProactiveThread> {
    let mut recs = recs.into_iter();
    l.proactive_threads
        .iter()
        .map(|t| {
            let path = tree.cgroup_path(&t.target);
            let achieved = if super::load::alone_in_subtree(l, t) {
                c.memcg
                    .iter()
                    .find(|m| m.path == path)
                    .and_then(|m| m.stat_delta.get(proactive::WRITTEN_KEY))
                    .map(|&b| b.max(0) as u64)
            } else {
                None
            };
            // With no interface no thread ran: every thread is listed with zero calls.
            let rec = if iface == ProactiveInterface::None {
                proactive::Recorder::default()
            } else {
                recs.next().unwrap_or_default()
            };
            rec.into_schema(path, t.mode.as_str(), achieved)
        })
        .collect()
}

/// Probe counts and cross-checks from the start (`p0`) and end (`p1`) probe snapshots and the
/// kprobe pairs over the window; `churned` names the memcgs churn removed. Disagreeing
/// cross-checks are printed.
pub(super) fn probes(
    res: &mut ResultFile,
    p0: Option<schema::Probes>,
    p1: Option<schema::Probes>,
    xcheck: Pair,
    spin_xcheck: Pair,
    churned: &[(u64, String)],
) {
    let p0 = p0.map(|mut p| {
        name_removed(&mut p, churned);
        p
    });
    if let Some(mut p1) = p1 {
        name_removed(&mut p1, churned);
        // Counts over the measured window only, like the duration they are divided by.
        res.probes = match p0.as_ref() {
            Some(start) => crate::probes::window::measured(start, &p1),
            None => {
                res.warnings.push(
                    "no probe snapshot at the start of the measured phase: probe counts are \
                     since attach (probes.window = since_attach)"
                        .into(),
                );
                p1
            }
        };
        res.crosschecks =
            counters::crosscheck_writeback(&res.counters, res.probes.writeback.as_ref());
        let pairs = [
            ("shrink_memcg calls: fentry vs kprobe", xcheck),
            (
                "watched spinlock waits: slow-path waits timed vs kprobe entries",
                spin_xcheck,
            ),
        ];
        // A watched lock's slow-path wait whose entry program the BPF recursion guard skipped
        // (an interrupt on a CPU already running a program) is counted by the kprobe but cannot
        // be timed: it is a named loss (spin_unmatched), and the two counts agree only up to it.
        let spin_lost = res
            .probes
            .map_errors
            .get(bench_common::counter::problem_name(
                bench_common::counter::SPIN_UNMATCHED,
            ))
            .copied()
            .unwrap_or(0);
        for (i, (what, pair)) in pairs.into_iter().enumerate() {
            if let Some((primary, kprobe)) = pair {
                let lost = if i == 1 { spin_lost } else { 0 };
                let mut note =
                    "both over the measured window; 'kernel' holds the kprobe count".to_string();
                if lost > 0 {
                    note += &format!(
                        "; {lost} of the kprobe's entries are waits the timing program missed (lost events: spin_unmatched)"
                    );
                }
                res.crosschecks.push(schema::Crosscheck {
                    what: what.into(),
                    bpf: primary as i64,
                    kernel: kprobe as i64,
                    agree: primary.saturating_add(lost) == kprobe,
                    note,
                });
            }
        }
        for c in res.crosschecks.iter().filter(|c| !c.agree) {
            eprintln!(
                "crosscheck disagreement: {}: memory.stat {} vs BPF {} {}",
                c.what, c.kernel, c.bpf, c.note
            );
        }
    }
}

/// The workers that died during the run, as events: an OOM kill when the worker got SIGKILL
/// and its memcg's `memory.events` oom_kill count went up over the run, else a death.
pub(super) fn events(
    deaths: &[crate::workload::memory::Death],
    counters: &schema::Counters,
    tree: &Tree,
) -> Vec<schema::Event> {
    deaths
        .iter()
        .map(|d| {
            let ooms = counters
                .memcg
                .iter()
                .find(|m| m.path == tree.cgroup_path(&d.memcg))
                .and_then(|m| m.stat_delta.get("events.oom_kill").copied())
                .unwrap_or(0);
            let (kind, detail) = if d.sigkill && ooms > 0 {
                (
                    schema::EventKind::OomKill,
                    format!("SIGKILL; memory.events oom_kill +{ooms}"),
                )
            } else {
                (
                    schema::EventKind::ProcessDied,
                    format!("{}; memory.events oom_kill +{ooms}", d.how),
                )
            };
            schema::Event {
                kind,
                memcg: d.memcg.clone(),
                victim: format!("{} {} (pid {})", d.role, d.index, d.pid),
                detail,
            }
        })
        .collect()
}

/// Names probe entries of memcgs removed during the run ("cgroup#<id> (removed)") with the
/// path the churn thread created them under.
pub fn name_removed(p: &mut schema::Probes, churned: &[(u64, String)]) {
    let name = |id: u64, cur: &mut String| {
        if cur.starts_with("cgroup#")
            && let Some((_, path)) = churned.iter().find(|(i, _)| *i == id)
        {
            *cur = format!("{path} (removed)");
        }
    };
    if let Some(w) = p.writeback.as_mut() {
        w.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
    if let Some(s) = p.shrink_memcg.as_mut() {
        s.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
    if let Some(x) = p.proactive.as_mut() {
        x.per_memcg
            .iter_mut()
            .for_each(|m| name(m.cgroup_id, &mut m.cgroup));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_sigkilled_worker_is_an_oom_kill_only_when_its_memcg_counted_one() {
        let tree = Tree::new(std::path::Path::new("/sys/fs/cgroup"), "t");
        let death = |memcg: &str, sigkill| crate::workload::memory::Death {
            role: "worker",
            index: 0,
            pid: 7,
            memcg: memcg.into(),
            sigkill,
            how: "was killed by SIGKILL".into(),
        };
        let counters = schema::Counters {
            memcg: vec![
                schema::MemcgCounters {
                    path: "/zswap-bench-t/a".into(),
                    stat_delta: BTreeMap::from([("events.oom_kill".into(), 1)]),
                },
                schema::MemcgCounters {
                    path: "/zswap-bench-t/b".into(),
                    stat_delta: BTreeMap::from([("events.oom_kill".into(), 0)]),
                },
            ],
            ..Default::default()
        };
        let ev = events(
            &[death("a", true), death("b", true), death("a", false)],
            &counters,
            &tree,
        );
        let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
        use schema::EventKind::*;
        assert_eq!(kinds, [OomKill, ProcessDied, ProcessDied]);
        assert_eq!(
            (ev[0].memcg.as_str(), ev[0].victim.as_str()),
            ("a", "worker 0 (pid 7)")
        );
    }

    #[test]
    fn removed_memcgs_get_their_churn_path() {
        let mw = |c: &str, id| schema::MemcgWriteback {
            cgroup: c.into(),
            cgroup_id: id,
            pages: 3,
            bytes: None,
            by_source: BTreeMap::new(),
        };
        let mut p = schema::Probes {
            writeback: Some(schema::Writeback {
                point: "p".into(),
                pages: 6,
                bytes: None,
                per_memcg: vec![
                    mw("cgroup#208 (removed)", 208),
                    mw("/zb/steady", 94),
                    mw("cgroup#9 (removed)", 9),
                ],
                lru_status: BTreeMap::new(),
            }),
            ..Default::default()
        };
        name_removed(&mut p, &[(208, "/zb/churn/churn-3".into())]);
        let w = p.writeback.unwrap();
        assert_eq!(w.per_memcg[0].cgroup, "/zb/churn/churn-3 (removed)");
        assert!(crate::scenario::is_under(
            &w.per_memcg[0].cgroup,
            "/zb/churn"
        ));
        assert_eq!(w.per_memcg[1].cgroup, "/zb/steady");
        assert_eq!(w.per_memcg[2].cgroup, "cgroup#9 (removed)");
    }
}
