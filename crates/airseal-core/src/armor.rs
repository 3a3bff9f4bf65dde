//! The text forms of an object (`SPEC.md` §5): the armored form, base64 between
//! `-----BEGIN AIRSEAL …-----` and `-----END AIRSEAL …-----` lines, 64 columns, so a license
//! survives e-mail and chat; and the QR text form (`SPEC.md` §5.1), `AIRSEAL:` and the
//! Base45 (RFC 9285) encoding of the raw bytes, which a QR code holds in alphanumeric mode.
//!
//! Reading is lenient about the surroundings and strict about the content: the block may sit
//! inside other text (a pasted e-mail, with `>` quote markers), lines may end in CRLF, but
//! the base64 must be canonical (RFC 4648 §4 with padding, no stray bits) and the Base45
//! must be what an encoder writes (no other characters, no out-of-range groups). The `typ`
//! header inside, not the armor label, says what the object is.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cbor::{DecodeError, DecodeErrorKind};
use crate::cose::MAX_OBJECT_SIZE;

const BEGIN: &[u8] = b"-----BEGIN AIRSEAL ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";
/// Line width of the base64 body.
pub const LINE_WIDTH: usize = 64;
/// Largest base64 body accepted: what encodes [`MAX_OBJECT_SIZE`] bytes.
const MAX_BASE64: usize = MAX_OBJECT_SIZE.div_ceil(3) * 4;

/// What starts the QR text form. Upper case, and `:` is a Base45 symbol, so the whole text
/// stays in the QR alphanumeric set.
pub const QR_PREFIX: &str = "AIRSEAL:";
/// The Base45 alphabet (RFC 9285 Table 1): exactly the QR alphanumeric character set.
const BASE45: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
/// Largest Base45 text accepted after the prefix: what encodes [`MAX_OBJECT_SIZE`] bytes.
const MAX_BASE45: usize = MAX_OBJECT_SIZE / 2 * 3 + MAX_OBJECT_SIZE % 2 * 2;

/// Wraps raw object bytes in armor with the given label (e.g. `"AIRSEAL LICENSE"`).
pub fn armor(label: &str, bytes: &[u8]) -> String {
    let body = STANDARD.encode(bytes);
    let mut out =
        String::with_capacity(body.len() + body.len() / LINE_WIDTH + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in body.as_bytes().chunks(LINE_WIDTH) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// The QR text form of raw object bytes: `AIRSEAL:` then their Base45 encoding (RFC 9285),
/// on one line, without a line break. Every character is in the QR alphanumeric set, so a
/// QR code holds it in alphanumeric mode at 5.5 bits a character, 8.25 bits a byte (base64 in
/// byte mode takes 10.7), and a phone's camera app shows it as text that can be pasted into
/// an e-mail. [`dearmor`] reads it back.
///
/// Base45 is written here rather than taken from a crate: it is 30 lines, and the `base45`
/// crate (3.2.0) silently truncates a final pair over 255 (`"::"` decodes), reports no
/// offset, and would be one more dependency of every verifier for what the decoder below
/// does strictly.
pub fn qr_text(raw: &[u8]) -> String {
    let mut out = String::with_capacity(QR_PREFIX.len() + raw.len().div_ceil(2) * 3);
    out.push_str(QR_PREFIX);
    let mut push = |v: u32| {
        // Every value pushed is below 45 (65535 is 32 · 45² + …, so even the top digit is).
        let symbol = usize::try_from(v).ok().and_then(|i| BASE45.get(i));
        out.push(char::from(symbol.copied().unwrap_or(b'0')));
    };
    for pair in raw.chunks(2) {
        match *pair {
            [a, b] => {
                let n = u32::from(a) << 8 | u32::from(b);
                push(n % 45);
                push(n / 45 % 45);
                push(n / (45 * 45));
            }
            [a] => {
                push(u32::from(a) % 45);
                push(u32::from(a) / 45);
            }
            _ => {}
        }
    }
    out
}

/// True when `input` looks like raw COSE_Sign1 bytes (CBOR tag 18) rather than text.
pub fn is_raw(input: &[u8]) -> bool {
    input.first() == Some(&0xd2)
}

fn err(offset: usize, what: &'static str) -> DecodeError {
    DecodeError::new(offset, "armor", DecodeErrorKind::InvalidValue(what))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Returns the object bytes: `input` itself when raw, the decoded body when armored or in
/// the QR text form.
///
/// An armor block is looked for first, anywhere in `input`. Failing that, the first line
/// that starts with `AIRSEAL:` (after surrounding whitespace, the CR of CRLF and e-mail
/// quote markers `> ` are stripped) is the QR text form, and what follows the prefix on that
/// line must be Base45 exactly as RFC 9285 writes it: only the 45 symbols of its Table 1
/// (upper case only: a lower-case letter means the text was altered on its way, and
/// accepting it would give one object two spellings), a length of 3n or 3n + 2, every
/// triple at most 65535 and a final pair at most 255. So the text form is canonical, like
/// the armor: one object, one spelling.
///
/// # Errors
/// A [`DecodeError`] in context `"armor"` whose offset points at the problem in `input`:
/// no armor or QR text found, mismatched BEGIN/END labels, a missing END line, a character
/// that is not base64 (or Base45), bad padding, a Base45 group out of range or cut short,
/// or a body over the size limit.
pub fn dearmor(input: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    if is_raw(input) {
        return Ok(Cow::Borrowed(input));
    }
    if input.is_empty() {
        return Err(err(0, "empty input"));
    }
    let Some(begin) = find(input, BEGIN, 0) else {
        if let Some((offset, text)) = find_qr_text(input) {
            return decode_base45(text, offset).map(Cow::Owned);
        }
        // Binary input is handed to the COSE decoder, which says precisely what is wrong;
        // text without an armor block is not an airseal object at all.
        let is_text = input
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        if is_text {
            return Err(err(
                0,
                "not an airseal object: no -----BEGIN AIRSEAL …----- block or AIRSEAL: line found",
            ));
        }
        return Ok(Cow::Borrowed(input));
    };
    let label_start = begin + BEGIN.len() - "AIRSEAL ".len();
    let label_end = find(input, DASHES, begin + BEGIN.len())
        .ok_or_else(|| err(begin, "unterminated BEGIN line"))?;
    let label = input.get(label_start..label_end).unwrap_or_default();
    let mut pos = label_end + DASHES.len();
    // The rest of the BEGIN line must be blank.
    let line_end = find(input, b"\n", pos).ok_or_else(|| err(pos, "armor has no body"))?;
    if !input
        .get(pos..line_end)
        .unwrap_or_default()
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return Err(err(pos, "text after the BEGIN line"));
    }
    pos = line_end + 1;

    let mut body = Vec::with_capacity(512);
    loop {
        if pos >= input.len() {
            return Err(err(input.len(), "missing -----END …----- line"));
        }
        let line_end = find(input, b"\n", pos).unwrap_or(input.len());
        let line = input.get(pos..line_end).unwrap_or_default();
        let line_offset = pos;
        pos = line_end + 1;
        let content = strip_quote(line);
        if content.starts_with(END) {
            let expected_end_len = END.len() + label.len() + DASHES.len();
            let matches = content.len() == expected_end_len
                && content.get(END.len()..END.len() + label.len()) == Some(label)
                && content.ends_with(DASHES);
            if !matches {
                return Err(err(line_offset, "END label does not match the BEGIN label"));
            }
            break;
        }
        for (i, &c) in content.iter().enumerate() {
            if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=') {
                return Err(err(
                    line_offset + i,
                    "character that is not base64 inside the armor",
                ));
            }
        }
        if body.len() + content.len() > MAX_BASE64 {
            return Err(DecodeError::new(
                line_offset,
                "armor",
                DecodeErrorKind::TooLarge {
                    limit: MAX_OBJECT_SIZE,
                    size: (body.len() + content.len()) / 4 * 3,
                },
            ));
        }
        body.extend_from_slice(content);
    }
    STANDARD.decode(&body).map(Cow::Owned).map_err(|_| {
        err(
            label_end,
            "invalid base64 in the armor body (bad length, padding or trailing bits)",
        )
    })
}

/// Trims whitespace (including the CR of CRLF) and leading e-mail quote markers (`> `).
fn strip_quote(line: &[u8]) -> &[u8] {
    let (start, end) = quote_bounds(line);
    line.get(start..end).unwrap_or_default()
}

/// Where [`strip_quote`] cuts `line`: (start, end) of what it keeps.
fn quote_bounds(line: &[u8]) -> (usize, usize) {
    let end = line.trim_ascii_end().len();
    let mut s = line.get(..end).unwrap_or_default().trim_ascii_start();
    while let Some(rest) = s.strip_prefix(b">") {
        s = rest.trim_ascii_start();
    }
    (end - s.len(), end)
}

/// The first line whose content starts with [`QR_PREFIX`]: the offset in `input` of what
/// follows the prefix, and that text (trailing whitespace already cut: no valid Base45 text
/// ends in a space, as its last symbol is at most `W`, or `5` after a final pair).
fn find_qr_text(input: &[u8]) -> Option<(usize, &[u8])> {
    let mut line_start = 0;
    for line in input.split(|&b| b == b'\n') {
        let (start, end) = quote_bounds(line);
        let content = line.get(start..end).unwrap_or_default();
        if let Some(text) = content.strip_prefix(QR_PREFIX.as_bytes()) {
            return Some((line_start + start + QR_PREFIX.len(), text));
        }
        line_start += line.len() + 1;
    }
    None
}

/// Decodes Base45 strictly (RFC 9285); `at` is the offset of `text` in the input, so that
/// errors point at the offending character or group.
fn decode_base45(text: &[u8], at: usize) -> Result<Vec<u8>, DecodeError> {
    if text.is_empty() {
        return Err(err(at, "nothing after AIRSEAL: in the QR text"));
    }
    if text.len() > MAX_BASE45 {
        return Err(DecodeError::new(
            at,
            "armor",
            DecodeErrorKind::TooLarge {
                limit: MAX_OBJECT_SIZE,
                size: text.len() / 3 * 2 + usize::from(text.len() % 3 == 2),
            },
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 3 * 2 + 1);
    for (i, group) in text.chunks(3).enumerate() {
        let offset = at + i * 3;
        let (mut n, mut scale) = (0u32, 1u32);
        for (j, &c) in group.iter().enumerate() {
            let Some(v) = BASE45.iter().position(|&s| s == c) else {
                let what = if c.is_ascii_lowercase() {
                    "lower-case letter in the QR text (Base45 is upper case only)"
                } else {
                    "character that is not Base45 in the QR text"
                };
                return Err(err(offset + j, what));
            };
            // The first symbol is the least significant (RFC 9285 §4); v < 45, so n < 45³.
            n += u32::try_from(v).unwrap_or_default() * scale;
            scale *= 45;
        }
        match group.len() {
            3 => {
                let v = u16::try_from(n)
                    .map_err(|_| err(offset, "Base45 group over 65535 in the QR text"))?;
                out.extend_from_slice(&v.to_be_bytes());
            }
            2 => {
                let v = u8::try_from(n)
                    .map_err(|_| err(offset, "final Base45 pair over 255 in the QR text"))?;
                out.push(v);
            }
            _ => {
                return Err(err(
                    offset,
                    "QR text cut short: a single character after the last Base45 group",
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    #[test]
    fn round_trip_and_surroundings() {
        let data: Vec<u8> = (0u8..=200).collect();
        let text = armor("AIRSEAL LICENSE", &data);
        assert!(
            text.lines()
                .all(|l| l.len() <= LINE_WIDTH || l.starts_with("-----"))
        );
        assert_eq!(dearmor(text.as_bytes()).unwrap().as_ref(), data.as_slice());
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(dearmor(crlf.as_bytes()).unwrap().as_ref(), data.as_slice());
        let quoted: String = text.lines().map(|l| format!("> {l}\n")).collect();
        let mail = format!("Hi,\n\nhere is your license:\n\n{quoted}\nThanks!\n");
        assert_eq!(dearmor(mail.as_bytes()).unwrap().as_ref(), data.as_slice());
    }

    #[test]
    fn damage_is_reported_with_offset() {
        let text = armor("AIRSEAL LICENSE", b"hello world, this is a license");
        let bad_char = text.replacen("aGVs", "a*Vs", 1);
        let e = dearmor(bad_char.as_bytes()).unwrap_err();
        assert_eq!(e.offset, bad_char.find('*').unwrap());
        let no_end = text.replace("-----END AIRSEAL LICENSE-----\n", "");
        assert!(dearmor(no_end.as_bytes()).is_err());
        let wrong_end = text.replace("END AIRSEAL LICENSE", "END AIRSEAL KEY");
        assert!(dearmor(wrong_end.as_bytes()).is_err());
        let truncated_body = text.replacen("aGVs", "aGV", 1);
        assert!(dearmor(truncated_body.as_bytes()).is_err());
        assert!(dearmor(b"").is_err());
        assert!(dearmor(b"just some text").is_err());
        // Binary that is not tag 18 goes to the COSE decoder, which names the problem.
        assert!(matches!(dearmor(&[0x84, 0x40]).unwrap(), Cow::Borrowed(_)));
    }

    /// Base45 of `bytes` without the prefix.
    fn b45(bytes: &[u8]) -> String {
        qr_text(bytes).strip_prefix(QR_PREFIX).unwrap().into()
    }

    fn read_qr(text: &str) -> Result<Vec<u8>, DecodeError> {
        dearmor(text.as_bytes()).map(Cow::into_owned)
    }

    #[test]
    fn rfc_9285_examples() {
        // §4.3 (encoding) and §4.4 (decoding).
        for (bytes, text) in [
            (&b"AB"[..], "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
            (b"", ""),
        ] {
            assert_eq!(b45(bytes), text);
            if !bytes.is_empty() {
                assert_eq!(read_qr(&format!("AIRSEAL:{text}")).unwrap(), bytes);
            }
        }
        // The extremes: a triple of 65535 and a final pair of 255.
        assert_eq!(b45(&[0xff, 0xff, 0xff]), "FGWU5");
        assert_eq!(read_qr("AIRSEAL:FGWU5").unwrap(), [0xff, 0xff, 0xff]);
    }

    #[test]
    fn qr_text_is_in_the_qr_alphanumeric_set() {
        let data: Vec<u8> = (0..=255u8).chain(0..=254).collect();
        let text = qr_text(&data);
        assert!(text.bytes().all(|c| BASE45.contains(&c)));
        assert_eq!(text.len(), QR_PREFIX.len() + data.len() / 2 * 3 + 2);
    }

    #[test]
    fn qr_text_surroundings() {
        let data: Vec<u8> = (0u8..=200).collect();
        let text = qr_text(&data);
        for wrapped in [
            format!("{text}\n"),
            format!("  {text} \r\n"),
            format!("> {text}\r\n"),
            format!(">> > {text}"),
            format!("Hi,\n\nmy request, as the phone read it:\n\n{text}\n\nThanks!\n"),
            format!("On Monday you wrote:\r\n> Hi,\r\n>\r\n> {text}\r\n> Bye\r\n"),
        ] {
            assert_eq!(read_qr(&wrapped).unwrap(), data, "{wrapped:?}");
        }
        // The text is one line: what follows is surroundings (a wrapped line arrives cut
        // short, and the COSE decoder reports the missing end).
        assert_eq!(read_qr("AIRSEAL:BB8\nBB8").unwrap(), b"AB");
        // A Base45 text may start with a space (value 36): the prefix ends the trimming.
        assert_eq!(b45(&[0, 36]), " 00");
        assert_eq!(read_qr("AIRSEAL: 00\n").unwrap(), [0, 36]);
    }

    #[test]
    fn hostile_qr_text_is_refused_with_offset() {
        let at = |text: &str| {
            let e = read_qr(text).unwrap_err();
            assert_eq!(e.context, "armor");
            assert!(matches!(e.kind, DecodeErrorKind::InvalidValue(_)), "{e:?}");
            e.offset
        };
        assert_eq!(at("AIRSEAL:BB#"), 10, "outside the alphabet");
        assert_eq!(at("AIRSEAL:BB8bb8"), 11, "lower case");
        assert_eq!(at("AIRSEAL:bb8"), 8);
        assert_eq!(at("AIRSEAL:BB8B"), 11, "a single trailing character");
        assert_eq!(at("AIRSEAL:BB8GGW"), 11, "triple of 65536");
        assert_eq!(at("AIRSEAL:V5"), 8, "pair of 256");
        assert_eq!(at("AIRSEAL:::"), 8, "pair of 2024");
        assert_eq!(at("AIRSEAL:"), 8, "nothing after the prefix");
        assert_eq!(
            at("> AIRSEAL:BB8 8\r\n"),
            13,
            "a space inside a group is a symbol"
        );
        assert_eq!(
            at("\n\n  AIRSEAL:BB#"),
            14,
            "offsets count from the input start"
        );
        // Not the prefix: lower case, or with a space before the colon.
        assert_eq!(at("airseal:BB8"), 0);
        assert_eq!(at("AIRSEAL :BB8"), 0);
        // Size limit before any allocation for the output.
        let huge = format!("{QR_PREFIX}{}", "0".repeat(MAX_BASE45 + 1));
        let e = read_qr(&huge).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::TooLarge { .. }), "{e:?}");
        let largest = qr_text(&vec![7; MAX_OBJECT_SIZE]);
        assert_eq!(read_qr(&largest).unwrap().len(), MAX_OBJECT_SIZE);
    }

    #[test]
    fn armor_is_found_before_qr_text() {
        let text = format!("AIRSEAL:BB8\n{}", armor("AIRSEAL LICENSE", b"xy"));
        assert_eq!(read_qr(&text).unwrap(), b"xy");
    }

    proptest::proptest! {
        #[test]
        fn qr_text_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 1..600)) {
            let text = qr_text(&data);
            proptest::prop_assert_eq!(read_qr(&text).unwrap(), data);
        }

        /// Strict decoding makes the form canonical: whatever decodes, encodes back to itself
        /// (less trailing spaces, which are surroundings: no Base45 text ends in one).
        #[test]
        fn accepted_base45_is_canonical(text in "[0-9A-Z $%*+\\-./:]{1,40}") {
            let input = format!("{QR_PREFIX}{text}");
            if let Ok(bytes) = read_qr(&input) {
                proptest::prop_assert_eq!(qr_text(&bytes), input.trim_end());
            }
        }
    }

    #[test]
    fn raw_input_is_borrowed() {
        let raw = [0xd2u8, 0x84];
        assert!(matches!(dearmor(&raw).unwrap(), Cow::Borrowed(_)));
    }
}
