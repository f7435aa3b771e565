//! Domain options the command line turns into: what a guest looks like (vCPUs, accelerator,
//! spinlock implementation). The CLI (`cli.rs`) only declares arguments; the VM layer and the
//! runner take these types, so `run`, `vm` and `matrix` agree on one meaning of each flag.
//!
//! The accelerator is `bench_results::schema::Accel` itself: the type the result file records,
//! parsed from the command line through bench-results' `clap` feature, so there is no second
//! copy to keep in step.
pub use bench_results::schema::Accel;

/// How guest spinlocks behave. A guest that sees the hypervisor CPUID bit and has no paravirt
/// spinlocks turns every spinlock into an unfair test-and-set loop (`virt_spin_lock()`), which
/// contends differently from the queued spinlocks of the machines users deploy on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
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

/// The guest a run boots: the same three flags mean the same thing for `vm`, `run --kernel`
/// and each matrix cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestShape {
    pub cpus: u32,
    /// As asked (`Auto` allowed); the VM layer resolves it.
    pub accel: Accel,
    pub spinlocks: SpinlockMode,
}

impl Default for GuestShape {
    fn default() -> Self {
        GuestShape {
            cpus: 2,
            accel: Accel::Auto,
            spinlocks: SpinlockMode::Native,
        }
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
    fn native_spinlocks_hide_the_hypervisor_bit() {
        assert_eq!(
            SpinlockMode::Native.cpu_model(Accel::Kvm),
            "host,-hypervisor"
        );
        assert_eq!(SpinlockMode::Virt.cpu_model(Accel::Tcg), "max");
    }
}
