//! Issue 13, finding 17 through the binary: a data key's own term and F1..F8 features are
//! recorded at generation and are what its license carries, also after the signing key (and
//! with it the MAC key) was rotated; a MAC that does not verify is an error, never a skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_vendor::ledger::Ledger;

mod common;
use common::{MACHINE_A, airseal, init_vendor, ok, stderr};

/// A one-year template with features the key does not all carry.
const PRODUCT: &str = "\n[products.photo-pro]\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n\
    activation_template = \"pro\"\n[products.photo-pro.templates.pro]\nkind = \"subscription\"\n\
    days = 365\nfeatures = [\"F2\", \"F3=2030-01-01\", \"export\"]\n";

/// A vendor folder holding one 30-day data key with F1 and F3, made under the first signing
/// key, which is then replaced; the key as the customer has it, and its creation day.
fn rotated_vendor() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--kind",
            "data",
            "--features",
            "F1,F3",
            "--days",
            "30",
            "--count",
            "1",
            "--quiet",
            "--out",
            "k.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    // The signing key is rotated: the MAC key derived from it changes.
    ok(&airseal(d, &["keygen", "--out", "keys", "--force"]));
    (tmp, key)
}

fn request(d: &Path, key: &str) {
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        key,
        "--out",
        "r.req",
        "--force",
    ];
    args.extend(MACHINE_A);
    ok(&airseal(d, &args));
}

/// The claims of the response, as `inspect --json` shows them.
fn claims(d: &Path) -> serde_json::Value {
    let out = ok(&airseal(d, &["inspect", "resp.txt", "--json"]));
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["claims"].clone()
}

#[test]
fn a_data_key_gives_its_own_term_and_features_after_a_rotation() {
    let (tmp, key) = rotated_vendor();
    let d = tmp.path();
    request(d, &key);
    ok(&airseal(d, &["activate", "r.req", "--out", "resp.txt"]));
    let c = claims(d);
    // 30 days from the key's creation day (today, UTC), not the template's year.
    let created = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(c["exp"].as_i64().unwrap(), created + 30 * 86_400, "{c}");
    let bits: Vec<(String, serde_json::Value)> = c["feature_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["bit"].as_str().unwrap().to_string(), b["expires"].clone()))
        .collect();
    let f3_end = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
        .unwrap()
        .and_hms_opt(23, 59, 59)
        .unwrap()
        .and_utc()
        .timestamp();
    // F1 and F3 (keeping the template's end date for F3); not the template's F2.
    assert_eq!(bits.len(), 2, "{c}");
    assert_eq!(bits[0], ("F1".to_string(), serde_json::Value::Null));
    assert_eq!(bits[1].0, "F3");
    let f3 = bits[1].1.as_i64().unwrap();
    assert!((f3_end - 86_400..=f3_end + 1).contains(&f3), "{c}");
    // The template's named feature stays.
    assert_eq!(c["features"][0]["name"], "export", "{c}");

    // Past the key's own term the key is expired, whatever the template says.
    let later = chrono::DateTime::from_timestamp(created + 31 * 86_400, 0)
        .unwrap()
        .to_rfc3339();
    request(d, &key);
    let o = airseal(
        d,
        &["activate", "r.req", "--out", "late.txt", "--now", &later],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("expired"), "{err}");
}

/// A data key from a batch that recorded nothing (an older airseal) whose MAC the current
/// signing key does not verify is refused, not answered with the template's terms.
#[test]
fn a_mac_that_does_not_verify_is_an_error() {
    let (tmp, key) = rotated_vendor();
    let d = tmp.path();
    {
        let l = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
        let changed = l
            .sqlite_connection()
            .unwrap()
            .execute(
                "UPDATE batches SET params = json_remove(params, '$.data_key')",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    request(d, &key);
    let o = airseal(d, &["activate", "r.req", "--out", "resp.txt"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("does not carry this vendor's MAC"), "{err}");
    assert!(!d.join("resp.txt").exists());
}

/// Issue 13 hostile walkthrough, defect 1: `keys update` and `renew` read a data key's own
/// term and features (the one function that lays them over its template), so an update
/// shows and changes them, and a renewal carries them extended from the key's own end.
#[test]
fn update_and_renew_keep_a_data_keys_own_terms() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--kind",
            "data",
            "--features",
            "F1,F3",
            "--days",
            "30",
            "--count",
            "1",
            "--quiet",
            "--out",
            "k.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    request(d, &key);
    ok(&airseal(d, &["activate", "r.req", "--out", "resp.txt"]));
    let activated = claims(d);
    let key_end = activated["exp"].as_i64().unwrap();

    let o = ok(&airseal(
        d,
        &["keys", "update", &key, "--extend", "10", "--json"],
    ));
    let j: serde_json::Value = serde_json::from_str(&o).unwrap();
    let before = &j["before"]["license"];
    let after = &j["after"]["license"];
    let at = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    // Before: the key's own end and features, not the template's 365 days and F2.
    assert_eq!(at(&before["expires"]), key_end, "{j}");
    assert!(before["days"].is_null(), "{j}");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().split('=').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(before), ["export", "F1", "F3"], "{j}");
    // After: ten days past the key's own end, features kept.
    assert_eq!(at(&after["expires"]), key_end + 10 * 86_400, "{j}");
    assert_eq!(names(after), ["export", "F1", "F3"], "{j}");

    // A feature the data key carries can be taken away.
    ok(&airseal(
        d,
        &["keys", "update", &key, "--remove-feature", "F3"],
    ));

    // The renewal: the extended end, the key's features less F3.
    let now = chrono::Utc::now().to_rfc3339();
    ok(&airseal(
        d,
        &["renew", "--key", &key, "--out-dir", "ren", "--now", &now],
    ));
    let file = std::fs::read_dir(d.join("ren"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = ok(&airseal(d, &["inspect", file.to_str().unwrap(), "--json"]));
    let c = serde_json::from_str::<serde_json::Value>(&out).unwrap()["claims"].clone();
    assert_eq!(c["exp"].as_i64().unwrap(), key_end + 10 * 86_400, "{c}");
    let bits: Vec<&str> = c["feature_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bit"].as_str().unwrap())
        .collect();
    assert_eq!(bits, ["F1"], "{c}");
    assert_eq!(c["features"][0]["name"], "export", "{c}");
}
