//! `zswap-bench vm`: boot a kernel under QEMU with the host's root shared read-only (9p),
//! writable shares at their host paths, a sparse virtio disk for swap, and zswap-bench itself
//! as init; run one command; bring back its output and exit status; flag kernel trouble.
pub mod console;
pub mod init;
mod qemu;
mod shape;
mod supervise;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::VmArgs;
use crate::kernel;
use crate::options::{Accel, GuestShape};
pub use qemu::qemu_version;

/// Test-only fault switches (see run/fault.rs). They travel into the guest, where init honours
/// the second (a crash on request) and the runner both.
pub const FAULT_ENV: &str = "ZSWAP_BENCH_FAULT";
pub const ALLOW_FAULTS_ENV: &str = "ZSWAP_BENCH_ALLOW_FAULTS";

/// Set in the guest when the host's output is not a terminal: no progress bars.
pub const NO_PROGRESS_ENV: &str = "ZSWAP_BENCH_NO_PROGRESS";

/// The vCPUs the host gave the guest: init refuses to run the command when a different number
/// of CPUs came online, so no result is filed under a vCPU count it did not have.
pub const EXPECT_CPUS_ENV: &str = "ZSWAP_BENCH_EXPECT_CPUS";

/// The guest memory of `run --kernel` and matrix cells (`vm --mem` sets its own).
pub const GUEST_MEM: u64 = 2 << 30;

/// One guest run.
#[derive(Debug, Clone)]
pub struct GuestRun {
    /// Manifest name/path or a bzImage path.
    pub kernel: String,
    pub command: Vec<String>,
    /// Host directory mounted writable at the same path in the guest.
    pub out_dir: Option<PathBuf>,
    pub mem: u64,
    pub swap: u64,
    /// vCPUs, accelerator (as asked) and spinlock implementation.
    pub shape: GuestShape,
    pub timeout: Duration,
    /// Console log path (default: <out_dir or ctl dir>/console.log).
    pub log: Option<PathBuf>,
    /// Print the command's output as it comes (else it is only captured).
    pub echo: bool,
    /// The kernel, already resolved (a matrix cell checks it against its plan first); `None`
    /// resolves `kernel`.
    pub built: Option<kernel::BuiltKernel>,
    /// Host CPUs QEMU (and so every vCPU thread) may run on; `None`: wherever the scheduler
    /// puts it.
    pub pin: Option<Vec<usize>>,
}

impl Default for GuestRun {
    fn default() -> Self {
        GuestRun {
            kernel: "baseline".into(),
            command: vec![],
            out_dir: None,
            mem: GUEST_MEM,
            swap: 2 << 30,
            shape: GuestShape::default(),
            timeout: Duration::from_secs(600),
            log: None,
            echo: true,
            built: None,
            pin: None,
        }
    }
}

#[derive(Debug)]
pub struct GuestOutcome {
    pub exit_code: i32,
    /// The command's output (virtio console).
    pub output: String,
    pub log: PathBuf,
    /// Kernel trouble found on the console (oops, BUG, WARNING, lockdep, hung task...).
    pub problems: Vec<String>,
    pub timed_out: bool,
    pub boot_to_command: Option<Duration>,
    pub wall: Duration,
    /// The accelerator that ran (`Kvm` or `Tcg`, never `Auto`).
    pub accel: Accel,
    pub kernel: kernel::BuiltKernel,
    /// Why the guest's init did not run the command (e.g. fewer CPUs online than asked).
    pub init_error: Option<String>,
}

impl GuestOutcome {
    /// Err with the reason if the run cannot be trusted (non-zero, timeout, kernel trouble).
    pub fn ok(&self) -> Result<()> {
        if self.timed_out {
            bail!(
                "guest killed after the timeout; console log: {}",
                self.log.display()
            );
        }
        if !self.problems.is_empty() {
            bail!(
                "kernel reported problems during the run (see {}):\n  {}",
                self.log.display(),
                self.problems
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
        if let Some(why) = &self.init_error {
            bail!(
                "the guest did not run the command: {why}; console log: {}",
                self.log.display()
            );
        }
        if self.exit_code != 0 {
            bail!(
                "guest command exited with status {}; console log: {}",
                self.exit_code,
                self.log.display()
            );
        }
        Ok(())
    }
}

/// Free bytes of the temporary directory, where a guest's swap disk is made (None when it
/// cannot be read).
pub fn tmp_free_bytes() -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(&std::env::temp_dir()).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// Control directories are `<temp>/zswap-bench-vm.<owner pid>.<random>`.
const CTL_PREFIX: &str = "zswap-bench-vm.";

/// Removes the control directories of runners that are gone (SIGKILLed: no destructor ran).
/// Returns how many were removed. Called by `cleanup` and before each boot.
pub fn remove_stale_control_dirs() -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(CTL_PREFIX)
            .and_then(|r| r.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive && std::fs::remove_dir_all(e.path()).is_ok() {
            log::info!(
                "removed {} (its runner, pid {pid}, is gone)",
                e.path().display()
            );
            n += 1;
        }
    }
    n
}

/// KVM only when it really works: /dev/kvm, vmx/svm in cpuinfo. (Software KVM backends
/// without them abort or crawl, see PLATFORM.md.)
pub fn choose_accel(want: Accel) -> Result<Accel> {
    let dev = Path::new("/dev/kvm").exists();
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = cpu
        .lines()
        .any(|l| l.starts_with("flags") && (l.contains(" vmx") || l.contains(" svm")));
    match want {
        Accel::Tcg => Ok(Accel::Tcg),
        Accel::Kvm if !dev => bail!(
            "--accel kvm: /dev/kvm does not exist; fix: load kvm_intel/kvm_amd, or use --accel tcg"
        ),
        Accel::Kvm if !hw => bail!(
            "--accel kvm: the CPU has no vmx/svm flag (nested virtualisation off), so KVM would abort or crawl; fix: use --accel tcg or auto"
        ),
        Accel::Kvm => Ok(Accel::Kvm),
        Accel::Auto => Ok(if dev && hw && kvm_usable() {
            Accel::Kvm
        } else {
            Accel::Tcg
        }),
        Accel::Host => bail!("a guest cannot run on the host accelerator: use auto, kvm or tcg"),
    }
}

/// Can we open /dev/kvm and create a VM? (Cheap stand-in for a probe boot.)
fn kvm_usable() -> bool {
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    else {
        return false;
    };
    use std::os::fd::AsRawFd;
    const KVM_CREATE_VM: libc::c_ulong = 0xAE01;
    // SAFETY: KVM_CREATE_VM takes an integer machine type (0), no pointer; `f` is an open
    // /dev/kvm for the whole call.
    let fd = unsafe { libc::ioctl(f.as_raw_fd(), KVM_CREATE_VM, 0) };
    if fd >= 0 {
        // SAFETY: `fd` was just returned to us by the kernel and nothing else owns it.
        unsafe { libc::close(fd) };
        true
    } else {
        false
    }
}

/// The guest command's environment: a plain PATH, where the repository and cache are, the
/// kernel's identity and probe names, and the host's logging and test switches.
fn guest_env(k: &kernel::BuiltKernel, cpus: u32) -> Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/root".into()),
        ("TERM".into(), "dumb".into()),
        ("ZSWAP_BENCH_IN_GUEST".into(), "1".into()),
        (
            "ZSWAP_BENCH_ROOT".into(),
            crate::paths::repo_root().display().to_string(),
        ),
        (
            "ZSWAP_BENCH_CACHE".into(),
            crate::paths::cache_dir().display().to_string(),
        ),
        ("ZSWAP_BENCH_KERNEL".into(), k.name.clone()),
        ("ZSWAP_BENCH_KERNEL_KEY".into(), k.key.clone()),
        (EXPECT_CPUS_ENV.into(), cpus.to_string()),
    ];
    // The manifest's [probes] names travel with the kernel into the guest.
    if let Some(n) = &k.probes {
        env.push((
            crate::probes::profiles::NAMES_ENV.into(),
            serde_json::to_string(n)?,
        ));
    }
    // The guest's console is a tty, so progress bars would draw; when the host side is not a
    // terminal (CI logs, matrix runs captured to files) they only add escape-code noise.
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        env.push((NO_PROGRESS_ENV.into(), "1".into()));
    }
    // The test-only fault switches travel too (they act only when both are set).
    for key in ["RUST_LOG", "RUST_BACKTRACE", FAULT_ENV, ALLOW_FAULTS_ENV] {
        if let Ok(v) = std::env::var(key) {
            env.push((key.into(), v));
        }
    }
    Ok(env)
}

/// The kernel to boot, once its shape is known to fit it: refused before boot (and, where
/// the answer does not need the kernel, before a build) when it cannot have the vCPUs asked.
fn bootable_for(req: &GuestRun) -> Result<kernel::BuiltKernel> {
    let cpus = req.shape.cpus;
    shape::check_numa(&req.shape)?;
    let found = match &req.built {
        Some(k) => Some(k.clone()),
        None => kernel::find_built(&req.kernel)?,
    };
    let k = match found {
        Some(k) => k,
        None => {
            // Not built yet: what QEMU cannot boot is refused before a long build.
            shape::check_cpus(cpus, &req.kernel, None)?;
            kernel::resolve_bootable(&req.kernel)?
        }
    };
    let nr_cpus = k.nr_cpus()?;
    if nr_cpus.is_none() {
        log::warn!(
            "the .config of kernel {} is unknown (none beside {}, none inside it): its CONFIG_NR_CPUS is not checked before boot; the guest still refuses to run with fewer CPUs than asked",
            k.name,
            k.bzimage.display()
        );
    }
    shape::check_cpus(cpus, &k.name, nr_cpus)?;
    Ok(k)
}

/// Boot, run, power off.
pub fn run_in_guest(req: &GuestRun) -> Result<GuestOutcome> {
    let qemu = qemu::qemu_binary()?;
    let accel = choose_accel(req.shape.accel)?;
    if req.command.is_empty() {
        bail!("no command to run in the guest");
    }
    let k = bootable_for(req)?;
    let nodes = shape::guest_nodes(
        &req.shape,
        req.pin.as_deref(),
        crate::topology::Topology::host,
    )?;
    let numa = shape::numa_args(nodes, req.shape.cpus, req.mem >> 20)?;
    let smp = shape::smp_arg(nodes, req.shape.cpus);
    let exe = std::env::current_exe()?.canonicalize()?;
    remove_stale_control_dirs();
    // The owner's pid is in the name, so a SIGKILLed runner's directory (its swap image can be
    // gigabytes of sparse file) is recognised and removed later.
    let ctl = tempfile::Builder::new()
        .prefix(&format!("{CTL_PREFIX}{}.", std::process::id()))
        .tempdir_in(std::env::temp_dir())?;
    let ctl_path = ctl.path().canonicalize()?;
    let swap_img = ctl_path.join("swap.img");
    std::fs::File::create(&swap_img)?.set_len(req.swap)?; // sparse
    let mut shares = vec![("zbctl".to_string(), ctl_path.display().to_string())];
    let out_dir = match &req.out_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            let d = d.canonicalize()?;
            shares.push(("zbout".to_string(), d.display().to_string()));
            Some(d)
        }
        None => None,
    };
    let cwd = std::env::current_dir()?.display().to_string();
    let env = guest_env(&k, req.shape.cpus)?;
    let spec = init::Spec {
        command: req.command.clone(),
        cwd,
        env,
        shares: shares.clone(),
    };
    std::fs::write(ctl_path.join("spec.json"), serde_json::to_vec(&spec)?)?;
    // The console log outlives the run (the ctl dir does not): next to the output, else in
    // the cache's log directory.
    let log = req.log.clone().unwrap_or_else(|| match &out_dir {
        Some(d) => d.join("console.log"),
        None => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            crate::paths::cache_dir()
                .join("logs")
                .join(format!("vm-{t}-{}.log", std::process::id()))
        }
    });
    if let Some(p) = log.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut cmd = qemu::qemu_command(&qemu::Qemu {
        binary: &qemu,
        req,
        accel,
        kernel: &k,
        exe: &exe,
        ctl: &ctl_path,
        shares: &shares,
        log: &log,
        swap_img: &swap_img,
        smp: &smp,
        numa: &numa,
    });
    if let Some(cpus) = &req.pin {
        qemu::pin(&mut cmd, cpus)?;
    }
    log::debug!("{cmd:?}");
    // Ctrl-C of the host side reaches QEMU too (same process group); the guest's writable
    // state is only in our temp dir.
    let run = supervise::run(cmd, req.echo, req.timeout)
        .with_context(|| format!("running {}", qemu.display()))?;
    let (status, timed_out, output, qemu_err) =
        (run.status, run.timed_out, run.output, run.qemu_stderr);
    let (t0, first_output, wall) = (run.started, run.first_output, run.started.elapsed());
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let problems = console::problems(&console);
    let code = std::fs::read_to_string(ctl_path.join("status"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let init_error = std::fs::read_to_string(ctl_path.join(init::ERROR_FILE))
        .ok()
        .map(|s| s.trim().to_string());
    let exit_code = match code {
        Some(c) => c,
        None if timed_out => 124,
        None => {
            let tail: Vec<&str> = console.lines().rev().take(15).collect();
            // What the kernel said went wrong comes first: a panic's own line is usually above
            // the last 15 (its stack trace follows it).
            let trouble = if problems.is_empty() {
                String::new()
            } else {
                format!("\n  kernel: {}", problems.join("\n  kernel: "))
            };
            bail!(
                "the guest stopped without reporting the command's status (QEMU {status}).{trouble}\n  QEMU: {}\n  console tail:\n    {}\n  full console log: {}",
                qemu_err.trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n    "),
                log.display()
            );
        }
    };
    Ok(GuestOutcome {
        exit_code,
        output,
        log,
        problems,
        timed_out,
        boot_to_command: first_output.map(|f| f - t0),
        wall,
        accel,
        kernel: k,
        init_error,
    })
}

/// `zswap-bench vm ... -- cmd`
pub fn run_cli(a: &VmArgs) -> Result<ExitCode> {
    shape::check_room(a.mem, a.swap, shape::host_mem_total(), tmp_free_bytes())?;
    let out = run_in_guest(&GuestRun {
        kernel: a.kernel.clone(),
        command: a.command.clone(),
        out_dir: a.out.clone(),
        mem: a.mem,
        swap: a.swap,
        shape: GuestShape::from(a),
        timeout: a.timeout,
        log: a.log.clone(),
        echo: true,
        ..Default::default()
    })?;
    eprintln!(
        "zswap-bench vm: kernel {} ({}, QEMU {}), {} in {:.1}s, exit {}{}; console log {}",
        out.kernel.name,
        out.accel.qemu_name().unwrap_or("?"),
        qemu_version().unwrap_or_else(|_| "?".into()),
        if out.timed_out {
            "TIMED OUT"
        } else {
            "finished"
        },
        out.wall.as_secs_f64(),
        out.exit_code,
        out.boot_to_command
            .map(|d| format!(", first output after {:.1}s", d.as_secs_f64()))
            .unwrap_or_default(),
        out.log.display()
    );
    if out.timed_out {
        eprintln!(
            "zswap-bench vm: error: guest exceeded --timeout {:?} and was killed",
            a.timeout
        );
        return Ok(ExitCode::from(124));
    }
    if let Some(why) = &out.init_error {
        eprintln!("zswap-bench vm: error: the guest did not run the command: {why}");
    }
    if !out.problems.is_empty() {
        eprintln!("zswap-bench vm: error: kernel trouble on the console (run marked failed):");
        for p in out.problems.iter().take(10) {
            eprintln!("  {p}");
        }
        return Ok(ExitCode::from(if out.exit_code == 0 {
            1
        } else {
            out.exit_code.clamp(1, 255) as u8
        }));
    }
    Ok(ExitCode::from(out.exit_code.clamp(0, 255) as u8))
}
