//! The audit log: an append-only record of every change (triggers refuse updates and
//! deletes), each row written in the transaction of the change it records.

use super::db::{Connection, params};
use serde_json::Value;

use super::connection::{ListingCache, collect, write_tx};
use super::error::db;
use super::{Ledger, LedgerError, limit_of, now, parse_json};

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
    /// Who made the change through the service (`token:<name>`, `portal:<address>`), or
    /// `None` for a local command (see [`Ledger::set_actor`]).
    pub actor: Option<String>,
}

/// Writes one audit row on `conn`, which the callers always hold inside the transaction of
/// the change being recorded, so the change and its record commit or vanish together. The
/// row's actor is the connection's ([`Ledger::set_actor`], read by the SQL function
/// [`ACTOR_FUNCTION`]).
pub(super) fn audit_in(
    conn: &Connection,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<i64, LedgerError> {
    conn.prepare_cached(
        "INSERT INTO audit (at, action, subject, detail, actor)
         VALUES (?1, ?2, ?3, ?4, airseal_actor())",
    )
    .and_then(|mut st| st.execute(params![now(), action, subject, detail.to_string()]))
    .map_err(db("writing the audit log"))?;
    conn.last_insert_rowid()
        .map_err(db("reading the new row's id"))
}

/// The SQL function, registered on every ledger connection, that gives [`audit_in`] the
/// connection's actor.
pub(super) const ACTOR_FUNCTION: &str = "airseal_actor";

/// The actor of a connection: set by [`Ledger::set_actor`], read by [`ACTOR_FUNCTION`]
/// inside SQLite (the audit insert reads it where it writes the row, so no store passes it).
pub(super) type Actor = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// Registers [`ACTOR_FUNCTION`] on `conn`, reading `actor`.
/// On PostgreSQL the call is a parameter bound to `actor` ([`super::db::translate::ACTOR_CALL`]).
pub(super) fn register_actor(conn: &Connection, actor: &Actor) -> Result<(), LedgerError> {
    let Some(conn) = conn.as_sqlite() else {
        if let Some(pg) = conn.as_postgres() {
            pg.set_actor_source(std::sync::Arc::clone(actor));
        }
        return Ok(());
    };
    let actor = std::sync::Arc::clone(actor);
    conn.create_scalar_function(
        ACTOR_FUNCTION,
        0,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        move |_| {
            // A poisoned lock still holds the last actor set; a panic elsewhere does not
            // change who is acting.
            Ok(match actor.lock() {
                Ok(a) => a.clone(),
                Err(p) => p.into_inner().clone(),
            })
        },
    )
    .map_err(db("registering the audit actor"))
}

/// Writes the audit row of migration `from` → `to` on `conn`, inside the migration's
/// transaction. Until migration 14 the log has no actor column, and a migration is never
/// made through the service, so this row names none.
pub(super) fn audit_migration_in(conn: &Connection, from: u32, to: u32) -> Result<(), LedgerError> {
    conn.execute(
        "INSERT INTO audit (at, action, subject, detail) VALUES (?1, 'ledger.migrate', '', ?2)",
        params![
            now(),
            serde_json::json!({ "from": from, "to": to }).to_string()
        ],
    )
    .map_err(db("writing the audit log"))?;
    Ok(())
}

/// Which audit rows [`Audit::search`] returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only actions starting with this (`activation.` matches every activation action).
    pub action: Option<String>,
    /// Only rows whose subject or detail contains this text (a key, a license id, a device
    /// key id).
    pub text: Option<String>,
    /// Only rows at or after this instant.
    pub since: Option<i64>,
    /// Only rows made by this actor (`token:store`); `Some("")` for local commands only.
    pub actor: Option<String>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

/// The audit log of a ledger: `ledger.audit()`.
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// The audit log.
    pub fn audit(&self) -> Audit<'_> {
        Audit {
            conn: self.connection(),
        }
    }
}

impl Ledger {
    /// Sets who the audit rows this connection writes name as their actor, until set again:
    /// `token:<name>` for an admin API call, `portal:<address>` for the portal, `None` (the
    /// default) for a local command. A service sets it before each operation on a pooled
    /// ledger and clears it after, so no connection carries a stale actor.
    pub fn set_actor(&self, actor: Option<String>) {
        match self.actor.lock() {
            Ok(mut a) => *a = actor,
            Err(p) => *p.into_inner() = actor,
        }
    }

    /// The actor [`Ledger::set_actor`] set, if any.
    pub fn actor(&self) -> Option<String> {
        match self.actor.lock() {
            Ok(a) => a.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl Audit<'_> {
    /// Records a vendor action that changes nothing else in the ledger (a license issued, a
    /// key file exported). `action` is a dotted word (`license.issue`), `subject` what it
    /// concerns, `detail` anything worth keeping. Returns the row's id.
    ///
    /// # Errors
    /// A database error.
    pub fn record(&self, action: &str, subject: &str, detail: &Value) -> Result<i64, LedgerError> {
        let tx = write_tx(self.conn)?;
        let id = audit_in(&tx, action, subject, detail)?;
        tx.commit().map_err(db("committing an audit row"))?;
        Ok(id)
    }

    /// The newest `limit` rows of the audit log, newest first.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn recent(&self, limit: u32) -> Result<Vec<AuditEntry>, LedgerError> {
        self.search(&AuditFilter {
            limit: Some(limit),
            ..AuditFilter::default()
        })
    }

    /// Calls `f` with each audit row matching `filter`, newest first, and returns how many
    /// there were. Streams, as [`super::Keys::for_each`] does; an error from `f` stops it.
    ///
    /// # Errors
    /// A database error, [`LedgerError::Corrupt`], or what `f` returns.
    pub fn for_each<E: From<LedgerError>>(
        &self,
        filter: &AuditFilter,
        mut f: impl FnMut(AuditEntry) -> Result<(), E>,
    ) -> Result<u64, E> {
        let _cache = ListingCache::new(self.conn);
        let mut st = self
            .conn
            .prepare(
                "SELECT id, at, action, subject, detail, actor FROM audit
                 WHERE (?1 IS NULL OR substr(action, 1, length(?1)) = ?1)
                   AND (?2 IS NULL OR instr(lower(subject), lower(?2)) > 0
                                   OR instr(lower(detail), lower(?2)) > 0)
                   AND (?3 IS NULL OR at >= ?3)
                   AND (?5 IS NULL OR coalesce(actor, '') = ?5)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(db("searching the audit log"))?;
        let mut rows = st
            .query(params![
                filter.action,
                filter.text,
                filter.since,
                limit_of(filter.limit),
                filter.actor,
            ])
            .map_err(db("searching the audit log"))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(db("searching the audit log"))? {
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get_ref(4)?.as_str()?,
                    r.get::<_, Option<String>>(5)?,
                ))
            };
            let (id, at, action, subject, detail, actor) =
                read().map_err(db("searching the audit log"))?;
            let entry = AuditEntry {
                id,
                at,
                action,
                subject,
                detail: parse_json(detail, "audit detail")?,
                actor,
            };
            n += 1;
            f(entry)?;
        }
        Ok(n)
    }

    /// The audit rows [`Audit::for_each`] would list, collected: for searches whose result is
    /// bounded (a `limit`, one key's or one license's rows); whole listings stream.
    ///
    /// # Errors
    /// As [`Audit::for_each`].
    pub fn search(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, LedgerError> {
        collect(|row| self.for_each(filter, row))
    }
}
