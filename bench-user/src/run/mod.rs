//! `zswap-bench run`: validate a scenario, then either boot a kernel in a VM and run it there
//! (`--kernel`), or run it on this machine (`--host`): swap, zswap parameters, the cgroup tree,
//! workers, pressure and proactive-writeback threads, probes for the measured phase, counters,
//! and one result file per repeat (written as soon as that repeat ends, so finished repeats
//! survive a later failure). Every change to the machine is recorded first in a state file and
//! undone at the end, on error, on Ctrl-C/SIGTERM, or by `zswap-bench cleanup` after a SIGKILL.
//!
//! Phases: set-up (tree, swap, parameters, workers fill their memory; bounded by
//! `phases.setup_timeout`) -> warm-up (workers touch, pressure runs; nothing recorded) ->
//! measure (probes attached, counters and time series recorded; proactive writeback and churn
//! run only here, so their counts and return codes describe exactly the measured window).
//!
//! The rooms: `vm_cell` (one run in a VM, seen from the host), `host` (the run on this machine: checks,
//! repeats, teardown), `setup` (the set-up phase), `measure` (warm-up and the measured phase)
//! with `load` (pressure, proactive and churn threads), `window` (the quiet snapshots at the
//! measured window's edges), `progress` (the live line) and `record` (the result file's
//! fields), and `ids` (run ids and directories); `vm_cell` and `ids` also serve the matrix
//! (`crate::matrix`), which sits above this module. This file holds the entry points the CLI calls.
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};

use crate::cli::RunArgs;
use crate::scenario;

mod burst;
mod fault;
mod host;
pub(crate) mod ids;
mod interrupt;
mod latency;
mod load;
mod measure;
pub(crate) mod preboot;
mod progress;
mod record;
mod setup;
pub(crate) mod vm_cell;
mod window;

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let path = scenario::resolve_path(&args.scenario).map_err(|e| anyhow!(e))?;
    // Validation first: nothing on the machine changes for a malformed scenario.
    let mut plan = scenario::load(&path)?;
    if args.no_probes {
        plan.probes.enabled = false;
    }
    if args.walk_steps {
        plan.probes.walk_steps = true;
    }
    if let Some(a) = args.idle_action {
        scenario::set_idle_action(&mut plan, a)?;
    }
    let repeats = args.repeat.unwrap_or(plan.repeats);
    if repeats == 0 {
        bail!("--repeat 0 runs nothing; use 1 or more");
    }
    match (&args.kernel, args.host) {
        (Some(k), _) => vm_cell::run_vm(args, k, &path, &plan, repeats),
        (None, true) => host::run_host(&plan, repeats, args.out.as_deref()),
        (None, false) => bail!(
            "say where to run the scenario: --kernel <name> boots that kernel in a VM (e.g. --kernel baseline), \
             --host runs it on this machine's kernel (needs root and the cgroup v2 memory controller)"
        ),
    }
}
