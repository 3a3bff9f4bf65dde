//! The CLI's one error type: every library error comes in through its own `From`, which
//! picks the exit code from the variant and adds the remedy text (the flag to pass, the
//! command to run). The libraries name the failure and carry data; only this file knows
//! about flags. Exit codes follow [`EXIT_CODES_HELP`] (also in README); nothing here reads
//! a message to guess a code.

use std::fmt;
use std::path::{Path, PathBuf};

use airseal_core::productkey::PatternError::TooWeak;
use airseal_serve::ServeError;
use airseal_vendor::activate::ActivationError;
use airseal_vendor::batch::BatchError;
use airseal_vendor::import::ImportError;
use airseal_vendor::import::export::ExportError;
use airseal_vendor::issue::recorded::RecordedError;
use airseal_vendor::issue::{IssueError, ScopeError};
use airseal_vendor::issuing::IssuingError;
use airseal_vendor::keyfile::KeyFileError;
use airseal_vendor::keys::GeneratorError;
use airseal_vendor::keys::classify::ClassifyError;
use airseal_vendor::keys::ops::KeyOpError;
use airseal_vendor::keys::source::SourceError;
use airseal_vendor::ledger::{CustomerError, KeyStatus, LedgerError};
use airseal_vendor::problem::{ErrorName, Named as _};
use airseal_vendor::renew::RenewError;
use airseal_vendor::revoke::{ExportError as ListExportError, RevokeError};
use airseal_vendor::template::TemplateError;
use airseal_vendor::tokens::TokenError;
use airseal_vendor::vendor_dir::{SearchOrigin, VENDOR_ENV, VendorDirError};
use airseal_verify::app::device::DeviceError;

use crate::passphrase::PassphraseError;

/// Shown at the end of `airseal --help` and `airseal verify --help`.
pub const EXIT_CODES_HELP: &str = "\
EXIT CODES (10-36: with --json, the same number is \"code\" and the name \"error\"):
   0  success (for verify: the license is valid)
   1  error (bad arguments or input, wrong passphrase, refused to overwrite…)
   2  usage error (unknown option, missing argument)
   3  a file could not be read or written
   4  import: some rows were rejected (the others were imported; see the report)
  10  malformed: not a well-formed airseal file (armor, CBOR, COSE or claims), or too large
  11  unsupported_algorithm: unsupported signature algorithm
  12  wrong_type: a signed airseal object of another kind than the command reads
  13  unknown_key_id: signed by a key (or a root) you did not pass with --public-key
  14  bad_signature: the file was modified or forged
  15  wrong_product: the license is for another product
  16  not_yet_valid: the license is not valid yet
  17  expired: the license expired (grace period included)
  18  wrong_machine: bound to another machine
  19  invalid_public_key: not a usable public key
  20  typo: a product key's check symbol does not match (compare with the key sent)
  21  maintenance_ended: this release is newer than the license's updates period
  22  key_out_of_validity: signing key not trusted at the issue time (rotated out)
  23  revoked: revoked by the --revocations list (keys inspect: a revoked key)
  24  clock_rolled_back: the clock went back (clock guard)
  25  stale_revocation_list: older than a list already accepted (clock guard)
  26  guard_state: the clock guard's state file is unusable
  27  wrong_device: bound to another device key (activated for another machine)
  28  wrong_request: an activation response that answers another request
  29  released: this machine gave the license back (it does not come back)
  30  stale_update: not newer than the license already installed
  31  certificate_out_of_validity: the issuing key's certificate does not cover the issue time
  32  certificate_product_not_allowed: the certificate does not allow this product
  33  certificate_type_not_allowed: the certificate does not allow this kind of object
  34  issuing_key_revoked: the issuing key is revoked by the revocation list (signing
      commands: the vendor folder records the issuing key asked to sign as revoked)
  35  revocation_seq_out_of_range: a list numbered outside its signer's certificate range
  36  bad_certificate_signature: the certificate was not signed by the root it names
  70  internal error: a bug in airseal (please report it)";

/// General error: bad input, a refusal, a wrong passphrase.
pub const GENERAL: u8 = 1;
/// Usage error: a flag's value cannot be parsed.
pub const USAGE: u8 = 2;
/// Exit code for I/O failures.
pub const IO: u8 = 3;
/// `import` finished but rejected some rows.
pub const IMPORT_REJECTED: u8 = 4;
/// Not a well-formed airseal file (also: too large to be one).
pub const MALFORMED: u8 = 10;
/// A file given as a public key is not one.
pub const INVALID_PUBLIC_KEY: u8 = 19;
/// A product key's check symbol does not match.
pub const TYPO: u8 = 20;
/// A signed airseal object of another type than the command reads.
pub const WRONG_TYPE: u8 = 12;
/// An issuing key revoked (by a list an app loaded, or in the vendor's records).
pub const ISSUING_KEY_REVOKED: u8 = 34;

/// Everything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// A message the CLI wrote itself (bad flag values, missing options) and its exit code.
    Message(String, u8),
    /// A file that could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another error, said about something (a file, usually): `CONTEXT: ERROR`, same code.
    Context {
        /// What the error is about.
        context: String,
        /// The error.
        source: Box<CliError>,
    },
    /// Getting the passphrase failed.
    Passphrase(PassphraseError),
    /// A signing key file could not be read, written or unlocked.
    KeyFile(KeyFileError),
    /// The vendor folder could not be found, read or created.
    VendorDir(VendorDirError),
    /// The ledger refused or failed.
    Ledger(LedgerError),
    /// A file could not be imported.
    Import(ImportError),
    /// A license could not be issued.
    Issue(IssueError),
    /// A license could not be issued and recorded.
    Recorded(RecordedError),
    /// A batch of keys could not be generated.
    Batch(BatchError),
    /// A key generator could not be set up.
    Generator(GeneratorError),
    /// New keys cannot be made as asked.
    Source(SourceError),
    /// A key could not be classified (the ledger, or the vendor's public key).
    Classify(ClassifyError),
    /// The licenses of an import could not be issued.
    Export(ExportError),
    /// A license template could not be found or read.
    Template(TemplateError),
    /// An activation request or deactivation proof was refused.
    Activation(ActivationError),
    /// A revocation (or its undo) was refused.
    Revoke(RevokeError),
    /// A key's machines could not be renewed.
    Renew(RenewError),
    /// A signed object failed verification.
    Verify(airseal_verify::Error),
    /// The app-side data folder failed.
    Device(DeviceError),
    /// A key could not be suspended, reinstated or updated.
    KeyOp(KeyOpError),
    /// A customer could not be added.
    Customer(CustomerError),
    /// An issuing key could not be certified, written or read.
    Issuing(IssuingError),
    /// A revocation list could not be exported.
    ListExport(ListExportError),
    /// A token could not be made or revoked.
    Token(TokenError),
    /// The vendor service could not start or stopped with an error.
    Serve(ServeError),
    /// An object could not be made into a QR code (too large for one).
    Qr(airseal_qr::QrError),
}

impl CliError {
    /// A general error (exit 1).
    pub fn msg(m: impl Into<String>) -> Self {
        CliError::Message(m.into(), GENERAL)
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// This error, said about `path`.
    pub fn at(self, path: &Path) -> Self {
        // A ledger error about this very file names it already: said once.
        if let CliError::Ledger(
            LedgerError::Missing { path: p }
            | LedgerError::Empty { path: p }
            | LedgerError::NotALedger { path: p }
            | LedgerError::Open { path: p, .. }
            | LedgerError::Foreign { path: p, .. },
        ) = &self
        {
            if p == path {
                return self;
            }
        }
        // …and one about another file names that file, not the ledger; one about a
        // PostgreSQL ledger names its database.
        if let CliError::Ledger(
            LedgerError::DamagedRecord { .. }
            | LedgerError::Connect { .. }
            | LedgerError::NotAFile { .. },
        ) = &self
        {
            return self;
        }
        self.about(path.display().to_string())
    }

    /// This error, said about `context`.
    pub fn about(self, context: impl Into<String>) -> Self {
        CliError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The stable name and code of a failure the vendor library names (`airseal_vendor::problem`),
    /// as the service reports it too: printed with `--json` by the commands the service
    /// mirrors (`activate`, `deactivate`).
    pub fn error_name(&self) -> Option<ErrorName> {
        match self {
            CliError::Context { source, .. } => source.error_name(),
            CliError::Activation(e) => Some(e.named()),
            CliError::VendorDir(e) => Some(e.named()),
            CliError::ListExport(e) => Some(e.named()),
            CliError::Renew(e) => Some(e.named()),
            CliError::Template(e) => Some(e.named()),
            CliError::Recorded(e) => Some(e.named()),
            CliError::Revoke(e) => Some(e.named()),
            CliError::KeyOp(e) => Some(e.named()),
            CliError::Customer(e) => Some(e.named()),
            CliError::Ledger(e) => Some(e.named()),
            CliError::Verify(e) => Some(e.named()),
            CliError::Token(e) => Some(e.named()),
            _ => None,
        }
    }

    /// The process exit code (see [`EXIT_CODES_HELP`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Message(_, code) => *code,
            // A refusal to overwrite is not a failed write: the table's "refused to
            // overwrite" (1).
            CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                GENERAL
            }
            CliError::Io { .. } => IO,
            CliError::Context { source, .. } => source.exit_code(),
            CliError::Passphrase(e) => match e {
                PassphraseError::ReadFile { .. } | PassphraseError::Prompt(_) => IO,
                _ => GENERAL,
            },
            CliError::KeyFile(e) => key_file_code(e),
            CliError::VendorDir(e) => e.named().code,
            CliError::Ledger(e) => ledger_code(e),
            CliError::Import(e) => match e {
                ImportError::Ledger(l) => ledger_code(l),
                _ => GENERAL,
            },
            CliError::Issue(_) | CliError::Generator(_) | CliError::Source(_) => GENERAL,
            CliError::Issuing(e) => match e {
                IssuingError::Io { .. } => IO,
                IssuingError::NotACertificate { .. } => MALFORMED,
                IssuingError::WrongType { .. } => WRONG_TYPE,
                IssuingError::Revoked { .. } => ISSUING_KEY_REVOKED,
                IssuingError::UnsafeFolder { .. } => USAGE,
                IssuingError::NotRecorded { .. } => GENERAL,
                IssuingError::KeyFile(k) | IssuingError::Unlock { source: k, .. } => {
                    key_file_code(k)
                }
                IssuingError::Ledger(l) => ledger_code(l),
                _ => GENERAL,
            },
            CliError::ListExport(e) => e.named().code,
            CliError::Batch(e) => match e {
                BatchError::Io { .. } => IO,
                BatchError::Ledger(l) => ledger_code(l),
                _ => GENERAL,
            },
            // The vendor library's one mapping (`airseal_vendor::problem`): the service
            // answers the same name and code.
            CliError::Activation(e) => e.named().code,
            CliError::Renew(e) => e.named().code,
            CliError::Template(e) => e.named().code,
            CliError::Recorded(e) => e.named().code,
            CliError::Classify(e) => match e {
                ClassifyError::Ledger(l) => ledger_code(l),
                ClassifyError::PublicKeyIo { .. } => IO,
                ClassifyError::PublicKey { .. } => INVALID_PUBLIC_KEY,
                _ => GENERAL,
            },
            CliError::Export(e) => match e {
                ExportError::Io { .. } => IO,
                ExportError::Template(t) => template_code(t),
                ExportError::Ledger(l) => ledger_code(l),
                ExportError::NotRecorded { source, .. } => ledger_code(source),
                _ => GENERAL,
            },
            CliError::Revoke(e) => e.named().code,
            CliError::Verify(e) => e.code(),
            CliError::KeyOp(e) => e.named().code,
            CliError::Customer(e) => e.named().code,
            CliError::Token(e) => match e {
                TokenError::Ledger(l) => ledger_code(l),
                _ => GENERAL,
            },
            CliError::Device(e) => match e {
                DeviceError::Verify(v) => v.code(),
                DeviceError::Io { .. } => IO,
                _ => GENERAL,
            },
            CliError::Serve(e) => match e {
                ServeError::Ledger(l) => ledger_code(l),
                ServeError::VendorDir(VendorDirError::Io { .. }) => IO,
                ServeError::VendorDir(VendorDirError::Ledger(l)) => ledger_code(l),
                ServeError::Tls(_) => IO,
                _ => GENERAL,
            },
            CliError::Qr(_) => GENERAL,
        }
    }
}

fn key_file_code(e: &KeyFileError) -> u8 {
    match e {
        KeyFileError::Io { .. } => IO,
        _ => GENERAL,
    }
}

fn template_code(e: &TemplateError) -> u8 {
    e.named().code
}

/// A ledger that is gone or emptied is a file that cannot be read (3); another folder's
/// ledger reads fine: a refusal (1). The vendor library's mapping, shared with the service.
fn ledger_code(e: &LedgerError) -> u8 {
    e.named().code
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Message(m, _) => f.write_str(m),
            CliError::Io { path, source } => {
                write!(f, "{}: {source}", path.display())?;
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    f.write_str("; pass --force to replace it")?;
                }
                Ok(())
            }
            CliError::Context { context, source } => write!(f, "{context}: {source}"),
            CliError::Passphrase(e) => e.fmt(f),
            CliError::KeyFile(e) => {
                e.fmt(f)?;
                key_file_remedy(e, f)
            }
            CliError::VendorDir(e) => vendor_dir(e, f),
            CliError::Ledger(e) => ledger(e, f),
            CliError::Import(e) => import(e, f),
            CliError::Issue(e) => {
                e.fmt(f)?;
                match e {
                    IssueError::Scope(s) => scope_remedy(s, f),
                    _ => Ok(()),
                }
            }
            CliError::Issuing(e) => {
                e.fmt(f)?;
                match e {
                    IssuingError::Exists { .. } => f.write_str("; pass --force to replace it"),
                    IssuingError::NotARoot { .. } => f.write_str(
                        "; pass the root signing key (keys/signing.key) with --root-key",
                    ),
                    IssuingError::UnknownProduct { .. } => f.write_str(
                        "; `airseal products list` shows them, `airseal products add` adds one",
                    ),
                    IssuingError::NotRecorded { dir, .. } => write!(
                        f,
                        "; record its certificate first: `airseal issuing-key import {}`",
                        dir.display()
                    ),
                    IssuingError::UnsafeFolder { .. } => f.write_str(
                        "; give --out a folder of its own, outside keys/ and the vendor \
                         folder's records (e.g. --out issuing/2027-q1)",
                    ),
                    IssuingError::NoDays => f.write_str(" (--days)"),
                    IssuingError::Days(_) => f.write_str(" (--days)"),
                    IssuingError::Revoked { .. } => f.write_str(
                        "; sign with another issuing key (--issuing-key DIR, or issuing_key in \
                         airseal.toml; `airseal issuing-key create` certifies a new one) or with \
                         the root key (--root)",
                    ),
                    IssuingError::NotTheRoot { .. } => f.write_str(
                        "; certify and sign with the vendor folder's root key, keys/signing.key \
                         (its public key, keys/signing.pub, is what apps trust)",
                    ),
                    IssuingError::ForeignCertificate { .. } => f.write_str(
                        "; only certificates this vendor folder's root key signed can be imported",
                    ),
                    IssuingError::WrongType { .. } => {
                        f.write_str("; `airseal inspect FILE` shows what it is")
                    }
                    IssuingError::Unlock {
                        source: KeyFileError::WrongPassphrase,
                        ..
                    } => f.write_str(
                        " (the issuing key's own passphrase: check --passphrase-file or the \
                         AIRSEAL_ISSUING_PASSPHRASE environment variable)",
                    ),
                    // A key file's own refusals (loose permissions, an existing file…) keep
                    // their remedies whichever key they are about.
                    IssuingError::KeyFile(k) | IssuingError::Unlock { source: k, .. } => {
                        key_file_remedy(k, f)
                    }
                    _ => Ok(()),
                }
            }
            CliError::ListExport(e) => {
                e.fmt(f)?;
                match e {
                    ListExportError::RootRequired { .. } => f.write_str(
                        "; export this list with the root key: `airseal revocations export \
                         --root --out FILE` on the machine that holds keys/signing.key",
                    ),
                    ListExportError::SignerRevoked { .. }
                    | ListExportError::SeqOutOfRange { .. } => f.write_str(
                        "; sign it with the root key (--root) or an issuing key certified \
                         since (--issuing-key DIR; `airseal issuing-key create --can \
                         revocations` certifies a new list-signing key)",
                    ),
                    ListExportError::Scope(s) => scope_remedy(s, f),
                    _ => Ok(()),
                }
            }
            CliError::Recorded(e) => {
                e.fmt(f)?;
                match e {
                    RecordedError::UnknownProduct { product } => write!(
                        f,
                        "; add a [products.{product}] table to it, or pass --no-ledger to sign \
                         without the vendor folder's checks"
                    ),
                    RecordedError::KeyTypo { .. } => {
                        f.write_str("; compare it with the key sent to the customer")
                    }
                    RecordedError::UnknownKey { .. } => f.write_str(
                        "; check it with `airseal keys inspect KEY` (import or generate keys \
                         first)",
                    ),
                    RecordedError::KeyNotActive {
                        status: KeyStatus::Revoked,
                        key,
                        ..
                    } => write!(
                        f,
                        "; `airseal revoke --undo --key {key}` takes the revocation back"
                    ),
                    RecordedError::KeyNotActive {
                        status: KeyStatus::Suspended,
                        key,
                        ..
                    } => write!(f, "; `airseal keys reinstate {key}` lifts the suspension"),
                    _ => Ok(()),
                }
            }
            CliError::Generator(e) => {
                e.fmt(f)?;
                weak_pattern_remedy(matches!(e, GeneratorError::Pattern(TooWeak { .. })), f)
            }
            CliError::Source(e) => {
                if matches!(e, SourceError::SeedForSignedKeys) {
                    f.write_str("--seed: ")?;
                }
                e.fmt(f)?;
                if let SourceError::Scope(s) = e {
                    return scope_remedy(s, f);
                }
                weak_pattern_remedy(
                    matches!(
                        e,
                        SourceError::Pattern {
                            error: TooWeak { .. },
                            ..
                        } | SourceError::Generator(GeneratorError::Pattern(TooWeak { .. }))
                    ),
                    f,
                )
            }
            CliError::Batch(e) => {
                e.fmt(f)?;
                match e {
                    BatchError::AlreadyExists { .. } => f.write_str("; pass --force to replace it"),
                    BatchError::UnknownCustomer { .. } => f.write_str(
                        " (`airseal customers list` shows them, `airseal customers add` adds one)",
                    ),
                    _ => Ok(()),
                }
            }
            CliError::Activation(e) => {
                e.fmt(f)?;
                match e {
                    ActivationError::KeyTypo { .. } => {
                        f.write_str("; compare it with the key sent to the customer")
                    }
                    ActivationError::NoTemplate { .. } => f.write_str(
                        " (set activation_template in airseal.toml, or generate keys with \
                         --template)",
                    ),
                    ActivationError::TermEnded { key, .. } => write!(
                        f,
                        "; to sell more time, `airseal keys update {key} --extend DAYS` (or \
                         --expires DATE)"
                    ),
                    ActivationError::KeyBlocked { key, .. } => write!(
                        f,
                        "; `airseal keys reinstate {key}` lifts the suspension, then activate \
                         again"
                    ),
                    ActivationError::Issue(IssueError::Scope(s)) => scope_remedy(s, f),
                    ActivationError::OtherMachine { license_id, .. } => write!(
                        f,
                        " (`airseal ledger activations --license {license_id} --history` shows \
                         the seat's machine; `airseal deactivate --activation ID --reason TEXT` \
                         frees it)"
                    ),
                    _ => Ok(()),
                }
            }
            CliError::Renew(e) => {
                e.fmt(f)?;
                match e {
                    RenewError::AlreadyExists { .. } => f.write_str("; pass --force to replace it"),
                    RenewError::Issue(IssueError::Scope(s)) => scope_remedy(s, f),
                    RenewError::AmbiguousProduct { .. } => f.write_str(" with --product"),
                    RenewError::TermEnded { key, .. } => write!(
                        f,
                        " (airseal keys update {key} --extend DAYS, or --expires DATE)"
                    ),
                    RenewError::KeySuspended { key, .. } => {
                        write!(f, " (airseal keys reinstate {key})")
                    }
                    RenewError::NoLiveSeats { .. } => f.write_str(
                        "; machines activate with a request (airseal activate) until they hold a \
                         seat",
                    ),
                    _ => Ok(()),
                }
            }
            CliError::Template(e) => {
                e.fmt(f)?;
                match e {
                    TemplateError::NoProduct { .. } => f.write_str(": pass --product"),
                    _ => Ok(()),
                }
            }
            CliError::Classify(e) => e.fmt(f),
            CliError::Export(e) => {
                e.fmt(f)?;
                match e {
                    ExportError::AlreadyExists { out_dir, .. } => write!(
                        f,
                        "; pass --force to replace the files in {}",
                        out_dir.display()
                    ),
                    ExportError::NotRecorded { .. } => f.write_str(
                        ". Until it does, `airseal ledger licenses` does not list them; once the \
                         ledger is writable again, run this command again with --force to issue \
                         and record a fresh set over them",
                    ),
                    _ => Ok(()),
                }
            }
            CliError::Revoke(e) => revoke(e, f),
            // Failures that carry instants read as dates (time::verify_error).
            CliError::Verify(e) | CliError::Device(DeviceError::Verify(e)) => {
                match crate::time::verify_error(e) {
                    Some(m) => f.write_str(&m),
                    None => e.fmt(f),
                }
            }
            CliError::Device(e) => e.fmt(f),
            CliError::KeyOp(e) => key_op(e, f),
            CliError::Serve(e) => match e {
                ServeError::VendorDir(v) => vendor_dir(v, f),
                ServeError::Ledger(l) => ledger(l, f),
                ServeError::RootKey { .. } => {
                    e.fmt(f)?;
                    f.write_str(
                        ". Certify one with `airseal issuing-key create --out DIR` and pass \
                         --issuing-key DIR (or set issuing_key in airseal.toml); to sign with \
                         the root anyway, pass --allow-root-key",
                    )
                }
                // The filter comes from the environment variable (the library does not know).
                ServeError::Logging(_) => {
                    f.write_str("AIRSEAL_LOG: ")?;
                    e.fmt(f)
                }
                ServeError::Tls(_) => {
                    e.fmt(f)?;
                    f.write_str(
                        ". --tls-cert takes the PEM certificate chain (server certificate \
                         first), --tls-key its PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    )
                }
                _ => e.fmt(f),
            },
            CliError::Customer(e) => {
                e.fmt(f)?;
                match e {
                    CustomerError::Duplicate { id, .. } => {
                        write!(
                            f,
                            "; link keys to it with `airseal keys update KEY --customer {id}`"
                        )
                    }
                    _ => Ok(()),
                }
            }
            CliError::Token(e) => token(e, f),
            CliError::Qr(e) => e.fmt(f),
        }
    }
}

/// Token refusals, with the command that does what was meant.
fn token(e: &TokenError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        TokenError::Ledger(l) => return ledger(l, f),
        TokenError::BadExpiry(IssueError::InvalidField { message, .. }) => {
            return write!(f, "--expires: {message}");
        }
        _ => fmt::Display::fmt(e, f)?,
    }
    match e {
        TokenError::Duplicate { .. } => f.write_str(
            " (names are never reused: choose another; `airseal tokens list` shows them)",
        ),
        TokenError::Unknown { .. } => f.write_str(" (`airseal tokens list` shows them)"),
        TokenError::ExpiryPassed { .. } => f.write_str("; give a later --expires"),
        _ => Ok(()),
    }
}

/// Key operations' errors, with the flag that fixes them. A term the library names is the
/// `keys update` flag of the same name.
fn key_op(e: &KeyOpError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        KeyOpError::Invalid { field, message } => {
            let flag = match *field {
                "features" => "--add-feature/--remove-feature".to_string(),
                // Issuing's name for one feature's value: only an added one can be wrong.
                "feature" => "--add-feature".to_string(),
                "metadata" => "--meta/--remove-meta".to_string(),
                "terms" => "the key's terms".to_string(),
                other => format!("--{}", other.replace('_', "-")),
            };
            write!(f, "{flag}: {message}")
        }
        KeyOpError::AmbiguousKey { .. } => {
            fmt::Display::fmt(e, f)?;
            f.write_str(" with --product")
        }
        KeyOpError::EndInPast { key, .. } => {
            fmt::Display::fmt(e, f)?;
            write!(
                f,
                "; to stop a key, `airseal keys suspend {key}` (until reinstated) or `airseal \
                 revoke --key {key}` (for good)"
            )
        }
        KeyOpError::UnknownCustomer { .. } => {
            fmt::Display::fmt(e, f)?;
            f.write_str(" (`airseal customers list` shows them, `airseal customers add` adds one)")
        }
        _ => fmt::Display::fmt(e, f),
    }
}

/// A key file's refusal: the flag or command that fixes it.
fn key_file_remedy(e: &KeyFileError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        KeyFileError::AlreadyExists { .. } => f.write_str("; pass --force to replace it"),
        KeyFileError::WeakPassphrase { .. } => f.write_str(
            "; choose a longer one (a few words), or pass --weak-passphrase to accept it",
        ),
        KeyFileError::LoosePermissions { path, .. } => write!(
            f,
            "; restrict it with `chmod 600 {}`, and if others could read it, consider the key \
             leaked and rotate it",
            path.display()
        ),
        KeyFileError::WrongPassphrase => {
            f.write_str(" (check --passphrase-file or the AIRSEAL_PASSPHRASE environment variable)")
        }
        _ => Ok(()),
    }
}

/// An issuing key asked to sign what its certificate does not allow: the way out.
fn scope_remedy(e: &ScopeError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        ScopeError::OutOfWindow { .. } => f.write_str(
            "; certify a new issuing key (`airseal issuing-key create`) or sign with the root \
             key (--root)",
        ),
        _ => f.write_str(
            "; sign with an issuing key certified for it (`airseal issuing-key create \
             --products … --can …`) or with the root key (--root)",
        ),
    }
}

/// The flag that accepts a pattern with too little entropy.
fn weak_pattern_remedy(too_weak: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if too_weak {
        f.write_str(" (or pass --allow-weak)")
    } else {
        Ok(())
    }
}

/// The vendor folder's errors, with the command or flag that fixes them.
fn vendor_dir(e: &VendorDirError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(e, f)?;
    match e {
        VendorDirError::NotFound { searched, origin } => {
            let first = searched
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match origin {
                SearchOrigin::Flag | SearchOrigin::Env => {
                    write!(f, "; create a vendor folder with `airseal init {first}`")
                }
                SearchOrigin::WorkingDir => write!(
                    f,
                    "; run `airseal init` to create one here, or pass --vendor DIR or set \
                     {VENDOR_ENV}"
                ),
            }
        }
        VendorDirError::UnknownProduct { .. } => {
            f.write_str("; `airseal products list` shows them, `airseal products add` adds one")
        }
        VendorDirError::AlreadyInitialized { .. } => f.write_str(
            "; pass --force to create only what is missing (airseal.toml, the ledger and keys \
             are kept)",
        ),
        VendorDirError::VendorIdChange { .. } => {
            f.write_str("; to change it, edit the vendor line of airseal.toml yourself")
        }
        VendorDirError::Ledger(e) => ledger_remedy(e, f),
        _ => Ok(()),
    }
}

/// Ledger errors, with the way out of a lost or replaced ledger.
fn ledger(e: &LedgerError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(e, f)?;
    ledger_remedy(e, f)
}

fn ledger_remedy(e: &LedgerError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        LedgerError::Missing { .. } | LedgerError::Empty { .. } => f.write_str(
            ". Restore the latest backup with `airseal ledger restore FILE` (backups are made \
             with `airseal ledger backup --out FILE`). With no backup at all, start a new, empty \
             ledger deliberately: remove ledger.id from the vendor folder, then run \
             `airseal init --force`",
        ),
        LedgerError::Foreign { .. } => f.write_str(
            ". Put this folder's own ledger back with `airseal ledger restore FILE` (a backup \
             of it), or use the vendor folder this ledger belongs to",
        ),
        LedgerError::OutputExists { .. } => f.write_str("; pass --force to replace it"),
        LedgerError::TargetNotEmpty { .. } => {
            f.write_str("; pass --force to replace its contents (a file is kept aside)")
        }
        LedgerError::NotAFile { .. } => f.write_str(
            ". Back it up with `pg_dump --format=custom DATABASE > FILE` and restore it with \
             `pg_restore --clean --dbname DATABASE FILE`, or copy it to a SQLite file first \
             with `airseal ledger migrate --from URL --to FILE`",
        ),
        LedgerError::Connect { .. } => f.write_str(
            "; check that PostgreSQL is running and the URL (--database or AIRSEAL_DATABASE) \
             names a database this user may open",
        ),
        LedgerError::DamagedRecord { .. } => f.write_str(
            ". It keeps what a ledger restore must not forget (certificates, revoked issuing \
             keys, the highest serial and list range): put it back from a backup of the vendor \
             folder, or correct the named line by hand",
        ),
        _ => Ok(()),
    }
}

/// Revocation refusals, with the flag or command that does what was meant.
fn revoke(e: &RevokeError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(e, f)?;
    match e {
        RevokeError::UnknownLicense { .. } => f.write_str(
            "; check the id with `airseal ledger licenses`, or pass --external if it was \
             issued elsewhere",
        ),
        RevokeError::UnknownKey { .. } => {
            f.write_str("; check it with `airseal keys inspect KEY` or `airseal ledger keys`")
        }
        RevokeError::CutoffLowered { product, .. } => write!(
            f,
            "; to lower it on purpose, run `airseal revoke --undo --product {product} \
             --issued-before DATE`"
        ),
        RevokeError::UnknownIssuingKey { .. } => f.write_str(
            "; `airseal issuing-key list` shows the certified issuing keys; a key certified \
                 elsewhere (another copy of the vendor folder) is recorded with `airseal \
                 issuing-key import DIR` (its folder or issuing.cert), then revoked",
        ),
        RevokeError::CutoffRaised { .. } => {
            f.write_str("; raise a cutoff with `airseal revoke` (without --undo)")
        }
        _ => Ok(()),
    }
}

/// Import errors, with the `--map` that resolves them.
fn import(e: &ImportError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(e, f)?;
    match e {
        ImportError::NoKeyColumn { .. } => {
            f.write_str(". If the keys are in another column, say which with --map 'COLUMN=key'")
        }
        ImportError::AmbiguousColumn {
            column, candidates, ..
        } => {
            let maps: Vec<String> = candidates
                .iter()
                .map(|c| format!("--map '{column}={c}'"))
                .collect();
            write!(
                f,
                ". Say which with {} (or --map '{column}=meta:NAME' to keep it as metadata, \
                 --map '{column}=ignore' to leave it out)",
                maps.join(" or ")
            )
        }
        ImportError::UnnamedColumn { .. } => f.write_str("; name it in the header"),
        ImportError::ColumnNameTooLong { column, .. } => write!(
            f,
            "; --map '{column}=meta:NAME' with a shorter NAME, or --map '{column}=ignore'"
        ),
        ImportError::DuplicateTarget { .. } => {
            f.write_str("; --map one of them elsewhere (or to ignore)")
        }
        _ => Ok(()),
    }
}

macro_rules! from_library {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::$v(e)
            }
        }
    )*};
}

from_library!(
    PassphraseError => Passphrase,
    KeyFileError => KeyFile,
    VendorDirError => VendorDir,
    LedgerError => Ledger,
    ImportError => Import,
    IssueError => Issue,
    RecordedError => Recorded,
    BatchError => Batch,
    GeneratorError => Generator,
    SourceError => Source,
    ActivationError => Activation,
    RevokeError => Revoke,
    RenewError => Renew,
    TemplateError => Template,
    ExportError => Export,
    ClassifyError => Classify,
    airseal_verify::Error => Verify,
    DeviceError => Device,
    KeyOpError => KeyOp,
    CustomerError => Customer,
    IssuingError => Issuing,
    ListExportError => ListExport,
    TokenError => Token,
    ServeError => Serve,
    airseal_qr::QrError => Qr,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the table lists is a number a `From` above can produce, and the codes
    /// the library reports for verification land on the table's rows.
    #[test]
    fn verify_errors_keep_their_code() {
        let e = CliError::from(airseal_verify::Error::InvalidPublicKey);
        assert_eq!(e.exit_code(), INVALID_PUBLIC_KEY);
        let e = CliError::from(airseal_verify::Error::Typo).at(Path::new("k"));
        assert_eq!(e.exit_code(), TYPO);
        assert!(e.to_string().starts_with("k: "), "{e}");
    }

    /// The CLI's general and I/O codes are the vendor library's, which the service reports.
    #[test]
    fn codes_agree_with_the_vendor_mapping() {
        assert_eq!(GENERAL, airseal_vendor::problem::GENERAL);
        assert_eq!(IO, airseal_vendor::problem::IO);
        let e = CliError::from(ActivationError::KeyTypo {
            product: "p".into(),
            key: "k".into(),
        });
        assert_eq!(e.exit_code(), TYPO);
        assert_eq!(e.error_name().map(|n| n.error), Some("typo"));
    }

    #[test]
    fn remedies_are_added_here() {
        let e = CliError::from(KeyFileError::AlreadyExists {
            path: PathBuf::from("x.lic"),
        });
        assert_eq!(
            e.to_string(),
            "x.lic already exists; pass --force to replace it"
        );
        assert_eq!(e.exit_code(), GENERAL);
        let e = CliError::from(ImportError::AmbiguousColumn {
            index: 3,
            column: "Seats".into(),
            candidates: vec!["max_activations", "used_activations"],
        });
        let m = e.to_string();
        assert!(
            m.contains("--map 'Seats=max_activations' or --map 'Seats=used_activations'"),
            "{m}"
        );
        let e = CliError::from(PassphraseError::ReadFile {
            path: PathBuf::from("pw"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        assert_eq!(e.exit_code(), IO);
    }
}
