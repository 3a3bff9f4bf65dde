//! Issuing keys through the binary (`SPEC.md` §18, README "Rotating and revoking issuing
//! keys"): the root certifies K1; licenses and activation responses K1 signs verify with
//! only the root's public key; K1 leaks, is revoked in a root-signed list, and then
//! everything it signs is refused, a backdated issue time included; the honest licenses
//! come back through `renew` under K2; lists the thief signs with K1 cannot switch the
//! revocation off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use airseal_core::revocation::RevocationList;
use airseal_core::{LicenseClaims, ObjectType};
use serde_json::Value;

mod common;
use common::{ISSUING_PASSPHRASE, airseal, exits, fails, init_vendor, ok, ok_json, stderr};

const PRODUCTS: &str = "\n[products.photo]\nactivation_template = \"pro\"\n\
    [products.photo.templates.pro]\nkind = \"subscription\"\ndays = 30\nmax_activations = 2\n\
    [products.other]\n";

/// `issuing-key create` into `dir`; its key id.
fn create(d: &Path, dir: &str, can: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "issuing-key",
        "create",
        "--out",
        dir,
        "--days",
        "90",
        "--can",
        can,
        "--json",
    ];
    args.extend_from_slice(extra);
    ok_json(&airseal(d, &args))["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn verify(d: &Path, license: &str, list: Option<&str>) -> Output {
    let mut args = vec![
        "verify",
        license,
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo",
        "--json",
    ];
    if let Some(l) = list {
        args.extend_from_slice(&["--revocations", l]);
    }
    airseal(d, &args)
}

fn verify_machine(d: &Path, list: Option<&str>) -> Output {
    let mut args = vec![
        "verify",
        "--machine",
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo",
        "--data-dir",
        "m1",
        "--no-system-components",
        "--component",
        "custom:id=one",
        "--json",
    ];
    if let Some(l) = list {
        args.extend_from_slice(&["--revocations", l]);
    }
    airseal(d, &args)
}

fn error_class(o: &Output) -> String {
    let j: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    j["error"].as_str().unwrap_or_default().to_string()
}

/// A product key of `photo`, generated into the ledger.
fn product_key(d: &Path) -> String {
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    csv.lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string()
}

#[test]
fn rotation_after_a_leak_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);

    // The root certifies K1 (licenses, activations, lists) and the certificate is recorded.
    let k1 = create(d, "k1", "licenses,activations,revocations", &[]);
    let listed = ok_json(&airseal(d, &["issuing-key", "list", "--json"]));
    assert_eq!(listed[0]["kid"], k1.as_str(), "{listed}");
    assert_eq!(listed[0]["serial"], 1, "{listed}");
    assert_eq!(listed[0]["status"], "active", "{listed}");
    let k1_range = listed[0]["list_seq"].clone();
    let k1_hi = k1_range[1].as_u64().unwrap();
    assert_eq!(k1_hi - k1_range[0].as_u64().unwrap(), 1 << 40);
    let shown = ok_json(&airseal(d, &["issuing-key", "show", "k1", "--json"]));
    assert_eq!(shown["issuing_kid"], k1.as_str(), "{shown}");

    // A license K1 signs verifies with nothing but the root's public key.
    ok(&airseal(
        d,
        &[
            "issue",
            "--issuing-key",
            "k1",
            "--product",
            "photo",
            "--days",
            "30",
            "--out",
            "honest.lic",
        ],
    ));
    let v = ok_json(&verify(d, "honest.lic", None));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["key_id"], k1.as_str(), "{v}");
    let inspected = ok_json(&airseal(d, &["inspect", "honest.lic", "--json"]));
    assert_eq!(
        inspected["chain"]["issuing_kid"],
        k1.as_str(),
        "{inspected}"
    );
    assert_eq!(inspected["chain"]["serial"], 1, "{inspected}");
    // The ledger records which key signed it.
    let licenses = ok_json(&airseal(d, &["ledger", "licenses", "--json"]));
    let audit = ok_json(&airseal(d, &["ledger", "audit", "--json"]));
    assert!(audit.to_string().contains(&k1), "{audit}{licenses}");

    // An activation response K1 signs installs on a machine that trusts only the root.
    let key = product_key(d);
    ok(&airseal(
        d,
        &[
            "request",
            "--product",
            "photo",
            "--key",
            &key,
            "--data-dir",
            "m1",
            "--no-system-components",
            "--component",
            "custom:id=one",
            "--out",
            "m1.req",
        ],
    ));
    ok(&airseal(
        d,
        &[
            "activate",
            "m1.req",
            "--issuing-key",
            "k1",
            "--out",
            "m1.resp",
        ],
    ));
    ok(&airseal(
        d,
        &[
            "install",
            "m1.resp",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "m1",
        ],
    ));
    assert_eq!(ok_json(&verify_machine(d, None))["valid"], true);

    // K1 leaks. The thief signs a license with it, its issue time set back to the very
    // start of K1's certificate, long before anyone noticed the leak.
    let thief =
        airseal_vendor::issuing::unlock(&d.join("k1"), ISSUING_PASSPHRASE.as_bytes()).unwrap();
    let start = thief.chain().unwrap().certificate.not_before;
    let mut claims = LicenseClaims::new("acme", "STOLEN", "photo", start, vec![7; 8]);
    claims.issued_at = start;
    let stolen = thief.issue(claims).unwrap();
    std::fs::write(d.join("stolen.lic"), &stolen).unwrap();
    assert_eq!(ok_json(&verify(d, "stolen.lic", None))["valid"], true);

    // The vendor revokes K1 and certifies K2.
    let o = ok(&airseal(
        d,
        &["revoke", "--issuing-key", &k1, "--reason", "server breach"],
    ));
    assert!(o.contains("--root"), "{o}");
    let k2 = create(d, "k2", "licenses,activations,revocations", &[]);
    let listed = ok_json(&airseal(d, &["issuing-key", "list", "--json"]));
    assert_eq!(listed[0]["status"], "revoked", "{listed}");
    // K2's list range starts above everything K1 could ever sign.
    assert!(
        listed[1]["list_seq"][0].as_u64().unwrap() >= k1_hi,
        "{listed}"
    );

    // The list that first names K1 revoked: neither K1 nor K2 may sign it; the root does.
    let e = fails(
        &airseal(
            d,
            &[
                "revocations",
                "export",
                "--issuing-key",
                "k1",
                "--out",
                "l.txt",
            ],
        ),
        34,
    );
    assert!(e.contains("is revoked"), "{e}");
    let e = fails(
        &airseal(
            d,
            &[
                "revocations",
                "export",
                "--issuing-key",
                "k2",
                "--out",
                "l.txt",
            ],
        ),
        1,
    );
    assert!(e.contains("must be signed by the root key"), "{e}");
    assert!(!d.join("l.txt").exists());
    let exported = ok_json(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--root",
            "--out",
            "l.txt",
            "--json",
        ],
    ));
    let root_seq = exported["seq"].as_u64().unwrap();
    assert!(root_seq >= k1_hi, "{exported}");
    assert_eq!(exported["issuing_keys"][0], k1.as_str(), "{exported}");

    // With the new list, everything K1 signed is refused: the thief's backdated license,
    // the honest one (iat is the signer's word, so no date can tell them apart), and the
    // honest machine's activation response.
    for lic in ["stolen.lic", "honest.lic"] {
        let o = verify(d, lic, Some("l.txt"));
        assert_eq!(o.status.code(), Some(34), "{lic}: {}", stderr(&o));
        assert_eq!(error_class(&o), "issuing_key_revoked");
    }
    assert_eq!(verify_machine(d, Some("l.txt")).status.code(), Some(34));

    // Honest customers get their licenses back under K2 with `renew` (no request needed).
    let renewed = ok_json(&airseal(
        d,
        &[
            "renew",
            "--key",
            &key,
            "--issuing-key",
            "k2",
            "--out-dir",
            "renewals",
            "--json",
        ],
    ));
    let file = renewed["renewed"][0]["file"]
        .as_str()
        .or_else(|| renewed["renewed"][0]["out"].as_str())
        .unwrap()
        .to_string();
    ok(&airseal(
        d,
        &[
            "install",
            &file,
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "m1",
        ],
    ));
    let v = ok_json(&verify_machine(d, Some("l.txt")));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["key_id"], k2.as_str(), "{v}");

    // Lists the thief signs with K1: above K1's range they are refused outright; inside it
    // they are older than the root's list, which every app that loaded it refuses as stale
    // (its clock guard keeps the newest number).
    let bad = |seq: u64| {
        let list = RevocationList {
            seq,
            issued_at: start,
            ..RevocationList::default()
        };
        thief.sign(ObjectType::RevocationList, &list.encode())
    };
    std::fs::write(d.join("thief-high.lst"), bad(u64::MAX)).unwrap();
    let o = verify(d, "honest.lic", Some("thief-high.lst"));
    assert_eq!(o.status.code(), Some(35), "{}", stderr(&o));
    std::fs::write(d.join("thief-top.lst"), bad(k1_hi - 1)).unwrap();
    assert!(k1_hi - 1 < root_seq);

    // The root's list is numbered above every range handed out before it, K2's too: K2
    // (certified before it) can no longer sign a list apps accept, and the vendor says so;
    // a list key certified after it (K3) signs the later lists.
    let e = fails(
        &airseal(
            d,
            &[
                "revocations",
                "export",
                "--issuing-key",
                "k2",
                "--out",
                "l2.txt",
            ],
        ),
        1,
    );
    assert!(e.contains("certify a new list-signing"), "{e}");
    let k3 = create(d, "k3", "licenses,revocations", &[]);
    let later = ok_json(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--issuing-key",
            "k3",
            "--out",
            "l2.txt",
            "--json",
        ],
    ));
    assert!(later["seq"].as_u64().unwrap() > root_seq, "{later}");
    assert_eq!(later["signed_by"], k3.as_str(), "{later}");
    let o = verify(d, "stolen.lic", Some("l2.txt"));
    assert_eq!(o.status.code(), Some(34), "{}", stderr(&o));
}

#[test]
fn an_issuing_key_signs_only_what_its_certificate_allows() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    create(d, "photo-only", "licenses", &["--products", "photo"]);
    let issue = |product: &str, out: &str| {
        airseal(
            d,
            &[
                "issue",
                "--issuing-key",
                "photo-only",
                "--product",
                product,
                "--out",
                out,
            ],
        )
    };
    ok(&issue("photo", "p.lic"));
    let e = fails(&issue("other", "o.lic"), 1);
    assert!(e.contains("does not allow product \"other\""), "{e}");
    assert!(!d.join("o.lic").exists());
    // Lists are not in its scope.
    let e = fails(
        &airseal(
            d,
            &[
                "revocations",
                "export",
                "--issuing-key",
                "photo-only",
                "--out",
                "l.txt",
            ],
        ),
        1,
    );
    assert!(
        e.contains("does not allow it to sign revocation list"),
        "{e}"
    );
    // Nor are signed product keys.
    let e = fails(
        &airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo",
                "--kind",
                "signed",
                "--count",
                "1",
                "--issuing-key",
                "photo-only",
                "--out",
                "s.txt",
            ],
        ),
        1,
    );
    assert!(e.contains("signed product key"), "{e}");
    // Nor are activation responses: refused before the seat is recorded.
    let key = product_key(d);
    ok(&airseal(
        d,
        &[
            "request",
            "--product",
            "photo",
            "--key",
            &key,
            "--data-dir",
            "m1",
            "--no-system-components",
            "--component",
            "custom:id=one",
            "--out",
            "m1.req",
        ],
    ));
    let e = fails(
        &airseal(
            d,
            &[
                "activate",
                "m1.req",
                "--issuing-key",
                "photo-only",
                "--out",
                "m1.resp",
            ],
        ),
        1,
    );
    assert!(
        e.contains("activation response") && e.contains("--root"),
        "{e}"
    );
    let seats = ok_json(&airseal(d, &["ledger", "activations", "--json"]));
    assert_eq!(seats, serde_json::json!([]), "{seats}");
    // `show --public-key` checks the certificate as an app does.
    let shown = ok_json(&airseal(
        d,
        &[
            "issuing-key",
            "show",
            "photo-only",
            "--public-key",
            "keys/signing.pub",
            "--json",
        ],
    ));
    assert_eq!(shown["verified"], true, "{shown}");
    ok(&airseal(d, &["keygen", "--out", "other-root"]));
    exits(
        &airseal(
            d,
            &[
                "issuing-key",
                "show",
                "photo-only/issuing.cert",
                "--public-key",
                "other-root/signing.pub",
            ],
        ),
        13,
    );
    // An unknown product or word is refused before anything is signed or written.
    let o = airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "x",
            "--days",
            "1",
            "--products",
            "nope",
        ],
    );
    assert!(fails(&o, 1).contains("no product \"nope\""));
    let o = airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "x",
            "--days",
            "1",
            "--can",
            "everything",
        ],
    );
    exits(&o, 2);
    assert!(!d.join("x").join("issuing.key").exists());
    // Never overwritten without --force.
    let o = airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "photo-only",
            "--days",
            "1",
        ],
    );
    assert!(fails(&o, 1).contains("--force"));
}

#[test]
fn the_vendor_folder_names_a_default_issuing_key_and_undo_works() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    let k = create(d, "issuing/k", "licenses,activations", &[]);
    let config = d.join("airseal.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen(
            "vendor = \"acme\"",
            "vendor = \"acme\"\nissuing_key = \"issuing/k\"",
            1,
        ),
    )
    .unwrap();
    let issued = ok_json(&airseal(
        d,
        &["issue", "--product", "photo", "--out", "a.lic", "--json"],
    ));
    assert_eq!(issued["key_id"], k.as_str(), "{issued}");
    // --root signs with the root key instead.
    let root = ok_json(&airseal(
        d,
        &[
            "issue",
            "--root",
            "--product",
            "photo",
            "--out",
            "b.lic",
            "--json",
        ],
    ));
    assert_ne!(root["key_id"], k.as_str(), "{root}");
    // Revoke, then undo: the list goes back to naming nothing.
    ok(&airseal(d, &["revoke", "--issuing-key", &k]));
    ok(&airseal(d, &["revoke", "--issuing-key", &k, "--undo"]));
    let listed = ok_json(&airseal(d, &["issuing-key", "list", "--json"]));
    assert_eq!(listed[0]["status"], "active", "{listed}");
    let e = fails(
        &airseal(d, &["revoke", "--issuing-key", "0011223344556677"]),
        1,
    );
    assert!(e.contains("issuing-key list"), "{e}");
}

#[test]
fn signed_and_data_keys_from_an_issuing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    let k = create(d, "sk", "signed-keys", &[]);
    let generate = |kind: &str, out: &str| {
        airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo",
                "--kind",
                kind,
                "--count",
                "1",
                "--issuing-key",
                "sk",
                "--out",
                out,
            ],
        )
    };
    ok(&generate("signed", "s.txt"));
    let key = std::fs::read_to_string(d.join("s.txt")).unwrap();
    let key = key.lines().next().unwrap().to_string();
    // An app that adds the certificate verifies it with the root's public key.
    let mut trust = airseal_verify::TrustStore::new();
    trust
        .add_public_key_file(&std::fs::read(d.join("keys/signing.pub")).unwrap())
        .unwrap();
    let cert = std::fs::read(d.join("sk/issuing.cert")).unwrap();
    trust.add_certificate(&cert).unwrap();
    let now = chrono::Utc::now().timestamp();
    let verified = trust.verify_signed_key(&key, "photo", now).unwrap();
    assert_eq!(verified.key_id().to_string(), k);
    // `keys inspect` trusts the ledger's unrevoked certificates.
    let info = ok_json(&airseal(d, &["keys", "inspect", &key, "--json"]));
    assert_eq!(info["status"], "valid", "{info}");
    // Data keys made with an issuing key carry the ROOT's MAC: the same as the root makes.
    ok(&generate("data", "d.jsonl"));
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--kind",
            "data",
            "--count",
            "1",
            "--root",
            "--out",
            "r.jsonl",
        ],
    ));
    let mac_id = |f: &str| {
        let line = std::fs::read_to_string(d.join(f)).unwrap();
        let key: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        let info = ok_json(&airseal(
            d,
            &["keys", "inspect", key["key"].as_str().unwrap(), "--json"],
        ));
        assert_eq!(info["status"], "valid", "{info}");
        info.to_string()
    };
    mac_id("d.jsonl");
    mac_id("r.jsonl");
}

/// Exit codes 31–33 and 36 (README "Exit codes"), met by `verify` on chained licenses a
/// careless or hostile signer made with the library (the vendor's own commands refuse to
/// make them: `an_issuing_key_signs_only_what_its_certificate_allows`). 34 and 35 are met
/// in `rotation_after_a_leak_end_to_end`.
#[test]
fn verify_exit_codes_of_the_chain() {
    use airseal_core::cose;
    use ed25519_dalek::Signer as _;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    create(d, "k", "licenses", &["--products", "photo"]);
    let k = airseal_vendor::issuing::unlock(&d.join("k"), ISSUING_PASSPHRASE.as_bytes()).unwrap();
    let cert = k.chain().unwrap().certificate.clone();
    let sign = |product: &str, iat: i64, typ: ObjectType| {
        let mut c = LicenseClaims::new("acme", "L", product, iat, vec![3; 8]);
        c.normalize();
        k.sign(typ, &c.encode())
    };
    let verify_as = |bytes: &[u8], product: &str| {
        std::fs::write(d.join("x.lic"), bytes).unwrap();
        airseal(
            d,
            &[
                "verify",
                "x.lic",
                "--public-key",
                "keys/signing.pub",
                "--product",
                product,
                "--now",
                "2100-01-01",
            ],
        )
        .status
        .code()
    };
    // 31: issued after the certificate's window.
    let late = sign("photo", cert.not_after, ObjectType::License);
    assert_eq!(verify_as(&late, "photo"), Some(31));
    // 32: a product the certificate does not list.
    let other = sign("other", cert.not_before, ObjectType::License);
    assert_eq!(verify_as(&other, "other"), Some(32));
    // 33: an object type the certificate does not allow (a license, from a key that may
    // sign only activation responses).
    create(d, "a", "activations", &[]);
    let a = airseal_vendor::issuing::unlock(&d.join("a"), ISSUING_PASSPHRASE.as_bytes()).unwrap();
    let mut c = LicenseClaims::new("acme", "L", "photo", cert.not_before, vec![4; 8]);
    c.normalize();
    let license = a.sign(ObjectType::License, &c.encode());
    assert_eq!(verify_as(&license, "photo"), Some(33));
    // 36: a certificate naming the root's key id, signed by another key.
    let root_kid = k.chain().unwrap().root;
    let forger = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let protected = cose::encode_protected(&root_kid, ObjectType::Certificate);
    let payload = cert.encode();
    let signature = forger.sign(&cose::sig_structure(&protected, &payload));
    let forged_cert = cose::encode_sign1(&protected, &payload, &signature.to_bytes());
    let thief = airseal_vendor::issue::Issuer::certified(
        ed25519_dalek::SigningKey::from_bytes(&[43; 32]),
        &forged_cert,
        [0; 32],
    );
    // The forged certificate names the issuing key's public key, which the forger lacks:
    // the vendor library refuses to pair them …
    assert!(thief.is_err());
    // … so the forger certifies a key of its own under the root's name.
    let own = ed25519_dalek::SigningKey::from_bytes(&[43; 32]);
    let mut forged = cert.clone();
    forged.key = own.verifying_key().to_bytes();
    let payload = forged.encode();
    let signature = forger.sign(&cose::sig_structure(&protected, &payload));
    let forged_cert = cose::encode_sign1(&protected, &payload, &signature.to_bytes());
    let thief = airseal_vendor::issue::Issuer::certified(own, &forged_cert, [0; 32]).unwrap();
    let mut c = LicenseClaims::new("acme", "L", "photo", cert.not_before, vec![5; 8]);
    c.normalize();
    let forged_license = thief.sign(ObjectType::License, &c.encode());
    assert_eq!(verify_as(&forged_license, "photo"), Some(36));
}
