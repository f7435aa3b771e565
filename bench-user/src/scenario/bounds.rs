//! The largest value every number of a scenario may take. Checked right after the file is
//! read and before anything is expanded from it, so a count of 4294967295 is an error naming
//! the field, not gigabytes allocated, and validation stays linear in the file's size. Sizes and
//! durations are bounded by their types (`values.rs`), for every field at once. The table in
//! scenarios/README.md ("Bounds") is checked against `BOUNDS` by a test.
use super::errors::{
    Problems,
    Seg::{self, Idx, Key},
};
use super::spec::Scenario;

/// The longest scenario name (validate/mod.rs checks it with the name's other rules).
pub const NAME_MAX: u64 = 100;

/// (field, maximum, why that maximum).
pub const BOUNDS: &[(&str, u64, &str)] = &[
    (
        "repeats",
        1_000,
        "a matrix repeats cells; more is a sweep, not a scenario",
    ),
    ("memcg.count", 4_096, "memcgs in one run"),
    (
        "memcgs in all (sum of count)",
        4_096,
        "as above, over all [[memcg]]",
    ),
    (
        "worker.processes",
        1_024,
        "processes per [[worker]] per memcg",
    ),
    ("worker.threads", 1_024, "threads per worker process"),
    (
        "worker processes in all",
        4_096,
        "processes × the memcgs a worker names, summed",
    ),
    (
        "worker.rate, pressure.rate (per second)",
        1_000_000,
        "one event a microsecond",
    ),
    (
        "worker.pages_per_request",
        262_144,
        "1 GiB of 4 KiB pages per request",
    ),
    (
        "pressure.threads",
        1_024,
        "reclaim threads per [[pressure]]",
    ),
    (
        "proactive.threads",
        256,
        "proactive-writeback threads per [[proactive]]",
    ),
    ("proactive.count", 1_000_000, "calls per thread"),
    ("churn.live", 1_024, "churned memcgs alive at once"),
    ("churn.rate (per second)", 10_000, "create+remove cycles"),
    (
        "probes.watch_locks (names)",
        64,
        "each is one more lock the slow-path programs look up",
    ),
    ("any size", super::values::SIZE_MAX, "1 TiB"),
    (
        "any duration (seconds)",
        super::values::DURATION_MAX.as_secs(),
        "24 h",
    ),
    (
        "memcg name part (bytes, with the template's number)",
        255,
        "the kernel's NAME_MAX",
    ),
    (
        "name (characters)",
        100,
        "it names each run's results folder",
    ),
];

fn max_of(field: &str) -> u64 {
    BOUNDS
        .iter()
        .find(|(f, _, _)| *f == field)
        .map(|(_, m, _)| *m)
        .unwrap_or_else(|| panic!("no bound named {field:?}"))
}

struct Check<'a, 'p> {
    p: &'a mut Problems<'p>,
    ok: bool,
}

impl Check<'_, '_> {
    fn at_most(&mut self, path: &[Seg], value: u64, field: &str) {
        let max = max_of(field);
        if value > max {
            self.ok = false;
            self.p.push(
                path,
                format!("{value} is above the maximum {max} ({field})"),
                format!(
                    "use at most {max}; the bounds are listed in scenarios/README.md (\"Bounds\")"
                ),
            );
        }
    }

    fn rate(&mut self, path: &[Seg], value: Option<f64>, field: &str) {
        let max = max_of(field) as f64;
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=max).contains(&v))
        {
            self.ok = false;
            self.p.push(
                path,
                format!("{v} is not a rate in 0..={max} per second ({field})"),
                format!("use a rate from 0 to {max}"),
            );
        }
    }
}

/// False when a bound is broken: the caller then stops before expanding the scenario.
pub(super) fn check(s: &Scenario, p: &mut Problems) -> bool {
    let mut c = Check { p, ok: true };
    c.at_most(&[Key("repeats")], s.repeats.into(), "repeats");
    let mut memcgs = 0u64;
    for (i, m) in s.memcgs.iter().enumerate() {
        c.at_most(
            &[Key("memcg"), Idx(i), Key("count")],
            m.count.into(),
            "memcg.count",
        );
        memcgs = memcgs.saturating_add(m.count.into());
    }
    c.at_most(&[Key("memcg")], memcgs, "memcgs in all (sum of count)");
    // Looked up once per worker: a search of the memcg list each time would make validation
    // quadratic in the file's size (a 1 MiB file holds tens of thousands of sections).
    let mut counts: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for m in &s.memcgs {
        // The first declaration wins, as a search of the list would find it.
        counts.entry(m.name.as_str()).or_insert(u64::from(m.count));
    }
    let mut procs = 0u64;
    for (i, w) in s.workers.iter().enumerate() {
        let at = |k| [Key("worker"), Idx(i), Key(k)];
        c.at_most(&at("processes"), w.processes.into(), "worker.processes");
        c.at_most(&at("threads"), w.threads.into(), "worker.threads");
        c.rate(
            &at("rate"),
            w.rate,
            "worker.rate, pressure.rate (per second)",
        );
        if let Some(n) = w.pages_per_request {
            c.at_most(&at("pages_per_request"), n, "worker.pages_per_request");
        }
        // A template name means each of its instances.
        let instances = counts.get(w.memcg.as_str()).copied().unwrap_or(1);
        procs = procs.saturating_add(u64::from(w.processes).saturating_mul(instances));
    }
    c.at_most(&[Key("worker")], procs, "worker processes in all");
    for (i, pr) in s.pressure.iter().enumerate() {
        let at = |k| [Key("pressure"), Idx(i), Key(k)];
        c.at_most(&at("threads"), pr.threads.into(), "pressure.threads");
        c.rate(
            &at("rate"),
            pr.rate,
            "worker.rate, pressure.rate (per second)",
        );
    }
    for (i, pa) in s.proactive.iter().enumerate() {
        let at = |k| [Key("proactive"), Idx(i), Key(k)];
        c.at_most(&at("threads"), pa.threads.into(), "proactive.threads");
        c.at_most(&at("count"), pa.count, "proactive.count");
    }
    if let Some(ch) = &s.churn {
        c.at_most(&[Key("churn"), Key("live")], ch.live.into(), "churn.live");
        c.rate(
            &[Key("churn"), Key("rate")],
            Some(ch.rate),
            "churn.rate (per second)",
        );
    }
    c.at_most(
        &[Key("probes"), Key("watch_locks")],
        s.probes.watch_locks.len() as u64,
        "probes.watch_locks (names)",
    );
    c.ok
}

/// The README's table, as the test compares it.
#[cfg(test)]
pub fn markdown() -> String {
    let mut s = String::from("| field | maximum | why |\n|---|---|---|\n");
    for (f, m, why) in BOUNDS {
        s.push_str(&format!("| {f} | {m} | {why} |\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::fixture::BASE;

    fn errs(text: &str) -> Vec<String> {
        match super::super::parse(text, "s.toml", "s") {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_readme_lists_every_bound() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/README.md"),
        )
        .unwrap();
        assert!(
            readme.contains(&super::markdown()),
            "scenarios/README.md \"Bounds\" must hold exactly:\n{}",
            super::markdown()
        );
    }

    /// Every numeric field at every boundary value: each parses or is refused, none panics (in a
    /// debug build too, where overflow panics), and each refusal comes within a second.
    #[test]
    fn every_number_at_its_boundaries_is_parsed_or_refused() {
        let fields = [
            ("", "repeats"),
            ("", "seed"),
            ("[phases]", "measure"),
            ("[phases]", "warmup"),
            ("[phases]", "setup_timeout"),
            ("[swap]", "size"),
            ("[zswap]", "max_pool_percent"),
            ("[zswap]", "accept_threshold_percent"),
            ("[[memcg]]\nname = \"q\"", "count"),
            ("[[memcg]]\nname = \"q\"", "memory_max"),
            ("[[memcg]]\nname = \"q\"", "zswap_max"),
            ("[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"", "processes"),
            ("[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"", "threads"),
            ("[[worker]]\nmemcg = \"parent\"", "size"),
            (
                "[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"\npattern = \"requests\"",
                "rate",
            ),
            (
                "[[worker]]\nmemcg = \"parent\"\nsize = \"1M\"\npattern = \"requests\"\nrate = 10",
                "pages_per_request",
            ),
            (
                "[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\nsize = \"1M\"",
                "rate",
            ),
            (
                "[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"\nsize = \"1M\"",
                "threads",
            ),
            (
                "[[pressure]]\nkind = \"reclaim\"\nmemcg = \"parent\"",
                "size",
            ),
            (
                "[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"",
                "count",
            ),
            (
                "[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"",
                "threads",
            ),
            (
                "[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"",
                "interval",
            ),
            (
                "[[proactive]]\nmemcg = \"parent\"\nmode = \"sequential-on-one\"",
                "budget",
            ),
            ("[churn]\nparent = \"parent\"\nrate = 1", "live"),
            ("[churn]\nparent = \"parent\"", "rate"),
            ("[churn]\nparent = \"parent\"\nrate = 1", "size"),
        ];
        let values = bench_results::testing::BOUNDARY_VALUES;
        let mut accepted = 0;
        for (section, key) in fields {
            for v in values {
                // Top-level keys go before the first section.
                let text = match (section, key) {
                    ("", _) => format!("{key} = {v}\n{BASE}"),
                    ("[phases]", "measure") => {
                        BASE.replace("measure = \"10s\"", &format!("measure = {v}"))
                    }
                    ("[phases]", _) => {
                        BASE.replace("[phases]\n", &format!("[phases]\n{key} = {v}\n"))
                    }
                    ("[swap]", _) => BASE.replace("size = \"512M\"", &format!("size = {v}")),
                    _ => format!("{BASE}\n{section}\n{key} = {v}\n"),
                };
                let t = std::time::Instant::now();
                let r = std::panic::catch_unwind(|| errs(&text));
                assert!(r.is_ok(), "{section} {key} = {v} panicked");
                if r.unwrap().is_empty() {
                    accepted += 1;
                }
                assert!(
                    t.elapsed().as_secs() < 1,
                    "{section} {key} = {v} took {:?}",
                    t.elapsed()
                );
            }
        }
        // The values reached validation: some of them make valid scenarios.
        assert!(accepted > 20, "only {accepted} accepted");
    }

    /// 2^32-1 of anything: an error naming the field and the maximum, at once (no allocation
    /// of the expansion, no minutes of validation).
    #[test]
    fn huge_counts_are_refused_before_expansion() {
        for (from, to, field) in [
            ("count = 4", "count = 4294967295", "memcg.count"),
            ("count = 4", "count = 100000", "memcg.count"),
            (
                "size = \"32M\"\n",
                "size = \"32M\"\nprocesses = 4294967295\n",
                "worker.processes",
            ),
        ] {
            assert!(BASE.contains(from), "{from}");
            let t = std::time::Instant::now();
            let e = errs(&BASE.replacen(from, to, 1));
            assert!(t.elapsed().as_secs() < 2);
            assert!(
                e.iter()
                    .any(|e| e.contains("is above the maximum") && e.contains(field)),
                "{e:?}"
            );
        }
    }
}
