//! Domain options the command line turns into: what a guest looks like (vCPUs, accelerator,
//! spinlock implementation, NUMA nodes). The CLI (`cli.rs`) only declares arguments; the VM layer and the
//! runner take these types, so `run`, `vm` and `matrix` agree on one meaning of each flag.
//!
//! The accelerator is `bench_results::schema::Accel` itself: the type the result file records,
//! parsed from the command line through bench-results' `clap` feature, so there is no second
//! copy to keep in step.
pub use bench_results::schema::Accel;

/// How guest spinlocks behave. A guest that sees the hypervisor CPUID bit and has no paravirt
/// spinlocks turns every spinlock into an unfair test-and-set loop (`virt_spin_lock()`), which
/// contends differently from the queued spinlocks of the machines users deploy on.
#[derive(
    clap::ValueEnum,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SpinlockMode {
    /// Hide the hypervisor CPUID bit: native queued spinlocks.
    #[default]
    Native,
    /// Show it: virt test-and-set spinlocks.
    Virt,
}

impl SpinlockMode {
    /// QEMU `-cpu` model for a resolved accelerator: KVM passes the host CPU through, TCG
    /// emulates the richest model it has.
    pub fn cpu_model(self, accel: Accel) -> String {
        let base = if accel == Accel::Kvm { "host" } else { "max" };
        match self {
            SpinlockMode::Native => format!("{base},-hypervisor"),
            SpinlockMode::Virt => base.to_string(),
        }
    }
}

/// NUMA nodes of a guest. zswap's pools, the LRU lists and memcg's per-node state are per
/// node, so a guest with one node hides what a big host's nodes do to reclaim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumaMode {
    /// No NUMA description: the guest has one node.
    #[default]
    Off,
    /// This many nodes, vCPUs and memory split evenly between them.
    Nodes(u32),
    /// As many nodes as the host nodes QEMU's CPUs are on (all of the host's when QEMU is not
    /// pinned), at most one per vCPU; resolved by the VM layer.
    Host,
}

impl std::str::FromStr for NumaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NumaMode::parse(s)
    }
}

impl NumaMode {
    /// Most nodes `--numa N` takes: beyond this QEMU and the guest work, but no host we target
    /// has more and every node needs memory of its own.
    pub const MAX_NODES: u32 = 64;

    /// `--numa off|host|N` (clap's value parser). Whether N fits the vCPUs is checked with the
    /// whole shape, before boot.
    pub fn parse(s: &str) -> Result<NumaMode, String> {
        match s {
            "off" => Ok(NumaMode::Off),
            "host" => Ok(NumaMode::Host),
            n => match n.parse::<u32>() {
                Ok(k) if (1..=Self::MAX_NODES).contains(&k) => Ok(NumaMode::Nodes(k)),
                Ok(k) => Err(format!(
                    "{k} NUMA nodes: use 1 to {} (or off, or host)",
                    Self::MAX_NODES
                )),
                Err(_) => Err(format!(
                    "{n:?}: expected off, host or a node count (1 to {})",
                    Self::MAX_NODES
                )),
            },
        }
    }
}

impl std::fmt::Display for NumaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumaMode::Off => f.write_str("off"),
            NumaMode::Nodes(n) => write!(f, "{n}"),
            NumaMode::Host => f.write_str("host"),
        }
    }
}

/// The guest a run boots: the same flags mean the same thing for `vm`, `run --kernel` and each
/// matrix cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestShape {
    pub cpus: u32,
    /// As asked (`Auto` allowed); the VM layer resolves it.
    pub accel: Accel,
    pub spinlocks: SpinlockMode,
    /// As asked (`Host` allowed); the VM layer resolves it.
    pub numa: NumaMode,
}

impl Default for GuestShape {
    fn default() -> Self {
        GuestShape {
            cpus: 2,
            accel: Accel::Auto,
            spinlocks: SpinlockMode::Native,
            numa: NumaMode::Off,
        }
    }
}

/// `--jobs`: a number of cells at once, or as many as fit on the host's cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jobs {
    N(u32),
    Auto,
}

impl std::str::FromStr for Jobs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Jobs::Auto),
            n => match n.parse::<u32>() {
                Ok(k @ 1..=1024) => Ok(Jobs::N(k)),
                _ => Err(format!(
                    "{n:?} is not a number of cells: it must be a positive whole number, at most 1024, or auto"
                )),
            },
        }
    }
}

/// The most repeats a run or a matrix takes (scenarios/README.md, "Bounds").
pub const REPEATS_MAX: u32 = 1_000;

/// `--repeat`: a whole number of repeats. Negative numbers reach this parser (the argument
/// allows a leading hyphen) so that `-1` gets this message, not clap's "use -- -1" tip.
pub fn parse_repeat(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(REPEATS_MAX)).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "{s:?} is not a number of repeats: it must be a positive whole number, at most {REPEATS_MAX}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn the_command_line_offers_auto_kvm_tcg_but_not_host() {
        let names: Vec<String> = Accel::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        assert_eq!(names, ["auto", "tcg", "kvm"]);
        assert_eq!(Accel::from_str("kvm", false), Ok(Accel::Kvm));
        assert!(Accel::from_str("host", false).is_err());
    }

    #[test]
    fn numa_takes_off_host_or_a_node_count() {
        assert_eq!(NumaMode::parse("off"), Ok(NumaMode::Off));
        assert_eq!(NumaMode::parse("host"), Ok(NumaMode::Host));
        assert_eq!(NumaMode::parse("2"), Ok(NumaMode::Nodes(2)));
        assert_eq!(NumaMode::parse("64"), Ok(NumaMode::Nodes(64)));
        let e = NumaMode::parse("0").unwrap_err();
        assert!(e.contains("use 1 to 64"), "{e}");
        assert!(NumaMode::parse("65").is_err());
        let e = NumaMode::parse("many").unwrap_err();
        assert!(e.contains("expected off, host or a node count"), "{e}");
        assert_eq!(NumaMode::default(), NumaMode::Off);
        for m in [NumaMode::Off, NumaMode::Host, NumaMode::Nodes(3)] {
            assert_eq!(NumaMode::parse(&m.to_string()), Ok(m));
        }
    }

    #[test]
    fn native_spinlocks_hide_the_hypervisor_bit() {
        assert_eq!(
            SpinlockMode::Native.cpu_model(Accel::Kvm),
            "host,-hypervisor"
        );
        assert_eq!(SpinlockMode::Virt.cpu_model(Accel::Tcg), "max");
    }
}
