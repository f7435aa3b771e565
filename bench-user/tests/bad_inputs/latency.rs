//! Bad-input cases of the latency experiment: `[burst]`, request workers and `--idle-action`.
use super::Case;

/// A scenario that validates, with a request worker and a burst; each case breaks one thing.
const GOOD: &str = "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"app\"\n[[memcg]]\nname = \"app/s\"\n[[memcg]]\nname = \"app/b\"\n[[worker]]\nmemcg = \"app/s\"\nsize = \"4M\"\npattern = \"requests\"\nrate = 1000\npages_per_request = 16\n[burst]\nmemcg = \"app/b\"\nsize = \"8M\"\nidle = \"8s\"\ntarget = \"app/s\"\namount = \"4M\"\n";

macro_rules! case {
    ($what:expr, $file:expr, $($e:expr),+) => {
        Case {
            area: "scenario",
            what: $what,
            args: &["run", "{d}/s.toml", "--kernel", "no-such-kernel"],
            files: &[("s.toml", $file)],
            expect: &[$($e),+],
        }
    };
}

pub fn cases() -> Vec<Case> {
    // Each file is GOOD with one line changed (kept literal: the rows are 'static).
    vec![
        case!(
            "a burst after the measured phase ends",
            "[phases]\nmeasure = \"5s\"\n[[memcg]]\nname = \"app\"\n[[memcg]]\nname = \"app/b\"\n[burst]\nmemcg = \"app/b\"\nsize = \"8M\"\nidle = \"8s\"\ntarget = \"app/b\"\namount = \"4M\"\n",
            "burst.idle",
            "shorter than the measured phase"
        ),
        case!(
            "an unknown idle action",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"app\"\n[[memcg]]\nname = \"app/b\"\n[burst]\nmemcg = \"app/b\"\nsize = \"8M\"\nidle = \"8s\"\naction = \"flush\"\ntarget = \"app/b\"\namount = \"4M\"\n",
            "unknown action \"flush\"",
            "\"nothing\", \"reclaim\" or \"proactive\""
        ),
        case!(
            "a burst in an inner memcg",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"app\"\n[[memcg]]\nname = \"app/b\"\n[burst]\nmemcg = \"app\"\nsize = \"8M\"\nidle = \"8s\"\ntarget = \"app/b\"\namount = \"4M\"\n",
            "has child memcgs",
            "leaf"
        ),
        case!(
            "an idle action on an undeclared memcg",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"app\"\n[[memcg]]\nname = \"app/b\"\n[burst]\nmemcg = \"app/b\"\nsize = \"8M\"\nidle = \"8s\"\ntarget = \"cold\"\namount = \"4M\"\n",
            "burst.target",
            "unknown memcg \"cold\""
        ),
        case!(
            "a request worker without a rate",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"s\"\n[[worker]]\nmemcg = \"s\"\nsize = \"4M\"\npattern = \"requests\"\npages_per_request = 16\n",
            "needs rate",
            "rate = 1000"
        ),
        case!(
            "more pages per request than the worker has",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"s\"\n[[worker]]\nmemcg = \"s\"\nsize = \"4M\"\npattern = \"requests\"\nrate = 1000\npages_per_request = 5000\n",
            "pages_per_request 5000 is outside 1..=1024"
        ),
        case!(
            "a rate on a worker that issues no requests",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"s\"\n[[worker]]\nmemcg = \"s\"\nsize = \"4M\"\nrate = 1000\n",
            "rate is only used by pattern \"requests\"",
            "remove rate"
        ),
        case!(
            "a negative request rate",
            "[phases]\nmeasure = \"20s\"\n[[memcg]]\nname = \"s\"\n[[worker]]\nmemcg = \"s\"\nsize = \"4M\"\npattern = \"requests\"\nrate = -5\npages_per_request = 1\n",
            "-5 is not a rate in 0..=1000000"
        ),
        Case {
            area: "cli",
            what: "`--idle-action` on a scenario without a `[burst]`",
            args: &[
                "run",
                "quick",
                "--kernel",
                "no-such-kernel",
                "--idle-action",
                "proactive",
            ],
            files: &[],
            expect: &["has no [burst] section", "drop --idle-action"],
        },
        Case {
            area: "cli",
            what: "an unknown `--idle-action`",
            args: &[
                "run",
                "{d}/s.toml",
                "--kernel",
                "no-such-kernel",
                "--idle-action",
                "later",
            ],
            files: &[("s.toml", GOOD)],
            expect: &["unknown idle action \"later\""],
        },
        Case {
            area: "matrix",
            what: "an unknown idle action in a sweep",
            args: &["matrix", "{d}/m.toml", "--out", "{d}/o"],
            files: &[(
                "m.toml",
                "kernels = [\"baseline\"]\nscenarios = [\"quick\"]\n[[sweep]]\nscenarios = [\"quick\"]\nidle_actions = [\"soon\"]\n",
            )],
            expect: &[
                "unknown idle action \"soon\"",
                "nothing, reclaim or proactive",
            ],
        },
    ]
}
