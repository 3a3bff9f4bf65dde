//! Issue 13, finding 19 through the binary: `keys recover` removes what a killed
//! `keys generate` left, and `activate` reads and checks a request before it spends a key
//! derivation on the signing key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{MACHINE_A, airseal, exits, init_vendor, ok, stderr};

const PRODUCT: &str = "\n[products.photo-pro]\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n\
    activation_template = \"pro\"\n[products.photo-pro.templates.pro]\nkind = \"perpetual\"\n";

/// The temporary files of `keys generate` writing `name` in `dir`.
fn temporaries(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!(".{name}.tmp-");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn keys_recover_removes_what_a_killed_generate_left() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    std::fs::create_dir(d.join("out")).unwrap();
    ok(&airseal(d, &["ledger", "keys"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args([
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "3000000",
            "--quiet",
            "--out",
            "out/big.csv",
        ])
        .env("AIRSEAL_PASSPHRASE", common::PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .spawn()
        .unwrap();
    // Killed (SIGKILL) once its temporary file holds a few megabytes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let size: u64 = temporaries(&d.join("out"), "big.csv")
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        if size > 2_000_000 {
            break;
        }
        assert!(Instant::now() < deadline, "no temporary file appeared");
        assert!(child.try_wait().unwrap().is_none(), "finished too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = temporaries(&d.join("out"), "big.csv");
    assert_eq!(left.len(), 1);
    let bytes = std::fs::metadata(&left[0]).unwrap().len();

    // Run from another folder: the ledger knows where the output was going.
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    let out = ok(&airseal(
        &d.join("elsewhere"),
        &["keys", "recover", "--vendor", "..", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["leftovers_removed"], 1, "{out}");
    assert_eq!(report["leftover_bytes"], bytes, "{out}");
    assert!(temporaries(&d.join("out"), "big.csv").is_empty());
    assert!(!d.join("out").join("big.csv").exists());
    // Said in words too, and only once.
    let out = ok(&airseal(d, &["keys", "recover"]));
    assert!(
        out.contains("0 leftover temporary files removed (0 bytes)"),
        "{out}"
    );
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "batch.leftovers", "--json"],
    ));
    let rows: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(rows[0]["detail"]["bytes"], bytes);
}

/// `activate` refuses a garbage file, or a request for a key the ledger does not hold,
/// before the passphrase is even looked for: a wrong passphrase (or none at all) is not
/// what it reports.
#[test]
fn activate_checks_the_request_before_unlocking_the_signing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    std::fs::write(d.join("garbage.txt"), vec![b'x'; 5000]).unwrap();
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        "NQBQ6-WG6N5-JNNZK-D29XK",
        "--out",
        "unknown.req",
    ];
    args.extend(MACHINE_A);
    ok(&airseal(d, &args));

    let activate = |file: &str, passphrase: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_airseal"));
        c.current_dir(d)
            .args(["activate", file, "--out", "resp.txt"])
            .env_remove("AIRSEAL_VENDOR")
            .env_remove("AIRSEAL_PASSPHRASE");
        if let Some(p) = passphrase {
            c.env("AIRSEAL_PASSPHRASE", p);
        }
        c.output().unwrap()
    };
    for passphrase in [Some("certainly the wrong one"), None] {
        let o = activate("garbage.txt", passphrase);
        let err = stderr(&o);
        exits(&o, 10);
        assert!(err.contains("garbage.txt"), "{err}");
        assert!(!err.contains("passphrase"), "{err}");

        let o = activate("unknown.req", passphrase);
        let err = stderr(&o);
        exits(&o, 1);
        assert!(
            err.contains("not in the ledger") || err.contains("unknown"),
            "{err}"
        );
        assert!(!err.contains("passphrase"), "{err}");
    }
    assert!(!d.join("resp.txt").exists());
}
