//! The drift test: every block of numbers in README.md, kernels/series/README.md and
//! results/README.md sits between
//!
//!     <!-- generated: zswap-bench ARGS... -->
//!     ...
//!     <!-- end generated -->
//!
//! and this test runs `zswap-bench ARGS...` again (on the files in results/, from the
//! repository's root) and fails when the block differs from what it prints. A block whose
//! content is fenced (```) holds the output verbatim inside the fence. `ZSWAP_BENCH_BLESS=1`
//! rewrites the blocks instead (then review the diff: a number that changed is a finding).
mod common;
use common::*;

const DOCS: [&str; 3] = ["README.md", "kernels/series/README.md", "results/README.md"];
const START: &str = "<!-- generated: ";
const END: &str = "<!-- end generated -->";

/// One block: its command, and where its content starts and ends in the text.
struct Block {
    args: Vec<String>,
    body: std::ops::Range<usize>,
    fenced: bool,
}

fn blocks(text: &str, doc: &str) -> Vec<Block> {
    let mut out = vec![];
    let mut at = 0;
    while let Some(i) = text[at..].find(START) {
        let open = at + i;
        let line_end = open + text[open..].find("-->").expect("marker closes") + 3;
        let cmd = text[open + START.len()..line_end - 3].trim();
        let args = words(cmd);
        assert_eq!(
            args.first().map(String::as_str),
            Some("zswap-bench"),
            "{doc}: a generated block names a zswap-bench command: {cmd:?}"
        );
        let start = line_end + 1;
        let end = start
            + text[start..]
                .find(END)
                .unwrap_or_else(|| panic!("{doc}: block {cmd:?} has no {END}"));
        let fenced = text[start..end].trim_start().starts_with("```");
        out.push(Block {
            args: args[1..].to_vec(),
            body: start..end,
            fenced,
        });
        at = end + END.len();
    }
    out
}

/// Words of a command, with "double quotes" keeping spaces inside one word (no other shell
/// syntax: the command is run directly, never by a shell).
fn words(cmd: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in cmd.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {cmd:?}");
    if any {
        out.push(cur);
    }
    out
}

fn made(b: &Block) -> String {
    let args: Vec<&str> = b.args.iter().map(String::as_str).collect();
    let o = run(&args);
    assert!(
        o.status.success(),
        "zswap-bench {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout).trim_end().to_string();
    if b.fenced {
        format!("```\n{out}\n```\n")
    } else {
        format!("{out}\n")
    }
}

#[test]
fn generated_blocks_match_the_files_they_come_from() {
    let bless = std::env::var("ZSWAP_BENCH_BLESS").is_ok_and(|v| v == "1");
    let mut total = 0;
    let mut drifted = vec![];
    for doc in DOCS {
        let path = repo().join(doc);
        let mut text = std::fs::read_to_string(&path).unwrap();
        let found = blocks(&text, doc);
        total += found.len();
        // Back to front, so the earlier ranges stay valid while rewriting.
        for b in found.iter().rev() {
            let want = made(b);
            if text[b.body.clone()] != want {
                drifted.push(format!("{doc}: zswap-bench {}", b.args.join(" ")));
                text.replace_range(b.body.clone(), &want);
            }
        }
        if bless {
            std::fs::write(&path, &text).unwrap();
        }
    }
    assert!(
        total >= 8,
        "only {total} generated blocks: the markers went missing"
    );
    if !bless {
        assert!(
            drifted.is_empty(),
            "blocks differ from the files they come from (ZSWAP_BENCH_BLESS=1 rewrites them; review the diff):\n{}",
            drifted.join("\n")
        );
    }
}

#[test]
fn a_block_is_found_with_its_command_and_fence() {
    let t = "x\n<!-- generated: zswap-bench table fairness results/r -->\n```\na\n```\n<!-- end generated -->\ny\n<!-- generated: zswap-bench overhead d -->\n| a |\n<!-- end generated -->\n";
    let b = blocks(t, "t");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].args, ["table", "fairness", "results/r"]);
    assert!(b[0].fenced && !b[1].fenced);
    assert_eq!(&t[b[1].body.clone()], "| a |\n");
    assert_eq!(
        words(r#"compare a --baseline "baseline jobs=1" --full"#),
        ["compare", "a", "--baseline", "baseline jobs=1", "--full"]
    );
}
