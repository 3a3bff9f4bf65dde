//! The vendor ledger: the SQLite database that remembers every product, template, product
//! key and batch a vendor has made, and an append-only audit log of what was done.
//!
//! The ledger is the embedded default store (`ledger.sqlite3` in the vendor folder, see
//! [`crate::vendor_dir`]): SQLite compiled in through rusqlite's `bundled` feature, so
//! there is nothing to install or start. It is opened in WAL mode so readers never block the
//! writer, with a busy timeout so two vendor processes on one ledger wait for each other
//! instead of failing, and every change happens inside a transaction together with its
//! audit row.
//!
//! # Schema and migrations
//!
//! The schema is a list of numbered SQL migrations ([`MIGRATIONS`]): one `.sql` file each
//! under `crates/airseal-vendor/migrations/`, embedded in the binary.
//! `PRAGMA user_version` records the last one applied; [`Ledger::open`] applies the missing
//! ones, each in its own transaction, and refuses a ledger written by a newer airseal
//! ([`LedgerError::TooNew`]) rather than guess at tables it does not know. Later features
//! (activations, licenses, imports) add migrations; a shipped migration is never edited.
//!
//! # Batches and crash safety
//!
//! Keys are only ever added through a batch. [`Ledger::begin_batch`] opens a write
//! transaction and returns a [`BatchWriter`]; the caller inserts keys and writes the ones the
//! ledger accepted to a temporary output file, makes that file durable, then calls
//! [`BatchWriter::commit`], which records the batch as [`BatchStatus::Pending`]. After the
//! caller has renamed the output file into place it calls [`Ledger::mark_batch_complete`].
//!
//! * Killed before the commit: the transaction never happened (no batch row, no key, no
//!   audit row); the caller deletes its temporary file and starts again.
//! * Killed after the commit but before the batch is marked complete: the batch is listed by
//!   [`Ledger::pending_batches`]; the caller rewrites its output from
//!   [`Ledger::for_each_batch_key`] (keys in the order they were offered) and marks it
//!   complete, or gives it up with [`Ledger::abort_batch`], which removes its keys.
//!
//! Either way the ledger and the output agree, and no key is ever recorded twice.
//!
//! # Performance
//!
//! The `keys` table is a single `WITHOUT ROWID` B-tree keyed by `(product, key)`: the
//! uniqueness check and the insert are one `INSERT OR IGNORE` probe of one tree. Its only
//! other index (`keys_loose`, migration 7) is partial and holds only imported keys that no
//! recorded shape rebuilds (`lookup.rs`), so generated keys never touch it, and an imported
//! key's terms live in its own row (`terms.rs`): importing a key is one insert too. [`BatchWriter::insert_keys`] sorts each chunk before
//! inserting it, so the probes walk the tree in order instead of jumping to a random page
//! for every key; with whole-batch chunks this is about three times faster than inserting
//! in generation order. `examples/ledger_bulk.rs` measures it.
//!
//! # Bulk writes
//!
//! A write through the WAL is written twice: into the `-wal` file, then by the checkpoint
//! into the database. For an import of at least [`BULK_ROWS`] rows that is a third of the
//! import, so [`Ledger::bulk_journal`] runs it in SQLite's rollback-journal mode instead,
//! when no other connection has the ledger open (SQLite refuses to leave WAL mode
//! otherwise, and the import then simply stays in WAL mode). New pages are written once,
//! straight into the database; the journal holds only the original content of pages that
//! existed before, which is what makes the transaction atomic: a process killed midway
//! leaves a journal that the next opener rolls back. `synchronous` is FULL meanwhile, and
//! the page cache smaller ([`BULK_CACHE_KIB`]).
//!
//! The price is concurrency while the import runs: a process that opens the ledger then
//! waits (up to [`BUSY_TIMEOUT`]) until the import has committed and the ledger is back in
//! WAL mode, where in WAL mode a reader would have read the state before the import.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{
    Connection, ErrorCode, OptionalExtension as _, Statement, Transaction, TransactionBehavior,
    params,
};
use serde_json::Value;

mod imports;
mod licenses;
mod lookup;
mod migrations;
mod seats;
mod terms;

pub use imports::{ImportInfo, ImportRow, ImportWrite, ImportedKey, RowOutcome};
pub use licenses::{LicenseFilter, LicenseRecord, LicenseSource, signed_claims};
pub use lookup::{FoundKey, KeyMatch};
pub use migrations::{DATA_STEP, MIGRATIONS, Migration, SCHEMA_VERSION};
pub use seats::{
    Activation, ActivationFilter, ActivationId, AuditFilter, IssuedResponse, KeyFilter,
    KeyOverview, SeatKey, SeatTx,
};
pub(crate) use terms::decode_terms;
pub use terms::{KeyTerms, TermsRecord};

/// How long a process waits for another one holding the ledger's write lock before giving
/// up with [`LedgerError::Busy`]. A large batch holds the lock for a few seconds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA application_id` of an airseal ledger ("ASLG"), so that another program's SQLite
/// file is refused instead of having our tables added to it.
pub const APPLICATION_ID: i32 = 0x4153_4C47;

/// Page size for new ledgers. Measured with `examples/ledger_bulk.rs` against 4 KiB (the
/// default) and 16 KiB: 8 KiB made the bulk insert and its WAL checkpoint fastest.
const PAGE_SIZE: u32 = 8192;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`). A ledger of two
/// million keys is about 110 MiB. Sorted bulk inserts barely care, but key-at-a-time inserts
/// and lookups, which land on random pages, ran twice as fast as with 32 MiB. Memory is
/// only used as pages are touched.
const CACHE_KIB: i64 = 256 * 1024;

/// Once a checkpoint has emptied it, the WAL file is truncated to at most this many bytes
/// so a large batch does not leave a large `-wal` file behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Imports of at least this many rows are written in rollback-journal mode when the ledger
/// can be switched to it (see "Bulk writes" above). Measured on a million-row import into an
/// empty ledger: 2.0 s of 10 s saved, and as much into a ledger already holding a million
/// keys; below this size the seconds saved are too few to keep other processes waiting.
pub const BULK_ROWS: usize = 100_000;

/// Page cache, in KiB, while a bulk import writes in rollback-journal mode. Its keys arrive
/// sorted, so a small cache holds the pages they land on, and dirty pages beyond it go
/// straight to the database file. Measured on a million-row import, into an empty ledger
/// and into one already holding a million keys: 1–2 s faster than with [`CACHE_KIB`], and
/// 230 MB less memory (on these VMs every page of memory first touched costs time).
const BULK_CACHE_KIB: i64 = 32 * 1024;

/// How long [`Ledger::open`] sleeps between attempts to switch a ledger that another
/// process is bulk-writing back to WAL mode.
const WAL_RETRY: Duration = Duration::from_millis(20);

/// One revocation recorded by the vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// A license id (`sub`).
    License(String),
    /// A product key (canonical form).
    Key(String),
    /// Licenses of `product` issued before `before` are refused.
    MinIssuedAt {
        /// The product.
        product: String,
        /// The instant.
        before: i64,
    },
}

/// Why a ledger operation failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum LedgerError {
    /// The database file could not be opened or created.
    Open {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not an airseal ledger (not SQLite, or another program's database).
    NotALedger {
        /// The file.
        path: PathBuf,
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
    /// The ledger holds a value this build cannot read (a status word, a JSON column).
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
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, source } => {
                write!(f, "cannot open the ledger {}: {source}", path.display())
            }
            Self::NotALedger { path } => {
                write!(f, "{} is not an airseal ledger", path.display())
            }
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
            Self::Open { source, .. } | Self::Database { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wraps a SQLite error with what the ledger was doing; a busy timeout gets its own variant
/// because the remedy (wait, retry) differs from every other database error.
fn db(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> LedgerError {
    move |source| {
        if is_busy(&source) {
            LedgerError::Busy
        } else {
            LedgerError::Database { doing, source }
        }
    }
}

/// Another connection holds the lock this statement needed.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Identifies a batch: the `batches` table's integer primary key, increasing.
pub type BatchId = i64;

/// Where a batch is in its life (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchStatus {
    /// Committed to the ledger; the output file is not yet confirmed in place.
    Pending,
    /// The output file is in place: the batch is delivered.
    Complete,
    /// Given up; its keys were removed from the ledger.
    Aborted,
}

impl BatchStatus {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Complete => "complete",
            Self::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Result<Self, LedgerError> {
        match s {
            "pending" => Ok(Self::Pending),
            "complete" => Ok(Self::Complete),
            "aborted" => Ok(Self::Aborted),
            other => Err(LedgerError::Corrupt {
                what: format!("unknown batch status {other:?}"),
            }),
        }
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a key may be used. Adding a status is a code change only (the column is free
/// text), but older builds will then report that ledger as [`LedgerError::Corrupt`] when
/// they read such a key, so a new status should ship with a schema migration.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Usable (the state of every new key).
    Active,
    /// Temporarily blocked, e.g. a payment dispute; may become active again.
    Suspended,
    /// Permanently withdrawn, e.g. leaked or refunded.
    Revoked,
}

impl KeyStatus {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }

    /// Parses `active`, `suspended` or `revoked`.
    ///
    /// # Errors
    /// A message listing the statuses.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "revoked" => Ok(Self::Revoked),
            other => Err(format!("{other:?}: expected active, suspended or revoked")),
        }
    }

    fn from_ledger(s: &str) -> Result<Self, LedgerError> {
        Self::parse(s).map_err(|e| LedgerError::Corrupt {
            what: format!("key status {e}"),
        })
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A product as the ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// The product id (license `aud`).
    pub id: String,
    /// Human-readable name.
    pub name: Option<String>,
    /// When it was first recorded (seconds since 1970).
    pub created: i64,
}

/// A batch of keys.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchInfo {
    /// Its id.
    pub id: BatchId,
    /// The product its keys belong to.
    pub product: String,
    /// What made the keys (`random`, `data`, `signed`, `import`, …).
    pub kind: String,
    /// How many keys were asked for.
    pub requested: u64,
    /// How many keys the ledger recorded.
    pub inserted: u64,
    /// When the batch began (seconds since 1970).
    pub created: i64,
    /// Where it is in its life.
    pub status: BatchStatus,
    /// The output file the keys go to, if any: recovery rewrites it.
    pub output: Option<PathBuf>,
    /// The parameters the batch was made with, as given to [`Ledger::begin_batch`].
    pub params: Value,
}

/// What the ledger knows about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The product.
    pub product: String,
    /// The key, canonical form.
    pub key: String,
    /// The batch that recorded it.
    pub batch: BatchId,
    /// Its kind (the batch's kind).
    pub kind: String,
    /// When it was made (the batch's start, seconds since 1970).
    pub created: i64,
    /// Whether it may be used.
    pub status: KeyStatus,
}

/// One row of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Position in the log (increasing, never reused).
    pub id: i64,
    /// When (seconds since 1970).
    pub at: i64,
    /// What was done, as a dotted word: `product.create`, `batch.commit`, `key.status`, …
    pub action: String,
    /// What it was done to (a product id, `product/key`, a batch id).
    pub subject: String,
    /// Details as JSON.
    pub detail: Value,
}

/// Seconds since 1970 from the system clock (0 if the clock is before 1970).
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes one audit row on `conn`, which the callers always hold inside the transaction of
/// the change being recorded, so the change and its record commit or vanish together.
fn audit_in(
    conn: &Connection,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<i64, LedgerError> {
    conn.prepare_cached("INSERT INTO audit (at, action, subject, detail) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut st| st.execute(params![now(), action, subject, detail.to_string()]))
        .map_err(db("writing the audit log"))?;
    Ok(conn.last_insert_rowid())
}

fn to_u64(v: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(v).map_err(|_| LedgerError::Corrupt {
        what: format!("negative {what} {v}"),
    })
}

fn parse_json(text: &str, what: &str) -> Result<Value, LedgerError> {
    serde_json::from_str(text).map_err(|e| LedgerError::Corrupt {
        what: format!("{what}: {e}"),
    })
}

/// The columns [`BatchInfo::from_row`] reads, in order.
const BATCH_COLUMNS: &str =
    "id, product, kind, requested, inserted, created, status, output, params";

/// A batch row as stored, before its words and JSON are checked.
type RawBatch = (
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    Option<String>,
    String,
);

fn raw_batch(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawBatch> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

impl BatchInfo {
    fn from_raw(raw: RawBatch) -> Result<Self, LedgerError> {
        let (id, product, kind, requested, inserted, created, status, output, params) = raw;
        Ok(Self {
            id,
            product,
            kind,
            requested: to_u64(requested, "requested count")?,
            inserted: to_u64(inserted, "inserted count")?,
            created,
            status: BatchStatus::parse(&status)?,
            output: output.map(PathBuf::from),
            params: parse_json(&params, "batch parameters")?,
        })
    }
}

/// An open ledger.
///
/// One `Ledger` is one SQLite connection; open one per thread or process. Methods that change
/// anything take `&mut self` and run in their own immediate (write-locking) transaction.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger at `path`, creating it if it does not exist, and brings its schema
    /// up to date.
    ///
    /// # Errors
    /// [`LedgerError::Open`] when the file cannot be opened or created,
    /// [`LedgerError::NotALedger`] for a file that is not an airseal ledger,
    /// [`LedgerError::TooNew`] for a ledger from a newer airseal, [`LedgerError::Busy`] when
    /// another process holds it too long.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ledger = Self {
            conn,
            path: path.to_path_buf(),
        };
        ledger.configure().map_err(|e| ledger.not_a_ledger(e))?;
        ledger.migrate().map_err(|e| ledger.not_a_ledger(e))?;
        Ok(ledger)
    }

    /// SQLite reports a file that is not a database only when it first reads it; say so in
    /// our own words.
    fn not_a_ledger(&self, e: LedgerError) -> LedgerError {
        match &e {
            LedgerError::Database { source, .. }
                if source.sqlite_error_code() == Some(ErrorCode::NotADatabase) =>
            {
                LedgerError::NotALedger {
                    path: self.path.clone(),
                }
            }
            _ => e,
        }
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&self) -> Result<(), LedgerError> {
        let c = &self.conn;
        c.busy_timeout(BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        // Only takes effect on a new, empty file; must come before the switch to WAL.
        c.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(db("setting the page size"))?;
        self.switch_to_wal()?;
        // NORMAL in WAL mode: a commit survives a process crash; a power cut may lose the
        // last commits but never corrupts the file. FULL would fsync on every commit.
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db("setting synchronous"))?;
        c.pragma_update(None, "foreign_keys", "ON")
            .map_err(db("enabling foreign keys"))?;
        c.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(db("setting the cache size"))?;
        c.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .map_err(db("setting the journal size limit"))?;
        Ok(())
    }

    /// Puts the ledger in WAL mode (a new file starts in rollback mode; so does one that
    /// another process is bulk-writing, see [`Ledger::bulk_journal`]).
    ///
    /// Switching needs the ledger to itself. While another process holds a rollback-mode
    /// write transaction, SQLite refuses the switch at once instead of waiting (waiting with
    /// a read lock would deadlock with that writer's commit), so it is retried here after a
    /// pause, until [`BUSY_TIMEOUT`].
    fn switch_to_wal(&self) -> Result<(), LedgerError> {
        let c = &self.conn;
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(db("reading the journal mode"))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mode = loop {
            match c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(WAL_RETRY);
                }
                r => break r.map_err(db("switching to WAL mode"))?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::NoWal { mode });
        }
        Ok(())
    }

    /// Runs `write` with the ledger in rollback-journal mode when `rows` is at least
    /// [`BULK_ROWS`] and no other connection has the ledger open, and in WAL mode otherwise
    /// (see "Bulk writes" in the module documentation); puts WAL mode back afterwards,
    /// whatever `write` returned.
    pub(crate) fn bulk_journal<T>(
        &mut self,
        rows: usize,
        write: impl FnOnce(&mut Self) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        if rows < BULK_ROWS || !self.leave_wal() {
            return write(self);
        }
        // Pragma failures here only cost speed or durability margins the write does not
        // depend on; the write's own result is what the caller needs to hear about.
        // FULL costs nothing measurable: the journal is small (see above).
        let set = |c: &Connection, sync: &str, cache: i64| {
            let _ = c.pragma_update(None, "synchronous", sync);
            let _ = c.pragma_update(None, "cache_size", -cache);
        };
        set(&self.conn, "FULL", BULK_CACHE_KIB);
        let out = write(self);
        set(&self.conn, "NORMAL", CACHE_KIB);
        // If this fails (another process keeps reading past the busy timeout), this
        // connection stays in rollback mode, which is as safe, and the next `open` of the
        // ledger switches back. The write has already committed or rolled back.
        let _ = self.switch_to_wal();
        out
    }

    /// Tries once, without waiting, to switch from WAL to rollback-journal mode; false when
    /// another connection has the ledger open.
    fn leave_wal(&self) -> bool {
        let c = &self.conn;
        if c.busy_timeout(Duration::ZERO).is_err() {
            return false;
        }
        let left = c
            .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
            .is_ok_and(|m| m.eq_ignore_ascii_case("delete"));
        let _ = c.busy_timeout(BUSY_TIMEOUT);
        left
    }

    fn read_schema_version(conn: &Connection) -> Result<u32, LedgerError> {
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db("reading the schema version"))?;
        u32::try_from(v).map_err(|_| LedgerError::Corrupt {
            what: format!("schema version {v}"),
        })
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        // The common case, an up-to-date ledger, takes no write lock.
        let version = Self::read_schema_version(&self.conn)?;
        if version == SCHEMA_VERSION {
            return check_identity(&self.conn, &self.path);
        }
        let path = self.path.clone();
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting a migration"))?;
            // Read again under the lock: another process may have migrated meanwhile.
            let version = Self::read_schema_version(&tx)?;
            if version > SCHEMA_VERSION {
                return Err(LedgerError::TooNew {
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            if version == 0 {
                check_identity(&tx, &path)?;
            }
            let Some(migration) = MIGRATIONS.iter().find(|m| m.version == version + 1) else {
                return Err(LedgerError::Corrupt {
                    what: format!("no migration from schema version {version}"),
                });
            };
            let number = migration.version;
            migration.apply(&tx)?;
            if number == 1 {
                tx.pragma_update(None, "application_id", APPLICATION_ID)
                    .map_err(db("setting the application id"))?;
            }
            tx.pragma_update(None, "user_version", number)
                .map_err(db("recording the schema version"))?;
            audit_in(
                &tx,
                "ledger.migrate",
                "",
                &serde_json::json!({ "from": version, "to": number }),
            )?;
            tx.commit().map_err(db("committing a migration"))?;
        }
    }

    /// The schema version of this ledger (after [`Ledger::open`], always [`SCHEMA_VERSION`]).
    ///
    /// # Errors
    /// [`LedgerError::Database`] when SQLite fails.
    pub fn schema_version(&self) -> Result<u32, LedgerError> {
        Self::read_schema_version(&self.conn)
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>, LedgerError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))
    }

    /// Records a product, or renames it when `name` is given and differs. Returns whether
    /// anything changed. Idempotent, so the CLI can call it for every product in
    /// `airseal.toml` on every run.
    ///
    /// # Errors
    /// [`LedgerError::EmptyProductId`], or a database error.
    pub fn ensure_product(&mut self, id: &str, name: Option<&str>) -> Result<bool, LedgerError> {
        if id.is_empty() {
            return Err(LedgerError::EmptyProductId);
        }
        // Reading first without a lock keeps the common case (nothing to do) lock-free.
        let existing = self.product(id)?;
        if let Some(p) = &existing {
            if name.is_none() || name == p.name.as_deref() {
                return Ok(false);
            }
        }
        let tx = self.write_tx()?;
        let current: Option<Option<String>> = tx
            .query_row("SELECT name FROM products WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading a product"))?;
        let changed = match current {
            None => {
                tx.execute(
                    "INSERT INTO products (id, name, created) VALUES (?1, ?2, ?3)",
                    params![id, name, now()],
                )
                .map_err(db("recording a product"))?;
                audit_in(
                    &tx,
                    "product.create",
                    id,
                    &serde_json::json!({ "name": name }),
                )?;
                true
            }
            Some(old) if name.is_some() && name != old.as_deref() => {
                tx.execute(
                    "UPDATE products SET name = ?2 WHERE id = ?1",
                    params![id, name],
                )
                .map_err(db("renaming a product"))?;
                audit_in(
                    &tx,
                    "product.rename",
                    id,
                    &serde_json::json!({ "from": old, "to": name }),
                )?;
                true
            }
            Some(_) => false,
        };
        tx.commit().map_err(db("committing a product"))?;
        Ok(changed)
    }

    /// One product, if recorded.
    ///
    /// # Errors
    /// A database error.
    pub fn product(&self, id: &str) -> Result<Option<Product>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id, name, created FROM products WHERE id = ?1",
                [id],
                |r| {
                    Ok(Product {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db("reading a product"))
    }

    /// Every product, by id.
    ///
    /// # Errors
    /// A database error.
    pub fn list_products(&self) -> Result<Vec<Product>, LedgerError> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, created FROM products ORDER BY id")
            .map_err(db("listing products"))?;
        let rows = st
            .query_map([], |r| {
                Ok(Product {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get(2)?,
                })
            })
            .map_err(db("listing products"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("listing products"))
    }

    /// Stores (or replaces) a license template of a product, as the TOML text it was read
    /// from. Audited only when the text changes.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], or a database error.
    pub fn put_template(
        &mut self,
        product: &str,
        name: &str,
        body: &str,
    ) -> Result<bool, LedgerError> {
        let tx = self.write_tx()?;
        require_product(&tx, product)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT body FROM templates WHERE product = ?1 AND name = ?2",
                [product, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a template"))?;
        if old.as_deref() == Some(body) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO templates (product, name, body, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (product, name) DO UPDATE SET body = excluded.body,
                                                      updated = excluded.updated",
            params![product, name, body, now()],
        )
        .map_err(db("storing a template"))?;
        audit_in(
            &tx,
            if old.is_some() {
                "template.update"
            } else {
                "template.create"
            },
            &format!("{product}/{name}"),
            &serde_json::json!({ "body": body }),
        )?;
        tx.commit().map_err(db("committing a template"))?;
        Ok(true)
    }

    /// A product's template text, if stored.
    ///
    /// # Errors
    /// A database error.
    pub fn template(&self, product: &str, name: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT body FROM templates WHERE product = ?1 AND name = ?2",
                [product, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a template"))
    }

    /// Starts a batch of keys for `product`: takes the ledger's write lock and records the
    /// batch, all inside one transaction that the returned [`BatchWriter`] holds until
    /// [`BatchWriter::commit`]. `kind` says what makes the keys (`random`, `data`,
    /// `import`, …), `requested` how many are wanted, `output` where they are written (kept
    /// for recovery), `params` the generation parameters (stored as JSON, for the record).
    ///
    /// Other processes can read the ledger meanwhile (they see it as it was before the
    /// batch) and wait up to [`BUSY_TIMEOUT`] to write.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], [`LedgerError::NonUtf8Path`],
    /// [`LedgerError::Busy`], or a database error.
    pub fn begin_batch(
        &mut self,
        product: &str,
        kind: &str,
        requested: u64,
        output: Option<&Path>,
        params: &Value,
    ) -> Result<BatchWriter<'_>, LedgerError> {
        let output = output
            .map(|p| {
                p.to_str().ok_or_else(|| LedgerError::NonUtf8Path {
                    path: p.to_path_buf(),
                })
            })
            .transpose()?;
        let requested = i64::try_from(requested).unwrap_or(i64::MAX);
        let conn: &Connection = &self.conn;
        // `new_unchecked` takes a shared borrow, so the transaction and the prepared insert
        // statement can both borrow the connection for the writer's lifetime; `&mut self`
        // guarantees no other transaction is open on it.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(db("starting a batch"))?;
        require_product(&tx, product)?;
        let created = now();
        tx.execute(
            "INSERT INTO batches (product, kind, requested, created, status, output, params)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
            params![
                product,
                kind,
                requested,
                created,
                output,
                params.to_string()
            ],
        )
        .map_err(db("recording a batch"))?;
        let id = tx.last_insert_rowid();
        let mut insert = conn
            .prepare(
                "INSERT OR IGNORE INTO keys (product, key, batch, seq) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db("preparing the key insert"))?;
        // Product and batch stay bound for every key: only the key and its seq change.
        insert
            .raw_bind_parameter(1, product)
            .and_then(|()| insert.raw_bind_parameter(3, id))
            .map_err(db("preparing the key insert"))?;
        Ok(BatchWriter {
            conn,
            insert,
            insert_with_terms: None,
            tx,
            id,
            product: product.to_string(),
            kind: kind.to_string(),
            requested,
            output: output.map(str::to_string),
            next_seq: 0,
            inserted: 0,
            order: Vec::new(),
            sorted: String::new(),
            ends: Vec::new(),
        })
    }

    /// Marks a pending batch complete, once its output file is durably in place. Marking a
    /// complete batch again does nothing, so recovery can be re-run safely.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], [`LedgerError::BatchNotPending`] for an aborted
    /// batch, or a database error.
    pub fn mark_batch_complete(&mut self, id: BatchId) -> Result<(), LedgerError> {
        let tx = self.write_tx()?;
        match batch_status(&tx, id)? {
            BatchStatus::Complete => return Ok(()),
            BatchStatus::Aborted => {
                return Err(LedgerError::BatchNotPending {
                    id,
                    status: BatchStatus::Aborted,
                });
            }
            BatchStatus::Pending => {}
        }
        tx.execute("UPDATE batches SET status = 'complete' WHERE id = ?1", [id])
            .map_err(db("completing a batch"))?;
        audit_in(
            &tx,
            "batch.complete",
            &id.to_string(),
            &serde_json::json!({}),
        )?;
        tx.commit().map_err(db("committing a batch"))?;
        Ok(())
    }

    /// Gives up a pending batch: removes its keys from the ledger (they were never
    /// delivered) and marks it aborted. Returns how many keys were removed.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], [`LedgerError::BatchNotPending`], or a database error.
    pub fn abort_batch(&mut self, id: BatchId) -> Result<u64, LedgerError> {
        let tx = self.write_tx()?;
        let status = batch_status(&tx, id)?;
        if status != BatchStatus::Pending {
            return Err(LedgerError::BatchNotPending { id, status });
        }
        // `product = …` narrows the scan to the batch's product: `keys` has no index on
        // `batch` (see the module documentation).
        let removed = tx
            .execute(
                "DELETE FROM keys WHERE product = (SELECT product FROM batches WHERE id = ?1)
                                    AND batch = ?1",
                [id],
            )
            .map_err(db("removing a batch's keys"))?;
        tx.execute("UPDATE batches SET status = 'aborted' WHERE id = ?1", [id])
            .map_err(db("aborting a batch"))?;
        audit_in(
            &tx,
            "batch.abort",
            &id.to_string(),
            &serde_json::json!({ "removed": removed }),
        )?;
        tx.commit().map_err(db("committing a batch"))?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }

    /// One batch, if it exists.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn batch(&self, id: BatchId) -> Result<Option<BatchInfo>, LedgerError> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
                [id],
                raw_batch,
            )
            .optional()
            .map_err(db("reading a batch"))?;
        raw.map(BatchInfo::from_raw).transpose()
    }

    /// Batches committed but not yet confirmed complete, oldest first: what a crashed run
    /// left for recovery.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn pending_batches(&self) -> Result<Vec<BatchInfo>, LedgerError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {BATCH_COLUMNS} FROM batches WHERE status = 'pending' ORDER BY id"
            ))
            .map_err(db("listing pending batches"))?;
        let raws = st
            .query_map([], raw_batch)
            .map_err(db("listing pending batches"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("listing pending batches"))?;
        raws.into_iter().map(BatchInfo::from_raw).collect()
    }

    /// Calls `f` with each key of a batch, in the order the keys were offered to the
    /// [`BatchWriter`], and returns how many there were. Streams: a million-key batch is
    /// never held in memory at once.
    ///
    /// `keys` has no index on `batch`: keys are inserted in key order, so an index on
    /// `(batch, seq)` would be written in random order (measured: bulk inserts three times
    /// slower). This scans the batch's product and sorts instead, which is fine for recovery
    /// and exports, the only callers.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], a database error, or whatever `f` returns.
    pub fn for_each_batch_key<E>(
        &self,
        id: BatchId,
        mut f: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        E: From<LedgerError>,
    {
        let product: String = self
            .conn
            .query_row("SELECT product FROM batches WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading a batch"))?
            .ok_or(LedgerError::UnknownBatch { id })?;
        let mut st = self
            .conn
            .prepare("SELECT key FROM keys WHERE product = ?1 AND batch = ?2 ORDER BY seq")
            .map_err(db("reading a batch's keys"))?;
        let mut rows = st
            .query(params![product, id])
            .map_err(db("reading a batch's keys"))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(db("reading a batch's keys"))? {
            let key = row
                .get_ref(0)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(db("reading a batch's keys"))?;
            f(key)?;
            n += 1;
        }
        Ok(n)
    }

    /// A batch's keys, in the order they were offered. Holds them all in memory; prefer
    /// [`Ledger::for_each_batch_key`] for large batches.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], or a database error.
    pub fn batch_keys(&self, id: BatchId) -> Result<Vec<String>, LedgerError> {
        let mut keys = Vec::new();
        self.for_each_batch_key(id, |k| {
            keys.push(k.to_string());
            Ok::<(), LedgerError>(())
        })?;
        Ok(keys)
    }

    /// What the ledger knows about a key. With `product`, one lookup; without, the key is
    /// looked up under every product, and [`LedgerError::AmbiguousKey`] is returned if more
    /// than one has it.
    ///
    /// # Errors
    /// [`LedgerError::AmbiguousKey`], a database error, or [`LedgerError::Corrupt`].
    pub fn key_info(
        &self,
        product: Option<&str>,
        key: &str,
    ) -> Result<Option<KeyRecord>, LedgerError> {
        const COLUMNS: &str = "k.product, k.key, k.batch, b.kind, b.created, k.status";
        let read = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        };
        let raws = match product {
            Some(product) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM keys k JOIN batches b ON b.id = k.batch
                     WHERE k.product = ?1 AND k.key = ?2"
                ))
                .and_then(|mut st| st.query_map([product, key], read)?.collect())
                .map_err(db("looking up a key"))?,
            // One primary-key probe per product (CROSS JOIN fixes the loop order), rather
            // than a scan of every key.
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM products p CROSS JOIN keys k
                     JOIN batches b ON b.id = k.batch
                     WHERE k.product = p.id AND k.key = ?1"
                ))
                .and_then(|mut st| st.query_map([key], read)?.collect())
                .map_err(db("looking up a key"))?,
        };
        let raws: Vec<_> = raws;
        if raws.len() > 1 {
            return Err(LedgerError::AmbiguousKey {
                key: key.to_string(),
                products: raws.into_iter().map(|r| r.0).collect(),
            });
        }
        raws.into_iter()
            .next()
            .map(|(product, key, batch, kind, created, status)| {
                Ok(KeyRecord {
                    product,
                    key,
                    batch,
                    kind,
                    created,
                    status: KeyStatus::from_ledger(&status)?,
                })
            })
            .transpose()
    }

    /// How many keys the ledger holds for a product.
    ///
    /// # Errors
    /// A database error.
    pub fn count_keys(&self, product: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM keys WHERE product = ?1",
                [product],
                |r| r.get(0),
            )
            .map_err(db("counting keys"))?;
        to_u64(n, "key count")
    }

    /// Changes a key's status (revoke, suspend, reinstate) and audits the change. Returns
    /// the previous status; setting the status a key already has changes and audits nothing.
    ///
    /// # Errors
    /// [`LedgerError::UnknownKey`], or a database error.
    pub fn set_key_status(
        &mut self,
        product: &str,
        key: &str,
        status: KeyStatus,
    ) -> Result<KeyStatus, LedgerError> {
        let tx = self.write_tx()?;
        let old: String = tx
            .query_row(
                "SELECT status FROM keys WHERE product = ?1 AND key = ?2",
                [product, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a key"))?
            .ok_or_else(|| LedgerError::UnknownKey {
                product: product.to_string(),
                key: key.to_string(),
            })?;
        let old = KeyStatus::from_ledger(&old)?;
        if old == status {
            return Ok(old);
        }
        tx.execute(
            "UPDATE keys SET status = ?3 WHERE product = ?1 AND key = ?2",
            params![product, key, status.as_str()],
        )
        .map_err(db("changing a key's status"))?;
        audit_in(
            &tx,
            "key.status",
            &format!("{product}/{key}"),
            &serde_json::json!({ "from": old.as_str(), "to": status.as_str() }),
        )?;
        tx.commit().map_err(db("committing a key's status"))?;
        Ok(old)
    }

    /// Records a revocation (idempotent: revoking twice changes nothing). A minimum issue
    /// time replaces the product's previous one. Audited.
    ///
    /// # Errors
    /// A database error.
    pub fn revoke(&mut self, what: &Revocation, reason: Option<&str>) -> Result<bool, LedgerError> {
        let tx = self.write_tx()?;
        let (kind, product, value) = match what {
            Revocation::License(id) => ("license", None, id.clone()),
            Revocation::Key(k) => ("key", None, k.clone()),
            Revocation::MinIssuedAt { product, before } => {
                ("min_issued_at", Some(product.clone()), before.to_string())
            }
        };
        if kind == "min_issued_at" {
            tx.execute(
                "DELETE FROM revocations WHERE kind = 'min_issued_at' AND product = ?1",
                [&product],
            )
            .map_err(db("replacing a minimum issue time"))?;
        }
        let changed = tx
            .execute(
                "INSERT OR IGNORE INTO revocations (kind, product, value, at, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, product, value, now(), reason],
            )
            .map_err(db("recording a revocation"))?;
        if changed == 1 {
            audit_in(
                &tx,
                "revoke",
                &format!(
                    "{kind}:{}{value}",
                    product
                        .as_deref()
                        .map(|p| format!("{p}/"))
                        .unwrap_or_default()
                ),
                &serde_json::json!({ "reason": reason }),
            )?;
        }
        tx.commit().map_err(db("committing a revocation"))?;
        Ok(changed == 1)
    }

    /// Every revocation recorded, and the next list's sequence number (one more than the
    /// last exported, so lists only ever grow).
    ///
    /// # Errors
    /// A database error.
    pub fn revocations(&self) -> Result<(Vec<Revocation>, u64), LedgerError> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT kind, product, value FROM revocations ORDER BY id")
            .map_err(db("reading revocations"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db("reading revocations"))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, product, value) = row.map_err(db("reading revocations"))?;
            out.push(match kind.as_str() {
                "license" => Revocation::License(value),
                "key" => Revocation::Key(value),
                _ => Revocation::MinIssuedAt {
                    product: product.unwrap_or_default(),
                    before: value.parse().unwrap_or(i64::MIN),
                },
            });
        }
        let last: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM revocation_lists", [], |r| r.get(0))
            .map_err(db("reading revocation lists"))?;
        Ok((out, u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1))
    }

    /// Records that revocation list `seq` was exported with `entries` entries. Audited.
    ///
    /// # Errors
    /// A database error (also when `seq` was already used).
    pub fn record_revocation_list(&mut self, seq: u64, entries: u64) -> Result<(), LedgerError> {
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO revocation_lists (seq, at, entries) VALUES (?1, ?2, ?3)",
            params![
                i64::try_from(seq).unwrap_or(i64::MAX),
                now(),
                i64::try_from(entries).unwrap_or(i64::MAX)
            ],
        )
        .map_err(db("recording a revocation list"))?;
        audit_in(
            &tx,
            "revocations.export",
            &seq.to_string(),
            &serde_json::json!({ "entries": entries }),
        )?;
        tx.commit().map_err(db("committing a revocation list"))?;
        Ok(())
    }

    /// Records a vendor action that changes nothing else in the ledger (a license issued, a
    /// key file exported). `action` is a dotted word (`license.issue`), `subject` what it
    /// concerns, `detail` anything worth keeping. Returns the row's id.
    ///
    /// # Errors
    /// A database error.
    pub fn audit(
        &mut self,
        action: &str,
        subject: &str,
        detail: &Value,
    ) -> Result<i64, LedgerError> {
        let tx = self.write_tx()?;
        let id = audit_in(&tx, action, subject, detail)?;
        tx.commit().map_err(db("committing an audit row"))?;
        Ok(id)
    }

    /// The newest `limit` rows of the audit log, newest first.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, LedgerError> {
        self.search_audit(&AuditFilter {
            limit: Some(limit),
            ..AuditFilter::default()
        })
    }

    /// The underlying SQLite connection, for diagnostics and tests (pragmas, ad-hoc
    /// queries). Writing through it bypasses the audit log.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Refuses files that are some other program's database: ours carry our application id from
/// migration 1 on, and a file without it must be empty.
fn check_identity(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db("reading the application id"))?;
    if app == APPLICATION_ID {
        return Ok(());
    }
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(db("reading the schema"))?;
    if app != 0 || objects != 0 {
        return Err(LedgerError::NotALedger {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

fn require_product(conn: &Connection, product: &str) -> Result<(), LedgerError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)",
            [product],
            |r| r.get(0),
        )
        .map_err(db("reading a product"))?;
    if exists {
        Ok(())
    } else {
        Err(LedgerError::UnknownProduct {
            product: product.to_string(),
        })
    }
}

fn batch_status(conn: &Connection, id: BatchId) -> Result<BatchStatus, LedgerError> {
    let status: String = conn
        .query_row("SELECT status FROM batches WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db("reading a batch"))?
        .ok_or(LedgerError::UnknownBatch { id })?;
    BatchStatus::parse(&status)
}

/// An open batch: a write transaction on the ledger plus the prepared insert statement.
///
/// Dropping it without [`BatchWriter::commit`] rolls everything back (the batch row, its
/// keys, its audit row), which is also what happens when the process dies.
pub struct BatchWriter<'a> {
    // Declared before `tx` so the statement is finalized before the transaction ends.
    conn: &'a Connection,
    insert: Statement<'a>,
    /// The insert of [`BatchWriter::insert_keys_with_terms`], prepared on first use.
    insert_with_terms: Option<Statement<'a>>,
    tx: Transaction<'a>,
    id: BatchId,
    product: String,
    kind: String,
    requested: i64,
    output: Option<String>,
    /// Position of the next key offered, across calls.
    next_seq: i64,
    inserted: u64,
    /// Reused buffers of [`BatchWriter::insert_keys`]: (sort prefix, position) in sorted
    /// order, the keys in that order end to end, and where each one ends.
    order: Vec<(u64, usize)>,
    sorted: String,
    ends: Vec<usize>,
}

impl fmt::Debug for BatchWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchWriter")
            .field("id", &self.id)
            .field("product", &self.product)
            .field("offered", &self.next_seq)
            .field("inserted", &self.inserted)
            .finish_non_exhaustive()
    }
}

/// A new key with its own terms, for [`BatchWriter::insert_keys_with_terms`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyWithTerms<'r> {
    /// The key, as it is to be stored.
    pub key: &'r str,
    /// Its status.
    pub status: KeyStatus,
    /// Its terms record ([`terms::encode_terms`]).
    pub record: &'r [u8],
    /// Its loose form, or `None` when a shape recorded for the product rebuilds it
    /// (`lookup.rs`).
    pub loose: Option<&'r str>,
}

/// The first 8 bytes of a key, big-endian, zero-padded: sorting on this number orders keys
/// like SQLite's byte-wise comparison does for most pairs without touching the strings.
fn sort_prefix(key: &str) -> u64 {
    let mut buf = [0u8; 8];
    for (slot, b) in buf.iter_mut().zip(key.bytes()) {
        *slot = b;
    }
    u64::from_be_bytes(buf)
}

impl BatchWriter<'_> {
    /// This batch's id (final once committed), e.g. to name a temporary output file.
    pub fn batch_id(&self) -> BatchId {
        self.id
    }

    /// How many keys the ledger has accepted so far.
    pub fn inserted(&self) -> u64 {
        self.inserted
    }

    /// Records one key (canonical form). Returns `false` if the product already has this
    /// key, from an earlier batch or earlier in this one; the ledger is then unchanged.
    ///
    /// For many keys [`BatchWriter::insert_keys`] is several times faster.
    ///
    /// # Errors
    /// [`LedgerError::EmptyKey`], or a database error.
    pub fn insert_key(&mut self, key: &str) -> Result<bool, LedgerError> {
        if key.is_empty() {
            return Err(LedgerError::EmptyKey);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.insert_at(key, seq)
    }

    fn insert_at(&mut self, key: &str, seq: i64) -> Result<bool, LedgerError> {
        self.insert
            .raw_bind_parameter(2, key)
            .and_then(|()| self.insert.raw_bind_parameter(4, seq))
            .map_err(db("inserting a key"))?;
        // `INSERT OR IGNORE` is the uniqueness check: one probe of the primary key decides
        // both "already there" and "insert here".
        let changed = self.insert.raw_execute().map_err(db("inserting a key"))?;
        let new = changed == 1;
        if new {
            self.inserted += 1;
        }
        Ok(new)
    }

    /// Records many keys (canonical form), in order: returns one flag per key, `false` where
    /// the product already had the key (from an earlier batch, or earlier in this one,
    /// including earlier in `keys`: the first occurrence wins).
    ///
    /// The keys are inserted in sorted order, so the B-tree is walked once from left to
    /// right instead of at random; larger chunks are faster (a whole batch of a million
    /// keys in one call is best, if the caller can hold it). Their positions in the batch,
    /// used by [`Ledger::for_each_batch_key`], are still the order given here.
    ///
    /// # Errors
    /// [`LedgerError::EmptyKey`] (nothing from this call is then recorded), or a database
    /// error (the batch must then be dropped).
    pub fn insert_keys<S: AsRef<str>>(&mut self, keys: &[S]) -> Result<Vec<bool>, LedgerError> {
        self.insert_sorted(keys, S::as_ref, |w, key, _, seq| w.insert_at(key, seq))
    }

    /// Records keys that bring their own terms (an import), as [`BatchWriter::insert_keys`]
    /// does, with each new key's status, terms record and loose form (if it needs one)
    /// written in the same row: one B-tree insert per key (`terms.rs` explains the layout).
    pub(crate) fn insert_keys_with_terms(
        &mut self,
        rows: &[KeyWithTerms<'_>],
    ) -> Result<Vec<bool>, LedgerError> {
        self.insert_sorted(
            rows,
            |r| r.key,
            |w, key, row, seq| {
                if w.insert_with_terms.is_none() {
                    let mut st = w
                    .conn
                    .prepare(
                        "INSERT OR IGNORE INTO keys (product, key, batch, seq, status, terms, loose)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(db("preparing the key insert"))?;
                    st.raw_bind_parameter(1, w.product.as_str())
                        .and_then(|()| st.raw_bind_parameter(3, w.id))
                        .map_err(db("preparing the key insert"))?;
                    w.insert_with_terms = Some(st);
                }
                let Some(st) = w.insert_with_terms.as_mut() else {
                    return Ok(false);
                };
                st.raw_bind_parameter(2, key)
                    .and_then(|()| st.raw_bind_parameter(4, seq))
                    .and_then(|()| st.raw_bind_parameter(5, row.status.as_str()))
                    .and_then(|()| st.raw_bind_parameter(6, row.record))
                    .and_then(|()| st.raw_bind_parameter(7, row.loose))
                    .map_err(db("inserting a key"))?;
                let new = st.raw_execute().map_err(db("inserting a key"))? == 1;
                w.inserted += u64::from(new);
                Ok(new)
            },
        )
    }

    /// The loop both inserts share: sorts `items` by key, inserts each with `insert` (which
    /// says whether the key was new), and returns the flags in the caller's order.
    fn insert_sorted<T>(
        &mut self,
        items: &[T],
        key_of: impl Fn(&T) -> &str,
        mut insert: impl FnMut(&mut Self, &str, &T, i64) -> Result<bool, LedgerError>,
    ) -> Result<Vec<bool>, LedgerError> {
        if items.iter().any(|k| key_of(k).is_empty()) {
            return Err(LedgerError::EmptyKey);
        }
        let key_at = |i: usize| items.get(i).map_or("", &key_of);
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend((0..items.len()).map(|i| (sort_prefix(key_at(i)), i)));
        // Ties on the full key keep the earlier position first, so the first occurrence of a
        // repeated key is the one recorded.
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| key_at(a.1).cmp(key_at(b.1)).then(a.1.cmp(&b.1)))
        });
        // Copy the keys, in sorted order, into one buffer. Reading the caller's strings in
        // sorted order inside the insert loop costs a cache miss per key, each one stalled
        // behind a whole SQLite insert (measured: a quarter of the time); here the loads are
        // independent and overlap.
        let mut sorted = std::mem::take(&mut self.sorted);
        sorted.clear();
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        for &(_, i) in &order {
            sorted.push_str(key_at(i));
            ends.push(sorted.len());
        }
        let base = self.next_seq;
        let mut flags = vec![false; items.len()];
        let mut result = Ok(());
        let mut start = 0;
        for (&(_, i), &end) in order.iter().zip(&ends) {
            let key = sorted.get(start..end).unwrap_or_default();
            start = end;
            let seq = base + i64::try_from(i).unwrap_or(i64::MAX);
            let Some(item) = items.get(i) else { continue };
            match insert(self, key, item, seq) {
                Ok(new) => {
                    if let Some(flag) = flags.get_mut(i) {
                        *flag = new;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.order = order;
        self.sorted = sorted;
        self.ends = ends;
        result?;
        self.next_seq = base + i64::try_from(items.len()).unwrap_or(i64::MAX);
        Ok(flags)
    }

    /// Commits the batch as [`BatchStatus::Pending`] together with its audit row, and
    /// releases the write lock. Once the output file is in place, call
    /// [`Ledger::mark_batch_complete`].
    ///
    /// # Errors
    /// A database error; nothing is then recorded.
    pub fn commit(self) -> Result<BatchId, LedgerError> {
        let Self {
            conn: _,
            insert,
            insert_with_terms,
            tx,
            id,
            product,
            kind,
            requested,
            output,
            next_seq,
            inserted,
            order: _,
            sorted: _,
            ends: _,
        } = self;
        drop(insert);
        drop(insert_with_terms);
        let inserted_i64 = i64::try_from(inserted).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE batches SET inserted = ?2 WHERE id = ?1",
            params![id, inserted_i64],
        )
        .map_err(db("recording a batch"))?;
        audit_in(
            &tx,
            "batch.commit",
            &id.to_string(),
            &serde_json::json!({
                "product": product,
                "kind": kind,
                "requested": requested,
                "offered": next_seq,
                "inserted": inserted,
                "output": output,
            }),
        )?;
        tx.commit().map_err(db("committing a batch"))?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_mode(l: &Ledger) -> String {
        l.conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    fn has_product(l: &Ledger, id: &str) -> rusqlite::Result<bool> {
        l.conn
            .query_row("SELECT count(*) FROM products WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n == 1)
    }

    /// `synchronous` (2 is FULL, 1 is NORMAL) and `cache_size`.
    fn sync_and_cache(l: &Ledger) -> (i64, i64) {
        let get = |p: &str| l.conn.pragma_query_value(None, p, |r| r.get(0)).unwrap();
        (get("synchronous"), get("cache_size"))
    }

    #[test]
    fn a_bulk_write_alone_skips_the_wal_and_puts_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let inside = l
            .bulk_journal(BULK_ROWS, |l| {
                l.ensure_product("p", None)?;
                Ok((journal_mode(l), sync_and_cache(l)))
            })
            .unwrap();
        assert_eq!(inside, ("delete".to_string(), (2, -BULK_CACHE_KIB)));
        assert_eq!(
            (journal_mode(&l), sync_and_cache(&l)),
            ("wal".to_string(), (1, -CACHE_KIB))
        );
        assert!(has_product(&l, "p").unwrap());
        // Below the threshold nothing changes.
        let small = l.bulk_journal(BULK_ROWS - 1, |l| Ok(journal_mode(l)));
        assert_eq!(small.unwrap(), "wal");
    }

    #[test]
    fn a_failed_bulk_write_puts_the_wal_back_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let r: Result<(), _> = l.bulk_journal(BULK_ROWS, |l| {
            let tx = l.conn.unchecked_transaction().unwrap();
            tx.execute("INSERT INTO products (id, created) VALUES ('p', 0)", [])
                .unwrap();
            // Dropped without a commit: rolled back.
            drop(tx);
            Err(LedgerError::Busy)
        });
        assert!(matches!(r, Err(LedgerError::Busy)));
        assert_eq!(journal_mode(&l), "wal");
        assert!(!has_product(&l, "p").unwrap());
    }

    #[test]
    fn a_bulk_write_stays_in_wal_mode_while_another_connection_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let mut l = Ledger::open(&path).unwrap();
        let other = Ledger::open(&path).unwrap();
        let started = Instant::now();
        let inside = l.bulk_journal(BULK_ROWS, |l| Ok(journal_mode(l))).unwrap();
        assert_eq!(inside, "wal");
        // The attempt does not wait for the other connection.
        assert!(started.elapsed() < BUSY_TIMEOUT / 2);
        drop(other);
    }

    /// A process opening the ledger while another bulk-writes it waits for the commit; the
    /// two must not wait on each other (see `switch_to_wal`).
    #[test]
    fn opening_during_a_bulk_write_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let mut l = Ledger::open(&path).unwrap();
        let opened = l
            .bulk_journal(BULK_ROWS, |l| {
                let tx = l.conn.unchecked_transaction().unwrap();
                tx.execute("INSERT INTO products (id, created) VALUES ('p', 0)", [])
                    .unwrap();
                let opener = std::thread::spawn({
                    let path = path.clone();
                    move || {
                        let o = Ledger::open(&path)?;
                        let has = has_product(&o, "p").map_err(db("reading"))?;
                        Ok::<_, LedgerError>((has, journal_mode(&o)))
                    }
                });
                std::thread::sleep(Duration::from_millis(300));
                // The opener has not got in before the commit.
                assert!(!opener.is_finished());
                tx.commit().unwrap();
                Ok(opener.join().unwrap())
            })
            .unwrap()
            .unwrap();
        assert_eq!(opened, (true, "wal".to_string()));
        assert_eq!(journal_mode(&l), "wal");
    }

    #[test]
    fn sort_prefix_orders_like_bytes() {
        let mut keys = ["B", "A", "AB", "ABCDEFGHZ", "ABCDEFGHA", "", "ZZZZZZZZZ"];
        let mut by_prefix = keys;
        by_prefix.sort_by(|a, b| sort_prefix(a).cmp(&sort_prefix(b)).then(a.cmp(b)));
        keys.sort();
        assert_eq!(keys, by_prefix);
    }
}
