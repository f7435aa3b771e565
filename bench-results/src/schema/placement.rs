//! Where a VM run's guest ran on the host: which host CPUs its QEMU was allowed on, beside which
//! other cells, under which backend. Written by the host side after the guest is gone (the guest
//! cannot see any of it); read by the reports, which label runs that shared the host.
use serde::{Deserialize, Serialize};

/// How a cell was scheduled and pinned (see the README, "Running on a big machine or a cluster").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    /// "local" (`matrix`, `run --kernel`, `vm`) or "slurm" (a task of a `matrix --slurm` array).
    pub backend: String,
    /// Host name of the machine (or cluster node) that ran QEMU.
    pub host: String,
    /// Host CPUs QEMU and its vCPU threads were allowed on (its affinity), ascending.
    pub host_cpus: Vec<u32>,
    /// Who set that affinity: "zswap-bench" (the local backend pins each cell), "slurm" (the
    /// task's own allocation), or "none" (the whole machine).
    pub pinned_by: String,
    /// NUMA nodes of `host_cpus`.
    #[serde(default)]
    pub host_nodes: Vec<u32>,
    /// `model name` of the host CPU.
    pub host_cpu_model: String,
    /// QEMU's version, e.g. "10.0.2".
    pub qemu_version: String,
    /// Cells allowed to run at once (`--jobs`); `None` under Slurm, whose scheduler decides.
    #[serde(default)]
    pub jobs: Option<u32>,
    /// More vCPUs were running on the host than it has cores (`--overcommit`): waits of every
    /// cell include time its vCPUs were not running.
    #[serde(default)]
    pub overcommit: bool,
    /// The other cells that ran at any time during this one (their directory names); empty when
    /// it ran alone, `None` when unknown (Slurm may place other jobs on the node).
    #[serde(default)]
    pub beside: Option<Vec<String>>,
    /// `<job>_<task>` of a Slurm array task.
    #[serde(default)]
    pub slurm_task: Option<String>,
}

impl Placement {
    /// A label for runs whose numbers were measured while the host was shared, or `None`.
    pub fn shared_note(&self) -> Option<String> {
        if self.overcommit {
            return Some(format!(
                "overcommitted host ({} jobs at once on too few cores): lock waits include descheduled vCPUs",
                self.jobs.unwrap_or(0)
            ));
        }
        match &self.beside {
            Some(b) if !b.is_empty() => Some(format!(
                "ran beside {} other cell(s) on disjoint host CPUs {}",
                b.len(),
                cpu_list(&self.host_cpus)
            )),
            None if self.backend == "slurm" => {
                Some("ran as a Slurm task: other jobs may have shared the node".into())
            }
            _ => None,
        }
    }
}

/// "0-3,8,10-11": the kernel's cpulist format (as in `Cpus_allowed_list`).
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut v = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts = vec![];
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_written_in_the_kernels_format() {
        assert_eq!(cpu_list(&[3, 0, 1, 2, 8, 10, 11]), "0-3,8,10-11");
    }

    #[test]
    fn a_shared_host_is_labelled_and_a_lone_cell_is_not() {
        let mut p = Placement {
            backend: "local".into(),
            host_cpus: vec![0],
            beside: Some(vec![]),
            jobs: Some(2),
            ..Default::default()
        };
        assert_eq!(p.shared_note(), None);
        p.beside = Some(vec!["quick-baseline-r1".into()]);
        assert!(p.shared_note().unwrap().contains("beside 1 other cell"));
        p.overcommit = true;
        assert!(p.shared_note().unwrap().contains("overcommitted"));
        let s = Placement {
            backend: "slurm".into(),
            ..Default::default()
        };
        assert!(s.shared_note().unwrap().contains("Slurm"));
    }
}
