//! Boundary cases (`SPEC.md` §2.3, §2.4, §3.1, §4, §6): the edges two verifiers written
//! from the text alone could place differently — nesting depth, integer ranges and overflow
//! in the time arithmetic, text map keys, repeated component hashes, when `alg` is checked,
//! non-canonical and small-order points, the order of `iat`/`nbf`/`exp`, empty `iss`/`sub`/
//! `aud`. One case each, every file name starting with `boundary-`.

use airseal_core::LicenseClaims;
use airseal_core::cose::{self, ObjectType};
use airseal_vendor::issue::Issuer;
use ed25519_dalek::SigningKey;
use serde_json::json;

use super::{
    Builder, Check, DAY, IAT, NOW, base_claims, enc, entries, map_of, protected_with, sign_raw,
    with_claim, with_private,
};

/// The small-order points of edwards25519 that §3.1 lists, in their canonical encodings.
const ORDER_8: &str = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";
/// `y = p + 1`: a non-canonical encoding of the identity (`y ≡ 1`).
const IDENTITY_NON_CANONICAL: &str =
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
/// `y = p + 3`: a non-canonical encoding of a curve point that is not of small order.
const NON_CANONICAL_POINT: &str =
    "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
/// `y = 2`: a canonical field element that is no curve point's `y`.
const NOT_A_POINT: &str = "0200000000000000000000000000000000000000000000000000000000000000";

fn bytes32(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(v) = hex::decode(h) {
        if v.len() == 32 {
            out.copy_from_slice(&v);
        }
    }
    out
}

/// `depth` arrays of one element nested around `inner`.
fn nested(depth: usize, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![0x81u8; depth];
    v.extend_from_slice(inner);
    v
}

fn key(k: i64) -> Vec<u8> {
    enc(|w| {
        w.int(k);
    })
}

/// A head with an 8-byte argument: `major` (0 or 1) and `arg`, for integers past `i64`.
fn wide_int(major: u8, arg: u64) -> Vec<u8> {
    let mut v = vec![major << 5 | 27];
    v.extend_from_slice(&arg.to_be_bytes());
    v
}

/// Every boundary case, appended to the license manifest.
pub(crate) fn boundary_cases(b: &mut Builder, a: &Issuer) {
    depth(b, a);
    integers(b, a);
    time_arithmetic(b, a);
    map_keys(b, a);
    alg_first(b);
    points(b, a);
    ordering(b, a);
    empty_text(b, a);
}

fn valid(b: &mut Builder, a: &Issuer, file: &str, description: &str, claims: &LicenseClaims) {
    valid_at(b, a, file, description, claims, Check::default(), "valid");
}

fn valid_at(
    b: &mut Builder,
    a: &Issuer,
    file: &str,
    description: &str,
    claims: &LicenseClaims,
    check: Check<'_>,
    status: &str,
) {
    let bytes = a.sign(ObjectType::License, &claims.encode());
    b.valid(file, description, bytes, claims, check, status);
}

/// §2.4: the extension value is depth 0; an item at depth 16 passes, at 17 is too deep.
fn depth(b: &mut Builder, a: &Issuer) {
    let mut c = base_claims();
    c.extensions = vec![(-70_000, nested(16, &[0x00]))];
    valid(
        b,
        a,
        "boundary-extension-depth-16.cose",
        "extension value of 16 nested arrays around an integer: the integer is at depth 16",
        &c,
    );
    let mut c = base_claims();
    c.extensions = vec![(-70_000, nested(16, &[0x80]))];
    valid(
        b,
        a,
        "boundary-extension-17-arrays-innermost-empty.cose",
        "17 nested arrays, the innermost empty: the deepest item is that array, at depth 16",
        &c,
    );
    let payload = base_claims().encode();
    b.malformed(
        "boundary-extension-depth-17.cose",
        "extension value of 17 nested arrays around an integer: the integer is at depth 17",
        a.sign(
            ObjectType::License,
            &with_claim(&payload, key(-70_000), nested(17, &[0x00])),
        ),
        "claims (extension)",
        "too_deep",
    );
    let mut tags = vec![0xc6u8; 17]; // tag 6, seventeen times
    tags.push(0x00);
    b.malformed(
        "boundary-extension-depth-17-tags.cose",
        "extension value of 17 nested tags around an integer: tags count like arrays",
        a.sign(
            ObjectType::License,
            &with_claim(&payload, key(-70_000), tags),
        ),
        "claims (extension)",
        "too_deep",
    );
    b.malformed(
        "boundary-airseal-extension-depth-17.cose",
        "extension -1 of the airseal map, 17 nested arrays around an integer",
        a.sign(
            ObjectType::License,
            &with_airseal_ext(&payload, nested(17, &[0x00])),
        ),
        "claims.airseal (extension)",
        "too_deep",
    );
}

/// Adds airseal extension -1 (key `0x20`) with `value`.
fn with_airseal_ext(payload: &[u8], value: Vec<u8>) -> Vec<u8> {
    let akey = key(airseal_core::claims::AIRSEAL_CLAIMS_KEY);
    let mut top = entries(payload);
    for (k, v) in &mut top {
        if *k == akey {
            *v = with_claim(v, key(-1), value.clone());
        }
    }
    map_of(&top)
}

/// §2.3: each integer field at the edges of its type, and its own rule's edges.
fn integers(b: &mut Builder, a: &Issuer) {
    let payload = base_claims().encode();
    let signed = |p: &[u8]| a.sign(ObjectType::License, p);

    let mut c = base_claims();
    c.expires_at = Some(i64::MAX);
    valid(
        b,
        a,
        "boundary-exp-max.cose",
        "exp = 2^63 - 1, the largest int",
        &c,
    );
    b.malformed(
        "boundary-exp-2-63.cose",
        "exp = 2^63 (0x1b 8000000000000000): past int's range",
        signed(&with_claim(&payload, key(4), wide_int(0, 1 << 63))),
        "claims.exp",
        "integer_out_of_range",
    );
    let mut c = base_claims();
    c.issued_at = i64::MIN;
    valid(
        b,
        a,
        "boundary-iat-min.cose",
        "iat = -2^63, the smallest int",
        &c,
    );
    b.malformed(
        "boundary-nbf-below-min.cose",
        "nbf = -2^63 - 1 (0x3b 8000000000000000): past int's range",
        signed(&with_claim(&payload, key(5), wide_int(1, 1 << 63))),
        "claims.nbf",
        "integer_out_of_range",
    );
    b.malformed(
        "boundary-grace-negative.cose",
        "grace period -1: a uint field holding a negative integer",
        signed(&with_private(&payload, 12, vec![0x20])),
        "claims.airseal.grace_period",
        "unexpected_type",
    );
    let mut c = base_claims();
    c.features.bits = 0xff;
    valid(
        b,
        a,
        "boundary-feature-bits-255.cose",
        "feature bits 255: all of F1..F8",
        &c,
    );
    b.malformed(
        "boundary-feature-bits-256.cose",
        "feature bits 256: a uint, past the field's 1..255",
        signed(&with_private(
            &payload,
            5,
            enc(|w| {
                w.uint(256);
            }),
        )),
        "claims.airseal.feature_bits",
        "invalid_value",
    );
    b.malformed(
        "boundary-machine-threshold-256.cose",
        "machine binding threshold 256 (a uint past the field's range) with one component",
        signed(&with_private(
            &payload,
            10,
            enc(|w| {
                w.map(2).uint(1).uint(256).uint(2).array(1).bytes(&[1; 8]);
            }),
        )),
        "claims.airseal.machine",
        "invalid_value",
    );
    let mut c = base_claims();
    c.max_activations = Some(airseal_core::Limit::AtMost(u64::MAX));
    c.max_deactivations = Some(airseal_core::Limit::AtMost(0));
    valid(
        b,
        a,
        "boundary-activation-limits.cose",
        "max activations 2^64 - 1 and max deactivations 0: both in range",
        &c,
    );
    let mut c = base_claims();
    c.metadata = vec![("low".into(), airseal_core::MetaValue::Int(i64::MIN))];
    valid(
        b,
        a,
        "boundary-metadata-int-min.cose",
        "a metadata integer of -2^63",
        &c,
    );
    let mut below = enc(|w| {
        w.map(1).text("low");
    });
    below.extend(wide_int(1, 1 << 63));
    b.malformed(
        "boundary-metadata-int-below-min.cose",
        "a metadata integer of -2^63 - 1",
        signed(&with_private(&payload, 14, below)),
        "claims.airseal.metadata",
        "integer_out_of_range",
    );
    let mut p = payload.clone();
    // Key -2^64 sorts after every other key (its head 0x3b is the largest); value 0.
    let mut e = entries(&p);
    e.push((wide_int(1, u64::MAX), vec![0x00]));
    p = map_of(&e);
    b.malformed(
        "boundary-claim-key-below-min.cose",
        "a claims map key of -2^64: not an int",
        signed(&p),
        "claims",
        "integer_out_of_range",
    );
}

/// §6 steps 9 and 10: `nbf − clock_offset` and `exp + grace` are computed without overflow.
fn time_arithmetic(b: &mut Builder, a: &Issuer) {
    let mut c = base_claims();
    c.kind = airseal_core::LicenseKind::Subscription;
    c.expires_at = Some(i64::MIN);
    c.grace_period = Some(u64::MAX);
    valid_at(
        b,
        a,
        "boundary-exp-plus-grace-no-wrap.cose",
        "exp = -2^63, grace 2^64 - 1: the end is exactly 2^63 - 1; in grace at 2^63 - 2",
        &c,
        Check {
            now: i64::MAX - 1,
            ..Check::default()
        },
        "in_grace",
    );
    let mut c = base_claims();
    c.kind = airseal_core::LicenseKind::Subscription;
    c.expires_at = Some(i64::MAX - 1);
    c.grace_period = Some(10);
    valid_at(
        b,
        a,
        "boundary-exp-plus-grace-past-end-of-time.cose",
        "exp = 2^63 - 2, grace 10: the end is past 2^63 - 1, so at now = 2^63 - 1 still in grace",
        &c,
        Check {
            now: i64::MAX,
            ..Check::default()
        },
        "in_grace",
    );
    let mut c = base_claims();
    c.not_before = Some(i64::MAX);
    c.clock_offset = Some(u64::MAX);
    valid_at(
        b,
        a,
        "boundary-nbf-minus-offset-no-wrap.cose",
        "nbf = 2^63 - 1, clock offset 2^64 - 1: valid from -2^63, so valid at now = -1",
        &c,
        Check {
            now: -1,
            ..Check::default()
        },
        "valid",
    );
    let mut c = base_claims();
    c.not_before = Some(i64::MIN);
    c.clock_offset = Some(1);
    valid_at(
        b,
        a,
        "boundary-nbf-minus-offset-below-min.cose",
        "nbf = -2^63, clock offset 1: valid from below -2^63, so valid at now = -2^63",
        &c,
        Check {
            now: i64::MIN,
            ..Check::default()
        },
        "valid",
    );
}

/// §2.3: text keys only in named features and metadata (and opaque extension values).
fn map_keys(b: &mut Builder, a: &Issuer) {
    let payload = base_claims().encode();
    let signed = |p: &[u8]| a.sign(ObjectType::License, p);
    let text = |s: &str| {
        enc(|w| {
            w.text(s);
        })
    };
    let mut e = entries(&payload);
    e.push((text("iss"), text("acme")));
    b.malformed(
        "boundary-text-key-in-claims.cose",
        "a text key \"iss\" in the claims map (after the integer keys)",
        signed(&map_of(&e)),
        "claims",
        "unexpected_type",
    );
    let akey = key(airseal_core::claims::AIRSEAL_CLAIMS_KEY);
    let mut top = entries(&payload);
    for (k, v) in &mut top {
        if *k == akey {
            let mut inner = entries(v);
            inner.push((
                text("kind"),
                enc(|w| {
                    w.uint(0);
                }),
            ));
            *v = map_of(&inner);
        }
    }
    b.malformed(
        "boundary-text-key-in-airseal.cose",
        "a text key \"kind\" in the airseal map",
        signed(&map_of(&top)),
        "claims.airseal",
        "unexpected_type",
    );
    let machine = enc(|w| {
        w.map(3)
            .uint(1)
            .uint(1)
            .uint(2)
            .array(1)
            .bytes(&[1; 8])
            .text("x")
            .uint(0);
    });
    b.malformed(
        "boundary-text-key-in-machine.cose",
        "a text key in the machine binding",
        signed(&with_private(&payload, 10, machine)),
        "claims.airseal.machine",
        "unexpected_type",
    );
    let meta = enc(|w| {
        w.map(1).uint(1).text("x");
    });
    b.malformed(
        "boundary-integer-key-in-metadata.cose",
        "an integer key in the metadata map (keys are names)",
        signed(&with_private(&payload, 14, meta)),
        "claims.airseal.metadata",
        "unexpected_type",
    );
    let header = enc(|w| {
        w.map(4)
            .uint(1)
            .int(-8)
            .uint(4)
            .bytes(&b.key("A").kid().0)
            .uint(16)
            .text("airseal-license")
            .text("x")
            .uint(0);
    });
    b.malformed(
        "boundary-text-key-in-protected-header.cose",
        "a text label in the protected header",
        sign_raw(&b.key("A").key, &header, &payload),
        "protected header",
        "unexpected_type",
    );
    let mut c = base_claims();
    c.extensions = vec![(
        -70_000,
        enc(|w| {
            w.map(2).text("a").uint(1).text("bb").array(0);
        }),
    )];
    valid(
        b,
        a,
        "boundary-text-keys-in-extension.cose",
        "an extension value that is a map with text keys: opaque, accepted",
        &c,
    );
    b.malformed(
        "boundary-machine-duplicate-not-adjacent.cose",
        "machine binding components [h1, h2, h1], threshold 1: a repeated hash, not adjacent",
        signed(&with_private(
            &payload,
            10,
            enc(|w| {
                w.map(2)
                    .uint(1)
                    .uint(1)
                    .uint(2)
                    .array(3)
                    .bytes(&[1; 8])
                    .bytes(&[2; 8])
                    .bytes(&[1; 8]);
            }),
        )),
        "claims.airseal.machine",
        "invalid_value",
    );
}

/// §3.1: `alg` is checked once the protected header is decoded, before the rest of the
/// envelope: a header error wins over a bad `alg`, a bad `alg` over what follows the header.
fn alg_first(b: &mut Builder) {
    let signer = b.key("A").key.clone();
    let kid = b.key("A").kid();
    let payload = base_claims().encode();
    let es256 = protected_with(-7, &kid, "airseal-license");
    let sig = [0u8; 64];
    let unprotected = enc(|w| {
        w.tag(18)
            .array(4)
            .bytes(&es256)
            .map(1)
            .uint(4)
            .bytes(&kid.0)
            .bytes(&payload)
            .bytes(&sig);
    });
    b.error(
        "boundary-alg-es256-unprotected-not-empty.cose",
        "alg -7 and a non-empty unprotected header: alg is checked first",
        unprotected,
        Check::default(),
        "unsupported_algorithm",
    );
    let mut trailing = sign_raw(&signer, &es256, &payload);
    trailing.push(0);
    b.error(
        "boundary-alg-es256-trailing-byte.cose",
        "alg -7 and a byte after the envelope: alg is checked first",
        trailing,
        Check::default(),
        "unsupported_algorithm",
    );
    let short_kid = enc(|w| {
        w.map(3)
            .uint(1)
            .int(-7)
            .uint(4)
            .bytes(&kid.0[..4])
            .uint(16)
            .text("airseal-license");
    });
    b.malformed(
        "boundary-alg-es256-kid-4-bytes.cose",
        "alg -7 and a 4-byte kid in the same header: the header must decode before alg is read",
        sign_raw(&signer, &short_kid, &payload),
        "protected header kid",
        "invalid_value",
    );
}

/// §3.1: small-order and non-canonical points, as `R` and as a trusted public key.
fn points(b: &mut Builder, a: &Issuer) {
    let raw = a.sign(ObjectType::License, &base_claims().encode());
    let signer = b.key("A").key.clone();
    b.error(
        "boundary-signature-r-non-canonical.cose",
        "R = the identity written as y = p + 1 (non-canonical), S = k*a: a verifier that \
         reduces y mod p accepts it, verify_strict refuses it",
        with_r(&signer, &raw, bytes32(IDENTITY_NON_CANONICAL)),
        Check::default(),
        "bad_signature",
    );
    b.error(
        "boundary-signature-r-order-8.cose",
        "R a point of order 8, S = k*a: passes the cofactored equation, refused by verify_strict",
        with_r(&signer, &raw, bytes32(ORDER_8)),
        Check::default(),
        "bad_signature",
    );
    for (file, description, public) in [
        (
            "boundary-public-key-order-8.cose",
            "the trusted public key is a point of order 8",
            ORDER_8,
        ),
        (
            "boundary-public-key-non-canonical.cose",
            "the trusted public key is y = p + 3, a non-canonical encoding of a point not of \
             small order",
            NON_CANONICAL_POINT,
        ),
        (
            "boundary-public-key-not-a-point.cose",
            "the trusted public key is y = 2, which is no curve point",
            NOT_A_POINT,
        ),
    ] {
        b.error(
            file,
            description,
            raw.clone(),
            Check::default(),
            "invalid_public_key",
        );
        if let Some(case) = b.cases.last_mut() {
            case.entry["trusted_public_keys"] = json!([public]);
        }
    }
}

/// Re-signs `raw` (signed by `key`) with the given `R` bytes and `S = k·a mod ℓ`, where `k`
/// is hashed over those bytes: [S]B = [k]A, so the equation holds exactly when `R` counts
/// as the identity (or vanishes under the cofactor).
pub(crate) fn with_r(key: &SigningKey, raw: &[u8], r: [u8; 32]) -> Vec<u8> {
    use curve25519_dalek::Scalar;
    use sha2::{Digest, Sha512};
    let Ok(s) = cose::parse_sign1(raw) else {
        return Vec::new();
    };
    let message = cose::sig_structure(s.protected, s.payload);
    let public = key.verifying_key().to_bytes();
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(public)
        .chain_update(&message)
        .finalize()
        .into();
    let k = Scalar::from_bytes_mod_order_wide(&digest);
    let s_scalar = k * key.to_scalar();
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice(s_scalar.as_bytes());
    cose::encode_sign1(s.protected, s.payload, &sig)
}

/// §4: no rule orders `iat`, `nbf` and `exp`; each bound is checked on its own, in §6 order.
fn ordering(b: &mut Builder, a: &Issuer) {
    let mut c = base_claims();
    c.kind = airseal_core::LicenseKind::Subscription;
    c.expires_at = Some(IAT - DAY);
    let bytes = a.sign(ObjectType::License, &c.encode());
    b.error(
        "boundary-exp-before-iat.cose",
        "exp a day before iat: it decodes (no ordering rule), and is expired at now",
        bytes,
        Check::default(),
        "expired",
    );
    let mut c = base_claims();
    c.kind = airseal_core::LicenseKind::Subscription;
    c.not_before = Some(NOW + DAY);
    c.expires_at = Some(NOW - DAY);
    let bytes = a.sign(ObjectType::License, &c.encode());
    b.error(
        "boundary-nbf-after-exp.cose",
        "nbf after exp, now between them: not_yet_valid (step 9) is checked before expired",
        bytes,
        Check::default(),
        "not_yet_valid",
    );
    let mut c = base_claims();
    c.not_before = Some(IAT - 30 * DAY);
    valid_at(
        b,
        a,
        "boundary-nbf-before-iat.cose",
        "nbf 30 days before iat, now a day before iat: nbf, not iat, is the start when present",
        &c,
        Check {
            now: IAT - DAY,
            ..Check::default()
        },
        "valid",
    );
}

/// §4: `iss`, `sub` and `aud` have no minimum length; `aud` is compared byte for byte.
fn empty_text(b: &mut Builder, a: &Issuer) {
    let mut c = base_claims();
    c.issuer = String::new();
    valid(
        b,
        a,
        "boundary-empty-iss.cose",
        "iss is the empty string",
        &c,
    );
    let mut c = base_claims();
    c.license_id = String::new();
    valid(
        b,
        a,
        "boundary-empty-sub.cose",
        "sub is the empty string",
        &c,
    );
    let mut c = base_claims();
    c.product = String::new();
    let bytes = a.sign(ObjectType::License, &c.encode());
    b.error(
        "boundary-empty-aud.cose",
        "aud is the empty string, verified for photo-pro",
        bytes,
        Check::default(),
        "wrong_product",
    );
}
