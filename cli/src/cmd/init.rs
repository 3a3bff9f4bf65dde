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
    /// Go on in an existing vendor folder: only what is missing is created; airseal.toml,
    /// the ledger and the keys are kept as they are.
    #[arg(long)]
    pub force: bool,
    /// Accept a passphrase weaker than the minimum (see `airseal keygen --help`).
    #[arg(long)]
    pub weak_passphrase: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Runs `airseal init`.
pub fn run(args: &InitArgs) -> Result<ExitCode, CliError> {
    // The passphrase first: a weak one is refused before anything is created.
    let key_exists = args
        .dir
        .join(airseal_vendor::vendor_dir::KEYS_DIR)
        .join(airseal_vendor::vendor_dir::SIGNING_KEY_FILE)
        .exists();
    let passphrase = if key_exists {
        None
    } else {
        Some(keygen::new_passphrase(
            &args.passphrase,
            args.weak_passphrase,
        )?)
    };
    let done = VendorDir::init_folder(&args.dir, args.vendor_id.as_deref(), args.force)?;
    let vendor = &done.vendor;
    let id = &vendor.config().vendor;
    outln!(
        "vendor folder {} (vendor id {id:?})",
        vendor.root().display()
    );
    if !done.config_written {
        outln!(
            "configuration {} (kept as it is)",
            vendor.config_path().display()
        );
    }
    outln!(
        "ledger        {} ({})",
        vendor.ledger_path().display(),
        if done.ledger_created {
            "created"
        } else {
            "kept"
        }
    );
    match passphrase {
        None => outln!(
            "signing key   {} (kept)",
            vendor.signing_key_path().display()
        ),
        Some(passphrase) => {
            keygen::write_keys(
                &keygen::KeygenArgs {
                    out: vendor.keys_dir(),
                    force: false,
                    json: false,
                    weak_passphrase: args.weak_passphrase,
                    passphrase: args.passphrase.clone(),
                },
                &passphrase,
            )?;
        }
    }
    if vendor.config().products.is_empty() {
        outln!(
            "next: add a product (`airseal products add ID`, or a [products.<id>] table in \
             {}), then `airseal keys generate`",
            vendor.config_path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
