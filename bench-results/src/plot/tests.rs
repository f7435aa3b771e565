//! Figures from mock results: what each carries, and that files render.

use std::path::PathBuf;

use super::*;
use crate::testing::{MockResult, repeats};

fn results() -> Vec<ResultFile> {
    let mut v = repeats(3, MockResult::baseline);
    v.extend(repeats(3, MockResult::nocursor));
    v.extend(repeats(3, MockResult::percg));
    v
}

#[test]
fn figures_carry_the_data() {
    let figs = figures(&results());
    let stems: Vec<&str> = figs.iter().map(|(s, _)| s.as_str()).collect();
    for want in [
        "lock-wait-cdf",
        "lock-contended-rate",
        "proactive-writeback-per-memcg",
        "writeback-per-memcg",
        "first-child-share",
        "lorenz",
        "jain-over-time",
        "proactive-latency-cdf",
        "proactive-returns",
        "shrink-memcg-latency-cdf",
        "workload-throughput",
    ] {
        assert!(
            stems.contains(&format!("fairness-small-budget-{want}").as_str()),
            "missing {want} in {stems:?}"
        );
    }
    let get = |name: &str| &figs.iter().find(|(s, _)| s.ends_with(name)).unwrap().1;
    let Figure::Bars(b) = get("first-child-share") else {
        panic!()
    };
    // The baseline has no proactive writeback: no bar rather than a zero bar, no name in the
    // title, and a note saying why.
    assert_eq!(b.categories, ["ref-nocursor", "ref-percg-lock"]);
    assert!(b.groups[0].values[0] > 0.7 && b.groups[0].values[1] < 0.2);
    assert_eq!(b.reference.as_ref().unwrap().0, 1.0 / 8.0);
    assert!(b.title.contains("fairness-small-budget") && b.title.contains("ref-nocursor"));
    assert!(!b.title.contains("baseline"), "{}", b.title);
    assert_eq!(
        b.notes,
        [
            "baseline: n/a: kernel has no proactive writeback interface",
            "runs per kernel: baseline n=3, ref-nocursor n=3, ref-percg-lock n=3"
        ]
    );
    let Figure::Bars(b) = get("proactive-writeback-per-memcg") else {
        panic!()
    };
    assert_eq!(b.categories.len(), 8);
    assert_eq!(b.categories[0], "child1");
    let Figure::Lines(l) = get("lock-wait-cdf") else {
        panic!()
    };
    assert!(
        l.lines
            .iter()
            .any(|l| l.label == "baseline: zswap_shrink_lock")
    );
    assert!(
        l.lines
            .iter()
            // The run's own cgroup root is dropped, so repeats merge into one line.
            .any(|l| l.label == "ref-percg-lock: /parent")
    );
    assert!(
        l.lines
            .iter()
            .all(|l| (l.points.last().unwrap().1 - 1.0).abs() < 1e-12)
    );
    let Figure::Lines(j) = get("jain-over-time") else {
        panic!()
    };
    // One median line per design with its band, plus the 1/N reference; the fair kernel
    // stays near 1, the unfair one well below, from the first seconds on (cumulative).
    let designs: Vec<&Line> = j.lines.iter().filter(|l| !l.reference).collect();
    assert_eq!(designs.len(), 3);
    assert_eq!(j.extras.areas.len(), 3);
    assert!(
        j.lines
            .iter()
            .any(|l| l.reference && l.points[0].1 == 1.0 / 8.0)
    );
    let line = |k: &str| {
        designs
            .iter()
            .find(|l| l.label == format!("{k} (median of 3 runs, band min..max)"))
            .unwrap_or_else(|| panic!("no {k} in {designs:?}"))
    };
    assert!(line("ref-nocursor").points.iter().all(|p| p.1 < 0.6));
    assert!(line("ref-percg-lock").points.iter().all(|p| p.1 > 0.9));
    assert_eq!(line("ref-percg-lock").points.len(), 30);
    // The band holds the median.
    for (l, a) in designs.iter().zip(&j.extras.areas) {
        for (p, b) in l.points.iter().zip(&a.points) {
            assert!(b.1 <= p.1 && p.1 <= b.2 && p.0 == b.0);
        }
    }
    let Figure::Lines(w) = get("workload-throughput") else {
        panic!()
    };
    assert_eq!(
        w.lines.len(),
        3,
        "one median line per design, not one per run"
    );
}

#[test]
fn unmeasured_figures_are_skipped() {
    let mut m = MockResult::baseline(0);
    m.probes = false;
    let figs = figures(&[m.build()]);
    let stems: Vec<&str> = figs.iter().map(|(s, _)| s.as_str()).collect();
    assert!(
        !stems
            .iter()
            .any(|s| s.contains("lock-wait") || s.contains("shrink-memcg"))
    );
    assert!(!stems.iter().any(|s| s.contains("proactive")));
    assert!(stems.iter().any(|s| s.ends_with("workload-throughput")));
}

#[test]
fn per_memcg_lock_names_drop_the_run_root() {
    assert_eq!(below_root("/zswap-bench-contention-r0/parent"), "/parent");
    assert_eq!(below_root("/zb/parent/child1"), "/parent/child1");
    assert_eq!(below_root("/parent"), "/parent");
}

#[test]
fn renders_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var_os("PLOT_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let files = plot_all(&results(), &out).unwrap();
    assert_eq!(files.len(), 2 * figures(&results()).len());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match f.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
                assert!(
                    bytes.len() > 20_000,
                    "{} is only {} bytes",
                    f.display(),
                    bytes.len()
                );
            }
            Some("svg") => {
                let s = String::from_utf8(bytes).unwrap();
                assert!(s.contains("<svg") && s.contains("fairness-small-budget"));
                assert!(
                    s.matches("<text").count() > 10,
                    "{}: axis labels",
                    f.display()
                );
            }
            other => panic!("unexpected file {other:?}"),
        }
    }
}

#[test]
fn legend_goes_to_the_corner_without_data() {
    use plotters::prelude::SeriesLabelPosition as P;
    let pos = |pts: &[(f64, f64)]| {
        format!(
            "{:?}",
            super::draw::quiet_corner(pts, (0.0, 10.0), (0.0, 10.0))
        )
    };
    // Points in the lower right (a tall error bar ending near 0): the legend moves up.
    assert_eq!(
        pos(&[(9.0, 0.5), (9.5, 1.0), (1.0, 9.5)]),
        format!("{:?}", P::UpperRight)
    );
    // Nothing anywhere near the corners: the customary lower right.
    assert_eq!(pos(&[(5.0, 5.0)]), format!("{:?}", P::LowerRight));
    // Three corners taken: the free one.
    assert_eq!(
        pos(&[(9.0, 0.5), (9.0, 9.5), (1.0, 9.5)]),
        format!("{:?}", P::LowerLeft)
    );
}

/// A figure set that fails half-way leaves the folder as it was and names the file; one that
/// succeeds replaces the older figures of the same names, and no staging folder stays behind.
#[test]
fn a_figure_set_is_written_whole_or_not_at_all() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("plots");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a.svg"), "old").unwrap();
    let e = super::staged(&out, |dir| {
        std::fs::write(dir.join("a.svg"), "new").unwrap();
        anyhow::bail!("drawing {}: backend error", dir.join("b.svg").display())
    })
    .unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("b.svg") && e.contains("no figure of this set was written"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(out.join("a.svg")).unwrap(), "old");
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "staging folder left behind"
    );
    let files = super::staged(&out, |dir| {
        std::fs::write(dir.join("a.svg"), "new").unwrap();
        std::fs::write(dir.join("b.svg"), "new").unwrap();
        Ok(vec![dir.join("a.svg"), dir.join("b.svg")])
    })
    .unwrap();
    assert_eq!(files, [out.join("a.svg"), out.join("b.svg")]);
    assert_eq!(std::fs::read_to_string(out.join("a.svg")).unwrap(), "new");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

/// Every figure states how many runs stand behind each kernel, counted from the results given.
#[test]
fn every_figure_states_n_per_kernel() {
    let mut rs = results();
    rs.extend(repeats(2, MockResult::baseline));
    let figs = figures(&rs);
    assert!(figs.len() >= 11);
    for (stem, f) in &figs {
        let note = f
            .notes()
            .iter()
            .find(|n| n.starts_with("runs per kernel: "))
            .unwrap_or_else(|| panic!("{stem}: no runs note in {:?}", f.notes()));
        assert_eq!(
            note, "runs per kernel: baseline n=5, ref-nocursor n=3, ref-percg-lock n=3",
            "{stem}"
        );
    }
}
