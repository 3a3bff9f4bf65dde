//! The vendor library never tells its caller which command-line flag to pass.
//!
//! Its callers are the CLI, a vendor's own backend and our HTTP service; only the first has
//! flags. Errors name the failure and carry data; the CLI's `error.rs` adds the remedy
//! ("pass --force", "say which with --map"). This test reads every string literal in
//! `src/` and fails on one that names a flag (`--word`), so advice for one caller cannot
//! creep back into the library.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Literals allowed to name flags, by their first line: the default `airseal.toml`, whose
/// comments genuinely document how the CLI finds the folder and which fields a template
/// takes. It is a file the user reads, not an error.
const ALLOWED: &[&str] = &["# airseal vendor configuration."];

/// A string literal found in source: its line and its text as written (escapes and all).
#[derive(Debug)]
struct Literal {
    line: usize,
    text: String,
}

/// Every string literal in `src` (normal, raw and byte strings), skipping comments and
/// character literals. A small lexer rather than a regex, so that `//` inside a string or
/// a `"` inside a comment cannot hide or invent a literal.
fn literals(src: &str) -> Vec<Literal> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let count_lines = |from: usize, to: usize| b[from..to].iter().filter(|&&c| c == b'\n').count();
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                line += count_lines(i, end);
                i = end;
            }
            b'r' if matches!(b.get(i + 1), Some(b'#' | b'"'))
                && (i == 0
                    || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
                    || b[i - 1] == b'b') =>
            {
                let mut j = i + 1;
                while b.get(j) == Some(&b'#') {
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let closing = format!("\"{}", "#".repeat(j - i - 1));
                let start = j + 1;
                let end = src[start..].find(&closing).map_or(b.len(), |e| start + e);
                out.push(Literal {
                    line,
                    text: src[start..end].to_string(),
                });
                line += count_lines(i, end);
                i = (end + closing.len()).min(b.len());
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                out.push(Literal {
                    line,
                    text: src[start..end].to_string(),
                });
                line += count_lines(i, end);
                i = end + 1;
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{..}', '"') or a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    let mut j = i + 2;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if b.get(i + 1 + ch_len) == Some(&b'\'') {
                        i += ch_len + 2;
                    } else {
                        i += 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether `text` names a flag: `--` followed by a letter, not part of a longer dash run
/// (armor lines such as `-----BEGIN` are not flags).
fn names_a_flag(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(2)).any(|i| {
        b[i] == b'-'
            && b[i + 1] == b'-'
            && b[i + 2].is_ascii_alphabetic()
            && (i == 0 || b[i - 1] != b'-')
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_library_string_names_a_cli_flag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 10, "found only {files:?}");
    let mut found = Vec::new();
    let mut scanned = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for lit in literals(&text) {
            scanned += 1;
            if names_a_flag(&lit.text) && !ALLOWED.iter().any(|a| lit.text.starts_with(a)) {
                found.push(format!(
                    "{}:{}: {:?}",
                    file.strip_prefix(&src).unwrap().display(),
                    lit.line,
                    lit.text
                ));
            }
        }
    }
    assert!(
        scanned > 500,
        "only {scanned} literals: is the lexer broken?"
    );
    assert!(
        found.is_empty(),
        "library strings naming a CLI flag (name the failure and carry data instead; \
         the CLI adds the remedy in cli/src/error.rs):\n{}",
        found.join("\n")
    );
}

/// The scanner itself: finds flags in every kind of literal and nowhere else.
#[test]
fn the_scanner_finds_flags_only_in_literals() {
    let src = r###"
        // pass --force in a comment is fine
        /* and --map in a block comment "--x" */
        fn f<'a>(x: &'a str) -> char { let _ = '"'; let _ = '\''; 'c' }
        const A: &str = "plain text -----BEGIN X-----";
        const B: &str = "exists; \
                         pass --force to replace it";
        const C: &str = r#"say which with "--map""#;
        const D: &[u8] = b"--vendor DIR";
        const E: &str = "x -- y";
    "###;
    let lits = literals(src);
    let flagged: Vec<(usize, &str)> = lits
        .iter()
        .filter(|l| names_a_flag(&l.text))
        .map(|l| (l.line, l.text.as_str()))
        .collect();
    assert_eq!(flagged.len(), 3, "{lits:?}");
    assert_eq!(flagged[0].0, 6);
    assert!(flagged[0].1.contains("--force"));
    assert_eq!(flagged[1], (8, "say which with \"--map\""));
    assert_eq!(flagged[2], (9, "--vendor DIR"));
    // The non-flag literals were still seen.
    assert!(lits.iter().any(|l| l.text.starts_with("plain text")));
    assert!(lits.iter().any(|l| l.text == "x -- y"));
}
