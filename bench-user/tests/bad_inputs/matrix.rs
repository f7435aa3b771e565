//! Bad-input cases of matrix files and the matrix backends' commands (`matrix`, `run-cell`).
use super::Case;

/// A one-cell matrix plan, as `matrix` writes it.
const PLAN: &str = r#"{"version": 1, "name": "m", "matrix_file": "m.toml", "matrix_toml": "",
  "baseline": null, "several_cpus": false, "spinlocks": "native", "accel": "tcg", "numa": "off",
  "kernels": [{"arg": "baseline", "key": "k", "bzimage_sha256": "s"}],
  "blocks": [{"scenario_path": "scenarios/quick.toml", "scenario_name": "quick",
              "scenario_toml": "", "cpus": 1}],
  "cells": [{"kernel": 0, "block": 0, "repeat": 0, "dir": "quick-baseline-r0"}]}"#;

pub fn cases() -> Vec<Case> {
    vec![
        // ---- matrix files ----
        Case {
            area: "matrix",
            what: "no kernels",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[("m.toml", "kernels = []\nscenarios = [\"quick\"]\n")],
            expect: &["needs at least one kernel"],
        },
        Case {
            area: "matrix",
            what: "0 vCPUs",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\ncpus = [0]\n",
            )],
            expect: &["cpus = 0", "1 to 255"],
        },
        Case {
            area: "matrix",
            what: "a typo'd key",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeat = 3\n",
            )],
            expect: &["unknown field `repeat`"],
        },
        Case {
            area: "matrix",
            what: "an unknown scenario",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"no-such\"]\n",
            )],
            expect: &["no scenario \"no-such\""],
        },
        Case {
            area: "matrix",
            what: "a sweep on a kernel the matrix does not list",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\n[[sweep]]\nscenarios = [\"quick\"]\nkernels = [\"ref-nocursor\"]\nwalk_steps = true\n",
            )],
            expect: &["sweep 1: kernel \"ref-nocursor\" is not in kernels"],
        },
        Case {
            area: "matrix",
            what: "an --out that holds a matrix run",
            args: &["matrix", "{d}/m.toml", "--out", "{d}"],
            files: &[
                (
                    "m.toml",
                    "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\n",
                ),
                ("matrix.json", "[]"),
            ],
            expect: &["already holds a matrix run", "--resume"],
        },
        Case {
            area: "matrix",
            what: "an unknown guest NUMA layout",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nnuma = \"lots\"\n",
            )],
            expect: &["numa = \"lots\"", "expected off, host or a node count"],
        },
        Case {
            area: "matrix",
            what: "`--jobs 0`",
            args: &["matrix", "{d}/m.toml", "--jobs", "0"],
            files: &[],
            expect: &["--jobs", "positive whole number, at most 1024, or auto"],
        },
        Case {
            area: "matrix",
            what: "`--jobs` with `--slurm`",
            args: &["matrix", "{d}/m.toml", "--jobs", "2", "--slurm"],
            files: &[],
            expect: &["cannot be used with"],
        },
        Case {
            area: "matrix",
            what: "`--sbatch-arg` without `--slurm`",
            args: &["matrix", "{d}/m.toml", "--sbatch-arg=--time=1:00:00"],
            files: &[],
            expect: &["required arguments were not provided", "--slurm"],
        },
        Case {
            area: "matrix",
            what: "`--status` of a directory without a plan",
            args: &["matrix", "--status", "{d}"],
            files: &[],
            expect: &["plan.json", "fix: name the out directory"],
        },
        Case {
            area: "matrix",
            what: "`run-cell` without an index outside Slurm",
            args: &["run-cell", "--plan", "{d}/plan.json"],
            files: &[("plan.json", PLAN)],
            expect: &["which cell?", "--index N"],
        },
        Case {
            area: "matrix",
            what: "`run-cell` with an index the plan lacks",
            args: &["run-cell", "--plan", "{d}", "--index", "5"],
            files: &[("plan.json", PLAN)],
            expect: &["cell 5 is not in", "--index 0 to 0"],
        },
    ]
}
