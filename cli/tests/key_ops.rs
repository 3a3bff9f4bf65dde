//! The operations a vendor runs on keys over months (suspend, reinstate, update terms,
//! customers, products and templates) and the findings of issue 13 they close (9, 14),
//! end to end through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{airseal, exits, init_vendor, stderr};

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
