//! Text from outside (a licensee name in a license being inspected, the ledger's customer
//! fields) never reaches the terminal raw: no ESC, no bidi override, no forged line. JSON
//! escapes it per JSON and still reads back to the exact value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{airseal, init_vendor, ok, stderr};
use serde_json::Value;

/// Writes the vendor's clipboard (OSC 52), then clears the screen.
const EVIL_NAME: &str = "\x1b]52;c;ZXZpbA==\x07\x1b[2J";
/// A right-to-left override, a carriage return, a backspace and a forged line.
const EVIL_META: &str = "\u{202e}gpj.exe\r\x08\nVALID license for product photo-pro";

/// Characters that must never be printed raw.
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for c in ['\x1b', '\x07', '\x08', '\r', '\u{202e}', '\u{2066}'] {
        assert!(!text.contains(c), "{what}: raw {c:?} printed: {text:?}");
    }
}

fn setup(d: &Path) {
    init_vendor(d, "\n[products.photo-pro]\n");
    let meta = format!("note={EVIL_META}");
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--licensee-name",
            EVIL_NAME,
            "--licensee-email",
            "=HYPERLINK(\"http://x\")@example.com",
            "--meta",
            &meta,
            "--out",
            "evil.lic",
        ],
    ));
}

#[test]
fn inspect_verify_and_ledger_escape_untrusted_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    let verify = [
        "verify",
        "evil.lic",
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo-pro",
    ];
    for args in [
        &["inspect", "evil.lic"][..],
        &verify[..],
        &["ledger", "licenses"][..],
    ] {
        let o = airseal(d, args);
        let out = ok(&o);
        assert_clean(&args.join(" "), &o.stdout);
        assert_clean(&args.join(" "), &o.stderr);
        // The escapes are visible, so the vendor sees something is off.
        assert!(out.contains("\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J"), "{out}");
        // No line of the output was forged by the metadata's newline.
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("VALID license"))
                .count(),
            usize::from(args[0] == "verify"),
            "{out}"
        );
    }
    let o = airseal(d, &["inspect", "evil.lic"]);
    assert!(
        ok(&o).contains("\\u{202e}gpj.exe\\r\\x08\\nVALID"),
        "{}",
        ok(&o)
    );
}

#[test]
fn json_escapes_per_json_and_reads_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    let o = airseal(d, &["inspect", "evil.lic", "--json"]);
    assert_clean("inspect --json", &o.stdout);
    let v: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["claims"]["licensee"]["name"], EVIL_NAME);
    assert_eq!(v["claims"]["metadata"]["note"], EVIL_META);

    let o = airseal(
        d,
        &[
            "verify",
            "evil.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--json",
        ],
    );
    assert_clean("verify --json", &o.stdout);
    let v: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["claims"]["licensee"]["name"], EVIL_NAME);

    for format in ["json", "jsonl"] {
        let o = airseal(d, &["ledger", "licenses", "--format", format]);
        assert_clean(format, &o.stdout);
        let text = ok(&o);
        let row: Value = if format == "json" {
            serde_json::from_str::<Value>(&text).unwrap()[0].clone()
        } else {
            serde_json::from_str(text.lines().next().unwrap()).unwrap()
        };
        assert_eq!(row["name"], EVIL_NAME, "{text}");
    }
    let o = airseal(d, &["ledger", "licenses", "--json"]);
    let rows: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(rows[0]["name"], EVIL_NAME);
}

#[test]
fn csv_keeps_the_data_but_defuses_formulas() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    ok(&airseal(d, &["ledger", "licenses", "--out", "l.csv"]));
    let csv = std::fs::read_to_string(d.join("l.csv")).unwrap();
    // A file is data: the exact name, for the vendor's own tools…
    assert!(csv.contains(EVIL_NAME), "{csv:?}");
    // …but a spreadsheet opening it runs no formula.
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\")@example.com\""),
        "{csv}"
    );
    // The format follows the extension; a contradiction is refused, not written.
    ok(&airseal(d, &["ledger", "licenses", "--out", "l.json"]));
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("l.json")).unwrap()).unwrap();
    assert_eq!(rows[0]["name"], EVIL_NAME);
    let bad = airseal(
        d,
        &["ledger", "licenses", "--format", "csv", "--out", "x.json"],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("does not match"), "{}", stderr(&bad));
    assert!(!d.join("x.json").exists());
}
