//! The airseal test-vector generator: every case in `vectors/` is made here, from fixed
//! seeds, so the committed files can be reproduced byte for byte (`cargo run -p
//! airseal-vectors`) and a test checks they were.
//!
//! Each case is one file plus one manifest entry naming the trusted keys, the product and
//! `now` to verify with, and the expected outcome. `vectors/README.md` documents the schema.

use airseal_core::armor::{QR_PREFIX, armor, qr_text};
use airseal_core::cbor::{Reader, Writer};
use airseal_core::cose::{self, ObjectType};
use airseal_core::json::claims_to_json;
use airseal_core::{
    KeyId, LicenseClaims, LicenseKind, Licensee, Limit, MachineBinding, MetaValue, NamedFeature,
};
use airseal_vendor::issue::Issuer;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

mod activation;
mod boundaries;
mod chain;
mod renewal;
mod revocation;
pub use activation::{activation_cases, activation_manifest};
pub use chain::{chain_cases, chain_manifest, issuing_keys};
pub use renewal::{renewal_cases, renewal_installed, renewal_manifest};
pub use revocation::revocation_vectors;

/// `now` used by most cases: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;
/// Issue time used by most cases: 2025-06-01T00:00:00Z.
pub const IAT: i64 = 1_748_736_000;
const DAY: i64 = 86_400;
/// Product id most cases are issued for.
pub const PRODUCT: &str = "photo-pro";

/// A named test key derived from a fixed seed.
#[derive(Debug)]
pub struct TestKey {
    /// `A`, `B` (trusted) or `U` (never trusted).
    pub name: &'static str,
    /// The signing key.
    pub key: SigningKey,
}

impl TestKey {
    fn new(name: &'static str, seed_byte: u8) -> Self {
        // Seeds are fixed and public: these keys exist only to make vectors.
        Self {
            name,
            key: SigningKey::from_bytes(&[seed_byte; 32]),
        }
    }

    /// The public key bytes.
    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        KeyId::of_public_key(&self.public())
    }
}

/// The three test keys: A and B trusted, U unknown to every verifier.
pub fn keys() -> [TestKey; 3] {
    [
        TestKey::new("A", 0xA1),
        TestKey::new("B", 0xB2),
        TestKey::new("U", 0x55),
    ]
}

/// One generated case.
#[derive(Debug)]
pub struct Case {
    /// File name under `vectors/licenses/` (or `vectors/activation/` for the cases of
    /// [`activation_cases`]).
    pub file: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The manifest entry.
    pub entry: Value,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The baseline license most cases start from.
fn base_claims() -> LicenseClaims {
    let mut c = LicenseClaims::new(
        "acme",
        "0C8G2X9RTV4MA",
        PRODUCT,
        IAT,
        vec![0x5e, 0xa1, 0, 1, 2, 3, 4, 5],
    );
    c.licensee = Licensee {
        name: None,
        email: Some("jane@example.com".into()),
        organization: None,
    };
    c
}

/// The "typical node-locked license with 3 metadata entries" whose size SPEC.md reports.
pub fn typical_node_locked() -> LicenseClaims {
    let mut c = base_claims();
    c.kind = LicenseKind::Subscription;
    c.expires_at = Some(IAT + 365 * DAY);
    c.licensee.name = Some("Jane Doe".into());
    c.product_key = Some("7K3QDM2XRP9FTWB4HCNV".into());
    c.features.bits = 0b0000_0101;
    c.max_activations = Some(Limit::AtMost(3));
    c.machine = Some(MachineBinding {
        threshold: 2,
        components: vec![
            [1, 1, 1, 1, 1, 1, 1, 1],
            [2, 2, 2, 2, 2, 2, 2, 2],
            [3, 3, 3, 3, 3, 3, 3, 3],
        ],
        device_key: Some([0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]),
    });
    c.metadata = vec![
        ("order".into(), MetaValue::Text("A-1001".into())),
        ("seats".into(), MetaValue::Int(5)),
        ("region".into(), MetaValue::Text("eu".into())),
    ];
    c.normalize();
    c
}

/// Signs arbitrary payload bytes under an arbitrary protected header (for hostile cases).
fn sign_raw(key: &SigningKey, protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let sig = key.sign(&cose::sig_structure(protected, payload));
    cose::encode_sign1(protected, payload, &sig.to_bytes())
}

fn protected_with(alg: i64, kid: &KeyId, typ: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(3)
        .uint(1)
        .int(alg)
        .uint(4)
        .bytes(&kid.0)
        .uint(16)
        .text(typ);
    w.into_bytes()
}

/// Splits a deterministic map into its (encoded key, encoded value) entries.
fn entries(map: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut r = Reader::new(map);
    let n = r.map().unwrap_or(0);
    let mut out = Vec::new();
    for _ in 0..n {
        let k0 = r.position();
        let _ = r.skip();
        let k1 = r.position();
        let _ = r.skip();
        let v1 = r.position();
        out.push((map[k0..k1].to_vec(), map[k1..v1].to_vec()));
    }
    out
}

fn map_of(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(entries.len());
    for (k, v) in entries {
        w.raw(k).raw(v);
    }
    w.into_bytes()
}

fn enc(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.into_bytes()
}

/// Replaces (or adds, keeping order by encoded key) a top-level claim.
fn with_claim(payload: &[u8], key: Vec<u8>, value: Vec<u8>) -> Vec<u8> {
    let mut e = entries(payload);
    e.retain(|(k, _)| *k != key);
    e.push((key, value));
    e.sort();
    map_of(&e)
}

/// Replaces (or adds) an airseal private claim.
fn with_private(payload: &[u8], key: u64, value: Vec<u8>) -> Vec<u8> {
    let akey = enc(|w| {
        w.int(airseal_core::claims::AIRSEAL_CLAIMS_KEY);
    });
    let mut top = entries(payload);
    let (_, private) = top
        .iter()
        .find(|(k, _)| *k == akey)
        .cloned()
        .unwrap_or_default();
    let new_private = with_claim(
        &private,
        enc(|w| {
            w.uint(key);
        }),
        value,
    );
    top.retain(|(k, _)| *k != akey);
    top.push((akey, new_private));
    top.sort();
    map_of(&top)
}

struct Builder {
    keys: [TestKey; 3],
    cases: Vec<Case>,
}

/// How a case is verified and what must come out.
struct Check<'a> {
    trusted: &'a [&'a str],
    product: &'a str,
    now: i64,
    machine: Option<Vec<[u8; 8]>>,
    /// The app's release date, for release gating.
    release_date: Option<i64>,
    /// Validity windows of trusted keys: (key name, not before, not after).
    validity: &'a [(&'a str, Option<i64>, Option<i64>)],
    /// The machine's device public key, checked against a device-bound license.
    device: Option<[u8; 32]>,
}

impl Default for Check<'_> {
    fn default() -> Self {
        Check {
            trusted: &["A", "B"],
            product: PRODUCT,
            now: NOW,
            machine: None,
            release_date: None,
            validity: &[],
            device: None,
        }
    }
}

impl Builder {
    fn key(&self, name: &str) -> &TestKey {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .unwrap_or(&self.keys[0])
    }

    fn issuer(&self, name: &str) -> Issuer {
        Issuer::new(self.key(name).key.clone())
    }

    fn entry(&self, file: &str, description: &str, check: &Check<'_>, expected: Value) -> Value {
        let trusted: Vec<Value> = check
            .trusted
            .iter()
            .map(|n| json!(hex(&self.key(n).public())))
            .collect();
        let machine = check
            .machine
            .as_ref()
            .map(|m| m.iter().map(|c| hex(c)).collect::<Vec<_>>());
        let validity: serde_json::Map<String, Value> = check
            .validity
            .iter()
            .map(|(n, nb, na)| {
                (
                    hex(&self.key(n).public()),
                    json!({"not_before": nb, "not_after": na}),
                )
            })
            .collect();
        json!({
            "file": format!("licenses/{file}"),
            "description": description,
            "trusted_public_keys": trusted,
            "product": check.product,
            "now": check.now,
            "machine": machine,
            "release_date": check.release_date,
            "key_validity": validity,
            "device_public_key": check.device.map(|d| hex(&d)),
            "expected": expected,
        })
    }

    fn push(
        &mut self,
        file: &str,
        bytes: Vec<u8>,
        description: &str,
        check: Check<'_>,
        expected: Value,
    ) {
        let entry = self.entry(file, description, &check, expected);
        self.cases.push(Case {
            file: file.to_string(),
            bytes,
            entry,
        });
    }

    fn valid(
        &mut self,
        file: &str,
        description: &str,
        bytes: Vec<u8>,
        claims: &LicenseClaims,
        check: Check<'_>,
        status: &str,
    ) {
        let expected = json!({"result": "valid", "status": status, "claims": claims_to_json(claims),
            "active_features": claims.features.active(check.now)});
        self.push(file, bytes, description, check, expected);
    }

    fn error(
        &mut self,
        file: &str,
        description: &str,
        bytes: Vec<u8>,
        check: Check<'_>,
        class: &str,
    ) {
        self.push(
            file,
            bytes,
            description,
            check,
            json!({"result": "error", "error": class}),
        );
    }

    /// A malformed case, with the rule it breaks (the Display text of the decode error kind)
    /// and the field it is found in, so the vector pins the reason and not only the class.
    fn malformed(
        &mut self,
        file: &str,
        description: &str,
        bytes: Vec<u8>,
        context: &str,
        rule: &str,
    ) {
        let expected =
            json!({"result": "error", "error": "malformed", "context": context, "rule": rule});
        self.push(file, bytes, description, Check::default(), expected);
    }
}

/// Makes every case, in manifest order.
pub fn generate() -> Vec<Case> {
    let mut b = Builder {
        keys: keys(),
        cases: Vec::new(),
    };
    let a = b.issuer("A");
    let sign = |c: &LicenseClaims| a.issue(c.clone()).unwrap_or_default();
    let armored = |bytes: &[u8]| armor(ObjectType::License.armor_label(), bytes).into_bytes();

    // ---- valid cases -------------------------------------------------------------------
    let perpetual = base_claims();
    let raw = sign(&perpetual);
    b.valid(
        "valid-perpetual.cose",
        "minimal perpetual license, raw COSE bytes",
        raw.clone(),
        &perpetual,
        Check::default(),
        "valid",
    );
    b.valid(
        "valid-perpetual-armored.lic",
        "the same license in armored text form",
        armored(&raw),
        &perpetual,
        Check::default(),
        "valid",
    );

    let mail = format!(
        "From: sales@acme.example\r\nSubject: your license\r\n\r\nHello Jane,\r\n\r\n{}\r\nRegards\r\n",
        String::from_utf8_lossy(&armored(&raw))
            .lines()
            .map(|l| format!("> {l}"))
            .collect::<Vec<_>>()
            .join("\r\n")
    );
    b.valid(
        "valid-armored-in-email.txt",
        "armor quoted inside an e-mail with CRLF line endings",
        mail.into_bytes(),
        &perpetual,
        Check::default(),
        "valid",
    );

    let mut expiring = base_claims();
    expiring.kind = LicenseKind::Subscription;
    expiring.expires_at = Some(IAT + 365 * DAY);
    b.valid(
        "valid-subscription-expiring.cose",
        "subscription, verified before exp",
        sign(&expiring),
        &expiring,
        Check::default(),
        "valid",
    );

    let mut features = base_claims();
    features.features.bits = 0b1000_0101;
    b.valid(
        "valid-feature-bits.cose",
        "feature bits F1, F3 and F8",
        sign(&features),
        &features,
        Check::default(),
        "valid",
    );

    let mut named = base_claims();
    named.features.bits = 0b11;
    named.features.bit_expiry[1] = Some(NOW - DAY);
    named.features.named = vec![
        NamedFeature {
            name: "export-raw".into(),
            expires_at: None,
        },
        NamedFeature {
            name: "cloud-sync".into(),
            expires_at: Some(NOW - DAY),
        },
        NamedFeature {
            name: "hdr".into(),
            expires_at: Some(NOW + 30 * DAY),
        },
    ];
    named.normalize();
    b.valid(
        "valid-feature-expiry.cose",
        "named features and F2 with their own expiry; cloud-sync and F2 already ended",
        sign(&named),
        &named,
        Check::default(),
        "valid",
    );

    let mut meta = base_claims();
    meta.metadata = vec![
        ("order".into(), MetaValue::Text("A-1001".into())),
        ("seats".into(), MetaValue::Int(5)),
        ("balance".into(), MetaValue::Int(-12)),
    ];
    meta.normalize();
    b.valid(
        "valid-metadata.cose",
        "metadata with text, positive and negative integer values",
        sign(&meta),
        &meta,
        Check::default(),
        "valid",
    );

    let mut meta50 = base_claims();
    meta50.metadata = (0..50)
        .map(|i| (format!("k{i:02}"), MetaValue::Int(i)))
        .collect();
    meta50.normalize();
    b.valid(
        "valid-metadata-50.cose",
        "the maximum of 50 metadata entries",
        sign(&meta50),
        &meta50,
        Check::default(),
        "valid",
    );

    let mut unlimited = base_claims();
    unlimited.max_activations = Some(Limit::Unlimited);
    unlimited.max_deactivations = Some(Limit::AtMost(2));
    b.valid(
        "valid-max-activations-unlimited.cose",
        "max activations explicitly unlimited (null), 2 deactivations",
        sign(&unlimited),
        &unlimited,
        Check::default(),
        "valid",
    );

    let mut by_b = base_claims();
    by_b.max_activations = Some(Limit::AtMost(5));
    let bytes_b = b.issuer("B").issue(by_b.clone()).unwrap_or_default();
    b.valid(
        "valid-signed-by-key-b.cose",
        "signed by the second trusted key (rotation)",
        bytes_b,
        &by_b,
        Check::default(),
        "valid",
    );

    let typical = typical_node_locked();
    let typical_bytes = sign(&typical);
    let this_machine = vec![[1u8; 8], [2u8; 8], [3u8; 8], [9u8; 8]];
    b.valid(
        "valid-node-locked.cose",
        "typical node-locked license (size reported in SPEC.md), all components match",
        typical_bytes.clone(),
        &typical,
        Check {
            machine: Some(this_machine),
            ..Check::default()
        },
        "valid",
    );
    b.valid(
        "valid-node-locked-one-component-changed.cose",
        "same license; one of three components changed, threshold 2 still met",
        typical_bytes.clone(),
        &typical,
        Check {
            machine: Some(vec![[1u8; 8], [7u8; 8], [3u8; 8]]),
            ..Check::default()
        },
        "valid",
    );

    let mut grace = base_claims();
    grace.kind = LicenseKind::Subscription;
    grace.expires_at = Some(NOW - DAY);
    grace.grace_period = Some(7 * DAY as u64);
    b.valid(
        "valid-in-grace.cose",
        "expired a day ago, inside a 7-day grace period",
        sign(&grace),
        &grace,
        Check::default(),
        "in_grace",
    );

    let mut trial = base_claims();
    trial.kind = LicenseKind::Trial;
    trial.expires_at = Some(NOW + 14 * DAY);
    trial.maintenance_until = Some(NOW + 14 * DAY);
    b.valid(
        "valid-trial.cose",
        "a 14-day trial",
        sign(&trial),
        &trial,
        Check::default(),
        "valid",
    );

    let mut skew = base_claims();
    skew.not_before = Some(NOW + 60);
    skew.clock_offset = Some(300);
    b.valid(
        "valid-clock-offset.cose",
        "nbf one minute ahead of now, within the 5-minute allowed clock offset",
        sign(&skew),
        &skew,
        Check::default(),
        "valid",
    );

    let alt_alg = {
        let payload = perpetual.encode();
        sign_raw(
            &b.key("A").key,
            &protected_with(cose::ALG_ED25519, &b.key("A").kid(), "airseal-license"),
            &payload,
        )
    };
    b.valid(
        "valid-alg-ed25519.cose",
        "protected header alg -19 (Ed25519, fully specified) instead of -8",
        alt_alg,
        &perpetual,
        Check::default(),
        "valid",
    );

    let mut ext = base_claims();
    ext.extensions = vec![(
        -70_000,
        enc(|w| {
            w.text("vendor-x");
        }),
    )];
    ext.airseal_extensions = vec![(
        -1,
        enc(|w| {
            w.array(2).uint(1).uint(2);
        }),
    )];
    b.valid("valid-noncritical-extensions.cose", "unknown negative-key claims (top level -70000, airseal map -1) are non-critical: kept, not enforced",
        sign(&ext), &ext, Check::default(), "valid");

    let mut tagged_ext = base_claims();
    tagged_ext.extensions = vec![(
        -70_001,
        enc(|w| {
            w.tag(0).text("2020-01-01T00:00:00Z");
        }),
    )];
    b.valid(
        "valid-extension-with-tag.cose",
        "an extension value holding a tagged item (tag 0): opaque to the verifier, kept verbatim",
        sign(&tagged_ext),
        &tagged_ext,
        Check::default(),
        "valid",
    );

    let mut maint = base_claims();
    maint.maintenance_until = Some(NOW - 30 * DAY);
    let maint_bytes = sign(&maint);
    b.valid(
        "valid-maintenance-covers-release.cose",
        "maintenance ended 30 days ago; the app release is older, so it is still covered",
        maint_bytes.clone(),
        &maint,
        Check {
            release_date: Some(NOW - 60 * DAY),
            ..Check::default()
        },
        "valid",
    );
    b.error(
        "maintenance-ended.cose",
        "the app release is dated exactly at the maintenance end (exclusive)",
        maint_bytes,
        Check {
            release_date: Some(NOW - 30 * DAY),
            ..Check::default()
        },
        "maintenance_ended",
    );
    b.valid(
        "valid-key-window.cose",
        "key A trusted for licenses issued within a day of this one's iat",
        raw.clone(),
        &perpetual,
        Check {
            validity: &[("A", Some(IAT - DAY), Some(IAT + DAY))],
            ..Check::default()
        },
        "valid",
    );
    b.error(
        "key-retired-before-issue.cose",
        "key A retired (not_after) at exactly this license's iat",
        raw.clone(),
        Check {
            validity: &[("A", None, Some(IAT))],
            ..Check::default()
        },
        "key_out_of_validity",
    );
    b.error(
        "key-introduced-after-issue.cose",
        "key A trusted only from one second after this license's iat",
        raw.clone(),
        Check {
            validity: &[("A", Some(IAT + 1), None)],
            ..Check::default()
        },
        "key_out_of_validity",
    );

    // ---- hostile cases: envelope ------------------------------------------------------
    b.malformed(
        "empty.cose",
        "zero bytes",
        Vec::new(),
        "armor",
        "invalid_value",
    );
    let mut trailing = raw.clone();
    trailing.push(0x00);
    b.malformed(
        "trailing-byte-after-envelope.cose",
        "one byte after the COSE_Sign1",
        trailing,
        "envelope",
        "trailing_bytes",
    );
    for (n, at, ctx, rule) in [
        ("1", 1, "envelope", "unexpected_end"),
        ("half", raw.len() / 2, "payload", "length_exceeds_input"),
        (
            "last-byte",
            raw.len() - 1,
            "signature",
            "length_exceeds_input",
        ),
    ] {
        b.malformed(
            &format!("truncated-{n}.cose"),
            &format!("truncated to {at} bytes"),
            raw[..at].to_vec(),
            ctx,
            rule,
        );
    }
    b.malformed(
        "untagged.cose",
        "COSE_Sign1 without tag 18",
        raw[1..].to_vec(),
        "envelope",
        "unexpected_type",
    );
    let mut wrong_tag = raw.clone();
    wrong_tag[0] = 0xd1; // tag 17: COSE_Mac0
    b.malformed(
        "wrong-tag.cose",
        "tag 17 (COSE_Mac0) instead of 18",
        wrong_tag,
        "envelope",
        "wrong_tag",
    );
    let protected = cose::encode_protected(&b.key("A").kid(), ObjectType::License);
    let payload = perpetual.encode();
    let good_sig = b
        .key("A")
        .key
        .sign(&cose::sig_structure(&protected, &payload))
        .to_bytes();
    let unprotected = enc(|w| {
        w.tag(18)
            .array(4)
            .bytes(&protected)
            .map(1)
            .uint(4)
            .bytes(&[0; 8])
            .bytes(&payload)
            .bytes(&good_sig);
    });
    b.malformed(
        "unprotected-header-not-empty.cose",
        "a kid in the unprotected header (must be empty)",
        unprotected,
        "unprotected header",
        "invalid_value",
    );
    let long_len = {
        // Protected header length written with a 2-byte head: not shortest form.
        let mut v = vec![0xd2, 0x84, 0x59, 0x00, protected.len() as u8];
        v.extend_from_slice(&protected);
        v.extend_from_slice(&enc(|w| {
            w.map(0).bytes(&payload).bytes(&good_sig);
        }));
        v
    };
    b.malformed(
        "non-shortest-length-in-envelope.cose",
        "protected header length in a 2-byte head",
        long_len,
        "protected header",
        "non_shortest_encoding",
    );
    let short_sig = enc(|w| {
        w.tag(18)
            .array(4)
            .bytes(&protected)
            .map(0)
            .bytes(&payload)
            .bytes(&good_sig[..63]);
    });
    b.malformed(
        "signature-63-bytes.cose",
        "signature of 63 bytes",
        short_sig,
        "signature",
        "invalid_value",
    );
    let five = enc(|w| {
        w.tag(18)
            .array(5)
            .bytes(&protected)
            .map(0)
            .bytes(&payload)
            .bytes(&good_sig)
            .uint(0);
    });
    b.malformed(
        "array-of-five.cose",
        "COSE_Sign1 array with a fifth element",
        five,
        "envelope",
        "invalid_value",
    );
    let mut big = raw.clone();
    big.resize(cose::MAX_OBJECT_SIZE + 1, 0);
    b.malformed(
        "oversized.cose",
        "65537 bytes, over the size limit",
        big,
        "envelope",
        "too_large",
    );
    let extra_param = enc(|w| {
        w.map(4)
            .uint(1)
            .int(-8)
            .uint(4)
            .bytes(&b.key("A").kid().0)
            .uint(16)
            .text("airseal-license")
            .uint(33)
            .bytes(&[1]);
    });
    b.malformed(
        "protected-unknown-parameter.cose",
        "protected header with x5chain (33)",
        sign_raw(&b.key("A").key, &extra_param, &payload),
        "protected header",
        "unknown_critical_key",
    );
    let short_kid = enc(|w| {
        w.map(3)
            .uint(1)
            .int(-8)
            .uint(4)
            .bytes(&b.key("A").kid().0[..4])
            .uint(16)
            .text("airseal-license");
    });
    b.malformed(
        "kid-4-bytes.cose",
        "a 4-byte kid",
        sign_raw(&b.key("A").key, &short_kid, &payload),
        "protected header kid",
        "invalid_value",
    );
    b.error(
        "alg-es256.cose",
        "alg -7 (ES256)",
        sign_raw(
            &b.key("A").key,
            &protected_with(-7, &b.key("A").kid(), "airseal-license"),
            &payload,
        ),
        Check::default(),
        "unsupported_algorithm",
    );

    // ---- hostile cases: claims (validly signed, so they reach the claims decoder) -------
    let signed = |p: &[u8]| a.sign(ObjectType::License, p);
    let mut p = payload.clone();
    p.push(0x00);
    b.malformed(
        "claims-trailing-byte.cose",
        "a byte after the claims map, signed",
        signed(&p),
        "claims",
        "trailing_bytes",
    );
    let mut dup = entries(&payload);
    dup.insert(1, dup[0].clone());
    b.malformed(
        "claims-duplicate-key.cose",
        "iss twice",
        signed(&map_of(&dup)),
        "claims",
        "duplicate_key",
    );
    let mut unsorted = entries(&payload);
    unsorted.swap(0, 1);
    b.malformed(
        "claims-unsorted-keys.cose",
        "sub before iss",
        signed(&map_of(&unsorted)),
        "claims",
        "unsorted_keys",
    );
    let indefinite = {
        let mut v = vec![0xbf];
        for (k, val) in entries(&payload) {
            v.extend(k);
            v.extend(val);
        }
        v.push(0xff);
        v
    };
    b.malformed(
        "claims-indefinite-map.cose",
        "claims as an indefinite-length map",
        signed(&indefinite),
        "claims",
        "indefinite_length",
    );
    let indef_text = with_claim(
        &payload,
        enc(|w| {
            w.uint(1);
        }),
        vec![0x7f, 0x64, b'A', b'c', b'm', b'e', 0xff],
    );
    b.malformed(
        "claims-indefinite-text.cose",
        "iss as an indefinite-length text string",
        signed(&indef_text),
        "claims.iss",
        "indefinite_length",
    );
    let long_iat = with_claim(
        &payload,
        enc(|w| {
            w.uint(6);
        }),
        {
            let mut v = vec![0x1b];
            v.extend_from_slice(&(IAT as u64).to_be_bytes());
            v
        },
    );
    b.malformed(
        "claims-non-shortest-iat.cose",
        "iat in an 8-byte head",
        signed(&long_iat),
        "claims.iat",
        "non_shortest_encoding",
    );
    let cnf = with_claim(
        &payload,
        enc(|w| {
            w.uint(8);
        }),
        enc(|w| {
            w.map(0);
        }),
    );
    b.malformed(
        "claims-unknown-critical-claim.cose",
        "registered claim 8 (cnf), which airseal does not know",
        signed(&cnf),
        "claims",
        "unknown_critical_key",
    );
    let unknown_private = with_private(
        &payload,
        63,
        enc(|w| {
            w.uint(1);
        }),
    );
    b.malformed(
        "claims-unknown-airseal-claim.cose",
        "airseal claim 63, unknown and critical",
        signed(&unknown_private),
        "claims.airseal",
        "unknown_critical_key",
    );
    let iss_int = with_claim(
        &payload,
        enc(|w| {
            w.uint(1);
        }),
        enc(|w| {
            w.uint(7);
        }),
    );
    b.malformed(
        "claims-iss-not-text.cose",
        "iss is an integer",
        signed(&iss_int),
        "claims.iss",
        "unexpected_type",
    );
    let exp_text = with_claim(
        &payload,
        enc(|w| {
            w.uint(4);
        }),
        enc(|w| {
            w.text("2027-01-01");
        }),
    );
    b.malformed(
        "claims-exp-not-integer.cose",
        "exp is a date string",
        signed(&exp_text),
        "claims.exp",
        "unexpected_type",
    );
    let exp_float = with_claim(
        &payload,
        enc(|w| {
            w.uint(4);
        }),
        {
            let mut v = vec![0xfb];
            v.extend_from_slice(&(NOW as f64).to_be_bytes());
            v
        },
    );
    b.malformed(
        "claims-exp-float.cose",
        "exp as a 64-bit float",
        signed(&exp_float),
        "claims.exp",
        "float_not_allowed",
    );
    let mut no_iss = entries(&payload);
    no_iss.remove(0);
    b.malformed(
        "claims-missing-iss.cose",
        "no iss claim",
        signed(&map_of(&no_iss)),
        "claims.iss",
        "missing_field",
    );
    let mut no_private = entries(&payload);
    no_private.pop();
    b.malformed(
        "claims-missing-airseal.cose",
        "no airseal claims map",
        signed(&map_of(&no_private)),
        "claims.airseal",
        "missing_field",
    );
    let bad_utf8 = with_claim(
        &payload,
        enc(|w| {
            w.uint(1);
        }),
        vec![0x62, 0xc3, 0x28],
    );
    b.malformed(
        "claims-invalid-utf8.cose",
        "iss is not valid UTF-8",
        signed(&bad_utf8),
        "claims.iss",
        "invalid_utf8",
    );
    let meta51 = with_private(
        &payload,
        14,
        enc(|w| {
            w.map(51);
            let mut keys: Vec<String> = (0..51).map(|i| format!("k{i:02}")).collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                w.text(k).uint(i as u64);
            }
        }),
    );
    b.malformed(
        "claims-metadata-51.cose",
        "51 metadata entries (limit 50)",
        signed(&meta51),
        "claims.airseal.metadata",
        "invalid_value",
    );
    let zero_bits = with_private(
        &payload,
        5,
        enc(|w| {
            w.uint(0);
        }),
    );
    b.malformed(
        "claims-feature-bits-zero.cose",
        "feature bits 0 written out (must be omitted)",
        signed(&zero_bits),
        "claims.airseal.feature_bits",
        "invalid_value",
    );
    let zero_act = with_private(
        &payload,
        8,
        enc(|w| {
            w.uint(0);
        }),
    );
    b.malformed(
        "claims-max-activations-zero.cose",
        "max activations 0",
        signed(&zero_act),
        "claims.airseal.max_activations",
        "invalid_value",
    );
    let bad_threshold = with_private(
        &payload,
        10,
        enc(|w| {
            w.map(2)
                .uint(1)
                .uint(3)
                .uint(2)
                .array(2)
                .bytes(&[1; 8])
                .bytes(&[2; 8]);
        }),
    );
    b.malformed(
        "claims-machine-threshold-too-high.cose",
        "threshold 3 with 2 components",
        signed(&bad_threshold),
        "claims.airseal.machine",
        "invalid_value",
    );

    let repeated = with_private(
        &payload,
        10,
        enc(|w| {
            w.map(2)
                .uint(1)
                .uint(2)
                .uint(2)
                .array(2)
                .bytes(&[1; 8])
                .bytes(&[1; 8]);
        }),
    );
    b.malformed(
        "claims-machine-duplicate-components.cose",
        "machine binding listing one component hash twice, threshold 2",
        signed(&repeated),
        "claims.airseal.machine",
        "invalid_value",
    );

    // ---- hostile cases: armor ------------------------------------------------------------
    let text = String::from_utf8_lossy(&armored(&raw)).into_owned();
    let second_line_start = text.find('\n').map_or(0, |i| i + 1);
    let mut damaged = text.clone();
    damaged.replace_range(second_line_start + 10..second_line_start + 11, "*");
    b.malformed(
        "armor-bad-character.lic",
        "a '*' inside the base64 body",
        damaged.into_bytes(),
        "armor",
        "invalid_value",
    );
    b.malformed(
        "armor-missing-end.lic",
        "no END line",
        text.replace("-----END AIRSEAL LICENSE-----\n", "")
            .into_bytes(),
        "armor",
        "invalid_value",
    );
    b.malformed(
        "armor-label-mismatch.lic",
        "END label differs from BEGIN",
        text.replace("END AIRSEAL LICENSE", "END AIRSEAL KEY")
            .into_bytes(),
        "armor",
        "invalid_value",
    );
    let mut cut = text.clone();
    cut.replace_range(second_line_start..second_line_start + 1, "");
    b.malformed(
        "armor-body-truncated.lic",
        "one base64 character removed",
        cut.into_bytes(),
        "armor",
        "invalid_value",
    );

    // ---- hostile cases: signature, key, type ---------------------------------------------
    let mut bad_sig = raw.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x01;
    b.error(
        "bad-signature.cose",
        "last signature byte flipped",
        bad_sig,
        Check::default(),
        "bad_signature",
    );
    let mut tampered = raw.clone();
    let at = find(&tampered, b"jane@").unwrap_or(0);
    tampered[at] = b'j' ^ 0x20; // "Jane@…": still valid UTF-8 and well-formed
    b.error(
        "tampered-payload.cose",
        "licensee e-mail changed after signing",
        tampered,
        Check::default(),
        "bad_signature",
    );
    let tampered_header = swap_alg(&raw);
    b.error(
        "tampered-protected-header.cose",
        "alg -8 changed to -19 after signing (both accepted, signature breaks)",
        tampered_header,
        Check::default(),
        "bad_signature",
    );
    let high_s = {
        // S + l: a malleated signature that plain verify may accept and verify_strict must not.
        let mut v = raw.clone();
        let s_at = v.len() - 32;
        add_l(&mut v[s_at..]);
        v
    };
    b.error(
        "signature-s-not-canonical.cose",
        "S replaced by S + l (signature malleability)",
        high_s,
        Check::default(),
        "bad_signature",
    );
    let unknown = b.issuer("U").issue(perpetual.clone()).unwrap_or_default();
    b.error(
        "unknown-key-id.cose",
        "signed by a key the verifier does not trust",
        unknown,
        Check::default(),
        "unknown_key_id",
    );
    b.error(
        "valid-but-key-not-trusted.cose",
        "signed by B, only A trusted",
        b.issuer("B").issue(perpetual.clone()).unwrap_or_default(),
        Check {
            trusted: &["A"],
            ..Check::default()
        },
        "unknown_key_id",
    );
    b.error(
        "wrong-type-revocation-list.cose",
        "license claims signed with typ airseal-revocations",
        a.sign(ObjectType::RevocationList, &payload),
        Check::default(),
        "wrong_type",
    );
    b.error(
        "wrong-type-unknown.cose",
        "typ \"x-other\"",
        sign_raw(
            &b.key("A").key,
            &protected_with(-8, &b.key("A").kid(), "x-other"),
            &payload,
        ),
        Check::default(),
        "wrong_type",
    );

    // ---- more decoder rules ---------------------------------------------------------------
    let reserved = with_claim(
        &payload,
        enc(|w| {
            w.uint(4);
        }),
        vec![0x1c],
    );
    b.malformed(
        "claims-reserved-additional-info.cose",
        "exp head uses reserved additional info 28",
        signed(&reserved),
        "claims.exp",
        "reserved_additional_info",
    );
    let undefined = with_claim(
        &payload,
        enc(|w| {
            w.uint(1);
        }),
        vec![0xf7],
    );
    b.malformed(
        "claims-undefined-value.cose",
        "iss is the simple value undefined",
        signed(&undefined),
        "claims.iss",
        "unsupported_simple_value",
    );
    let deep = with_claim(
        &payload,
        enc(|w| {
            w.int(-70_000);
        }),
        {
            let mut v = vec![0x81u8; 20];
            v.push(0);
            v
        },
    );
    b.malformed(
        "claims-extension-too-deep.cose",
        "an extension value nested 20 arrays deep",
        signed(&deep),
        "claims (extension)",
        "too_deep",
    );
    let huge = with_claim(
        &payload,
        enc(|w| {
            w.uint(6);
        }),
        vec![0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    b.malformed(
        "claims-iat-out-of-range.cose",
        "iat = -2^64, outside a signed 64-bit integer",
        signed(&huge),
        "claims.iat",
        "integer_out_of_range",
    );
    for (label, name, ctx) in [
        (1u64, "alg", "protected header alg"),
        (4, "kid", "protected header kid"),
        (16, "typ", "protected header typ"),
    ] {
        let header = enc(|w| {
            w.map(2);
            if label != 1 {
                w.uint(1).int(-8);
            }
            if label != 4 {
                w.uint(4).bytes(&b.key("A").kid().0);
            }
            if label != 16 {
                w.uint(16).text("airseal-license");
            }
        });
        b.malformed(
            &format!("protected-missing-{name}.cose"),
            &format!("protected header without {name}"),
            sign_raw(&b.key("A").key, &header, &payload),
            ctx,
            "missing_field",
        );
    }
    let cti0 = with_claim(
        &payload,
        enc(|w| {
            w.uint(7);
        }),
        enc(|w| {
            w.bytes(&[]);
        }),
    );
    b.malformed(
        "claims-cti-empty.cose",
        "cti of 0 bytes",
        signed(&cti0),
        "claims.cti",
        "invalid_value",
    );
    let cti33 = with_claim(
        &payload,
        enc(|w| {
            w.uint(7);
        }),
        enc(|w| {
            w.bytes(&[7; 33]);
        }),
    );
    b.malformed(
        "claims-cti-33-bytes.cose",
        "cti of 33 bytes",
        signed(&cti33),
        "claims.cti",
        "invalid_value",
    );
    let exp_unset = with_private(
        &payload,
        6,
        enc(|w| {
            w.map(1).uint(2).int(NOW);
        }),
    );
    b.malformed(
        "claims-expiry-for-unset-feature-bit.cose",
        "expiry for F2, which is not granted",
        signed(&exp_unset),
        "claims.airseal.feature_bit_expiry",
        "invalid_value",
    );
    let named_f1 = with_private(
        &payload,
        7,
        enc(|w| {
            w.map(1).text("F1").null();
        }),
    );
    b.malformed(
        "claims-named-feature-f1.cose",
        "a named feature called F1",
        signed(&named_f1),
        "claims.airseal.features",
        "invalid_value",
    );
    let empty_meta = with_private(
        &payload,
        14,
        enc(|w| {
            w.map(0);
        }),
    );
    b.malformed(
        "claims-metadata-empty.cose",
        "an empty metadata map (must be omitted)",
        signed(&empty_meta),
        "claims.airseal.metadata",
        "invalid_value",
    );
    let kind3 = with_private(
        &payload,
        0,
        enc(|w| {
            w.uint(3);
        }),
    );
    b.malformed(
        "claims-unknown-kind.cose",
        "license kind 3",
        signed(&kind3),
        "claims.airseal.kind",
        "invalid_value",
    );
    let trailing_bits = {
        // 178 raw bytes → base64 ends in "==": give the last symbol non-zero unused bits.
        let body = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        let at = body.rfind("==").unwrap_or(0) - 1;
        let c = body.as_bytes()[at];
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let v = B64.iter().position(|x| *x == c).unwrap_or(0) | 1;
        let mut bytes = body.into_bytes();
        bytes[at] = B64[v];
        let body = String::from_utf8(bytes).unwrap_or_default();
        format!("-----BEGIN AIRSEAL LICENSE-----\n{body}\n-----END AIRSEAL LICENSE-----\n")
    };
    b.malformed(
        "armor-trailing-bits.lic",
        "base64 whose last symbol has non-zero unused bits",
        trailing_bits.into_bytes(),
        "armor",
        "invalid_value",
    );
    b.malformed(
        "not-airseal-text.txt",
        "a text file with no armor block",
        b"Dear customer,\nyour license key is 7K3QD-M2XRP-9FTWB-4HCNV.\n".to_vec(),
        "armor",
        "invalid_value",
    );
    b.error("signature-r-small-order.cose", "R is the identity point and S = k*a: passes the cofactorless equation, refused by verify_strict (small-order R)",
        small_order_r(&b.key("A").key, &raw), Check::default(), "bad_signature");

    // ---- policy --------------------------------------------------------------------------
    b.error(
        "wrong-product.cose",
        "valid license verified for another product",
        raw.clone(),
        Check {
            product: "video-pro",
            ..Check::default()
        },
        "wrong_product",
    );
    b.error(
        "expired.cose",
        "verified at exactly exp (exp is exclusive)",
        sign(&expiring),
        Check {
            now: IAT + 365 * DAY,
            ..Check::default()
        },
        "expired",
    );
    b.error(
        "expired-after-grace.cose",
        "verified at exactly exp + grace period (exclusive)",
        sign(&grace),
        Check {
            now: NOW + 6 * DAY,
            ..Check::default()
        },
        "expired",
    );
    let mut future = base_claims();
    future.not_before = Some(NOW + 3600);
    b.error(
        "not-yet-valid.cose",
        "nbf an hour after now",
        sign(&future),
        Check::default(),
        "not_yet_valid",
    );
    b.error(
        "issued-in-the-future.cose",
        "iat after now, no nbf",
        sign(&perpetual),
        Check {
            now: IAT - 1,
            ..Check::default()
        },
        "not_yet_valid",
    );
    b.error(
        "wrong-machine.cose",
        "node-locked license on a machine with one of three components",
        typical_bytes.clone(),
        Check {
            machine: Some(vec![[1u8; 8], [8u8; 8]]),
            ..Check::default()
        },
        "wrong_machine",
    );
    b.error(
        "wrong-machine-repeated-component.cose",
        "node-locked license (2 of 3) on a machine reporting its one matching component three \
         times: matches count distinct components",
        typical_bytes.clone(),
        Check {
            machine: Some(vec![[1u8; 8], [1u8; 8], [1u8; 8]]),
            ..Check::default()
        },
        "wrong_machine",
    );
    b.error(
        "machine-not-given.cose",
        "node-locked license verified without a machine",
        typical_bytes,
        Check::default(),
        "wrong_machine",
    );
    activation_responses(&mut b, &a);
    boundaries::boundary_cases(&mut b, &a);

    b.cases
}

/// The public half of the device key of the activation-response vectors (seed `d1` × 32).
pub fn device_public_key() -> [u8; 32] {
    SigningKey::from_bytes(&[0xd1; 32])
        .verifying_key()
        .to_bytes()
}

/// Damaged QR text forms of the activation response: each breaks one rule of strict Base45
/// decoding (SPEC.md §5.1), and must be refused before any CBOR is read.
fn qr_text_hostile(b: &mut Builder, qr: &str) {
    let body = qr.strip_prefix(QR_PREFIX).unwrap_or_default();
    let mut case = |file: &str, description: &str, body: String| {
        b.malformed(
            file,
            description,
            format!("{QR_PREFIX}{body}\n").into_bytes(),
            "armor",
            "invalid_value",
        );
    };
    case(
        "qr-text-lower-case.txt",
        "QR text with its Base45 in lower case (RFC 9285 is upper case only)",
        body.to_ascii_lowercase(),
    );
    case(
        "qr-text-group-over-65535.txt",
        "QR text whose first Base45 triple is GGW (65536)",
        format!("GGW{}", body.get(3..).unwrap_or_default()),
    );
    // The body cut to whole triples, so the damaged ending is the only fault.
    let whole = body.get(..body.len() - body.len() % 3).unwrap_or_default();
    case(
        "qr-text-pair-over-255.txt",
        "QR text ending in the Base45 pair V5 (256)",
        format!("{whole}V5"),
    );
    case(
        "qr-text-trailing-character.txt",
        "QR text whose Base45 ends in a single character (length 3n + 1)",
        format!("{whole}0"),
    );
}

/// Activation responses (SPEC.md §15.3): licenses of type `airseal-activation` that echo a
/// request nonce and are bound to the requesting device's key.
/// The claims of the activation-response vectors: the typical node-locked license bound to
/// device key `D` (seed `d1` × 32), echoing request nonce `4e` × 16. The renewal vectors
/// install it and renew it.
pub fn installed_response() -> LicenseClaims {
    let mut response = typical_node_locked();
    response.request_nonce = Some([0x4e; 16]);
    if let Some(m) = response.machine.as_mut() {
        m.device_key = Some(KeyId::of_public_key(&device_public_key()).0);
    }
    response
}

fn activation_responses(b: &mut Builder, a: &Issuer) {
    let device = device_public_key();
    let response = installed_response();
    let bytes = a
        .issue_activation_response(response.clone())
        .unwrap_or_default();
    let here = Some(vec![[1u8; 8], [2u8; 8], [3u8; 8]]);
    b.valid(
        "activation-response.cose",
        "activation response: node-locked, bound to the device key, echoing the request nonce",
        bytes.clone(),
        &response,
        Check {
            machine: here.clone(),
            device: Some(device),
            ..Check::default()
        },
        "valid",
    );
    b.valid(
        "activation-response-armored.txt",
        "the same response, armored as AIRSEAL ACTIVATION RESPONSE",
        armor(ObjectType::ActivationResponse.armor_label(), &bytes).into_bytes(),
        &response,
        Check {
            machine: here.clone(),
            device: Some(device),
            ..Check::default()
        },
        "valid",
    );
    // The QR text form (SPEC.md §5.1): what a phone shows after scanning `airseal activate
    // --qr`, saved as a file with a final newline.
    let qr = qr_text(&bytes);
    b.valid(
        "activation-response-qr.txt",
        "the same response in the QR text form: AIRSEAL: and the Base45 (RFC 9285) of the bytes",
        format!("{qr}\n").into_bytes(),
        &response,
        Check {
            machine: here.clone(),
            device: Some(device),
            ..Check::default()
        },
        "valid",
    );
    qr_text_hostile(b, &qr);
    b.error(
        "activation-response-other-device.cose",
        "the response verified on a machine whose device key is another (copied license)",
        bytes,
        Check {
            machine: here,
            device: Some(TestKey::new("device-2", 0xd2).public()),
            ..Check::default()
        },
        "wrong_device",
    );
    let mut no_nonce = response.clone();
    no_nonce.request_nonce = None;
    b.malformed(
        "activation-response-without-nonce.cose",
        "typ airseal-activation without a request nonce",
        a.sign(ObjectType::ActivationResponse, &no_nonce.encode()),
        "claims",
        "invalid_value",
    );
    let mut unbound = response.clone();
    if let Some(m) = unbound.machine.as_mut() {
        m.device_key = None;
    }
    b.malformed(
        "activation-response-without-device-key.cose",
        "typ airseal-activation whose machine binding has no device key",
        a.sign(ObjectType::ActivationResponse, &unbound.encode()),
        "claims",
        "invalid_value",
    );
    b.malformed(
        "license-with-request-nonce.cose",
        "typ airseal-license carrying a request nonce (only responses may)",
        a.sign(ObjectType::License, &response.encode()),
        "claims",
        "invalid_value",
    );
    let short = with_private(
        &response.encode(),
        15,
        enc(|w| {
            w.bytes(&[0x4e; 15]);
        }),
    );
    b.malformed(
        "activation-response-short-nonce.cose",
        "request nonce of 15 bytes",
        a.sign(ObjectType::ActivationResponse, &short),
        "claims.airseal.request_nonce",
        "invalid_value",
    );
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Rewrites the alg in a signed license's protected header from -8 (0x27) to -19 (0x32),
/// keeping the old signature.
fn swap_alg(raw: &[u8]) -> Vec<u8> {
    let mut v = raw.to_vec();
    // Protected header starts at byte 3 (tag, array, bstr head): map head, then 01 27.
    if let Some(at) = find(&v, &[0x01, 0x27]) {
        v[at + 1] = 0x32;
    }
    v
}

/// Re-signs `raw` (a license signed by `key`) with R = identity and S = k·a mod ℓ, so that
/// [S]B = R + [k]A holds: accepted by a non-strict verifier, refused by `verify_strict`.
fn small_order_r(key: &SigningKey, raw: &[u8]) -> Vec<u8> {
    let mut identity = [0u8; 32];
    identity[0] = 1; // the point (0, 1)
    boundaries::with_r(key, raw, identity)
}

/// Adds the group order l to a 32-byte little-endian scalar, in place.
fn add_l(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}

/// The whole manifest.
pub fn manifest(cases: &[Case]) -> Value {
    let keys: Vec<Value> = keys()
        .iter()
        .map(|k| json!({"name": k.name, "seed": hex(&k.key.to_bytes()), "public_key": hex(&k.public()), "kid": k.kid().to_string()}))
        .collect();
    json!({
        "format": "airseal-license-vectors",
        "version": 1,
        "keys": keys,
        "cases": cases.iter().map(|c| c.entry.clone()).collect::<Vec<_>>(),
    })
}

/// The README example's public key file and license.
pub fn doc_example() -> (String, String) {
    let k = &keys()[0];
    let mut c = base_claims();
    c.features.bits = 1;
    let bytes = Issuer::new(k.key.clone()).issue(c).unwrap_or_default();
    (
        airseal_core::pubkey::encode_public_key(&k.public()),
        armor(ObjectType::License.armor_label(), &bytes),
    )
}

/// Product key vectors (`vectors/keys.json`): patterns and keys with their expected reading,
/// data keys with their fields and MAC key, and signed keys with their verifying key.
pub fn key_vectors() -> Value {
    use airseal_core::productkey::{DataKeyFields, KEY_EPOCH, Pattern};
    use airseal_vendor::keys::{DataKeySpec, KeyGenerator, data_key_mac_key, seeded_rng};

    let mut cases = Vec::new();
    for (pattern_text, seed) in [
        ("XXXXX-XXXXX-XXXXX-XXXXX", 1u64),
        ("ACME-XXXX-XXXX-XXXX-XXXX", 2),
        ("XXXXXX-XXXXXX-XXXXXX-XXXXXX", 3),
    ] {
        let Ok(pattern) = Pattern::parse(pattern_text) else {
            continue;
        };
        let Ok(mut generator) = KeyGenerator::random(pattern.clone(), 64, seeded_rng(seed)) else {
            continue;
        };
        for i in 0..3 {
            let canonical = generator.next_key();
            let shown = pattern.display(&canonical);
            cases.push(json!({"pattern": pattern_text, "input": shown, "expected": "valid", "canonical": canonical}));
            if i == 0 {
                // Typo tolerance: lower case and O/I/L look-alikes read as the same key.
                let sloppy = shown.to_lowercase().replace('0', "o").replace('1', "l");
                cases.push(json!({"pattern": pattern_text, "input": sloppy, "expected": "valid", "canonical": canonical}));
                // One symbol changed, and two adjacent symbols swapped: typos.
                let mut changed = canonical.clone().into_bytes();
                let at = changed.len() - 3;
                changed[at] = if changed[at] == b'7' { b'8' } else { b'7' };
                cases.push(json!({"pattern": pattern_text, "input": String::from_utf8_lossy(&changed), "expected": "typo"}));
                let mut swapped = canonical.clone().into_bytes();
                if let Some(j) = (0..swapped.len() - 1).rev().find(|j| {
                    swapped[*j] != swapped[j + 1] && pattern_text.as_bytes().get(*j) == Some(&b'X')
                }) {
                    swapped.swap(j, j + 1);
                    cases.push(json!({"pattern": pattern_text, "input": String::from_utf8_lossy(&swapped), "expected": "typo"}));
                }
                cases.push(json!({"pattern": pattern_text, "input": &shown[..shown.len() - 1], "expected": "malformed", "reason": "wrong_length"}));
                cases.push(json!({"pattern": pattern_text, "input": shown.replacen(|c: char| c.is_ascii_alphanumeric(), "U", 1), "expected": "malformed", "reason": "invalid_character"}));
            }
        }
    }

    let key_a = &keys()[0];
    let mac_key = data_key_mac_key(&key_a.key.to_bytes());
    let mut data = Vec::new();
    let Ok(pattern) = Pattern::parse("XXXXX-XXXXX-XXXXX-XXXXX") else {
        return Value::Null;
    };
    for (features, days, seed) in [(0b101u8, 365u16, 11u64), (0xff, 0, 12), (0, 4095, 13)] {
        let spec = DataKeySpec {
            product: PRODUCT.into(),
            features,
            days,
            created: NOW,
            mac_key,
        };
        let Ok(mut g) = KeyGenerator::data(pattern.clone(), spec, seeded_rng(seed)) else {
            continue;
        };
        let canonical = g.next_key();
        let info =
            airseal_vendor::keys::decode_data_key(&pattern, &canonical, PRODUCT, Some(&mac_key));
        let f: DataKeyFields = info.fields;
        data.push(json!({"pattern": pattern.as_str(), "key": pattern.display(&canonical), "product": PRODUCT,
            "features": f.features, "days": f.days, "created_day": f.created_day, "created": f.created_at(),
            "product_tag": f.product_tag, "serial": f.serial, "mac_valid": info.mac_valid}));
    }

    let issuer = Issuer::new(key_a.key.clone());
    let signed: Vec<Value> = [(0b101u8, 365u16, 0x1234_5678u32), (0, 0, 1)]
        .into_iter()
        .map(|(features, days, serial)| {
            let key = airseal_vendor::signedkey::sign_key(&issuer, PRODUCT, features, days, NOW, serial);
            json!({"key": key, "product": PRODUCT, "public_key": hex(&key_a.public()), "features": features,
                   "days": days, "created": NOW - NOW.rem_euclid(86_400), "serial": serial, "now": NOW, "expected": "valid"})
        })
        .collect();

    json!({
        "format": "airseal-key-vectors",
        "version": 1,
        "epoch": KEY_EPOCH,
        "data_key_mac_key": hex(&mac_key),
        "keys": cases,
        "data_keys": data,
        "signed_keys": signed,
    })
}
