//! Shell completions, man pages and `--version`, all from the clap definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{airseal, ok, stderr};

#[test]
fn completion_scripts_know_the_commands_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _airseal"),
        ("zsh", "#compdef airseal"),
        ("fish", "complete -c airseal"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = ok(&airseal(tmp.path(), &["completions", shell]));
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in [
            "issue",
            "ledger",
            "revocations",
            "json",
            "passphrase-file",
            "customers",
            "templates",
            "issuing-key",
            "tokens",
        ] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let bad = airseal(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn man_pages_for_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&airseal(d, &["man", "--out", "man"]));
    for (page, says) in [
        ("airseal.1", "verifying offline license files"),
        ("airseal-issue.1", "licensee\\-email"),
        ("airseal-keys-generate.1", "count"),
        ("airseal-ledger-keys.1", "format"),
        ("airseal-revocations-export.1", "json"),
        ("airseal-keys-update.1", "extend"),
        ("airseal-customers-add.1", "email"),
        ("airseal-tokens-create.1", "scope"),
        ("airseal-products-add.1", "pattern"),
        ("airseal-issuing-key-create.1", "root\\-key"),
        ("airseal-verify.1", "EXIT CODES"),
    ] {
        let text = std::fs::read_to_string(d.join("man").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
        assert!(text.contains(says), "{page}: no {says:?}");
    }
    // Pages are not replaced without --force, and a refusal writes nothing.
    let again = airseal(d, &["man", "--out", "man"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"));
    ok(&airseal(d, &["man", "--out", "man", "--force"]));
}

#[test]
fn version_names_the_commit_in_a_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let v = ok(&airseal(tmp.path(), &["--version"]));
    let v = v.trim();
    let rest = v
        .strip_prefix(concat!("airseal ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{v}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(commit) => {
            // " (0123456789ab 2026-12-04)"
            let inner = rest
                .strip_prefix(" (")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{v}"));
            let (c, date) = inner.split_once(' ').unwrap();
            assert_eq!(c, commit, "{v}");
            assert_eq!(date.len(), 10, "{v}");
            assert!(
                chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
                "{v}"
            );
        }
        None => assert_eq!(rest, "", "{v}"),
    }
}
