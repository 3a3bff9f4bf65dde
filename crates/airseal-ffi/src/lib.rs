#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

// A C ABI over `airseal-verify` (the checks and the codes are `SPEC.md` section 6). Every entry
// point checks each pointer for NULL, caps every length before it builds a slice, and runs
// its body inside `catch_unwind`, so no panic crosses into C. This file is also cbindgen's
// input: the doc comments on public items become the comments of `include/airseal.h`.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use airseal_verify::app::device::{Device, DeviceError};
use airseal_verify::{
    ClockGuard, Error, Expected, GuardSecret, KeyValidity, License, LicenseKind, Machine,
    RevocationList, Status, TrustStore,
};

/// The longest license accepted, in bytes (1 MiB); a longer one is `AIRSEAL_STATUS_TOO_LARGE`.
/// Real licenses are a few hundred bytes.
pub const AIRSEAL_MAX_LICENSE_LEN: usize = 1 << 20;

/// The longest text argument accepted, in bytes: a public key file, and every NUL-terminated
/// string (product, feature name, signed key), not counting the NUL (64 KiB).
pub const AIRSEAL_MAX_TEXT_LEN: usize = 1 << 16;

/// The most machine fingerprint components accepted by `airseal_verify`.
pub const AIRSEAL_MAX_MACHINE_COMPONENTS: usize = 1024;

/// The length of a raw Ed25519 public key, in bytes.
pub const AIRSEAL_PUBLIC_KEY_LEN: usize = 32;

/// The length of one machine fingerprint component hash, in bytes.
pub const AIRSEAL_COMPONENT_LEN: usize = 8;

/// The length of a key id (`SPEC.md` section 3.2), in bytes.
pub const AIRSEAL_KEY_ID_LEN: usize = 8;

/// The longest revocation list accepted, in bytes (64 MiB); a longer one is
/// `AIRSEAL_STATUS_TOO_LARGE`. A list naming 100 000 licenses is about 1.5 MB.
pub const AIRSEAL_MAX_REVOCATION_LIST_LEN: usize = 1 << 26;

/// The length of the clock guard's secret, in bytes.
pub const AIRSEAL_GUARD_SECRET_LEN: usize = 32;

/// `not_before` of `airseal_trust_store_add_key_with_validity` (and the key file variant)
/// meaning "no lower bound".
pub const AIRSEAL_NO_NOT_BEFORE: i64 = i64::MIN;

/// `not_after` of `airseal_trust_store_add_key_with_validity` (and the key file variant)
/// meaning "no upper bound".
pub const AIRSEAL_NO_NOT_AFTER: i64 = i64::MAX;

/// What kind of license it is (`airseal_license_kind`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AirsealLicenseKind {
    /// The license pointer was NULL.
    None = -1,
    /// Bought once.
    Perpetual = 0,
    /// Renewed periodically: `airseal_license_expires_at` gives the end of the paid period.
    Subscription = 1,
    /// An evaluation: `airseal_license_expires_at` gives the end of the trial.
    Trial = 2,
}

/// What a call returned: 0 for success, 10-89 exactly the verifier's error codes (the
/// `airseal verify` exit codes, `SPEC.md` section 6), 90-92 misuse of the C API, 93-94 an
/// unusable data folder, 99 an internal error. Functions return these as `int32_t`; `airseal_error_message` describes each.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AirsealStatus {
    /// Success.
    Ok = 0,
    /// Not a well-formed airseal object (armor, CBOR, COSE or claims), or a public key file
    /// that cannot be read.
    Malformed = 10,
    /// The signature algorithm is neither EdDSA (-8) nor Ed25519 (-19).
    UnsupportedAlgorithm = 11,
    /// A signed airseal object of another type (a revocation list, an activation request...).
    WrongType = 12,
    /// Signed by a key the trust store does not hold.
    UnknownKeyId = 13,
    /// The signature does not verify: the file was modified or forged.
    BadSignature = 14,
    /// The license (or signed key) is for another product.
    WrongProduct = 15,
    /// Not valid yet at the time given.
    NotYetValid = 16,
    /// Expired, grace period included.
    Expired = 17,
    /// Bound to another machine, or node-locked and no machine was given.
    WrongMachine = 18,
    /// The public key is not a valid (non-small-order) Ed25519 key.
    InvalidPublicKey = 19,
    /// A signed key's check symbol does not match: a symbol was mistyped.
    Typo = 20,
    /// The app's release date is after the license's maintenance period ended.
    MaintenanceEnded = 21,
    /// The signing key was not trusted at the license's issue time (key rotation).
    KeyOutOfValidity = 22,
    /// Revoked by the revocation list the app supplied.
    Revoked = 23,
    /// The clock reads earlier than a time already observed: it was turned back.
    ClockRolledBack = 24,
    /// A revocation list older than one already accepted.
    StaleRevocationList = 25,
    /// The clock guard's state file cannot be read or written, or fails authentication.
    GuardState = 26,
    /// Bound to another device key: activated for another machine.
    WrongDevice = 27,
    /// An activation response that does not answer the pending request.
    WrongRequest = 28,
    /// The license was released on this machine (a deactivation proof was made for it).
    Released = 29,
    /// A license update (renewal) that is not newer than the license already installed.
    StaleUpdate = 30,
    /// Issued outside its issuing key's certificate window (the key was not yet, or no
    /// longer, certified by the root then).
    CertificateOutOfValidity = 31,
    /// The issuing key's certificate does not allow this product.
    CertificateProductNotAllowed = 32,
    /// The issuing key's certificate does not allow this kind of object (a license, an
    /// activation response, a revocation list, a signed key).
    CertificateTypeNotAllowed = 33,
    /// Signed by an issuing key that the revocation list revokes (a leaked key).
    IssuingKeyRevoked = 34,
    /// A revocation list signed by an issuing key with a sequence number outside the range
    /// its certificate grants.
    RevocationSeqOutOfRange = 35,
    /// The issuing key's certificate does not verify under the root key it names.
    BadCertificateSignature = 36,
    /// A required pointer argument was NULL. FFI only.
    NullPointer = 90,
    /// A string argument is not valid UTF-8. FFI only.
    InvalidUtf8 = 91,
    /// An argument is longer than its limit (`AIRSEAL_MAX_*`), or a NUL-terminated string
    /// has no NUL within `AIRSEAL_MAX_TEXT_LEN` bytes. FFI only.
    TooLarge = 92,
    /// The app's data folder has no device key yet: the machine was never activated (no
    /// activation request was made). FFI only.
    NotActivated = 93,
    /// The data folder's device key file cannot be read, or is damaged. FFI only.
    DeviceFolder = 94,
    /// A panic inside the library was caught at the C boundary (a bug: please report it).
    /// FFI only.
    Panic = 99,
}

/// Every status, in code order (for `from_code` and the tests).
const ALL_STATUSES: [AirsealStatus; 34] = [
    AirsealStatus::Ok,
    AirsealStatus::Malformed,
    AirsealStatus::UnsupportedAlgorithm,
    AirsealStatus::WrongType,
    AirsealStatus::UnknownKeyId,
    AirsealStatus::BadSignature,
    AirsealStatus::WrongProduct,
    AirsealStatus::NotYetValid,
    AirsealStatus::Expired,
    AirsealStatus::WrongMachine,
    AirsealStatus::InvalidPublicKey,
    AirsealStatus::Typo,
    AirsealStatus::MaintenanceEnded,
    AirsealStatus::KeyOutOfValidity,
    AirsealStatus::Revoked,
    AirsealStatus::ClockRolledBack,
    AirsealStatus::StaleRevocationList,
    AirsealStatus::GuardState,
    AirsealStatus::WrongDevice,
    AirsealStatus::WrongRequest,
    AirsealStatus::Released,
    AirsealStatus::StaleUpdate,
    AirsealStatus::CertificateOutOfValidity,
    AirsealStatus::CertificateProductNotAllowed,
    AirsealStatus::CertificateTypeNotAllowed,
    AirsealStatus::IssuingKeyRevoked,
    AirsealStatus::RevocationSeqOutOfRange,
    AirsealStatus::BadCertificateSignature,
    AirsealStatus::NullPointer,
    AirsealStatus::InvalidUtf8,
    AirsealStatus::TooLarge,
    AirsealStatus::NotActivated,
    AirsealStatus::DeviceFolder,
    AirsealStatus::Panic,
];

impl AirsealStatus {
    /// The status with this code, if any.
    pub fn from_code(code: i32) -> Option<Self> {
        ALL_STATUSES.into_iter().find(|s| *s as i32 == code)
    }

    /// The status of a verifier error: its `Error::code()`, which the tests prove equal to
    /// the constant of the same name.
    pub fn of_error(e: &Error) -> i32 {
        i32::from(e.code())
    }

    /// A short, static, NUL-terminated description.
    pub fn message(self) -> &'static std::ffi::CStr {
        match self {
            Self::Ok => c"ok",
            Self::Malformed => {
                c"malformed: not a well-formed airseal object (armor, CBOR, COSE or claims)"
            }
            Self::UnsupportedAlgorithm => {
                c"unsupported algorithm: the signature algorithm is not EdDSA (-8) or Ed25519 (-19)"
            }
            Self::WrongType => c"wrong type: a signed airseal object that is not a license",
            Self::UnknownKeyId => c"unknown key id: signed by a key that is not trusted",
            Self::BadSignature => c"bad signature: the license was modified or forged",
            Self::WrongProduct => c"wrong product: the license is for another product",
            Self::NotYetValid => c"not yet valid at the time given",
            Self::Expired => c"expired: past its expiry and any grace period",
            Self::WrongMachine => c"wrong machine: the license is bound to another machine",
            Self::InvalidPublicKey => c"invalid public key: not a valid Ed25519 public key",
            Self::Typo => {
                c"typo: the key's check symbol does not match; compare it with the key sent"
            }
            Self::MaintenanceEnded => {
                c"maintenance ended: the license's maintenance period ended before this release"
            }
            Self::KeyOutOfValidity => {
                c"key out of validity: the signing key was not trusted when the signed object was issued"
            }
            Self::Revoked => c"revoked: the revocation list revokes this license",
            Self::ClockRolledBack => {
                c"clock rolled back: the clock reads earlier than a time already seen"
            }
            Self::StaleRevocationList => {
                c"stale revocation list: older than a revocation list already accepted"
            }
            Self::GuardState => c"guard state: the clock guard's state cannot be used",
            Self::WrongDevice => c"wrong device: the license was activated for another machine",
            Self::WrongRequest => c"wrong request: the activation response answers another request",
            Self::Released => {
                c"released: this machine gave the license back; it does not come back"
            }
            Self::StaleUpdate => {
                c"stale update: not newer than the license already installed for this seat"
            }
            Self::CertificateOutOfValidity => {
                c"certificate out of validity: issued when its issuing key was not certified"
            }
            Self::CertificateProductNotAllowed => {
                c"certificate product not allowed: the issuing key may not sign for this product"
            }
            Self::CertificateTypeNotAllowed => {
                c"certificate type not allowed: the issuing key may not sign this kind of object"
            }
            Self::IssuingKeyRevoked => {
                c"issuing key revoked: signed by an issuing key the revocation list revokes"
            }
            Self::RevocationSeqOutOfRange => {
                c"revocation seq out of range: outside the range its signer's certificate grants"
            }
            Self::BadCertificateSignature => {
                c"bad certificate signature: the issuing key's certificate was modified or forged"
            }
            Self::NullPointer => c"null pointer: a required pointer argument was NULL",
            Self::InvalidUtf8 => c"invalid utf8: a string argument is not valid UTF-8",
            Self::TooLarge => c"too large: an argument is longer than its limit (AIRSEAL_MAX_*)",
            Self::NotActivated => {
                c"not activated: the data folder has no device key yet (make a request first)"
            }
            Self::DeviceFolder => {
                c"device folder: the data folder's device key cannot be read or is damaged"
            }
            Self::Panic => c"panic: an internal error was caught at the C boundary",
        }
    }
}

/// A set of trusted public keys (opaque). Create with `airseal_trust_store_new`, add keys,
/// then share it read-only: `airseal_verify` and `airseal_verify_signed_key` may run on one
/// store from several threads at once, but adding a key must not overlap any other use.
/// Free with `airseal_trust_store_free`.
#[derive(Debug)]
pub struct AirsealTrustStore {
    inner: TrustStore,
}

/// A verified license (opaque): its signature, type, product, dates and machine binding
/// have been checked. Immutable; free with `airseal_license_free`.
#[derive(Debug)]
pub struct AirsealLicense {
    inner: License,
}

/// A revocation list whose signature was verified through a trust store (opaque). Immutable;
/// pass it to `airseal_verify_full` and `airseal_clock_guard_accept_revocations`; free with
/// `airseal_revocations_free`.
#[derive(Debug)]
pub struct AirsealRevocationList {
    inner: RevocationList,
}

/// A clock guard bound to one state file (opaque): see `airseal_clock_guard_open`. One
/// thread at a time; free with `airseal_clock_guard_free`.
#[derive(Debug)]
pub struct AirsealClockGuard {
    inner: ClockGuard,
}

// The README promises that the handles may be shared between threads (read-only; a clock
// guard may move between threads, used by one at a time).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<AirsealTrustStore>();
    send_sync::<AirsealLicense>();
    send_sync::<AirsealRevocationList>();
    send_sync::<AirsealClockGuard>();
};

/// Runs `f`, returning `on_panic` if it panics: no unwinding crosses the C boundary.
fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    // AssertUnwindSafe: after a caught panic the caller only gets an error code; the one
    // mutable object (a trust store being added to) stays a valid, if shorter, key list.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// [`guard`] for the functions that return a status.
fn status(f: impl FnOnce() -> Result<(), AirsealStatus>) -> i32 {
    guard(AirsealStatus::Panic as i32, || match f() {
        Ok(()) => AirsealStatus::Ok as i32,
        Err(s) => s as i32,
    })
}

/// Maps a verifier error to its status (a code outside the enum, which the tests rule out,
/// would be reported as `Panic` rather than as success).
fn fail(e: &Error) -> AirsealStatus {
    AirsealStatus::from_code(AirsealStatus::of_error(e)).unwrap_or(AirsealStatus::Panic)
}

/// The `len` bytes at `ptr`, after checking `ptr` for NULL and `len` against `max`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that do not change during the call.
#[allow(unsafe_code)]
unsafe fn bytes<'a>(ptr: *const u8, len: usize, max: usize) -> Result<&'a [u8], AirsealStatus> {
    if ptr.is_null() {
        return Err(AirsealStatus::NullPointer);
    }
    if len > max {
        return Err(AirsealStatus::TooLarge);
    }
    // SAFETY: `ptr` is non-null and, by the caller's contract, `len` bytes are readable and
    // unchanged; `len` ≤ `max` ≤ 1 MiB, far below `isize::MAX`; `u8` has alignment 1.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated UTF-8 string, reading at most `AIRSEAL_MAX_TEXT_LEN + 1` bytes.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that does not change during the call.
#[allow(unsafe_code)]
unsafe fn c_str<'a>(ptr: *const c_char) -> Result<&'a str, AirsealStatus> {
    if ptr.is_null() {
        return Err(AirsealStatus::NullPointer);
    }
    let mut len = 0;
    loop {
        if len > AIRSEAL_MAX_TEXT_LEN {
            return Err(AirsealStatus::TooLarge);
        }
        // SAFETY: the string is NUL-terminated and no byte before `len` was NUL, so byte
        // `len` is still inside it.
        if unsafe { ptr.wrapping_add(len).read() } == 0 {
            break;
        }
        len += 1;
    }
    // SAFETY: the `len` bytes before the NUL were just read, so they are readable; the
    // caller keeps them unchanged for the call.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|_| AirsealStatus::InvalidUtf8)
}

/// The machine described by `n` component hashes of 8 bytes at `ptr`; none when `n` is 0.
///
/// # Safety
/// When `n` > 0, `ptr` is NULL or points to `n * 8` readable bytes.
#[allow(unsafe_code)]
unsafe fn machine(ptr: *const u8, n: usize) -> Result<Option<Machine>, AirsealStatus> {
    if n == 0 {
        return Ok(None);
    }
    if n > AIRSEAL_MAX_MACHINE_COMPONENTS {
        return Err(AirsealStatus::TooLarge);
    }
    let max = AIRSEAL_MAX_MACHINE_COMPONENTS * AIRSEAL_COMPONENT_LEN;
    // SAFETY: the caller's contract; `n * 8` ≤ 8 KiB cannot overflow.
    let bytes = unsafe { bytes(ptr, n * AIRSEAL_COMPONENT_LEN, max) }?;
    let components = bytes
        .chunks_exact(AIRSEAL_COMPONENT_LEN)
        .filter_map(|c| <[u8; AIRSEAL_COMPONENT_LEN]>::try_from(c).ok())
        .collect();
    Ok(Some(Machine::from_component_hashes(components)))
}

/// Copies `s` and a NUL into `buf` if `buf_len` leaves room; returns the size needed
/// (`strlen + 1`). Writes nothing when `buf` is NULL or `buf_len` is 0, and only an empty
/// string when the buffer is too small, so a truncated id can never be mistaken for a real
/// one.
///
/// # Safety
/// `buf` is NULL or points to `buf_len` writable bytes that do not overlap `s`.
#[allow(unsafe_code)]
unsafe fn write_string(s: &str, buf: *mut c_char, buf_len: usize) -> usize {
    let needed = s.len() + 1;
    if buf.is_null() || buf_len == 0 {
        return needed;
    }
    let buf = buf.cast::<u8>();
    if buf_len < needed {
        // SAFETY: `buf` is non-null with `buf_len` ≥ 1 writable bytes.
        unsafe { buf.write(0) };
        return needed;
    }
    // SAFETY: `buf` has `buf_len` ≥ `s.len() + 1` writable bytes, and does not overlap `s`
    // (the caller's buffer versus memory this library owns); alignment is 1.
    unsafe { ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len()) };
    // SAFETY: byte `s.len()` < `needed` ≤ `buf_len` is inside the buffer.
    unsafe { buf.wrapping_add(s.len()).write(0) };
    needed
}

/// Creates an empty trust store. Returns NULL only if the library failed internally.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn airseal_trust_store_new() -> *mut AirsealTrustStore {
    guard(ptr::null_mut(), || {
        Box::into_raw(Box::new(AirsealTrustStore {
            inner: TrustStore::new(),
        }))
    })
}

/// Frees a trust store. NULL is ignored.
///
/// # Safety
/// `store` is NULL or a pointer from `airseal_trust_store_new` not yet freed, and no other
/// thread is using it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_free(store: *mut AirsealTrustStore) {
    guard((), || {
        if !store.is_null() {
            // SAFETY: by the contract, `store` came from `Box::into_raw` in
            // `airseal_trust_store_new` and is freed only once.
            drop(unsafe { Box::from_raw(store) });
        }
    });
}

/// Trusts a raw 32-byte Ed25519 public key.
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_INVALID_PUBLIC_KEY` (not a point on the
/// curve, or a weak small-order key) or `AIRSEAL_STATUS_NULL_POINTER`. Adding a key twice is
/// allowed and has no effect.
///
/// # Safety
/// `store` is NULL or a live trust store that no other thread is using during the call;
/// `key` is NULL or points to `AIRSEAL_PUBLIC_KEY_LEN` (32) readable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_add_key(
    store: *mut AirsealTrustStore,
    key: *const u8,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `store` is NULL or live and not shared during the call.
        let store = unsafe { store.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `key` is NULL or points to 32 readable bytes; a byte
        // array has alignment 1.
        let key = unsafe { key.cast::<[u8; AIRSEAL_PUBLIC_KEY_LEN]>().as_ref() }
            .ok_or(AirsealStatus::NullPointer)?;
        store.inner.add_key(key).map(drop).map_err(|e| fail(&e))
    })
}

/// Trusts the key in a public key file (the text `airseal-pk-v1:<key id>:<base64>`, comment
/// lines allowed), given as `len` bytes (no NUL needed).
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_MALFORMED` (not a public key file, or its key
/// id does not match the key), `AIRSEAL_STATUS_INVALID_PUBLIC_KEY`,
/// `AIRSEAL_STATUS_NULL_POINTER` or `AIRSEAL_STATUS_TOO_LARGE` (over `AIRSEAL_MAX_TEXT_LEN`).
///
/// # Safety
/// `store` is NULL or a live trust store that no other thread is using during the call;
/// `text` is NULL or points to `len` readable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_add_key_file(
    store: *mut AirsealTrustStore,
    text: *const u8,
    len: usize,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `store` is NULL or live and not shared during the call.
        let store = unsafe { store.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `text` is NULL or has `len` readable bytes.
        let text = unsafe { bytes(text, len, AIRSEAL_MAX_TEXT_LEN) }?;
        store
            .inner
            .add_public_key_file(text)
            .map(drop)
            .map_err(|e| fail(&e))
    })
}

/// Verifies a license file (raw COSE bytes or armored text, `len` bytes) at time `now`
/// (seconds since 1970, from the caller's clock: the library reads none) for `product`.
///
/// `machine_components` holds `n_components` fingerprint component hashes of
/// `AIRSEAL_COMPONENT_LEN` (8) bytes each, back to back; pass NULL and 0 when the app does
/// not use machine binding (a node-locked license then fails with
/// `AIRSEAL_STATUS_WRONG_MACHINE`).
///
/// On success returns `AIRSEAL_STATUS_OK` and stores a new license in `*out`, to be freed
/// with `airseal_license_free`. Otherwise stores NULL in `*out` (if `out` is not NULL) and
/// returns the first check that failed, in the order of `SPEC.md` section 6 (10-18, 22 outside
/// the key's window, 31-33 and 36 for a license signed by a certified issuing key), or 90-92
/// for a NULL pointer, a product that is not UTF-8, or an argument over its limit.
///
/// # Safety
/// `store` is NULL or a live trust store (other threads may verify with it at the same
/// time, but not add keys); `license` is NULL or points to `len` readable bytes; `product`
/// is NULL or a NUL-terminated string; `machine_components` is NULL or points to
/// `n_components * 8` readable bytes; `out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_verify(
    store: *const AirsealTrustStore,
    license: *const u8,
    len: usize,
    now: i64,
    product: *const c_char,
    machine_components: *const u8,
    n_components: usize,
    out: *mut *mut AirsealLicense,
) -> i32 {
    // SAFETY: the same contract, with no device key and no revocation list.
    unsafe {
        airseal_verify_full(
            store,
            license,
            len,
            now,
            product,
            machine_components,
            n_components,
            ptr::null(),
            ptr::null(),
            out,
        )
    }
}

/// Verifies a signed product key as the user typed it (NUL-terminated; separators, case and
/// the usual misreadings are tolerated) for `product` at time `now`.
///
/// Returns `AIRSEAL_STATUS_OK` and, if `features_out` is not NULL, stores the key's feature
/// bits there (bit i grants `F(i+1)`). Otherwise stores 0 there and returns
/// `AIRSEAL_STATUS_TYPO` (a mistyped symbol), `AIRSEAL_STATUS_MALFORMED` (not a signed key),
/// then 13-17 as for licenses, or 90-92.
///
/// # Safety
/// `store` is NULL or a live trust store (shared read-only as for `airseal_verify`); `key`
/// and `product` are NULL or NUL-terminated strings; `features_out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_verify_signed_key(
    store: *const AirsealTrustStore,
    key: *const c_char,
    product: *const c_char,
    now: i64,
    features_out: *mut u8,
) -> i32 {
    // SAFETY: the same contract, with no revocation list.
    unsafe { airseal_verify_signed_key_full(store, key, product, now, ptr::null(), features_out) }
}

/// `airseal_verify_signed_key`, and then a revocation list (from
/// `airseal_revocations_verify`): a key made by an issuing key the list revokes is
/// `AIRSEAL_STATUS_ISSUING_KEY_REVOKED` (34) whatever its creation day says, and a key the
/// list names (in any spelling) is `AIRSEAL_STATUS_REVOKED` (23). A key made by an issuing
/// key verifies once that key's certificate was added
/// (`airseal_trust_store_add_certificate`); a product its certificate does not list is 32.
///
/// # Safety
/// As for `airseal_verify_signed_key`; `revocations` is NULL or a live revocation list.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_verify_signed_key_full(
    store: *const AirsealTrustStore,
    key: *const c_char,
    product: *const c_char,
    now: i64,
    revocations: *const AirsealRevocationList,
    features_out: *mut u8,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `features_out` is NULL or writable; alignment is 1.
        let mut features_out = unsafe { features_out.as_mut() };
        if let Some(f) = features_out.as_deref_mut() {
            *f = 0;
        }
        // SAFETY: by the contract, `store` is NULL or live, and only read here.
        let store = unsafe { store.as_ref() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `key` is NULL or NUL-terminated.
        let key = unsafe { c_str(key) }?;
        // SAFETY: by the contract, `product` is NULL or NUL-terminated.
        let product = unsafe { c_str(product) }?;
        // SAFETY: by the contract, `revocations` is NULL or live, and only read here.
        let verified = match unsafe { revocations.as_ref() } {
            Some(list) => {
                store
                    .inner
                    .verify_signed_key_with_revocations(key, product, now, &list.inner)
            }
            None => store.inner.verify_signed_key(key, product, now),
        }
        .map_err(|e| fail(&e))?;
        if let Some(f) = features_out {
            *f = verified.features();
        }
        Ok(())
    })
}

/// Trusts a raw 32-byte Ed25519 public key for licenses (and revocation lists) issued
/// inside a window only (key rotation, `SPEC.md` section 6.1): an `iat` before `not_before` or
/// at or after `not_after` is `AIRSEAL_STATUS_KEY_OUT_OF_VALIDITY` (22). Pass
/// `AIRSEAL_NO_NOT_BEFORE` / `AIRSEAL_NO_NOT_AFTER` for an open end. Adding a key that is
/// already trusted replaces its window.
///
/// Returns as `airseal_trust_store_add_key`.
///
/// # Safety
/// As for `airseal_trust_store_add_key`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_add_key_with_validity(
    store: *mut AirsealTrustStore,
    key: *const u8,
    not_before: i64,
    not_after: i64,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `store` is NULL or live and not shared during the call.
        let store = unsafe { store.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `key` is NULL or points to 32 readable bytes; a byte
        // array has alignment 1.
        let key = unsafe { key.cast::<[u8; AIRSEAL_PUBLIC_KEY_LEN]>().as_ref() }
            .ok_or(AirsealStatus::NullPointer)?;
        store
            .inner
            .add_key_with_validity(key, validity(not_before, not_after))
            .map(drop)
            .map_err(|e| fail(&e))
    })
}

/// Trusts the key in a public key file (as `airseal_trust_store_add_key_file`) for licenses
/// issued inside a window only, as `airseal_trust_store_add_key_with_validity` does.
///
/// Returns as `airseal_trust_store_add_key_file`.
///
/// # Safety
/// As for `airseal_trust_store_add_key_file`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_add_key_file_with_validity(
    store: *mut AirsealTrustStore,
    text: *const u8,
    len: usize,
    not_before: i64,
    not_after: i64,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `store` is NULL or live and not shared during the call.
        let store = unsafe { store.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `text` is NULL or has `len` readable bytes.
        let text = unsafe { bytes(text, len, AIRSEAL_MAX_TEXT_LEN) }?;
        store
            .inner
            .add_public_key_file_with_validity(text, validity(not_before, not_after))
            .map(drop)
            .map_err(|e| fail(&e))
    })
}

/// Trusts an issuing-key certificate (`SPEC.md` section 18; raw COSE bytes or armored text,
/// `len` bytes) after verifying it against the trusted root keys now. Licenses, activation
/// responses and revocation lists signed by an issuing key carry their certificate and need
/// no call (trusting the root is enough); this is for signed product keys (text, which
/// cannot carry one), and it makes later verifications of objects carrying the same
/// certificate skip the root's signature check.
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_MALFORMED` (10), `AIRSEAL_STATUS_WRONG_TYPE`
/// (12: not a certificate), `AIRSEAL_STATUS_UNKNOWN_KEY_ID` (13: signed by no trusted root),
/// `AIRSEAL_STATUS_BAD_CERTIFICATE_SIGNATURE` (36), `AIRSEAL_STATUS_INVALID_PUBLIC_KEY` (19:
/// an unusable issuing key), or 90/92 (over `AIRSEAL_MAX_LICENSE_LEN`). Add the roots first.
///
/// # Safety
/// `store` is NULL or a live trust store that no other thread is using during the call;
/// `certificate` is NULL or points to `len` readable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_trust_store_add_certificate(
    store: *mut AirsealTrustStore,
    certificate: *const u8,
    len: usize,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `store` is NULL or live and not shared during the call.
        let store = unsafe { store.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `certificate` is NULL or has `len` readable bytes.
        let certificate = unsafe { bytes(certificate, len, AIRSEAL_MAX_LICENSE_LEN) }?;
        store
            .inner
            .add_certificate(certificate)
            .map(drop)
            .map_err(|e| fail(&e))
    })
}

/// The window of the `*_with_validity` functions: the two sentinels are open ends.
fn validity(not_before: i64, not_after: i64) -> KeyValidity {
    KeyValidity {
        not_before: (not_before != AIRSEAL_NO_NOT_BEFORE).then_some(not_before),
        not_after: (not_after != AIRSEAL_NO_NOT_AFTER).then_some(not_after),
    }
}

/// Verifies a license as `airseal_verify` does, with everything else an app can check:
///
/// * `device_public_key`: NULL, or the `AIRSEAL_PUBLIC_KEY_LEN` (32) bytes of this machine's
///   device public key. A license bound to another device key (activated on another
///   machine and copied here) is then `AIRSEAL_STATUS_WRONG_DEVICE` (27), even when the
///   fingerprint was faked or the machine cloned. With NULL, the device binding is not
///   checked. A device key without fingerprint components still fails a node-locked license
///   with `AIRSEAL_STATUS_WRONG_MACHINE`: pass both.
/// * `revocations`: NULL, or a list from `airseal_revocations_verify` (with the same trust
///   store); a license it revokes is `AIRSEAL_STATUS_REVOKED` (23).
///
/// Key validity windows (`airseal_trust_store_add_key_with_validity`) apply here as in
/// `airseal_verify`: 22 for a license issued outside its key's window.
///
/// # Safety
/// As for `airseal_verify`; `device_public_key` is NULL or points to 32 readable bytes;
/// `revocations` is NULL or a live revocation list.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_verify_full(
    store: *const AirsealTrustStore,
    license: *const u8,
    len: usize,
    now: i64,
    product: *const c_char,
    machine_components: *const u8,
    n_components: usize,
    device_public_key: *const u8,
    revocations: *const AirsealRevocationList,
    out: *mut *mut AirsealLicense,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `out` is NULL or writable (and a pointer is aligned).
        let out = unsafe { out.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        *out = ptr::null_mut();
        // SAFETY: by the contract, `store` is NULL or live, and only read here.
        let store = unsafe { store.as_ref() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `license` is NULL or has `len` readable bytes.
        let license = unsafe { bytes(license, len, AIRSEAL_MAX_LICENSE_LEN) }?;
        // SAFETY: by the contract, `product` is NULL or NUL-terminated.
        let product = unsafe { c_str(product) }?;
        // SAFETY: by the contract, `machine_components` has `n_components * 8` bytes.
        let mut machine = unsafe { machine(machine_components, n_components) }?;
        // SAFETY: by the contract, `device_public_key` is NULL or points to 32 readable
        // bytes; a byte array has alignment 1.
        let device = unsafe {
            device_public_key
                .cast::<[u8; AIRSEAL_PUBLIC_KEY_LEN]>()
                .as_ref()
        };
        if let Some(device) = device {
            let m = machine.unwrap_or_else(|| Machine::from_component_hashes(Vec::new()));
            machine = Some(m.with_device_key(device));
        }
        // SAFETY: by the contract, `revocations` is NULL or live, and only read here.
        let revocations = unsafe { revocations.as_ref() };
        let mut expected = Expected::product(product);
        if let Some(m) = &machine {
            expected = expected.machine(m);
        }
        if let Some(list) = revocations {
            expected = expected.revocations(&list.inner);
        }
        let verified = store
            .inner
            .verify(license, now, &expected)
            .map_err(|e| fail(&e))?;
        *out = Box::into_raw(Box::new(AirsealLicense { inner: verified }));
        Ok(())
    })
}

/// Verifies a revocation list (raw COSE bytes or armored text, `len` bytes) through the
/// trust store (`SPEC.md` sections 13 and 18): signed by a trusted root inside that key's
/// validity window, or by an issuing key whose certificate (carried in the list) the root
/// signed, allows lists, covers the list's issue time and grants its sequence number. The
/// app then passes it to `airseal_clock_guard_accept_revocations` (which refuses a list
/// older than one already seen) and to `airseal_verify_full`.
///
/// On success returns `AIRSEAL_STATUS_OK` and stores a new list in `*out`, to be freed with
/// `airseal_revocations_free`. Otherwise stores NULL in `*out` (if `out` is not NULL) and
/// returns 10-14 or 22 as for a license (12 for a license given as a list); for a list
/// signed by an issuing key 31, 33 (its certificate does not allow lists), 34 (the list
/// revokes its own signer), 35 (a sequence number outside the certificate's range) or 36;
/// or 90/92 (over `AIRSEAL_MAX_REVOCATION_LIST_LEN`).
///
/// # Safety
/// `store` is NULL or a live trust store (shared read-only as for `airseal_verify`); `list`
/// is NULL or points to `len` readable bytes; `out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_revocations_verify(
    store: *const AirsealTrustStore,
    list: *const u8,
    len: usize,
    out: *mut *mut AirsealRevocationList,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `out` is NULL or writable (and a pointer is aligned).
        let out = unsafe { out.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        *out = ptr::null_mut();
        // SAFETY: by the contract, `store` is NULL or live, and only read here.
        let store = unsafe { store.as_ref() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `list` is NULL or has `len` readable bytes.
        let list = unsafe { bytes(list, len, AIRSEAL_MAX_REVOCATION_LIST_LEN) }?;
        let verified = store.inner.verify_revocations(list).map_err(|e| fail(&e))?;
        *out = Box::into_raw(Box::new(AirsealRevocationList { inner: verified }));
        Ok(())
    })
}

/// The list's sequence number (`seq`: a newer list has a larger one); 0 when NULL.
///
/// # Safety
/// `list` is NULL or a live revocation list.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_revocations_seq(list: *const AirsealRevocationList) -> u64 {
    guard(0, || {
        // SAFETY: by the contract, `list` is NULL or live.
        unsafe { list.as_ref() }.map_or(0, |l| l.inner.seq)
    })
}

/// Frees a revocation list. NULL is ignored.
///
/// # Safety
/// `list` is NULL or a pointer stored by `airseal_revocations_verify` not yet freed, and no
/// other thread is using it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_revocations_free(list: *mut AirsealRevocationList) {
    guard((), || {
        if !list.is_null() {
            // SAFETY: by the contract, `list` came from `Box::into_raw` in
            // `airseal_revocations_verify` and is freed only once.
            drop(unsafe { Box::from_raw(list) });
        }
    });
}

/// Opens the clock guard (`SPEC.md` section 14) whose state is the file at `path`
/// (NUL-terminated UTF-8; absent = a fresh guard, created at the first change).
///
/// The state file is authenticated with a key made from `secret`
/// (`AIRSEAL_GUARD_SECRET_LEN` = 32 bytes the user cannot read: for example random bytes
/// the app keeps in the platform's key store; never a value found in the license) and
/// `binding` (`binding_len` bytes of public material, typically the machine's component
/// hashes and the license id). Without the secret the file cannot be forged; a file made
/// for another binding or secret is refused. Deleting the file, or restoring this machine's
/// own older copy, is not detected (see SPEC.md).
///
/// On success returns `AIRSEAL_STATUS_OK` and stores a new guard in `*out`, to be freed with
/// `airseal_clock_guard_free`. Otherwise stores NULL in `*out` (if `out` is not NULL) and
/// returns `AIRSEAL_STATUS_GUARD_STATE` (26: unreadable, forged, another binding or secret,
/// or a first-layout file, which is refused: delete it to start afresh), or 90-92 (a
/// binding over `AIRSEAL_MAX_TEXT_LEN`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `binding` is NULL or points to `binding_len`
/// readable bytes; `secret` is NULL or points to 32 readable bytes; `out` is NULL or
/// writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_open(
    path: *const c_char,
    binding: *const u8,
    binding_len: usize,
    secret: *const u8,
    out: *mut *mut AirsealClockGuard,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `out` is NULL or writable (and a pointer is aligned).
        let out = unsafe { out.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        *out = ptr::null_mut();
        // SAFETY: by the contract, `path` is NULL or NUL-terminated.
        let path = unsafe { c_str(path) }?;
        // SAFETY: by the contract, `binding` is NULL or has `binding_len` readable bytes.
        let binding = unsafe { bytes(binding, binding_len, AIRSEAL_MAX_TEXT_LEN) }?;
        // SAFETY: by the contract, `secret` is NULL or points to 32 readable bytes; a byte
        // array has alignment 1.
        let secret = unsafe { secret.cast::<[u8; AIRSEAL_GUARD_SECRET_LEN]>().as_ref() }
            .ok_or(AirsealStatus::NullPointer)?;
        let secret = GuardSecret::from_bytes(*secret);
        let opened =
            ClockGuard::open(std::path::Path::new(path), binding, &secret).map_err(|e| fail(&e))?;
        *out = Box::into_raw(Box::new(AirsealClockGuard { inner: opened }));
        Ok(())
    })
}

/// Opens the clock guard as `airseal_clock_guard_open` does, with the secret derived from
/// the device key in the app's data folder `device_dir` (NUL-terminated UTF-8; the folder
/// `airseal request --data-dir` and the Rust `Device` keep, `SPEC.md` section 15.5). The secret
/// and the seed it comes from never leave the library. A release replaces the device key, so
/// state kept under the old one then fails with 26: start a new state file for the new
/// license.
///
/// Returns as `airseal_clock_guard_open`, and `AIRSEAL_STATUS_NOT_ACTIVATED` (93: no device
/// key yet) or `AIRSEAL_STATUS_DEVICE_FOLDER` (94: the key file cannot be read or is
/// damaged).
///
/// # Safety
/// `path` and `device_dir` are NULL or NUL-terminated strings; `binding` is NULL or points
/// to `binding_len` readable bytes; `out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_open_device(
    path: *const c_char,
    binding: *const u8,
    binding_len: usize,
    device_dir: *const c_char,
    out: *mut *mut AirsealClockGuard,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `out` is NULL or writable (and a pointer is aligned).
        let out = unsafe { out.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        *out = ptr::null_mut();
        // SAFETY: by the contract, `path` is NULL or NUL-terminated.
        let path = unsafe { c_str(path) }?;
        // SAFETY: by the contract, `binding` is NULL or has `binding_len` readable bytes.
        let binding = unsafe { bytes(binding, binding_len, AIRSEAL_MAX_TEXT_LEN) }?;
        // SAFETY: by the contract, `device_dir` is NULL or NUL-terminated.
        let device_dir = unsafe { c_str(device_dir) }?;
        let secret = Device::open(device_dir)
            .guard_secret()
            .map_err(|e| device_failure(&e))?
            .ok_or(AirsealStatus::NotActivated)?;
        let opened =
            ClockGuard::open(std::path::Path::new(path), binding, &secret).map_err(|e| fail(&e))?;
        *out = Box::into_raw(Box::new(AirsealClockGuard { inner: opened }));
        Ok(())
    })
}

/// Copies the device public key of the app's data folder `device_dir` (NUL-terminated
/// UTF-8, as for `airseal_clock_guard_open_device`) into `out`
/// (`AIRSEAL_PUBLIC_KEY_LEN` = 32 bytes), for `airseal_verify_full`.
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_NOT_ACTIVATED` (93),
/// `AIRSEAL_STATUS_DEVICE_FOLDER` (94) or 90-92; `out` is written only on success.
///
/// # Safety
/// `device_dir` is NULL or a NUL-terminated string; `out` is NULL or points to 32 writable
/// bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_device_public_key(device_dir: *const c_char, out: *mut u8) -> i32 {
    status(|| {
        // SAFETY: by the contract, `out` is NULL or points to 32 writable bytes; a byte
        // array has alignment 1.
        let out = unsafe { out.cast::<[u8; AIRSEAL_PUBLIC_KEY_LEN]>().as_mut() }
            .ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `device_dir` is NULL or NUL-terminated.
        let device_dir = unsafe { c_str(device_dir) }?;
        let key = Device::open(device_dir)
            .public_key()
            .map_err(|e| device_failure(&e))?
            .ok_or(AirsealStatus::NotActivated)?;
        *out = key;
        Ok(())
    })
}

/// The status of a data folder that cannot give its device key.
fn device_failure(e: &DeviceError) -> AirsealStatus {
    match e {
        DeviceError::Verify(e) => fail(e),
        DeviceError::NotActivated => AirsealStatus::NotActivated,
        _ => AirsealStatus::DeviceFolder,
    }
}

/// After a license verified: checks `now` against the guard's high-water mark, then raises
/// the mark to max(mark, now, the license's issue time) and saves it.
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_CLOCK_ROLLED_BACK` (24: `now` is earlier
/// than the mark by more than the license's allowed clock offset), `AIRSEAL_STATUS_GUARD_STATE`
/// (26: the state cannot be saved) or `AIRSEAL_STATUS_NULL_POINTER`.
///
/// # Safety
/// `guard` is NULL or a live clock guard no other thread is using during the call;
/// `license` is NULL or a live license.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_observe(
    guard: *mut AirsealClockGuard,
    now: i64,
    license: *const AirsealLicense,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `guard` is NULL or live and not shared during the call.
        let guard = unsafe { guard.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `license` is NULL or live.
        let license = unsafe { license.as_ref() }.ok_or(AirsealStatus::NullPointer)?;
        guard
            .inner
            .observe(now, &license.inner)
            .map_err(|e| fail(&e))
    })
}

/// Accepts a verified revocation list unless a newer one was accepted before, and remembers
/// its `seq` in the state file.
///
/// Returns `AIRSEAL_STATUS_OK`, `AIRSEAL_STATUS_STALE_REVOCATION_LIST` (25: older than one
/// already accepted: an old list restored to un-revoke a license), `AIRSEAL_STATUS_GUARD_STATE`
/// (26) or `AIRSEAL_STATUS_NULL_POINTER`.
///
/// # Safety
/// `guard` is NULL or a live clock guard no other thread is using during the call; `list`
/// is NULL or a live revocation list.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_accept_revocations(
    guard: *mut AirsealClockGuard,
    list: *const AirsealRevocationList,
) -> i32 {
    status(|| {
        // SAFETY: by the contract, `guard` is NULL or live and not shared during the call.
        let guard = unsafe { guard.as_mut() }.ok_or(AirsealStatus::NullPointer)?;
        // SAFETY: by the contract, `list` is NULL or live.
        let list = unsafe { list.as_ref() }.ok_or(AirsealStatus::NullPointer)?;
        guard
            .inner
            .accept_revocations(&list.inner)
            .map_err(|e| fail(&e))
    })
}

/// If the guard has observed a time, stores its high-water mark in `*out` and returns true;
/// false for a fresh guard, or when an argument is NULL.
///
/// # Safety
/// `guard` is NULL or a live clock guard; `out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_high_water_mark(
    guard: *const AirsealClockGuard,
    out: *mut i64,
) -> bool {
    self::guard(false, || {
        // SAFETY: by the contract, `guard` is NULL or live.
        let guard = unsafe { guard.as_ref() };
        // SAFETY: by the contract, `out` is NULL or writable (and aligned for an i64).
        let out = unsafe { out.as_mut() };
        match (guard.and_then(|g| g.inner.high_water_mark()), out) {
            (Some(mark), Some(out)) => {
                *out = mark;
                true
            }
            _ => false,
        }
    })
}

/// The newest revocation list `seq` the guard has accepted (0 when none, or NULL).
///
/// # Safety
/// `guard` is NULL or a live clock guard.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_revocations_seq(
    guard: *const AirsealClockGuard,
) -> u64 {
    self::guard(0, || {
        // SAFETY: by the contract, `guard` is NULL or live.
        unsafe { guard.as_ref() }.map_or(0, |g| g.inner.revocations_seq())
    })
}

/// Frees a clock guard (its state is already saved). NULL is ignored.
///
/// # Safety
/// `guard` is NULL or a pointer stored by `airseal_clock_guard_open` not yet freed, and no
/// other thread is using it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_clock_guard_free(guard: *mut AirsealClockGuard) {
    self::guard((), || {
        if !guard.is_null() {
            // SAFETY: by the contract, `guard` came from `Box::into_raw` in
            // `airseal_clock_guard_open` and is freed only once.
            drop(unsafe { Box::from_raw(guard) });
        }
    });
}

/// Frees a license. NULL is ignored.
///
/// # Safety
/// `license` is NULL or a pointer stored by `airseal_verify` not yet freed, and no other
/// thread is using it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_free(license: *mut AirsealLicense) {
    guard((), || {
        if !license.is_null() {
            // SAFETY: by the contract, `license` came from `Box::into_raw` in
            // `airseal_verify` and is freed only once.
            drop(unsafe { Box::from_raw(license) });
        }
    });
}

/// Copies the license id (`sub`) and a NUL into `buf` when `buf_len` bytes are enough, and
/// returns the size needed including the NUL. Call with NULL and 0 to learn the size. When
/// `buf_len` is too small, writes only an empty string (never a truncated id). Returns 0
/// when `license` is NULL.
///
/// # Safety
/// `license` is NULL or a live license; `buf` is NULL or points to `buf_len` writable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_id(
    license: *const AirsealLicense,
    buf: *mut c_char,
    buf_len: usize,
) -> usize {
    guard(0, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let Some(license) = (unsafe { license.as_ref() }) else {
            return 0;
        };
        // SAFETY: by the contract, `buf` is NULL or has `buf_len` writable bytes, and it
        // cannot overlap the library-owned id.
        unsafe { write_string(license.inner.id(), buf, buf_len) }
    })
}

/// Copies the product id (`aud`) as `airseal_license_id` copies the license id.
///
/// # Safety
/// `license` is NULL or a live license; `buf` is NULL or points to `buf_len` writable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_product(
    license: *const AirsealLicense,
    buf: *mut c_char,
    buf_len: usize,
) -> usize {
    guard(0, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let Some(license) = (unsafe { license.as_ref() }) else {
            return 0;
        };
        // SAFETY: by the contract, `buf` is NULL or has `buf_len` writable bytes, and it
        // cannot overlap the library-owned product id.
        unsafe { write_string(&license.inner.claims().product, buf, buf_len) }
    })
}

/// If the license expires, stores when (`exp`, seconds since 1970) in `*out` and returns
/// true; returns false for a license that never expires, or when an argument is NULL.
///
/// # Safety
/// `license` is NULL or a live license; `out` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_expires_at(
    license: *const AirsealLicense,
    out: *mut i64,
) -> bool {
    guard(false, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let license = unsafe { license.as_ref() };
        // SAFETY: by the contract, `out` is NULL or writable (and aligned for an i64).
        let out = unsafe { out.as_mut() };
        match (license.and_then(|l| l.inner.expires_at()), out) {
            (Some(exp), Some(out)) => {
                *out = exp;
                true
            }
            _ => false,
        }
    })
}

/// The license's kind, so an app can show "trial, ends on …" (`AIRSEAL_LICENSE_KIND_NONE`
/// for NULL).
///
/// # Safety
/// `license` is NULL or a live license.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_kind(
    license: *const AirsealLicense,
) -> AirsealLicenseKind {
    guard(AirsealLicenseKind::None, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let license = unsafe { license.as_ref() };
        match license.map(|l| l.inner.kind()) {
            None => AirsealLicenseKind::None,
            Some(LicenseKind::Perpetual) => AirsealLicenseKind::Perpetual,
            Some(LicenseKind::Subscription) => AirsealLicenseKind::Subscription,
            Some(LicenseKind::Trial) => AirsealLicenseKind::Trial,
        }
    })
}

/// True when the license was past its expiry but inside its grace period at the `now` it was
/// verified at: the app should keep working and urge renewal. False when NULL.
///
/// # Safety
/// `license` is NULL or a live license.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_in_grace(license: *const AirsealLicense) -> bool {
    guard(false, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let license = unsafe { license.as_ref() };
        license.is_some_and(|l| matches!(l.inner.status(), Status::InGrace { .. }))
    })
}

/// Is the feature `name` (`"F1"`..`"F8"`, or a named feature) enabled at `now`? False when
/// an argument is NULL, not UTF-8 or too long.
///
/// # Safety
/// `license` is NULL or a live license; `name` is NULL or a NUL-terminated string.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_feature_enabled(
    license: *const AirsealLicense,
    name: *const c_char,
    now: i64,
) -> bool {
    guard(false, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let Some(license) = (unsafe { license.as_ref() }) else {
            return false;
        };
        // SAFETY: by the contract, `name` is NULL or NUL-terminated.
        unsafe { c_str(name) }.is_ok_and(|name| license.inner.feature_enabled(name, now))
    })
}

/// The feature bits enabled at `now`: bit i set when `F(i+1)` is (named features are not
/// included; ask for them with `airseal_license_feature_enabled`). 0 when NULL.
///
/// # Safety
/// `license` is NULL or a live license.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_feature_bits(
    license: *const AirsealLicense,
    now: i64,
) -> u8 {
    guard(0, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let Some(license) = (unsafe { license.as_ref() }) else {
            return 0;
        };
        (0..8u8)
            .filter(|i| license.inner.feature_enabled(&format!("F{}", i + 1), now))
            .fold(0, |bits, i| bits | (1 << i))
    })
}

/// Copies the id of the key that signed the license (a trusted root, or the issuing key of
/// `airseal_license_issuer`) into `out` (`AIRSEAL_KEY_ID_LEN` = 8 bytes) and returns true;
/// false, writing nothing, when an argument is NULL.
///
/// # Safety
/// `license` is NULL or a live license; `out` is NULL or points to 8 writable bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_key_id(
    license: *const AirsealLicense,
    out: *mut u8,
) -> bool {
    guard(false, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let license = unsafe { license.as_ref() };
        // SAFETY: by the contract, `out` is NULL or points to 8 writable bytes; a byte array
        // has alignment 1.
        let out = unsafe { out.cast::<[u8; AIRSEAL_KEY_ID_LEN]>().as_mut() };
        match (license, out) {
            (Some(l), Some(out)) => {
                *out = l.inner.key_id().0;
                true
            }
            _ => false,
        }
    })
}

/// True when the license was signed by an issuing key a root certified (`SPEC.md` section
/// 18): then stores, for each pointer that is not NULL, the root's key id (8 bytes) and the
/// certificate's serial. False, writing nothing, for a license signed by a root directly, or
/// a NULL license.
///
/// # Safety
/// `license` is NULL or a live license; `root_key_id` is NULL or points to 8 writable bytes;
/// `serial` is NULL or writable.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn airseal_license_issuer(
    license: *const AirsealLicense,
    root_key_id: *mut u8,
    serial: *mut u64,
) -> bool {
    guard(false, || {
        // SAFETY: by the contract, `license` is NULL or live.
        let Some(issuer) = (unsafe { license.as_ref() }).and_then(|l| l.inner.issuer()) else {
            return false;
        };
        // SAFETY: by the contract, `root_key_id` is NULL or points to 8 writable bytes; a
        // byte array has alignment 1.
        if let Some(out) = unsafe { root_key_id.cast::<[u8; AIRSEAL_KEY_ID_LEN]>().as_mut() } {
            *out = issuer.root().0;
        }
        // SAFETY: by the contract, `serial` is NULL or writable (and aligned for a u64).
        if let Some(out) = unsafe { serial.as_mut() } {
            *out = issuer.certificate().serial;
        }
        true
    })
}

/// A static, NUL-terminated description of a status code (never NULL, never to be freed);
/// "unknown status code" for a number that is not one.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn airseal_error_message(code: i32) -> *const c_char {
    guard(c"internal error".as_ptr(), || {
        AirsealStatus::from_code(code)
            .map_or(c"unknown status code", AirsealStatus::message)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use airseal_verify::{DecodeError, DecodeErrorKind, KeyId};

    /// One value of every `Error` variant, with the status of the same name.
    fn every_error() -> Vec<(Error, AirsealStatus)> {
        vec![
            (
                Error::Malformed(DecodeError::new(
                    0,
                    "test",
                    DecodeErrorKind::InvalidValue("x"),
                )),
                AirsealStatus::Malformed,
            ),
            (
                Error::UnsupportedAlgorithm { alg: -7 },
                AirsealStatus::UnsupportedAlgorithm,
            ),
            (
                Error::WrongType {
                    found: "airseal-revocations".into(),
                },
                AirsealStatus::WrongType,
            ),
            (
                Error::UnknownKeyId { kid: KeyId([0; 8]) },
                AirsealStatus::UnknownKeyId,
            ),
            (Error::BadSignature, AirsealStatus::BadSignature),
            (
                Error::WrongProduct {
                    expected: "a".into(),
                    found: "b".into(),
                },
                AirsealStatus::WrongProduct,
            ),
            (
                Error::NotYetValid {
                    valid_from: 1,
                    now: 0,
                },
                AirsealStatus::NotYetValid,
            ),
            (
                Error::Expired {
                    expired_at: 0,
                    now: 1,
                },
                AirsealStatus::Expired,
            ),
            (
                Error::WrongMachine {
                    matched: 0,
                    required: 1,
                },
                AirsealStatus::WrongMachine,
            ),
            (Error::InvalidPublicKey, AirsealStatus::InvalidPublicKey),
            (Error::Typo, AirsealStatus::Typo),
            (
                Error::MaintenanceEnded {
                    maintenance_until: 0,
                    release_date: 1,
                },
                AirsealStatus::MaintenanceEnded,
            ),
            (
                Error::KeyOutOfValidity {
                    kid: KeyId([0; 8]),
                    issued_at: 0,
                },
                AirsealStatus::KeyOutOfValidity,
            ),
            (
                Error::Revoked {
                    reason: "license id",
                    list_seq: 1,
                },
                AirsealStatus::Revoked,
            ),
            (
                Error::ClockRolledBack {
                    now: 0,
                    last_seen: 1,
                },
                AirsealStatus::ClockRolledBack,
            ),
            (
                Error::StaleRevocationList { seq: 1, newest: 2 },
                AirsealStatus::StaleRevocationList,
            ),
            (
                Error::GuardState { reason: "test" },
                AirsealStatus::GuardState,
            ),
            (Error::WrongDevice, AirsealStatus::WrongDevice),
            (
                Error::WrongRequest { reason: "test" },
                AirsealStatus::WrongRequest,
            ),
            (
                Error::Released {
                    license_id: "L".into(),
                },
                AirsealStatus::Released,
            ),
            (
                Error::StaleUpdate {
                    issued_at: 1,
                    installed_at: 2,
                },
                AirsealStatus::StaleUpdate,
            ),
            (
                Error::CertificateOutOfValidity {
                    serial: 1,
                    not_before: 0,
                    not_after: 1,
                    issued_at: 2,
                },
                AirsealStatus::CertificateOutOfValidity,
            ),
            (
                Error::CertificateProductNotAllowed {
                    serial: 1,
                    product: "p".into(),
                },
                AirsealStatus::CertificateProductNotAllowed,
            ),
            (
                Error::CertificateTypeNotAllowed {
                    serial: 1,
                    object: "license",
                },
                AirsealStatus::CertificateTypeNotAllowed,
            ),
            (
                Error::IssuingKeyRevoked {
                    kid: KeyId([0; 8]),
                    list_seq: 1,
                },
                AirsealStatus::IssuingKeyRevoked,
            ),
            (
                Error::RevocationSeqOutOfRange {
                    seq: 1,
                    lo: 2,
                    hi: 3,
                },
                AirsealStatus::RevocationSeqOutOfRange,
            ),
            (
                Error::BadCertificateSignature {
                    root: KeyId([0; 8]),
                },
                AirsealStatus::BadCertificateSignature,
            ),
        ]
    }

    /// `WrongProduct` → `wrong_product`.
    fn snake(name: &str) -> String {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_uppercase() && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn status_codes_mirror_the_error_enum() {
        let errors = every_error();
        for (e, s) in &errors {
            assert_eq!(i32::from(e.code()), *s as i32, "{e:?}");
            assert_eq!(AirsealStatus::of_error(e), *s as i32, "{e:?}");
            assert_eq!(fail(e), *s);
            // The names agree too: `AirsealStatus::WrongProduct` is class `wrong_product`.
            assert_eq!(snake(&format!("{s:?}")), e.class(), "{e:?}");
        }
        // Every code 1..=89 the enum defines is an `Error` variant's, so a new variant
        // with a new code fails here until it has a constant.
        let verifier_statuses: Vec<AirsealStatus> = ALL_STATUSES
            .into_iter()
            .filter(|s| (1..90).contains(&(*s as i32)))
            .collect();
        let mapped: Vec<AirsealStatus> = errors.iter().map(|(_, s)| *s).collect();
        assert_eq!(verifier_statuses, mapped);
    }

    /// Reads `Error::code()` from the verifier's source: every `Error::Variant … => N,` arm.
    /// A variant added there without a constant here fails `every_error_code_has_a_status`
    /// even before anyone adds it to `every_error`.
    fn codes_in_verifier_source() -> Vec<(String, i32)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../airseal-verify/src/error.rs"
        );
        let source = std::fs::read_to_string(path).unwrap();
        let start = source.find("pub fn code(&self)").unwrap();
        let body = &source[start..];
        let body = &body[..body.find("\n    }\n").unwrap()];
        body.lines()
            .filter_map(|line| {
                let line = line.trim();
                let rest = line.strip_prefix("Error::")?;
                let (arm, code) = rest.split_once("=>")?;
                let name: String = arm
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let code = code.trim().trim_end_matches(',').parse().ok()?;
                Some((name, code))
            })
            .collect()
    }

    #[test]
    fn every_error_code_has_a_status() {
        let codes = codes_in_verifier_source();
        assert!(codes.len() >= 11, "{codes:?}");
        for (name, code) in &codes {
            let status = AirsealStatus::from_code(*code);
            assert_eq!(
                status.map(|s| format!("{s:?}")).as_deref(),
                Some(name.as_str()),
                "Error::{name} has code {code}: add `{name} = {code}` to AirsealStatus (and \
                 to every_error), then regenerate the header"
            );
        }
        let verifier_statuses = ALL_STATUSES
            .into_iter()
            .filter(|s| (1..90).contains(&(*s as i32)))
            .count();
        assert_eq!(verifier_statuses, codes.len());
        assert_eq!(every_error().len(), codes.len());
    }

    #[test]
    fn from_code_and_messages_cover_every_status() {
        for s in ALL_STATUSES {
            assert_eq!(AirsealStatus::from_code(s as i32), Some(s));
            // Each message opens with the status's name in words: "wrong product: …".
            let name = snake(&format!("{s:?}")).replace('_', " ");
            let message = s.message().to_str().unwrap();
            assert!(message.starts_with(&name), "{message}");
        }
        let known = (-1..=256)
            .filter(|c| AirsealStatus::from_code(*c).is_some())
            .count();
        assert_eq!(known, ALL_STATUSES.len());
        let unknown = airseal_error_message(42);
        // SAFETY: `airseal_error_message` returns a static NUL-terminated string.
        #[allow(unsafe_code)]
        let text = unsafe { std::ffi::CStr::from_ptr(unknown) };
        assert_eq!(text, c"unknown status code");
    }

    #[test]
    fn a_panic_becomes_status_99() {
        #[allow(clippy::panic)]
        let code = status(|| panic!("boom"));
        assert_eq!(code, 99);
        assert_eq!(guard(7, || -> i32 { panic!("boom") }), 7);
        assert_eq!(status(|| Err(AirsealStatus::TooLarge)), 92);
        assert_eq!(status(|| Ok(())), 0);
    }
}
