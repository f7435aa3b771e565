//! Runs that carry one kernel name but come from different builds (other patches, another
//! `.config`, another release or kernel command line) are never pooled into one sample:
//! `compare`, `table` and `plot` refuse them with the builds side by side, or, asked with
//! `--split-builds`, compare them as separate kernels ("ref-nocursor build-2").
use crate::schema::ResultFile;

/// One build as a report names it: what differs between builds is all here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Build {
    release: String,
    config: String,
    patches: String,
    cmdline: String,
}

impl Build {
    fn of(r: &ResultFile) -> Build {
        let k = &r.kernel;
        let patches: Vec<String> = k
            .series
            .iter()
            .flat_map(|s| s.patches.iter())
            .map(|p| format!("{} {}", p.name, short(&p.sha256)))
            .collect();
        Build {
            release: k.release.clone(),
            config: k
                .config_sha256
                .as_deref()
                .map_or("unknown".into(), |c| short(c).to_string()),
            patches: if patches.is_empty() {
                "none".into()
            } else {
                patches.join(", ")
            },
            cmdline: stable_cmdline(&k.cmdline),
        }
    }

    fn describe(&self) -> String {
        format!(
            "release {}, config {}, patches [{}], command line \"{}\"",
            self.release, self.config, self.patches, self.cmdline
        )
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The kernel command line without the runner's own per-run tokens (the path of the binary it
/// boots with and of its control directory), which differ between any two runs.
fn stable_cmdline(c: &str) -> String {
    c.split_whitespace()
        .filter(|t| !t.starts_with("init=") && !t.starts_with("zb.ctl="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each key with its distinct values and their run counts.
pub(super) type Distinct<K, V> = Vec<(K, Vec<(V, usize)>)>;

/// Per key, its distinct values in order of first appearance with their run counts: how
/// `builds` and `guests` find what one sample would pool. Keys are found through a map, so
/// grouping stays linear in the runs.
pub(super) fn distinct_per<'a, K: Ord + Clone, V: PartialEq>(
    results: impl Iterator<Item = &'a ResultFile>,
    key: impl Fn(&ResultFile) -> K,
    value: impl Fn(&ResultFile) -> V,
) -> Distinct<K, V> {
    let mut out: Distinct<K, V> = Vec::new();
    let mut at: std::collections::BTreeMap<K, usize> = Default::default();
    for r in results {
        let k = key(r);
        let i = *at.entry(k.clone()).or_insert_with(|| {
            out.push((k, vec![]));
            out.len() - 1
        });
        let v = value(r);
        match out[i].1.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1,
            None => out[i].1.push((v, 1)),
        }
    }
    out
}

/// The lines naming each of a pooled sample's sources: "  build-1: 2 run(s): <what>".
pub(super) fn sides<V>(
    word: &str,
    values: &[(V, usize)],
    describe: impl Fn(&V) -> String,
) -> String {
    values
        .iter()
        .enumerate()
        .map(|(i, (x, n))| format!("  {word}-{}: {n} run(s): {}", i + 1, describe(x)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Per kernel label, its distinct builds in order of first appearance with their run counts.
fn builds(results: &[ResultFile]) -> Distinct<String, Build> {
    distinct_per(results.iter(), |r| r.kernel.label().to_string(), Build::of)
}

/// One message per kernel name whose runs come from several builds, with each build and its
/// run count: empty when nothing would be pooled.
pub fn pooled_builds(results: &[ResultFile]) -> Vec<String> {
    builds(results)
        .into_iter()
        .filter(|(_, b)| b.len() > 1)
        .map(|(label, b)| {
            format!(
                "kernel {label:?} names {} different builds among these results:\n{}",
                b.len(),
                sides("build", &b, Build::describe)
            )
        })
        .collect()
}

/// `--split-builds`: where a kernel name covers several builds, each run is relabelled
/// "<label> build-<n>" (n in order of first appearance, as `pooled_builds` numbers them);
/// kernels with one build keep their label.
pub fn split_by_build(results: &mut [ResultFile]) {
    let all = builds(results);
    for r in results.iter_mut() {
        let label = r.kernel.label().to_string();
        let Some((_, b)) = all.iter().find(|(l, _)| *l == label) else {
            continue;
        };
        if b.len() > 1 {
            let me = Build::of(r);
            let n = b.iter().position(|(x, _)| *x == me).unwrap_or(0) + 1;
            r.kernel.manifest = Some(format!("{label} build-{n}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MockResult, repeats};

    #[test]
    fn one_name_two_builds_is_named_and_split() {
        let mut runs = repeats(3, MockResult::percg);
        runs[0].kernel.cmdline = "console=ttyS0 init=/a/zswap-bench zb.ctl=/tmp/x".into();
        runs[1].kernel.cmdline = "console=ttyS0 init=/b/zswap-bench zb.ctl=/tmp/y".into();
        runs[2].kernel.cmdline = "console=ttyS0 init=/b/zswap-bench zb.ctl=/tmp/z".into();
        // The runner's per-run tokens differ in every run: not a different build.
        assert!(pooled_builds(&runs).is_empty());
        runs[2].kernel.config_sha256 = Some("ffffffffffffffffffff".into());
        let m = pooled_builds(&runs);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("names 2 different builds"), "{}", m[0]);
        assert!(
            m[0].contains("build-1: 2 run(s)") && m[0].contains("build-2: 1 run(s)"),
            "{}",
            m[0]
        );
        assert!(m[0].contains("config ffffffffffff"), "{}", m[0]);
        let label = runs[0].kernel.label().to_string();
        split_by_build(&mut runs);
        let labels: Vec<&str> = runs.iter().map(|r| r.kernel.label()).collect();
        assert_eq!(
            labels,
            [
                format!("{label} build-1"),
                format!("{label} build-1"),
                format!("{label} build-2")
            ]
        );
        assert!(pooled_builds(&runs).is_empty());
    }

    #[test]
    fn other_patches_are_another_build() {
        let mut runs = repeats(2, MockResult::percg);
        if let Some(s) = runs[1].kernel.series.as_mut() {
            s.patches[0].sha256 = "0000000000000000".into();
        } else {
            panic!("the percg mock carries its series");
        }
        assert_eq!(pooled_builds(&runs).len(), 1);
    }
}
