//! Human-typable product keys (`SPEC.md` §12): patterns, Crockford base32, the check
//! symbol, and the bit layout of data keys and signed keys.
//!
//! A key is a string of Crockford base32 symbols laid out by a *pattern* such as
//! `XXXXX-XXXXX-XXXXX-XXXXX` or `ACME-XXXX-XXXX-XXXX`: each `X` is a slot for one symbol,
//! other letters and digits are literal, `-` and spaces separate groups. The last slot always
//! holds a **check symbol**: a weighted sum over GF(32) of every other symbol, which catches
//! every single wrong symbol and every swap of two adjacent different symbols while staying
//! inside the 32-symbol alphabet (Crockford's own mod-37 check needs five extra symbols,
//! `*~$=U`, that people cannot type reliably).
//!
//! Keys are compared in one **canonical form**: the symbols only (literals included), upper
//! case, no separators. Reading is typo-tolerant: case-insensitive, `I`/`L` read as `1`, `O`
//! as `0`, separators and spaces ignored.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The Crockford base32 alphabet: digits and letters without I, L, O, U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Separators allowed in patterns and ignored when reading keys.
const SEPARATORS: &[u8] = b"- ";
/// Patterns longer than this many symbols are refused.
pub const MAX_SLOTS: usize = 256;

/// The value (0..32) of a symbol as typed, with Crockford's typo mapping; `None` if the
/// character is not a symbol.
pub fn symbol_value(c: u8) -> Option<u8> {
    let v = match c.to_ascii_uppercase() {
        c @ b'0'..=b'9' => c - b'0',
        b'O' => 0,
        b'I' | b'L' => 1,
        b'A' => 10,
        b'B' => 11,
        b'C' => 12,
        b'D' => 13,
        b'E' => 14,
        b'F' => 15,
        b'G' => 16,
        b'H' => 17,
        b'J' => 18,
        b'K' => 19,
        b'M' => 20,
        b'N' => 21,
        b'P' => 22,
        b'Q' => 23,
        b'R' => 24,
        b'S' => 25,
        b'T' => 26,
        b'V' => 27,
        b'W' => 28,
        b'X' => 29,
        b'Y' => 30,
        b'Z' => 31,
        _ => return None,
    };
    Some(v)
}

/// The canonical form (`SPEC.md` §12.1) of a key as typed, whatever its pattern: the
/// symbols only, upper case, with the typo mapping (`I`/`L` → `1`, `O` → `0`) and `-` and
/// spaces dropped. `None` when a character is neither a symbol nor a separator, or nothing
/// is left: then the key is not one airseal made.
pub fn canonical_form(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(typed.len());
    for c in typed.trim().bytes() {
        if !SEPARATORS.contains(&c) {
            out.push(char::from(symbol(symbol_value(c)?)));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The characters a key's loose form ignores (`SPEC.md` §15.6, §16.2): `-`, space, `_`, `.`.
pub const LOOSE_SEPARATORS: [char; 4] = ['-', ' ', '_', '.'];

/// The form in which a revocation list names a product key, and in which a verifier looks
/// up a license's product key (`SPEC.md` §13): the key's loose form (§16.2: the
/// [`LOOSE_SEPARATORS`] removed, ASCII letters case-folded, every other character kept as it
/// is) written in upper case. Every spelling a license can carry of one key has the same
/// match form: as typed with dashes, canonical (which is already its own match form),
/// lower case, or an imported key's own spelling (`ABCD-1234-EFGH`, `KG/KEY,1`). No typo
/// mapping (`O` stays `O`): imported keys are not Crockford keys, and two of them that
/// differ by `O` and `0` are different keys. Borrowed when `key` already is in that form
/// (every key airseal makes, most imported ones): the verifier looks one up per license it
/// checks against a list, and an import hashes one per row.
pub fn match_form(key: &str) -> Cow<'_, str> {
    let already = key
        .chars()
        .all(|c| !LOOSE_SEPARATORS.contains(&c) && !c.is_ascii_lowercase());
    if already {
        return Cow::Borrowed(key);
    }
    Cow::Owned(
        key.chars()
            .filter(|c| !LOOSE_SEPARATORS.contains(c))
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

/// The symbol for a value (only the low 5 bits are used).
pub fn symbol(v: u8) -> u8 {
    ALPHABET.get(usize::from(v & 31)).copied().unwrap_or(b'0')
}

// ---- the check symbol: a weighted sum over GF(2^5) ----------------------------------------

/// GF(32) with the primitive polynomial x^5 + x^2 + 1; `EXP[i]` = α^i, `LOG[x]` = log_α x.
// Evaluated at compile time with loop-bounded indices: an out-of-range index would fail the
// build, not panic at run time.
#[allow(clippy::indexing_slicing)]
const EXP: [u8; 62] = {
    let mut t = [0u8; 62];
    let mut x: u8 = 1;
    let mut i = 0;
    while i < 62 {
        t[i] = x;
        x <<= 1;
        if x & 32 != 0 {
            x ^= 0b100101;
        }
        i += 1;
    }
    t
};
#[allow(clippy::indexing_slicing)]
const LOG: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 0;
    while i < 31 {
        t[EXP[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Multiplies `v` by α^k in GF(32).
fn mul_alpha(v: u8, k: usize) -> u8 {
    if v == 0 {
        return 0;
    }
    let l = usize::from(LOG.get(usize::from(v & 31)).copied().unwrap_or(0));
    EXP.get((l + k % 31) % 31).copied().unwrap_or(0)
}

/// The check value of a sequence of symbol values: `Σ v_i · α^(i+1)` over GF(32).
///
/// Every weight α^(i+1) is non-zero (so any single change shows) and neighbouring weights
/// differ (so swapping two different adjacent symbols shows).
pub fn check_value(values: impl IntoIterator<Item = u8>) -> u8 {
    values
        .into_iter()
        .enumerate()
        .fold(0, |acc, (i, v)| acc ^ mul_alpha(v, i + 1))
}

// ---- patterns ------------------------------------------------------------------------------

/// One position of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// A symbol slot (`X`).
    Slot,
    /// A literal symbol (stored as its canonical character).
    Literal(u8),
    /// A separator shown in the display form.
    Separator(u8),
}

/// Why a pattern was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// A character that is neither `X`, a Crockford symbol, `\X`, `-` nor a space.
    InvalidCharacter {
        /// 0-based position in the pattern.
        position: usize,
        /// The character.
        found: char,
    },
    /// Fewer than two slots (one is the check symbol).
    TooFewSlots,
    /// More than [`MAX_SLOTS`] symbols.
    TooLong,
    /// The keys would carry fewer bits than required.
    TooWeak {
        /// Bits of entropy the pattern gives this kind of key.
        bits: u32,
        /// Bits required.
        required: u32,
    },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { position, found } => write!(
                f,
                "character {found:?} at position {position}: use X for a symbol, Crockford letters/digits \
                 (no I, L, O, U) for literals, \\X for a literal X, `-` or space between groups"
            ),
            Self::TooFewSlots => {
                f.write_str("a pattern needs at least two X slots (the last is the check symbol)")
            }
            Self::TooLong => write!(f, "a pattern may have at most {MAX_SLOTS} symbols"),
            Self::TooWeak { bits, required } => write!(
                f,
                "keys from this pattern carry {bits} bits of entropy, fewer than {required}: add X slots (5 bits each)"
            ),
        }
    }
}

impl core::error::Error for PatternError {}

/// A key pattern such as `XXXXX-XXXXX-XXXXX-XXXXX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
    source: String,
    /// Precomputed for generation, the hot loop of batch generation: the canonical key with
    /// literals in place and zeros in the slots, ...
    template: Vec<u8>,
    /// ... the canonical positions of the payload slots, ...
    slot_positions: Vec<usize>,
    /// ... per payload slot, `v · α^(position + 1)` for every symbol value `v`, ...
    slot_weights: Vec<[u8; 32]>,
    /// ... and the check-value contribution of the literals.
    literal_check: u8,
}

/// The default pattern: 20 symbols, 19 random (95 bits) plus the check symbol.
pub const DEFAULT_PATTERN: &str = "XXXXX-XXXXX-XXXXX-XXXXX";

impl Pattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// [`PatternError`] naming the position of a bad character, or too few / too many slots.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        let mut parts = Vec::new();
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let part = match c {
                'X' => Part::Slot,
                '\\' => match chars.next() {
                    Some((_, 'X')) => Part::Literal(b'X'),
                    _ => {
                        return Err(PatternError::InvalidCharacter {
                            position: i,
                            found: c,
                        });
                    }
                },
                '-' | ' ' => Part::Separator(c as u8),
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => Part::Literal(c as u8),
                _ => {
                    return Err(PatternError::InvalidCharacter {
                        position: i,
                        found: c,
                    });
                }
            };
            parts.push(part);
        }
        let mut p = Pattern {
            parts,
            source: source.into(),
            template: Vec::new(),
            slot_positions: Vec::new(),
            slot_weights: Vec::new(),
            literal_check: 0,
        };
        if p.slots() < 2 {
            return Err(PatternError::TooFewSlots);
        }
        if p.symbols() > MAX_SLOTS {
            return Err(PatternError::TooLong);
        }
        p.compile();
        Ok(p)
    }

    fn compile(&mut self) {
        let symbols = self
            .parts
            .iter()
            .filter(|p| !matches!(p, Part::Separator(_)));
        for (pos, part) in symbols.enumerate() {
            match part {
                Part::Literal(c) => {
                    self.template.push(*c);
                    self.literal_check ^= mul_alpha(symbol_value(*c).unwrap_or(0), pos + 1);
                }
                _ => {
                    self.template.push(b'0');
                    self.slot_positions.push(pos);
                }
            }
        }
        // The last slot is the check symbol, not payload.
        self.slot_positions.pop();
        self.slot_weights = self
            .slot_positions
            .iter()
            .map(|pos| core::array::from_fn(|v| mul_alpha(v as u8, pos + 1)))
            .collect();
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Number of `X` slots (including the check symbol).
    pub fn slots(&self) -> usize {
        self.parts.iter().filter(|p| **p == Part::Slot).count()
    }

    /// Number of symbols in the canonical form (slots and literals).
    pub fn symbols(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| !matches!(p, Part::Separator(_)))
            .count()
    }

    /// Bits carried by the slots other than the check symbol.
    pub fn payload_bits(&self) -> u32 {
        (self.slots().saturating_sub(1) as u32).saturating_mul(5)
    }

    /// Refuses the pattern when its keys would carry fewer than `required` payload bits.
    ///
    /// # Errors
    /// [`PatternError::TooWeak`] with the pattern's bit count.
    pub fn require_bits(&self, required: u32) -> Result<(), PatternError> {
        let bits = self.payload_bits();
        if bits < required {
            Err(PatternError::TooWeak { bits, required })
        } else {
            Ok(())
        }
    }

    /// Fills the slots of a canonical key from `payload` symbol values (5 bits each, at
    /// least `slots() - 1` of them; extra values are ignored) and appends the check symbol.
    /// Writes exactly `symbols()` bytes into `out`.
    pub fn fill(&self, mut payload: impl Iterator<Item = u8>, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.template);
        let key = out.get_mut(start..).unwrap_or_default();
        // The check symbol covers every symbol before it, literals included.
        let mut check = self.literal_check;
        for (pos, weights) in self.slot_positions.iter().zip(&self.slot_weights) {
            let v = payload.next().unwrap_or(0) & 31;
            if let Some(c) = key.get_mut(*pos) {
                *c = symbol(v);
            }
            check ^= weights.get(usize::from(v)).copied().unwrap_or(0);
        }
        if let Some(last) = key.last_mut() {
            *last = symbol(check);
        }
    }

    /// [`Pattern::fill`] from random 64-bit words: 12 symbols (60 bits) from each word.
    /// This is the batch generator's inner loop.
    pub fn fill_random(&self, mut next_u64: impl FnMut() -> u64, out: &mut Vec<u8>) {
        let mut word = 0u64;
        let mut left = 0;
        self.fill(
            core::iter::from_fn(|| {
                if left == 0 {
                    word = next_u64();
                    left = 12;
                }
                let v = (word & 31) as u8;
                word >>= 5;
                left -= 1;
                Some(v)
            }),
            out,
        );
    }

    /// Reads a key as typed into its canonical form.
    ///
    /// # Errors
    /// [`KeyError`]: a character that is not a symbol, the wrong number of symbols, a
    /// literal that does not match, or a failed check symbol (a typo).
    pub fn canonicalize(&self, typed: &str) -> Result<String, KeyError> {
        let mut out = String::with_capacity(self.symbols());
        let mut count = 0;
        for (i, c) in typed.trim().bytes().enumerate() {
            if SEPARATORS.contains(&c) {
                continue;
            }
            let v = symbol_value(c).ok_or(KeyError::InvalidCharacter {
                position: i,
                found: c as char,
            })?;
            out.push(char::from(symbol(v)));
            count += 1;
        }
        if count != self.symbols() {
            return Err(KeyError::WrongLength {
                found: count,
                expected: self.symbols(),
            });
        }
        let literals = self
            .parts
            .iter()
            .filter(|p| !matches!(p, Part::Separator(_)));
        for (i, (part, c)) in literals.zip(out.bytes()).enumerate() {
            if let Part::Literal(l) = part {
                if symbol_value(*l) != symbol_value(c) {
                    return Err(KeyError::LiteralMismatch { position: i });
                }
            }
        }
        let (body, check) = out.as_bytes().split_at(out.len().saturating_sub(1));
        let want = check_value(body.iter().map(|c| symbol_value(*c).unwrap_or(0)));
        if check.first().and_then(|c| symbol_value(*c)) != Some(want) {
            return Err(KeyError::CheckSymbolMismatch);
        }
        Ok(out)
    }

    /// The payload symbol values of a canonical key (slots only, check symbol excluded).
    pub fn payload_values(&self, canonical: &str) -> Vec<u8> {
        let slots = self.slots();
        let parts = self
            .parts
            .iter()
            .filter(|p| !matches!(p, Part::Separator(_)));
        parts
            .zip(canonical.bytes())
            .filter(|(p, _)| **p == Part::Slot)
            .take(slots.saturating_sub(1))
            .map(|(_, c)| symbol_value(c).unwrap_or(0))
            .collect()
    }

    /// The display form of a canonical key: the pattern's separators put back.
    pub fn display(&self, canonical: &str) -> String {
        let mut out = String::with_capacity(self.parts.len());
        let mut symbols = canonical.chars();
        for part in &self.parts {
            match part {
                Part::Separator(c) => out.push(char::from(*c)),
                _ => out.push(symbols.next().unwrap_or('?')),
            }
        }
        out
    }
}

/// Why a typed key was not accepted.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a Crockford symbol (after the typo mapping).
    InvalidCharacter {
        /// 0-based position in the typed string.
        position: usize,
        /// The character.
        found: char,
    },
    /// Too many or too few symbols.
    WrongLength {
        /// Symbols found.
        found: usize,
        /// Symbols the pattern has.
        expected: usize,
    },
    /// A literal part of the pattern (a prefix like `ACME`) does not match.
    LiteralMismatch {
        /// 0-based symbol position.
        position: usize,
    },
    /// The check symbol does not match: almost certainly a typo.
    CheckSymbolMismatch,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { position, found } => {
                write!(
                    f,
                    "character {found:?} at position {} is not a key symbol",
                    position + 1
                )
            }
            Self::WrongLength { found, expected } => {
                write!(f, "{found} symbols, expected {expected}")
            }
            Self::LiteralMismatch { position } => {
                write!(
                    f,
                    "symbol {} should be the pattern's fixed text",
                    position + 1
                )
            }
            Self::CheckSymbolMismatch => {
                f.write_str("check symbol does not match: a symbol was mistyped")
            }
        }
    }
}

impl core::error::Error for KeyError {}

// ---- payload bit packing -----------------------------------------------------------------

/// Splits a big-endian bit string into 5-bit symbol values (the last one zero-padded).
pub fn bits_to_values(bytes: &[u8], nbits: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(nbits.div_ceil(5));
    let mut i = 0;
    while i < nbits {
        let mut v = 0u8;
        for j in 0..5 {
            let bit = i + j;
            let b = if bit < nbits {
                bytes
                    .get(bit / 8)
                    .map_or(0, |byte| (byte >> (7 - bit % 8)) & 1)
            } else {
                0
            };
            v = (v << 1) | b;
        }
        out.push(v);
        i += 5;
    }
    out
}

/// Joins 5-bit symbol values back into `nbytes` big-endian bytes (extra bits dropped).
pub fn values_to_bits(values: &[u8], nbytes: usize) -> Vec<u8> {
    let mut out = alloc::vec![0u8; nbytes];
    for (i, v) in values.iter().enumerate() {
        for j in 0..5 {
            let bit = i * 5 + j;
            if bit / 8 < nbytes && (v >> (4 - j)) & 1 == 1 {
                if let Some(b) = out.get_mut(bit / 8) {
                    *b |= 1 << (7 - bit % 8);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn field_tables_are_a_field() {
        // α has order 31: every non-zero element appears exactly once in EXP[0..31].
        let mut seen = [false; 32];
        for &x in &EXP[..31] {
            assert!(!seen[x as usize] && x != 0);
            seen[x as usize] = true;
        }
    }

    #[test]
    fn pattern_parsing() {
        let p = Pattern::parse("ACME-XXXX-\\XXXX").unwrap();
        assert_eq!((p.slots(), p.symbols()), (7, 12));
        assert!(matches!(
            Pattern::parse("ABCI-XXXX"),
            Err(PatternError::InvalidCharacter { position: 3, .. })
        ));
        assert_eq!(Pattern::parse("X"), Err(PatternError::TooFewSlots));
        assert_eq!(
            Pattern::parse("XXXX-XXXX").unwrap().require_bits(64),
            Err(PatternError::TooWeak {
                bits: 35,
                required: 64
            })
        );
        assert_eq!(Pattern::parse(DEFAULT_PATTERN).unwrap().payload_bits(), 95);
    }

    #[test]
    fn canonical_form_without_a_pattern() {
        assert_eq!(
            canonical_form(" 7k3qd-m2xrp 9ftwb-4hcnv ").as_deref(),
            Some("7K3QDM2XRP9FTWB4HCNV")
        );
        assert_eq!(canonical_form("oIl-O").as_deref(), Some("0110"));
        // Not airseal's alphabet (U, `_`, `.`) or nothing left: not a canonical key.
        for typed in ["ABCU", "AB_CD", "AB.CD", "", " - "] {
            assert_eq!(canonical_form(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn every_spelling_of_a_key_has_one_match_form() {
        for typed in [
            "NQBQ6-WG6N5-JNNZK-D29XK",
            "nqbq6-wg6n5-jnnzk-d29xk",
            "NQBQ6 WG6N5_JNNZK.D29XK",
        ] {
            assert_eq!(match_form(typed), "NQBQ6WG6N5JNNZKD29XK", "{typed:?}");
        }
        // A canonical key is its own match form.
        let canonical = canonical_form("nqbq6-wg6n5-jnnzk-d29xk").unwrap();
        assert_eq!(match_form(&canonical), canonical);
        assert_eq!(match_form("kg/key,1"), "KG/KEY,1");
        // No typo mapping and no Unicode folding: other characters are kept.
        assert_ne!(match_form("ABCO"), match_form("ABC0"));
        assert_eq!(match_form("é-x"), "éX");
    }

    #[test]
    fn fill_canonicalize_display_round_trip() {
        let p = Pattern::parse("ACME-XXXXX-XXXXX-XXXXX").unwrap();
        let mut out = Vec::new();
        p.fill((0u8..32).cycle().skip(3), &mut out);
        let canonical = String::from_utf8(out).unwrap();
        assert!(canonical.starts_with("ACME"));
        let shown = p.display(&canonical);
        assert_eq!(shown.len(), 22);
        assert_eq!(p.canonicalize(&shown).unwrap(), canonical);
        // Typo tolerance: lower case, O for 0, I/L for 1, extra spaces.
        let sloppy = shown
            .to_lowercase()
            .replace('0', "o")
            .replace('1', "l")
            .replace('-', " - ");
        assert_eq!(p.canonicalize(&sloppy).unwrap(), canonical);
        assert_eq!(p.payload_values(&canonical), (3u8..17).collect::<Vec<_>>());
    }

    #[test]
    fn precompiled_fill_matches_the_definition() {
        let p = Pattern::parse("ACME-XXXXX-\\XXXX-XXXXX").unwrap();
        let mut out = Vec::new();
        p.fill((5u8..40).map(|v| v % 32), &mut out);
        let (body, check) = out.split_at(out.len() - 1);
        assert_eq!(
            symbol_value(check[0]),
            Some(check_value(body.iter().map(|c| symbol_value(*c).unwrap())))
        );
        assert!(out.starts_with(b"ACME") && out[9] == b'X');
    }

    #[test]
    fn errors_are_classified() {
        let p = Pattern::parse(DEFAULT_PATTERN).unwrap();
        assert!(matches!(
            p.canonicalize("ABCDE-FGHJK"),
            Err(KeyError::WrongLength {
                found: 10,
                expected: 20
            })
        ));
        assert!(matches!(
            p.canonicalize("ABCDE-FGHJK-MNPQR-STVWU"),
            Err(KeyError::InvalidCharacter { position: 22, .. })
        ));
        let lit = Pattern::parse("ACME-XXXX").unwrap();
        assert_eq!(
            lit.canonicalize("ACMF-0000"),
            Err(KeyError::LiteralMismatch { position: 3 })
        );
    }

    #[test]
    fn bit_packing_round_trip() {
        let bytes = [0xde, 0xad, 0xbe, 0xef, 0x01];
        let values = bits_to_values(&bytes, 40);
        assert_eq!(values.len(), 8);
        assert_eq!(values_to_bits(&values, 5), bytes.to_vec());
        assert_eq!(bits_to_values(&[0xff], 7), [31, 0b11000]);
        let _ = "x".to_string();
    }

    fn random_key(p: &Pattern, seed: u64) -> String {
        let mut x = seed | 1;
        let mut out = Vec::new();
        p.fill(
            core::iter::from_fn(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Some((x & 31) as u8)
            }),
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn data_key_fields_pack_round_trip() {
        let f = DataKeyFields {
            features: 0xa5,
            days: 4095,
            created_day: 32_767,
            product_tag: 9,
            serial: 0xabcdef,
        };
        assert_eq!(DataKeyFields::unpack(f.pack()), f);
        assert_eq!(f.pack()[7] & 1, 0, "63 bits, left-aligned");
        let z = DataKeyFields {
            features: 0,
            days: 0,
            created_day: 0,
            product_tag: 0,
            serial: 0,
        };
        assert_eq!(z.expires_at(), None);
    }

    proptest::proptest! {
        /// For a sample of keys, EVERY single-symbol change (19 positions × 31 other symbols
        /// plus the check symbol) and EVERY swap of two different adjacent symbols is caught
        /// by the check symbol.
        #[test]
        fn typos_are_always_detected(seed in proptest::num::u64::ANY) {
            let p = Pattern::parse(DEFAULT_PATTERN).unwrap();
            let key = random_key(&p, seed);
            proptest::prop_assert!(p.canonicalize(&key).is_ok());
            for pos in 0..20 {
                for new in 0..32u8 {
                    let mut bytes = key.clone().into_bytes();
                    if symbol(new) == bytes[pos] {
                        continue;
                    }
                    bytes[pos] = symbol(new);
                    let typo = String::from_utf8(bytes).unwrap();
                    proptest::prop_assert_eq!(p.canonicalize(&typo), Err(KeyError::CheckSymbolMismatch));
                }
            }
            for i in 0..19 {
                let mut swapped = key.clone().into_bytes();
                if swapped[i] != swapped[i + 1] {
                    swapped.swap(i, i + 1);
                    let typo = String::from_utf8(swapped).unwrap();
                    proptest::prop_assert_eq!(p.canonicalize(&typo), Err(KeyError::CheckSymbolMismatch));
                }
            }
        }

        #[test]
        fn data_fields_round_trip(features in proptest::num::u8::ANY, days in 0u16..4096, day in 0u16..32768, tag in 0u8..16, serial in 0u32..(1 << 24)) {
            let f = DataKeyFields { features, days, created_day: day, product_tag: tag, serial };
            proptest::prop_assert_eq!(DataKeyFields::unpack(f.pack()), f);
        }

        #[test]
        fn hostile_strings_never_panic(s in "\\PC{0,64}") {
            let p = Pattern::parse("ACME-XXXX-XXXX-XXXX").unwrap();
            let _ = p.canonicalize(&s);
            let _ = Pattern::parse(&s);
        }
    }
}

// ---- data keys (SKGL-style) --------------------------------------------------------------

/// Unix time of 2020-01-01T00:00:00Z, the epoch of key creation days.
pub const KEY_EPOCH: i64 = 1_577_836_800;
/// Payload bits a data key needs: 63 bits of fields plus at least a 32-bit MAC.
pub const DATA_KEY_MIN_BITS: u32 = 95;
/// Bits of the fields at the start of a data key's payload.
pub const DATA_FIELD_BITS: usize = 63;

/// The fields a data key carries in clear (`SPEC.md` §12.3). Anyone can decode them; only
/// the vendor can check the MAC that follows, and only a signed license is proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataKeyFields {
    /// Feature bits: bit i grants F(i+1).
    pub features: u8,
    /// Validity in days from creation, 0 = no expiry (12 bits: at most 4095).
    pub days: u16,
    /// Creation day, counted from 2020-01-01 (15 bits: until 2109).
    pub created_day: u16,
    /// The low 4 bits of the product tag (catches a key typed into the wrong product).
    pub product_tag: u8,
    /// Random serial (24 bits): 16.7 million distinct keys per day, product and feature set.
    pub serial: u32,
}

impl DataKeyFields {
    /// Largest `days`.
    pub const MAX_DAYS: u16 = 4095;
    /// Largest `created_day`.
    pub const MAX_CREATED_DAY: u16 = 32_767;

    /// Packs the fields into their 63 bits, left-aligned in 8 bytes:
    /// features 8 | days 12 | created_day 15 | product_tag 4 | serial 24.
    pub fn pack(&self) -> [u8; 8] {
        let v: u64 = (u64::from(self.features) << 55)
            | (u64::from(self.days & 0x0fff) << 43)
            | (u64::from(self.created_day & 0x7fff) << 28)
            | (u64::from(self.product_tag & 0x0f) << 24)
            | u64::from(self.serial & 0x00ff_ffff);
        (v << 1).to_be_bytes()
    }

    /// The inverse of [`DataKeyFields::pack`].
    pub fn unpack(bytes: [u8; 8]) -> Self {
        let v = u64::from_be_bytes(bytes) >> 1;
        DataKeyFields {
            features: (v >> 55) as u8,
            days: ((v >> 43) & 0x0fff) as u16,
            created_day: ((v >> 28) & 0x7fff) as u16,
            product_tag: ((v >> 24) & 0x0f) as u8,
            serial: (v & 0x00ff_ffff) as u32,
        }
    }

    /// Creation instant (start of the creation day, UTC).
    pub fn created_at(&self) -> i64 {
        KEY_EPOCH + i64::from(self.created_day) * 86_400
    }

    /// Expiry instant, if the key expires.
    pub fn expires_at(&self) -> Option<i64> {
        (self.days != 0).then(|| self.created_at() + i64::from(self.days) * 86_400)
    }
}

/// The product tag of a product id: the first bytes of SHA-512("airseal-product-tag" || id).
/// Data keys carry its low 4 bits, signed keys its first two bytes.
pub fn product_tag(product: &str) -> [u8; 2] {
    use sha2::{Digest, Sha512};
    let d = Sha512::new()
        .chain_update(b"airseal-product-tag")
        .chain_update(product.as_bytes())
        .finalize();
    [
        d.first().copied().unwrap_or(0),
        d.get(1).copied().unwrap_or(0),
    ]
}
