//! Posted series by Message-Id. A manifest names a series by its cover letter's Message-Id and
//! lists each patch's Message-Id (with its subject) in order. The mails come from mbox files in
//! a folder (`ZSWAP_BENCH_MBOX_DIR` or `--mbox-dir`; what `b4 mbox`, `b4 am` or a list
//! archive's download writes) and are matched by their own `Message-Id` header, whatever the
//! files are called, so a cover letter or a reply in the same mbox is never taken for a patch.
//! With no folder given, `b4 mbox` fetches the thread into the kernel cache when b4 is
//! installed (online); otherwise the error names each missing mail and how to get it.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::paths;

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A mail found for a wanted Message-Id: the manifest turns it into a patch input.
#[derive(Debug, Clone)]
pub struct MailInput {
    /// Its subject.
    pub name: String,
    /// The mbox holding it.
    pub path: PathBuf,
    /// Of the mail's own bytes ([`own_bytes`]).
    pub sha256: String,
    pub message_id: String,
}

/// A patch a manifest asks for.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub id: String,
    /// As posted, for messages about a mail that is missing (the mail itself may not be here).
    pub subject: Option<String>,
}

/// The mails a manifest entry names: `message_id = "..."` (one patch) or `mails = [...]` as
/// (id, subject) pairs.
pub fn wanted(one: Option<&str>, list: &[(&str, Option<&str>)]) -> Result<Vec<Wanted>> {
    let v: Vec<Wanted> = match one {
        Some(id) => vec![Wanted {
            id: normalize(id),
            subject: None,
        }],
        None => list
            .iter()
            .map(|(id, subject)| Wanted {
                id: normalize(id),
                subject: subject.map(str::to_string),
            })
            .collect(),
    };
    for (k, w) in v.iter().enumerate() {
        let ok = w.id.len() <= 250
            && w.id.contains('@')
            && !w
                .id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
        if !ok {
            bail!(
                "mail {k}: {:?} is not a Message-Id (local@domain, at most 250 characters, no spaces or angle brackets inside); fix: copy it from the mail's Message-Id header",
                w.id
            );
        }
        if v[..k].iter().any(|o| o.id == w.id) {
            bail!(
                "mail {k}: <{}> is listed twice; fix: list each patch once, in order",
                w.id
            );
        }
    }
    Ok(v)
}

/// One mail found in an mbox.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    subject: String,
    sha256: String,
    has_diff: bool,
}

/// Every mail of every `*.mbox` / `*.mbx` file in a folder, by Message-Id.
struct Index {
    files: usize,
    mails: usize,
    by_id: HashMap<String, Found>,
}

/// `<id@host>` or `id@host`, as written in a header or a manifest, to the bare id.
pub fn normalize(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// The mails of an mbox: each starts with a `From ` line at the start of the file or of a line
/// (body lines that start so are escaped as `>From ` in an mbox, and diff lines never do).
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = vec![];
    if data.starts_with(b"From ") {
        starts.push(0);
    }
    starts.extend(
        data.windows(6)
            .enumerate()
            .filter(|(_, w)| *w == b"\nFrom ")
            .map(|(i, _)| i + 1),
    );
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &data[s..starts.get(k + 1).copied().unwrap_or(data.len())])
        .collect()
}

/// A header's value, folded lines joined; `name` without the colon, any case.
pub fn header(mail: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(mail);
    let mut value: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(v) = value.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// The mail itself: without the mbox's `From ` separator line (b4 writes `From git@z ...`, list
/// archives `From mboxrd@z ...`) and the blank lines before the next one, so that the same
/// mail saved by different tools hashes (and keys the kernel cache) the same.
fn own_bytes(mail: &[u8]) -> Vec<u8> {
    let body = if mail.starts_with(b"From ") {
        mail.iter()
            .position(|&b| b == b'\n')
            .map_or(&mail[mail.len()..], |i| &mail[i + 1..])
    } else {
        mail
    };
    let end = body
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    let mut v = body[..end].to_vec();
    v.push(b'\n');
    v
}

fn has_diff(mail: &[u8]) -> bool {
    let t = String::from_utf8_lossy(mail);
    t.contains("\ndiff --git ") || t.contains("\n--- a/")
}

impl Index {
    fn read(dir: &Path) -> Result<Index> {
        let entries = std::fs::read_dir(dir).with_context(|| {
            format!(
                "mbox folder {} cannot be listed; fix: point ZSWAP_BENCH_MBOX_DIR (or --mbox-dir) at a folder of *.mbox/*.mbx files",
                dir.display()
            )
        })?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "mbox" || e == "mbx"))
            .collect();
        paths.sort();
        let mut ix = Index {
            files: 0,
            mails: 0,
            by_id: HashMap::new(),
        };
        for path in paths {
            let data = bench_results::input::read_bytes(&path, bench_results::input::limit::PATCH)
                .with_context(|| format!("reading mbox {}", path.display()))?;
            ix.files += 1;
            for mail in split(&data) {
                ix.mails += 1;
                let Some(id) = header(mail, "Message-Id").map(|v| normalize(&v)) else {
                    continue;
                };
                // The first copy wins: one thread saved from two lists holds each mail twice.
                ix.by_id.entry(id).or_insert_with(|| Found {
                    path: path.clone(),
                    subject: header(mail, "Subject").unwrap_or_default(),
                    sha256: sha256_hex(&own_bytes(mail)),
                    has_diff: has_diff(mail),
                });
            }
        }
        Ok(ix)
    }
}

/// The folder mails are read from: `ZSWAP_BENCH_MBOX_DIR` (`--mbox-dir` sets it), else what an
/// earlier `b4 mbox` left in the cache.
fn folder() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ZSWAP_BENCH_MBOX_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let cached = paths::cache_dir().join("mails");
    cached.is_dir().then_some(cached)
}

/// Online: the whole thread of `id` into the cache with b4 (arguments, never a shell string).
fn fetch_with_b4(id: &str) -> Option<PathBuf> {
    // No b4 on PATH: nothing is created (an empty mails folder would be read next time).
    Command::new("b4").arg("--version").output().ok()?;
    let dest = paths::cache_dir().join("mails");
    std::fs::create_dir_all(&dest).ok()?;
    let ok = Command::new("b4")
        .args(["-q", "mbox", "-o"])
        .arg(&dest)
        .arg(id)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(dest)
}

fn how_to_get(cover: &str) -> String {
    format!(
        "fix: put the series' mails in a folder as *.mbox or *.mbx files (`b4 mbox {cover}` on a connected machine writes the whole thread; a list archive's mbox download works too) and point ZSWAP_BENCH_MBOX_DIR=DIR (or --mbox-dir DIR) at it"
    )
}

/// The patch inputs for `wanted`, in order, each the one mail of an mbox with that Message-Id.
pub fn resolve(ctx: &str, cover: Option<&str>, wanted: &[Wanted]) -> Result<Vec<MailInput>> {
    let cover = cover.map(normalize).unwrap_or_else(|| wanted[0].id.clone());
    let dir = match folder() {
        Some(d) => d,
        None => match fetch_with_b4(&cover) {
            Some(d) => d,
            None => bail!(
                "{ctx}: the series {cover} is given by Message-Id, and no mails are here (no ZSWAP_BENCH_MBOX_DIR, and b4 is not installed or could not reach the list archive)\n  {}",
                how_to_get(&cover)
            ),
        },
    };
    resolve_in(ctx, &dir, &cover, wanted)
}

/// [`resolve`] with the mails in `dir`.
fn resolve_in(ctx: &str, dir: &Path, cover: &str, wanted: &[Wanted]) -> Result<Vec<MailInput>> {
    let ix = Index::read(dir)?;
    let mut out = vec![];
    let mut missing = vec![];
    for w in wanted {
        match ix.by_id.get(&w.id) {
            Some(f) if f.has_diff => out.push(MailInput {
                name: f.subject.clone(),
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                message_id: w.id.clone(),
            }),
            Some(f) => bail!(
                "{ctx}: <{}> in {} is {:?}, a mail without a diff (a cover letter or a reply), not a patch; fix: list the patches' Message-Ids, and the cover letter's as `cover`",
                w.id,
                f.path.display(),
                f.subject
            ),
            None => missing.push(format!(
                "    {} <{}>",
                w.subject.as_deref().unwrap_or("(subject not given)"),
                w.id
            )),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{ctx}: {} of the {} patches of series {cover} are not in {} ({} mbox files, {} mails):\n{}\n  {}",
            missing.len(),
            wanted.len(),
            dir.display(),
            ix.files,
            ix.mails,
            missing.join("\n"),
            how_to_get(cover)
        );
    }
    Ok(out)
}

/// The bytes of the mail with Message-Id `id` in `mbox`, checked against the hash taken when
/// the manifest was resolved (the file may have changed since).
pub fn extract(mbox: &Path, id: &str, sha256: &str) -> Result<Vec<u8>> {
    let data = bench_results::input::read_bytes(mbox, bench_results::input::limit::PATCH)
        .with_context(|| format!("reading mbox {}", mbox.display()))?;
    let mail = split(&data)
        .into_iter()
        .find(|m| header(m, "Message-Id").is_some_and(|v| normalize(&v) == id));
    match mail.map(own_bytes) {
        Some(m) if sha256_hex(&m) == sha256 => Ok(m),
        Some(_) => bail!(
            "{}: the mail <{id}> changed while the build ran; fix: run the build again",
            mbox.display()
        ),
        None => bail!(
            "{}: the mail <{id}> is gone since the manifest was read; fix: put it back and run the build again",
            mbox.display()
        ),
    }
}

#[cfg(test)]
#[path = "mails_tests.rs"]
mod tests;
