//! `[[memcg]]`: names that are relative cgroup paths, parents declared before their children,
//! limits that make sense, and the expansion of templates (`count` > 1) into `<name>1` ..
//! `<name>N`. After the other sections are known, `check_oom` refuses a memcg that can only be
//! OOM-killed (limit below its demand with nowhere for the excess to go).
use bench_results::human::fmt_bytes;

use crate::scenario::errors::{
    Problems,
    Seg::{Idx, Key},
};
use crate::scenario::plan::{Churn, MemcgNode, Worker, demand_under, parent_of};
use crate::scenario::spec::MemcgSpec;
use crate::scenario::values::{Limit, PAGE};

/// The concrete memcgs, parents before children; a spec with a problem adds none.
pub(super) fn expand(specs: &[MemcgSpec], p: &mut Problems) -> Vec<MemcgNode> {
    let mut memcgs: Vec<MemcgNode> = Vec::new();
    if specs.is_empty() {
        p.push(
            &[Key("memcg")],
            "no [[memcg]] declared",
            "declare at least one [[memcg]] with a name",
        );
    }
    for (i, m) in specs.iter().enumerate() {
        if !placeable(i, m, &memcgs, p) {
            continue;
        }
        check_limits(i, m, p);
        add_instances(i, m, &mut memcgs, p);
    }
    memcgs
}

/// A valid name, a count, and a declared parent: without these the memcg cannot be created.
fn placeable(i: usize, m: &MemcgSpec, memcgs: &[MemcgNode], p: &mut Problems) -> bool {
    let bad_name = m.name.is_empty()
        || m.name.starts_with('/')
        || m.name.ends_with('/')
        || m.name.split('/').any(|c| {
            c.is_empty()
                || c == "."
                || c == ".."
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        });
    if bad_name {
        p.push(&[Key("memcg"), Idx(i), Key("name")], format!("invalid memcg name {:?}", m.name), "use a relative path of letters, digits, '-', '_' separated by '/', e.g. \"parent/child\"");
        return false;
    }
    // The kernel's NAME_MAX, counted with the number a template appends to its last part.
    let digits = if m.count > 1 {
        m.count.to_string().len()
    } else {
        0
    };
    if let Some(part) = m.name.split('/').find(|c| c.len() + digits > 255) {
        p.push(
            &[Key("memcg"), Idx(i), Key("name")],
            format!(
                "memcg name part \"{}...\" is {} bytes{}, above the kernel's limit of 255 for one cgroup name",
                &part[..part.len().min(24)],
                part.len() + digits,
                if digits > 0 { " with the template's number" } else { "" }
            ),
            "shorten that part of the name (the cgroup directory could not be created)",
        );
        return false;
    }
    if m.count == 0 {
        p.push(
            &[Key("memcg"), Idx(i), Key("count")],
            "count is 0",
            "remove count (default 1) or set it to 1 or more",
        );
        return false;
    }
    if let Some(par) = parent_of(&m.name)
        && !memcgs.iter().any(|n| n.path == par)
    {
        p.push(&[Key("memcg"), Idx(i), Key("name")], format!("parent memcg {par:?} of {:?} is not declared above it", m.name), format!("declare [[memcg]] name = \"{par}\" before this one (a template parent with count > 1 cannot have children)"));
        return false;
    }
    true
}

fn check_limits(i: usize, m: &MemcgSpec, p: &mut Problems) {
    for (k, l) in [("memory_max", m.memory_max), ("memory_high", m.memory_high)] {
        if let Limit::Bytes(b) = l
            && b < 16 * PAGE
        {
            p.push(
                &[Key("memcg"), Idx(i), Key(k)],
                format!("{k} {} is too small (zero or below 64K)", fmt_bytes(b)),
                "use \"max\" or a size of at least a few MB, e.g. \"64M\"",
            );
        }
    }
    if let (Limit::Bytes(h), Limit::Bytes(mx)) = (m.memory_high, m.memory_max)
        && h > mx
    {
        p.push(
            &[Key("memcg"), Idx(i), Key("memory_high")],
            format!(
                "memory_high {} is above memory_max {}",
                fmt_bytes(h),
                fmt_bytes(mx)
            ),
            "memory_high must not exceed memory_max; lower it or use \"max\"",
        );
    }
}

/// `<name>`, or `<name>1` .. `<name>N` for a template; marks the parent as having children.
fn add_instances(i: usize, m: &MemcgSpec, memcgs: &mut Vec<MemcgNode>, p: &mut Problems) {
    let paths: Vec<String> = if m.count == 1 {
        vec![m.name.clone()]
    } else {
        (1..=m.count).map(|k| format!("{}{k}", m.name)).collect()
    };
    for path in paths {
        if memcgs.iter().any(|n| n.path == path) {
            p.push(
                &[Key("memcg"), Idx(i), Key("name")],
                format!("memcg {path:?} is declared twice"),
                "give each [[memcg]] a distinct name",
            );
            continue;
        }
        if let Some(par) = parent_of(&path)
            && let Some(n) = memcgs.iter_mut().find(|n| n.path == par)
        {
            n.has_children = true;
        }
        memcgs.push(MemcgNode {
            path,
            spec: i,
            limit_at: p.position(&[Key("memcg"), Idx(i), Key("memory_max")]),
            memory_max: m.memory_max,
            memory_high: m.memory_high,
            zswap_max: m.zswap_max,
            zswap_writeback: m.zswap_writeback,
            has_children: false,
        });
    }
}

/// A memcg's workers must fit within its own memory.max plus what zswap/swap absorb; a
/// memory.max smaller than one worker's fill is fine (that is pressure), but a zswap.max of 0
/// with writeback off and a limit below the demand can only OOM.
pub(super) fn check_oom(
    memcgs: &[MemcgNode],
    workers: &[Worker],
    churn: Option<&Churn>,
    p: &mut Problems,
) {
    for n in memcgs {
        if let (Some(lim), Limit::Bytes(0), false) =
            (n.memory_max.bytes(), n.zswap_max, n.zswap_writeback)
        {
            let d = demand_under(workers, churn, &n.path);
            if d > lim {
                p.push(&[Key("memcg"), Idx(n.spec), Key("memory_max")], format!("{:?} holds {} under memory.max {} with zswap_max = 0 and writeback off: the workers would be OOM-killed", n.path, fmt_bytes(d), fmt_bytes(lim)), "raise memory_max or allow zswap/writeback");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::fixture::{BASE, errs, one_err};
    use crate::scenario::parse;
    use crate::scenario::values::Limit;

    #[test]
    fn base_expands_templates() {
        let l = parse(BASE, "t.toml", "t").unwrap();
        let paths: Vec<&str> = l.memcgs.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "parent",
                "parent/child1",
                "parent/child2",
                "parent/child3",
                "parent/child4"
            ]
        );
        assert!(l.memcgs[0].has_children);
        assert!(!l.memcgs[1].has_children);
        assert_eq!(l.workers.len(), 4);
        assert_eq!(l.workers[2].memcg, "parent/child3");
        assert_eq!(l.demand_under("parent"), 128 << 20);
    }

    #[test]
    fn parent_must_be_declared_first() {
        let text = BASE.replace(
            "name = \"parent\"\nmemory_max",
            "name = \"other\"\nmemory_max",
        );
        let e = errs(&text);
        assert!(e[0].message.contains("parent memcg \"parent\""), "{e:?}");
        assert_eq!(e[0].field, "memcg[1].name");
        assert_eq!(e[0].line, Some(11));
    }

    #[test]
    fn limits_checked() {
        let e = one_err(&BASE.replace(
            "memory_max = \"256M\"",
            "memory_max = \"256M\"\nmemory_high = \"512M\"",
        ));
        assert!(e.message.contains("above memory_max"), "{e}");
        let e = one_err(&BASE.replace("memory_max = \"256M\"", "memory_max = 0"));
        assert_eq!(e.field, "memcg[0].memory_max");
        let l = parse(
            &BASE.replace("memory_max = \"256M\"", "memory_max = \"max\""),
            "t",
            "t",
        )
        .unwrap();
        assert_eq!(l.memcgs[0].memory_max, Limit::Max);
    }
}
