//! One shape for every TOML file's parse error (scenario, kernel manifest, matrix):
//! `file:line:col: message`, the position first and the message on the same line, so the first
//! line of the error names the problem and where it is (toml's own Display puts a header first
//! and the message three lines down).
use std::ops::Range;
use std::path::Path;

/// Line and column (1-based, columns in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `file:line:col: message` (or `file: message` when the error has no position).
pub fn located(file: &Path, text: &str, message: &str, span: Option<Range<usize>>) -> String {
    let message = message.trim();
    match span {
        Some(s) => {
            let (l, c) = line_col(text, s.start);
            format!("{}:{l}:{c}: {message}", file.display())
        }
        None => format!("{}: {message}", file.display()),
    }
}

/// A `toml` deserialisation error, located.
pub fn describe(file: &Path, text: &str, e: &toml::de::Error) -> String {
    located(file, text, e.message(), e.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_and_the_message_share_the_first_line() {
        let text = "a = 1\nb = [\n";
        let e = toml::from_str::<toml::Table>(text).unwrap_err();
        let d = describe(Path::new("m.toml"), text, &e);
        assert!(d.starts_with("m.toml:"), "{d}");
        assert!(!d.lines().next().unwrap().ends_with(':'), "{d}");
        assert_eq!(line_col("x\nyz", 3), (2, 2));
    }
}
