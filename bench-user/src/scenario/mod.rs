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
pub use plan::{MemcgNode, Plan, PressureAction, Swap, is_under};
use spec::Scenario;
pub use spec::{Pattern, SwapChoice};
pub use values::{Limit, PAGE};

/// Finds a scenario by path or by name (`scenarios/<name>.toml` under the repository root).
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors(vec![ScenarioError {
            file: path.display().to_string(),
            line: None,
            col: None,
            field: String::new(),
            message: format!("cannot read: {e}"),
            fix: "check the path (scenarios live in scenarios/<name>.toml)".into(),
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
    let scenario: Scenario =
        toml_edit::de::from_document(doc.clone()).map_err(|e| one(e.message(), e.span()))?;
    let mut p = errors::Problems::new(file, text, &doc);
    let plan = validate::validate(scenario, text, default_name, &mut p);
    p.finish(plan)
}
