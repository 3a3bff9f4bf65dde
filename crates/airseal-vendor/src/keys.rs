//! Product key generation and classification (`SPEC.md` §12): random keys, SKGL-style data
//! keys with a vendor MAC, and telling a typo from a forgery from an unknown key.
//!
//! Generation is the hot loop of batch generation, so it writes canonical bytes into a
//! caller-provided buffer and draws randomness from a seeded ChaCha12 generator (`StdRng`),
//! itself seeded from the operating system (or, for reproducible tests only, from `--seed`).

use std::fmt;

pub mod classify;
pub mod details;
pub mod ops;
pub mod order;
pub mod source;

use airseal_core::productkey::{
    DATA_FIELD_BITS, DATA_KEY_MIN_BITS, DataKeyFields, KEY_EPOCH, KeyError, Pattern, PatternError,
    bits_to_values, product_tag, values_to_bits,
};
use hmac::{KeyInit, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;

/// Minimum entropy of random keys unless the vendor explicitly allows weaker ones.
pub const MIN_RANDOM_BITS: u32 = 64;
/// Default entropy requirement for random keys.
pub const DEFAULT_RANDOM_BITS: u32 = 80;

/// Which kind of key to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Random identifier; meaning lives in the ledger.
    Random,
    /// Carries features, validity and creation day, protected by a vendor MAC.
    Data,
    /// Self-verifying: payload + Ed25519 signature.
    Signed,
}

impl KeyKind {
    /// `random`, `data` or `signed`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Random => "random",
            KeyKind::Data => "data",
            KeyKind::Signed => "signed",
        }
    }

    /// Parses `random`, `data` or `signed`.
    ///
    /// # Errors
    /// A message listing the kinds.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(KeyKind::Random),
            "data" => Ok(KeyKind::Data),
            "signed" => Ok(KeyKind::Signed),
            other => Err(format!("{other:?}: expected random, data or signed")),
        }
    }
}

/// What a data key should carry.
#[derive(Clone, Debug)]
pub struct DataKeySpec {
    /// Product id (its tag goes into the key, and into the MAC).
    pub product: String,
    /// Feature bits.
    pub features: u8,
    /// Validity in days (0 = no expiry, at most 4095).
    pub days: u16,
    /// Creation instant (its day is stored).
    pub created: i64,
    /// The vendor's MAC key ([`data_key_mac_key`]).
    pub mac_key: [u8; 32],
}

/// Why a generator could not be set up.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratorError {
    /// The pattern is unusable for this kind of key.
    Pattern(PatternError),
    /// A data key field is out of range.
    OutOfRange(&'static str),
}

impl fmt::Display for GeneratorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeneratorError::Pattern(e) => e.fmt(f),
            GeneratorError::OutOfRange(what) => write!(f, "{what} out of range"),
        }
    }
}

impl std::error::Error for GeneratorError {}

/// Makes random or data keys from one pattern, fast.
#[derive(Debug)]
pub struct KeyGenerator {
    pattern: Pattern,
    rng: StdRng,
    data: Option<(DataKeySpec, u16, u8)>,
    payload_slots: usize,
}

impl KeyGenerator {
    /// A generator of random keys; refuses patterns under `min_bits` of entropy.
    ///
    /// # Errors
    /// [`GeneratorError::Pattern`] when the pattern is too weak.
    pub fn random(pattern: Pattern, min_bits: u32, rng: StdRng) -> Result<Self, GeneratorError> {
        pattern
            .require_bits(min_bits)
            .map_err(GeneratorError::Pattern)?;
        Ok(Self::new(pattern, rng, None))
    }

    /// A generator of data keys (the pattern needs at least 95 payload bits: 19 slots plus
    /// the check symbol).
    ///
    /// # Errors
    /// [`GeneratorError`] for a short pattern or out-of-range days or creation date.
    pub fn data(pattern: Pattern, spec: DataKeySpec, rng: StdRng) -> Result<Self, GeneratorError> {
        pattern
            .require_bits(DATA_KEY_MIN_BITS)
            .map_err(GeneratorError::Pattern)?;
        if spec.days > DataKeyFields::MAX_DAYS {
            return Err(GeneratorError::OutOfRange("days (at most 4095)"));
        }
        let day = (spec.created - KEY_EPOCH).div_euclid(86_400);
        let day = u16::try_from(day)
            .ok()
            .filter(|d| *d <= DataKeyFields::MAX_CREATED_DAY)
            .ok_or(GeneratorError::OutOfRange(
                "creation date (2020-01-01 to 2109)",
            ))?;
        let tag = product_tag(&spec.product)[0] & 0x0f;
        Ok(Self::new(pattern, rng, Some((spec, day, tag))))
    }

    fn new(pattern: Pattern, rng: StdRng, data: Option<(DataKeySpec, u16, u8)>) -> Self {
        let payload_slots = pattern.slots() - 1;
        Self {
            pattern,
            rng,
            data,
            payload_slots,
        }
    }

    /// The pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// Random or data keys.
    pub fn kind(&self) -> KeyKind {
        if self.data.is_some() {
            KeyKind::Data
        } else {
            KeyKind::Random
        }
    }

    /// Appends the canonical form of a new key to `out`.
    pub fn next_into(&mut self, out: &mut Vec<u8>) {
        match &self.data {
            None => {
                let rng = &mut self.rng;
                self.pattern.fill_random(|| rng.next_u64(), out);
            }
            Some((spec, day, tag)) => {
                let fields = DataKeyFields {
                    features: spec.features,
                    days: spec.days,
                    created_day: *day,
                    product_tag: *tag,
                    serial: (self.rng.next_u32()) & 0x00ff_ffff,
                };
                let values =
                    data_key_values(&fields, &spec.product, &spec.mac_key, self.payload_slots);
                self.pattern.fill(values.into_iter(), out);
            }
        }
    }

    /// A new key in canonical form.
    pub fn next_key(&mut self) -> String {
        let mut out = Vec::with_capacity(self.pattern.symbols());
        self.next_into(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The OS-seeded generator used for real keys.
pub fn os_rng() -> StdRng {
    rand::make_rng()
}

/// A generator seeded from a number: reproducible, so for tests only.
pub fn seeded_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// The MAC over a data key's fields: HMAC-SHA256(key, "airseal-data-key-v1" || product ||
/// 0x00 || 63 field bits as 8 bytes), truncated to the key's remaining payload bits.
fn data_key_mac(fields_bytes: &[u8; 8], product: &str, mac_key: &[u8; 32]) -> [u8; 32] {
    // HMAC pads a key shorter than the hash block with zeros (RFC 2104 §2), so this is
    // exactly HMAC with the 32-byte key, without a fallible constructor.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(mac_key);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(b"airseal-data-key-v1");
    mac.update(product.as_bytes());
    mac.update(&[0]);
    mac.update(fields_bytes);
    mac.finalize().into_bytes().into()
}

/// The payload symbol values of a data key: 63 field bits then MAC bits.
fn data_key_values(
    fields: &DataKeyFields,
    product: &str,
    mac_key: &[u8; 32],
    slots: usize,
) -> Vec<u8> {
    let packed = fields.pack();
    let mac = data_key_mac(&packed, product, mac_key);
    let total_bits = slots * 5;
    // Bits: 63 of fields, then MAC bits; build a byte string of the whole payload.
    let mut bits = vec![0u8; total_bits.div_ceil(8) + 1];
    let mut put = |i: usize, bit: u8| {
        if let Some(b) = bits.get_mut(i / 8) {
            *b |= bit << (7 - i % 8);
        }
    };
    for i in 0..DATA_FIELD_BITS {
        put(
            i,
            (packed.get(i / 8).copied().unwrap_or(0) >> (7 - i % 8)) & 1,
        );
    }
    for i in DATA_FIELD_BITS..total_bits {
        let j = i - DATA_FIELD_BITS;
        put(
            i,
            (mac.get(j / 8 % 32).copied().unwrap_or(0) >> (7 - j % 8)) & 1,
        );
    }
    bits_to_values(&bits, total_bits)
}

/// The MAC key for data keys, derived from the vendor's signing key seed, so there is no
/// second secret to store: SHA-256("airseal-data-key-mac-v1" || seed).
pub fn data_key_mac_key(signing_seed: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    Sha256::new()
        .chain_update(b"airseal-data-key-mac-v1")
        .chain_update(signing_seed)
        .finalize()
        .into()
}

/// Names the MAC key that made a data key without revealing it: the first 8 bytes of
/// SHA-256("airseal-data-key-mac-id-v1" || MAC key), in hex. The MAC key derives from the
/// signing key, so a rotation changes it.
pub fn data_key_mac_key_id(mac_key: &[u8; 32]) -> String {
    use sha2::Digest;
    let d: [u8; 32] = Sha256::new()
        .chain_update(b"airseal-data-key-mac-id-v1")
        .chain_update(mac_key)
        .finalize()
        .into();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What the keys of a data-key batch encode, recorded with the batch when it is generated
/// (its `data_key` parameters): every key of the batch carries these fields and a random
/// serial. Activation reads the key's term and features from here, so they hold even when
/// the MAC key that made the key is gone (a rotated signing key).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataKeyFacts {
    /// Feature bits: bit i grants F(i+1).
    pub features: u8,
    /// Validity in days from creation (0: no expiry).
    pub days: u16,
    /// Creation day, counted from 2020-01-01.
    pub created_day: u16,
    /// The MAC key that made the keys ([`data_key_mac_key_id`]).
    pub mac_key_id: String,
}

impl DataKeyFacts {
    /// Whether `fields` (decoded from a key) say what these facts say.
    pub fn matches(&self, fields: &DataKeyFields) -> bool {
        fields.features == self.features
            && fields.days == self.days
            && fields.created_day == self.created_day
    }
}

impl KeyGenerator {
    /// What this generator's data keys encode; `None` for random keys.
    pub fn data_facts(&self) -> Option<DataKeyFacts> {
        self.data.as_ref().map(|(spec, day, _)| DataKeyFacts {
            features: spec.features,
            days: spec.days,
            created_day: *day,
            mac_key_id: data_key_mac_key_id(&spec.mac_key),
        })
    }
}

/// What a data key says, and whether its MAC checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyInfo {
    /// The decoded fields (readable by anyone; not proof of anything).
    pub fields: DataKeyFields,
    /// Whether the product tag matches the product it was read for.
    pub product_matches: bool,
    /// `Some(true)` when the MAC is valid, `Some(false)` when forged or mistyped past the
    /// check symbol, `None` when no MAC key was given.
    pub mac_valid: Option<bool>,
}

/// Decodes a canonical data key; checks the MAC when `mac_key` is given.
pub fn decode_data_key(
    pattern: &Pattern,
    canonical: &str,
    product: &str,
    mac_key: Option<&[u8; 32]>,
) -> DataKeyInfo {
    let values = pattern.payload_values(canonical);
    let bytes = values_to_bits(&values, 8);
    let mut packed = [0u8; 8];
    packed.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
    packed[7] &= 0xfe;
    let fields = DataKeyFields::unpack(packed);
    let product_matches = fields.product_tag == product_tag(product)[0] & 0x0f;
    let mac_valid = mac_key.map(|k| data_key_values(&fields, product, k, values.len()) == values);
    DataKeyInfo {
        fields,
        product_matches,
        mac_valid,
    }
}

/// The form of a typed key the ledger stores and searches by, without knowing its product's
/// pattern: the canonical form (`SPEC.md` §12.1) of a key airseal made (case, separators and
/// look-alike letters forgiven), else the key as typed, trimmed — a key imported from another
/// platform keeps its own spelling (`SPEC.md` §16).
pub fn stored_form(typed: &str) -> String {
    airseal_core::productkey::canonical_form(typed).unwrap_or_else(|| typed.trim().to_string())
}

/// How a typed key reads, before consulting the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReading {
    /// Well-formed: its canonical form.
    Canonical(String),
    /// The check symbol fails: a typo.
    Typo,
    /// Not a key of this pattern at all.
    Malformed(KeyError),
}

/// Reads a typed key against a pattern, telling typos from malformed input.
pub fn read_key(pattern: &Pattern, typed: &str) -> KeyReading {
    match pattern.canonicalize(typed) {
        Ok(c) => KeyReading::Canonical(c),
        Err(KeyError::CheckSymbolMismatch) => KeyReading::Typo,
        Err(e) => KeyReading::Malformed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airseal_core::productkey::DEFAULT_PATTERN;
    use std::collections::HashSet;

    fn pattern() -> Pattern {
        Pattern::parse(DEFAULT_PATTERN).unwrap()
    }

    #[test]
    fn stored_form_is_canonical_for_airseal_keys_and_verbatim_for_others() {
        assert_eq!(
            stored_form(" nqbq6-wg6n5-jnnzk-d29xk "),
            "NQBQ6WG6N5JNNZKD29XK"
        );
        assert_eq!(
            stored_form("NQBQ6 WG6N5 JNNZK D29XK"),
            "NQBQ6WG6N5JNNZKD29XK"
        );
        // Look-alike letters read as the symbols they stand for.
        assert_eq!(stored_form("ABCO-IL23"), "ABC0-1123".replace('-', ""));
        // Not a key airseal made: kept as typed (an imported key's own spelling).
        assert_eq!(stored_form(" KG/KEY,1 "), "KG/KEY,1");
        assert_eq!(stored_form("ACME,2025,FLOATING"), "ACME,2025,FLOATING");
    }

    #[test]
    fn random_keys_are_valid_and_distinct() {
        let mut g = KeyGenerator::random(pattern(), DEFAULT_RANDOM_BITS, seeded_rng(7)).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let k = g.next_key();
            assert_eq!(k.len(), 20);
            assert_eq!(read_key(g.pattern(), &k), KeyReading::Canonical(k.clone()));
            assert!(seen.insert(k));
        }
        let weak = Pattern::parse("XXXX-XXXX").unwrap();
        assert!(matches!(
            KeyGenerator::random(weak, MIN_RANDOM_BITS, seeded_rng(1)),
            Err(GeneratorError::Pattern(PatternError::TooWeak {
                bits: 35,
                required: 64
            }))
        ));
    }

    #[test]
    fn seeded_generation_is_reproducible() {
        let a: Vec<String> = {
            let mut g = KeyGenerator::random(pattern(), 80, seeded_rng(42)).unwrap();
            (0..5).map(|_| g.next_key()).collect()
        };
        let mut g = KeyGenerator::random(pattern(), 80, seeded_rng(42)).unwrap();
        assert_eq!(a, (0..5).map(|_| g.next_key()).collect::<Vec<_>>());
    }

    #[test]
    fn data_keys_decode_and_detect_forgery() {
        let mac_key = data_key_mac_key(&[9; 32]);
        let spec = DataKeySpec {
            product: "photo-pro".into(),
            features: 0b101,
            days: 365,
            created: 1_767_225_600,
            mac_key,
        };
        let mut g = KeyGenerator::data(pattern(), spec, seeded_rng(3)).unwrap();
        let key = g.next_key();
        let info = decode_data_key(&pattern(), &key, "photo-pro", Some(&mac_key));
        assert_eq!(info.fields.features, 0b101);
        assert_eq!(info.fields.days, 365);
        assert_eq!(info.fields.created_at(), 1_767_225_600);
        assert!(info.product_matches);
        assert_eq!(info.mac_valid, Some(true));
        // Anyone can decode; the MAC needs the vendor's key.
        assert_eq!(
            decode_data_key(&pattern(), &key, "photo-pro", None).mac_valid,
            None
        );
        assert_eq!(
            decode_data_key(&pattern(), &key, "photo-pro", Some(&[0; 32])).mac_valid,
            Some(false)
        );
        // A "forged" key: features changed and the check symbol recomputed — MAC fails.
        let mut values = pattern().payload_values(&key);
        values[0] ^= 0b10000;
        let mut forged = Vec::new();
        pattern().fill(values.into_iter(), &mut forged);
        let forged = String::from_utf8(forged).unwrap();
        assert!(matches!(
            read_key(&pattern(), &forged),
            KeyReading::Canonical(_)
        ));
        assert_eq!(
            decode_data_key(&pattern(), &forged, "photo-pro", Some(&mac_key)).mac_valid,
            Some(false)
        );
        // A key read for another product: its 4-bit tag differs for this pair of ids.
        assert_ne!(
            product_tag("photo-pro")[0] & 15,
            product_tag("video-pro")[0] & 15
        );
        assert!(!decode_data_key(&pattern(), &key, "video-pro", None).product_matches);
    }

    #[test]
    fn data_keys_need_room() {
        let short = Pattern::parse("XXXXX-XXXXX-XXXXX").unwrap();
        let spec = DataKeySpec {
            product: "p".into(),
            features: 0,
            days: 0,
            created: KEY_EPOCH,
            mac_key: [0; 32],
        };
        assert!(KeyGenerator::data(short, spec.clone(), seeded_rng(1)).is_err());
        let bad_days = DataKeySpec { days: 5000, ..spec };
        assert_eq!(
            KeyGenerator::data(pattern(), bad_days, seeded_rng(1)).unwrap_err(),
            GeneratorError::OutOfRange("days (at most 4095)")
        );
    }
}
