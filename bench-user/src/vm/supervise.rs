//! Watching one QEMU process: its stdout is the guest command's output (virtconsole), its
//! stderr QEMU's own complaints. tokio runs the three waits (output, errors, exit or timeout)
//! on one thread, so a guest that floods its console cannot stall the timeout, and a timed-out
//! or abandoned guest is killed (`kill_on_drop`) instead of outliving the run.
use std::io::Write;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// What the guest run left.
pub struct Supervised {
    pub status: ExitStatus,
    pub timed_out: bool,
    /// The command's output, `\r` stripped.
    pub output: String,
    /// When the first output line arrived (the guest reached the command).
    pub first_output: Option<Instant>,
    pub qemu_stderr: String,
    pub started: Instant,
}

/// Starts `cmd` and waits for it, killing it after `timeout`. `echo` prints the output as it
/// comes. Blocks the calling (non-async) thread on a current-thread runtime of its own.
pub fn run(cmd: std::process::Command, echo: bool, timeout: Duration) -> Result<Supervised> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("starting the runtime that watches QEMU")?;
    rt.block_on(watch(Command::from(cmd), echo, timeout))
}

async fn watch(mut cmd: Command, echo: bool, timeout: Duration) -> Result<Supervised> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // kill_on_drop covers every way this function can end; a SIGKILLed runner ends none of
    // them, so the kernel must kill QEMU for us: the parent-death signal. (It fires when the
    // forking *thread* exits; this runtime is current-thread, so that is the caller's thread,
    // which waits here until QEMU is gone.)
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; prctl(PR_SET_PDEATHSIG) and getppid are plain syscalls that allocate
    // nothing and take no locks.
    let parent = nix::unistd::getpid();
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The runner may have died between fork and prctl: then no signal would come.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other(
                    "the runner exited before QEMU started",
                ));
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting QEMU")?;
    let stdout = child.stdout.take().context("QEMU stdout")?;
    let stderr = child.stderr.take().context("QEMU stderr")?;
    let output = async move {
        let mut all = String::new();
        let mut first = None;
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            first.get_or_insert_with(Instant::now);
            // virtconsole lines end in \r\n.
            let line = line.trim_end_matches('\r');
            if echo {
                println!("{line}");
                let _ = std::io::stdout().flush();
            }
            all.push_str(line);
            all.push('\n');
        }
        (all, first)
    };
    let errors = async move {
        let mut s = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            s.push_str(&line);
            s.push('\n');
        }
        s
    };
    let exit = async {
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => Ok::<_, std::io::Error>((status?, false)),
            Err(_) => {
                child.kill().await?;
                Ok((child.wait().await?, true))
            }
        }
    };
    let ((output, first_output), qemu_stderr, exit) = tokio::join!(output, errors, exit);
    let (status, timed_out) = exit.context("waiting for QEMU")?;
    Ok(Supervised {
        status,
        timed_out,
        output,
        first_output,
        qemu_stderr,
        started,
    })
}
