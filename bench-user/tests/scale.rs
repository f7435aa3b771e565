//! Analysis at scale (issue 24): `compare` and `plot` over 100, 1,000 and 10,000 result files
//! (synthetic, made by the MockResult fixture: two kernels, one scenario, half the runs each),
//! as the real binary reads them. A benchmark that prints figures (wall time and peak memory of
//! each command); the 10,000-run pass must finish in under a minute and stay under 2 GiB.
//! `ZSWAP_BENCH_SCALE=100,1000` picks the sizes.
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bench_results::testing::MockResult;

/// Writes `n` runs, `n / 2` per kernel, as `<dir>/<kernel>-r<k>/result.json`.
fn write_runs(dir: &Path, n: u32) {
    for k in 0..n {
        let m = if k % 2 == 0 {
            MockResult::nocursor(k / 2)
        } else {
            MockResult::percg(k / 2)
        };
        let r = m.build();
        let d = dir.join(format!(
            "{}-r{}",
            if k % 2 == 0 { "nocursor" } else { "percg" },
            k / 2
        ));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("result.json"), serde_json::to_vec(&r).unwrap()).unwrap();
    }
}

/// Wall seconds and peak resident memory (KiB, from the child's rusage) of one command.
fn timed(args: &[&str]) -> (f64, u64, std::process::Output) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_zswap-bench"))
        .args(args)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    (secs, ru.max_rss() as u64, out)
}

#[test]
#[ignore = "a benchmark (minutes): scripts/test runs it with --include-ignored"]
fn compare_and_plot_at_scale() {
    let sizes: Vec<u32> = std::env::var("ZSWAP_BENCH_SCALE")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    println!("| runs | compare s | plot s | peak RSS (any command so far) |");
    println!("|---|---|---|---|");
    for n in sizes {
        let d = tempfile::tempdir().unwrap();
        write_runs(d.path(), n);
        let dir = d.path().to_str().unwrap();
        let (c, _, out) = timed(&["compare", dir, "--baseline", "ref-nocursor"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // n per kernel is stated, and every run was read.
        assert!(
            text.contains(&format!("ref-nocursor {}", n.div_ceil(2)))
                && text.contains(&format!("ref-percg-lock {}", n / 2)),
            "{text}"
        );
        let plots = d.path().join("plots");
        let (p, rss, out) = timed(&["plot", dir, "--out", plots.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("| {n} | {c:.1} | {p:.1} | {:.0} MiB |", rss as f64 / 1024.0);
        if n >= 10_000 {
            assert!(
                c < 60.0 && p < 60.0,
                "{n} runs: compare {c:.1} s, plot {p:.1} s"
            );
            assert!(rss < 2 << 20, "{n} runs: peak RSS {} KiB", rss);
        }
    }
}
