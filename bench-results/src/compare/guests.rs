//! Runs of one kernel in one scenario on different guests (another vCPU count, spinlock
//! implementation, NUMA layout or accelerator) are different experiments: contention grows with
//! the vCPUs, and a TCG run is no repeat of a KVM run. `compare` and `table` refuse to pool
//! them, naming each guest and its runs; `--split-by guest` compares them apart, each labelled
//! with what differs ("ref-cmpxchg 4 vCPUs"). `plot` draws them apart the same way.
use super::builds::{Distinct, distinct_per, sides};
use crate::schema::ResultFile;

/// The guest a run ran on, as far as it decides what the run measures.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Guest {
    cpus: u32,
    spinlocks: &'static str,
    numa: Option<u32>,
    accel: &'static str,
}

impl Guest {
    fn of(r: &ResultFile) -> Guest {
        let k = &r.kernel;
        Guest {
            cpus: k.cpus,
            spinlocks: k
                .spinlocks
                .as_ref()
                .map_or("spinlocks unknown", |s| s.implementation.describe()),
            numa: k.numa_nodes,
            accel: k.accel.qemu_name().unwrap_or("host"),
        }
    }

    /// Each field as text, in one order: (vCPUs, spinlocks, NUMA, accelerator).
    fn parts(&self) -> [String; 4] {
        [
            format!("{} vCPUs", self.cpus),
            self.spinlocks.to_string(),
            match self.numa {
                Some(n) if n > 1 => format!("{n} NUMA nodes"),
                _ => "1 NUMA node".into(),
            },
            self.accel.to_string(),
        ]
    }

    fn describe(&self) -> String {
        self.parts().join(", ")
    }
}

/// Per (scenario, kernel label), its distinct guests in order of first appearance with their
/// run counts. A failed run is left out: it may have stopped before its guest was known
/// (spinlocks unknown), and it is counted apart in reports anyway.
fn guests(results: &[ResultFile]) -> Distinct<(String, String), Guest> {
    distinct_per(
        results.iter().filter(|r| r.failed.is_none()),
        |r| (r.scenario.name.clone(), r.kernel.label().to_string()),
        Guest::of,
    )
}

/// One message per kernel and scenario whose runs ran on several guests, each guest with its
/// run count: empty when nothing would be pooled.
pub fn pooled_guests(results: &[ResultFile]) -> Vec<String> {
    guests(results)
        .into_iter()
        .filter(|(_, g)| g.len() > 1)
        .map(|((scenario, label), g)| {
            format!(
                "kernel {label:?} ran scenario {scenario} on {} different guests among these results:\n{}",
                g.len(),
                sides("guest", &g, Guest::describe)
            )
        })
        .collect()
}

/// `--split-by guest`: where a kernel ran one scenario on several guests, each of its runs is
/// labelled with what differs between them ("ref-cmpxchg 4 vCPUs", "baseline kvm"); kernels
/// on one guest keep their label.
pub fn split_by_guest(results: &mut [ResultFile]) {
    let all = guests(results);
    for r in results.iter_mut() {
        let key = (r.scenario.name.clone(), r.kernel.label().to_string());
        let Some((_, g)) = all.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if g.len() < 2 {
            continue;
        }
        let parts: Vec<[String; 4]> = g.iter().map(|(x, _)| x.parts()).collect();
        let mine = Guest::of(r).parts();
        let differing: Vec<&str> = (0..4)
            .filter(|&i| parts.iter().any(|p| p[i] != parts[0][i]))
            .map(|i| mine[i].as_str())
            .collect();
        r.kernel.manifest = Some(format!("{} {}", key.1, differing.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Accel;
    use crate::testing::{MockResult, repeats};

    #[test]
    fn one_kernel_on_two_vcpu_counts_is_named_and_split() {
        let mut runs = repeats(3, MockResult::percg);
        runs.extend(repeats(2, MockResult::baseline));
        assert!(pooled_guests(&runs).is_empty());
        runs[2].kernel.cpus = 4;
        let m = pooled_guests(&runs);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("ran scenario fairness-small-budget on 2 different guests"),
            "{}",
            m[0]
        );
        assert!(
            m[0].contains("guest-1: 2 run(s): 2 vCPUs")
                && m[0].contains("guest-2: 1 run(s): 4 vCPUs"),
            "{}",
            m[0]
        );
        split_by_guest(&mut runs);
        let labels: Vec<&str> = runs.iter().map(|r| r.kernel.label()).collect();
        assert_eq!(
            labels,
            [
                "ref-percg-lock 2 vCPUs",
                "ref-percg-lock 2 vCPUs",
                "ref-percg-lock 4 vCPUs",
                "baseline",
                "baseline"
            ]
        );
        assert!(pooled_guests(&runs).is_empty());
    }

    #[test]
    fn a_failed_run_is_no_guest_of_its_own() {
        let mut runs = repeats(3, MockResult::baseline);
        runs[2].kernel.spinlocks = None;
        runs[2].failed = Some("stopped".into());
        assert!(pooled_guests(&runs).is_empty());
        runs[1].kernel.cpus = 4;
        runs[2].kernel.cpus = 4;
        split_by_guest(&mut runs);
        let labels: Vec<&str> = runs.iter().map(|r| r.kernel.label()).collect();
        assert_eq!(
            labels,
            ["baseline 2 vCPUs", "baseline 4 vCPUs", "baseline 4 vCPUs"]
        );
    }

    #[test]
    fn another_accelerator_is_another_guest_and_other_scenarios_are_not_pooled() {
        let mut runs = repeats(2, MockResult::baseline);
        runs[1].kernel.accel = Accel::Kvm;
        assert_eq!(pooled_guests(&runs).len(), 1);
        split_by_guest(&mut runs);
        assert_eq!(runs[1].kernel.label(), "baseline kvm");
        // The same kernel at another vCPU count in another scenario: two experiments, nothing
        // pooled.
        let mut runs = repeats(2, MockResult::baseline);
        runs[1].kernel.cpus = 8;
        runs[1].scenario.name = "other".into();
        assert!(pooled_guests(&runs).is_empty());
    }
}
