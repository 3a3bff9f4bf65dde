//! The one error type of the verifier: a flat enum whose variants name the failure.

use alloc::string::String;
use core::fmt;

use airseal_core::{DecodeError, KeyId, UnixTime};

/// Why a license was not accepted.
///
/// A parse failure is always [`Error::Malformed`] and never [`Error::BadSignature`], and the
/// reverse: anything that changed a signed byte is `BadSignature`. [`Error::code`] gives each
/// variant a stable number (the CLI's exit code and the C ABI's return value).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not a well-formed airseal object (armor, CBOR, COSE or claims); the
    /// [`DecodeError`] says what, where (byte offset) and in which field.
    Malformed(DecodeError),
    /// The protected header names an algorithm other than EdDSA (-8) or Ed25519 (-19).
    UnsupportedAlgorithm {
        /// The COSE algorithm found.
        alg: i64,
    },
    /// The object is a signed airseal object of another type (a revocation list, an
    /// activation request…), or of a type this version does not know.
    WrongType {
        /// The `typ` header found.
        found: String,
    },
    /// No trusted key has this key id: the license was signed by a key the app does not know.
    UnknownKeyId {
        /// The key id in the license.
        kid: KeyId,
    },
    /// The signature does not verify: the file was modified or forged.
    BadSignature,
    /// The license is for another product.
    WrongProduct {
        /// The product the app expects.
        expected: String,
        /// The product in the license.
        found: String,
    },
    /// The license is not valid yet.
    NotYetValid {
        /// When it becomes valid (`nbf`, or `iat`), less the allowed clock offset.
        valid_from: UnixTime,
        /// The time given.
        now: UnixTime,
    },
    /// The license has expired (and any grace period is over).
    Expired {
        /// When it stopped being valid (`exp` plus any grace period).
        expired_at: UnixTime,
        /// The time given.
        now: UnixTime,
    },
    /// The license is bound to another machine (or no machine was given for a node-locked
    /// license, in which case `matched` is 0).
    WrongMachine {
        /// How many fingerprint components matched.
        matched: u8,
        /// How many must match.
        required: u8,
    },
    /// The license's maintenance (updates) ended before this release of the app was
    /// published: the license still covers older releases (perpetual fallback).
    MaintenanceEnded {
        /// When maintenance ended.
        maintenance_until: UnixTime,
        /// The release date the app passed.
        release_date: UnixTime,
    },
    /// The key that signed the license was not trusted at the license's issue time: it was
    /// retired before (or introduced after) the license was issued.
    KeyOutOfValidity {
        /// The signing key.
        kid: KeyId,
        /// The license's issue time.
        issued_at: UnixTime,
    },
    /// The license is revoked by the revocation list the app supplied.
    Revoked {
        /// Why: the license id, its product key, or an issue time below the product's minimum.
        reason: &'static str,
        /// Sequence number of the revocation list.
        list_seq: u64,
    },
    /// The clock reads earlier than a time already observed (by more than the license's
    /// allowed clock offset): the system clock was turned back.
    ClockRolledBack {
        /// The time given.
        now: UnixTime,
        /// The latest time observed before.
        last_seen: UnixTime,
    },
    /// A revocation list older than one already accepted (a user restoring an old list to
    /// un-revoke a license).
    StaleRevocationList {
        /// The list's sequence number.
        seq: u64,
        /// The newest sequence number accepted before.
        newest: u64,
    },
    /// The clock guard's state file cannot be read or written, or fails authentication.
    GuardState {
        /// What is wrong.
        reason: &'static str,
    },
    /// A public key given to the trust store is not a valid Ed25519 key (or is a weak,
    /// small-order key that `verify_strict` would refuse anyway).
    InvalidPublicKey,
    /// A typed signed key's check symbol does not match: a symbol was mistyped or two were
    /// swapped. Kept apart from [`Error::Malformed`] because the remedy differs: the key is
    /// probably fine and the user should compare what they typed with it.
    Typo,
    /// The license is bound to another device key than this machine's: it answers another
    /// machine's activation request, or was copied here together with a faked fingerprint.
    WrongDevice,
    /// An activation response that does not answer the pending request: its nonce is
    /// another request's (a replayed or mixed-up response), or there is no pending request.
    WrongRequest {
        /// What does not match.
        reason: &'static str,
    },
    /// This machine gave the license back (a deactivation proof was made for it): the data
    /// folder remembers the release, so a copy of the license restored afterwards is refused
    /// (`SPEC.md` §15.5, §17.3).
    Released {
        /// The license id (`sub`) released.
        license_id: String,
    },
    /// A license update (a renewal, `SPEC.md` §15.8) that is not newer than the license this
    /// machine already installed for the same seat: an older file restored or replayed.
    StaleUpdate {
        /// The update's issue time.
        issued_at: UnixTime,
        /// The issue time of the newest license installed for the seat.
        installed_at: UnixTime,
    },
    /// The object was issued (`iat`) outside its issuing key's certificate window
    /// (`SPEC.md` §18.3): the key was not yet, or no longer, certified then.
    CertificateOutOfValidity {
        /// The certificate's serial.
        serial: u64,
        /// Start of the window.
        not_before: UnixTime,
        /// End of the window (exclusive).
        not_after: UnixTime,
        /// The object's issue time.
        issued_at: UnixTime,
    },
    /// The issuing key's certificate does not cover this product.
    CertificateProductNotAllowed {
        /// The certificate's serial.
        serial: u64,
        /// The object's product.
        product: String,
    },
    /// The issuing key's certificate does not allow it to sign this kind of object (a key
    /// certified for licenses presenting a revocation list, say).
    CertificateTypeNotAllowed {
        /// The certificate's serial.
        serial: u64,
        /// The object's type, as people call it ("revocation list").
        object: &'static str,
    },
    /// The issuing key that signed the object is revoked by the revocation list: everything
    /// it signed is refused, whatever its issue time says (`SPEC.md` §18.4).
    IssuingKeyRevoked {
        /// The issuing key's id.
        kid: KeyId,
        /// Sequence number of the revocation list that revokes it.
        list_seq: u64,
    },
    /// A revocation list signed by an issuing key whose sequence number lies outside the
    /// range its certificate grants (`SPEC.md` §18.4).
    RevocationSeqOutOfRange {
        /// The list's sequence number.
        seq: u64,
        /// First sequence number the certificate allows.
        lo: u64,
        /// First sequence number past the range.
        hi: u64,
    },
    /// The certificate carried by the object does not verify under the root key it names:
    /// it was modified or forged.
    BadCertificateSignature {
        /// The root key the certificate names.
        root: KeyId,
    },
}

impl Error {
    /// A stable number per variant: the `airseal verify` exit code and the C ABI code.
    ///
    /// 0 is success; 1-9 are left to the caller (1 generic error, 2 usage, 3 I/O).
    pub fn code(&self) -> u8 {
        match self {
            Error::Malformed(_) => 10,
            Error::UnsupportedAlgorithm { .. } => 11,
            Error::WrongType { .. } => 12,
            Error::UnknownKeyId { .. } => 13,
            Error::BadSignature => 14,
            Error::WrongProduct { .. } => 15,
            Error::NotYetValid { .. } => 16,
            Error::Expired { .. } => 17,
            Error::WrongMachine { .. } => 18,
            Error::InvalidPublicKey => 19,
            Error::Typo => 20,
            Error::MaintenanceEnded { .. } => 21,
            Error::KeyOutOfValidity { .. } => 22,
            Error::Revoked { .. } => 23,
            Error::ClockRolledBack { .. } => 24,
            Error::StaleRevocationList { .. } => 25,
            Error::GuardState { .. } => 26,
            Error::WrongDevice => 27,
            Error::WrongRequest { .. } => 28,
            Error::Released { .. } => 29,
            Error::StaleUpdate { .. } => 30,
            Error::CertificateOutOfValidity { .. } => 31,
            Error::CertificateProductNotAllowed { .. } => 32,
            Error::CertificateTypeNotAllowed { .. } => 33,
            Error::IssuingKeyRevoked { .. } => 34,
            Error::RevocationSeqOutOfRange { .. } => 35,
            Error::BadCertificateSignature { .. } => 36,
        }
    }

    /// A stable snake_case name per variant, used in `--json` output and in `vectors/`.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Error::WrongType { .. } => "wrong_type",
            Error::UnknownKeyId { .. } => "unknown_key_id",
            Error::BadSignature => "bad_signature",
            Error::WrongProduct { .. } => "wrong_product",
            Error::NotYetValid { .. } => "not_yet_valid",
            Error::Expired { .. } => "expired",
            Error::WrongMachine { .. } => "wrong_machine",
            Error::InvalidPublicKey => "invalid_public_key",
            Error::Typo => "typo",
            Error::MaintenanceEnded { .. } => "maintenance_ended",
            Error::KeyOutOfValidity { .. } => "key_out_of_validity",
            Error::Revoked { .. } => "revoked",
            Error::ClockRolledBack { .. } => "clock_rolled_back",
            Error::StaleRevocationList { .. } => "stale_revocation_list",
            Error::GuardState { .. } => "guard_state",
            Error::WrongDevice => "wrong_device",
            Error::WrongRequest { .. } => "wrong_request",
            Error::Released { .. } => "released",
            Error::StaleUpdate { .. } => "stale_update",
            Error::CertificateOutOfValidity { .. } => "certificate_out_of_validity",
            Error::CertificateProductNotAllowed { .. } => "certificate_product_not_allowed",
            Error::CertificateTypeNotAllowed { .. } => "certificate_type_not_allowed",
            Error::IssuingKeyRevoked { .. } => "issuing_key_revoked",
            Error::RevocationSeqOutOfRange { .. } => "revocation_seq_out_of_range",
            Error::BadCertificateSignature { .. } => "bad_certificate_signature",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(e) => write!(f, "malformed: {e}"),
            Error::UnsupportedAlgorithm { alg } => {
                write!(
                    f,
                    "unsupported signature algorithm {alg} (expected EdDSA -8 or Ed25519 -19)"
                )
            }
            Error::WrongType { found } => match airseal_core::ObjectType::from_typ(found) {
                Some(t) => write!(
                    f,
                    "wrong type: this is {} {}, not the kind of object this step reads",
                    if t.name().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
                    t.name()
                ),
                None => write!(
                    f,
                    "wrong type: the signed object's type is {found:?}, which this version does not know"
                ),
            },
            Error::UnknownKeyId { kid } => {
                write!(
                    f,
                    "signed by unknown key {kid}: no trusted public key has this id"
                )
            }
            Error::BadSignature => f.write_str("bad signature: the license was modified or forged"),
            Error::WrongProduct { expected, found } => {
                write!(f, "license is for product {found:?}, not {expected:?}")
            }
            Error::NotYetValid { valid_from, now } => {
                write!(
                    f,
                    "license not valid until {valid_from} (now {now}, seconds since 1970)"
                )
            }
            Error::Expired { expired_at, now } => {
                write!(
                    f,
                    "license expired at {expired_at} (now {now}, seconds since 1970)"
                )
            }
            Error::WrongMachine { matched, required } => write!(
                f,
                "license is bound to another machine ({matched} of {required} required fingerprint components match)"
            ),
            Error::InvalidPublicKey => f.write_str("not a valid Ed25519 public key"),
            Error::MaintenanceEnded { maintenance_until, release_date } => write!(
                f,
                "this release ({release_date}) is newer than the license's maintenance end ({maintenance_until}): \
                 the license covers releases published before that date"
            ),
            Error::ClockRolledBack { now, last_seen } => write!(
                f,
                "clock rolled back: it reads {now}, but {last_seen} was already observed (seconds since 1970)"
            ),
            Error::StaleRevocationList { seq, newest } => {
                write!(f, "revocation list #{seq} is older than #{newest}, already seen")
            }
            Error::GuardState { reason } => f.write_str(reason),
            Error::Revoked { reason, list_seq } => {
                write!(f, "license revoked: {reason} (revocation list #{list_seq})")
            }
            Error::KeyOutOfValidity { kid, issued_at } => write!(
                f,
                "license issued at {issued_at} by key {kid}, which was not trusted at that time (rotated out or not yet introduced)"
            ),
            Error::WrongDevice => f.write_str(
                "license is bound to another device key: it was activated for another machine",
            ),
            Error::WrongRequest { reason } => {
                write!(f, "activation response does not answer this machine's request: {reason}")
            }
            Error::Released { license_id } => write!(
                f,
                "license {license_id} was released on this machine (a deactivation proof was made for it): a released license does not come back"
            ),
            Error::StaleUpdate { issued_at, installed_at } => write!(
                f,
                "this license update (issued {issued_at}) is not newer than the one already installed for this seat (issued {installed_at}, seconds since 1970)"
            ),
            Error::Typo => f.write_str(
                "the key's check symbol does not match: a symbol was mistyped; compare it with the key you were sent",
            ),
            Error::CertificateOutOfValidity { serial, not_before, not_after, issued_at } => write!(
                f,
                "issued at {issued_at} by an issuing key whose certificate #{serial} is valid only from {not_before} until {not_after} (seconds since 1970)"
            ),
            Error::CertificateProductNotAllowed { serial, product } => write!(
                f,
                "the issuing key's certificate #{serial} does not allow it to sign for product {product:?}"
            ),
            Error::CertificateTypeNotAllowed { serial, object } => write!(
                f,
                "the issuing key's certificate #{serial} does not allow it to sign a {object}"
            ),
            Error::IssuingKeyRevoked { kid, list_seq } => write!(
                f,
                "signed by issuing key {kid}, which revocation list #{list_seq} revokes: everything it signed is refused"
            ),
            Error::RevocationSeqOutOfRange { seq, lo, hi } => write!(
                f,
                "revocation list #{seq} is outside the sequence range its signer's certificate allows ({lo} to {hi}, exclusive)"
            ),
            Error::BadCertificateSignature { root } => write!(
                f,
                "the issuing-key certificate does not verify under root key {root}: it was modified or forged"
            ),
        }
    }
}

impl core::error::Error for Error {}

impl From<airseal_core::EnvelopeError> for Error {
    fn from(e: airseal_core::EnvelopeError) -> Self {
        match e {
            airseal_core::EnvelopeError::Malformed(d) => Error::Malformed(d),
            airseal_core::EnvelopeError::UnsupportedAlgorithm(alg) => {
                Error::UnsupportedAlgorithm { alg }
            }
            // EnvelopeError is non_exhaustive; a new kind is still a malformed envelope.
            _ => Error::Malformed(DecodeError::new(
                0,
                "envelope",
                airseal_core::DecodeErrorKind::InvalidValue("unrecognised envelope problem"),
            )),
        }
    }
}

/// Parses a COSE_Sign1 and checks its `typ` (SPEC.md §6 steps 2-4), for every signed type.
pub(crate) fn parse_typed(
    bytes: &[u8],
    typ: airseal_core::ObjectType,
) -> Result<airseal_core::Sign1<'_>, Error> {
    parse_typed_any(bytes, &[typ]).map(|(sign1, _)| sign1)
}

/// [`parse_typed`] for a step that accepts several types; also returns the one found.
pub(crate) fn parse_typed_any<'b>(
    bytes: &'b [u8],
    accepted: &[airseal_core::ObjectType],
) -> Result<(airseal_core::Sign1<'b>, airseal_core::ObjectType), Error> {
    let sign1 = airseal_core::cose::parse_sign1(bytes)?;
    match accepted.iter().find(|t| t.typ() == sign1.header.typ) {
        Some(&typ) => Ok((sign1, typ)),
        None => Err(Error::WrongType {
            found: sign1.header.typ.into(),
        }),
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Malformed(e)
    }
}
