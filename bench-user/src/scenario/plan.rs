//! The plan the runner follows (`Plan`): a validated scenario with every default applied and
//! every memcg name resolved. Templates are expanded into cgroup paths (parents before
//! children), and there is one item per worker process, per pressure section (with its target
//! paths) and per proactive-writeback thread, each carrying the concrete values it runs with.
//! Validation builds it (each section's room in `validate` applies that section's defaults), so
//! the runner creates exactly what was checked and never re-reads the file's sections. `Option`
//! here means a real absence (no churn, a zswap parameter left as the machine has it), never
//! "default not applied yet".
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::spec::{Pattern, ProactiveMode, SwapChoice, SwapSpec};
use super::values::{Limit, Size};

/// One concrete memcg, path relative to the run's root cgroup ("parent/child3").
#[derive(Debug, Clone, PartialEq)]
pub struct MemcgNode {
    pub path: String,
    /// Index of the `[[memcg]]` section it came from: where an error about this memcg points
    /// in the file. Nothing reads the section through it.
    pub spec: usize,
    pub memory_max: Limit,
    pub memory_high: Limit,
    pub zswap_max: Limit,
    pub zswap_writeback: bool,
    pub has_children: bool,
}

/// One worker process.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub memcg: String,
    /// 0-based process number within its `[[worker]]` section and memcg.
    pub index: u32,
    /// Anonymous memory the process holds at most.
    pub size: u64,
    /// Touching threads (they share the process's memory).
    pub threads: u32,
    /// Target compressed/original ratio of the page contents.
    pub compressibility: f64,
    pub pattern: Pattern,
    pub hot_fraction: f64,
    pub hot_share: f64,
    /// `periodic`: bytes allocated per step (a page for the other patterns, which ignore it).
    pub chunk: u64,
    /// `periodic`: time between steps; others: pause between touches of one page batch (None:
    /// no pause).
    pub interval: Option<Duration>,
}

/// What one `[[pressure]]` section does on each of its targets.
#[derive(Debug, Clone, PartialEq)]
pub enum PressureAction {
    /// Threads write `size` bytes to memory.reclaim, `rate` times a second each (0 = back to
    /// back), from the warm-up to the end of the measured phase.
    Reclaim { size: u64, rate: f64 },
    /// memory.high alternates between `size` and "max" every half `period`.
    HighSqueeze { size: u64, period: Duration },
    /// memory.max is lowered to `size` at the end of set-up.
    Limit { size: u64 },
    /// One memory.reclaim write of `size` at the end of set-up (pushes memory into zswap).
    Push { size: u64 },
}

/// One `[[pressure]]` section, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Pressure {
    /// Concrete memcg paths (a template name means each instance).
    pub targets: Vec<String>,
    /// Running threads per target: the section's `threads` for reclaim, 1 for high-squeeze, 0
    /// for limit and push (they act once, in set-up).
    pub threads: u32,
    pub action: PressureAction,
}

/// One proactive-writeback thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ProactiveThread {
    pub target: String,
    pub mode: ProactiveMode,
    /// Bytes per call (compressed bytes on v4/v5 kernels).
    pub budget: u64,
    /// Pause between calls.
    pub interval: Duration,
    /// Calls; 0 = until the measured phase ends.
    pub count: u64,
    /// Threads with the same `serial_group` never overlap (sequential-on-one).
    pub serial_group: Option<usize>,
}

/// Memcg churn under `parent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Churn {
    pub parent: String,
    /// Create+remove cycles per second.
    pub rate: f64,
    /// Churned memcgs alive at once.
    pub live: u32,
    /// Bytes each churned memcg holds before removal; 0 = empty memcgs.
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Upper bound for set-up.
    pub setup_timeout: Duration,
    /// Zero: no warm-up.
    pub warmup: Duration,
    pub measure: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub choice: SwapChoice,
    pub size: u64,
    /// Swap file location when a file is used (None: one under /var/tmp named after the run).
    pub file: Option<PathBuf>,
}

impl Swap {
    /// The `[swap]` section with these values, the shape `workload::swap::setup` takes.
    pub fn as_spec(&self) -> SwapSpec {
        SwapSpec {
            size: Size(self.size),
            device: match &self.choice {
                SwapChoice::Auto => "auto".into(),
                SwapChoice::File => "file".into(),
                SwapChoice::Existing => "existing".into(),
                SwapChoice::Device(d) => d.to_string_lossy().into_owned(),
            },
            file: self.file.clone(),
        }
    }
}

/// zswap module parameters; None leaves the parameter as the machine has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zswap {
    pub enabled: bool,
    pub compressor: Option<String>,
    pub max_pool_percent: Option<u32>,
    pub accept_threshold_percent: Option<u32>,
    pub shrinker_enabled: Option<bool>,
}

impl Zswap {
    /// `(parameter file name, value)` pairs to write under /sys/module/zswap/parameters.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let yn = |b: bool| if b { "Y" } else { "N" }.to_string();
        let mut v = vec![("enabled", yn(self.enabled))];
        if let Some(c) = &self.compressor {
            v.push(("compressor", c.clone()));
        }
        if let Some(p) = self.max_pool_percent {
            v.push(("max_pool_percent", p.to_string()));
        }
        if let Some(p) = self.accept_threshold_percent {
            v.push(("accept_threshold_percent", p.to_string()));
        }
        if let Some(s) = self.shrinker_enabled {
            v.push(("shrinker_enabled", yn(s)));
        }
        v
    }
}

/// What the probe layer attaches for the measured phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probes {
    /// false: no probes (the scenario or `--no-probes`).
    pub enabled: bool,
    pub crosscheck: bool,
    pub watch_locks: Vec<String>,
}

/// A parsed, validated scenario: everything the runner does, with concrete values.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub path: Option<PathBuf>,
    /// The file as written: echoed verbatim into every result file.
    pub text: String,
    pub description: String,
    /// Seed of the first repeat (repeat r uses seed + r).
    pub seed: u64,
    /// Repeats when `--repeat` is not given.
    pub repeats: u32,
    pub phases: Phases,
    pub swap: Swap,
    pub zswap: Zswap,
    pub probes: Probes,
    /// Parents before children.
    pub memcgs: Vec<MemcgNode>,
    pub workers: Vec<Worker>,
    pub pressure: Vec<Pressure>,
    pub proactive_threads: Vec<ProactiveThread>,
    pub churn: Option<Churn>,
    /// Key parameters for reports (the result file's `scenario.params`).
    pub params: BTreeMap<String, String>,
}

impl Plan {
    pub fn memcg(&self, path: &str) -> Option<&MemcgNode> {
        self.memcgs.iter().find(|m| m.path == path)
    }

    /// Bytes held by workers in `path` and below (plus churned memcgs under it).
    pub fn demand_under(&self, path: &str) -> u64 {
        demand_under(&self.workers, self.churn.as_ref(), path)
    }

    /// Compressed bytes the workers in `path` and below hold when all their memory is in zswap
    /// (their target compressibility; churned memcgs at 0.5).
    pub fn compressed_under(&self, path: &str) -> u64 {
        let mut c: f64 = self
            .workers
            .iter()
            .filter(|w| is_under(&w.memcg, path))
            .map(|w| w.size as f64 * w.compressibility)
            .sum();
        if let Some(ch) = &self.churn
            && is_under(&ch.parent, path)
        {
            c += (ch.size * ch.live as u64) as f64 * 0.5;
        }
        c as u64
    }
}

/// `path` equals `root` or lies below it.
pub fn is_under(path: &str, root: &str) -> bool {
    path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

pub(super) fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

/// Bytes held by `workers` in `path` and below (plus churned memcgs under it). Validation needs
/// this before a `Plan` exists; `Plan::demand_under` is the same sum.
pub(super) fn demand_under(workers: &[Worker], churn: Option<&Churn>, path: &str) -> u64 {
    let mut d: u64 = workers
        .iter()
        .filter(|w| is_under(&w.memcg, path))
        .map(|w| w.size)
        .sum();
    if let Some(c) = churn
        && is_under(&c.parent, path)
    {
        d += c.size * c.live as u64;
    }
    d
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::{load, parse};

    const MIB: u64 = 1 << 20;

    fn shipped(name: &str) -> Plan {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
        load(&p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn quick_plan_has_concrete_values() {
        let l = shipped("quick");
        assert_eq!((l.name.as_str(), l.seed, l.repeats), ("quick", 1, 1));
        assert_eq!(
            l.phases,
            Phases {
                setup_timeout: secs(45),
                warmup: secs(5),
                measure: secs(20)
            }
        );
        assert_eq!(
            l.swap,
            Swap {
                choice: SwapChoice::Auto,
                size: 256 * MIB,
                file: None
            }
        );
        assert_eq!(l.zswap.max_pool_percent, Some(20));
        assert_eq!(l.zswap.shrinker_enabled, Some(true));
        assert_eq!(
            (l.zswap.compressor.clone(), l.zswap.accept_threshold_percent),
            (None, None)
        );
        assert_eq!(
            l.probes,
            Probes {
                enabled: true,
                crosscheck: false,
                watch_locks: vec![]
            }
        );
        let paths: Vec<&str> = l.memcgs.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["parent", "parent/child1", "parent/child2"]);
        assert_eq!(l.memcgs[0].memory_max, Limit::Bytes(96 * MIB));
        assert_eq!(l.workers.len(), 2);
        assert_eq!(
            l.workers[1],
            Worker {
                memcg: "parent/child2".into(),
                index: 0,
                size: 64 * MIB,
                threads: 1,
                compressibility: 0.4,
                pattern: Pattern::Random,
                hot_fraction: 0.2,
                hot_share: 0.9,
                chunk: crate::scenario::PAGE,
                interval: None,
            }
        );
        assert_eq!(
            l.pressure,
            [Pressure {
                targets: vec!["parent".into()],
                threads: 1,
                action: PressureAction::Reclaim {
                    size: 4 * MIB,
                    rate: 5.0
                },
            }]
        );
        assert_eq!(
            l.proactive_threads,
            [ProactiveThread {
                target: "parent".into(),
                mode: ProactiveMode::RepeatedSmallBudget,
                budget: MIB,
                interval: Duration::from_millis(200),
                count: 0,
                serial_group: None,
            }]
        );
        assert_eq!(l.churn, None);
        let p: Vec<(&str, &str)> = l
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            p,
            [
                ("budget", "1.0 MiB"),
                ("measure", "20s"),
                ("memcgs", "3"),
                ("mode", "repeated-small-budget"),
                ("proactive_threads", "1"),
                ("reclaim_threads", "1"),
                ("worker_bytes", "128.0 MiB"),
                ("workers", "2"),
                ("zswap.enabled", "Y"),
                ("zswap.max_pool_percent", "20"),
                ("zswap.shrinker_enabled", "Y"),
            ]
        );
    }

    #[test]
    fn contention_resolves_the_template_for_pressure() {
        let l = shipped("contention");
        let kids: Vec<String> = (1..=4).map(|k| format!("parent/child{k}")).collect();
        assert_eq!(
            l.pressure,
            [Pressure {
                targets: kids,
                threads: 2,
                action: PressureAction::Reclaim {
                    size: 2 * MIB,
                    rate: 0.0
                },
            }]
        );
        assert_eq!(l.proactive_threads.len(), 2);
        assert!(l.proactive_threads.iter().all(|t| t.target == "parent"
            && t.interval == Duration::from_millis(20)
            && t.count == 0
            && t.serial_group.is_none()));
        assert!(l.probes.crosscheck);
        assert_eq!(l.params["reclaim_threads"], "2");
        assert_eq!(l.params["proactive_threads"], "2");
    }

    #[test]
    fn churn_plan_carries_churn_and_its_demand() {
        let l = shipped("churn");
        assert_eq!(
            l.churn,
            Some(Churn {
                parent: "churn".into(),
                rate: 10.0,
                live: 4,
                size: 4 * MIB
            })
        );
        assert_eq!(l.demand_under("churn"), 16 * MIB);
        assert_eq!(l.compressed_under("churn"), 8 * MIB);
        assert_eq!(l.demand_under("steady"), 48 * MIB);
        assert!(l.pressure.is_empty());
        assert_eq!(l.proactive_threads[0].target, "churn");
        assert_eq!(l.proactive_threads[0].budget, MIB);
        assert_eq!(l.phases.warmup, secs(2));
    }

    /// Every key left out gets its default in the plan; every pressure kind gets its action.
    #[test]
    fn defaults_are_applied_in_the_plan() {
        let text = r#"
[phases]
measure = "10s"
[[memcg]]
name = "a"
count = 2
[[memcg]]
name = "b"
[[memcg]]
name = "c"
[[worker]]
memcg = "a"
size = "8M"
[[worker]]
memcg = "b"
size = "1M"
pattern = "periodic"
chunk = "8K"
interval = "2ms"
[[pressure]]
kind = "reclaim"
memcg = "a"
size = "1M"
[[pressure]]
kind = "high-squeeze"
memcg = "a1"
size = "4M"
period = "500ms"
[[pressure]]
kind = "limit"
memcg = "b"
size = "1M"
[[pressure]]
kind = "push"
memcg = "a"
size = "2M"
[[proactive]]
memcg = "a2"
mode = "sequential-on-one"
budget = "1M"
threads = 2
[churn]
parent = "c"
rate = 2
"#;
        let l = parse(text, "d.toml", "d").unwrap();
        assert_eq!((l.name.as_str(), l.seed, l.repeats), ("d", 1, 1));
        assert_eq!(l.description, "");
        assert_eq!(
            l.phases,
            Phases {
                setup_timeout: secs(120),
                warmup: Duration::ZERO,
                measure: secs(10)
            }
        );
        assert_eq!(
            l.swap,
            Swap {
                choice: SwapChoice::Auto,
                size: 1 << 30,
                file: None
            }
        );
        assert_eq!(l.zswap.params(), [("enabled", "Y".to_string())]);
        assert!(l.probes.enabled && !l.probes.crosscheck);
        let w = &l.workers;
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].threads, w[0].compressibility), (1, 0.5));
        assert_eq!(w[0].pattern, Pattern::Sequential);
        assert_eq!(
            (w[2].chunk, w[2].interval),
            (8192, Some(Duration::from_millis(2)))
        );
        let a = vec!["a1".to_string(), "a2".to_string()];
        let expect = [
            (
                a.clone(),
                1,
                PressureAction::Reclaim {
                    size: MIB,
                    rate: 0.0,
                },
            ),
            (
                vec!["a1".into()],
                1,
                PressureAction::HighSqueeze {
                    size: 4 * MIB,
                    period: Duration::from_millis(500),
                },
            ),
            (vec!["b".into()], 0, PressureAction::Limit { size: MIB }),
            (a, 0, PressureAction::Push { size: 2 * MIB }),
        ];
        assert_eq!(l.pressure.len(), expect.len());
        for (p, (targets, threads, action)) in l.pressure.iter().zip(expect) {
            assert_eq!(
                (&p.targets, p.threads, &p.action),
                (&targets, threads, &action)
            );
        }
        assert_eq!(l.proactive_threads.len(), 2);
        for t in &l.proactive_threads {
            assert_eq!((t.target.as_str(), t.serial_group), ("a2", Some(0)));
            assert_eq!((t.interval, t.count), (Duration::ZERO, 0));
        }
        assert_eq!(
            l.churn,
            Some(Churn {
                parent: "c".into(),
                rate: 2.0,
                live: 4,
                size: 0
            })
        );
        assert!(!l.params.contains_key("zswap.max_pool_percent"));
    }

    #[test]
    fn swap_spec_round_trips_the_choice() {
        for device in ["auto", "file", "existing", "/dev/vdb"] {
            let text = format!(
                "[phases]\nmeasure = \"1s\"\n[swap]\ndevice = \"{device}\"\nfile = \"/var/tmp/s\"\n[[memcg]]\nname = \"a\"\n"
            );
            let l = parse(&text, "s.toml", "s").unwrap();
            let spec = l.swap.as_spec();
            assert_eq!(spec.device, device);
            assert_eq!(spec.choice(), Some(l.swap.choice.clone()));
            assert_eq!((spec.size.0, spec.file), (1 << 30, l.swap.file.clone()));
        }
    }
}
