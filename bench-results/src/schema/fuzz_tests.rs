//! Fuzzing the result reader for a wall-clock budget (issue 13): arbitrary bytes, and arbitrary
//! mutations of a valid result file (byte edits with JSON tokens, and values swapped into its
//! fields), go through [`ResultFile::parse`]; what parses goes on through `compare` and every
//! rendering. Nothing may panic. The budget is `ZSWAP_BENCH_FUZZ_SECS` per test (default 5 s,
//! scripts/test sets 60); each test prints how many cases it ran. A crasher found here becomes
//! a named test in `hostile_tests.rs` with its input inline.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::testing::{MockResult, fuzz_for_budget as fuzz, repeats};

fn valid() -> String {
    serde_json::to_string_pretty(&MockResult::percg(0).build()).unwrap()
}

/// Parse; if it parses, compare it against other runs and render every format.
fn check_text(text: &str, others: &[ResultFile]) {
    if let Ok(r) = ResultFile::parse(text, Path::new("fuzz/result.json")) {
        let mut set = others.to_vec();
        set.push(r);
        let c = crate::compare(&set, &crate::CompareOptions::default());
        for f in [
            crate::Format::Text,
            crate::Format::Markdown,
            crate::Format::Json,
        ] {
            crate::render(&c, f, true);
            crate::render(&c, f, false);
        }
    }
}

fn others() -> Vec<ResultFile> {
    let mut v = repeats(2, MockResult::baseline);
    v.extend(repeats(2, |i| MockResult::percg(i + 1)));
    v
}

#[test]
fn fuzz_reader_with_arbitrary_bytes() {
    let others = others();
    fuzz(
        "arbitrary bytes",
        proptest::collection::vec(any::<u8>(), 0..2048),
        |b| check_text(&String::from_utf8_lossy(&b), &others),
    );
}

const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "0",
    "-0",
    "1.5",
    "1e308",
    "-1e308",
    "1e400",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "\"x\"",
    "NaN",
    "\\u0000",
    "\\ud800",
    "{}",
    "[]",
];

/// Byte-level edits of the valid text: at a position (a fraction of the length), delete a
/// span, insert a token, or cut the file there.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, usize),
    Truncate(f64),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, 1..64usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..1.0f64, 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (0.0..1.0f64).prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
        match *e {
            Edit::Delete(p, n) => {
                let i = at(p, b.len());
                b.drain(i..(i + n).min(b.len()));
            }
            Edit::Insert(p, t) => {
                let i = at(p, b.len());
                b.splice(i..i, TOKENS[t].bytes());
            }
            Edit::Truncate(p) => b.truncate(at(p, b.len())),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn fuzz_reader_with_byte_edits_of_a_valid_file() {
    let (text, others) = (valid(), others());
    fuzz(
        "byte edits of a valid result",
        proptest::collection::vec(edit_strategy(), 1..6),
        |edits| check_text(&apply(&text, &edits), &others),
    );
}

/// Any JSON value, small: what a hand-edited or damaged field may hold.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![Just(u64::MAX), Just(0u64), Just(1u64 << 53)].prop_map(Value::from),
        "[a-z_/-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path (JSON pointer) in `v`: objects, arrays and leaves; time series after the first
/// sample left out so the choice is not dominated by them.
fn pointers(v: &Value, ptr: String, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => {
            let n = if ptr == "/timeseries" { 1 } else { a.len() };
            for (i, x) in a.iter().take(n).enumerate() {
                pointers(x, format!("{ptr}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, format!("{ptr}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(ptr);
}

#[test]
fn fuzz_reader_with_field_values_swapped() {
    let base: Value = serde_json::from_str(&valid()).unwrap();
    let mut ptrs = Vec::new();
    pointers(&base, String::new(), &mut ptrs);
    ptrs.retain(|p| !p.is_empty());
    let others = others();
    // (which field, new value, or remove it) up to 4 times.
    let change = (0..ptrs.len(), json_value(), any::<bool>());
    fuzz(
        "field values swapped in a valid result",
        proptest::collection::vec(change, 1..5),
        |changes| {
            let mut v = base.clone();
            for (i, x, remove) in changes {
                let ptr = &ptrs[i];
                let (parent, key) = ptr.rsplit_once('/').unwrap();
                if remove {
                    if let Some(Value::Object(m)) = v.pointer_mut(parent) {
                        m.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                } else if let Some(slot) = v.pointer_mut(ptr) {
                    *slot = x;
                }
            }
            check_text(&serde_json::to_string_pretty(&v).unwrap(), &others);
        },
    );
}
