//! `[probes]`: the locks to watch must be names a kernel symbol can have, so an empty or odd
//! name is refused with the file, not after a boot (whether the kernel has the symbol is checked
//! before boot against its System.map, `run/preboot.rs`).
use crate::scenario::errors::{
    Problems,
    Seg::{Idx, Key},
};
use crate::scenario::plan::Probes;
use crate::scenario::spec::ProbesSpec;

/// The longest symbol name taken (the kernel's KSYM_NAME_LEN is larger; no lock is near it).
pub const SYMBOL_MAX: usize = 128;

/// A C identifier, optionally with the compiler's `.suffix` parts (`foo.constprop.0`).
pub fn is_symbol(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= SYMBOL_MAX
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

pub(super) fn check(ps: &ProbesSpec, p: &mut Problems) -> Probes {
    for (i, name) in ps.watch_locks.iter().enumerate() {
        if !is_symbol(name) {
            p.push(
                &[Key("probes"), Key("watch_locks"), Idx(i)],
                format!("watch_locks[{i}] = {name:?} is not a kernel symbol name"),
                format!(
                    "name a lock variable: letters, digits and '_' (not starting with a digit), at most {SYMBOL_MAX} characters, e.g. \"zswap_shrink_lock\""
                ),
            );
        }
    }
    Probes {
        enabled: ps.enabled,
        crosscheck: ps.crosscheck,
        watch_locks: ps.watch_locks.clone(),
        walk_steps: ps.walk_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::is_symbol;

    #[test]
    fn lock_names_are_symbols() {
        for ok in [
            "zswap_shrink_lock",
            "_x",
            "a1",
            "foo.constprop.0",
            &"a".repeat(128),
        ] {
            assert!(is_symbol(ok), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "a b",
            "a/b",
            "../x",
            "-x",
            "ç",
            &"a".repeat(129),
            "x\n",
        ] {
            assert!(!is_symbol(bad), "{bad:?}");
        }
    }
}
