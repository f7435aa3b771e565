//! Kernel source trees: fetched once per base (Debian package, tarball or git tree), kept as a
//! git repository whose `base` tag is the pristine tree. Each series is a branch on top of it,
//! so switching series with `git checkout` rewrites only the files that differ (make then
//! rebuilds only what those files touch).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::apply::{self, Applied, Unit};
use super::manifest::{Anchor, PatchInput, Resolved, Source};
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
            let id = format!("tarball:{}", &super::manifest::file_sha256(path)?[..16]);
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
/// machine's own apt sources, and use the Debian mirror they name.
fn apt(cache: &Path) -> Result<Vec<String>> {
    let d = cache.join("apt-src");
    std::fs::create_dir_all(d.join("lists/partial"))?;
    let list = d.join("sources.list");
    let m = super::mirror::debian_mirror(Path::new("/etc/apt"))?;
    std::fs::write(
        &list,
        format!("deb {m} trixie-backports main\ndeb {m} sid main\n"),
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
        extract_source(&deb, package, &tmp)?;
        init_repo(&tmp, &id)?;
        std::fs::rename(&tmp, &dir)?;
    }
    Ok(SourceTree { dir, id })
}

/// The .deb holds /usr/src/<package>.tar.xz: `dpkg-deb --fsys-tarfile | tar -xO | tar -xJ`,
/// three processes joined by pipes here, never a shell string (the package name comes from a
/// manifest).
fn extract_source(deb: &Path, package: &str, into: &Path) -> Result<()> {
    use std::process::Stdio;
    let mut unpack = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting dpkg-deb")?;
    let mut inner = Command::new("tar")
        .args(["-xO", "--wildcards"])
        .arg(format!("./usr/src/{package}.tar.*"))
        .stdin(unpack.stdout.take().context("dpkg-deb's stdout")?)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let last = Command::new("tar")
        .args(["-xJ", "--strip-components=1", "-C"])
        .arg(into)
        .stdin(inner.stdout.take().context("tar's stdout")?)
        .status()
        .context("starting tar -xJ")?;
    let (first, middle) = (unpack.wait()?, inner.wait()?);
    for (what, st) in [
        ("dpkg-deb --fsys-tarfile", first),
        ("tar -xO (the source tarball inside the package)", middle),
        ("tar -xJ (the kernel tree)", last),
    ] {
        if !st.success() {
            bail!(
                "extracting the kernel source from {}: {what} failed ({st}); fix: delete the file so it is downloaded again",
                deb.display()
            );
        }
    }
    Ok(())
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|c| c.is_file())
    })
}

/// Put the tree at `branch`: base + patches (+ fix-ups). Creates the branch the first time
/// (see [`super::apply`]), otherwise checks it out (only differing files are rewritten).
/// Returns how each patch went in, kept beside the branch so a cached branch still knows.
pub fn checkout_series(tree: &SourceTree, branch: &str, r: &Resolved) -> Result<Vec<Applied>> {
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&tree.dir).args(args);
        c
    };
    let record = tree
        .dir
        .join(".git")
        .join("zb-applied")
        .join(format!("{}.json", sanitize(branch)));
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
        sh(&mut git(&["checkout", "-q", "-f", branch]), "git checkout")?;
        let applied = std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        return Ok(applied);
    }
    let _ = git(&["am", "--abort"]).output();
    sh(
        &mut git(&["checkout", "-q", "-f", "-B", "zb-apply", "base"]),
        "git checkout base",
    )?;
    sh(&mut git(&["clean", "-q", "-f", "-d"]), "git clean")?;
    let tmp = tempfile::tempdir()?;
    let (units, mut applied) = apply::units(&r.patches, tmp.path())?;
    let units = with_fixups(units, &r.fixups)?;
    for u in &units {
        match apply::apply(&tree.dir, u, &tree.id) {
            Ok(how) => applied.push((u.name.clone(), how)),
            Err(e) => {
                let _ = git(&["checkout", "-q", "-f", "base"]).output();
                let _ = git(&["branch", "-D", "zb-apply"]).output();
                return Err(e);
            }
        }
    }
    sh(
        &mut git(&["branch", "-q", "-m", "zb-apply", branch]),
        "git branch",
    )?;
    std::fs::create_dir_all(record.parent().unwrap())?;
    std::fs::write(&record, serde_json::to_vec_pretty(&applied)?)?;
    Ok(applied)
}

/// Inserts each fix-up right after (or before) the first patch whose subject or file name
/// contains its anchor text; an anchor that matches nothing is an error listing the names.
fn with_fixups(units: Vec<Unit>, fixups: &[(Anchor, PatchInput)]) -> Result<Vec<Unit>> {
    let mut out = units;
    for (anchor, f) in fixups {
        let text = anchor.text();
        let at = out.iter().position(|u| {
            !u.name.starts_with("fix-up ")
                && (u.name.contains(text)
                    || u.path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy() == text))
        });
        let Some(at) = at else {
            bail!(
                "fix-up {} names {text:?}, which matches no patch of the series.\n  patches: {}\n  fix: use part of one of those subjects",
                f.path.display(),
                out.iter()
                    .map(|u| u.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        };
        let (k, name) = match anchor {
            Anchor::After(_) => {
                let mut k = at + 1;
                // Several fix-ups after one patch keep their manifest order.
                while k < out.len() && out[k].name.starts_with("fix-up ") {
                    k += 1;
                }
                (k, format!("fix-up {} after {:?}", f.name, out[at].name))
            }
            Anchor::Before(_) => (at, format!("fix-up {} before {:?}", f.name, out[at].name)),
        };
        out.insert(
            k,
            Unit {
                name,
                path: f.path.clone(),
                fuzz: 0,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package laid out like Debian's linux-source-N.M, built with dpkg-deb, unpacks through
    /// the pipe of processes; a package without the tarball fails naming the step.
    #[test]
    fn source_package_unpacks_without_a_shell() {
        let t = tempfile::tempdir().unwrap();
        let run = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        let tree = t.path().join("linux-source-9.9");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("Makefile"), "VERSION = 9\n").unwrap();
        let pkg = t.path().join("pkg");
        std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(pkg.join("usr/src")).unwrap();
        std::fs::write(
            pkg.join("DEBIAN/control"),
            "Package: linux-source-9.9\nVersion: 9.9-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n",
        )
        .unwrap();
        run(Command::new("tar")
            .arg("-cJf")
            .arg(pkg.join("usr/src/linux-source-9.9.tar.xz"))
            .arg("-C")
            .arg(t.path())
            .arg("linux-source-9.9"));
        let deb = t.path().join("linux-source-9.9_9.9-1_all.deb");
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&pkg)
            .arg(&deb)
            .stdout(std::process::Stdio::null()));
        let into = t.path().join("out");
        std::fs::create_dir_all(&into).unwrap();
        extract_source(&deb, "linux-source-9.9", &into).unwrap();
        assert_eq!(
            std::fs::read_to_string(into.join("Makefile")).unwrap(),
            "VERSION = 9\n"
        );
        // Another package name: the inner tarball is not there.
        let e = extract_source(&deb, "linux-source-1.0", &into).unwrap_err();
        assert!(e.to_string().contains("tar -xO"), "{e:#}");
    }

    fn u(name: &str) -> Unit {
        Unit {
            name: name.into(),
            path: PathBuf::from(format!("{name}.patch")),
            fuzz: 0,
        }
    }

    fn fix(name: &str) -> PatchInput {
        PatchInput {
            name: name.into(),
            path: PathBuf::from(name),
            sha256: String::new(),
            mbox: false,
            fuzz: 0,
            message_id: None,
        }
    }

    #[test]
    fn fixups_follow_the_named_patch_in_manifest_order() {
        let units = vec![
            u("[PATCH v5 1/6] fix"),
            u("[PATCH v5 2/6] batch"),
            u("[PATCH v5 3/6] helper"),
        ];
        let fx = vec![
            (Anchor::After("v5 2/6".into()), fix("a.patch")),
            (Anchor::After("v5 2/6".into()), fix("b.patch")),
            (Anchor::Before("v5 1/6".into()), fix("c.patch")),
        ];
        let names: Vec<String> = with_fixups(units.clone(), &fx)
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert!(names[0].starts_with("fix-up c.patch before"), "{names:?}");
        assert_eq!(names[2], "[PATCH v5 2/6] batch");
        assert!(names[3].starts_with("fix-up a.patch after"), "{names:?}");
        assert!(names[4].starts_with("fix-up b.patch after"), "{names:?}");
        assert_eq!(names[5], "[PATCH v5 3/6] helper");
        let e = with_fixups(units, &[(Anchor::After("v4 2/5".into()), fix("c.patch"))])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("matches no patch") && e.contains("[PATCH v5 3/6] helper"),
            "{e}"
        );
    }
}
