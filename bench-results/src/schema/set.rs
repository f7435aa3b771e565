//! Checks across the result files of one `compare` or `plot`. Each file can be valid alone and
//! the set still be wrong: the same run twice (a copied directory) would count one repeat two
//! times, and one scenario name with two texts would pool runs of different experiments under
//! one heading. Both are refused with the files named, never merged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ResultFile, SchemaError};

/// At most this many paths per problem; the rest are counted.
const SHOWN: usize = 3;

/// Every cross-file problem of `files` at once, or `Ok`.
pub(super) fn check_set(files: &[(PathBuf, ResultFile)]) -> Result<(), SchemaError> {
    let mut problems = duplicate_run_ids(files);
    problems.extend(mixed_scenarios(files));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Conflict(problems.join("\n")))
    }
}

/// The same run (run id and start time) in several files: a copy. Runs that only share an id
/// (two matrices with the same cell names) are different runs; `compare` says so in a warning.
fn duplicate_run_ids(files: &[(PathBuf, ResultFile)]) -> Vec<String> {
    let mut by_run: BTreeMap<(&str, u64), Vec<&Path>> = BTreeMap::new();
    for (p, r) in files {
        by_run
            .entry((&r.run_id, r.started_unix_ns))
            .or_default()
            .push(p);
    }
    by_run
        .into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .map(|((id, _), paths)| {
            format!(
                "run {id:?} (same run_id and start time) is in {} files: {}; one run would \
                 count as several repeats. fix: keep one copy of it (a results directory was \
                 copied, or passed twice)",
                paths.len(),
                list(&paths)
            )
        })
        .collect()
}

fn mixed_scenarios(files: &[(PathBuf, ResultFile)]) -> Vec<String> {
    // name -> distinct (sha256, text) -> files, in order of first appearance.
    type Texts<'a> = Vec<((&'a str, &'a str), Vec<&'a Path>)>;
    let mut by_name: BTreeMap<&str, Texts> = BTreeMap::new();
    for (p, r) in files {
        let key = (r.scenario.sha256.as_str(), r.scenario.toml.as_str());
        let texts = by_name.entry(&r.scenario.name).or_default();
        match texts.iter_mut().find(|t| t.0 == key) {
            Some(t) => t.1.push(p),
            None => texts.push((key, vec![p])),
        }
    }
    by_name
        .into_iter()
        .filter(|(_, texts)| texts.len() > 1)
        .map(|(name, texts)| {
            let variants: Vec<String> = texts
                .iter()
                .map(|((sha, _), paths)| {
                    let same_sha = texts.iter().filter(|t| t.0.0 == *sha).count() > 1;
                    format!(
                        "sha256 {}{} in {}",
                        short(sha),
                        if same_sha {
                            " (same sha256, other text: a file was edited)"
                        } else {
                            ""
                        },
                        list(paths)
                    )
                })
                .collect();
            format!(
                "scenario {name:?} was run with {} different texts: {}; their runs are not one \
                 experiment and are not merged. fix: pass the runs of one text only, or give the \
                 edited scenario its own name",
                texts.len(),
                variants.join("; ")
            )
        })
        .collect()
}

fn list(paths: &[&Path]) -> String {
    let mut s: Vec<String> = paths
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > SHOWN {
        s.push(format!("and {} more", paths.len() - SHOWN));
    }
    s.join(", ")
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
