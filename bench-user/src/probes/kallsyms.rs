//! /proc/kallsyms: addresses of static symbols (zswap_shrink_lock needs CONFIG_KALLSYMS_ALL),
//! whether a static function survived as a symbol (not inlined), and stack symbolisation.
use std::collections::HashMap;

use anyhow::{Context, Result};

/// Larger offsets from the nearest symbol are not inside it.
const MAX_FUNC_SIZE: u64 = 1 << 20;

pub struct Kallsyms {
    by_name: HashMap<String, u64>,
    /// (address, name) sorted by address, text symbols only, for symbolisation.
    text: Vec<(u64, String)>,
}

impl Kallsyms {
    pub fn load() -> Result<Self> {
        let t = std::fs::read_to_string("/proc/kallsyms").context("reading /proc/kallsyms")?;
        Ok(Self::parse(&t))
    }

    pub fn parse(text: &str) -> Self {
        let mut by_name = HashMap::new();
        let mut syms = vec![];
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(a), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(a, 16) else {
                continue;
            };
            let text = matches!(kind, "t" | "T" | "W" | "w");
            if let Some(module) = it.next() {
                // Module and BPF symbols ("[bpf]": programs, trampolines) only symbolise
                // stacks; they never name a kernel target.
                if text {
                    syms.push((addr, format!("{name} {module}")));
                }
                continue;
            }
            by_name.entry(name.to_string()).or_insert(addr);
            if text {
                syms.push((addr, name.to_string()));
            }
        }
        syms.sort();
        Kallsyms {
            by_name,
            text: syms,
        }
    }

    /// Address of a symbol; None when absent or when addresses are hidden (kptr_restrict).
    pub fn addr(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied().filter(|a| *a != 0)
    }

    /// Names the compiler gave a transformed copy of a function (`name.isra.0`,
    /// `name.constprop.0`): fentry on `name` itself is then impossible.
    pub fn variants(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.");
        let mut v: Vec<String> = self
            .by_name
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Is this a symbol table with real addresses (root, kptr_restrict permitting)?
    pub fn has_addresses(&self) -> bool {
        self.by_name.values().any(|a| *a != 0)
    }

    /// "function+0xoff" for an address.
    pub fn symbolize(&self, addr: u64) -> String {
        match self.text.binary_search_by(|(a, _)| a.cmp(&addr)) {
            Ok(i) => self.text[i].1.clone(),
            Err(0) => format!("{addr:#x}"),
            // Further from the previous symbol than any function is long: an address kallsyms
            // does not cover (e.g. a BPF trampoline), not "<sym>+huge".
            Err(i) if addr - self.text[i - 1].0 > MAX_FUNC_SIZE => format!("{addr:#x}"),
            Err(i) => {
                let (a, n) = &self.text[i - 1];
                format!("{n}+{:#x}", addr - a)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "ffffffff81000000 T _text
ffffffff8163a100 t shrink_memcg
ffffffff8163a200 t shrink_memcg_cb
ffffffff8163a400 t shrink_worker
ffffffff8163a600 t zswap_writeback_entry.isra.0
ffffffff8263ab08 d zswap_shrink_lock
ffffffffc0000000 t foo\t[somemod]
";

    #[test]
    fn finds_static_lock_and_functions() {
        let k = Kallsyms::parse(SAMPLE);
        assert_eq!(k.addr("zswap_shrink_lock"), Some(0xffffffff8263ab08));
        assert_eq!(k.addr("shrink_memcg"), Some(0xffffffff8163a100));
        assert_eq!(k.addr("zswap_writeback_entry"), None);
        assert_eq!(
            k.variants("zswap_writeback_entry"),
            ["zswap_writeback_entry.isra.0"]
        );
        assert_eq!(
            k.addr("foo"),
            None,
            "module symbols never name a kernel target"
        );
        assert_eq!(k.symbolize(0xffffffffc0000010), "foo [somemod]+0x10");
        assert_eq!(
            k.symbolize(0xffffffff8263ab08 + (8 << 20)),
            "0xffffffff82e3ab08",
            "far from any symbol"
        );
    }

    #[test]
    fn symbolizes_inside_functions() {
        let k = Kallsyms::parse(SAMPLE);
        assert_eq!(k.symbolize(0xffffffff8163a45a), "shrink_worker+0x5a");
        assert_eq!(k.symbolize(0xffffffff8163a100), "shrink_memcg");
    }

    #[test]
    fn hidden_addresses_are_detected() {
        let k = Kallsyms::parse("0000000000000000 T _text\n0000000000000000 d zswap_shrink_lock\n");
        assert!(!k.has_addresses());
        assert_eq!(k.addr("zswap_shrink_lock"), None);
    }
}
