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
pub(super) fn kernel_name(kernel: &str) -> String {
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
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Boots `kernel`, runs the scenario inside with `--host`, and adds the kernel identity to the
/// results. Err when the guest run cannot be trusted (exit status, timeout, kernel trouble); the
/// results it wrote stay in `out`.
pub(super) fn vm_cell(
    kernel: &str,
    scenario_path: &Path,
    l: &Plan,
    out: &Path,
    repeats: u32,
    shape: GuestShape,
) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
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
        .collect(),
        out_dir: Some(out.clone()),
        swap: l.swap.size.max(256 << 20),
        shape,
        timeout,
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
            discredit(&out, &format!("the guest run of this cell failed: {e:#}"));
            return Err(e);
        }
    };
    let annotated = annotate(&out, &kname, &outcome).unwrap_or_else(|e| {
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

/// Marks every result under `out` failed with `why` (those already failed keep their reason).
fn discredit(out: &Path, why: &str) {
    for dir in cgroup::walk(out) {
        if !dir.join(schema::RESULT_FILE).is_file() {
            continue;
        }
        let marked = ResultFile::read(&dir).and_then(|mut r| {
            if r.failed.is_none() {
                r.failed = Some(why.to_string());
                r.write_atomic(&dir)?;
            }
            Ok(())
        });
        if let Err(e) = marked {
            eprintln!("zswap-bench: could not mark {} failed: {e}", dir.display());
        }
    }
}

/// Adds what only the host knows (manifest name, config hash, patches, accelerator) to every
/// result the guest wrote.
fn annotate(out: &Path, manifest: &str, o: &crate::vm::GuestOutcome) -> Result<usize> {
    let mut n = 0;
    for dir in cgroup::walk(out) {
        if !dir.join(schema::RESULT_FILE).is_file() {
            continue;
        }
        let mut r = ResultFile::read(&dir)?;
        r.kernel.manifest = Some(manifest.to_string());
        r.kernel.config_sha256 = Some(o.kernel.config_sha256.clone());
        r.kernel.host_cpus = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u32);
        r.kernel.accel = o.accel;
        if !o.kernel.patches.is_empty() {
            r.kernel.series = Some(schema::Series {
                name: o.kernel.name.clone(),
                patches: o
                    .kernel
                    .patches
                    .iter()
                    .map(|p| schema::Patch {
                        name: p.name.clone(),
                        sha256: p.sha256.clone(),
                    })
                    .collect(),
                applied: o
                    .kernel
                    .applied
                    .iter()
                    .map(|(patch, how)| schema::AppliedPatch {
                        patch: patch.clone(),
                        how: how.clone(),
                    })
                    .collect(),
            });
        }
        if !o.problems.is_empty() {
            r.warnings.push(format!(
                "kernel reported problems during the run (console log {}): {}",
                o.log.display(),
                o.problems.join(" | ")
            ));
        }
        // A guest that panicked, hung or failed later in the cell discredits every number it
        // produced, also those of repeats that had finished: no result of it claims numbers.
        if let (Err(e), None) = (o.ok(), &r.failed) {
            r.failed = Some(format!("the guest run of this cell failed: {e:#}"));
        }
        r.write_atomic(&dir)?;
        n += 1;
    }
    Ok(n)
}
