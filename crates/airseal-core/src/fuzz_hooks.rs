//! Hooks the fuzz targets call (`fuzz/fuzz_targets/`): each target is one line over one of
//! these, so the properties checked live next to the code they test.
//!
//! Each hook panics only when a property is broken, which is what the fuzzer looks for.

#![allow(clippy::panic)]

use crate::armor;
use crate::claims::LicenseClaims;
use crate::cose;

/// Armor: never panics; whatever it accepts re-armors, and re-writes as QR text, to
/// something it reads back the same.
pub fn armor_round_trip(data: &[u8]) {
    if let Ok(bytes) = armor::dearmor(data) {
        let again = armor::armor("AIRSEAL LICENSE", &bytes);
        let back = armor::dearmor(again.as_bytes());
        if back.as_deref() != Ok(bytes.as_ref()) && !armor::is_raw(data) {
            panic!("armor did not round-trip");
        }
        // The QR text form has no empty object, and binary passed through is not size-checked.
        if !bytes.is_empty() && bytes.len() <= cose::MAX_OBJECT_SIZE {
            let qr = armor::qr_text(&bytes);
            if armor::dearmor(qr.as_bytes()).as_deref() != Ok(bytes.as_ref()) {
                panic!("QR text did not round-trip");
            }
        }
    }
}

/// Envelope: anything `parse_sign1` accepts re-assembles to exactly the input bytes.
pub fn envelope_round_trip(data: &[u8]) {
    if let Ok(s) = cose::parse_sign1(data) {
        if cose::encode_sign1(s.protected, s.payload, &s.signature) != data {
            panic!("envelope parse → encode changed the bytes");
        }
    }
}

/// Claims: anything `decode` accepts encodes back to exactly the input bytes (every
/// accepted encoding is the deterministic one).
pub fn claims_round_trip(data: &[u8]) {
    if let Ok(c) = LicenseClaims::decode(data, 0) {
        if c.encode() != data {
            panic!("claims decode → encode changed the bytes");
        }
    }
}

/// Public key file parser: never panics.
pub fn public_key(data: &[u8]) {
    let _ = crate::pubkey::parse_public_key(data);
}

/// Product keys: pattern parsing and key reading never panic; a key read successfully
/// re-reads to itself from its display form.
pub fn product_key(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let (pattern, key) = text
        .split_once('\n')
        .unwrap_or((crate::productkey::DEFAULT_PATTERN, text));
    let Ok(p) = crate::productkey::Pattern::parse(pattern) else {
        return;
    };
    if let Ok(canonical) = p.canonicalize(key) {
        if p.canonicalize(&p.display(&canonical)).as_deref() != Ok(canonical.as_str()) {
            panic!("display form of a key does not read back");
        }
    }
    let _ = crate::signedkey::decode(text);
}

/// Revocation lists: anything `decode` accepts encodes back to exactly the input bytes.
pub fn revocations_round_trip(data: &[u8]) {
    if let Ok(list) = crate::revocation::RevocationList::decode(data, 0) {
        if list.encode() != data {
            panic!("revocation list decode → encode changed the bytes");
        }
    }
}
