//! Verifying activation requests and deactivation proofs (`SPEC.md` §15): messages signed
//! by a machine's device key, whose public half they carry. No trust store is involved: the
//! signature proves the sender holds the device key that the license will be (or was) bound
//! to.

use alloc::borrow::Cow;

use airseal_core::activation::{ActivationRequest, DeactivationProof};
use airseal_core::cose::{self, ObjectType, Sign1};
use airseal_core::{DecodeError, DecodeErrorKind, KeyId, armor};
use ed25519_dalek::Signature;

use crate::error::{Error, parse_typed};

/// Checks that the header's kid names the embedded device key, then the device key's strict
/// Ed25519 signature over the exact bytes.
fn check_device_signature(sign1: &Sign1<'_>, device_key: &[u8; 32]) -> Result<(), Error> {
    if KeyId::of_public_key(device_key) != sign1.header.kid {
        return Err(Error::Malformed(DecodeError::new(
            0,
            "protected header kid",
            DecodeErrorKind::InvalidValue("kid is not the id of the device key in the payload"),
        )));
    }
    let key = crate::trust::usable_public_key(device_key)?;
    let message = cose::sig_structure(sign1.protected, sign1.payload);
    key.verify_strict(&message, &Signature::from_bytes(&sign1.signature))
        .map_err(|_| Error::BadSignature)
}

/// Verifies an activation request (raw or armored): envelope, `typ` `airseal-request`,
/// payload, and the device key's signature (proof of possession).
///
/// # Errors
/// [`Error::Malformed`], [`Error::WrongType`], [`Error::InvalidPublicKey`] (a weak or
/// invalid device key), [`Error::BadSignature`].
pub fn verify_request(input: &[u8]) -> Result<ActivationRequest, Error> {
    let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
    let sign1 = parse_typed(&bytes, ObjectType::ActivationRequest)?;
    let request = ActivationRequest::decode(sign1.payload, sign1.payload_offset)?;
    check_device_signature(&sign1, &request.device_key)?;
    Ok(request)
}

/// Verifies a deactivation proof (raw or armored), as [`verify_request`] does.
///
/// # Errors
/// As for [`verify_request`].
pub fn verify_deactivation(input: &[u8]) -> Result<DeactivationProof, Error> {
    let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
    let sign1 = parse_typed(&bytes, ObjectType::DeactivationProof)?;
    let proof = DeactivationProof::decode(sign1.payload, sign1.payload_offset)?;
    check_device_signature(&sign1, &proof.device_key)?;
    Ok(proof)
}
