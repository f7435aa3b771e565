//! Numbers as people read them: compact counts (1.2k, 5.6M), byte sizes (544.0 MiB) and
//! durations (1.23 ms). One module for the runner's messages and the analysis' reports; each
//! form keeps the exact text its callers have always printed, since tests and readers match it.

/// Steps of a scale, largest first: (divisor, unit). A value below every step keeps the base
/// unit passed to [`scale`].
pub type Steps = [(f64, &'static str)];

/// Decimal prefixes for counts and rates.
pub const SI: &Steps = &[(1e9, "G"), (1e6, "M"), (1e3, "k")];
/// Nanoseconds up to seconds (base "ns").
pub const NS: &Steps = &[(1e9, "s"), (1e6, "ms"), (1e3, "us")];
/// Binary prefixes, one letter (base "B").
pub const BINARY: &Steps = &[(GIB, "G"), (MIB, "M"), (KIB, "K")];
/// Binary prefixes, IEC names (base "B").
pub const IEC: &Steps = &[(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;
const TIB: f64 = GIB * 1024.0;

/// `v` divided by the largest step its magnitude reaches, with that step's unit (`base` when
/// none). The sign is kept.
pub fn scale(v: f64, steps: &Steps, base: &'static str) -> (f64, &'static str) {
    let a = v.abs();
    steps
        .iter()
        .find(|(d, _)| a >= *d)
        .map_or((v, base), |&(d, u)| (v / d, u))
}

/// Progress-line counts: 999 -> "999", 1234 -> "1.2k", 56789 -> "57k", 5600000 -> "5.6M".
/// Thousands from 10k on drop the decimal, which keeps the live line's width steady.
pub fn compact(v: f64) -> String {
    let (x, u) = scale(v, SI, "");
    let digits = if u.is_empty() || (u == "k" && v.abs() >= 1e4) {
        0
    } else {
        1
    };
    format!("{x:.digits$}{u}")
}

/// Byte sizes in messages: "4095 B", "1.5 KiB", "544.0 MiB" (binary units up to TiB).
pub fn fmt_bytes(b: u64) -> String {
    match scale(b as f64, IEC, "B") {
        (_, "B") => format!("{b} B"),
        (x, u) => format!("{x:.1} {u}"),
    }
}

/// Nanoseconds in the probe listing: "850 ns", "1.23 us", "4.50 ms", "2.00 s".
pub fn fmt_ns(v: u64) -> String {
    match scale(v as f64, NS, "ns") {
        (_, "ns") => format!("{v} ns"),
        (x, u) => format!("{x:.2} {u}"),
    }
}

/// Three significant digits without exponent notation (below 0.01: one digit and exponent).
pub fn sig3(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(1234.0), "1.2k");
        assert_eq!(compact(9_999.0), "10.0k");
        assert_eq!(compact(56_789.0), "57k");
        assert_eq!(compact(5_600_000.0), "5.6M");
        assert_eq!(compact(-1234.0), "-1.2k");
        assert_eq!(compact(2.5e9), "2.5G");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(1024), "1.0 KiB");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(544 << 20), "544.0 MiB");
        assert_eq!(fmt_bytes(3 << 29), "1.5 GiB");
        assert_eq!(fmt_bytes(2 << 40), "2.0 TiB");
        // No unit above TiB: large sizes stay in TiB.
        assert_eq!(fmt_bytes(2048 << 40), "2048.0 TiB");
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_ns(0), "0 ns");
        assert_eq!(fmt_ns(999), "999 ns");
        assert_eq!(fmt_ns(1_000), "1.00 us");
        assert_eq!(fmt_ns(1_234_567), "1.23 ms");
        assert_eq!(fmt_ns(2_000_000_000), "2.00 s");
    }

    #[test]
    fn scale_picks_the_largest_step_reached() {
        assert_eq!(scale(999.0, SI, ""), (999.0, ""));
        assert_eq!(scale(1e3, SI, ""), (1.0, "k"));
        assert_eq!(scale(-2e6, SI, ""), (-2.0, "M"));
        assert_eq!(scale(1024.0, BINARY, "B"), (1.0, "K"));
        assert_eq!(sig3(0.005), "5.0e-3");
    }
}
