//! Foundation tests on a real guest: doctor inside the baseline kernel, exit status, timeout,
//! and the bad-input messages of kernel/vm.
mod common;
use common::*;

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn doctor_in_baseline_guest() {
    require_vm();
    let (code, out, _) = vm("baseline", "300s", &[&zb_str(), "doctor", "--json"]);
    assert_eq!(code, 0);
    let start = out.find('{').expect("JSON in output");
    let v: serde_json::Value =
        serde_json::from_str(out[start..].trim()).expect("doctor --json parses");
    let check = |section: &str, name: &str| -> bool {
        v[section]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["ok"]
            .as_bool()
            .unwrap()
    };
    assert!(check("checks", "cgroup v2 memory controller"));
    assert!(check("checks", "BTF"));
    assert!(check("checks", "zswap"));
    assert!(check("program_types", "fentry"));
    assert!(check("program_types", "kprobe"));
    assert!(check("program_types", "tp_btf"));
    let t = |n: &str| {
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(t("shrink_memcg")["btf"], true);
    assert_eq!(t("shrink_memcg")["kallsyms"], true);
    assert_eq!(
        t("zswap_shrink_lock")["kallsyms"],
        true,
        "KALLSYMS_ALL exposes the global cursor lock"
    );
    assert_eq!(t("zswap_proactive_writeback")["kallsyms"], false);
    assert_eq!(t("queued_spin_lock_slowpath")["btf"], true);
    assert_eq!(v["proactive_interface"], "none");
    // The default guest hides the hypervisor CPUID bit, so spinlocks are the native queued
    // ones, and the deciding static key, read from the running kernel, says so.
    assert_eq!(v["spinlocks"]["implementation"], "native_qspinlock");
    let ev = v["spinlocks"]["evidence"].as_str().unwrap();
    assert!(ev.starts_with("virt_spin_lock_key=0 (read by BPF)"), "{ev}");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn spinlocks_option_selects_the_guest_lock_implementation() {
    require_vm();
    let (code, out, _) = vm_with(
        "baseline",
        "300s",
        &["--spinlocks", "virt"],
        &[&zb_str(), "doctor", "--json"],
    );
    assert_eq!(code, 0);
    let start = out.find('{').expect("JSON in output");
    let v: serde_json::Value = serde_json::from_str(out[start..].trim()).unwrap();
    assert_eq!(v["spinlocks"]["implementation"], "virt_test_and_set");
    let ev = v["spinlocks"]["evidence"].as_str().unwrap();
    assert!(ev.starts_with("virt_spin_lock_key=1 (read by BPF)"), "{ev}");
    assert!(ev.contains("hypervisor CPUID bit set"), "{ev}");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn guest_exit_status_comes_back() {
    require_vm();
    let (code, out, _) = vm(
        "baseline",
        "120s",
        &["/bin/sh", "-c", "echo from-the-guest; exit 7"],
    );
    assert_eq!(code, 7);
    assert!(out.contains("from-the-guest"));
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn guest_past_timeout_is_killed() {
    require_vm();
    let before = (vm_temp_dirs(), qemu_processes());
    let t0 = std::time::Instant::now();
    let (code, _, err) = vm("baseline", "15s", &["/bin/sleep", "600"]);
    assert_eq!(code, 124);
    assert!(err.contains("exceeded --timeout"), "{err}");
    assert!(t0.elapsed().as_secs() < 60);
    // A hung guest leaves nothing behind on the host: no QEMU, no control directory.
    assert_eq!((vm_temp_dirs(), qemu_processes()), before);
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn too_many_vcpus_are_refused_before_boot() {
    require_vm();
    let t0 = std::time::Instant::now();
    let (code, out, err) = vm_with("baseline", "120s", &["--cpus", "300"], &["/bin/true"]);
    assert_ne!(code, 0);
    // Both limits named: the kernel's (from the .config the cache keeps) and QEMU's.
    assert!(
        err.contains("--cpus 300: kernel baseline was built with CONFIG_NR_CPUS=256")
            && err.contains("at most 255 vCPUs")
            && err.contains("fix: use --cpus 255 or fewer"),
        "{err}"
    );
    // Refused before QEMU: no boot (a TCG boot alone takes seconds), no run summary.
    assert!(t0.elapsed().as_secs() < 5, "took {:?}", t0.elapsed());
    assert!(
        !err.contains("zswap-bench vm: kernel") && out.is_empty(),
        "{err}"
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn a_numa_guest_has_its_cpus_and_nodes_online() {
    require_vm();
    // Even (a socket per node) and uneven (a socket per vCPU) splits: both boot without kernel
    // trouble (a cache shared across nodes would warn) and with every CPU and node online.
    for (cpus, nodes, cpu_list, node_list) in [("4", "2", "0-3", "0-1"), ("3", "2", "0-2", "0-1")] {
        let (code, out, err) = vm_with(
            "baseline",
            "300s",
            &["--cpus", cpus, "--numa", nodes],
            &[
                "/bin/cat",
                "/sys/devices/system/cpu/online",
                "/sys/devices/system/node/online",
            ],
        );
        assert_eq!(code, 0, "--cpus {cpus} --numa {nodes}: {err}");
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let at = lines.iter().position(|l| *l == cpu_list);
        assert!(
            at.is_some_and(|i| lines.get(i + 1) == Some(&node_list)),
            "expected CPUs {cpu_list} then nodes {node_list} online:\n{out}"
        );
    }
}

/// The VM layer's control directories in the temp dir.
fn vm_temp_dirs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("zswap-bench-vm."))
        .collect();
    v.sort();
    v
}

/// Live (not zombie) QEMU processes on the machine.
fn qemu_processes() -> Vec<u32> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.starts_with("qemu-system") && !gone(pid) {
            v.push(pid);
        }
    }
    v.sort();
    v
}

#[test]
fn unknown_kernel_is_named() {
    let out = run(&["kernel", "build", "no-such-kernel"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("unknown kernel \"no-such-kernel\"") && e.contains("baseline"),
        "{e}"
    );
}

#[test]
fn manifest_typo_is_reported_with_line() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("typo.toml");
    std::fs::write(
        &m,
        "name = \"typo\"\n[source]\ndebian = \"linux-source-7.3\"\n[config]\nfragmets = [\"x\"]\n",
    )
    .unwrap();
    let out = run(&["kernel", "build", m.to_str().unwrap()]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("unknown field `fragmets`") && e.contains("typo.toml:5:1:"),
        "{e}"
    );
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn patch_that_does_not_apply_names_the_patch() {
    require_vm();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::copy(
        repo().join("kernels/config/guest.config"),
        d.path().join("config/guest.config"),
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("series")).unwrap();
    std::fs::write(
        d.path().join("series/0001-bad.patch"),
        "--- a/mm/zswap.c\n+++ b/mm/zswap.c\n@@ -1,3 +1,3 @@\n-this line is not in zswap.c\n+neither is this\n context\n more context\n",
    )
    .unwrap();
    let m = d.path().join("bad.toml");
    std::fs::write(&m, "name = \"bad\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\ndir = \"series\"\n[config]\nfragments = [\"config/guest.config\"]\n").unwrap();
    let out = run(&["kernel", "build", m.to_str().unwrap()]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("\"0001-bad.patch\"") && e.contains("does not apply"),
        "{e}"
    );
    // The first failing file and hunk, and the way out.
    assert!(
        e.contains("first failure: mm/zswap.c: Hunk #1 FAILED"),
        "{e}"
    );
    assert!(e.contains("fuzz = N") && !e.contains("blob above"), "{e}");
}

#[test]
fn missing_qemu_is_explained() {
    let out = std::process::Command::new(zb())
        .args(["vm", "--kernel", "baseline", "--", "true"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("qemu-system-x86_64 not found") && e.contains("scripts/setup"),
        "{e}"
    );
}

#[test]
fn kvm_request_without_usable_kvm_is_explained() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = cpu.contains(" vmx") || cpu.contains(" svm");
    if hw && std::path::Path::new("/dev/kvm").exists() {
        eprintln!("skipped: this machine has usable KVM");
        return;
    }
    let out = run(&["vm", "--accel", "kvm", "--kernel", "baseline", "--", "true"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("--accel kvm") && e.contains("--accel tcg"),
        "{e}"
    );
}

#[test]
fn probes_need_root() {
    if unsafe { libc::geteuid() } != 0
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs root and setpriv to drop privileges");
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(zb())
        .args(["probe", "--duration", "1s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("needs root") && e.contains("fix:"), "{e}");
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn sigkilled_runner_leaves_no_qemu_behind() {
    require_vm();
    let mut runner = std::process::Command::new(zb())
        .args(["vm", "--kernel", "baseline", "--timeout", "5m", "--"])
        .args(["/bin/sleep", "600"])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let qemu = loop {
        if let Some(&(pid, _)) = children_named(runner.id(), "qemu-system").first() {
            break pid;
        }
        assert!(
            t0.elapsed().as_secs() < 60,
            "no QEMU child of the runner after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Let the guest boot a little, so the kill lands mid-run rather than at exec.
    std::thread::sleep(std::time::Duration::from_secs(3));
    runner.kill().unwrap(); // SIGKILL: no destructor, no handler runs in the runner
    runner.wait().unwrap();
    let t1 = std::time::Instant::now();
    while !gone(qemu) {
        assert!(
            t1.elapsed().as_secs() < 15,
            "QEMU (pid {qemu}) still runs 15 s after its runner was SIGKILLed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Its control directory (with the sparse swap image) outlived it; cleanup removes it.
    let mine = format!("zswap-bench-vm.{}.", runner.id());
    let left = || {
        vm_temp_dirs()
            .into_iter()
            .filter(|d| d.starts_with(&mine))
            .count()
    };
    assert_eq!(left(), 1, "the killed runner's control directory");
    assert!(run(&["cleanup"]).status.success());
    assert_eq!(left(), 0, "cleanup left the control directory");
}
