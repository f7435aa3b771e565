use std::fs;
use std::path::Path;

use super::*;
use crate::testing::MockResult;

#[test]
fn buckets_cover_u64_contiguously() {
    assert_eq!(bucket_bounds(0), (0, 0));
    for i in 0..BUCKETS - 1 {
        let (lo, hi) = bucket_bounds(i);
        assert!(lo <= hi, "bucket {i}");
        assert_eq!(hi + 1, bucket_bounds(i + 1).0, "gap after bucket {i}");
        assert_eq!(bucket_index(lo), i);
        assert_eq!(bucket_index(hi), i);
    }
    assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    assert_eq!(bucket_bounds(BUCKETS - 1).1, u64::MAX);
    // Known table the eBPF mirror must reproduce.
    let table = [
        (0, 0),
        (3, 3),
        (4, 4),
        (7, 7),
        (8, 8),
        (9, 8),
        (10, 9),
        (15, 11),
        (16, 12),
    ];
    for (v, i) in table {
        assert_eq!(bucket_index(v), i, "value {v}");
    }
    assert_eq!(bucket_index(1 << 20), 4 * 19);
    assert_eq!(bucket_index((1 << 20) + (3 << 18)), 4 * 19 + 3);
    // Relative width at most 25 % above the exact region.
    for i in 4..BUCKETS {
        let (lo, hi) = bucket_bounds(i);
        assert!(
            (hi - lo + 1) as f64 / lo as f64 <= 0.25 + 1e-12,
            "bucket {i}"
        );
    }
}

/// The bucket function (the one the eBPF programs run) against indices worked out by hand
/// from the scheme's definition, not from the function itself: values 0..=3 are their own
/// bucket, and each power of two 2^k (k >= 2) starts bucket 4(k-1) and is cut in quarters.
#[test]
fn same_buckets_as_the_ebpf_side() {
    use bench_common::hist::bucket_index as ebpf_index;
    let by_hand: [(u64, u32); 20] = [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 5),
        (7, 7),
        (8, 8),
        (9, 8),
        (10, 9),
        (11, 9),
        (12, 10),
        (13, 10),
        (14, 11),
        (15, 11),
        (16, 12),
        (19, 12),
        (20, 13),
        (1000, 35), // 2^9 = 512 starts bucket 32; quarters of 128: 896..1024 is the 4th
        (u64::MAX, 251),
    ];
    for (v, i) in by_hand {
        assert_eq!(ebpf_index(v), i, "value {v}");
    }
    for k in 3..64u32 {
        let p = 1u64 << k;
        let q = p >> 2;
        let first = 4 * (k - 1);
        assert_eq!(ebpf_index(p), first, "2^{k}");
        assert_eq!(ebpf_index(p - 1), first - 1, "2^{k} - 1");
        assert_eq!(
            ebpf_index(p + q - 1),
            first,
            "last value of the first quarter of 2^{k}"
        );
        assert_eq!(ebpf_index(p + q), first + 1, "2^{k} + 2^{}", k - 2);
        assert_eq!(ebpf_index(p + 3 * q), first + 3, "last quarter of 2^{k}");
    }
    // Bounds worked out by hand (inclusive, as the reader reports them).
    assert_eq!(bucket_bounds(4), (4, 4));
    assert_eq!(bucket_bounds(8), (8, 9));
    assert_eq!(bucket_bounds(11), (14, 15));
    assert_eq!(bucket_bounds(12), (16, 19));
    assert_eq!(bucket_bounds(35), (896, 1023));
    assert_eq!(bucket_bounds(BUCKETS - 1), (7 << 61, u64::MAX));
    // The reader's bounds invert the eBPF-side function for every bucket: both ends map back
    // to the bucket, and one step outside lands in the neighbour.
    for i in 0..BUCKETS {
        let (lo, hi) = bucket_bounds(i);
        assert!(lo <= hi, "bucket {i}");
        assert_eq!(ebpf_index(lo) as usize, i, "lower bound of bucket {i}");
        assert_eq!(ebpf_index(hi) as usize, i, "upper bound of bucket {i}");
        if i > 0 {
            assert_eq!(ebpf_index(lo - 1) as usize, i - 1, "below bucket {i}");
        }
        if i < BUCKETS - 1 {
            assert_eq!(ebpf_index(hi + 1) as usize, i + 1, "above bucket {i}");
        }
    }
}

#[test]
fn histogram_quantiles_and_mean() {
    let h = Histogram::from_values(Unit::Ns, 1..=10_000u64);
    assert_eq!((h.count, h.min, h.max), (10_000, 1, 10_000));
    assert_eq!(h.sum, 10_000 * 10_001 / 2);
    assert_eq!(h.mean(), Some(5_000.5));
    let p50 = h.quantile(0.5).unwrap();
    let p99 = h.quantile(0.99).unwrap();
    assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.02, "p50 {p50}");
    assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.02, "p99 {p99}");
    assert_eq!(h.quantile(0.0), Some(1.0));
    assert_eq!(h.quantile(1.0), Some(10_000.0));
    assert_eq!(Histogram::empty(Unit::Ns).quantile(0.5), None);
    // A single repeated value: every quantile is that value.
    let one = Histogram::from_values(Unit::Bytes, [4096; 10]);
    assert_eq!(one.quantile(0.5), Some(4096.0));
    let cdf = h.cdf();
    assert_eq!(cdf.last().unwrap().1, 1.0);
    assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
}

#[test]
fn merge_equals_recording_everything() {
    let a: Vec<u64> = (0..500).map(|i| i * 37 % 1000 + 5).collect();
    let b: Vec<u64> = (0..300).map(|i| i * 91 % 50_000).collect();
    let mut h = Histogram::from_values(Unit::Ns, a.iter().copied());
    h.merge(&Histogram::from_values(Unit::Ns, b.iter().copied()))
        .unwrap();
    let all = Histogram::from_values(Unit::Ns, a.into_iter().chain(b));
    assert_eq!(h, all);
    let err = h
        .merge(&Histogram::from_values(Unit::Bytes, [1]))
        .unwrap_err();
    assert!(err.to_string().contains("cannot merge"));
    // Merging into an empty histogram takes the other's min.
    let mut e = Histogram::empty(Unit::Ns);
    e.merge(&Histogram::from_values(Unit::Ns, [70, 90]))
        .unwrap();
    assert_eq!((e.min, e.max, e.count), (70, 90, 2));
}

#[test]
fn record_counts_each_value_once_in_its_bucket() {
    let mut h = Histogram::empty(Unit::Ns);
    // 0..=3 have buckets of their own; [8, 9] is bucket 8 (2^3 split in 4); 1000 is in
    // bucket 35, [896, 1023] (2^9 split in 4).
    for v in [9, 1000, 0, 8, 3, 1000, 1000] {
        h.record(v);
    }
    assert_eq!(bucket_bounds(8), (8, 9));
    assert_eq!(bucket_bounds(35), (896, 1023));
    assert_eq!(h.buckets, vec![(0, 1), (3, 1), (8, 2), (35, 3)]);
    assert_eq!((h.count, h.min, h.max, h.sum), (7, 0, 1000, 3020));
    h.check("record").unwrap();
    // The same as building from all the values at once.
    assert_eq!(
        h,
        Histogram::from_values(Unit::Ns, [0, 3, 8, 9, 1000, 1000, 1000])
    );
    // The first value sets min, however large.
    let mut one = Histogram::empty(Unit::Ns);
    one.record(70_000);
    assert_eq!((one.count, one.min, one.max), (1, 70_000, 70_000));
}

#[test]
fn errno_keys() {
    assert_eq!(ret::key(0), "0");
    assert_eq!(ret::key(4096), ">0");
    assert_eq!(ret::key(-11), "-EAGAIN");
    assert_eq!(ret::key(-4), "-EINTR");
    assert_eq!(ret::key(-22), "-EINVAL");
    assert_eq!(ret::key(-99), "-99");
    assert_eq!(ret::key(-16), "-EBUSY");
    assert_eq!(ret::key(-12), "-ENOMEM");
    assert_eq!(ret::key(i64::MIN), i64::MIN.to_string());
    assert_eq!(
        ts_key::split("memcg:/zswap-bench/p/c1:zswpwb"),
        Some(("memcg", "/zswap-bench/p/c1", "zswpwb"))
    );
    assert_eq!(
        ts_key::split("workload:pages_touched"),
        Some(("workload", "", "pages_touched"))
    );
}

#[test]
fn round_trip_is_lossless_and_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let r = MockResult::percg(0).build();
    let path = r.write_atomic(dir.path()).unwrap();
    assert_eq!(path, dir.path().join(RESULT_FILE));
    let back = ResultFile::read(dir.path()).unwrap();
    assert_eq!(back, r);
    // Reading the file path directly works too, and no temp file is left behind.
    assert_eq!(ResultFile::read(&path).unwrap(), r);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![RESULT_FILE.to_string()]);
    // Stored form: integers for durations, lowercase enum strings.
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"schema_version\": 1"));
    assert!(text.contains("\"duration_ns\": 30000000000"));
    assert!(text.contains("\"mechanism\": \"tp_btf\""));
    assert!(text.contains("\"kind\": \"per_memcg\""));
    assert!(text.contains("\"interface\": \"v5 source=zswap\""));
    assert!(text.contains("\"scheme\": \"log2x4\""));
}

#[test]
fn unavailable_families_stay_null() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = MockResult::baseline(0);
    m.probes = false;
    let r = m.build();
    r.write_atomic(dir.path()).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join(RESULT_FILE)).unwrap()).unwrap();
    assert!(v["probes"]["locks"].is_null());
    assert!(v["probes"]["writeback"].is_null());
    assert_eq!(ResultFile::read(dir.path()).unwrap().probes.locks, None);
}

fn write_with_version(dir: &Path, version: u32, strip: bool) {
    let mut v = serde_json::to_value(MockResult::baseline(0).build()).unwrap();
    v["schema_version"] = version.into();
    if strip {
        // A future layout: fields renamed away. The version error must win over serde's.
        v.as_object_mut().unwrap().remove("kernel");
    }
    fs::write(dir.join(RESULT_FILE), serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn other_versions_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_with_version(dir.path(), 2, true);
    let e = ResultFile::read(dir.path()).unwrap_err();
    assert!(
        matches!(
            e,
            SchemaError::TooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("newer"), "{e}");
    assert!(e.to_string().contains("result.json"), "{e}");
    write_with_version(dir.path(), 0, false);
    let e = ResultFile::read(dir.path()).unwrap_err();
    assert!(matches!(e, SchemaError::TooOld { found: 0, .. }), "{e}");
    assert!(e.to_string().contains("older"), "{e}");
    // Garbage is a parse error naming the file; a missing file an IO error.
    fs::write(dir.path().join(RESULT_FILE), "{").unwrap();
    let e = ResultFile::read(dir.path()).unwrap_err();
    assert!(matches!(e, SchemaError::Parse { .. }), "{e}");
    let e = ResultFile::read(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(e, SchemaError::Io { .. }), "{e}");
}

#[test]
fn validate_catches_inconsistent_histograms() {
    let mut r = MockResult::percg(0).build();
    r.validate().unwrap();
    r.probes.shrink_memcg.as_mut().unwrap().latency.count += 1;
    let e = r.validate().unwrap_err().to_string();
    assert!(e.contains("probes.shrink_memcg.latency"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    assert!(
        r.write_atomic(dir.path()).is_err(),
        "invalid results are not written"
    );
    let mut r = MockResult::percg(0).build();
    r.timeseries.swap(0, 3);
    assert!(r.validate().unwrap_err().to_string().contains("time order"));
}

/// A damaged time stamp (near u64::MAX, still in order) is refused when the file is read, so
/// nothing is allocated per second up to it (it made `plot` ask for 8 GiB).
#[test]
fn a_timeseries_beyond_any_run_is_refused_on_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = MockResult::percg(0).build();
    r.timeseries.last_mut().unwrap().t_ns = u64::MAX - 1;
    let e = r.validate().unwrap_err().to_string();
    assert!(e.contains("beyond 96 h of run time"), "{e}");
    let mut text = serde_json::to_string(&MockResult::percg(0).build()).unwrap();
    let t = r.timeseries[r.timeseries.len() - 2].t_ns;
    text = text.replacen(
        &format!("\"t_ns\":{t}"),
        &format!("\"t_ns\":{}", u64::MAX - 1),
        1,
    );
    let d = dir.path().join("r");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join(crate::schema::RESULT_FILE), text).unwrap();
    let t0 = std::time::Instant::now();
    assert!(ResultFile::read(&d.join(crate::schema::RESULT_FILE)).is_err());
    assert!(t0.elapsed().as_secs() < 1);
}

#[test]
fn csv_has_one_column_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = MockResult::nocursor(0).build();
    // A key present in only one sample leaves empty cells elsewhere.
    r.timeseries[2]
        .values
        .insert("level:zswap:pool_total_size".into(), 123.0);
    let path = r.write_csv(dir.path()).unwrap();
    let mut rd = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let mut expect = vec!["t_ns".to_string()];
    expect.extend(r.timeseries_keys());
    assert_eq!(header, expect);
    assert!(header.contains(&"memcg:/zswap-bench/parent/child1:zswpwb".to_string()));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.timeseries.len());
    let col = header
        .iter()
        .position(|h| h == "level:zswap:pool_total_size")
        .unwrap();
    assert_eq!(&rows[2][col], "123");
    assert_eq!(&rows[1][col], "");
    assert_eq!(&rows[3][0], "3000000000");
    let wb = header
        .iter()
        .position(|h| h.ends_with("child1:zswpwb"))
        .unwrap();
    let last: f64 = rows.last().unwrap()[wb].parse().unwrap();
    assert_eq!(
        last,
        *r.timeseries
            .last()
            .unwrap()
            .values
            .get(&header[wb])
            .unwrap()
    );
}

#[test]
fn read_all_walks_a_results_tree() {
    let dir = tempfile::tempdir().unwrap();
    for (i, m) in [
        MockResult::percg(0),
        MockResult::percg(1),
        MockResult::nocursor(0),
    ]
    .iter()
    .enumerate()
    {
        m.build()
            .write_atomic(&dir.path().join(format!("cell{}/run{i}", i % 2)))
            .unwrap();
    }
    let all = ResultFile::read_all(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(all.len(), 3);
    let e = ResultFile::read_all(&[dir.path().join("missing")]).unwrap_err();
    assert!(matches!(e, SchemaError::NotFound { .. }));
}

#[test]
fn rates_from_cumulative_samples() {
    let r = MockResult::percg(0).build();
    let rate = r.rate_series(&ts_key::workload("pages_touched"));
    assert_eq!(rate.len(), 30);
    let mean = rate.iter().map(|p| p.1).sum::<f64>() / rate.len() as f64;
    // Mock throughput is 200k pages/s with 2 % noise.
    assert!((mean - 200_000.0).abs() / 200_000.0 < 0.05, "{mean}");
}

/// Symlinked run folders count like folders; a link back up the tree is walked once.
#[test]
fn symlinked_runs_are_followed_and_loops_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    for i in 0..3 {
        let mut r = MockResult::percg(i).build();
        r.run_id = format!("r{i}");
        r.write_atomic(&runs.join(format!("r{i}"))).unwrap();
    }
    let links = dir.path().join("links");
    fs::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(runs.join("r0"), links.join("a")).unwrap();
    std::os::unix::fs::symlink(runs.join("r1"), links.join("b")).unwrap();
    std::os::unix::fs::symlink(&links, links.join("loop")).unwrap();
    let got = ResultFile::read_all(std::slice::from_ref(&links)).unwrap();
    let mut ids: Vec<&str> = got.iter().map(|r| r.run_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["r0", "r1"]);
    // The same runs reached directly and through the links are read once each.
    assert_eq!(ResultFile::read_all(&[runs, links]).unwrap().len(), 3);
}

/// A field the reader does not know is named with its file and path; the shipped reference
/// results have none (so a note always means something).
#[test]
fn unknown_fields_are_named_and_the_references_have_none() {
    let r = MockResult::percg(0).build();
    let mut v = serde_json::to_value(&r).unwrap();
    v["kernel"]["cpuss"] = serde_json::json!(4);
    v["burst_time"] = serde_json::json!(1);
    let (_, unknown) =
        ResultFile::parse_noting(&v.to_string(), Path::new("x/result.json")).unwrap();
    assert_eq!(
        unknown,
        [
            "x/result.json: unknown field `burst_time`",
            "x/result.json: unknown field `kernel.cpuss`"
        ]
    );
    let refs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference");
    let (files, unknown) = ResultFile::read_all_noting(&[refs]).unwrap();
    assert!(files.len() > 100);
    assert!(unknown.is_empty(), "{:?}", &unknown[..unknown.len().min(5)]);
}
