//! The largest (and, where zero makes no sense, the smallest) value of every number the command
//! line, a matrix file and a kernel manifest take. A scenario's own numbers are in
//! `scenario/bounds.rs`. Each limit is checked where the value is read, with an error that names
//! the flag or field, the value and the range; `TABLE` is what scenarios/README.md ("Bounds")
//! shows, and a test keeps the two equal.
use std::time::Duration;

use bench_results::human::fmt_bytes;

/// Guest memory (`vm --mem`): below this the kernel and zswap-bench's init over 9p do not come
/// up reliably; above it no host we target has the RAM.
pub const GUEST_MEM_MIN: u64 = 256 << 20;
pub const GUEST_MEM_MAX: u64 = 1 << 40;
/// The guest's swap disk (`vm --swap`), a sparse file in the temporary directory.
pub const GUEST_SWAP_MAX: u64 = 1 << 40;
/// `vm --timeout`.
pub const TIMEOUT_MIN: Duration = Duration::from_secs(1);
pub const TIMEOUT_MAX: Duration = Duration::from_secs(24 * 3600);
/// `probe --interval`: shorter intervals read every map faster than the tables can be read.
pub const INTERVAL_MIN: Duration = Duration::from_millis(100);
pub const INTERVAL_MAX: Duration = Duration::from_secs(3600);
/// `probe --duration`.
pub const PROBE_DURATION_MAX: Duration = Duration::from_secs(24 * 3600);

/// A matrix file's lists: every block is a (scenario, vCPU count, probe set, idle action), and
/// each is planned, validated and reported, so the lists stay at what a person writes.
pub const MATRIX_KERNELS_MAX: usize = 64;
pub const MATRIX_SCENARIOS_MAX: usize = 256;
pub const MATRIX_CPUS_MAX: usize = 64;
pub const MATRIX_SWEEPS_MAX: usize = 256;
pub const MATRIX_BLOCKS_MAX: usize = 4_096;
/// vCPUs of one matrix cell: QEMU's pc machine takes at most 255.
pub const MATRIX_VCPUS_MAX: u32 = 255;

/// `fuzz` of a manifest's patches: GNU patch's fuzz drops context lines, and a unified diff has
/// three, so a fuzz above 3 would let a hunk apply anywhere.
pub const FUZZ_MAX: u32 = 3;
/// A manifest's `[boot] cmdline`: x86's COMMAND_LINE_SIZE is 2048 and the runner adds its own.
pub const CMDLINE_MAX: usize = 1_024;
/// Patches one manifest applies (files of a `dir`, mails, single files, in all).
pub const PATCHES_MAX: usize = 1_000;
pub const FIXUPS_MAX: usize = 100;
pub const FRAGMENTS_MAX: usize = 64;
pub const CONFIG_OPTIONS_MAX: usize = 4_096;

/// (where, field, range, why): scenarios/README.md's "Bounds" for everything but scenarios.
pub const TABLE: &[(&str, &str, &str, &str)] = &[
    (
        "command line",
        "`--repeat`",
        "1..=1000",
        "as a scenario's repeats",
    ),
    (
        "command line",
        "`--cpus`",
        "1..=1024",
        "the kernel's CONFIG_NR_CPUS and QEMU (255) are checked before boot",
    ),
    (
        "command line",
        "`--numa N`",
        "1..=64",
        "at most `--cpus`; every node needs 16 MiB",
    ),
    ("command line", "`--jobs`", "1..=1024", "cells at once"),
    (
        "command line",
        "`vm --mem`",
        "256M..=1T",
        "and at most the host's RAM, checked before boot",
    ),
    (
        "command line",
        "`vm --swap`",
        "0..=1T",
        "and at most the free space of the temporary directory, checked before boot",
    ),
    (
        "command line",
        "`vm --timeout`",
        "1s..=24h",
        "a guest's whole life",
    ),
    (
        "command line",
        "`probe --interval`",
        "100ms..=1h",
        "one table per interval",
    ),
    (
        "command line",
        "`probe --duration`",
        "0..=24h",
        "as a scenario's durations",
    ),
    (
        "matrix",
        "`repeats`, a sweep's `repeats`",
        "1..=1000",
        "as a scenario's repeats",
    ),
    (
        "matrix",
        "cells (each block's kernels × its repeats, summed)",
        "1..=100000",
        "a week of one-minute cells on 10 hosts",
    ),
    (
        "matrix",
        "`kernels`",
        "1..=64 names",
        "each is built and booted",
    ),
    (
        "matrix",
        "`scenarios` (each list)",
        "1..=256 names",
        "each is a block",
    ),
    (
        "matrix",
        "`cpus` (each list)",
        "1..=64 values, each 1..=255",
        "QEMU's pc machine takes 255 vCPUs",
    ),
    ("matrix", "`[[sweep]]`", "0..=256", "each adds blocks"),
    (
        "matrix",
        "blocks (scenario × cpus × probe set × idle action)",
        "1..=4096",
        "each has its own report and plots",
    ),
    ("matrix", "`numa`", "1..=64", "as `--numa`"),
    (
        "manifest",
        "`fuzz`",
        "0..=3",
        "a unified diff has 3 context lines; more fuzz applies a hunk anywhere",
    ),
    (
        "manifest",
        "`[boot] cmdline`",
        "0..=1024 bytes",
        "x86's command line holds 2048 and the runner adds its own",
    ),
    (
        "manifest",
        "patches in all (files, mails)",
        "0..=1000",
        "one series",
    ),
    (
        "manifest",
        "`[[fixups]]`",
        "0..=100",
        "fix-ups of one series",
    ),
    (
        "manifest",
        "`[config] fragments`",
        "1..=64 files",
        "each at most 1 MiB",
    ),
    (
        "manifest",
        "`[config] options`",
        "0..=4096",
        "lines of a .config",
    ),
];

/// The table's range of `field` (messages quote it, so they cannot drift from the README).
fn range_of(field: &str) -> &'static str {
    TABLE
        .iter()
        .find(|r| r.1 == field)
        .map_or("(see scenarios/README.md)", |r| r.2)
}

/// The README's table, as the test compares it.
#[cfg(test)]
fn markdown() -> String {
    let mut s = String::from("| in | what | range | why |\n|---|---|---|---|\n");
    for (w, f, r, why) in TABLE {
        s.push_str(&format!("| {w} | {f} | {r} | {why} |\n"));
    }
    s
}

fn size_in(s: &str, flag: &str, min: u64, max: u64) -> Result<u64, String> {
    let v = crate::units::parse_size(s)?;
    if !(min..=max).contains(&v) {
        return Err(format!(
            "{flag} {s}: must be from {} to {} (scenarios/README.md, \"Bounds\")",
            fmt_bytes(min),
            fmt_bytes(max)
        ));
    }
    Ok(v)
}

/// `range` is the table's text for it, e.g. "1s..=24h".
fn duration_in(
    s: &str,
    flag: &str,
    (min, max): (Duration, Duration),
    range: &str,
) -> Result<Duration, String> {
    let v = crate::units::parse_duration(s)?;
    if !(min..=max).contains(&v) {
        return Err(format!(
            "{flag} {s}: must be in {range} (scenarios/README.md, \"Bounds\")"
        ));
    }
    Ok(v)
}

/// `vm --mem` (clap's value parser).
pub fn parse_guest_mem(s: &str) -> Result<u64, String> {
    size_in(s, "--mem", GUEST_MEM_MIN, GUEST_MEM_MAX)
}

/// `vm --swap`.
pub fn parse_guest_swap(s: &str) -> Result<u64, String> {
    size_in(s, "--swap", 0, GUEST_SWAP_MAX)
}

/// `vm --timeout`.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    duration_in(
        s,
        "--timeout",
        (TIMEOUT_MIN, TIMEOUT_MAX),
        range_of("`vm --timeout`"),
    )
}

/// `probe --interval`.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    duration_in(
        s,
        "--interval",
        (INTERVAL_MIN, INTERVAL_MAX),
        range_of("`probe --interval`"),
    )
}

/// `probe --duration`.
pub fn parse_probe_duration(s: &str) -> Result<Duration, String> {
    duration_in(
        s,
        "--duration",
        (Duration::ZERO, PROBE_DURATION_MAX),
        range_of("`probe --duration`"),
    )
}

/// At most `max` entries in `list`, or an error naming the field, the count and the maximum.
pub fn at_most<T>(list: &[T], max: usize, field: &str) -> Result<(), String> {
    if list.len() > max {
        return Err(format!(
            "{field} has {} entries, above the maximum {max}; fix: split it (the bounds are listed in scenarios/README.md, \"Bounds\")",
            list.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_limit() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/README.md"),
        )
        .unwrap();
        assert!(
            readme.contains(&markdown()),
            "scenarios/README.md \"Bounds\" must hold exactly:\n{}",
            markdown()
        );
    }

    /// The table says what the parsers and constants do: each range's ends are checked here.
    #[test]
    fn each_flag_takes_its_range_and_refuses_beyond() {
        assert_eq!(parse_guest_mem("256M"), Ok(256 << 20));
        assert_eq!(parse_guest_mem("1T"), Ok(1 << 40));
        for bad in ["255M", "0", "1025G"] {
            let e = parse_guest_mem(bad).unwrap_err();
            assert!(
                e.contains("--mem") && e.contains("must be from 256.0 MiB to 1.0 TiB"),
                "{e}"
            );
        }
        assert_eq!(parse_guest_swap("0"), Ok(0));
        assert!(parse_guest_swap("1025G").is_err());
        assert_eq!(parse_timeout("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_timeout("24h"), Ok(TIMEOUT_MAX));
        let e = parse_timeout("0").unwrap_err();
        assert!(e.contains("--timeout 0: must be in 1s..=24h"), "{e}");
        assert!(parse_timeout("25h").is_err());
        assert!(parse_interval("99ms").is_err());
        assert!(parse_interval("100ms").is_ok() && parse_interval("1h").is_ok());
        assert!(parse_interval("61m").is_err());
        assert!(parse_probe_duration("0").is_ok() && parse_probe_duration("24h").is_ok());
        assert!(parse_probe_duration("86401s").is_err());
        // Not a number at all: the unit parser's own words.
        assert!(parse_guest_mem("-1").unwrap_err().contains("invalid size"));
        assert!(at_most(&[1, 2], 2, "x").is_ok());
        assert!(
            at_most(&[1, 2, 3], 2, "x")
                .unwrap_err()
                .contains("x has 3 entries, above the maximum 2")
        );
    }

    /// The boundary values of the fuzzers, at every flag: parsed or refused, never a panic.
    #[test]
    fn boundary_values_at_every_flag_are_parsed_or_refused() {
        for v in bench_results::testing::BOUNDARY_VALUES {
            let v = v.trim_matches('"');
            let _ = parse_guest_mem(v);
            let _ = parse_guest_swap(v);
            let _ = parse_timeout(v);
            let _ = parse_interval(v);
            let _ = parse_probe_duration(v);
        }
    }
}
