//! A run in a VM (`--kernel`, and every matrix cell): boot the kernel, run this program inside
//! with `--host` and the same scenario, then add to each result what only the host knows (the
//! kernel's manifest, config hash, patch series, accelerator, and problems the console showed).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use bench_results::schema::{self, ResultFile};

use super::ids::make_run_id;
use crate::cli::RunArgs;
use crate::machine::cgroup;
use crate::options::GuestShape;
use crate::scenario::Plan;

/// Manifest name of a `--kernel` argument (a path's file stem).
pub(crate) fn kernel_name(kernel: &str) -> String {
    Path::new(kernel)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| kernel.to_string())
}

pub(super) fn run_vm(
    args: &RunArgs,
    kernel: &str,
    scenario_path: &Path,
    l: &Plan,
    repeats: u32,
) -> Result<ExitCode> {
    // A kernel name that names nothing is refused before the results directory exists.
    crate::kernel::check_named(kernel)?;
    // What the guest would refuse only after booting is refused here, before anything exists.
    // A bare bzImage: the config and System.map beside it, when there are.
    let facts = if crate::kernel::is_image(kernel) {
        super::preboot::KernelFacts::of(&crate::kernel::BuiltKernel::from_image(Path::new(kernel)))
    } else {
        match crate::kernel::find_built(kernel)? {
            Some(k) => super::preboot::KernelFacts::of(&k),
            None => super::preboot::KernelFacts::unknown(&kernel_name(kernel)),
        }
    };
    super::preboot::check(l, &facts, crate::vm::GUEST_MEM, crate::vm::tmp_free_bytes())?;
    let out = match &args.out {
        Some(o) => o.clone(),
        None => crate::paths::repo_root()
            .join("results")
            .join(make_run_id(&l.name, &kernel_name(kernel))),
    };
    vm_cell(
        kernel,
        scenario_path,
        l,
        &out,
        repeats,
        GuestShape::from(args),
        &CellRun::default(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What a matrix cell adds to a plain `run --kernel`: the kernel already resolved (and checked
/// against the plan's content address), and the host CPUs QEMU may use.
#[derive(Debug, Default)]
pub(crate) struct CellRun {
    pub built: Option<crate::kernel::BuiltKernel>,
    pub pin: Option<Vec<usize>>,
}

/// Boots `kernel`, runs the scenario inside with `--host`, and adds the kernel identity to the
/// results. Err when the guest run cannot be trusted (exit status, timeout, kernel trouble); the
/// results it wrote stay in `out`.
pub(crate) fn vm_cell(
    kernel: &str,
    scenario_path: &Path,
    l: &Plan,
    out: &Path,
    repeats: u32,
    shape: GuestShape,
    cell: &CellRun,
) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    // The guest runs this same file by path: a rebuild while a matrix runs replaces it, and
    // every later cell would fail with a bare "No such file or directory".
    if exe.to_string_lossy().ends_with(" (deleted)") || !exe.is_file() {
        anyhow::bail!(
            "this zswap-bench executable ({}) was replaced or removed since it started (a rebuild while it ran?), so the guest cannot run it; fix: run long matrices from a copy of the binary that stays put, and complete this one with `--resume`",
            exe.display()
        );
    }
    let scen = std::fs::canonicalize(scenario_path)
        .with_context(|| format!("resolving {}", scenario_path.display()))?;
    let kname = kernel_name(kernel);
    super::ids::ensure_writable(out)?;
    let out = std::fs::canonicalize(out)?;
    let ph = &l.phases;
    // TCG is slow and uneven (probe attach alone takes ~10-30 s): generous, but bounded.
    let per_repeat = ph.setup_timeout + (ph.warmup + ph.measure) * 2 + Duration::from_secs(90);
    // Overcommitted vCPUs (TCG, more vCPUs than cores) slow everything down in proportion.
    let host = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let slow = shape.cpus.div_ceil(host).max(1);
    let timeout = (per_repeat * repeats + Duration::from_secs(120)) * slow;
    let req = crate::vm::GuestRun {
        kernel: kernel.to_string(),
        command: vec![
            exe.to_string_lossy().into_owned(),
            "run".into(),
            scen.to_string_lossy().into_owned(),
            "--host".into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--repeat".into(),
            repeats.to_string(),
        ]
        .into_iter()
        .chain((!l.probes.enabled).then(|| "--no-probes".to_string()))
        .chain((l.probes.enabled && l.probes.walk_steps).then(|| "--walk-steps".to_string()))
        .chain(
            l.burst
                .iter()
                .flat_map(|b| ["--idle-action".to_string(), b.action.as_str().to_string()]),
        )
        .collect(),
        out_dir: Some(out.clone()),
        swap: l.swap.size.max(256 << 20),
        shape,
        timeout,
        built: cell.built.clone(),
        pin: cell.pin.clone(),
        ..Default::default()
    };
    eprintln!(
        "running {} on kernel {kernel} in a VM; results in {}",
        l.name,
        out.display()
    );
    let outcome = match crate::vm::run_in_guest(&req) {
        Ok(o) => o,
        Err(e) => {
            // The guest died without an exit status (a kernel panic, a killed QEMU): whatever
            // repeats it finished ran on a kernel that then failed, so none may claim numbers.
            if let Err(w) = rewrite_results(&out, |r| discredit(r, &e)) {
                eprintln!("zswap-bench: could not mark the cell's results failed: {w:#}");
            }
            return Err(e);
        }
    };
    let annotated = annotate(&out, &kname, &outcome, &shape).unwrap_or_else(|e| {
        eprintln!("zswap-bench: could not add the kernel identity to the results: {e:#}");
        0
    });
    eprintln!(
        "{annotated} result file(s) under {}; console log {}",
        out.display(),
        outcome.log.display()
    );
    outcome.ok()?;
    Ok(outcome.log)
}

/// Reads every result under `out`, lets `f` change it and writes it back (atomically).
/// Returns how many there were.
pub(crate) fn rewrite_results(out: &Path, mut f: impl FnMut(&mut ResultFile)) -> Result<usize> {
    let mut n = 0;
    for dir in cgroup::walk(out) {
        if !dir.join(schema::RESULT_FILE).is_file() {
            continue;
        }
        let mut r = ResultFile::read(&dir)?;
        f(&mut r);
        r.write_atomic(&dir)?;
        n += 1;
    }
    Ok(n)
}

/// A guest run that cannot be trusted discredits every number it produced, also those of
/// repeats that had finished: no result of it claims numbers (one already failed keeps its
/// own reason).
fn discredit(r: &mut ResultFile, e: &anyhow::Error) {
    if r.failed.is_none() {
        r.failed = Some(format!("the guest run of this cell failed: {e:#}"));
    }
}

/// Adds what only the host knows (manifest name, config hash, patches, accelerator) to every
/// result the guest wrote, and discredits those that ran on another vCPU count than `shape`
/// asked for: they would be filed under a count they did not have.
fn annotate(
    out: &Path,
    manifest: &str,
    o: &crate::vm::GuestOutcome,
    shape: &GuestShape,
) -> Result<usize> {
    let trust = o.ok();
    rewrite_results(out, |r| {
        if r.kernel.cpus != shape.cpus {
            discredit(
                r,
                &anyhow::anyhow!(
                    "the guest ran on {} CPUs, not the {} vCPUs asked for",
                    r.kernel.cpus,
                    shape.cpus
                ),
            );
        }
        r.kernel.manifest = Some(manifest.to_string());
        r.kernel.config_sha256 = Some(o.kernel.config_sha256.clone());
        r.kernel.host_cpus = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u32);
        r.kernel.accel = o.accel;
        if !o.kernel.patches.is_empty() {
            r.kernel.series = Some(series(&o.kernel));
        }
        if !o.problems.is_empty() {
            r.warnings.push(format!(
                "kernel reported problems during the run (console log {}): {}",
                o.log.display(),
                o.problems.join(" | ")
            ));
        }
        if let Err(e) = &trust {
            discredit(r, e);
        }
    })
}

/// The series a built kernel carries, as the result records it.
fn series(k: &crate::kernel::BuiltKernel) -> schema::Series {
    schema::Series {
        name: k.name.clone(),
        patches: k
            .patches
            .iter()
            .map(|p| schema::Patch {
                name: p.name.clone(),
                sha256: p.sha256.clone(),
            })
            .collect(),
        applied: k
            .applied
            .iter()
            .map(|(patch, how)| schema::AppliedPatch {
                patch: patch.clone(),
                how: how.clone(),
            })
            .collect(),
        build_secs: (k.build_secs > 0.0).then_some(k.build_secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::testing::MockResult;

    /// A guest run that finished cleanly, as far as the VM layer can tell.
    fn clean_outcome(log: &Path) -> crate::vm::GuestOutcome {
        crate::vm::GuestOutcome {
            exit_code: 0,
            output: String::new(),
            log: log.to_path_buf(),
            problems: vec![],
            timed_out: false,
            boot_to_command: None,
            wall: Duration::from_secs(1),
            accel: schema::Accel::Tcg,
            kernel: crate::kernel::BuiltKernel::from_image(Path::new("/nonexistent/bzImage")),
            init_error: None,
        }
    }

    #[test]
    fn a_result_from_another_cpu_count_than_asked_is_discredited() {
        let d = tempfile::tempdir().unwrap();
        let (two, four) = (d.path().join("two"), d.path().join("four"));
        for (dir, cpus) in [(&two, 2), (&four, 4)] {
            let mut r = MockResult::baseline(0).build();
            r.kernel.cpus = cpus;
            r.write_atomic(dir).unwrap();
        }
        let shape = GuestShape {
            cpus: 4,
            ..Default::default()
        };
        let o = clean_outcome(&d.path().join("console.log"));
        assert_eq!(annotate(d.path(), "baseline", &o, &shape).unwrap(), 2);
        let failed = ResultFile::read(&two).unwrap().failed.unwrap_or_default();
        assert!(
            failed.contains("the guest ran on 2 CPUs, not the 4 vCPUs asked for"),
            "{failed}"
        );
        assert_eq!(ResultFile::read(&four).unwrap().failed, None);
    }
}
