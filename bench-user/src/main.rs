//! zswap-bench: build kernels with a zswap series applied, boot them, attach eBPF probes, run
//! reclaim + proactive-writeback workloads over a cgroup v2 tree, and write result files that
//! `plot` and `compare` turn into figures and mailing-list text.
//!
//! Data flows one way: probes/ (attach, read) -> run (collect) -> result file (bench-results)
//! -> analysis/plots/report (bench-results).
mod cli;
mod doctor;
mod kernel;
mod limits;
mod machine;
mod matrix;
mod options;
mod paths;
mod probes;
mod run;
mod scenario;
mod selftest;
mod toml_error;
mod topology;
mod units;
mod vm;
mod workload;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command, KernelCmd};

fn main() -> ExitCode {
    // Inside the VM the kernel starts this very binary as init.
    if vm::init::is_guest_init() {
        vm::init::main();
    }
    let cli = Cli::parse();
    if let Some(d) = &cli.mbox_dir {
        // SAFETY: no other thread runs yet. The runner's children (matrix cells, builds) read
        // the folder from the environment, so the option is passed on as the variable.
        unsafe { std::env::set_var("ZSWAP_BENCH_MBOX_DIR", d) };
    }
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_target(false)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zswap-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Kernel { cmd } => match cmd {
            KernelCmd::Build { kernel } => {
                let built = kernel::build(&kernel)?;
                println!("{}", built.bzimage.display());
            }
            KernelCmd::Apply { kernel } => {
                for (patch, how) in kernel::apply_only(&kernel)? {
                    println!("{patch}\n    {how}");
                }
            }
            KernelCmd::List => kernel::list()?,
            KernelCmd::Path { kernel } => println!("{}", kernel::build(&kernel)?.bzimage.display()),
            KernelCmd::Selftest { kernel, against } => {
                return selftest::cli(&kernel, against.as_deref());
            }
        },
        Command::Vm(args) => return vm::run_cli(&args),
        Command::Doctor { json } => return doctor::run(json),
        Command::Probe(args) => probes::cli::run(&args)?,
        Command::Run(args) => return run::run(&args),
        Command::Cleanup => {
            let n = vm::remove_stale_control_dirs();
            if n > 0 {
                println!("removed {n} VM control director(y/ies) of runners that are gone");
            }
            machine::state::cleanup_cli()?
        }
        Command::Plot {
            results,
            out,
            split_builds,
        } => {
            let mut files = read_results(&results)?;
            check_builds(&mut files, split_builds)?;
            // The scaling figures set guests side by side by their vCPU counts; every other
            // figure draws a kernel's guests apart, as `--split-by guest` labels them. Only then
            // is a copy with the original labels kept for the scaling figures.
            let pooled = bench_results::compare::pooled_guests(&files);
            let unsplit = (!pooled.is_empty()).then(|| {
                eprintln!(
                    "note: {} kernel(s) ran a scenario on several guests; their runs are drawn apart (labelled as --split-by guest does)",
                    pooled.len()
                );
                let copy = files.clone();
                bench_results::compare::split_by_guest(&mut files);
                copy
            });
            for p in bench_results::plot_all(&files, &out)? {
                println!("{}", p.display());
            }
            // Several (scenario, vCPUs) blocks of one matrix: the scaling figures too, as
            // `matrix` draws them (they leave failed runs out themselves).
            let all = unsplit.as_deref().unwrap_or(&files);
            let blocks: std::collections::BTreeSet<_> = all
                .iter()
                .filter(|f| f.failed.is_none())
                .map(|f| (f.scenario.name.as_str(), f.kernel.cpus))
                .collect();
            if blocks.len() > 1 {
                for p in bench_results::plot_scaling(all, &out.join("plots-scaling"))? {
                    println!("{}", p.display());
                }
            }
        }
        Command::Compare {
            results,
            baseline,
            format,
            full,
            split_by,
            split_builds,
        } => {
            let mut files = read_results(&results)?;
            split(split_by, &mut files);
            check_builds(&mut files, split_builds)?;
            check_guests(&files)?;
            check_baseline(&files, baseline.as_deref())?;
            let opts = bench_results::CompareOptions {
                baseline,
                ..Default::default()
            };
            let c = bench_results::compare(&files, &opts);
            print!("{}", bench_results::render(&c, format, full));
        }
        Command::Table {
            kind,
            results,
            scenario,
            baseline,
            split_by,
            split_builds,
        } => {
            if kind == bench_results::tables::Kind::Jobs {
                print!("{}", matrix::jobs_table(&results)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut files: Vec<_> = read_results(&results)?
                .into_iter()
                .filter(|r| scenario.as_ref().is_none_or(|s| r.scenario.name == *s))
                .collect();
            split(split_by, &mut files);
            check_builds(&mut files, split_builds)?;
            // The scaling table sets guests side by side on purpose, one column each.
            if kind != bench_results::tables::Kind::Scaling {
                check_guests(&files)?;
            }
            check_baseline(&files, baseline.as_deref())?;
            let t = bench_results::tables::render(kind, &files, baseline).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}",
                    results
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })?;
            print!("{t}");
        }
        Command::Overhead { dir } => {
            let mut labelled = vec![];
            for e in std::fs::read_dir(&dir)?.flatten() {
                if e.path().join(bench_results::schema::RESULT_FILE).is_file() {
                    labelled.push((
                        e.file_name().to_string_lossy().to_string(),
                        bench_results::ResultFile::read(&e.path())?,
                    ));
                }
            }
            let o = bench_results::overhead::collect(&labelled);
            if o.on.is_empty() && o.off.is_empty() && o.bpftrace.is_empty() {
                anyhow::bail!(
                    "{} holds no probe-overhead runs (run directories named on-*, off-* or bpftrace-* with a result.json; found {} other run(s)); fix: name the output directory of scripts/bench-probes",
                    dir.display(),
                    labelled.len()
                );
            }
            print!("{}", bench_results::overhead::render(&o));
        }
        Command::Matrix(a) => return matrix::cli(&a),
        Command::RunCell { plan, index } => return matrix::cell::cli(&plan, index),
    }
    Ok(ExitCode::SUCCESS)
}

/// Every result file under `paths`; the fields they hold that this reader does not know are
/// named on stderr (at most 20, then a count): a misspelt field loses its value, a newer
/// writer's field is ignored, and neither should pass unseen.
fn read_results(paths: &[std::path::PathBuf]) -> Result<Vec<bench_results::ResultFile>> {
    let (files, unknown) = bench_results::ResultFile::read_all_noting(paths)?;
    for u in unknown.iter().take(20) {
        eprintln!("note: {u}: ignored (a newer zswap-bench's field, or a misspelt one)");
    }
    if unknown.len() > 20 {
        eprintln!("note: {} more unknown fields", unknown.len() - 20);
    }
    Ok(files)
}

/// Runs of one kernel name from several builds are refused with each build named, unless
/// `--split-builds` compares the builds apart: pooled, they would read as one kernel's repeats.
fn check_builds(files: &mut [bench_results::ResultFile], split: bool) -> Result<()> {
    if split {
        bench_results::compare::split_by_build(files);
        return Ok(());
    }
    let pooled = bench_results::compare::pooled_builds(files);
    if !pooled.is_empty() {
        anyhow::bail!(
            "{}\nfix: compare the builds apart with --split-builds, or leave out the runs of the build you did not mean",
            pooled.join("\n")
        );
    }
    Ok(())
}

/// Runs of one kernel and scenario on different guests are refused with each guest named,
/// unless `--split-by guest` labelled them apart: pooled, a 2-vCPU and an 8-vCPU run would read
/// as repeats of one experiment.
fn check_guests(files: &[bench_results::ResultFile]) -> Result<()> {
    let pooled = bench_results::compare::pooled_guests(files);
    if !pooled.is_empty() {
        anyhow::bail!(
            "{}\nfix: compare the guests apart with --split-by guest, or pass the runs of one guest only",
            pooled.join("\n")
        );
    }
    Ok(())
}

/// `--baseline` must name a kernel (as labelled after `--split-by`) that the results hold: a
/// report "against" a kernel that is not there would compare against another one.
fn check_baseline(files: &[bench_results::ResultFile], baseline: Option<&str>) -> Result<()> {
    let Some(b) = baseline else { return Ok(()) };
    let mut labels: Vec<&str> = files.iter().map(|f| f.kernel.label()).collect();
    labels.sort_unstable();
    labels.dedup();
    if !labels.contains(&b) {
        anyhow::bail!(
            "--baseline {b:?} is not a kernel of these results; they hold {}; fix: name one of those (with --split-by the labels carry the split, e.g. \"ref-nocursor nothing\")",
            labels
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// `--split-by`: relabel each kernel's runs by what they were split by.
fn split(by: Option<cli::SplitBy>, files: &mut [bench_results::ResultFile]) {
    match by {
        Some(cli::SplitBy::Jobs) => bench_results::compare::split_by_jobs(files),
        Some(cli::SplitBy::WalkSteps) => bench_results::compare::split_by_walk_steps(files),
        Some(cli::SplitBy::IdleAction) => bench_results::compare::split_by_idle_action(files),
        Some(cli::SplitBy::Guest) => bench_results::compare::split_by_guest(files),
        None => {}
    }
}
