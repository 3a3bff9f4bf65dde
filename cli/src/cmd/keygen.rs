//! `airseal keygen`: a new vendor signing key, encrypted at rest.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::passphrase::{PassphraseOptions, Purpose, obtain_passphrase};
use airseal_core::pubkey::encode_public_key;
use airseal_vendor::keyfile::{self, KdfParams};
use clap::Args;

use crate::args::PassphraseArgs;
use crate::error::CliError;

/// Arguments of `airseal keygen`.
#[derive(Debug, Args)]
#[command(
    after_help = "The private key is encrypted with Argon2id + XChaCha20-Poly1305 \
    (parameters in the file) and written with mode 0600. The passphrase needs at least 12 \
    characters, 6 of them different, unless --weak-passphrase. Back it up: a lost key cannot sign \
    renewals, and a leaked one can only be replaced by an app release that trusts a new \
    key. Keep it offline and sign on servers with issuing keys it certifies (`airseal \
    issuing-key create`; README, \"Rotating and revoking issuing keys\")."
)]
pub struct KeygenArgs {
    /// Folder for signing.key (private, encrypted) and signing.pub; created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace existing key files. The old key is then gone for good.
    #[arg(long)]
    pub force: bool,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
    /// Accept a passphrase under the minimum (12 characters, 6 of them different).
    #[arg(long)]
    pub weak_passphrase: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Runs `airseal keygen`.
pub fn run(args: &KeygenArgs) -> Result<ExitCode, CliError> {
    let secret_path = args.out.join("signing.key");
    let public_path = args.out.join("signing.pub");
    if !args.force {
        // Check both before writing either, so a refusal leaves nothing half-done.
        for p in [&secret_path, &public_path] {
            if p.exists() {
                return Err(CliError::msg(format!(
                    "{} already exists; pass --force to replace it (the old key is then lost)",
                    p.display()
                )));
            }
        }
    }
    let passphrase = new_passphrase(&args.passphrase, args.weak_passphrase)?;
    write_keys(args, &passphrase)
}

/// The passphrase of a new signing key, from the usual sources, checked for strength unless
/// `weak` (`--weak-passphrase`).
pub fn new_passphrase(
    pass: &PassphraseArgs,
    weak: bool,
) -> Result<zeroize::Zeroizing<String>, CliError> {
    let opts = PassphraseOptions {
        file: pass.passphrase_file.clone(),
    };
    let passphrase = obtain_passphrase(&opts, Purpose::Create)?;
    if !weak {
        keyfile::check_passphrase_strength(&passphrase)?;
    }
    Ok(passphrase)
}

/// Writes a new key pair into `args.out` under `passphrase`.
pub fn write_keys(args: &KeygenArgs, passphrase: &str) -> Result<ExitCode, CliError> {
    let secret_path = args.out.join("signing.key");
    let public_path = args.out.join("signing.pub");
    // A new folder for the key is owner-only (0700), like the vendor folder's keys/.
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder
        .create(&args.out)
        .map_err(|e| CliError::io(&args.out, e))?;
    let key = keyfile::generate_signing_key();
    let public = key.verifying_key().to_bytes();
    let text = keyfile::encrypt_signing_key(&key, passphrase.as_bytes(), KdfParams::DEFAULT)?;
    keyfile::write_secret_file(&secret_path, text.as_bytes(), args.force)?;
    keyfile::write_public_file(
        &public_path,
        encode_public_key(&public).as_bytes(),
        args.force,
    )?;
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "key_id": airseal_core::KeyId::of_public_key(&public).to_string(),
            "private_key": secret_path.display().to_string(),
            "public_key": public_path.display().to_string(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "key id      {}",
        airseal_core::KeyId::of_public_key(&public)
    );
    outln!(
        "private key {} (encrypted, mode 0600; keep it secret, back it up)",
        secret_path.display()
    );
    outln!(
        "public key  {} (ship it with your app)",
        public_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
