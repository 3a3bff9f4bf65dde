#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

extern crate alloc;

pub mod activation;
#[cfg(feature = "std")]
pub mod app;
mod error;
mod fast;
mod license;
mod signedkey;
mod trust;

pub use airseal_core::cert::{Certificate, MaySign};
pub use airseal_core::revocation::RevocationList;
pub use airseal_core::{
    DecodeError, DecodeErrorKind, Features, KeyId, LicenseClaims, LicenseKind, Licensee, Limit,
    MachineBinding, MetaValue, NamedFeature, UnixTime,
};
#[cfg(feature = "std")]
pub use app::{ClockGuard, GuardSecret};
pub use error::Error;
/// Precomputed strict verification; not yet used by [`TrustStore`], exported for its tests
/// and benchmark until it replaces `verify_strict` there.
#[doc(hidden)]
pub use fast::{PrecomputedKey, fuzz_differential};
pub use license::{License, Status};
pub use signedkey::{SignedKeyPayload, VerifiedKey};
#[cfg(fuzzing)]
pub use trust::fuzzing;
pub use trust::{Expected, Issuer, KeyValidity, Machine, TrustStore};

/// Public key A of `vectors/` (seed `a1` × 32), for the fuzz hooks.
const FUZZ_KEY_A: [u8; 32] = [
    0xbc, 0x7c, 0xbc, 0xb5, 0x63, 0x63, 0x75, 0xfa, 0x1d, 0x82, 0x43, 0x4d, 0x46, 0x67, 0x24, 0xd9,
    0x23, 0x77, 0xf5, 0x3b, 0x98, 0x06, 0x95, 0xdd, 0x49, 0xd2, 0x6d, 0x0c, 0xe1, 0x22, 0x05, 0xa5,
];

/// Full verification of arbitrary bytes against the test key A of `vectors/` (so seeds
/// from the vectors reach every check): never panics. Used by the fuzz targets.
#[doc(hidden)]
pub fn fuzz_verify(data: &[u8]) {
    let mut trust = TrustStore::new();
    if trust.add_key(&FUZZ_KEY_A).is_ok() {
        let _ = trust.verify(data, 1_767_225_600, &Expected::product("photo-pro"));
    }
}

/// Issuing-key certificates (`SPEC.md` §18) on arbitrary bytes, with the test key A of
/// `vectors/` as the only root (the root of `vectors/chain/`, so seeds from there reach every
/// chain check): read as a certificate (added to a trust store), as a license that may carry
/// one, and, when the bytes are an envelope, its payload as a certificate payload, which must
/// encode back to the same bytes when it decodes. Never panics. Used by the fuzz targets.
#[doc(hidden)]
pub fn fuzz_certificate(data: &[u8]) {
    let mut trust = TrustStore::new();
    if trust.add_key(&FUZZ_KEY_A).is_err() {
        return;
    }
    let _ = trust.verify(data, 1_767_225_600, &Expected::product("photo-pro"));
    let _ = trust.verify_revocations(data);
    if trust.add_certificate(data).is_ok() {
        // A certificate the store took is then found by its bytes, not checked again.
        let _ = trust.verify(data, 1_767_225_600, &Expected::product("photo-pro"));
    }
    if let Ok(sign1) = airseal_core::cose::parse_sign1(data) {
        if let Ok(cert) = Certificate::decode(sign1.payload, 0) {
            assert_eq!(
                cert.encode(),
                sign1.payload,
                "decode then encode changed a certificate"
            );
        }
    }
}

/// Activation request and deactivation proof verification of arbitrary bytes: never
/// panics. Used by the fuzz targets.
#[doc(hidden)]
pub fn fuzz_activation(data: &[u8]) {
    let _ = activation::verify_request(data);
    let _ = activation::verify_deactivation(data);
}

/// Activation-response checks of arbitrary bytes, as [`device::Device::install`] makes them
/// against the pending request of `vectors/licenses/activation-response.cose` (key A, the
/// vectors' device key and nonce): never panics. Used by the fuzz targets.
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn fuzz_activation_response(data: &[u8]) {
    let mut trust = TrustStore::new();
    if trust.add_key(&FUZZ_KEY_A).is_ok() {
        let _ = app::device::check_response(&trust, data, &fuzz_pending_request(), 1_767_225_600);
    }
}

/// The pending request `vectors/licenses/activation-response.cose` answers (the fuzz
/// hook's, checked against the vector by the tests so the hook reaches every check).
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn fuzz_pending_request() -> airseal_core::activation::ActivationRequest {
    airseal_core::activation::ActivationRequest {
        product: "photo-pro".into(),
        product_key: None,
        components: alloc::vec![[1; 8], [2; 8], [3; 8]],
        device_key: FUZZ_DEVICE_KEY,
        nonce: [0x4e; 16],
        created: 1_767_225_600,
        app_version: None,
        purpose: airseal_core::activation::Purpose::Activation,
        meters: alloc::vec![],
    }
}

/// License-update checks of arbitrary bytes, as [`app::device::Device::install`] makes them
/// over the installed license of `vectors/renewal/` (key A, the vectors' device key) — and
/// the bytes as the installed license, with the vectors' update offered: never panics. Used
/// by the fuzz targets.
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn fuzz_license_update(data: &[u8]) {
    let mut trust = TrustStore::new();
    if trust.add_key(&FUZZ_KEY_A).is_ok() {
        let now = 1_767_225_600;
        let installed = fuzz_installed_license();
        let _ = app::device::check_update(&trust, data, installed, &FUZZ_DEVICE_KEY, now);
        let _ = app::device::check_update(&trust, installed, data, &FUZZ_DEVICE_KEY, now);
    }
}

/// The installed license of the renewal vectors (`vectors/renewal/installed.cose`), which
/// the fuzz hook's updates are checked against (the tests prove its vector update installs).
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn fuzz_installed_license() -> &'static [u8] {
    include_bytes!("../../../vectors/renewal/installed.cose")
}

/// The device state reader on arbitrary bytes (`SPEC.md` §15.5), authenticated under a
/// fixed key first so the fuzzer reaches the layout checks: never panics, and a state it
/// reads is written back byte for byte. Used by the fuzz targets.
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn fuzz_device_state(body: &[u8]) {
    app::state::fuzz(body);
}

/// The device public key of the activation-response vectors (seed `d1` × 32).
#[cfg(feature = "std")]
const FUZZ_DEVICE_KEY: [u8; 32] = [
    0x6e, 0xe0, 0x91, 0xfd, 0x28, 0x0a, 0x9b, 0x68, 0x55, 0x4f, 0xa7, 0x3c, 0x58, 0x81, 0x25, 0xd4,
    0x7d, 0x34, 0x25, 0xc6, 0x8a, 0x26, 0xba, 0x23, 0x6b, 0x4d, 0xad, 0x90, 0xf9, 0x0a, 0x8f, 0x92,
];

/// Signed-key verification of arbitrary text against the test key A: never panics. Used by
/// the fuzz targets.
#[doc(hidden)]
pub fn fuzz_signed_key(data: &[u8]) {
    let mut trust = TrustStore::new();
    if let (Ok(text), Ok(_)) = (core::str::from_utf8(data), trust.add_key(&FUZZ_KEY_A)) {
        let _ = trust.verify_signed_key(text, "photo-pro", 1_767_225_600);
    }
}

/// A public key file and a license it verifies, for the README example. Not part of the API.
#[doc(hidden)]
pub fn doc_example() -> (&'static str, &'static str) {
    (
        include_str!("../../../vectors/doc-example.pub"),
        include_str!("../../../vectors/doc-example.lic"),
    )
}
