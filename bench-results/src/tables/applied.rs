//! How each kernel's series went in: per patch, `git am`, `patch -F<n>` with the hunks it
//! fuzzed, or a fix-up of ours and where; and the kernel's build time. Posted series are written
//! against trees we do not have, so this is part of what was measured.
use std::fmt::Write;

use crate::schema::ResultFile;

pub(super) fn applied(ok: &[&ResultFile]) -> String {
    let mut s = String::from(
        "| kernel | runs | build | # | patch | how it went in |\n|---|---|---|---|---|---|\n",
    );
    for (kernel, runs) in super::by_kernel(ok) {
        let Some(series) = runs.iter().find_map(|r| r.kernel.series.as_ref()) else {
            let _ = writeln!(s, "| {kernel} | {} | | | (no patches) | |", runs.len());
            continue;
        };
        let build = series
            .build_secs
            .map_or("n/a: not recorded".to_string(), |b| format!("{b:.0} s"));
        if series.applied.is_empty() {
            let _ = writeln!(
                s,
                "| {kernel} | {} | {build} | | {} patches | n/a: not recorded (results older than the record) |",
                runs.len(),
                series.patches.len()
            );
            continue;
        }
        for (i, a) in series.applied.iter().enumerate() {
            let (k, n, b) = if i == 0 {
                (kernel.as_str(), runs.len().to_string(), build.as_str())
            } else {
                ("", String::new(), "")
            };
            let _ = writeln!(
                s,
                "| {k} | {n} | {b} | {} | {} | {} |",
                i + 1,
                a.patch.replace('|', "\\|"),
                a.how.replace('|', "\\|")
            );
        }
    }
    s
}
