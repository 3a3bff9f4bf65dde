//! The ledger's one database adapter: every store talks to a [`Connection`], which is either
//! SQLite (rusqlite, embedded, the default) or PostgreSQL (the sync `postgres` client, for
//! several service instances on one ledger).
//!
//! The adapter has rusqlite's shape (`execute`, `query_row`, `prepare_cached`, `query_map`,
//! [`Row::get`], [`Transaction`]) so the stores' SQL is written once, in SQLite's dialect
//! with `?N` placeholders. On SQLite every call goes straight to rusqlite, unchanged. On
//! PostgreSQL the statement text goes through [`translate::statement`] once (placeholders
//! `?N` → `$N`, the few SQLite-only constructs the ledger uses), is prepared once per
//! connection and cached; values are bound and read through rusqlite's own value types
//! (`pg.rs`), so a column reads back as the same Rust value from either backend.
//!
//! Dialect differences live in `translate.rs` (SQL text) and `pg.rs` (values, locks); no
//! store has a second copy of its SQL.
//!
//! Writes: on SQLite a write transaction is `BEGIN IMMEDIATE` (SQLite serialises writers).
//! On PostgreSQL every write transaction first takes the ledger-wide transaction-scoped
//! advisory lock ([`pg::LEDGER_LOCK`]), so writers from any number of processes and hosts
//! are serialised exactly as SQLite's are: what a transaction reads under the lock cannot
//! change before it commits, seats cannot be oversold, and revocation list numbers (read as
//! `MAX(seq) + 1` under the lock) never repeat.

pub(crate) mod pg;
pub mod translate;

use std::cell::Cell;
use std::fmt;

pub use rusqlite::types::{FromSql, ToSql, Value, ValueRef};

/// Which database a ledger lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A database error from either backend.
#[derive(Debug)]
pub enum DbError {
    /// SQLite's error (also a value that does not convert, from either backend).
    Sqlite(rusqlite::Error),
    /// PostgreSQL's error.
    Postgres(postgres::Error),
    /// The adapter refused the call (a transaction inside a transaction, a statement the
    /// other backend cannot run).
    Refused(&'static str),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => e.fmt(f),
            Self::Postgres(e) => match e.as_db_error() {
                Some(d) => write!(f, "{}: {}", d.severity(), d.message()),
                None => e.fmt(f),
            },
            Self::Refused(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(e) => Some(e),
            Self::Postgres(e) => Some(e),
            Self::Refused(_) => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

impl DbError {
    /// SQLite's error code, if SQLite reported it.
    pub fn sqlite_error_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Self::Sqlite(e) => e.sqlite_error_code(),
            _ => None,
        }
    }

    /// PostgreSQL's SQLSTATE, if PostgreSQL reported it.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Postgres(e) => e.code().map(postgres::error::SqlState::code),
            _ => None,
        }
    }

    fn is_no_rows(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// The adapter's result.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// `.optional()` on a query for one row, as rusqlite's.
pub trait OptionalExtension<T> {
    /// `Ok(None)` when the query returned no row.
    ///
    /// # Errors
    /// Any other error.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_no_rows() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Statement parameters: an array of values, `params![…]`, or [`params_from_iter`].
pub trait Params {
    /// Calls `f` with the values, in placeholder order.
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;
}

impl Params for [&dyn ToSql; 0] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

impl Params for &[&dyn ToSql] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
                f(&refs)
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
                f(&refs)
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Parameters from an iterator of values (as rusqlite's `params_from_iter`).
#[derive(Debug)]
pub struct ParamsFromIter<I>(I);

/// Parameters from an iterator of values.
pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        let items: Vec<I::Item> = self.0.into_iter().collect();
        let refs: Vec<&dyn ToSql> = items.iter().map(|v| v as &dyn ToSql).collect();
        f(&refs)
    }
}

/// `params![a, b, …]`: a slice of values of different types.
macro_rules! params {
    () => { &[] as &[&dyn $crate::ledger::db::ToSql] };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::ledger::db::ToSql),+] as &[&dyn $crate::ledger::db::ToSql]
    };
}
pub(crate) use params;

/// One connection to a ledger's database.
pub struct Connection {
    inner: Inner,
    /// Whether a transaction is open on this connection (PostgreSQL only; SQLite tracks it).
    in_tx: Cell<bool>,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<pg::PgConn>),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// How a transaction begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Reads only: one consistent snapshot (SQLite `BEGIN DEFERRED`; PostgreSQL
    /// `REPEATABLE READ`).
    Read,
    /// Writes: takes the ledger's write lock at once (SQLite `BEGIN IMMEDIATE`; PostgreSQL
    /// the ledger-wide advisory lock).
    Write,
}

impl Connection {
    /// Wraps an open SQLite connection.
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Self {
            inner: Inner::Sqlite(conn),
            in_tx: Cell::new(false),
        }
    }

    pub(crate) fn postgres(conn: pg::PgConn) -> Self {
        Self {
            inner: Inner::Postgres(Box::new(conn)),
            in_tx: Cell::new(false),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for a SQLite ledger.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    pub(crate) fn as_postgres(&self) -> Option<&pg::PgConn> {
        match &self.inner {
            Inner::Sqlite(_) => None,
            Inner::Postgres(c) => Some(c),
        }
    }

    /// Runs one statement; returns the number of rows changed.
    ///
    /// # Errors
    /// The database's error.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(params.with(|v| c.execute(sql, rusqlite::params_from_iter(v)))?),
            Inner::Postgres(c) => params.with(|v| c.execute(sql, v)),
        }
    }

    /// Runs several statements without parameters (migrations), in SQLite's dialect.
    ///
    /// # Errors
    /// The database's error.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(c) => c.execute_batch(&translate::script(sql)),
        }
    }

    /// Runs a script already in this backend's own dialect (a PostgreSQL migration file).
    ///
    /// # Errors
    /// The database's error.
    pub fn execute_native(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(c) => c.execute_batch(sql),
        }
    }

    /// The first row of a query, through `f`; [`OptionalExtension::optional`] turns "no row"
    /// into `None`.
    ///
    /// # Errors
    /// The database's error, or `f`'s.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let mut st = self.prepare(sql)?;
        st.query_row(params, f)
    }

    /// Prepares a statement.
    ///
    /// # Errors
    /// The database's error.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_with(sql, false)
    }

    /// Prepares a statement through the connection's statement cache.
    ///
    /// # Errors
    /// The database's error.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_with(sql, true)
    }

    fn prepare_with(&self, sql: &str, cached: bool) -> Result<Statement<'_>> {
        Ok(Statement {
            inner: match &self.inner {
                Inner::Sqlite(c) if cached => StInner::SqliteCached(c.prepare_cached(sql)?),
                Inner::Sqlite(c) => StInner::Sqlite(c.prepare(sql)?),
                Inner::Postgres(c) => StInner::Postgres {
                    conn: c,
                    stmt: c.prepare(sql)?,
                    bound: Vec::new(),
                },
            },
        })
    }

    /// The id of the row the last `INSERT` on this connection made (its `INTEGER PRIMARY
    /// KEY`; on PostgreSQL the identity column's value, `lastval()`).
    ///
    /// # Errors
    /// PostgreSQL's error (no insert into a table with an identity column yet).
    pub fn last_insert_rowid(&self) -> Result<i64> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.last_insert_rowid()),
            Inner::Postgres(c) => c.lastval(),
        }
    }

    /// Begins a transaction. A second one on the same connection is refused while the first
    /// is open (SQLite's own rule, kept on PostgreSQL).
    ///
    /// # Errors
    /// The database's error; a busy ledger.
    pub fn begin(&self, behavior: Behavior) -> Result<Transaction<'_>> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let b = match behavior {
                    Behavior::Read => rusqlite::TransactionBehavior::Deferred,
                    Behavior::Write => rusqlite::TransactionBehavior::Immediate,
                };
                let tx = rusqlite::Transaction::new_unchecked(c, b)?;
                Ok(Transaction {
                    conn: self,
                    sqlite: Some(tx),
                    open: true,
                })
            }
            Inner::Postgres(c) => {
                if self.in_tx.get() {
                    return Err(DbError::Refused(
                        "cannot start a transaction within a transaction",
                    ));
                }
                c.begin(behavior)?;
                self.in_tx.set(true);
                Ok(Transaction {
                    conn: self,
                    sqlite: None,
                    open: true,
                })
            }
        }
    }
}

/// An open transaction; rolled back when dropped without [`Transaction::commit`]. Derefs to
/// its [`Connection`].
pub struct Transaction<'a> {
    conn: &'a Connection,
    sqlite: Option<rusqlite::Transaction<'a>>,
    open: bool,
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Transaction<'_> {
    /// Commits.
    ///
    /// # Errors
    /// The database's error.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        match (self.sqlite.take(), &self.conn.inner) {
            (Some(tx), _) => Ok(tx.commit()?),
            (None, Inner::Postgres(c)) => {
                self.conn.in_tx.set(false);
                c.finish(true)
            }
            (None, Inner::Sqlite(_)) => Ok(()),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // SQLite: the rusqlite transaction rolls back as it drops.
        if let (None, Inner::Postgres(c)) = (&self.sqlite, &self.conn.inner) {
            self.conn.in_tx.set(false);
            let _ = c.finish(false);
        }
    }
}

/// A prepared statement.
pub struct Statement<'a> {
    inner: StInner<'a>,
}

enum StInner<'a> {
    Sqlite(rusqlite::Statement<'a>),
    SqliteCached(rusqlite::CachedStatement<'a>),
    Postgres {
        conn: &'a pg::PgConn,
        stmt: pg::PgStatement,
        bound: Vec<Value>,
    },
}

impl fmt::Debug for Statement<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement").finish_non_exhaustive()
    }
}

impl<'a> Statement<'a> {
    fn sqlite(&mut self) -> Option<&mut rusqlite::Statement<'a>> {
        match &mut self.inner {
            StInner::Sqlite(s) => Some(s),
            StInner::SqliteCached(s) => Some(s),
            StInner::Postgres { .. } => None,
        }
    }

    /// The names of the columns the statement returns.
    ///
    /// # Errors
    /// PostgreSQL's error preparing it.
    pub fn column_names(&mut self) -> Result<Vec<String>> {
        match &self.inner {
            StInner::Sqlite(s) => Ok(s.column_names().map(String::from).collect()),
            StInner::SqliteCached(s) => Ok(s.column_names().map(String::from).collect()),
            StInner::Postgres { conn, stmt, .. } => Ok(conn.column_names(stmt)),
        }
    }

    /// Runs the statement; returns the number of rows changed.
    ///
    /// # Errors
    /// The database's error.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        if let Some(s) = self.sqlite() {
            return Ok(params.with(|v| s.execute(rusqlite::params_from_iter(v)))?);
        }
        match &self.inner {
            StInner::Postgres { conn, stmt, .. } => params.with(|v| conn.execute_prepared(stmt, v)),
            _ => Err(DbError::Refused("statement backend")),
        }
    }

    /// Runs an `INSERT`; returns the new row's id (see [`Connection::last_insert_rowid`]).
    ///
    /// # Errors
    /// The database's error.
    pub fn insert<P: Params>(&mut self, params: P) -> Result<i64> {
        if let Some(s) = self.sqlite() {
            return Ok(params.with(|v| s.insert(rusqlite::params_from_iter(v)))?);
        }
        match &self.inner {
            StInner::Postgres { conn, stmt, .. } => {
                params.with(|v| conn.execute_prepared(stmt, v))?;
                conn.lastval()
            }
            _ => Err(DbError::Refused("statement backend")),
        }
    }

    /// Runs a query.
    ///
    /// # Errors
    /// The database's error.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let inner = match &mut self.inner {
            StInner::Sqlite(s) => {
                RowsInner::Sqlite(params.with(move |v| s.query(rusqlite::params_from_iter(v)))?)
            }
            StInner::SqliteCached(s) => {
                RowsInner::Sqlite(params.with(move |v| s.query(rusqlite::params_from_iter(v)))?)
            }
            StInner::Postgres { conn, stmt, .. } => RowsInner::Postgres {
                rows: params.with(|v| conn.query_prepared(stmt, v))?.into_iter(),
                current: None,
            },
        };
        Ok(Rows { inner })
    }

    /// Runs a query and maps each row through `f`.
    ///
    /// # Errors
    /// The database's error.
    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        Ok(MappedRows {
            rows: self.query(params)?,
            f,
        })
    }

    /// The first row, through `f`.
    ///
    /// # Errors
    /// The database's error, or `f`'s; no row is rusqlite's `QueryReturnedNoRows`.
    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(r) => Ok(f(&r)?),
            None => Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)),
        }
    }

    /// Whether the query returns a row.
    ///
    /// # Errors
    /// The database's error.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        let mut rows = self.query(params)?;
        Ok(rows.next()?.is_some())
    }

    /// Binds one value (1-based index) for [`Statement::raw_execute`].
    ///
    /// # Errors
    /// A value that does not bind.
    pub fn raw_bind_parameter<T: ToSql>(&mut self, index: usize, value: T) -> Result<()> {
        if let Some(s) = self.sqlite() {
            return Ok(s.raw_bind_parameter(index, value)?);
        }
        if let StInner::Postgres { bound, .. } = &mut self.inner {
            let v = pg::owned(&value)?;
            let at = index.saturating_sub(1);
            if bound.len() <= at {
                bound.resize(at + 1, Value::Null);
            }
            if let Some(slot) = bound.get_mut(at) {
                *slot = v;
            }
        }
        Ok(())
    }

    /// Runs the statement with the values bound by [`Statement::raw_bind_parameter`].
    ///
    /// # Errors
    /// The database's error.
    pub fn raw_execute(&mut self) -> Result<usize> {
        if let Some(s) = self.sqlite() {
            return Ok(s.raw_execute()?);
        }
        match &self.inner {
            StInner::Postgres { conn, stmt, bound } => {
                let refs: Vec<&dyn ToSql> = bound.iter().map(|v| v as &dyn ToSql).collect();
                conn.execute_prepared(stmt, &refs)
            }
            _ => Err(DbError::Refused("statement backend")),
        }
    }
}

/// The rows of a query.
pub struct Rows<'s> {
    inner: RowsInner<'s>,
}

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres {
        rows: std::vec::IntoIter<Vec<Value>>,
        current: Option<Vec<Value>>,
    },
}

impl fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows").finish_non_exhaustive()
    }
}

impl Rows<'_> {
    /// The next row.
    ///
    /// # Errors
    /// The database's error.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match &mut self.inner {
            RowsInner::Sqlite(r) => Ok(r.next()?.map(|r| Row {
                inner: RowInner::Sqlite(r),
            })),
            RowsInner::Postgres { rows, current } => {
                *current = rows.next();
                Ok(current.as_deref().map(|values| Row {
                    inner: RowInner::Postgres(values),
                }))
            }
        }
    }
}

/// Rows mapped through a function.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<F> fmt::Debug for MappedRows<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedRows").finish_non_exhaustive()
    }
}

impl<T, F> Iterator for MappedRows<'_, F>
where
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        let f = &mut self.f;
        match self.rows.next() {
            Ok(Some(r)) => Some(f(&r).map_err(DbError::from)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// One row of a query.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r [Value]),
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row").finish_non_exhaustive()
    }
}

impl Row<'_> {
    /// Column `idx` (0-based) as a `T`, converted by rusqlite's rules on either backend.
    ///
    /// # Errors
    /// A missing column, or a value that does not convert.
    pub fn get<I: ColumnIndex, T: FromSql>(&self, idx: I) -> rusqlite::Result<T> {
        let idx = idx.index();
        match &self.inner {
            RowInner::Sqlite(r) => r.get(idx),
            RowInner::Postgres(values) => {
                let v = values
                    .get(idx)
                    .ok_or(rusqlite::Error::InvalidColumnIndex(idx))?;
                pg::convert(idx, v)
            }
        }
    }

    /// Column `idx` as a borrowed value.
    ///
    /// # Errors
    /// A missing column.
    pub fn get_ref<I: ColumnIndex>(&self, idx: I) -> rusqlite::Result<ValueRef<'_>> {
        let idx = idx.index();
        match &self.inner {
            RowInner::Sqlite(r) => r.get_ref(idx),
            RowInner::Postgres(values) => values
                .get(idx)
                .map(ValueRef::from)
                .ok_or(rusqlite::Error::InvalidColumnIndex(idx)),
        }
    }
}

/// A column's position (0-based), as rusqlite's `RowIndex` for `usize`.
pub trait ColumnIndex {
    /// The position.
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}
