//! Kernel manifests (kernels/<name>.toml): source, ordered patches, config, boot command line.
//! Parsing is strict (unknown keys are errors) and resolution reads every input the build
//! depends on, so the cache key covers exactly what changes the kernel.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: SourceSpec,
    #[serde(default)]
    pub patches: Vec<PatchSpec>,
    pub config: ConfigSpec,
    #[serde(default)]
    pub boot: BootSpec,
    /// Names the probes should use on this kernel (entry points, units, cursor lock, stat,
    /// interface key); unnamed ones come from the built-in profile that matches.
    #[serde(default)]
    pub probes: Option<crate::probes::profiles::ProbeNames>,
    /// Patches applied right after a named patch of the series (ports of a hunk to this base).
    #[serde(default)]
    pub fixups: Vec<FixupSpec>,
    /// Free-form notes for readers (e.g. which functions a series marks noinline and why);
    /// parsed so that typos elsewhere are still caught, not used by the build.
    #[serde(default)]
    #[allow(dead_code)]
    pub notes: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Debian package name, e.g. "linux-source-7.3".
    pub debian: Option<String>,
    pub tarball: Option<PathBuf>,
    pub git: Option<GitSpec>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct GitSpec {
    pub path: PathBuf,
    pub rev: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchSpec {
    pub dir: Option<PathBuf>,
    pub mbox: Option<PathBuf>,
    pub file: Option<PathBuf>,
    pub message_id: Option<String>,
    /// A posted series: its cover letter's Message-Id (names the series; the mail itself is
    /// never applied) ...
    pub cover: Option<String>,
    /// ... and its patches' Message-Ids in order, with their subjects (kernel/mails.rs).
    #[serde(default)]
    pub mails: Vec<MailSpec>,
    /// Context lines `patch -F` may ignore when `git am -3` refuses (real series are written
    /// against trees we do not have). Recorded with the kernel.
    #[serde(default)]
    pub fuzz: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSpec {
    pub id: String,
    /// As posted; named when the mail is missing.
    pub subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixupSpec {
    /// Subject (or part of it) or file name of the patch this one follows, e.g. "v5 2/6".
    pub after: Option<String>,
    /// ... or precedes (e.g. a revert of a base change the series' base did not have yet).
    pub before: Option<String>,
    pub file: PathBuf,
}

/// Where a fix-up goes, relative to a patch named by (part of) its subject or file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Anchor {
    After(String),
    Before(String),
}

impl Anchor {
    pub fn text(&self) -> &str {
        match self {
            Anchor::After(s) | Anchor::Before(s) => s,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub fragments: Vec<PathBuf>,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BootSpec {
    #[serde(default)]
    pub cmdline: String,
}

/// Where the source comes from, resolved to something hashable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Debian { package: String },
    Tarball { path: PathBuf },
    Git { path: PathBuf, rev: String },
}

/// One patch input: a single patch file or an mbox (both applied with `git am`).
#[derive(Debug, Clone)]
pub struct PatchInput {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub mbox: bool,
    pub fuzz: u32,
    /// The one mail of the mbox at `path` to apply (a series given by Message-Id).
    pub message_id: Option<String>,
}

/// A manifest with every file it names read and hashed.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub description: String,
    pub source: Source,
    pub patches: Vec<PatchInput>,
    /// (after, fix-up): applied right after the first patch whose subject or file name
    /// contains `after`.
    pub fixups: Vec<(Anchor, PatchInput)>,
    /// Fragments concatenated, then options: what merge_config.sh receives.
    pub config_fragment: String,
    pub cmdline: String,
    /// `[probes]`: not part of the build (not in the cache key), passed to the guest.
    pub probes: Option<crate::probes::profiles::ProbeNames>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// sha256 (hex) of a regular file, read in pieces: a source tarball or a bzImage is hashed
/// without holding it in memory, and a FIFO or device is refused rather than read forever.
pub fn file_sha256(p: &Path) -> Result<String> {
    let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file; fix: name the file itself",
            p.display()
        );
    }
    let mut f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", p.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// A manifest name (kernels/<name>.toml) or a path to one.
pub fn locate(kernels_dir: &Path, arg: &str) -> Result<PathBuf> {
    let p = Path::new(arg);
    if arg.ends_with(".toml") || arg.contains('/') {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("kernel manifest {arg} not found");
    }
    let cand = kernels_dir.join(format!("{arg}.toml"));
    if cand.is_file() {
        return Ok(cand);
    }
    // The posted versions of the series live in their own folder, under names of their own.
    let posted = kernels_dir.join(POSTED).join(format!("{arg}.toml"));
    if posted.is_file() {
        return Ok(posted);
    }
    let known = available(kernels_dir);
    bail!(
        "unknown kernel {arg:?}: no {}.\n  known kernels: {}\n  fix: pick one of those, pass a manifest path, or add kernels/{arg}.toml (format: kernels/README.md)",
        cand.display(),
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// Manifests of the posted versions: `kernels/posted/<name>.toml`.
pub const POSTED: &str = "posted";

pub fn available(kernels_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = [kernels_dir.to_path_buf(), kernels_dir.join(POSTED)]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// Does `data` hold a diff (a git or unified one)? What `git am` and `patch` need at the least.
fn has_diff(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let mut minus = false;
    for l in text.lines() {
        if l.starts_with("diff --git ") || (minus && l.starts_with("+++ ")) {
            return true;
        }
        minus = l.starts_with("--- ");
    }
    false
}

pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
    let m: Manifest = toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}\n  fix: see kernels/README.md for the manifest format",
            crate::toml_error::describe(path, text, &e)
        )
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    if m.name != stem {
        bail!(
            "{}: name = {:?} but the file is {stem}.toml; fix: make them equal",
            path.display(),
            m.name
        );
    }
    Ok(m)
}

impl Manifest {
    /// Every number and list within its bound (limits.rs), before any file is read.
    fn check_bounds(&self, ctx: &str) -> Result<()> {
        use crate::limits::*;
        let list = |r: Result<(), String>| r.map_err(|e| anyhow::anyhow!("{ctx}: {e}"));
        for (i, p) in self.patches.iter().enumerate() {
            if p.fuzz > FUZZ_MAX {
                bail!(
                    "{ctx}: patches[{i}] fuzz = {} is above the maximum {FUZZ_MAX}; fix: use 0 to {FUZZ_MAX} (a unified diff has {FUZZ_MAX} context lines; more fuzz would apply a hunk anywhere)",
                    p.fuzz
                );
            }
        }
        let mails: usize = self.patches.iter().map(|p| p.mails.len().max(1)).sum();
        if mails > PATCHES_MAX {
            bail!(
                "{ctx}: {mails} patches are above the maximum {PATCHES_MAX}; fix: split the series"
            );
        }
        list(at_most(&self.fixups, FIXUPS_MAX, "[[fixups]]"))?;
        list(at_most(
            &self.config.fragments,
            FRAGMENTS_MAX,
            "[config] fragments",
        ))?;
        list(at_most(
            &self.config.options,
            CONFIG_OPTIONS_MAX,
            "[config] options",
        ))?;
        let c = &self.boot.cmdline;
        if c.len() > CMDLINE_MAX {
            bail!(
                "{ctx}: [boot] cmdline is {} bytes, above the maximum {CMDLINE_MAX}; fix: shorten it (x86 holds 2048 and the runner adds its own)",
                c.len()
            );
        }
        if let Some(ch) = c.chars().find(|ch| !(ch.is_ascii_graphic() || *ch == ' ')) {
            bail!(
                "{ctx}: [boot] cmdline holds {ch:?}; fix: use printable ASCII words separated by spaces"
            );
        }
        Ok(())
    }

    pub fn resolve(self, manifest_path: &Path) -> Result<Resolved> {
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        // Absolute, because git applies patches from inside the source tree.
        let here = |p: &Path| {
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            };
            std::fs::canonicalize(&p).unwrap_or(p)
        };
        let ctx = manifest_path.display();
        self.check_bounds(&ctx.to_string())?;
        let source = match (&self.source.debian, &self.source.tarball, &self.source.git) {
            (Some(pkg), None, None) => {
                if !pkg.starts_with("linux-source-") {
                    bail!("{ctx}: [source] debian = {pkg:?}: expected a linux-source-N.M package");
                }
                Source::Debian {
                    package: pkg.clone(),
                }
            }
            (None, Some(t), None) => {
                let path = here(t);
                if !path.is_file() {
                    bail!("{ctx}: [source] tarball {} does not exist", path.display());
                }
                Source::Tarball { path }
            }
            (None, None, Some(g)) => {
                let path = here(&g.path);
                if !path.join(".git").exists() && !path.join("HEAD").exists() {
                    bail!(
                        "{ctx}: [source] git path {} is not a git tree",
                        path.display()
                    );
                }
                Source::Git {
                    path,
                    rev: g.rev.clone(),
                }
            }
            _ => bail!("{ctx}: [source] needs exactly one of debian, tarball, git"),
        };
        let mut patches = vec![];
        for (i, p) in self.patches.iter().enumerate() {
            let n = [
                p.dir.is_some(),
                p.mbox.is_some(),
                p.file.is_some(),
                p.message_id.is_some(),
                !p.mails.is_empty(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if p.cover.is_some() && p.mails.is_empty() {
                bail!(
                    "{ctx}: patches[{i}] names a cover letter but no mails; fix: list the patches as mails = [{{ id = \"...\", subject = \"...\" }}, ...]"
                );
            }
            if n != 1 {
                bail!(
                    "{ctx}: patches[{i}] needs exactly one of dir, mbox, file, message_id, mails"
                );
            }
            if p.message_id.is_some() || !p.mails.is_empty() {
                let list: Vec<(&str, Option<&str>)> = p
                    .mails
                    .iter()
                    .map(|m| (m.id.as_str(), m.subject.as_deref()))
                    .collect();
                let wanted = super::mails::wanted(p.message_id.as_deref(), &list)
                    .with_context(|| format!("{ctx}: patches[{i}]"))?;
                let c = format!("{ctx}: patches[{i}]");
                let found = super::mails::resolve(&c, p.cover.as_deref(), &wanted)?;
                patches.extend(found.into_iter().map(|m| PatchInput {
                    name: m.name,
                    path: m.path,
                    sha256: m.sha256,
                    mbox: true,
                    fuzz: p.fuzz,
                    message_id: Some(m.message_id),
                }));
                continue;
            }
            let files: Vec<(PathBuf, bool)> = if let Some(d) = &p.dir {
                let d = here(d);
                let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
                    .with_context(|| format!("{ctx}: patches[{i}] dir {}", d.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "patch"))
                    .collect();
                v.sort();
                if v.len() > crate::limits::PATCHES_MAX {
                    bail!(
                        "{ctx}: patches[{i}] dir {} holds {} patches, above the maximum {}; fix: split the series",
                        d.display(),
                        v.len(),
                        crate::limits::PATCHES_MAX
                    );
                }
                if v.is_empty() {
                    bail!(
                        "{ctx}: patches[{i}] dir {} holds no *.patch file; fix: point dir at the series' patches (git format-patch output)",
                        d.display()
                    );
                }
                v.into_iter().map(|p| (p, false)).collect()
            } else if let Some(m) = &p.mbox {
                vec![(here(m), true)]
            } else {
                vec![(here(p.file.as_ref().unwrap()), false)]
            };
            for (path, mbox) in files {
                let data =
                    bench_results::input::read_bytes(&path, bench_results::input::limit::PATCH)
                        .with_context(|| {
                            format!("{ctx}: patches[{i}]: cannot read {}", path.display())
                        })?;
                // Refused here, before a source is fetched or a tree touched.
                if !has_diff(&data) {
                    bail!(
                        "{ctx}: patches[{i}]: {} holds no diff (no `diff --git` or `---`/`+++` lines), so it is not a patch{}; fix: point at the patch files (git format-patch output) or the mbox of the posted series",
                        path.display(),
                        if mbox { " or an mbox of patches" } else { "" }
                    );
                }
                patches.push(PatchInput {
                    name: path.file_name().unwrap().to_string_lossy().to_string(),
                    sha256: sha256_hex(&data),
                    path,
                    mbox,
                    fuzz: p.fuzz,
                    message_id: None,
                });
            }
        }
        let mut fixups = vec![];
        for (i, f) in self.fixups.iter().enumerate() {
            let path = here(&f.file);
            let data = bench_results::input::read_bytes(&path, bench_results::input::limit::PATCH)
                .with_context(|| format!("{ctx}: fixups[{i}]: cannot read {}", path.display()))?;
            if !has_diff(&data) {
                bail!(
                    "{ctx}: fixups[{i}]: {} holds no diff, so it is not a patch; fix: point file at a patch",
                    path.display()
                );
            }
            let anchor = match (&f.after, &f.before) {
                (Some(a), None) if !a.trim().is_empty() => Anchor::After(a.clone()),
                (None, Some(b)) if !b.trim().is_empty() => Anchor::Before(b.clone()),
                _ => bail!(
                    "{ctx}: fixups[{i}] needs exactly one non-empty `after` or `before`; fix: name the patch it follows or precedes, e.g. after = \"v5 2/6\""
                ),
            };
            fixups.push((
                anchor,
                PatchInput {
                    name: path.file_name().unwrap().to_string_lossy().to_string(),
                    sha256: sha256_hex(&data),
                    path,
                    mbox: false,
                    fuzz: 0,
                    message_id: None,
                },
            ));
        }
        if self.config.fragments.is_empty() {
            bail!("{ctx}: [config] fragments is empty; fix: fragments = [\"config/guest.config\"]");
        }
        let mut config_fragment = String::new();
        for f in &self.config.fragments {
            let p = here(f);
            let t = bench_results::input::read_text(&p, bench_results::input::limit::TEXT)
                .with_context(|| format!("{ctx}: [config] fragment {}", p.display()))?;
            config_fragment.push_str(&t);
            if !config_fragment.ends_with('\n') {
                config_fragment.push('\n');
            }
        }
        for o in &self.config.options {
            let ok = o.starts_with("CONFIG_") && o.contains('=')
                || o.starts_with("# CONFIG_") && o.ends_with(" is not set");
            if !ok {
                bail!(
                    "{ctx}: [config] option {o:?}: expected CONFIG_X=y|m|n|value or \"# CONFIG_X is not set\""
                );
            }
            config_fragment.push_str(o);
            config_fragment.push('\n');
        }
        if let Some(p) = &self.probes
            && p.cursor_lock_once_per_call
            && p.cursor_lock.is_none()
        {
            bail!(
                "{ctx}: [probes] cursor_lock_once_per_call = true says which lock is taken once per call, but no cursor_lock names it; fix: add cursor_lock = \"zswap_shrink_lock\" or \"mem_cgroup.zswap_wb_iter.lock\", or drop the key"
            );
        }
        Ok(Resolved {
            name: self.name,
            description: self.description,
            source,
            patches,
            fixups,
            config_fragment,
            cmdline: self.boot.cmdline,
            probes: self.probes,
        })
    }
}

/// Bump when the build recipe changes in a way that changes the output.
const RECIPE: &str =
    "zswap-bench kernel recipe 1: allnoconfig+merge_config -m+olddefconfig, bzImage";
/// Added to the key only when a manifest uses fuzz or fix-ups, so existing keys stay valid.
const APPLY_RECIPE: &str = "apply 2: git am -3, patch -F, fix-ups after named patches";

impl Resolved {
    /// Cache key over what determines the built kernel: source identity, patch contents in
    /// order, the resolved config fragment and the command line. Names, descriptions, notes and
    /// the order of TOML keys do not matter.
    pub fn cache_key(&self, source_identity: &str) -> String {
        let mut h = Sha256::new();
        for part in [RECIPE, source_identity] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for p in &self.patches {
            h.update(p.sha256.as_bytes());
            h.update([if p.mbox { 1 } else { 0 }]);
        }
        if !self.fixups.is_empty() || self.patches.iter().any(|p| p.fuzz > 0) {
            h.update(APPLY_RECIPE.as_bytes());
            for p in &self.patches {
                h.update(p.fuzz.to_le_bytes());
            }
            for (anchor, f) in &self.fixups {
                h.update([matches!(anchor, Anchor::Before(_)) as u8]);
                h.update(anchor.text().as_bytes());
                h.update([0]);
                h.update(f.sha256.as_bytes());
            }
        }
        h.update([0]);
        h.update(self.config_fragment.as_bytes());
        h.update([0]);
        h.update(self.cmdline.as_bytes());
        hex::encode(h.finalize())[..16].to_string()
    }

    /// Key of the configuration alone (one build directory per source x config, shared by
    /// every series on that base so switching series rebuilds incrementally).
    pub fn config_key(&self) -> String {
        sha256_hex(self.config_fragment.as_bytes())[..12].to_string()
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
