//! The exit-code table is complete: every `airseal_verify::Error` code, with its `--json`
//! name, is a row of `airseal --help`, `airseal verify --help` and README's "Exit codes"
//! table. The codes are read from the verifier's own `Error::code()` and `Error::class()`
//! (as the C ABI's tests do), so a variant added there fails here until it is documented.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

mod common;
use common::{airseal, ok};

/// `Error::Variant … => VALUE,` arms of the function starting with `signature` in the
/// verifier's `error.rs`: variant name → the arm's value, as written.
fn arms(signature: &str) -> BTreeMap<String, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/airseal-verify/src/error.rs"
    );
    let source = std::fs::read_to_string(path).unwrap();
    let start = source.find(signature).unwrap();
    let body = &source[start..];
    let body = &body[..body.find("\n    }\n").unwrap()];
    body.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("Error::")?;
            let (arm, value) = rest.split_once("=>")?;
            let name: String = arm
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let value = value.trim().trim_end_matches(',').trim_matches('"');
            Some((name, value.to_string()))
        })
        .collect()
}

/// Every verifier error as (code, class), from its source.
fn every_error() -> Vec<(u8, String)> {
    let codes = arms("pub fn code(&self)");
    let classes = arms("pub fn class(&self)");
    assert_eq!(
        codes.keys().collect::<Vec<_>>(),
        classes.keys().collect::<Vec<_>>(),
        "code() and class() name the same variants"
    );
    // The parse must have found the whole enum, the issuing-key codes included.
    assert!(codes.len() >= 27, "{codes:?}");
    assert!(codes.values().any(|c| c == "36"), "{codes:?}");
    codes
        .iter()
        .map(|(name, code)| (code.parse().unwrap(), classes[name].clone()))
        .collect()
}

/// The help's table: each row `  CODE  text`, by code.
fn help_rows(help: &str) -> BTreeMap<u8, String> {
    let table = &help[help.find("EXIT CODES").expect("an EXIT CODES section")..];
    table
        .lines()
        .filter_map(|l| {
            let (code, text) = l.trim_start().split_once("  ")?;
            Some((code.parse().ok()?, text.trim().to_string()))
        })
        .collect()
}

#[test]
fn help_lists_every_verifier_error_code_with_its_name() {
    let d = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["verify", "--help"][..]] {
        let help = ok(&airseal(d.path(), args));
        let rows = help_rows(&help);
        for (code, class) in every_error() {
            let row = rows
                .get(&code)
                .unwrap_or_else(|| panic!("`airseal {args:?}` has no row for {code}: {help}"));
            assert!(
                row.starts_with(&class),
                "`airseal {args:?}`: row {code} should start with {class}: {row}"
            );
        }
    }
}

#[test]
fn readme_table_lists_every_verifier_error_code_with_its_name() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find("### Exit codes").unwrap();
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |i| i + 4)];
    for (code, class) in every_error() {
        let row = format!("| {code} | `{class}` |");
        assert!(
            section.lines().any(|l| l.starts_with(&row)),
            "README's exit-code table has no row {row}"
        );
    }
}
