//! The QEMU side of a guest run: finding the binary and its version, the command line, and
//! the host CPUs it may run on.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};

use super::{GuestRun, init};
use crate::kernel;
use crate::options::Accel;

pub(super) fn qemu_binary() -> Result<PathBuf> {
    crate::kernel::source::which("qemu-system-x86_64").context(
        "qemu-system-x86_64 not found; fix: run scripts/setup (installs QEMU 10 from bookworm-backports)",
    )
}

/// QEMU's version, e.g. "10.0.2" (from the first line of `qemu-system-x86_64 --version`).
/// Asked once per process: results and reports name it, and it does not change under us.
pub fn qemu_version() -> Result<String> {
    static VERSION: OnceLock<Result<String, String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let bin = qemu_binary().map_err(|e| format!("{e:#}"))?;
            let out = Command::new(&bin)
                .arg("--version")
                .output()
                .map_err(|e| format!("running {} --version: {e}", bin.display()))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap_or("");
            parse_version(first).ok_or_else(|| {
                format!(
                    "{} --version printed {first:?}, not \"QEMU emulator version X.Y.Z\"; fix: run scripts/setup (installs QEMU 10)",
                    bin.display()
                )
            })
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)" -> "10.0.2".
fn parse_version(line: &str) -> Option<String> {
    let v = line.strip_prefix("QEMU emulator version ")?;
    let v = v.split_whitespace().next()?;
    v.starts_with(|c: char| c.is_ascii_digit())
        .then(|| v.to_string())
}

/// Makes `cmd` start on `cpus` only. The affinity is set in the child before exec, so every
/// thread QEMU creates (a vCPU thread each, under TCG and KVM alike) inherits it.
pub(super) fn pin(cmd: &mut Command, cpus: &[usize]) -> Result<()> {
    use nix::sched::CpuSet;
    if cpus.is_empty() {
        bail!("pinning QEMU to no CPU at all; fix: name at least one host CPU, or do not pin");
    }
    let online = crate::topology::Topology::host()
        .map(|t| t.cpus.iter().map(|c| c.cpu).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut set = CpuSet::new();
    for &c in cpus {
        if !online.is_empty() && !online.contains(&c) {
            bail!(
                "pinning QEMU to CPU {c}, which is not online on this host (online: {online:?}); fix: pin to online CPUs"
            );
        }
        set.set(c).map_err(|_| {
            anyhow!(
                "pinning QEMU to CPU {c}: sched_setaffinity takes CPUs below {}; fix: pin to lower-numbered CPUs",
                CpuSet::count()
            )
        })?;
    }
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; sched_setaffinity is a plain syscall on a set built before the fork,
    // allocating nothing and taking no locks.
    unsafe {
        cmd.pre_exec(move || {
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                .map_err(std::io::Error::from)
        });
    }
    Ok(())
}

/// What a QEMU command line is made of.
pub(super) struct Qemu<'a> {
    pub(super) binary: &'a Path,
    pub(super) req: &'a GuestRun,
    /// Resolved: `Kvm` or `Tcg`.
    pub(super) accel: Accel,
    pub(super) kernel: &'a kernel::BuiltKernel,
    /// This program, the guest's init.
    pub(super) exe: &'a Path,
    pub(super) ctl: &'a Path,
    pub(super) shares: &'a [(String, String)],
    pub(super) log: &'a Path,
    pub(super) swap_img: &'a Path,
    /// `-smp` value (see `shape::smp_arg`).
    pub(super) smp: &'a str,
    /// `-object`/`-numa` pairs of the guest's NUMA nodes (see `shape::numa_args`).
    pub(super) numa: &'a [String],
}

/// The QEMU command line: the machine, the consoles (serial to the log file, the command's
/// output on a virtconsole), the host root read-only over 9p plus the writable shares, the
/// sparse swap disk, and this program as the kernel's init.
pub(super) fn qemu_command(q: &Qemu) -> Command {
    let append = format!(
        "console=ttyS0 root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro init={} panic=-1 {}{} {}",
        q.exe.display(),
        init::CTL_PARAM,
        q.ctl.display(),
        q.kernel.cmdline
    );
    let mut cmd = Command::new(q.binary);
    let accel = q
        .accel
        .qemu_name()
        .expect("choose_accel resolves to kvm or tcg");
    cmd.args(["-accel", accel]);
    cmd.args(["-cpu", &q.req.shape.spinlocks.cpu_model(q.accel)]);
    cmd.args(["-smp", q.smp, "-m", &format!("{}M", q.req.mem >> 20)]);
    cmd.args(q.numa);
    cmd.args(["-nographic", "-no-reboot", "-nodefaults"]);
    cmd.args([
        "-chardev",
        &format!("file,id=con,path={}", q.log.display()),
        "-serial",
        "chardev:con",
    ]);
    cmd.args([
        "-chardev",
        "stdio,id=out,signal=off",
        "-device",
        "virtio-serial-pci",
        "-device",
        "virtconsole,chardev=out",
    ]);
    cmd.args([
        "-fsdev",
        "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
    ]);
    cmd.args(["-device", "virtio-9p-pci,fsdev=root,mount_tag=/dev/root"]);
    for (tag, path) in q.shares {
        cmd.args([
            "-fsdev",
            &format!("local,id={tag},path={path},security_model=none,multidevs=remap"),
        ]);
        cmd.args([
            "-device",
            &format!("virtio-9p-pci,fsdev={tag},mount_tag={tag}"),
        ]);
    }
    cmd.args([
        "-drive",
        &format!(
            "file={},format=raw,if=virtio,cache=unsafe",
            q.swap_img.display()
        ),
    ]);
    cmd.args([
        "-kernel",
        &q.kernel.bzimage.display().to_string(),
        "-append",
        &append,
    ]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_number_after_the_banner() {
        assert_eq!(
            parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)").as_deref(),
            Some("10.0.2")
        );
        assert_eq!(
            parse_version("QEMU emulator version 7.2.0").as_deref(),
            Some("7.2.0")
        );
        assert_eq!(parse_version("something else 1.0"), None);
    }

    #[test]
    fn a_pinned_child_runs_on_the_pinned_cpu_only() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "grep Cpus_allowed_list /proc/self/status"]);
        pin(&mut cmd, &[0]).unwrap();
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), "Cpus_allowed_list:\t0", "{text}");
    }

    #[test]
    fn pinning_to_an_absent_cpu_is_refused_before_spawning() {
        let mut cmd = Command::new("/bin/true");
        let e = pin(&mut cmd, &[100_000]).unwrap_err().to_string();
        assert!(e.contains("CPU 100000") && e.contains("fix:"), "{e}");
        let e = pin(&mut cmd, &[]).unwrap_err().to_string();
        assert!(e.contains("no CPU at all"), "{e}");
    }
}
