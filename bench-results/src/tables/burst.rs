//! The burst-after-idle experiment per kernel and idle action: how long the burst took, the
//! latency-sensitive service's tail during it, and where writeback happened (the positive
//! control). Percentiles of the "merged" column add every exercised run's burst histogram
//! (HdrHistogram `add`), never average per-run percentiles.
use super::{footnotes, spread, table};
use crate::metrics::MetricUnit;
use crate::schema::{self, ResultFile};

/// Runs grouped by "<kernel> <idle action>", in order of first appearance.
fn by_group<'a>(results: &[&'a ResultFile]) -> Vec<(String, Vec<&'a ResultFile>)> {
    super::group_by(results, |r| {
        schema::group_label(r.kernel.label(), r.burst.as_ref().map(|b| b.action))
    })
}

/// p99 and p99.9 of every exercised run's burst requests added together, with the count.
fn merged(runs: &[&ResultFile]) -> String {
    let parts: Vec<&schema::HdrSummary> = runs
        .iter()
        .filter(|r| r.burst.as_ref().is_some_and(|b| b.exercised))
        .filter_map(|r| r.latency.first()?.burst.as_ref())
        .collect();
    match schema::merge(parts.iter().copied()) {
        Ok(h) if !h.is_empty() => {
            let f = |q: f64| MetricUnit::Ns.format(h.value_at_quantile(q) as f64, false);
            format!("{} / {} (n={})", f(0.99), f(0.999), h.len())
        }
        _ => "n/a".into(),
    }
}

pub(super) fn burst(results: &[&ResultFile]) -> Result<String, String> {
    if results.iter().all(|r| r.burst.is_none()) {
        return Err(
            "no run of these has a [burst]: the burst table needs burst-after-idle results".into(),
        );
    }
    let mut why = vec![];
    let mut rows = vec![];
    for (g, runs) in by_group(results) {
        let exercised = runs
            .iter()
            .filter(|r| r.burst.as_ref().is_some_and(|b| b.exercised))
            .count();
        rows.push(vec![
            g,
            format!("{exercised}/{}", runs.len()),
            spread("burst.completion", &runs, &mut why),
            spread("latency.burst_p99", &runs, &mut why),
            spread("latency.burst_p999", &runs, &mut why),
            merged(&runs),
            spread("latency.idle_p99", &runs, &mut why),
            spread("burst.writeback_idle", &runs, &mut why),
            spread("burst.writeback_during", &runs, &mut why),
            spread("burst.psi_full", &runs, &mut why),
        ]);
    }
    Ok(table(
        &[
            "kernel, idle action",
            "runs exercised",
            "burst time",
            "service p99 in the burst",
            "service p99.9 in the burst",
            "p99 / p99.9 merged",
            "service p99 in the idle window",
            "pages written back idle",
            "pages written back in the burst",
            "PSI full in the burst",
        ],
        &rows,
    ) + &footnotes(&why)
        + "\nmedian [min–max] over runs; \"merged\" adds the exercised runs' burst histograms \
           (HdrHistogram add) and reads the percentiles of the sum. A run is exercised when \
           writeback happened where its idle action says (during the burst for \"nothing\", \
           before it for \"proactive\"); the others show n/a in the burst columns. The idle \
           window's p99 is what the action itself cost the service.\n")
}

#[cfg(test)]
mod tests {
    use crate::metrics::burst_run;
    use crate::schema::IdleAction;

    #[test]
    fn groups_by_kernel_and_action_and_merges_histograms() {
        let mut runs = [
            burst_run("ref", IdleAction::Nothing, true, 20),
            burst_run("ref", IdleAction::Nothing, true, 0),
            burst_run("ref", IdleAction::Proactive, true, 0),
            burst_run("ref", IdleAction::Proactive, false, 500),
        ];
        runs[1].repeat = 1;
        runs[3].repeat = 1;
        let refs: Vec<_> = runs.iter().collect();
        let t = super::burst(&refs).unwrap();
        let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("| ref")).collect();
        assert_eq!(rows.len(), 2, "{t}");
        assert!(rows[0].starts_with("| ref nothing | 2/2 |"), "{t}");
        // 20 of 2000 requests at 300 ms: the merged p99 is in the 1 ms body, p99.9 in the tail;
        // the per-run p99 median averages 300 ms and 1 ms into neither.
        assert!(rows[0].contains("1.00ms / 300ms (n=2000)"), "{}", rows[0]);
        // The unexercised proactive run (500 slow requests) is not in the merged column.
        assert!(
            rows[1].starts_with("| ref proactive | 1/2 |") && rows[1].contains("(n=1000)"),
            "{}",
            rows[1]
        );
        assert!(
            t.contains("n/a: not exercised: no writeback during the burst"),
            "{t}"
        );
        let plain = [crate::testing::MockResult::nocursor(0).build()];
        assert!(super::burst(&plain.iter().collect::<Vec<_>>()).is_err());
    }
}
