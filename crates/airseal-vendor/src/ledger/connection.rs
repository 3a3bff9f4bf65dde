//! The connection: opening a ledger, tuning SQLite for it, applying the migrations, and
//! starting transactions. Each domain's operations live in their own store
//! ([`Ledger::products`], [`Ledger::batches`], [`Ledger::keys`], …), which borrows the
//! connection from here.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::audit::{Actor, audit_migration_in, register_actor};
use super::db::{self, Backend, Behavior, Transaction};
use super::error::{db, is_sqlite_busy};
use super::location::LedgerLocation;
use super::{LedgerError, SCHEMA_VERSION};

/// How long a process waits for another one holding the ledger's write lock before giving
/// up with [`LedgerError::Busy`]. A large batch holds the lock for a few seconds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migration that gives a ledger its identity (`ledger_identity`).
const IDENTITY_MIGRATION: u32 = 10;

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
pub(super) const CACHE_KIB: i64 = 256 * 1024;

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
pub(super) const BULK_CACHE_KIB: i64 = 32 * 1024;

/// How long [`Ledger::open`] sleeps between attempts to switch a ledger that another
/// process is bulk-writing back to WAL mode.
const WAL_RETRY: Duration = Duration::from_millis(20);

/// An open ledger.
///
/// One `Ledger` is one SQLite connection; open one per thread or process. Its operations are
/// on the domain stores it hands out ([`Ledger::keys`], [`Ledger::batches`], …): each change
/// runs in its own immediate (write-locking) transaction, or in the long transaction of a
/// [`super::BatchWriter`] or [`super::SeatTx`]; while one of those is open, SQLite refuses to
/// begin another on the same connection.
pub struct Ledger {
    conn: db::Connection,
    path: PathBuf,
    location: LedgerLocation,
    pub(super) actor: Actor,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("location", &self.location)
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
        match create_owner_only(path) {
            // A missing folder: SQLite's own open says so, as it always has.
            Err(LedgerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
        Self::open_file(path)
    }

    /// Opens the ledger at `path`, which must exist and hold a ledger: a missing file is
    /// [`LedgerError::Missing`] and an empty one [`LedgerError::Empty`], never a new ledger
    /// (`SPEC.md` §17.5). Brings its schema up to date.
    ///
    /// # Errors
    /// [`LedgerError::Missing`], [`LedgerError::Empty`], or those of [`Ledger::open`].
    pub fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        Self::open_identified(path, None)
    }

    /// [`Ledger::open_existing`], refusing a ledger whose identity is not `expected` (when
    /// given) with [`LedgerError::Foreign`] before anything is written to it: a foreign
    /// ledger from an older airseal is not migrated first.
    ///
    /// # Errors
    /// [`LedgerError::Foreign`], or those of [`Ledger::open_existing`].
    pub fn open_identified(path: &Path, expected: Option<&str>) -> Result<Self, LedgerError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LedgerError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(LedgerError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Ok(m) if m.len() == 0 => {
                return Err(LedgerError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Ok(_) => {}
        }
        // Without SQLITE_OPEN_CREATE: a file removed since the check is not made again.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|source| match source.sqlite_error_code() {
            Some(ErrorCode::CannotOpen) => LedgerError::Missing {
                path: path.to_path_buf(),
            },
            _ => LedgerError::Open {
                path: path.to_path_buf(),
                source: source.into(),
            },
        })?;
        // A SQLite file without our schema (no migration ever ran) is as empty as a
        // zero-byte one; another program's database is not a ledger.
        let conn = db::Connection::sqlite(conn);
        let version = Self::read_schema_version(&conn).map_err(|_| LedgerError::NotALedger {
            path: path.to_path_buf(),
        })?;
        if version == 0 {
            return Err(
                match check_identity(&conn, path).and_then(|()| count_objects(&conn)) {
                    Ok(0) => LedgerError::Empty {
                        path: path.to_path_buf(),
                    },
                    _ => LedgerError::NotALedger {
                        path: path.to_path_buf(),
                    },
                },
            );
        }
        if let Some(expected) = expected {
            // Migration 10 made the identity: an older ledger has none to match.
            let found = if version >= IDENTITY_MIGRATION {
                identity_of(&conn).ok()
            } else {
                None
            };
            if found.as_deref() != Some(expected) {
                return Err(LedgerError::Foreign {
                    path: path.to_path_buf(),
                    expected: expected.to_string(),
                    found,
                });
            }
        }
        drop(conn);
        Self::open_file(path)
    }

    /// Opens the ledger at `location`: a file as [`Ledger::open`] does, or a PostgreSQL
    /// database as [`Ledger::open_postgres`] does.
    ///
    /// # Errors
    /// Those of [`Ledger::open`] or [`Ledger::open_postgres`].
    pub fn open_at(location: &LedgerLocation) -> Result<Self, LedgerError> {
        match location {
            LedgerLocation::File(path) => Self::open(path),
            LedgerLocation::Postgres(url) => Self::open_postgres(url),
        }
    }

    /// Opens the ledger named by `url`: a `postgres://` (or `postgresql://`) URL, or a file
    /// path. See [`LedgerLocation::parse`].
    ///
    /// # Errors
    /// Those of [`Ledger::open_at`].
    pub fn open_url(url: &str) -> Result<Self, LedgerError> {
        Self::open_at(&LedgerLocation::parse(url))
    }

    /// Opens the ledger in the PostgreSQL database at `url`, creating its tables if the
    /// database holds none, and brings its schema up to date. Every write transaction takes
    /// the ledger-wide advisory lock, so any number of processes may share it.
    ///
    /// # Errors
    /// [`LedgerError::Connect`] when the database cannot be reached,
    /// [`LedgerError::NotALedger`] for a database holding other tables,
    /// [`LedgerError::TooNew`], [`LedgerError::Busy`].
    pub fn open_postgres(url: &str) -> Result<Self, LedgerError> {
        Self::open_postgres_identified(url, None)
    }

    /// [`Ledger::open_postgres`] for a ledger that must already be there: with `expected`
    /// (the identity a vendor folder records), a database holding no ledger is
    /// [`LedgerError::Empty`] and one holding another ledger [`LedgerError::Foreign`], both
    /// before anything is written to it. Without `expected`, as [`Ledger::open_postgres`].
    ///
    /// # Errors
    /// Those of [`Ledger::open_postgres`], [`LedgerError::Empty`], [`LedgerError::Foreign`].
    pub fn open_postgres_identified(
        url: &str,
        expected: Option<&str>,
    ) -> Result<Self, LedgerError> {
        let ledger = Self::connect_postgres(url)?;
        let version = Self::read_schema_version(&ledger.conn)?;
        if version == 0 {
            check_identity(&ledger.conn, &ledger.path)?;
            if expected.is_some() {
                return Err(LedgerError::Empty {
                    path: ledger.path.clone(),
                });
            }
        }
        if let Some(expected) = expected {
            let found = if version >= IDENTITY_MIGRATION {
                identity_of(&ledger.conn).ok()
            } else {
                None
            };
            if found.as_deref() != Some(expected) {
                return Err(LedgerError::Foreign {
                    path: ledger.path.clone(),
                    expected: expected.to_string(),
                    found,
                });
            }
        }
        let mut ledger = ledger;
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Connects to a PostgreSQL ledger.
    fn connect_postgres(url: &str) -> Result<Self, LedgerError> {
        let location = LedgerLocation::Postgres(url.to_string());
        let shown = PathBuf::from(location.to_string());
        let conn = db::pg::PgConn::connect(url).map_err(|source| LedgerError::Connect {
            url: location.to_string(),
            source,
        })?;
        let ledger = Self {
            conn: db::Connection::postgres(conn),
            path: shown,
            location,
            actor: Actor::default(),
        };
        register_actor(&ledger.conn, &ledger.actor)?;
        Ok(ledger)
    }

    fn open_file(path: &Path) -> Result<Self, LedgerError> {
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        })?;
        let mut ledger = Self {
            conn: db::Connection::sqlite(conn),
            path: path.to_path_buf(),
            location: LedgerLocation::File(path.to_path_buf()),
            actor: Actor::default(),
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

    /// The ledger's identity: a random id given to it once, by migration 10, and carried by
    /// its backups (`SPEC.md` §17.5). The vendor folder records it in `ledger.id`.
    ///
    /// # Errors
    /// [`LedgerError::Database`] when SQLite fails.
    pub fn identity(&self) -> Result<String, LedgerError> {
        identity_of(&self.conn)
    }

    /// The file this ledger lives in; for a PostgreSQL ledger, its URL with any password
    /// replaced by `***` (see [`Ledger::location`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where this ledger lives.
    pub fn location(&self) -> &LedgerLocation {
        &self.location
    }

    /// Which database holds this ledger.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }

    fn sqlite(&self) -> Result<&Connection, LedgerError> {
        self.conn.as_sqlite().ok_or(LedgerError::NotAFile {
            location: self.location.to_string(),
        })
    }

    fn configure(&self) -> Result<(), LedgerError> {
        let c = self.sqlite()?;
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
        register_actor(&self.conn, &self.actor)
    }

    /// Puts the ledger in WAL mode (a new file starts in rollback mode; so does one that
    /// another process is bulk-writing, see [`Ledger::bulk_journal`]).
    ///
    /// Switching needs the ledger to itself. While another process holds a rollback-mode
    /// write transaction, SQLite refuses the switch at once instead of waiting (waiting with
    /// a read lock would deadlock with that writer's commit), so it is retried here after a
    /// pause, until [`BUSY_TIMEOUT`].
    fn switch_to_wal(&self) -> Result<(), LedgerError> {
        let c = self.sqlite()?;
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
                Err(e) if is_sqlite_busy(&e) && Instant::now() < deadline => {
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
        &self,
        rows: usize,
        write: impl FnOnce(&Self) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let Some(conn) = self.conn.as_sqlite() else {
            return write(self);
        };
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
        set(conn, "FULL", BULK_CACHE_KIB);
        let out = write(self);
        set(conn, "NORMAL", CACHE_KIB);
        // If this fails (another process keeps reading past the busy timeout), this
        // connection stays in rollback mode, which is as safe, and the next `open` of the
        // ledger switches back. The write has already committed or rolled back.
        let _ = self.switch_to_wal();
        out
    }

    /// Tries once, without waiting, to switch from WAL to rollback-journal mode; false when
    /// another connection has the ledger open.
    fn leave_wal(&self) -> bool {
        let Some(c) = self.conn.as_sqlite() else {
            return false;
        };
        if c.busy_timeout(Duration::ZERO).is_err() {
            return false;
        }
        let left = c
            .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
            .is_ok_and(|m| m.eq_ignore_ascii_case("delete"));
        let _ = c.busy_timeout(BUSY_TIMEOUT);
        left
    }

    fn read_schema_version(conn: &db::Connection) -> Result<u32, LedgerError> {
        let v: i64 = match conn.as_sqlite() {
            Some(c) => c
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(db("reading the schema version"))?,
            None if !PgVersionTable::exists(conn)? => 0,
            None => conn
                .query_row(PG_SCHEMA_VERSION, [], |r| r.get(0))
                .map_err(db("reading the schema version"))?,
        };
        u32::try_from(v).map_err(|_| LedgerError::Corrupt {
            what: format!("schema version {v}"),
        })
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        self.migrate_with(true)
    }

    /// Creates a new SQLite ledger at `path` (which must not exist, or be empty) to receive
    /// a copy of another ledger ([`super::copy`]): its migrations are applied without their
    /// audit rows, since the copied audit log brings the source's own.
    pub(super) fn create_for_copy(path: &Path) -> Result<Self, LedgerError> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err(LedgerError::OutputExists {
                path: path.to_path_buf(),
            });
        }
        create_owner_only(path)?;
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        })?;
        let mut ledger = Self {
            conn: db::Connection::sqlite(conn),
            path: path.to_path_buf(),
            location: LedgerLocation::File(path.to_path_buf()),
            actor: Actor::default(),
        };
        ledger.configure()?;
        ledger.migrate_with(false)?;
        Ok(ledger)
    }

    fn migrate_with(&mut self, audit: bool) -> Result<(), LedgerError> {
        // The common case, an up-to-date ledger, takes no write lock.
        let version = Self::read_schema_version(&self.conn)?;
        if version == SCHEMA_VERSION {
            return check_identity(&self.conn, &self.path);
        }
        let path = self.path.clone();
        loop {
            let tx = self
                .conn
                .begin(Behavior::Write)
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
                if let Some(pg) = self.conn.as_postgres() {
                    pg.clear_cache();
                }
                return Ok(());
            }
            if version == 0 {
                check_identity(&tx, &path)?;
            }
            let Some(migration) = super::migrations::next_after(version) else {
                return Err(LedgerError::Corrupt {
                    what: format!("no migration from schema version {version}"),
                });
            };
            let number = migration.version;
            migration.apply(&tx)?;
            match tx.as_sqlite() {
                Some(c) => {
                    if number == 1 {
                        c.pragma_update(None, "application_id", APPLICATION_ID)
                            .map_err(db("setting the application id"))?;
                    }
                    c.pragma_update(None, "user_version", number)
                        .map_err(db("recording the schema version"))?;
                }
                None => {
                    tx.execute(PG_SET_SCHEMA_VERSION, [i64::from(number)])
                        .map_err(db("recording the schema version"))?;
                }
            }
            if audit {
                audit_migration_in(&tx, version, number)?;
            }
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

    /// Runs `f` inside one read transaction, so every query it makes sees the same state
    /// of the ledger (in WAL mode, other processes' commits meanwhile stay invisible to it):
    /// a listing that reads its rows twice, once to measure its columns and once to print
    /// them, prints what it measured. `f` must not write.
    ///
    /// # Errors
    /// A database error starting the read, or what `f` returns.
    pub fn snapshot<T, E: From<LedgerError>>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let read = self
            .conn
            .begin(Behavior::Read)
            .map_err(db("starting a read"))?;
        let out = f(self);
        // Nothing was written: ending the read by rolling back releases the snapshot.
        drop(read);
        out
    }

    /// The underlying database connection, for diagnostics and tests (ad-hoc queries, in
    /// SQLite's dialect on either backend). Writing through it bypasses the audit log.
    pub fn connection(&self) -> &db::Connection {
        &self.conn
    }

    /// The SQLite connection of a file ledger (pragmas, backups); `None` on PostgreSQL.
    pub fn sqlite_connection(&self) -> Option<&Connection> {
        self.conn.as_sqlite()
    }
}

/// Page cache, in KiB, while a listing streams. A listing reads every page of its table
/// once: with the normal cache ([`CACHE_KIB`]) those pages would stay in memory up to 256 MiB,
/// and SQLite's sorter (the key listing sorts by batch) keeps that much before it spills to
/// a temporary file. 8 MiB keeps a listing of millions of rows far below 50 MB.
const LISTING_CACHE_KIB: i64 = 8 * 1024;

/// Shrinks the connection's page cache to [`LISTING_CACHE_KIB`] while a listing streams,
/// and puts the previous size back when dropped. Failures only cost memory or speed, so
/// they are ignored.
pub(super) struct ListingCache<'a> {
    conn: Option<&'a Connection>,
    before: Option<i64>,
}

impl<'a> ListingCache<'a> {
    /// Nothing to do on PostgreSQL: its server manages its own cache.
    pub(super) fn new(conn: &'a db::Connection) -> Self {
        let conn = conn.as_sqlite();
        let before = conn.and_then(|c| {
            c.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))
                .ok()
        });
        if let Some(c) = conn {
            let _ = c.pragma_update(None, "cache_size", -LISTING_CACHE_KIB);
        }
        Self { conn, before }
    }
}

impl Drop for ListingCache<'_> {
    fn drop(&mut self) {
        if let (Some(c), Some(before)) = (self.conn, self.before) {
            let _ = c.pragma_update(None, "cache_size", before);
        }
    }
}

/// Collects what a streaming listing (`for_each`) yields, for the bounded searches that want
/// a `Vec`: one implementation of "list = walk and keep every row" for every domain.
pub(super) fn collect<T>(
    walk: impl FnOnce(&mut dyn FnMut(T) -> Result<(), LedgerError>) -> Result<u64, LedgerError>,
) -> Result<Vec<T>, LedgerError> {
    let mut out = Vec::new();
    walk(&mut |row| {
        out.push(row);
        Ok(())
    })?;
    Ok(out)
}

/// Starts a write transaction on `conn`: takes the ledger's write lock at once (SQLite
/// `BEGIN IMMEDIATE`; on PostgreSQL the ledger-wide advisory lock, `db.rs`), waiting up to
/// [`BUSY_TIMEOUT`] for another process, so what it reads cannot change before it commits.
/// Refused while another transaction is open on the same connection (a
/// [`super::BatchWriter`] or [`super::SeatTx`] not yet committed).
pub(super) fn write_tx(conn: &db::Connection) -> Result<Transaction<'_>, LedgerError> {
    conn.begin(Behavior::Write)
        .map_err(db("starting a transaction"))
}

/// The schema version of a PostgreSQL ledger (0 before migration 1 made its table).
const PG_SCHEMA_VERSION: &str = "SELECT version FROM airseal_schema";

/// Records the schema version of a PostgreSQL ledger.
const PG_SET_SCHEMA_VERSION: &str = "UPDATE airseal_schema SET version = ?1";

/// Creates an empty file at `path` readable by its owner only, unless something is already
/// there: SQLite then opens it and gives its `-wal` and `-shm` files the same mode, so the
/// ledger is never readable by others, not even between its creation and a `chmod`.
pub(super) fn create_owner_only(path: &Path) -> Result<(), LedgerError> {
    use airseal_verify::app::fs::{Access, Mode, WriteError, write};
    match write(path, b"", Access::OwnerOnly, Mode::CreateNew) {
        Ok(()) | Err(WriteError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The identity row of migration 10.
pub(super) const IDENTITY_SQL: &str = "SELECT id FROM ledger_identity WHERE one = 1";

/// The identity row of migration 10.
pub(super) fn identity_of(conn: &db::Connection) -> Result<String, LedgerError> {
    conn.query_row(IDENTITY_SQL, [], |r| r.get(0))
        .map_err(db("reading the ledger identity"))
}

fn count_objects(conn: &db::Connection) -> Result<i64, LedgerError> {
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT count(*) FROM sqlite_schema",
        Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    conn.query_row(sql, [], |r| r.get(0))
        .map_err(db("reading the schema"))
}

/// Refuses files that are some other program's database: ours carry our application id from
/// migration 1 on, and a file without it must be empty.
fn check_identity(conn: &db::Connection, path: &Path) -> Result<(), LedgerError> {
    let Some(sqlite) = conn.as_sqlite() else {
        // PostgreSQL: a database that holds tables but no ledger schema is another
        // program's (the schema version table comes with migration 1).
        return match PgVersionTable::exists(conn)? {
            true => Ok(()),
            false if count_objects(conn)? == 0 => Ok(()),
            false => Err(LedgerError::NotALedger {
                path: path.to_path_buf(),
            }),
        };
    };
    let app: i32 = sqlite
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db("reading the application id"))?;
    if app == APPLICATION_ID {
        return Ok(());
    }
    let objects = count_objects(conn)?;
    if app != 0 || objects != 0 {
        return Err(LedgerError::NotALedger {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The PostgreSQL ledger's schema version table (migration 1's PostgreSQL version).
struct PgVersionTable;

impl PgVersionTable {
    fn exists(conn: &db::Connection) -> Result<bool, LedgerError> {
        conn.query_row(
            "SELECT to_regclass('airseal_schema') IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .map_err(db("reading the schema"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::error::db;

    fn journal_mode(l: &Ledger) -> String {
        l.conn
            .as_sqlite()
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    fn has_product(l: &Ledger, id: &str) -> rusqlite::Result<bool> {
        l.conn
            .as_sqlite()
            .unwrap()
            .query_row("SELECT count(*) FROM products WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n == 1)
    }

    /// `synchronous` (2 is FULL, 1 is NORMAL) and `cache_size`.
    fn sync_and_cache(l: &Ledger) -> (i64, i64) {
        let get = |p: &str| {
            l.conn
                .as_sqlite()
                .unwrap()
                .pragma_query_value(None, p, |r| r.get(0))
                .unwrap()
        };
        (get("synchronous"), get("cache_size"))
    }

    #[test]
    fn a_bulk_write_alone_skips_the_wal_and_puts_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let inside = l
            .bulk_journal(BULK_ROWS, |l| {
                l.products().ensure("p", None)?;
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
        let l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let r: Result<(), _> = l.bulk_journal(BULK_ROWS, |l| {
            let tx = l.conn.as_sqlite().unwrap().unchecked_transaction().unwrap();
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
        let l = Ledger::open(&path).unwrap();
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
        let l = Ledger::open(&path).unwrap();
        let opened = l
            .bulk_journal(BULK_ROWS, |l| {
                let tx = l.conn.as_sqlite().unwrap().unchecked_transaction().unwrap();
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
}
