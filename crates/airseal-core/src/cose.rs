//! The COSE_Sign1 envelope (RFC 9052 §4.2) every signed airseal object travels in.
//!
//! `SPEC.md` §3. The protected header holds exactly three parameters — `alg` (1), `kid` (4)
//! and `typ` (16, RFC 9596) — or, for an object signed by a certified issuing key, `alg`,
//! `typ` and the certificate (−65537, §18.2) in place of `kid`. The unprotected header is
//! empty, so every byte that influences verification is covered by the signature. The signature covers the exact
//! protected-header and payload bytes found in the input: nothing is re-serialised.

use alloc::vec::Vec;

use crate::cbor::{DecodeError, DecodeErrorKind, KeyOrder, Reader, Writer};
use crate::kid::KeyId;

/// CBOR tag for COSE_Sign1 (RFC 9052 §2).
pub const COSE_SIGN1_TAG: u64 = 18;
/// COSE `alg` value for EdDSA (RFC 9053 §2.2); what airseal writes.
pub const ALG_EDDSA: i64 = -8;
/// COSE `alg` value for Ed25519 (RFC 9864, fully specified); accepted when reading.
pub const ALG_ED25519: i64 = -19;
/// Largest signed object airseal reads, in bytes (raw CBOR, after removing any armor).
///
/// Checked before anything is parsed or allocated; a typical license is under 300 bytes,
/// and the largest legitimate objects (revocation lists) are bounded by this.
pub const MAX_OBJECT_SIZE: usize = 64 * 1024;

const LABEL_ALG: u64 = 1;
const LABEL_KID: u64 = 4;
const LABEL_TYP: u64 = 16;
/// The certificate of the issuing key that signed the object (COSE private use, §18.2).
const LABEL_CERT: i64 = -65537;
const SIGNATURE1: &str = "Signature1";

/// What kind of airseal object a signed envelope holds: the COSE `typ` header.
///
/// Each kind has its own `typ` string, so an object signed as one kind can never be
/// accepted as another (a revocation list presented as a license, say).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// A license file (`airseal-license`).
    License,
    /// A license issued in answer to an activation request (`airseal-activation`).
    ActivationResponse,
    /// An activation request signed by a device key (`airseal-request`).
    ActivationRequest,
    /// A deactivation proof signed by a device key (`airseal-deactivation`).
    DeactivationProof,
    /// A revocation list (`airseal-revocations`).
    RevocationList,
    /// A self-verifying product key (`airseal-key`).
    SignedKey,
    /// An issuing-key certificate signed by a root key (`airseal-cert`, §18).
    Certificate,
}

impl ObjectType {
    /// Every object type, for lookups.
    pub const ALL: [ObjectType; 7] = [
        ObjectType::License,
        ObjectType::ActivationResponse,
        ObjectType::ActivationRequest,
        ObjectType::DeactivationProof,
        ObjectType::RevocationList,
        ObjectType::SignedKey,
        ObjectType::Certificate,
    ];

    /// The `typ` header value.
    pub fn typ(self) -> &'static str {
        match self {
            ObjectType::License => "airseal-license",
            ObjectType::ActivationResponse => "airseal-activation",
            ObjectType::ActivationRequest => "airseal-request",
            ObjectType::DeactivationProof => "airseal-deactivation",
            ObjectType::RevocationList => "airseal-revocations",
            ObjectType::SignedKey => "airseal-key",
            ObjectType::Certificate => "airseal-cert",
        }
    }

    /// The armor label (`-----BEGIN <label>-----`).
    pub fn armor_label(self) -> &'static str {
        match self {
            ObjectType::License => "AIRSEAL LICENSE",
            ObjectType::ActivationResponse => "AIRSEAL ACTIVATION RESPONSE",
            ObjectType::ActivationRequest => "AIRSEAL ACTIVATION REQUEST",
            ObjectType::DeactivationProof => "AIRSEAL DEACTIVATION PROOF",
            ObjectType::RevocationList => "AIRSEAL REVOCATION LIST",
            ObjectType::SignedKey => "AIRSEAL KEY",
            ObjectType::Certificate => "AIRSEAL ISSUING KEY CERTIFICATE",
        }
    }

    /// What people call it, for messages: "license", "activation request"…
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::License => "license",
            ObjectType::ActivationResponse => "activation response",
            ObjectType::ActivationRequest => "activation request",
            ObjectType::DeactivationProof => "deactivation proof",
            ObjectType::RevocationList => "revocation list",
            ObjectType::SignedKey => "signed product key",
            ObjectType::Certificate => "issuing-key certificate",
        }
    }

    /// The object type with this `typ` value, if any.
    pub fn from_typ(typ: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.typ() == typ)
    }
}

/// The decoded protected header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtectedHeader<'a> {
    /// The COSE algorithm: [`ALG_EDDSA`] or [`ALG_ED25519`] (others are rejected).
    pub alg: i64,
    /// The signing key's id: the `kid` header, or for an object carrying a certificate the
    /// id of the certificate's key.
    pub kid: KeyId,
    /// The `typ` header, as found (see [`ObjectType::from_typ`]).
    pub typ: &'a str,
    /// The issuing-key certificate the object carries (its complete COSE_Sign1 bytes), if it
    /// was signed by an issuing key rather than a root (§18.2). Already decoded once to find
    /// the key id, but not verified.
    pub cert: Option<&'a [u8]>,
}

/// The object types that may carry a certificate: what issuing keys sign, except signed
/// product keys, which are text.
pub const CHAINABLE: [ObjectType; 3] = [
    ObjectType::License,
    ObjectType::ActivationResponse,
    ObjectType::RevocationList,
];

/// A parsed, not yet verified, COSE_Sign1 object.
#[derive(Clone, Copy, Debug)]
pub struct Sign1<'a> {
    /// The protected header's serialized bytes: exactly what the signature covers.
    pub protected: &'a [u8],
    /// The decoded protected header.
    pub header: ProtectedHeader<'a>,
    /// The payload bytes (a CWT claims set for licenses).
    pub payload: &'a [u8],
    /// Offset of the payload within the input, so claim errors point into the file.
    pub payload_offset: usize,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// Envelope failures that are not malformed CBOR.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The bytes are not a well-formed airseal envelope.
    Malformed(DecodeError),
    /// The `alg` header names an algorithm other than EdDSA/Ed25519.
    UnsupportedAlgorithm(i64),
}

impl From<DecodeError> for EnvelopeError {
    fn from(e: DecodeError) -> Self {
        EnvelopeError::Malformed(e)
    }
}

impl core::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EnvelopeError::Malformed(e) => e.fmt(f),
            EnvelopeError::UnsupportedAlgorithm(alg) => {
                write!(
                    f,
                    "unsupported COSE algorithm {alg} (expected EdDSA -8 or Ed25519 -19)"
                )
            }
        }
    }
}

impl core::error::Error for EnvelopeError {}

/// Parses a tagged COSE_Sign1 with airseal's strict rules. Does not check the signature.
///
/// # Errors
/// [`EnvelopeError::Malformed`] for any structural problem (with offset and field),
/// [`EnvelopeError::UnsupportedAlgorithm`] for a well-formed header with another `alg`.
pub fn parse_sign1(input: &[u8]) -> Result<Sign1<'_>, EnvelopeError> {
    parse_sign1_at(input, 0, true)
}

/// [`parse_sign1`] for bytes found at offset `base` of a larger input; `chained` says whether
/// the protected header may carry a certificate (not inside a certificate: one level only).
fn parse_sign1_at(input: &[u8], base: usize, chained: bool) -> Result<Sign1<'_>, EnvelopeError> {
    let mut r = Reader::with_base(input, base);
    r.set_context("envelope");
    if input.len() > MAX_OBJECT_SIZE {
        return Err(r
            .error(DecodeErrorKind::TooLarge {
                limit: MAX_OBJECT_SIZE,
                size: input.len(),
            })
            .into());
    }
    let tag_at = r.position();
    if r.tag()? != COSE_SIGN1_TAG {
        return Err(r.error_at(tag_at, DecodeErrorKind::WrongTag).into());
    }
    let array_at = r.position();
    if r.array()? != 4 {
        return Err(r
            .error_at(
                array_at,
                DecodeErrorKind::InvalidValue("COSE_Sign1 must have 4 elements"),
            )
            .into());
    }
    r.set_context("protected header");
    let protected_offset = r.position();
    let protected = r.bytes()?;
    // The header's own offset is where its bytes start: after the bstr head.
    let header_base = protected_offset + (r.position() - protected_offset - protected.len());
    let header = parse_protected(protected, base + header_base, chained)?;

    r.set_context("unprotected header");
    let unprotected_at = r.position();
    if r.map()? != 0 {
        return Err(r
            .error_at(
                unprotected_at,
                DecodeErrorKind::InvalidValue("unprotected header must be empty"),
            )
            .into());
    }
    r.set_context("payload");
    let payload_head = r.position();
    let payload = r.bytes()?;
    let payload_offset = base + payload_head + (r.position() - payload_head - payload.len());
    r.set_context("signature");
    let signature = r.bytes_exact::<64>()?;
    r.set_context("envelope");
    r.finish()?;
    Ok(Sign1 {
        protected,
        header,
        payload,
        payload_offset,
        signature,
    })
}

fn parse_protected(
    bytes: &[u8],
    base: usize,
    chained: bool,
) -> Result<ProtectedHeader<'_>, EnvelopeError> {
    let mut r = Reader::with_base(bytes, base);
    r.set_context("protected header");
    let n = r.map()?;
    let (mut alg, mut kid, mut typ, mut cert) = (None, None, None, None);
    let mut order = KeyOrder::new();
    for _ in 0..n {
        let key_at = r.position();
        let label = r.int()?;
        order.check(&r, key_at)?;
        match u64::try_from(label) {
            Ok(LABEL_ALG) => {
                r.set_context("protected header alg");
                alg = Some(r.int()?);
            }
            Ok(LABEL_KID) => {
                r.set_context("protected header kid");
                kid = Some(KeyId(r.bytes_exact::<8>()?));
            }
            Ok(LABEL_TYP) => {
                r.set_context("protected header typ");
                typ = Some(r.text()?);
            }
            _ if label == LABEL_CERT && chained => {
                r.set_context("protected header certificate");
                let head_at = r.position();
                let bytes = r.bytes()?;
                let at = head_at + (r.position() - head_at - bytes.len());
                cert = Some((key_at, base + at, bytes));
            }
            _ => {
                return Err(r
                    .error_at(key_at, DecodeErrorKind::UnknownCriticalKey(label))
                    .into());
            }
        }
        r.set_context("protected header");
    }
    r.finish()?;
    let missing = |ctx| DecodeError::new(base, ctx, DecodeErrorKind::MissingField);
    let alg = alg.ok_or_else(|| missing("protected header alg"))?;
    let typ = typ.ok_or_else(|| missing("protected header typ"))?;
    let (kid, cert) = match (kid, cert) {
        (Some(kid), None) => (kid, None),
        (None, None) => return Err(missing("protected header kid").into()),
        (Some(_), Some((key_at, _, _))) => {
            return Err(r
                .error_at(
                    key_at,
                    DecodeErrorKind::InvalidValue(
                        "an object carrying a certificate names its key by the certificate, not kid",
                    ),
                )
                .with_context("protected header certificate")
                .into());
        }
        (None, Some((key_at, at, bytes))) => {
            if !CHAINABLE.iter().any(|t| t.typ() == typ) {
                return Err(r
                    .error_at(
                        key_at,
                        DecodeErrorKind::InvalidValue(
                            "only licenses, activation responses and revocation lists carry a certificate",
                        ),
                    )
                    .with_context("protected header certificate")
                    .into());
            }
            (certificate_key_id(bytes, at)?, Some(bytes))
        }
    };
    if alg != ALG_EDDSA && alg != ALG_ED25519 {
        return Err(EnvelopeError::UnsupportedAlgorithm(alg));
    }
    Ok(ProtectedHeader {
        alg,
        kid,
        typ,
        cert,
    })
}

/// Decodes a certificate carried in a protected header (found at offset `at`) far enough to
/// name the key that signed the carrying object. Its signature is the verifier's business.
fn certificate_key_id(bytes: &[u8], at: usize) -> Result<KeyId, EnvelopeError> {
    let sign1 = parse_sign1_at(bytes, at, false)?;
    if sign1.header.typ != ObjectType::Certificate.typ() {
        return Err(DecodeError::new(
            at,
            "protected header certificate",
            DecodeErrorKind::InvalidValue("the certificate label holds another object type"),
        )
        .into());
    }
    Ok(crate::cert::Certificate::decode(sign1.payload, sign1.payload_offset)?.key_id())
}

/// Serializes the protected header airseal writes: `{1: -8, 4: kid, 16: typ}`.
pub fn encode_protected(kid: &KeyId, typ: ObjectType) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(3);
    w.uint(LABEL_ALG).int(ALG_EDDSA);
    w.uint(LABEL_KID).bytes(&kid.0);
    w.uint(LABEL_TYP).text(typ.typ());
    w.into_bytes()
}

/// Serializes the protected header of an object signed by a certified issuing key:
/// `{1: -8, 16: typ, -65537: certificate}` (§18.2). The key id is the certificate's key.
pub fn encode_protected_with_cert(typ: ObjectType, cert: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(3);
    w.uint(LABEL_ALG).int(ALG_EDDSA);
    w.uint(LABEL_TYP).text(typ.typ());
    w.int(LABEL_CERT).bytes(cert);
    w.into_bytes()
}

/// The bytes Ed25519 signs: the COSE `Sig_structure` (RFC 9052 §4.4)
/// `["Signature1", protected, h'', payload]`.
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    let mut w = Writer::new();
    w.array(4).text(SIGNATURE1);
    out.extend_from_slice(&w.into_bytes());
    let mut w = Writer::new();
    w.bytes(protected).bytes(&[]);
    w.head(crate::cbor::Major::Bytes, payload.len() as u64);
    out.extend_from_slice(&w.into_bytes());
    out.extend_from_slice(payload);
    out
}

/// Assembles a tagged COSE_Sign1 from its parts.
pub fn encode_sign1(protected: &[u8], payload: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut w = Writer::new();
    w.tag(COSE_SIGN1_TAG)
        .array(4)
        .bytes(protected)
        .map(0)
        .bytes(payload)
        .bytes(signature);
    w.into_bytes()
}
