//! `airseal init`: create a vendor folder (config, signing key, ledger).

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_vendor::vendor_dir::VendorDir;
use clap::Args;

use super::keygen;
use crate::args::PassphraseArgs;
use crate::error::CliError;

/// Arguments of `airseal init`.
#[derive(Debug, Args)]
#[command(
    after_help = "Creates DIR/airseal.toml (products, key patterns, license templates), \
    DIR/keys/signing.key + signing.pub, and DIR/ledger.sqlite3. Other commands find the folder \
    from --vendor DIR, the AIRSEAL_VENDOR variable, or the current folder and its parents."
)]
pub struct InitArgs {
    /// The vendor folder to create (default: the current folder).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Your vendor id, written into licenses as their issuer (default: the folder's name).
    #[arg(long, value_name = "ID")]
    pub vendor_id: Option<String>,
    /// Rewrite an existing airseal.toml (the ledger and keys are never touched).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Runs `airseal init`.
pub fn run(args: &InitArgs) -> Result<ExitCode, CliError> {
    std::fs::create_dir_all(&args.dir).map_err(|e| CliError::io(&args.dir, e))?;
    let id = match &args.vendor_id {
        Some(id) => id.clone(),
        None => std::fs::canonicalize(&args.dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "vendor".into()),
    };
    let vendor = VendorDir::init(&args.dir, &id, args.force)?;
    outln!(
        "vendor folder {} (vendor id {id:?})",
        vendor.root().display()
    );
    if vendor.signing_key_path().exists() {
        outln!(
            "signing key   {} (kept)",
            vendor.signing_key_path().display()
        );
    } else {
        keygen::run(&keygen::KeygenArgs {
            out: vendor.keys_dir(),
            force: false,
            json: false,
            passphrase: args.passphrase.clone(),
        })?;
    }
    outln!(
        "next: add a [products.<id>] table to {}, then `airseal keys generate`",
        vendor.config_path().display()
    );
    Ok(ExitCode::SUCCESS)
}
