//! The public key file: one line carrying the key id and the Ed25519 public key, plus
//! comment lines (`SPEC.md` §3.3).
//!
//! ```text
//! # airseal public key (Ed25519). Key id 5c1f…; safe to share and to embed in your app.
//! airseal-pk-v1:5c1f0a7d9e2b4c61:<base64 of the 32-byte key>
//! ```
//!
//! The key id is repeated so a corrupted or hand-edited file is caught when it is read,
//! not later as a puzzling `UnknownKeyId`.

use alloc::format;
use alloc::string::String;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::kid::KeyId;

const PREFIX: &str = "airseal-pk-v1:";

/// Why a public key file could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKeyError {
    /// No `airseal-pk-v1:` line was found (line numbers are 1-based).
    NoKeyLine,
    /// More than one key line.
    SeveralKeys {
        /// Line of the second key.
        line: usize,
    },
    /// The key line is not `airseal-pk-v1:<16 hex>:<base64 of 32 bytes>`.
    BadKeyLine {
        /// Line number.
        line: usize,
        /// Which part is wrong.
        what: &'static str,
    },
    /// The key id on the line is not the id of the key on the line.
    KeyIdMismatch {
        /// Line number.
        line: usize,
    },
}

impl core::fmt::Display for PublicKeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoKeyLine => {
                f.write_str("no `airseal-pk-v1:` line found: not an airseal public key file")
            }
            Self::SeveralKeys { line } => {
                write!(f, "line {line}: a second public key (one key per file)")
            }
            Self::BadKeyLine { line, what } => write!(f, "line {line}: {what}"),
            Self::KeyIdMismatch { line } => {
                write!(
                    f,
                    "line {line}: key id does not match the key (file corrupted or edited)"
                )
            }
        }
    }
}

impl core::error::Error for PublicKeyError {}

/// Writes the public key file text for `public_key`.
pub fn encode_public_key(public_key: &[u8; 32]) -> String {
    let kid = KeyId::of_public_key(public_key);
    format!(
        "# airseal public key (Ed25519). Key id {kid}; safe to share and to embed in your app.\n\
         {PREFIX}{kid}:{}\n",
        STANDARD.encode(public_key)
    )
}

/// Reads a public key file: blank lines and `#` comments are ignored, CRLF is accepted.
///
/// # Errors
/// [`PublicKeyError`] naming the line and the problem.
pub fn parse_public_key(text: &[u8]) -> Result<[u8; 32], PublicKeyError> {
    let mut found = None;
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let bad = |what| PublicKeyError::BadKeyLine {
            line: line_no,
            what,
        };
        let line = core::str::from_utf8(line).map_err(|_| bad("not UTF-8 text"))?;
        let rest = line
            .strip_prefix(PREFIX)
            .ok_or(bad("expected `airseal-pk-v1:<key id>:<key>`"))?;
        if found.is_some() {
            return Err(PublicKeyError::SeveralKeys { line: line_no });
        }
        let (kid_hex, key_b64) = rest
            .split_once(':')
            .ok_or(bad("missing `:` between key id and key"))?;
        let kid = KeyId::from_hex(kid_hex).ok_or(bad("key id must be 16 hex digits"))?;
        let bytes = STANDARD
            .decode(key_b64)
            .map_err(|_| bad("key is not valid base64"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| bad("key must be 32 bytes"))?;
        if KeyId::of_public_key(&key) != kid {
            return Err(PublicKeyError::KeyIdMismatch { line: line_no });
        }
        found = Some(key);
    }
    found.ok_or(PublicKeyError::NoKeyLine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn round_trip_and_damage() {
        let key = [7u8; 32];
        let text = encode_public_key(&key);
        assert_eq!(parse_public_key(text.as_bytes()).unwrap(), key);
        assert_eq!(
            parse_public_key(text.replace('\n', "\r\n").as_bytes()).unwrap(),
            key
        );
        let kid = KeyId::of_public_key(&key).to_string();
        let wrong_kid = text.replace(&kid, "0000000000000000");
        assert_eq!(
            parse_public_key(wrong_kid.as_bytes()),
            Err(PublicKeyError::KeyIdMismatch { line: 2 })
        );
        assert_eq!(
            parse_public_key(b"# only a comment\n"),
            Err(PublicKeyError::NoKeyLine)
        );
        let twice = format!("{text}{text}");
        assert_eq!(
            parse_public_key(twice.as_bytes()),
            Err(PublicKeyError::SeveralKeys { line: 4 })
        );
        assert!(matches!(
            parse_public_key(b"hello"),
            Err(PublicKeyError::BadKeyLine { line: 1, .. })
        ));
    }
}
