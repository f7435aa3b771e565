//! Per-second lock contention for the time series: one read of the per-lock statistics map
//! through its own file descriptor, so the sampler thread needs nothing else of the session
//! (no stacks, no histograms: a full snapshot each second would cost far more).
use std::collections::BTreeMap;
use std::os::fd::AsFd;

use anyhow::{Context, Result};
use aya::Ebpf;
use aya::maps::{Map, MapData, PerCpuHashMap};
use bench_common::{LockStat, names};
use bench_results::schema::ts_key;

use super::cgroups::CgroupNames;

pub struct LockSampler {
    map: PerCpuHashMap<MapData, u64, LockStat>,
    /// Global locks by id (= address); any other id is a memcg's cgroup id.
    global: Vec<(u64, String)>,
    cg: CgroupNames,
    /// Contended counts at the start of the measured phase.
    start: BTreeMap<u64, u64>,
}

impl LockSampler {
    pub fn new(e: &Ebpf, global: Vec<(u64, String)>) -> Result<Self> {
        let m = e.map(names::LOCK_STATS).context("LOCK_STATS")?;
        let fd = match m {
            Map::PerCpuHashMap(d) => d.fd().as_fd().try_clone_to_owned()?,
            _ => anyhow::bail!("LOCK_STATS is not a per-CPU hash"),
        };
        let map = PerCpuHashMap::try_from(Map::from_map_data(MapData::from_fd(fd)?)?)?;
        let mut s = LockSampler {
            map,
            global,
            cg: CgroupNames::scan(std::path::Path::new("/sys/fs/cgroup")),
            start: BTreeMap::new(),
        };
        s.start = s.read();
        Ok(s)
    }

    fn read(&self) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for (k, vals) in self.map.iter().flatten() {
            *out.entry(k).or_default() += vals.iter().map(|v| v.contended).sum::<u64>();
        }
        out
    }

    /// `lock:<name>:contended` since the start of the measured phase, per lock.
    pub fn sample(&mut self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for (id, n) in self.read() {
            let name = match self.global.iter().find(|(a, _)| *a == id) {
                Some((_, g)) => g.clone(),
                None => self.cg.name(id),
            };
            let d = n.saturating_sub(self.start.get(&id).copied().unwrap_or(0));
            *m.entry(ts_key::lock(&name, "contended")).or_insert(0.0) += d as f64;
        }
        m
    }
}
