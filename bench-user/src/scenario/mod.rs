//! Scenario files (`scenarios/<name>.toml`): the serde model, expansion of memcg templates into
//! concrete cgroup paths, and validation with line/field-precise errors that name the fix.
//!
//! Everything here is pure: a scenario is parsed and validated (including the memory-fit check
//! against numbers read from the machine) before the runner changes anything. The file format is
//! documented in `scenarios/README.md`.
//!
//! The rooms: `values` (sizes, limits, durations as users write them), `spec` (the serde model
//! of the file), `errors` (what a rejection says and where it points), `validate` (one check per
//! section, expanding templates and applying defaults as it goes), `plan` (`Plan`, the validated
//! scenario with its concrete tree and values, which the runner follows) and `fit` (does it fit on this machine). This file finds, reads and parses a
//! scenario and re-exports what the rest of the crate uses.
use std::path::{Path, PathBuf};

mod bounds;
mod errors;
mod fit;
mod plan;
mod spec;
mod validate;
mod values;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;

// What the rest of the crate names; the other types are reached through `Plan`'s fields.
pub use errors::{ScenarioError, ScenarioErrors};
pub use fit::{MachineMemory, check_fit};
pub use plan::{
    Burst, IdleAction, MemcgNode, Plan, PressureAction, ProactiveThread, Swap, is_under,
};
use spec::Scenario;
pub use spec::{Pattern, SwapChoice};
pub use values::{Limit, PAGE};

/// Finds a scenario by path or by name (`scenarios/<name>.toml` under the repository root).
/// Runs a `[burst]` scenario with another idle action (`--idle-action`, a matrix sweep's
/// `idle_actions`); the result's `scenario.params` says which.
pub fn set_idle_action(plan: &mut Plan, a: IdleAction) -> anyhow::Result<()> {
    let Some(b) = plan.burst.as_mut() else {
        anyhow::bail!(
            "scenario {:?} has no [burst] section, so it has no idle action to set; fix: drop --idle-action (or idle_actions in the matrix sweep), or add a [burst] to the scenario",
            plan.name
        );
    };
    b.action = a;
    plan.params.insert("idle_action".into(), a.as_str().into());
    Ok(())
}

pub fn resolve_path(arg: &str) -> Result<PathBuf, String> {
    let p = Path::new(arg);
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    let dir = crate::paths::repo_root().join("scenarios");
    let by_name = dir.join(format!("{arg}.toml"));
    if by_name.is_file() {
        return Ok(by_name);
    }
    let mut known: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    if p.extension()? != "toml" {
                        return None;
                    }
                    Some(p.file_stem()?.to_string_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    Err(format!(
        "no scenario {arg:?}: not a file, and no {} (known scenarios: {})",
        by_name.display(),
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    ))
}

pub fn load(path: &Path) -> Result<Plan, ScenarioErrors> {
    let text =
        bench_results::input::read_text(path, bench_results::input::limit::TEXT).map_err(|e| {
            // The reader's own errors (not a regular file, too big, not UTF-8) carry their fix.
            let (message, fix) = match e.kind() {
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                    let t = e.to_string();
                    match t.split_once("; fix: ") {
                        Some((m, f)) => (m.to_string(), f.to_string()),
                        None => (t, String::new()),
                    }
                }
                _ => (
                    format!("cannot read: {e}"),
                    "check the path (scenarios live in scenarios/<name>.toml)".into(),
                ),
            };
            ScenarioErrors(vec![ScenarioError {
                file: path.display().to_string(),
                line: None,
                col: None,
                field: String::new(),
                message,
                fix,
            }])
        })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut l = parse(&text, &path.display().to_string(), &stem)?;
    l.path = Some(path.to_path_buf());
    Ok(l)
}

/// The model from the document, or every problem serde finds: after each error the block that
/// holds it (its `[section]` or `[[section]]` up to the next header) is blanked out, keeping every
/// byte offset, and the rest is tried again, so two typos in two blocks are both reported.
fn deserialize(
    doc: &toml_edit::ImDocument<String>,
    text: &str,
    file: &str,
) -> Result<Scenario, ScenarioErrors> {
    let first = match toml_edit::de::from_document::<Scenario>(doc.clone()) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let mut errs = vec![ScenarioError::from_toml(
        first.message(),
        first.span(),
        text,
        file,
    )];
    let mut work = text.to_string();
    let mut at = first.span();
    // Bounded: each round blanks at least one more line.
    for _ in 0..32 {
        let Some(span) = at else { break };
        if !blank_block(&mut work, span.start) {
            break;
        }
        let Ok(d) = toml_edit::ImDocument::parse(work.clone()) else {
            break;
        };
        match toml_edit::de::from_document::<Scenario>(d) {
            Ok(_) => break,
            // A required section that was blanked out is missing now, not in the file.
            Err(e) if e.message().starts_with("missing field") => break,
            Err(e) => {
                errs.push(ScenarioError::from_toml(e.message(), e.span(), text, file));
                at = e.span();
            }
        }
    }
    Err(ScenarioErrors(errs))
}

/// Replaces the block around byte `at` with spaces (newlines kept). False when the block was
/// already blank, so the caller stops instead of finding the same error again.
fn blank_block(text: &mut String, at: usize) -> bool {
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |off, l| {
            let start = *off;
            *off += l.len();
            Some((start, l))
        })
        .collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let Some(i) = lines.iter().rposition(|(start, _)| *start <= at) else {
        return false;
    };
    let first = (0..=i).rev().find(|&k| is_header(lines[k].1));
    let (from, to) = match first {
        Some(h) => {
            let end = (h + 1..lines.len())
                .find(|&k| is_header(lines[k].1))
                .unwrap_or(lines.len());
            (lines[h].0, lines.get(end).map_or(text.len(), |l| l.0))
        }
        // Before any header: only the offending line.
        None => (lines[i].0, lines[i].0 + lines[i].1.len()),
    };
    let blanked: String = text[from..to]
        .bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    if blanked == text[from..to] {
        return false;
    }
    text.replace_range(from..to, &blanked);
    true
}

/// Parses and validates `text`. `file` names it in errors; `default_name` is used when the file
/// has no `name`.
pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Plan, ScenarioErrors> {
    // Parsed once: the document gives both the model (serde) and the spans errors point at.
    let one = |message: &str, span| {
        ScenarioErrors(vec![ScenarioError::from_toml(message, span, text, file)])
    };
    let doc =
        toml_edit::ImDocument::parse(text.to_string()).map_err(|e| one(e.message(), e.span()))?;
    let shape = errors::section_shapes(&doc, text, file);
    if !shape.is_empty() {
        return Err(ScenarioErrors(shape));
    }
    let scenario = deserialize(&doc, text, file)?;
    let mut p = errors::Problems::new(file, text, &doc);
    if !bounds::check(&scenario, &mut p) {
        // Nothing is expanded from a number above its bound (it could allocate gigabytes).
        return Err(p.finish(()).unwrap_err());
    }
    let plan = validate::validate(scenario, text, default_name, &mut p);
    p.finish(plan)
}
