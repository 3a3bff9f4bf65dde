//! The PostgreSQL side of the adapter: one `postgres::Client` (the sync client; the service
//! calls the ledger from `spawn_blocking` threads, never from an async worker), its cache of
//! prepared statements, the ledger-wide write lock, and the conversion of values between
//! rusqlite's dynamic types and PostgreSQL's typed wire format.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;

use postgres::types::{FromSql as PgFromSql, IsNull, Kind, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{FromSqlError, ToSqlOutput, Type as SqlType};

use super::super::audit::Actor;
use super::{Behavior, DbError, Result, ToSql, Value, ValueRef, translate};

/// The key of the ledger-wide advisory lock every write transaction takes
/// (`pg_advisory_xact_lock`): "ASLG" followed by "LOCK", so it does not collide with another
/// application's locks in a shared database by accident.
pub const LEDGER_LOCK: i64 = 0x4153_4C47_4C4F_434B;

/// How long a write waits for another instance's write lock before the ledger says
/// [`crate::ledger::LedgerError::Busy`] (PostgreSQL's `lock_timeout`, SQLSTATE 55P03); the
/// same as SQLite's busy timeout.
const LOCK_TIMEOUT_MS: u128 = crate::ledger::BUSY_TIMEOUT.as_millis();

/// A PostgreSQL connection with its statement cache.
pub struct PgConn {
    client: RefCell<postgres::Client>,
    cache: RefCell<HashMap<String, PgStatement>>,
    in_tx: Cell<bool>,
    actor: RefCell<Option<Actor>>,
}

/// A prepared statement, and whether its last parameter is the connection's actor
/// ([`translate::ACTOR_CALL`]).
#[derive(Clone)]
pub struct PgStatement {
    stmt: postgres::Statement,
    actor: bool,
}

impl PgConn {
    /// Connects to `url` (a `postgres://` URL), without TLS (a loopback or private-network
    /// database; see ARCHITECTURE.md).
    pub fn connect(url: &str) -> Result<Self> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        client.batch_execute(&format!(
            "SET lock_timeout = {LOCK_TIMEOUT_MS}; SET client_min_messages = warning"
        ))?;
        Ok(Self {
            client: RefCell::new(client),
            cache: RefCell::new(HashMap::new()),
            in_tx: Cell::new(false),
            actor: RefCell::new(None),
        })
    }

    fn client(&self) -> Result<std::cell::RefMut<'_, postgres::Client>> {
        self.client
            .try_borrow_mut()
            .map_err(|_| DbError::Refused("the PostgreSQL connection is in use"))
    }

    /// Gives the connection's statements that read [`translate::ACTOR_CALL`] this actor.
    pub fn set_actor_source(&self, actor: Actor) {
        *self.actor.borrow_mut() = Some(actor);
    }

    /// The prepared form of `sql` (SQLite dialect), translated and prepared once.
    pub fn prepare(&self, sql: &str) -> Result<PgStatement> {
        if let Some(st) = self.cache.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = PgStatement {
            stmt: self.prepare_new(&translate::statement(sql))?,
            actor: translate::uses_actor(sql),
        };
        self.cache.borrow_mut().insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// The parameters of one execution of `st`: `params`, then the actor if it reads it.
    fn bind(&self, st: &PgStatement, params: &[&dyn ToSql]) -> Result<Vec<Param>> {
        let mut values = owned_all(params)?;
        if st.actor {
            let actor = self.actor.borrow().as_ref().and_then(|a| match a.lock() {
                Ok(a) => a.clone(),
                Err(p) => p.into_inner().clone(),
            });
            values.push(Param(actor.map_or(Value::Null, Value::Text)));
        }
        Ok(values)
    }

    /// Prepares `sql`, letting the server infer every parameter's type (SQLite needs none).
    /// A parameter PostgreSQL cannot infer because its first use is a null test
    /// (`?1 IS NULL OR a.at >= ?1`) gets the type PostgreSQL infers from the statement
    /// without its null tests; one with no other use, `text`.
    fn prepare_new(&self, sql: &str) -> Result<postgres::Statement> {
        match self.prepare_typed(sql, Vec::new(), false) {
            Err(e) if undetermined_parameter(&e).is_some() => {
                let variant = translate::without_null_tests(sql);
                let types = self
                    .prepare_typed(&variant, Vec::new(), true)?
                    .params()
                    .to_vec();
                self.prepare_typed(sql, types, true)
            }
            other => other,
        }
    }

    /// Prepares `sql` with parameter `types` (oid 0: inferred), declaring `text` each
    /// parameter the server cannot infer when `fill`. Inside a transaction each attempt runs under a
    /// savepoint: a failed prepare would otherwise abort the transaction.
    fn prepare_typed(
        &self,
        sql: &str,
        mut types: Vec<Type>,
        fill: bool,
    ) -> Result<postgres::Statement> {
        let mut c = self.client()?;
        let in_tx = self.in_tx.get();
        let unspecified = || Type::new("unspecified".into(), 0, Kind::Pseudo, "pg_catalog".into());
        for t in &mut types {
            if *t == Type::UNKNOWN {
                *t = Type::TEXT;
            }
        }
        loop {
            if in_tx {
                c.batch_execute("SAVEPOINT airseal_prepare")?;
            }
            match c.prepare_typed(sql, &types) {
                Ok(st) => {
                    if in_tx {
                        c.batch_execute("RELEASE SAVEPOINT airseal_prepare")?;
                    }
                    return Ok(st);
                }
                Err(e) => {
                    if in_tx {
                        c.batch_execute("ROLLBACK TO SAVEPOINT airseal_prepare")?;
                    }
                    let e = DbError::from(e);
                    if !fill {
                        return Err(e);
                    }
                    let Some(n) = undetermined_parameter(&e).filter(|&n| (1..=100).contains(&n))
                    else {
                        return Err(e);
                    };
                    if types.len() < n {
                        types.resize_with(n, unspecified);
                    }
                    match types.get_mut(n - 1) {
                        Some(t) if t.oid() == 0 => *t = Type::TEXT,
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// The names of the columns `st` returns.
    pub fn column_names(&self, st: &PgStatement) -> Vec<String> {
        st.stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    /// Moves every identity column's sequence past the largest value in its column, after
    /// rows were copied in with their ids (`ledger migrate`).
    pub fn reset_identities(&self) -> Result<()> {
        let mut c = self.client()?;
        let columns = c.query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )?;
        for col in columns {
            let (table, column): (String, String) = (col.try_get(0)?, col.try_get(1)?);
            c.query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max({column}), 0) + 1, \
                     false) FROM {table}"
                ),
                &[&table, &column],
            )?;
        }
        Ok(())
    }

    /// Empties every table of the ledger (`ledger migrate --force` onto a ledger that holds
    /// rows), identities restarted; the schema version stays. `TRUNCATE` does not fire the
    /// audit log's row triggers.
    pub fn empty_tables(&self) -> Result<()> {
        let mut c = self.client()?;
        let tables: Vec<String> = c
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   AND table_name <> 'airseal_schema'",
                &[],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        if tables.is_empty() {
            return Ok(());
        }
        c.batch_execute(&format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            tables.join(", ")
        ))?;
        Ok(())
    }

    /// Forgets the prepared statements (after a migration changed the tables).
    pub fn clear_cache(&self) {
        self.cache.borrow_mut().clear();
    }

    pub fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
        let st = self.prepare(sql)?;
        self.execute_prepared(&st, params)
    }

    pub fn execute_prepared(&self, st: &PgStatement, params: &[&dyn ToSql]) -> Result<usize> {
        let values = self.bind(st, params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> =
            values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
        let n = self.client()?.execute(&st.stmt, &refs)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Every row of a query, each as rusqlite values. A listing is read whole (the stores'
    /// callbacks may query the same connection while they walk it).
    pub fn query_prepared(
        &self,
        st: &PgStatement,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Vec<Value>>> {
        let values = self.bind(st, params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> =
            values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
        let rows = self.client()?.query(&st.stmt, &refs)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<_, Any>(i).map(|a| a.0))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(DbError::from)
            })
            .collect()
    }

    /// Runs a script (already in PostgreSQL's dialect).
    pub fn execute_batch(&self, script: &str) -> Result<()> {
        Ok(self.client()?.batch_execute(script)?)
    }

    /// The last identity value this session generated.
    pub fn lastval(&self) -> Result<i64> {
        let row = self.client()?.query_one("SELECT lastval()", &[])?;
        Ok(row.try_get(0)?)
    }

    /// Begins a transaction; a write transaction takes the ledger-wide lock first.
    pub fn begin(&self, behavior: Behavior) -> Result<()> {
        self.in_tx.set(true);
        let sql = match behavior {
            Behavior::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string(),
            Behavior::Write => format!("BEGIN; SELECT pg_advisory_xact_lock({LEDGER_LOCK})"),
        };
        let mut c = self.client()?;
        if let Err(e) = c.batch_execute(&sql) {
            let _ = c.batch_execute("ROLLBACK");
            self.in_tx.set(false);
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends the open transaction.
    pub fn finish(&self, commit: bool) -> Result<()> {
        self.in_tx.set(false);
        let mut c = self.client()?;
        if commit {
            if let Err(e) = c.batch_execute("COMMIT") {
                let _ = c.batch_execute("ROLLBACK");
                return Err(e.into());
            }
            Ok(())
        } else {
            Ok(c.batch_execute("ROLLBACK")?)
        }
    }
}

/// A rusqlite value bound to a PostgreSQL parameter: converted to the parameter's type the
/// way SQLite's column affinity would store it.
#[derive(Debug)]
pub(super) struct Param(Value);

fn owned_all(params: &[&dyn ToSql]) -> Result<Vec<Param>> {
    params.iter().map(|p| owned(*p).map(Param)).collect()
}

/// The owned value of a parameter.
pub(super) fn owned(p: &dyn ToSql) -> Result<Value> {
    Ok(match p.to_sql()? {
        ToSqlOutput::Borrowed(v) => match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        },
        ToSqlOutput::Owned(v) => v,
        _ => return Err(DbError::Refused("a parameter PostgreSQL cannot take")),
    })
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl PgToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => PgToSql::to_sql(&i, ty, out),
                Type::INT4 => PgToSql::to_sql(&i32::try_from(*i)?, ty, out),
                Type::INT2 => PgToSql::to_sql(&i16::try_from(*i)?, ty, out),
                Type::BOOL => PgToSql::to_sql(&(*i != 0), ty, out),
                Type::FLOAT8 => {
                    #[allow(clippy::cast_precision_loss)]
                    let f = *i as f64;
                    PgToSql::to_sql(&f, ty, out)
                }
                _ => text_of(&i.to_string(), ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => PgToSql::to_sql(&f, ty, out),
                _ => text_of(&f.to_string(), ty, out),
            },
            Value::Text(s) => match *ty {
                Type::INT8 => PgToSql::to_sql(&s.parse::<i64>()?, ty, out),
                Type::INT4 => PgToSql::to_sql(&s.parse::<i32>()?, ty, out),
                _ => text_of(s, ty, out),
            },
            Value::Blob(b) => PgToSql::to_sql(&b.as_slice(), ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Text for a text-like parameter (text, varchar, citext, json, unknown).
fn text_of(
    s: &str,
    ty: &Type,
    out: &mut postgres::types::private::BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    if *ty == Type::JSONB {
        out.extend_from_slice(&[1]);
    }
    out.extend_from_slice(s.as_bytes());
    Ok(IsNull::No)
}

/// Any column, read as the rusqlite value SQLite would have returned for it.
struct Any(Value);

impl<'a> PgFromSql<'a> for Any {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(Self(match *ty {
            Type::INT8 => Value::Integer(<i64 as PgFromSql>::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i64::from(<i32 as PgFromSql>::from_sql(ty, raw)?)),
            Type::INT2 => Value::Integer(i64::from(<i16 as PgFromSql>::from_sql(ty, raw)?)),
            Type::OID => Value::Integer(i64::from(<u32 as PgFromSql>::from_sql(ty, raw)?)),
            Type::BOOL => Value::Integer(i64::from(<bool as PgFromSql>::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(<f64 as PgFromSql>::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(<f32 as PgFromSql>::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::NUMERIC => numeric(raw)?,
            Type::JSONB => Value::Text(String::from_utf8(raw.get(1..).unwrap_or(&[]).to_vec())?),
            // Text, varchar, name, json, citext and anything else with a text form.
            _ => Value::Text(String::from_utf8(raw.to_vec())?),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Self(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A NUMERIC (what PostgreSQL's `sum` of integers returns) as an integer when it is one,
/// else a real. Binary format: ndigits, weight, sign, dscale, then base-10000 digits.
fn numeric(raw: &[u8]) -> std::result::Result<Value, BoxError> {
    let word = |i: usize| -> std::result::Result<i16, BoxError> {
        let b: [u8; 2] = raw
            .get(i * 2..i * 2 + 2)
            .ok_or("short numeric")?
            .try_into()?;
        Ok(i16::from_be_bytes(b))
    };
    let ndigits = usize::try_from(word(0)?)?;
    let weight = i32::from(word(1)?);
    let sign = u16::from_be_bytes(word(2)?.to_be_bytes());
    let _dscale = word(3)?;
    if sign == 0xC000 {
        return Ok(Value::Null); // NaN
    }
    let mut int: i128 = 0;
    let mut frac = 0.0_f64;
    for i in 0..ndigits {
        let d = i128::from(word(4 + i)?);
        let power = weight - i32::try_from(i)?;
        if power >= 0 {
            int = int * 10_000 + d;
        } else {
            #[allow(clippy::cast_precision_loss)]
            let df = d as f64;
            frac += df * 10_000_f64.powi(power);
        }
    }
    // Trailing zero groups are omitted from the digits.
    let last = weight - i32::try_from(ndigits)? + 1;
    for _ in 0..last.max(0) {
        int *= 10_000;
    }
    let negative = sign == 0x4000;
    if frac == 0.0 {
        let v = i64::try_from(int)?;
        return Ok(Value::Integer(if negative { -v } else { v }));
    }
    #[allow(clippy::cast_precision_loss)]
    let f = int as f64 + frac;
    Ok(Value::Real(if negative { -f } else { f }))
}

/// The parameter number of PostgreSQL's "could not determine data type of parameter $N".
fn undetermined_parameter(e: &DbError) -> Option<usize> {
    let DbError::Postgres(e) = e else {
        return None;
    };
    let db = e.as_db_error()?;
    let code = db.code();
    if code != &postgres::error::SqlState::INDETERMINATE_DATATYPE
        && code != &postgres::error::SqlState::AMBIGUOUS_PARAMETER
    {
        return None;
    }
    let (_, n) = db.message().rsplit_once('$')?;
    n.trim().parse().ok()
}

/// Column `idx`'s value as a `T`, by rusqlite's rules and with rusqlite's errors. A text
/// that SQLite would have given as a number (`json_extract` of a JSON number, which
/// PostgreSQL's `->>` gives as text) converts as that number.
pub(super) fn convert<T: rusqlite::types::FromSql>(idx: usize, v: &Value) -> rusqlite::Result<T> {
    if let Value::Text(s) = v {
        if let Err(FromSqlError::InvalidType) = T::column_result(ValueRef::from(v)) {
            if let Ok(i) = s.parse::<i64>() {
                return convert_exact(idx, &Value::Integer(i));
            }
            if let Ok(f) = s.parse::<f64>() {
                return convert_exact(idx, &Value::Real(f));
            }
        }
    }
    convert_exact(idx, v)
}

fn convert_exact<T: rusqlite::types::FromSql>(idx: usize, v: &Value) -> rusqlite::Result<T> {
    let r = ValueRef::from(v);
    T::column_result(r).map_err(|err| match err {
        FromSqlError::InvalidType => {
            rusqlite::Error::InvalidColumnType(idx, String::new(), r.data_type())
        }
        FromSqlError::OutOfRange(i) => rusqlite::Error::IntegralValueOutOfRange(idx, i),
        FromSqlError::Other(e) => rusqlite::Error::FromSqlConversionFailure(idx, r.data_type(), e),
        e => rusqlite::Error::FromSqlConversionFailure(idx, SqlType::Null, Box::new(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(words: &[i16]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn numeric_sums_read_as_sqlite_integers() {
        // ndigits, weight, sign, dscale, then base-10000 digits.
        assert_eq!(
            numeric(&numeric_bytes(&[2, 1, 0, 0, 1234, 5678])).unwrap(),
            Value::Integer(12_345_678)
        );
        // 10000: one digit group, the zero group after it omitted.
        assert_eq!(
            numeric(&numeric_bytes(&[1, 1, 0, 0, 1])).unwrap(),
            Value::Integer(10_000)
        );
        assert_eq!(
            numeric(&numeric_bytes(&[1, 0, 0x4000, 0, 7])).unwrap(),
            Value::Integer(-7)
        );
        assert_eq!(
            numeric(&numeric_bytes(&[0, 0, 0, 0])).unwrap(),
            Value::Integer(0)
        );
    }

    #[test]
    fn text_that_sqlite_would_give_as_a_number_reads_as_one() {
        assert_eq!(convert::<i64>(0, &Value::Text("42".into())).unwrap(), 42);
        assert_eq!(
            convert::<String>(0, &Value::Text("42".into())).unwrap(),
            "42"
        );
        assert!(convert::<i64>(0, &Value::Text("x".into())).is_err());
    }
}
