//! The operations a vendor runs on keys over months (suspend, reinstate, update terms,
//! customers, products and templates) and the findings of issue 13 they close (9, 14),
//! end to end through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

/// A vendor folder with product `photo-pro` and its `pro` template.
fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(
        tmp.path(),
        "\n# Photo Pro, sold since 2024.\n[products.photo-pro]\nname = \"Photo Pro\"\n\
         activation_template = \"pro\"\n\n[products.photo-pro.templates.pro]\n\
         kind = \"subscription\"\ndays = 30\nfeatures = [\"F1\", \"export\"]\n\
         max_activations = 2\n",
    );
    tmp
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// Generates `n` keys for photo-pro; returns them as written (display form).
fn generate(d: &Path, n: &str) -> Vec<String> {
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            n,
            "--out",
            "k.txt",
            "--force",
            "--quiet",
        ],
    ));
    std::fs::read_to_string(d.join("k.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Finding 9: a template that could never make a license is refused when the file loads,
/// by the first command that reads it, with the file, the line and the field.
#[test]
fn a_bad_template_is_refused_at_load_with_file_line_and_field() {
    for (line, field) in [
        ("expires = \"31/12/2027\"", "expires"),
        ("features = [\"x=notadate\"]", "features"),
        ("max_activations = 0", "max_activations"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        init_vendor(
            d,
            &format!(
                "\n[products.p]\nactivation_template = \"t\"\n[products.p.templates.t]\n{line}\n"
            ),
        );
        let text = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
        let at = text.lines().position(|l| l == line).unwrap() + 1;
        let o = airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "p",
                "--count",
                "1",
                "--out",
                "k.txt",
            ],
        );
        exits(&o, 1);
        let e = stderr(&o);
        assert!(
            e.contains(&format!("airseal.toml line {at}")),
            "{line}: {e}"
        );
        assert!(e.contains(&format!("field {field}")), "{line}: {e}");
        assert!(e.contains("products.p.templates.t"), "{line}: {e}");
        assert!(!d.join("k.txt").exists(), "{line}: no key was generated");
        // Every command reads the configuration, so every command refuses it.
        exits(&airseal(d, &["ledger", "keys"]), 1);
    }
}

/// Finding 14: an export of keys airseal generated (spelt with dashes) names the keys the
/// ledger holds, not new ones; an imported key is found by its own spelling.
#[test]
fn an_imported_key_is_the_generated_key_of_the_same_canonical_form() {
    let v = vendor();
    let d = v.path();
    let key = generate(d, "1").remove(0);
    assert!(key.contains('-'), "{key}");
    std::fs::write(
        d.join("export.csv"),
        format!("key,status\n{key},suspended\n\"KG/KEY,1\",suspended\nABCD-1234-EFGH,active\n"),
    )
    .unwrap();
    let o = airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "export.csv",
            "--product",
            "photo-pro",
            "--report",
            "r.json",
        ],
    );
    exits(&o, 4);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["imported"], 2, "{report}");
    let rejection = &report["rejections"][0];
    assert_eq!(rejection["kind"], "conflict", "{report}");
    assert_eq!(rejection["key"], key.as_str(), "{report}");
    assert_eq!(
        rejection["fields"],
        serde_json::json!(["status"]),
        "{report}"
    );
    // Three keys, not four; the generated one still active.
    let keys = json(&airseal(d, &["ledger", "keys", "--json"]));
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let generated = keys.iter().find(|k| k["kind"] == "random").unwrap();
    assert_eq!(generated["key"], key.replace('-', "").as_str());
    assert_eq!(generated["status"], "active");
    // The same export again, allowed to update: the generated key takes the status.
    ok(&airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "export.csv",
            "--product",
            "photo-pro",
            "--update",
        ],
    ));
    let keys = json(&airseal(d, &["ledger", "keys", "--json"]));
    assert_eq!(keys.as_array().unwrap().len(), 3, "{keys}");
    let found = json(&airseal(d, &["ledger", "keys", "--key", &key, "--json"]));
    assert_eq!(found[0]["status"], "suspended", "{found}");

    // Imported keys are found by their exact spelling, separators and all.
    for spelt in ["ABCD-1234-EFGH", "KG/KEY,1"] {
        let found = json(&airseal(d, &["ledger", "keys", "--key", spelt, "--json"]));
        let found = found.as_array().unwrap();
        assert_eq!(found.len(), 1, "{spelt}: {found:?}");
        assert_eq!(found[0]["key"], spelt);
    }
    // `keys inspect` finds the imported key and says what it is and its status.
    let seen = json(&airseal(d, &["keys", "inspect", "KG/KEY,1", "--json"]));
    assert_eq!(seen["kind"], "import", "{seen}");
    assert_eq!(seen["ledger_status"], "suspended", "{seen}");
    assert_eq!(seen["key"], "KG/KEY,1", "{seen}");
}
