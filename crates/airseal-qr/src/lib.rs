//! QR codes for objects that cross an air gap (activation requests, responses, deactivation
//! proofs): the one encoder that the `airseal` CLI (terminal, PNG, SVG files) and the vendor
//! service's portal (an SVG in the page) both call, so a code printed by one reads exactly
//! like a code shown by the other.
//!
//! A code holds the object's QR text form (`SPEC.md` §5.1): `AIRSEAL:` and the Base45
//! (RFC 9285) of the raw bytes, in alphanumeric mode, as the EU Digital COVID Certificate
//! does. Raw bytes in byte mode would be a little smaller (the same version for a request, at
//! most one version less for a response), but a phone's camera app shows a code's contents
//! as text and mangles binary; the text form is what it shows and what the customer can
//! paste into an e-mail, and every airseal reader accepts it (`armor::dearmor`). A 262-byte
//! request is 401 characters, a version 12 code at error correction level M (65 × 65
//! modules, 73 columns with the quiet zone), which fits an 80-column terminal; the usual
//! response (316 bytes, 482 characters) is version 13, 77 columns.
//!
//! This crate stops at modules and SVG text; pixels (PNG) and terminal blocks are drawn by
//! the CLI, the only program that writes them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use airseal_core::armor::qr_text;

/// Light modules around the code; the standard asks for 4.
pub const QUIET_ZONE: usize = 4;

/// The most raw bytes one code holds: a version 40 code at level M holds 3391 alphanumeric
/// characters, `AIRSEAL:` and 3383 of Base45.
pub const MAX_BYTES: usize = 2255;

/// Error correction level M (15% of the code may be damaged): a printout or a photo of a
/// screen survives a smudge or glare, and a request still fits an 80-column terminal.
const EC_LEVEL: EcLevel = EcLevel::M;

/// Why no code was made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrError {
    /// The object is larger than one code holds at level M.
    TooLarge {
        /// The object's size in bytes.
        bytes: usize,
        /// The most one code holds ([`MAX_BYTES`]).
        max: usize,
    },
    /// The encoder refused the data (not expected for the QR text form; kept rather than a
    /// panic).
    Encoding {
        /// The encoder's own words.
        reason: String,
    },
}

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QrError::TooLarge { bytes, max } => write!(
                f,
                "{bytes} bytes is too much for one QR code (at most {max} at level M)"
            ),
            QrError::Encoding { reason } => write!(f, "cannot make a QR code: {reason}"),
        }
    }
}

impl std::error::Error for QrError {}

/// A QR code of an object's QR text form: its modules, with the quiet zone around them.
pub struct Code {
    code: QrCode,
    colors: Vec<Color>,
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Code")
            .field("version", &self.version())
            .field("width", &self.width())
            .finish()
    }
}

/// The smallest QR code (at level M) holding the QR text form of `data` as one
/// alphanumeric-mode segment.
///
/// # Errors
/// [`QrError::TooLarge`] over [`MAX_BYTES`].
pub fn encode(data: &[u8]) -> Result<Code, QrError> {
    let code = encode_text(&qr_text(data))
        .ok_or(QrError::TooLarge {
            bytes: data.len(),
            max: MAX_BYTES,
        })?
        .map_err(|e| QrError::Encoding {
            reason: e.to_string(),
        })?;
    let colors = code.to_colors();
    Ok(Code { code, colors })
}

/// The smallest code holding `text` (QR alphanumeric characters only) in alphanumeric mode;
/// `None` when no version is large enough.
fn encode_text(text: &str) -> Option<qrcode::types::QrResult<QrCode>> {
    (1..=40).find_map(|v| {
        let mut bits = Bits::new(Version::Normal(v));
        let fits = bits.push_alphanumeric_data(text.as_bytes()).is_ok()
            && bits.push_terminator(EC_LEVEL).is_ok();
        fits.then(|| QrCode::with_bits(bits, EC_LEVEL))
    })
}

impl Code {
    /// The QR version (1–40).
    pub fn version(&self) -> i16 {
        match self.code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }

    /// Whether the code uses error correction level M (always; for tests and callers that
    /// print it).
    pub fn is_level_m(&self) -> bool {
        self.code.error_correction_level() == EcLevel::M
    }

    /// Modules on a side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// Modules on a side, with the quiet zone on both sides.
    pub fn size(&self) -> usize {
        self.width() + 2 * QUIET_ZONE
    }

    /// Whether the module at (x, y), counted from the corner of the quiet zone, is dark;
    /// everything outside the code is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let w = self.width();
        let (Some(cx), Some(cy)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        cx < w
            && cy < w
            && cy.checked_mul(w).and_then(|row| self.colors.get(row + cx)) == Some(&Color::Dark)
    }

    /// The code as an SVG file (black modules on white, with the quiet zone, at least
    /// 256 × 256 pixels), with its XML declaration: what `--qr-svg` writes.
    pub fn svg_document(&self) -> String {
        self.code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .build()
    }

    /// The same image as one `<svg>` element to put inside an HTML page (no XML
    /// declaration; attributes only, no `style`, so a strict Content-Security-Policy allows
    /// it). Its text comes from the encoder alone: nothing the caller passes reaches it.
    pub fn svg_element(&self) -> String {
        let doc = self.svg_document();
        match doc.find("<svg") {
            Some(start) => doc.get(start..).unwrap_or_default().to_owned(),
            None => doc,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use airseal_core::armor::dearmor;

    fn bytes(n: u32) -> Vec<u8> {
        (0..n).map(|i| (i * 37 % 256) as u8).collect()
    }

    #[test]
    fn sizes_of_the_codes() {
        // (raw bytes, version, modules): a request, the vector activation response, a
        // response with a longer licensee (81 columns with the quiet zone in byte mode,
        // 85 as text: over 80 either way), and the largest object one code holds.
        for (n, version, width) in [
            (262, 12, 65),
            (316, 13, 69),
            (350, 15, 77),
            (MAX_BYTES as u32, 40, 177),
        ] {
            let code = encode(&bytes(n)).unwrap();
            assert_eq!(code.version(), version, "{n} bytes");
            assert!(code.is_level_m());
            assert_eq!(code.width(), width, "{n} bytes");
            assert_eq!(code.size(), width + 8);
        }
        assert_eq!(
            encode(&vec![0; MAX_BYTES + 1]).unwrap_err(),
            QrError::TooLarge {
                bytes: MAX_BYTES + 1,
                max: MAX_BYTES
            }
        );
    }

    #[test]
    fn the_text_is_held_in_alphanumeric_mode() {
        // 401 characters fit version 12 only at 5.5 bits each: byte mode holds 287 there.
        let data = bytes(262);
        let text = qr_text(&data);
        assert_eq!(text.len(), 401);
        let mut bits = Bits::new(Version::Normal(12));
        let as_bytes =
            bits.push_byte_data(text.as_bytes()).is_ok() && bits.push_terminator(EC_LEVEL).is_ok();
        assert!(!as_bytes);
        assert_eq!(encode(&data).unwrap().version(), 12);
    }

    #[test]
    fn the_modules_decode_to_the_qr_text() {
        // An independent decoder (rqrr) reads the modules, 4 pixels each, back to the text.
        let data = bytes(316);
        let code = encode(&data).unwrap();
        let scale = 4;
        let side = code.size() * scale;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            if code.is_dark(x / scale, y / scale) {
                0
            } else {
                255
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let mut out = Vec::new();
        grids[0].decode_to(&mut out).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), qr_text(&data));
        assert_eq!(dearmor(&out).unwrap().as_ref(), data.as_slice());
        // Outside the code, and far outside, is light.
        assert!(!code.is_dark(0, 0));
        assert!(!code.is_dark(usize::MAX, usize::MAX));
        assert!(
            code.is_dark(QUIET_ZONE, QUIET_ZONE),
            "finder pattern corner"
        );
    }

    #[test]
    fn svg_forms() {
        let code = encode(&bytes(262)).unwrap();
        let doc = code.svg_document();
        assert!(doc.starts_with("<?xml"));
        assert!(doc.contains("<svg") && doc.trim_end().ends_with("</svg>"));
        let element = code.svg_element();
        assert!(element.starts_with("<svg ") && element.ends_with("</svg>"));
        assert!(doc.ends_with(&element));
        assert!(
            !element.contains("style"),
            "a strict CSP forbids inline styles"
        );
    }
}
