use super::*;

const BASE: &str = r#"
name = "t"
[phases]
measure = "10s"
[swap]
size = "512M"
[zswap]
compressor = "lz4"
[probes]
watch_locks = ["zswap_shrink_lock"]
[[memcg]]
name = "p"
memory_max = "256M"
[[worker]]
memcg = "p"
size = "64M"
"#;

fn facts() -> KernelFacts {
    KernelFacts {
        name: "k".into(),
        config: "CONFIG_ZSWAP=y\nCONFIG_CRYPTO_LZ4=y\n# CONFIG_CRYPTO_ZSTD is not set\n".into(),
        symbols: "ffffffff81000000 T _text\nffffffff82a1b2c0 b zswap_shrink_lock\n".into(),
    }
}

fn plan(text: &str) -> Plan {
    scenario::parse(text, "t.toml", "t").unwrap()
}

fn err(text: &str, f: &KernelFacts, mem: u64, free: Option<u64>) -> String {
    format!("{:#}", check(&plan(text), f, mem, free).unwrap_err())
}

#[test]
fn a_scenario_that_fits_passes() {
    check(&plan(BASE), &facts(), 2 << 30, Some(100 << 30)).unwrap();
}

#[test]
fn workers_above_the_guest_memory_are_refused_before_boot() {
    // 3 x 1G unlimited: no limit sends anything to swap, and 2G cannot hold it.
    let text = BASE
        .replace("memory_max = \"256M\"", "")
        .replace("size = \"64M\"", "size = \"1G\"\nprocesses = 3");
    let e = err(&text, &facts(), 2 << 30, None);
    assert!(
        e.contains("memory would not fit") && e.contains("guest's 2.0 GiB"),
        "{e}"
    );
    assert!(e.contains("found before booting"), "{e}");
}

#[test]
fn a_swap_disk_above_the_free_space_is_refused() {
    let text = BASE.replace("size = \"512M\"", "size = \"1T\"");
    let e = err(&text, &facts(), 2 << 30, Some(50 << 30));
    assert!(
        e.contains("swap.size 1.0 TiB is more than the 50.0 GiB free"),
        "{e}"
    );
    check(&plan(&text), &facts(), 2 << 30, None).unwrap();
}

#[test]
fn a_compressor_missing_from_the_config_is_refused() {
    let text = BASE.replace("\"lz4\"", "\"zstd\"");
    let e = err(&text, &facts(), 2 << 30, None);
    assert!(e.contains("without CONFIG_CRYPTO_ZSTD=y"), "{e}");
    // Unknown config (a bare bzImage): not checked here; the guest still refuses.
    check(&plan(&text), &KernelFacts::unknown("k"), 2 << 30, None).unwrap();
}

#[test]
fn a_lock_the_kernel_lacks_is_refused_and_all_problems_are_listed() {
    let text = BASE
        .replace(
            "\"zswap_shrink_lock\"",
            "\"zswap_shrink_lock\", \"no_such_lock\"",
        )
        .replace("\"lz4\"", "\"zstd\"");
    let e = err(&text, &facts(), 2 << 30, None);
    assert!(
        e.contains("\"no_such_lock\" is not a symbol of kernel k"),
        "{e}"
    );
    assert!(
        e.contains("(2 problems)") && e.contains("CONFIG_CRYPTO_ZSTD"),
        "{e}"
    );
}

#[test]
fn a_proactive_idle_action_needs_the_interface() {
    let text = format!(
        "{BASE}[burst]\nmemcg = \"p\"\nsize = \"8M\"\nidle = \"2s\"\naction = \"proactive\"\ntarget = \"p\"\namount = \"1M\"\n"
    );
    let e = err(&text, &facts(), 2 << 30, None);
    assert!(
        e.contains("no proactive writeback") && e.contains("--idle-action"),
        "{e}"
    );
    let mut with = facts();
    with.symbols
        .push_str("ffffffff81234560 T zswap_proactive_writeback\n");
    check(&plan(&text), &with, 2 << 30, None).unwrap();
}
