//! Applying a series to a source tree the way a kernel developer would: `git am -3` first,
//! then, where the manifest allows it, `patch -F N`; fix-ups after named patches. Real series
//! are written against trees we do not have (mm-unstable), so what was fuzzed, merged or fixed
//! up is recorded with the kernel, and a patch that does not apply is reported with the first
//! failing file and hunk and with the blob the patch expects next to the blob the tree has.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use super::manifest::PatchInput;

/// One mail or patch file to apply, in order.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The mail's subject, else the file name.
    pub name: String,
    pub path: PathBuf,
    /// Most context lines `patch` may ignore (0 = exact, `git am -3` only).
    pub fuzz: u32,
}

/// How one unit went in; stored with the kernel and in every result's identity.
pub type Applied = (String, String);

fn git(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).args(args);
    c
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout)
}

/// Splits mboxes into one file per mail (under `tmp`), skipping mails without a diff (cover
/// letters, replies), so that fuzz and fix-ups can address single patches.
pub fn units(patches: &[PatchInput], tmp: &Path) -> Result<(Vec<Unit>, Vec<Applied>)> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, p) in patches.iter().enumerate() {
        if let Some(id) = &p.message_id {
            let path = tmp.join(format!("mail{i}.eml"));
            std::fs::write(&path, super::mails::extract(&p.path, id, &p.sha256)?)?;
            out.push(Unit {
                name: p.name.clone(),
                path,
                fuzz: p.fuzz,
            });
            continue;
        }
        if !p.mbox {
            out.push(Unit {
                name: subject(&p.path).unwrap_or_else(|| p.name.clone()),
                path: p.path.clone(),
                fuzz: p.fuzz,
            });
            continue;
        }
        let dir = tmp.join(format!("mbox{i}"));
        std::fs::create_dir_all(&dir)?;
        let o = Command::new("git")
            .arg("mailsplit")
            .arg(format!("-o{}", dir.display()))
            .arg(&p.path)
            .output()
            .context("git mailsplit")?;
        if !o.status.success() {
            bail!(
                "{}: not an mbox git can split: {}",
                p.path.display(),
                text(&o).trim()
            );
        }
        let mut mails: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        mails.sort();
        for m in mails {
            let body = std::fs::read_to_string(&m).unwrap_or_default();
            let name = subject(&m).unwrap_or_else(|| format!("{} mail {}", p.name, m.display()));
            if !body.contains("\ndiff --git ") && !body.contains("\n--- a/") {
                skipped.push((name, "skipped: no diff (cover letter or reply)".into()));
                continue;
            }
            out.push(Unit {
                name,
                path: m,
                fuzz: p.fuzz,
            });
        }
    }
    Ok((out, skipped))
}

fn subject(path: &Path) -> Option<String> {
    let t = std::fs::read_to_string(path).ok()?;
    let mut lines = t.lines();
    let first = lines.by_ref().find(|l| l.starts_with("Subject: "))?;
    let mut s = first.trim_start_matches("Subject: ").to_string();
    // Folded header lines continue with whitespace.
    for l in lines {
        if l.starts_with(' ') || l.starts_with('\t') {
            s.push(' ');
            s.push_str(l.trim());
        } else {
            break;
        }
    }
    Some(s)
}

/// Applies `u` on the checked-out branch of `dir` and commits it. Returns how it applied.
pub fn apply(dir: &Path, u: &Unit, tree_id: &str) -> Result<String> {
    let o = git(dir, &["am", "-3", "-q", "--keep-cr"])
        .arg(&u.path)
        .output()?;
    if o.status.success() {
        let merged = text(&o).contains("3-way merge");
        return Ok(if merged {
            "git am -3 (3-way merge)"
        } else {
            "git am"
        }
        .into());
    }
    let am_msg = text(&o);
    let _ = git(dir, &["am", "--abort"]).output();
    let tmp = tempfile::tempdir()?;
    let (msg, diff) = (tmp.path().join("msg"), tmp.path().join("diff"));
    let info = git(dir, &["mailinfo"])
        .arg(&msg)
        .arg(&diff)
        .stdin(std::fs::File::open(&u.path)?)
        .output()?;
    // A plain diff has no mail header: mailinfo still separates the diff.
    let author = parse_info(&String::from_utf8_lossy(&info.stdout));
    let p = Command::new("patch")
        .current_dir(dir)
        .args([
            "-p1",
            "-f",
            "--no-backup-if-mismatch",
            "-r",
            "-",
            "--dry-run",
        ])
        .arg(format!("-F{}", u.fuzz))
        .arg("-i")
        .arg(&diff)
        .output()
        .context("running patch (install GNU patch: scripts/setup)")?;
    let dry = text(&p);
    if !p.status.success() {
        bail!(failure(dir, u, tree_id, &diff, &dry, &am_msg));
    }
    let p = Command::new("patch")
        .current_dir(dir)
        .args(["-p1", "-f", "--no-backup-if-mismatch", "-r", "-"])
        .arg(format!("-F{}", u.fuzz))
        .arg("-i")
        .arg(&diff)
        .output()?;
    if !p.status.success() {
        bail!(failure(dir, u, tree_id, &diff, &text(&p), &am_msg));
    }
    super::sh(&mut git(dir, &["add", "-A"]), "git add")?;
    let body = std::fs::read_to_string(&msg).unwrap_or_default();
    let message = format!(
        "{}\n\n{}",
        author.subject.as_deref().unwrap_or(&u.name),
        body
    );
    let mut c = git(dir, &["commit", "-q", "--allow-empty", "-m", &message]);
    if let Some(a) = &author.author {
        c.arg("--author").arg(a);
    }
    super::sh(&mut c, "git commit")?;
    let fuzzed = fuzz_notes(&dry);
    Ok(if fuzzed.is_empty() {
        "patch -p1 (exact)".into()
    } else {
        format!("patch -F{}: {}", u.fuzz, fuzzed.join("; "))
    })
}

struct Info {
    author: Option<String>,
    subject: Option<String>,
}

fn parse_info(s: &str) -> Info {
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
            .filter(|v| !v.is_empty())
    };
    let author = match (get("Author:"), get("Email:")) {
        (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
        _ => None,
    };
    Info {
        author,
        subject: get("Subject:"),
    }
}

/// "mm/zswap.c hunk #2 fuzz 2" for every hunk `patch` applied with fuzz, then how many more
/// applied only at an offset (moved lines are expected on another base; fuzz is what a
/// reader should check).
pub fn fuzz_notes(patch_out: &str) -> Vec<String> {
    let mut file = String::new();
    let mut v = Vec::new();
    let mut offset_only = 0;
    for l in patch_out.lines() {
        if let Some(f) = l
            .strip_prefix("checking file ")
            .or_else(|| l.strip_prefix("patching file "))
        {
            file = f.trim().to_string();
        } else if let Some(rest) = l.strip_prefix("Hunk #") {
            if !rest.contains("succeeded") {
                continue;
            }
            let n = rest.split_whitespace().next().unwrap_or("?");
            match rest.split_once(" with fuzz ") {
                Some((_, f)) => {
                    let f = f
                        .split_whitespace()
                        .next()
                        .unwrap_or("?")
                        .trim_end_matches('.');
                    v.push(format!("{file} hunk #{n} fuzz {f}"));
                }
                None => offset_only += 1,
            }
        }
    }
    if offset_only > 0 {
        v.push(format!("{offset_only} more hunk(s) at an offset"));
    }
    v
}

/// The first failing file and hunk from `patch --dry-run` output.
pub fn first_failure(patch_out: &str) -> Option<(String, String)> {
    let mut file = String::new();
    for l in patch_out.lines() {
        if let Some(f) = l
            .strip_prefix("checking file ")
            .or_else(|| l.strip_prefix("patching file "))
        {
            file = f.trim().to_string();
        } else if l.starts_with("Hunk #") && l.contains("FAILED") {
            return Some((file, l.trim_end_matches('.').to_string()));
        } else if l.contains("can't find file to patch") || l.contains("No file to patch") {
            return Some((file, "file not found".into()));
        }
    }
    None
}

/// `index <old>..<new>` blobs per file of a diff: what the patch was written against.
pub fn expected_blobs(diff: &str) -> Vec<(String, String)> {
    let mut file = None;
    let mut v = Vec::new();
    for l in diff.lines() {
        if let Some(rest) = l.strip_prefix("diff --git a/") {
            file = rest.split(" b/").next().map(str::to_string);
        } else if let (Some(idx), Some(f)) = (l.strip_prefix("index "), file.as_ref())
            && let Some((old, _)) = idx.split_once("..")
        {
            v.push((f.clone(), old.to_string()));
        }
    }
    v
}

fn failure(dir: &Path, u: &Unit, tree_id: &str, diff: &Path, out: &str, am: &str) -> String {
    let _ = git(dir, &["checkout", "-q", "-f", "HEAD"]).output();
    let _ = git(dir, &["clean", "-q", "-f", "-d"]).output();
    let d = std::fs::read_to_string(diff).unwrap_or_default();
    let mut s = format!(
        "patch {:?} ({}) does not apply to {tree_id}",
        u.name,
        u.path.display()
    );
    match first_failure(out) {
        Some((f, h)) => s += &format!("\n  first failure: {f}: {h} (fuzz {})", u.fuzz),
        None => {
            s += &format!(
                "\n  patch said: {}",
                out.lines().last().unwrap_or("").trim()
            )
        }
    }
    let blobs = expected_blobs(&d);
    for (f, want) in &blobs {
        let have = git(dir, &["rev-parse", &format!("HEAD:{f}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let have = have
            .as_deref()
            .map_or("(no such file)", |h| &h[..want.len().min(h.len())]);
        let same = if have.starts_with(want.as_str()) {
            "same"
        } else {
            "differs"
        };
        s += &format!("\n  {f}: the patch expects blob {want}, the tree has {have} ({same})");
    }
    if let Some(l) = am.lines().find(|l| !l.trim().is_empty()) {
        s += &format!("\n  (git am -3: {})", l.trim());
    }
    let base = if blobs.is_empty() {
        "the base the series was written for"
    } else {
        "the base the series was written for (the blob above)"
    };
    s + &format!(
        "\n  fix: use {base}, allow fuzz (`fuzz = N` on its [[patches]] entry), or add a fix-up \
         (`[[fixups]] after = \"<subject>\"`); kernels/README.md"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_and_failure_lines_are_read() {
        let out = "checking file mm/zswap.c\nHunk #1 succeeded at 1358 (offset 2 lines).\n\
                   Hunk #2 succeeded at 1390 with fuzz 2 (offset 5 lines).\nHunk #3 FAILED at 1400.\n";
        assert_eq!(
            fuzz_notes(out),
            ["mm/zswap.c hunk #2 fuzz 2", "1 more hunk(s) at an offset"]
        );
        assert_eq!(
            first_failure(out),
            Some(("mm/zswap.c".into(), "Hunk #3 FAILED at 1400".into()))
        );
        let diff =
            "diff --git a/mm/zswap.c b/mm/zswap.c\nindex 761cd699e0a3..0f8f04f22888 100644\n";
        assert_eq!(
            expected_blobs(diff),
            [("mm/zswap.c".into(), "761cd699e0a3".into())]
        );
    }

    fn repo(seven: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (1..=20)
            .map(|i| {
                if i == 7 {
                    seven.to_string()
                } else {
                    format!("line {i}")
                }
            })
            .collect();
        std::fs::write(d.path().join("f.c"), lines.join("\n") + "\n").unwrap();
        for args in [
            &["init", "-q"][..],
            &["config", "user.name", "t"],
            &["config", "user.email", "t@t"],
            &["add", "-A"],
            &["commit", "-q", "-m", "base"],
        ] {
            assert!(git(d.path(), args).status().unwrap().success());
        }
        d
    }

    const MAIL: &str = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
From: A U Thor <a@example.com>\nSubject: [PATCH v9 1/1] change line\n ten\n\nWhy.\n---\n\
diff --git a/f.c b/f.c\nindex 1234567..89abcde 100644\n--- a/f.c\n+++ b/f.c\n\
@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+line ten\n line 11\n line 12\n line 13\n";

    fn unit(dir: &Path, fuzz: u32) -> Unit {
        let p = dir.join("x.patch");
        std::fs::write(&p, MAIL).unwrap();
        Unit {
            name: subject(&p).unwrap(),
            path: p,
            fuzz,
        }
    }

    #[test]
    fn exact_patch_goes_in_with_git_am() {
        let d = repo("line 7");
        let t = tempfile::tempdir().unwrap();
        let how = apply(d.path(), &unit(t.path(), 0), "test-tree").unwrap();
        assert_eq!(how, "git am");
        let f = std::fs::read_to_string(d.path().join("f.c")).unwrap();
        assert!(f.contains("line ten\n"));
    }

    #[test]
    fn refused_without_fuzz_names_file_hunk_and_blobs() {
        let d = repo("line seven");
        let t = tempfile::tempdir().unwrap();
        let u = unit(t.path(), 0);
        assert_eq!(u.name, "[PATCH v9 1/1] change line ten");
        let e = apply(d.path(), &u, "test-tree").unwrap_err().to_string();
        assert!(e.contains("first failure: f.c: Hunk #1 FAILED at 7"), "{e}");
        assert!(e.contains("expects blob 1234567, the tree has"), "{e}");
        assert!(e.contains("(differs)") && e.contains("fuzz = N"), "{e}");
        // The tree is left as it was.
        let f = std::fs::read_to_string(d.path().join("f.c")).unwrap();
        assert!(f.contains("line 10\n") && !f.contains("line ten"));
    }

    #[test]
    fn fuzz_applies_commits_and_says_where() {
        let d = repo("line seven");
        let t = tempfile::tempdir().unwrap();
        let how = apply(d.path(), &unit(t.path(), 1), "test-tree").unwrap();
        assert_eq!(how, "patch -F1: f.c hunk #1 fuzz 1");
        let log = git(d.path(), &["log", "-1", "--format=%an|%s"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&log.stdout).trim(),
            "A U Thor|change line ten"
        );
        let st = git(d.path(), &["status", "--porcelain"]).output().unwrap();
        assert!(st.stdout.is_empty(), "work tree left dirty");
    }
}
