//! The small scenario the unit tests vary (a limited parent with a template of four children,
//! one worker each), and helpers that expect it to be refused.
use super::errors::ScenarioError;
use super::parse;

pub(super) const BASE: &str = r#"
name = "t"
[phases]
measure = "10s"
[swap]
size = "512M"
[[memcg]]
name = "parent"
memory_max = "256M"
[[memcg]]
name = "parent/child"
count = 4
[[worker]]
memcg = "parent/child"
size = "32M"
"#;

pub(super) fn errs(text: &str) -> Vec<ScenarioError> {
    match parse(text, "t.toml", "t") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.0,
    }
}

pub(super) fn one_err(text: &str) -> ScenarioError {
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}
