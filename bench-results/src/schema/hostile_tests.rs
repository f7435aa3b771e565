//! Hostile result files (issue 13): each gets an error naming the file, the problem and the
//! fix, never a panic and never a silent merge. Values that parse but no run produces go
//! through `compare`, every rendering and `plot` without a panic.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;
use crate::testing::{MockResult, repeats};

fn valid_text() -> String {
    serde_json::to_string_pretty(&MockResult::percg(0).build()).unwrap()
}

fn write_run(root: &Path, dir: &str, text: &str) -> PathBuf {
    let d = root.join(dir);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(RESULT_FILE), text).unwrap();
    d
}

/// Reads `text` as `root/bad/result.json`; the error as a string, which must name the file.
fn read_err(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = write_run(dir.path(), "bad", text);
    let e = ResultFile::read(&d)
        .expect_err("a hostile file was accepted")
        .to_string();
    assert!(
        e.contains(&d.join(RESULT_FILE).display().to_string()),
        "does not name the file: {e}"
    );
    e
}

fn edit(f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&valid_text()).unwrap();
    f(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn truncated_files_are_refused_as_truncated_with_the_fix() {
    let text = valid_text();
    for cut in [0, 1, text.len() / 3, text.len() / 2, text.len() - 2] {
        let e = read_err(&text[..cut]);
        assert!(e.contains("not a valid result file"), "cut {cut}: {e}");
        if cut > 0 {
            assert!(e.contains("truncated"), "cut {cut}: {e}");
        }
        assert!(e.contains("fix: "), "cut {cut}: {e}");
    }
    let e = read_err("this is not json");
    assert!(e.contains("not JSON") && e.contains("fix: "), "{e}");
}

#[test]
fn wrong_schema_versions_say_which_side_is_newer() {
    let e = read_err(&edit(|v| v["schema_version"] = (SCHEMA_VERSION + 1).into()));
    assert!(
        e.contains("newer") && e.contains("use a newer zswap-bench"),
        "{e}"
    );
    let e = read_err(&edit(|v| v["schema_version"] = 0.into()));
    assert!(e.contains("older") && e.contains("re-run"), "{e}");
    // Not a number at all: a parse error that quotes the line with the field.
    let e = read_err(&edit(|v| v["schema_version"] = "1".into()));
    assert!(e.contains("schema_version") && e.contains("fix: "), "{e}");
    let e = read_err(&edit(|v| {
        v.as_object_mut().unwrap().remove("schema_version");
    }));
    assert!(e.contains("missing field `schema_version`"), "{e}");
}

#[test]
fn missing_required_fields_are_named() {
    for field in [
        "kernel",
        "run_id",
        "duration_ns",
        "scenario",
        "probes",
        "workload",
    ] {
        let e = read_err(&edit(|v| {
            v.as_object_mut().unwrap().remove(field);
        }));
        assert!(
            e.contains(&format!("missing field `{field}`")),
            "{field}: {e}"
        );
        assert!(e.contains("fix: "), "{field}: {e}");
    }
    let e = read_err(&edit(|v| {
        v["kernel"].as_object_mut().unwrap().remove("release");
    }));
    assert!(e.contains("missing field `release`"), "{e}");
}

/// JSON has no NaN: the ways a number goes bad in a file are a string, a null, a negative or
/// fractional value in an unsigned field, and a value too large for any float.
#[test]
fn bad_numbers_are_refused_with_the_field_quoted() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("duration_ns", Box::new(|v| v["duration_ns"] = "NaN".into())),
        ("duration_ns", Box::new(|v| v["duration_ns"] = Value::Null)),
        ("duration_ns", Box::new(|v| v["duration_ns"] = (-30).into())),
        ("duration_ns", Box::new(|v| v["duration_ns"] = 1.5.into())),
        (
            "pages_touched",
            Box::new(|v| v["workload"]["pages_touched"] = (-1).into()),
        ),
        (
            "count",
            Box::new(|v| v["probes"]["shrink_memcg"]["latency"]["count"] = (-7).into()),
        ),
    ];
    for (field, f) in &cases {
        let e = read_err(&edit(f));
        assert!(e.contains(field) && e.contains("fix: "), "{field}: {e}");
    }
    // 1e400 overflows f64: serde_json refuses it rather than reading infinity.
    let text = edit(|v| v["timeseries"][0]["values"]["x"] = 1.0.into())
        .replace("\"x\": 1.0", "\"x\": 1e400");
    let e = read_err(&text);
    assert!(e.contains("out of range") && e.contains("1e400"), "{e}");
    let text = valid_text().replacen("\"duration_ns\": 30000000000", "\"duration_ns\": NaN", 1);
    assert!(read_err(&text).contains("duration_ns"));
}

#[test]
fn values_no_measurement_produces_are_refused_by_validate() {
    let e = read_err(&edit(|v| {
        v["counters"]["psi"] = serde_json::json!({"some_total_us": 1, "full_total_us": 1,
            "some_avg10_end": -5.0, "full_avg10_end": 1e308});
    }));
    assert!(
        e.contains("some_avg10_end = -5") && e.contains("full_avg10_end"),
        "{e}"
    );
    let e = read_err(&edit(|v| v["workload"]["compressibility"] = (-1.0).into()));
    assert!(e.contains("workload.compressibility"), "{e}");
    // Histogram counts that add up past u64 (a panic in debug builds before).
    let e = read_err(&edit(|v| {
        let h = &mut v["probes"]["shrink_memcg"]["latency"];
        h["buckets"] = serde_json::json!([[1, u64::MAX], [2, u64::MAX]]);
        h["count"] = 2.into();
    }));
    assert!(e.contains("past 2^64"), "{e}");
    // A counter delta of i64::MAX: a type-valid number no counter reaches in a run.
    let e = read_err(&edit(|v| {
        v["counters"]["vmstat_delta"]["zswpwb"] = i64::MAX.into();
    }));
    assert!(
        e.contains("counters.vmstat_delta.zswpwb = 9223372036854775807 is beyond ±2^53"),
        "{e}"
    );
    let e = read_err(&edit(|v| v["duration_ns"] = u64::MAX.into()));
    assert!(
        e.contains("duration_ns = 18446744073709551615 is beyond 96 h"),
        "{e}"
    );
}

#[test]
fn duplicate_run_ids_across_files_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let text = valid_text();
    let a = write_run(dir.path(), "a", &text);
    let b = write_run(dir.path(), "copy-of-a", &text);
    let e = ResultFile::read_all(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("run \"fairness-small-budget-ref-percg-lock-r0\""),
        "{e}"
    );
    assert!(
        e.contains(&a.join(RESULT_FILE).display().to_string()),
        "{e}"
    );
    assert!(
        e.contains(&b.join(RESULT_FILE).display().to_string()),
        "{e}"
    );
    assert!(e.contains("fix: keep one copy"), "{e}");
    // One file reached through two paths is one run, not a duplicate.
    fs::remove_dir_all(&b).unwrap();
    let all = ResultFile::read_all(&[a.clone(), a.join(RESULT_FILE), dir.path().into()]).unwrap();
    assert_eq!(all.len(), 1);
    // Another run under the same id (two matrices with the same cell names): both are read,
    // and compare says the id names two runs.
    let mut r = MockResult::percg(1).build();
    r.run_id = all[0].run_id.clone();
    write_run(
        dir.path(),
        "other-matrix",
        &serde_json::to_string(&r).unwrap(),
    );
    let all = ResultFile::read_all(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(all.len(), 2);
    let c = crate::compare(&all, &crate::CompareOptions::default());
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("names 2 different runs")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn one_scenario_name_with_two_texts_is_refused_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let r0 = MockResult::percg(0).build();
    let mut r1 = MockResult::percg(1).build();
    r1.scenario.toml.push_str("# edited\n");
    r1.scenario.sha256 = "ab".repeat(32);
    let a = write_run(dir.path(), "a", &serde_json::to_string(&r0).unwrap());
    let b = write_run(dir.path(), "b", &serde_json::to_string(&r1).unwrap());
    let e = ResultFile::read_all(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("scenario \"fairness-small-budget\" was run with 2 different texts"),
        "{e}"
    );
    assert!(
        e.contains(&a.display().to_string()) && e.contains(&b.display().to_string()),
        "{e}"
    );
    assert!(
        e.contains("abababababab") && e.contains("not merged") && e.contains("fix: "),
        "{e}"
    );
    // Same sha256, other text: a hand-edited file, said so.
    r1.scenario.sha256 = r0.scenario.sha256.clone();
    write_run(dir.path(), "b", &serde_json::to_string(&r1).unwrap());
    let e = ResultFile::read_all(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("a file was edited"), "{e}");
}

/// Every numeric leaf of a valid file (the first time-series sample for the series), set in
/// turn to each extreme: either the reader refuses it, or compare and every rendering run.
#[test]
fn extreme_values_never_panic_compare_or_render() {
    let base: Value = serde_json::from_str(&valid_text()).unwrap();
    let mut leaves = Vec::new();
    numeric_leaves(&base, String::new(), &mut leaves);
    assert!(leaves.len() > 50, "{}", leaves.len());
    let others: Vec<ResultFile> = repeats(2, MockResult::baseline)
        .into_iter()
        .chain(repeats(2, |i| MockResult::percg(i + 1)))
        .collect();
    let extremes: [Value; 6] = [
        u64::MAX.into(),
        0.into(),
        (-1).into(),
        1e308.into(),
        (-1e308).into(),
        5e-324.into(),
    ];
    let (mut accepted, mut refused) = (0, 0);
    for ptr in &leaves {
        for x in &extremes {
            let mut v = base.clone();
            *v.pointer_mut(ptr).unwrap() = x.clone();
            let text = serde_json::to_string(&v).unwrap();
            match ResultFile::parse(&text, Path::new("x/result.json")) {
                Err(e) => {
                    assert!(e.to_string().contains("x/result.json"), "{ptr}={x}: {e}");
                    refused += 1;
                }
                Ok(r) => {
                    accepted += 1;
                    let mut set = others.clone();
                    set.push(r);
                    let outcome = std::panic::catch_unwind(|| render_everything(&set));
                    assert!(outcome.is_ok(), "{ptr} = {x} panics compare or a rendering");
                }
            }
        }
    }
    eprintln!(
        "{} leaves: {accepted} accepted and compared, {refused} refused",
        leaves.len()
    );
}

/// Plots of the most extreme series a file can carry: drawn or refused, no panic.
#[test]
fn extreme_series_never_panic_plot() {
    let out = tempfile::tempdir().unwrap();
    for x in [1e308, -1e308, 0.0, 5e-324] {
        let mut set = repeats(2, MockResult::baseline);
        let mut r = MockResult::percg(0).build();
        for s in &mut r.timeseries {
            s.values.values_mut().for_each(|v| *v = x);
        }
        r.workload.pages_touched = u64::MAX;
        r.duration_ns = 1;
        set.push(r);
        let _ = crate::plot_all(&set, out.path());
    }
}

fn render_everything(set: &[ResultFile]) {
    let c = crate::compare(set, &crate::CompareOptions::default());
    for f in [
        crate::Format::Text,
        crate::Format::Markdown,
        crate::Format::Json,
    ] {
        for full in [false, true] {
            crate::render(&c, f, full);
        }
    }
}

/// JSON pointers of the numbers in `v`, skipping time-series samples after the first.
fn numeric_leaves(v: &Value, ptr: String, out: &mut Vec<String>) {
    match v {
        Value::Number(_) => out.push(ptr),
        Value::Array(a) => {
            let n = if ptr == "/timeseries" { 1 } else { a.len() };
            for (i, x) in a.iter().take(n).enumerate() {
                numeric_leaves(x, format!("{ptr}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                numeric_leaves(x, format!("{ptr}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Regression (found by `extreme_values_never_panic_compare_or_render`): a return-code count
/// of u64::MAX made the sum of returns overflow in `compare` (a panic in debug builds, a
/// wrapped, wrong share in release).
#[test]
fn regression_u64_max_return_count_does_not_overflow_compare() {
    let text = edit(|v| {
        v["proactive_writes"]["per_thread"][0]["returns"]["-EAGAIN"] = u64::MAX.into();
    });
    let r = ResultFile::parse(&text, Path::new("x/result.json")).unwrap();
    let mut set = repeats(2, MockResult::baseline);
    set.push(r);
    render_everything(&set);
    let c = crate::compare(&set, &crate::CompareOptions::default());
    let share = c.scenarios[0]
        .metrics
        .iter()
        .find(|m| m.name == "proactive.eagain_share")
        .and_then(|m| m.cell("ref-percg-lock"))
        .and_then(|c| c.values.first().copied())
        .unwrap();
    assert!((0.99..=1.0).contains(&share), "{share}");
}
