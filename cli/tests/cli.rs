//! End-to-end tests of the `airseal` binary: exit codes, files, JSON, refusals.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const PASS: &str = "test passphrase";

fn airseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASS)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A folder with a key pair and one license `jane.lic` (product photo-pro, F1+F3, 30 days).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let o = airseal(&dir, &["keygen", "--out", "keys"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "photo-pro",
            "--licensee-email",
            "jane@example.com",
            "--days",
            "30",
            "--features",
            "F1,F3",
            "--feature",
            "export=2099-01-01",
            "--meta",
            "order=A-1",
            "--meta",
            "seats=5",
            "--max-activations",
            "unlimited",
            "--out",
            "jane.lic",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (tmp, dir)
}

fn verify_json(dir: &Path, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "verify",
        file,
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo-pro",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = airseal(dir, &args);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (code(&o), j)
}

#[test]
fn keygen_issue_verify_round_trip() {
    let (_tmp, dir) = setup();
    let (c, j) = verify_json(&dir, "jane.lic", &[]);
    assert_eq!(c, 0, "{j}");
    assert_eq!(j["valid"], true);
    assert_eq!(j["claims"]["aud"], "photo-pro");
    assert_eq!(j["claims"]["max_activations"], "unlimited");
    assert_eq!(j["claims"]["metadata"]["seats"], 5);
    assert_eq!(j["claims"]["metadata"]["order"], "A-1");
    assert_eq!(
        j["active_features"],
        serde_json::json!(["F1", "F3", "export"])
    );
    let secret = std::fs::read_to_string(dir.join("keys/signing.key")).unwrap();
    assert!(secret.contains("BEGIN AIRSEAL SIGNING KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keys/signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn each_failure_class_has_its_exit_code() {
    let (_tmp, dir) = setup();
    let o = airseal(
        &dir,
        &[
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "other",
        ],
    );
    assert_eq!(code(&o), 15, "{}", stderr(&o));
    let (c, j) = verify_json(&dir, "jane.lic", &["--now", "2099-01-01"]);
    assert_eq!((c, j["error"].as_str()), (17, Some("expired")));
    let (c, j) = verify_json(&dir, "jane.lic", &["--now", "2001-01-01"]);
    assert_eq!((c, j["error"].as_str()), (16, Some("not_yet_valid")));

    // Another vendor's key: unknown key id, not a bad signature.
    let o = airseal(&dir, &["keygen", "--out", "other"]);
    assert_eq!(code(&o), 0);
    let o = airseal(
        &dir,
        &[
            "verify",
            "jane.lic",
            "--public-key",
            "other/signing.pub",
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(code(&o), 13, "{}", stderr(&o));

    // One base64 character changed in the body: bad signature (14) or malformed (10),
    // depending on what the change hits; never valid, never a crash.
    let text = std::fs::read_to_string(dir.join("jane.lic")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let line = &mut lines[2];
    let replacement = if line.as_bytes()[20] == b'A' {
        "B"
    } else {
        "A"
    };
    line.replace_range(20..21, replacement);
    std::fs::write(dir.join("bad.lic"), lines.join("\n") + "\n").unwrap();
    let (c, j) = verify_json(&dir, "bad.lic", &[]);
    assert!(c == 14 || c == 10, "{c} {j}");

    // Armor damage is reported with its line and column.
    std::fs::write(dir.join("star.lic"), text.replacen('\n', "\n*", 1)).unwrap();
    let o = airseal(
        &dir,
        &[
            "verify",
            "star.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(code(&o), 10);
    assert!(stderr(&o).contains("line 2, column 1"), "{}", stderr(&o));

    let o = airseal(
        &dir,
        &[
            "verify",
            "missing.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.lic"));
}

#[test]
fn nothing_is_overwritten_without_force() {
    let (_tmp, dir) = setup();
    let before = std::fs::read(dir.join("keys/signing.key")).unwrap();
    let o = airseal(&dir, &["keygen", "--out", "keys"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("keys/signing.key")).unwrap(), before);

    let lic = std::fs::read(dir.join("jane.lic")).unwrap();
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--out",
            "jane.lic",
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(std::fs::read(dir.join("jane.lic")).unwrap(), lic);
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--out",
            "jane.lic",
            "--force",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_ne!(std::fs::read(dir.join("jane.lic")).unwrap(), lic);
}

#[test]
fn wrong_passphrase_and_bad_fields_are_clear() {
    let (_tmp, dir) = setup();
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(&dir)
        .args([
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--out",
            "x.lic",
        ])
        .env("AIRSEAL_PASSPHRASE", "not it")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("not it"));
    assert!(!dir.join("x.lic").exists());

    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--expires",
            "31/12/2027",
            "--out",
            "x.lic",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("expires"), "{}", stderr(&o));

    std::fs::write(dir.join("pass.txt"), "test passphrase\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(&dir)
        .args([
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--out",
            "y.lic",
            "--passphrase-file",
            "pass.txt",
        ])
        .env_remove("AIRSEAL_PASSPHRASE")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn template_file_supplies_defaults() {
    let (_tmp, dir) = setup();
    std::fs::write(
        dir.join("pro.toml"),
        "product = \"photo-pro\"\nkind = \"trial\"\ndays = 14\nfeatures = [\"F2\"]\n[metadata]\nchannel = \"web\"\n",
    )
    .unwrap();
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--template",
            "pro.toml",
            "--licensee-email",
            "a@b.c",
            "--out",
            "t.lic",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (c, j) = verify_json(&dir, "t.lic", &[]);
    assert_eq!(c, 0);
    assert_eq!(j["claims"]["kind"], "trial");
    assert_eq!(j["claims"]["metadata"]["channel"], "web");
    std::fs::write(dir.join("bad.toml"), "product = \"p\"\nprodcut_key = 1\n").unwrap();
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--template",
            "bad.toml",
            "--out",
            "u.lic",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("prodcut_key"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_labels_output_unverified() {
    let (_tmp, dir) = setup();
    let o = airseal(&dir, &["inspect", "jane.lic"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("UNVERIFIED"));
    let o = airseal(&dir, &["inspect", "jane.lic", "--json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verified"], false);
    assert_eq!(j["claims"]["aud"], "photo-pro");
}

#[test]
fn hostile_vectors_never_crash_the_cli() {
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/licenses");
    let (_tmp, dir) = setup();
    for entry in std::fs::read_dir(vectors).unwrap() {
        let path = entry.unwrap().path();
        let p = path.to_str().unwrap();
        for args in [
            vec![
                "verify",
                p,
                "--public-key",
                "keys/signing.pub",
                "--product",
                "photo-pro",
                "--json",
            ],
            vec!["inspect", p, "--json"],
        ] {
            let o = airseal(&dir, &args);
            let c = code(&o);
            assert!(c != 101 && c >= 0, "{p}: exit {c}: {}", stderr(&o));
            assert!(
                serde_json::from_slice::<Value>(&o.stdout).is_ok() || c != 0,
                "{p}"
            );
        }
    }
}

#[test]
fn demo_runs() {
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .arg("demo")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Demo complete"), "{out}");
    // The offline activation round trip ran, with the refusal and the moved seat.
    for step in [
        "(as expected: no seat left (exit 1))",
        "(as expected: a replayed proof is refused (exit 1))",
        "(as expected: valid on machine B)",
        // …and a third machine activated through the vendor service over HTTP.
        "(as expected: activated over HTTP)",
        "-----BEGIN AIRSEAL ACTIVATION RESPONSE-----",
        "(as expected: valid on machine C)",
    ] {
        assert!(out.contains(step), "{step} missing from:\n{out}");
    }
}

#[test]
fn help_documents_exit_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("14  bad_signature: ") && out.contains("13  unknown_key_id: "),
        "{out}"
    );
}

#[test]
fn release_gating_follows_the_maintenance_period() {
    let (_tmp, dir) = setup();
    let o = airseal(
        &dir,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "photo-pro",
            "--maintenance-until",
            "2030-06-30",
            "--out",
            "m.lic",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Released before the end of maintenance (2030-07-01T00:00Z exclusive): covered.
    let (c, _) = verify_json(&dir, "m.lic", &["--release-date", "2030-06-30"]);
    assert_eq!(c, 0);
    let (c, j) = verify_json(&dir, "m.lic", &["--release-date", "2030-07-01"]);
    assert_eq!(
        (c, j["error"].as_str()),
        (21, Some("maintenance_ended")),
        "{j}"
    );
}
