//! `zswap-bench probe`: attach, print live tables per interval (cursor locks in the columns of
//! `perf lock contention`, then writeback per memcg and shrink_memcg), detach on Ctrl-C.
use std::fmt::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use bench_results::human::fmt_ns;
use bench_results::schema::{LockStats, PlanStatus, Probes};

use super::{ProbeOptions, ProbeSession, attach::mech_str};
use crate::cli::ProbeArgs;

pub fn run(args: &ProbeArgs) -> Result<()> {
    let mut s = ProbeSession::attach(&ProbeOptions {
        crosscheck: args.crosscheck,
        extra_locks: args.watch_lock.clone(),
        walk_steps: args.walk_steps,
    })?;
    // Scripts wait for this line before starting the load they want measured.
    eprintln!("zswap-bench probe: attached");
    if args.plan && args.json {
        println!("{}", serde_json::to_string_pretty(&s.plan())?);
        return Ok(());
    }
    if !args.json || args.plan {
        print!("{}", render_plan(&s.plan()));
    }
    if args.plan {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let t0 = Instant::now();
    let mut prev: Option<Probes> = None;
    rt.block_on(async {
        loop {
            let wait = match args.duration {
                Some(d) if t0.elapsed() >= d => break,
                Some(d) => args.interval.min(d - t0.elapsed()),
                None => args.interval,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = tokio::signal::ctrl_c() => break,
            }
            let p = s.snapshot()?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"t_ns": t0.elapsed().as_nanos() as u64, "probes": p})
                );
            } else {
                print!("{}", render(&p, prev.as_ref(), t0.elapsed(), wait));
            }
            prev = Some(p);
        }
        anyhow::Ok(())
    })?;
    if let Some((a, b)) = s.spin_xcheck()? {
        eprintln!(
            "cross-check spinlock slow path on watched locks: timed waits {a}, kprobe entries {b}{}",
            if a == b { " (agree)" } else { " (DISAGREE)" }
        );
    }
    if let Some((a, b)) = s.shrink_memcg_xcheck()? {
        eprintln!(
            "cross-check shrink_memcg calls: primary {a}, kprobe {b}{}",
            if a == b { " (agree)" } else { " (DISAGREE)" }
        );
    }
    drop(s); // detaches every program
    Ok(())
}

pub fn render_plan(plan: &[bench_results::schema::PlanEntry]) -> String {
    let mut o = String::from("attach plan\n");
    for e in plan {
        match e.status {
            PlanStatus::Live => {
                let _ = writeln!(
                    o,
                    "  {:<28} {:<10} {}",
                    e.metric,
                    mech_str(e.mechanism),
                    e.target
                );
            }
            PlanStatus::Unavailable => {
                let _ = writeln!(
                    o,
                    "  {:<28} {:<10} unavailable: {}",
                    e.metric,
                    "-",
                    e.reason.as_deref().unwrap_or("")
                );
            }
        }
    }
    o
}

/// One row in the columns of `perf lock contention`, plus acquisitions, contended share and
/// mean hold time where the cursor function measures them.
fn lock_row(l: &LockStats, prev: Option<&Probes>, interval: Duration) -> String {
    let before = prev
        .and_then(|q| q.locks.as_ref())
        .and_then(|v| v.iter().find(|x| x.addr == l.addr && x.name == l.name))
        .map_or(0, |x| x.contended);
    let rate = (l.contended - before.min(l.contended)) as f64 / interval.as_secs_f64().max(1e-9);
    let avg = l.total_wait_ns.checked_div(l.contended).unwrap_or(0);
    let caller = l
        .callers
        .first()
        .and_then(|c| c.stack.first())
        .map_or("-", |s| s.as_str());
    let (acq, share, hold) = match (&l.acquisitions, &l.hold) {
        (Some(a), Some(h)) => (
            a.to_string(),
            l.contended_share()
                .map_or("-".into(), |x| format!("{:.1}%", x * 100.0)),
            h.sum.checked_div(h.count).map_or("-".into(), fmt_ns),
        ),
        _ => ("n/a".into(), "n/a".into(), "n/a".into()),
    };
    format!(
        " {:>11.1} {:>10} {:>12} {:>12} {:>12} {:>11} {:>6} {:>10}   {:<24} {}",
        rate,
        l.contended,
        fmt_ns(l.total_wait_ns),
        fmt_ns(l.max_wait_ns),
        fmt_ns(avg),
        acq,
        share,
        hold,
        l.name,
        caller
    )
}

pub fn render(p: &Probes, prev: Option<&Probes>, elapsed: Duration, interval: Duration) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\n--- {:.0}s ---", elapsed.as_secs_f64());
    match &p.locks {
        Some(locks) => {
            let _ = writeln!(
                o,
                " contended/s  contended   total wait     max wait     avg wait    acquired  share   hold avg   lock                     caller"
            );
            for l in locks {
                let _ = writeln!(o, "{}", lock_row(l, prev, interval));
            }
            for na in &p.locks_unavailable {
                let _ = writeln!(o, " {:<96}  {}: {}", "", na.name, na.reason);
            }
        }
        None => {
            let _ = writeln!(o, " cursor locks: not measured on this kernel (see plan)");
        }
    }
    if let Some(w) = &p.writeback {
        let _ = writeln!(
            o,
            " writeback: {} pages{}   [{}]",
            w.pages,
            w.bytes.map_or(String::new(), |b| format!(
                ", {} compressed",
                bench_results::human::fmt_bytes(b)
            )),
            w.point
        );
        for m in &w.per_memcg {
            let src: Vec<String> = m
                .by_source
                .iter()
                .map(|(k, v)| format!("{k}={}", v.pages))
                .collect();
            let _ = writeln!(
                o,
                "   {:>10} pages  {:<40} {}",
                m.pages,
                m.cgroup,
                src.join(" ")
            );
        }
        if !w.lru_status.is_empty() {
            let st: Vec<String> = w
                .lru_status
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(o, "   shrink_memcg_cb returns: {}", st.join(" "));
        }
    }
    if let Some(s) = &p.shrink_memcg {
        let r: Vec<String> = s.returns.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let _ = writeln!(
            o,
            " shrink_memcg: {} calls  p50 {}  p99 {}  returns {}",
            s.calls,
            s.latency
                .quantile(0.5)
                .map_or("-".into(), |v| fmt_ns(v as u64)),
            s.latency
                .quantile(0.99)
                .map_or("-".into(), |v| fmt_ns(v as u64)),
            r.join(" ")
        );
    }
    if let Some(w) = &p.shrink_worker {
        let _ = writeln!(
            o,
            " shrink_worker: {} wakeups, run time total {}",
            w.wakeups,
            fmt_ns(w.runtime.sum)
        );
    }
    if let Some(s) = &p.store {
        let _ = writeln!(
            o,
            " zswap_store: {} calls, {} failures",
            s.calls, s.failures
        );
    }
    if let Some(pr) = &p.proactive {
        let _ = writeln!(
            o,
            " proactive: {} calls, {} requested, {} written",
            pr.calls,
            bench_results::human::fmt_bytes(pr.requested_bytes),
            bench_results::human::fmt_bytes(pr.written_bytes)
        );
    }
    if let Some(c) = &p.cursor_iter {
        let _ = writeln!(
            o,
            " cursor {}: {} advances, {} extra walk steps",
            c.function, c.calls, c.restarts
        );
    }
    let cost: u64 = p.self_cost.iter().map(|c| c.run_time_ns).sum();
    let runs: u64 = p.self_cost.iter().map(|c| c.run_count).sum();
    let _ = writeln!(
        o,
        " probe cost: {runs} runs, {} total{}; lost events {}",
        fmt_ns(cost),
        cost.checked_div(runs)
            .map(|per| format!(" ({per} ns/run)"))
            .unwrap_or_default(),
        p.lost_events
    );
    o
}
