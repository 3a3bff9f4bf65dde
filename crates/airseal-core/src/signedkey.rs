//! Signed keys: a product key that carries its own Ed25519 signature, so an app can check it
//! with only the vendor's public key and no license file (`SPEC.md` §12.4).
//!
//! A signed key is 84 bytes: a 20-byte payload (format byte, key id, product tag, features,
//! validity, creation day, serial) and the 64-byte Ed25519 signature over a domain string
//! followed by the payload. The 672 bits are written as 135 Crockford base32 symbols plus the
//! GF(32) check symbol of [`crate::productkey`], 136 symbols in 17 groups of 8. The signature
//! fixes the length: nothing shorter can carry a standard Ed25519 signature, and the payload
//! is kept to the fields an app needs to decide.
//!
//! This module only encodes and decodes; checking the signature is `airseal-verify`'s job and
//! making one is `airseal-vendor`'s.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::UnixTime;
use crate::kid::KeyId;
use crate::productkey::{self, check_value, symbol, symbol_value, values_to_bits};

/// The first byte of every version-1 signed key. It is signed, so a future format cannot be
/// confused with this one, and it lets a reader name an unknown format instead of reporting
/// a bad signature.
pub const FORMAT_V1: u8 = 0xA1;

/// Prefix of the signed message. No other airseal signature covers a message starting with
/// these bytes (a COSE `Sig_structure` starts with `0x84`), so a signature made for a
/// license can never verify as a key, nor the reverse.
pub const SIGNING_DOMAIN: &[u8] = b"airseal-signed-key-v1\0";

/// Length of the payload (everything but the signature).
pub const PAYLOAD_LEN: usize = 20;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of the whole key in bytes.
pub const KEY_LEN: usize = PAYLOAD_LEN + SIGNATURE_LEN;
/// Bits carried by the data symbols.
const KEY_BITS: usize = KEY_LEN * 8;
/// Data symbols: 672 bits in 5-bit symbols, the last one padded with 3 zero bits.
pub const DATA_SYMBOLS: usize = KEY_BITS.div_ceil(5);
/// Symbols in a signed key, check symbol included (136).
pub const SYMBOLS: usize = DATA_SYMBOLS + 1;
/// Symbols per group in the display form.
pub const GROUP: usize = 8;
/// Characters in the display form: 17 groups of 8 and 16 dashes (152).
pub const DISPLAY_LEN: usize = SYMBOLS + SYMBOLS.div_ceil(GROUP) - 1;
/// Padding bits at the end of the last data symbol; they must be zero.
const PAD_BITS: usize = DATA_SYMBOLS * 5 - KEY_BITS;

/// Unix time of 2020-01-01T00:00:00Z, the day creation days count from (shared with data
/// keys, [`productkey::KEY_EPOCH`]).
pub const EPOCH_2020: i64 = productkey::KEY_EPOCH;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The product tag of a product id: the first two bytes of
/// SHA-512(`"airseal-product-tag"` || product id). The same tag as data keys use (they keep
/// only its low 4 bits), so one product id gives one tag whichever kind of key is issued.
pub fn product_tag(product: &str) -> [u8; 2] {
    productkey::product_tag(product)
}

/// The signed fields of a signed key.
///
/// Anyone can read them; only a key whose signature verifies (in `airseal-verify`) proves
/// the vendor issued them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignedKeyPayload {
    /// Id of the signing key: selects the public key, as in license files.
    pub kid: KeyId,
    /// [`product_tag`] of the product the key is for: catches a key typed into the wrong
    /// product (two products signed by one key must have different tags).
    pub product_tag: [u8; 2],
    /// Feature bits: bit i grants `F(i+1)`.
    pub features: u8,
    /// Validity in days from the start of the creation day; 0 = no expiry.
    pub days: u16,
    /// Creation day, counted from 2020-01-01 UTC ([`EPOCH_2020`]).
    pub created_day: u16,
    /// Random serial: makes two keys with the same fields differ, and names a key in a
    /// vendor's records.
    pub serial: u32,
}

impl SignedKeyPayload {
    /// The 20 payload bytes, big-endian, format byte first: the bytes the signature covers
    /// (after [`SIGNING_DOMAIN`]).
    pub fn to_bytes(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        let fields = [FORMAT_V1]
            .into_iter()
            .chain(self.kid.0)
            .chain(self.product_tag)
            .chain([self.features])
            .chain(self.days.to_be_bytes())
            .chain(self.created_day.to_be_bytes())
            .chain(self.serial.to_be_bytes());
        for (o, b) in out.iter_mut().zip(fields) {
            *o = b;
        }
        out
    }

    /// Reads the 20 payload bytes.
    ///
    /// # Errors
    /// [`SignedKeyError::UnknownFormat`] when the first byte is not [`FORMAT_V1`].
    pub fn from_bytes(bytes: &[u8; PAYLOAD_LEN]) -> Result<Self, SignedKeyError> {
        // format | kid (8) | product tag (2) | features | days (2) | created day (2) | serial (4)
        #[rustfmt::skip]
        let [format, k0, k1, k2, k3, k4, k5, k6, k7, t0, t1, features, d0, d1, c0, c1,
             s0, s1, s2, s3] = *bytes;
        if format != FORMAT_V1 {
            return Err(SignedKeyError::UnknownFormat { found: format });
        }
        Ok(Self {
            kid: KeyId([k0, k1, k2, k3, k4, k5, k6, k7]),
            product_tag: [t0, t1],
            features,
            days: u16::from_be_bytes([d0, d1]),
            created_day: u16::from_be_bytes([c0, c1]),
            serial: u32::from_be_bytes([s0, s1, s2, s3]),
        })
    }

    /// The creation day of a creation instant: whole days since 2020-01-01 UTC, saturating
    /// at day 0 (before 2020) and day 65 535 (in 2199).
    pub fn day_of(created: UnixTime) -> u16 {
        let day = created.saturating_sub(EPOCH_2020).div_euclid(DAY);
        u16::try_from(day.max(0)).unwrap_or(u16::MAX)
    }

    /// The start of the creation day (UTC), in seconds since 1970.
    pub fn created_at(&self) -> UnixTime {
        EPOCH_2020 + i64::from(self.created_day) * DAY
    }

    /// When the key stops working (`created_at + days` days), or `None` if it never does.
    pub fn expires_at(&self) -> Option<UnixTime> {
        (self.days != 0).then(|| self.created_at() + i64::from(self.days) * DAY)
    }
}

/// The message the signature covers: [`SIGNING_DOMAIN`] followed by the payload bytes
/// (42 bytes).
pub fn signing_message(payload: &[u8; PAYLOAD_LEN]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + PAYLOAD_LEN);
    m.extend_from_slice(SIGNING_DOMAIN);
    m.extend_from_slice(payload);
    m
}

/// The display form of a key: 136 symbols (135 data symbols and the check symbol) in 17
/// groups of 8 separated by `-`.
pub fn encode(payload: &[u8; PAYLOAD_LEN], signature: &[u8; SIGNATURE_LEN]) -> String {
    let mut bytes = [0u8; KEY_LEN];
    for (o, b) in bytes.iter_mut().zip(payload.iter().chain(signature)) {
        *o = *b;
    }
    let data = data_symbols(&bytes);
    let check = check_value(data.iter().copied());
    let mut out = String::with_capacity(DISPLAY_LEN);
    for (i, v) in data.iter().chain([&check]).enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(char::from(symbol(*v)));
    }
    out
}

/// The 135 data symbols of the 84 key bytes, most significant bit first, the last one padded
/// with zero bits: exactly `productkey::bits_to_values(bytes, 672)` (a test checks it), with
/// a byte-at-a-time accumulator instead of a loop per bit, because vendors make keys in
/// bulk.
fn data_symbols(bytes: &[u8; KEY_LEN]) -> [u8; DATA_SYMBOLS] {
    let mut out = [0u8; DATA_SYMBOLS];
    let mut slots = out.iter_mut();
    let (mut acc, mut nbits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            if let Some(slot) = slots.next() {
                *slot = ((acc >> nbits) & 31) as u8;
            }
        }
    }
    if let Some(slot) = slots.next() {
        *slot = ((acc << (5 - nbits)) & 31) as u8;
    }
    out
}

/// A decoded key: the payload bytes as signed, the fields they hold, and the signature.
pub type DecodedKey = ([u8; PAYLOAD_LEN], SignedKeyPayload, [u8; SIGNATURE_LEN]);

/// Reads a key as typed. Tolerates what people do when typing or pasting: any case, `I` or
/// `L` for `1`, `O` for `0`, and dashes, spaces, tabs and line breaks anywhere (a 152-character
/// key is often wrapped by mail programs).
///
/// The checks run in this order, so that a typo is never reported as anything else: symbols
/// only, 136 of them, the check symbol, the format byte, zero padding bits.
///
/// # Errors
/// [`SignedKeyError`] naming the first problem found. No signature is checked here.
pub fn decode(typed: &str) -> Result<DecodedKey, SignedKeyError> {
    let mut values = [0u8; SYMBOLS];
    let mut count = 0usize;
    for (position, c) in typed.chars().enumerate() {
        if matches!(c, '-' | ' ' | '\t' | '\r' | '\n') {
            continue;
        }
        let v = u8::try_from(c)
            .ok()
            .and_then(symbol_value)
            .ok_or(SignedKeyError::InvalidCharacter { position, found: c })?;
        if let Some(slot) = values.get_mut(count) {
            *slot = v;
        }
        count = count.saturating_add(1);
    }
    if count != SYMBOLS {
        return Err(SignedKeyError::WrongLength {
            found: count,
            expected: SYMBOLS,
        });
    }
    let (data, check) = values.split_at(DATA_SYMBOLS);
    if check.first().copied() != Some(check_value(data.iter().copied())) {
        return Err(SignedKeyError::Typo);
    }
    let bytes = values_to_bits(data, KEY_LEN);
    let payload_bytes: [u8; PAYLOAD_LEN] =
        core::array::from_fn(|i| bytes.get(i).copied().unwrap_or(0));
    let signature: [u8; SIGNATURE_LEN] =
        core::array::from_fn(|i| bytes.get(PAYLOAD_LEN + i).copied().unwrap_or(0));
    let payload = SignedKeyPayload::from_bytes(&payload_bytes)?;
    // One key, one encoding: the bits after the 672nd must be zero, or two strings would
    // verify as the same key.
    let pad_mask = (1u8 << PAD_BITS) - 1;
    if data.last().is_some_and(|v| v & pad_mask != 0) {
        return Err(SignedKeyError::NonCanonical);
    }
    Ok((payload_bytes, payload, signature))
}

/// Why a typed string is not a signed key. Checking the signature is not part of decoding,
/// so none of these means "forged".
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedKeyError {
    /// A character that is neither a key symbol (after the typo mapping) nor a separator.
    InvalidCharacter {
        /// 0-based position, in characters, in the typed string.
        position: usize,
        /// The character.
        found: char,
    },
    /// Not 136 symbols (separators not counted).
    WrongLength {
        /// Symbols found.
        found: usize,
        /// Symbols a signed key has.
        expected: usize,
    },
    /// The check symbol does not match: a symbol was mistyped (or two were swapped).
    Typo,
    /// The symbols are intact but the first byte is not [`FORMAT_V1`]: another kind or a
    /// later version of key.
    UnknownFormat {
        /// The first byte.
        found: u8,
    },
    /// The padding bits after the 672nd bit are not zero: not the one encoding of the key.
    NonCanonical,
}

impl fmt::Display for SignedKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { position, found } => write!(
                f,
                "character {found:?} at position {} is not a key symbol",
                position.saturating_add(1)
            ),
            Self::WrongLength { found, expected } => {
                write!(f, "{found} symbols, a signed key has {expected}")
            }
            Self::Typo => f.write_str("check symbol does not match: a symbol was mistyped"),
            Self::UnknownFormat { found } => write!(
                f,
                "unknown key format 0x{found:02x} (a version 1 signed key starts with 0x{FORMAT_V1:02x})"
            ),
            Self::NonCanonical => {
                f.write_str("non-zero padding bits in the last data symbol: not a canonical key")
            }
        }
    }
}

impl core::error::Error for SignedKeyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn sample_payload() -> SignedKeyPayload {
        SignedKeyPayload {
            kid: KeyId([0x23, 0x40, 0xa1, 0x62, 0x77, 0x42, 0x0c, 0x73]),
            product_tag: product_tag("photo-pro"),
            features: 0b101,
            days: 365,
            created_day: 2_200,
            serial: 0xdead_beef,
        }
    }

    fn sample_signature(seed: u8) -> [u8; 64] {
        core::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
    }

    fn sample_key(seed: u8) -> String {
        encode(&sample_payload().to_bytes(), &sample_signature(seed))
    }

    /// The 136 symbol values of a canonical key (no separators).
    fn canonical(key: &str) -> Vec<u8> {
        key.bytes().filter(|c| *c != b'-').collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(
            (KEY_LEN, DATA_SYMBOLS, SYMBOLS, PAD_BITS),
            (84, 135, 136, 3)
        );
        assert_eq!(DISPLAY_LEN, 152);
        assert_eq!(signing_message(&[0; 20]).len(), 42);
        assert!(signing_message(&[0; 20]).starts_with(b"airseal-signed-key-v1\0"));
    }

    #[test]
    fn payload_layout_is_big_endian() {
        let bytes = sample_payload().to_bytes();
        assert_eq!(bytes[0], 0xA1);
        assert_eq!(
            &bytes[1..9],
            &[0x23, 0x40, 0xa1, 0x62, 0x77, 0x42, 0x0c, 0x73]
        );
        assert_eq!(&bytes[9..11], &product_tag("photo-pro"));
        assert_eq!(bytes[11], 0b101);
        assert_eq!(&bytes[12..14], &[0x01, 0x6d]);
        assert_eq!(&bytes[14..16], &[0x08, 0x98]);
        assert_eq!(&bytes[16..20], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(SignedKeyPayload::from_bytes(&bytes), Ok(sample_payload()));
    }

    #[test]
    fn round_trip_and_display_form() {
        let key = sample_key(7);
        assert_eq!(key.len(), DISPLAY_LEN);
        let groups: Vec<&str> = key.split('-').collect();
        assert_eq!(groups.len(), 17);
        assert!(groups.iter().all(|g| g.len() == 8));
        let (bytes, payload, signature) = decode(&key).unwrap();
        assert_eq!(bytes, sample_payload().to_bytes());
        assert_eq!(payload, sample_payload());
        assert_eq!(signature, sample_signature(7));
    }

    #[test]
    fn reading_is_typo_tolerant() {
        let key = sample_key(3);
        let sloppy = key
            .to_lowercase()
            .replace('0', "o")
            .replace('1', "l")
            .replace('-', " \r\n ");
        assert_eq!(decode(&sloppy), decode(&key));
        assert_eq!(decode(&key.replace('-', "")), decode(&key));
        assert_eq!(decode(&alloc::format!("  {key}\n")), decode(&key));
    }

    #[test]
    fn errors_are_classified() {
        let key = sample_key(1);
        assert_eq!(
            decode(&key[..key.len() - 1]),
            Err(SignedKeyError::WrongLength {
                found: 135,
                expected: 136
            })
        );
        assert_eq!(
            decode(&alloc::format!("{key}0")),
            Err(SignedKeyError::WrongLength {
                found: 137,
                expected: 136
            })
        );
        assert_eq!(
            decode(""),
            Err(SignedKeyError::WrongLength {
                found: 0,
                expected: 136
            })
        );
        let mut bad = key.clone();
        bad.replace_range(2..3, "U");
        assert_eq!(
            decode(&bad),
            Err(SignedKeyError::InvalidCharacter {
                position: 2,
                found: 'U'
            })
        );
        bad.replace_range(2..3, "é");
        assert_eq!(
            decode(&bad),
            Err(SignedKeyError::InvalidCharacter {
                position: 2,
                found: 'é'
            })
        );

        // Another format byte, with a correct check symbol: named, not a typo.
        let mut other = sample_payload().to_bytes();
        other[0] = 0xA2;
        assert_eq!(
            decode(&encode(&other, &sample_signature(1))),
            Err(SignedKeyError::UnknownFormat { found: 0xA2 })
        );
    }

    /// Re-encodes canonical symbol values with a freshly computed check symbol.
    fn with_check(mut data: Vec<u8>) -> String {
        data.truncate(DATA_SYMBOLS);
        let check = check_value(data.iter().map(|c| symbol_value(*c).unwrap()));
        data.push(symbol(check));
        String::from_utf8(data).unwrap()
    }

    #[test]
    fn padding_bits_must_be_zero() {
        let key = canonical(&sample_key(9));
        for pad in 1..8u8 {
            let mut data = key.clone();
            let last = symbol_value(data[DATA_SYMBOLS - 1]).unwrap();
            data[DATA_SYMBOLS - 1] = symbol(last | pad);
            assert_eq!(decode(&with_check(data)), Err(SignedKeyError::NonCanonical));
        }
        assert!(decode(&with_check(key)).is_ok());
    }

    /// Every single-symbol change and every swap of two different adjacent symbols (the
    /// check symbol included) is caught as a typo.
    fn assert_all_typos_caught(key: &str) {
        let key = canonical(key);
        assert_eq!(key.len(), SYMBOLS);
        for pos in 0..SYMBOLS {
            for v in 0..32u8 {
                let mut typo = key.clone();
                if typo[pos] == symbol(v) {
                    continue;
                }
                typo[pos] = symbol(v);
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(
                    decode(&typo),
                    Err(SignedKeyError::Typo),
                    "symbol {pos} -> {v}"
                );
            }
        }
        for i in 0..SYMBOLS - 1 {
            let mut typo = key.clone();
            if typo[i] != typo[i + 1] {
                typo.swap(i, i + 1);
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(decode(&typo), Err(SignedKeyError::Typo), "swap {i}");
            }
        }
    }

    #[test]
    fn every_single_change_and_adjacent_swap_is_a_typo() {
        for seed in [0, 1, 77, 200] {
            assert_all_typos_caught(&sample_key(seed));
        }
    }

    #[test]
    fn creation_days() {
        assert_eq!(SignedKeyPayload::day_of(EPOCH_2020), 0);
        assert_eq!(SignedKeyPayload::day_of(EPOCH_2020 + DAY - 1), 0);
        assert_eq!(SignedKeyPayload::day_of(EPOCH_2020 + DAY), 1);
        assert_eq!(SignedKeyPayload::day_of(0), 0);
        assert_eq!(SignedKeyPayload::day_of(i64::MIN), 0);
        assert_eq!(SignedKeyPayload::day_of(i64::MAX), u16::MAX);
        let p = SignedKeyPayload {
            days: 0,
            ..sample_payload()
        };
        assert_eq!(p.expires_at(), None);
        assert_eq!(
            sample_payload().expires_at(),
            Some(EPOCH_2020 + (2_200 + 365) * DAY)
        );
        assert_eq!(EPOCH_2020, 1_577_836_800);
        let _ = SignedKeyError::Typo.to_string();
    }

    proptest::proptest! {
        #[test]
        fn round_trip(kid in proptest::prelude::any::<[u8; 8]>(), tag in proptest::prelude::any::<[u8; 2]>(),
                      features in proptest::num::u8::ANY, days in proptest::num::u16::ANY,
                      day in proptest::num::u16::ANY, serial in proptest::num::u32::ANY,
                      sig in proptest::collection::vec(proptest::num::u8::ANY, 64)) {
            let p = SignedKeyPayload { kid: KeyId(kid), product_tag: tag, features, days, created_day: day, serial };
            let sig: [u8; 64] = sig.try_into().unwrap();
            let key = encode(&p.to_bytes(), &sig);
            proptest::prop_assert_eq!(decode(&key), Ok((p.to_bytes(), p, sig)));
        }

        #[test]
        fn fast_packing_matches_the_reference(bytes in proptest::collection::vec(proptest::num::u8::ANY, 84)) {
            let bytes: [u8; KEY_LEN] = bytes.try_into().unwrap();
            proptest::prop_assert_eq!(
                data_symbols(&bytes).to_vec(),
                productkey::bits_to_values(&bytes, KEY_BITS)
            );
        }

        #[test]
        fn hostile_strings_never_panic(s in "\\PC{0,400}") {
            let _ = decode(&s);
        }

        #[test]
        fn near_keys_never_panic(s in "[0-9A-Za-z \\-]{130,160}") {
            let _ = decode(&s);
        }
    }

    proptest::proptest! {
        // Each case decodes ~4 400 variants; a few dozen random keys are plenty.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn random_keys_catch_typos(sig in proptest::collection::vec(proptest::num::u8::ANY, 64),
                                   serial in proptest::num::u32::ANY) {
            let p = SignedKeyPayload { serial, ..sample_payload() };
            assert_all_typos_caught(&encode(&p.to_bytes(), &sig.try_into().unwrap()));
        }
    }
}
