//! The state every handler shares: the vendor folder, the configuration, the signer, the
//! ledger pool and the rate limiters. One [`AppState`] per service, behind an `Arc`.

use std::sync::Arc;

use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::Ledger;
use airseal_vendor::vendor_dir::VendorDir;

use crate::config::ServeConfig;
use crate::limit::Limiters;
use crate::pool::{LedgerPool, PoolError};
use crate::problem::Problem;

/// What handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The vendor folder (its `airseal.toml` as read at start).
    pub vendor: VendorDir,
    /// How the service was started.
    pub config: ServeConfig,
    /// The key the service signs with (an issuing key, unless the root was allowed).
    pub issuer: Issuer,
    /// Ledger connections for vendor operations.
    pub pool: Arc<LedgerPool>,
    /// The portal's rate limits.
    pub limiters: Limiters,
}

impl AppState {
    /// The state for `vendor`, signing with `issuer`.
    pub fn new(vendor: VendorDir, config: ServeConfig, issuer: Issuer) -> Self {
        let pool = Arc::new(LedgerPool::new(vendor.clone(), config.limits.pool_size));
        let limiters = Limiters::new(&config.limits);
        Self {
            vendor,
            config,
            issuer,
            pool,
            limiters,
        }
    }

    /// Runs the vendor operation `op` with a pooled ledger on the blocking pool (never on an
    /// async worker), as a local command would: the audit log's actor is left empty.
    /// Handlers call vendor operations only through here (or [`Self::with_ledger_as`]).
    ///
    /// # Errors
    /// A [`Problem`] (503 or 500) when the operation could not be run; `op`'s own result
    /// is returned as is.
    pub async fn with_ledger<T, F>(&self, op: F) -> Result<T, Problem>
    where
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_ledger_as(None, op).await
    }

    /// [`Self::with_ledger`] recording `actor` (`token:NAME`, `portal:ADDRESS`) as who acted
    /// in the audit log for the duration of `op` (DESIGN15 §4).
    ///
    /// # Errors
    /// As [`Self::with_ledger`].
    pub async fn with_ledger_as<T, F>(&self, actor: Option<String>, op: F) -> Result<T, Problem>
    where
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
        T: Send + 'static,
    {
        // The actor is set on the connection before `op` and cleared after, so a pooled
        // connection never carries a stale one (a connection whose `op` panicked is dropped
        // by the pool, actor and all).
        self.pool
            .run(move |ledger| {
                ledger.set_actor(actor);
                let out = op(ledger);
                ledger.set_actor(None);
                out
            })
            .await
            .map_err(Problem::from)
    }
}

impl From<PoolError> for Problem {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Open(l) => crate::problem::from_ledger(&l),
            PoolError::Closed => Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                1,
                "the service is shutting down",
            )
            .retry_after(5),
            PoolError::Aborted => Problem::internal("the operation failed unexpectedly"),
        }
    }
}
