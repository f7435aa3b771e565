//! The local backend: the plan's cells on this machine, `--jobs N` at a time, each pinned to its
//! own host CPUs. Cells start in plan order (kernels interleaved and rotated per repeat round), so
//! running several at once changes which cells overlap, never which kernel gets the quiet slots.
//!
//! CPUs are handed out in units: whole cores (every hyperthread of a core goes to one cell, so no
//! two cells share a core's pipeline) while the cells fit on the cores; single hyperthreads only
//! when they do not; and, with `--overcommit` only, shared CPUs. A cell gets one NUMA node's CPUs
//! where one node has enough free.
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{Result, bail};
use bench_results::schema::Placement;

use super::cell::{Ended, Seat, run_cell};
use super::plan::MatrixPlan;
use crate::options::Jobs;
use crate::run::vm_cell::rewrite_results;
use crate::topology::{Topology, own_affinity};

/// A unit of host CPUs handed to one cell: a whole core, or one hyperthread.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    cpus: Vec<usize>,
    node: u32,
}

/// The host CPUs cells are placed on.
#[derive(Debug)]
pub struct Cpus {
    units: Vec<Unit>,
    free: Vec<bool>,
    /// `--overcommit` beyond the host: units are shared, handed out round-robin.
    shared: bool,
    next: usize,
}

impl Cpus {
    /// Units for `jobs` cells of at most `max_cpus` vCPUs on the `allowed` CPUs of `topo`;
    /// refused when they do not fit, unless `overcommit`.
    pub fn new(
        topo: &Topology,
        allowed: &[u32],
        jobs: u32,
        max_cpus: u32,
        overcommit: bool,
    ) -> Result<Cpus> {
        let mut mine: Vec<_> = topo
            .cpus
            .iter()
            .filter(|c| allowed.is_empty() || allowed.contains(&(c.cpu as u32)))
            .cloned()
            .collect();
        // Siblings of a core side by side, nodes in order.
        mine.sort_by_key(|c| (c.node, c.package, c.core, c.cpu));
        let mut cores: Vec<((u32, u32, u32), Unit)> = vec![];
        for c in &mine {
            let key = (c.node, c.package, c.core);
            match cores.last_mut() {
                Some((k, u)) if *k == key => u.cpus.push(c.cpu),
                _ => cores.push((
                    key,
                    Unit {
                        cpus: vec![c.cpu],
                        node: c.node,
                    },
                )),
            }
        }
        let cores: Vec<Unit> = cores.into_iter().map(|(_, u)| u).collect();
        let threads: Vec<Unit> = mine
            .iter()
            .map(|c| Unit {
                cpus: vec![c.cpu],
                node: c.node,
            })
            .collect();
        let need = u64::from(jobs) * u64::from(max_cpus);
        let (units, shared) = if jobs == 1 || need <= cores.len() as u64 {
            (cores, false)
        } else if need <= threads.len() as u64 {
            (threads, false)
        } else if overcommit {
            (threads, true)
        } else {
            bail!(
                "--jobs {jobs} × {max_cpus} vCPUs = {need} vCPUs, but this machine gives us {} cores ({} hardware threads): cells would share CPUs, and their lock waits would include time their vCPUs were descheduled; fix: --jobs {} (or auto), or --overcommit to run anyway (results and reports are labelled)",
                cores.len(),
                threads.len(),
                (threads.len() as u32 / max_cpus.max(1)).max(1)
            );
        };
        if units.is_empty() {
            bail!("no online host CPU is allowed to this process: check its affinity (taskset -p)");
        }
        Ok(Cpus {
            free: vec![true; units.len()],
            units,
            shared,
            next: 0,
        })
    }

    /// How many cells of `max_cpus` vCPUs fit on whole cores at once (`--jobs auto`).
    pub fn auto_jobs(topo: &Topology, allowed: &[u32], max_cpus: u32) -> u32 {
        let probe = Cpus::new(topo, allowed, 1, 1, false);
        let cores = probe.map_or(1, |c| c.units.len() as u32);
        (cores / max_cpus.max(1)).max(1)
    }

    pub fn overcommitted(&self) -> bool {
        self.shared
    }

    /// Units for a cell of `n` vCPUs: from one node if one has enough free, else from any; all
    /// units when `n` exceeds them (the cell alone is then overcommitted). `None`: wait.
    fn take(&mut self, n: u32) -> Option<Vec<usize>> {
        let n = (n as usize).min(self.units.len());
        if self.shared {
            let v: Vec<usize> = (0..n).map(|k| (self.next + k) % self.units.len()).collect();
            self.next = (self.next + n) % self.units.len();
            return Some(v);
        }
        let free: Vec<usize> = (0..self.units.len()).filter(|&u| self.free[u]).collect();
        if free.len() < n {
            return None;
        }
        let mut nodes: Vec<u32> = free.iter().map(|&u| self.units[u].node).collect();
        nodes.dedup();
        let pick = nodes
            .iter()
            .map(|&node| {
                free.iter()
                    .copied()
                    .filter(|&u| self.units[u].node == node)
                    .collect::<Vec<_>>()
            })
            .find(|on_node| on_node.len() >= n)
            .unwrap_or(free);
        let v: Vec<usize> = pick.into_iter().take(n).collect();
        for &u in &v {
            self.free[u] = false;
        }
        Some(v)
    }

    fn give_back(&mut self, units: &[usize]) {
        for &u in units {
            self.free[u] = true;
        }
    }

    fn cpus_of(&self, units: &[usize]) -> Vec<usize> {
        let mut v: Vec<usize> = units
            .iter()
            .flat_map(|&u| self.units[u].cpus.clone())
            .collect();
        v.sort_unstable();
        v
    }
}

/// When a started cell ran: its start, and its end once it ended. Cells start in plan order,
/// so `intervals[i]` is cell `i`'s.
type Interval = (Instant, Option<Instant>);

struct State {
    next: usize,
    cpus: Cpus,
    intervals: Vec<Interval>,
    status: Vec<serde_json::Value>,
    failed: Vec<String>,
}

/// The host CPUs for `jobs` cells of at most `max_cpus` vCPUs, and the resolved job count;
/// refused (before any kernel is built or guest booted) when they do not fit.
pub fn place(jobs: Jobs, max_cpus: u32, overcommit: bool) -> Result<(Cpus, u32)> {
    let topo = Topology::host()?;
    let allowed = own_affinity();
    let jobs = match jobs {
        Jobs::N(n) => n,
        Jobs::Auto => Cpus::auto_jobs(&topo, &allowed, max_cpus),
    };
    Ok((
        Cpus::new(&topo, &allowed, jobs, max_cpus, overcommit)?,
        jobs,
    ))
}

/// Runs every cell of `plan` in `out`, `jobs` at a time. Returns the failed cells, described.
pub fn run(plan: &MatrixPlan, out: &Path, jobs: Jobs, overcommit: bool) -> Result<Vec<String>> {
    let (cpus, jobs) = place(jobs, plan.max_cpus(), overcommit)?;
    if jobs > 1 {
        eprintln!(
            "matrix {}: {jobs} cells at a time, each pinned to its own host CPUs{}",
            plan.name,
            if cpus.overcommitted() {
                " (overcommitted: CPUs are shared)"
            } else {
                ""
            }
        );
    }
    let state = Mutex::new(State {
        next: 0,
        cpus,
        intervals: vec![],
        status: vec![],
        failed: vec![],
    });
    let wake = Condvar::new();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(plan.cells.len() as u32) {
            s.spawn(|| worker(plan, out, jobs, &state, &wake, t0));
        }
    });
    let st = state.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(st.failed)
}

/// Takes the next cell in plan order once its CPUs are free, runs it, gives them back.
fn worker(
    plan: &MatrixPlan,
    out: &Path,
    jobs: u32,
    state: &Mutex<State>,
    wake: &Condvar,
    t0: Instant,
) {
    loop {
        let (i, units, seat) = {
            let mut st = lock(state);
            let (i, units) = loop {
                if st.next >= plan.cells.len() {
                    return;
                }
                let need = plan.blocks[plan.cells[st.next].block].cpus;
                if let Some(u) = st.cpus.take(need) {
                    break (st.next, u);
                }
                st = wake.wait(st).unwrap_or_else(|p| p.into_inner());
            };
            st.next += 1;
            st.intervals.push((Instant::now(), None));
            let pin = st.cpus.cpus_of(&units);
            let cell_cpus = plan.blocks[plan.cells[i].block].cpus as usize;
            let placement = Placement {
                backend: "local".into(),
                pinned_by: "zswap-bench".into(),
                jobs: Some(jobs),
                overcommit: st.cpus.overcommitted() || (jobs > 1 && cell_cpus > pin.len()),
                ..Default::default()
            };
            let left = if i == 0 {
                "?".to_string()
            } else {
                let per = t0.elapsed().as_secs_f64() / i as f64;
                format!("{:.0} min", per * (plan.cells.len() - i) as f64 / 60.0)
            };
            eprintln!(
                "== matrix cell {}/{} ({left} left): {}, host CPUs {}",
                i + 1,
                plan.cells.len(),
                plan.describe(i),
                bench_results::schema::cpu_list(&pin.iter().map(|&c| c as u32).collect::<Vec<_>>())
            );
            (
                i,
                units,
                Seat {
                    pin: Some(pin),
                    placement,
                },
            )
        };
        let r = run_cell(plan, out, i, &seat);
        let mut st = lock(state);
        st.cpus.give_back(&units);
        let end = Instant::now();
        let me = &plan.cells[i].dir;
        let start = st.intervals[i].0;
        let beside: Vec<String> = st
            .intervals
            .iter()
            .enumerate()
            .filter(|(k, (s, e))| *k != i && *s < end && e.is_none_or(|e| e > start))
            .map(|(k, _)| plan.cells[k].dir.clone())
            .collect();
        st.intervals[i].1 = Some(end);
        let dir = out.join(me);
        match &r {
            Ok(Ended::Ran(_)) => {
                if let Err(e) = rewrite_results(&dir, |f| {
                    if let Some(p) = f.placement.as_mut() {
                        p.beside = Some(beside.clone());
                    }
                }) {
                    eprintln!("zswap-bench: could not record which cells ran beside {me}: {e:#}");
                }
            }
            Ok(Ended::Kept(_)) => {
                eprintln!("   done in an earlier attempt: kept ({})", dir.display())
            }
            Err(e) => {
                eprintln!("zswap-bench: cell failed (continuing): {e:#}");
                st.failed
                    .push(format!("{me} ({}): {e:#}", plan.describe(i)));
            }
        }
        let b = &plan.blocks[plan.cells[i].block];
        st.status.push(serde_json::json!({
            "kernel": plan.kernels[plan.cells[i].kernel].arg, "scenario": b.scenario_name,
            "cpus": b.cpus, "repeat": plan.cells[i].repeat, "dir": dir,
            "ok": r.is_ok(), "error": r.as_ref().err().map(|e| format!("{e:#}")),
            "host_cpus": seat.pin, "beside": beside,
            "started_unix_ms": unix_ms() - end.duration_since(start).as_millis() as u64,
            "ended_unix_ms": unix_ms(),
        }));
        let status = serde_json::to_vec_pretty(&st.status).unwrap_or_default();
        if let Err(e) = bench_results::schema::write_file_atomic(out, "matrix.json", &status) {
            eprintln!("zswap-bench: writing matrix.json: {e:#}");
        }
        drop(st);
        wake.notify_all();
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::CpuInfo;

    /// 2 nodes × 2 cores × 2 threads: CPUs 0-3 on node 0 (0/1 and 2/3 siblings), 4-7 on node 1.
    fn smt_host() -> Topology {
        let cpus = (0..8)
            .map(|c| CpuInfo {
                cpu: c,
                core: (c / 2) as u32,
                package: 0,
                node: (c / 4) as u32,
            })
            .collect();
        Topology {
            cpus,
            model: "test".into(),
        }
    }

    #[test]
    fn whole_cores_first_one_node_per_cell_and_disjoint() {
        let mut c = Cpus::new(&smt_host(), &[], 2, 2, false).unwrap();
        assert!(!c.overcommitted());
        let a = c.take(2).unwrap();
        assert_eq!(c.cpus_of(&a), [0, 1, 2, 3], "two whole cores of node 0");
        let b = c.take(2).unwrap();
        assert_eq!(c.cpus_of(&b), [4, 5, 6, 7], "the next cell gets node 1");
        assert_eq!(c.take(1), None, "a third cell waits");
        c.give_back(&a);
        assert_eq!(
            {
                let u = c.take(1).unwrap();
                c.cpus_of(&u)
            },
            [0, 1]
        );
    }

    #[test]
    fn hyperthreads_only_when_cores_run_out_and_beyond_that_refused_or_shared() {
        // 4 cells × 2 vCPUs = 8 > 4 cores: hyperthreads, siblings together.
        let mut c = Cpus::new(&smt_host(), &[], 4, 2, false).unwrap();
        assert_eq!(
            {
                let u = c.take(2).unwrap();
                c.cpus_of(&u)
            },
            [0, 1]
        );
        let e = Cpus::new(&smt_host(), &[], 5, 2, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--jobs 5 × 2 vCPUs = 10 vCPUs") && e.contains("--overcommit"),
            "{e}"
        );
        assert!(e.contains("fix: --jobs 4"), "{e}");
        let mut o = Cpus::new(&smt_host(), &[], 5, 2, true).unwrap();
        assert!(o.overcommitted());
        for _ in 0..5 {
            assert!(o.take(2).is_some(), "shared CPUs never make a cell wait");
        }
    }

    #[test]
    fn a_process_confined_by_its_affinity_places_only_on_its_cpus() {
        let mut c = Cpus::new(&smt_host(), &[4, 5, 6, 7], 2, 1, false).unwrap();
        assert_eq!(
            {
                let u = c.take(1).unwrap();
                c.cpus_of(&u)
            },
            [4, 5]
        );
        assert_eq!(Cpus::auto_jobs(&smt_host(), &[], 2), 2);
        assert_eq!(Cpus::auto_jobs(&smt_host(), &[], 1), 4);
        assert_eq!("auto".parse::<Jobs>(), Ok(Jobs::Auto));
        assert!("0".parse::<Jobs>().unwrap_err().contains("whole number"));
    }
}
