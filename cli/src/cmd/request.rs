//! `airseal request`: create an activation (or trial) request on this machine, to carry to
//! the vendor as a file or a QR code (`SPEC.md` §15).

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::ObjectType;
use airseal_verify::KeyId;
use airseal_verify::app::device::Device;
use clap::Args;

use super::machine::{self, FingerprintArgs};
use crate::args::NowArgs;
use crate::error::CliError;
use crate::qr::QrArgs;

/// Arguments of `airseal request`.
#[derive(Debug, Args)]
#[command(
    after_help = "The request goes to --out (armored text, or raw bytes with --raw), \
    else to standard output. Take it to the vendor, who answers with `airseal activate`; \
    install the answer with `airseal install`. A new request replaces the pending one, whose \
    answer will then be refused.\n\n\
    Example:\n  airseal request --product photo-pro --key 7K3QD-M2XRP-9FTWB-4HCNV --out request.txt --qr"
)]
pub struct RequestArgs {
    /// The product id to activate.
    #[arg(long, value_name = "ID")]
    pub product: String,
    /// The product key to activate, as the customer has it (sent as entered, trimmed: the
    /// vendor finds the stored key whatever its case or separators).
    #[arg(long, value_name = "KEY", required_unless_present = "trial")]
    pub key: Option<String>,
    /// Ask for the product's trial instead (no key; one per machine).
    #[arg(long, conflicts_with = "key")]
    pub trial: bool,
    /// The data folder holding the device key and the pending request (default:
    /// $AIRSEAL_DATA_DIR, else $XDG_DATA_HOME/airseal/PRODUCT or ~/.local/share/airseal/PRODUCT).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub fingerprint: FingerprintArgs,
    /// The app's version, for the vendor's records.
    #[arg(long, value_name = "V")]
    pub app_version: Option<String>,
    /// A usage meter to report, NAME=INTEGER; repeatable (at most 16).
    #[arg(long = "meter", value_name = "NAME=N")]
    pub meter: Vec<String>,
    #[command(flatten)]
    pub now: NowArgs,
    /// Write the request to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write raw bytes (COSE) instead of armored text.
    #[arg(long, requires = "out")]
    pub raw: bool,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// With --out (without it, standard output carries the request itself).
    #[arg(long, requires = "out", help = crate::args::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub qr: QrArgs,
}

fn parse_meter(spec: &str) -> Result<(&str, i64), CliError> {
    spec.split_once('=')
        .and_then(|(name, v)| Some((name, v.trim().parse().ok()?)))
        .ok_or_else(|| {
            CliError::Message(
                format!("--meter {spec:?}: expected NAME=INTEGER"),
                crate::error::USAGE,
            )
        })
}

/// Runs `airseal request`.
pub fn run(args: &RequestArgs) -> Result<ExitCode, CliError> {
    let meters = args
        .meter
        .iter()
        .map(|m| parse_meter(m))
        .collect::<Result<Vec<_>, _>>()?;
    let now = args.now.instant()?;
    // Refuse before making a request: it would replace the pending one.
    for path in args.out.iter().map(PathBuf::as_path).chain(args.qr.files()) {
        machine::check_overwrite(path, args.force)?;
    }
    let fp = machine::fingerprint(&args.fingerprint)?;
    if fp.components().is_empty() {
        return Err(CliError::msg(
            "no fingerprint components to bind the license to: add one with --component \
             KIND=VALUE (containers: --component custom:pod=$POD_UID), or drop \
             --no-system-components",
        ));
    }
    let dir = machine::data_dir(args.data_dir.as_deref(), || Ok(args.product.clone()))?;
    let device = Device::open(&dir);
    let bytes = device
        .create_request(
            &args.product,
            if args.trial {
                None
            } else {
                args.key.as_deref()
            },
            &fp,
            args.app_version.as_deref(),
            &meters,
            now,
        )
        .map_err(|e| machine::device_error(e, &dir))?;
    args.qr.emit(&bytes, args.force)?;
    machine::write_signed(
        ObjectType::ActivationRequest,
        &bytes,
        args.out.as_deref(),
        args.raw,
        args.force,
    )?;
    let device_key = device
        .public_key()
        .ok()
        .flatten()
        .map(|k| KeyId::of_public_key(&k).to_string())
        .unwrap_or_default();
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "purpose": if args.trial { "trial" } else { "activation" },
            "product": args.product,
            "device_key_id": device_key,
            "components": fp.components().len(),
            "bytes": bytes.len(),
            "data_dir": dir.display().to_string(),
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }));
    }
    errln!(
        "{} request for {} ({} fingerprint component{}, device key {device_key}, {} bytes raw); \
         pending in {}",
        if args.trial { "trial" } else { "activation" },
        args.product,
        fp.components().len(),
        if fp.components().len() == 1 { "" } else { "s" },
        bytes.len(),
        dir.display()
    );
    if let Some(path) = &args.out {
        errln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
