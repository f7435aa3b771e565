//! What a scenario needs of a guest, checked on the host before the VM boots: a problem found
//! here costs no boot and leaves nothing behind. The guest checks again with what only it knows
//! (its MemAvailable, its kernel's BTF); these checks only refuse what cannot work whatever the
//! guest finds: workers that do not fit in the guest's whole memory, a swap disk larger than the
//! host's free space, a compressor the kernel was built without, a lock name its symbol table
//! lacks, proactive writeback as the idle action on a kernel without the interface.

use anyhow::{Result, bail};
use bench_results::human::fmt_bytes;

use crate::kernel::BuiltKernel;
use crate::scenario::{self, IdleAction, MachineMemory, Plan};

/// The kernel facts these checks read, from the built kernel's cache directory.
pub(crate) struct KernelFacts {
    pub name: String,
    /// `.config` text (empty when unknown: a bare bzImage).
    pub config: String,
    /// `System.map` text (empty when unknown).
    pub symbols: String,
}

impl KernelFacts {
    pub(crate) fn of(k: &BuiltKernel) -> KernelFacts {
        let read = |f: &str| {
            bench_results::input::read_text(&k.dir.join(f), 256 << 20).unwrap_or_default()
        };
        KernelFacts {
            name: k.name.clone(),
            config: read("config"),
            symbols: read("System.map"),
        }
    }

    /// A kernel not built yet, or a bare bzImage: only the checks that need no kernel facts.
    pub(crate) fn unknown(name: &str) -> KernelFacts {
        KernelFacts {
            name: name.to_string(),
            config: String::new(),
            symbols: String::new(),
        }
    }

    fn has_symbol(&self, name: &str) -> bool {
        self.symbols
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some(name))
    }
}

/// Every problem at once, each with its fix.
pub(crate) fn check(
    l: &Plan,
    k: &KernelFacts,
    guest_mem: u64,
    disk_free: Option<u64>,
) -> Result<()> {
    let mut problems: Vec<String> = vec![];
    // The whole guest memory as if all of it were available: only what cannot fit at all.
    let whole = MachineMemory {
        mem_total: guest_mem,
        mem_available: guest_mem,
        swap_free: 0,
    };
    if let Err(e) = scenario::check_fit(l, &whole) {
        for p in e.0.iter().filter(|p| p.field == "worker") {
            problems.push(format!(
                "{} (in the guest's {} of memory)\n    fix: {}",
                p.message,
                fmt_bytes(guest_mem),
                p.fix
            ));
        }
    }
    if let Some(free) = disk_free
        && l.swap.size > free
    {
        problems.push(format!(
            "swap.size {} is more than the {} free where the VM's swap disk is made (the temporary directory)\n    fix: lower swap.size, or point TMPDIR at a file system with room",
            fmt_bytes(l.swap.size),
            fmt_bytes(free)
        ));
    }
    if let Some(c) = &l.zswap.compressor
        && !k.config.is_empty()
    {
        let option = format!("CONFIG_CRYPTO_{}", c.to_ascii_uppercase().replace('-', "_"));
        if !k.config.lines().any(|x| x == format!("{option}=y")) {
            problems.push(format!(
                "zswap.compressor {c:?}: kernel {} was built without {option}=y, so zswap would refuse it\n    fix: use a compressor the kernel has (lz4 is in kernels/config/guest.config), or add {option}=y to the manifest's [config] options",
                k.name
            ));
        }
    }
    if !k.symbols.is_empty() {
        for lock in &l.probes.watch_locks {
            if !k.has_symbol(lock) {
                problems.push(format!(
                    "probes.watch_locks {lock:?} is not a symbol of kernel {} (its System.map)\n    fix: name a lock variable the kernel has, e.g. \"zswap_shrink_lock\"",
                    k.name
                ));
            }
        }
        if let Some(b) = &l.burst
            && b.action == IdleAction::Proactive
            && !k.has_symbol("zswap_proactive_writeback")
        {
            problems.push(format!(
                "burst.action \"proactive\": kernel {} has no proactive writeback (no zswap_proactive_writeback in its System.map)\n    fix: run it on a kernel with the series, or use --idle-action nothing or reclaim here",
                k.name
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "scenario {} cannot run on kernel {} ({} problem{}), found before booting:\n  {}",
            l.name,
            k.name,
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  ")
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "preboot_tests.rs"]
mod tests;
