//! Guest console health: any sign that the kernel misbehaved marks the run failed, because a
//! number measured on a kernel that warned is not a number to trust.

/// Markers of kernel trouble, with the name used in reports.
const MARKERS: &[(&str, &str)] = &[
    ("Kernel panic", "kernel panic"),
    ("BUG:", "BUG"),
    ("Oops", "oops"),
    ("WARNING:", "WARNING"),
    ("general protection fault", "general protection fault"),
    ("possible circular locking dependency", "lockdep splat"),
    ("possible recursive locking", "lockdep splat"),
    ("inconsistent lock state", "lockdep splat"),
    ("INFO: task ", "hung task"),
    ("blocked for more than", "hung task"),
    ("soft lockup", "soft lockup"),
    ("hard LOCKUP", "hard lockup"),
    ("rcu_sched self-detected stall", "RCU stall"),
    ("rcu: INFO: rcu_", "RCU stall"),
    ("Out of memory: Killed process", "OOM kill"),
];

/// Problems found in a console log: (what, the line it was found on).
pub fn problems(log: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for line in log.lines() {
        // The kernel prefixes lines with a timestamp: "[    1.234567] ".
        let body = line.split_once("] ").map(|(_, b)| b).unwrap_or(line);
        for (needle, what) in MARKERS {
            if body.contains(needle) {
                // An OOM kill inside the benchmark's own memcg is part of a scenario only if the
                // scenario says so; report it, the caller decides.
                out.push(format!("{what}: {}", body.trim()));
                break;
            }
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Excerpts of real console output (7.x kernels).
    const CLEAN: &str = "[    0.000000] Linux version 7.3.4-zswapvm (zswap-bench@zswap-bench) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 1970
[    0.312000] zswap: loaded using pool lz4/zsmalloc
[    0.402113] 9pnet: Installing 9P2000 support
[    1.104000] Run /usr/bin/zswap-bench as init process
[    2.200000] Adding 2097148k swap on /dev/vda.  Priority:-2 extents:1 across:2097148k
[    3.001000] reboot: Power down";

    const LOCKDEP: &str = "[   12.345678] ======================================================
[   12.345680] WARNING: possible circular locking dependency detected
[   12.345682] 7.3.4-zswapvm #1 Not tainted
[   12.345684] ------------------------------------------------------
[   12.345686] kworker/u8:2/45 is trying to acquire lock:
[   12.345688] ffffffff8263ab08 (zswap_shrink_lock){+.+.}-{2:2}, at: shrink_worker+0x5a/0x1d0";

    const OOPS: &str =
        "[   20.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   20.100010] #PF: supervisor read access in kernel mode
[   20.100020] Oops: Oops: 0000 [#1] SMP NOPTI
[   20.100030] RIP: 0010:zswap_mem_cgroup_iter+0x2a/0x90";

    const HUNG: &str = "[  130.000000] INFO: task zswap-bench:301 blocked for more than 61 seconds.
[  130.000010]       Not tainted 7.3.4-zswapvm #1";

    const WARN: &str = "[    5.000000] ------------[ cut here ]------------
[    5.000001] WARNING: CPU: 1 PID: 88 at mm/zswap.c:1370 shrink_worker+0x1a0/0x1d0";

    #[test]
    fn clean_boot_has_no_problems() {
        assert!(problems(CLEAN).is_empty(), "{:?}", problems(CLEAN));
    }

    #[test]
    fn lockdep_splat_is_reported() {
        let p = problems(LOCKDEP);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("WARNING: WARNING: possible circular"),
            "{p:?}"
        );
    }

    #[test]
    fn oops_and_null_deref_are_reported() {
        let p = problems(OOPS);
        assert!(p.iter().any(|l| l.starts_with("BUG:")), "{p:?}");
        assert!(p.iter().any(|l| l.starts_with("oops:")), "{p:?}");
    }

    #[test]
    fn hung_task_and_warn_on_are_reported() {
        assert!(problems(HUNG)[0].starts_with("hung task"));
        assert!(problems(WARN)[0].contains("mm/zswap.c:1370"));
    }
}
