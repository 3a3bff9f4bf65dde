//! `airseal activate` and `airseal deactivate`: the vendor's side of offline activation
//! (`SPEC.md` §15), over [`airseal_vendor::activate`].

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::KeyId;
use airseal_core::activation::Purpose;
use airseal_vendor::activate::{self, ActivationError};
use airseal_vendor::time::format_time;
use clap::Args;
use serde_json::json;

use crate::args::PassphraseArgs;
use crate::args::{NowArgs, VendorArgs};
use crate::error::CliError;
use crate::qr::QrArgs;

/// Arguments of `airseal activate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Checks the key (known, not blocked, revoked or expired), the seat \
    limit and, for a trial, that this machine never had one; records the seat in the ledger \
    and only then writes the response. A request from a device that already holds a seat is \
    answered on that seat (the same license, no seat used), so re-running a request whose \
    response was lost is always safe. A refused request changes nothing.\n\n\
    Example:\n  airseal activate request.txt --out response.txt --qr"
)]
pub struct ActivateArgs {
    /// The activation (or trial) request: armored text, QR text (`AIRSEAL:…`) or raw bytes; `-` for standard input.
    pub request: PathBuf,
    /// Where to write the response (default: standard output, armored).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write raw COSE bytes instead of armored text.
    #[arg(long, requires = "out", conflicts_with = "armor")]
    pub raw: bool,
    /// Write armored text (the default).
    #[arg(long)]
    pub armor: bool,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub now: NowArgs,
    /// Print a JSON summary on standard output (needs --out).
    #[arg(long, requires = "out")]
    pub json: bool,
    #[command(flatten)]
    pub qr: QrArgs,
    #[command(flatten)]
    pub vendor: VendorArgs,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub signer: crate::args::SignerArgs,
}

/// Arguments of `airseal deactivate`.
#[derive(Debug, Args)]
#[command(
    after_help = "With a deactivation proof (made by `airseal release` on the \
    machine): verifies it, enforces the key's maximum number of deactivations and frees the \
    seat; the same proof is never accepted twice. Without one, --activation ID --reason TEXT \
    frees a seat on the vendor's own authority (a lost or wiped machine), audited.\n\n\
    Example:\n  airseal deactivate proof.txt"
)]
pub struct DeactivateArgs {
    /// The deactivation proof: armored text, QR text (`AIRSEAL:…`) or raw bytes; `-` for standard input.
    #[arg(required_unless_present = "activation")]
    pub proof: Option<PathBuf>,
    /// Free this activation (an id from `airseal ledger activations`) without a proof.
    #[arg(long, value_name = "ID", conflicts_with = "proof", requires = "reason")]
    pub activation: Option<i64>,
    /// Why the vendor frees the seat (kept in the audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub now: NowArgs,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// With `--json`, a refusal the vendor library names is also one JSON document on standard
/// output: `{"result": "refused", "error", "code", "message"}`, the name and code the
/// service's problem documents carry (`airseal_vendor::problem`).
fn refusal_json(json: bool, e: &CliError) {
    if let (true, Some(name)) = (json, e.error_name()) {
        crate::term::out_json(&json!({
            "result": "refused",
            "error": name.error,
            "code": name.code,
            "message": e.to_string(),
        }));
    }
}

/// Runs `airseal activate`.
pub fn activate(args: &ActivateArgs) -> Result<ExitCode, CliError> {
    answer(args).inspect_err(|e| refusal_json(args.json, e))
}

fn answer(args: &ActivateArgs) -> Result<ExitCode, CliError> {
    // Every output is checked before the passphrase is asked for and before the ledger
    // changes, so a refusal to overwrite never leaves a seat without its file.
    for path in args.out.iter().map(PathBuf::as_path).chain(args.qr.files()) {
        if path.exists() && !args.force {
            return Err(CliError::msg(format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
    }
    let now = args.now.instant()?;
    let request = crate::io::read_input(&args.request)?;
    let vendor = args.vendor.open()?;
    let mut ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let refused = |e: ActivationError| match e {
        ActivationError::BadRequest(_) => CliError::from(e).at(&args.request),
        other => CliError::from(other),
    };
    // What needs no signing key first: a garbage file costs no key derivation.
    activate::check_request(&mut ledger, vendor.config(), &request).map_err(refused)?;
    let issuer = super::unlock_signer(Some(&vendor), None, &args.signer, &args.passphrase)?;
    let response = activate::answer_request(&mut ledger, &issuer, vendor.config(), &request, now)
        .map_err(refused)?;
    // The seat is committed: from here on a failure loses only the file, and re-running the
    // same command re-issues on the same seat.
    let armored = response.armored();
    let committed = |e: CliError| {
        let code = e.exit_code();
        CliError::Message(
            format!(
                "{e}\nthe activation is recorded (license {}); run the same command again to \
                 write the response — no further seat is used",
                response.claims.license_id
            ),
            code,
        )
    };
    match &args.out {
        Some(path) => {
            let contents = if args.raw {
                &response.bytes[..]
            } else {
                armored.as_bytes()
            };
            activate::write_response_file(path, contents, args.force)
                .map_err(|e| committed(CliError::io(path, e)))?;
        }
        None => out!("{armored}"),
    }
    args.qr
        .emit(&response.bytes, args.force)
        .map_err(committed)?;
    let a = &response.activation;
    let what = match (a.purpose, response.reissued) {
        (Purpose::Trial, false) => "trial started",
        (Purpose::Trial, true) => "trial re-issued (same device)",
        (_, false) => "activated",
        (_, true) => "re-issued on the device's existing seat",
    };
    let device = KeyId::of_public_key(&a.device_key).to_string();
    let expires = response
        .claims
        .expires_at
        .map_or_else(|| "never".to_string(), format_time);
    if args.json {
        crate::term::out_json(&response.summary());
    }
    errln!(
        "{what}: license {} for {}{} on device {device}; expires {expires}{}{}",
        a.license_id,
        a.product,
        a.key
            .as_deref()
            .map(|k| format!(" key {k}"))
            .unwrap_or_default(),
        response
            .seats
            .map(|s| format!("; seats {s}"))
            .unwrap_or_default(),
        args.out
            .as_ref()
            .map(|p| format!(" → {}", p.display()))
            .unwrap_or_default(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `airseal deactivate`.
pub fn deactivate(args: &DeactivateArgs) -> Result<ExitCode, CliError> {
    free(args).inspect_err(|e| refusal_json(args.json, e))
}

fn free(args: &DeactivateArgs) -> Result<ExitCode, CliError> {
    let now = args.now.instant()?;
    let vendor = args.vendor.open()?;
    let mut ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let (done, by) = match (&args.proof, args.activation) {
        (_, Some(id)) => {
            let reason = args.reason.clone().unwrap_or_default();
            (
                activate::release_seat(&mut ledger, id, &reason, now)?,
                "vendor",
            )
        }
        (Some(path), None) => {
            let proof = crate::io::read_input(path)?;
            let done = activate::deactivate(&mut ledger, &proof, now)
                .map_err(|e| CliError::from(e).at(path))?;
            (done, "proof")
        }
        (None, None) => return Err(CliError::msg("give a PROOF file, or --activation ID")),
    };
    if args.json {
        crate::term::out_json(&done.summary(by));
    }
    let (activation, deactivations, seats) = (&done.activation, done.deactivations, done.seats);
    errln!(
        "deactivated license {} of {}{} (device {}){}{}",
        activation.license_id,
        activation.product,
        activation
            .key
            .as_deref()
            .map(|k| format!(" key {k}"))
            .unwrap_or_default(),
        activation.device_key_id(),
        seats.map(|s| format!("; seats {s}")).unwrap_or_default(),
        deactivations
            .map(|d| format!("; deactivations {d}"))
            .unwrap_or_default(),
    );
    Ok(ExitCode::SUCCESS)
}
