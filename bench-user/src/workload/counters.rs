//! Kernel counters: per-memcg memory.stat, /proc/vmstat, zswap debugfs, zswap parameters and
//! PSI; snapshots, deltas, and a 1 s time-series sampler. Parsing is pure (tested on real file
//! excerpts); only [`Sources::snapshot`] and the sampler task read files.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bench_results::schema::{self, Counters, MemcgCounters, Psi, Sample, StartEnd, ts_key};

/// `key value` lines (memory.stat, /proc/vmstat). Non-numeric lines are skipped.
pub fn parse_kv(text: &str) -> BTreeMap<String, i64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse::<i64>().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// One /proc/pressure/memory reading.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PsiRaw {
    pub some_avg10: f64,
    pub some_total_us: u64,
    pub full_avg10: f64,
    pub full_total_us: u64,
}

pub fn parse_psi(text: &str) -> Option<PsiRaw> {
    let mut p = PsiRaw::default();
    let mut seen = 0;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let kind = it.next()?;
        let mut avg10 = None;
        let mut total = None;
        for f in it {
            match f.split_once('=') {
                Some(("avg10", v)) => avg10 = v.parse().ok(),
                Some(("total", v)) => total = v.parse().ok(),
                _ => {}
            }
        }
        match kind {
            "some" => (p.some_avg10, p.some_total_us) = (avg10?, total?),
            "full" => (p.full_avg10, p.full_total_us) = (avg10?, total?),
            _ => continue,
        }
        seen += 1;
    }
    (seen > 0).then_some(p)
}

/// Every regular file of a directory as name -> trimmed content (zswap parameters, debugfs).
pub fn read_dir_values(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file())
                && let Ok(v) = std::fs::read_to_string(e.path())
            {
                m.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    v.trim().to_string(),
                );
            }
        }
    }
    m
}

/// `end - start` for every key present in both.
pub fn delta(start: &BTreeMap<String, i64>, end: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    end.iter()
        .filter_map(|(k, e)| start.get(k).map(|s| (k.clone(), e - s)))
        .collect()
}

/// Where the counters come from (paths overridable for tests).
#[derive(Debug, Clone)]
pub struct Sources {
    pub vmstat: PathBuf,
    pub debugfs: PathBuf,
    pub params: PathBuf,
    pub psi: PathBuf,
    /// (cgroup path as reported, directory) for every memcg of the scenario, parents first.
    pub memcgs: Vec<(String, PathBuf)>,
}

impl Sources {
    pub fn system(memcgs: Vec<(String, PathBuf)>) -> Self {
        Sources {
            vmstat: "/proc/vmstat".into(),
            debugfs: "/sys/kernel/debug/zswap".into(),
            params: crate::machine::zswap::PARAMS_DIR.into(),
            psi: "/proc/pressure/memory".into(),
            memcgs,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Snapshot {
            at: Instant::now(),
            vmstat: parse_kv(&read(&self.vmstat)),
            memcg: self
                .memcgs
                .iter()
                .map(|(name, dir)| {
                    let mut m = parse_kv(&read(&dir.join("memory.stat")));
                    // memory.events (oom, oom_kill, max, high) beside the stat items, prefixed:
                    // an OOM kill in the run must be visible in the result's counters.
                    let events = parse_kv(&read(&dir.join("memory.events")));
                    m.extend(events.into_iter().map(|(k, v)| (format!("events.{k}"), v)));
                    (name.clone(), m)
                })
                .collect(),
            debugfs: read_dir_values(&self.debugfs)
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.parse::<i64>().ok()?)))
                .collect(),
            params: read_dir_values(&self.params),
            psi: parse_psi(&read(&self.psi)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: Instant,
    pub vmstat: BTreeMap<String, i64>,
    pub memcg: Vec<(String, BTreeMap<String, i64>)>,
    pub debugfs: BTreeMap<String, i64>,
    pub params: BTreeMap<String, String>,
    pub psi: Option<PsiRaw>,
}

/// The result's `counters` from the measured phase's first and last snapshot.
pub fn to_counters(start: &Snapshot, end: &Snapshot) -> Counters {
    Counters {
        vmstat_delta: delta(&start.vmstat, &end.vmstat),
        memcg: end
            .memcg
            .iter()
            .map(|(path, e)| {
                let s = start
                    .memcg
                    .iter()
                    .find(|(p, _)| p == path)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                MemcgCounters {
                    path: path.clone(),
                    stat_delta: delta(&s, e),
                }
            })
            .collect(),
        zswap_debugfs: StartEnd {
            start: start.debugfs.clone(),
            end: end.debugfs.clone(),
        },
        zswap_params: StartEnd {
            start: start.params.clone(),
            end: end.params.clone(),
        },
        psi: match (start.psi, end.psi) {
            (Some(s), Some(e)) => Some(Psi {
                some_total_us: e.some_total_us.saturating_sub(s.some_total_us),
                full_total_us: e.full_total_us.saturating_sub(s.full_total_us),
                some_avg10_end: e.some_avg10,
                full_avg10_end: e.full_avg10,
            }),
            _ => None,
        },
    }
}

/// memory.stat fields sampled each second per memcg (cumulative since the phase start).
pub const TS_MEMCG: [&str; 5] = [
    "zswpout",
    "zswpin",
    "zswpwb",
    "zswpwb_proactive_b",
    "pgmajfault",
];
/// /proc/vmstat fields sampled each second.
pub const TS_VMSTAT: [&str; 6] = [
    "zswpout",
    "zswpin",
    "zswpwb",
    "pswpout",
    "pswpin",
    "pgmajfault",
];
/// zswap debugfs gauges sampled each second.
pub const TS_DEBUGFS: [&str; 4] = [
    "stored_pages",
    "pool_total_size",
    "pool_limit_hit",
    "written_back_pages",
];

/// Time-series values of `now` relative to `start`.
pub fn sample_values(start: &Snapshot, now: &Snapshot) -> BTreeMap<String, f64> {
    let mut v = BTreeMap::new();
    for (path, cur) in &now.memcg {
        let Some((_, s)) = start.memcg.iter().find(|(p, _)| p == path) else {
            continue;
        };
        for f in TS_MEMCG {
            if let (Some(a), Some(b)) = (s.get(f), cur.get(f)) {
                v.insert(ts_key::memcg(path, f), (b - a) as f64);
            }
        }
        if let Some(z) = cur.get("zswap") {
            v.insert(format!("level:{path}:zswap_bytes"), *z as f64);
        }
    }
    for f in TS_VMSTAT {
        if let (Some(a), Some(b)) = (start.vmstat.get(f), now.vmstat.get(f)) {
            v.insert(ts_key::vmstat(f), (b - a) as f64);
        }
    }
    for f in TS_DEBUGFS {
        if let Some(b) = now.debugfs.get(f) {
            v.insert(format!("level:zswap:{f}"), *b as f64);
        }
    }
    if let (Some(a), Some(b)) = (start.psi, now.psi) {
        v.insert(
            "psi:memory:some_total_us".into(),
            b.some_total_us.saturating_sub(a.some_total_us) as f64,
        );
        v.insert(
            "psi:memory:full_total_us".into(),
            b.full_total_us.saturating_sub(a.full_total_us) as f64,
        );
    }
    v
}

/// Live values the sampler adds to each sample (workload counters, lock contention). It owns
/// what it reads (`Arc`s, the lock reader), so the task may outlive nothing.
pub type Extra = Box<dyn FnMut() -> BTreeMap<String, f64> + Send>;

/// The measured phase's time series: a tokio task that takes a sample every `interval` after
/// the window opened (`interval_at`, so samples stay on the 1 s grid however long a read takes:
/// a late tick is taken at once and the next ones keep the grid), until `finish` tells it to
/// stop through a oneshot. Dropping the sampler without `finish` stops the task as well (the
/// sender's drop wakes it).
pub struct Sampler {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts the task on the current runtime; `t` of each sample is relative to `start.at`.
    pub fn start(src: Sources, start: Snapshot, interval: Duration, mut extra: Extra) -> Sampler {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let first = tokio::time::Instant::from_std(start.at + interval);
            let mut tick = tokio::time::interval_at(first, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut rx => break,
                    _ = tick.tick() => {}
                }
                // A handful of small procfs/sysfs reads: cheaper inline than a blocking-pool
                // hop, and this runtime's thread has nothing else to do meanwhile.
                let snap = src.snapshot();
                let mut values = sample_values(&start, &snap);
                values.extend(extra());
                out.push(Sample {
                    t_ns: snap.at.duration_since(start.at).as_nanos() as u64,
                    values,
                });
            }
            out
        });
        Sampler {
            stop: Some(tx),
            task,
        }
    }

    /// Stops the task and returns its samples.
    pub async fn finish(mut self) -> Vec<Sample> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap_or_default()
    }
}

/// Writeback pages per memcg from memory.stat deltas vs the probe's per-memcg totals. memory.stat
/// counters are hierarchical, so a memcg's zswpwb is compared with the probe's sum over its
/// subtree.
pub fn crosscheck_writeback(
    counters: &Counters,
    wb: Option<&schema::Writeback>,
) -> Vec<schema::Crosscheck> {
    let mut out = Vec::new();
    for m in &counters.memcg {
        let Some(&kernel) = m.stat_delta.get("zswpwb") else {
            continue;
        };
        let what = format!("zswpwb pages {}", m.path);
        match wb {
            Some(w) => {
                let bpf: u64 = w.per_memcg.iter().filter(|x| crate::scenario::is_under(&x.cgroup, &m.path)).map(|x| x.pages).sum();
                let agree = bpf as i64 == kernel;
                out.push(schema::Crosscheck {
                    what,
                    bpf: bpf as i64,
                    kernel,
                    agree,
                    note: if agree { String::new() } else { format!("memory.stat zswpwb delta {kernel} vs BPF {bpf} via {} (subtree sum)", w.point) },
                });
            }
            None => out.push(schema::Crosscheck {
                what,
                bpf: 0,
                kernel,
                agree: false,
                note: "writeback probe unavailable on this kernel (see probe_plan); nothing to compare".into(),
            }),
        }
    }
    if let (Some(w), Some(&k)) = (wb, counters.vmstat_delta.get("zswpwb")) {
        let agree = w.pages as i64 == k;
        out.push(schema::Crosscheck {
            what: "zswpwb pages (system, /proc/vmstat)".into(),
            bpf: w.pages as i64,
            kernel: k,
            agree,
            note: if agree {
                String::new()
            } else {
                "system-wide: includes writeback outside the scenario's memcgs".into()
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "anon 1048576\nfile 0\nzswap 524288\nzswapped 2097152\nzswpin 10\nzswpout 700\nzswpwb 123\npgscan 900\npgsteal 800\n";

    #[test]
    fn kv_and_delta() {
        let a = parse_kv(STAT);
        assert_eq!(a["zswpwb"], 123);
        assert_eq!(a.len(), 9);
        let b = parse_kv(
            &STAT
                .replace("zswpwb 123", "zswpwb 200")
                .replace("anon 1048576", "anon 4096"),
        );
        let d = delta(&a, &b);
        assert_eq!(d["zswpwb"], 77);
        assert_eq!(d["anon"], 4096 - 1048576);
        assert_eq!(d["zswpin"], 0);
    }

    #[test]
    fn psi_parsed() {
        let t = "some avg10=1.50 avg60=0.20 avg300=0.00 total=123456\nfull avg10=0.75 avg60=0.10 avg300=0.00 total=6543\n";
        let p = parse_psi(t).unwrap();
        assert_eq!(p.some_total_us, 123456);
        assert_eq!(p.full_total_us, 6543);
        assert_eq!(p.some_avg10, 1.5);
        assert!(parse_psi("").is_none());
    }

    fn snap(memcg: &[(&str, &str)], vm: &str) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            vmstat: parse_kv(vm),
            memcg: memcg
                .iter()
                .map(|(p, s)| (p.to_string(), parse_kv(s)))
                .collect(),
            debugfs: [("stored_pages".to_string(), 10)].into(),
            params: [("enabled".to_string(), "Y".to_string())].into(),
            psi: Some(PsiRaw {
                some_total_us: 5,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn counters_and_samples_are_deltas() {
        let s = snap(
            &[("/zb/p", "zswpwb 5\nzswpout 10\n")],
            "zswpwb 50\npswpout 1\n",
        );
        let mut e = snap(
            &[("/zb/p", "zswpwb 15\nzswpout 30\nzswap 4096\n")],
            "zswpwb 80\npswpout 1\n",
        );
        e.psi = Some(PsiRaw {
            some_total_us: 25,
            some_avg10: 3.0,
            ..Default::default()
        });
        let c = to_counters(&s, &e);
        assert_eq!(c.memcg[0].stat_delta["zswpwb"], 10);
        assert_eq!(c.vmstat_delta["zswpwb"], 30);
        assert_eq!(c.psi.as_ref().unwrap().some_total_us, 20);
        let v = sample_values(&s, &e);
        assert_eq!(v["memcg:/zb/p:zswpout"], 20.0);
        assert_eq!(v["vmstat:zswpwb"], 30.0);
        assert_eq!(v["level:/zb/p:zswap_bytes"], 4096.0);
        assert_eq!(v["level:zswap:stored_pages"], 10.0);
        assert_eq!(
            ts_key::split("memcg:/zb/p:zswpout"),
            Some(("memcg", "/zb/p", "zswpout"))
        );
    }

    #[test]
    fn crosscheck_sums_probe_subtree() {
        let s = snap(
            &[
                ("/zb/p", "zswpwb 0\n"),
                ("/zb/p/c1", "zswpwb 0\n"),
                ("/zb/p/c2", "zswpwb 0\n"),
            ],
            "zswpwb 0\n",
        );
        let e = snap(
            &[
                ("/zb/p", "zswpwb 30\n"),
                ("/zb/p/c1", "zswpwb 10\n"),
                ("/zb/p/c2", "zswpwb 21\n"),
            ],
            "zswpwb 31\n",
        );
        let c = to_counters(&s, &e);
        let mw = |p: &str, n| schema::MemcgWriteback {
            cgroup: p.into(),
            cgroup_id: 1,
            pages: n,
            bytes: None,
            by_source: BTreeMap::new(),
        };
        let wb = schema::Writeback {
            point: "fexit:shrink_memcg_cb".into(),
            pages: 30,
            bytes: None,
            per_memcg: vec![mw("/zb/p/c1", 10), mw("/zb/p/c2", 20)],
            lru_status: BTreeMap::new(),
        };
        let x = crosscheck_writeback(&c, Some(&wb));
        assert_eq!(x.len(), 4);
        assert!(x[0].agree, "{:?}", x[0]);
        assert_eq!(x[0].bpf, 30);
        assert!(x[1].agree);
        assert!(!x[2].agree);
        assert!(x[2].note.contains("21 vs BPF 20"), "{}", x[2].note);
        assert!(!x[3].agree);
        let none = crosscheck_writeback(&c, None);
        assert!(
            none.iter()
                .all(|x| !x.agree && x.note.contains("unavailable"))
        );
    }
}
