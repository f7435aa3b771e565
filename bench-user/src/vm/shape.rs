//! Whether a guest shape can boot, decided before anything boots (or builds), and the QEMU
//! arguments that give a guest its NUMA nodes.
use anyhow::{Context, Result, bail};

use crate::options::{GuestShape, NumaMode};
use crate::topology::Topology;

/// QEMU's pc machine (i440fx, the one we boot) takes at most this many vCPUs: its xAPIC ids
/// are 8 bits and 255 is the broadcast id.
pub const QEMU_PC_MAX_CPUS: u32 = 255;

/// Linux ignores NUMA nodes of less than 4 MiB, and each node's own structures (page tables,
/// per-node LRU and memcg state) take more than that: a node smaller than this would leave
/// the guest with fewer nodes than asked.
const MIN_NODE_MIB: u64 = 16;

/// What can be checked without the kernel: every NUMA node gets a vCPU.
pub fn check_numa(shape: &GuestShape) -> Result<()> {
    if let NumaMode::Nodes(n) = shape.numa
        && n > shape.cpus
    {
        bail!(
            "--numa {n} with --cpus {}: every guest NUMA node needs at least one vCPU; fix: use --numa {} or fewer, or --cpus {n} or more",
            shape.cpus,
            shape.cpus
        );
    }
    Ok(())
}

/// `cpus` vCPUs against the kernel's CONFIG_NR_CPUS (`None`: not known) and QEMU's pc machine.
/// A kernel brings up at most NR_CPUS of them and runs with the rest missing, so a result would
/// be filed under a vCPU count it did not have.
pub fn check_cpus(cpus: u32, kernel: &str, nr_cpus: Option<u32>) -> Result<()> {
    let over_kernel = nr_cpus.filter(|&n| cpus > n);
    let over_qemu = cpus > QEMU_PC_MAX_CPUS;
    let most = nr_cpus.unwrap_or(u32::MAX).min(QEMU_PC_MAX_CPUS);
    match (over_kernel, over_qemu) {
        (Some(n), true) => bail!(
            "--cpus {cpus}: kernel {kernel} was built with CONFIG_NR_CPUS={n} and QEMU's pc machine boots at most {QEMU_PC_MAX_CPUS} vCPUs; fix: use --cpus {most} or fewer"
        ),
        (Some(n), false) => bail!(
            "--cpus {cpus}: kernel {kernel} was built with CONFIG_NR_CPUS={n}, so it would bring up only {n} of them; fix: use --cpus {most} or fewer, or build a kernel with a larger CONFIG_NR_CPUS (kernels/config/guest.config)"
        ),
        (None, true) => bail!(
            "--cpus {cpus}: QEMU's pc machine boots at most {QEMU_PC_MAX_CPUS} vCPUs; fix: use --cpus {most} or fewer"
        ),
        (None, false) => Ok(()),
    }
}

/// The guest's NUMA node count (0: no NUMA description). `Host` counts the host nodes of the
/// CPUs QEMU is pinned to (all of the host's when unpinned), at most one node per vCPU.
pub fn guest_nodes(
    shape: &GuestShape,
    pin: Option<&[usize]>,
    host: impl FnOnce() -> Result<Topology>,
) -> Result<u32> {
    match shape.numa {
        NumaMode::Off => Ok(0),
        NumaMode::Nodes(n) => Ok(n),
        NumaMode::Host => {
            let t = host().context("--numa host: reading the host's CPU topology")?;
            let nodes = match pin {
                Some(p) => t.nodes_of(p),
                None => t.nodes(),
            };
            let n = u32::try_from(nodes.len())
                .unwrap_or(u32::MAX)
                .clamp(1, shape.cpus);
            log::info!(
                "--numa host: {n} guest node(s) for host node(s) {nodes:?} (host: {})",
                t.summary()
            );
            Ok(n)
        }
    }
}

/// QEMU's `-smp` value for `cpus` vCPUs in `nodes` NUMA nodes (0: no NUMA). With nodes, each
/// node is whole sockets, as on a real host: a socket's cores share the last-level cache, and
/// a cache shared across nodes makes Linux warn at boot (topology_sane: "llc-sibling ... is not
/// on the same node"), which fails the run as kernel trouble. Nodes that split the vCPUs evenly
/// are one socket each (cores sharing a cache within the node); otherwise every vCPU is a
/// socket of its own.
pub fn smp_arg(nodes: u32, cpus: u32) -> String {
    if nodes == 0 {
        return cpus.to_string();
    }
    let sockets = if cpus.is_multiple_of(nodes) {
        nodes
    } else {
        cpus
    };
    format!(
        "{cpus},sockets={sockets},cores={},threads=1",
        cpus / sockets
    )
}

/// QEMU arguments for `nodes` guest NUMA nodes (none for 0): one RAM backend and one node per
/// guest node, the backends summing exactly to the `-m` size (`mem_mib`), vCPUs in contiguous
/// ranges, both split as evenly as they go (the first nodes take the remainder).
pub fn numa_args(nodes: u32, cpus: u32, mem_mib: u64) -> Result<Vec<String>> {
    if nodes == 0 {
        return Ok(vec![]);
    }
    if nodes > cpus {
        bail!("{nodes} NUMA nodes for {cpus} vCPUs: every node needs a vCPU; fix: fewer nodes");
    }
    if mem_mib < MIN_NODE_MIB * u64::from(nodes) {
        bail!(
            "{nodes} NUMA nodes in {mem_mib} MiB: each node needs at least {MIN_NODE_MIB} MiB, or Linux leaves it out; fix: use --mem {}M or more, or fewer nodes",
            MIN_NODE_MIB * u64::from(nodes)
        );
    }
    let mut args = vec![];
    let mut first_cpu = 0;
    for i in 0..nodes {
        let mib = mem_mib / u64::from(nodes) + u64::from(u64::from(i) < mem_mib % u64::from(nodes));
        let n_cpus = cpus / nodes + u32::from(i < cpus % nodes);
        let last_cpu = first_cpu + n_cpus - 1;
        let range = if n_cpus == 1 {
            first_cpu.to_string()
        } else {
            format!("{first_cpu}-{last_cpu}")
        };
        args.push("-object".into());
        args.push(format!("memory-backend-ram,id=m{i},size={}", mib << 20));
        args.push("-numa".into());
        args.push(format!("node,nodeid={i},cpus={range},memdev=m{i}"));
        first_cpu = last_cpu + 1;
    }
    Ok(args)
}

/// What `vm --mem` and `--swap` ask of the host, before boot (and before a build): a guest
/// memory above the host's RAM boots under TCG, which allocates as the guest touches it, and is
/// OOM-killed (or drives the host into swap) in the middle of its command; a swap disk above the
/// temporary directory's free space fails on the guest's first writes to it. `None` facts
/// (not readable) are not checked.
pub fn check_room(mem: u64, swap: u64, host_mem: Option<u64>, tmp_free: Option<u64>) -> Result<()> {
    use bench_results::human::fmt_bytes;
    let mut problems = vec![];
    if let Some(host) = host_mem
        && mem > host
    {
        // The host's own figure on a line of its own: the first line reads the same on every
        // machine.
        problems.push(format!(
            "--mem {} is more than this host's RAM; fix: use a smaller --mem\n    this host has {} (--mem {}M at most)",
            fmt_bytes(mem),
            fmt_bytes(host),
            host >> 20
        ));
    }
    if let Some(free) = tmp_free
        && swap > free
    {
        problems.push(format!(
            "--swap {} is more than the free space of the temporary directory, where the swap disk is made; fix: use a smaller --swap, or point TMPDIR at a file system with room\n    free there: {}",
            fmt_bytes(swap),
            fmt_bytes(free)
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n  "));
    }
    Ok(())
}

/// The host's MemTotal in bytes.
pub fn host_mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (backend sizes in bytes, node cpu ranges) of a split.
    fn split(nodes: u32, cpus: u32, mem_mib: u64) -> (Vec<u64>, Vec<String>) {
        let a = numa_args(nodes, cpus, mem_mib).unwrap();
        let mut sizes = vec![];
        let mut ranges = vec![];
        for pair in a.chunks(2) {
            match pair[0].as_str() {
                "-object" => sizes.push(
                    pair[1]
                        .rsplit_once("size=")
                        .unwrap()
                        .1
                        .parse::<u64>()
                        .unwrap(),
                ),
                "-numa" => ranges.push(
                    pair[1]
                        .split(',')
                        .find_map(|f| f.strip_prefix("cpus="))
                        .unwrap()
                        .to_string(),
                ),
                other => panic!("unexpected {other}"),
            }
        }
        (sizes, ranges)
    }

    #[test]
    fn two_nodes_split_cpus_and_memory_evenly() {
        let a = numa_args(2, 4, 2048).unwrap();
        assert_eq!(
            a,
            [
                "-object",
                "memory-backend-ram,id=m0,size=1073741824",
                "-numa",
                "node,nodeid=0,cpus=0-1,memdev=m0",
                "-object",
                "memory-backend-ram,id=m1,size=1073741824",
                "-numa",
                "node,nodeid=1,cpus=2-3,memdev=m1",
            ]
        );
    }

    #[test]
    fn uneven_splits_give_the_remainder_to_the_first_nodes_and_sum_exactly() {
        let (sizes, ranges) = split(3, 7, 1000);
        assert_eq!(sizes.iter().sum::<u64>(), 1000 << 20, "sums to -m exactly");
        assert_eq!(sizes, [334 << 20, 333 << 20, 333 << 20]);
        assert_eq!(ranges, ["0-2", "3-4", "5-6"]);
        // One vCPU per node: single CPUs, contiguous and complete.
        let (sizes, ranges) = split(4, 4, 4099);
        assert_eq!(sizes.iter().sum::<u64>(), 4099 << 20);
        assert_eq!(ranges, ["0", "1", "2", "3"]);
    }

    #[test]
    fn off_means_no_numa_arguments() {
        assert!(numa_args(0, 8, 2048).unwrap().is_empty());
        assert_eq!(smp_arg(0, 8), "8");
    }

    #[test]
    fn no_socket_spans_two_nodes() {
        // Even: a socket per node, its cores (QEMU numbers them socket by socket) the node's.
        assert_eq!(smp_arg(2, 4), "4,sockets=2,cores=2,threads=1");
        assert_eq!(smp_arg(1, 6), "6,sockets=1,cores=6,threads=1");
        // Uneven (nodes of 3, 2 and 2 vCPUs): no socket layout fits, so a socket per vCPU.
        assert_eq!(smp_arg(3, 7), "7,sockets=7,cores=1,threads=1");
    }

    #[test]
    fn impossible_splits_are_refused_with_the_fix() {
        let e = numa_args(4, 2, 2048).unwrap_err().to_string();
        assert!(e.contains("every node needs a vCPU"), "{e}");
        let e = numa_args(4, 4, 32).unwrap_err().to_string();
        assert!(
            e.contains("at least 16 MiB") && e.contains("--mem 64M"),
            "{e}"
        );
    }

    #[test]
    fn more_cpus_than_the_kernel_takes_is_refused_naming_both_numbers() {
        // A kernel as the cache keeps it: its .config beside the bzImage.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("bzImage"), "not booted").unwrap();
        std::fs::write(
            d.path().join("config"),
            "CONFIG_SMP=y\nCONFIG_NR_CPUS=256\n",
        )
        .unwrap();
        let k = crate::kernel::BuiltKernel::from_image(&d.path().join("bzImage"));
        let nr = k.nr_cpus().unwrap();
        assert_eq!(nr, Some(256));
        let e = check_cpus(300, "baseline", nr).unwrap_err().to_string();
        assert_eq!(
            e,
            "--cpus 300: kernel baseline was built with CONFIG_NR_CPUS=256 and QEMU's pc machine boots at most 255 vCPUs; fix: use --cpus 255 or fewer"
        );
        let e = check_cpus(16, "small", Some(8)).unwrap_err().to_string();
        assert!(
            e.starts_with("--cpus 16: kernel small was built with CONFIG_NR_CPUS=8,")
                && e.contains("fix: use --cpus 8 or fewer"),
            "{e}"
        );
        let e = check_cpus(256, "baseline", Some(256))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at most 255 vCPUs") && !e.contains("NR_CPUS"),
            "{e}"
        );
        let e = check_cpus(300, "bzImage", None).unwrap_err().to_string();
        assert!(e.contains("QEMU's pc machine boots at most 255"), "{e}");
        check_cpus(255, "baseline", Some(256)).unwrap();
        check_cpus(8, "small", Some(8)).unwrap();
        check_cpus(64, "unknown", None).unwrap();
    }

    #[test]
    fn numa_nodes_need_a_vcpu_each() {
        let shape = |cpus, numa| GuestShape {
            cpus,
            numa,
            ..Default::default()
        };
        let e = check_numa(&shape(2, NumaMode::Nodes(4)))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--numa 4 with --cpus 2:") && e.contains("fix:"),
            "{e}"
        );
        check_numa(&shape(4, NumaMode::Nodes(4))).unwrap();
        check_numa(&shape(1, NumaMode::Host)).unwrap();
    }

    #[test]
    fn host_numa_counts_the_nodes_of_the_pinned_cpus_capped_at_the_vcpus() {
        use crate::topology::CpuInfo;
        let topo = || {
            Ok(Topology {
                cpus: (0..8)
                    .map(|cpu| CpuInfo {
                        cpu,
                        core: cpu as u32 % 4,
                        package: cpu as u32 / 4,
                        node: cpu as u32 / 2,
                    })
                    .collect(),
                model: "test".into(),
            })
        };
        let host = GuestShape {
            cpus: 8,
            numa: NumaMode::Host,
            ..Default::default()
        };
        assert_eq!(guest_nodes(&host, None, topo).unwrap(), 4);
        assert_eq!(guest_nodes(&host, Some(&[0, 1, 2]), topo).unwrap(), 2);
        let two = GuestShape { cpus: 2, ..host };
        assert_eq!(guest_nodes(&two, None, topo).unwrap(), 2, "capped at vCPUs");
        let off = GuestShape::default();
        assert_eq!(guest_nodes(&off, None, topo).unwrap(), 0);
        let three = GuestShape {
            numa: NumaMode::Nodes(3),
            ..host
        };
        assert_eq!(guest_nodes(&three, None, topo).unwrap(), 3);
    }

    #[test]
    fn the_host_must_hold_the_guest_memory_and_its_swap_disk() {
        let g = 1u64 << 30;
        assert!(check_room(2 * g, 2 * g, Some(4 * g), Some(10 * g)).is_ok());
        assert!(
            check_room(2 * g, 2 * g, None, None).is_ok(),
            "unknown facts pass"
        );
        let e = check_room(8 * g, 2 * g, Some(4 * g), Some(g))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--mem 8.0 GiB is more than this host's RAM"),
            "{e}"
        );
        assert!(
            e.contains("this host has 4.0 GiB (--mem 4096M at most)"),
            "{e}"
        );
        assert!(
            e.contains("--swap 2.0 GiB is more than the free space"),
            "{e}"
        );
        assert!(e.contains("free there: 1.0 GiB"), "{e}");
        assert!(host_mem_total().is_some_and(|m| m > 0));
    }
}
