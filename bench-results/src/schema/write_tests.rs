//! Atomic writes on a filesystem that fails them: a full one and a read-only one, both small
//! tmpfs mounts. Mounting needs root, so these are `#[ignore]`d and run by scripts/test (as
//! root, with ZSWAP_BENCH_ROOT_TESTS=1 and --include-ignored); asked for without that, they
//! fail saying why instead of passing without having run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::io::Write;

use super::*;
use crate::testing::MockResult;

fn require_root_tests() {
    assert!(
        std::env::var("ZSWAP_BENCH_ROOT_TESTS").is_ok_and(|v| v == "1"),
        "this test mounts a tmpfs: run it as root with ZSWAP_BENCH_ROOT_TESTS=1 (scripts/test does)"
    );
}

/// A tmpfs at a fresh temp dir, unmounted (lazily, so a failed assertion cannot leave it
/// busy) when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(options: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "zswap-bench-test"])
            .arg(&path)
            .status()
            .expect("running mount");
        assert!(st.success(), "mount -t tmpfs -o {options} failed: {st}");
        Tmpfs { _dir: dir, path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "mounts a tmpfs (root): scripts/test runs it (ZSWAP_BENCH_ROOT_TESTS=1, --include-ignored)"]
fn full_filesystem_leaves_the_old_result_and_no_temp_file() {
    require_root_tests();
    let fs_ = Tmpfs::mount("size=256k");
    let dir = fs_.path.join("run");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(RESULT_FILE), "old\n").unwrap();
    // Fill what is left, so the new result cannot fit.
    let mut filler = fs::File::create(fs_.path.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while filler.write_all(&chunk).is_ok() {}
    drop(filler);
    let r = MockResult::percg(0).build();
    let e = r.write_atomic(&dir).unwrap_err();
    assert!(matches!(e, SchemaError::Write { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&dir.join(RESULT_FILE).display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("free space") && msg.contains("--out"), "{msg}");
    // The old result is whole and no temp file is left.
    assert_eq!(names(&dir), [RESULT_FILE]);
    assert_eq!(fs::read_to_string(dir.join(RESULT_FILE)).unwrap(), "old\n");
    // The CSV goes through the same path.
    assert!(matches!(r.write_csv(&dir), Err(SchemaError::Write { .. })));
    assert_eq!(names(&dir), [RESULT_FILE]);
}

#[test]
#[ignore = "mounts a tmpfs (root): scripts/test runs it (ZSWAP_BENCH_ROOT_TESTS=1, --include-ignored)"]
fn read_only_filesystem_is_named_with_the_fix() {
    require_root_tests();
    let fs_ = Tmpfs::mount("size=64k,ro");
    let e = MockResult::baseline(0)
        .build()
        .write_atomic(&fs_.path)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&fs_.path.display().to_string()), "{e}");
    assert!(
        e.contains("make the directory writable") && e.contains("--out"),
        "{e}"
    );
    assert!(names(&fs_.path).is_empty());
}
