//! Batches of keys: every key enters the ledger through one, and a batch's output file is
//! published only after its keys commit (see "Batches and crash safety" in the module docs
//! of [`crate::ledger`]).

use std::fmt;
use std::path::{Path, PathBuf};

use super::db::{Connection, OptionalExtension as _, Statement, Transaction, params};
use serde_json::Value;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::products::require_product;
use super::{KeyStatus, Ledger, LedgerError, now, parse_json, to_u64};
use crate::keys::KeyKind;

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
            other => Err(LedgerError::UnknownValue {
                table: "batches",
                column: "status",
                value: other.to_string(),
            }),
        }
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What made a batch's keys: one of airseal's generators, or an import from another
/// platform. Stored as the generator's word (`random`, `data`, `signed`) or `import`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchKind {
    /// Made by `keys generate` (or a vendor's backend) with this generator.
    Generated(KeyKind),
    /// Imported from another platform (`crate::import`), with per-key terms.
    Import,
}

impl BatchKind {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated(k) => k.as_str(),
            Self::Import => "import",
        }
    }

    /// The generator, for generated keys.
    pub fn key_kind(self) -> Option<KeyKind> {
        match self {
            Self::Generated(k) => Some(k),
            Self::Import => None,
        }
    }

    /// Reads the stored word (`batches.kind`).
    pub(super) fn from_ledger(s: &str) -> Result<Self, LedgerError> {
        if s == "import" {
            return Ok(Self::Import);
        }
        KeyKind::parse(s)
            .map(Self::Generated)
            .map_err(|_| LedgerError::UnknownValue {
                table: "batches",
                column: "kind",
                value: s.to_string(),
            })
    }
}

impl From<KeyKind> for BatchKind {
    fn from(k: KeyKind) -> Self {
        Self::Generated(k)
    }
}

impl fmt::Display for BatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its stored word, so JSON output keeps the words it always had.
impl serde::Serialize for BatchKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A batch of keys.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchInfo {
    /// Its id.
    pub id: BatchId,
    /// The product its keys belong to.
    pub product: String,
    /// What made the keys.
    pub kind: BatchKind,
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
    /// The parameters the batch was made with, as given to [`Batches::begin`].
    pub params: Value,
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

fn raw_batch(row: &super::db::Row<'_>) -> rusqlite::Result<RawBatch> {
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
            kind: BatchKind::from_ledger(&kind)?,
            requested: to_u64(requested, "requested count")?,
            inserted: to_u64(inserted, "inserted count")?,
            created,
            status: BatchStatus::parse(&status)?,
            output: output.map(PathBuf::from),
            params: parse_json(&params, "batch parameters")?,
        })
    }
}

/// The batches of a ledger: `ledger.batches()`.
#[derive(Clone, Copy, Debug)]
pub struct Batches<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Batches of keys, and the writer that records one.
    pub fn batches(&self) -> Batches<'_> {
        Batches {
            conn: self.connection(),
        }
    }
}

impl<'a> Batches<'a> {
    /// Starts a batch of keys for `product`: takes the ledger's write lock and records the
    /// batch, all inside one transaction that the returned [`BatchWriter`] holds until
    /// [`BatchWriter::commit`]. `kind` says what makes the keys (`random`, `data`,
    /// `import`, …), `requested` how many are wanted, `output` where they are written (kept
    /// for recovery), `params` the generation parameters (stored as JSON, for the record).
    ///
    /// Other processes can read the ledger meanwhile (they see it as it was before the
    /// batch) and wait up to [`super::BUSY_TIMEOUT`] to write.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], [`LedgerError::NonUtf8Path`],
    /// [`LedgerError::Busy`], or a database error.
    pub fn begin(
        &self,
        product: &str,
        kind: BatchKind,
        requested: u64,
        output: Option<&Path>,
        params: &Value,
    ) -> Result<BatchWriter<'a>, LedgerError> {
        let output = output
            .map(|p| {
                p.to_str().ok_or_else(|| LedgerError::NonUtf8Path {
                    path: p.to_path_buf(),
                })
            })
            .transpose()?;
        let requested = i64::try_from(requested).unwrap_or(i64::MAX);
        let conn: &'a Connection = self.conn;
        // A shared borrow, so the transaction and the prepared insert statement can both
        // borrow the connection for the writer's lifetime; SQLite refuses to begin while
        // another transaction is open on it.
        let tx = write_tx(conn)?;
        require_product(&tx, product)?;
        let created = now();
        tx.execute(
            "INSERT INTO batches (product, kind, requested, created, status, output, params)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
            params![
                product,
                kind.as_str(),
                requested,
                created,
                output,
                params.to_string()
            ],
        )
        .map_err(db("recording a batch"))?;
        let id = tx
            .last_insert_rowid()
            .map_err(db("reading the new row's id"))?;
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
            kind,
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
    pub fn mark_complete(&self, id: BatchId) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
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
    pub fn abort(&self, id: BatchId) -> Result<u64, LedgerError> {
        let tx = write_tx(self.conn)?;
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
    pub fn get(&self, id: BatchId) -> Result<Option<BatchInfo>, LedgerError> {
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

    /// Every batch (of one product, with `product`), oldest first: what `airseal ledger
    /// batches` lists.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn list(&self, product: Option<&str>) -> Result<Vec<BatchInfo>, LedgerError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {BATCH_COLUMNS} FROM batches WHERE ?1 IS NULL OR product = ?1 ORDER BY id"
            ))
            .map_err(db("listing batches"))?;
        let raws = st
            .query_map([product], raw_batch)
            .map_err(db("listing batches"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("listing batches"))?;
        raws.into_iter().map(BatchInfo::from_raw).collect()
    }

    /// Batches committed but not yet confirmed complete, oldest first: what a crashed run
    /// left for recovery.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn pending(&self) -> Result<Vec<BatchInfo>, LedgerError> {
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
    pub fn for_each_key<E>(
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
    /// [`Batches::for_each_key`] for large batches.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], or a database error.
    pub fn keys(&self, id: BatchId) -> Result<Vec<String>, LedgerError> {
        let mut keys = Vec::new();
        self.for_each_key(id, |k| {
            keys.push(k.to_string());
            Ok::<(), LedgerError>(())
        })?;
        Ok(keys)
    }
}

pub(super) fn batch_status(conn: &Connection, id: BatchId) -> Result<BatchStatus, LedgerError> {
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
    pub(super) tx: Transaction<'a>,
    pub(super) id: BatchId,
    product: String,
    kind: BatchKind,
    requested: i64,
    output: Option<String>,
    /// Position of the next key offered, across calls.
    next_seq: i64,
    pub(super) inserted: u64,
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

/// How many items [`BatchWriter::insert_keys_with_terms`] inserts between two progress
/// reports: a report costs a dynamic call, an insert a few microseconds, so this keeps
/// reports to a few a second on a slow machine without showing on the insert rate.
pub(crate) const PROGRESS_EVERY: u64 = 8192;

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
    /// used by [`Batches::for_each_key`], are still the order given here.
    ///
    /// # Errors
    /// [`LedgerError::EmptyKey`] (nothing from this call is then recorded), or a database
    /// error (the batch must then be dropped).
    pub fn insert_keys<S: AsRef<str>>(&mut self, keys: &[S]) -> Result<Vec<bool>, LedgerError> {
        self.insert_sorted(
            keys,
            S::as_ref,
            |w, key, _, seq| w.insert_at(key, seq),
            &mut |_| {},
        )
    }

    /// Records keys that bring their own terms (an import), as [`BatchWriter::insert_keys`]
    /// does, with each new key's status, terms record and loose form (if it needs one)
    /// written in the same row: one B-tree insert per key (`terms.rs` explains the layout).
    /// `progress` hears how many rows have been offered, every [`PROGRESS_EVERY`] rows and
    /// at the end.
    pub(crate) fn insert_keys_with_terms(
        &mut self,
        rows: &[KeyWithTerms<'_>],
        progress: &mut dyn FnMut(u64),
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
            progress,
        )
    }

    /// The loop both inserts share: sorts `items` by key, inserts each with `insert` (which
    /// says whether the key was new), and returns the flags in the caller's order.
    /// `progress` hears the number of items offered so far every [`PROGRESS_EVERY`] items
    /// and once at the end: a counter test per item, nothing more, on the hot path.
    fn insert_sorted<T>(
        &mut self,
        items: &[T],
        key_of: impl Fn(&T) -> &str,
        mut insert: impl FnMut(&mut Self, &str, &T, i64) -> Result<bool, LedgerError>,
        progress: &mut dyn FnMut(u64),
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
        let mut until_tick = PROGRESS_EVERY;
        let mut offered = 0u64;
        for (&(_, i), &end) in order.iter().zip(&ends) {
            until_tick -= 1;
            if until_tick == 0 {
                until_tick = PROGRESS_EVERY;
                progress(offered);
            }
            offered += 1;
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
        progress(offered);
        Ok(flags)
    }

    /// Commits the batch as [`BatchStatus::Pending`] together with its audit row, and
    /// releases the write lock. Once the output file is in place, call
    /// [`Batches::mark_complete`].
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
                "kind": kind.as_str(),
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

    #[test]
    fn sort_prefix_orders_like_bytes() {
        let mut keys = ["B", "A", "AB", "ABCDEFGHZ", "ABCDEFGHA", "", "ZZZZZZZZZ"];
        let mut by_prefix = keys;
        by_prefix.sort_by(|a, b| sort_prefix(a).cmp(&sort_prefix(b)).then(a.cmp(b)));
        keys.sort();
        assert_eq!(keys, by_prefix);
    }
}
