use super::*;

const COVER: &str = "20260101000000.1-1-dev@example.org";

fn id(k: usize) -> String {
    format!("20260101000000.1-{}-dev@example.org", k + 1)
}

/// A mail as git send-email writes it; `k` = 0 is the cover letter (no diff).
fn mail(k: usize, n: usize) -> String {
    let body = if k == 0 {
        "This series does things.\n\nDev (1):\n  x\n".to_string()
    } else {
        format!(
            "Patch {k}.\n\nSigned-off-by: Dev <dev@example.org>\n---\n x | 1 +\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n one\n+line {k}\n-- \n2.39.2\n"
        )
    };
    format!(
        "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: Dev <dev@example.org>\nSubject: [PATCH v9 {k}/{n}]\n mm: part {k}\nMessage-ID:\n <{}>\nIn-Reply-To: <{COVER}>\n\n{body}\n",
        id(k)
    )
}

fn reply(to: usize) -> String {
    format!(
        "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: Reviewer <r@example.org>\nSubject: Re: [PATCH v9 {to}/6] mm: part {to}\nMessage-Id: <reply-{to}@example.org>\nIn-Reply-To: <{}>\n\n> diff --git a/x b/x\n> +line {to}\nLooks fine.\n\n",
        id(to)
    )
}

fn wanted(n: usize) -> Vec<Wanted> {
    (1..=n)
        .map(|k| Wanted {
            id: id(k),
            subject: Some(format!("[PATCH v9 {k}/{n}] mm: part {k}")),
        })
        .collect()
}

#[test]
fn splits_mails_and_reads_folded_headers() {
    let text = mail(0, 2) + &mail(1, 2) + &reply(1);
    let mails = split(text.as_bytes());
    assert_eq!(mails.len(), 3);
    assert_eq!(
        header(mails[1], "message-id").map(|v| normalize(&v)),
        Some(id(1))
    );
    assert_eq!(
        header(mails[1], "Subject").as_deref(),
        Some("[PATCH v9 1/2] mm: part 1")
    );
    assert!(!has_diff(mails[0]) && has_diff(mails[1]) && !has_diff(mails[2]));
}

#[test]
fn six_wanted_five_present_names_the_missing_one() {
    let d = tempfile::tempdir().unwrap();
    let text: String = [0, 1, 2, 3, 5, 6].iter().map(|&k| mail(k, 6)).collect();
    std::fs::write(d.path().join("thread.mbx"), text).unwrap();
    let e = format!(
        "{:#}",
        resolve_in("m.toml", d.path(), COVER, &wanted(6)).unwrap_err()
    );
    assert!(e.contains("1 of the 6 patches"), "{e}");
    assert!(
        e.contains(&format!("[PATCH v9 4/6] mm: part 4 <{}>", id(4))),
        "{e}"
    );
    assert!(!e.contains(&id(5)), "only the missing mail is named: {e}");
    assert!(
        e.contains("ZSWAP_BENCH_MBOX_DIR") && e.contains("b4 mbox"),
        "{e}"
    );
}

#[test]
fn mails_are_matched_by_message_id_whatever_the_files_are_called() {
    let d = tempfile::tempdir().unwrap();
    // Out of order, across two files with unrelated names, beside a text file that is no mbox,
    // with the cover letter and replies in between.
    std::fs::write(
        d.path().join("zzz.mbox"),
        mail(3, 3) + &reply(3) + &mail(0, 3),
    )
    .unwrap();
    std::fs::write(d.path().join("a.mbx"), reply(1) + &mail(2, 3) + &mail(1, 3)).unwrap();
    std::fs::write(d.path().join("notes.txt"), mail(9, 9)).unwrap();
    let got = resolve_in("m.toml", d.path(), COVER, &wanted(3)).unwrap();
    let names: Vec<_> = got.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "[PATCH v9 1/3] mm: part 1",
            "[PATCH v9 2/3] mm: part 2",
            "[PATCH v9 3/3] mm: part 3"
        ]
    );
    assert!(got[0].path.ends_with("a.mbx") && got[2].path.ends_with("zzz.mbox"));
    assert!(
        got.iter()
            .enumerate()
            .all(|(k, p)| p.message_id == id(k + 1))
    );
    // The applied bytes are the one mail, not its neighbours.
    let one = extract(&got[0].path, &id(1), &got[0].sha256).unwrap();
    let one = String::from_utf8(one).unwrap();
    assert!(one.contains("+line 1") && !one.contains("+line 2") && !one.contains("Looks fine"));
}

#[test]
fn a_cover_letter_listed_as_a_patch_is_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.mbx"), mail(0, 1) + &mail(1, 1)).unwrap();
    let mut w = wanted(1);
    w.insert(
        0,
        Wanted {
            id: id(0),
            subject: None,
        },
    );
    let e = format!(
        "{:#}",
        resolve_in("m.toml", d.path(), COVER, &w).unwrap_err()
    );
    assert!(e.contains("without a diff") && e.contains("cover"), "{e}");
}

#[test]
fn a_changed_mbox_is_noticed_before_it_is_applied() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.mbx");
    std::fs::write(&p, mail(1, 1)).unwrap();
    let got = resolve_in("m.toml", d.path(), COVER, &wanted(1)).unwrap();
    std::fs::write(&p, mail(1, 1).replace("+line 1", "+line one")).unwrap();
    let e = extract(&p, &id(1), &got[0].sha256).unwrap_err().to_string();
    assert!(e.contains("changed"), "{e}");
}

#[test]
fn message_ids_are_checked_and_listed_once() {
    assert_eq!(wanted_ids(&[("<a@b>", None)]), Ok(vec!["a@b".to_string()]));
    let long = format!("{}@x", "a".repeat(300));
    for bad in ["", "no-at-sign", "a b@c", long.as_str()] {
        let e = super::wanted(None, &[(bad, None)]).unwrap_err().to_string();
        assert!(e.contains("not a Message-Id"), "{bad:?}: {e}");
    }
    let e = super::wanted(None, &[("a@b", None), ("<a@b>", None)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("listed twice"), "{e}");
}

fn wanted_ids(specs: &[(&str, Option<&str>)]) -> Result<Vec<String>, String> {
    super::wanted(None, specs)
        .map(|v| v.into_iter().map(|w| w.id).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn the_same_mail_from_another_tool_keys_the_same() {
    let d = tempfile::tempdir().unwrap();
    let lore = mail(1, 1);
    // b4's separator line, CRLF-free, and more blank lines after the mail.
    let b4 = lore.replace(
        "From mboxrd@z Thu Jan  1 00:00:00 1970",
        "From git@z Thu Jan  1 00:00:00 1970",
    ) + "\n\n";
    std::fs::create_dir(d.path().join("a")).unwrap();
    std::fs::create_dir(d.path().join("b")).unwrap();
    std::fs::write(d.path().join("a/x.mbx"), &lore).unwrap();
    std::fs::write(d.path().join("b/y.mbox"), &b4).unwrap();
    let a = resolve_in("m", &d.path().join("a"), COVER, &wanted(1)).unwrap();
    let b = resolve_in("m", &d.path().join("b"), COVER, &wanted(1)).unwrap();
    assert_eq!(a[0].sha256, b[0].sha256);
    let bytes = extract(&b[0].path, &id(1), &b[0].sha256).unwrap();
    assert!(bytes.starts_with(b"From: Dev"));
}
