//! `[[proactive]]`: a declared target memcg whose count suits the mode (one for the sequential
//! modes, several for concurrent-on-different), with zswap writeback allowed, and a budget the
//! target can hold. Expands into one `ProactiveThread` per thread, with the section's values,
//! the threads of a sequential-on-one section sharing a serial group.
use bench_results::human::fmt_bytes;

use super::Declared;
use crate::scenario::errors::{
    Problems,
    Seg::{Idx, Key},
};
use crate::scenario::plan::{Churn, MemcgNode, ProactiveThread, Worker, demand_under, is_under};
use crate::scenario::spec::{ProactiveMode, ProactiveSpec, Scenario};

pub(super) fn expand(
    s: &Scenario,
    decl: &Declared,
    workers: &[Worker],
    churn: Option<&Churn>,
    p: &mut Problems,
) -> Vec<ProactiveThread> {
    let mut proactive_threads = Vec::new();
    for (i, pa) in s.proactive.iter().enumerate() {
        let targets = decl.resolve(&pa.memcg);
        check_fields(i, pa, &targets, decl, p);
        check_targets(i, pa, &targets, decl, (workers, churn), p);
        let serial = (pa.mode == ProactiveMode::SequentialOnOne).then_some(i);
        for t in &targets {
            let n = if pa.mode == ProactiveMode::ConcurrentOnDifferent {
                1
            } else {
                pa.threads
            };
            for _ in 0..n {
                proactive_threads.push(ProactiveThread {
                    target: t.clone(),
                    mode: pa.mode,
                    budget: pa.budget.0,
                    interval: pa.interval.0,
                    count: pa.count,
                    serial_group: serial,
                });
            }
        }
    }
    proactive_threads
}

/// Target count against the mode, budget, threads and call pacing.
fn check_fields(
    i: usize,
    pa: &ProactiveSpec,
    targets: &[String],
    decl: &Declared,
    p: &mut Problems,
) {
    let at = |k: &'static str| [Key("proactive"), Idx(i), Key(k)];
    if targets.is_empty() {
        p.push(
            &at("memcg"),
            format!("unknown target memcg {:?}", pa.memcg),
            format!("name a declared [[memcg]]: {}", decl.known()),
        );
    }
    if pa.budget.0 == 0 {
        p.push(
            &at("budget"),
            "budget is zero",
            "use a positive budget, e.g. budget = \"2M\"",
        );
    }
    if pa.threads == 0 {
        p.push(&at("threads"), "threads is 0", "use 1 or more");
    }
    if pa.mode == ProactiveMode::ConcurrentOnDifferent {
        if targets.len() == 1 {
            p.push(&at("memcg"), format!("concurrent-on-different needs several targets, {:?} is one memcg", pa.memcg), "name a template memcg declared with count > 1, or use mode = \"sequential-on-one\"");
        }
        if pa.threads != 1 {
            p.push(
                &at("threads"),
                "concurrent-on-different runs one thread per target memcg",
                "remove threads (the target count decides)",
            );
        }
    } else if targets.len() > 1 {
        p.push(
            &at("memcg"),
            format!(
                "{:?} names {} memcgs; mode {} targets one",
                pa.memcg,
                targets.len(),
                pa.mode.as_str()
            ),
            "name one memcg, or use mode = \"concurrent-on-different\"",
        );
    }
    if pa.count == 0 && pa.interval.0.is_zero() && pa.mode == ProactiveMode::RepeatedSmallBudget {
        p.push(&at("interval"), "repeated-small-budget with no interval and no count issues calls back to back for the whole phase", "set interval = \"100ms\" or a count");
    }
}

/// Each target must allow writeback and be able to hold the budget.
fn check_targets(
    i: usize,
    pa: &ProactiveSpec,
    targets: &[String],
    decl: &Declared,
    (workers, churn): (&[Worker], Option<&Churn>),
    p: &mut Problems,
) {
    let at = |k: &'static str| [Key("proactive"), Idx(i), Key(k)];
    for t in targets {
        if let Some(n) = decl.node(t)
            && !n.zswap_writeback
        {
            p.push(
                &at("memcg"),
                format!(
                    "target {t:?} has zswap_writeback = false: every call would fail with EINVAL"
                ),
                "set zswap_writeback = true on the target memcg",
            );
        }
        if pa.budget.0 > 0 {
            if let Some((lim, who)) = effective_max(decl.nodes, t)
                && pa.budget.0 > lim
            {
                p.push(
                    &at("budget"),
                    format!(
                        "budget {} is larger than memory.max {} of {who:?}",
                        fmt_bytes(pa.budget.0),
                        fmt_bytes(lim)
                    ),
                    format!(
                        "use a budget below {} (the memcg can never hold that much)",
                        fmt_bytes(lim)
                    ),
                );
                continue;
            }
            let d = demand_under(workers, churn, t);
            if pa.budget.0 > d {
                p.push(
                    &at("budget"),
                    format!(
                        "budget {} is larger than all memory the workers under {t:?} hold ({})",
                        fmt_bytes(pa.budget.0),
                        fmt_bytes(d)
                    ),
                    "lower the budget or add [[worker]]s under the target",
                );
            }
        }
    }
}

/// The tightest memory.max on `path` or above it, and the memcg that sets it.
fn effective_max(memcgs: &[MemcgNode], path: &str) -> Option<(u64, String)> {
    memcgs
        .iter()
        .filter(|m| is_under(path, &m.path))
        .filter_map(|m| m.memory_max.bytes().map(|b| (b, m.path.clone())))
        .min()
}

#[cfg(test)]
mod tests {
    use crate::scenario::fixture::{BASE, one_err};
    use crate::scenario::parse;

    #[test]
    fn budget_larger_than_limit() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"300M\"\n"
        );
        let e = one_err(&text);
        assert_eq!(e.field, "proactive[0].budget");
        assert_eq!(e.line, Some(19));
        assert!(
            e.message
                .contains("larger than memory.max 256.0 MiB of \"parent\""),
            "{e}"
        );
    }

    #[test]
    fn budget_larger_than_what_workers_hold() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent/child1\"\nmode = \"sequential-on-one\"\nbudget = \"64M\"\n"
        );
        let e = one_err(&text);
        assert!(e.message.contains("hold (32.0 MiB)"), "{e}");
    }

    #[test]
    fn missing_target_memcg() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"nosuch\"\nmode = \"sequential-on-one\"\nbudget = \"2M\"\n"
        );
        let e = one_err(&text);
        assert_eq!(e.field, "proactive[0].memcg");
        assert_eq!(e.line, Some(17));
        assert!(e.fix.contains("parent, parent/child (x4)"), "{e}");
        let e = one_err(&format!(
            "{BASE}[[proactive]]\nmode = \"sequential-on-one\"\nbudget = \"2M\"\n"
        ));
        assert!(e.message.contains("missing field `memcg`"), "{e}");
    }

    #[test]
    fn concurrent_needs_several_targets() {
        let ok = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent/child\"\nmode = \"concurrent-on-different\"\nbudget = \"2M\"\ncount = 10\n"
        );
        let l = parse(&ok, "t", "t").unwrap();
        assert_eq!(l.proactive_threads.len(), 4);
        assert_eq!(l.proactive_threads[3].target, "parent/child4");
        assert_eq!(l.proactive_threads[0].serial_group, None);
        let bad = ok.replace("memcg = \"parent/child\"\nmode", "memcg = \"parent\"\nmode");
        assert!(one_err(&bad).message.contains("needs several targets"));
        let bad = ok.replace("concurrent-on-different", "sequential-on-one");
        assert!(one_err(&bad).message.contains("names 4 memcgs"));
    }

    #[test]
    fn sequential_threads_share_a_serial_group() {
        let text = format!(
            "{BASE}[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"2M\"\nthreads = 3\n"
        );
        let l = parse(&text, "t", "t").unwrap();
        assert_eq!(l.proactive_threads.len(), 3);
        assert!(
            l.proactive_threads
                .iter()
                .all(|t| t.serial_group == Some(0) && t.target == "parent")
        );
    }
}
