//! The output files `keys generate` runs are writing (migration 10, `batch_outputs`): each
//! run names its output here, in a commit of its own, before its long transaction begins,
//! and removes the name once the file is published or the run has failed. A run killed
//! before that leaves the name, which tells `keys recover` where its temporary file lies
//! (`crate::batch::remove_leftovers`).

use std::path::{Path, PathBuf};

use super::db::params;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError, now};

fn text_of(path: &Path) -> Result<&str, LedgerError> {
    path.to_str().ok_or_else(|| LedgerError::NonUtf8Path {
        path: path.to_path_buf(),
    })
}

/// What [`Ledger::clear_batch_outputs`] removed, for its audit row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClearedOutputs {
    /// Temporary files removed.
    pub files: Vec<PathBuf>,
    /// Their size in bytes.
    pub bytes: u64,
}

impl Ledger {
    /// Records that a run is about to write `path` (an absolute path).
    ///
    /// # Errors
    /// [`LedgerError::NonUtf8Path`] or a database error.
    pub fn record_batch_output(&self, path: &Path) -> Result<(), LedgerError> {
        let text = text_of(path)?;
        let tx = write_tx(self.connection())?;
        tx.execute(
            "INSERT INTO batch_outputs (path, started) VALUES (?1, ?2)
             ON CONFLICT (path) DO UPDATE SET started = excluded.started",
            params![text, now()],
        )
        .map_err(db("recording a batch output"))?;
        tx.commit().map_err(db("recording a batch output"))
    }

    /// Forgets `path` (its file is published, or its run failed and removed its temporary).
    ///
    /// # Errors
    /// A database error.
    pub fn forget_batch_output(&self, path: &Path) -> Result<(), LedgerError> {
        let text = text_of(path)?;
        let tx = write_tx(self.connection())?;
        tx.execute("DELETE FROM batch_outputs WHERE path = ?1", [text])
            .map_err(db("forgetting a batch output"))?;
        tx.commit().map_err(db("forgetting a batch output"))
    }

    /// Under the ledger's write lock (so no run is generating meanwhile: a run holds it from
    /// its first key to its commit), hands every recorded output to `clear`, which removes
    /// what its runs left; then forgets them and audits what was removed
    /// (`batch.leftovers`).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Busy`] while a run is generating.
    pub fn clear_batch_outputs(
        &self,
        clear: impl FnOnce(&[PathBuf]) -> ClearedOutputs,
    ) -> Result<ClearedOutputs, LedgerError> {
        let tx = write_tx(self.connection())?;
        let paths: Vec<PathBuf> = {
            let mut st = tx
                .prepare("SELECT path FROM batch_outputs ORDER BY path")
                .map_err(db("reading batch outputs"))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(db("reading batch outputs"))?;
            rows.map(|r| r.map(PathBuf::from))
                .collect::<Result<_, _>>()
                .map_err(db("reading batch outputs"))?
        };
        let cleared = clear(&paths);
        tx.execute("DELETE FROM batch_outputs", [])
            .map_err(db("forgetting batch outputs"))?;
        if !cleared.files.is_empty() {
            audit_in(
                &tx,
                "batch.leftovers",
                "",
                &serde_json::json!({
                    "removed": cleared.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    "bytes": cleared.bytes,
                }),
            )?;
        }
        tx.commit().map_err(db("forgetting batch outputs"))?;
        Ok(cleared)
    }
}
