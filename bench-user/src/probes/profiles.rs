//! The names each version of the series gives what we probe, as data.
//!
//! The posted versions renamed and re-typed things (../shared/context/series.md): v1 and v3
//! budget proactive writeback in pages and count `zswpwb_proactive` in pages; v4 and v5 budget
//! compressed bytes and count `zswpwb_proactive_b`; v1/v3 keep the cursor lock in
//! `mem_cgroup.zswap_wb_iter.lock`, v4/v5 keep the global `zswap_shrink_lock`; v4 walks with
//! `zswap_iter_global()`/`zswap_iter_local()`. A kernel manifest may name them itself
//! (`[probes]`, passed to the guest as [`NAMES_ENV`]); otherwise the built-in profiles are tried
//! against the running kernel's BTF and the first whose proactive entry point matches wins.
use serde::{Deserialize, Serialize};

use super::btf::KernelBtf;

/// Environment variable carrying a manifest's `[probes]` table (JSON) into the guest.
pub const NAMES_ENV: &str = "ZSWAP_BENCH_PROBE_NAMES";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    #[default]
    Bytes,
    Pages,
}

impl Unit {
    /// Factor to bytes (pages are the base page size of x86_64).
    pub fn bytes(self) -> u64 {
        match self {
            Unit::Bytes => 1,
            Unit::Pages => 4096,
        }
    }
}

/// What a manifest's `[probes]` table may name. Every field is optional: unnamed ones come
/// from the matching built-in profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeNames {
    /// Proactive writeback entry point (a function taking the memcg and the budget).
    pub proactive: Option<String>,
    /// Unit of the entry point's budget argument.
    pub proactive_unit: Option<Unit>,
    /// Cursor iterator functions, first found wins.
    #[serde(default)]
    pub cursor_iter: Vec<String>,
    /// The cursor lock: a global symbol ("zswap_shrink_lock") or a member path of struct
    /// mem_cgroup ("mem_cgroup.zswap_wb_iter.lock").
    pub cursor_lock: Option<String>,
    /// The design takes `cursor_lock` exactly once per cursor call (a fact of the design the
    /// manifest vouches for). Acquisitions are then the cursor calls, and the walk-step probe,
    /// which would run inside the lock, stays off unless asked for (`--walk-steps`).
    #[serde(default)]
    pub cursor_lock_once_per_call: bool,
    /// memory.stat key counting proactive writeback, and its unit.
    pub proactive_stat: Option<String>,
    pub proactive_stat_unit: Option<Unit>,
    /// The proactive interface: "source=zswap", "zswap_writeback_only" (memory.reclaim keys)
    /// or "memory.zswap.proactive_writeback" (v1's file).
    pub interface: Option<String>,
}

/// The names in effect, with where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// "v5", "v3", ..., "reference", "manifest", or "mainline" (no series).
    pub profile: String,
    /// Why this profile: what matched in the kernel's BTF.
    pub evidence: String,
    pub proactive: Vec<String>,
    pub proactive_unit: Unit,
    pub cursor_iter: Vec<String>,
    /// The profile covers designs with and without a cursor function (the reference series'
    /// variants, or no series): its absence is then not evidence of inlining.
    pub cursor_optional: bool,
    pub cursor_lock: Vec<String>,
    /// `cursor_lock` holds exactly one lock, taken once per cursor call (manifest).
    pub lock_once_per_call: bool,
    pub proactive_stat: (String, Unit),
    pub interface: Option<String>,
}

impl Resolved {
    /// The lock kind (bench_common::lock_kind) a design declares it takes once per cursor call.
    pub fn declared_lock_kind(&self) -> Option<u32> {
        let l = self
            .cursor_lock
            .first()
            .filter(|_| self.lock_once_per_call)?;
        Some(if member_path(l).is_some() {
            bench_common::lock_kind::PER_MEMCG
        } else {
            bench_common::lock_kind::GLOBAL
        })
    }

    /// The per-memcg cursor lock: (offset in struct mem_cgroup, member path below it) as this
    /// version names it, else any zswap struct member of mem_cgroup with a spinlock `lock` (a
    /// design we do not know by name).
    pub fn memcg_lock(&self, b: &KernelBtf) -> Option<(u64, String)> {
        self.cursor_lock
            .iter()
            .filter_map(|l| member_path(l))
            .filter(|(s, _)| *s == "mem_cgroup")
            .find_map(|(s, path)| b.offset(s, &path).ok().map(|o| (o, path.join("."))))
            .or_else(|| b.memcg_cursor_lock().ok().flatten())
    }

    /// The global cursor lock's symbol: the first named global lock the kernel has, else the
    /// first named one, else `zswap_shrink_lock`.
    pub fn global_lock(&self, present: impl Fn(&str) -> bool) -> String {
        let globals = || self.cursor_lock.iter().filter(|l| member_path(l).is_none());
        globals()
            .find(|l| present(l))
            .or_else(|| globals().next())
            .map_or_else(|| GLOBAL_LOCK.to_string(), String::clone)
    }
}

struct Profile {
    name: &'static str,
    unit: Unit,
    params: usize,
    /// A struct or function only this version has (None: matched by the budget unit alone).
    marker: Option<&'static str>,
    cursor_iter: &'static [&'static str],
    cursor_lock: &'static [&'static str],
    stat: (&'static str, Unit),
    interface: &'static str,
}

const PROACTIVE: &str = "zswap_proactive_writeback";
const PER_MEMCG_LOCK: &str = "mem_cgroup.zswap_wb_iter.lock";
/// One home for the name: bench-common, shared with the eBPF side.
const GLOBAL_LOCK: &str = bench_common::names::kfunc::GLOBAL_CURSOR_LOCK;

/// Tried in order. The reference series (ours: v5's design plus the cursor alternatives) is
/// told from v5 by the walk-control struct only it has (`zswap_wb_control`; v5's is
/// `zswap_shrink_walk_arg`), since ref-nocursor, like v5, has no cursor struct; v3 from v4
/// (both budget pages) by v3's cursor struct.
const PROFILES: &[Profile] = &[
    Profile {
        name: "reference",
        unit: Unit::Bytes,
        params: 2,
        marker: Some("zswap_wb_control"),
        cursor_iter: &["zswap_mem_cgroup_iter"],
        cursor_lock: &[GLOBAL_LOCK, PER_MEMCG_LOCK],
        stat: ("zswpwb_proactive_b", Unit::Bytes),
        interface: "source=zswap",
    },
    Profile {
        name: "v5",
        unit: Unit::Bytes,
        params: 2,
        marker: Some("zswap_shrink_state"),
        cursor_iter: &[],
        cursor_lock: &[GLOBAL_LOCK],
        stat: ("zswpwb_proactive_b", Unit::Bytes),
        interface: "source=zswap",
    },
    Profile {
        name: "v3",
        unit: Unit::Pages,
        params: 2,
        marker: Some("zswap_wb_iter"),
        cursor_iter: &["zswap_mem_cgroup_iter"],
        cursor_lock: &[PER_MEMCG_LOCK, GLOBAL_LOCK],
        stat: ("zswpwb_proactive", Unit::Pages),
        interface: "zswap_writeback_only",
    },
    Profile {
        // Budget in pages (memory.reclaim bytes / PAGE_SIZE), compared with compressed
        // size; the stat counts bytes.
        name: "v4",
        unit: Unit::Pages,
        params: 2,
        marker: None,
        cursor_iter: &["zswap_iter_global", "zswap_iter_local"],
        cursor_lock: &[GLOBAL_LOCK],
        stat: ("zswpwb_proactive_b", Unit::Bytes),
        interface: "zswap_writeback_only",
    },
    Profile {
        name: "v1",
        unit: Unit::Pages,
        params: 3,
        marker: None,
        cursor_iter: &["zswap_mem_cgroup_iter"],
        cursor_lock: &[PER_MEMCG_LOCK, GLOBAL_LOCK],
        stat: ("zswpwb_proactive", Unit::Pages),
        interface: "memory.zswap.proactive_writeback",
    },
];

/// What the kernel shows of the proactive entry point: parameter names, and whether a marker
/// type or function exists. A trait so detection is testable without a kernel.
pub trait Kernel {
    fn params(&self, func: &str) -> Option<Vec<String>>;
    fn has(&self, name: &str) -> bool;
}

impl Kernel for KernelBtf {
    fn params(&self, func: &str) -> Option<Vec<String>> {
        self.func(func).map(|f| f.params)
    }
    fn has(&self, name: &str) -> bool {
        self.func(name).is_some() || self.has_struct(name)
    }
}

/// The budget unit a parameter name implies, where it says.
fn unit_of(param: &str) -> Option<Unit> {
    if param.contains("byte") {
        Some(Unit::Bytes)
    } else if param.starts_with("nr_") || param.contains("page") {
        Some(Unit::Pages)
    } else {
        None
    }
}

/// Every version's cursor iterators, each once (several versions share a name).
fn every_cursor_iter() -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for n in PROFILES.iter().flat_map(|p| p.cursor_iter) {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    names
}

fn from_profile(p: &Profile, evidence: String) -> Resolved {
    Resolved {
        profile: p.name.into(),
        evidence,
        proactive: vec![PROACTIVE.into()],
        proactive_unit: p.unit,
        cursor_iter: p.cursor_iter.iter().map(|s| s.to_string()).collect(),
        cursor_optional: p.name == "reference",
        cursor_lock: p.cursor_lock.iter().map(|s| s.to_string()).collect(),
        lock_once_per_call: false,
        proactive_stat: (p.stat.0.into(), p.stat.1),
        interface: Some(p.interface.into()),
    }
}

/// Picks the profile that matches the kernel, then lets the manifest's names override it.
pub fn resolve(k: &dyn Kernel, manifest: Option<&ProbeNames>) -> Resolved {
    let entry = manifest
        .and_then(|m| m.proactive.clone())
        .unwrap_or_else(|| PROACTIVE.to_string());
    let mut r = match k.params(&entry) {
        None => Resolved {
            profile: "mainline".into(),
            evidence: format!("no {entry} in BTF: no proactive writeback series"),
            proactive: vec![entry.clone()],
            proactive_unit: Unit::Bytes,
            cursor_iter: every_cursor_iter(),
            cursor_optional: true,
            cursor_lock: vec![GLOBAL_LOCK.into(), PER_MEMCG_LOCK.into()],
            lock_once_per_call: false,
            proactive_stat: ("zswpwb_proactive_b".into(), Unit::Bytes),
            interface: None,
        },
        Some(params) => {
            let budget = params.get(1).cloned().unwrap_or_default();
            let unit = unit_of(&budget);
            let hit = PROFILES.iter().find(|p| {
                p.params == params.len()
                    && unit.is_none_or(|u| u == p.unit)
                    && p.marker.is_none_or(|m| k.has(m))
            });
            let shown = format!("{entry}({})", params.join(", "));
            match hit {
                Some(p) => from_profile(
                    p,
                    format!(
                        "{shown}{}",
                        p.marker
                            .map_or(String::new(), |m| format!(" and {m} in BTF"))
                    ),
                ),
                None => from_profile(
                    &PROFILES[1],
                    format!("{shown} matches no known version; assuming v5's names"),
                ),
            }
        }
    };
    if let Some(m) = manifest {
        apply_manifest(&mut r, m);
    }
    r
}

fn apply_manifest(r: &mut Resolved, m: &ProbeNames) {
    let mut named = vec![];
    if let Some(p) = &m.proactive {
        r.proactive = vec![p.clone()];
        named.push("proactive");
    }
    if let Some(u) = m.proactive_unit {
        r.proactive_unit = u;
        named.push("proactive_unit");
    }
    if !m.cursor_iter.is_empty() {
        r.cursor_iter = m.cursor_iter.clone();
        named.push("cursor_iter");
    }
    if let Some(l) = &m.cursor_lock {
        r.cursor_lock = vec![l.clone()];
        r.lock_once_per_call = m.cursor_lock_once_per_call;
        named.push("cursor_lock");
    }
    if let Some(s) = &m.proactive_stat {
        r.proactive_stat = (
            s.clone(),
            m.proactive_stat_unit.unwrap_or(r.proactive_stat.1),
        );
        named.push("proactive_stat");
    }
    if let Some(i) = &m.interface {
        r.interface = Some(i.clone());
        named.push("interface");
    }
    if !named.is_empty() {
        r.evidence = format!(
            "{}; manifest [probes] names {}",
            r.evidence,
            named.join(", ")
        );
        r.profile = format!("{} + manifest", r.profile);
    }
}

/// The manifest's `[probes]` from the environment (set by the VM runner), if any.
pub fn from_env() -> anyhow::Result<Option<ProbeNames>> {
    match std::env::var(NAMES_ENV) {
        Ok(v) if !v.trim().is_empty() => serde_json::from_str(&v).map(Some).map_err(|e| {
            anyhow::anyhow!("{NAMES_ENV}: not a [probes] table as JSON: {e}; fix: unset it, or see kernels/README.md")
        }),
        _ => Ok(None),
    }
}

/// `mem_cgroup.zswap_wb_iter.lock` -> ("mem_cgroup", ["zswap_wb_iter", "lock"]); a plain
/// symbol -> None.
pub fn member_path(lock: &str) -> Option<(&str, Vec<&str>)> {
    let mut it = lock.split('.');
    let strukt = it.next()?;
    let path: Vec<&str> = it.collect();
    (!path.is_empty()).then_some((strukt, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Fake(BTreeMap<&'static str, Vec<&'static str>>, Vec<&'static str>);
    impl Kernel for Fake {
        fn params(&self, f: &str) -> Option<Vec<String>> {
            self.0
                .get(f)
                .map(|v| v.iter().map(|s| s.to_string()).collect())
        }
        fn has(&self, n: &str) -> bool {
            self.1.contains(&n)
        }
    }
    fn k(params: &[&'static str], has: &[&'static str]) -> Fake {
        Fake(BTreeMap::from([(PROACTIVE, params.to_vec())]), has.to_vec())
    }

    #[test]
    fn each_posted_version_is_told_apart() {
        let v1 = resolve(&k(&["root", "nr_max_writeback", "cutoff"], &[]), None);
        assert_eq!(
            (v1.profile.as_str(), v1.proactive_unit),
            ("v1", Unit::Pages)
        );
        assert_eq!(
            v1.interface.as_deref(),
            Some("memory.zswap.proactive_writeback")
        );
        let v3 = resolve(&k(&["memcg", "nr_to_writeback"], &["zswap_wb_iter"]), None);
        assert_eq!(
            (v3.profile.as_str(), v3.proactive_unit),
            ("v3", Unit::Pages)
        );
        assert_eq!(v3.cursor_lock[0], PER_MEMCG_LOCK);
        assert_eq!(v3.proactive_stat, ("zswpwb_proactive".into(), Unit::Pages));
        let v4 = resolve(&k(&["memcg", "nr_to_writeback"], &[]), None);
        assert_eq!(
            (v4.profile.as_str(), v4.proactive_unit),
            ("v4", Unit::Pages)
        );
        assert_eq!(
            v4.proactive_stat,
            ("zswpwb_proactive_b".into(), Unit::Bytes)
        );
        assert_eq!(v4.cursor_iter, ["zswap_iter_global", "zswap_iter_local"]);
        let v5 = resolve(
            &k(&["memcg", "bytes_to_writeback"], &["zswap_shrink_state"]),
            None,
        );
        assert_eq!((v5.profile.as_str(), v5.cursor_iter.len()), ("v5", 0));
        let r = resolve(
            &k(
                &["memcg", "bytes"],
                &["zswap_wb_control", "zswap_shrink_state"],
            ),
            None,
        );
        assert_eq!(r.profile, "reference");
        // ref-nocursor has no cursor struct, like v5: still the reference series.
        let nocursor = resolve(
            &k(
                &["memcg", "bytes"],
                &["zswap_wb_control", "zswap_shrink_state"],
            ),
            None,
        );
        assert_eq!(nocursor.profile, "reference");
        // v5 itself has zswap_shrink_state but not our zswap_wb_control.
        assert_eq!(
            resolve(&k(&["memcg", "bytes"], &["zswap_shrink_state"]), None).profile,
            "v5"
        );
        assert!(r.cursor_optional && !v3.cursor_optional);
        let none = resolve(&Fake(BTreeMap::new(), vec![]), None);
        assert_eq!((none.profile.as_str(), none.interface), ("mainline", None));
        assert_eq!(
            none.cursor_iter,
            [
                "zswap_mem_cgroup_iter",
                "zswap_iter_global",
                "zswap_iter_local"
            ]
        );
    }

    #[test]
    fn manifest_names_override_and_are_reported() {
        let m = ProbeNames {
            proactive_unit: Some(Unit::Pages),
            cursor_lock: Some("mem_cgroup.my_iter.lock".into()),
            ..Default::default()
        };
        let r = resolve(&k(&["memcg", "budget"], &["zswap_shrink_state"]), Some(&m));
        assert_eq!(r.profile, "v5 + manifest");
        assert_eq!(r.proactive_unit, Unit::Pages);
        assert_eq!(r.cursor_lock, ["mem_cgroup.my_iter.lock"]);
        assert!(
            r.evidence.contains("names proactive_unit, cursor_lock"),
            "{}",
            r.evidence
        );
        assert_eq!(
            member_path("mem_cgroup.my_iter.lock"),
            Some(("mem_cgroup", vec!["my_iter", "lock"]))
        );
        assert_eq!(member_path(GLOBAL_LOCK), None);
    }
}
