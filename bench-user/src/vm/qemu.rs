//! The QEMU side of a guest run: finding the binary and the command line.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::{GuestRun, init};
use crate::kernel;
use crate::options::Accel;

pub(super) fn qemu_binary() -> Result<PathBuf> {
    crate::kernel::source::which("qemu-system-x86_64").context(
        "qemu-system-x86_64 not found; fix: run scripts/setup (installs QEMU 10 from bookworm-backports)",
    )
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
    cmd.args([
        "-smp",
        &q.req.shape.cpus.to_string(),
        "-m",
        &format!("{}M", q.req.mem >> 20),
    ]);
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
