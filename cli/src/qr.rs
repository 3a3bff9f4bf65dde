//! QR codes for files that cross an air gap (activation requests, responses, deactivation
//! proofs): printed in the terminal for a phone camera, or written as PNG or SVG.
//!
//! The code itself (which text, which version and level, the SVG) comes from `airseal-qr`,
//! the encoder the vendor service's portal uses too; this file draws its modules as
//! terminal blocks and PNG pixels, which only the CLI writes.

use std::path::{Path, PathBuf};

use clap::Args;

use airseal_core::armor::qr_text;
use airseal_qr::Code;

use crate::error::CliError;

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

/// The smallest QR code (at level M) holding the QR text form of `data`.
pub fn encode(data: &[u8]) -> Result<Code, CliError> {
    Ok(airseal_qr::encode(data)?)
}

/// The code as text, two module rows per line with half blocks. Light modules are drawn
/// (`█▀▄`), dark ones left blank, so on a dark terminal the code reads as dark-on-light.
pub fn terminal_text(data: &[u8]) -> Result<String, CliError> {
    let code = encode(data)?;
    let size = code.size();
    let mut out = String::with_capacity((size + 1) * size.div_ceil(2) * 3);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = !code.is_dark(x, y);
            let bottom = y + 1 < size && !code.is_dark(x, y + 1);
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

/// Prints the code on standard output, and under it the text it holds, to copy and paste
/// where a camera is no help.
pub fn print_terminal(data: &[u8]) -> Result<(), CliError> {
    out!("{}", terminal_text(data)?);
    outln!("{}", qr_text(data));
    Ok(())
}

/// The code as an 8-bit greyscale PNG (dark modules black on white, with the quiet zone).
pub fn png_bytes(data: &[u8]) -> Result<Vec<u8>, CliError> {
    let code = encode(data)?;
    let side = code.size() * PNG_SCALE;
    let mut pixels = Vec::with_capacity(side * side);
    for py in 0..side {
        for px in 0..side {
            let is_dark = code.is_dark(px / PNG_SCALE, py / PNG_SCALE);
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
    Ok(encode(data)?.svg_document())
}

/// Writes the code as an SVG image; refuses to replace a file without `force`.
pub fn write_svg(data: &[u8], path: &Path, force: bool) -> Result<(), CliError> {
    crate::io::write_output(path, svg_text(data)?.as_bytes(), force)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use airseal_core::armor::dearmor;

    /// A typical request's size (SPEC.md §15.1), with every byte value present.
    fn sample() -> Vec<u8> {
        bytes(262)
    }

    fn bytes(n: u32) -> Vec<u8> {
        (0..n).map(|i| (i * 37 % 256) as u8).collect()
    }

    /// Decodes a greyscale image with `rqrr`, an independent decoder, to the text it holds.
    fn decode(width: usize, height: usize, pixel: impl Fn(usize, usize) -> u8) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code expected");
        let mut out = Vec::new();
        grids[0].decode_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// What a scanner read must be the exact QR text, and that must give back the bytes.
    fn assert_reads_back(decoded: &str, data: &[u8]) {
        assert_eq!(decoded, qr_text(data));
        assert_eq!(dearmor(decoded.as_bytes()).unwrap().as_ref(), data);
    }

    #[test]
    fn the_png_decodes_to_the_qr_text() {
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
        assert_reads_back(&decoded, &data);
    }

    #[test]
    fn the_terminal_code_decodes_to_the_qr_text() {
        for (data, modules) in [(sample(), 65), (bytes(316), 69)] {
            let text = terminal_text(&data).unwrap();
            let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
            let modules = modules + 2 * airseal_qr::QUIET_ZONE;
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
            assert_reads_back(&decoded, &data);
        }
    }

    #[test]
    fn svg_is_a_complete_image() {
        let svg = svg_text(&sample()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
