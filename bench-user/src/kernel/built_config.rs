//! What a built kernel was configured with, read before it boots (how many CPUs it can bring
//! up decides whether a `--cpus` request can be honoured). The cache keeps each kernel's
//! `.config` beside its bzImage as `config`; a bare bzImage given by path may have one beside it
//! too, and otherwise carries it inside itself when built with CONFIG_IKCONFIG (ours are): the
//! gzipped `.config` between `IKCFG_ST` and `IKCFG_ED` markers in vmlinux, which the bzImage
//! holds gzipped in turn, as the kernel's scripts/extract-ikconfig finds it.
use std::io::Read;

use anyhow::{Context, Result};

use super::BuiltKernel;

impl BuiltKernel {
    /// The kernel's `.config`: `config` or `.config` beside the bzImage, else the copy inside
    /// the image. `None` when there is none (no IKCONFIG, or an image compressed other than
    /// with gzip).
    pub fn config_text(&self) -> Result<Option<String>> {
        for name in ["config", ".config"] {
            let p = self.dir.join(name);
            if p.is_file() {
                return std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))
                    .map(Some);
            }
        }
        let image = std::fs::read(&self.bzimage)
            .with_context(|| format!("reading {}", self.bzimage.display()))?;
        Ok(ikconfig(&image))
    }

    /// CONFIG_NR_CPUS: the most CPUs this kernel brings up. `None` when its config is unknown.
    pub fn nr_cpus(&self) -> Result<Option<u32>> {
        Ok(self.config_text()?.as_deref().and_then(nr_cpus))
    }
}

/// CONFIG_NR_CPUS of a `.config`; 1 for a kernel without SMP.
pub fn nr_cpus(config: &str) -> Option<u32> {
    for l in config.lines() {
        if let Some(v) = l.strip_prefix("CONFIG_NR_CPUS=") {
            return v.trim().parse().ok();
        }
    }
    config
        .lines()
        .any(|l| l.trim() == "# CONFIG_SMP is not set")
        .then_some(1)
}

const IKCFG_START: &[u8] = b"IKCFG_ST";
/// A decompressed x86 kernel is tens of MiB; anything this large is not one.
const MAX_IMAGE: u64 = 512 << 20;
/// gzip's magic and its deflate method byte (what extract-ikconfig searches for).
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

/// The `.config` embedded in a kernel image (vmlinux, or a bzImage whose payload is gzip).
pub fn ikconfig(image: &[u8]) -> Option<String> {
    if let Some(c) = embedded(image) {
        return Some(c);
    }
    // Every gzip header in the image is a candidate payload; false ones fail to inflate.
    let mut from = 0;
    while let Some(at) = find(&image[from..], GZIP_MAGIC) {
        let start = from + at;
        if let Some(c) = gunzip(&image[start..]).as_deref().and_then(embedded) {
            return Some(c);
        }
        from = start + 1;
    }
    None
}

/// The gzipped config that follows the `IKCFG_ST` marker, inflated.
fn embedded(vmlinux: &[u8]) -> Option<String> {
    let at = find(vmlinux, IKCFG_START)? + IKCFG_START.len();
    String::from_utf8(gunzip(&vmlinux[at..])?).ok()
}

/// Inflates the gzip member at the start of `data` (what follows it is ignored).
fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![];
    flate2::read::GzDecoder::new(data)
        .take(MAX_IMAGE)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A stand-in bzImage: a setup header, the gzipped "vmlinux" holding the gzipped config
    /// between the IKCONFIG markers, and trailing bytes, as a real one is laid out.
    pub(crate) fn fake_bzimage(config: &str) -> Vec<u8> {
        let mut vmlinux = b"\x7fELF kernel text ".repeat(100);
        vmlinux.extend_from_slice(b"IKCFG_ST");
        vmlinux.extend_from_slice(&gzip(config.as_bytes()));
        vmlinux.extend_from_slice(b"IKCFG_ED more kernel data");
        // A stray gzip magic before the payload: it must be skipped, not trusted.
        let mut image = b"MZ setup HdrS \x1f\x8b\x08 not gzip ".to_vec();
        image.extend_from_slice(&gzip(&vmlinux));
        image.extend_from_slice(&[0u8; 64]);
        image
    }

    #[test]
    fn nr_cpus_comes_from_the_config_or_is_1_without_smp() {
        assert_eq!(nr_cpus("CONFIG_SMP=y\nCONFIG_NR_CPUS=256\n"), Some(256));
        assert_eq!(nr_cpus("# CONFIG_SMP is not set\n"), Some(1));
        assert_eq!(nr_cpus("CONFIG_SMP=y\n"), None);
    }

    #[test]
    fn the_config_inside_a_gzip_bzimage_is_found() {
        let cfg = "CONFIG_SMP=y\nCONFIG_NR_CPUS=96\nCONFIG_IKCONFIG=y\n";
        assert_eq!(ikconfig(&fake_bzimage(cfg)).as_deref(), Some(cfg));
        assert_eq!(ikconfig(b"MZ no config anywhere \x1f\x8b\x08 junk"), None);
    }

    #[test]
    fn a_config_beside_the_image_wins_over_the_embedded_one() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("bzImage"),
            fake_bzimage("CONFIG_NR_CPUS=96\n"),
        )
        .unwrap();
        let k = BuiltKernel::from_image(&d.path().join("bzImage"));
        assert_eq!(k.nr_cpus().unwrap(), Some(96));
        std::fs::write(d.path().join("config"), "CONFIG_NR_CPUS=256\n").unwrap();
        assert_eq!(k.nr_cpus().unwrap(), Some(256));
    }
}
