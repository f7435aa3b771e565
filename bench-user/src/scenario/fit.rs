//! Does a validated scenario fit on this machine? From the memcg limits, the workers' sizes and
//! compressibility, and the machine's free RAM and swap, `check_fit` computes what stays
//! resident, what must go to swap slots and what zswap charges to each limited memcg, and
//! refuses (with the numbers) a scenario that could only end in the OOM killer.
use bench_results::human::fmt_bytes;

use super::errors::{ScenarioError, ScenarioErrors};
use super::plan::{MemcgNode, Plan, parent_of, sat_sum};
use super::spec::SwapChoice;

/// Machine numbers the fit check needs (from /proc/meminfo and /proc/swaps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineMemory {
    pub mem_total: u64,
    pub mem_available: u64,
    /// Free space in swap that is already enabled.
    pub swap_free: u64,
}

/// What the fit check computed (shown to the user on success too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// All worker + churn memory.
    pub demand: u64,
    /// What stays in RAM at most given the memcg limits (plus the zswap pool).
    pub resident: u64,
    /// What must go to swap slots (zswap entries occupy them too).
    pub to_swap: u64,
    pub swap_available: u64,
    pub ram_available: u64,
}

/// RAM kept free for the kernel, the runner and page cache.
pub fn headroom(m: &MachineMemory) -> u64 {
    (m.mem_total / 10).max(128 << 20)
}

/// Refuses a scenario whose memory cannot fit: more resident than the RAM available, more to swap
/// than the swap slots, or compressed data a limited memcg cannot hold. On success, the numbers.
pub fn check_fit(l: &Plan, m: &MachineMemory) -> Result<Fit, ScenarioErrors> {
    let tops: Vec<&MemcgNode> = l.memcgs.iter().filter(|n| !n.path.contains('/')).collect();
    // Saturating throughout: sizes come from the file, and absurd ones must be refused as not
    // fitting, never wrap around into fitting (or overflow).
    let demand = sat_sum(tops.iter().map(|t| l.demand_under(&t.path)));
    let resident_workers = sat_sum(tops.iter().map(|t| resident_cap(l, &t.path)));
    let to_swap = demand.saturating_sub(resident_workers);
    // Unset: the machine keeps its own, assumed to be the kernel's default of 20%.
    let pool_pct = l.zswap.max_pool_percent.unwrap_or(20) as u64;
    let pool = (m.mem_total / 100).saturating_mul(pool_pct).min(to_swap);
    let resident = resident_workers.saturating_add(pool);
    let ram_available = m.mem_available.saturating_sub(headroom(m));
    let swap_available = match l.swap.choice {
        SwapChoice::Existing => m.swap_free,
        _ => l.swap.size.saturating_add(m.swap_free),
    };
    let mut errs = Vec::new();
    let file = l
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| l.name.clone());
    if resident > ram_available {
        errs.push(ScenarioError {
            file: file.clone(),
            line: None,
            col: None,
            field: "worker".into(),
            message: format!(
                "memory would not fit: workers keep up to {} resident (memcg limits applied) + {} zswap pool = {}, but only {} is available ({} MemAvailable - {} headroom)",
                fmt_bytes(resident_workers),
                fmt_bytes(pool),
                fmt_bytes(resident),
                fmt_bytes(ram_available),
                fmt_bytes(m.mem_available),
                fmt_bytes(headroom(m))
            ),
            fix: "lower worker sizes/processes, or set memory_max on the memcgs so the excess goes to zswap/swap".into(),
        });
    }
    if to_swap > swap_available {
        errs.push(ScenarioError {
            file: file.clone(),
            line: None,
            col: None,
            field: "swap.size".into(),
            message: format!(
                "swap too small: {} of worker memory exceeds the memcg limits and needs swap slots (zswap entries hold one each), but only {} of swap is available",
                fmt_bytes(to_swap),
                fmt_bytes(swap_available)
            ),
            fix: format!("set swap.size to at least {} or lower the worker sizes", fmt_bytes(round_up_mib(to_swap))),
        });
    }
    let pool_max = (m.mem_total / 100).saturating_mul(pool_pct);
    errs.extend(compressed_over_limits(l, pool_max, &file));
    if errs.is_empty() {
        Ok(Fit {
            demand,
            resident,
            to_swap,
            swap_available,
            ram_available,
        })
    } else {
        Err(ScenarioErrors(errs))
    }
}

/// `b` rounded up to a whole MiB for a suggestion (the largest value stays as it is).
fn round_up_mib(b: u64) -> u64 {
    b.checked_next_multiple_of(1 << 20).unwrap_or(b)
}

/// Resident cap per top-level memcg (and, recursively, per child): min(memory.max, own demand +
/// children's caps).
fn resident_cap(l: &Plan, path: &str) -> u64 {
    let node = l.memcg(path).expect("validated");
    let own = sat_sum(l.workers.iter().filter(|w| w.memcg == path).map(|w| w.size));
    let churn = l
        .churn
        .as_ref()
        .filter(|c| c.parent == path)
        .map_or(0, |c| c.size.saturating_mul(c.live as u64));
    let children = sat_sum(
        l.memcgs
            .iter()
            .filter(|c| parent_of(&c.path) == Some(path))
            .map(|c| resident_cap(l, &c.path)),
    );
    let sum = sat_sum([own, churn, children].into_iter());
    match node.memory_max.bytes() {
        Some(b) => sum.min(b),
        None => sum,
    }
}

/// zswap's compressed pages are charged to the memcg. Unless the shrinker may write them back
/// to swap, a limited memcg must hold all of its compressed data (bounded by the pool limit,
/// which makes shrink_worker write back) or its workers are OOM-killed.
fn compressed_over_limits(l: &Plan, pool_max: u64, file: &str) -> Vec<ScenarioError> {
    let mut errs = Vec::new();
    for n in &l.memcgs {
        let Some(lim) = n.memory_max.bytes() else {
            continue;
        };
        let writeback_helps = l.zswap.shrinker_enabled == Some(true) && n.zswap_writeback;
        if writeback_helps {
            continue;
        }
        let charged = l.compressed_under(&n.path).min(pool_max);
        if charged as u128 * 10 > lim as u128 * 8 {
            let (line, col) = n.limit_at;
            errs.push(ScenarioError {
                file: file.to_string(),
                line,
                col,
                field: format!("memcg[{}].memory_max", n.spec),
                message: format!(
                    "{:?} would be OOM-killed: its workers' data compresses to about {} and zswap charges compressed pages to the memcg, but memory.max is {} and {}",
                    n.path,
                    fmt_bytes(charged),
                    fmt_bytes(lim),
                    if n.zswap_writeback { "the zswap shrinker is not enabled (zswap.shrinker_enabled), so nothing is written back to swap" } else { "zswap_writeback = false" }
                ),
                fix: format!(
                    "raise memory_max above {}, lower the worker sizes, set zswap.shrinker_enabled = true, or drop the limit and push the data to zswap with a [[pressure]] kind = \"push\"",
                    fmt_bytes(round_up_mib((charged as u128 * 5 / 4).min(u64::MAX as u128) as u64))
                ),
            });
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::fixture::BASE;
    use super::super::parse;
    use super::*;

    /// Found by the scenario fuzzer: sizes near u64::MAX overflowed the sums (a panic in debug,
    /// a wrap into "fits" in release). Sizes are now bounded (1T); the largest ones, many
    /// times over, must still be refused as not fitting.
    #[test]
    fn regression_absurd_sizes_are_refused_not_overflowed() {
        let text = "[phases]\nmeasure = \"5s\"\n[[memcg]]\nname = \"p\"\nmemory_max = \"1T\"\n[[worker]]\nmemcg = \"p\"\nsize = \"1T\"\nprocesses = 1024\n";
        let l = parse(text, "t", "t").unwrap();
        let m = MachineMemory {
            mem_total: 8 << 30,
            mem_available: 4 << 30,
            swap_free: 0,
        };
        assert!(check_fit(&l, &m).is_err());
    }

    #[test]
    fn fit_reports_numbers() {
        let l = parse(BASE, "t.toml", "t").unwrap();
        let big = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1800 << 20,
            swap_free: 0,
        };
        let f = check_fit(&l, &big).unwrap();
        assert_eq!(f.demand, 128 << 20);
        assert_eq!(f.to_swap, 0);
        // 4 x 200M under a 256M parent: 544M must go to swap, swap is 512M.
        let l = parse(
            &BASE
                .replace("size = \"32M\"", "size = \"200M\"")
                .replace("[swap]", "[zswap]\nshrinker_enabled = true\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        let e = check_fit(&l, &big).unwrap_err().0;
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains("544.0 MiB"), "{}", e[0]);
        assert!(e[0].fix.contains("544.0 MiB"), "{}", e[0]);
        // Unlimited parent on a small machine: does not fit in RAM.
        let l = parse(
            &BASE
                .replace("memory_max = \"256M\"", "memory_max = \"max\"")
                .replace("size = \"32M\"", "size = \"400M\""),
            "t.toml",
            "t",
        )
        .unwrap();
        let small = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1 << 30,
            swap_free: 0,
        };
        let e = check_fit(&l, &small).unwrap_err().0;
        assert!(e[0].message.contains("memory would not fit"), "{}", e[0]);
        assert!(e[0].message.contains("1.6 GiB"), "{}", e[0]);
    }

    #[test]
    fn compressed_data_over_the_limit_without_writeback_is_refused() {
        let big = MachineMemory {
            mem_total: 2 << 30,
            mem_available: 1800 << 20,
            swap_free: 0,
        };
        // 4 x 32M at 0.5 = 64M compressed under a 256M parent: fine.
        let l = parse(BASE, "t.toml", "t").unwrap();
        check_fit(&l, &big).unwrap();
        // 4 x 150M at 0.5 = 300M compressed under 256M, shrinker not enabled: OOM.
        let text = BASE
            .replace("size = \"32M\"", "size = \"150M\"")
            .replace("512M", "1G");
        let l = parse(&text, "t.toml", "t").unwrap();
        let e = check_fit(&l, &big).unwrap_err().0;
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "memcg[0].memory_max");
        assert_eq!(e[0].line, Some(9));
        assert!(
            e[0].message.contains("OOM-killed") && e[0].message.contains("300.0 MiB"),
            "{}",
            e[0]
        );
        assert!(e[0].fix.contains("push"), "{}", e[0]);
        // The shrinker writes back to swap: accepted.
        let l = parse(
            &text.replace("[swap]", "[zswap]\nshrinker_enabled = true\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        check_fit(&l, &big).unwrap();
        // A small pool limit bounds what is charged (shrink_worker writes back): accepted.
        let l = parse(
            &text.replace("[swap]", "[zswap]\nmax_pool_percent = 5\n[swap]"),
            "t.toml",
            "t",
        )
        .unwrap();
        check_fit(&l, &big).unwrap();
    }
}
