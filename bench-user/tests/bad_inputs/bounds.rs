//! Bad-input cases of the bounds rule (issue 24): every number has a maximum, refused at once
//! with the field, the value and the maximum; command-line numbers say what they must be; a
//! posted series' manifest says which mail is missing and where to put it.
use super::Case;

/// A small valid scenario with `$memcg` appended to its template memcg, `$worker` to its
/// worker and `$top` before its first section.
macro_rules! scenario {
    ($top:literal, $memcg:literal, $worker:literal) => {
        concat!(
            $top,
            "[phases]\nmeasure = \"10s\"\n[swap]\nsize = \"256M\"\n[[memcg]]\nname = \"p\"\n[[memcg]]\nname = \"p/c\"\n",
            $memcg,
            "[[worker]]\nmemcg = \"p/c\"\nsize = \"16M\"\n",
            $worker
        )
    };
}

macro_rules! bound_case {
    ($what:expr, $text:expr, $($e:expr),+) => {
        Case {
            area: "bounds",
            what: $what,
            args: &["run", "{d}/s.toml", "--kernel", "no-such-kernel"],
            files: {
                let text: &'static str = $text;
                Box::leak(Box::new([("s.toml", text)]))
            },
            expect: &[$($e),+],
        }
    };
}

pub fn cases() -> Vec<Case> {
    vec![
        bound_case!(
            "`count = 4294967295` (2^32−1 memcgs)",
            scenario!("", "count = 4294967295\n", ""),
            "4294967295 is above the maximum 4096 (memcg.count)"
        ),
        bound_case!(
            "`count = 100000` (was minutes of validation)",
            scenario!("", "count = 100000\n", ""),
            "100000 is above the maximum 4096"
        ),
        bound_case!(
            "`processes = 4294967295`",
            scenario!("", "", "processes = 4294967295\n"),
            "above the maximum 1024 (worker.processes)"
        ),
        bound_case!(
            "`threads = 4294967295`",
            scenario!("", "", "threads = 4294967295\n"),
            "above the maximum 1024 (worker.threads)"
        ),
        bound_case!(
            "1,024 processes in each of 8 memcgs",
            scenario!("", "count = 8\n", "processes = 1024\n"),
            "8192 is above the maximum 4096 (worker processes in all)"
        ),
        bound_case!(
            "`measure = \"10000000000000000000s\"`",
            scenario!("", "", "")
                .replacen("10s", "10000000000000000000s", 1)
                .leak(),
            "above the maximum of any duration, 24h"
        ),
        bound_case!(
            "`measure = \"25h\"`",
            scenario!("", "", "").replacen("10s", "25h", 1).leak(),
            "above the maximum of any duration, 24h"
        ),
        bound_case!(
            "a swap size of 4 TiB",
            scenario!("", "", "").replacen("256M", "4T", 1).leak(),
            "above the maximum of any size, 1T"
        ),
        bound_case!(
            "a size of 2^64−1 bytes as a TOML number",
            scenario!("", "", "")
                .replacen("\"16M\"", "18446744073709551615", 1)
                .leak(),
            "number too large",
            "TOML's integers stop at 9223372036854775807"
        ),
        bound_case!(
            "`repeats = 4294967295`",
            scenario!("repeats = 4294967295\n", "", ""),
            "above the maximum 1000 (repeats)"
        ),
        bound_case!(
            "a memcg name part of 300 bytes",
            scenario!("", "", "")
                .replacen("\"p/c\"", &format!("\"p/{}\"", "c".repeat(300)), 2)
                .leak(),
            "above the kernel's limit of 255"
        ),
        bound_case!(
            "a name part of 254 bytes in a template of 20 (its number makes 256)",
            scenario!("", "count = 20\n", "")
                .replacen("\"p/c\"", &format!("\"p/{}\"", "c".repeat(254)), 2)
                .leak(),
            "256 bytes with the template's number"
        ),
        bound_case!(
            "`rate = 1e12` reclaim writes a second",
            scenario!(
                "",
                "",
                "[[pressure]]\nkind = \"reclaim\"\nmemcg = \"p\"\nsize = \"1M\"\nrate = 1e12\n"
            ),
            "not a rate in 0..=1000000"
        ),
        bound_case!(
            "`rate = nan`",
            scenario!(
                "",
                "",
                "[[pressure]]\nkind = \"reclaim\"\nmemcg = \"p\"\nsize = \"1M\"\nrate = nan\n"
            ),
            "NaN is not a rate"
        ),
        bound_case!(
            "`count = 18446744073709551615` proactive calls",
            scenario!(
                "",
                "",
                "[[proactive]]\nmemcg = \"p\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"\ncount = 18446744073709551615\n"
            ),
            "number too large"
        ),
        bound_case!(
            "`count = 1000001` proactive calls",
            scenario!(
                "",
                "",
                "[[proactive]]\nmemcg = \"p\"\nmode = \"sequential-on-one\"\nbudget = \"1M\"\ncount = 1000001\n"
            ),
            "1000001 is above the maximum 1000000 (proactive.count)"
        ),
        bound_case!(
            "a scenario name of 5,000 characters",
            format!("name = \"{}\"\n{}", "n".repeat(5000), scenario!("", "", "")).leak(),
            "is 5000 characters, above the maximum 100",
            "at most 100 characters"
        ),
        Case {
            area: "cli",
            what: "`--repeat -1`",
            args: &["run", "quick", "--kernel", "baseline", "--repeat", "-1"],
            files: &[],
            expect: &[
                "\"-1\" is not a number of repeats",
                "positive whole number, at most 1000",
            ],
        },
        Case {
            area: "cli",
            what: "`--repeat 4294967296`",
            args: &[
                "run",
                "quick",
                "--kernel",
                "baseline",
                "--repeat",
                "4294967296",
            ],
            files: &[],
            expect: &["is not a number of repeats"],
        },
        Case {
            area: "matrix",
            what: "`repeats = 5000` in a matrix",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\nrepeats = 5000\n",
            )],
            expect: &["repeats = 5000 is above the maximum 1000"],
        },
    ]
}
