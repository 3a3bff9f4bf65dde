//! Reading inputs and writing outputs safely: bounded reads, nothing overwritten without
//! `--force`, atomic replacement.

use std::io::Read;
use std::path::Path;

use crate::error::CliError;

/// Largest input file read (armored text of the largest object, with room for an e-mail
/// around it). Checked before reading it all.
pub const MAX_INPUT: u64 = 1024 * 1024;

/// Reads a whole input file (`-` = standard input), refusing anything over [`MAX_INPUT`].
pub fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    let limit = MAX_INPUT + 1;
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::io(path, e))?;
    } else {
        let f = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
        f.take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::io(path, e))?;
    }
    if buf.len() as u64 > MAX_INPUT {
        // Too large to be any airseal object: malformed, whatever kind was expected.
        return Err(CliError::Message(
            format!(
                "{}: larger than {MAX_INPUT} bytes: not an airseal file",
                path.display()
            ),
            crate::error::MALFORMED,
        ));
    }
    Ok(buf)
}

/// Writes `contents` to `path` through the one durable writer ([`airseal_verify::app::fs`]):
/// whole or not at all, fsynced; refuses to replace an existing file without `force`.
pub fn write_output(path: &Path, contents: &[u8], force: bool) -> Result<(), CliError> {
    use airseal_verify::app::fs::{Access, Mode, write};
    write(path, contents, Access::Default, Mode::replace_if(force)).map_err(write_failed)
}

/// [`write_output`] for a file only its owner may read (0600 on Unix): a vendor folder's
/// configuration, which may hold secrets.
pub fn write_private_output(path: &Path, contents: &[u8], force: bool) -> Result<(), CliError> {
    use airseal_verify::app::fs::{Access, Mode, write};
    write(path, contents, Access::OwnerOnly, Mode::replace_if(force)).map_err(write_failed)
}

/// The CLI error for a failed durable write (whole files here, streamed listings in
/// `render::Sink`): an existing target names `--force`, the rest is an I/O error (exit 3).
pub fn write_failed(e: airseal_verify::app::fs::WriteError) -> CliError {
    match e {
        airseal_verify::app::fs::WriteError::AlreadyExists { path } => CliError::msg(format!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        )),
        other => {
            let path = other.path().to_path_buf();
            CliError::io(&path, other.into())
        }
    }
}

/// Converts a byte offset in text to a 1-based line and column.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}
