//! Issuing keys through the binary, the defects a hostile walkthrough found (`SPEC.md`
//! §18.6, §18.10): no command signs with a revoked issuing key or a "root" that is not the
//! folder's; an issuing key never gets the root's passphrase; a ledger restore forgets no
//! issuing key and un-revokes none; the generated airseal.toml's `issuing_key` line works
//! when uncommented; small refusals name what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{ISSUING_PASSPHRASE, PASSPHRASE, airseal, fails, init_vendor, ok, ok_json};

const PRODUCTS: &str = "\n[products.photo]\n[products.video]\n";

/// `issuing-key create` into `dir`; its `--json` answer.
fn create(d: &Path, dir: &str, can: &str) -> Value {
    ok_json(&airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            dir,
            "--days",
            "30",
            "--can",
            can,
            "--json",
        ],
    ))
}

fn vendor() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    init_vendor(t.path(), PRODUCTS);
    t
}

/// `airseal ARGS` in `dir` with the root passphrase only, and `env` set.
fn airseal_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_airseal"));
    c.current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
        .env_remove("AIRSEAL_ISSUING_PASSPHRASE")
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn no_command_signs_with_a_revoked_issuing_key() {
    let t = vendor();
    let d = t.path();
    let kid = create(d, "k1", "licenses,activations,signed-keys")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&airseal(d, &["revoke", "--issuing-key", &kid]));
    let issue = airseal(
        d,
        &[
            "issue",
            "--issuing-key",
            "k1",
            "--product",
            "photo",
            "--out",
            "a.lic",
        ],
    );
    let e = fails(&issue, 34);
    assert!(e.contains(&kid) && e.contains("revoked"), "{e}");
    assert!(!d.join("a.lic").exists());
    let keys = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--kind",
            "signed",
            "--issuing-key",
            "k1",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    );
    assert!(fails(&keys, 34).contains(&kid));
    // The default issuing key of airseal.toml is refused the same way.
    let toml = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    std::fs::write(
        d.join("airseal.toml"),
        toml.replace(
            "# issuing_key = \"issuing/2027-q1\"",
            "issuing_key = \"k1\"",
        ),
    )
    .unwrap();
    let e = fails(
        &airseal(d, &["issue", "--product", "photo", "--out", "b.lic"]),
        34,
    );
    assert!(e.contains(&kid), "{e}");
    // The root still signs.
    ok(&airseal(
        d,
        &["issue", "--root", "--product", "photo", "--out", "c.lic"],
    ));
}

#[test]
fn only_the_vendor_folders_root_certifies_or_signs_as_root() {
    let t = vendor();
    let d = t.path();
    let k1 = create(d, "k1", "licenses")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let root = ok_json(&airseal(d, &["issuing-key", "list", "--json"]))[0]["root_kid"]
        .as_str()
        .unwrap()
        .to_string();
    let o = airseal_env(
        d,
        &[
            "issuing-key",
            "create",
            "--root-key",
            "k1/issuing.key",
            "--out",
            "k8",
            "--days",
            "5",
        ],
        &[("AIRSEAL_ISSUING_PASSPHRASE", "another passphrase 123")],
    );
    let e = fails(&o, 1);
    assert!(e.contains(&k1) && e.contains(&root), "{e}");
    assert!(!d.join("k8").exists());
    let o = airseal(
        d,
        &[
            "issue",
            "--root",
            "--key",
            "k1/issuing.key",
            "--product",
            "video",
            "--out",
            "x.lic",
        ],
    );
    let e = fails(&o, 1);
    assert!(e.contains(&k1) && e.contains(&root), "{e}");
    assert!(!d.join("x.lic").exists());
    assert_eq!(
        ok_json(&airseal(d, &["issuing-key", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn an_issuing_key_never_gets_the_roots_passphrase() {
    let t = vendor();
    let d = t.path();
    let args = ["issuing-key", "create", "--out", "k5", "--days", "10"];
    // Only the root's variable set: no silent reuse, a refusal naming the sources.
    let e = fails(&airseal_env(d, &args, &[]), 1);
    assert!(e.contains("AIRSEAL_ISSUING_PASSPHRASE"), "{e}");
    assert!(!d.join("k5").exists());
    // The same passphrase given on purpose is refused unless said so.
    let e = fails(
        &airseal_env(d, &args, &[("AIRSEAL_ISSUING_PASSPHRASE", PASSPHRASE)]),
        1,
    );
    assert!(e.contains("--same-passphrase"), "{e}");
    assert!(!d.join("k5").exists());
    // Its own passphrase works, and unlocks it; the root's does not.
    ok(&airseal_env(
        d,
        &args,
        &[("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)],
    ));
    let key = std::fs::read(d.join("k5/issuing.key")).unwrap();
    assert!(
        airseal_vendor::keyfile::decrypt_signing_key(&key, ISSUING_PASSPHRASE.as_bytes()).is_ok()
    );
    assert!(airseal_vendor::keyfile::decrypt_signing_key(&key, PASSPHRASE.as_bytes()).is_err());
    // A wrong passphrase names the issuing key's file.
    let e = fails(
        &airseal_env(
            d,
            &[
                "issue",
                "--issuing-key",
                "k5",
                "--product",
                "photo",
                "--out",
                "a.lic",
            ],
            &[("AIRSEAL_ISSUING_PASSPHRASE", "not the passphrase")],
        ),
        1,
    );
    assert!(e.contains("issuing.key"), "{e}");
    // With --same-passphrase it is accepted.
    ok(&airseal_env(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "k6",
            "--days",
            "10",
            "--same-passphrase",
        ],
        &[("AIRSEAL_ISSUING_PASSPHRASE", PASSPHRASE)],
    ));
}

#[test]
fn uncommenting_issuing_key_in_the_generated_config_works_after_products_add() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(&airseal(d, &["init", "--vendor-id", "acme"]));
    ok(&airseal(d, &["products", "add", "photo"]));
    ok(&airseal(d, &["products", "add", "video"]));
    create(d, "issuing/2027-q1", "licenses");
    let toml = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    assert!(toml.contains("# issuing_key = "), "{toml}");
    std::fs::write(
        d.join("airseal.toml"),
        toml.replace("# issuing_key = ", "issuing_key = "),
    )
    .unwrap();
    ok(&airseal(d, &["products", "list"]));
    ok(&airseal(
        d,
        &["issue", "--product", "photo", "--out", "a.lic"],
    ));
    let v = ok_json(&airseal(d, &["inspect", "a.lic", "--json"]));
    assert!(v.to_string().contains("issuing"), "{v}");
}

#[test]
fn small_refusals_name_what_is_wrong() {
    let t = vendor();
    let d = t.path();
    // A license is not a certificate: wrong type (12).
    ok(&airseal(
        d,
        &["issue", "--product", "photo", "--out", "l1.lic"],
    ));
    fails(&airseal(d, &["issuing-key", "show", "l1.lic"]), 12);
    // Days beyond the one rule: refused, no raw huge number printed as a window.
    let o = airseal(
        d,
        &["issuing-key", "create", "--out", "k9", "--days", "99999999"],
    );
    let e = fails(&o, 1);
    assert!(e.contains("too long") && e.contains("--days"), "{e}");
    assert!(!d.join("k9").exists());
    // Products out of order and duplicated: normalized.
    let v = ok_json(&airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "k10",
            "--days",
            "3",
            "--products",
            "video,photo,video",
            "--json",
        ],
    ));
    assert_eq!(v["products"], serde_json::json!(["photo", "video"]), "{v}");
}

#[test]
fn a_ledger_restore_forgets_no_issuing_key_and_unrevokes_none() {
    let t = vendor();
    let d = t.path();
    let k1 = create(d, "k1", "licenses,revocations");
    let k2 = create(d, "k2", "licenses,revocations");
    let k2_kid = k2["kid"].as_str().unwrap().to_string();
    ok(&airseal(d, &["ledger", "backup", "--out", "bk1"]));
    ok(&airseal(d, &["revoke", "--issuing-key", &k2_kid]));
    let first = ok_json(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--root",
            "--out",
            "l1.txt",
            "--json",
        ],
    ));
    assert_eq!(first["issuing_keys"][0], k2_kid.as_str(), "{first}");
    let k3 = create(d, "k3", "licenses,revocations");
    let k3_kid = k3["kid"].as_str().unwrap().to_string();
    ok(&airseal(d, &["ledger", "restore", "bk1"]));

    // k3 is back (the folder kept its certificate), and can be revoked.
    let listed = ok_json(&airseal(d, &["issuing-key", "list", "--json"]));
    let kids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&k3_kid.as_str()), "{listed}");
    // k2 is still revoked, and the next list names it.
    let k2_row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kid"] == k2_kid.as_str())
        .unwrap();
    assert_eq!(k2_row["status"], "revoked", "{listed}");
    ok(&airseal(d, &["revoke", "--issuing-key", &k3_kid]));
    let next = ok_json(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--root",
            "--out",
            "l2.txt",
            "--json",
        ],
    ));
    assert!(
        next["seq"].as_u64().unwrap() > first["seq"].as_u64().unwrap(),
        "{next}"
    );
    let named: Vec<&str> = next["issuing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        named.contains(&k2_kid.as_str()) && named.contains(&k3_kid.as_str()),
        "{next}"
    );

    // A new certificate reuses no serial and no list range.
    let k4 = create(d, "k4", "licenses,revocations");
    for old in [&k1, &k2, &k3] {
        assert!(k4["serial"].as_u64() > old["serial"].as_u64(), "{k4} {old}");
        assert!(
            k4["list_seq"][0].as_u64() >= old["list_seq"][1].as_u64(),
            "{k4} {old}"
        );
    }

    // `import` puts a certificate back (idempotent here), and refuses another root's.
    let again = ok_json(&airseal(d, &["issuing-key", "import", "k3", "--json"]));
    assert_eq!(again["imported"], false, "{again}");
    let other = tempfile::tempdir().unwrap();
    init_vendor(other.path(), PRODUCTS);
    create(other.path(), "foreign", "licenses");
    let foreign = other.path().join("foreign");
    let e = fails(
        &airseal(d, &["issuing-key", "import", foreign.to_str().unwrap()]),
        1,
    );
    assert!(e.contains("root"), "{e}");
}
