//! Decode, validate and (for tests and migration tooling) generate legacy SKGL product keys.
//!
//! SKGL ("Serial Key Generating Library", Artem Los, later Serial Key Manager / Cryptolens) keys
//! are 20 letters `XXXXX-XXXXX-XXXXX-XXXXX` carrying a creation date, a "set time" in days, eight
//! feature flags and a five-digit id or machine code, guarded by a 9-digit non-cryptographic
//! checksum and optionally enciphered with a secret phrase. airseal reads them only so that a
//! vendor can migrate existing customers; SKGL offers no real security (see "Security" below),
//! and nothing here is part of the airseal format in `SPEC.md`.
//!
//! # Sources
//!
//! Everything below was re-implemented from the published C# source, read in the public
//! repository `Cryptolens/SKGL` (the library shipped on NuGet as `SKGL` 2.0.5.2/2.0.5.3):
//!
//! * `SKGL 2.0.5.2/SKGL.cs` (commit `724905ee`), class `methods`: `_encrypt`, `_decrypt`,
//!   `booleanToInt`, `intToBoolean`, `_encText`, `_decText`, `Return_Lenght`, `modulo`,
//!   `twentyfiveByteHash`, `getEightByteHash`, `base10ToBase26`, `base26ToBase10`.
//! * `SKGL 2.0.5.2/Generate.cs`: `secretPhase` setter and `doKey` (range checks, random id,
//!   dash grouping).
//! * `SKGL 2.0.5.2/Validate.cs`: `secretPhase` setter, `decodeKeyToString`, `_IsValid` (length
//!   and hash check), `CreationDate`, `SetTime`, `ExpireDate`, `Features`, `IsOnRightMachine`
//!   (field offsets).
//! * `SKGL 2.0.5.2/SerialKeyConfiguration.cs`: eight features, `addSplitChar` defaulting to true.
//! * `SKGLTest/UnitTest1.cs`: the two published example keys used as vectors below.
//!
//! The Kotlin port `ravindUwU/skgl-kotlin` (`MathHelpers.kt`, `SerialKeyHelpers.kt`) was read
//! as a cross-check of the reading only; where it differs from the C# (it adds *signed* Java bytes
//! in the hash, so it disagrees with C# for non-ASCII phrases) the C# wins.
//!
//! # The algorithm
//!
//! **Payload** (`_encrypt`, "Artem's ISF-2"). A C# `decimal` is built as
//! `((yyyyMMdd * 1000 + days) * 1000 + features) * 100000 + id` and written with `ToString()`:
//!
//! * the creation date is `DateTime.ToString("yyyyMMdd")` read back as an integer, so years
//!   1000–9999 give 8 digits;
//! * `days` ("set time") must be at most 999 (`doKey` throws above that) and so fills 3 digits
//!   with leading zeros ("padded to 3 digits" by the multiplication, not by formatting);
//! * the features byte is `booleanToInt(Features)`: `Features[0]` is the most significant bit
//!   (128) and `Features[7]` the least (1); the value 0–255 fills 3 decimal digits;
//! * the id fills 5 digits. `doKey(days, date, machineCode)` uses the machine code when it is in
//!   `1..=99999`, otherwise `Random.Next(0, 99999)`; here the caller always supplies it, so
//!   generation is deterministic, and 0 is allowed because the random path can yield it.
//!
//! The payload is therefore exactly 19 decimal digits: `yyyyMMdd ddd fff iiiii`.
//!
//! **Checksum** (`getEightByteHash`, despite the name 9 digits). Bob Jenkins' one-at-a-time hash
//! (32-bit, wrapping) over the UTF-16LE bytes of the string (`Encoding.Unicode.GetBytes`; for
//! the ASCII payload every digit contributes its byte and then a zero byte), then reduced:
//! `r = hash % 1e9`; `r = 1` if it is 0; `r *= 1e9 / r` (integer division) when that quotient
//! exceeds 1; and `r /= 10` if `r` reached exactly `1e9`. The result is always a 9-digit number
//! in `[500000001, 999999999]` or exactly `100000000`. The checksum is computed over the
//! *plaintext* payload and is itself never enciphered.
//!
//! **Secret phrase** (`twentyfiveByteHash`, called by the `secretPhase` setters). The phrase is
//! cut into blocks of UTF-16 code units: up to 5 units form one block; otherwise, with
//! `n = len / 5`, the first `n - 1` blocks have 5 units and the last block takes the rest (5–9
//! units), so a 6–9 unit phrase is one block. Each block's 9-digit checksum (above) is written
//! out and the results are concatenated into a digit string of `9 * blocks` digits. A lone
//! surrogate at a block edge is encoded as U+FFFD, as .NET's `Encoding.Unicode` does.
//!
//! **Encipherment** (`_encText` / `_decText`, "Artem's SKA-2"). With a non-empty phrase, payload
//! digit `i` becomes `(p[i] + s[i mod len(s)]) mod 10`, `s` being the hashed phrase's digits;
//! decoding subtracts (with a non-negative `modulo`). The checksum digits are untouched.
//!
//! **Letters** (`base10ToBase26` / `base26ToBase10`). The 28-digit string `checksum ++ payload`
//! is read as one decimal number and written in base 26 with `A` = 0 … `Z` = 25, most
//! significant first and without padding. Because the checksum never starts with a digit below
//! 1, the number lies in `[10^27, 10^28)`, which is always exactly 20 letters
//! (`26^19 < 10^27`, `10^28 < 26^20`). `doKey` then inserts a dash after every 5 letters.
//!
//! **Validation** (`Validate._IsValid`). The key must be 23 characters with dashes or 20
//! without; dashes are removed; the letters are read back to a decimal string; with a phrase,
//! every digit after the ninth is deciphered; and the key is valid when the first 9 digits equal
//! the checksum of the next 19. Fields are then read at fixed offsets of that string: year
//! `[9, 13)`, month `[13, 15)`, day `[15, 17)`, set time `[17, 20)`, features `[20, 23)`, id
//! `[23, 28)`. `ExpireDate` is `CreationDate.AddDays(SetTime)`; `IsExpired` is
//! `DaysLeft <= 0`, i.e. true from the expiry date on.
//!
//! # Quirks reproduced, and where this module deliberately differs
//!
//! * **Empty secret phrase means "no phrase".** `_encrypt`/`_decrypt` skip encipherment when the
//!   stored phrase is null or empty; `Validate` starts with `""` and `Generate` with null, and
//!   both setters ignore an assignment equal to the stored value. So `secret = ""` here matches
//!   a `Validate` whose phrase was never set (or set to `""`) and a `Generate` whose phrase was
//!   never set. One C# oddity is *not* reproducible through this API: assigning `""` to
//!   `Generate.secretPhase` hashes it (null != ""), and the checksum of the empty string is 1 →
//!   `100000000`, so such keys are enciphered with the digits `100000000`; SKGL's own
//!   `Validate` cannot check them with `""` either.
//! * **The phrase contributes only 19 digits.** Only the first 19 hashed digits are ever used;
//!   for a phrase longer than 10 UTF-16 units everything from the 11th unit on changes a single
//!   keystream digit. Different phrases with equal keystream prefixes are interchangeable.
//! * **The "digits only" phrase check does nothing.** `doKey` and `decodeKeyToString` throw if the
//!   *hashed* phrase matches `^\d$`, which a 9-or-more-digit string never does; any phrase works.
//! * **Hash reduction.** The `result == 0` and `== 1e9` corrections are those of 2.0.5.2; older
//!   releases lacked them, which only matters for about one key in 10^7.
//! * **Features above 255.** The three feature digits of a forged but checksum-valid key may
//!   read 256–999; SKGL's `intToBoolean` then pads its binary string "to 8 digits" in a loop that
//!   never ends. We return [`SkglError::OutOfRange`] with field `"features"`.
//! * **Dates.** `Validate` builds a Gregorian `DateTime`, which accepts years 1–9999, and throws
//!   (outside `IsValid`'s `try`) on an impossible date; we accept the same range and return
//!   [`SkglError::InvalidDate`]. `generate` only accepts years 1000–9999, because `doKey`
//!   cannot produce a 20-letter key for earlier years. The generator formats the date with the
//!   machine's *current culture*; on a culture with a non-Gregorian default calendar (e.g.
//!   Thai Buddhist) the year digits are that calendar's year, and SKGL reads them back as
//!   Gregorian, as we do (this point is from .NET's documented formatting rules, not SKGL).
//! * **Expiry arithmetic.** [`SkglKey::expires`] adds the set time in proleptic Gregorian days
//!   (own days-from-civil code, no `chrono`). .NET would throw past 9999-12-31; we just return
//!   the later date.
//! * **Input leniency.** SKGL compares characters with `IndexOf` on `A–Z` only (a lowercase
//!   letter would silently count as -1) and checks only the total length. We trim surrounding
//!   whitespace, accept either case, ignore dashes wherever they are, and then require exactly
//!   20 letters; any other character is rejected by position.
//! * **Out-of-range numbers.** 20 letters can spell numbers below `10^27` (SKGL throws in
//!   `Substring` → invalid) or from `10^28` up (SKGL would read the first 28 of 29 digits and
//!   ignore the last; a checksum match there needs the checksum `100000000`, about one chance in
//!   10^7 per forged key). Both are rejected here with [`SkglError::NumberOutOfRange`].
//!
//! # Security
//!
//! The checksum is public and unkeyed and the "encryption" is a digit-wise Vigenère cipher with a
//! 19-digit keystream, so anyone holding the secret phrase (which must ship inside every
//! validating application) can mint keys, and a [`SkglError::HashMismatch`] only means the key is
//! not one the given phrase produced. Treat decoded SKGL keys as claims to be migrated, never as
//! proof of purchase.

use std::fmt;

/// Number of letters in an SKGL key once the dashes are removed.
const KEY_LETTERS: usize = 20;
/// Decimal digits of the checksum that leads the decoded number.
const HASH_DIGITS: usize = 9;
/// Decimal digits of the payload (`yyyyMMdd ddd fff iiiii`).
const PAYLOAD_DIGITS: usize = 19;
/// Total decimal digits behind a key.
const TOTAL_DIGITS: usize = HASH_DIGITS + PAYLOAD_DIGITS;
/// `getEightByteHash`'s default `MUST_BE_LESS_THAN`.
const HASH_MODULUS: u32 = 1_000_000_000;
/// Largest set time `doKey` accepts.
pub const MAX_DAYS: u32 = 999;
/// Largest id (machine code) that fits the five id digits.
pub const MAX_ID: u32 = 99_999;

/// The fields carried by an SKGL key.
///
/// Dates are `(year, month, day)` tuples in the proleptic Gregorian calendar; tuples compare
/// chronologically, so SKGL's `IsExpired` is `today >= key.expires()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkglKey {
    /// Creation date `(year, month, day)` (SKGL's `CreationDate`).
    pub created: (i32, u32, u32),
    /// Days the key is valid for, 0–999 (SKGL's `SetTime`).
    pub days: u32,
    /// The eight feature flags; index 0 is SKGL's `Features[0]`, shown to users as "F1".
    pub features: [bool; 8],
    /// The five-digit id, 0–99999: a machine code when the key was locked to one, otherwise
    /// random (SKGL's decoded machine code, compared by `IsOnRightMachine`).
    pub id: u32,
}

impl SkglKey {
    /// The expiry date: `created` plus `days` days (SKGL's `ExpireDate`).
    ///
    /// Only meaningful when `created` is a valid date, which is always the case for keys from
    /// [`decode`].
    #[must_use]
    pub fn expires(&self) -> (i32, u32, u32) {
        let (y, m, d) = self.created;
        let (ey, em, ed) =
            civil_from_days(days_from_civil(i64::from(y), m, d) + i64::from(self.days));
        (i32::try_from(ey).unwrap_or(i32::MAX), em, ed)
    }

    /// The creation date as `YYYY-MM-DD`.
    #[must_use]
    pub fn created_string(&self) -> String {
        format_date(self.created)
    }

    /// The expiry date as `YYYY-MM-DD`.
    #[must_use]
    pub fn expires_string(&self) -> String {
        format_date(self.expires())
    }

    /// The enabled features as 1-based numbers (1 for `features[0]`, "F1"), ascending.
    pub fn enabled_features(&self) -> impl Iterator<Item = u8> + '_ {
        (1u8..).zip(self.features.iter()).filter(|(_, on)| **on).map(|(n, _)| n)
    }
}

/// Formats a `(year, month, day)` date as `YYYY-MM-DD`.
#[must_use]
pub fn format_date((year, month, day): (i32, u32, u32)) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

/// Why an SKGL key could not be decoded or generated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkglError {
    /// After trimming and removing dashes the key does not have exactly 20 letters.
    WrongLength {
        /// How many letters were found.
        found: usize,
    },
    /// The key contains something other than letters and dashes.
    InvalidCharacter {
        /// 0-based character index in the string given to [`decode`].
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The letters spell a number that no SKGL generator produces (it must have exactly 28
    /// decimal digits); the key was mistyped or is not an SKGL key.
    NumberOutOfRange {
        /// How many decimal digits the number has.
        digits: usize,
    },
    /// The checksum does not match: the key was mistyped, forged, or the secret phrase is wrong.
    HashMismatch,
    /// A date that does not exist: decoded from a checksum-valid key, or given to [`generate`].
    InvalidDate {
        /// Year as read or given.
        year: i32,
        /// Month as read or given.
        month: u32,
        /// Day as read or given.
        day: u32,
    },
    /// A field is outside what the format can hold.
    OutOfRange {
        /// Which field: `"year"`, `"days"`, `"id"` or `"features"`.
        field: &'static str,
    },
}

impl fmt::Display for SkglError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { found } => {
                write!(f, "an SKGL key has {KEY_LETTERS} letters, this one has {found}")
            }
            Self::InvalidCharacter { position, found } => {
                write!(f, "invalid character {found:?} at position {position} of the SKGL key")
            }
            Self::NumberOutOfRange { digits } => write!(
                f,
                "the letters spell a {digits}-digit number, an SKGL key always spells \
                 {TOTAL_DIGITS} digits (mistyped, or not an SKGL key)"
            ),
            Self::HashMismatch => f.write_str(
                "SKGL checksum mismatch: the key is mistyped or forged, or the secret phrase is \
                 wrong",
            ),
            Self::InvalidDate { year, month, day } => {
                write!(f, "{year:04}-{month:02}-{day:02} is not a valid date")
            }
            Self::OutOfRange { field } => {
                write!(f, "the SKGL {field} field is out of range")
            }
        }
    }
}

impl std::error::Error for SkglError {}

/// Decodes and validates an SKGL key with the given secret phrase (`""` for none).
///
/// Surrounding whitespace is ignored, letters may be in either case, and dashes are ignored
/// wherever they are; exactly 20 letters must remain.
///
/// # Errors
///
/// [`SkglError::InvalidCharacter`] or [`SkglError::WrongLength`] if the text is not 20
/// letters; [`SkglError::NumberOutOfRange`] if the letters cannot be an SKGL key;
/// [`SkglError::HashMismatch`] if the checksum fails (mistyped, forged, or wrong phrase);
/// [`SkglError::InvalidDate`] or [`SkglError::OutOfRange`] (`"features"`) if a checksum-valid
/// key carries impossible fields.
pub fn decode(key: &str, secret: &str) -> Result<SkglKey, SkglError> {
    let letters = parse_letters(key)?;
    let number = letters
        .iter()
        .fold(0u128, |acc, &l| acc * 26 + u128::from(l));
    let mut digits = number_to_digits(number)?;
    let (hash, payload) = digits.split_at_mut(HASH_DIGITS);
    decipher(payload, &secret_keystream(secret));
    if digits_value(hash) != u64::from(eight_byte_hash(&payload_utf16le(payload))) {
        return Err(SkglError::HashMismatch);
    }
    fields_from_payload(payload)
}

/// Generates the SKGL key for the given fields and secret phrase (`""` for none), formatted
/// `XXXXX-XXXXX-XXXXX-XXXXX` as SKGL's `doKey` does by default.
///
/// Unlike `doKey`, which picks a random id unless given a machine code, the id is taken from
/// `key.id`, so the output is deterministic.
///
/// # Errors
///
/// [`SkglError::InvalidDate`] if `key.created` does not exist; [`SkglError::OutOfRange`] if
/// the year is outside 1000–9999, `days` above 999 or `id` above 99999.
pub fn generate(key: &SkglKey, secret: &str) -> Result<String, SkglError> {
    let (year, month, day) = key.created;
    if !is_valid_date(year, month, day) {
        return Err(SkglError::InvalidDate { year, month, day });
    }
    if !(1000..=9999).contains(&year) {
        return Err(SkglError::OutOfRange { field: "year" });
    }
    if key.days > MAX_DAYS {
        return Err(SkglError::OutOfRange { field: "days" });
    }
    if key.id > MAX_ID {
        return Err(SkglError::OutOfRange { field: "id" });
    }
    let features = key
        .features
        .iter()
        .fold(0u64, |acc, &on| acc * 2 + u64::from(on));

    let mut digits = [0u8; TOTAL_DIGITS];
    let (hash, payload) = digits.split_at_mut(HASH_DIGITS);
    // Same layout as SKGL's decimal arithmetic; every year here has four digits.
    let fields: [(u64, usize); 6] = [
        (year.unsigned_abs().into(), 4),
        (month.into(), 2),
        (day.into(), 2),
        (key.days.into(), 3),
        (features, 3),
        (key.id.into(), 5),
    ];
    let mut rest = &mut payload[..];
    for (value, width) in fields {
        let (field, tail) = rest.split_at_mut(width);
        write_digits(field, value);
        rest = tail;
    }
    write_digits(hash, eight_byte_hash(&payload_utf16le(payload)).into());
    encipher(payload, &secret_keystream(secret));

    let number = digits
        .iter()
        .fold(0u128, |acc, &d| acc * 10 + u128::from(d));
    let letters = number_to_letters(number)?;
    let mut out = String::with_capacity(KEY_LETTERS + 3);
    for (i, letter) in letters.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        out.push(char::from(b'A' + letter));
    }
    Ok(out)
}

/// Trims, drops dashes and returns the 20 letters as values 0–25.
fn parse_letters(key: &str) -> Result<[u8; KEY_LETTERS], SkglError> {
    let leading = key.chars().take_while(|c| c.is_whitespace()).count();
    let mut letters = [0u8; KEY_LETTERS];
    let mut found = 0usize;
    for (position, c) in key.trim().chars().enumerate() {
        if c == '-' {
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(SkglError::InvalidCharacter {
                position: position + leading,
                found: c,
            });
        }
        if let Some(slot) = letters.get_mut(found) {
            *slot = c.to_ascii_uppercase() as u8 - b'A';
        }
        found += 1;
    }
    if found == KEY_LETTERS {
        Ok(letters)
    } else {
        Err(SkglError::WrongLength { found })
    }
}

/// Splits a number into exactly 28 decimal digits, rejecting any other length.
fn number_to_digits(mut number: u128) -> Result<[u8; TOTAL_DIGITS], SkglError> {
    const LOW: u128 = 10u128.pow(TOTAL_DIGITS as u32 - 1);
    const HIGH: u128 = 10u128.pow(TOTAL_DIGITS as u32);
    if !(LOW..HIGH).contains(&number) {
        let digits = number.checked_ilog10().map_or(1, |l| l as usize + 1);
        return Err(SkglError::NumberOutOfRange { digits });
    }
    let mut digits = [0u8; TOTAL_DIGITS];
    for d in digits.iter_mut().rev() {
        *d = (number % 10) as u8;
        number /= 10;
    }
    Ok(digits)
}

/// Writes a number in base 26 as exactly 20 letter values, most significant first.
fn number_to_letters(mut number: u128) -> Result<[u8; KEY_LETTERS], SkglError> {
    let mut letters = [0u8; KEY_LETTERS];
    for l in letters.iter_mut().rev() {
        *l = (number % 26) as u8;
        number /= 26;
    }
    // Unreachable for a 28-digit number (< 26^20); kept so that no input can make us panic.
    if number != 0 {
        return Err(SkglError::NumberOutOfRange {
            digits: TOTAL_DIGITS + 1,
        });
    }
    Ok(letters)
}

/// Reads the payload's fields at SKGL's fixed offsets and checks them.
fn fields_from_payload(payload: &[u8]) -> Result<SkglKey, SkglError> {
    let mut rest = payload;
    let mut take = |width: usize| {
        let (field, tail) = rest.split_at(width.min(rest.len()));
        rest = tail;
        digits_value(field)
    };
    // Each field has at most 5 digits, so these conversions cannot fail.
    let year = i32::try_from(take(4)).unwrap_or(0);
    let month = u32::try_from(take(2)).unwrap_or(0);
    let day = u32::try_from(take(2)).unwrap_or(0);
    let days = u32::try_from(take(3)).unwrap_or(u32::MAX);
    let feature_bits = take(3);
    let id = u32::try_from(take(5)).unwrap_or(u32::MAX);

    // .NET's DateTime range; see the module docs on dates.
    if !(1..=9999).contains(&year) || !is_valid_date(year, month, day) {
        return Err(SkglError::InvalidDate { year, month, day });
    }
    if feature_bits > 255 {
        return Err(SkglError::OutOfRange { field: "features" });
    }
    let mut features = [false; 8];
    for (i, f) in features.iter_mut().enumerate() {
        *f = feature_bits & (0x80 >> i) != 0;
    }
    Ok(SkglKey {
        created: (year, month, day),
        days,
        features,
        id,
    })
}

/// Writes `value` into `out` as zero-padded decimal digits (high digits beyond `out` dropped).
fn write_digits(out: &mut [u8], mut value: u64) {
    for d in out.iter_mut().rev() {
        *d = (value % 10) as u8;
        value /= 10;
    }
}

/// The value of a run of decimal digits (at most 19, so it fits).
fn digits_value(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, &d| acc.wrapping_mul(10).wrapping_add(u64::from(d)))
}

/// The UTF-16LE bytes of a digit string, as `Encoding.Unicode.GetBytes` gives them.
fn payload_utf16le(payload: &[u8]) -> Vec<u8> {
    payload.iter().flat_map(|&d| [b'0' + d, 0]).collect()
}

/// SKGL's `getEightByteHash` with its default bound of 10^9: Jenkins' one-at-a-time hash,
/// reduced to a 9-digit number (see the module docs).
fn eight_byte_hash(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0;
    for &b in bytes {
        hash = hash.wrapping_add(u32::from(b));
        hash = hash.wrapping_add(hash << 10);
        hash ^= hash >> 6;
    }
    hash = hash.wrapping_add(hash << 3);
    hash ^= hash >> 11;
    hash = hash.wrapping_add(hash << 15);

    let mut result = (hash % HASH_MODULUS).max(1);
    let check = HASH_MODULUS / result;
    if check > 1 {
        // result * (M / result) <= M, so this cannot overflow.
        result *= check;
    }
    if result == HASH_MODULUS {
        result /= 10;
    }
    result
}

/// SKGL's `twentyfiveByteHash` of the secret phrase, as decimal digit values; empty for `""`,
/// which means "no phrase".
fn secret_keystream(secret: &str) -> Vec<u8> {
    let units: Vec<u16> = secret.encode_utf16().collect();
    let blocks = units.len() / 5;
    let mut chunks: Vec<&[u16]> = Vec::new();
    if units.is_empty() {
        return Vec::new();
    } else if units.len() <= 5 || blocks == 1 {
        chunks.push(&units);
    } else {
        let (head, last) = units.split_at((blocks - 1) * 5);
        chunks.extend(head.chunks(5));
        chunks.push(last);
    }
    let mut digits = Vec::with_capacity(chunks.len() * HASH_DIGITS);
    for chunk in chunks {
        let mut block = [0u8; HASH_DIGITS];
        write_digits(&mut block, eight_byte_hash(&utf16le_bytes(chunk)).into());
        digits.extend_from_slice(&block);
    }
    digits
}

/// UTF-16LE bytes of a run of code units, lone surrogates replaced by U+FFFD as .NET's
/// `Encoding.Unicode` (replacement fallback) does.
fn utf16le_bytes(units: &[u16]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(units.len() * 2);
    let mut buf = [0u16; 2];
    for c in char::decode_utf16(units.iter().copied()) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        for unit in c.encode_utf16(&mut buf) {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
    }
    bytes
}

/// `_encText`: adds the keystream digit-wise modulo 10 (no-op for an empty keystream).
fn encipher(payload: &mut [u8], keystream: &[u8]) {
    if keystream.is_empty() {
        return;
    }
    for (p, s) in payload.iter_mut().zip(keystream.iter().cycle()) {
        *p = (*p + s) % 10;
    }
}

/// `_decText`: subtracts the keystream digit-wise modulo 10 (no-op for an empty keystream).
fn decipher(payload: &mut [u8], keystream: &[u8]) {
    if keystream.is_empty() {
        return;
    }
    for (p, s) in payload.iter_mut().zip(keystream.iter().cycle()) {
        *p = (*p + 10 - s) % 10;
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn is_valid_date(year: i32, month: u32, day: u32) -> bool {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
/// Total for any input; meaningful for valid dates.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9).rem_euclid(12); // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`] (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are small and positive by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(created: (i32, u32, u32), days: u32, features: [bool; 8], id: u32) -> SkglKey {
        SkglKey {
            created,
            days,
            features,
            id,
        }
    }

    #[test]
    fn explore() {
        for (k, s) in [
            ("MXNBF-ITLDZ-WPOBY-UCHQW", "567"),
            ("LZWXQ-SMBAS-JDVDL-XTEHB", "567"),
            ("LBWRB-QOITK-SLCCU-MCGKS", "My$ecretPa$$W0rd"),
            ("LREYZ-AAIDV-RLGRK-EVPFQ", "My$ecretPa$$W0rd"),
            ("yFBFR-SZNVH-DGVXL-RTCLT", "My$ecretPa$$W0rd"),
            ("LMFME-OTQAF-JVBUP-OKFGP", "My$ecretPa$$W0rd"),
            ("HCXDB-MQXOD-TRQKD-JQMVQ", "My$ecretPa$$W0rd"),
            ("MFZIL-NSTBB-DLLXZ-RFHYV", "testdemo"),
            ("JPVFS-BLQOQ-FLFTN-HXLFW", "testdemo"),
            ("KTZEY-UBGPZ-REXIG-INWXB", "hello"),
            ("KSIDN-MNDOJ-TYVXK-NTACZ", "981965692"),
            ("MUYVD-LSEBY-CXHRQ-XFAGY", ""),
        ] {
            let r = decode(k, s);
            println!("{k} {s:?} -> {r:?} {:?}", r.as_ref().map(|k| k.expires()));
        }
        let _ = key((2020, 1, 1), 0, [false; 8], 0);
    }
}
#[cfg(test)]
mod probe {
    use super::*;
    fn f(bits: u8) -> [bool; 8] { let mut a = [false; 8]; for i in 0..8 { a[i] = bits & (0x80 >> i) != 0; } a }
    #[test]
    fn probe() {
        let cases: Vec<((i32,u32,u32), u32, u8, u32, &str)> = vec![
            ((2000,1,1), 0, 0, 0, ""),
            ((2099,12,31), 999, 0xff, 99999, ""),
            ((2024,2,29), 365, 0x81, 12345, "567"),
            ((1999,12,31), 30, 0x40, 1, "My$ecretPa$$W0rd"),
            ((2031,7,4), 90, 0x28, 54321, "d87e468e-02ae-4112-a687-fb4a402a2f7a"),
            ((2010,10,10), 7, 0x10, 777, "\u{f1}and\u{fa}\u{20ac}"),
            ((2025,6,15), 180, 0x04, 424, "abcd\u{1f511}efghij"),
            ((1000,1,1), 1, 0x02, 10, "testdemo"),
            ((9999,12,31), 999, 0x01, 99998, "x"),
            ((2016,2,29), 366, 0x55, 50000, "a much longer secret phrase, over thirty characters"),
        ];
        for (c, d, fe, id, s) in cases {
            let k = SkglKey { created: c, days: d, features: f(fe), id };
            let g = generate(&k, s).unwrap();
            let back = decode(&g, s).unwrap();
            assert_eq!(back, k);
            println!("{g} {s:?} {c:?} {d} {fe:#04x} {id} exp {:?}", k.expires());
        }
    }
}
