//! Deterministic, realistic result files made from a few parameters (like hyperfine's
//! MockExecutor), so statistics, comparisons and plots are tested without root, a VM or a
//! kernel. Same parameters and seed → the same `ResultFile`, bit for bit.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::schema::*;

mod fuzz;
pub use fuzz::{BOUNDARY_VALUES, TextEdit, apply_edits, fuzz_for_budget, text_edits, toml_tokens};

/// Parameters of one mocked run. Start from a preset ([`MockResult::baseline`],
/// [`MockResult::nocursor`], [`MockResult::percg`]) and adjust fields.
#[derive(Debug, Clone)]
pub struct MockResult {
    /// Manifest name the result is grouped by.
    pub kernel: String,
    pub scenario: String,
    pub repeat: u32,
    pub seed: u64,
    pub duration_s: u64,
    pub children: usize,
    pub interface: ProactiveInterface,
    /// Share of proactive writeback landing in the first child (1/children = fair).
    pub first_child_share: f64,
    /// Proactive pages written back over the run, all children together.
    pub proactive_pages: u64,
    pub proactive_calls: u64,
    pub proactive_latency_ns: u64,
    pub eagain_share: f64,
    pub lock_kind: LockKind,
    pub lock_contended_per_s: f64,
    pub lock_wait_ns: u64,
    pub pages_per_s: f64,
    /// Relative run-to-run jitter (standard deviation) applied to every rate.
    pub noise: f64,
    /// false: every probe family unavailable, as on a kernel without BTF.
    pub probes: bool,
}

const PARENT: &str = "/zswap-bench/parent";

impl MockResult {
    pub fn baseline(repeat: u32) -> Self {
        MockResult {
            kernel: "baseline".into(),
            scenario: "fairness-small-budget".into(),
            repeat,
            seed: 42,
            duration_s: 30,
            children: 8,
            interface: ProactiveInterface::None,
            first_child_share: 1.0 / 8.0,
            proactive_pages: 0,
            proactive_calls: 0,
            proactive_latency_ns: 0,
            eagain_share: 0.0,
            lock_kind: LockKind::Global,
            lock_contended_per_s: 50.0,
            lock_wait_ns: 20_000,
            pages_per_s: 200_000.0,
            noise: 0.02,
            probes: true,
        }
    }

    /// v5 as posted: every small-budget call restarts at the first child.
    pub fn nocursor(repeat: u32) -> Self {
        MockResult {
            kernel: "ref-nocursor".into(),
            interface: ProactiveInterface::V5SourceZswap,
            first_child_share: 0.8,
            proactive_pages: 40_000,
            proactive_calls: 3_000,
            proactive_latency_ns: 400_000,
            eagain_share: 0.3,
            ..MockResult::baseline(repeat)
        }
    }

    /// v3 design: per-memcg cursor, writeback spread evenly over the children.
    pub fn percg(repeat: u32) -> Self {
        MockResult {
            kernel: "ref-percg-lock".into(),
            first_child_share: 1.0 / 8.0,
            lock_kind: LockKind::PerMemcg,
            lock_contended_per_s: 20.0,
            lock_wait_ns: 8_000,
            proactive_latency_ns: 300_000,
            eagain_share: 0.05,
            ..MockResult::nocursor(repeat)
        }
    }

    pub fn kernel(mut self, name: &str) -> Self {
        self.kernel = name.into();
        self
    }

    pub fn build(&self) -> ResultFile {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (u64::from(self.repeat) << 32) ^ fnv(&self.kernel) ^ fnv(&self.scenario),
        );
        let dur_ns = self.duration_s * 1_000_000_000;
        let jitter = |rng: &mut ChaCha8Rng| (1.0 + self.noise * normal(rng)).max(0.0);

        let kernel = KernelInfo {
            release: "7.3.4".into(),
            version_string: "#1 SMP PREEMPT_DYNAMIC".into(),
            machine: "x86_64".into(),
            config_sha256: Some(digest("config")),
            manifest: Some(self.kernel.clone()),
            series: (self.kernel != "baseline").then(|| Series {
                name: self.kernel.clone(),
                patches: vec![
                    Patch {
                        name: "0001-mm-zswap-proactive-writeback.patch".into(),
                        sha256: digest("p1"),
                    },
                    Patch {
                        name: format!("0002-{}.patch", self.kernel),
                        sha256: digest(&self.kernel),
                    },
                ],
                applied: vec![],
                build_secs: None,
            }),
            cmdline: "console=ttyS0 zswap.enabled=1".into(),
            accel: Accel::Tcg,
            cpus: 2,
            mem_bytes: 2 << 30,
            spinlocks: Some(crate::schema::Spinlocks {
                implementation: crate::schema::SpinlockImpl::NativeQspinlock,
                evidence: "synthetic".into(),
            }),
            host_cpus: Some(2),
            numa_nodes: Some(1),
        };
        let mut params = BTreeMap::new();
        params.insert("children".into(), self.children.to_string());
        params.insert("budget".into(), "2M".into());
        params.insert("mode".into(), "repeated-small-budget".into());
        let toml = format!(
            "name = \"{}\"\nchildren = {}\n",
            self.scenario, self.children
        );
        let scenario = ScenarioInfo {
            name: self.scenario.clone(),
            sha256: digest(&toml),
            toml,
            params,
        };
        let mut r = ResultFile::new(
            format!("{}-{}-r{}", self.scenario, self.kernel, self.repeat),
            kernel,
            scenario,
        );
        r.started_unix_ns = 1_800_000_000_000_000_000 + u64::from(self.repeat) * 100_000_000_000;
        r.duration_ns = dur_ns;
        r.repeat = self.repeat;
        r.seed = self.seed;

        // Per-child proactive pages: first child gets its share, the rest split evenly.
        let children: Vec<String> = (1..=self.children)
            .map(|i| format!("{PARENT}/child{i}"))
            .collect();
        let n = self.children as f64;
        let weights: Vec<f64> = (0..self.children)
            .map(|i| {
                let w = if i == 0 {
                    self.first_child_share
                } else {
                    (1.0 - self.first_child_share) / (n - 1.0)
                };
                w * jitter(&mut rng)
            })
            .collect();
        let wsum: f64 = weights.iter().sum();
        let pro_pages: Vec<u64> = weights
            .iter()
            .map(|w| (self.proactive_pages as f64 * w / wsum).round() as u64)
            .collect();
        let shrinker_pages: Vec<u64> = (0..self.children)
            .map(|_| (2_000.0 * jitter(&mut rng)) as u64)
            .collect();
        let bytes_per_page = 1_300; // ~3:1 compression

        // Counters, in creation order: parent first.
        let mut memcg = vec![MemcgCounters {
            path: PARENT.into(),
            stat_delta: BTreeMap::from([("zswpout".into(), 500_000)]),
        }];
        for (i, c) in children.iter().enumerate() {
            let mut s = BTreeMap::new();
            s.insert("zswpout".into(), 60_000);
            s.insert("zswpwb".into(), (pro_pages[i] + shrinker_pages[i]) as i64);
            if self.interface != ProactiveInterface::None {
                s.insert(
                    "zswpwb_proactive_b".into(),
                    (pro_pages[i] * bytes_per_page) as i64,
                );
            }
            memcg.push(MemcgCounters {
                path: c.clone(),
                stat_delta: s,
            });
        }
        r.counters.memcg = memcg;
        let total_wb: u64 = pro_pages.iter().sum::<u64>() + shrinker_pages.iter().sum::<u64>();
        r.counters.vmstat_delta = BTreeMap::from([
            ("zswpwb".into(), total_wb as i64),
            ("zswpout".into(), 480_000),
        ]);
        r.counters.psi = Some(Psi {
            some_total_us: (dur_ns as f64 / 1e3 * 0.1 * jitter(&mut rng)) as u64,
            full_total_us: (dur_ns as f64 / 1e3 * 0.02) as u64,
            some_avg10_end: 9.5,
            full_avg10_end: 1.8,
        });

        // Workload.
        let pages_per_s = self.pages_per_s * jitter(&mut rng);
        r.workload = Workload {
            pages_touched: (pages_per_s * self.duration_s as f64) as u64,
            major_faults: (1_000.0 * jitter(&mut rng)) as u64,
            duration_ns: dur_ns,
            per_worker: children
                .iter()
                .map(|c| WorkerStats {
                    cgroup: c.clone(),
                    pages_touched: (pages_per_s * self.duration_s as f64 / n) as u64,
                    major_faults: 100,
                })
                .collect(),
            compressibility: Some(0.32),
        };

        // Proactive writes (userspace view).
        r.proactive_writes.interface = self.interface;
        if self.interface != ProactiveInterface::None && self.proactive_calls > 0 {
            let lat: Vec<u64> = (0..self.proactive_calls)
                .map(|_| lognormal(&mut rng, self.proactive_latency_ns as f64, 0.5))
                .collect();
            let eagain = (self.proactive_calls as f64 * self.eagain_share * jitter(&mut rng))
                .round()
                .min(self.proactive_calls as f64) as u64;
            r.proactive_writes.per_thread = vec![ProactiveThread {
                target: PARENT.into(),
                mode: "repeated-small-budget".into(),
                calls: self.proactive_calls,
                returns: BTreeMap::from([
                    (ret::OK.into(), self.proactive_calls - eagain),
                    (ret::EAGAIN.into(), eagain),
                ]),
                bytes_requested: self.proactive_calls * (2 << 20),
                bytes_achieved: Some(pro_pages.iter().sum::<u64>() * bytes_per_page),
                latency_hdr: Some(crate::schema::HdrSummary::of(&{
                    let mut h = crate::schema::new_hdr();
                    for &v in &lat {
                        crate::schema::record_n(&mut h, v, 1);
                    }
                    h
                })),
                latency: Histogram::from_values(Unit::Ns, lat),
                per_call: vec![],
            }];
        }

        if self.probes {
            self.fill_probes(&mut r, &mut rng, &children, &pro_pages, &shrinker_pages);
        } else {
            for family in ["shrink_memcg", "writeback", "locks", "proactive"] {
                r.probe_plan.push(PlanEntry {
                    metric: family.into(),
                    mechanism: Mechanism::None,
                    target: String::new(),
                    status: PlanStatus::Unavailable,
                    reason: Some("kernel has no BTF (CONFIG_DEBUG_INFO_BTF=n)".into()),
                });
            }
        }

        // 1 s time series of cumulative counters, shaped by the same totals.
        let mut acc_child = vec![0.0f64; self.children];
        let mut acc_lock = 0.0;
        let mut acc_pages = 0.0;
        for t in 0..=self.duration_s {
            let mut values = BTreeMap::new();
            if t > 0 {
                for (i, a) in acc_child.iter_mut().enumerate() {
                    *a += (pro_pages[i] + shrinker_pages[i]) as f64 / self.duration_s as f64
                        * jitter(&mut rng);
                }
                acc_lock += self.lock_contended_per_s * jitter(&mut rng);
                acc_pages += pages_per_s * jitter(&mut rng);
            }
            for (i, c) in children.iter().enumerate() {
                values.insert(ts_key::memcg(c, "zswpwb"), acc_child[i].round());
            }
            let lock_name = match self.lock_kind {
                LockKind::Global => "zswap_shrink_lock",
                LockKind::PerMemcg => PARENT,
            };
            values.insert(ts_key::lock(lock_name, "contended"), acc_lock.round());
            values.insert(ts_key::workload("pages_touched"), acc_pages.round());
            r.timeseries.push(Sample {
                t_ns: t * 1_000_000_000,
                values,
            });
        }
        r
    }

    fn fill_probes(
        &self,
        r: &mut ResultFile,
        rng: &mut ChaCha8Rng,
        children: &[String],
        pro_pages: &[u64],
        shrinker_pages: &[u64],
    ) {
        let live = |metric: &str, mechanism, target: &str| PlanEntry {
            metric: metric.into(),
            mechanism,
            target: target.into(),
            status: PlanStatus::Live,
            reason: None,
        };
        r.probe_plan = vec![
            live("shrink_memcg", Mechanism::Fexit, "shrink_memcg"),
            live("writeback", Mechanism::Fexit, "zswap_writeback_entry"),
            live("locks", Mechanism::TpBtf, "lock:contention_begin"),
        ];
        let per_lock_kind = match self.lock_kind {
            LockKind::PerMemcg => PlanEntry {
                metric: "locks:per_memcg".into(),
                mechanism: Mechanism::TpBtf,
                target: "mem_cgroup.zswap_cursor.lock".into(),
                status: PlanStatus::Live,
                reason: None,
            },
            LockKind::Global => PlanEntry {
                metric: "locks:per_memcg".into(),
                mechanism: Mechanism::None,
                target: "mem_cgroup.zswap_cursor".into(),
                status: PlanStatus::Unavailable,
                reason: Some("struct mem_cgroup has no zswap cursor in BTF".into()),
            },
        };
        r.probe_plan.push(per_lock_kind);
        if self.interface == ProactiveInterface::None {
            r.probe_plan.push(PlanEntry {
                metric: "proactive".into(),
                mechanism: Mechanism::None,
                target: "zswap_proactive_writeback".into(),
                status: PlanStatus::Unavailable,
                reason: Some("symbol not in BTF or kallsyms".into()),
            });
        } else {
            r.probe_plan.push(live(
                "proactive",
                Mechanism::Fexit,
                "zswap_proactive_writeback",
            ));
        }

        let jitter = |rng: &mut ChaCha8Rng| (1.0 + self.noise * normal(rng)).max(0.0);
        let calls = (20_000.0 * jitter(rng)) as u64;
        let lat: Vec<u64> = (0..2_000).map(|_| lognormal(rng, 50_000.0, 0.8)).collect();
        let latency = Histogram::from_values(Unit::Ns, lat);
        r.probes.shrink_memcg = Some(ShrinkMemcg {
            calls,
            latency,
            returns: BTreeMap::from([
                (ret::OK.into(), calls * 7 / 10),
                (ret::EAGAIN.into(), calls - calls * 7 / 10),
            ]),
            bytes_returned: None,
            per_memcg: children
                .iter()
                .map(|c| MemcgCalls {
                    cgroup: c.clone(),
                    cgroup_id: 1000 + fnv(c) % 1000,
                    calls: calls / children.len() as u64,
                    by_caller: BTreeMap::from([(caller::SHRINKER.into(), calls / 16)]),
                })
                .collect(),
            by_caller: BTreeMap::from([
                (caller::SHRINKER.into(), calls / 2),
                (caller::PROACTIVE.into(), calls / 2),
            ]),
        });
        let per_memcg: Vec<MemcgWriteback> = children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut by_source = BTreeMap::new();
                if pro_pages[i] > 0 {
                    by_source.insert(
                        caller::PROACTIVE.into(),
                        PagesBytes {
                            pages: pro_pages[i],
                            bytes: Some(pro_pages[i] * 1_300),
                        },
                    );
                }
                by_source.insert(
                    caller::SHRINKER.into(),
                    PagesBytes {
                        pages: shrinker_pages[i],
                        bytes: Some(shrinker_pages[i] * 1_300),
                    },
                );
                MemcgWriteback {
                    cgroup: c.clone(),
                    cgroup_id: 1000 + fnv(c) % 1000,
                    pages: pro_pages[i] + shrinker_pages[i],
                    bytes: Some((pro_pages[i] + shrinker_pages[i]) * 1_300),
                    by_source,
                }
            })
            .collect();
        let pages = per_memcg.iter().map(|m| m.pages).sum::<u64>();
        r.probes.writeback = Some(Writeback {
            point: "fexit:zswap_writeback_entry".into(),
            pages,
            bytes: Some(pages * 1_300),
            per_memcg,
            lru_status: BTreeMap::new(),
        });
        r.probes.shrink_worker = Some(ShrinkWorker {
            wakeups: (300.0 * jitter(rng)) as u64,
            runtime: Histogram::from_values(
                Unit::Ns,
                (0..300).map(|_| lognormal(rng, 200_000.0, 0.6)),
            ),
        });
        r.probes.store = Some(Store {
            calls: 500_000,
            failures: (100.0 * jitter(rng)) as u64,
        });
        if self.interface != ProactiveInterface::None {
            let t = &r.proactive_writes.per_thread;
            r.probes.proactive = t.first().map(|t| ProactiveProbe {
                calls: t.calls,
                requested_bytes: t.bytes_requested,
                written_bytes: t.bytes_achieved.unwrap_or(0),
                returns: t.returns.clone(),
                latency: t.latency.clone(),
                per_memcg: vec![MemcgProactive {
                    cgroup: PARENT.into(),
                    cgroup_id: 999,
                    calls: t.calls,
                    written_bytes: t.bytes_achieved.unwrap_or(0),
                }],
            });
        }

        // Cursor locks: the global lock, or per-memcg locks named by path (parent hottest).
        let contended_total = self.lock_contended_per_s * self.duration_s as f64 * jitter(rng);
        let lock = |rng: &mut ChaCha8Rng, name: &str, kind, share: f64, addr| {
            let contended = (contended_total * share) as u64;
            let waits: Vec<u64> = (0..contended)
                .map(|_| lognormal(rng, self.lock_wait_ns as f64, 0.7))
                .collect();
            let wait = Histogram::from_values(Unit::Ns, waits);
            LockStats {
                name: name.into(),
                kind,
                addr,
                contended,
                total_wait_ns: wait.sum,
                max_wait_ns: wait.max,
                wait,
                acquisitions: Some(contended * 20 + 1_000),
                mechanism: Some("fentry:queued_spin_lock_slowpath".into()),
                hold: Some(Histogram::from_values(
                    Unit::Ns,
                    (0..contended * 20 + 1_000).map(|_| lognormal(rng, 2_000.0, 0.5)),
                )),
                callers: vec![LockCaller {
                    stack: vec![
                        "_raw_spin_lock".into(),
                        "zswap_proactive_writeback".into(),
                        "memory_reclaim".into(),
                    ],
                    contended,
                    total_wait_ns: 0,
                }],
            }
        };
        let locks = match self.lock_kind {
            LockKind::Global => vec![lock(
                rng,
                "zswap_shrink_lock",
                LockKind::Global,
                1.0,
                0xffff_ffff_8300_1000,
            )],
            LockKind::PerMemcg => vec![
                lock(rng, PARENT, LockKind::PerMemcg, 0.7, 0xffff_8880_0100_0000),
                lock(rng, "/", LockKind::PerMemcg, 0.3, 0xffff_8880_0200_0000),
            ],
        };
        r.probes.locks = Some(locks);
        r.probes.self_cost = vec![SelfCost {
            program: "shrink_memcg_exit".into(),
            run_count: calls,
            run_time_ns: calls * 300,
        }];
    }
}

/// Standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> u64 {
    (median * (sigma * normal(rng)).exp()).round().max(1.0) as u64
}

/// FNV-1a: a stable hash for seeds and fake digests.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A fake sha256-looking hex digest.
fn digest(s: &str) -> String {
    (0..4u8)
        .map(|i| format!("{:016x}", fnv(&format!("{s}{i}"))))
        .collect()
}

/// `n` repeats of a preset, e.g. `repeats(5, MockResult::percg)`.
pub fn repeats(n: u32, preset: fn(u32) -> MockResult) -> Vec<ResultFile> {
    (0..n).map(|i| preset(i).build()).collect()
}
