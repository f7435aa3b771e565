//! Sizes ("2G", "150M", "4096") and durations ("90s", "10m", "500ms") as users type them.
//! (Printing them back is `bench_results::human`.)
use std::time::Duration;

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = t[i..].to_ascii_uppercase();
            let mul: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => {
                    return Err(format!(
                        "unknown size unit in {s:?}: use K, M, G or T (e.g. 150M)"
                    ));
                }
            };
            (&t[..i], mul)
        }
        None => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| {
        format!("invalid size {s:?}: expected a number with optional K/M/G/T, e.g. 150M")
    })?;
    // NaN fails both tests, so it is refused too.
    if n.is_nan() || n < 0.0 || !n.is_finite() {
        return Err(format!("invalid size {s:?}: must be a non-negative number"));
    }
    Ok((n * mul as f64).round() as u64)
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 90s, 10m, 1h"))?;
    if n.is_nan() || n < 0.0 || !n.is_finite() {
        return Err(format!("invalid duration {s:?}: must be non-negative"));
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "unknown duration unit {unit:?} in {s:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("invalid duration {s:?}: too long (use at most a few hours)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the scenario fuzzer: a duration too long for `Duration` panicked.
    #[test]
    fn regression_a_duration_too_long_is_an_error() {
        let e = parse_duration("99999999999999999999999h").unwrap_err();
        assert!(e.contains("too long"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2M").unwrap(), 2 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("150MiB").unwrap(), 150 << 20);
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("12X").unwrap_err().contains("unknown size unit"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("5 fortnights").is_err());
    }
}
