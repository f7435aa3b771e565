//! What a rejected scenario says, and where it points: one `ScenarioError` per problem with
//! file, line, column, field path, message and fix; `ScenarioErrors` to show them all at once;
//! and the helpers that find a field's line and column in the TOML text. `Problems` collects
//! the validation errors so every section is checked before the file is refused.
use std::fmt;
use std::ops::Range;

use crate::toml_error::line_col;

/// One problem in a scenario file, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based.
    pub line: Option<usize>,
    pub col: Option<usize>,
    /// e.g. `proactive[0].budget`.
    pub field: String,
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.col {
                write!(f, ":{c}")?;
            }
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, "\n    fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "scenario rejected ({n} problem{}), nothing was changed on this machine:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl ScenarioError {
    /// The error for a file that does not parse into the model (bad TOML, unknown key, wrong
    /// type): located at the offending span, with the snippet as the field when it is short.
    pub(super) fn from_toml(
        message: &str,
        span: Option<Range<usize>>,
        text: &str,
        file: &str,
    ) -> ScenarioError {
        let (line, col, field) = match span {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                let snippet = text.get(s.clone()).unwrap_or("").trim();
                let field = if snippet.len() <= 40 && !snippet.contains('\n') {
                    snippet.to_string()
                } else {
                    String::new()
                };
                (Some(l), Some(c), field)
            }
            None => (None, None, String::new()),
        };
        let msg = message.trim().to_string();
        let fix = parse_fix(&msg);
        ScenarioError {
            file: file.into(),
            line,
            col,
            field,
            message: msg,
            fix,
        }
    }
}

fn parse_fix(msg: &str) -> String {
    if msg.contains("unknown field") {
        "remove or rename the key: the allowed keys are listed above (scenarios/README.md documents each)".into()
    } else if msg.contains("missing field") {
        "add the field (scenarios/README.md lists required fields)".into()
    } else if msg.contains("unknown variant") {
        "use one of the listed values".into()
    } else if msg.contains("number too large") || msg.contains("invalid value: integer") {
        "use a number within the field's maximum (scenarios/README.md, \"Bounds\"); TOML's integers stop at 9223372036854775807 and counts at 4294967295".into()
    } else if msg.contains("above the maximum") {
        "use a value within the maximum (scenarios/README.md, \"Bounds\")".into()
    } else {
        "see scenarios/README.md for the format".into()
    }
}

/// Sections that hold a list (`[[name]]`, one block per item) and sections that hold one table
/// (`[name]`).
const LIST_SECTIONS: [&str; 4] = ["memcg", "worker", "pressure", "proactive"];
const TABLE_SECTIONS: [&str; 5] = ["phases", "swap", "zswap", "churn", "probes"];

/// Sections written with the wrong brackets, every one of them: serde would only say "invalid
/// type: map, expected a sequence" at 1:1 for the first, naming neither the section nor the fix.
pub(super) fn section_shapes(
    doc: &toml_edit::ImDocument<String>,
    text: &str,
    file: &str,
) -> Vec<ScenarioError> {
    use toml_edit::Item;
    let mut out = vec![];
    for (key, item) in doc.as_table().iter() {
        let (wrong, right) = match item {
            Item::Table(_) if LIST_SECTIONS.contains(&key) => {
                (format!("[{key}]"), format!("[[{key}]]"))
            }
            Item::ArrayOfTables(_) if TABLE_SECTIONS.contains(&key) => {
                (format!("[[{key}]]"), format!("[{key}]"))
            }
            _ => continue,
        };
        let (line, col) = position(Some(doc), text, &[Seg::Key(section_name(key))]);
        let (what, fix) = if right.starts_with("[[") {
            (
                format!("`{key}` is a list of sections, but {wrong} makes it a single table"),
                format!("write {right} (double brackets), one {right} block per {key}"),
            )
        } else {
            (
                format!("`{key}` is one table, but {wrong} makes it a list"),
                format!("write {right} (single brackets), once"),
            )
        };
        out.push(ScenarioError {
            file: file.into(),
            line,
            col,
            field: key.to_string(),
            message: what,
            fix,
        });
    }
    out
}

/// The static name of a known section (field paths hold `&'static str`).
fn section_name(key: &str) -> &'static str {
    LIST_SECTIONS
        .iter()
        .chain(TABLE_SECTIONS.iter())
        .find(|k| **k == key)
        .copied()
        .unwrap_or("")
}

/// A field path segment for locating a value in the TOML text.
#[derive(Debug, Clone)]
pub(super) enum Seg {
    Key(&'static str),
    Idx(usize),
}

pub(super) fn field_name(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Byte span of the value at `path`, else of the closest existing ancestor (e.g. the
/// `[[worker]]` header when the key is missing).
fn locate(doc: &toml_edit::ImDocument<String>, path: &[Seg]) -> Option<Range<usize>> {
    locate_in(doc.as_table(), None, path)
}

fn locate_in(
    t: &dyn toml_edit::TableLike,
    own: Option<Range<usize>>,
    path: &[Seg],
) -> Option<Range<usize>> {
    use toml_edit::{Item, Value};
    let Some((Seg::Key(k), rest)) = path.split_first() else {
        return own;
    };
    let Some((key, item)) = t.get_key_value(k) else {
        return own;
    };
    let here = item.span().or_else(|| key.span()).or(own);
    match (rest.first(), item) {
        (None, _) => here,
        (Some(Seg::Idx(i)), Item::ArrayOfTables(a)) => match a.get(*i) {
            Some(tb) => locate_in(tb, tb.span().or(here.clone()), &rest[1..]),
            None => here,
        },
        (Some(Seg::Idx(i)), Item::Value(Value::Array(a))) => {
            a.get(*i).and_then(|v| v.span()).or(here)
        }
        (Some(Seg::Key(_)), _) => match item.as_table_like() {
            Some(tb) => locate_in(tb, here, rest),
            None => here,
        },
        _ => here,
    }
}

/// Line and column (1-based) of the value at `path` in `text`, when the document parsed.
pub(super) fn position(
    doc: Option<&toml_edit::ImDocument<String>>,
    text: &str,
    path: &[Seg],
) -> (Option<usize>, Option<usize>) {
    match doc.and_then(|d| locate(d, path)) {
        Some(s) => {
            let (l, c) = line_col(text, s.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    }
}

/// The problems found so far in one file; validation pushes to it and does not stop at the
/// first.
pub(super) struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    /// The document the scenario was deserialized from (parsed once, see `parse`).
    doc: &'a toml_edit::ImDocument<String>,
    out: Vec<ScenarioError>,
}

impl<'a> Problems<'a> {
    pub(super) fn new(
        file: &'a str,
        text: &'a str,
        doc: &'a toml_edit::ImDocument<String>,
    ) -> Problems<'a> {
        Problems {
            file,
            text,
            doc,
            out: Vec::new(),
        }
    }

    /// Line and column of the value at `path` (or of its closest ancestor).
    pub(super) fn position(&self, path: &[Seg]) -> (Option<usize>, Option<usize>) {
        position(Some(self.doc), self.text, path)
    }

    pub(super) fn push(
        &mut self,
        path: &[Seg],
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let (line, col) = self.position(path);
        self.out.push(ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            field: field_name(path),
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// `value` when nothing was pushed, else every problem.
    pub(super) fn finish<T>(self, value: T) -> Result<T, ScenarioErrors> {
        if self.out.is_empty() {
            Ok(value)
        } else {
            Err(ScenarioErrors(self.out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{BASE, errs};
    use super::ScenarioErrors;

    #[test]
    fn sections_with_the_wrong_brackets_are_named_with_the_fix_all_at_once() {
        let text = "[memcg]\nname = \"a\"\n\n[[phases]]\nmeasure = \"5s\"\n\n[worker]\nmemcg = \"a\"\nsize = \"1M\"\n";
        let e = errs(text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!((e[0].field.as_str(), e[0].line), ("memcg", Some(1)));
        assert!(e[0].fix.contains("[[memcg]]"), "{}", e[0].fix);
        assert_eq!((e[1].field.as_str(), e[1].line), ("phases", Some(4)));
        assert!(e[1].fix.contains("[phases]") && e[1].fix.contains("single"));
        assert_eq!((e[2].field.as_str(), e[2].line), ("worker", Some(7)));
    }

    #[test]
    fn typos_in_several_blocks_are_all_reported_with_their_lines() {
        let text = "[phases]\nmeasure = \"5s\"\n[[memcg]]\nname = \"p\"\nmemroy_max = \"1M\"\n[[worker]]\nmemcg = \"p\"\nsise = \"1M\"\n[zswap]\nenabeld = true\n";
        let e = errs(text);
        let at: Vec<(Option<usize>, &str)> = e.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(5), "memroy_max"),
                (Some(8), "sise"),
                (Some(10), "enabeld")
            ],
            "{e:?}"
        );
    }

    #[test]
    fn several_errors_reported_together() {
        let text = BASE.replace("size = \"32M\"", "size = 0\nthreads = 0");
        let e = errs(&text);
        assert_eq!(e.len(), 2);
        let shown = ScenarioErrors(e).to_string();
        assert!(shown.contains("2 problems"), "{shown}");
        assert!(shown.contains("nothing was changed"), "{shown}");
    }
}
