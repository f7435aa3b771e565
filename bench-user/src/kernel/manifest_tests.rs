use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config/guest.config", "CONFIG_ZSWAP=y\n");
    write(
        d.path(),
        "series/a/0001-one.patch",
        "diff --git a/x b/x\npatch one\n",
    );
    write(
        d.path(),
        "series/a/0002-two.patch",
        "diff --git a/x b/x\npatch two\n",
    );
    let m = write(
        d.path(),
        "k.toml",
        "name = \"k\"\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\ndir = \"series/a\"\n[config]\nfragments = [\"config/guest.config\"]\noptions = [\"CONFIG_DEBUG_VM=y\"]\n[boot]\ncmdline = \"quiet\"\n",
    );
    (d, m)
}

fn load(p: &Path) -> Result<Resolved> {
    parse(&std::fs::read_to_string(p).unwrap(), p)?.resolve(p)
}

#[test]
fn resolves_patches_in_order_and_config() {
    let (_d, m) = setup();
    let r = load(&m).unwrap();
    let names: Vec<_> = r.patches.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["0001-one.patch", "0002-two.patch"]);
    assert_eq!(r.config_fragment, "CONFIG_ZSWAP=y\nCONFIG_DEBUG_VM=y\n");
    assert_eq!(r.cmdline, "quiet");
}

#[test]
fn cache_key_follows_content_not_layout() {
    let (d, m) = setup();
    let k1 = load(&m).unwrap().cache_key("src");
    // Same content, keys in another order and a different description: same key.
    std::fs::write(
        &m,
        "description = \"reordered\"\nname = \"k\"\n[boot]\ncmdline = \"quiet\"\n[config]\noptions = [\"CONFIG_DEBUG_VM=y\"]\nfragments = [\"config/guest.config\"]\n[source]\ndebian = \"linux-source-7.3\"\n[[patches]]\ndir = \"series/a\"\n",
    )
    .unwrap();
    assert_eq!(load(&m).unwrap().cache_key("src"), k1);
    // A changed patch changes the key.
    write(
        d.path(),
        "series/a/0002-two.patch",
        "diff --git a/x b/x\npatch two v2\n",
    );
    let k2 = load(&m).unwrap().cache_key("src");
    assert_ne!(k2, k1);
    // A changed config changes the key.
    write(
        d.path(),
        "config/guest.config",
        "CONFIG_ZSWAP=y\nCONFIG_SWAP=y\n",
    );
    let k3 = load(&m).unwrap().cache_key("src");
    assert_ne!(k3, k2);
    // Another source version changes the key.
    assert_ne!(load(&m).unwrap().cache_key("src2"), k3);
}

#[test]
fn typo_key_is_rejected_with_location() {
    let (_d, m) = setup();
    std::fs::write(
        &m,
        "name = \"k\"\n[source]\ndebain = \"linux-source-7.3\"\n[config]\nfragments = []\n",
    )
    .unwrap();
    let e = format!("{:#}", load(&m).unwrap_err());
    assert!(e.contains("unknown field `debain`"), "{e}");
    assert!(e.contains(".toml:3:1: unknown field"), "{e}");
}

#[test]
fn name_must_match_file() {
    let (_d, m) = setup();
    let t = std::fs::read_to_string(&m)
        .unwrap()
        .replace("name = \"k\"", "name = \"other\"");
    std::fs::write(&m, t).unwrap();
    assert!(format!("{:#}", load(&m).unwrap_err()).contains("make them equal"));
}

#[test]
fn unknown_kernel_lists_known_ones() {
    let (d, _m) = setup();
    let e = locate(d.path(), "nope").unwrap_err().to_string();
    assert!(
        e.contains("unknown kernel \"nope\"") && e.contains("known kernels: k"),
        "{e}"
    );
}

#[test]
fn message_id_without_mails_says_how_to_get_them() {
    let (_d, m) = setup();
    let t = std::fs::read_to_string(&m)
        .unwrap()
        .replace("dir = \"series/a\"", "message_id = \"x@y\"");
    std::fs::write(&m, t).unwrap();
    assert!(format!("{:#}", load(&m).unwrap_err()).contains("b4 mbox x@y"));
}

#[test]
fn shipped_manifests_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels");
    let names = available(&dir);
    assert!(names.contains(&"baseline".to_string()));
    for n in names {
        let p = locate(&dir, &n).unwrap();
        let m = parse(&std::fs::read_to_string(&p).unwrap(), &p).unwrap();
        if p.parent().unwrap().ends_with(POSTED) {
            // The mails are not in the repository: posted manifests are checked by
            // posted_manifests_name_every_patch; here they must parse.
            continue;
        }
        m.resolve(&p).unwrap_or_else(|e| panic!("{n}: {e:#}"));
    }
}

/// The posted versions: each names its cover letter and every patch by Message-Id, in order
/// (patch k/N of a version is the cover's id with -(k+1)), with the subject as posted, and
/// each fix-up it names is a patch in the repository.
#[test]
fn posted_manifests_name_every_patch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels");
    for (name, n) in [
        ("posted-v1", 3),
        ("posted-v3", 4),
        ("posted-v4", 5),
        ("posted-v5", 6),
    ] {
        let p = locate(&dir, name).unwrap();
        assert!(p.parent().unwrap().ends_with(POSTED), "{}", p.display());
        let m = parse(&std::fs::read_to_string(&p).unwrap(), &p).unwrap();
        assert_eq!(m.patches.len(), 1, "{name}");
        let spec = &m.patches[0];
        let cover = spec.cover.as_deref().unwrap();
        assert!(cover.ends_with("-1-jiahao.kernel@gmail.com"), "{cover}");
        assert_eq!(spec.mails.len(), n, "{name}");
        for (k, mail) in spec.mails.iter().enumerate() {
            assert_eq!(
                mail.id,
                cover.replace("-1-jiahao", &format!("-{}-jiahao", k + 2)),
                "{name}"
            );
            let subject = mail.subject.as_deref().unwrap();
            assert!(subject.contains(&format!("{}/{n}]", k + 1)), "{subject}");
        }
        for f in &m.fixups {
            let t = std::fs::read_to_string(p.parent().unwrap().join(&f.file)).unwrap();
            assert!(has_diff(t.as_bytes()), "{}", f.file.display());
        }
    }
}
