//! `matrix --jobs 2`: two 1-vCPU cells run at the same time, each QEMU pinned to its own host
//! CPU (read from the kernel's view of each process while they run), and both results record
//! where they ran and that the other ran beside them.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn cpus_allowed(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

#[test]
#[ignore = "boots guest kernels: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn two_jobs_run_at_once_on_disjoint_host_cpus_and_say_so() {
    require_vm();
    let host_cpus = std::thread::available_parallelism().unwrap().get();
    assert!(
        host_cpus >= 2,
        "needs 2 host CPUs, this machine has {host_cpus}"
    );
    let d = tempfile::Builder::new()
        .prefix("jobs-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let m = d.path().join("m.toml");
    std::fs::write(
        &m,
        "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 2\ncpus = [1]\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let mut runner = Command::new(zb())
        .args([
            "matrix",
            m.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "2"])
        .current_dir(repo())
        .spawn()
        .unwrap();
    // Both QEMUs at once, each with its own CPU.
    let t0 = std::time::Instant::now();
    let seen = loop {
        let q = children_named(runner.id(), "qemu-system");
        let lists: Vec<String> = q.iter().filter_map(|(p, _)| cpus_allowed(*p)).collect();
        if lists.len() == 2 {
            break lists;
        }
        if let Ok(Some(s)) = runner.try_wait() {
            panic!("the matrix ended ({s}) before two QEMUs ran at once");
        }
        assert!(t0.elapsed().as_secs() < 300, "two QEMUs never ran at once");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_ne!(
        seen[0], seen[1],
        "both QEMUs on the same host CPUs: {seen:?}"
    );
    for l in &seen {
        assert!(
            l.parse::<u32>().is_ok(),
            "each 1-vCPU cell is pinned to one host CPU, got {l:?}"
        );
    }
    assert!(runner.wait().unwrap().success(), "the matrix failed");
    let mut cpus = vec![];
    for r in 0..2 {
        let dir = out.join(format!("quick-baseline-r{r}"));
        let f = bench_results::schema::ResultFile::read(&dir).unwrap();
        assert!(f.failed.is_none(), "{}: {:?}", dir.display(), f.failed);
        assert_eq!(f.kernel.cpus, 1);
        let p = f.placement.expect("the result records its placement");
        assert_eq!(p.backend, "local");
        assert_eq!(p.pinned_by, "zswap-bench");
        assert_eq!(p.jobs, Some(2));
        assert_eq!(p.host_cpus.len(), 1);
        assert!(!p.qemu_version.is_empty() && !p.qemu_version.starts_with("unknown"));
        let other = format!("quick-baseline-r{}", 1 - r);
        assert_eq!(p.beside, Some(vec![other]), "the other cell ran beside it");
        cpus.push(p.host_cpus[0]);
        // The pinned CPU the result names is the one the kernel reported while it ran.
        assert!(
            seen.contains(&p.host_cpus[0].to_string()),
            "{seen:?} vs {cpus:?}"
        );
    }
    assert_ne!(cpus[0], cpus[1]);
    let report = std::fs::read_to_string(out.join("report-quick.txt")).unwrap();
    let flat = report.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("2 of 2 runs ran beside 1 other cell"),
        "{report}"
    );
    assert!(Path::new(&out.join("plan.json")).is_file());
}
