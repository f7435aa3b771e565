//! Validation: what the values of a parsed scenario mean together. One room per section, called
//! in file order so the problems are listed as a reader meets them; every section is checked
//! (validation does not stop at the first problem). The memcg section expands templates into
//! concrete paths, and the sections that name memcgs resolve those names against them; the
//! result is the `Loaded` plan the runner follows.
use super::errors::{Problems, Seg};
use super::plan::{Loaded, MemcgNode, resolve_targets};
use super::spec::{MemcgSpec, Scenario};

mod churn;
mod memcg;
mod phases;
mod pressure;
mod proactive;
mod swap;
mod worker;
mod zswap;

pub(super) fn validate(s: Scenario, text: &str, default_name: &str, p: &mut Problems) -> Loaded {
    let name = name_and_repeats(&s, default_name, p);
    phases::check(&s.phases, p);
    swap::check(&s.swap, p);
    zswap::check(&s, p);
    let memcgs = memcg::expand(&s.memcgs, p);
    let declared = Declared {
        specs: &s.memcgs,
        nodes: &memcgs,
    };
    let workers = worker::expand(&s.workers, &declared, p);
    pressure::check(&s.pressure, &declared, p);
    let proactive_threads = proactive::expand(&s, &declared, &workers, p);
    if let Some(c) = &s.churn {
        churn::check(c, &declared, &workers, p);
    }
    memcg::check_oom(&s, &memcgs, &workers, p);
    Loaded {
        name,
        path: None,
        text: text.to_string(),
        scenario: s,
        memcgs,
        workers,
        proactive_threads,
    }
}

/// The scenario's name (the file stem when it has none) and its repeat count.
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
    /// A template name refers to all its instances; a concrete path to itself.
    fn resolve(&self, name: &str) -> Vec<String> {
        resolve_targets(self.nodes, self.specs, name)
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
