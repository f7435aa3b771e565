//! A series given by Message-Id, as a user runs a posted version (kernels/posted/), without any
//! posted code: a synthetic two-patch series of our own is put in an mbox with a cover letter
//! and a reply, named by Message-Id in a manifest, read through ZSWAP_BENCH_MBOX_DIR and built
//! with one fix-up and one fuzzed hunk. `kernel list` must then say how each patch went in.
//! The patches only add comments to mm/zswap.c, so the build recompiles one file over the
//! cached baseline tree (about a minute) and leaves the header state as it was.
mod common;
use common::*;

use std::path::{Path, PathBuf};

const COVER: &str = "20261207000000.1-1-synthetic@zswap-bench.invalid";

fn id(k: usize) -> String {
    COVER.replace(".1-1-", &format!(".1-{}-", k + 1))
}

/// mm/zswap.c of the cached Debian source, as the series' base (`base` tag).
fn base_zswap_c() -> String {
    let cache = std::env::var_os("ZSWAP_BENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/zswap-bench"));
    let src = std::fs::read_dir(cache.join("src"))
        .expect("the kernel source cache: scripts/test builds baseline first")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("linux-source-7.3")
        })
        .expect("linux-source-7.3 in the source cache");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&src)
        .args(["show", "base:mm/zswap.c"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// A one-hunk diff adding `add` before the line that is `before`, with three lines of context
/// each side; `first_context`, if given, replaces the first context line (the patch was
/// written against a tree where that line differs, so it needs `patch -F1`).
fn hunk(base: &str, before: &str, add: &str, first_context: Option<&str>) -> String {
    let lines: Vec<&str> = base.lines().collect();
    let at = lines.iter().position(|l| *l == before).expect(before);
    let mut ctx: Vec<String> = lines[at - 3..at + 3]
        .iter()
        .map(|l| l.to_string())
        .collect();
    if let Some(f) = first_context {
        ctx[0] = f.to_string();
    }
    let line = |l: &String| format!(" {l}\n");
    format!(
        "diff --git a/mm/zswap.c b/mm/zswap.c\n--- a/mm/zswap.c\n+++ b/mm/zswap.c\n@@ -{s},6 +{s},7 @@\n{}+{add}\n{}",
        ctx[..3].iter().map(line).collect::<String>(),
        ctx[3..].iter().map(line).collect::<String>(),
        s = at - 2
    )
}

fn mail(id: &str, subject: &str, reply_to: Option<&str>, body: &str) -> String {
    let reply = reply_to.map_or(String::new(), |r| format!("In-Reply-To: <{r}>\n"));
    format!(
        "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: zswap-bench test <test@zswap-bench.invalid>\nDate: Mon, 7 Dec 2026 00:00:00 +0000\nSubject: {subject}\nMessage-Id: <{id}>\n{reply}\n{body}\n"
    )
}

fn patch_body(what: &str, diff: &str) -> String {
    format!(
        "{what}\n\nSigned-off-by: zswap-bench test <test@zswap-bench.invalid>\n---\n mm/zswap.c | 1 +\n 1 file changed, 1 insertion(+)\n\n{diff}-- \n2.39.2\n"
    )
}

/// The manifest, its mbox folder and fix-up, in `dir`.
fn series(dir: &Path, with_patch2: bool) -> PathBuf {
    let base = base_zswap_c();
    let p1 = hunk(
        &base,
        "/* The number of pages currently stored in zswap */",
        "/* zswap-bench synthetic series: patch 1 */",
        None,
    );
    let p2 = hunk(
        &base,
        "#include \"swap.h\"",
        "/* zswap-bench synthetic series: patch 2 */",
        Some("#include <linux/list_lru_old.h>"),
    );
    let fix = hunk(
        &base,
        "/* Pool limit was hit (see zswap_max_pool_percent) */",
        "/* zswap-bench synthetic series: our fix-up */",
        None,
    );
    let mut mbox = mail(
        COVER,
        "[PATCH synthetic 0/2] two comments",
        None,
        "A cover letter.\n",
    );
    mbox += &mail(
        &id(1),
        "[PATCH synthetic 1/2] mm/zswap: first comment",
        Some(COVER),
        &patch_body("Adds a comment.", &p1),
    );
    mbox += &mail(
        "reply-1@zswap-bench.invalid",
        "Re: [PATCH synthetic 1/2] mm/zswap: first comment",
        Some(&id(1)),
        "> +/* zswap-bench synthetic series: patch 1 */\nWhy?\n",
    );
    if with_patch2 {
        mbox += &mail(
            &id(2),
            "[PATCH synthetic 2/2] mm/zswap: second comment",
            Some(COVER),
            &patch_body("Adds another comment, written on another tree.", &p2),
        );
    }
    std::fs::create_dir_all(dir.join("mails")).unwrap();
    // Not named after anything in the manifest: mails are found by Message-Id.
    std::fs::write(dir.join("mails/thread.mbx"), mbox).unwrap();
    std::fs::write(
        dir.join("fixup.patch"),
        format!(
            "From: zswap-bench test <test@zswap-bench.invalid>\nSubject: [PATCH] port: a comment our base lacks\n\n---\n{fix}"
        ),
    )
    .unwrap();
    let manifest = dir.join("synthetic-posted.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"name = "synthetic-posted"
description = "two comment-only patches by Message-Id (tests/posted_build.rs)"
[source]
debian = "linux-source-7.3"
[[patches]]
cover = "{COVER}"
fuzz = 1
mails = [
  {{ id = "{}", subject = "[PATCH synthetic 1/2] mm/zswap: first comment" }},
  {{ id = "{}", subject = "[PATCH synthetic 2/2] mm/zswap: second comment" }},
]
[[fixups]]
after = "synthetic 1/2"
file = "fixup.patch"
[config]
fragments = ["{}"]
"#,
            id(1),
            id(2),
            repo().join("kernels/config/guest.config").display()
        ),
    )
    .unwrap();
    manifest
}

fn zb_with_mails(dir: &Path, args: &[&str]) -> std::process::Output {
    run_env(args, &[("ZSWAP_BENCH_MBOX_DIR", &dir.join("mails"))])
}

#[test]
#[ignore = "builds a kernel: scripts/test runs it (ZSWAP_BENCH_VM_TESTS=1, --include-ignored)"]
fn a_series_by_message_id_builds_with_a_fixup_and_a_fuzzed_hunk() {
    require_vm();
    let d = tempfile::tempdir().unwrap();
    // A missing mail is named before anything is fetched or built.
    let m = series(d.path(), false);
    let out = zb_with_mails(d.path(), &["kernel", "build", m.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "[PATCH synthetic 2/2] mm/zswap: second comment <{}>",
            id(2)
        )) && err.contains("ZSWAP_BENCH_MBOX_DIR"),
        "{err}"
    );
    let m = series(d.path(), true);
    let t = std::time::Instant::now();
    let out = zb_with_mails(d.path(), &["kernel", "build", m.to_str().unwrap()]);
    assert!(out.status.success());
    eprintln!("built in {:.0} s", t.elapsed().as_secs_f64());
    let list = String::from_utf8(run(&["kernel", "list"]).stdout).unwrap();
    let ours: Vec<&str> = list
        .lines()
        .skip_while(|l| !l.starts_with("synthetic-posted "))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect();
    assert_eq!(ours.len(), 3, "{list}");
    assert_eq!(
        ours[0].trim(),
        "git am: [PATCH synthetic 1/2] mm/zswap: first comment"
    );
    assert!(
        ours[1].contains("fix-up fixup.patch") && ours[1].contains("synthetic 1/2"),
        "{}",
        ours[1]
    );
    assert!(
        ours[2]
            .trim()
            .starts_with("patch -F1: mm/zswap.c hunk #1 fuzz 1")
            && ours[2].ends_with("[PATCH synthetic 2/2] mm/zswap: second comment"),
        "{}",
        ours[2]
    );
}
