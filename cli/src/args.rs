//! Argument groups shared by several commands, so each is worded (and behaves) once: where
//! the vendor folder is, where the passphrase comes from, the instant a command acts at, and
//! the help of `--json`. (The QR output group is `crate::qr::QrArgs`, beside its renderer.)

use std::path::{Path, PathBuf};

use airseal_vendor::time::{EndOfDay, parse_time};
use airseal_vendor::vendor_dir::{VENDOR_ENV, VendorDir};
use clap::Args;

use crate::error::CliError;

/// Help of every command's `--json`: one document on standard output, shapes in README.
pub const JSON_HELP: &str = "Print the result as one JSON document on standard output \
    (README, \"JSON output\", lists the fields)";

/// Where the vendor folder is.
#[derive(Debug, Clone, Args)]
pub struct VendorArgs {
    /// The vendor folder (default: $AIRSEAL_VENDOR, else the nearest folder holding
    /// airseal.toml at or above the current one).
    #[arg(long, value_name = "DIR", global = true)]
    pub vendor: Option<PathBuf>,
    /// Use the ledger in this PostgreSQL database (postgres://USER:PASSWORD@HOST/DB) instead
    /// of the vendor folder's ledger.sqlite3; it must hold the folder's ledger (copy it there
    /// with `airseal ledger migrate --to URL`). Default: $AIRSEAL_DATABASE.
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
}

/// The variable `--database` defaults to.
pub const DATABASE_ENV: &str = "AIRSEAL_DATABASE";

impl VendorArgs {
    /// Finds and opens the vendor folder, with its ledger where `--database` (or
    /// $AIRSEAL_DATABASE) says.
    pub fn open(&self) -> Result<VendorDir, CliError> {
        let cwd = std::env::current_dir().map_err(|e| CliError::io(Path::new("."), e))?;
        let vendor =
            VendorDir::discover(self.vendor.as_deref(), std::env::var_os(VENDOR_ENV), &cwd)
                .map_err(CliError::from)?;
        Ok(vendor.with_database(self.database_url()))
    }

    /// The PostgreSQL URL of `--database`, else of $AIRSEAL_DATABASE (an empty one is
    /// none). Read here, not by clap's `env`, so `--help` never shows its password.
    pub fn database_url(&self) -> Option<String> {
        self.database
            .clone()
            .or_else(|| std::env::var(DATABASE_ENV).ok())
            .filter(|u| !u.is_empty())
    }
}

/// How commands that need the signing key get its passphrase.
#[derive(Debug, Clone, Default, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from the first line of FILE. Otherwise the AIRSEAL_PASSPHRASE
    /// environment variable is used, and failing that a prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Which key a signing command signs with (`SPEC.md` §18): the root signing key, or an
/// issuing key the root certified.
#[derive(Debug, Clone, Default, Args)]
pub struct SignerArgs {
    /// Sign with the issuing key in DIR (made by `airseal issuing-key create`) instead of
    /// the root signing key; its passphrase comes from --passphrase-file, else
    /// AIRSEAL_ISSUING_PASSPHRASE, else AIRSEAL_PASSPHRASE, else a prompt. Refused when the
    /// vendor folder records it revoked. Default: the vendor folder's `issuing_key` in
    /// airseal.toml, if set.
    #[arg(long, value_name = "DIR")]
    pub issuing_key: Option<PathBuf>,
    /// Sign with the root signing key even though airseal.toml names a default issuing key.
    #[arg(long, conflicts_with = "issuing_key")]
    pub root: bool,
}

/// The instant a command acts at: the system clock, or `--now` (tests, and checking what a
/// file will say on a given day).
#[derive(Debug, Clone, Default, Args)]
pub struct NowArgs {
    /// Act as of this instant (RFC 3339, or YYYY-MM-DD for its start) instead of the clock.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

impl NowArgs {
    /// The instant, in seconds since 1970.
    pub fn instant(&self) -> Result<i64, CliError> {
        match &self.now {
            Some(s) => Ok(parse_time("--now", s, EndOfDay::No)?),
            None => Ok(chrono::Utc::now().timestamp()),
        }
    }
}
