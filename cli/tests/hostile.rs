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
