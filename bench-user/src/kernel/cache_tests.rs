//! A broken kernel cache is named with its path and how to rebuild, never read as "not built".
use super::*;

#[test]
fn a_damaged_entry_names_its_folder_and_the_fix() {
    let d = tempfile::tempdir().unwrap();
    // meta.json missing, then corrupt, then a folder.
    let e = format!("{:#}", read_meta(d.path()).unwrap_err());
    assert!(e.contains("is damaged: meta.json cannot be read"), "{e}");
    assert!(e.contains(&format!("rm -r {}", d.path().display())), "{e}");
    std::fs::write(d.path().join("meta.json"), "{\"name\": 3").unwrap();
    let e = format!("{:#}", read_meta(d.path()).unwrap_err());
    assert!(e.contains("meta.json is not a kernel record"), "{e}");
    assert!(e.contains("zswap-bench kernel build"), "{e}");
}

#[test]
fn a_cache_that_is_a_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("cache");
    std::fs::write(&f, "not a folder").unwrap();
    let e = cache_folder_ok(&f).unwrap_err().to_string();
    assert!(
        e.contains("is not a folder") && e.contains("ZSWAP_BENCH_CACHE"),
        "{e}"
    );
    std::fs::create_dir(d.path().join("c")).unwrap();
    std::fs::write(d.path().join("c/kernels"), "").unwrap();
    assert!(cache_folder_ok(&d.path().join("c")).is_err());
    // Not there yet is fine: the first build makes it.
    cache_folder_ok(&d.path().join("new")).unwrap();
}
