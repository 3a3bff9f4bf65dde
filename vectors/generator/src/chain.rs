//! Issuing-key certificate and revocation-list vectors (`vectors/chain.json`, files under
//! `vectors/chain/`): `SPEC.md` §18 and §13, checked by
//! `crates/airseal-verify/tests/chain_vectors.rs` and by the Python interop script.
//!
//! Root key A (of `manifest.json`) certifies issuing key `I` for licenses and activation
//! responses, and issuing key `L` for revocation lists in the sequence range
//! [2^40, 2^41). Each case names the reader (`kind`), the app's trust (roots and their
//! windows), and the outcome: one valid object of each sort, and one hostile object per
//! broken rule, with its exact error class (and the context and rule of a malformed one).

use airseal_core::armor::armor;
use airseal_core::cert::{Certificate, MaySign};
use airseal_core::cose::{self, ObjectType};
use airseal_core::json::claims_to_json;
use airseal_core::json::{certificate_to_json, revocation_list_to_json};
use airseal_core::revocation::RevocationList;
use airseal_core::{KeyId, LicenseClaims};
use ed25519_dalek::SigningKey;
use serde_json::{Map, Value, json};

use crate::{
    Case, DAY, IAT, NOW, PRODUCT, TestKey, device_public_key, enc, entries, hex,
    installed_response, keys, map_of, protected_with, sign_raw, typical_node_locked, with_claim,
};

/// The issuing key's certified window: 2025-01-01 to 2026-07-01.
const NOT_BEFORE: i64 = 1_735_689_600;
const NOT_AFTER: i64 = 1_782_864_000;
/// The sequence range of the list-signing key `L`.
const LIST_LO: u64 = 1 << 40;
const LIST_HI: u64 = 1 << 41;
/// The components of the machine the license cases run on (the typical license's).
const MACHINE: [[u8; 8]; 3] = [[1; 8], [2; 8], [3; 8]];

/// The issuing keys: `I` signs licenses and activation responses, `L` revocation lists.
pub fn issuing_keys() -> [TestKey; 2] {
    [TestKey::new("I", 0x1c), TestKey::new("L", 0x2d)]
}

/// The certificate of `I` most cases carry: serial 1, every product, licenses and
/// activation responses.
fn base_cert(key: &TestKey) -> Certificate {
    Certificate {
        serial: 1,
        key: key.public(),
        not_before: NOT_BEFORE,
        not_after: NOT_AFTER,
        products: Vec::new(),
        may_sign: MaySign::LICENSES.with(MaySign::ACTIVATIONS),
        list_seq: None,
    }
}

/// The certificate of `L`: revocation lists only, in [LIST_LO, LIST_HI).
fn list_cert(key: &TestKey) -> Certificate {
    Certificate {
        serial: 2,
        may_sign: MaySign::REVOCATIONS,
        list_seq: Some((LIST_LO, LIST_HI)),
        ..base_cert(key)
    }
}

/// A certificate payload signed by `root` (any payload bytes, for hostile cases).
fn sign_cert_payload(root: &TestKey, payload: &[u8]) -> Vec<u8> {
    let protected = cose::encode_protected(&root.kid(), ObjectType::Certificate);
    sign_raw(&root.key, &protected, payload)
}

fn sign_cert(root: &TestKey, cert: &Certificate) -> Vec<u8> {
    let mut cert = cert.clone();
    cert.normalize();
    sign_cert_payload(root, &cert.encode())
}

/// An object signed by an issuing key, carrying `cert` in its protected header.
fn chained(key: &SigningKey, cert: &[u8], typ: ObjectType, payload: &[u8]) -> Vec<u8> {
    sign_raw(key, &cose::encode_protected_with_cert(typ, cert), payload)
}

/// A root-signed object (the plain header with `kid`).
fn plain(root: &TestKey, typ: ObjectType, payload: &[u8]) -> Vec<u8> {
    sign_raw(
        &root.key,
        &protected_with(-8, &root.kid(), typ.typ()),
        payload,
    )
}

/// How a case is read and checked.
#[derive(Clone)]
struct Check {
    /// `license` (TrustStore::verify), `certificate` (add_certificate), `revocations`
    /// (verify_revocations, then the clock guard's sequence rule) or `request`.
    kind: &'static str,
    now: i64,
    /// The root A's validity window, if it has one.
    window: Option<(Option<i64>, Option<i64>)>,
    machine: Option<Vec<[u8; 8]>>,
    device: Option<[u8; 32]>,
    /// For `license`: a list (a file of this folder) the app verified and applies.
    revocation_list: Option<&'static str>,
    /// For `revocations`: a list the app accepted before (its sequence is the newest seen).
    accepted_before: Option<&'static str>,
}

impl Check {
    fn license() -> Self {
        Check {
            kind: "license",
            now: NOW,
            window: None,
            machine: Some(MACHINE.to_vec()),
            device: None,
            revocation_list: None,
            accepted_before: None,
        }
    }

    fn of(kind: &'static str) -> Self {
        Check {
            kind,
            machine: None,
            ..Check::license()
        }
    }
}

struct Cases {
    root: TestKey,
    cases: Vec<Case>,
}

impl Cases {
    fn push(&mut self, file: &str, description: &str, bytes: Vec<u8>, c: Check, expected: Value) {
        let mut validity = Map::new();
        if let Some((nb, na)) = c.window {
            validity.insert(
                hex(&self.root.public()),
                json!({"not_before": nb, "not_after": na}),
            );
        }
        let entry = json!({
            "file": format!("chain/{file}"),
            "kind": c.kind,
            "description": description,
            "trusted_public_keys": [hex(&self.root.public())],
            "key_validity": validity,
            "product": PRODUCT,
            "now": c.now,
            "machine": c.machine.map(|m| m.iter().map(|x| hex(x)).collect::<Vec<_>>()),
            "device_public_key": c.device.map(|d| hex(&d)),
            "revocation_list": c.revocation_list.map(|f| format!("chain/{f}")),
            "accepted_before": c.accepted_before.map(|f| format!("chain/{f}")),
            "expected": expected,
        });
        self.cases.push(Case {
            file: file.to_string(),
            bytes,
            entry,
        });
    }

    fn error(&mut self, file: &str, description: &str, bytes: Vec<u8>, c: Check, class: &str) {
        self.push(
            file,
            description,
            bytes,
            c,
            json!({"result": "error", "error": class}),
        );
    }

    fn malformed(
        &mut self,
        file: &str,
        description: &str,
        bytes: Vec<u8>,
        c: Check,
        at: [&str; 2],
    ) {
        let [context, rule] = at;
        let expected =
            json!({"result": "error", "error": "malformed", "context": context, "rule": rule});
        self.push(file, description, bytes, c, expected);
    }

    fn valid_license(
        &mut self,
        file: &str,
        description: &str,
        bytes: Vec<u8>,
        claims: &LicenseClaims,
        cert: &Certificate,
        c: Check,
    ) {
        let expected = json!({
            "result": "valid",
            "status": "valid",
            "claims": claims_to_json(claims),
            "active_features": claims.features.active(c.now),
            "issuer": {"root": hex(&self.root.kid().0), "kid": hex(&cert.key_id().0), "serial": cert.serial},
        });
        self.push(file, description, bytes, c, expected);
    }

    fn valid_list(&mut self, file: &str, description: &str, list: &RevocationList, bytes: Vec<u8>) {
        let expected = json!({"result": "valid", "list": revocation_list_to_json(list)});
        self.push(file, description, bytes, Check::of("revocations"), expected);
    }
}

/// Replaces (or adds) key `key` of a certificate payload, or removes it (`None`).
fn cert_field(cert: &Certificate, key: u64, value: Option<Vec<u8>>) -> Vec<u8> {
    let mut c = cert.clone();
    c.normalize();
    let k = enc(|w| {
        w.uint(key);
    });
    match value {
        Some(v) => with_claim(&c.encode(), k, v),
        None => {
            let mut e = entries(&c.encode());
            e.retain(|(ek, _)| *ek != k);
            map_of(&e)
        }
    }
}

fn texts(items: &[&str]) -> Vec<u8> {
    enc(|w| {
        w.array(items.len());
        for i in items {
            w.text(i);
        }
    })
}

fn kids(items: &[&[u8]]) -> Vec<u8> {
    enc(|w| {
        w.array(items.len());
        for i in items {
            w.bytes(i);
        }
    })
}

/// The license most cases carry: the typical node-locked license of `manifest.json`.
fn license_payload(iat: i64) -> (LicenseClaims, Vec<u8>) {
    let mut c = typical_node_locked();
    if iat != c.issued_at {
        c.expires_at = Some(iat + 365 * DAY);
        c.issued_at = iat;
    }
    c.normalize();
    let bytes = c.encode();
    (c, bytes)
}

/// Makes every chain case, in `chain.json` order.
pub fn chain_cases() -> Vec<Case> {
    let [a, _, u] = keys();
    let [i, l] = issuing_keys();
    let mut s = Cases {
        root: a,
        cases: Vec::new(),
    };
    let a = &TestKey::new("A", 0xA1);
    let cert = base_cert(&i);
    let good = sign_cert(a, &cert);
    let (typical, payload) = license_payload(IAT);
    let license = |cert_bytes: &[u8], payload: &[u8]| {
        chained(&i.key, cert_bytes, ObjectType::License, payload)
    };

    // ---- valid objects -------------------------------------------------------------------
    s.valid_license(
        "valid-chained-license.cose",
        "the typical node-locked license signed by issuing key I, carrying its all-products certificate (size reported in SPEC.md §18.5)",
        license(&good, &payload),
        &typical,
        &cert,
        Check::license(),
    );
    let mut some = base_cert(&i);
    some.serial = 3;
    some.products = vec!["photo-pro".into(), "cad".into()];
    some.normalize();
    s.valid_license(
        "valid-chained-license-products.cose",
        "the same license; the certificate lists two products (in deterministic order: cad, photo-pro)",
        license(&sign_cert(a, &some), &payload),
        &typical,
        &some,
        Check::license(),
    );
    let response = installed_response();
    s.valid_license(
        "valid-chained-activation-response.cose",
        "an activation response signed by issuing key I, bound to device key D",
        chained(
            &i.key,
            &good,
            ObjectType::ActivationResponse,
            &response.encode(),
        ),
        &response,
        &cert,
        Check {
            device: Some(device_public_key()),
            ..Check::license()
        },
    );
    s.push(
        "valid-certificate.cose",
        "issuing key I's certificate on its own (what airseal issuing-key create writes, raw)",
        good.clone(),
        Check::of("certificate"),
        json!({"result": "valid", "root": hex(&a.kid().0), "certificate": certificate_to_json(&cert)}),
    );
    s.push(
        "valid-certificate-armored.txt",
        "the same certificate armored (AIRSEAL ISSUING KEY CERTIFICATE)",
        armor(ObjectType::Certificate.armor_label(), &good).into_bytes(),
        Check::of("certificate"),
        json!({"result": "valid", "root": hex(&a.kid().0), "certificate": certificate_to_json(&cert)}),
    );
    let lcert = list_cert(&l);
    let lgood = sign_cert(a, &lcert);
    s.push(
        "valid-list-certificate.cose",
        "issuing key L's certificate: revocation lists only, sequence range [2^40, 2^41)",
        lgood.clone(),
        Check::of("certificate"),
        json!({"result": "valid", "root": hex(&a.kid().0), "certificate": certificate_to_json(&lcert)}),
    );
    // Revocation lists.
    let stranger_kid = TestKey::new("X", 0x3e).kid();
    let mut every = RevocationList {
        seq: 10,
        issued_at: NOW,
        licenses: vec!["7ZZZZZZZZZZZZ".into(), "0C8G2X9RTV4MB".into()],
        product_keys: vec!["ABCD1234EFGH".into()],
        min_issued_at: vec![("video-pro".into(), IAT), ("cad".into(), IAT)],
        issuing_keys: vec![i.kid(), stranger_kid],
    };
    every.normalize();
    s.valid_list(
        "revocations-root-every-field.cose",
        "a root-signed list with every field: licenses, product keys, minimum issue times, and issuing keys (I and another)",
        &every,
        plain(a, ObjectType::RevocationList, &every.encode()),
    );
    let mut by_l = RevocationList {
        seq: LIST_LO + 5,
        issued_at: NOW,
        issuing_keys: vec![stranger_kid],
        ..RevocationList::default()
    };
    by_l.normalize();
    s.valid_list(
        "revocations-chained.cose",
        "a list signed by issuing key L, carrying its certificate, with a sequence number in its range",
        &by_l,
        chained(&l.key, &lgood, ObjectType::RevocationList, &by_l.encode()),
    );
    let mut revokes_l = RevocationList {
        seq: LIST_HI,
        issued_at: NOW,
        issuing_keys: vec![l.kid()],
        ..RevocationList::default()
    };
    revokes_l.normalize();
    s.valid_list(
        "revocations-root-revokes-l.cose",
        "the root revokes issuing key L with sequence number 2^41 (the end of L's range): newer than any list L can sign",
        &revokes_l,
        plain(a, ObjectType::RevocationList, &revokes_l.encode()),
    );

    // ---- the chain's rules (SPEC.md §18.3, in order) ---------------------------------------
    s.error(
        "cert-unknown-root.cose",
        "c2: the certificate is signed by key U, which the app does not trust",
        license(&sign_cert(&u, &cert), &payload),
        Check::license(),
        "unknown_key_id",
    );
    let mut tampered = good.clone();
    if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    s.error(
        "cert-bad-signature.cose",
        "c3: one bit of the certificate's signature flipped",
        license(&tampered, &payload),
        Check::license(),
        "bad_certificate_signature",
    );
    s.error(
        "object-bad-signature.cose",
        "the license is signed by key U, not by the key its certificate certifies",
        chained(&u.key, &good, ObjectType::License, &payload),
        Check::license(),
        "bad_signature",
    );
    let with_kid = enc(|w| {
        w.map(4)
            .uint(1)
            .int(-8)
            .uint(4)
            .bytes(&i.kid().0)
            .uint(16)
            .text(ObjectType::License.typ())
            .int(-65537)
            .bytes(&good);
    });
    s.malformed(
        "header-kid-and-certificate.cose",
        "the protected header carries kid (I's) as well as the certificate",
        sign_raw(&i.key, &with_kid, &payload),
        Check::license(),
        ["protected header certificate", "invalid_value"],
    );
    let root_license = plain(a, ObjectType::License, &payload);
    s.malformed(
        "header-certificate-is-a-license.cose",
        "the certificate label holds a (root-signed) license instead of a certificate",
        license(&root_license, &payload),
        Check::license(),
        ["protected header certificate", "invalid_value"],
    );
    let nested = sign_raw(
        &a.key,
        &cose::encode_protected_with_cert(ObjectType::Certificate, &good),
        &cert.encode(),
    );
    s.malformed(
        "certificate-carrying-certificate.cose",
        "the carried certificate itself carries a certificate in its header (one level only)",
        license(&nested, &payload),
        Check::license(),
        ["protected header", "unknown_critical_key"],
    );
    s.malformed(
        "certificate-with-certificate-alone.cose",
        "the same certificate-carrying certificate, read as a certificate: a certificate is not an object that may carry one",
        nested,
        Check::of("certificate"),
        ["protected header certificate", "invalid_value"],
    );
    s.error(
        "certificate-as-license.cose",
        "a certificate presented as a license",
        good.clone(),
        Check::license(),
        "wrong_type",
    );
    let request_payload = enc(|w| {
        w.map(0);
    });
    s.malformed(
        "request-with-certificate.cose",
        "an activation request carrying a certificate (requests are signed by device keys)",
        chained(
            &i.key,
            &good,
            ObjectType::ActivationRequest,
            &request_payload,
        ),
        Check::of("request"),
        ["protected header certificate", "invalid_value"],
    );

    // ---- certificate payload rules (SPEC.md §18.1) -------------------------------------
    let bad_payloads: Vec<(&str, &str, Vec<u8>, [&str; 2])> = vec![
        (
            "cert-serial-zero.cose",
            "serial 0",
            cert_field(
                &cert,
                1,
                Some(enc(|w| {
                    w.uint(0);
                })),
            ),
            ["certificate.serial", "invalid_value"],
        ),
        (
            "cert-missing-serial.cose",
            "no serial (key 1)",
            cert_field(&cert, 1, None),
            ["certificate.serial", "missing_field"],
        ),
        (
            "cert-missing-key.cose",
            "no key (key 2)",
            cert_field(&cert, 2, None),
            ["certificate.key", "missing_field"],
        ),
        (
            "cert-missing-not-before.cose",
            "no not_before (key 3)",
            cert_field(&cert, 3, None),
            ["certificate.not_before", "missing_field"],
        ),
        (
            "cert-missing-not-after.cose",
            "no not_after (key 4)",
            cert_field(&cert, 4, None),
            ["certificate.not_after", "missing_field"],
        ),
        (
            "cert-missing-may-sign.cose",
            "no may_sign (key 6)",
            cert_field(&cert, 6, None),
            ["certificate.may_sign", "missing_field"],
        ),
        (
            "cert-not-after-equals-not-before.cose",
            "not_after equal to not_before: an empty window",
            cert_field(
                &cert,
                4,
                Some(enc(|w| {
                    w.int(NOT_BEFORE);
                })),
            ),
            ["certificate.not_after", "invalid_value"],
        ),
        (
            "cert-not-after-before-not-before.cose",
            "not_after before not_before",
            cert_field(
                &cert,
                4,
                Some(enc(|w| {
                    w.int(NOT_BEFORE - 1);
                })),
            ),
            ["certificate.not_after", "invalid_value"],
        ),
        (
            "cert-may-sign-zero.cose",
            "may_sign 0: the key may sign nothing",
            cert_field(
                &cert,
                6,
                Some(enc(|w| {
                    w.uint(0);
                })),
            ),
            ["certificate.may_sign", "invalid_value"],
        ),
        (
            "cert-may-sign-unknown-bit.cose",
            "may_sign with bit 16, which names nothing",
            cert_field(
                &cert,
                6,
                Some(enc(|w| {
                    w.uint(1 | 16);
                })),
            ),
            ["certificate.may_sign", "invalid_value"],
        ),
        (
            "cert-list-seq-missing.cose",
            "may_sign has the revocation-list bit (4) but list_seq is absent",
            cert_field(&lcert, 7, None),
            ["certificate.list_seq", "invalid_value"],
        ),
        (
            "cert-list-seq-without-bit.cose",
            "list_seq present, but may_sign lacks the revocation-list bit",
            cert_field(
                &cert,
                7,
                Some(enc(|w| {
                    w.array(2).uint(LIST_LO).uint(LIST_HI);
                })),
            ),
            ["certificate.list_seq", "invalid_value"],
        ),
        (
            "cert-list-seq-empty-range.cose",
            "list_seq [lo, hi] with lo = hi",
            cert_field(
                &lcert,
                7,
                Some(enc(|w| {
                    w.array(2).uint(LIST_LO).uint(LIST_LO);
                })),
            ),
            ["certificate.list_seq", "invalid_value"],
        ),
        (
            "cert-list-seq-reversed.cose",
            "list_seq [lo, hi] with lo > hi",
            cert_field(
                &lcert,
                7,
                Some(enc(|w| {
                    w.array(2).uint(LIST_HI).uint(LIST_LO);
                })),
            ),
            ["certificate.list_seq", "invalid_value"],
        ),
        (
            "cert-products-unsorted.cose",
            "products not in deterministic order (photo-pro before cad)",
            cert_field(&cert, 5, Some(texts(&["photo-pro", "cad"]))),
            ["certificate.products", "unsorted_keys"],
        ),
        (
            "cert-products-duplicate.cose",
            "a product listed twice",
            cert_field(&cert, 5, Some(texts(&["photo-pro", "photo-pro"]))),
            ["certificate.products", "duplicate_key"],
        ),
        (
            "cert-products-empty.cose",
            "an empty product list (every product is said by leaving it out)",
            cert_field(&cert, 5, Some(texts(&[]))),
            ["certificate.products", "invalid_value"],
        ),
        (
            "cert-unknown-key.cose",
            "an unknown payload key 8 (every unknown key is critical)",
            cert_field(
                &cert,
                8,
                Some(enc(|w| {
                    w.uint(1);
                })),
            ),
            ["certificate", "unknown_critical_key"],
        ),
        (
            "cert-key-not-a-point.cose",
            "the certified key is not a curve point (y = 2 has no x)",
            cert_field(
                &cert,
                2,
                Some(enc(|w| {
                    w.bytes(&not_a_point());
                })),
            ),
            ["certificate.key", "invalid_value"],
        ),
        (
            "cert-key-small-order.cose",
            "the certified key has small order (the point of order 4: 00…00 80 in the last byte of y = 0)",
            cert_field(
                &cert,
                2,
                Some(enc(|w| {
                    w.bytes(&small_order_point());
                })),
            ),
            ["certificate.key", "invalid_value"],
        ),
    ];
    for (file, what, cert_payload, at) in bad_payloads {
        s.malformed(
            file,
            &format!("the carried certificate (signed by the root): {what}"),
            license(&sign_cert_payload(a, &cert_payload), &payload),
            Check::license(),
            at,
        );
    }

    // ---- what the certificate allows (c4-c7) ---------------------------------------------
    let activations_only = Certificate {
        may_sign: MaySign::ACTIVATIONS,
        ..cert.clone()
    };
    s.error(
        "cert-type-not-allowed.cose",
        "c4: a license signed by a key certified for activation responses only",
        license(&sign_cert(a, &activations_only), &payload),
        Check::license(),
        "certificate_type_not_allowed",
    );
    let cad_only = Certificate {
        products: vec!["cad".into()],
        ..cert.clone()
    };
    s.error(
        "cert-product-not-allowed.cose",
        "c5: a photo-pro license signed by a key certified for product cad only",
        license(&sign_cert(a, &cad_only), &payload),
        Check::license(),
        "certificate_product_not_allowed",
    );
    let (_, before) = license_payload(NOT_BEFORE - 1);
    s.error(
        "cert-issued-before-window.cose",
        "c6: issued one second before the certificate's not_before",
        license(&good, &before),
        Check::license(),
        "certificate_out_of_validity",
    );
    let (_, at_end) = license_payload(NOT_AFTER);
    s.error(
        "cert-issued-at-window-end.cose",
        "c6: issued at the certificate's not_after (the end is exclusive)",
        license(&good, &at_end),
        Check {
            now: NOT_AFTER + DAY,
            ..Check::license()
        },
        "certificate_out_of_validity",
    );
    s.error(
        "cert-root-window.cose",
        "c6: the root's own validity window (not_after = the license's iat) applies to a chained license",
        license(&good, &payload),
        Check {
            window: Some((None, Some(IAT))),
            ..Check::license()
        },
        "key_out_of_validity",
    );
    s.error(
        "cert-issuing-key-revoked.cose",
        "c7: the app's revocation list (revocations-root-every-field.cose) names issuing key I",
        license(&good, &payload),
        Check {
            revocation_list: Some("revocations-root-every-field.cose"),
            ..Check::license()
        },
        "issuing_key_revoked",
    );

    // ---- revocation lists: who may sign them (SPEC.md §13, §18.4) ------------------------
    let list_at = |seq: u64, issuing_keys: Vec<KeyId>| {
        let mut list = RevocationList {
            seq,
            issued_at: NOW,
            issuing_keys,
            ..RevocationList::default()
        };
        list.normalize();
        list.encode()
    };
    s.error(
        "revocations-seq-below-range.cose",
        "a list signed by L with sequence number 2^40 - 1, below its certificate's range",
        chained(
            &l.key,
            &lgood,
            ObjectType::RevocationList,
            &list_at(LIST_LO - 1, vec![]),
        ),
        Check::of("revocations"),
        "revocation_seq_out_of_range",
    );
    s.error(
        "revocations-seq-at-range-end.cose",
        "a list signed by L with sequence number 2^41, the (exclusive) end of its range",
        chained(
            &l.key,
            &lgood,
            ObjectType::RevocationList,
            &list_at(LIST_HI, vec![]),
        ),
        Check::of("revocations"),
        "revocation_seq_out_of_range",
    );
    s.error(
        "revocations-seq-max.cose",
        "a list signed by L with sequence number 2^64 - 1 (what a thief would use to switch revocation off)",
        chained(
            &l.key,
            &lgood,
            ObjectType::RevocationList,
            &list_at(u64::MAX, vec![]),
        ),
        Check::of("revocations"),
        "revocation_seq_out_of_range",
    );
    s.error(
        "revocations-revokes-own-signer.cose",
        "a list signed by L that names L itself",
        chained(
            &l.key,
            &lgood,
            ObjectType::RevocationList,
            &list_at(LIST_LO + 5, vec![l.kid()]),
        ),
        Check::of("revocations"),
        "issuing_key_revoked",
    );
    s.error(
        "revocations-key-without-list-bit.cose",
        "a list signed by I, whose certificate does not allow revocation lists",
        chained(
            &i.key,
            &good,
            ObjectType::RevocationList,
            &list_at(LIST_LO + 5, vec![]),
        ),
        Check::of("revocations"),
        "certificate_type_not_allowed",
    );
    s.error(
        "revocations-root-outside-window.cose",
        "a root-signed list issued before the root's not_before",
        plain(a, ObjectType::RevocationList, &list_at(11, vec![])),
        Check {
            window: Some((Some(NOW + 1), None)),
            ..Check::of("revocations")
        },
        "key_out_of_validity",
    );
    s.error(
        "revocations-chained-outside-window.cose",
        "a list signed by L, issued after its certificate's not_after",
        chained(&l.key, &lgood, ObjectType::RevocationList, &{
            let mut list = RevocationList {
                seq: LIST_LO,
                issued_at: NOT_AFTER,
                ..RevocationList::default()
            };
            list.normalize();
            list.encode()
        }),
        Check::of("revocations"),
        "certificate_out_of_validity",
    );
    s.error(
        "revocations-license-as-list.cose",
        "the chained license presented as a revocation list",
        license(&good, &payload),
        Check::of("revocations"),
        "wrong_type",
    );
    s.error(
        "revocations-unknown-root.cose",
        "a list signed by key U, which the app does not trust",
        plain(&u, ObjectType::RevocationList, &list_at(12, vec![])),
        Check::of("revocations"),
        "unknown_key_id",
    );
    s.error(
        "revocations-stale-after-root.cose",
        "L's highest possible list (2^41 - 1), offered after the root's list revoking L (2^41) was accepted: stale, so a stolen L cannot un-revoke itself",
        chained(
            &l.key,
            &lgood,
            ObjectType::RevocationList,
            &list_at(LIST_HI - 1, vec![]),
        ),
        Check {
            accepted_before: Some("revocations-root-revokes-l.cose"),
            ..Check::of("revocations")
        },
        "stale_revocation_list",
    );

    // ---- revocation list payload rules (SPEC.md §13) -------------------------------------
    let base_list = list_at(20, vec![]);
    let field = |key: u64, value: Vec<u8>| {
        with_claim(
            &base_list,
            enc(|w| {
                w.uint(key);
            }),
            value,
        )
    };
    let without = |key: u64| {
        let k = enc(|w| {
            w.uint(key);
        });
        let mut e = entries(&base_list);
        e.retain(|(ek, _)| *ek != k);
        map_of(&e)
    };
    let products_map = |items: &[&str]| {
        enc(|w| {
            w.map(items.len());
            for p in items {
                w.text(p).int(IAT);
            }
        })
    };
    let (k1, k2) = ([1u8; 8], [2u8; 8]);
    let bad_lists: Vec<(&str, &str, Vec<u8>, [&str; 2])> = vec![
        (
            "licenses-unsorted",
            "license ids out of order",
            field(3, texts(&["0C8G2X9RTV4MB", "0C8G2X9RTV4MA"])),
            ["revocations.licenses", "unsorted_keys"],
        ),
        (
            "licenses-duplicate",
            "a license id twice",
            field(3, texts(&["0C8G2X9RTV4MA", "0C8G2X9RTV4MA"])),
            ["revocations.licenses", "duplicate_key"],
        ),
        (
            "licenses-empty",
            "an empty license list",
            field(3, texts(&[])),
            ["revocations.licenses", "invalid_value"],
        ),
        (
            "product-keys-unsorted",
            "product keys out of order",
            field(4, texts(&["ABCD1234EFGI", "ABCD1234EFGH"])),
            ["revocations.product_keys", "unsorted_keys"],
        ),
        (
            "product-keys-duplicate",
            "a product key twice",
            field(4, texts(&["ABCD1234EFGH", "ABCD1234EFGH"])),
            ["revocations.product_keys", "duplicate_key"],
        ),
        (
            "product-keys-empty",
            "an empty product key list",
            field(4, texts(&[])),
            ["revocations.product_keys", "invalid_value"],
        ),
        (
            "min-issued-unsorted",
            "minimum issue times with products out of order (video-pro before cad)",
            field(5, products_map(&["video-pro", "cad"])),
            ["revocations.min_issued_at", "unsorted_keys"],
        ),
        (
            "min-issued-duplicate",
            "a product's minimum issue time twice",
            field(5, products_map(&["cad", "cad"])),
            ["revocations.min_issued_at", "duplicate_key"],
        ),
        (
            "min-issued-empty",
            "an empty map of minimum issue times",
            field(5, products_map(&[])),
            ["revocations.min_issued_at", "invalid_value"],
        ),
        (
            "issuing-keys-unsorted",
            "issuing key ids out of byte order",
            field(6, kids(&[&k2, &k1])),
            ["revocations.issuing_keys", "unsorted_keys"],
        ),
        (
            "issuing-keys-duplicate",
            "an issuing key id twice",
            field(6, kids(&[&k1, &k1])),
            ["revocations.issuing_keys", "duplicate_key"],
        ),
        (
            "issuing-keys-empty",
            "an empty issuing key list",
            field(6, kids(&[])),
            ["revocations.issuing_keys", "invalid_value"],
        ),
        (
            "issuing-key-7-bytes",
            "an issuing key id of 7 bytes",
            field(6, kids(&[&[1u8; 7]])),
            ["revocations.issuing_keys", "invalid_value"],
        ),
        (
            "issuing-key-9-bytes",
            "an issuing key id of 9 bytes",
            field(6, kids(&[&[1u8; 9]])),
            ["revocations.issuing_keys", "invalid_value"],
        ),
        (
            "unknown-key",
            "an unknown payload key 7 (every unknown key is critical)",
            field(
                7,
                enc(|w| {
                    w.uint(1);
                }),
            ),
            ["revocations", "unknown_critical_key"],
        ),
        (
            "missing-seq",
            "no sequence number (key 1)",
            without(1),
            ["revocations.seq", "missing_field"],
        ),
        (
            "missing-issued-at",
            "no issue time (key 2)",
            without(2),
            ["revocations.issued_at", "missing_field"],
        ),
    ];
    for (name, what, list_payload, at) in bad_lists {
        s.malformed(
            &format!("revocations-{name}.cose"),
            &format!("a root-signed list: {what}"),
            plain(a, ObjectType::RevocationList, &list_payload),
            Check::of("revocations"),
            at,
        );
    }
    s.cases
}

/// 32 bytes that are not a curve point: y = 2 (no x satisfies the curve equation).
fn not_a_point() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0] = 2;
    b
}

/// A point of small order: y = 0 with x's sign bit clear (order 4).
fn small_order_point() -> [u8; 32] {
    [0u8; 32]
}

/// The whole `chain.json`.
pub fn chain_manifest(cases: &[Case]) -> Value {
    let [a, _, u] = keys();
    let roots: Vec<Value> = [a, u]
        .iter()
        .map(|k| json!({"name": k.name, "public_key": hex(&k.public()), "kid": hex(&k.kid().0)}))
        .collect();
    let issuing: Vec<Value> = issuing_keys()
        .iter()
        .map(|k| json!({"name": k.name, "seed": hex(&k.key.to_bytes()), "public_key": hex(&k.public()), "kid": hex(&k.kid().0)}))
        .collect();
    json!({
        "format": "airseal-chain-vectors",
        "version": 1,
        "roots": roots,
        "issuing_keys": issuing,
        "cases": cases.iter().map(|c| c.entry.clone()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-made points are what their names say (the verifier's own check decides the
    /// vectors' outcome; this only keeps the descriptions honest).
    #[test]
    fn hostile_points() {
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&not_a_point()).is_err());
        let weak = ed25519_dalek::VerifyingKey::from_bytes(&small_order_point());
        assert!(weak.is_ok_and(|k| k.is_weak()));
    }
}
