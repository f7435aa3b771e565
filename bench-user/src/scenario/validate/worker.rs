//! `[[worker]]`: each worker in a declared leaf memcg, with memory, processes and threads, a
//! reachable compressibility target, and the keys its access pattern needs (and no others).
//! Expands into one `Worker` per process per target memcg, with the section's values.
use bench_results::human::fmt_bytes;

use super::Declared;
use crate::scenario::errors::{
    Problems,
    Seg::{Idx, Key},
};
use crate::scenario::plan::Worker;
use crate::scenario::spec::{Pattern, WorkerSpec};
use crate::scenario::values::PAGE;

pub(super) fn expand(specs: &[WorkerSpec], d: &Declared, p: &mut Problems) -> Vec<Worker> {
    let mut workers = Vec::new();
    for (i, w) in specs.iter().enumerate() {
        let targets = d.resolve(&w.memcg);
        check_placement(i, w, &targets, d, p);
        check_amounts(i, w, p);
        check_pattern(i, w, p);
        for t in targets {
            for k in 0..w.processes {
                workers.push(worker(w, &t, k));
            }
        }
    }
    workers
}

/// Process `index` of section `w` in memcg `memcg`.
fn worker(w: &WorkerSpec, memcg: &str, index: u32) -> Worker {
    Worker {
        memcg: memcg.to_string(),
        index,
        size: w.size.0,
        threads: w.threads,
        compressibility: w.compressibility,
        pattern: w.pattern,
        hot_fraction: w.hot_fraction,
        hot_share: w.hot_share,
        // Only `periodic` allocates in chunks; the others get a page, which they ignore.
        chunk: w.chunk.map_or(PAGE, |c| c.0),
        interval: w.interval.map(|d| d.0),
        requests: (w.pattern == Pattern::Requests)
            .then(|| (w.rate.unwrap_or(0.0), w.pages_per_request.unwrap_or(1))),
    }
}

/// A declared memcg, and a leaf: cgroup v2 keeps processes out of inner memcgs.
fn check_placement(i: usize, w: &WorkerSpec, targets: &[String], d: &Declared, p: &mut Problems) {
    let at = |k: &'static str| [Key("worker"), Idx(i), Key(k)];
    if targets.is_empty() {
        p.push(
            &at("memcg"),
            format!("unknown memcg {:?}", w.memcg),
            format!("name a declared [[memcg]]: {}", d.known()),
        );
    }
    for t in targets {
        if d.nodes.iter().any(|n| &n.path == t && n.has_children) {
            p.push(&at("memcg"), format!("memcg {t:?} has child memcgs; cgroup v2 allows processes only in leaf memcgs when memory is delegated"), "put the worker in a leaf (a memcg without children)");
        }
    }
}

/// Size, processes, threads and compressibility.
fn check_amounts(i: usize, w: &WorkerSpec, p: &mut Problems) {
    let at = |k: &'static str| [Key("worker"), Idx(i), Key(k)];
    if w.size.0 == 0 {
        p.push(
            &at("size"),
            "size is zero",
            "give each worker some memory, e.g. size = \"32M\"",
        );
    } else if w.size.0 < PAGE {
        p.push(
            &at("size"),
            format!("size {} is below one page", fmt_bytes(w.size.0)),
            "use at least \"4K\"",
        );
    }
    if w.processes == 0 {
        p.push(
            &at("processes"),
            "processes is 0",
            "use 1 or more (or remove the [[worker]])",
        );
    }
    if w.threads == 0 {
        p.push(&at("threads"), "threads is 0", "use 1 or more");
    }
    if !(w.compressibility > 0.0 && w.compressibility <= 1.0) {
        p.push(&at("compressibility"), format!("compressibility {} is outside (0, 1]", w.compressibility), "give the target compressed/original ratio, e.g. 0.3 (compresses to 30%) or 1.0 (incompressible)");
    }
}

/// The keys `hot-cold` and `periodic` need, and `chunk` only with `periodic`.
fn check_pattern(i: usize, w: &WorkerSpec, p: &mut Problems) {
    let at = |k: &'static str| [Key("worker"), Idx(i), Key(k)];
    check_requests(i, w, p);
    if matches!(w.pattern, Pattern::HotCold | Pattern::Requests) {
        if !(w.hot_fraction > 0.0 && w.hot_fraction < 1.0) {
            p.push(
                &at("hot_fraction"),
                format!("hot_fraction {} is outside (0, 1)", w.hot_fraction),
                "e.g. hot_fraction = 0.2 (the first 20% of the pages are hot)",
            );
        }
        if !(w.hot_share > 0.0 && w.hot_share <= 1.0) {
            p.push(
                &at("hot_share"),
                format!("hot_share {} is outside (0, 1]", w.hot_share),
                "e.g. hot_share = 0.9 (90% of touches go to hot pages)",
            );
        }
    }
    if w.pattern == Pattern::Periodic {
        match w.chunk {
            None => p.push(
                &[Key("worker"), Idx(i)],
                "pattern \"periodic\" needs chunk",
                "add chunk = \"4K\" (bytes allocated per step)",
            ),
            Some(c) if c.0 == 0 => p.push(&at("chunk"), "chunk is zero", "use e.g. chunk = \"4K\""),
            Some(c) if c.0 > w.size.0 => p.push(
                &at("chunk"),
                format!(
                    "chunk {} is larger than size {}",
                    fmt_bytes(c.0),
                    fmt_bytes(w.size.0)
                ),
                "chunk must not exceed size (the ring of chunks kept)",
            ),
            _ => {}
        }
        match w.interval {
            None => p.push(
                &[Key("worker"), Idx(i)],
                "pattern \"periodic\" needs interval",
                "add interval = \"2ms\"",
            ),
            Some(d) if d.0.is_zero() => p.push(
                &at("interval"),
                "interval is zero",
                "use e.g. interval = \"2ms\"",
            ),
            _ => {}
        }
    } else if w.chunk.is_some() {
        p.push(
            &at("chunk"),
            "chunk is only used by pattern \"periodic\"",
            "remove chunk or set pattern = \"periodic\"",
        );
    }
}

/// `rate` and `pages_per_request` belong to `requests`, which needs them in range.
fn check_requests(i: usize, w: &WorkerSpec, p: &mut Problems) {
    let at = |k: &'static str| [Key("worker"), Idx(i), Key(k)];
    if w.pattern != Pattern::Requests {
        for (k, set) in [
            ("rate", w.rate.is_some()),
            ("pages_per_request", w.pages_per_request.is_some()),
        ] {
            if set {
                p.push(
                    &at(k),
                    format!("{k} is only used by pattern \"requests\""),
                    format!("remove {k} or set pattern = \"requests\""),
                );
            }
        }
        return;
    }
    match w.rate {
        None => p.push(
            &[Key("worker"), Idx(i)],
            "pattern \"requests\" needs rate",
            "add rate = 1000 (requests per second; 0 = back to back)",
        ),
        Some(r) if !(r.is_finite() && (0.0..=1_000_000.0).contains(&r)) => p.push(
            &at("rate"),
            format!("rate {r} is outside 0..=1000000 requests per second"),
            "use e.g. rate = 1000, or 0 for back to back",
        ),
        _ => {}
    }
    let pages = w.size.0 / PAGE;
    match w.pages_per_request {
        None => p.push(
            &[Key("worker"), Idx(i)],
            "pattern \"requests\" needs pages_per_request",
            "add pages_per_request = 16",
        ),
        Some(k) if k == 0 || k > pages.max(1) => p.push(
            &at("pages_per_request"),
            format!(
                "pages_per_request {k} is outside 1..={} (the worker's {} pages)",
                pages.max(1),
                pages
            ),
            "use a count between 1 and the worker's pages",
        ),
        _ => {}
    }
    if w.threads > 1 || w.processes > 1 {
        p.push(
            &at("threads"),
            "a request worker is one process with one thread",
            "use one [[worker]] per latency-sensitive worker, without threads/processes",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::fixture::{BASE, one_err};

    #[test]
    fn zero_size_rejected_with_field() {
        let text = BASE.replace("size = \"32M\"", "size = 0");
        let e = one_err(&text);
        assert_eq!(e.field, "worker[0].size");
        assert_eq!(e.line, Some(15));
        assert!(e.fix.contains("size = "), "{e}");
    }

    #[test]
    fn worker_in_inner_memcg_rejected() {
        let text = format!("{BASE}[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"\n");
        let e = one_err(&text);
        assert!(e.message.contains("leaf"), "{e}");
        assert_eq!(e.line, Some(17));
    }

    #[test]
    fn bad_enum_and_compressibility() {
        let e = one_err(&BASE.replace("size = \"32M\"", "size = \"32M\"\npattern = \"zigzag\""));
        assert!(e.message.contains("unknown variant `zigzag`"), "{e}");
        assert!(e.message.contains("hot-cold"), "{e}");
        let e = one_err(&BASE.replace("size = \"32M\"", "size = \"32M\"\ncompressibility = 1.5"));
        assert_eq!(e.field, "worker[0].compressibility");
        assert_eq!(e.line, Some(16));
    }
}
