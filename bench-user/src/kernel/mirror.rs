//! The Debian mirror this machine's own apt configuration uses. Our private apt configurations
//! (other suites than the machine lists) point at the same mirror, so the project names no
//! package host of its own and follows whatever mirror or proxy the machine is set up with.
use std::path::Path;

use anyhow::{Result, bail};

/// (main archive URI, security archive URI if listed) from apt's one-line (`*.list`) and deb822
/// (`*.sources`) files under `etc_apt` (normally /etc/apt).
pub fn debian_mirror(etc_apt: &Path) -> Result<String> {
    let mut texts = vec![];
    if let Ok(t) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        texts.push(t);
    }
    let mut parts: Vec<_> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
        .collect();
    parts.sort();
    for p in parts {
        if let Ok(t) = std::fs::read_to_string(&p) {
            texts.push(t);
        }
    }
    match texts.iter().find_map(|t| main_uri(t)) {
        Some(u) => Ok(u),
        None => bail!(
            "no Debian archive in {}/sources.list or sources.list.d/ (a `deb <uri>/debian <suite> main` line or a deb822 `URIs:` entry); fix: configure apt with a Debian mirror, or use [source] tarball = \"linux-x.y.tar.xz\"",
            etc_apt.display()
        ),
    }
}

/// The first URI of a Debian main archive (path ending in `/debian`) in one apt file.
fn main_uri(text: &str) -> Option<String> {
    let is_main = |u: &str| u.trim_end_matches('/').ends_with("/debian");
    for l in text.lines().map(str::trim) {
        if l.starts_with('#') {
            continue;
        }
        // One-line format: deb [options] uri suite components...
        if let Some(rest) = l.strip_prefix("deb ") {
            let uri = rest
                .split_whitespace()
                .skip_while(|w| w.starts_with('['))
                .find(|w| !w.ends_with(']'));
            if let Some(u) = uri.filter(|u| is_main(u)) {
                return Some(u.trim_end_matches('/').to_string());
            }
        }
        // deb822: URIs: uri [uri...]
        if let Some(rest) = l.strip_prefix("URIs:")
            && let Some(u) = rest.split_whitespace().find(|u| is_main(u))
        {
            return Some(u.trim_end_matches('/').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_apt_formats_give_the_main_archive() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sources.list.d")).unwrap();
        // deb822, security first: the main archive is still the one taken.
        std::fs::write(
            d.path().join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: x-security\n\n\
             Types: deb\nURIs: http://mirror.example/debian/\nSuites: x x-updates\n",
        )
        .unwrap();
        assert_eq!(
            debian_mirror(d.path()).unwrap(),
            "http://mirror.example/debian"
        );
        // A one-line sources.list is read first.
        std::fs::write(
            d.path().join("sources.list"),
            "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://local.example/debian y main\n",
        )
        .unwrap();
        assert_eq!(
            debian_mirror(d.path()).unwrap(),
            "http://local.example/debian"
        );
        // Nothing Debian: a clear error with the way out.
        let e = tempfile::tempdir().unwrap();
        let msg = debian_mirror(e.path()).unwrap_err().to_string();
        assert!(
            msg.contains("no Debian archive") && msg.contains("tarball"),
            "{msg}"
        );
    }
}
