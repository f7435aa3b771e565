//! Run ids and directories: a run is named after its scenario, kernel and UTC start time, and
//! with several repeats each repeat writes to its own `r<k>/` below the run directory.
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// UTC `YYYYMMDDTHHMMSS` of a Unix time (civil-from-days, no time zone database needed).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub fn make_run_id(scenario: &str, kernel_label: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let clean: String = kernel_label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{scenario}-{clean}-{}", utc_stamp(now))
}

/// Directory of repeat `r`: the run directory itself for a single repeat, else `r<k>/` in it.
pub fn repeat_dir(out: &Path, repeats: u32, r: u32) -> PathBuf {
    if repeats == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("r{r}"))
    }
}

/// Creates `dir` and proves it takes a file (create, write, remove a probe), so a read-only or
/// full results directory is reported before a kernel is built or a VM boots, not after the
/// measurement when the result cannot be written.
pub fn ensure_writable(dir: &Path) -> anyhow::Result<()> {
    let fix = "fix: make it writable (or free space there), or choose another --out";
    if let Some(why) = bench_results::input::not_a_folder(dir) {
        anyhow::bail!(
            "cannot create the results directory {}: {why}",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the results directory {}: {e}; {fix}",
            dir.display()
        )
    })?;
    let probe = dir.join(format!(".zswap-bench-write-probe.{}", std::process::id()));
    let written = std::fs::write(&probe, b"zswap-bench\n");
    // Removed even when the write failed half-way (a full filesystem).
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| {
        anyhow::anyhow!(
            "the results directory {} is not writable: {e}; {fix}",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_results_dirs_are_named_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        ensure_writable(&d.path().join("a/b")).unwrap();
        assert_eq!(std::fs::read_dir(d.path().join("a/b")).unwrap().count(), 0);
        // A path below a file cannot be created.
        std::fs::write(d.path().join("file"), "x").unwrap();
        let e = ensure_writable(&d.path().join("file/out"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot create the results directory") && e.contains("fix: "),
            "{e}"
        );
        // procfs takes no new files, even from root: read-only as a results directory.
        let e = ensure_writable(Path::new("/proc")).unwrap_err().to_string();
        assert!(
            e.contains("/proc is not writable") && e.contains("choose another --out"),
            "{e}"
        );
    }

    #[test]
    fn stamps_are_utc_calendar_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000");
        assert_eq!(utc_stamp(1_795_000_000), "20261118T110640"); // date -u -d @1795000000
    }

    #[test]
    fn repeat_dirs() {
        let o = Path::new("/r/x");
        assert_eq!(repeat_dir(o, 1, 0), PathBuf::from("/r/x"));
        assert_eq!(repeat_dir(o, 3, 2), PathBuf::from("/r/x/r2"));
        let id = make_run_id("quick", "7.3.4 #1");
        assert!(id.starts_with("quick-7.3.4__1-"), "{id}");
    }
}
