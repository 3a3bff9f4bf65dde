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
        // Every command reads the configuration, so every command refuses it: `issue` too,
        // which works without a vendor folder but not with a broken one.
        exits(&airseal(d, &["ledger", "keys"]), 1);
        let o = airseal(
            d,
            &["issue", "--product", "p", "--days", "30", "--out", "x.lic"],
        );
        exits(&o, 1);
        assert!(
            stderr(&o).contains(&format!("field {field}")),
            "{}",
            stderr(&o)
        );
        assert!(!d.join("x.lic").exists());
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
    // `keys inspect` finds the imported key and says what it is and its status (a
    // suspended key exits 1).
    let o = airseal(d, &["keys", "inspect", "KG/KEY,1", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let seen: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(seen["status"], "suspended", "{seen}");
    assert_eq!(seen["kind"], "import", "{seen}");
    assert_eq!(seen["ledger_status"], "suspended", "{seen}");
    assert_eq!(seen["key"], "KG/KEY,1", "{seen}");
}

/// `airseal request` from a simulated machine `m` (its own data folder and components).
fn request(d: &Path, m: &str, key: &str, out: &str) {
    let data = format!("machine-{m}");
    let id = format!("machine-id={m}1");
    let disk = format!("root-disk=disk-{m}");
    ok(&airseal(
        d,
        &[
            "request",
            "--product",
            "photo-pro",
            "--key",
            key,
            "--data-dir",
            &data,
            "--no-system-components",
            "--component",
            &id,
            "--component",
            &disk,
            "--out",
            out,
            "--force",
        ],
    ));
}

fn audit(d: &Path, action: &str) -> Vec<Value> {
    let rows = json(&airseal(
        d,
        &["ledger", "audit", "--action", action, "--json"],
    ));
    rows.as_array().unwrap().clone()
}

/// Suspend refuses activation until reinstated; both are audited with before and after; a
/// revoked key is never reinstated.
#[test]
fn suspend_and_reinstate_a_key() {
    let v = vendor();
    let d = v.path();
    let key = generate(d, "1").remove(0);
    let done = json(&airseal(
        d,
        &["keys", "suspend", &key, "--reason", "chargeback", "--json"],
    ));
    assert_eq!(
        (
            done["from"].as_str(),
            done["to"].as_str(),
            done["changed"].as_bool()
        ),
        (Some("active"), Some("suspended"), Some(true)),
        "{done}"
    );
    let row = &audit(d, "key.suspend")[0];
    assert_eq!(row["detail"]["reason"], "chargeback", "{row}");
    assert_eq!(row["detail"]["before"]["status"], "active", "{row}");
    assert_eq!(row["detail"]["after"]["status"], "suspended", "{row}");
    let listed = json(&airseal(
        d,
        &["ledger", "keys", "--status", "suspended", "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Suspending again changes nothing and audits nothing.
    let again = json(&airseal(d, &["keys", "suspend", &key, "--json"]));
    assert_eq!(again["changed"], false);
    assert_eq!(audit(d, "key.suspend").len(), 1);
    // A suspended key is not activated.
    request(d, "a", &key, "a.req");
    let o = airseal(d, &["activate", "a.req", "--out", "a.resp"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("suspended"), "{}", stderr(&o));
    // Reinstated, it is.
    let done = json(&airseal(d, &["keys", "reinstate", &key, "--json"]));
    assert_eq!(done["to"], "active", "{done}");
    assert_eq!(audit(d, "key.reinstate").len(), 1);
    ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));

    // A revoked key (here: imported as revoked) stays revoked.
    std::fs::write(d.join("rev.csv"), "key,status\nREV-0001,revoked\n").unwrap();
    ok(&airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "rev.csv",
            "--product",
            "photo-pro",
        ],
    ));
    for args in [
        &["keys", "reinstate", "rev-0001"][..],
        &["keys", "suspend", "REV-0001"],
        &["keys", "update", "REV-0001", "--extend", "5"],
    ] {
        let o = airseal(d, args);
        exits(&o, 1);
        assert!(stderr(&o).contains("revoked"), "{args:?}: {}", stderr(&o));
    }
    let rev = json(&airseal(
        d,
        &["ledger", "keys", "--key", "REV-0001", "--json"],
    ));
    assert_eq!(rev[0]["status"], "revoked");
    // A key no product has.
    let o = airseal(d, &["keys", "suspend", "NOPE-NOPE"]);
    exits(&o, 1);
    assert!(stderr(&o).contains("not in the ledger"), "{}", stderr(&o));
}

/// `keys update` changes what activation signs from the next request on, refuses what no
/// license could carry, and allows a seat limit below the seats in use (saying so).
#[test]
fn update_a_key_s_terms_and_activation_uses_them() {
    let v = vendor();
    let d = v.path();
    let key = generate(d, "1").remove(0);
    let report = json(&airseal(
        d,
        &[
            "keys",
            "update",
            &key,
            "--max-activations",
            "1",
            "--add-feature",
            "F3=2030-01-01",
            "--remove-feature",
            "export",
            "--extend",
            "10",
            "--notes",
            "paid by wire",
            "--meta",
            "seats=5",
            "--json",
        ],
    ));
    assert_eq!(report["changed"], true, "{report}");
    assert_eq!(report["before"]["license"]["days"], 30, "{report}");
    assert_eq!(report["after"]["license"]["days"], 40, "{report}");
    assert_eq!(
        report["after"]["license"]["features"],
        serde_json::json!(["F1", "F3=2030-01-01"]),
        "{report}"
    );
    assert_eq!(report["after"]["notes"], "paid by wire");
    let row = &audit(d, "key.update")[0];
    assert_eq!(row["detail"]["before"], report["before"], "{row}");
    assert_eq!(row["detail"]["after"], report["after"], "{row}");

    // Activation signs the new terms: one seat, 40 days, F3 and no `export`.
    request(d, "a", &key, "a.req");
    let out = json(&airseal(
        d,
        &[
            "activate",
            "a.req",
            "--out",
            "a.resp",
            "--json",
            "--now",
            "2026-06-01",
        ],
    ));
    assert_eq!(out["seats"]["limit"], 1, "{out}");
    let shown = json(&airseal(d, &["inspect", "a.resp", "--json"]));
    let text = shown.to_string();
    assert!(text.contains("F3") && !text.contains("export"), "{text}");
    assert!(text.contains("\"seats\""), "{text}");
    // A second machine gets no seat.
    request(d, "b", &key, "b.req");
    let o = airseal(
        d,
        &[
            "activate",
            "b.req",
            "--out",
            "b.resp",
            "--now",
            "2026-06-01",
        ],
    );
    assert_ne!(o.status.code(), Some(0));

    // Unlimited seats: the second machine is now activated.
    ok(&airseal(
        d,
        &["keys", "update", &key, "--max-activations", "unlimited"],
    ));
    ok(&airseal(
        d,
        &[
            "activate",
            "b.req",
            "--out",
            "b.resp",
            "--now",
            "2026-06-01",
        ],
    ));
    // Back to one seat while two are in use: allowed, and said.
    let o = airseal(d, &["keys", "update", &key, "--max-activations", "1"]);
    ok(&o);
    assert!(stderr(&o).contains("no new seat"), "{}", stderr(&o));
    let report = json(&airseal(
        d,
        &["keys", "update", &key, "--notes", "x", "--json"],
    ));
    assert_eq!(report["over_limit"], true, "{report}");
    assert_eq!(report["seats_in_use"], 2, "{report}");

    // Refused, with the flag at fault: nothing changes.
    for (args, says) in [
        (&["--max-activations", "0"][..], "--max-activations"),
        (&["--expires", "31/12/2027"], "--expires"),
        (&["--add-feature", "x=notadate"], "not a date"),
        (&["--remove-feature", "F7"], "no feature"),
        (&["--add-feature", "F2", "--remove-feature", "F2"], "both"),
    ] {
        let mut all = vec!["keys", "update", key.as_str()];
        all.extend_from_slice(args);
        let o = airseal(d, &all);
        exits(&o, 1);
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // Contradictory flags are refused by the parser.
    exits(
        &airseal(
            d,
            &[
                "keys",
                "update",
                &key,
                "--expires",
                "2030-01-01",
                "--extend",
                "3",
            ],
        ),
        2,
    );
    // A fixed end moves by --extend, and stays a date.
    ok(&airseal(
        d,
        &["keys", "update", &key, "--expires", "2030-01-31"],
    ));
    let report = json(&airseal(
        d,
        &["keys", "update", &key, "--extend", "1", "--json"],
    ));
    assert_eq!(
        report["after"]["license"]["expires"], "2030-02-01",
        "{report}"
    );
    assert!(report["after"]["license"]["days"].is_null(), "{report}");
}

/// `products add` edits airseal.toml in place: every line the vendor wrote stays, in order;
/// the product is usable at once. `products list`, `templates list`, `ledger batches`.
#[test]
fn products_templates_and_batches() {
    let v = vendor();
    let d = v.path();
    let config = d.join("airseal.toml");
    let before = std::fs::read_to_string(&config).unwrap();
    let out = json(&airseal(
        d,
        &[
            "products",
            "add",
            "acme-cad",
            "--name",
            "Acme CAD",
            "--pattern",
            "CAD-XXXXX-XXXXX-XXXXX-XXXXX",
            "--json",
        ],
    ));
    assert_eq!(out["product"], "acme-cad");
    let after = std::fs::read_to_string(&config).unwrap();
    // The old lines, comments included, are all there in their order.
    let mut rest = after.lines();
    for line in before.lines() {
        assert!(rest.any(|l| l == line), "lost or moved: {line:?}\n{after}");
    }
    assert!(
        after.contains("[products.acme-cad]\nname = \"Acme CAD\"\n"),
        "{after}"
    );
    assert!(after.contains("# Photo Pro, sold since 2024."));
    // Already declared: refused, the file untouched.
    let o = airseal(d, &["products", "add", "acme-cad"]);
    exits(&o, 1);
    assert!(stderr(&o).contains("already declared"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), after);
    // A bad pattern is refused before the file is touched.
    exits(
        &airseal(d, &["products", "add", "x", "--pattern", "XX-I"]),
        1,
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), after);
    // The new product is usable at once.
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "acme-cad",
            "--count",
            "2",
            "--out",
            "cad.txt",
            "--quiet",
        ],
    ));
    generate(d, "3");
    let products = json(&airseal(d, &["products", "list", "--json"]));
    let cad = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "acme-cad")
        .unwrap();
    assert_eq!(cad["keys"], 2, "{products}");
    assert_eq!(cad["key_pattern"], "CAD-XXXXX-XXXXX-XXXXX-XXXXX");
    let adds = audit(d, "product.add");
    assert_eq!(adds.len(), 1);
    assert_eq!(adds[0]["detail"]["after"]["name"], "Acme CAD");

    let templates = json(&airseal(
        d,
        &["templates", "list", "--product", "photo-pro", "--json"],
    ));
    let pro = &templates[0];
    assert_eq!(pro["name"], "pro", "{templates}");
    assert_eq!(pro["used_for"], serde_json::json!(["activation"]));
    assert_eq!(pro["terms"]["days"], 30);
    assert_eq!(pro["terms"]["max_activations"], 2);
    let o = airseal(d, &["templates", "list", "--product", "nosuch"]);
    exits(&o, 1);
    assert!(stderr(&o).contains("products list"), "{}", stderr(&o));

    let batches = json(&airseal(d, &["ledger", "batches", "--json"]));
    let batches = batches.as_array().unwrap();
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(batches[0]["product"], "acme-cad");
    assert_eq!(batches[1]["inserted"], 3);
    assert_eq!(batches[1]["status"], "complete");
    let one = json(&airseal(
        d,
        &["ledger", "batches", "--product", "photo-pro", "--json"],
    ));
    assert_eq!(one.as_array().unwrap().len(), 1);
}

/// Customers: added (its number printed), listed, linked to keys at generation or by
/// update, and a key listing by customer.
#[test]
fn customers_and_their_keys() {
    let v = vendor();
    let d = v.path();
    let id = ok(&airseal(
        d,
        &[
            "customers",
            "add",
            "--email",
            "jane@example.com",
            "--name",
            "Jane Roe",
            "--org",
            "Roe Ltd",
        ],
    ));
    let id = id.trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "{id:?}");
    let bob = json(&airseal(
        d,
        &["customers", "add", "--email", "bob@example.com", "--json"],
    ));
    let bob_id = bob["id"].as_i64().unwrap().to_string();
    // One customer per address, case ignored; an address must be one.
    let o = airseal(d, &["customers", "add", "--email", "JANE@example.com"]);
    exits(&o, 1);
    assert!(
        stderr(&o).contains(&format!("customer {id}")),
        "{}",
        stderr(&o)
    );
    exits(
        &airseal(d, &["customers", "add", "--email", "not an address"]),
        1,
    );
    let all = json(&airseal(d, &["customers", "list", "--json"]));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0]["email"], "jane@example.com");
    assert_eq!(all[0]["org"], "Roe Ltd");
    assert_eq!(audit(d, "customer.add").len(), 2);

    // Linked at generation: every key of the batch.
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "2",
            "--out",
            "jane.txt",
            "--customer",
            &id,
            "--quiet",
        ],
    ));
    let other = generate(d, "1").remove(0);
    let janes = json(&airseal(
        d,
        &["ledger", "keys", "--customer", &id, "--json"],
    ));
    assert_eq!(janes.as_array().unwrap().len(), 2, "{janes}");
    // Linked by update: the key moves from nobody (or its batch's customer) to Bob.
    let report = json(&airseal(
        d,
        &["keys", "update", &other, "--customer", &bob_id, "--json"],
    ));
    assert!(report["before"]["customer"].is_null(), "{report}");
    assert_eq!(report["after"]["customer"].to_string(), bob_id);
    let bobs = json(&airseal(
        d,
        &["ledger", "keys", "--customer", &bob_id, "--json"],
    ));
    assert_eq!(bobs[0]["key"], other.replace('-', ""), "{bobs}");
    let jane_key = janes[0]["key"].as_str().unwrap().to_string();
    ok(&airseal(
        d,
        &["keys", "update", &jane_key, "--customer", &bob_id],
    ));
    let bobs = json(&airseal(
        d,
        &["ledger", "keys", "--customer", &bob_id, "--json"],
    ));
    assert_eq!(bobs.as_array().unwrap().len(), 2, "{bobs}");
    let janes = json(&airseal(
        d,
        &["ledger", "keys", "--customer", &id, "--json"],
    ));
    assert_eq!(janes.as_array().unwrap().len(), 1, "{janes}");
    // A customer that does not exist is refused, with where to look.
    for args in [
        &["keys", "update", other.as_str(), "--customer", "99"][..],
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1",
            "--out",
            "x.txt",
            "--customer",
            "99",
        ],
    ] {
        let o = airseal(d, args);
        exits(&o, 1);
        assert!(
            stderr(&o).contains("customers list"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(!d.join("x.txt").exists());
}
