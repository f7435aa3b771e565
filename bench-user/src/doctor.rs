//! `zswap-bench doctor`: what the running kernel offers the suite, each "no" with why and
//! what to do. Program types are tested by really loading and attaching, not by version.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use aya::{Btf, EbpfLoader};
use bench_common::names::{kfunc, prog};
use serde::Serialize;

use crate::probes::attach::{Attacher, FuncPresence, Hook};
use crate::probes::btf::KernelBtf;
use crate::probes::kallsyms::Kallsyms;
use crate::probes::profiles;

#[derive(Debug, Serialize)]
pub struct Report {
    pub kernel: String,
    pub checks: Vec<Check>,
    pub program_types: Vec<Check>,
    pub targets: Vec<Target>,
    pub proactive_interface: String,
    /// Which version's names matched (profile and evidence), or why none could be read.
    pub names: String,
    /// The spinlock implementation (decides how contended spinlocks wait).
    pub spinlocks: bench_results::schema::Spinlocks,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// What to do about a "no".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub name: String,
    pub kind: &'static str,
    pub btf: bool,
    pub kallsyms: bool,
    pub status: String,
}

fn check(name: &str, ok: bool, detail: impl Into<String>, fix: &str) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
        fix: (!ok).then(|| fix.to_string()),
    }
}

fn read(p: &str) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

pub fn run(json: bool) -> Result<ExitCode> {
    let r = collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render(&r));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn collect() -> Report {
    let uts = nix::sys::utsname::uname().ok();
    let kernel = uts
        .as_ref()
        .map(|u| {
            format!(
                "{} {}",
                u.release().to_string_lossy(),
                u.version().to_string_lossy()
            )
        })
        .unwrap_or_default();
    let (mut checks, root, memcg) = machine_checks();
    let (kbtf, ksyms) = probe_checks(&mut checks);
    let program_types = program_types(kbtf.is_ok(), ksyms.as_ref());
    let (targets, names) = match (&kbtf, &ksyms) {
        (Ok(b), Some(k)) => attach_targets(b, k),
        _ => (vec![], "n/a: needs kernel BTF and kallsyms".to_string()),
    };
    let proactive_interface = if memcg && root {
        let d = crate::workload::proactive::detect_in(Path::new("/sys/fs/cgroup"));
        serde_json::to_value(d.interface)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    } else {
        "unknown (needs root and cgroup v2 memory)".into()
    };
    let spinlocks = crate::probes::spinlocks::detect_standalone(ksyms.as_ref());
    Report {
        kernel,
        checks,
        program_types,
        targets,
        proactive_interface,
        names,
        spinlocks,
    }
}

/// The machine's own prerequisites: root, cgroup v2 memory, memory.reclaim, zswap, swap.
/// Returns them with (root, memcg) for what depends on both.
fn machine_checks() -> (Vec<Check>, bool, bool) {
    let mut checks = vec![];
    let root = nix::unistd::geteuid().is_root();
    checks.push(check(
        "root",
        root,
        if root { "euid 0" } else { "not root" },
        "run as root: loading eBPF programs and writing cgroup files need it",
    ));
    let controllers = read("/sys/fs/cgroup/cgroup.controllers");
    let v2 = controllers.is_some();
    let memcg = controllers
        .as_deref()
        .is_some_and(|c| c.split_whitespace().any(|x| x == "memory"));
    checks.push(check(
        "cgroup v2 memory controller",
        memcg,
        match (&controllers, memcg) {
            (Some(c), _) => format!("/sys/fs/cgroup controllers: {c}"),
            (None, _) => "no cgroup2 at /sys/fs/cgroup (memory controller bound to cgroup v1?)".into(),
        },
        if v2 { "the memory controller is bound to cgroup v1: run inside the VM (`zswap-bench vm --kernel baseline -- ...`) or boot with cgroup_no_v1=memory" } else { "mount cgroup2 on /sys/fs/cgroup, or run in the VM (`zswap-bench vm`)" },
    ));
    let reclaim = Path::new("/sys/fs/cgroup/memory.reclaim").exists()
        || std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("memory.reclaim").exists());
    checks.push(check(
        "memory.reclaim",
        reclaim,
        if reclaim { "present" } else { "absent" },
        "needs cgroup v2 with the memory controller (kernel >= 5.19)",
    ));
    let zswap_enabled = read("/sys/module/zswap/parameters/enabled");
    let params: Vec<String> = std::fs::read_dir("/sys/module/zswap/parameters")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            Some(format!(
                "{}={}",
                e.file_name().to_string_lossy(),
                read(e.path().to_str()?)?
            ))
        })
        .collect();
    checks.push(check(
        "zswap",
        zswap_enabled.as_deref() == Some("Y"),
        if zswap_enabled.is_some() { params.join(" ") } else { "no /sys/module/zswap (CONFIG_ZSWAP off)".into() },
        "build with CONFIG_ZSWAP=y (kernels/config/guest.config) and echo Y > /sys/module/zswap/parameters/enabled",
    ));
    let swaps = read("/proc/swaps").unwrap_or_default();
    let nswap = swaps.lines().count().saturating_sub(1);
    checks.push(check(
        "swap",
        nswap > 0,
        if nswap > 0 {
            format!("{nswap} swap device(s)")
        } else {
            "none active (a run enables its own)".into()
        },
        "`zswap-bench run` sets up swap itself; for `probe`, swapon a device or file",
    ));
    (checks, root, memcg)
}

/// What the probes need of the kernel: BTF, kallsyms addresses, zswap debugfs.
fn probe_checks(checks: &mut Vec<Check>) -> (Result<KernelBtf>, Option<Kallsyms>) {
    let kbtf = KernelBtf::load();
    checks.push(check(
        "BTF",
        kbtf.is_ok(),
        match &kbtf {
            Ok(_) => "/sys/kernel/btf/vmlinux".to_string(),
            Err(e) => format!("{e:#}"),
        },
        "build with CONFIG_DEBUG_INFO_BTF=y (needs pahole)",
    ));
    let ksyms = Kallsyms::load().ok();
    let addrs = ksyms.as_ref().is_some_and(|k| k.has_addresses());
    checks.push(check(
        "kallsyms addresses",
        addrs,
        if addrs {
            "visible"
        } else {
            "hidden or unreadable"
        },
        "run as root; sysctl kernel.kptr_restrict=0",
    ));
    let debugfs = Path::new("/sys/kernel/debug/zswap").exists();
    checks.push(check(
        "zswap debugfs",
        debugfs,
        if debugfs {
            "/sys/kernel/debug/zswap"
        } else {
            "absent"
        },
        "mount debugfs (CONFIG_DEBUG_FS=y): pool_limit_hit, written_back_pages, reject_* counters",
    ));

    (kbtf, ksyms)
}

/// Every function and lock the probes may attach to, and what serves each on this kernel, with
/// the series names in use.
fn attach_targets(b: &KernelBtf, k: &Kallsyms) -> (Vec<Target>, String) {
    let mut targets = vec![];
    let (manifest, bad_env) = match profiles::from_env() {
        Ok(m) => (m, String::new()),
        Err(e) => (None, format!(" ({e:#}; built-in profiles used)")),
    };
    let series = profiles::resolve(b, manifest.as_ref());
    let names = format!(
        "profile {}: {}; budget in {:?}; stat {}{bad_env}",
        series.profile, series.evidence, series.proactive_unit, series.proactive_stat.0
    );
    let mut funcs: Vec<(&str, &'static str)> = vec![
        (kfunc::SHRINK_MEMCG, "function"),
        (kfunc::SHRINK_MEMCG_CB, "function"),
        (kfunc::WRITEBACK_ENTRY, "function"),
        (kfunc::SHRINK_WORKER, "function"),
        (kfunc::STORE, "function"),
        (kfunc::SHRINKER_SCAN, "function"),
        (kfunc::USER_PROACTIVE_RECLAIM, "function"),
        (kfunc::MEMCG_OFFLINE_CLEANUP, "function"),
    ];
    funcs.extend(
        series
            .proactive
            .iter()
            .map(|f| (f.as_str(), "proactive writeback")),
    );
    funcs.extend(
        series
            .cursor_iter
            .iter()
            .map(|f| (f.as_str(), "cursor iterator")),
    );
    funcs.extend(
        kfunc::SPIN_SLOWPATH
            .iter()
            .map(|f| (*f, "spinlock slow path")),
    );
    funcs.push((kfunc::MEMCG_FREE, "memcg free"));
    for (f, kind) in funcs {
        let p = FuncPresence::of(f, b, k);
        let status = match (p.in_btf, p.in_kallsyms) {
            (true, true) => "fentry/fexit + kprobe".into(),
            (false, true) => "kprobe only".into(),
            _ => p.describe(),
        };
        targets.push(Target {
            name: f.into(),
            kind,
            btf: p.in_btf,
            kallsyms: p.in_kallsyms,
            status,
        });
    }
    let global = series.global_lock(|l| k.addr(l).is_some());
    let lock = k.addr(&global);
    targets.push(Target {
        name: global.clone(),
        kind: "global cursor lock",
        btf: false,
        kallsyms: lock.is_some(),
        status: lock.map_or(
            "absent from kallsyms (removed, or CONFIG_KALLSYMS_ALL=n)".into(),
            |a| format!("{a:#x}"),
        ),
    });
    let cl = series.memcg_lock(b);
    targets.push(Target {
        name: cl
            .as_ref()
            .map_or("mem_cgroup.<zswap cursor>.lock".into(), |(_, n)| {
                format!("mem_cgroup.{n}")
            }),
        kind: "per-memcg cursor lock",
        btf: cl.is_some(),
        kallsyms: false,
        status: cl.map_or("no such member in struct mem_cgroup".into(), |(o, _)| {
            format!("offset {o:#x}")
        }),
    });
    (targets, names)
}

/// Load and attach one program of each type with the probe layer's own attach code, then drop
/// them all (dropping the object detaches).
fn program_types(have_btf: bool, ksyms: Option<&Kallsyms>) -> Vec<Check> {
    let btf = Btf::from_sys_fs().ok();
    let mut ebpf = match EbpfLoader::new()
        .btf(btf.as_ref())
        .load(crate::probes::object())
    {
        Ok(e) => e,
        Err(e) => {
            return vec![check(
                "load eBPF object",
                false,
                format!("{e}"),
                "run as root; kernel needs CONFIG_BPF_SYSCALL=y",
            )];
        }
    };
    // A function every kernel has; these programs only touch their context.
    let func =
        if have_btf && btf.is_some() && ksyms.is_some_and(|k| k.addr(kfunc::STORE).is_some()) {
            kfunc::STORE
        } else {
            kfunc::VFS_READ
        }
        .to_string();
    let fentry_fix =
        "kernel lockdown or no DYNAMIC_FTRACE_WITH_DIRECT_CALLS: kprobes are the fallback";
    let cases = [
        (
            "fentry",
            Hook::Fentry {
                prog: prog::FENTRY_SHRINKER_SCAN,
                func: func.clone(),
            },
            fentry_fix,
        ),
        (
            "fexit",
            Hook::Fexit {
                prog: prog::FEXIT_SHRINKER_SCAN,
                func: func.clone(),
            },
            fentry_fix,
        ),
        (
            "kprobe",
            Hook::Kprobe {
                prog: prog::KPROBE_SHRINK_MEMCG_XCHECK,
                func,
            },
            "build with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y; tracepoints are the fallback",
        ),
        (
            "tracepoint",
            Hook::Tracepoint {
                prog: prog::TP_CONTENTION_BEGIN,
                category: "lock",
                name: "contention_begin",
            },
            "mount tracefs; CONFIG_TRACEPOINTS",
        ),
        (
            "tp_btf",
            Hook::TpBtf {
                prog: prog::TP_BTF_CONTENTION_BEGIN,
                tp: "contention_begin",
            },
            "needs BTF (CONFIG_DEBUG_INFO_BTF=y)",
        ),
    ];
    let Some(b) = btf.as_ref() else {
        return cases
            .iter()
            .map(|(n, _, fix)| check(n, false, "no kernel BTF", fix))
            .collect();
    };
    let mut a = Attacher {
        ebpf: &mut ebpf,
        btf: b,
        plan: vec![],
        attached: vec![],
    };
    cases
        .into_iter()
        .map(|(name, hook, fix)| {
            let r = a.try_hook(&hook);
            check(
                name,
                r.is_ok(),
                r.err().unwrap_or_else(|| "loads and attaches".into()),
                fix,
            )
        })
        .collect()
}

pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "kernel: {}", r.kernel);
    let mut section = |title: &str, rows: &[Check]| {
        let _ = writeln!(s, "\n{title}");
        for c in rows {
            let _ = writeln!(
                s,
                "  {:<4} {:<28} {}",
                if c.ok { "yes" } else { "NO" },
                c.name,
                c.detail
            );
            if let Some(f) = &c.fix {
                let _ = writeln!(s, "       {:<28} fix: {f}", "");
            }
        }
    };
    section("environment", &r.checks);
    section("program types (test load + attach)", &r.program_types);
    let _ = writeln!(s, "\nprobe targets");
    let _ = writeln!(
        s,
        "  {:<34} {:<22} {:<4} {:<8} STATUS",
        "NAME", "KIND", "BTF", "KALLSYMS"
    );
    for t in &r.targets {
        let _ = writeln!(
            s,
            "  {:<34} {:<22} {:<4} {:<8} {}",
            t.name,
            t.kind,
            if t.btf { "yes" } else { "no" },
            if t.kallsyms { "yes" } else { "no" },
            t.status
        );
    }
    let _ = writeln!(
        s,
        "\nproactive writeback interface: {}",
        r.proactive_interface
    );
    let _ = writeln!(s, "series names: {}", r.names);
    let _ = writeln!(
        s,
        "spinlocks: {} ({})",
        r.spinlocks.implementation.describe(),
        r.spinlocks.evidence
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_fix_for_each_no() {
        let r = Report {
            kernel: "7.3.4".into(),
            checks: vec![check(
                "cgroup v2 memory controller",
                false,
                "v1",
                "run in the VM",
            )],
            program_types: vec![check("fentry", true, "loads and attaches", "")],
            targets: vec![],
            proactive_interface: "none".into(),
            names: "profile v3: zswap_proactive_writeback(memcg, nr_to_writeback)".into(),
            spinlocks: crate::probes::spinlocks::classify(Some(Some(1)), true, false),
        };
        let t = render(&r);
        assert!(
            t.contains("spinlocks: virt test-and-set (virt_spin_lock_key=1"),
            "{t}"
        );
        assert!(t.contains("NO   cgroup v2 memory controller"), "{t}");
        assert!(t.contains("series names: profile v3: "), "{t}");
        assert!(t.contains("fix: run in the VM"), "{t}");
        assert!(!t.contains("fix: \n"), "{t}");
    }
}
