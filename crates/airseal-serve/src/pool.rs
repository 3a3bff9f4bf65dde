//! The ledger pool: vendor operations are synchronous (SQLite, or the sync PostgreSQL
//! client), so each runs on tokio's blocking pool with a [`Ledger`] taken from here, and
//! never on an async worker thread. At most `size` operations run at once; connections
//! are opened on demand and kept.

use std::sync::{Arc, Mutex};

use airseal_vendor::ledger::{Ledger, LedgerError};
use airseal_vendor::vendor_dir::VendorDir;
use tokio::sync::Semaphore;

/// Why an operation could not be run (before or around the operation itself).
#[non_exhaustive]
#[derive(Debug)]
pub enum PoolError {
    /// A ledger connection could not be opened.
    Open(LedgerError),
    /// The operation panicked or was cancelled.
    Aborted,
    /// The pool is closed (the service is shutting down).
    Closed,
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open(e) => write!(f, "cannot open the ledger: {e}"),
            Self::Aborted => f.write_str("the ledger operation was aborted"),
            Self::Closed => f.write_str("the service is shutting down"),
        }
    }
}

impl std::error::Error for PoolError {}

/// Ledger connections for the vendor folder, at most `size` in use at once.
#[derive(Debug)]
pub struct LedgerPool {
    vendor: VendorDir,
    idle: Mutex<Vec<Ledger>>,
    permits: Semaphore,
}

impl LedgerPool {
    /// A pool of up to `size` (at least 1) connections to `vendor`'s ledger.
    pub fn new(vendor: VendorDir, size: usize) -> Self {
        Self {
            vendor,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Opens one connection now, so a ledger that cannot be opened stops the service at
    /// start rather than failing its first request.
    ///
    /// # Errors
    /// The ledger's error.
    pub fn warm_up(&self) -> Result<(), LedgerError> {
        let ledger = self.vendor.open_ledger()?;
        self.put_back(ledger);
        Ok(())
    }

    /// Runs `op` with a ledger connection on the blocking pool.
    ///
    /// # Errors
    /// [`PoolError`] when no connection could be had or `op` panicked; `op`'s own result
    /// (often itself a `Result`) is returned as is.
    pub async fn run<T, F>(self: &Arc<Self>, op: F) -> Result<T, PoolError>
    where
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PoolError::Closed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut ledger = match pool.take() {
                Some(ledger) => ledger,
                None => pool.vendor.open_ledger().map_err(PoolError::Open)?,
            };
            let out = op(&mut ledger);
            // Not reached when `op` panics: a connection in an unknown state is dropped.
            pool.put_back(ledger);
            Ok(out)
        })
        .await
        .map_err(|_| PoolError::Aborted)?
    }

    /// Closes the pool: operations already running finish, new ones get [`PoolError::Closed`];
    /// idle connections are closed now, busy ones when their operation ends.
    pub fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn take(&self) -> Option<Ledger> {
        self.idle.lock().ok()?.pop()
    }

    fn put_back(&self, ledger: Ledger) {
        if self.permits.is_closed() {
            return; // closing: the connection is dropped (closed) here
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(ledger);
        }
    }
}
