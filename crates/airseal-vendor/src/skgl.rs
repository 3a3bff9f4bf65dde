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
//! significant first and without padding. Because the checksum is at least `10^8` (nine digits,
//! no leading zero), the number lies in `[10^27, 10^28)`, which is always exactly 20 letters
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
//! * **Older releases differ.** A VB.NET SKGL source of the same ISF-2/SKA-2 generation
//!   (2011–2012, using MegaMath; found in the code index, its repository not identified) differs
//!   from the C# 2.0.5.2 code in two ways. Its `amountOfBlocks = s.Length / 5` is a
//!   floating-point division rounded to nearest by VB's implicit conversion (per VB's documented
//!   conversion rules; not executed here), so a phrase longer than 5 units whose length is 3 or
//!   4 more than a multiple of 5 (8, 9, 13, 14, …) gets one more, shorter last block: keys made
//!   by those releases with such phrases validate neither here nor in SKGL 2.0.5.2. And its
//!   reduction lacks the `0` and `10^9` corrections, which matters for about one payload in
//!   10^7. The codeplex wiki page "Algorithm versions" also records an earlier checksum change
//!   after which older keys stopped validating. We follow 2.0.5.2 only.
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
//! # Verification
//!
//! * Seven keys published with their phrase (two in SKGL's own tests, the example on its NuGet
//!   page, four in third-party code) decode to the fields their sources assert, and
//!   [`generate`] gives each back letter for letter; two keys those sources call invalid are
//!   rejected. The decimal example on the codeplex wiki page "How SKGL works"
//!   (`693937080 | 20120430 030 000 80966`) has exactly our checksum. All of them are in
//!   `tests/data/skgl/vectors.tsv` with their sources.
//! * Once, by hand (it needs Mono and a transcription of the third-party C# code, so it is not
//!   part of the test suite): SKGL 2.0.5.2's `methods` class transcribed and run under Mono 6.8
//!   agreed with this module on 20,000 random generations (years 1000–9999, phrases with
//!   non-ASCII and astral characters) and on 103,533 validations (right and wrong phrases,
//!   one-letter changes, random letters, digit-count edges).
//! * Two keys found in third-party code do *not* validate: the documentation example
//!   `LMFME-OTQAF-JVBUP-OKFGP` with `My$ecretPa$$W0rd` (deciphers to nonsense, so another
//!   phrase or an older release), and `KTZEY-UBGPZ-REXIG-INWXB` with `hello`, whose payload
//!   deciphers cleanly (2017-07-15, 30 days, the machine code 92040 given beside it) but whose
//!   checksum differs, which suggests a modified generator.
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
        (1u8..)
            .zip(self.features.iter())
            .filter(|(_, on)| **on)
            .map(|(n, _)| n)
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
                write!(
                    f,
                    "an SKGL key has {KEY_LETTERS} letters, this one has {found}"
                )
            }
            Self::InvalidCharacter { position, found } => {
                write!(
                    f,
                    "invalid character {found:?} at position {position} of the SKGL key"
                )
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
    // 10^(TOTAL_DIGITS - 1) and 10^TOTAL_DIGITS.
    const LOW: u128 = 10u128.pow(27);
    const HIGH: u128 = 10u128.pow(28);
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
    digits.iter().fold(0u64, |acc, &d| {
        acc.wrapping_mul(10).wrapping_add(u64::from(d))
    })
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
    use proptest::prelude::*;

    /// Feature flags from a byte, F1 = most significant bit (as SKGL's `booleanToInt`).
    fn features(bits: u8) -> [bool; 8] {
        let mut out = [false; 8];
        for (i, f) in out.iter_mut().enumerate() {
            *f = bits & (0x80 >> i) != 0;
        }
        out
    }

    fn key(created: (i32, u32, u32), days: u32, bits: u8, id: u32) -> SkglKey {
        SkglKey {
            created,
            days,
            features: features(bits),
            id,
        }
    }

    /// Builds a checksum-valid key around an arbitrary 19-digit payload, bypassing `generate`'s
    /// field checks, to reach the checks that only forged keys can trigger.
    fn forge(payload: &str, secret: &str) -> String {
        let mut digits = [0u8; TOTAL_DIGITS];
        let (hash, body) = digits.split_at_mut(HASH_DIGITS);
        for (d, c) in body.iter_mut().zip(payload.bytes()) {
            *d = c - b'0';
        }
        write_digits(hash, eight_byte_hash(&payload_utf16le(body)).into());
        encipher(body, &secret_keystream(secret));
        let number = digits.iter().fold(0u128, |a, &d| a * 10 + u128::from(d));
        number_to_letters(number)
            .unwrap()
            .iter()
            .map(|&l| char::from(b'A' + l))
            .collect()
    }

    // Keys published together with their secret phrase, decoded with the fields SKGL reports.
    // Sources are in the module docs and in tests/data/skgl/vectors.tsv.
    #[test]
    fn real_world_keys_decode() {
        // Cryptolens/SKGL SKGLTest/UnitTest1.cs, CreateAndValidateA: valid, expired, SetTime 30.
        let k = decode("MXNBF-ITLDZ-WPOBY-UCHQW", "567").unwrap();
        assert_eq!(k, key((2013, 12, 28), 30, 0, 23159));
        assert_eq!(k.expires_string(), "2014-01-27");

        // Same file, CreateAndValidateCJ: valid, expired, SetTime 30, Features[0] set.
        let k = decode("LZWXQ-SMBAS-JDVDL-XTEHB", "567").unwrap();
        assert_eq!(k, key((2013, 12, 28), 30, 0x80, 5868));
        assert_eq!(k.enabled_features().collect::<Vec<_>>(), [1]);

        // The example key on SKGL's NuGet page; it validates without a phrase.
        let k = decode("MUYVD-LSEBY-CXHRQ-XFAGY", "").unwrap();
        assert_eq!(k, key((2012, 4, 29), 30, 0, 78636));

        // Third-party test (Digiphoto Lumen): one valid key, one "correct but expired".
        let k = decode("LBWRB-QOITK-SLCCU-MCGKS", "My$ecretPa$$W0rd").unwrap();
        assert_eq!(k, key((2015, 12, 27), 999, 0, 59074));
        let k = decode("LREYZ-AAIDV-RLGRK-EVPFQ", "My$ecretPa$$W0rd").unwrap();
        assert_eq!(k, key((2000, 1, 1), 30, 0, 63314));
        assert_eq!(k.expires(), (2000, 1, 31));

        // Third-party demo: doKey(30) and doKey(30, 61123) with phrase "testdemo"; the second
        // key carries the machine code that was passed in.
        let k = decode("MFZIL-NSTBB-DLLXZ-RFHYV", "testdemo").unwrap();
        assert_eq!(k, key((2015, 6, 18), 30, 0, 39136));
        let k = decode("JPVFS-BLQOQ-FLFTN-HXLFW", "testdemo").unwrap();
        assert_eq!(k, key((2015, 6, 18), 30, 0, 61123));
    }

    #[test]
    fn real_world_invalid_keys_are_rejected() {
        // Asserted invalid by the Lumen test (its lowercase `y` makes SKGL's IndexOf return -1;
        // read as `Y` the number is too large).
        assert_eq!(
            decode("yFBFR-SZNVH-DGVXL-RTCLT", "My$ecretPa$$W0rd"),
            Err(SkglError::NumberOutOfRange { digits: 29 })
        );
        // Used as "the invalid serial number" by another third-party test.
        assert_eq!(
            decode("HCXDB-MQXOD-TRQKD-JQMVQ", "My$ecretPa$$W0rd"),
            Err(SkglError::HashMismatch)
        );
    }

    #[test]
    fn generate_reproduces_real_keys() {
        for (text, secret) in [
            ("MXNBF-ITLDZ-WPOBY-UCHQW", "567"),
            ("LZWXQ-SMBAS-JDVDL-XTEHB", "567"),
            ("MUYVD-LSEBY-CXHRQ-XFAGY", ""),
            ("LBWRB-QOITK-SLCCU-MCGKS", "My$ecretPa$$W0rd"),
            ("LREYZ-AAIDV-RLGRK-EVPFQ", "My$ecretPa$$W0rd"),
            ("MFZIL-NSTBB-DLLXZ-RFHYV", "testdemo"),
            ("JPVFS-BLQOQ-FLFTN-HXLFW", "testdemo"),
        ] {
            let k = decode(text, secret).unwrap();
            assert_eq!(generate(&k, secret).unwrap(), text);
        }
    }

    // skgl.codeplex.com, "How SKGL works", shows the decimal form of a key generated without a
    // phrase: 693937080 | 20120430 030 000 80966. Our checksum must give the same 9 digits.
    #[test]
    fn documented_checksum_example() {
        let payload: Vec<u8> = "2012043003000080966".bytes().map(|b| b - b'0').collect();
        assert_eq!(eight_byte_hash(&payload_utf16le(&payload)), 693_937_080);
        let k = key((2012, 4, 30), 30, 0, 80966);
        assert_eq!(generate(&k, "").unwrap(), "JBKHZ-GVABX-QWZRY-QAOZE");
        assert_eq!(decode("JBKHZ-GVABX-QWZRY-QAOZE", "").unwrap(), k);
    }

    // Keys made by this implementation (each also checked against a transcription of SKGL
    // 2.0.5.2's C# core under Mono, which produced the same letters).
    #[test]
    fn fixed_generated_vectors() {
        let long = "a much longer secret phrase, over thirty characters";
        let cases: [(&str, &str, SkglKey, &str); 10] = [
            (
                "MFPAW-KJSDD-CDRPA-FGZOQ",
                "",
                key((2000, 1, 1), 0, 0, 0),
                "2000-01-01",
            ),
            (
                "KKYIW-WNOSG-INYZI-QBOUX",
                "",
                key((2099, 12, 31), 999, 0xff, 99999),
                "2102-09-26",
            ),
            (
                "MDKCF-SADJL-SNUST-RDLQQ",
                "567",
                key((2024, 2, 29), 365, 0x81, 12345),
                "2025-02-28",
            ),
            (
                "MXCPQ-KGUFY-YIHNG-WOUUP",
                "My$ecretPa$$W0rd",
                key((1999, 12, 31), 30, 0x40, 1),
                "2000-01-30",
            ),
            (
                "MJNUU-CJGON-VFQZJ-NUQHA",
                "d87e468e-02ae-4112-a687-fb4a402a2f7a",
                key((2031, 7, 4), 90, 0x28, 54321),
                "2031-10-02",
            ),
            (
                "LVVOB-CSYPL-XPBKS-ULJTL",
                "\u{f1}and\u{fa}\u{20ac}",
                key((2010, 10, 10), 7, 0x10, 777),
                "2010-10-17",
            ),
            (
                "MZQUW-PKDGD-XKKYT-JPDCL",
                "abcd\u{1f511}efghij",
                key((2025, 6, 15), 180, 0x04, 424),
                "2025-12-12",
            ),
            (
                "MZYSJ-ZQVPC-QMITJ-RBCDP",
                "testdemo",
                key((1000, 1, 1), 1, 0x02, 10),
                "1000-01-02",
            ),
            (
                "KRBXU-UKVDG-IJKEY-VCGFF",
                "x",
                key((9999, 12, 31), 999, 0x01, 99998),
                "10002-09-25",
            ),
            (
                "HPBVX-YSIUP-BXYWA-VYCNG",
                long,
                key((2016, 2, 29), 366, 0x55, 50000),
                "2017-03-01",
            ),
        ];
        for (text, secret, fields, expires) in cases {
            assert_eq!(generate(&fields, secret).unwrap(), text, "{text}");
            let decoded = decode(text, secret).unwrap();
            assert_eq!(decoded, fields, "{text}");
            assert_eq!(decoded.expires_string(), expires, "{text}");
        }
    }

    fn parse_features(s: &str) -> [bool; 8] {
        let mut out = [false; 8];
        assert_eq!(s.len(), 8);
        for (f, c) in out.iter_mut().zip(s.chars()) {
            *f = c == '1';
        }
        out
    }

    fn parse_date(s: &str) -> (i32, u32, u32) {
        let mut parts = s.split('-');
        let y = parts.next().unwrap().parse().unwrap();
        let m = parts.next().unwrap().parse().unwrap();
        let d = parts.next().unwrap().parse().unwrap();
        (y, m, d)
    }

    fn error_name(e: &SkglError) -> &'static str {
        match e {
            SkglError::WrongLength { .. } => "WrongLength",
            SkglError::InvalidCharacter { .. } => "InvalidCharacter",
            SkglError::NumberOutOfRange { .. } => "NumberOutOfRange",
            SkglError::HashMismatch => "HashMismatch",
            SkglError::InvalidDate { .. } => "InvalidDate",
            SkglError::OutOfRange { .. } => "OutOfRange",
        }
    }

    /// Every case of the cross-language manifest.
    #[test]
    fn manifest_vectors() {
        let manifest = include_str!("../tests/data/skgl/vectors.tsv");
        let mut checked = 0;
        for line in manifest
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "{line}");
            let (outcome, text, secret) = (f[0], f[1], f[2]);
            match decode(text, secret) {
                Ok(k) => {
                    assert_eq!(outcome, "valid", "{line}");
                    let expected = SkglKey {
                        created: parse_date(f[3]),
                        days: f[4].parse().unwrap(),
                        features: parse_features(f[5]),
                        id: f[6].parse().unwrap(),
                    };
                    assert_eq!(k, expected, "{line}");
                    assert_eq!(generate(&k, secret).unwrap(), text, "{line}");
                }
                Err(e) => assert_eq!(error_name(&e), outcome, "{line}"),
            }
            checked += 1;
        }
        assert!(checked >= 25);
    }

    fn sample_keys() -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str)> = [
            ("MXNBF-ITLDZ-WPOBY-UCHQW", "567"),
            ("LZWXQ-SMBAS-JDVDL-XTEHB", "567"),
            ("MUYVD-LSEBY-CXHRQ-XFAGY", ""),
            ("LBWRB-QOITK-SLCCU-MCGKS", "My$ecretPa$$W0rd"),
            ("JPVFS-BLQOQ-FLFTN-HXLFW", "testdemo"),
            ("KKYIW-WNOSG-INYZI-QBOUX", ""),
            ("MFPAW-KJSDD-CDRPA-FGZOQ", ""),
        ]
        .iter()
        .map(|(k, s)| ((*k).to_owned(), *s))
        .collect();
        for (i, secret) in ["", "567", "hunter2", "d87e468e-02ae-4112-a687-fb4a402a2f7a"]
            .into_iter()
            .enumerate()
        {
            let k = key(
                (2020 + i as i32, 3, 9),
                42 * i as u32,
                0x5a,
                31337 + i as u32,
            );
            out.push((generate(&k, secret).unwrap(), secret));
        }
        out
    }

    #[test]
    fn every_single_letter_change_is_rejected() {
        for (text, secret) in sample_keys() {
            let original = decode(&text, secret).unwrap();
            let letters: Vec<char> = text.chars().filter(|&c| c != '-').collect();
            for pos in 0..letters.len() {
                for c in 'A'..='Z' {
                    if c == letters[pos] {
                        continue;
                    }
                    let mut changed = letters.clone();
                    changed[pos] = c;
                    let changed: String = changed.into_iter().collect();
                    match decode(&changed, secret) {
                        Ok(k) => panic!("{changed} accepted ({k:?}), original {original:?}"),
                        Err(
                            SkglError::HashMismatch
                            | SkglError::NumberOutOfRange { .. }
                            | SkglError::InvalidDate { .. }
                            | SkglError::OutOfRange { .. },
                        ) => {}
                        Err(e) => panic!("{changed}: unexpected {e:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_secret_is_rejected() {
        for (text, secret) in sample_keys() {
            for wrong in [
                "",
                "567",
                "568",
                "My$ecretPa$$W0rd",
                "my$ecretpa$$w0rd",
                "testdemo ",
            ] {
                if wrong != secret {
                    assert_eq!(
                        decode(&text, wrong),
                        Err(SkglError::HashMismatch),
                        "{text} {wrong:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn input_forms() {
        let k = key((2013, 12, 28), 30, 0, 23159);
        for text in [
            "MXNBF-ITLDZ-WPOBY-UCHQW",
            "MXNBFITLDZWPOBYUCHQW",
            "mxnbf-itldz-wpoby-uchqw",
            "MxNbF-iTlDz-WpObY-uChQw",
            "  \tMXNBF-ITLDZ-WPOBY-UCHQW\r\n",
            "MXNB-FITLD-ZWPOB-YUCHQW",
            "-MXNBF-ITLDZ-WPOBY-UCHQW-",
        ] {
            assert_eq!(decode(text, "567"), Ok(k), "{text:?}");
        }
    }

    #[test]
    fn malformed_input() {
        assert_eq!(decode("", ""), Err(SkglError::WrongLength { found: 0 }));
        assert_eq!(decode("---", ""), Err(SkglError::WrongLength { found: 0 }));
        assert_eq!(
            decode(" - - ", ""),
            Err(SkglError::InvalidCharacter {
                position: 2,
                found: ' '
            })
        );
        assert_eq!(
            decode("MXNBF-ITLDZ-WPOBY-UCHQ", ""),
            Err(SkglError::WrongLength { found: 19 })
        );
        assert_eq!(
            decode("MXNBF-ITLDZ-WPOBY-UCHQWA", ""),
            Err(SkglError::WrongLength { found: 21 })
        );
        assert_eq!(
            decode(" MXNBF-ITLDZ-WPOBY-UCHQ1", ""),
            Err(SkglError::InvalidCharacter {
                position: 23,
                found: '1'
            })
        );
        assert_eq!(
            decode("MXNBF ITLDZ WPOBY UCHQW", ""),
            Err(SkglError::InvalidCharacter {
                position: 5,
                found: ' '
            })
        );
        assert_eq!(
            decode("MXNBF\u{2010}ITLDZ-WPOBY-UCHQW", ""),
            Err(SkglError::InvalidCharacter {
                position: 5,
                found: '\u{2010}'
            })
        );
        assert_eq!(
            decode("\u{c9}XNBF-ITLDZ-WPOBY-UCHQW", ""),
            Err(SkglError::InvalidCharacter {
                position: 0,
                found: '\u{c9}'
            })
        );
        assert_eq!(
            decode("AAAAA-AAAAA-AAAAA-AAAAA", ""),
            Err(SkglError::NumberOutOfRange { digits: 1 })
        );
        assert_eq!(
            decode("ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", ""),
            Err(SkglError::NumberOutOfRange { digits: 29 })
        );
        // Just below 10^27: 27 digits.
        assert_eq!(
            decode("BHXZE-SSRTY-VAQGX-MERIL", ""),
            Err(SkglError::NumberOutOfRange { digits: 27 })
        );
    }

    #[test]
    fn digit_count_boundaries() {
        let low = 10u128.pow(27);
        let high = 10u128.pow(28);
        assert!(number_to_digits(low - 1).is_err());
        assert_eq!(number_to_digits(low).unwrap()[0], 1);
        assert!(number_to_digits(high - 1).is_ok());
        assert!(number_to_digits(high).is_err());
        // Every 28-digit number fits 20 letters, none needs fewer (so no key starts with 'A').
        assert_eq!(number_to_letters(high - 1).unwrap().len(), KEY_LETTERS);
        assert_ne!(number_to_letters(low).unwrap()[0], 0);
        let below: String = number_to_letters(low - 1)
            .unwrap()
            .iter()
            .map(|&l| char::from(b'A' + l))
            .collect();
        assert_eq!(below, "BHXZESSRTYVAQGXMERIL");
    }

    #[test]
    fn forged_keys_with_impossible_fields() {
        // The checksum is unkeyed, so a forger can make these; SKGL's IsValid accepts them.
        let secret = "567";
        let features_300 = forge("2020010103030012345", secret);
        assert_eq!(
            decode(&features_300, secret),
            Err(SkglError::OutOfRange { field: "features" })
        );
        let month_13 = forge("2020130103000012345", secret);
        assert_eq!(
            decode(&month_13, secret),
            Err(SkglError::InvalidDate {
                year: 2020,
                month: 13,
                day: 1
            })
        );
        let feb_29 = forge("2023022903000012345", "");
        assert!(matches!(
            decode(&feb_29, ""),
            Err(SkglError::InvalidDate { .. })
        ));
        let year_0 = forge("0000010103000012345", "");
        assert!(matches!(
            decode(&year_0, ""),
            Err(SkglError::InvalidDate { year: 0, .. })
        ));
        // Year 999 is a valid .NET DateTime, so Validate accepts it; generate cannot make it.
        let year_999 = forge("0999010103000012345", "");
        let k = decode(&year_999, "").unwrap();
        assert_eq!(k, key((999, 1, 1), 30, 0, 12345));
        assert_eq!(
            generate(&k, ""),
            Err(SkglError::OutOfRange { field: "year" })
        );
        // The largest forged values that still decode.
        let max = forge("2020010199925599999", secret);
        assert_eq!(
            decode(&max, secret).unwrap(),
            key((2020, 1, 1), 999, 0xff, 99999)
        );
    }

    #[test]
    fn generate_rejects_what_skgl_cannot_encode() {
        let ok = key((2020, 1, 1), 30, 0, 1);
        assert!(generate(&ok, "").is_ok());
        let days = SkglKey { days: 1000, ..ok };
        assert_eq!(
            generate(&days, ""),
            Err(SkglError::OutOfRange { field: "days" })
        );
        let id = SkglKey { id: 100_000, ..ok };
        assert_eq!(
            generate(&id, ""),
            Err(SkglError::OutOfRange { field: "id" })
        );
        for year in [999, 10_000, 0, -5] {
            let k = SkglKey {
                created: (year, 1, 1),
                ..ok
            };
            assert!(generate(&k, "").is_err(), "{year}");
        }
        for (y, m, d) in [
            (2023, 2, 29),
            (2020, 0, 1),
            (2020, 13, 1),
            (2020, 4, 31),
            (2020, 1, 0),
        ] {
            let k = SkglKey {
                created: (y, m, d),
                ..ok
            };
            assert_eq!(
                generate(&k, ""),
                Err(SkglError::InvalidDate {
                    year: y,
                    month: m,
                    day: d
                })
            );
        }
    }

    #[test]
    fn secret_phrase_blocks() {
        let h = |s: &str| {
            let mut b = [0u8; HASH_DIGITS];
            let units: Vec<u16> = s.encode_utf16().collect();
            write_digits(&mut b, eight_byte_hash(&utf16le_bytes(&units)).into());
            b.to_vec()
        };
        assert!(secret_keystream("").is_empty());
        for (phrase, blocks) in [
            ("a", vec!["a"]),
            ("abcde", vec!["abcde"]),
            ("abcdef", vec!["abcdef"]),
            ("abcdefghi", vec!["abcdefghi"]),
            ("abcdefghij", vec!["abcde", "fghij"]),
            ("abcdefghijklmn", vec!["abcde", "fghijklmn"]),
            ("abcdefghijklmno", vec!["abcde", "fghij", "klmno"]),
        ] {
            let expected: Vec<u8> = blocks.iter().flat_map(|b| h(b)).collect();
            assert_eq!(secret_keystream(phrase), expected, "{phrase}");
        }
    }

    #[test]
    fn hash_reduction_edge_cases() {
        // The empty string hashes to 0 → 1 → 10^9 → 10^8: the keystream SKGL's Generate uses
        // when its secretPhase is explicitly set to "" (see the module docs).
        assert_eq!(eight_byte_hash(&[]), 100_000_000);
        // Two 5-letter phrases whose checksums both land on a divisor of 10^9 and so reduce to
        // 100000000: they are interchangeable (checked against the C# code too).
        assert_eq!(secret_keystream("j1sqz"), secret_keystream("maqe5"));
        let k = key((2020, 5, 17), 45, 9, 4242);
        let a = generate(&k, "j1sqz").unwrap();
        assert_eq!(a, "LSRJA-PUTWL-JCHHG-NRTKL");
        assert_eq!(generate(&k, "maqe5").unwrap(), a);
        assert_eq!(decode(&a, "maqe5"), Ok(k));
        for r in [1u32, 2, 3, 7, 999, 500_000_000, 999_999_999] {
            let check = HASH_MODULUS / r;
            let mut v = if check > 1 { r * check } else { r };
            if v == HASH_MODULUS {
                v /= 10;
            }
            assert!((100_000_000..HASH_MODULUS).contains(&v), "{r} -> {v}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let mut previous = days_from_civil(999, 12, 31);
        for day in days_from_civil(1000, 1, 1)..=days_from_civil(10_003, 1, 1) {
            let (y, m, d) = civil_from_days(day);
            assert!(is_valid_date(i32::try_from(y).unwrap(), m, d));
            assert_eq!(days_from_civil(y, m, d), day);
            assert_eq!(day, previous + 1);
            previous = day;
        }
        assert!(is_valid_date(2000, 2, 29));
        assert!(!is_valid_date(1900, 2, 29));
        assert!(!is_valid_date(2100, 2, 29));
        assert_eq!(format_date((2024, 2, 9)), "2024-02-09");
        // expires() on hand-built nonsense must not panic.
        for created in [
            (i32::MAX, 12, 31),
            (i32::MIN, 1, 1),
            (2020, 0, 0),
            (2020, 99, 99),
        ] {
            let _ = SkglKey {
                created,
                days: u32::MAX,
                features: [true; 8],
                id: u32::MAX,
            }
            .expires_string();
        }
    }

    #[test]
    fn error_messages() {
        let msgs = [
            SkglError::WrongLength { found: 3 }.to_string(),
            SkglError::InvalidCharacter {
                position: 4,
                found: '!',
            }
            .to_string(),
            SkglError::NumberOutOfRange { digits: 29 }.to_string(),
            SkglError::HashMismatch.to_string(),
            SkglError::InvalidDate {
                year: 2023,
                month: 2,
                day: 29,
            }
            .to_string(),
            SkglError::OutOfRange { field: "days" }.to_string(),
        ];
        assert!(msgs[0].contains("20 letters") && msgs[0].contains('3'));
        assert!(msgs[1].contains("'!'") && msgs[1].contains('4'));
        assert!(msgs[3].contains("secret phrase"));
        assert_eq!(msgs[4], "2023-02-29 is not a valid date");
        assert!(msgs[5].contains("days"));
        let _: &dyn std::error::Error = &SkglError::HashMismatch;
    }

    fn arb_secret() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("567".to_owned()),
            Just("My$ecretPa$$W0rd".to_owned()),
            Just("d87e468e-02ae-4112-a687-fb4a402a2f7a".to_owned()),
            "[ -~]{1,40}",
            "\\PC{1,20}",
        ]
    }

    fn arb_key() -> impl Strategy<Value = SkglKey> {
        let first = days_from_civil(2000, 1, 1);
        let last = days_from_civil(2099, 12, 31);
        (first..=last, 0u32..=MAX_DAYS, any::<u8>(), 0u32..=MAX_ID).prop_map(
            |(day, days, bits, id)| {
                let (y, m, d) = civil_from_days(day);
                key((i32::try_from(y).unwrap(), m, d), days, bits, id)
            },
        )
    }

    proptest! {
        #[test]
        fn round_trip(k in arb_key(), secret in arb_secret()) {
            let text = generate(&k, &secret).unwrap();
            prop_assert_eq!(text.len(), 23);
            prop_assert_eq!(decode(&text, &secret), Ok(k));
            prop_assert_eq!(decode(&text.to_lowercase().replace('-', ""), &secret), Ok(k));
        }

        #[test]
        fn other_secret_fails(k in arb_key(), a in arb_secret(), b in arb_secret()) {
            // Phrases with the same 19-digit keystream prefix are equivalent by design.
            let (ka, kb) = (secret_keystream(&a), secret_keystream(&b));
            let stream = |k: &[u8]| -> Vec<u8> {
                k.iter().copied().cycle().take(PAYLOAD_DIGITS).collect()
            };
            if stream(&ka) == stream(&kb) {
                return Ok(());
            }
            let text = generate(&k, &a).unwrap();
            prop_assert!(decode(&text, &b).is_err());
        }

        #[test]
        fn single_change_fails(
            k in arb_key(),
            secret in arb_secret(),
            pos in 0usize..20,
            shift in 1u8..26,
        ) {
            let text = generate(&k, &secret).unwrap();
            let mut changed: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
            changed[pos] = b'A' + (changed[pos] - b'A' + shift) % 26;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(decode(&changed, &secret).is_err());
        }

        #[test]
        fn decode_never_panics(text in any::<String>(), secret in any::<String>()) {
            let _ = decode(&text, &secret);
        }

        #[test]
        fn decode_key_shaped_never_panics(
            text in "[A-Za-z]{5}-?[A-Za-z]{5}-?[A-Za-z]{5}-?[A-Za-z]{5}|[A-Za-z -]{0,30}",
            secret in arb_secret(),
        ) {
            if let Ok(k) = decode(&text, &secret) {
                // Anything accepted is exactly what generate would have written.
                if k.created.0 >= 1000 {
                    let canonical = generate(&k, &secret).unwrap();
                    let given = text.trim().to_uppercase().replace('-', "");
                    prop_assert_eq!(canonical.replace('-', ""), given);
                }
            }
        }
    }
}
