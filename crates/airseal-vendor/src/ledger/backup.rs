//! Backing the ledger up while other processes write to it, and putting a backup back
//! (`SPEC.md` §17.5).
//!
//! A backup is made with SQLite's online backup API, copying every page in one step: one
//! read transaction, so the copy is the ledger as of one commit, and in WAL mode writers
//! carry on meanwhile. The copy is a plain SQLite file (rollback journal), readable by any
//! SQLite, owner-only like the ledger, written beside its target and put in place by the one
//! durable writer. A restore checks the file is an airseal ledger with the vendor folder's
//! identity, keeps the current ledger aside under a new name (never deletes it), and puts
//! the backup in its place; both are audited.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airseal_verify::app::fs::{Access, DurableFile, Mode, WriteError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::audit::audit_in;
use super::connection::{IDENTITY_SQL, create_owner_only, write_tx};
use super::error::db;
use super::{APPLICATION_ID, Ledger, LedgerError, SCHEMA_VERSION};

/// What [`Ledger::backup_to`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup file.
    pub path: PathBuf,
    /// The ledger identity it carries.
    pub identity: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The schema version it was written at.
    pub schema_version: u32,
    /// Whether the backup is in the audit log (`ledger.backup`): it is not when another
    /// process held the ledger's write lock at that moment (the backup is whole either way).
    pub audited: bool,
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup put in place.
    pub from: PathBuf,
    /// The ledger file, now holding the backup.
    pub ledger: PathBuf,
    /// Where the ledger that was there before now is (its `-wal`/`-shm` files beside it
    /// with the same name); `None` when there was none.
    pub kept_aside: Option<PathBuf>,
    /// The identity of the restored ledger.
    pub identity: String,
    /// The identity of the ledger kept aside, when it could be read.
    pub replaced_identity: Option<String>,
    /// The schema version of the backup (the restored ledger is migrated to this build's).
    pub backup_schema_version: u32,
    /// How many audit rows the replaced ledger holds past the backup's last one, when it
    /// is the same ledger (same identity) and could be read: what was done after the backup
    /// and is not in the restored ledger (it stays in the one kept aside).
    pub not_in_backup: Option<u64>,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl From<WriteError> for LedgerError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::AlreadyExists { path } => LedgerError::OutputExists { path },
            WriteError::Io { path, source } => LedgerError::Io { path, source },
            other => LedgerError::Io {
                path: other.path().to_path_buf(),
                source: io::Error::other(other.to_string()),
            },
        }
    }
}

/// A scratch file beside `target` (same file system, so copying it is cheap), removed when
/// dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn beside(target: &Path, what: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = target
            .file_name()
            .map_or_else(|| "ledger".into(), |n| n.to_string_lossy().into_owned());
        Self(target.with_file_name(format!(".{name}.{what}-{}-{nanos}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// Copies `from` into the (new, empty) database file at `to` with the online backup API,
/// every page in one step, and leaves `to` in rollback-journal mode.
fn copy_pages(from: &Connection, to: &Path) -> Result<(), LedgerError> {
    create_owner_only(to)?;
    let mut dst = Connection::open(to).map_err(|source| LedgerError::Open {
        path: to.to_path_buf(),
        source: source.into(),
    })?;
    {
        let backup = Backup::new(from, &mut dst).map_err(db("starting a backup"))?;
        // -1: all pages in one step, under one read transaction of the source. Busy and
        // Locked only happen while another connection holds an exclusive lock (a bulk
        // import in rollback mode): wait and try again, as the busy timeout would.
        let deadline = std::time::Instant::now() + super::BUSY_TIMEOUT;
        loop {
            match backup.step(-1).map_err(db("copying the ledger"))? {
                StepResult::Done => break,
                _ if std::time::Instant::now() >= deadline => return Err(LedgerError::Busy),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    dst.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
        .map_err(db("setting the backup's journal mode"))?;
    Ok(())
}

/// Whether `out` names the ledger at `ledger` or one of its `-wal`, `-shm`, `-journal`
/// files (compared by folder, resolved, and name).
fn is_ledger_file(ledger: &Path, out: &Path) -> bool {
    let resolve = |p: &Path| {
        let folder = match p.parent() {
            Some(f) if !f.as_os_str().is_empty() => f.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::canonicalize(folder)
            .ok()
            .zip(p.file_name().map(std::ffi::OsStr::to_os_string))
    };
    let (Some((lf, lname)), Some((of, oname))) = (resolve(ledger), resolve(out)) else {
        return false;
    };
    lf == of
        && ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
            let mut n = lname.clone();
            n.push(suffix);
            n == oname
        })
}

/// Streams the file at `from` into a durable write of `to`.
fn publish(from: &Path, to: &Path, mode: Mode) -> Result<u64, LedgerError> {
    let mut out = DurableFile::create(to, Access::OwnerOnly, mode)?;
    let mut input = std::fs::File::open(from).map_err(io_at(from))?;
    let bytes = io::copy(&mut input, &mut out).map_err(io_at(to))?;
    out.commit()?;
    Ok(bytes)
}

/// What a file that should be a ledger (a backup) holds: its schema version and identity,
/// read without changing it.
struct Inspected {
    schema_version: u32,
    identity: Option<String>,
    last_audit: i64,
}

/// The identity of the ledger file open on `conn`.
fn identity_of(conn: &Connection) -> Result<String, LedgerError> {
    conn.query_row(IDENTITY_SQL, [], |r| r.get(0))
        .map_err(db("reading the ledger identity"))
}

fn last_audit(conn: &Connection) -> Result<i64, LedgerError> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM audit", [], |r| r.get(0))
        .map_err(db("reading the audit log"))
}

fn inspect(path: &Path) -> Result<Inspected, LedgerError> {
    let meta = std::fs::metadata(path).map_err(io_at(path))?;
    if meta.len() == 0 {
        return Err(LedgerError::Empty {
            path: path.to_path_buf(),
        });
    }
    let not_a_ledger = || LedgerError::NotALedger {
        path: path.to_path_buf(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| LedgerError::Open {
        path: path.to_path_buf(),
        source: source.into(),
    })?;
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|_| not_a_ledger())?;
    if app != APPLICATION_ID {
        return Err(not_a_ledger());
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|_| not_a_ledger())?;
    let schema_version = u32::try_from(version).map_err(|_| not_a_ledger())?;
    if schema_version == 0 {
        return Err(LedgerError::Empty {
            path: path.to_path_buf(),
        });
    }
    if schema_version > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            found: schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|_| not_a_ledger())?;
    if check != "ok" {
        return Err(LedgerError::Corrupt {
            what: format!("{}: {check}", path.display()),
        });
    }
    let has_identity: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'ledger_identity'",
            [],
            |r| r.get(0),
        )
        .map_err(db("reading the schema"))?;
    let identity = if has_identity == 1 {
        Some(identity_of(&conn)?)
    } else {
        None
    };
    Ok(Inspected {
        schema_version,
        identity,
        last_audit: last_audit(&conn)?,
    })
}

impl Ledger {
    /// The SQLite connection of a file ledger; a PostgreSQL ledger is backed up with
    /// PostgreSQL's own tools ([`LedgerError::NotAFile`]).
    fn file_connection(&self) -> Result<&Connection, LedgerError> {
        self.sqlite_connection()
            .ok_or_else(|| LedgerError::NotAFile {
                location: self.location().to_string(),
            })
    }

    /// Writes a consistent copy of this ledger to `out` while other processes may be writing
    /// to it (see the module docs), and records the backup in the audit log. An existing
    /// `out` is refused unless `replace`.
    ///
    /// # Errors
    /// [`LedgerError::OutputExists`], [`LedgerError::Io`], [`LedgerError::Busy`], or a
    /// database error.
    pub fn backup_to(&self, out: &Path, replace: bool) -> Result<BackupReport, LedgerError> {
        self.file_connection()?;
        if is_ledger_file(self.path(), out) {
            return Err(LedgerError::BackupOverLedger {
                path: out.to_path_buf(),
            });
        }
        if !replace && std::fs::symlink_metadata(out).is_ok() {
            return Err(LedgerError::OutputExists {
                path: out.to_path_buf(),
            });
        }
        let scratch = Scratch::beside(out, "backup");
        copy_pages(self.file_connection()?, &scratch.0)?;
        let copied = inspect(&scratch.0)?;
        let identity = self.identity()?;
        if copied.identity.as_deref() != Some(identity.as_str()) {
            return Err(LedgerError::Corrupt {
                what: format!("the backup copy of ledger {identity} reads back differently"),
            });
        }
        let mode = if replace {
            Mode::Replace
        } else {
            Mode::CreateNew
        };
        let bytes = publish(&scratch.0, out, mode)?;
        let mut report = BackupReport {
            path: out.to_path_buf(),
            identity,
            bytes,
            schema_version: copied.schema_version,
            audited: false,
        };
        report.audited = self.record_backup(&report, replace)?;
        Ok(report)
    }

    /// Records a backup in the audit log, without waiting: a backup changes nothing in the
    /// ledger, and one taken while a long batch holds the write lock must not fail (or wait
    /// for it) only to say so. False when the lock was taken.
    fn record_backup(&self, report: &BackupReport, replaced: bool) -> Result<bool, LedgerError> {
        let sqlite = self.file_connection()?;
        let conn = self.connection();
        sqlite
            .busy_timeout(Duration::ZERO)
            .map_err(db("setting the busy timeout"))?;
        let recorded = (|| {
            let tx = write_tx(conn)?;
            audit_in(
                &tx,
                "ledger.backup",
                &report.path.display().to_string(),
                &serde_json::json!({
                    "identity": report.identity,
                    "bytes": report.bytes,
                    "schema_version": report.schema_version,
                    "replaced": replaced,
                }),
            )?;
            tx.commit().map_err(db("recording the backup"))
        })();
        sqlite
            .busy_timeout(super::BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        match recorded {
            Ok(()) => Ok(true),
            Err(LedgerError::Busy) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The name the ledger at `ledger` is kept under when a backup replaces it:
/// `ledger.sqlite3.replaced-YYYYMMDDTHHMMSSZ`, with `-2`, `-3`… if taken.
/// Renames the ledger file at `ledger` to `….replaced-STAMP`, never over an existing file,
/// and returns the new name; restore and copy keep a replaced ledger this way, never
/// deleting it. The WAL and shared-memory files go first: a WAL left beside a new file at
/// the old name would be replayed into it.
pub(super) fn set_aside(ledger: &Path, now: i64) -> Result<PathBuf, LedgerError> {
    let aside = aside_name(ledger, now);
    for suffix in ["-wal", "-shm"] {
        let companion = with_suffix(ledger, suffix);
        if std::fs::symlink_metadata(&companion).is_ok() {
            airseal_verify::app::fs::rename_new(&companion, &with_suffix(&aside, suffix))?;
        }
    }
    airseal_verify::app::fs::rename_new(ledger, &aside)?;
    Ok(aside)
}

fn aside_name(ledger: &Path, now: i64) -> PathBuf {
    let stamp = chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0).map_or_else(
        || now.to_string(),
        |d| d.format("%Y%m%dT%H%M%SZ").to_string(),
    );
    let base = ledger.as_os_str().to_owned();
    for n in 1u32.. {
        let mut name = base.clone();
        name.push(format!(".replaced-{stamp}"));
        if n > 1 {
            name.push(format!("-{n}"));
        }
        let candidate = PathBuf::from(name);
        if std::fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
    }
    PathBuf::from(base)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Puts the backup `from` in place of the ledger at `ledger`, keeping the current one aside
/// (see the module docs). `expected` is the identity the vendor folder records: the backup
/// must carry it. `None` (a folder that records none) accepts any airseal ledger.
///
/// Run it while no other process uses the ledger: one that has it open keeps writing to the
/// file kept aside.
///
/// # Errors
/// [`LedgerError::NotALedger`], [`LedgerError::Empty`], [`LedgerError::TooNew`],
/// [`LedgerError::Corrupt`] or [`LedgerError::Foreign`] for a backup that cannot be put in
/// place (nothing changes then); [`LedgerError::Io`] or a database error.
pub fn restore(
    ledger: &Path,
    from: &Path,
    expected: Option<&str>,
) -> Result<(Ledger, RestoreReport), LedgerError> {
    let backup = inspect(from)?;
    if let Some(expected) = expected {
        if backup.identity.as_deref() != Some(expected) {
            return Err(LedgerError::Foreign {
                path: from.to_path_buf(),
                expected: expected.to_string(),
                found: backup.identity,
            });
        }
    }
    // A copy beside the ledger first: if it fails, the current ledger is untouched.
    let scratch = Scratch::beside(ledger, "restore");
    {
        let src = Connection::open_with_flags(
            from,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| LedgerError::Open {
            path: from.to_path_buf(),
            source: source.into(),
        })?;
        copy_pages(&src, &scratch.0)?;
    }
    // The current ledger's last commits are moved from its WAL into the file, so the file
    // kept aside is whole on its own; a ledger that does not open is kept as it is.
    let mut replaced_identity = None;
    let mut not_in_backup = None;
    if std::fs::symlink_metadata(ledger).is_ok() {
        if let Ok(current) = Connection::open_with_flags(
            ledger,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            let _ = current.busy_timeout(super::BUSY_TIMEOUT);
            let _ = current.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            replaced_identity = identity_of(&current).ok();
            if replaced_identity.is_some() && replaced_identity == backup.identity {
                not_in_backup = last_audit(&current)
                    .ok()
                    .and_then(|n| u64::try_from(n.saturating_sub(backup.last_audit)).ok());
            }
        }
    }
    let now = super::now();
    let kept_aside = if std::fs::symlink_metadata(ledger).is_ok() {
        Some(set_aside(ledger, now)?)
    } else {
        None
    };
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(ledger, suffix));
    }
    publish(&scratch.0, ledger, Mode::CreateNew)?;
    drop(scratch);
    let restored = Ledger::open_existing(ledger)?;
    let identity = restored.identity()?;
    let report = RestoreReport {
        from: from.to_path_buf(),
        ledger: ledger.to_path_buf(),
        kept_aside,
        identity,
        replaced_identity,
        backup_schema_version: backup.schema_version,
        not_in_backup,
    };
    let tx = write_tx(restored.connection())?;
    audit_in(
        &tx,
        "ledger.restore",
        &report.from.display().to_string(),
        &serde_json::json!({
            "before": {
                "identity": report.replaced_identity,
                "kept_aside": report.kept_aside.as_ref().map(|p| p.display().to_string()),
                "not_in_backup": report.not_in_backup,
            },
            "after": {
                "identity": report.identity,
                "from": report.from.display().to_string(),
                "backup_schema_version": report.backup_schema_version,
            },
        }),
    )?;
    tx.commit().map_err(db("recording the restore"))?;
    Ok((restored, report))
}
