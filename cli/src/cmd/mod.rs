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
pub mod keygen;
pub mod keys;
pub mod ledger;
pub mod machine;
pub mod products;
pub mod release;
pub mod renew;
pub mod request;
pub mod revoke;
pub mod verify;

use std::path::Path;

use crate::passphrase::{PassphraseOptions, Purpose, obtain_passphrase};
use airseal_vendor::issue::Issuer;
use airseal_vendor::keyfile;

use crate::args::PassphraseArgs;
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
