//! `zswap-bench kernel build|list|path`: manifests -> source tree + series branch -> configured
//! build directory -> cached bzImage.
//!
//! Cache layout under `paths::cache_dir()`:
//!   downloads/            fetched Debian packages
//!   src/<source>/         git repo; tag `base` = pristine, branch `zb/<key>` per series
//!   build/<source>-<cfg>/ one O= build dir per source x config, shared by every series
//!   ccache/               compiler cache (switching back to a series is a cache hit)
//!   kernels/<key>/        bzImage, config, System.map, meta.json, build.log
pub mod apply;
mod built_config;
#[cfg(test)]
#[path = "cache_tests.rs"]
mod cache_tests;
pub mod mails;
pub mod manifest;
#[cfg(test)]
mod manifest_fuzz;
pub mod mirror;
pub mod source;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::paths;

/// A kernel in the cache, ready to boot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuiltKernel {
    pub name: String,
    pub key: String,
    pub source_id: String,
    pub patches: Vec<PatchMeta>,
    /// (patch subject, how it applied: "git am", "patch -F2: mm/zswap.c hunk #3 fuzz 2", a
    /// fix-up, or "skipped: no diff"), in order.
    #[serde(default)]
    pub applied: Vec<(String, String)>,
    pub config_sha256: String,
    pub cmdline: String,
    pub build_secs: f64,
    #[serde(skip)]
    pub bzimage: PathBuf,
    #[serde(skip)]
    pub dir: PathBuf,
    /// The manifest's `[probes]` names (not part of the build, so not in meta.json).
    #[serde(skip)]
    pub probes: Option<crate::probes::profiles::ProbeNames>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchMeta {
    pub name: String,
    pub sha256: String,
}

/// Run a command, failing with its output when it fails.
pub(crate) fn sh(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end(),
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

pub fn kernels_dir() -> PathBuf {
    paths::repo_root().join("kernels")
}

pub fn load(arg: &str) -> Result<manifest::Resolved> {
    let path = manifest::locate(&kernels_dir(), arg)?;
    let text = bench_results::input::read_text(&path, bench_results::input::limit::TEXT)
        .with_context(|| format!("reading {}", path.display()))?;
    manifest::parse(&text, &path)?.resolve(&path)
}

/// Exclusive lock on a cache file for the duration of a build (two builds sharing a source tree
/// would fight over its checkout).
struct Lock {
    // Held for its Drop: closing the file releases the lock.
    _file: nix::fcntl::Flock<std::fs::File>,
}
impl Lock {
    fn take(path: &Path) -> Result<Lock> {
        use nix::fcntl::{Flock, FlockArg};
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let held = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(held) => held,
            Err((f, _)) => {
                eprintln!("waiting for another build holding {}", path.display());
                Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| {
                    anyhow::anyhow!("flock {}: {}", path.display(), std::io::Error::from(e))
                })?
            }
        };
        Ok(Lock { _file: held })
    }
}

fn check_tools() -> Result<()> {
    let missing: Vec<&str> = ["make", "gcc", "flex", "bison", "bc", "pahole", "git"]
        .into_iter()
        .filter(|t| source::which(t).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "kernel build tools missing: {}; fix: run scripts/setup (as root)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Build (or find in the cache) the kernel named by a manifest name/path.
pub fn build(arg: &str) -> Result<BuiltKernel> {
    let r = load(arg)?;
    let probes = r.probes.clone();
    let mut k = build_resolved(r)?;
    k.probes = probes;
    Ok(k)
}

fn build_resolved(r: manifest::Resolved) -> Result<BuiltKernel> {
    let cache = cache_checked()?;
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("creating the cache {}", cache.display()))?;
    // Cached result first: a warm build needs no tools, no network and no source tree.
    if let Some(k) = find_cached(&cache, &r)? {
        return Ok(k);
    }
    check_tools()?;
    let _lock = Lock::take(&cache.join(".build.lock"))?;
    let t0 = Instant::now();
    let tree = source::prepare(&cache, &r)?;
    let key = r.cache_key(&tree.id);
    let out_dir = cache.join("kernels").join(&key);
    if out_dir.join("bzImage").is_file() {
        return read_meta(&out_dir);
    }
    eprintln!(
        "building kernel {} (key {key}) from {}: {}",
        r.name, tree.id, r.description
    );
    let applied = source::checkout_series(&tree, &format!("zb/{key}"), &r)?;
    let build_dir = cache.join("build").join(format!(
        "{}-{}",
        tree.dir.file_name().unwrap().to_string_lossy(),
        r.config_key()
    ));
    std::fs::create_dir_all(&build_dir)?;
    let log_path = cache.join("kernels").join(format!("{key}.build.log"));
    std::fs::create_dir_all(log_path.parent().unwrap())?;
    configure(&tree.dir, &build_dir, &r.config_fragment, &log_path)?;
    make_bzimage(&tree.dir, &build_dir, &log_path)?;
    // Publish atomically: a half-copied kernel must never look built.
    let tmp = cache.join("kernels").join(format!(".{key}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    std::fs::copy(build_dir.join("arch/x86/boot/bzImage"), tmp.join("bzImage"))?;
    std::fs::copy(build_dir.join(".config"), tmp.join("config"))?;
    std::fs::copy(build_dir.join("System.map"), tmp.join("System.map"))?;
    let _ = std::fs::rename(&log_path, tmp.join("build.log"));
    let config = std::fs::read(tmp.join("config"))?;
    let meta = BuiltKernel {
        name: r.name.clone(),
        key: key.clone(),
        source_id: tree.id.clone(),
        patches: r
            .patches
            .iter()
            .map(|p| PatchMeta {
                name: p.name.clone(),
                sha256: p.sha256.clone(),
            })
            .collect(),
        applied,
        config_sha256: manifest::sha256_hex(&config),
        cmdline: r.cmdline.clone(),
        build_secs: t0.elapsed().as_secs_f64(),
        bzimage: PathBuf::new(),
        dir: PathBuf::new(),
        probes: None,
    };
    std::fs::write(tmp.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    std::fs::rename(&tmp, &out_dir)?;
    std::fs::write(cache.join("kernels").join(format!("{}.last", r.name)), &key)?;
    eprintln!("built {} in {:.0}s", r.name, meta.build_secs);
    read_meta(&out_dir)
}

/// Applies the manifest's series on its branch of the source tree (created once, like a build
/// does) and returns how each patch went in.
pub fn apply_only(arg: &str) -> Result<Vec<(String, String)>> {
    let r = load(arg)?;
    let cache = paths::cache_dir();
    std::fs::create_dir_all(&cache)?;
    let _lock = Lock::take(&cache.join(".build.lock"))?;
    let tree = source::prepare(&cache, &r)?;
    let key = r.cache_key(&tree.id);
    source::checkout_series(&tree, &format!("zb/{key}"), &r)
}

/// Look up the cache without touching the source tree. For Debian sources the identity needs
/// the downloaded version, which is known once the package was fetched.
fn find_cached(cache: &Path, r: &manifest::Resolved) -> Result<Option<BuiltKernel>> {
    let ids: Vec<String> = match &r.source {
        manifest::Source::Debian { package } => {
            let prefix = format!("{package}_");
            std::fs::read_dir(cache.join("downloads"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().to_string();
                    let v = n
                        .strip_prefix(&prefix)?
                        .strip_suffix("_all.deb")?
                        .replace("%3a", ":");
                    Some(format!("debian:{package}={v}"))
                })
                .collect()
        }
        _ => return Ok(None), // tarball/git identities need hashing: prepare() is cheap then
    };
    for id in ids {
        let dir = cache.join("kernels").join(r.cache_key(&id));
        if dir.join("bzImage").is_file() {
            return read_meta(&dir).map(Some);
        }
    }
    Ok(None)
}

fn read_meta(dir: &Path) -> Result<BuiltKernel> {
    let meta = dir.join("meta.json");
    let damaged = |why: String| {
        anyhow::anyhow!(
            "the kernel cache entry {} is damaged: {why}; fix: remove that folder (rm -r {}) and build the kernel again with `zswap-bench kernel build <name>`",
            dir.display(),
            dir.display()
        )
    };
    let bytes = bench_results::input::read_bytes(&meta, bench_results::input::limit::TEXT)
        .map_err(|e| damaged(format!("meta.json cannot be read ({e})")))?;
    let mut k: BuiltKernel = serde_json::from_slice(&bytes)
        .map_err(|e| damaged(format!("meta.json is not a kernel record ({e})")))?;
    k.bzimage = dir.join("bzImage");
    k.dir = dir.to_path_buf();
    Ok(k)
}

fn make_cmd(src: &Path, build: &Path) -> Command {
    let mut c = Command::new("make");
    c.current_dir(src).arg(format!("O={}", build.display()));
    // Reproducible identity strings, so ccache hits across rebuilds.
    c.env("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 1970")
        .env("KBUILD_BUILD_USER", "zswap-bench")
        .env("KBUILD_BUILD_HOST", "zswap-bench")
        .env("CCACHE_DIR", paths::cache_dir().join("ccache"));
    if source::which("ccache").is_some() {
        c.arg("CC=ccache gcc");
    }
    c
}

fn configure(src: &Path, build: &Path, fragment: &str, log: &Path) -> Result<()> {
    let frag_path = build.join("zswap-bench.fragment");
    let same = std::fs::read_to_string(&frag_path).is_ok_and(|t| t == fragment)
        && build.join(".config").is_file();
    if same {
        return Ok(());
    }
    std::fs::write(&frag_path, fragment)?;
    let logf = || -> Result<Stdio> {
        Ok(std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?
            .into())
    };
    sh(
        make_cmd(src, build).arg("allnoconfig").stdout(logf()?),
        "make allnoconfig",
    )?;
    sh(
        Command::new(src.join("scripts/kconfig/merge_config.sh"))
            .current_dir(src)
            .args(["-m", "-O"])
            .arg(build)
            .arg(build.join(".config"))
            .arg(&frag_path)
            .stdout(logf()?),
        "merge_config.sh",
    )?;
    sh(
        make_cmd(src, build).arg("olddefconfig").stdout(logf()?),
        "make olddefconfig",
    )?;
    // Say which requested options did not survive olddefconfig (missing dependencies).
    let cfg = std::fs::read_to_string(build.join(".config"))?;
    let dropped: Vec<&str> = fragment
        .lines()
        .filter(|l| l.starts_with("CONFIG_") && !l.ends_with("=n"))
        .filter(|l| !cfg.lines().any(|c| c == *l))
        .collect();
    if !dropped.is_empty() {
        eprintln!(
            "warning: config options not in the final .config (unmet dependencies?): {}",
            dropped.join(" ")
        );
    }
    Ok(())
}

fn make_bzimage(src: &Path, build: &Path, log: &Path) -> Result<()> {
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut child = make_cmd(src, build)
        .arg(format!("-j{jobs}"))
        .arg("bzImage")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting make")?;
    let mut logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let stderr = child.stderr.take().unwrap();
    let err_log = log.to_path_buf();
    let err_thread = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(err_log)
            .ok();
        let mut tail = std::collections::VecDeque::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = f.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            tail.push_back(line);
            if tail.len() > 30 {
                tail.pop_front();
            }
        }
        tail
    });
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(250));
    let mut objs = 0u64;
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        use std::io::Write;
        let _ = writeln!(logf, "{line}");
        if line.starts_with("  CC") {
            objs += 1;
        }
        pb.set_message(format!("{objs} objects compiled | {}", line.trim()));
    }
    let status = child.wait()?;
    pb.finish_and_clear();
    let tail = err_thread.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "kernel build failed ({status}); last errors:\n{}\n  full log: {}",
            tail.into_iter().collect::<Vec<_>>().join("\n"),
            log.display()
        );
    }
    Ok(())
}

/// `zswap-bench kernel list`
/// The cache folder, refused when it is something else (a file where a folder should be
/// would otherwise read as "nothing built yet").
pub fn cache_checked() -> Result<PathBuf> {
    let c = paths::cache_dir();
    cache_folder_ok(&c)?;
    Ok(c)
}

fn cache_folder_ok(c: &Path) -> Result<()> {
    for d in [c.to_path_buf(), c.join("kernels")] {
        if d.exists() && !d.is_dir() {
            bail!(
                "the kernel cache {} is not a folder; fix: remove or move that file, or point ZSWAP_BENCH_CACHE at a folder",
                d.display()
            );
        }
    }
    Ok(())
}

pub fn list() -> Result<()> {
    let dir = cache_checked()?.join("kernels");
    let mut rows = vec![];
    let mut damaged = vec![];
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if !e.path().is_dir() {
            continue; // <name>.last links
        }
        match read_meta(&e.path()) {
            Ok(k) => rows.push(k),
            // A build in progress has no bzImage yet; with one, the entry should be whole.
            Err(err) if e.path().join("bzImage").exists() => damaged.push(format!("{err:#}")),
            Err(_) => {}
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let known = manifest::available(&kernels_dir());
    println!(
        "{:<24} {:<17} {:>8} {:>7}  source",
        "KERNEL", "KEY", "BUILD s", "PATCHES"
    );
    for k in &rows {
        println!(
            "{:<24} {:<17} {:>8.0} {:>7}  {}",
            k.name,
            k.key,
            k.build_secs,
            k.patches.len(),
            k.source_id
        );
        // Fuzzed or fixed-up series: say how every patch went in, next to the kernel (it
        // changes what was measured); series applied as posted take one line.
        let altered = k
            .applied
            .iter()
            .any(|(p, h)| bench_results::schema::AppliedPatch::not_as_posted(p, h).is_some());
        for (patch, how) in k.applied.iter().filter(|_| altered) {
            match bench_results::schema::AppliedPatch::not_as_posted(patch, how) {
                Some(line) => println!("    {line}"),
                None => println!("    {how}: {patch}"),
            }
        }
    }
    let unbuilt: Vec<&String> = known
        .iter()
        .filter(|n| !rows.iter().any(|k| &k.name == *n))
        .collect();
    for d in &damaged {
        println!("damaged: {d}");
    }
    if !unbuilt.is_empty() {
        println!(
            "not built yet: {}",
            unbuilt
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

impl BuiltKernel {
    /// A bzImage given by path: no manifest, no cache entry, the file's directory as `dir`.
    pub fn from_image(p: &Path) -> BuiltKernel {
        BuiltKernel {
            name: p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().to_string(),
            ),
            key: String::new(),
            source_id: format!("file:{}", p.display()),
            patches: vec![],
            applied: vec![],
            config_sha256: String::new(),
            cmdline: String::new(),
            build_secs: 0.0,
            bzimage: p.to_path_buf(),
            dir: p.parent().unwrap_or(Path::new(".")).to_path_buf(),
            probes: None,
        }
    }
}

/// Is `arg` a bzImage path rather than a manifest name or path?
pub fn is_image(arg: &str) -> bool {
    Path::new(arg).is_file() && !arg.ends_with(".toml")
}

/// Checks that `arg` names a kernel (a bzImage, or a manifest that parses) without building
/// it: what a run checks before it creates its results directory.
pub fn check_named(arg: &str) -> Result<()> {
    if is_image(arg) {
        return Ok(());
    }
    load(arg).map(|_| ())
}

/// A bzImage path, a manifest name or a manifest path -> a bootable kernel (built if needed).
pub fn resolve_bootable(arg: &str) -> Result<BuiltKernel> {
    if is_image(arg) {
        return Ok(BuiltKernel::from_image(Path::new(arg)));
    }
    build(arg)
}

/// The kernel a matrix plan names, from this machine's cache only (never built here: a cluster
/// node must not start a 20-minute build, or boot another build under the same name). `arg` is
/// the manifest name or path (its `[probes]` names travel with the kernel), `key` the cache key
/// and `sha256` the bzImage's.
pub fn verify_cached(arg: &str, key: &str, sha256: &str) -> Result<BuiltKernel> {
    let dir = paths::cache_dir().join("kernels").join(key);
    if !dir.join("bzImage").is_file() {
        bail!(
            "kernel {arg} (cache key {key}) is not in this machine's kernel cache {}; fix: put the cache where every node sees it (ZSWAP_BENCH_CACHE on shared storage), or build it here with `zswap-bench kernel build {arg}`",
            paths::cache_dir().display()
        );
    }
    let mut k = read_meta(&dir).with_context(|| {
        format!(
            "the cache entry {} is damaged; fix: remove it and run `zswap-bench kernel build {arg}`",
            dir.display()
        )
    })?;
    let found = manifest::file_sha256(&k.bzimage)?;
    if found != sha256 {
        bail!(
            "kernel {arg} (cache key {key}): {} has sha256 {found}, the plan wants {sha256}; fix: this cache holds another build under the same key: remove {} and rebuild, or plan the matrix again",
            k.bzimage.display(),
            dir.display()
        );
    }
    // The manifest's probe names are not part of the build; read them as `build` does.
    if let Ok(r) = load(arg) {
        k.probes = r.probes;
    }
    Ok(k)
}

/// Like [`resolve_bootable`], but never builds: `None` when the kernel is not in the cache
/// yet (or its identity is only known after preparing its source: tarball and git sources).
pub fn find_built(arg: &str) -> Result<Option<BuiltKernel>> {
    if is_image(arg) {
        return Ok(Some(BuiltKernel::from_image(Path::new(arg))));
    }
    let r = load(arg)?;
    let probes = r.probes.clone();
    Ok(find_cached(&cache_checked()?, &r)?.map(|mut k| {
        k.probes = probes;
        k
    }))
}
