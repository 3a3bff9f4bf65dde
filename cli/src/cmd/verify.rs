//! `airseal verify`: check a license offline, exactly as an app embedding
//! `airseal-verify` would.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::json::claims_to_json;
use airseal_vendor::time::{EndOfDay, format_time, parse_time};
use airseal_verify::{Error, Expected, License, Status};
use clap::Args;
use serde_json::json;

use crate::args::NowArgs;
use crate::error::{CliError, EXIT_CODES_HELP};
use crate::time;

/// Arguments of `airseal verify`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct VerifyArgs {
    /// The license file: armored text (also inside an e-mail) or raw bytes; `-` for stdin.
    #[arg(required_unless_present = "machine", conflicts_with = "machine")]
    pub file: Option<PathBuf>,
    /// A trusted public key file (signing.pub); repeat it to trust several keys (rotation).
    #[arg(long = "public-key", value_name = "FILE", required = true)]
    pub public_key: Vec<PathBuf>,
    /// The product id the license must be for.
    #[arg(long, value_name = "ID")]
    pub product: String,
    #[command(flatten)]
    pub now: NowArgs,
    /// The app's release date (YYYY-MM-DD or RFC 3339): refuse licenses whose maintenance
    /// ended before it (release gating).
    #[arg(long, value_name = "DATE")]
    pub release_date: Option<String>,
    /// A revocation list (from `airseal revocations export`) to check the license against;
    /// it must be signed by one of the --public-key keys.
    #[arg(long, value_name = "FILE")]
    pub revocations: Option<PathBuf>,
    /// Print the verified claims, or the error, as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Verify the license installed on this machine (`airseal install`) instead of a file:
    /// also checks this machine's fingerprint against its binding and its device key.
    #[arg(long)]
    pub machine: bool,
    /// With --machine: the data folder (default: $AIRSEAL_DATA_DIR, else the product's
    /// folder under $XDG_DATA_HOME/airseal or ~/.local/share/airseal).
    #[arg(long, value_name = "DIR", requires = "machine")]
    pub data_dir: Option<PathBuf>,
    /// With --machine: how this machine is identified (as for `airseal request`).
    #[command(flatten)]
    pub fingerprint: super::machine::FingerprintArgs,
}

/// Runs `airseal verify`.
pub fn run(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let trust = super::machine::load_trust(&args.public_key)?;
    let now = args.now.instant()?;
    let (shown, input) = match &args.file {
        Some(file) if !args.machine => (file.clone(), crate::io::read_input(file)?),
        _ => super::machine::installed_license(args.data_dir.as_deref(), &args.product)?,
    };
    let mut expected = Expected::product(&args.product);
    if let Some(d) = &args.release_date {
        expected = expected.release_date(parse_time("--release-date", d, EndOfDay::No)?);
    }
    let list = match &args.revocations {
        Some(p) => Some(
            trust
                .verify_revocations(&crate::io::read_input(p)?)
                .map_err(|e| {
                    CliError::from(e)
                        .about(format!("{}: not a usable revocation list", p.display()))
                })?,
        ),
        None => None,
    };
    if let Some(l) = &list {
        expected = expected.revocations(l);
    }
    let verified = if args.machine {
        super::machine::verify_installed(
            args.data_dir.as_deref(),
            &args.product,
            &args.fingerprint,
            &trust,
            now,
            expected,
        )?
    } else {
        trust.verify(&input, now, &expected)
    };
    match verified {
        Ok(license) => {
            if args.json {
                crate::term::out_json(&success_json(&license, now));
            } else {
                print_license(&license, now);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let message = describe(&e, &input);
            if args.json {
                let mut j = json!({"valid": false, "error": e.class(), "code": e.code(), "message": message});
                if let Error::Malformed(d) = &e {
                    j["context"] = json!(d.context);
                    j["rule"] = json!(d.kind.rule());
                    j["offset"] = json!(d.offset);
                }
                crate::term::out_json(&j);
            } else {
                errln!("{}: invalid: {message}", shown.display());
            }
            Ok(ExitCode::from(e.code()))
        }
    }
}

/// The error message, with line and column when the problem is in armored text.
pub fn describe(e: &Error, input: &[u8]) -> String {
    match e {
        Error::Malformed(d) if d.context == "armor" && !airseal_core::armor::is_raw(input) => {
            let (line, col) = crate::io::line_col(input, d.offset);
            format!("malformed license: {} (line {line}, column {col})", d.kind)
        }
        Error::Malformed(d) if !airseal_core::armor::is_raw(input) && !input.is_empty() => {
            format!("{e} of the decoded license")
        }
        Error::Released { .. } => format!(
            "{e}; to use this machine again, send the release proof (`airseal release` prints \
             it again) to the vendor, then make a new request"
        ),
        // The library carries instants; people read them as dates (time::verify_error).
        _ => time::verify_error(e).unwrap_or_else(|| e.to_string()),
    }
}

fn success_json(license: &License, now: i64) -> serde_json::Value {
    let (status, grace_until) = match license.status() {
        Status::InGrace { until } => ("in_grace", Some(until)),
        _ => ("valid", None),
    };
    let mut j = json!({
        "valid": true,
        "status": status,
        "key_id": license.key_id().to_string(),
        "claims": claims_to_json(license.claims()),
        "active_features": license.active_features(now),
    });
    if let Some(t) = grace_until {
        j["grace_until"] = json!(t);
    }
    j
}

fn print_license(license: &License, now: i64) {
    let c = license.claims();
    outln!(
        "VALID license {} for product {}",
        crate::term::field(&c.license_id),
        crate::term::field(&c.product)
    );
    if let Status::InGrace { until } = license.status() {
        outln!(
            "  IN GRACE   expired, keeps working until {}: renew now",
            format_time(until)
        );
    }
    super::inspect::print_claims(c, now);
    outln!("  signed by  key {}", license.key_id());
}
