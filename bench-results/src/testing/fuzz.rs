//! What every fuzzer of the project shares: the time-budgeted loop, text edits of shipped
//! files with TOML tokens, and the boundary values each numeric field is tried with.

/// The fuzzers' shared loop (result reader, kernel manifests, scenarios): the budget is
/// `ZSWAP_BENCH_FUZZ_SECS` per test (default 5 s; scripts/test sets 60), and the count of cases
/// is printed so a log shows how much was tried.
/// Runs `check` on values of `strategy` until the budget is spent; a panic fails the test with
/// proptest's shrunk input in the message.
pub fn fuzz_for_budget<S: proptest::strategy::Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value),
) {
    let secs: u64 = std::env::var("ZSWAP_BENCH_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let cases = std::cell::Cell::new(0u64);
    while std::time::Instant::now() < deadline {
        // A runner per batch: one runner stops after `cases` in total. Each gets a fresh seed
        // (every test run explores anew); no persistence file, a crasher is kept as a named
        // test instead.
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        });
        let result = runner.run(&strategy, |v| {
            check(v);
            cases.set(cases.get() + 1);
            Ok(())
        });
        if let Err(e) = result {
            panic!(
                "{name}: fuzzing found a crasher after {} cases: {e}",
                cases.get()
            );
        }
    }
    let cases = cases.get();
    eprintln!("{name}: {cases} cases in {secs} s, no panic");
}

/// One edit of a text file: delete bytes, insert a token, drop or repeat a line, each at a
/// relative position (0..1) so one edit list fits any file.
#[derive(Debug, Clone)]
pub enum TextEdit {
    Delete(f64, usize),
    Insert(f64, usize),
    DropLine(f64),
    RepeatLine(f64),
}

/// `text` with `edits` applied in order; inserts take their token from `tokens`.
pub fn apply_edits(text: &str, edits: &[TextEdit], tokens: &[&str]) -> String {
    let mut b = text.as_bytes().to_vec();
    let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
    for e in edits {
        match *e {
            TextEdit::Delete(p, n) => {
                let i = at(p, b.len());
                b.drain(i..(i + n).min(b.len()));
            }
            TextEdit::Insert(p, t) => {
                let i = at(p, b.len());
                b.splice(i..i, tokens[t].bytes());
            }
            TextEdit::DropLine(p) | TextEdit::RepeatLine(p) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let i = at(p, lines.len() - 1);
                if matches!(e, TextEdit::DropLine(_)) {
                    lines.remove(i);
                } else {
                    lines.insert(i, lines[i]);
                }
                b = (lines.join("\n") + "\n").into_bytes();
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// 1 to 5 edits, inserting tokens numbered below `tokens`.
pub fn text_edits(
    tokens: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<TextEdit>> + Clone {
    use proptest::prelude::*;
    let edit = prop_oneof![
        (0.0..1.0f64, 1..32usize).prop_map(|(p, n)| TextEdit::Delete(p, n)),
        (0.0..1.0f64, 0..tokens).prop_map(|(p, t)| TextEdit::Insert(p, t)),
        (0.0..1.0f64).prop_map(TextEdit::DropLine),
        (0.0..1.0f64).prop_map(TextEdit::RepeatLine),
    ];
    proptest::collection::vec(edit, 1..6)
}

/// TOML syntax and edge values every text fuzzer inserts, followed by a file kind's own `keys`.
pub fn toml_tokens(keys: &[&'static str]) -> Vec<&'static str> {
    const SYNTAX: &[&str] = &[
        "\"", "'", "[", "]", "[[", "]]", "=", ",", "\n", "#", "{", "}", "true", "\"\"", "\"..\"",
        "\"/\"",
    ];
    SYNTAX
        .iter()
        .chain(BOUNDARY_VALUES)
        .chain(keys)
        .copied()
        .collect()
}

/// Boundary values as TOML: 0, 1, 2^32-1 and 2^32, i64/u64 maxima, the largest sizes and
/// durations a scenario takes and the first ones above, the largest `Duration` and beyond, and
/// the floats that are no number.
pub const BOUNDARY_VALUES: &[&str] = &[
    "-1",
    "0",
    "1",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "1e308",
    "nan",
    "inf",
    "\"0\"",
    "\"1T\"",
    "\"1025G\"",
    "\"24h\"",
    "\"86401s\"",
    "\"10000000000000000000s\"",
    "\"18446744073709551615s\"",
    "\"18446744073709551616s\"",
];
