//! Reading a file a user named (a scenario, a manifest, a patch, a result): only a regular file,
//! and only up to a size limit. A FIFO would block the reader forever and `/dev/zero` would fill
//! memory; both are refused before they are opened, with what they are and the fix.
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// Size limits of the files the tools read, in bytes (documented in the README).
pub mod limit {
    /// Scenario, matrix and kernel-manifest files.
    pub const TEXT: u64 = 1 << 20;
    /// A patch, a fix-up or an mbox of a posted series.
    pub const PATCH: u64 = 64 << 20;
    /// One `result.json`.
    pub const RESULT: u64 = 256 << 20;
}

fn kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The bytes of `path` if it is a regular file (a symlink to one is fine) of at most `max`
/// bytes; otherwise an `InvalidInput` error saying what it is and what to do.
pub fn read_bytes(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file; fix: name the file itself",
                path.display(),
                kind(meta.file_type())
            ),
        ));
    }
    let too_big = |n: u64| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, above the {} this file may be; fix: check that it is the file you meant",
                path.display(),
                crate::human::fmt_bytes(n),
                crate::human::fmt_bytes(max)
            ),
        )
    };
    if meta.len() > max {
        return Err(too_big(meta.len()));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    // The file may grow after the check: read at most one byte past the limit to notice.
    fs::File::open(path)?.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(too_big(data.len() as u64));
    }
    Ok(data)
}

/// [`read_bytes`] as UTF-8 text; other bytes are an `InvalidData` error naming the byte offset.
pub fn read_text(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_bytes(path, max)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not UTF-8 text (invalid byte at offset {}); fix: save it as UTF-8",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Why `dir` cannot become a folder, when it or a folder above it already exists as something
/// else (a file left there, a device): that path, what it is, and the fix. `None` when the
/// path can be created as far as this can tell.
pub fn not_a_folder(dir: &Path) -> Option<String> {
    dir.ancestors().find_map(|a| {
        let meta = fs::metadata(a).ok()?;
        (!meta.is_dir()).then(|| {
            format!(
                "{} is {}, not a folder; fix: choose another output folder, or move that file away",
                a.display(),
                kind(meta.file_type())
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_under_the_limit_are_read() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.toml");
        fs::write(&f, "a = 1\n").unwrap();
        assert_eq!(read_text(&f, 100).unwrap(), "a = 1\n");
        let e = read_text(&f, 3).unwrap_err().to_string();
        assert!(
            e.contains("above the 3B") || e.contains("above the 3"),
            "{e}"
        );
        let e = read_bytes(Path::new("/dev/zero"), 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a character device, not a regular file"), "{e}");
        let e = read_bytes(d.path(), 100).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        let fifo = d.path().join("p");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Refused before opening: opening a FIFO for reading would block here.
        let e = read_bytes(&fifo, 100).unwrap_err().to_string();
        assert!(e.contains("a FIFO (named pipe)"), "{e}");
        fs::write(&f, [b'a', 0xff, b'b']).unwrap();
        let e = read_text(&f, 100).unwrap_err().to_string();
        assert!(
            e.contains("not UTF-8 text (invalid byte at offset 1)"),
            "{e}"
        );
    }

    #[test]
    fn a_file_in_the_way_of_an_output_folder_is_named() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(not_a_folder(&d.path().join("a/b")), None);
        let f = d.path().join("f");
        fs::write(&f, "x").unwrap();
        for p in [f.clone(), f.join("below")] {
            let e = not_a_folder(&p).unwrap();
            assert!(
                e.starts_with(&format!("{} is a regular file, not a folder", f.display())),
                "{e}"
            );
        }
        assert!(
            not_a_folder(Path::new("/dev/null"))
                .unwrap()
                .contains("a character device")
        );
    }
}
