//! QR codes for files that cross an air gap (activation requests, responses, deactivation
//! proofs): printed in the terminal for a phone camera, or written as PNG or SVG.
//!
//! The raw (binary) object is encoded in byte mode, not its armored text: a 262-byte
//! request is a version 12 code at error correction level M (65 × 65 modules), which fits
//! an 80-column terminal; base64 would need a third more. The receiving side gets the exact
//! signed bytes back (every airseal reader accepts raw input).

use std::path::{Path, PathBuf};

use clap::Args;
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use crate::exit::CliError;

/// Error correction level M (15% of the code may be damaged): a printout or a photo of a
/// screen survives a smudge or glare, and a request still fits an 80-column terminal.
const EC_LEVEL: EcLevel = EcLevel::M;
/// Light modules around the code; the standard asks for 4.
const QUIET_ZONE: usize = 4;
/// Pixels per module in PNG output: 65 modules + quiet zone → 584 px, sharp when printed.
const PNG_SCALE: usize = 8;

/// The `--qr`, `--qr-png` and `--qr-svg` options, shared by every command that writes an
/// object meant to cross an air gap.
#[derive(Debug, Clone, Default, Args)]
pub struct QrArgs {
    /// Also print it as a QR code in the terminal (for a phone camera; light modules are
    /// drawn as blocks, for dark-background terminals, as `qrencode -t UTF8` does).
    #[arg(long)]
    pub qr: bool,
    /// Also write the QR code as a PNG image.
    #[arg(long, value_name = "FILE")]
    pub qr_png: Option<PathBuf>,
    /// Also write the QR code as an SVG image.
    #[arg(long, value_name = "FILE")]
    pub qr_svg: Option<PathBuf>,
}

impl QrArgs {
    /// The image files to be written, so a command can refuse to overwrite them (without
    /// `--force`) before it changes anything.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.qr_png
            .iter()
            .chain(self.qr_svg.iter())
            .map(PathBuf::as_path)
    }

    /// Prints and writes what was asked for.
    pub fn emit(&self, data: &[u8], force: bool) -> Result<(), CliError> {
        if self.qr {
            print_terminal(data)?;
        }
        if let Some(path) = &self.qr_png {
            write_png(data, path, force)?;
        }
        if let Some(path) = &self.qr_svg {
            write_svg(data, path, force)?;
        }
        Ok(())
    }
}

/// The smallest QR code (at level M) holding `data` as one byte-mode segment.
pub fn encode(data: &[u8]) -> Result<QrCode, CliError> {
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_byte_data(data).is_ok() && bits.push_terminator(EC_LEVEL).is_ok() {
            return QrCode::with_bits(bits, EC_LEVEL)
                .map_err(|e| CliError::msg(format!("cannot make a QR code: {e}")));
        }
    }
    Err(CliError::msg(format!(
        "{} bytes is too much for one QR code (at most 2331 at level M)",
        data.len()
    )))
}

/// Whether the module at (x, y), counted from the corner of the quiet zone, is dark.
fn dark(code: &QrCode, colors: &[Color], x: usize, y: usize) -> bool {
    let w = code.width();
    let (Some(cx), Some(cy)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
        return false;
    };
    cx < w && cy < w && colors.get(cy * w + cx) == Some(&Color::Dark)
}

/// The code as text, two module rows per line with half blocks. Light modules are drawn
/// (`█▀▄`), dark ones left blank, so on a dark terminal the code reads as dark-on-light.
pub fn terminal_text(data: &[u8]) -> Result<String, CliError> {
    let code = encode(data)?;
    let colors = code.to_colors();
    let size = code.width() + 2 * QUIET_ZONE;
    let mut out = String::with_capacity((size + 1) * size.div_ceil(2) * 3);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = !dark(&code, &colors, x, y);
            let bottom = y + 1 < size && !dark(&code, &colors, x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// Prints the code on standard output.
pub fn print_terminal(data: &[u8]) -> Result<(), CliError> {
    print!("{}", terminal_text(data)?);
    Ok(())
}

/// The code as an 8-bit greyscale PNG (dark modules black on white, with the quiet zone).
pub fn png_bytes(data: &[u8]) -> Result<Vec<u8>, CliError> {
    let code = encode(data)?;
    let colors = code.to_colors();
    let modules = code.width() + 2 * QUIET_ZONE;
    let side = modules * PNG_SCALE;
    let mut pixels = Vec::with_capacity(side * side);
    for py in 0..side {
        for px in 0..side {
            let is_dark = dark(&code, &colors, px / PNG_SCALE, py / PNG_SCALE);
            pixels.push(if is_dark { 0 } else { 255 });
        }
    }
    let side = u32::try_from(side).map_err(|_| CliError::msg("QR code too large"))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let png_error = |e: png::EncodingError| CliError::msg(format!("cannot encode the PNG: {e}"));
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// Writes the code as a PNG image; refuses to replace a file without `force`.
pub fn write_png(data: &[u8], path: &Path, force: bool) -> Result<(), CliError> {
    crate::io::write_output(path, &png_bytes(data)?, force)
}

/// The code as an SVG image (black modules on white, with the quiet zone).
pub fn svg_text(data: &[u8]) -> Result<String, CliError> {
    Ok(encode(data)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build())
}

/// Writes the code as an SVG image; refuses to replace a file without `force`.
pub fn write_svg(data: &[u8], path: &Path, force: bool) -> Result<(), CliError> {
    crate::io::write_output(path, svg_text(data)?.as_bytes(), force)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// A typical request's size (SPEC.md §15), with every byte value present.
    fn sample() -> Vec<u8> {
        (0..262u32).map(|i| (i * 37 % 256) as u8).collect()
    }

    /// Decodes a greyscale image with `rqrr`, an independent decoder.
    fn decode(width: usize, height: usize, pixel: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code expected");
        let mut out = Vec::new();
        grids[0].decode_to(&mut out).unwrap();
        out
    }

    #[test]
    fn a_request_fits_in_byte_mode_at_version_12() {
        let code = encode(&sample()).unwrap();
        assert_eq!(code.version(), Version::Normal(12));
        assert_eq!(code.error_correction_level(), EcLevel::M);
        assert_eq!(code.width(), 65);
        assert!(encode(&vec![0; 2332]).is_err());
    }

    #[test]
    fn the_png_decodes_to_the_same_bytes() {
        let data = sample();
        let png = png_bytes(&data).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let w = info.width as usize;
        let decoded = decode(w, info.height as usize, |x, y| buf[y * w + x]);
        assert_eq!(decoded, data);
    }

    #[test]
    fn the_terminal_code_decodes_to_the_same_bytes() {
        let data = sample();
        let text = terminal_text(&data).unwrap();
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        let modules = 65 + 2 * QUIET_ZONE;
        assert!(lines.iter().all(|l| l.len() == modules));
        assert!(modules <= 80, "fits an 80-column terminal");
        // Back to modules (blocks are light), 4 pixels each.
        let light = |x: usize, y: usize| {
            let c = lines[y / 2][x];
            matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
        };
        let scale = 4;
        let side = modules * scale;
        let decoded = decode(side, side, |x, y| {
            if light(x / scale, y / scale) { 255 } else { 0 }
        });
        assert_eq!(decoded, data);
    }

    #[test]
    fn svg_is_a_complete_image() {
        let svg = svg_text(&sample()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
