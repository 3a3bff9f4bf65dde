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
//! Keys are only ever added through a batch. [`Batches::begin`] opens a write
//! transaction and returns a [`BatchWriter`]; the caller inserts keys and writes the ones the
//! ledger accepted to a temporary output file, makes that file durable, then calls
//! [`BatchWriter::commit`], which records the batch as [`BatchStatus::Pending`]. After the
//! caller has renamed the output file into place it calls [`Batches::mark_complete`].
//!
//! * Killed before the commit: the transaction never happened (no batch row, no key, no
//!   audit row); the caller deletes its temporary file and starts again.
//! * Killed after the commit but before the batch is marked complete: the batch is listed by
//!   [`Batches::pending`]; the caller rewrites its output from
//!   [`Batches::for_each_key`] (keys in the order they were offered) and marks it
//!   complete, or gives it up with [`Batches::abort`], which removes its keys.
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
//! the page cache smaller (`BULK_CACHE_KIB`).
//!
//! The price is concurrency while the import runs: a process that opens the ledger then
//! waits (up to [`BUSY_TIMEOUT`]) until the import has committed and the ledger is back in
//! WAL mode, where in WAL mode a reader would have read the state before the import.
//!
//! # Layout
//!
//! [`Ledger`] owns the SQLite connection (`connection.rs`: open, tuning, migrations,
//! transactions). Each domain has its own store, a cheap borrowed handle with the domain's
//! operations, in a file of its own:
//!
//! | store | file | holds |
//! |---|---|---|
//! | [`Ledger::products`] | `products.rs` | products and their templates |
//! | [`Ledger::batches`] | `batches.rs` | batches and the [`BatchWriter`] that records one |
//! | [`Ledger::keys`] | `keys.rs` (+ `terms.rs`, `lookup.rs`) | keys, statuses, terms, lookup |
//! | [`Ledger::seats`] | `seats.rs` | activations (seats, trials) and the [`SeatTx`] |
//! | [`Ledger::licenses`] | `licenses.rs` | every signed license document |
//! | [`Ledger::imports`] | `imports.rs` | imports from other platforms |
//! | [`Ledger::customers`] | `customers.rs` | customers (keys link to them in their terms) |
//! | [`Ledger::audit`] | `audit.rs` | the append-only audit log |
//! | [`Ledger::revocations`] | `revocations.rs` | revocations and exported lists |
//! | [`Ledger::certificates`] | `certificates.rs` | issuing-key certificates (`SPEC.md` §18) |
//! | [`Ledger::tokens`] | `tokens.rs` | `airseal serve`'s bearer tokens (hashes only) |
//!
//! A store's writes each run in their own immediate transaction with their audit row. Work
//! that spans domains runs in one long transaction: [`Batches::begin`] (a batch's keys, with
//! import terms), [`Seats::begin`] (a seat, its license row and its audit row, read and
//! written under one lock), [`Imports::write`]. Inside them each domain's crate-private
//! `…_in(&Connection, …)` functions do the work on the open transaction. While one is open
//! SQLite refuses to begin another on the same connection, so a write cannot slip in between.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod audit;
mod backup;
mod batches;
mod certificates;
mod connection;
pub mod copy;
mod customers;
pub mod db;
mod error;
mod imports;
mod keys;
mod licenses;
mod location;
mod lookup;
mod migrations;
mod outputs;
mod products;
mod revocations;
mod seats;
mod terms;
mod tokens;

pub use audit::{Audit, AuditEntry, AuditFilter};
pub use backup::{BackupReport, RestoreReport, restore};
pub(crate) use batches::KeyWithTerms;
pub use batches::{BatchId, BatchInfo, BatchKind, BatchStatus, BatchWriter, Batches};
pub use certificates::{
    CertificatePlan, CertificateRecord, CertificateStatus, Certificates, LIST_SEQ_RANGE,
};
pub use connection::{APPLICATION_ID, BULK_ROWS, BUSY_TIMEOUT, Ledger};
pub use customers::{Customer, CustomerError, Customers, NewCustomer};
pub use db::{Backend, DbError};
pub use error::LedgerError;
pub use imports::{ImportInfo, ImportRow, ImportWrite, ImportedKey, Imports, RowOutcome};
pub use keys::{KeyEdit, KeyFilter, KeyOverview, KeyRecord, KeyState, KeyStatus, Keys};
pub use licenses::{LicenseFilter, LicenseRecord, LicenseSource, Licenses, signed_claims};
pub use location::{LedgerLocation, is_postgres_url, redact_url};
pub use lookup::{FoundKey, KeyMatch};
pub use migrations::{DATA_STEP, MIGRATIONS, Migration, SCHEMA_VERSION};
pub use outputs::ClearedOutputs;
pub use products::{Product, Products};
pub use revocations::{
    ExportedList, ListContents, Revocation, Revocations, RevokeError, RevokeOutcome, RevokeReport,
    RevokeTarget, RevokedKeyChange, UndoTarget,
};
pub use seats::{
    Activation, ActivationFilter, ActivationId, DeactivatedBy, IssuedResponse, SeatKey,
    SeatRequest, SeatTx, Seats,
};
pub(crate) use terms::decode_terms;
pub use terms::{KeyTerms, TermsRecord, feature_name};
pub(crate) use tokens::NewTokenRow;
pub use tokens::{
    NAME_MAX as TOKEN_NAME_MAX, TokenError, TokenRecord, TokenScope, Tokens,
    check_name as check_token_name,
};

/// Seconds since 1970 from the system clock (0 if the clock is before 1970).
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

/// SQLite's "no limit".
fn limit_of(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}
