//! The CLI is a shell (ARCHITECTURE.md): it parses, makes one library call and renders. These
//! checks catch the ways a business rule usually creeps back in — SQL, signing, direct
//! ledger or key-file access, and file writes that bypass the one durable writer — by reading
//! the CLI's own sources and manifest. Each names the file and line it objects to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::rust_files;

/// Every non-comment line of the CLI's sources that contains one of `needles`, as
/// `file:line: text`, outside `#[cfg(test)]` modules.
fn offending_lines(dir: &str, needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|needle| contains_word(code, needle)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

/// Whether `needle` occurs in `code` not glued to a longer name (`DurableFile::create(` is
/// not `File::create(`).
fn contains_word(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn commands_hold_no_sql_and_no_signing() {
    let found = offending_lines(
        "src/cmd",
        &[
            "SELECT ",
            "INSERT ",
            "UPDATE ",
            "DELETE FROM",
            "rusqlite",
            "connection()",
            "ed25519_dalek",
            ".sign(",
            "SigningKey",
        ],
    );
    assert!(
        found.is_empty(),
        "cli/src/cmd decides what the vendor library should:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cli_writes_files_only_through_the_durable_writer() {
    // `std::fs::create_dir_all` is allowed (folders); file contents go through
    // `crate::io` / `render::Sink`, which call `airseal_verify::app::fs`.
    let found = offending_lines(
        "src",
        &[
            "fs::write(",
            "File::create(",
            "OpenOptions",
            "fs::rename(",
            "fs::copy(",
            "hard_link(",
        ],
    );
    assert!(
        found.is_empty(),
        "files written around the durable writer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cli_does_not_depend_on_storage_or_crypto_crates() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    for forbidden in [
        "rusqlite",
        "ed25519-dalek",
        "argon2",
        "chacha20poly1305",
        "sha2",
        "hmac",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(forbidden)),
            "cli/Cargo.toml [dependencies] names {forbidden}: that belongs in a library"
        );
    }
}

/// The vendor service (`crates/airseal-serve`) is a room of thin handlers over the vendor
/// library (DESIGN15 §1): no SQL, no signing primitives, no storage or crypto crates.
#[test]
fn the_service_holds_no_sql_and_no_signing() {
    let found = offending_lines(
        "../crates/airseal-serve/src",
        &[
            "SELECT ",
            "INSERT ",
            "UPDATE ",
            "DELETE FROM",
            "rusqlite",
            "postgres::",
            "connection()",
            "ed25519_dalek",
            ".sign(",
            "SigningKey",
        ],
    );
    assert!(
        found.is_empty(),
        "crates/airseal-serve decides what the vendor library should:\n{}",
        found.join("\n")
    );
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/airseal-serve/Cargo.toml"),
    )
    .unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    assert!(
        deps.contains("airseal-vendor"),
        "the scanner read the wrong manifest"
    );
    for forbidden in [
        "rusqlite",
        "postgres",
        "ed25519-dalek",
        "argon2",
        "chacha20poly1305",
        "sha2",
        "hmac",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(forbidden)),
            "crates/airseal-serve/Cargo.toml [dependencies] names {forbidden}: the service \
             reaches storage and signing only through airseal-vendor"
        );
    }
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    // Without this, a broken scanner (wrong folder, nothing read) would pass every check.
    assert!(!offending_lines("src/cmd", &["fn run"]).is_empty());
    assert!(!offending_lines("src", &["airseal_verify::app::fs"]).is_empty());
    assert!(!offending_lines("../crates/airseal-serve/src", &["fn router"]).is_empty());
    assert!(contains_word(
        "let f = std::fs::File::create(p);",
        "File::create("
    ));
    assert!(!contains_word("DurableFile::create(p)", "File::create("));
}
