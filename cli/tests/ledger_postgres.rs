//! The ledger on PostgreSQL through the binary: `ledger migrate` copies a vendor folder's
//! ledger to PostgreSQL and back, every command runs on the copy with `--database` or
//! `AIRSEAL_DATABASE`, a database holding a ledger is not overwritten without `--force`,
//! `ledger backup` names PostgreSQL's tools, and the URL's password is never printed. Needs
//! `AIRSEAL_TEST_POSTGRES`; without it each test says it was skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{TempDb, airseal, exits, init_vendor, ok, ok_json, postgres_or_skip, stderr};

const PRODUCT: &str = "\n[products.photo-pro]\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n\
    activation_template = \"pro\"\n[products.photo-pro.templates.pro]\nkind = \"perpetual\"\n";

/// The password every URL here carries, so a test can look for it in the output.
const SECRET: &str = "pw-never-shown";

/// `airseal ARGS` with `AIRSEAL_DATABASE` set.
fn airseal_on(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", common::PASSPHRASE)
        .env("AIRSEAL_DATABASE", url)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap()
}

fn keys(o: &Output) -> Vec<String> {
    let rows: serde_json::Value = serde_json::from_str(&ok(o)).unwrap();
    let mut keys: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

fn generate(dir: &Path, url: Option<&str>, count: &str, out: &str) {
    let args = [
        "keys",
        "generate",
        "--product",
        "photo-pro",
        "--count",
        count,
        "--quiet",
        "--out",
        out,
    ];
    match url {
        Some(url) => ok(&airseal_on(dir, url, &args)),
        None => ok(&airseal(dir, &args)),
    };
}

/// The test database's URL with a user and a password in it (the server accepts only the
/// real password; [`SECRET`] goes where it must not be shown).
fn with_password(url: &str, password: &str) -> String {
    // postgres://user:pw@host/db → user:PASSWORD
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn ledger_migrate_copies_a_folder_ledger_to_postgres_and_back() {
    let Some(base) = postgres_or_skip("ledger_migrate_copies_a_folder_ledger_to_postgres_and_back")
    else {
        return;
    };
    let db = TempDb::new(&base, "cli_migrate");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    generate(d, None, "5", "first.csv");
    let before = keys(&airseal(d, &["ledger", "keys", "--json"]));
    assert_eq!(before.len(), 5);

    // SQLite → PostgreSQL.
    let report = ok_json(&airseal(
        d,
        &["ledger", "migrate", "--to", &db.url, "--json"],
    ));
    assert_eq!(report["result"], "migrated");
    let counted = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "keys")
        .unwrap()["rows"]
        .as_u64();
    assert_eq!(counted, Some(5));
    assert!(report["sampled"].as_u64().unwrap() > 0);

    // Commands run on the copy, with --database or AIRSEAL_DATABASE.
    assert_eq!(
        keys(&airseal(
            d,
            &["ledger", "keys", "--json", "--database", &db.url]
        )),
        before
    );
    generate(d, Some(&db.url), "3", "second.csv");
    let on_pg = keys(&airseal_on(d, &db.url, &["ledger", "keys", "--json"]));
    assert_eq!(on_pg.len(), 8);
    // …and the folder's own ledger did not change.
    assert_eq!(keys(&airseal(d, &["ledger", "keys", "--json"])), before);

    // A database that holds a ledger is not overwritten without --force.
    let e = stderr(&airseal(d, &["ledger", "migrate", "--to", &db.url]));
    assert!(e.contains("already holds") && e.contains("--force"), "{e}");
    exits(&airseal(d, &["ledger", "migrate", "--to", &db.url]), 1);

    // PostgreSQL → a new file, then that file is the folder's ledger.
    ok(&airseal(
        d,
        &[
            "ledger",
            "migrate",
            "--from",
            &db.url,
            "--to",
            "back.sqlite3",
        ],
    ));
    std::fs::rename(d.join("back.sqlite3"), d.join("ledger.sqlite3")).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(d.join(format!("ledger.sqlite3{suffix}")));
    }
    assert_eq!(keys(&airseal(d, &["ledger", "keys", "--json"])), on_pg);
}

#[test]
fn a_postgres_ledger_refuses_file_backups_and_never_prints_its_password() {
    let Some(base) =
        postgres_or_skip("a_postgres_ledger_refuses_file_backups_and_never_prints_its_password")
    else {
        return;
    };
    let db = TempDb::new(&base, "cli_backup");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    ok(&airseal(d, &["ledger", "migrate", "--to", &db.url]));
    let e = stderr(&airseal_on(
        d,
        &db.url,
        &["ledger", "backup", "--out", "b.sqlite3"],
    ));
    assert!(e.contains("pg_dump"), "{e}");
    assert!(!d.join("b.sqlite3").exists());
    let e = stderr(&airseal_on(d, &db.url, &["ledger", "restore", "b.sqlite3"]));
    assert!(e.contains("pg_restore"), "{e}");

    // A wrong password: refused, the URL shown without it.
    let wrong = with_password(&db.url, SECRET);
    let o = airseal_on(d, &wrong, &["ledger", "keys"]);
    let e = stderr(&o);
    assert_ne!(o.status.code(), Some(0));
    assert!(e.contains("***"), "{e}");
    assert!(!e.contains(SECRET), "{e}");
    let o = airseal(d, &["ledger", "migrate", "--to", &wrong, "--json"]);
    assert!(!stderr(&o).contains(SECRET) && !String::from_utf8_lossy(&o.stdout).contains(SECRET));
    // --help never shows the variable's value.
    let help = ok(&airseal_on(d, &wrong, &["ledger", "keys", "--help"]));
    assert!(!help.contains(SECRET));
}
