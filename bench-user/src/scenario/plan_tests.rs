//! Tests of the `Plan` validation builds: concrete values with every default applied, memcg
//! names resolved to paths, and the report params, for shipped scenarios and one that leaves
//! every optional key out.
use std::path::Path;
use std::time::Duration;

use super::plan::*;
use super::spec::{Pattern, ProactiveMode, SwapChoice};
use super::values::Limit;
use super::{load, parse};

const MIB: u64 = 1 << 20;

fn shipped(name: &str) -> Plan {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
    load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn quick_plan_has_concrete_values() {
    let l = shipped("quick");
    assert_eq!((l.name.as_str(), l.seed, l.repeats), ("quick", 1, 1));
    assert_eq!(
        l.phases,
        Phases {
            setup_timeout: secs(45),
            warmup: secs(5),
            measure: secs(20)
        }
    );
    assert_eq!(
        l.swap,
        Swap {
            choice: SwapChoice::Auto,
            size: 256 * MIB,
            file: None
        }
    );
    assert_eq!(l.zswap.max_pool_percent, Some(20));
    assert_eq!(l.zswap.shrinker_enabled, Some(true));
    assert_eq!(
        (l.zswap.compressor.clone(), l.zswap.accept_threshold_percent),
        (None, None)
    );
    assert_eq!(
        l.probes,
        Probes {
            enabled: true,
            crosscheck: false,
            watch_locks: vec![],
            walk_steps: false,
        }
    );
    let paths: Vec<&str> = l.memcgs.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["parent", "parent/child1", "parent/child2"]);
    assert_eq!(l.memcgs[0].memory_max, Limit::Bytes(96 * MIB));
    assert_eq!(l.workers.len(), 2);
    assert_eq!(
        l.workers[1],
        Worker {
            memcg: "parent/child2".into(),
            index: 0,
            size: 64 * MIB,
            threads: 1,
            compressibility: 0.4,
            pattern: Pattern::Random,
            hot_fraction: 0.2,
            hot_share: 0.9,
            chunk: crate::scenario::PAGE,
            interval: None,
            requests: None,
        }
    );
    assert_eq!(
        l.pressure,
        [Pressure {
            targets: vec!["parent".into()],
            threads: 1,
            action: PressureAction::Reclaim {
                size: 4 * MIB,
                rate: 5.0
            },
        }]
    );
    assert_eq!(
        l.proactive_threads,
        [ProactiveThread {
            target: "parent".into(),
            mode: ProactiveMode::RepeatedSmallBudget,
            budget: MIB,
            interval: Duration::from_millis(200),
            count: 0,
            serial_group: None,
        }]
    );
    assert_eq!(l.churn, None);
    let p: Vec<(&str, &str)> = l
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        p,
        [
            ("budget", "1.0 MiB"),
            ("measure", "20s"),
            ("memcgs", "3"),
            ("mode", "repeated-small-budget"),
            ("proactive_threads", "1"),
            ("reclaim_threads", "1"),
            ("worker_bytes", "128.0 MiB"),
            ("workers", "2"),
            ("zswap.enabled", "Y"),
            ("zswap.max_pool_percent", "20"),
            ("zswap.shrinker_enabled", "Y"),
        ]
    );
}

#[test]
fn contention_resolves_the_template_for_pressure() {
    let l = shipped("contention");
    let kids: Vec<String> = (1..=4).map(|k| format!("parent/child{k}")).collect();
    assert_eq!(
        l.pressure,
        [Pressure {
            targets: kids,
            threads: 2,
            action: PressureAction::Reclaim {
                size: 2 * MIB,
                rate: 0.0
            },
        }]
    );
    assert_eq!(l.proactive_threads.len(), 2);
    assert!(l.proactive_threads.iter().all(|t| t.target == "parent"
        && t.interval == Duration::from_millis(20)
        && t.count == 0
        && t.serial_group.is_none()));
    assert!(l.probes.crosscheck);
    // 2 threads on each of the 4 children the template names: 8 run, and the report says 8.
    assert_eq!(l.params["reclaim_threads"], "8");
    assert_eq!(l.params["proactive_threads"], "2");
}

#[test]
fn churn_plan_carries_churn_and_its_demand() {
    let l = shipped("churn");
    assert_eq!(
        l.churn,
        Some(Churn {
            parent: "churn".into(),
            rate: 10.0,
            live: 4,
            size: 4 * MIB
        })
    );
    assert_eq!(l.demand_under("churn"), 16 * MIB);
    assert_eq!(l.compressed_under("churn"), 8 * MIB);
    assert_eq!(l.demand_under("steady"), 48 * MIB);
    assert!(l.pressure.is_empty());
    assert_eq!(l.proactive_threads[0].target, "churn");
    assert_eq!(l.proactive_threads[0].budget, MIB);
    assert_eq!(l.phases.warmup, secs(2));
}

/// Every key left out gets its default in the plan; every pressure kind gets its action.
#[test]
fn defaults_are_applied_in_the_plan() {
    let text = r#"
[phases]
measure = "10s"
[[memcg]]
name = "a"
count = 2
[[memcg]]
name = "b"
[[memcg]]
name = "c"
[[worker]]
memcg = "a"
size = "8M"
[[worker]]
memcg = "b"
size = "1M"
pattern = "periodic"
chunk = "8K"
interval = "2ms"
[[pressure]]
kind = "reclaim"
memcg = "a"
size = "1M"
[[pressure]]
kind = "high-squeeze"
memcg = "a1"
size = "4M"
period = "500ms"
[[pressure]]
kind = "limit"
memcg = "b"
size = "1M"
[[pressure]]
kind = "push"
memcg = "a"
size = "2M"
[[proactive]]
memcg = "a2"
mode = "sequential-on-one"
budget = "1M"
threads = 2
[churn]
parent = "c"
rate = 2
"#;
    let l = parse(text, "d.toml", "d").unwrap();
    assert_eq!((l.name.as_str(), l.seed, l.repeats), ("d", 1, 1));
    assert_eq!(l.description, "");
    assert_eq!(
        l.phases,
        Phases {
            setup_timeout: secs(120),
            warmup: Duration::ZERO,
            measure: secs(10)
        }
    );
    assert_eq!(
        l.swap,
        Swap {
            choice: SwapChoice::Auto,
            size: 1 << 30,
            file: None
        }
    );
    assert_eq!(l.zswap.params(), [("enabled", "Y".to_string())]);
    assert!(l.probes.enabled && !l.probes.crosscheck);
    let w = &l.workers;
    assert_eq!(w.len(), 3);
    assert_eq!((w[0].threads, w[0].compressibility), (1, 0.5));
    assert_eq!(w[0].pattern, Pattern::Sequential);
    assert_eq!(
        (w[2].chunk, w[2].interval),
        (8192, Some(Duration::from_millis(2)))
    );
    let a = vec!["a1".to_string(), "a2".to_string()];
    let expect = [
        (
            a.clone(),
            1,
            PressureAction::Reclaim {
                size: MIB,
                rate: 0.0,
            },
        ),
        (
            vec!["a1".into()],
            1,
            PressureAction::HighSqueeze {
                size: 4 * MIB,
                period: Duration::from_millis(500),
            },
        ),
        (vec!["b".into()], 0, PressureAction::Limit { size: MIB }),
        (a, 0, PressureAction::Push { size: 2 * MIB }),
    ];
    assert_eq!(l.pressure.len(), expect.len());
    for (p, (targets, threads, action)) in l.pressure.iter().zip(expect) {
        assert_eq!(
            (&p.targets, p.threads, &p.action),
            (&targets, threads, &action)
        );
    }
    assert_eq!(l.proactive_threads.len(), 2);
    for t in &l.proactive_threads {
        assert_eq!((t.target.as_str(), t.serial_group), ("a2", Some(0)));
        assert_eq!((t.interval, t.count), (Duration::ZERO, 0));
    }
    assert_eq!(
        l.churn,
        Some(Churn {
            parent: "c".into(),
            rate: 2.0,
            live: 4,
            size: 0
        })
    );
    assert!(!l.params.contains_key("zswap.max_pool_percent"));
}

#[test]
fn swap_choice_is_resolved_from_the_device_text() {
    for (device, choice) in [
        ("auto", SwapChoice::Auto),
        ("file", SwapChoice::File),
        ("existing", SwapChoice::Existing),
        ("/dev/vdb", SwapChoice::Device("/dev/vdb".into())),
    ] {
        let text = format!(
            "[phases]\nmeasure = \"1s\"\n[swap]\ndevice = \"{device}\"\nfile = \"/var/tmp/s\"\n[[memcg]]\nname = \"a\"\n"
        );
        let l = parse(&text, "s.toml", "s").unwrap();
        assert_eq!(l.swap.choice, choice);
        assert_eq!(l.swap.size, 1 << 30);
        assert_eq!(
            l.swap.file.as_deref(),
            Some(std::path::Path::new("/var/tmp/s"))
        );
    }
}

#[test]
fn burst_and_request_workers_are_planned() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/burst-after-idle.toml"
    ))
    .unwrap();
    let mut l = parse(&text, "b.toml", "b").unwrap();
    let service = l.workers.iter().find(|w| w.memcg == "app/service").unwrap();
    assert_eq!(service.requests, Some((1000.0, 16)));
    assert_eq!(l.workers.iter().filter(|w| w.requests.is_some()).count(), 1);
    let b = l.burst.clone().unwrap();
    assert_eq!(
        (b.memcg.as_str(), b.size, b.idle),
        ("app/burst", 64 * MIB, std::time::Duration::from_secs(8))
    );
    assert_eq!(
        (b.action, b.target.as_str(), b.amount),
        (IdleAction::Nothing, "app/cold", 64 * MIB)
    );
    assert_eq!(l.params["idle_action"], "nothing");
    crate::scenario::set_idle_action(&mut l, IdleAction::Proactive).unwrap();
    assert_eq!(l.burst.unwrap().action, IdleAction::Proactive);
    assert_eq!(l.params["idle_action"], "proactive");
}
