//! Validation: what the values of a parsed scenario mean together. One room per section, called
//! in file order so the problems are listed as a reader meets them; every section is checked
//! (validation does not stop at the first problem). Each room also turns its section into the
//! `Plan`'s items, applying the section's defaults there and nowhere else: the memcg section
//! expands templates into concrete paths, and the sections that name memcgs resolve those names
//! against them. A plan built beside a problem is discarded (`Problems::finish`), so where a
//! required value is missing its item holds a placeholder that never runs.
use std::collections::BTreeMap;

use bench_results::human::fmt_bytes;

use super::errors::{Problems, Seg};
use super::plan::{MemcgNode, Plan, PressureAction, sat_sum};
use super::spec::{MemcgSpec, ProactiveSpec, Scenario};

mod burst;
mod churn;
mod memcg;
mod phases;
mod pressure;
mod proactive;
mod probes;
mod swap;
mod worker;
mod zswap;

pub(super) fn validate(s: Scenario, text: &str, default_name: &str, p: &mut Problems) -> Plan {
    let name = name_and_repeats(&s, default_name, p);
    let phases = phases::check(&s.phases, p);
    let swap = swap::check(&s.swap, p);
    let zswap = zswap::check(&s, p);
    let memcgs = memcg::expand(&s.memcgs, p);
    let declared = Declared {
        specs: &s.memcgs,
        nodes: &memcgs,
    };
    let workers = worker::expand(&s.workers, &declared, p);
    let pressure = pressure::expand(&s.pressure, &declared, p);
    let churn = s.churn.as_ref().map(churn::plan);
    let proactive_threads = proactive::expand(&s, &declared, &workers, churn.as_ref(), p);
    if let Some(c) = &s.churn {
        churn::check(c, &declared, &workers, p);
    }
    let burst = s
        .burst
        .as_ref()
        .map(|b| burst::plan(b, &declared, phases.measure, p));
    memcg::check_oom(&memcgs, &workers, churn.as_ref(), p);
    let mut plan = Plan {
        name,
        path: None,
        text: text.to_string(),
        description: s.description.clone(),
        seed: s.seed,
        repeats: s.repeats,
        phases,
        swap,
        zswap,
        probes: probes::check(&s.probes, p),
        memcgs,
        workers,
        pressure,
        proactive_threads,
        churn,
        burst,
        params: BTreeMap::new(),
    };
    plan.params = report_params(&plan, &s.proactive);
    plan
}

/// Key parameters for reports: sizes of the tree and the load, and each `[[proactive]]`
/// section's budget and mode (one entry per section, not per thread).
fn report_params(plan: &Plan, proactive: &[ProactiveSpec]) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("memcgs".into(), plan.memcgs.len().to_string());
    p.insert("workers".into(), plan.workers.len().to_string());
    p.insert("measure".into(), format!("{:?}", plan.phases.measure));
    p.insert(
        "worker_bytes".into(),
        fmt_bytes(sat_sum(plan.workers.iter().map(|w| w.size))),
    );
    let reclaim_threads: u32 = plan
        .pressure
        .iter()
        .filter(|p| matches!(p.action, PressureAction::Reclaim { .. }))
        .fold(0u32, |a, p| a.saturating_add(p.running_threads()));
    if reclaim_threads > 0 {
        p.insert("reclaim_threads".into(), reclaim_threads.to_string());
    }
    if !plan.proactive_threads.is_empty() {
        p.insert(
            "proactive_threads".into(),
            plan.proactive_threads.len().to_string(),
        );
        let budgets: Vec<String> = proactive.iter().map(|x| fmt_bytes(x.budget.0)).collect();
        p.insert("budget".into(), budgets.join(","));
        let modes: Vec<&str> = proactive.iter().map(|x| x.mode.as_str()).collect();
        p.insert("mode".into(), modes.join(","));
    }
    if let Some(b) = &plan.burst {
        p.insert("burst".into(), fmt_bytes(b.size));
        p.insert("idle".into(), format!("{:?}", b.idle));
        p.insert("idle_action".into(), b.action.as_str().into());
    }
    for (k, v) in plan.zswap.params() {
        p.insert(format!("zswap.{k}"), v);
    }
    p
}

/// The scenario's name (the file stem when it has none) and its repeat count.
/// The longest scenario name: with a kernel name and a time stamp it stays within one file
/// name (255 bytes). Listed in scenario/bounds.rs.
const NAME_MAX: usize = super::bounds::NAME_MAX as usize;

fn name_and_repeats(s: &Scenario, default_name: &str, p: &mut Problems) -> String {
    use Seg::Key;
    let name = s.name.clone().unwrap_or_else(|| default_name.to_string());
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        p.push(
            &[Key("name")],
            format!("invalid name {name:?}"),
            "use letters, digits, '-' and '_' only",
        );
    } else if name.len() > NAME_MAX {
        // It names the results folder of every run (with the kernel and a time stamp): the
        // file system would refuse it there, after the VM booted.
        p.push(
            &[Key("name")],
            format!(
                "name \"{}...\" is {} characters, above the maximum {NAME_MAX} (it names each run's results folder)",
                &name[..24],
                name.len()
            ),
            format!("use a name of at most {NAME_MAX} characters (set `name = \"...\"` when the file name is longer)"),
        );
    }
    if s.repeats == 0 {
        p.push(&[Key("repeats")], "repeats is 0", "set repeats = 1 or more");
    }
    name
}

/// The memcgs as declared and as expanded, for the sections that name one.
struct Declared<'a> {
    specs: &'a [MemcgSpec],
    /// Parents before children.
    nodes: &'a [MemcgNode],
}

impl Declared<'_> {
    /// A template name refers to all its instances; a concrete path to itself. Empty when
    /// `name` is neither. Every section that names a memcg resolves it here, once.
    fn resolve(&self, name: &str) -> Vec<String> {
        if self.nodes.iter().any(|n| n.path == name) {
            return vec![name.to_string()];
        }
        match self.specs.iter().find(|m| m.name == name && m.count > 1) {
            Some(m) => (1..=m.count)
                .map(|k| format!("{}{k}", m.name))
                .filter(|p| self.nodes.iter().any(|n| &n.path == p))
                .collect(),
            None => vec![],
        }
    }

    fn node(&self, path: &str) -> Option<&MemcgNode> {
        self.nodes.iter().find(|n| n.path == path)
    }

    /// The declared names, for a fix that says "name a declared [[memcg]]: ...".
    fn known(&self) -> String {
        let mut names: Vec<String> = self
            .specs
            .iter()
            .map(|m| {
                if m.count > 1 {
                    format!("{} (x{})", m.name, m.count)
                } else {
                    m.name.clone()
                }
            })
            .collect();
        names.dedup();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}
