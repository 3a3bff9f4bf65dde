//! Strict deterministic CBOR (RFC 8949 §4.2.1): a zero-copy reader that refuses every
//! non-deterministic encoding, and a writer that only produces deterministic ones.
//!
//! Every airseal object is deterministic CBOR, so "decode then encode gives the same bytes"
//! holds by construction: the reader rejects non-shortest heads, indefinite lengths, floats,
//! unsorted or duplicate map keys and trailing bytes. See `SPEC.md` §2.
//!
//! Why not `ciborium`: it decodes into a value tree, accepts non-shortest integers and
//! duplicate keys, and allocates before it knows the input holds that much data. The rules
//! here need the encoded head of every item. `ciborium` is used in the tests as an
//! independent oracle for this reader and writer.

use alloc::vec::Vec;
use core::fmt;

/// CBOR major types (RFC 8949 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Major {
    /// Major type 0: an unsigned integer.
    Unsigned,
    /// Major type 1: a negative integer `-1 - n`.
    Negative,
    /// Major type 2: a byte string.
    Bytes,
    /// Major type 3: a UTF-8 text string.
    Text,
    /// Major type 4: an array.
    Array,
    /// Major type 5: a map.
    Map,
    /// Major type 6: a tag.
    Tag,
    /// Major type 7: simple values (false, true, null) and floats.
    Simple,
}

impl Major {
    fn from_bits(bits: u8) -> Self {
        match bits {
            0 => Major::Unsigned,
            1 => Major::Negative,
            2 => Major::Bytes,
            3 => Major::Text,
            4 => Major::Array,
            5 => Major::Map,
            6 => Major::Tag,
            _ => Major::Simple,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Major::Unsigned => 0,
            Major::Negative => 1,
            Major::Bytes => 2,
            Major::Text => 3,
            Major::Array => 4,
            Major::Map => 5,
            Major::Tag => 6,
            Major::Simple => 7,
        }
    }

    /// A short human name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Major::Unsigned => "unsigned integer",
            Major::Negative => "negative integer",
            Major::Bytes => "byte string",
            Major::Text => "text string",
            Major::Array => "array",
            Major::Map => "map",
            Major::Tag => "tag",
            Major::Simple => "simple value",
        }
    }
}

/// What was wrong with a piece of airseal CBOR.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended in the middle of an item.
    UnexpectedEnd,
    /// Bytes follow the last item.
    TrailingBytes,
    /// An integer or length was not written in its shortest form.
    NonShortestEncoding,
    /// An indefinite-length string, array or map (forbidden in deterministic CBOR).
    IndefiniteLength,
    /// Additional-information values 28-30, which RFC 8949 reserves.
    ReservedAdditionalInfo,
    /// A floating-point number; airseal formats never use floats.
    FloatNotAllowed,
    /// A simple value other than false, true and null.
    UnsupportedSimpleValue,
    /// An item of the wrong major type for its position.
    UnexpectedType {
        /// What the format requires here.
        expected: &'static str,
        /// What the input holds.
        found: &'static str,
    },
    /// A text string that is not valid UTF-8.
    InvalidUtf8,
    /// The same key twice in one map.
    DuplicateKey,
    /// Map keys not in the bytewise order of their encodings.
    UnsortedKeys,
    /// An integer outside the range the field allows.
    IntegerOutOfRange,
    /// Items nested deeper than the format ever needs.
    TooDeep,
    /// The input is larger than the fixed limit for this kind of object.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
        /// The input's size, in bytes.
        size: usize,
    },
    /// A length or count larger than what is left of the input.
    LengthExceedsInput,
    /// The COSE_Sign1 tag (18) is missing or another tag was found.
    WrongTag,
    /// A map key this version of the format does not know, in the critical range.
    UnknownCriticalKey(i64),
    /// A required field is absent.
    MissingField,
    /// A field whose value breaks a rule of the format (the context names it).
    InvalidValue(&'static str),
}

impl DecodeErrorKind {
    /// A stable snake_case name for the rule that was broken (used by `vectors/`).
    pub fn rule(&self) -> &'static str {
        match self {
            Self::UnexpectedEnd => "unexpected_end",
            Self::TrailingBytes => "trailing_bytes",
            Self::NonShortestEncoding => "non_shortest_encoding",
            Self::IndefiniteLength => "indefinite_length",
            Self::ReservedAdditionalInfo => "reserved_additional_info",
            Self::FloatNotAllowed => "float_not_allowed",
            Self::UnsupportedSimpleValue => "unsupported_simple_value",
            Self::UnexpectedType { .. } => "unexpected_type",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::DuplicateKey => "duplicate_key",
            Self::UnsortedKeys => "unsorted_keys",
            Self::IntegerOutOfRange => "integer_out_of_range",
            Self::TooDeep => "too_deep",
            Self::TooLarge { .. } => "too_large",
            Self::LengthExceedsInput => "length_exceeds_input",
            Self::WrongTag => "wrong_tag",
            Self::UnknownCriticalKey(_) => "unknown_critical_key",
            Self::MissingField => "missing_field",
            Self::InvalidValue(_) => "invalid_value",
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("input ends in the middle of an item"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the last item"),
            Self::NonShortestEncoding => f.write_str("integer or length not in shortest form"),
            Self::IndefiniteLength => f.write_str("indefinite length is not allowed"),
            Self::ReservedAdditionalInfo => f.write_str("reserved additional information (28-30)"),
            Self::FloatNotAllowed => f.write_str("floating-point values are not allowed"),
            Self::UnsupportedSimpleValue => f.write_str("unsupported simple value"),
            Self::UnexpectedType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Self::InvalidUtf8 => f.write_str("text string is not valid UTF-8"),
            Self::DuplicateKey => f.write_str("duplicate map key"),
            Self::UnsortedKeys => f.write_str("map keys are not in deterministic order"),
            Self::IntegerOutOfRange => f.write_str("integer out of range"),
            Self::TooDeep => f.write_str("items nested too deeply"),
            Self::TooLarge { limit, size } => {
                write!(f, "input is {size} bytes, over the {limit}-byte limit")
            }
            Self::LengthExceedsInput => f.write_str("length is larger than the remaining input"),
            Self::WrongTag => f.write_str("expected COSE_Sign1 tag 18"),
            Self::UnknownCriticalKey(k) => write!(f, "unknown critical key {k}"),
            Self::MissingField => f.write_str("required field is missing"),
            Self::InvalidValue(why) => f.write_str(why),
        }
    }
}

/// A decoding failure: what went wrong, at which byte offset, in which field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset from the start of the decoded object (the COSE bytes, after any armor).
    pub offset: usize,
    /// The field or structure being decoded, e.g. `"claims.exp"`.
    pub context: &'static str,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// A new error at `offset` in `context`.
    pub fn new(offset: usize, context: &'static str, kind: DecodeErrorKind) -> Self {
        Self {
            offset,
            context,
            kind,
        }
    }

    /// The same error, attributed to another field (e.g. a missing claim, reported at the
    /// map that lacks it).
    pub fn with_context(mut self, context: &'static str) -> Self {
        self.context = context;
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} ({})",
            self.kind, self.offset, self.context
        )
    }
}

impl core::error::Error for DecodeError {}

/// How deep `skip` follows nested arrays and maps before giving up.
const MAX_DEPTH: u32 = 16;

/// A zero-copy reader over deterministic CBOR.
///
/// Every method either consumes exactly one well-formed item or returns an error and leaves
/// the position unspecified; callers stop at the first error.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Added to every offset reported, so errors in a nested object (the payload inside the
    /// envelope) point into the outer input.
    base: usize,
    context: &'static str,
}

// Every fallible method here fails the same way: a `DecodeError` naming the rule broken, the
// offset and the context. Saying so once is clearer than fifteen identical `# Errors` notes.
#[allow(clippy::missing_errors_doc)]
impl<'a> Reader<'a> {
    /// A reader over `buf`, reporting offsets relative to `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
            context: "",
        }
    }

    /// A reader over `buf` that reports offsets as `base + position`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            context: "",
        }
    }

    /// Names the field being decoded, for error messages.
    pub fn set_context(&mut self, context: &'static str) {
        self.context = context;
    }

    /// The current offset within this reader's buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True once every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// An error at the current position.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.base + self.pos, self.context, kind)
    }

    /// An error at `pos` (a position previously returned by [`Reader::position`]).
    pub fn error_at(&self, pos: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.base + pos, self.context, kind)
    }

    /// Fails with `TrailingBytes` unless the whole buffer has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))?;
        self.pos = end;
        Ok(out)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let start = self.pos;
        let slice = self.take(N)?;
        slice
            .try_into()
            .map_err(|_| self.error_at(start, DecodeErrorKind::UnexpectedEnd))
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))?;
        self.pos += 1;
        Ok(b)
    }

    /// The major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<Major, DecodeError> {
        let b = self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))?;
        Ok(Major::from_bits(b >> 5))
    }

    /// Reads one item head: its major type and argument. Enforces shortest form and
    /// rejects indefinite lengths, reserved values and floats.
    pub fn head(&mut self) -> Result<(Major, u64), DecodeError> {
        let start = self.pos;
        let initial = self.byte()?;
        let major = Major::from_bits(initial >> 5);
        let info = initial & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take_array()?)),
            26 => u64::from(u32::from_be_bytes(self.take_array()?)),
            27 => u64::from_be_bytes(self.take_array()?),
            28..=30 => return Err(self.error_at(start, DecodeErrorKind::ReservedAdditionalInfo)),
            _ => return Err(self.error_at(start, DecodeErrorKind::IndefiniteLength)),
        };
        if major == Major::Simple {
            // 20..=22 are false/true/null in the initial byte; 23 is `undefined`, 24 a
            // one-byte simple value, 25..=27 half/single/double floats.
            return match info {
                20..=22 => Ok((major, arg)),
                25..=27 => Err(self.error_at(start, DecodeErrorKind::FloatNotAllowed)),
                _ => Err(self.error_at(start, DecodeErrorKind::UnsupportedSimpleValue)),
            };
        }
        let shortest = match info {
            24 => arg >= 24,
            25 => arg > 0xff,
            26 => arg > 0xffff,
            27 => arg > 0xffff_ffff,
            _ => true,
        };
        if !shortest {
            return Err(self.error_at(start, DecodeErrorKind::NonShortestEncoding));
        }
        Ok((major, arg))
    }

    fn expect(&mut self, want: Major) -> Result<u64, DecodeError> {
        let start = self.pos;
        let (major, arg) = self.head()?;
        if major != want {
            return Err(self.error_at(
                start,
                DecodeErrorKind::UnexpectedType {
                    expected: want.name(),
                    found: major.name(),
                },
            ));
        }
        Ok(arg)
    }

    /// Reads an unsigned integer.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        self.expect(Major::Unsigned)
    }

    /// Reads a signed integer that fits in `i64`.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        let (major, arg) = self.head()?;
        let out_of_range = || self.error_at(start, DecodeErrorKind::IntegerOutOfRange);
        match major {
            Major::Unsigned => i64::try_from(arg).map_err(|_| out_of_range()),
            Major::Negative => i64::try_from(arg)
                .map(|n| -1 - n)
                .map_err(|_| out_of_range()),
            other => Err(self.error_at(
                start,
                DecodeErrorKind::UnexpectedType {
                    expected: "integer",
                    found: other.name(),
                },
            )),
        }
    }

    fn length(&mut self, major: Major) -> Result<usize, DecodeError> {
        let start = self.pos;
        let len = self.expect(major)?;
        // Checked against what is left before anything is allocated or sliced.
        let left = (self.buf.len() - self.pos) as u64;
        if len > left {
            return Err(self.error_at(start, DecodeErrorKind::LengthExceedsInput));
        }
        Ok(len as usize)
    }

    /// Reads a byte string, borrowing it from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.length(Major::Bytes)?;
        self.take(len)
    }

    /// Reads a byte string of exactly `N` bytes.
    pub fn bytes_exact<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let start = self.pos;
        let b = self.bytes()?;
        b.try_into()
            .map_err(|_| self.error_at(start, DecodeErrorKind::InvalidValue("wrong length")))
    }

    /// Reads a UTF-8 text string, borrowing it from the input.
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.length(Major::Text)?;
        let start = self.pos;
        let raw = self.take(len)?;
        core::str::from_utf8(raw).map_err(|_| self.error_at(start, DecodeErrorKind::InvalidUtf8))
    }

    /// Reads an array head and returns its element count (at most the remaining bytes).
    pub fn array(&mut self) -> Result<usize, DecodeError> {
        self.length(Major::Array)
    }

    /// Reads a map head and returns its entry count (at most the remaining bytes).
    pub fn map(&mut self) -> Result<usize, DecodeError> {
        self.length(Major::Map)
    }

    /// Reads a tag and returns its number.
    pub fn tag(&mut self) -> Result<u64, DecodeError> {
        self.expect(Major::Tag)
    }

    /// Reads `null` if it is next and returns true; otherwise consumes nothing.
    pub fn null(&mut self) -> bool {
        if self.buf.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips one complete item of any type (used for unknown, non-critical map entries).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.error(DecodeErrorKind::TooDeep));
        }
        let start = self.pos;
        let (major, arg) = self.head()?;
        match major {
            Major::Unsigned | Major::Negative | Major::Simple => Ok(()),
            Major::Bytes | Major::Text => {
                let len = usize::try_from(arg)
                    .map_err(|_| self.error_at(start, DecodeErrorKind::LengthExceedsInput))?;
                let raw = self.take(len)?;
                if major == Major::Text && core::str::from_utf8(raw).is_err() {
                    return Err(self.error_at(start, DecodeErrorKind::InvalidUtf8));
                }
                Ok(())
            }
            Major::Array => {
                for _ in 0..arg {
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            Major::Map => {
                let mut keys = KeyOrder::new();
                for _ in 0..arg {
                    let key_start = self.pos;
                    self.skip_depth(depth + 1)?;
                    keys.check(self, key_start)?;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            Major::Tag => self.skip_depth(depth + 1),
        }
    }

    /// The raw bytes between two positions of this reader.
    pub fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.buf.get(from..to).unwrap_or_default()
    }
}

/// The one rule for sorted sequences (map keys, and the arrays airseal keeps sorted): an item
/// whose `order` against the previous one is not `Less` is `DuplicateKey` (equal) or
/// `UnsortedKeys` (greater), at the item's offset `at`.
///
/// # Errors
/// As described.
pub fn ascending(r: &Reader<'_>, at: usize, order: core::cmp::Ordering) -> Result<(), DecodeError> {
    match order {
        core::cmp::Ordering::Less => Ok(()),
        core::cmp::Ordering::Equal => Err(r.error_at(at, DecodeErrorKind::DuplicateKey)),
        core::cmp::Ordering::Greater => Err(r.error_at(at, DecodeErrorKind::UnsortedKeys)),
    }
}

/// Enforces RFC 8949 §4.2.1 key order within one map: each key's encoding must sort
/// strictly after the previous one's, which also rules out duplicates.
#[derive(Debug, Default)]
pub struct KeyOrder<'a> {
    prev: Option<&'a [u8]>,
}

impl<'a> KeyOrder<'a> {
    /// A tracker for a new map.
    pub fn new() -> Self {
        Self { prev: None }
    }

    /// Checks the key that the reader just consumed, starting at `key_start`.
    ///
    /// # Errors
    /// `DuplicateKey` or `UnsortedKeys` at the key's offset.
    pub fn check(&mut self, r: &Reader<'a>, key_start: usize) -> Result<(), DecodeError> {
        let key = r.slice(key_start, r.position());
        if let Some(prev) = self.prev {
            ascending(r, key_start, prev.cmp(key))?;
        }
        self.prev = Some(key);
        Ok(())
    }
}

/// A writer of deterministic CBOR into a byte vector.
///
/// The writer emits shortest heads and definite lengths; callers write map keys in
/// deterministic order (the claim encoders do, and [`sort_text_keys`] helps).
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// An empty writer with room for `bytes` bytes, for callers that know the size roughly
    /// and write many objects (growing a buffer field by field was most of the cost of
    /// encoding a small record).
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes a head in shortest form.
    pub fn head(&mut self, major: Major, arg: u64) -> &mut Self {
        let m = major.bits() << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= 0xff {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
        self
    }

    /// Writes an unsigned integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(Major::Unsigned, v)
    }

    /// Writes a signed integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(Major::Unsigned, v as u64)
        } else {
            // -1 - v cannot overflow for any negative i64.
            self.head(Major::Negative, (-1 - v) as u64)
        }
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(Major::Bytes, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// Writes a text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(Major::Text, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// Writes an array head for `n` items.
    pub fn array(&mut self, n: usize) -> &mut Self {
        self.head(Major::Array, n as u64)
    }

    /// Writes a map head for `n` entries.
    pub fn map(&mut self, n: usize) -> &mut Self {
        self.head(Major::Map, n as u64)
    }

    /// Writes a tag.
    pub fn tag(&mut self, t: u64) -> &mut Self {
        self.head(Major::Tag, t)
    }

    /// Writes `null`.
    pub fn null(&mut self) -> &mut Self {
        self.buf.push(0xf6);
        self
    }

    /// Appends bytes that are already CBOR.
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
}

/// Orders text keys as RFC 8949 §4.2.1 orders their encodings: shorter first, then bytewise.
pub fn text_key_order(a: &str, b: &str) -> core::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn err(
        bytes: &[u8],
        f: impl FnOnce(&mut Reader<'_>) -> Result<(), DecodeError>,
    ) -> DecodeErrorKind {
        let mut r = Reader::new(bytes);
        f(&mut r)
            .map(|()| r.finish())
            .and_then(|x| x)
            .unwrap_err()
            .kind
    }

    #[test]
    fn rejects_non_shortest_integers() {
        assert_eq!(
            err(&[0x18, 0x17], |r| r.uint().map(drop)),
            DecodeErrorKind::NonShortestEncoding
        );
        assert_eq!(
            err(&[0x19, 0x00, 0xff], |r| r.uint().map(drop)),
            DecodeErrorKind::NonShortestEncoding
        );
        assert_eq!(
            err(&[0x1a, 0, 0, 0xff, 0xff], |r| r.uint().map(drop)),
            DecodeErrorKind::NonShortestEncoding
        );
        assert_eq!(
            err(&[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], |r| r
                .uint()
                .map(drop)),
            DecodeErrorKind::NonShortestEncoding
        );
        assert_eq!(
            err(&[0x58, 0x01, 0xaa], |r| r.bytes().map(drop)),
            DecodeErrorKind::NonShortestEncoding
        );
    }

    #[test]
    fn rejects_indefinite_floats_and_reserved() {
        assert_eq!(
            err(&[0x5f, 0x41, 0, 0xff], |r| r.bytes().map(drop)),
            DecodeErrorKind::IndefiniteLength
        );
        assert_eq!(
            err(&[0xbf, 0xff], |r| r.map().map(drop)),
            DecodeErrorKind::IndefiniteLength
        );
        assert_eq!(
            err(&[0xf9, 0, 0], |r| r.skip()),
            DecodeErrorKind::FloatNotAllowed
        );
        assert_eq!(
            err(&[0x1c], |r| r.skip()),
            DecodeErrorKind::ReservedAdditionalInfo
        );
        assert_eq!(
            err(&[0xf7], |r| r.skip()),
            DecodeErrorKind::UnsupportedSimpleValue
        );
    }

    #[test]
    fn lengths_are_checked_before_use() {
        assert_eq!(
            err(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0], |r| r.bytes().map(drop)),
            DecodeErrorKind::LengthExceedsInput
        );
        assert_eq!(
            err(&[0x9a, 0xff, 0xff, 0xff, 0xff], |r| r.array().map(drop)),
            DecodeErrorKind::LengthExceedsInput
        );
        assert_eq!(
            err(&[0x62, 0xff, 0xfe], |r| r.text().map(drop)),
            DecodeErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn skip_checks_nested_maps() {
        assert_eq!(
            err(&[0xa2, 0x01, 0x00, 0x01, 0x00], |r| r.skip()),
            DecodeErrorKind::DuplicateKey
        );
        assert_eq!(
            err(&[0xa2, 0x02, 0x00, 0x01, 0x00], |r| r.skip()),
            DecodeErrorKind::UnsortedKeys
        );
        let mut deep = vec![0x81u8; 40];
        deep.push(0);
        assert_eq!(err(&deep, |r| r.skip()), DecodeErrorKind::TooDeep);
        assert_eq!(
            err(&[0x01, 0x02], |r| r.skip()),
            DecodeErrorKind::TrailingBytes
        );
    }

    #[test]
    fn int_extremes_round_trip() {
        for v in [
            0i64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            -1,
            -24,
            -25,
            -65537,
            i64::MIN,
            i64::MAX,
        ] {
            let mut w = Writer::new();
            w.int(v);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            assert_eq!(r.int().unwrap(), v);
            r.finish().unwrap();
            // The independent implementation reads the same value.
            let oracle: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
            assert_eq!(oracle, ciborium::Value::Integer(v.into()));
        }
    }

    proptest::proptest! {
        #[test]
        fn writer_matches_ciborium_for_integers(v in proptest::num::i64::ANY) {
            let mut w = Writer::new();
            w.int(v);
            let mut expected = Vec::new();
            ciborium::into_writer(&v, &mut expected).unwrap();
            proptest::prop_assert_eq!(w.into_bytes(), expected);
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut r = Reader::new(&bytes);
            let _ = r.skip();
        }
    }
}
