//! The errno values the suite names, with the kernel's names and numbers (uapi
//! asm-generic/errno-base.h and errno.h). One table for the probes' return-value keys, the
//! userspace proactive writes and the analysis, so a value is never spelled two ways.

macro_rules! errnos {
    ($($(#[$doc:meta])* $name:ident = $n:literal,)*) => {
        $($(#[$doc])* pub const $name: i32 = $n;)*

        /// Every errno named here: (number, name).
        pub const TABLE: &[(i32, &str)] = &[$(($n, stringify!($name))),*];

        /// Keys of a kernel-style return value `-errno` ("-EAGAIN"), as the result files'
        /// `returns` maps spell them.
        pub mod neg {
            $(pub const $name: &str = concat!("-", stringify!($name));)*
        }
    };
}

errnos! {
    ENOENT = 2,
    EINTR = 4,
    /// Proactive writeback: fewer bytes written than asked.
    EAGAIN = 11,
    ENOMEM = 12,
    EBUSY = 16,
    EINVAL = 22,
}

/// Name of errno `n` ("EAGAIN"), if the table has it.
pub fn name(n: i32) -> Option<&'static str> {
    TABLE.iter().find(|(v, _)| *v == n).map(|(_, s)| *s)
}

/// Number of errno `name` ("EAGAIN" -> 11), if the table has it.
pub fn number(name: &str) -> Option<i32> {
    TABLE.iter().find(|(_, s)| *s == name).map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_values_and_both_directions() {
        // Hand-copied from the kernel's uapi headers: the table must not drift from them.
        for (n, s) in [
            (2, "ENOENT"),
            (4, "EINTR"),
            (11, "EAGAIN"),
            (12, "ENOMEM"),
            (16, "EBUSY"),
            (22, "EINVAL"),
        ] {
            assert_eq!(name(n), Some(s));
            assert_eq!(number(s), Some(n));
        }
        assert_eq!(TABLE.len(), 6);
        assert_eq!(neg::EAGAIN, "-EAGAIN");
        assert_eq!(name(99), None);
        assert_eq!(number("EWHATEVER"), None);
    }
}
