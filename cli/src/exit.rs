//! Exit codes and the CLI's error type.

use std::fmt;
use std::path::{Path, PathBuf};

/// Shown at the end of `airseal --help` and `airseal verify --help`.
pub const EXIT_CODES_HELP: &str = "\
EXIT CODES:
   0  success (for verify: the license is valid)
   1  error (bad arguments or input, wrong passphrase, refused to overwrite…)
   2  usage error (unknown option, missing argument)
   3  a file could not be read or written
  10  malformed: not a well-formed airseal license (armor, CBOR, COSE or claims)
  11  unsupported signature algorithm
  12  wrong type: a signed airseal object that is not a license
  13  unknown key id: signed by a key you did not pass with --public-key
  14  bad signature: the license was modified or forged
  15  wrong product
  16  not yet valid
  17  expired (grace period included)
  18  bound to another machine
  19  invalid public key
  20  typo: a product key's check symbol does not match (compare with the key sent)
  21  maintenance ended: this release is newer than the license's updates period
  22  signing key not trusted at the license's issue time (rotated out)
  23  revoked by the --revocations list
  24-26 clock guard: clock rolled back, stale revocation list, guard state
  27  bound to another device key (activated for another machine)
  28  activation response answers another request
  70  internal error: a bug in airseal (please report it)";

/// Exit code for I/O failures.
pub const IO: u8 = 3;

/// Everything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// A message and an exit code.
    Message(String, u8),
    /// A file that could not be read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CliError {
    /// A general error (exit 1).
    pub fn msg(m: impl Into<String>) -> Self {
        CliError::Message(m.into(), 1)
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Message(_, code) => *code,
            CliError::Io { .. } => IO,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Message(m, _) => f.write_str(m),
            CliError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::msg(e.to_string())
            }
        }
    )*};
}

from_display!(
    airseal_vendor::keyfile::KeyFileError,
    crate::passphrase::PassphraseError,
    airseal_vendor::issue::IssueError
);
