//! Bad-input cases found on the host before a VM boots (issue 24): what the guest would refuse
//! only after booting. The kernel is a bare bzImage with its config and System.map beside it,
//! so nothing boots whatever the check says.
use super::Case;

const SCENARIO: &str = "[phases]\nmeasure = \"10s\"\n[swap]\nsize = \"256M\"\n[[memcg]]\nname = \"p\"\nmemory_max = \"128M\"\n[[worker]]\nmemcg = \"p\"\nsize = \"64M\"\n";
const CONFIG: &str =
    "CONFIG_NR_CPUS=8\nCONFIG_ZSWAP=y\nCONFIG_CRYPTO_LZ4=y\n# CONFIG_CRYPTO_842 is not set\n";
const SYMBOLS: &str = "ffffffff81000000 T _text\nffffffff82a1b2c0 b zswap_shrink_lock\n";

macro_rules! preboot_case {
    ($what:expr, $scenario:expr, $($e:expr),+) => {
        Case {
            area: "before boot",
            what: $what,
            args: &["run", "{d}/s.toml", "--kernel", "{d}/bzImage", "--out", "{d}/out"],
            files: {
                let text: &'static str = $scenario;
                Box::leak(Box::new([
                    ("s.toml", text),
                    ("bzImage", "never booted"),
                    ("config", CONFIG),
                    ("System.map", SYMBOLS),
                ]))
            },
            expect: &["found before booting", $($e),+],
        }
    };
}

pub fn cases() -> Vec<Case> {
    vec![
        preboot_case!(
            "workers that cannot fit in the guest's 2 GiB",
            SCENARIO.replace("memory_max = \"128M\"\n", "").replace("size = \"64M\"", "size = \"1G\"\nprocesses = 3").leak(),
            "memory would not fit",
            "in the guest's 2.0 GiB of memory"
        ),
        preboot_case!(
            "a compressor the kernel was built without",
            SCENARIO.replace("[[memcg]]", "[zswap]\ncompressor = \"842\"\n[[memcg]]").leak(),
            "zswap.compressor \"842\"",
            "without CONFIG_CRYPTO_842=y"
        ),
        preboot_case!(
            "a watched lock the kernel does not have",
            SCENARIO.replace("[[memcg]]", "[probes]\nwatch_locks = [\"zswap_shrink_lok\"]\n[[memcg]]").leak(),
            "\"zswap_shrink_lok\" is not a symbol of kernel bzImage"
        ),
        preboot_case!(
            "proactive writeback as the idle action on a kernel without it",
            format!("{SCENARIO}[burst]\nmemcg = \"p\"\nsize = \"8M\"\nidle = \"2s\"\naction = \"proactive\"\ntarget = \"p\"\namount = \"1M\"\n").leak(),
            "has no proactive writeback",
            "--idle-action nothing or reclaim"
        ),
    ]
}
