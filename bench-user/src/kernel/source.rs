//! Kernel source trees: fetched once per base (Debian package, tarball or git tree), kept as a
//! git repository whose `base` tag is the pristine tree. Each series is a branch on top of it,
//! so switching series with `git checkout` rewrites only the files that differ (make then
//! rebuilds only what those files touch).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::manifest::{PatchInput, Resolved, Source};
use super::sh;

/// A pristine source tree in the cache.
pub struct SourceTree {
    pub dir: PathBuf,
    /// Identity used in cache keys, e.g. "debian:linux-source-7.3=7.3.4-1~bpo13+1".
    pub id: String,
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_+~".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Fetch (if needed) and return the pristine tree for a manifest's source.
pub fn prepare(cache: &Path, r: &Resolved) -> Result<SourceTree> {
    match &r.source {
        Source::Debian { package } => debian(cache, package),
        Source::Tarball { path } => {
            let data =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let id = format!("tarball:{}", &super::manifest::sha256_hex(&data)[..16]);
            let dir = cache.join("src").join(sanitize(&id));
            if !dir.join(".git").exists() {
                let tmp = cache.join("src").join(format!(".{}.tmp", sanitize(&id)));
                let _ = std::fs::remove_dir_all(&tmp);
                std::fs::create_dir_all(&tmp)?;
                sh(
                    Command::new("tar")
                        .arg("-xf")
                        .arg(path)
                        .arg("-C")
                        .arg(&tmp)
                        .arg("--strip-components=1"),
                    "extracting the tarball",
                )?;
                init_repo(&tmp, &id)?;
                std::fs::rename(&tmp, &dir)?;
            }
            Ok(SourceTree { dir, id })
        }
        Source::Git { path, rev } => {
            let out = Command::new("git")
                .arg("-C")
                .arg(path)
                .args(["rev-parse", "--verify", &format!("{rev}^{{commit}}")])
                .output()?;
            if !out.status.success() {
                bail!(
                    "git tree {}: revision {rev:?} not found; fix: [source] git.rev must name a commit, tag or branch there",
                    path.display()
                );
            }
            let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let id = format!("git:{commit}");
            let dir = cache
                .join("src")
                .join(sanitize(&format!("git-{}", &commit[..12])));
            if !dir.join(".git").exists() {
                std::fs::create_dir_all(cache.join("src"))?;
                sh(
                    Command::new("git")
                        .args(["clone", "--quiet", "--shared", "--no-checkout"])
                        .arg(path)
                        .arg(&dir),
                    "cloning the git tree",
                )?;
                sh(
                    Command::new("git")
                        .arg("-C")
                        .arg(&dir)
                        .args(["checkout", "-q", "-f", &commit]),
                    "checking out",
                )?;
                sh(
                    Command::new("git")
                        .arg("-C")
                        .arg(&dir)
                        .args(["tag", "-f", "base", &commit]),
                    "tagging base",
                )?;
                configure_identity(&dir)?;
            }
            Ok(SourceTree { dir, id })
        }
    }
}

fn configure_identity(dir: &Path) -> Result<()> {
    for (k, v) in [
        ("user.name", "zswap-bench"),
        ("user.email", "zswap-bench@localhost"),
        ("gc.auto", "0"),
        ("am.threeWay", "false"),
    ] {
        sh(
            Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["config", k, v]),
            "git config",
        )?;
    }
    Ok(())
}

fn init_repo(dir: &Path, id: &str) -> Result<()> {
    sh(
        Command::new("git").arg("-C").arg(dir).args(["init", "-q"]),
        "git init",
    )?;
    configure_identity(dir)?;
    // -f: Debian's tarball ships a .gitignore that ignores the whole top level.
    sh(
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["add", "-f", "-A", "."]),
        "git add",
    )?;
    sh(
        Command::new("git").arg("-C").arg(dir).args([
            "commit",
            "-q",
            "-m",
            &format!("{id} (pristine)"),
        ]),
        "git commit",
    )?;
    sh(
        Command::new("git").arg("-C").arg(dir).args(["tag", "base"]),
        "git tag",
    )?;
    Ok(())
}

/// Private apt configuration for suites this machine's sources do not list: we never edit the
/// machine's own apt sources.
fn apt(cache: &Path) -> Result<Vec<String>> {
    let d = cache.join("apt-src");
    std::fs::create_dir_all(d.join("lists/partial"))?;
    let list = d.join("sources.list");
    std::fs::write(
        &list,
        "deb http://deb.debian.org/debian trixie-backports main\ndeb http://deb.debian.org/debian sid main\n",
    )?;
    Ok(vec![
        "-o".into(),
        format!("Dir::Etc::sourcelist={}", list.display()),
        "-o".into(),
        "Dir::Etc::sourceparts=-".into(),
        "-o".into(),
        format!("Dir::State::Lists={}", d.join("lists").display()),
        "-o".into(),
        "Debug::NoLocking=1".into(),
    ])
}

fn debian(cache: &Path, package: &str) -> Result<SourceTree> {
    let downloads = cache.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    // Reuse a downloaded package without asking the network (warm runs work offline).
    let prefix = format!("{package}_");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&downloads)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with(&prefix) && n.to_string_lossy().ends_with(".deb")
            })
        })
        .collect();
    debs.sort();
    let deb = match debs.pop() {
        Some(d) => d,
        None => {
            if which("apt-get").is_none() {
                bail!(
                    "fetching {package} needs apt-get (Debian/Ubuntu); fix: use [source] tarball = \"linux-x.y.tar.xz\" instead"
                );
            }
            let opts = apt(cache)?;
            eprintln!("fetching {package} (private apt config: trixie-backports, sid)");
            sh(
                Command::new("apt-get").args(&opts).args(["update", "-qq"]),
                "apt-get update (private lists)",
            )?;
            sh(Command::new("apt-get").args(&opts).args(["download", package]).current_dir(&downloads), &format!("apt-get download {package}"))
                .with_context(|| format!("is {package} a real package? `apt-cache policy {package}` with the same options lists it"))?;
            let mut v: Vec<PathBuf> = std::fs::read_dir(&downloads)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .collect();
            v.sort();
            v.pop().context("apt-get download produced no file")?
        }
    };
    let fname = deb.file_name().unwrap().to_string_lossy().to_string();
    let version = fname
        .trim_start_matches(&prefix)
        .trim_end_matches("_all.deb")
        .replace("%3a", ":");
    let id = format!("debian:{package}={version}");
    let dir = cache
        .join("src")
        .join(sanitize(&format!("{package}_{version}")));
    if !dir.join(".git").exists() {
        let tmp = cache.join("src").join(format!(".{package}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        eprintln!("extracting {fname}");
        // The .deb holds /usr/src/linux-source-N.M.tar.xz; unpack that tarball.
        let script = format!(
            "dpkg-deb --fsys-tarfile '{}' | tar -xO --wildcards './usr/src/{package}.tar.*' | tar -xJ -C '{}' --strip-components=1",
            deb.display(),
            tmp.display()
        );
        sh(
            Command::new("sh").arg("-c").arg(script),
            "extracting the kernel source",
        )?;
        init_repo(&tmp, &id)?;
        std::fs::rename(&tmp, &dir)?;
    }
    Ok(SourceTree { dir, id })
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|c| c.is_file())
    })
}

/// Put the tree at `branch`: base + patches. Creates the branch the first time (applying every
/// patch with `git am`), otherwise checks it out (only differing files are rewritten).
pub fn checkout_series(tree: &SourceTree, branch: &str, patches: &[PatchInput]) -> Result<()> {
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&tree.dir).args(args);
        c
    };
    let exists = git(&[
        "rev-parse",
        "--verify",
        "-q",
        &format!("refs/heads/{branch}"),
    ])
    .output()?
    .status
    .success();
    if exists {
        return sh(&mut git(&["checkout", "-q", "-f", branch]), "git checkout");
    }
    let _ = git(&["am", "--abort"]).output();
    sh(
        &mut git(&["checkout", "-q", "-f", "-B", "zb-apply", "base"]),
        "git checkout base",
    )?;
    sh(&mut git(&["clean", "-q", "-f", "-d"]), "git clean")?;
    for p in patches {
        let out = git(&["am", "-q", "--keep-cr"]).arg(&p.path).output()?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            let _ = git(&["am", "--abort"]).output();
            // Plain diffs (no mail header) are fine too: apply and commit them.
            let applied = git(&["apply", "--index"]).arg(&p.path).output()?;
            if applied.status.success() {
                sh(
                    &mut git(&[
                        "commit",
                        "-q",
                        "-m",
                        &format!("zswap-bench: apply {}", p.name),
                    ]),
                    "git commit",
                )?;
                continue;
            }
            let detail = String::from_utf8_lossy(&applied.stderr).to_string();
            sh(
                &mut git(&["checkout", "-q", "-f", "base"]),
                "git checkout base",
            )?;
            let _ = git(&["branch", "-D", "zb-apply"]).output();
            bail!(
                "patch {} does not apply to {}:\n{}{}\n  fix: rebase the series onto this source, or pick the source it was written for",
                p.path.display(),
                tree.id,
                indent(detail.trim_end()),
                if msg.trim().is_empty() {
                    String::new()
                } else {
                    format!("\n  (git am: {})", msg.lines().next().unwrap_or("").trim())
                }
            );
        }
    }
    sh(
        &mut git(&["branch", "-q", "-m", "zb-apply", branch]),
        "git branch",
    )?;
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
