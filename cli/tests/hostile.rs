//! Defects a hostile walkthrough found (the "HOSTILE" list of issue 13's second round), each
//! reproduced through the binary: contradictory templates, product ids, private outputs,
//! config messages, exit codes and control characters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{airseal, exits, init_vendor, ok, stderr};

/// The line of `airseal.toml` in `dir` that starts with `prefix`, counted from 1.
fn line_of(dir: &std::path::Path, prefix: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("airseal.toml")).unwrap();
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[test]
fn contradictory_templates_are_refused_when_the_file_loads_with_their_line() {
    for (body, field, says) in [
        (
            "machine_threshold = 5\nmin_components = 2\n",
            "machine_threshold",
            "more than min_components",
        ),
        (
            "machine_threshold = 17\n",
            "machine_threshold",
            "16 components",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        init_vendor(
            dir,
            &format!("\n[products.p]\n[products.p.templates.sub]\ndays = 30\n{body}"),
        );
        // Any command that loads the file, long before a customer activates.
        let o = airseal(
            dir,
            &[
                "keys",
                "generate",
                "--product",
                "p",
                "--count",
                "1",
                "--out",
                "k.csv",
            ],
        );
        exits(&o, 1);
        let e = stderr(&o);
        let line = line_of(dir, field);
        assert!(e.contains(&format!("line {line}:")), "{body}: {e}");
        assert!(
            e.contains(&format!("field {field}")) && e.contains(says),
            "{e}"
        );
    }
}

#[test]
fn config_errors_say_what_is_expected_at_the_fields_own_line() {
    for value in ["-1", "[1]", "\"lots\""] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        init_vendor(
            dir,
            &format!(
                "\n[products.p]\n[products.p.templates.sub]\ndays = 30\nmax_activations = {value}\n"
            ),
        );
        let o = airseal(dir, &["products", "list"]);
        exits(&o, 1);
        let e = stderr(&o);
        assert!(!e.contains("untagged") && !e.contains("variant"), "{e}");
        assert!(
            e.contains("a whole number of at least 1, or \"unlimited\""),
            "{e}"
        );
        let line = line_of(dir, "max_activations");
        assert!(e.contains(&format!("line {line}:")), "{value}: {e}");
    }
    // An unknown key and a metadata value of no usable type: their own lines, in words.
    for (body, key, says) in [
        ("dayz = 3", "dayz", "unknown field `dayz`"),
        (
            "metadata = { a = 1.5 }",
            "metadata",
            "expected text or a whole number",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        init_vendor(
            dir,
            &format!("\n[products.p]\n[products.p.templates.sub]\ndays = 30\n{body}\n"),
        );
        let o = airseal(dir, &["products", "list"]);
        exits(&o, 1);
        let e = stderr(&o);
        assert!(!e.contains("untagged") && e.contains(says), "{e}");
        let line = line_of(dir, key);
        assert!(e.contains(&format!("line {line}:")), "{body}: {e}");
    }
    // A template named by activation_template that does not exist: its own line.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_vendor(
        dir,
        "\n[products.p]\nname = \"P\"\nactivation_template = \"nosuch\"\n[products.p.templates.sub]\ndays = 30\n",
    );
    let o = airseal(dir, &["products", "list"]);
    exits(&o, 1);
    let e = stderr(&o);
    let line = line_of(dir, "activation_template");
    assert!(
        e.contains(&format!("line {line}:")) && e.contains("nosuch"),
        "{e}"
    );
}

#[test]
fn product_ids_follow_one_rule_wherever_they_enter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_vendor(dir, "");
    for bad in ["evil\u{1b}[31m", "a\"b]", "Photo", ".p", &"p".repeat(65)] {
        let o = airseal(dir, &["products", "add", bad]);
        exits(&o, 1);
        assert!(stderr(&o).contains("not a valid product id"), "{bad}");
        let o = airseal(
            dir,
            &["issue", "--product", bad, "--no-ledger", "--out", "x.lic"],
        );
        exits(&o, 1);
        assert!(stderr(&o).contains("not a valid product id"), "{bad}");
        assert!(!dir.join("x.lic").exists());
    }
    ok(&airseal(dir, &["products", "add", "photo-pro.v2"]));
    // A hand-edited airseal.toml is held to the same rule when it loads.
    let config = dir.join("airseal.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[products.\"Bad Id\"]\n");
    std::fs::write(&config, text).unwrap();
    let o = airseal(dir, &["products", "list"]);
    exits(&o, 1);
    assert!(
        stderr(&o).contains("not a valid product id"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn products_add_checks_the_patterns_entropy_like_keys_generate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_vendor(dir, "");
    let o = airseal(dir, &["products", "add", "ok2", "--pattern", "XXXX"]);
    exits(&o, 1);
    let e = stderr(&o);
    assert!(e.contains("fewer than 80"), "{e}");
    let text = std::fs::read_to_string(dir.join("airseal.toml")).unwrap();
    assert!(!text.contains("ok2"), "{text}");
    ok(&airseal(
        dir,
        &[
            "products",
            "add",
            "ok3",
            "--pattern",
            "XXXXX-XXXXX-XXXXX-XXXXX",
        ],
    ));
}

#[cfg(unix)]
#[test]
fn files_of_product_keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_vendor(
        dir,
        "\n[products.p]\nactivation_template = \"sub\"\n[products.p.templates.sub]\ndays = 30\n",
    );
    ok(&airseal(
        dir,
        &[
            "keys",
            "generate",
            "--product",
            "p",
            "--count",
            "3",
            "--out",
            "k1.csv",
            "-q",
        ],
    ));
    ok(&airseal(dir, &["ledger", "keys", "--out", "lk.csv"]));
    for file in ["k1.csv", "lk.csv"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
    }
}

/// A vendor folder with product `p` (30-day subscriptions, one seat) and one key, activated
/// on machine folder `m1` on 2026-01-01; the key is returned.
fn one_machine(d: &std::path::Path) -> String {
    init_vendor(
        d,
        "\n[products.p]\nactivation_template = \"sub\"\n[products.p.templates.sub]\n\
         kind = \"subscription\"\ndays = 30\nmax_activations = 1\n",
    );
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "p",
            "--count",
            "1",
            "--out",
            "k.csv",
            "-q",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = csv
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    ok(&request(d, &key, "m1"));
    ok(&airseal(
        d,
        &[
            "activate",
            "m1.req",
            "--out",
            "m1.resp",
            "--now",
            "2026-01-01",
        ],
    ));
    ok(&install(d, "m1.resp", "m1"));
    key
}

fn request(d: &std::path::Path, key: &str, m: &str) -> std::process::Output {
    let out = format!("{m}.req");
    airseal(
        d,
        &[
            "request",
            "--product",
            "p",
            "--key",
            key,
            "--data-dir",
            m,
            "--no-system-components",
            "--component",
            "custom:id=one",
            "--out",
            &out,
            "--now",
            "2026-01-01",
        ],
    )
}

fn install(d: &std::path::Path, file: &str, m: &str) -> std::process::Output {
    airseal(
        d,
        &[
            "install",
            file,
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            m,
            "--now",
            "2026-01-02",
        ],
    )
}

#[test]
fn install_says_wrong_type_for_a_plain_license_and_released_for_a_renewal_after_release() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = one_machine(d);
    // A license bound to no machine is not something `install` reads: wrong type (12),
    // on a fresh folder and on one with a license installed.
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "p",
            "--no-ledger",
            "--days",
            "30",
            "--out",
            "plain.lic",
        ],
    ));
    exits(&install(d, "plain.lic", "fresh"), 12);
    exits(&install(d, "plain.lic", "m1"), 12);
    // Released here, then a renewal of its seat arrives: released (29), not "nothing pending".
    ok(&airseal(
        d,
        &["release", "--data-dir", "m1", "--out", "proof.txt"],
    ));
    ok(&airseal(
        d,
        &[
            "renew",
            "--key",
            &key,
            "--out-dir",
            "renewals",
            "--now",
            "2026-01-02",
        ],
    ));
    let renewal = std::fs::read_dir(d.join("renewals"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".renewal.txt"))
        .unwrap();
    let o = install(d, renewal.to_str().unwrap(), "m1");
    exits(&o, 29);
    assert!(stderr(&o).contains("released"), "{}", stderr(&o));
}

#[test]
fn a_missing_ledger_exits_with_the_ledgers_code_naming_its_path_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.p]\n");
    ok(&airseal(d, &["ledger", "keys"]));
    std::fs::remove_file(d.join("ledger.sqlite3")).unwrap();
    let o = airseal(d, &["ledger", "keys"]);
    exits(&o, 3);
    let e = stderr(&o);
    assert_eq!(e.matches("ledger.sqlite3").count(), 1, "{e}");
}

#[test]
fn refusals_name_the_flag_and_the_command_that_fix_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = one_machine(d);
    // A bad date on an added feature names --add-feature.
    let o = airseal(d, &["keys", "update", &key, "--add-feature", "F7=notadate"]);
    exits(&o, 1);
    let e = stderr(&o);
    assert!(
        e.contains("--add-feature:") && !e.contains("--feature:"),
        "{e}"
    );
    // A suspended key's activation names the command that reinstates it.
    ok(&airseal(d, &["keys", "suspend", &key]));
    ok(&request(d, &key, "m2"));
    let o = airseal(
        d,
        &[
            "activate",
            "m2.req",
            "--out",
            "m2.resp",
            "--now",
            "2026-01-01",
        ],
    );
    exits(&o, 1);
    let e = stderr(&o);
    assert!(
        e.contains(&format!("airseal keys reinstate {}", key.replace('-', ""))),
        "{e}"
    );
    // A revoked license says so once.
    ok(&airseal(d, &["keys", "reinstate", &key]));
    let id = {
        let o = airseal(d, &["ledger", "licenses", "--format", "json"]);
        let rows: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
        rows[0]["license_id"].as_str().unwrap().to_string()
    };
    ok(&airseal(d, &["revoke", "--license", &id]));
    ok(&airseal(d, &["revocations", "export", "--out", "r.txt"]));
    let o = airseal(
        d,
        &[
            "verify",
            "--machine",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "p",
            "--data-dir",
            "m1",
            "--no-system-components",
            "--component",
            "custom:id=one",
            "--revocations",
            "r.txt",
            "--now",
            "2026-01-02",
        ],
    );
    exits(&o, 23);
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert_eq!(all.matches("revoked").count(), 1, "{all}");
}

#[test]
fn control_characters_are_refused_in_ids_emails_names_and_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = one_machine(d);
    let evil = "\u{1b}[31mRED\u{1b}[0m";
    let email = "x\u{1b}[31m@y.com";
    for (args, field) in [
        (
            vec!["revoke", "--license", evil, "--external"],
            "license id",
        ),
        (vec!["revoke", "--key", &key, "--reason", evil], "reason"),
        (vec!["customers", "add", "--email", email], "e-mail"),
        (
            vec!["customers", "add", "--email", "a@b.example", "--name", evil],
            "name",
        ),
        (vec!["keys", "suspend", &key, "--reason", evil], "--reason"),
        (vec!["keys", "update", &key, "--notes", evil], "--notes"),
        (
            vec!["deactivate", "--activation", "1", "--reason", evil],
            "reason",
        ),
    ] {
        let o = airseal(d, &args);
        exits(&o, 1);
        let e = stderr(&o);
        assert!(
            e.contains("control character") && e.contains(field),
            "{args:?}: {e}"
        );
        assert!(!e.contains('\u{1b}'), "{e}");
    }
    // Nothing of it was stored.
    let o = airseal(d, &["customers", "list", "--json"]);
    assert!(!ok(&o).contains("RED"));
    let o = airseal(d, &["ledger", "keys", "--format", "json"]);
    assert!(ok(&o).contains("\"active\""));
}

#[test]
fn init_names_the_vendor_after_its_folder_and_knows_a_configured_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = ok(&airseal(d, &["init", "acme-soft"]));
    assert!(out.contains("next: add a product"), "{out}");
    let text = std::fs::read_to_string(d.join("acme-soft/airseal.toml")).unwrap();
    assert!(text.contains("vendor = \"acme-soft\""), "{text}");
    ok(&airseal(
        d,
        &["products", "add", "p", "--vendor", "acme-soft"],
    ));
    let out = ok(&airseal(d, &["init", "acme-soft", "--force"]));
    assert!(!out.contains("next: add a product"), "{out}");
    assert!(out.contains("kept"), "{out}");
}

#[test]
fn keys_inspect_without_a_product_judges_against_every_product() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Two products with the same (default) pattern: a key of the second reads under both.
    init_vendor(d, "\n[products.p]\n[products.q]\n");
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "q",
            "--count",
            "1",
            "--out",
            "q.csv",
            "-q",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("q.csv")).unwrap();
    let key = csv
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    let o = airseal(d, &["keys", "inspect", &key, "--json"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(j["status"], "valid", "{j}");
    assert_eq!(j["product"], "q", "{j}");
    // Nothing like a key: judged against both, not one picked at random.
    let o = airseal(d, &["keys", "inspect", "TOTALLYWRONG", "--json"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["status"], "malformed", "{j}");
    let reason = j["reason"].as_str().unwrap();
    assert!(reason.contains("p, q"), "{j}");
    assert!(j.get("pattern").is_none(), "{j}");
}

#[test]
fn deactivate_by_activation_id_reports_seats_and_deactivations_like_the_proof_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    one_machine(d);
    let o = airseal(
        d,
        &["deactivate", "--activation", "1", "--reason", "x", "--json"],
    );
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(j["by"], "vendor", "{j}");
    assert_eq!(j["seats"]["used"], 0, "{j}");
    assert_eq!(j["seats"]["limit"], 1, "{j}");
    assert_eq!(j["deactivations"]["used"], 1, "{j}");
}
