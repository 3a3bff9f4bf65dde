//! Activation request and deactivation proof vectors (`vectors/activation.json` and the files
//! under `vectors/activation/`): SPEC.md §15.1–15.2, checked by `verify_request` and
//! `verify_deactivation`.
//!
//! Each entry names the file, the `kind` of object the reader expects (`request` or
//! `deactivation`) and the outcome: `valid` with the decoded fields, or `error` with the class
//! (and, for `malformed`, the context and rule), pinning what the decoder does today.

use airseal_core::KeyId;
use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::{armor, qr_text};
use airseal_core::cose::ObjectType;
use airseal_vendor::issue::Issuer;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{Value, json};

use super::{Case, NOW, PRODUCT, base_claims, enc, entries, hex, map_of, protected_with};

/// The device keys of these vectors, from fixed public seeds: `D` makes every valid object
/// (the same key as the activation-response vectors', so `request.cose` is the request
/// `licenses/activation-response.cose` answers); `E` is "another device".
fn device_keys() -> [(&'static str, SigningKey); 2] {
    [
        ("D", SigningKey::from_bytes(&[0xd1; 32])),
        ("E", SigningKey::from_bytes(&[0xd2; 32])),
    ]
}

/// The product key of the valid activation request (the typical license's).
const PRODUCT_KEY: &str = "7K3QDM2XRP9FTWB4HCNV";

/// An Ed25519 public key encoding that does not decode as a curve point: the first `y` (as
/// a little-endian value 2, 3, …) with no matching `x`.
fn not_a_point() -> [u8; 32] {
    (2u8..=255)
        .map(|y| {
            let mut k = [0u8; 32];
            k[0] = y;
            k
        })
        .find(|k| VerifyingKey::from_bytes(k).is_err())
        .unwrap_or([0xff; 32])
}

/// The JSON form of a decoded request (`vectors/README.md`).
fn request_json(r: &ActivationRequest) -> Value {
    let mut v = json!({
        "product": r.product,
        "components": r.components.iter().map(|c| hex(c)).collect::<Vec<_>>(),
        "device_key": hex(&r.device_key),
        "nonce": hex(&r.nonce),
        "created": r.created,
        "purpose": match r.purpose {
            Purpose::Activation => "activation",
            Purpose::Trial => "trial",
        },
    });
    if let Some(k) = &r.product_key {
        v["product_key"] = json!(k);
    }
    if let Some(a) = &r.app_version {
        v["app_version"] = json!(a);
    }
    if !r.meters.is_empty() {
        v["meters"] = r
            .meters
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
    }
    v
}

/// The JSON form of a decoded deactivation proof.
fn proof_json(p: &DeactivationProof) -> Value {
    json!({
        "product": p.product,
        "license_id": p.license_id,
        "token_id": hex(&p.token_id),
        "device_key": hex(&p.device_key),
        "nonce": hex(&p.nonce),
        "created": p.created,
    })
}

struct Out {
    cases: Vec<Case>,
}

impl Out {
    fn push(&mut self, file: &str, kind: &str, description: &str, bytes: Vec<u8>, expected: Value) {
        self.cases.push(Case {
            file: file.to_string(),
            bytes,
            entry: json!({
                "file": format!("activation/{file}"),
                "kind": kind,
                "description": description,
                "expected": expected,
            }),
        });
    }

    fn request(&mut self, file: &str, description: &str, bytes: Vec<u8>, r: &ActivationRequest) {
        let expected = json!({"result": "valid", "fields": request_json(r)});
        self.push(file, "request", description, bytes, expected);
    }

    fn proof(&mut self, file: &str, description: &str, bytes: Vec<u8>, p: &DeactivationProof) {
        let expected = json!({"result": "valid", "fields": proof_json(p)});
        self.push(file, "deactivation", description, bytes, expected);
    }

    fn error(&mut self, file: &str, kind: &str, description: &str, bytes: Vec<u8>, class: &str) {
        let expected = json!({"result": "error", "error": class});
        self.push(file, kind, description, bytes, expected);
    }

    fn malformed(
        &mut self,
        file: &str,
        kind: &str,
        description: &str,
        bytes: Vec<u8>,
        context: &str,
        rule: &str,
    ) {
        let expected =
            json!({"result": "error", "error": "malformed", "context": context, "rule": rule});
        self.push(file, kind, description, bytes, expected);
    }
}

/// Encodes one payload entry (key, value) as the map helpers want it.
fn key(k: i64) -> Vec<u8> {
    enc(|w| {
        w.int(k);
    })
}

/// `payload` with entry `k` removed.
fn without(payload: &[u8], k: i64) -> Vec<u8> {
    let mut e = entries(payload);
    e.retain(|(ek, _)| *ek != key(k));
    map_of(&e)
}

/// `payload` with entry `k` set to `value` (added in deterministic order when absent).
fn with(payload: &[u8], k: i64, value: Vec<u8>) -> Vec<u8> {
    let mut e = entries(payload);
    e.retain(|(ek, _)| *ek != key(k));
    e.push((key(k), value));
    e.sort();
    map_of(&e)
}

/// Makes every activation case, in `activation.json` order.
pub fn activation_cases() -> Vec<Case> {
    let [(_, d_key), (_, e_key)] = device_keys();
    let d = Issuer::new(d_key.clone());
    let e = Issuer::new(e_key.clone());
    let mut out = Out { cases: Vec::new() };
    let req_typ = ObjectType::ActivationRequest;
    let proof_typ = ObjectType::DeactivationProof;

    // ---- valid requests ----------------------------------------------------------------
    // The request `licenses/activation-response.cose` answers: its components, nonce and
    // product key, and device key D.
    let request = ActivationRequest {
        product: PRODUCT.into(),
        product_key: Some(PRODUCT_KEY.into()),
        components: vec![[1; 8], [2; 8], [3; 8]],
        device_key: d.public_key(),
        nonce: [0x4e; 16],
        created: NOW,
        app_version: Some("4.2.1".into()),
        purpose: Purpose::Activation,
        meters: Vec::new(),
    };
    let payload = request.encode();
    let raw = d.sign(req_typ, &payload);
    out.request(
        "request.cose",
        "activation request: product key, 3 components, app version; raw COSE bytes",
        raw.clone(),
        &request,
    );
    out.request(
        "request-armored.txt",
        "the same request armored as AIRSEAL ACTIVATION REQUEST",
        armor(req_typ.armor_label(), &raw).into_bytes(),
        &request,
    );
    out.request(
        "request-qr.txt",
        "the same request in the QR text form (AIRSEAL: and the Base45 of the bytes)",
        format!("{}\n", qr_text(&raw)).into_bytes(),
        &request,
    );

    let mut trial = request.clone();
    trial.product_key = None;
    trial.purpose = Purpose::Trial;
    trial.nonce = [0x54; 16];
    trial.app_version = None;
    out.request(
        "request-trial.cose",
        "trial request: no product key, purpose 1, no app version",
        d.sign(req_typ, &trial.encode()),
        &trial,
    );

    let mut metered = request.clone();
    metered.nonce = [0x6d; 16];
    metered.meters = vec![
        ("projects".into(), 12),
        ("exports".into(), 3),
        ("overdraft".into(), -2),
    ];
    metered.normalize();
    out.request(
        "request-meters.cose",
        "activation request reporting 3 meters (deterministic order: shorter names first)",
        d.sign(req_typ, &metered.encode()),
        &metered,
    );

    let mut imported = request.clone();
    imported.nonce = [0x69; 16];
    imported.product_key = Some("38b1460a-5104-4067-a91d-77b872934d51".into());
    imported.components = (1..=16u8).map(|i| [i; 8]).collect();
    out.request(
        "request-imported-key-16-components.cose",
        "product key kept as entered (an imported key with dashes and lower case), 16 components",
        d.sign(req_typ, &imported.encode()),
        &imported,
    );

    let d_kid = KeyId::of_public_key(&d.public_key());
    let alg19 = protected_with(-19, &d_kid, req_typ.typ());
    out.request(
        "request-alg-ed25519.cose",
        "the request with alg -19 (Ed25519, RFC 9864) in the header, which readers accept",
        super::sign_raw(&d_key, &alg19, &payload),
        &request,
    );

    // ---- valid deactivation proofs -----------------------------------------------------
    let license = base_claims();
    let proof = DeactivationProof {
        product: PRODUCT.into(),
        license_id: license.license_id.clone(),
        token_id: license.token_id.clone(),
        device_key: d.public_key(),
        nonce: [0x64; 16],
        created: NOW,
    };
    let proof_payload = proof.encode();
    let proof_raw = d.sign(proof_typ, &proof_payload);
    out.proof(
        "deactivation.cose",
        "deactivation proof giving back license 0C8G2X9RTV4MA; raw COSE bytes",
        proof_raw.clone(),
        &proof,
    );
    out.proof(
        "deactivation-armored.txt",
        "the same proof armored as AIRSEAL DEACTIVATION PROOF",
        armor(proof_typ.armor_label(), &proof_raw).into_bytes(),
        &proof,
    );
    out.proof(
        "deactivation-qr.txt",
        "the same proof in the QR text form",
        format!("{}\n", qr_text(&proof_raw)).into_bytes(),
        &proof,
    );

    // ---- hostile requests: signature and key -------------------------------------------
    out.malformed(
        "request-kid-not-device-key.cose",
        "request",
        "request carrying device key D, signed by key E under E's kid",
        e.sign(req_typ, &payload),
        "protected header kid",
        "invalid_value",
    );
    out.error(
        "request-signed-by-other-key.cose",
        "request",
        "request carrying device key D under D's kid, but signed by key E",
        super::sign_raw(&e_key, &protected_with(-8, &d_kid, req_typ.typ()), &payload),
        "bad_signature",
    );
    let mut tampered = raw.clone();
    if let Some(at) = super::find(&tampered, &[0x4e; 16]) {
        tampered[at] ^= 0x01;
    }
    out.error(
        "request-tampered-nonce.cose",
        "request",
        "the valid request with one bit of its nonce flipped after signing",
        tampered,
        "bad_signature",
    );
    for (file, description, device_key) in [
        (
            "request-device-key-small-order.cose",
            "device key is the identity point (small order); the kid is its id",
            {
                let mut k = [0u8; 32];
                k[0] = 1;
                k
            },
        ),
        (
            "request-device-key-not-a-point.cose",
            "device key is not the encoding of a curve point; the kid is its id",
            not_a_point(),
        ),
        (
            "request-device-key-non-canonical.cose",
            "device key y = p + 3: a non-canonical encoding of a point not of small order \
             (SPEC.md §3.1); the kid is its id",
            {
                let mut k = [0xff; 32];
                k[0] = 0xf0;
                k[31] = 0x7f;
                k
            },
        ),
    ] {
        let mut bad = request.clone();
        bad.device_key = device_key;
        let protected = protected_with(-8, &KeyId::of_public_key(&device_key), req_typ.typ());
        out.error(
            file,
            "request",
            description,
            super::sign_raw(&d_key, &protected, &bad.encode()),
            "invalid_public_key",
        );
    }

    // ---- hostile requests: payload ------------------------------------------------------
    let signed = |p: &[u8]| d.sign(req_typ, p);
    let mut bad_payload = |file: &str, description: &str, p: Vec<u8>, context: &str, rule: &str| {
        out.malformed(file, "request", description, signed(&p), context, rule);
    };
    bad_payload(
        "request-without-nonce.cose",
        "request without its nonce (key 5)",
        without(&payload, 5),
        "request.nonce",
        "missing_field",
    );
    bad_payload(
        "request-nonce-15-bytes.cose",
        "request nonce of 15 bytes",
        with(
            &payload,
            5,
            enc(|w| {
                w.bytes(&[0x4e; 15]);
            }),
        ),
        "request.nonce",
        "invalid_value",
    );
    bad_payload(
        "request-zero-components.cose",
        "request with an empty components array",
        with(
            &payload,
            3,
            enc(|w| {
                w.array(0);
            }),
        ),
        "request.components",
        "invalid_value",
    );
    bad_payload(
        "request-17-components.cose",
        "request with 17 components (at most 16)",
        with(
            &payload,
            3,
            enc(|w| {
                w.array(17);
                for i in 1..=17u8 {
                    w.bytes(&[i; 8]);
                }
            }),
        ),
        "request.components",
        "invalid_value",
    );
    bad_payload(
        "request-component-7-bytes.cose",
        "request whose second component hash is 7 bytes",
        with(
            &payload,
            3,
            enc(|w| {
                w.array(3).bytes(&[1; 8]).bytes(&[2; 7]).bytes(&[3; 8]);
            }),
        ),
        "request.components",
        "invalid_value",
    );
    bad_payload(
        "request-duplicate-components.cose",
        "request listing one component hash twice (each may count once towards a threshold)",
        with(
            &payload,
            3,
            enc(|w| {
                w.array(3).bytes(&[1; 8]).bytes(&[2; 8]).bytes(&[1; 8]);
            }),
        ),
        "request.components",
        "invalid_value",
    );
    let mut keyed_trial = trial.clone();
    keyed_trial.product_key = Some(PRODUCT_KEY.into());
    bad_payload(
        "request-trial-with-product-key.cose",
        "trial request (purpose 1) that also names a product key",
        keyed_trial.encode(),
        "request",
        "invalid_value",
    );
    bad_payload(
        "request-activation-without-product-key.cose",
        "activation request (purpose omitted) without a product key",
        without(&payload, 2),
        "request",
        "invalid_value",
    );
    bad_payload(
        "request-product-key-blanks.cose",
        "product key with surrounding blanks (writers trim it)",
        with(
            &payload,
            2,
            enc(|w| {
                w.text(&format!(" {PRODUCT_KEY} "));
            }),
        ),
        "request.product_key",
        "invalid_value",
    );
    bad_payload(
        "request-product-key-empty.cose",
        "product key of 0 bytes",
        with(
            &payload,
            2,
            enc(|w| {
                w.text("");
            }),
        ),
        "request.product_key",
        "invalid_value",
    );
    bad_payload(
        "request-purpose-2.cose",
        "purpose 2 (only 1, trial, or omitted)",
        with(
            &payload,
            8,
            enc(|w| {
                w.uint(2);
            }),
        ),
        "request.purpose",
        "invalid_value",
    );
    bad_payload(
        "request-meters-empty.cose",
        "meters present as an empty map (1 to 16 entries, or omitted)",
        with(
            &payload,
            9,
            enc(|w| {
                w.map(0);
            }),
        ),
        "request.meters",
        "invalid_value",
    );
    bad_payload(
        "request-unknown-key.cose",
        "request with an unknown payload key 10",
        with(
            &payload,
            10,
            enc(|w| {
                w.uint(0);
            }),
        ),
        "request",
        "unknown_critical_key",
    );
    bad_payload(
        "request-negative-key.cose",
        "request with payload key -1: unlike license claims, every unknown payload key is critical",
        with(
            &payload,
            -1,
            enc(|w| {
                w.uint(0);
            }),
        ),
        "request",
        "unknown_critical_key",
    );
    let mut swapped = entries(&payload);
    swapped.swap(0, 1);
    bad_payload(
        "request-unsorted-keys.cose",
        "request payload with keys 2 and 1 out of order",
        map_of(&swapped),
        "request",
        "unsorted_keys",
    );

    // ---- hostile proofs ------------------------------------------------------------------
    out.malformed(
        "deactivation-kid-not-device-key.cose",
        "deactivation",
        "proof carrying device key D, signed by key E under E's kid",
        e.sign(proof_typ, &proof_payload),
        "protected header kid",
        "invalid_value",
    );
    out.error(
        "deactivation-signed-by-other-key.cose",
        "deactivation",
        "proof carrying device key D under D's kid, but signed by key E",
        super::sign_raw(
            &e_key,
            &protected_with(-8, &d_kid, proof_typ.typ()),
            &proof_payload,
        ),
        "bad_signature",
    );
    out.malformed(
        "deactivation-without-license-id.cose",
        "deactivation",
        "proof without the license id (key 2)",
        d.sign(proof_typ, &without(&proof_payload, 2)),
        "deactivation.license_id",
        "missing_field",
    );
    out.malformed(
        "deactivation-token-id-33-bytes.cose",
        "deactivation",
        "proof whose token id is 33 bytes (1 to 32)",
        d.sign(
            proof_typ,
            &with(
                &proof_payload,
                3,
                enc(|w| {
                    w.bytes(&[0x5e; 33]);
                }),
            ),
        ),
        "deactivation.token_id",
        "invalid_value",
    );
    out.malformed(
        "deactivation-unknown-key.cose",
        "deactivation",
        "proof with an unknown payload key 7",
        d.sign(
            proof_typ,
            &with(
                &proof_payload,
                7,
                enc(|w| {
                    w.uint(0);
                }),
            ),
        ),
        "deactivation",
        "unknown_critical_key",
    );

    // ---- one type presented as another ---------------------------------------------------
    out.error(
        "deactivation-as-request.cose",
        "request",
        "the valid deactivation proof given to the request reader",
        proof_raw,
        "wrong_type",
    );
    out.error(
        "request-as-deactivation.cose",
        "deactivation",
        "the valid activation request given to the proof reader",
        raw,
        "wrong_type",
    );
    let license_bytes = Issuer::new(SigningKey::from_bytes(&[0xA1; 32]))
        .issue(license)
        .unwrap_or_default();
    out.error(
        "license-as-request.cose",
        "request",
        "a valid license (key A) given to the request reader",
        license_bytes.clone(),
        "wrong_type",
    );
    out.error(
        "license-as-deactivation.cose",
        "deactivation",
        "a valid license (key A) given to the proof reader",
        license_bytes,
        "wrong_type",
    );
    out.cases
}

/// The whole `activation.json`.
pub fn activation_manifest(cases: &[Case]) -> Value {
    let keys: Vec<Value> = device_keys()
        .iter()
        .map(|(name, k)| {
            let public = k.verifying_key().to_bytes();
            json!({"name": name, "seed": hex(&k.to_bytes()), "public_key": hex(&public),
                "kid": KeyId::of_public_key(&public).to_string()})
        })
        .collect();
    json!({
        "format": "airseal-activation-vectors",
        "version": 1,
        "device_keys": keys,
        "cases": cases.iter().map(|c| c.entry.clone()).collect::<Vec<_>>(),
    })
}
