//! The burst-after-idle figures from hand-built results: what each line is made of, which runs
//! it leaves out, and that the files render.

use std::path::PathBuf;

use super::burst::{nines, nines_quantiles};
use super::*;
use crate::schema::group_label;
use crate::schema::{
    self, Burst, HdrSummary, IdleAction, LatencyInterval, LatencyWorker, new_hdr, record_n, ts_key,
};
use crate::testing::MockResult;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const SCENARIO: &str = "burst-after-idle";

fn summary(values: &[(u64, u64)]) -> HdrSummary {
    let mut h = new_hdr();
    for &(ns, n) in values {
        record_n(&mut h, ns, n);
    }
    HdrSummary::of(&h)
}

fn burst(action: IdleAction, exercised: bool) -> Burst {
    Burst {
        action,
        target: "/zswap-bench/parent".into(),
        amount: 64 << 20,
        action_call: None,
        memcg: "/zswap-bench/burst".into(),
        size: 512 << 20,
        idle_ns: 10 * S,
        completion_ns: Some(3 * S),
        writeback_idle: if action == IdleAction::Proactive {
            900
        } else {
            0
        },
        writeback_burst: if exercised { 2_000 } else { 0 },
        psi_some_us: None,
        psi_full_us: None,
        exercised,
        note: (!exercised).then(|| {
            "not exercised: no writeback during the burst (nothing for proactive writeback to move)"
                .into()
        }),
    }
}

/// A run whose one latency-sensitive worker saw `during` (ns, count) in the burst, or in the
/// whole phase without a burst. With a burst, `all` adds many fast requests: a line drawn from
/// `all` instead of `burst` would show.
fn run(kernel: &str, repeat: u32, b: Option<Burst>, during: &[(u64, u64)]) -> ResultFile {
    let mut r = MockResult {
        scenario: SCENARIO.into(),
        ..MockResult::nocursor(repeat)
    }
    .kernel(kernel)
    .build();
    let (all, in_burst) = match &b {
        Some(_) => {
            let mut all = during.to_vec();
            all.push((50_000, 200_000));
            (summary(&all), Some(summary(during)))
        }
        None => (summary(during), None),
    };
    r.latency = vec![LatencyWorker {
        cgroup: "/zswap-bench/latency".into(),
        rate: 1000.0,
        pages_per_request: 4,
        hlog: "latency-0.hlog".into(),
        requests: all.count,
        faulted_requests: 0,
        major_faults: 0,
        minor_faults: 0,
        preempted: 0,
        slowest: None,
        all,
        idle: None,
        burst: in_burst,
        intervals: Vec::new(),
    }];
    r.burst = b;
    r
}

fn chart<'a>(figs: &'a [(String, Figure)], name: &str) -> &'a LineChart {
    let stem = format!("{SCENARIO}-{name}");
    match figs.iter().find(|(s, _)| *s == stem) {
        Some((_, Figure::Lines(c))) => c,
        _ => panic!(
            "no line chart {stem} in {:?}",
            figs.iter().map(|f| &f.0).collect::<Vec<_>>()
        ),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 0.002
}

#[test]
fn nines_line_is_the_merged_histogram() {
    let pro = || Some(burst(IdleAction::Proactive, true));
    // One run all at 1 ms; the other with a 1.5 % tail at 50 ms. Its own p99 is 50 ms, the other's
    // 1 ms: averaging percentiles would say 25.5 ms. Merged, 150 of 20 000 requests (0.75 %) are
    // slow: the p99 is 1 ms and the p99.9 50 ms.
    let fast = run("ref-nocursor", 0, pro(), &[(MS, 10_000)]);
    let slow = run("ref-nocursor", 1, pro(), &[(MS, 9_850), (50 * MS, 150)]);
    let figs = figures(&[fast.clone(), slow.clone()]);
    let c = chart(&figs, "latency-nines");
    assert_eq!(c.lines.len(), 1);
    let l = &c.lines[0];
    assert_eq!(
        l.label,
        "ref-nocursor proactive (n=20 000 requests, 2 runs)"
    );
    assert!(c.title.contains("during the burst"), "{}", c.title);
    let hist = |r: &ResultFile| r.latency[0].burst.clone().unwrap();
    let merged = schema::merge([&hist(&fast), &hist(&slow)]).unwrap();
    // Every point is the merged histogram at its quantile, up to 99.99 % (n >= 10 000).
    let qs = nines_quantiles(20_000);
    assert_eq!(l.points.len(), qs.len());
    for (p, q) in l.points.iter().zip(&qs) {
        assert_eq!(*p, (nines(*q), merged.value_at_quantile(*q) as f64 / 1e6));
    }
    assert!((l.points.last().unwrap().0 - 4.0).abs() < 1e-9);
    let at = |q: f64| {
        l.points
            .iter()
            .find(|p| (p.0 - nines(q)).abs() < 1e-9)
            .unwrap_or_else(|| panic!("no point at {q}"))
            .1
    };
    assert!(close(at(0.99), 1.0), "p99 {}", at(0.99));
    assert!(close(at(0.999), 50.0), "p99.9 {}", at(0.999));
    let avg = (hist(&fast).p99_ns + hist(&slow).p99_ns) as f64 / 2.0 / 1e6;
    assert!(avg > 20.0 && (at(0.99) - avg).abs() > 20.0);
    // Log latency axis, percentiles named on the nines axis.
    assert!(c.extras.y_log);
    let ticks: Vec<&str> = c.extras.x_ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(ticks, ["50%", "90%", "99%", "99.9%", "99.99%"]);
    assert!((c.extras.x_ticks[2].0 - 2.0).abs() < 1e-9);
}

#[test]
fn a_line_stops_where_its_requests_do() {
    // 100 requests say nothing about the 99.9th percentile: the line ends at 99 %.
    let qs = nines_quantiles(100);
    assert!((nines(*qs.last().unwrap()) - 2.0).abs() < 1e-9);
    assert_eq!(qs.first(), Some(&0.5));
    assert!(qs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn groups_are_kernel_and_idle_action() {
    assert_eq!(
        group_label("ref-nocursor", Some(IdleAction::Proactive)),
        "ref-nocursor proactive"
    );
    // Relabelled with a split already: not repeated.
    assert_eq!(
        group_label("ref-nocursor-proactive", Some(IdleAction::Proactive)),
        "ref-nocursor-proactive"
    );
    assert_eq!(
        group_label("ref-nocursor proactive", Some(IdleAction::Proactive)),
        "ref-nocursor proactive"
    );
    assert_eq!(
        group_label("ref-nonproactive", Some(IdleAction::Proactive)),
        "ref-nonproactive proactive"
    );
    assert_eq!(group_label("baseline", None), "baseline");

    let at = |ms: u64| [(ms * MS, 1_000)];
    let results = vec![
        run(
            "ref-nocursor",
            0,
            Some(burst(IdleAction::Nothing, true)),
            &at(40),
        ),
        run(
            "ref-nocursor",
            0,
            Some(burst(IdleAction::Proactive, true)),
            &at(2),
        ),
        run(
            "ref-nocursor",
            1,
            Some(burst(IdleAction::Nothing, true)),
            &at(40),
        ),
        run("baseline", 0, None, &at(5)),
    ];
    let figs = figures(&results);
    let c = chart(&figs, "latency-nines");
    let labels: Vec<&str> = c.lines.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "ref-nocursor nothing (n=2 000 requests, 2 runs)",
            "ref-nocursor proactive (n=1 000 requests, 1 run)",
            // No burst: every request, and the title says so.
            "baseline (n=1 000 requests, 1 run)",
        ]
    );
    assert!(
        c.title.contains("all requests where no burst"),
        "{}",
        c.title
    );
    // The burst histogram is drawn, not `all` (whose median is 50 us).
    assert!(close(c.lines[0].points[0].1, 40.0));
    assert!(close(c.lines[1].points[0].1, 2.0));
    let colors: Vec<usize> = c.lines.iter().map(|l| l.color).collect();
    assert_eq!(colors, [0, 1, 2]);
}

#[test]
fn unexercised_runs_are_left_out_with_a_note() {
    let nothing = |ok| Some(burst(IdleAction::Nothing, ok));
    let mut results = vec![
        run("ref-nocursor", 0, nothing(true), &[(4 * MS, 1_000)]),
        run("ref-nocursor", 1, nothing(false), &[(900 * MS, 1_000)]),
        run("ref-nocursor", 2, nothing(true), &[(4 * MS, 1_000)]),
        // A group none of whose runs held: no line, only the note.
        run("ref-percg-lock", 0, nothing(false), &[(4 * MS, 1_000)]),
    ];
    for (i, r) in results.iter_mut().enumerate() {
        r.latency[0].intervals = intervals(if i == 1 { 900 } else { 4 });
    }
    let figs = figures(&results);
    for name in ["latency-nines", "latency-over-time"] {
        let c = chart(&figs, name);
        assert!(
            c.extras.notes.contains(
                &"ref-nocursor nothing: 1 of 3 runs left out, not exercised: no writeback during \
                  the burst (nothing for proactive writeback to move)"
                    .to_string()
            ),
            "{name}: {:?}",
            c.extras.notes
        );
        assert!(
            c.extras
                .notes
                .iter()
                .any(|n| n.starts_with("ref-percg-lock nothing: 1 of 1 runs left out")),
            "{name}: {:?}",
            c.extras.notes
        );
    }
    let c = chart(&figs, "latency-nines");
    // The two left-out notes and the runs per kernel.
    assert_eq!(c.extras.notes.len(), 3, "{:?}", c.extras.notes);
    assert_eq!(
        c.extras.notes[2],
        "runs per kernel: ref-nocursor nothing n=3, ref-percg-lock nothing n=1"
    );
    assert_eq!(c.lines.len(), 1);
    assert_eq!(
        c.lines[0].label,
        "ref-nocursor nothing (n=2 000 requests, 2 runs)"
    );
    // The 900 ms run is nowhere in the lines.
    assert!(c.lines[0].points.iter().all(|p| p.1 < 5.0));
    assert!(!c.title.contains("ref-percg-lock"), "{}", c.title);
    let c = chart(&figs, "latency-over-time");
    assert_eq!(c.lines.len(), 1);
    assert_eq!(c.extras.areas[0].points[10], (10.5, 4.0, 4.0));
    assert!(!c.title.contains("ref-percg-lock"), "{}", c.title);
}

/// 20 s of one interval per second (each starts a few ms late, as a log's do) whose p99 is
/// `stall_ms` in seconds 10 and 11 and 1 ms otherwise; the max twice the p99.
fn intervals(stall_ms: u64) -> Vec<LatencyInterval> {
    (0..20)
        .map(|i| {
            let p99 = if i == 10 || i == 11 { stall_ms } else { 1 } * MS;
            LatencyInterval {
                start_ns: i * S + 3 * MS,
                count: 1_000,
                p50_ns: MS / 2,
                p99_ns: p99,
                max_ns: 2 * p99,
            }
        })
        .collect()
}

/// A run with [`intervals`] and `wb_per_s` pages written back each second from 10 s to 14 s in
/// the cumulative vmstat series.
fn timed_run(repeat: u32, stall_ms: u64, wb_per_s: f64) -> ResultFile {
    let mut r = run(
        "ref-nocursor",
        repeat,
        Some(burst(IdleAction::Proactive, true)),
        &[(MS, 1_000)],
    );
    r.latency[0].intervals = intervals(stall_ms);
    for s in &mut r.timeseries {
        let t = (s.t_ns / S) as f64;
        let cumulative = wb_per_s * (t - 10.0).clamp(0.0, 4.0);
        s.values.insert(ts_key::vmstat("zswpwb"), cumulative);
    }
    r
}

#[test]
fn latency_over_time_lines_up_with_the_writeback_rate() {
    let results = vec![
        timed_run(0, 80, 400.0),
        timed_run(1, 120, 500.0),
        timed_run(2, 100, 600.0),
    ];
    let figs = figures(&results);
    let c = chart(&figs, "latency-over-time");
    assert_eq!(c.lines.len(), 1);
    let p99 = &c.lines[0];
    assert_eq!(
        p99.label,
        "ref-nocursor proactive p99 (median of 3 runs, band min..max)"
    );
    // Each second at its middle; the median over repeats of that second's p99.
    let at = |l: &Line, x: f64| l.points.iter().find(|p| p.0 == x).unwrap().1;
    assert_eq!(p99.points.len(), 20);
    assert_eq!(at(p99, 10.5), 100.0);
    assert_eq!(at(p99, 11.5), 100.0);
    assert_eq!(at(p99, 5.5), 1.0);
    assert_eq!(c.extras.areas[0].points[10], (10.5, 80.0, 120.0));
    assert_eq!(at(&c.extras.thin[0], 10.5), 200.0);
    let marker = Marker {
        x: 10.0,
        label: "burst starts".into(),
    };
    assert_eq!(c.extras.markers, std::slice::from_ref(&marker));
    assert!(
        c.extras
            .notes
            .iter()
            .any(|n| n == "ref-nocursor proactive: burst done in 3.00 s (median of 3 runs)"),
        "{:?}",
        c.extras.notes
    );
    // The writeback panel: a per-second rate (median 500 pages/s from 10 s to 14 s), not the
    // cumulative count (2 000 by the end), on the same seconds' middles.
    let wb = c.extras.lower.as_deref().expect("writeback panel");
    assert_eq!(wb.y_unit, MetricUnit::PagesPerSecond);
    assert_eq!(wb.extras.markers, [marker]);
    assert_eq!(wb.lines.len(), 1);
    let rate = &wb.lines[0].points;
    assert_eq!(rate.len(), 30);
    for &(x, y) in rate {
        let want = if (10.0..14.0).contains(&x) {
            500.0
        } else {
            0.0
        };
        assert!((y - want).abs() < 1e-9, "{x}: {y}");
    }
    assert_eq!(rate[10], (10.5, 500.0));
}

#[test]
fn scenarios_without_latency_workers_have_no_latency_figures() {
    let mut results = crate::testing::repeats(2, MockResult::nocursor);
    // One run without workers but with a burst record: still nothing to draw.
    results[0].burst = Some(burst(IdleAction::Nothing, true));
    let figs = figures(&results);
    assert!(!figs.is_empty());
    assert!(
        !figs
            .iter()
            .any(|(s, _)| s.ends_with("latency-nines") || s.ends_with("latency-over-time"))
    );
}

#[test]
fn log_axis_ticks_are_one_two_five() {
    assert_eq!(draw::log_ticks(0.3, 30.0), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
    // Too narrow for 1-2-5: every digit.
    assert_eq!(draw::log_ticks(3.5, 6.5), [4.0, 5.0, 6.0]);
}

#[test]
fn burst_figures_render_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var_os("PLOT_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&out).unwrap();
    let mut results = vec![
        timed_run(0, 80, 400.0),
        timed_run(1, 120, 500.0),
        run(
            "ref-nocursor",
            2,
            Some(burst(IdleAction::Nothing, false)),
            &[(MS, 100)],
        ),
    ];
    let mut r = timed_run(3, 300, 900.0);
    r.burst = Some(burst(IdleAction::Nothing, true));
    results.push(r);
    let figs = figures(&results);
    for (name, text) in [
        ("latency-nines", "99.9%"),
        ("latency-over-time", "burst starts"),
    ] {
        let stem = format!("{SCENARIO}-{name}");
        let fig = &figs.iter().find(|(s, _)| *s == stem).unwrap().1;
        let files = save(fig, &out, &stem).unwrap();
        assert_eq!(files.len(), 2);
        let png = std::fs::read(&files[1]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 20_000, "{stem}.png is only {} bytes", png.len());
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains(text),
            "{stem}.svg lacks {text}"
        );
        assert!(svg.contains("left out"), "{stem}.svg: the note");
    }
    let svg = std::fs::read_to_string(out.join(format!("{SCENARIO}-latency-over-time.svg")));
    assert!(svg.unwrap().contains("pages written back per second"));
}
