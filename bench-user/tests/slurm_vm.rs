//! `matrix --slurm` on a single-node Slurm cluster the test starts itself (scripts/slurm-local):
//! a 4-cell matrix of 1-vCPU guests runs as a job array; its results pass the schema and the
//! same cross-checks as local ones; one task cancelled with `scancel` mid-cell is reported
//! failed, and `--resume` resubmits that cell alone and completes the matrix. The daemons are
//! stopped by pid at the end, pass or fail.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A running private cluster; stopped when dropped (also when the test panics).
struct Cluster {
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let o = Command::new(repo().join("scripts/slurm-local"))
            .args(["start", dir.to_str().unwrap()])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "scripts/slurm-local start failed:\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let conf = out
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("export SLURM_CONF="))
            .expect("start prints the export line last")
            .to_string();
        Cluster {
            dir: dir.to_path_buf(),
            conf,
        }
    }

    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).current_dir(repo());
        c
    }

    fn zb(&self, args: &[&str]) -> Output {
        let o = self.cmd(zb()).args(args).output().unwrap();
        eprintln!(
            "$ zswap-bench {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/slurm-local"))
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
#[ignore = "boots guest kernels under a private Slurm cluster: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn a_slurm_matrix_survives_a_cancelled_task_and_resume_completes_it() {
    require_vm();
    let d = tempfile::Builder::new()
        .prefix("slurm-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let cluster = Cluster::start(&d.path().join("cluster"));
    let m = d.path().join("m.toml");
    // TCG asked for explicitly: under --slurm, "auto" would mean KVM, which this machine lacks.
    std::fs::write(
        &m,
        "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 4\ncpus = [1]\naccel = \"tcg\"\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = out.to_str().unwrap();
    let sub = cluster.zb(&["matrix", m.to_str().unwrap(), "--slurm", "--out", o]);
    assert!(sub.status.success(), "submission failed");
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
    let subs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("slurm.json")).unwrap()).unwrap();
    let (job, cells) = subs["submissions"][0]["arrays"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .map(|(j, c)| (j.clone(), c.as_array().unwrap().len()))
        .unwrap();
    assert_eq!(cells, 4, "one array task per cell");

    // Cancel one task once its guest is booting (its console log exists) and a few seconds on.
    let t0 = Instant::now();
    let victim = loop {
        let q = cluster
            .cmd("squeue")
            .args(["-h", "-r", "-t", "RUNNING", "-o", "%i", "-j", &job])
            .output()
            .unwrap();
        let running: Vec<String> = String::from_utf8_lossy(&q.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect();
        let booted = running.iter().find(|id| {
            let i: usize = id.rsplit('_').next().unwrap().parse().unwrap();
            let dir = plan["cells"][i]["dir"].as_str().unwrap();
            out.join(dir).join("console.log").is_file()
        });
        if let Some(id) = booted {
            break id.clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no task started a guest"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    std::thread::sleep(Duration::from_secs(5));
    let c = cluster.cmd("scancel").arg(&victim).status().unwrap();
    assert!(c.success());
    let vi: usize = victim.rsplit('_').next().unwrap().parse().unwrap();
    let vdir = plan["cells"][vi]["dir"].as_str().unwrap().to_string();

    // Everything settles: three cells done, the cancelled one failed (never "done", never
    // waiting forever), and the status exits non-zero.
    let st = cluster.zb(&["matrix", "--status", o, "--wait"]);
    assert!(
        !st.status.success(),
        "a matrix with a failed cell is not done"
    );
    let s = text(&st);
    assert!(s.contains("3 done, 1 failed"), "{s}");
    let line = s.lines().find(|l| l.contains(&vdir)).unwrap();
    assert!(line.contains("failed"), "{line}");

    // Resume: only the cancelled cell is submitted again, and the matrix completes.
    let re = cluster.zb(&["matrix", "--out", o, "--resume", "--slurm"]);
    assert!(re.status.success());
    assert!(text(&re).contains("submitted 1 cell(s)"), "{}", text(&re));
    let st = cluster.zb(&["matrix", "--status", o, "--wait"]);
    assert!(st.status.success(), "{}", text(&st));
    assert!(text(&st).contains("4 done"));
    assert!(
        out.join(format!("{vdir}.attempt-1")).is_dir(),
        "the cancelled attempt is kept"
    );

    // The results are whole, checked like local ones, and say where they ran.
    for i in 0..4 {
        let dir = out.join(plan["cells"][i]["dir"].as_str().unwrap());
        let f = bench_results::schema::ResultFile::read(&dir).unwrap();
        assert!(f.failed.is_none(), "{}: {:?}", dir.display(), f.failed);
        assert_eq!(f.kernel.cpus, 1);
        assert!(f.probes.writeback.as_ref().is_some_and(|w| w.pages > 0));
        assert!(!f.crosschecks.is_empty());
        for x in &f.crosschecks {
            assert!(x.agree, "{}: {x:?}", dir.display());
        }
        let p = f.placement.expect("placement recorded");
        assert_eq!(p.backend, "slurm");
        assert!(p.slurm_task.is_some_and(|t| t.ends_with(&format!("_{i}"))));
    }
    // The last report job (afterany) writes the report without failed cells.
    let t0 = Instant::now();
    loop {
        let r = std::fs::read_to_string(out.join("report-quick.txt")).unwrap_or_default();
        if !r.is_empty() && !r.contains("Failed cells") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no complete report from the report job:\n{r}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(cluster);
}
