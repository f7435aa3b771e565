//! A matrix file (`scenarios/matrix/*.toml`): what it may say, its bounds (limits.rs), and the
//! blocks it asks for. Read and checked completely before a plan is made: every list is bounded
//! before anything is multiplied out of it, and blocks are found through a map, so a file at its
//! size limit is read in linear time.
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use bench_results::schema::IdleAction;

use crate::limits;
use crate::options::{Accel, NumaMode, SpinlockMode};

/// A matrix file: kernels x scenarios x repeats.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Manifest names (kernels/<name>.toml) or paths.
    pub kernels: Vec<String>,
    /// Scenario names (scenarios/<name>.toml) or paths.
    pub scenarios: Vec<String>,
    #[serde(default = "one")]
    pub repeats: u32,
    /// Kernel the others are compared against (default: "baseline" if listed, else the first).
    #[serde(default)]
    pub baseline: Option<String>,
    /// Guest vCPU counts: every scenario runs at each (default [2]).
    #[serde(default = "two_cpus")]
    pub cpus: Vec<u32>,
    #[serde(default)]
    pub spinlocks: SpinlockMode,
    /// "auto" (default; KVM where it works, else TCG), "kvm" or "tcg". Under `--slurm`, auto
    /// means kvm: a cluster node without KVM fails its cells instead of silently running them
    /// under TCG.
    #[serde(default = "auto")]
    pub accel: Accel,
    /// Guest NUMA nodes: "off" (default), "host" (mirror the host nodes of the cell's CPUs) or a
    /// count.
    #[serde(default, deserialize_with = "numa_from_toml")]
    pub numa: NumaMode,
    /// Further (scenarios × cpus) blocks, for sweeps that are not a full cross product, e.g.
    /// thread counts at 2 vCPUs plus vCPU counts at one thread count.
    #[serde(default, rename = "sweep")]
    pub sweeps: Vec<Sweep>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    pub scenarios: Vec<String>,
    #[serde(default = "two_cpus")]
    pub cpus: Vec<u32>,
    /// The kernels this block runs on (default: all of the matrix's `kernels`), so one matrix
    /// can ask each scenario only what it answers.
    #[serde(default)]
    pub kernels: Option<Vec<String>>,
    /// Run these cells with the walk-step probe on (`run --walk-steps`): the observer-effect
    /// measurement. Their results are reported apart from the same scenario's other cells.
    #[serde(default)]
    pub walk_steps: bool,
    /// Run each scenario once per idle action ("nothing", "reclaim", "proactive"): the
    /// scenarios need a `[burst]`. Cells of each action are a block of their own.
    #[serde(default)]
    pub idle_actions: Vec<String>,
    /// Runs per cell of this sweep's blocks (default: the matrix's `repeats`), so experiments
    /// that need different repeats share one matrix file.
    #[serde(default)]
    pub repeats: Option<u32>,
}

/// One block of cells: a scenario at a vCPU count, on some kernels, with one probe set.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    pub scenario: String,
    pub cpus: u32,
    /// Indices into `MatrixFile::kernels`.
    pub kernels: Vec<usize>,
    pub walk_steps: bool,
    /// The `[burst]` idle action this block runs with (None: the scenario's own).
    pub idle_action: Option<IdleAction>,
    /// Runs per cell: the matrix's `repeats`, or its sweep's; a block named twice takes the
    /// larger.
    pub repeats: u32,
}

fn numa_from_toml<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NumaMode, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Count(u32),
        Word(String),
    }
    match <Raw as serde::Deserialize>::deserialize(d)? {
        Raw::Count(n) => n.to_string().parse(),
        Raw::Word(w) => w.parse(),
    }
    .map_err(|e: String| serde::de::Error::custom(format!("numa = {e}")))
}

fn auto() -> Accel {
    Accel::Auto
}

fn two_cpus() -> Vec<u32> {
    vec![2]
}

impl MatrixFile {
    /// Blocks in run order, each (scenario, vCPU count, probe set) once; a block named twice
    /// runs on the union of its kernels. Err names a sweep kernel the matrix does not list.
    pub fn blocks(&self) -> Result<Vec<BlockSpec>, String> {
        let mut v: Vec<BlockSpec> = vec![];
        let all_kernels: Vec<usize> = (0..self.kernels.len()).collect();
        let main = (
            &self.scenarios,
            &self.cpus,
            all_kernels.clone(),
            false,
            vec![None],
            self.repeats,
        );
        let mut all = vec![main];
        for (i, s) in self.sweeps.iter().enumerate() {
            let ks = match &s.kernels {
                None => all_kernels.clone(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        self.kernels.iter().position(|k| k == n).ok_or_else(|| {
                            format!(
                                "sweep {}: kernel {n:?} is not in kernels = {:?}; fix: add it there or name one of those",
                                i + 1,
                                self.kernels
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            let actions = if s.idle_actions.is_empty() {
                vec![None]
            } else {
                s.idle_actions
                    .iter()
                    .map(|a| {
                        IdleAction::parse(a).map(Some).ok_or_else(|| {
                            format!("sweep {}: unknown idle action {a:?}; fix: use nothing, reclaim or proactive", i + 1)
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            let repeats = s.repeats.unwrap_or(self.repeats);
            all.push((&s.scenarios, &s.cpus, ks, s.walk_steps, actions, repeats));
        }
        // Each block's place in `v`, so that finding one is a lookup, not a scan.
        let mut at: BTreeMap<(&str, u32, bool, Option<IdleAction>), usize> = BTreeMap::new();
        for (scen, cpus, ks, walk, actions, repeats) in all {
            for s in scen {
                for c in cpus {
                    for &action in &actions {
                        let key = (s.as_str(), *c, walk, action);
                        if let Some(&i) = at.get(&key) {
                            let b = &mut v[i];
                            for k in &ks {
                                if !b.kernels.contains(k) {
                                    b.kernels.push(*k);
                                }
                            }
                            b.kernels.sort_unstable();
                            b.repeats = b.repeats.max(repeats);
                            continue;
                        }
                        if v.len() == limits::MATRIX_BLOCKS_MAX {
                            return Err(format!(
                                "more than {} blocks (scenario × cpus × probe set × idle action); fix: split the matrix",
                                limits::MATRIX_BLOCKS_MAX
                            ));
                        }
                        at.insert(key, v.len());
                        v.push(BlockSpec {
                            scenario: s.clone(),
                            cpus: *c,
                            kernels: ks.clone(),
                            walk_steps: walk,
                            idle_action: action,
                            repeats,
                        });
                    }
                }
            }
        }
        Ok(v)
    }

    /// Every list within its bound (limits.rs), before anything is multiplied out of them.
    fn check_lists(&self) -> Result<(), String> {
        use limits::*;
        at_most(&self.kernels, MATRIX_KERNELS_MAX, "kernels")?;
        at_most(&self.scenarios, MATRIX_SCENARIOS_MAX, "scenarios")?;
        at_most(&self.cpus, MATRIX_CPUS_MAX, "cpus")?;
        at_most(&self.sweeps, MATRIX_SWEEPS_MAX, "[[sweep]]")?;
        for (i, s) in self.sweeps.iter().enumerate() {
            let n = i + 1;
            at_most(
                &s.scenarios,
                MATRIX_SCENARIOS_MAX,
                &format!("sweep {n}: scenarios"),
            )?;
            at_most(&s.cpus, MATRIX_CPUS_MAX, &format!("sweep {n}: cpus"))?;
            at_most(
                s.kernels.as_deref().unwrap_or_default(),
                MATRIX_KERNELS_MAX,
                &format!("sweep {n}: kernels"),
            )?;
            // Three actions exist; a longer list repeats one.
            at_most(&s.idle_actions, 3, &format!("sweep {n}: idle_actions"))?;
        }
        let all_cpus = self
            .cpus
            .iter()
            .chain(self.sweeps.iter().flat_map(|s| &s.cpus));
        if let Some(c) = all_cpus.copied().find(|c| *c == 0 || *c > MATRIX_VCPUS_MAX) {
            return Err(format!("cpus = {c}: use 1 to {MATRIX_VCPUS_MAX} vCPUs"));
        }
        Ok(())
    }

    /// The name results and out directories carry: `name`, else the file's stem.
    pub fn name_or(&self, path: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "matrix".into())
        })
    }
}

fn one() -> u32 {
    1
}

/// The most cells one matrix plans: a week of one-minute cells on 10 hosts.
pub const CELLS_MAX: u64 = 100_000;

/// Reads and checks a matrix file (the scenarios it names are loaded by the caller).
pub fn read(path: &Path) -> Result<MatrixFile> {
    let text = bench_results::input::read_text(path, bench_results::input::limit::TEXT)
        .with_context(|| format!("reading {}", path.display()))?;
    let m: MatrixFile = toml::from_str(&text).map_err(|e| {
        anyhow!(
            "{}\n  fix: see scenarios/matrix/*.toml for the format",
            crate::toml_error::describe(path, &text, &e)
        )
    })?;
    if m.kernels.is_empty() || m.scenarios.is_empty() || m.repeats == 0 || m.cpus.is_empty() {
        bail!(
            "{}: needs at least one kernel, one scenario, one cpus value and repeats >= 1",
            path.display()
        );
    }
    if m.repeats > crate::options::REPEATS_MAX {
        bail!(
            "{}: repeats = {} is above the maximum {}; fix: use at most {} (more repeats are a second matrix)",
            path.display(),
            m.repeats,
            crate::options::REPEATS_MAX,
            crate::options::REPEATS_MAX
        );
    }
    m.check_lists()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let max = crate::options::REPEATS_MAX;
    for (i, s) in m.sweeps.iter().enumerate() {
        if let Some(r) = s.repeats.filter(|r| !(1..=max).contains(r)) {
            bail!(
                "{}: sweep {}: repeats = {r} is outside 1..={max}; fix: use 1 to {max}, or leave it out for the matrix's repeats",
                path.display(),
                i + 1
            );
        }
    }
    let blocks = m.blocks().map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let cells: u64 = blocks
        .iter()
        .map(|b| b.kernels.len() as u64 * u64::from(b.repeats))
        .sum();
    if cells > CELLS_MAX {
        bail!(
            "{}: {cells} cells (each block's kernels x its repeats, summed) is above the maximum {CELLS_MAX}; fix: split the matrix",
            path.display()
        );
    }
    if m.accel == Accel::Host {
        bail!("{}: accel = \"host\": use auto, kvm or tcg", path.display());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_add_blocks_without_repeating_any() {
        let m: MatrixFile = toml::from_str(
            "kernels = [\"a\"]\nscenarios = [\"s4\", \"s8\"]\n[[sweep]]\nscenarios = [\"s8\"]\ncpus = [2, 4]\n",
        )
        .unwrap();
        let got: Vec<(String, u32)> = m
            .blocks()
            .unwrap()
            .into_iter()
            .map(|b| (b.scenario, b.cpus))
            .collect();
        assert_eq!(
            got,
            vec![("s4".into(), 2), ("s8".into(), 2), ("s8".into(), 4)]
        );
        assert_eq!(m.spinlocks, SpinlockMode::Native);
    }

    #[test]
    fn idle_actions_make_a_block_each_on_their_kernels() {
        let m: MatrixFile = toml::from_str(
            "kernels = [\"base\", \"ref\"]\nscenarios = [\"b\"]\n[[sweep]]\nscenarios = [\"b\"]\nidle_actions = [\"reclaim\"]\n[[sweep]]\nscenarios = [\"b\"]\nkernels = [\"ref\"]\nidle_actions = [\"proactive\", \"reclaim\"]\n",
        )
        .unwrap();
        let got: Vec<(Option<IdleAction>, Vec<usize>)> = m
            .blocks()
            .unwrap()
            .into_iter()
            .map(|b| (b.idle_action, b.kernels))
            .collect();
        // The main block keeps the scenario's own action; "reclaim" named twice is one block on
        // the union of its kernels.
        assert_eq!(
            got,
            vec![
                (None, vec![0, 1]),
                (Some(IdleAction::Reclaim), vec![0, 1]),
                (Some(IdleAction::Proactive), vec![1]),
            ]
        );
    }

    #[test]
    fn shipped_matrix_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/matrix");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m: MatrixFile = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            for b in &m.blocks().unwrap() {
                let s = &b.scenario;
                let sp =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{s}.toml"));
                crate::scenario::load(&sp).unwrap();
            }
            assert!(!m.kernels.is_empty());
        }
    }

    /// A matrix file at the edge of every list bound: refused with the list's name, at once;
    /// and a file that repeats one block many times is read in linear time.
    #[test]
    fn lists_are_bounded_before_anything_is_multiplied_out() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("m.toml");
        let names = |n: usize, p: &str| {
            (0..n)
                .map(|i| format!("\"{p}{i}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let cases = [
            (format!("kernels = [{}]\nscenarios = [\"q\"]\n", names(65, "k")), "kernels has 65 entries, above the maximum 64"),
            (format!("kernels = [\"k\"]\nscenarios = [{}]\n", names(257, "s")), "scenarios has 257 entries, above the maximum 256"),
            (format!("kernels = [\"k\"]\nscenarios = [\"q\"]\ncpus = [{}]\n", (1..=65).map(|c| c.to_string()).collect::<Vec<_>>().join(",")), "cpus has 65 entries, above the maximum 64"),
            ("kernels = [\"k\"]\nscenarios = [\"q\"]\ncpus = [256]\n".to_string(), "cpus = 256: use 1 to 255 vCPUs"),
            ("kernels = [\"k\"]\nscenarios = [\"q\"]\n[[sweep]]\nscenarios = [\"q\"]\ncpus = [0]\n".to_string(), "cpus = 0: use 1 to 255"),
            (format!("kernels = [\"k\"]\nscenarios = [\"q\"]\n{}", "[[sweep]]\nscenarios = [\"q\"]\n".repeat(257)), "[[sweep]] has 257 entries"),
            (format!("kernels = [\"k\"]\nscenarios = [{}]\ncpus = [{}]\n", names(256, "s"), (1..=17).map(|c| c.to_string()).collect::<Vec<_>>().join(",")), "more than 4096 blocks"),
            ("kernels = [\"k\"]\nscenarios = [\"q\"]\n[[sweep]]\nscenarios = [\"q\"]\nidle_actions = [\"nothing\", \"reclaim\", \"proactive\", \"nothing\"]\n".to_string(), "idle_actions has 4 entries, above the maximum 3"),
        ];
        for (text, want) in cases {
            std::fs::write(&path, &text).unwrap();
            let e = format!("{:#}", read(&path).unwrap_err());
            assert!(e.contains(want), "{want:?} not in {e}");
        }
        // 256 sweeps of 256 scenarios × 64 vCPU counts that all name one block: 4 M
        // combinations, each a map lookup.
        let sweep = format!(
            "[[sweep]]\nscenarios = [{}]\ncpus = [{}]\n",
            vec!["\"q\""; 256].join(","),
            vec!["2"; 64].join(",")
        );
        let text = format!(
            "kernels = [\"k\"]\nscenarios = [\"q\"]\n{}",
            sweep.repeat(256)
        );
        std::fs::write(&path, &text).unwrap();
        let t = std::time::Instant::now();
        let m = read(&path).unwrap();
        assert_eq!(m.blocks().unwrap().len(), 1);
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    }

    #[test]
    fn a_sweep_sets_its_own_repeats_and_the_cells_add_up() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("m.toml");
        std::fs::write(
            &path,
            "kernels = [\"a\", \"b\"]\nscenarios = [\"s\"]\nrepeats = 6\n[[sweep]]\nscenarios = [\"g\"]\nrepeats = 3\n[[sweep]]\nscenarios = [\"s\"]\nkernels = [\"a\"]\nrepeats = 8\n",
        )
        .unwrap();
        let m = read(&path).unwrap();
        let got: Vec<(String, u32)> = m
            .blocks()
            .unwrap()
            .into_iter()
            .map(|b| (b.scenario, b.repeats))
            .collect();
        // "s" is named twice: the larger repeats.
        assert_eq!(got, [("s".into(), 8), ("g".into(), 3)]);
        for bad in ["repeats = 0", "repeats = 1001"] {
            std::fs::write(
                &path,
                format!("kernels = [\"a\"]\nscenarios = [\"s\"]\n[[sweep]]\nscenarios = [\"g\"]\n{bad}\n"),
            )
            .unwrap();
            let e = format!("{:#}", read(&path).unwrap_err());
            assert!(
                e.contains("sweep 1: repeats =") && e.contains("outside 1..=1000"),
                "{e}"
            );
        }
        // 100 kernels would be refused by the list bound; 50 × 2 blocks × 1000 repeats are
        // 100,000 cells, at the maximum, and one more block's worth above it.
        let kernels: Vec<String> = (0..50).map(|i| format!("\"k{i}\"")).collect();
        std::fs::write(
            &path,
            format!("kernels = [{}]\nscenarios = [\"s\", \"t\"]\nrepeats = 1000\n[[sweep]]\nscenarios = [\"u\"]\nkernels = [\"k0\"]\nrepeats = 1\n", kernels.join(",")),
        )
        .unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("100001 cells"), "{e}");
    }
}
