//! `airseal install`: install the vendor's activation response on this machine, after
//! checking it answers the pending request (`SPEC.md` §15).

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_verify::app::device::Device;
use clap::Args;

use super::machine;
use crate::args::NowArgs;
use crate::error::{CliError, EXIT_CODES_HELP};

/// Arguments of `airseal install`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct InstallArgs {
    /// The activation response (armored text, QR text `AIRSEAL:…` or raw bytes; `-` for stdin).
    #[arg(value_name = "RESPONSE")]
    pub file: PathBuf,
    /// A trusted public key file (the vendor's signing.pub); repeatable.
    #[arg(long = "public-key", value_name = "FILE", required = true)]
    pub public_key: Vec<PathBuf>,
    /// The data folder of the pending request (default: $AIRSEAL_DATA_DIR, else the
    /// product's folder under $XDG_DATA_HOME/airseal or ~/.local/share/airseal).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The product, to find its default data folder (default: the one the response names).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    #[command(flatten)]
    pub now: NowArgs,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
}

/// Runs `airseal install`.
pub fn run(args: &InstallArgs) -> Result<ExitCode, CliError> {
    let trust = machine::load_trust(&args.public_key)?;
    let now = args.now.instant()?;
    let input = crate::io::read_input(&args.file)?;
    let dir = machine::data_dir(args.data_dir.as_deref(), || {
        args.product
            .clone()
            .or_else(|| machine::unverified_product(&input))
            .ok_or_else(|| {
                CliError::msg(format!(
                    "{}: not an activation response (give --product or --data-dir)",
                    args.file.display()
                ))
            })
    })?;
    let device = Device::open(&dir);
    let license = match device.install(&input, &trust, now) {
        Ok(l) => l,
        Err(airseal_verify::app::device::DeviceError::Verify(e)) => {
            let message = super::verify::describe(&e, &input);
            if args.json {
                crate::term::out_json(&serde_json::json!({
                    "installed": false, "error": e.class(), "code": e.code(), "message": message,
                }));
            }
            errln!("{}: refused: {message}", args.file.display());
            return Ok(ExitCode::from(e.code()));
        }
        Err(e) => return Err(machine::device_error(e, &dir)),
    };
    let c = license.claims();
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "installed": true,
            "license_id": c.license_id,
            "product": c.product,
            "data_dir": dir.display().to_string(),
            "key_id": license.key_id().to_string(),
            "claims": airseal_core::json::claims_to_json(c),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "INSTALLED license {} for product {} in {}",
        crate::term::field(&c.license_id),
        crate::term::field(&c.product),
        dir.display()
    );
    if let Some(m) = &c.machine {
        outln!(
            "  bound to  this machine ({} of {} fingerprint components must match) and its device key",
            m.threshold,
            m.components.len()
        );
    }
    super::inspect::print_claims(c, now);
    Ok(ExitCode::SUCCESS)
}
