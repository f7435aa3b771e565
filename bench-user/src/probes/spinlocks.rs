//! Which spinlock implementation the running kernel uses. It decides how a contended spinlock
//! waits: queued (pending bit, MCS queue), test-and-set (`virt_spin_lock()`, in a guest that
//! sees the hypervisor CPUID bit without paravirt spinlocks), or paravirt. The deciding static
//! key `virt_spin_lock_key` is in no file, so a BPF program reads it once.
use anyhow::{Context, Result};
use aya::maps::Array;
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf};
use bench_common::names::{self, kfunc, prog};
use bench_common::{KVAR_SLOTS, KVar};
use bench_results::schema::{SpinlockImpl, Spinlocks};

use super::kallsyms::Kallsyms;

/// Reads up to [`KVAR_SLOTS`] 8-byte kernel variables: attach, one syscall of ours, detach.
/// `None` per address whose read faulted.
pub fn read_kernel_vars(ebpf: &mut Ebpf, btf: &Btf, addrs: &[u64]) -> Result<Vec<Option<u64>>> {
    {
        let mut m: Array<_, KVar> =
            Array::try_from(ebpf.map_mut(names::KVARS).context("KVARS map")?)?;
        for (i, a) in addrs.iter().take(KVAR_SLOTS as usize).enumerate() {
            m.set(
                i as u32,
                KVar {
                    addr: *a,
                    ..Default::default()
                },
                0,
            )?;
        }
    }
    let p: &mut BtfTracePoint = ebpf
        .program_mut(prog::TP_BTF_KVAR)
        .context("kernel-variable reader missing from the object")?
        .try_into()?;
    p.load("sys_enter", btf)
        .context("loading the kernel-variable reader")?;
    let link = p.attach().context("attaching tp_btf:sys_enter")?;
    // Any syscall of this process fires the reader; it only has to enter the kernel, which
    // getppid always does (libc caches no parent pid).
    let _ = nix::unistd::getppid();
    p.detach(link)?;
    let _ = p.unload();
    let m: Array<_, KVar> = Array::try_from(ebpf.map(names::KVARS).context("KVARS map")?)?;
    let mut out = vec![];
    for i in 0..addrs.len().min(KVAR_SLOTS as usize) {
        let v = m.get(&(i as u32), 0)?;
        out.push((v.done == 1 && v.ok == 1).then_some(v.value));
    }
    Ok(out)
}

pub fn hypervisor_bit(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| l.split_whitespace().any(|f| f == "hypervisor"))
}

/// Kernel log lines (`/dev/kmsg`, read without blocking) that mention paravirt spinlocks.
fn pv_spinlocks_logged() -> bool {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return false;
    };
    let mut buf = vec![0u8; 8192];
    // One record per read; EAGAIN at the end of the buffer.
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        if String::from_utf8_lossy(&buf[..n]).contains("PV spinlocks enabled") {
            return true;
        }
    }
    false
}

/// Decide from the facts: `key` = virt_spin_lock_key's `enabled` count (None: not read).
pub fn classify(key: Option<Option<i32>>, hyper: bool, pv: bool) -> Spinlocks {
    let hv = if hyper {
        "hypervisor CPUID bit set"
    } else {
        "no hypervisor CPUID bit"
    };
    let (implementation, evidence) = match key {
        _ if pv => (
            SpinlockImpl::Paravirt,
            format!("kernel log: PV spinlocks enabled; {hv}"),
        ),
        Some(Some(k)) if k > 0 => (
            SpinlockImpl::VirtTestAndSet,
            format!("virt_spin_lock_key={k} (read by BPF); {hv}"),
        ),
        Some(Some(k)) => (
            SpinlockImpl::NativeQspinlock,
            format!("virt_spin_lock_key={k} (read by BPF); {hv}"),
        ),
        Some(None) => (
            SpinlockImpl::NativeQspinlock,
            format!("kernel has no virt_spin_lock_key (no CONFIG_PARAVIRT); {hv}"),
        ),
        None if hyper => (
            SpinlockImpl::VirtTestAndSet,
            format!("inferred: {hv} and no PV spinlocks (virt_spin_lock_key not readable)"),
        ),
        None => (
            SpinlockImpl::NativeQspinlock,
            format!("inferred: {hv} (virt_spin_lock_key not readable)"),
        ),
    };
    Spinlocks {
        implementation,
        evidence,
    }
}

/// Detect with BPF when an object is at hand, else from /proc/cpuinfo and the kernel log.
pub fn detect(bpf: Option<(&mut Ebpf, &Btf)>, ksyms: Option<&Kallsyms>) -> Spinlocks {
    let hyper = hypervisor_bit(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    let pv =
        ksyms.is_some_and(|k| k.addr(kfunc::PV_SPIN_SLOWPATH).is_some()) && pv_spinlocks_logged();
    let key = match (bpf, ksyms) {
        (Some((e, btf)), Some(k)) => match k.addr(kfunc::VIRT_SPIN_LOCK_KEY) {
            None => Some(None),
            Some(a) => match read_kernel_vars(e, btf, &[a]) {
                // struct static_key starts with `atomic_t enabled`.
                Ok(v) => v.first().copied().flatten().map(|x| Some(x as u32 as i32)),
                Err(err) => {
                    log::warn!("reading virt_spin_lock_key: {err:#}");
                    None
                }
            },
        },
        _ => None,
    };
    classify(key, hyper, pv)
}

/// For callers without a probe session (`doctor`): load the object just for the reader.
pub fn detect_standalone(ksyms: Option<&Kallsyms>) -> Spinlocks {
    let btf = Btf::from_sys_fs().ok();
    let mut loader = aya::EbpfLoader::new();
    loader.btf(btf.as_ref());
    let pid = u64::from(std::process::id());
    loader.override_global(names::G_KVAR_TGID, &pid, true);
    match (loader.load(super::object()), btf.as_ref()) {
        (Ok(mut e), Some(b)) => detect(Some((&mut e, b)), ksyms),
        _ => detect(None, ksyms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_key_then_the_cpuid_bit() {
        assert_eq!(
            classify(Some(Some(1)), true, false).implementation,
            SpinlockImpl::VirtTestAndSet
        );
        assert_eq!(
            classify(Some(Some(0)), false, false).implementation,
            SpinlockImpl::NativeQspinlock
        );
        assert_eq!(
            classify(Some(Some(0)), true, true).implementation,
            SpinlockImpl::Paravirt
        );
        assert_eq!(
            classify(None, true, false).implementation,
            SpinlockImpl::VirtTestAndSet
        );
        assert!(classify(None, true, false).evidence.starts_with("inferred"));
        assert_eq!(
            classify(Some(None), true, false).implementation,
            SpinlockImpl::NativeQspinlock
        );
    }

    #[test]
    fn hypervisor_flag_is_a_whole_word() {
        assert!(hypervisor_bit(
            "processor : 0\nflags\t\t: fpu vme hypervisor lahf_lm\n"
        ));
        assert!(!hypervisor_bit("flags\t\t: fpu vme lahf_lm\n"));
        assert!(!hypervisor_bit("flags\t\t: fpu not_hypervisor\n"));
    }
}
