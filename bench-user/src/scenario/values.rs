//! Value types as users write them in a scenario file: sizes (`"64M"`), cgroup limits (`"max"`
//! or a size) and durations with a unit (`"30s"`). Their deserializers reject what the model
//! cannot mean (a negative size, a duration without a unit) with a message that shows the
//! accepted form, so the error is caught at parse time with the value's exact position.
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::units::{parse_duration, parse_size};

/// Bytes in a page: the smallest worker, churn and chunk size the checks accept.
pub const PAGE: u64 = 4096;
/// The largest size any field takes (1 TiB): far above any guest here, far below overflow in
/// the sums the checks make.
pub const SIZE_MAX: u64 = 1 << 40;
/// The longest duration any field takes: sums of phases and repeats stay far from overflow.
pub const DURATION_MAX: Duration = Duration::from_secs(24 * 3600);

fn size_bounded<E: de::Error>(v: u64) -> Result<Size, E> {
    if v > SIZE_MAX {
        return Err(E::custom(format!(
            "size {} is above the maximum of any size, 1T",
            bench_results::human::fmt_bytes(v)
        )));
    }
    Ok(Size(v))
}

/// A size in bytes, written as `"64M"`, `"4K"` or a plain non-negative integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"64M\", \"4K\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                if s.trim_start().starts_with('-') {
                    return Err(E::custom(format!(
                        "negative size {s:?}: sizes are positive, e.g. \"64M\""
                    )));
                }
                parse_size(s).map_err(E::custom).and_then(size_bounded)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map_err(|_| {
                        E::custom(format!(
                            "negative size {v}: sizes are positive, e.g. \"64M\""
                        ))
                    })
                    .and_then(size_bounded)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                size_bounded(v)
            }
        }
        d.deserialize_any(V)
    }
}

/// A cgroup limit: `"max"` (unlimited) or a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    #[default]
    Max,
    Bytes(u64),
}

impl Limit {
    pub fn bytes(self) -> Option<u64> {
        match self {
            Limit::Max => None,
            Limit::Bytes(b) => Some(b),
        }
    }
    /// The string the cgroup file takes.
    pub fn to_cgroup(self) -> String {
        match self {
            Limit::Max => "max".into(),
            Limit::Bytes(b) => b.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Limit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"max\" or a size such as \"256M\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Limit, E> {
                if s.trim().eq_ignore_ascii_case("max") {
                    return Ok(Limit::Max);
                }
                Size::deserialize(de::value::StrDeserializer::<E>::new(s))
                    .map(|s| Limit::Bytes(s.0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                Size::deserialize(de::value::I64Deserializer::<E>::new(v))
                    .map(|s| Limit::Bytes(s.0))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                size_bounded(v).map(|s| Limit::Bytes(s.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written with a unit: `"500ms"`, `"30s"`, `"2m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit such as \"500ms\", \"30s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                if s.trim_start().starts_with('-') {
                    return Err(E::custom(format!(
                        "negative duration {s:?}: durations are positive, e.g. \"30s\""
                    )));
                }
                let d = parse_duration(s).map_err(E::custom)?;
                if d > DURATION_MAX {
                    return Err(E::custom(format!(
                        "duration {s:?} is above the maximum of any duration, 24h"
                    )));
                }
                Ok(Dur(d))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit: write it as a string with a unit, e.g. \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit: write it as a string with a unit, e.g. \"{v}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{BASE, one_err};

    #[test]
    fn negative_size_rejected_at_its_line() {
        let text = BASE.replace("size = \"32M\"", "size = \"-32M\"");
        let e = one_err(&text);
        assert_eq!(e.line, Some(15));
        assert!(e.message.contains("negative size"), "{e}");
        let text = BASE.replace("size = \"32M\"", "size = -5");
        assert!(one_err(&text).message.contains("negative size -5"));
    }

    #[test]
    fn duration_without_unit() {
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = 10"));
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("\"10s\""), "{e}");
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = \"0s\""));
        assert_eq!(e.field, "phases.measure");
        assert_eq!(e.line, Some(4));
        let e = one_err(&BASE.replace("measure = \"10s\"", "measure = \"10 fortnights\""));
        assert!(e.message.contains("unknown duration unit"), "{e}");
    }
}
