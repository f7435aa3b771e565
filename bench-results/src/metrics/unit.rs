//! Units of the compared metrics, their compact text form, and the smallest absolute change
//! of each that counts as an effect.

use serde::{Deserialize, Serialize};

use crate::human;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricUnit {
    Ns,
    Bytes,
    PerSecond,
    NsPerSecond,
    BytesPerSecond,
    PagesPerSecond,
    /// A fraction in 0..=1 (shares, fairness indices).
    Ratio,
    Count,
}

impl MetricUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricUnit::Ns => "ns",
            MetricUnit::Bytes => "bytes",
            MetricUnit::PerSecond => "1/s",
            MetricUnit::NsPerSecond => "ns/s",
            MetricUnit::BytesPerSecond => "bytes/s",
            MetricUnit::PagesPerSecond => "pages/s",
            MetricUnit::Ratio => "ratio",
            MetricUnit::Count => "count",
        }
    }

    /// Default floor of a metric in this unit: the smallest absolute shift that can be called a
    /// change, whatever the baseline. It defines the effect-size threshold when the baseline
    /// median is 0 (where 5 % of it is nothing), and is small next to every effect the
    /// experiments look for.
    pub fn default_floor(self) -> f64 {
        match self {
            // Below a microsecond TCG timing is noise.
            MetricUnit::Ns => 1_000.0,
            // A microsecond of waiting per second: 0.0001 % of one CPU.
            MetricUnit::NsPerSecond => 1_000.0,
            // One page.
            MetricUnit::Bytes | MetricUnit::BytesPerSecond => 4_096.0,
            MetricUnit::PagesPerSecond => 1.0,
            // One event per 10 s: 4 events over a 40 s measured phase.
            MetricUnit::PerSecond => 0.1,
            // One percentage point of a share, 0.01 of a fairness index.
            MetricUnit::Ratio => 0.01,
            MetricUnit::Count => 1.0,
        }
    }

    /// Compact human form (≤ 9 characters for realistic values): 3 significant digits with an
    /// SI or binary prefix; `signed` adds '+' to positive values (differences).
    pub fn format(self, v: f64, signed: bool) -> String {
        if !v.is_finite() {
            return "n/a".into();
        }
        let sign = if v < 0.0 {
            "-"
        } else if signed && v > 0.0 {
            "+"
        } else {
            ""
        };
        let a = v.abs();
        let body = match self {
            MetricUnit::Ns => scaled(a, human::NS, "ns", ""),
            MetricUnit::NsPerSecond => scaled(a, human::NS, "ns", "/s"),
            MetricUnit::Bytes => scaled(a, human::BINARY, "B", ""),
            MetricUnit::BytesPerSecond => scaled(a, human::BINARY, "B", "/s"),
            MetricUnit::Ratio => format!("{a:.3}"),
            // Whole counts (axis ticks of thread or vCPU counts, lost events) read as integers.
            MetricUnit::Count if a < 1e3 && a.fract() == 0.0 => format!("{a:.0}"),
            MetricUnit::PerSecond | MetricUnit::PagesPerSecond | MetricUnit::Count => {
                scaled(a, human::SI, "", "")
            }
        };
        format!("{sign}{body}")
    }
}

/// `a` (not negative) in 3 significant digits of its largest step, then `suffix`.
fn scaled(a: f64, steps: &human::Steps, base: &'static str, suffix: &str) -> String {
    let (x, u) = human::scale(a, steps, base);
    format!("{}{u}{suffix}", human::sig3(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_compact() {
        assert_eq!(MetricUnit::Ns.format(1_234_567.0, false), "1.23ms");
        assert_eq!(MetricUnit::Ns.format(850.0, false), "850ns");
        assert_eq!(MetricUnit::Ns.format(-2_500.0, true), "-2.50us");
        assert_eq!(
            MetricUnit::Bytes.format(2.0 * 1024.0 * 1024.0, false),
            "2.00M"
        );
        assert_eq!(MetricUnit::PerSecond.format(12_345.0, true), "+12.3k");
        assert_eq!(MetricUnit::Ratio.format(0.9123, false), "0.912");
        assert_eq!(MetricUnit::Ratio.format(f64::NAN, false), "n/a");
        assert_eq!(MetricUnit::Count.format(16.0, false), "16");
        assert_eq!(MetricUnit::Count.format(2.5, false), "2.50");
        assert_eq!(MetricUnit::Count.format(12_345.0, false), "12.3k");
    }
}
