//! `airseal renew`: a license update for every machine that holds a key, without a new
//! request from any of them (`SPEC.md` §15.8), over [`airseal_vendor::renew`].

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_vendor::renew::{self, RenewOptions};
use airseal_vendor::time::format_time;
use clap::Args;
use serde_json::json;

use crate::args::{NowArgs, PassphraseArgs, VendorArgs};
use crate::error::CliError;

/// Arguments of `airseal renew`.
#[derive(Debug, Args)]
#[command(
    after_help = "For each live seat of the key, writes DIR/<license id>.renewal.txt: the \
    seat's license with the key's current terms and term end, bound to that machine's device \
    key and fingerprint, issued now. Send each file to its machine; `airseal install FILE` \
    (or the app) installs it over the license it holds, with no request. It cannot be \
    installed on another machine, and an older update cannot replace a newer one. Refused \
    for a suspended or revoked key, and for a key whose term has ended (extend it first).\n\n\
    Example:\n  airseal renew --key NQBQ6-WG6N5-JNNZK-D29XK --out-dir renewals/"
)]
pub struct RenewArgs {
    /// The product key whose machines get an update (as the customer has it).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// The product (default: the one product whose ledger has the key).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    /// The folder the update files are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Replace update files that already exist.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub now: NowArgs,
    /// Print a JSON summary on standard output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vendor: VendorArgs,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub signer: crate::args::SignerArgs,
}

/// Runs `airseal renew`.
pub fn run(args: &RenewArgs) -> Result<ExitCode, CliError> {
    let now = args.now.instant()?;
    let vendor = args.vendor.open()?;
    let issuer = super::unlock_signer(Some(&vendor), None, &args.signer, &args.passphrase)?;
    let mut ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let options = RenewOptions {
        key: &args.key,
        product: args.product.as_deref(),
        out_dir: &args.out_dir,
        force: args.force,
    };
    let done = renew::renew(&mut ledger, &issuer, vendor.config(), &options, now)?;
    let ends = done
        .term_end
        .map_or_else(|| "never".to_string(), format_time);
    if args.json {
        crate::term::out_json(&json!({
            "product": done.product,
            "key": done.key,
            "term_end": done.term_end,
            "renewed": done.renewed.iter().map(|s| json!({
                "activation": s.activation,
                "license_id": s.license_id,
                "device_key_id": s.device_key_id.to_string(),
                "file": s.file.display().to_string(),
                "issued_at": s.claims.issued_at,
                "expires": s.claims.expires_at,
                "previous_expires": s.before.expires_at,
            })).collect::<Vec<_>>(),
            "skipped": done.skipped.iter().map(|s| json!({
                "activation": s.activation,
                "license_id": s.license_id,
                "reason": s.reason.to_string(),
            })).collect::<Vec<_>>(),
        }));
    }
    for s in &done.renewed {
        let when = |t: Option<i64>| t.map_or_else(|| "never".to_string(), format_time);
        errln!(
            "renewed license {} (device {}): expires {} (was {}) → {}",
            crate::term::field(&s.license_id),
            s.device_key_id,
            when(s.claims.expires_at),
            when(s.before.expires_at),
            s.file.display()
        );
    }
    for s in &done.skipped {
        errln!(
            "skipped license {}: {}",
            crate::term::field(&s.license_id),
            s.reason
        );
    }
    errln!(
        "{} update{} for key {} of {}; term ends {ends}",
        done.renewed.len(),
        if done.renewed.len() == 1 { "" } else { "s" },
        crate::term::field(&done.key),
        crate::term::field(&done.product),
    );
    Ok(ExitCode::SUCCESS)
}
