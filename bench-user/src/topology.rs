//! The host's CPU topology as sysfs and /proc describe it: which CPUs are online, and each one's
//! core, package and NUMA node, plus the CPU model. The VM layer sizes `--numa host` guests from
//! it; the matrix records it. Everything is read under a root directory, so tests run on a fake
//! sysfs tree. (No project imports: this reads files and nothing else.)
use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// One online CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuInfo {
    /// Logical CPU number (`cpuN`), what `sched_setaffinity` and QEMU pinning take.
    pub cpu: usize,
    /// `topology/core_id`: unique within its package only.
    pub core: u32,
    /// `topology/physical_package_id` (the socket).
    pub package: u32,
    /// The NUMA node whose `cpulist` holds it; 0 on kernels without NUMA.
    pub node: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    /// Online CPUs, ascending.
    pub cpus: Vec<CpuInfo>,
    /// `model name` of /proc/cpuinfo ("unknown" where the architecture has none).
    pub model: String,
}

impl Topology {
    /// This machine's topology.
    pub fn host() -> Result<Topology> {
        Topology::read(Path::new("/"))
    }

    /// The topology under `root` (`/` for the host): `sys/devices/system/cpu/online`,
    /// `.../cpuN/topology/{core_id,physical_package_id}`, `sys/devices/system/node/nodeN/cpulist`
    /// and `proc/cpuinfo`.
    pub fn read(root: &Path) -> Result<Topology> {
        let cpu_dir = root.join("sys/devices/system/cpu");
        let online = parse_cpulist(&read_trimmed(&cpu_dir.join("online"))?)
            .with_context(|| format!("{}/online", cpu_dir.display()))?;
        let node_of = node_map(&root.join("sys/devices/system/node"))?;
        let mut cpus = Vec::with_capacity(online.len());
        for cpu in online {
            let topo = cpu_dir.join(format!("cpu{cpu}/topology"));
            cpus.push(CpuInfo {
                cpu,
                core: read_number(&topo.join("core_id"))?,
                package: read_number(&topo.join("physical_package_id"))?,
                node: node_of.get(&cpu).copied().unwrap_or(0),
            });
        }
        let cpuinfo = std::fs::read_to_string(root.join("proc/cpuinfo")).unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Ok(Topology { cpus, model })
    }

    /// The NUMA nodes that hold online CPUs, ascending.
    pub fn nodes(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self.cpus.iter().map(|c| c.node).collect();
        set.into_iter().collect()
    }

    /// The NUMA nodes the given CPUs belong to, ascending (CPUs that are not online count for
    /// no node).
    pub fn nodes_of(&self, cpus: &[usize]) -> Vec<u32> {
        let set: BTreeSet<u32> = self
            .cpus
            .iter()
            .filter(|c| cpus.contains(&c.cpu))
            .map(|c| c.node)
            .collect();
        set.into_iter().collect()
    }

    /// One line for logs and reports: "8 CPUs, 4 cores, 1 package, 1 node: <model>".
    pub fn summary(&self) -> String {
        let cores: BTreeSet<(u32, u32)> = self.cpus.iter().map(|c| (c.package, c.core)).collect();
        let packages: BTreeSet<u32> = self.cpus.iter().map(|c| c.package).collect();
        let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
        format!(
            "{}, {}, {}, {}: {}",
            n(self.cpus.len(), "CPU"),
            n(cores.len(), "core"),
            n(packages.len(), "package"),
            n(self.nodes().len(), "node"),
            self.model
        )
    }
}

/// CPU -> node from every `nodeN/cpulist` under `dir`. Empty when the kernel has no NUMA
/// (no such directory): every CPU is then on node 0.
fn node_map(dir: &Path) -> Result<std::collections::BTreeMap<usize, u32>> {
    let mut map = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(map);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(node) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path = e.path().join("cpulist");
        let cpus =
            parse_cpulist(&read_trimmed(&path)?).with_context(|| format!("{}", path.display()))?;
        for cpu in cpus {
            map.insert(cpu, node);
        }
    }
    Ok(map)
}

fn read_trimmed(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_string())
}

fn read_number(path: &Path) -> Result<u32> {
    let s = read_trimmed(path)?;
    s.parse()
        .with_context(|| format!("{}: {s:?} is not a CPU topology id", path.display()))
}

/// A kernel CPU list ("0-3,8,10-11", or empty) -> the CPU numbers, ascending.
pub fn parse_cpulist(s: &str) -> Result<Vec<usize>> {
    let mut v = vec![];
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.trim()
                .parse::<usize>()
                .with_context(|| format!("{s:?}: {x:?} is not a CPU number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    bail!("{s:?}: range {part} runs backwards");
                }
                v.extend(a..=b);
            }
            None => v.push(num(part)?),
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// This machine's host name (a cluster node's, in a Slurm task).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The CPUs this process may run on (what QEMU inherits when it is not pinned).
pub fn own_affinity() -> Vec<u32> {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .map(|c| c as u32)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs: `cpus` as (cpu, core, package), `nodes` as (node, cpulist).
    fn fake(online: &str, cpus: &[(usize, u32, u32)], nodes: &[(u32, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let cpu = d.path().join("sys/devices/system/cpu");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::write(cpu.join("online"), format!("{online}\n")).unwrap();
        for (n, core, pkg) in cpus {
            let t = cpu.join(format!("cpu{n}/topology"));
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("core_id"), format!("{core}\n")).unwrap();
            std::fs::write(t.join("physical_package_id"), format!("{pkg}\n")).unwrap();
        }
        for (n, list) in nodes {
            let t = d.path().join(format!("sys/devices/system/node/node{n}"));
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("cpulist"), format!("{list}\n")).unwrap();
        }
        std::fs::create_dir_all(d.path().join("proc")).unwrap();
        std::fs::write(
            d.path().join("proc/cpuinfo"),
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fake CPU @ 2.00GHz\nflags\t\t: fpu\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn cpulists_parse_ranges_singles_and_empty() {
        assert_eq!(
            parse_cpulist("0-3,8,10-11\n").unwrap(),
            [0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_cpulist("0").unwrap(), [0]);
        assert!(parse_cpulist("").unwrap().is_empty());
        assert!(parse_cpulist("3-1").is_err());
        let e = parse_cpulist("0-x").unwrap_err().to_string();
        assert!(e.contains("\"x\" is not a CPU number"), "{e}");
    }

    #[test]
    fn two_sockets_two_nodes_with_an_offline_cpu() {
        // cpu3 is offline: it has no topology directory and must not be read.
        let d = fake(
            "0-2,4",
            &[(0, 0, 0), (1, 1, 0), (2, 0, 1), (4, 1, 1)],
            &[(0, "0-1"), (1, "2-4")],
        );
        let t = Topology::read(d.path()).unwrap();
        let got: Vec<(usize, u32, u32, u32)> = t
            .cpus
            .iter()
            .map(|c| (c.cpu, c.core, c.package, c.node))
            .collect();
        assert_eq!(
            got,
            [(0, 0, 0, 0), (1, 1, 0, 0), (2, 0, 1, 1), (4, 1, 1, 1)]
        );
        assert_eq!(t.model, "Fake CPU @ 2.00GHz");
        assert_eq!(t.nodes(), [0, 1]);
        assert_eq!(t.nodes_of(&[0, 1]), [0]);
        assert_eq!(t.nodes_of(&[1, 2]), [0, 1]);
        assert!(t.nodes_of(&[3]).is_empty(), "offline CPUs span no node");
        assert_eq!(
            t.summary(),
            "4 CPUs, 4 cores, 2 packages, 2 nodes: Fake CPU @ 2.00GHz"
        );
    }

    #[test]
    fn a_kernel_without_numa_puts_every_cpu_on_node_0() {
        let d = fake("0-1", &[(0, 0, 0), (1, 0, 0)], &[]);
        let t = Topology::read(d.path()).unwrap();
        assert_eq!(t.nodes(), [0]);
        assert_eq!(
            t.summary(),
            "2 CPUs, 1 core, 1 package, 1 node: Fake CPU @ 2.00GHz"
        );
    }

    #[test]
    fn a_missing_topology_file_is_named() {
        let d = fake("0-1", &[(0, 0, 0)], &[]);
        let e = format!("{:#}", Topology::read(d.path()).unwrap_err());
        assert!(e.contains("cpu1/topology/core_id"), "{e}");
    }

    #[test]
    fn this_host_reads() {
        let t = Topology::host().unwrap();
        assert!(!t.cpus.is_empty());
        assert!(!t.nodes().is_empty());
    }
}
