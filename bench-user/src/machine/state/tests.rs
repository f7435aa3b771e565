use super::*;

fn param(dir: &Path, name: &str, old: &str) -> Undo {
    Undo::ZswapParam {
        dir: dir.to_path_buf(),
        name: name.into(),
        old: old.into(),
    }
}

fn on_disk(g: &Guard) -> State {
    parse_state(g.file(), &std::fs::read_to_string(g.file()).unwrap()).unwrap()
}

#[test]
fn guard_records_before_and_restores_params() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("state");
    let params = tmp.path().join("params");
    std::fs::create_dir(&params).unwrap();
    let mut g = Guard::begin(&sdir, "r1").unwrap();
    g.push(param(&params, "enabled", "Y")).unwrap();
    std::fs::write(params.join("enabled"), "N").unwrap();
    g.push(param(&params, "max_pool_percent", "20")).unwrap();
    std::fs::write(params.join("max_pool_percent"), "1").unwrap();
    assert_eq!(on_disk(&g).changes, g.changes());
    assert_eq!(on_disk(&g).pid, std::process::id());
    // A second run is refused while this state exists.
    let e = Guard::begin(&sdir, "r2").err().unwrap().to_string();
    assert!(e.contains("interrupted") || e.contains("active"), "{e}");
    assert!(g.restore().is_empty());
    let read = |n: &str| std::fs::read_to_string(params.join(n)).unwrap();
    assert_eq!(read("max_pool_percent"), "20");
    assert_eq!(read("enabled"), "Y");
    assert!(!g.file().exists());
}

#[test]
fn v2_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guard::begin(tmp.path(), "r2").unwrap();
    // Paths under the temp dir: should the test fail, the guard's undo touches nothing else.
    let t = tmp.path();
    let changes = vec![
        param(&t.join("p"), "enabled", "Y"),
        Undo::RemoveFile {
            path: t.join("s.swap"),
        },
        Undo::SwapOff {
            path: t.join("s.swap"),
        },
        Undo::RemoveCgroup {
            path: t.join("zswap-bench-r2"),
        },
    ];
    for c in &changes {
        g.push(c.clone()).unwrap();
    }
    let text = std::fs::read_to_string(g.file()).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(raw["version"], 2);
    assert_eq!(raw["changes"][2]["undo"], "swap_off");
    let st = parse_state(g.file(), &text).unwrap();
    assert_eq!(
        st,
        State {
            version: VERSION,
            pid: std::process::id(),
            run_id: "r2".into(),
            changes,
        }
    );
    // Nothing was changed for real here: forget the records instead of undoing them.
    g.state.changes.clear();
}

#[test]
fn v1_file_read_as_ordered_changes() {
    // What version 1 wrote (field order and all).
    let text = r#"{
      "pid": 0, "run_id": "old",
      "cgroups": ["/cg/zswap-bench-old", "/cg/zswap-bench-old/p"],
      "swaps": [{"path": "/var/tmp/a.swap", "created_file": true},
                {"path": "/dev/vda", "created_file": false}],
      "zswap_params": {"max_pool_percent": "20", "enabled": "Y", "compressor": "lzo"},
      "zswap_params_dir": "/params"
    }"#;
    let st = parse_state(Path::new("old.json"), text).unwrap();
    let p = Path::new("/params");
    assert_eq!(st.version, VERSION);
    assert_eq!(st.run_id, "old");
    assert_eq!(
        st.changes,
        vec![
            param(p, "enabled", "Y"),
            param(p, "compressor", "lzo"),
            param(p, "max_pool_percent", "20"),
            Undo::RemoveFile {
                path: "/var/tmp/a.swap".into()
            },
            Undo::SwapOff {
                path: "/var/tmp/a.swap".into()
            },
            Undo::SwapOff {
                path: "/dev/vda".into()
            },
            Undo::RemoveCgroup {
                path: "/cg/zswap-bench-old".into()
            },
            Undo::RemoveCgroup {
                path: "/cg/zswap-bench-old/p".into()
            },
        ]
    );
    // Without a directory, version 1 meant the kernel's.
    let st = parse_state(
        Path::new("old.json"),
        r#"{"pid": 1, "run_id": "x", "zswap_params": {"enabled": "N"}}"#,
    )
    .unwrap();
    assert_eq!(
        st.changes,
        vec![param(Path::new(V1_ZSWAP_PARAMS), "enabled", "N")]
    );
}

#[test]
fn newer_version_is_refused_naming_the_file_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("future.json");
    std::fs::write(
        &f,
        r#"{"version": 3, "pid": 0, "run_id": "f", "steps": []}"#,
    )
    .unwrap();
    for e in [
        Guard::begin(tmp.path(), "now").err().unwrap(),
        cleanup_dir(tmp.path()).unwrap_err(),
    ] {
        let e = format!("{e:#}");
        assert!(e.contains(&f.display().to_string()), "{e}");
        assert!(e.contains("version-3") && e.contains("newer"), "{e}");
        assert!(e.contains("zswap-bench cleanup"), "{e}");
    }
    assert!(f.exists(), "a file this build cannot read is left alone");
    let e = parse_state(&f, "[1, 2]").unwrap_err().to_string();
    assert!(e.contains("not a zswap-bench state file"), "{e}");
}

#[test]
fn cleanup_restores_after_kill_and_removes_state() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("state");
    let params = tmp.path().join("params");
    std::fs::create_dir(&params).unwrap();
    std::fs::write(params.join("shrinker_enabled"), "N").unwrap();
    // What a SIGKILLed run leaves: a state file whose pid is gone, a changed parameter, an
    // (empty) tree directory.
    let cg = tmp.path().join("zswap-bench-r9");
    std::fs::create_dir_all(cg.join("parent")).unwrap();
    let st = State {
        version: VERSION,
        pid: 0,
        run_id: "r9".into(),
        changes: vec![
            param(&params, "shrinker_enabled", "Y"),
            Undo::RemoveCgroup { path: cg.clone() },
        ],
    };
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::write(sdir.join("r9.json"), serde_json::to_string(&st).unwrap()).unwrap();
    cleanup_dir(&sdir).unwrap();
    assert_eq!(
        std::fs::read_to_string(params.join("shrinker_enabled")).unwrap(),
        "Y"
    );
    assert!(!cg.exists(), "tree removed bottom-up");
    assert!(!sdir.join("r9.json").exists());
    // Nothing left: a second cleanup is a no-op.
    cleanup_dir(&sdir).unwrap();
}

#[test]
fn cleanup_reads_a_version_1_file() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("state");
    let params = tmp.path().join("params");
    std::fs::create_dir_all(&params).unwrap();
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::write(params.join("enabled"), "N").unwrap();
    let cg = tmp.path().join("zswap-bench-v1");
    std::fs::create_dir_all(cg.join("a/b")).unwrap();
    let v1 = serde_json::json!({
        "pid": 0, "run_id": "v1", "cgroups": [cg], "swaps": [],
        "zswap_params": {"enabled": "Y"}, "zswap_params_dir": params,
    });
    std::fs::write(sdir.join("v1.json"), v1.to_string()).unwrap();
    cleanup_dir(&sdir).unwrap();
    assert_eq!(
        std::fs::read_to_string(params.join("enabled")).unwrap(),
        "Y"
    );
    assert!(!cg.exists());
    assert!(!sdir.join("v1.json").exists());
}

#[test]
fn failed_restore_keeps_the_state_file() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("state");
    let mut g = Guard::begin(&sdir, "r3").unwrap();
    g.push(param(&tmp.path().join("no-such-dir"), "enabled", "Y"))
        .unwrap();
    let problems = g.restore();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("enabled=Y"));
    assert!(g.file().exists());
    assert_eq!(on_disk(&g).pid, 0, "kept for cleanup, owned by no live run");
    let e = cleanup_dir(&sdir).unwrap_err().to_string();
    assert!(e.contains("could not be fully restored"), "{e}");
}

#[test]
fn retract_withdraws_the_latest_equal_record() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guard::begin(tmp.path(), "r4").unwrap();
    let a = param(tmp.path(), "a", "1");
    let b = param(tmp.path(), "b", "2");
    for u in [&a, &b, &a] {
        g.push(u.clone()).unwrap();
    }
    g.retract(&a).unwrap();
    assert_eq!(g.changes(), [a.clone(), b.clone()]);
    assert_eq!(on_disk(&g).changes, [a, b]);
    g.state.changes.clear();
}
