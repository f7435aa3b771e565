//! Bad-input cases of posted series named by Message-Id (kernels/posted/): the mails come from
//! `--mbox-dir` and are refused, before anything is fetched or built, when one is missing, is
//! not a patch, or is not a Message-Id at all.
use super::Case;

/// A manifest naming a two-patch series by Message-Id; `$mails` is its `mails = [...]` body.
macro_rules! manifest {
    ($extra:literal, $mails:literal) => {
        concat!(
            "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\ncover = \"s.1-1-a@example.org\"\n",
            $extra,
            "mails = [",
            $mails,
            "]\n[config]\nfragments = [\"g.config\"]\n"
        )
    };
}

const TWO: &str = manifest!(
    "",
    "{ id = \"s.1-2-a@example.org\", subject = \"[PATCH 1/2] one\" }, { id = \"s.1-3-a@example.org\", subject = \"[PATCH 2/2] two\" }"
);

/// The thread as saved: the cover letter, patch 1/2 and a reply quoting it; 2/2 is missing.
const THREAD: &str = "From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: [PATCH 0/2] series\nMessage-Id: <s.1-1-a@example.org>\n\ncover\n\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: [PATCH 1/2] one\nMessage-Id: <s.1-2-a@example.org>\n\nx\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: Re: [PATCH 1/2] one\nMessage-Id: <r@example.org>\nIn-Reply-To: <s.1-2-a@example.org>\n\n> diff --git a/x b/x\nok\n";

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            area: "posted",
            what: "a series whose mbox folder lacks one patch (the cover letter and a reply are there)",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}"],
            files: &[
                ("k.toml", TWO),
                ("g.config", "CONFIG_ZSWAP=y\n"),
                ("thread.mbx", THREAD),
            ],
            expect: &[
                "1 of the 2 patches of series s.1-1-a@example.org are not in",
                "[PATCH 2/2] two <s.1-3-a@example.org>",
                "b4 mbox s.1-1-a@example.org",
            ],
        },
        Case {
            area: "posted",
            what: "the cover letter listed as a patch",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}"],
            files: &[
                (
                    "k.toml",
                    manifest!(
                        "",
                        "{ id = \"s.1-1-a@example.org\" }, { id = \"s.1-2-a@example.org\" }"
                    ),
                ),
                ("g.config", "CONFIG_ZSWAP=y\n"),
                ("thread.mbx", THREAD),
            ],
            expect: &["a mail without a diff (a cover letter or a reply), not a patch"],
        },
        Case {
            area: "posted",
            what: "a Message-Id with a space in it",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}"],
            files: &[
                ("k.toml", manifest!("", "{ id = \"s.1 2-a@example.org\" }")),
                ("g.config", "CONFIG_ZSWAP=y\n"),
            ],
            expect: &[
                "is not a Message-Id",
                "copy it from the mail's Message-Id header",
            ],
        },
        Case {
            area: "posted",
            what: "one Message-Id listed twice",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}"],
            files: &[
                (
                    "k.toml",
                    manifest!(
                        "",
                        "{ id = \"s.1-2-a@example.org\" }, { id = \"<s.1-2-a@example.org>\" }"
                    ),
                ),
                ("g.config", "CONFIG_ZSWAP=y\n"),
            ],
            expect: &["is listed twice"],
        },
        Case {
            area: "posted",
            what: "a cover letter without its patches",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}"],
            files: &[(
                "k.toml",
                "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\ncover = \"s.1-1-a@example.org\"\n[config]\nfragments = [\"g.config\"]\n",
            )],
            expect: &["names a cover letter but no mails"],
        },
        Case {
            area: "posted",
            what: "`--mbox-dir` naming a folder that does not exist",
            args: &["kernel", "build", "{d}/k.toml", "--mbox-dir", "{d}/nowhere"],
            files: &[("k.toml", TWO), ("g.config", "CONFIG_ZSWAP=y\n")],
            expect: &["mbox folder", "cannot be listed", "--mbox-dir"],
        },
    ]
}
