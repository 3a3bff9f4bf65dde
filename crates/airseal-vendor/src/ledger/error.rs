//! Why a ledger operation failed: one enum for every domain, each variant naming the failure
//! and carrying its data (never a CLI flag; the CLI adds the remedy).

use std::fmt;
use std::path::PathBuf;

use rusqlite::ErrorCode;

use super::db::DbError;

use super::{BUSY_TIMEOUT, BatchId, BatchStatus};

/// Why a ledger operation failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum LedgerError {
    /// The database file could not be opened or created.
    Open {
        /// The ledger file.
        path: PathBuf,
        /// The database's error.
        source: DbError,
    },
    /// The PostgreSQL database holding the ledger could not be reached (or refused the
    /// connection).
    Connect {
        /// The database URL, any password replaced by `***`.
        url: String,
        /// The database's error.
        source: DbError,
    },
    /// The operation works on a ledger file (backup, restore, SQLite tuning) and this ledger
    /// lives in PostgreSQL, whose own tools back it up.
    NotAFile {
        /// Where the ledger lives, any password replaced by `***`.
        location: String,
    },
    /// A ledger copy's target already holds a ledger with rows, and replacing it was not
    /// asked for.
    TargetNotEmpty {
        /// The target, any password replaced by `***`.
        location: String,
        /// How many rows it holds (besides its identity and migration records).
        rows: u64,
    },
    /// A ledger was to be copied onto itself.
    CopyOntoItself {
        /// The ledger, any password replaced by `***`.
        location: String,
    },
    /// A copied ledger does not read back as its source: a table's row count or a sampled
    /// row differs.
    CopyMismatch {
        /// The table.
        table: String,
        /// What differs.
        what: String,
    },
    /// The file is not an airseal ledger (not SQLite, or another program's database).
    NotALedger {
        /// The file.
        path: PathBuf,
    },
    /// The vendor folder records a ledger (or is expected to hold one) and the file is not
    /// there. Never recreated silently (`SPEC.md` §17.5): the way back is a backup.
    Missing {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger file exists but holds nothing (truncated, or created by something else).
    Empty {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger is an airseal ledger, but not the one this vendor folder records: another
    /// folder's, or one older than the folder's record (no identity). `found` is `None` for a
    /// ledger made by an airseal older than identities.
    Foreign {
        /// The ledger (or backup) file.
        path: PathBuf,
        /// The identity the vendor folder records (`ledger.id`).
        expected: String,
        /// The identity the file carries.
        found: Option<String>,
    },
    /// A file the ledger was asked to write (a backup) already exists, and replacing it was
    /// not asked for.
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A backup was asked to be written over the ledger itself (or its WAL files).
    BackupOverLedger {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a file beside the ledger (a backup, the identity record) failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The ledger was migrated by a newer airseal; this build does not know its tables.
    TooNew {
        /// The ledger's schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// SQLite could not switch the ledger to WAL mode (some network filesystems cannot).
    NoWal {
        /// The journal mode SQLite reported instead.
        mode: String,
    },
    /// Another process held the ledger's write lock for longer than [`BUSY_TIMEOUT`].
    Busy,
    /// The product is not in the ledger.
    UnknownProduct {
        /// The product id.
        product: String,
    },
    /// A product id was empty.
    EmptyProductId,
    /// A key was empty.
    EmptyKey,
    /// No batch has this id.
    UnknownBatch {
        /// The batch id.
        id: BatchId,
    },
    /// The batch is not pending, so it cannot be completed or aborted.
    BatchNotPending {
        /// The batch id.
        id: BatchId,
        /// Its status.
        status: BatchStatus,
    },
    /// The key is not in the ledger for this product.
    UnknownKey {
        /// The product id.
        product: String,
        /// The key, canonical form.
        key: String,
    },
    /// The key was asked for without a product and more than one product has it.
    AmbiguousKey {
        /// The key, canonical form.
        key: String,
        /// The products that have it.
        products: Vec<String>,
    },
    /// A key as entered matches several imported keys of the product once separators and
    /// case are ignored (`SPEC.md` §15.6): refused rather than guessed.
    AmbiguousEntry {
        /// The product.
        product: String,
        /// The key as entered.
        entered: String,
        /// The stored keys it matches (at most five named).
        keys: Vec<String>,
    },
    /// An output path is not valid UTF-8, so the ledger cannot store it for recovery.
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// A column holds a word this build does not know (a status, a kind): written by a newer
    /// airseal, or by hand. Refused rather than read as some default.
    UnknownValue {
        /// The table.
        table: &'static str,
        /// The column (`params.format` for a field of a JSON column).
        column: &'static str,
        /// The value found.
        value: String,
    },
    /// No activation has this id.
    UnknownActivation {
        /// The activation id.
        id: i64,
    },
    /// The activation's seat was already given back.
    AlreadyDeactivated {
        /// The activation id.
        id: i64,
        /// The license id of its responses.
        license_id: String,
        /// When it was deactivated (seconds since 1970).
        at: i64,
    },
    /// A file of the vendor folder's ledger-independent issuing-key record (`SPEC.md`
    /// §18.10) cannot be read: not the ledger's fault, and not skipped (it keeps what a
    /// ledger restore must not forget, such as revoked issuing keys).
    DamagedRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The ledger holds a value this build cannot read (a number out of range, a JSON column).
    Corrupt {
        /// What was wrong.
        what: String,
    },
    /// A license handed to the ledger to record is not a readable license document.
    BadLicense {
        /// Why it could not be read.
        reason: String,
    },
    /// SQLite reported an error.
    Database {
        /// What the ledger was doing.
        doing: &'static str,
        /// The database's error.
        source: DbError,
    },
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, source } => {
                write!(f, "cannot open the ledger {}: {source}", path.display())
            }
            Self::Connect { url, source } => {
                write!(f, "cannot connect to the ledger database {url}: {source}")
            }
            Self::NotAFile { location } => write!(
                f,
                "the ledger {location} is a PostgreSQL database, not a file: back it up and \
                 restore it with PostgreSQL's own tools"
            ),
            Self::TargetNotEmpty { location, rows } => write!(
                f,
                "the ledger {location} already holds a ledger ({rows} rows besides its identity); \
                 it is replaced only when asked"
            ),
            Self::CopyOntoItself { location } => {
                write!(f, "the ledger {location} cannot be copied onto itself")
            }
            Self::CopyMismatch { table, what } => write!(
                f,
                "the copy does not read back as its source: table {table}: {what}"
            ),
            Self::NotALedger { path } => {
                write!(f, "{} is not an airseal ledger", path.display())
            }
            Self::Missing { path } => write!(
                f,
                "the ledger {} is missing; it is not recreated, since an empty ledger would \
                 forget every key, seat and revocation",
                path.display()
            ),
            Self::Empty { path } => write!(
                f,
                "the ledger {} is empty; it is not recreated, since an empty ledger would \
                 forget every key, seat and revocation",
                path.display()
            ),
            Self::Foreign {
                path,
                expected,
                found,
            } => match found {
                Some(found) => write!(
                    f,
                    "{} is ledger {found}, not ledger {expected} that this vendor folder records",
                    path.display()
                ),
                None => write!(
                    f,
                    "{} carries no ledger identity (made by an older airseal), and this vendor \
                     folder records ledger {expected}",
                    path.display()
                ),
            },
            Self::OutputExists { path } => write!(f, "{} already exists", path.display()),
            Self::BackupOverLedger { path } => write!(
                f,
                "{} is the ledger itself: a backup goes to another file, best on another disk",
                path.display()
            ),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::TooNew { found, supported } => write!(
                f,
                "the ledger has schema version {found}, newer than the {supported} this airseal \
                 knows; upgrade airseal"
            ),
            Self::NoWal { mode } => write!(
                f,
                "the ledger could not be put in WAL mode (journal mode is {mode:?}); keep the \
                 vendor folder on a local filesystem"
            ),
            Self::Busy => write!(
                f,
                "another airseal process held the ledger for more than {} s; try again when it \
                 has finished",
                BUSY_TIMEOUT.as_secs()
            ),
            Self::UnknownProduct { product } => write!(
                f,
                "product {product:?} is not in the ledger (add it to airseal.toml)"
            ),
            Self::EmptyProductId => f.write_str("a product id must not be empty"),
            Self::EmptyKey => f.write_str("a key must not be empty"),
            Self::UnknownBatch { id } => write!(f, "there is no batch {id}"),
            Self::BatchNotPending { id, status } => {
                write!(f, "batch {id} is {status}, not pending")
            }
            Self::UnknownKey { product, key } => {
                write!(f, "key {key} is not in the ledger for product {product:?}")
            }
            Self::AmbiguousKey { key, products } => write!(
                f,
                "key {key} exists for several products ({}); name the product",
                products.join(", ")
            ),
            Self::AmbiguousEntry {
                product,
                entered,
                keys,
            } => write!(
                f,
                "key {entered:?} of {product:?} matches several imported keys once separators \
                 and case are ignored ({}); enter it exactly as issued",
                keys.join(", ")
            ),
            Self::NonUtf8Path { path } => write!(
                f,
                "the output path {} is not valid UTF-8 and cannot be recorded",
                path.display()
            ),
            Self::UnknownValue {
                table,
                column,
                value,
            } => write!(
                f,
                "the ledger's {table}.{column} holds {value:?}, which this airseal does not know"
            ),
            Self::UnknownActivation { id } => write!(f, "there is no activation {id}"),
            Self::AlreadyDeactivated { id, license_id, .. } => write!(
                f,
                "activation {id} (license {license_id}) is already deactivated"
            ),
            Self::DamagedRecord { path, what } => write!(
                f,
                "{} (the vendor folder's issuing-key record, not the ledger) is damaged: {what}",
                path.display()
            ),
            Self::Corrupt { what } => write!(f, "the ledger holds unreadable data: {what}"),
            Self::BadLicense { reason } => {
                write!(f, "cannot record a license that does not decode: {reason}")
            }
            Self::Database { doing, source } => write!(f, "ledger error while {doing}: {source}"),
        }
    }
}

impl std::error::Error for LedgerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open { source, .. }
            | Self::Database { source, .. }
            | Self::Connect { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wraps a SQLite error with what the ledger was doing; a busy timeout gets its own variant
/// because the remedy (wait, retry) differs from every other database error.
pub(super) fn db<E: Into<DbError>>(doing: &'static str) -> impl FnOnce(E) -> LedgerError {
    move |source| {
        let source = source.into();
        if is_busy(&source) {
            LedgerError::Busy
        } else {
            LedgerError::Database { doing, source }
        }
    }
}

/// Another connection holds the lock this statement needed.
pub(super) fn is_busy(e: &DbError) -> bool {
    match e {
        DbError::Sqlite(e) => is_sqlite_busy(e),
        _ => e.sqlstate() == Some(PG_LOCK_NOT_AVAILABLE),
    }
}

/// SQLite's "busy": another connection holds the lock.
pub(super) fn is_sqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// PostgreSQL's `lock_not_available`: `lock_timeout` expired waiting for another instance.
const PG_LOCK_NOT_AVAILABLE: &str = "55P03";
