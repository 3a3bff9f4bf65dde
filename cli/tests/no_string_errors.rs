//! The CLI never flattens a library error into a string: each library error comes into
//! `CliError` through its own `From` (cli/src/error.rs), which picks the exit code from the
//! variant. A message built from an error's text (`CliError::msg(e.to_string())`,
//! `CliError::msg(format!("…{e}"))`) loses the variant, so its exit code can only be
//! guessed; this test finds such calls in `cli/src`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::rust_files;

/// Messages that do hold an error's text, each for a reason: the error is not one of ours
/// (an encoder's, a flag value's parse message) or is already a `CliError` whose code is
/// kept. (file, a snippet of the call, why).
const ALLOWED: &[(&str, &str, &str)] = &[
    ("qr.rs", "cannot encode the PNG", "the PNG encoder's error"),
    (
        "demo.rs",
        "demo step 20: POST",
        "the HTTP client's error: the demo's HTTP step failed, like any demo step (exit 1)",
    ),
    (
        "import.rs",
        "{origin} {s:?}: {e}",
        "a --map value that does not parse",
    ),
    (
        "import.rs",
        "cannot write the report as JSON",
        "serde_json's error",
    ),
    (
        "activate.rs",
        "the activation is recorded",
        "wraps a CliError and keeps its exit code",
    ),
    (
        "machine.rs",
        "not a usable public key file",
        "whatever is wrong with a file given as a public key, it exits 19",
    ),
];

/// The argument text of every `CliError::msg(…)` / `CliError::Message(…)` call in `src`,
/// with its line, found by matching parentheses.
fn message_calls(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for needle in ["CliError::msg(", "CliError::Message("] {
        let mut from = 0;
        while let Some(at) = src[from..].find(needle) {
            let start = from + at + needle.len();
            let mut depth = 1;
            let mut end = start;
            for (i, c) in src[start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = start + i;
                    break;
                }
            }
            let line = src[..start].matches('\n').count() + 1;
            out.push((line, src[start..end].to_string()));
            from = start;
        }
    }
    out
}

/// Whether a message is built from an error value's text.
fn flattens_an_error(args: &str) -> bool {
    [
        "e.to_string()",
        "{e}",
        "other.to_string()",
        "{other}",
        "err.to_string()",
        "{err}",
    ]
    .iter()
    .any(|p| args.contains(p))
}

#[test]
fn no_library_error_is_flattened_into_a_message() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut calls = 0;
    let mut found = Vec::new();
    for file in &files {
        // error.rs defines the type (and its tests build messages on purpose).
        if file.ends_with("error.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (line, args) in message_calls(&text) {
            calls += 1;
            let allowed = ALLOWED
                .iter()
                .any(|(f, snippet, _)| file.ends_with(f) && args.contains(snippet));
            if flattens_an_error(&args) && !allowed {
                found.push(format!("{}:{line}: {args}", file.display()));
            }
        }
    }
    assert!(
        calls > 20,
        "only {calls} message calls found: is the scanner broken?"
    );
    assert!(
        found.is_empty(),
        "library errors flattened into strings (add a variant and a `From` in \
         cli/src/error.rs instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_nested_calls() {
    let src = r#"
        let a = x.map_err(|e| CliError::msg(e.to_string()))?;
        let b = CliError::msg(format!("{}: {e}", p.display()));
        let c = CliError::Message(format!("--meter {spec:?}: expected NAME=INTEGER"), 2);
    "#;
    let calls = message_calls(src);
    assert_eq!(calls.len(), 3, "{calls:?}");
    let flagged: Vec<usize> = calls
        .iter()
        .filter(|(_, a)| flattens_an_error(a))
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(flagged, [2, 3]);
}
