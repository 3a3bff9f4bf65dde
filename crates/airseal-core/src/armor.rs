//! The armored text form (`SPEC.md` §5): base64 between `-----BEGIN AIRSEAL …-----` and
//! `-----END AIRSEAL …-----` lines, 64 columns, so a license survives e-mail and chat.
//!
//! Reading is lenient about the surroundings and strict about the content: the block may sit
//! inside other text (a pasted e-mail, with `>` quote markers), lines may end in CRLF, but
//! the base64 must be canonical (RFC 4648 §4 with padding, no stray bits). The `typ` header
//! inside, not the armor label, says what the object is.

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

/// Returns the object bytes: `input` itself when raw, the decoded body when armored.
///
/// # Errors
/// A [`DecodeError`] in context `"armor"` whose offset points at the problem in `input`:
/// no armor found, mismatched BEGIN/END labels, a missing END line, a character that is
/// not base64, bad padding, or a body over the size limit.
pub fn dearmor(input: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    if is_raw(input) {
        return Ok(Cow::Borrowed(input));
    }
    if input.is_empty() {
        return Err(err(0, "empty input"));
    }
    let Some(begin) = find(input, BEGIN, 0) else {
        // Binary input is handed to the COSE decoder, which says precisely what is wrong;
        // text without an armor block is not an airseal object at all.
        let is_text = input
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        if is_text {
            return Err(err(
                0,
                "not an airseal object: no -----BEGIN AIRSEAL …----- block found",
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
    let mut s = line.trim_ascii();
    while let Some(rest) = s.strip_prefix(b">") {
        s = rest.trim_ascii_start();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

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

    #[test]
    fn raw_input_is_borrowed() {
        let raw = [0xd2u8, 0x84];
        assert!(matches!(dearmor(&raw).unwrap(), Cow::Borrowed(_)));
    }
}
