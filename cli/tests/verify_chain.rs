//! `airseal verify` and `airseal inspect` on the objects of issuing keys (`SPEC.md` §18):
//! an issuing-key certificate verifies under the root alone, with the verifier's codes when
//! it does not; a revocation list can be looked into, its signer's chain included; a
//! chained license names its issuer (`--json`: the `issuer` object of `vectors/README.md`);
//! a `--revocations` list that its signer had no right to sign is refused with its own code,
//! naming the list's file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use airseal_core::ObjectType;
use airseal_core::revocation::RevocationList;
use serde_json::Value;

mod common;
use common::{ISSUING_PASSPHRASE, airseal, exits, init_vendor, ok, ok_json, stderr};

/// A vendor folder with products `photo` and `other`.
fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(tmp.path(), "\n[products.photo]\n[products.other]\n");
    tmp
}

/// The JSON a refused command printed on standard output, after checking its exit code.
#[track_caller]
fn refused_json(o: &Output, code: i32) -> Value {
    serde_json::from_str(&exits(o, code)).unwrap()
}

/// `issuing-key create --out DIR`; the JSON it printed (the ledger's record).
fn create(d: &Path, dir: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "issuing-key",
        "create",
        "--out",
        dir,
        "--days",
        "90",
        "--json",
    ];
    args.extend_from_slice(extra);
    ok_json(&airseal(d, &args))
}

/// `verify FILE --public-key keys/signing.pub EXTRA…`.
fn verify(d: &Path, file: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", file, "--public-key", "keys/signing.pub"];
    args.extend_from_slice(extra);
    airseal(d, &args)
}

/// Issues a 30-day license of `photo` into `out`, signed by the issuing key in `dir`.
fn issue(d: &Path, dir: &str, out: &str) -> String {
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo",
            "--days",
            "30",
            "--issuing-key",
            dir,
            "--out",
            out,
        ],
    ));
    ok_json(&airseal(d, &["inspect", out, "--json"]))["claims"]["sub"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn verify_checks_an_issuing_key_certificate_against_the_root() {
    let tmp = vendor();
    let d = tmp.path();
    let rec = create(
        d,
        "k1",
        &["--products", "photo", "--can", "licenses,revocations"],
    );

    let j = ok_json(&verify(d, "k1/issuing.cert", &["--json"]));
    assert_eq!(j["valid"], true, "{j}");
    assert_eq!(j["typ"], "airseal-cert");
    assert_eq!(j["root"], rec["root_kid"]);
    let cert = &j["certificate"];
    for field in [
        "serial",
        "kid",
        "not_before",
        "not_after",
        "list_seq",
        "may_sign",
    ] {
        assert_eq!(cert[field], rec[field], "{field}: {j} vs {rec}");
    }
    assert_eq!(cert["products"], rec["products"]);
    assert_eq!(cert["key"].as_str().map(str::len), Some(64), "{cert}");

    let human = ok(&verify(d, "k1/issuing.cert", &[]));
    let serial = rec["serial"].to_string();
    assert!(
        human.starts_with(&format!("VALID issuing-key certificate serial {serial}")),
        "{human}"
    );
    for part in [
        rec["kid"].as_str().unwrap(),
        rec["root_kid"].as_str().unwrap(),
        "photo",
    ] {
        assert!(human.contains(part), "{part}: {human}");
    }

    // It allows photo, not other: --product checks it.
    ok(&verify(d, "k1/issuing.cert", &["--product", "photo"]));
    let j = refused_json(
        &verify(d, "k1/issuing.cert", &["--product", "other", "--json"]),
        32,
    );
    assert_eq!(j["error"], "certificate_product_not_allowed");

    // Another root did not sign it: unknown key id.
    ok(&airseal(d, &["keygen", "--out", "other-root"]));
    let o = airseal(
        d,
        &[
            "verify",
            "k1/issuing.cert",
            "--public-key",
            "other-root/signing.pub",
        ],
    );
    exits(&o, 13);
    assert!(stderr(&o).contains("k1/issuing.cert"), "{}", stderr(&o));

    // One bit of the root's signature changed: bad certificate signature.
    let text = std::fs::read(d.join("k1/issuing.cert")).unwrap();
    let mut raw = airseal_core::armor::dearmor(&text).unwrap().into_owned();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    std::fs::write(d.join("forged.cert"), &raw).unwrap();
    let j = refused_json(&verify(d, "forged.cert", &["--json"]), 36);
    assert_eq!(j["error"], "bad_certificate_signature");

    // Cut short: malformed.
    std::fs::write(d.join("short.cert"), &raw[..raw.len() - 10]).unwrap();
    let j = refused_json(&verify(d, "short.cert", &["--json"]), 10);
    assert_eq!(j["error"], "malformed");

    // A license still needs its product.
    issue(d, "k1", "l.lic");
    let o = verify(d, "l.lic", &[]);
    exits(&o, 2);
    assert!(stderr(&o).contains("--product"), "{}", stderr(&o));
}

#[test]
fn verify_json_of_a_chained_license_names_its_issuer() {
    let tmp = vendor();
    let d = tmp.path();
    let rec = create(d, "k1", &["--products", "photo", "--can", "licenses"]);
    issue(d, "k1", "chained.lic");

    let j = ok_json(&verify(d, "chained.lic", &["--product", "photo", "--json"]));
    let issuer = &j["issuer"];
    assert_eq!(issuer["root"], rec["root_kid"], "{j}");
    for field in [
        "kid",
        "serial",
        "not_before",
        "not_after",
        "products",
        "may_sign",
    ] {
        assert_eq!(issuer[field], rec[field], "{field}: {j} vs {rec}");
    }
    assert_eq!(j["key_id"], rec["kid"]);

    let human = ok(&verify(d, "chained.lic", &["--product", "photo"]));
    let line = format!(
        "signed by  issuing key {} (certificate serial {}, certified by root key {})",
        rec["kid"].as_str().unwrap(),
        rec["serial"],
        rec["root_kid"].as_str().unwrap()
    );
    assert!(human.contains(&line), "{human}");

    // A license the root signed directly has no issuer.
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo",
            "--days",
            "30",
            "--root",
            "--out",
            "root.lic",
        ],
    ));
    let j = ok_json(&verify(d, "root.lic", &["--product", "photo", "--json"]));
    assert!(j.get("issuer").is_none(), "{j}");
    assert_eq!(j["key_id"], rec["root_kid"]);
    let human = ok(&verify(d, "root.lic", &["--product", "photo"]));
    assert!(
        human.contains(&format!(
            "signed by  root key {}",
            rec["root_kid"].as_str().unwrap()
        )),
        "{human}"
    );
}

#[test]
fn inspect_shows_a_revocation_list_and_its_signers_chain() {
    let tmp = vendor();
    let d = tmp.path();
    let k1 = create(
        d,
        "k1",
        &["--products", "photo", "--can", "licenses,revocations"],
    );
    let k2 = create(d, "k2", &["--can", "licenses"]);
    let id = issue(d, "k1", "l.lic");

    // A list the issuing key k1 signed: its entries and its chain.
    ok(&airseal(d, &["revoke", "--license", &id]));
    ok(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--issuing-key",
            "k1",
            "--out",
            "rl1.txt",
        ],
    ));
    let j = ok_json(&airseal(d, &["inspect", "rl1.txt", "--json"]));
    assert_eq!(j["verified"], false);
    assert_eq!(j["typ"], "airseal-revocations");
    assert_eq!(j["list"]["licenses"], serde_json::json!([id]), "{j}");
    assert_eq!(j["counts"]["licenses"], 1);
    assert_eq!(j["chain"]["kid"], k1["kid"]);
    assert_eq!(j["chain"]["root"], k1["root_kid"]);
    assert_eq!(j["chain"]["serial"], k1["serial"]);
    let seq = j["list"]["seq"].as_u64().unwrap();
    let human = ok(&airseal(d, &["inspect", "rl1.txt"]));
    assert!(human.starts_with("UNVERIFIED"), "{human}");
    for part in [
        format!("sequence   {seq}"),
        format!("license    {id}"),
        format!(
            "signed by  issuing key {} (certificate serial {}",
            k1["kid"].as_str().unwrap(),
            k1["serial"]
        ),
    ] {
        assert!(human.contains(&part), "{part}: {human}");
    }

    // The root's list revoking k2: the issuing key among the entries, signed by the root.
    ok(&airseal(
        d,
        &["revoke", "--issuing-key", k2["kid"].as_str().unwrap()],
    ));
    ok(&airseal(
        d,
        &["revocations", "export", "--root", "--out", "rl2.txt"],
    ));
    let j = ok_json(&airseal(d, &["inspect", "rl2.txt", "--json"]));
    assert_eq!(
        j["list"]["issuing_keys"],
        serde_json::json!([k2["kid"]]),
        "{j}"
    );
    assert_eq!(j["counts"]["issuing_keys"], 1);
    assert_eq!(j["key_id"], k1["root_kid"]);
    assert!(j.get("chain").is_none(), "{j}");
    let human = ok(&airseal(d, &["inspect", "rl2.txt"]));
    assert!(
        human.contains(&format!("issuing key {}", k2["kid"].as_str().unwrap())),
        "{human}"
    );
    assert!(
        human.contains(&format!(
            "signed by  root key {}",
            k1["root_kid"].as_str().unwrap()
        )),
        "{human}"
    );

    // `verify` checks the same lists.
    let j = ok_json(&verify(d, "rl2.txt", &["--json"]));
    assert_eq!(j["valid"], true);
    assert_eq!(j["list"]["issuing_keys"], serde_json::json!([k2["kid"]]));
    let j = ok_json(&verify(d, "rl1.txt", &["--json"]));
    assert_eq!(j["issuer"]["kid"], k1["kid"]);
}

/// Signs `list` with the issuing key in `dir` (as a thief holding it could).
fn sign_list(d: &Path, dir: &str, list: &RevocationList, out: &str) {
    let issuer =
        airseal_vendor::issuing::unlock(&d.join(dir), ISSUING_PASSPHRASE.as_bytes()).unwrap();
    let bytes = issuer.sign(ObjectType::RevocationList, &list.encode());
    std::fs::write(d.join(out), bytes).unwrap();
}

#[test]
fn a_revocations_list_beyond_its_signers_rights_is_refused_naming_the_list() {
    let tmp = vendor();
    let d = tmp.path();
    let k1 = create(
        d,
        "k1",
        &["--products", "photo", "--can", "licenses,revocations"],
    );
    create(d, "k3", &["--can", "licenses"]);
    issue(d, "k1", "l.lic");
    let lo = k1["list_seq"][0].as_u64().unwrap();
    let hi = k1["list_seq"][1].as_u64().unwrap();
    let not_before = k1["not_before"].as_i64().unwrap();
    let kid1: [u8; 8] = {
        let hex = k1["kid"].as_str().unwrap();
        let mut b = [0; 8];
        for (i, x) in b.iter_mut().enumerate() {
            *x = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        b
    };
    let list = |seq, issued_at| RevocationList {
        seq,
        issued_at,
        licenses: vec!["NOBODY".into()],
        ..RevocationList::default()
    };
    // Beyond its certificate's range; naming its own key; signed by a key that may not sign
    // lists; issued before its certificate's window.
    sign_list(d, "k1", &list(hi, not_before + 1), "range.rl");
    let mut own = list(lo, not_before + 1);
    own.issuing_keys = vec![airseal_core::KeyId(kid1)];
    sign_list(d, "k1", &own, "own.rl");
    sign_list(d, "k3", &list(lo, not_before + 1), "type.rl");
    sign_list(d, "k1", &list(lo, not_before - 86_400), "window.rl");

    for (file, code, class) in [
        ("range.rl", 35, "revocation_seq_out_of_range"),
        ("own.rl", 34, "issuing_key_revoked"),
        ("type.rl", 33, "certificate_type_not_allowed"),
        ("window.rl", 31, "certificate_out_of_validity"),
    ] {
        let args = ["--product", "photo", "--revocations", file];
        let o = verify(d, "l.lic", &args);
        exits(&o, code);
        let err = stderr(&o);
        assert!(
            err.contains(file) && err.contains("revocation list"),
            "{file}: {err}"
        );
        let o = verify(d, "l.lic", &[&args[..], &["--json"]].concat());
        let j = refused_json(&o, code);
        assert_eq!(j["error"], class, "{file}: {j}");
        assert_eq!(j["code"], code);
        assert!(j["file"].as_str().unwrap().ends_with(file), "{j}");
        // The same list verified on its own gives the same answer.
        let j = refused_json(&verify(d, file, &["--json"]), code);
        assert_eq!(j["error"], class, "{file}: {j}");
    }
}

#[test]
fn a_lists_text_is_escaped_before_it_reaches_the_terminal() {
    let tmp = vendor();
    let d = tmp.path();
    let k1 = create(d, "k1", &["--can", "licenses,revocations"]);
    let list = RevocationList {
        seq: k1["list_seq"][0].as_u64().unwrap(),
        issued_at: k1["not_before"].as_i64().unwrap() + 1,
        licenses: vec!["EVIL\u{1b}[2J\u{202e}X".into()],
        min_issued_at: vec![("ph\u{7}oto".into(), 5)],
        ..RevocationList::default()
    };
    sign_list(d, "k1", &list, "evil.rl");
    for args in [
        &["inspect", "evil.rl"][..],
        &["verify", "evil.rl", "--public-key", "keys/signing.pub"][..],
    ] {
        let out = ok(&airseal(d, args));
        assert!(out.contains("EVIL"), "{args:?}: {out}");
        for c in ['\u{1b}', '\u{202e}', '\u{7}'] {
            assert!(
                !out.contains(c),
                "{args:?}: {c:?} reached the terminal: {out:?}"
            );
        }
    }
}
