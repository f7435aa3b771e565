//! zswap module parameters: set for the run through [`set_params`], which records each
//! parameter's original value with the [`Guard`] before writing it; the guard writes the
//! originals back in reverse order ([`Undo::ZswapParam`]).
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use super::state::Guard;
use super::undo::Undo;
use super::write_ctl;

/// Where the kernel exposes zswap's parameters.
pub const PARAMS_DIR: &str = "/sys/module/zswap/parameters";

/// Sets `(name, value)` parameters in order (the scenario lists `enabled` first, so it is
/// restored last).
pub fn set_params(guard: &mut Guard, params: &[(&str, String)]) -> Result<()> {
    set_params_in(guard, Path::new(PARAMS_DIR), params, &mut |f, v| {
        write_ctl(f, v)
    })
}

/// [`set_params`] on the parameters in `dir`, writing through `write` (tests watch the order
/// of record and write through it).
pub fn set_params_in(
    guard: &mut Guard,
    dir: &Path,
    params: &[(&str, String)],
    write: &mut dyn FnMut(&Path, &str) -> std::io::Result<()>,
) -> Result<()> {
    for (name, value) in params {
        let f = dir.join(name);
        let old =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        // Only the first change of a parameter knows its original value.
        let recorded = guard.changes().iter().any(
            |u| matches!(u, Undo::ZswapParam { dir: d, name: n, .. } if d == dir && n == name),
        );
        if !recorded {
            guard.push(Undo::ZswapParam {
                dir: dir.to_path_buf(),
                name: name.to_string(),
                old: old.trim().into(),
            })?;
        }
        write(&f, value)
            .map_err(|e| anyhow!("setting zswap {name}={value} ({}): {e}", f.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::state::parse_state;

    #[test]
    fn each_original_is_recorded_before_its_write_and_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("params");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("enabled"), "N\n").unwrap();
        std::fs::write(dir.join("max_pool_percent"), "20\n").unwrap();
        let mut g = Guard::begin(&tmp.path().join("state"), "z1").unwrap();
        let state_file = g.file().to_path_buf();
        let mut writes = vec![];
        let params = [
            ("enabled", "Y".to_string()),
            ("max_pool_percent", "1".into()),
        ];
        let mut write = |f: &Path, v: &str| {
            // At the moment of the write, the state file on disk already knows the original.
            let st = parse_state(&state_file, &std::fs::read_to_string(&state_file)?).unwrap();
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(
                st.changes
                    .iter()
                    .any(|u| matches!(u, Undo::ZswapParam { name: n, .. } if n == name)),
                "{name} written before its original was recorded: {st:?}"
            );
            writes.push(name.to_string());
            std::fs::write(f, v)
        };
        set_params_in(&mut g, &dir, &params, &mut write).unwrap();
        // Changing one again keeps the first original.
        set_params_in(&mut g, &dir, &params[1..], &mut write).unwrap();
        assert_eq!(writes, ["enabled", "max_pool_percent", "max_pool_percent"]);
        assert_eq!(
            g.changes(),
            [
                Undo::ZswapParam {
                    dir: dir.clone(),
                    name: "enabled".into(),
                    old: "N".into()
                },
                Undo::ZswapParam {
                    dir: dir.clone(),
                    name: "max_pool_percent".into(),
                    old: "20".into()
                },
            ]
        );
        assert!(g.restore().is_empty());
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        assert_eq!(
            (read("enabled").as_str(), read("max_pool_percent").as_str()),
            ("N", "20")
        );
    }

    #[test]
    fn a_failed_write_is_still_undone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("compressor"), "lzo").unwrap();
        let mut g = Guard::begin(&tmp.path().join("state"), "z2").unwrap();
        let e = set_params_in(
            &mut g,
            &dir,
            &[("compressor", "zstd".into())],
            &mut |f, _| {
                // The kernel took the value half-way, then refused.
                std::fs::write(f, "zst")?;
                Err(std::io::Error::from_raw_os_error(libc::EINVAL))
            },
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("setting zswap compressor=zstd"),
            "{e}"
        );
        assert!(g.restore().is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.join("compressor")).unwrap(),
            "lzo"
        );
    }
}
