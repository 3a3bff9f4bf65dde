//! `airseal release`: give this machine's seat back. Signs a deactivation proof with the
//! device key, deletes the installed license and gives the data folder a new device key
//! (`SPEC.md` §15.5); the vendor frees the seat with `airseal deactivate PROOF`.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::ObjectType;
use airseal_verify::app::device::Device;
use clap::Args;

use super::machine;
use crate::args::NowArgs;
use crate::error::CliError;
use crate::qr::QrArgs;

/// Arguments of `airseal release`.
#[derive(Debug, Args)]
#[command(
    after_help = "The proof goes to --out (armored text, or raw bytes with --raw), else \
    to standard output; a copy stays in the data folder, and running `airseal release` again \
    prints it again. The data folder then gets a new device key, so the license given back \
    cannot be put back, and the machine's next request takes a new seat."
)]
pub struct ReleaseArgs {
    /// The product, to find its default data folder.
    #[arg(long, value_name = "ID", required_unless_present = "data_dir")]
    pub product: Option<String>,
    /// The data folder (default: $AIRSEAL_DATA_DIR, else the product's folder under
    /// $XDG_DATA_HOME/airseal or ~/.local/share/airseal).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Write the deactivation proof to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write raw bytes (COSE) instead of armored text.
    #[arg(long, requires = "out")]
    pub raw: bool,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// With --out (without it, standard output carries the proof itself).
    #[arg(long, requires = "out", help = crate::args::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub now: NowArgs,
    #[command(flatten)]
    pub qr: QrArgs,
}

/// Runs `airseal release`.
pub fn run(args: &ReleaseArgs) -> Result<ExitCode, CliError> {
    let now = args.now.instant()?;
    // Refuse before deleting the license.
    for path in args.out.iter().map(PathBuf::as_path).chain(args.qr.files()) {
        machine::check_overwrite(path, args.force)?;
    }
    let dir = machine::data_dir(args.data_dir.as_deref(), || {
        args.product
            .clone()
            .ok_or_else(|| CliError::msg("give --product or --data-dir"))
    })?;
    let device = Device::open(&dir);
    let had_license = device
        .installed_license()
        .map_err(|e| machine::device_error(e, &dir))?
        .is_some();
    let bytes = device
        .deactivate(now)
        .map_err(|e| machine::device_error(e, &dir))?;
    args.qr.emit(&bytes, args.force)?;
    machine::write_signed(
        ObjectType::DeactivationProof,
        &bytes,
        args.out.as_deref(),
        args.raw,
        args.force,
    )?;
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "released": had_license,
            "data_dir": dir.display().to_string(),
            "bytes": bytes.len(),
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }));
    }
    if had_license {
        errln!(
            "RELEASED: the license was deleted from {}; send the proof to the vendor to free the seat",
            dir.display()
        );
    } else {
        errln!(
            "no license installed in {}: this is the proof made when it was released",
            dir.display()
        );
    }
    if let Some(path) = &args.out {
        errln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
