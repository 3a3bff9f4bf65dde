//! One module per subcommand.

pub mod activate;
pub mod customers;
pub mod demo;
pub mod import;
pub mod init;
pub mod inspect;
pub mod install;
pub mod issue;
pub mod issue_batch;
pub mod issuing_key;
pub mod keygen;
pub mod keys;
pub mod ledger;
pub mod machine;
pub mod products;
pub mod release;
pub mod renew;
pub mod request;
pub mod revoke;
pub mod serve;
pub mod tokens;
pub mod verify;

use std::path::Path;

use crate::passphrase::{PassphraseOptions, Purpose, obtain_issuing_passphrase, obtain_passphrase};
use airseal_vendor::issue::Issuer;
use airseal_vendor::issuing::{self, SignerChoice};
use airseal_vendor::keyfile;
use airseal_vendor::vendor_dir::VendorDir;

use crate::args::{PassphraseArgs, SignerArgs};
use crate::error::CliError;

/// Unlocks the signing key in `path` with the passphrase from the usual sources.
pub fn unlock_key(path: &Path, pass: &PassphraseArgs) -> Result<Issuer, CliError> {
    let text = keyfile::read_signing_key_file(path)?;
    let opts = PassphraseOptions {
        file: pass.passphrase_file.clone(),
    };
    let passphrase = obtain_passphrase(&opts, Purpose::Unlock)?;
    keyfile::decrypt_signing_key(&text, passphrase.as_bytes())
        .map(Issuer::new)
        .map_err(|e| CliError::from(e).at(path))
}

/// The key a signing command signs with ([`issuing::choose_signer`]): the issuing key of
/// `signer`, else the root key file `root_key`, else the vendor folder's default issuing key
/// (unless `--root`), else its root key.
pub fn signer_choice(
    vendor: Option<&VendorDir>,
    root_key: Option<&Path>,
    signer: &SignerArgs,
) -> Result<SignerChoice, CliError> {
    issuing::choose_signer(vendor, root_key, signer.issuing_key.as_deref(), signer.root).ok_or_else(
        || {
            CliError::msg(
                "--key or --issuing-key is required outside a vendor folder (see `airseal init`)",
            )
        },
    )
}

/// Unlocks the key `choice` names, with the passphrase from the usual sources, once
/// [`issuing::check_signer`] accepts it (a root key file that is the vendor folder's root, an
/// issuing key the vendor has not revoked): every signing command comes through here.
pub fn unlock_choice(
    vendor: Option<&VendorDir>,
    choice: &SignerChoice,
    pass: &PassphraseArgs,
) -> Result<Issuer, CliError> {
    issuing::check_signer(vendor, choice).map_err(|e| match (e, choice) {
        // The root key file's own trouble (permissions, format) named with its path, as
        // unlocking it names it.
        (issuing::IssuingError::KeyFile(k), SignerChoice::Root(file)) => CliError::from(k).at(file),
        (e, _) => CliError::from(e),
    })?;
    match choice {
        SignerChoice::Issuing(dir) => unlock_issuing(dir, pass),
        SignerChoice::Root(file) => unlock_key(file, pass),
    }
}

/// [`signer_choice`], then [`unlock_choice`].
pub fn unlock_signer(
    vendor: Option<&VendorDir>,
    root_key: Option<&Path>,
    signer: &SignerArgs,
    pass: &PassphraseArgs,
) -> Result<Issuer, CliError> {
    unlock_choice(vendor, &signer_choice(vendor, root_key, signer)?, pass)
}

/// Unlocks the issuing key in folder `dir` with the passphrase from `--passphrase-file`,
/// `AIRSEAL_ISSUING_PASSPHRASE`, `AIRSEAL_PASSPHRASE` or a prompt (the folder was read by
/// [`issuing::check_signer`] before, so nobody types it for nothing).
fn unlock_issuing(dir: &Path, pass: &PassphraseArgs) -> Result<Issuer, CliError> {
    let opts = PassphraseOptions {
        file: pass.passphrase_file.clone(),
    };
    let passphrase = obtain_issuing_passphrase(&opts, Purpose::Unlock)?;
    Ok(issuing::unlock(dir, passphrase.as_bytes())?)
}
