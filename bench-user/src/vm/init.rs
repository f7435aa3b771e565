//! PID 1 inside the guest. The kernel runs the zswap-bench binary itself as init (from the
//! host's root, shared read-only over 9p): mount the pseudo filesystems, mount the writable
//! shares at the same paths as on the host, run the command with its output on the virtio
//! console, record its exit status, power off. No shell or busybox needed in the guest.
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What the host asks the guest to do (written to <ctl>/spec.json before boot).
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    pub command: Vec<String>,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    /// 9p mount tag -> guest path (same as the host path).
    pub shares: Vec<(String, String)>,
}

pub const CTL_PARAM: &str = "zb.ctl=";

/// Written to the control directory when init refuses to run the command; the host reads it
/// into the run's error.
pub const ERROR_FILE: &str = "init-error";

fn mount(src: &str, target: &str, fstype: &str, data: Option<&str>) -> Result<(), String> {
    let _ = std::fs::create_dir_all(target);
    nix::mount::mount(
        Some(src),
        target,
        Some(fstype),
        nix::mount::MsFlags::empty(),
        data,
    )
    .map_err(|e| format!("mount {fstype} on {target}: {}", std::io::Error::from(e)))
}

/// True when this process is the guest's init and should act as such.
pub fn is_guest_init() -> bool {
    std::process::id() == 1
}

pub fn main() -> ! {
    let mut con = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/console")
        .ok();
    let mut say = |m: &str| {
        if let Some(c) = con.as_mut() {
            let _ = writeln!(c, "zswap-bench-init: {m}");
        }
    };
    for (src, target, fs) in [
        ("proc", "/proc", "proc"),
        ("sys", "/sys", "sysfs"),
        ("dev", "/dev", "devtmpfs"),
        ("run", "/run", "tmpfs"),
        ("debugfs", "/sys/kernel/debug", "debugfs"),
        ("tracefs", "/sys/kernel/tracing", "tracefs"),
        ("cgroup2", "/sys/fs/cgroup", "cgroup2"),
        ("bpf", "/sys/fs/bpf", "bpf"),
    ] {
        if let Err(e) = mount(src, target, fs, None) {
            // devtmpfs is usually mounted by the kernel already (DEVTMPFS_MOUNT).
            if !(fs == "devtmpfs" && e.contains("busy")) {
                say(&e);
            }
        }
    }
    let _ = mount("devpts", "/dev/pts", "devpts", None);
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let ctl = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(CTL_PARAM))
        .unwrap_or("")
        .to_string();
    let status = run(&ctl, &mut say);
    if !ctl.is_empty() {
        let _ = std::fs::write(Path::new(&ctl).join("status"), format!("{status}\n"));
    }
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    loop {
        std::thread::park();
    }
}

/// The CPUs that came online against the vCPUs the host gave (`EXPECT_CPUS_ENV`). A kernel
/// whose CONFIG_NR_CPUS is below the vCPU count, or whose secondary CPUs failed to boot, still
/// runs: without this its results would be filed under the vCPU count asked for.
fn check_cpus(spec: &Spec) -> Result<(), String> {
    let Some((_, want)) = spec.env.iter().find(|(k, _)| k == super::EXPECT_CPUS_ENV) else {
        return Ok(());
    };
    let path = "/sys/devices/system/cpu/online";
    let online = std::fs::read_to_string(path)
        .map_err(|e| format!("reading {path}: {e}; the command was not run"))?;
    cpus_match(want, &online).map_err(|e| format!("{path}: {e}"))
}

/// `want` vCPUs against a kernel CPU list of the online ones.
fn cpus_match(want: &str, online: &str) -> Result<(), String> {
    let want: usize = want
        .parse()
        .map_err(|_| format!("{}={want:?} is not a CPU count", super::EXPECT_CPUS_ENV))?;
    let cpus = crate::topology::parse_cpulist(online).map_err(|e| format!("{e:#}"))?;
    if cpus.len() != want {
        return Err(format!(
            "{} CPUs online ({}), but the host gave the guest {want} vCPUs; the command was not run. fix: boot a kernel whose CONFIG_NR_CPUS is at least {want}, or ask for --cpus {}; the console log says which CPUs failed to come up",
            cpus.len(),
            online.trim(),
            cpus.len()
        ));
    }
    Ok(())
}

fn run(ctl: &str, say: &mut dyn FnMut(&str)) -> i32 {
    if ctl.is_empty() {
        say("no zb.ctl= on the kernel command line");
        return 125;
    }
    // Read the spec from the read-only root before /tmp gets its own tmpfs (the host's ctl
    // directory usually lives in /tmp); the writable shares are mounted afterwards.
    let spec: Spec = match std::fs::read(Path::new(ctl).join("spec.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            say(&format!("reading {ctl}/spec.json: {e}"));
            return 125;
        }
    };
    // /tmp: the host's files stay visible (scripts, results under /tmp), writes go to a
    // guest tmpfs (overlay); plain tmpfs if the kernel refuses 9p as a lower layer.
    let _ = mount("ztmp", "/run/zb-tmp", "tmpfs", None);
    let _ = std::fs::create_dir_all("/run/zb-tmp/u");
    let _ = std::fs::create_dir_all("/run/zb-tmp/w");
    if mount(
        "overlay",
        "/tmp",
        "overlay",
        Some("lowerdir=/tmp,upperdir=/run/zb-tmp/u,workdir=/run/zb-tmp/w"),
    )
    .is_err()
        && let Err(e) = mount("tmp", "/tmp", "tmpfs", None)
    {
        say(&e);
    }
    for (tag, path) in &spec.shares {
        if let Err(e) = mount(
            tag,
            path,
            "9p",
            Some("trans=virtio,version=9p2000.L,msize=262144,cache=none"),
        ) {
            say(&e);
            return 125;
        }
    }
    // Delegate the memory controller to children so the runner can build its tree.
    let _ = std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
    let out = std::fs::OpenOptions::new().write(true).open("/dev/hvc0");
    if let Err(why) = check_cpus(&spec) {
        say(&why);
        // The command's output channel too: `zswap-bench vm` shows it where the user looks.
        if let Ok(mut o) = out.as_ref() {
            let _ = writeln!(o, "zswap-bench-init: {why}");
        }
        let _ = std::fs::write(Path::new(ctl).join(ERROR_FILE), format!("{why}\n"));
        return 125;
    }
    let Some((prog, args)) = spec.command.split_first() else {
        say("empty command");
        return 125;
    };
    let mut cmd = Command::new(prog);
    cmd.args(args).current_dir(&spec.cwd).env_clear();
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Ok(o) = out {
        if let Ok(e) = o.try_clone() {
            cmd.stderr(e);
        }
        cmd.stdout(o);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            say(&format!("cannot run {prog}: {e}"));
            return 127;
        }
    };
    let pid = child.id() as i32;
    // Test-only (see run/fault.rs): with faults allowed, SIGUSR2 makes init exit, which the
    // kernel answers with a real panic ("Attempted to kill init!"). The guest kernels have no
    // magic SysRq, so this is how a test crashes one. Without the switch SIGUSR2 stays ignored,
    // as every signal without a handler is for init.
    let allowed = spec
        .env
        .iter()
        .any(|(k, v)| k == super::ALLOW_FAULTS_ENV && v == "1");
    let crash = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if allowed {
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR2, crash.clone());
    }
    // As PID 1 we reap every orphan until our child exits.
    loop {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        if crash.load(std::sync::atomic::Ordering::SeqCst) {
            say("injected fault: init exits, the kernel panics");
            std::process::exit(1);
        }
        // With the switch, poll so the flag is seen (a blocking wait restarts after signals).
        let flags = allowed.then_some(WaitPidFlag::WNOHANG);
        match waitpid(None, flags) {
            Ok(WaitStatus::StillAlive) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => {
                let _ = child.try_wait();
                return code;
            }
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                let _ = child.try_wait();
                return 128 + sig as i32;
            }
            Ok(_) => {}
            // ECHILD: nothing left to reap, our child included.
            Err(_) => return 125,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_cpus_online_than_given_is_refused_naming_both_counts() {
        cpus_match("4", "0-3\n").unwrap();
        let e = cpus_match("300", "0-255\n").unwrap_err();
        assert!(
            e.starts_with("256 CPUs online (0-255), but the host gave the guest 300 vCPUs; the command was not run. fix:"),
            "{e}"
        );
        assert!(
            cpus_match("2", "0-3").is_err(),
            "more than given is no match either"
        );
        assert!(
            cpus_match("two", "0-1")
                .unwrap_err()
                .contains("not a CPU count")
        );
    }
}
