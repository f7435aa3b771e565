use super::*;
use crate::schema::{LockUnavailable, ResultFile};
use crate::testing::MockResult;

const NEVER: &str = "n/a: never taken: none of 61234 zswap_mem_cgroup_iter calls held it, and \
                     nothing waited on it";

/// One run of a scaling matrix: contention grows with threads and vCPUs (as the sweeps should
/// show), on a host with 4 cores so 8 vCPUs are overcommitted.
fn run(preset: fn(u32) -> MockResult, t: u32, cpus: u32, repeat: u32) -> ResultFile {
    let mut m = preset(repeat);
    m.scenario = format!("scaling-t{t}");
    // Short runs keep the mock's per-event histograms small.
    m.duration_s = 2;
    m.lock_contended_per_s = 5.0 * f64::from(t * cpus);
    let mut r = m.build();
    r.kernel.cpus = cpus;
    r.kernel.host_cpus = Some(4);
    r.scenario
        .params
        .insert("proactive_threads".into(), t.to_string());
    r
}

/// The v5-as-posted design: the cursor lock is never taken.
fn without_cursor_lock(mut r: ResultFile) -> ResultFile {
    r.probes.locks = Some(Vec::new());
    r.probes.locks_unavailable = vec![LockUnavailable {
        name: "zswap_shrink_lock".into(),
        reason: NEVER.into(),
    }];
    r
}

const POINTS: [(u32, u32); 5] = [(4, 2), (8, 2), (16, 2), (8, 4), (8, 8)];

fn matrix() -> Vec<ResultFile> {
    let mut v = Vec::new();
    for (t, c) in POINTS {
        for rep in 0..3 {
            v.push(run(MockResult::baseline, t, c, rep));
            v.push(run(MockResult::percg, t, c, rep));
            v.push(without_cursor_lock(run(MockResult::nocursor, t, c, rep)));
        }
    }
    v
}

fn get<'a>(figs: &'a [(String, Figure)], stem: &str) -> &'a LineChart {
    match &figs.iter().find(|(s, _)| s == stem).expect(stem).1 {
        Figure::Lines(c) => c,
        Figure::Bars(_) => panic!("{stem} is not a line chart"),
    }
}

#[test]
fn names_and_thread_counts() {
    assert_eq!(split_name("scaling-t16"), ("scaling", Some(16)));
    assert_eq!(split_name("scaling"), ("scaling", None));
    assert_eq!(split_name("contention"), ("contention", None));
    assert_eq!(split_name("my-test-tx"), ("my-test-tx", None));
    let mut r = run(MockResult::percg, 4, 2, 0);
    assert_eq!(threads(&r), Some(4));
    // The scenario's own count wins over the name.
    r.scenario
        .params
        .insert("proactive_threads".into(), "6".into());
    assert_eq!(threads(&r), Some(6));
    r.scenario.params.remove("proactive_threads");
    assert_eq!(threads(&r), Some(4));
}

#[test]
fn sweeps_pick_smallest_vcpus_and_widest_thread_count() {
    let mut results = matrix();
    // t16 also at 4 vCPUs: two vCPU values, fewer than t8's three.
    results.push(run(MockResult::percg, 16, 4, 0));
    let s = sweeps(&results);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].axis, s[0].fixed), (Axis::Threads, 2));
    let xs: BTreeSet<u32> = s[0].runs.iter().map(|p| p.0).collect();
    assert_eq!(xs, BTreeSet::from([4, 8, 16]));
    assert!(s[0].runs.iter().all(|p| p.1.kernel.cpus == 2));
    assert_eq!((s[1].axis, s[1].fixed), (Axis::Vcpus, 8));
    let xs: BTreeSet<u32> = s[1].runs.iter().map(|p| p.0).collect();
    assert_eq!(xs, BTreeSet::from([2, 4, 8]));
    assert_eq!(s[0].kernels, ["baseline", "ref-percg-lock", "ref-nocursor"]);
    // Non-scaling scenarios form no sweep.
    let other = vec![MockResult::percg(0).build(), MockResult::percg(1).build()];
    assert!(sweeps(&other).is_empty());
}

#[test]
fn writes_every_figure_and_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plots-scaling");
    let files = plot_scaling(&matrix(), &out).unwrap();
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for axis in ["threads", "vcpus"] {
        for q in [
            "contended-per-s",
            "contended-share",
            "wait-p99",
            "reclaim-throughput",
        ] {
            for ext in ["svg", "png"] {
                let name = format!("scaling-{axis}-{q}.{ext}");
                assert!(names.contains(&name), "missing {name} in {names:?}");
                assert!(out.join(&name).is_file());
            }
        }
    }
    assert!(names.contains(SCALING_JSON));
    assert_eq!(files.len(), 2 * 4 * 2 + 1);
    let svg = std::fs::read_to_string(out.join("scaling-vcpus-wait-p99.svg")).unwrap();
    assert!(svg.contains("ref-nocursor: n/a: never taken"), "note drawn");
    // Nothing to sweep: nothing written, not even the directory.
    let none = dir.path().join("none");
    let plain = vec![MockResult::percg(0).build()];
    assert!(plot_scaling(&plain, &none).unwrap().is_empty());
    assert!(!none.exists());
}

/// Finds one point of scaling.json.
fn point<'a>(
    v: &'a serde_json::Value,
    sweep: &str,
    metric: &str,
    kernel: &str,
    x: u64,
) -> &'a serde_json::Value {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["sweep"] == sweep && p["metric"] == metric && p["kernel"] == kernel && p["x"] == x
        })
        .unwrap_or_else(|| panic!("no {sweep}/{metric}/{kernel}/{x}"))
}

#[test]
fn json_holds_the_median_min_max_of_the_repeats() {
    let mut results = matrix();
    // Baseline at 8 threads, 2 vCPUs: 300, 1200, 900 contended in 2 s -> 150, 600, 450 per s
    // (median 450, mean 400: a mean in place of the median shows).
    for r in results.iter_mut().filter(|r| {
        r.kernel.label() == "baseline" && r.scenario.name == "scaling-t8" && r.kernel.cpus == 2
    }) {
        let contended = [300, 1200, 900][r.repeat as usize];
        r.probes.locks.as_mut().unwrap()[0].contended = contended;
        assert_eq!(r.duration_ns, 2_000_000_000);
    }
    let dir = tempfile::tempdir().unwrap();
    plot_scaling(&results, dir.path()).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(SCALING_JSON)).unwrap()).unwrap();
    let p = point(&v, "threads", "lock.cursor.contended_per_s", "baseline", 8);
    assert_eq!(p["median"], 450.0);
    assert_eq!(p["min"], 150.0);
    assert_eq!(p["max"], 600.0);
    assert_eq!(p["n"], 3);
    assert_eq!(p["fixed_vcpus"], 2);
    assert_eq!(p["family"], "scaling");
    // The same runs are the 2-vCPU point of the vCPU sweep at 8 threads.
    let q = point(&v, "vcpus", "lock.cursor.contended_per_s", "baseline", 2);
    assert_eq!(
        (q["median"].clone(), q["fixed_threads"].clone()),
        (450.0.into(), 8.into())
    );
    // The figure draws the same median.
    let (figs, _) = scaling_figures(&results);
    let c = get(&figs, "scaling-threads-contended-per-s");
    let line = c.lines.iter().find(|l| l.label == "baseline").unwrap();
    assert!(line.points.contains(&(8.0, 450.0)), "{:?}", line.points);
    let band = &c.extras.bands[line.color];
    let bp = band.points.iter().find(|p| p.x == 8.0).unwrap();
    assert_eq!((bp.lo, bp.y, bp.hi), (150.0, 450.0, 600.0));
}

#[test]
fn a_kernel_without_the_lock_is_a_note_not_a_silent_gap() {
    let (figs, data) = scaling_figures(&matrix());
    for stem in [
        "scaling-threads-contended-per-s",
        "scaling-vcpus-wait-p99",
        "scaling-threads-contended-share",
    ] {
        let c = get(&figs, stem);
        assert!(!c.title.contains("ref-nocursor"), "{}", c.title);
        assert!(
            c.title.contains("baseline vs ref-percg-lock"),
            "{}",
            c.title
        );
        assert!(
            c.extras
                .notes
                .iter()
                .any(|n| n.starts_with("ref-nocursor: n/a: never taken")),
            "{stem}: {:?}",
            c.extras.notes
        );
        assert!(c.lines.iter().all(|l| l.label != "ref-nocursor"));
    }
    // Reclaim throughput: the baseline has no interface, the nocursor kernel is drawn.
    let c = get(&figs, "scaling-threads-reclaim-throughput");
    assert!(
        c.title.ends_with("ref-percg-lock vs ref-nocursor"),
        "{}",
        c.title
    );
    assert!(
        c.extras
            .notes
            .iter()
            .any(|n| n.contains("baseline: kernel has no proactive writeback interface")),
        "{:?}",
        c.extras.notes
    );
    let gap = data
        .missing
        .iter()
        .find(|g| g.kernel == "ref-nocursor" && g.metric == "lock.cursor.wait_p99_ns")
        .unwrap();
    assert_eq!((gap.x, gap.reason.as_str()), (None, NEVER));
    assert!(
        !data
            .points
            .iter()
            .any(|p| p.kernel == "ref-nocursor" && p.metric.starts_with("lock."))
    );
}

#[test]
fn overcommitted_points_are_marked() {
    let (figs, data) = scaling_figures(&matrix());
    let c = get(&figs, "scaling-vcpus-contended-per-s");
    for b in &c.extras.bands {
        for p in &b.points {
            assert_eq!(p.hollow, p.x > 4.0, "x {}", p.x);
        }
    }
    assert!(
        c.extras
            .notes
            .iter()
            .any(|n| n.starts_with("hollow markers: overcommitted vCPUs (8 on 4")),
        "{:?}",
        c.extras.notes
    );
    // Contention grows with vCPUs in the mocks; the lines show it.
    let l = c
        .lines
        .iter()
        .find(|l| l.label == "ref-percg-lock")
        .unwrap();
    assert!(
        l.points
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
        "{:?}",
        l.points
    );
    let p = data
        .points
        .iter()
        .find(|p| p.sweep == Axis::Vcpus && p.x == 8)
        .unwrap();
    assert!(
        p.overcommitted
            .as_deref()
            .unwrap()
            .contains("lock-holder preemption")
    );
    let p = data
        .points
        .iter()
        .find(|p| p.sweep == Axis::Vcpus && p.x == 4)
        .unwrap();
    assert_eq!(p.overcommitted, None);
    // No overcommit in the threads sweep (2 vCPUs on 4 cores): no such note.
    let c = get(&figs, "scaling-threads-contended-per-s");
    assert!(c.extras.notes.iter().all(|n| !n.contains("overcommitted")));
}

#[test]
fn a_missing_point_is_named() {
    let results: Vec<ResultFile> = matrix()
        .into_iter()
        .filter(|r| !(r.kernel.label() == "ref-percg-lock" && r.scenario.name == "scaling-t16"))
        .collect();
    let (figs, _) = scaling_figures(&results);
    let c = get(&figs, "scaling-threads-contended-per-s");
    assert!(
        c.extras
            .notes
            .contains(&"ref-percg-lock: no value at 16 threads: not run".to_string()),
        "{:?}",
        c.extras.notes
    );
}

#[test]
fn many_gaps_are_summarised_not_listed() {
    let mut results = Vec::new();
    for t in [4, 8] {
        results.push(run(MockResult::percg, t, 2, 0));
        for k in 0..8 {
            let name = format!("k{k}");
            let mut r = without_cursor_lock(run(MockResult::nocursor, t, 2, 0));
            r.kernel.manifest = Some(name);
            results.push(r);
        }
    }
    let (figs, data) = scaling_figures(&results);
    let c = get(&figs, "scaling-threads-contended-per-s");
    assert_eq!(c.extras.notes.len(), 7, "{:?}", c.extras.notes);
    assert_eq!(
        c.extras.notes[5],
        "3 more kernel/point(s) without a value: see scaling.json, \"missing\""
    );
    assert_eq!(c.extras.notes[6], "runs per point: ref-percg-lock n=1");
    let listed = data
        .missing
        .iter()
        .filter(|g| g.metric == "lock.cursor.contended_per_s")
        .count();
    assert_eq!(listed, 8, "the JSON keeps every gap");
}

/// Each scaling figure says how many repeats stand behind each drawn kernel's points, and a
/// point with fewer repeats shows as a range.
#[test]
fn every_scaling_figure_states_n_per_kernel() {
    let mut rs = matrix();
    // One baseline repeat fewer at one point.
    let (t, c) = POINTS[0];
    let drop = rs
        .iter()
        .position(|r| {
            r.kernel.label() == "baseline"
                && r.scenario.name == format!("scaling-t{t}")
                && r.kernel.cpus == c
        })
        .unwrap();
    rs.remove(drop);
    let (figs, _) = scaling_figures(&rs);
    assert!(!figs.is_empty());
    for (stem, f) in &figs {
        let Figure::Lines(c) = f else { panic!() };
        let note = c
            .extras
            .notes
            .iter()
            .find(|n| n.starts_with("runs per point: "))
            .unwrap_or_else(|| panic!("{stem}: {:?}", c.extras.notes));
        for l in c.lines.iter().filter(|l| l.legend && !l.reference) {
            // The dropped run is at 4 threads, a point of the threads sweep only.
            let want = if l.label == "baseline" && stem.contains("-threads-") {
                "baseline n=2..3".to_string()
            } else {
                format!("{} n=3", l.label)
            };
            assert!(note.contains(&want), "{stem}: {note} lacks {want}");
        }
    }
}
