//! Issuing one signed license per key an import wrote, on every core.
//!
//! [`plan`] reads the import's keys from the ledger and builds each key's license
//! description: the key's own terms (licensee, expiry, features, limits, metadata, from the
//! export) over the caller's defaults over the template recorded at import. Keys that are
//! suspended or revoked, or whose expiry has passed, get no license and are listed with the
//! reason instead. [`issue_parallel`] then signs the descriptions on one thread per core
//! (the calling thread included), handing each license to the caller's sink on the thread
//! that made it, so writing files is spread over the cores too.

use std::collections::HashMap;

use airseal_core::UnixTime;

use crate::issue::{IssueError, Issuer, LicenseSpec};
use crate::ledger::{BatchId, KeyStatus, Ledger, LedgerError};

/// A license to make.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseJob {
    /// The product key, as imported.
    pub key: String,
    /// The full description (product and product key filled in).
    pub spec: LicenseSpec,
}

/// A key that gets no license, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The product key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What [`plan`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The product.
    pub product: String,
    /// The licenses to make, in the import's order.
    pub jobs: Vec<LicenseJob>,
    /// The keys left out.
    pub skipped: Vec<Skipped>,
}

/// Why a plan could not be made.
#[non_exhaustive]
#[derive(Debug)]
pub enum PlanError {
    /// The ledger failed, or the batch is not an import.
    Ledger(LedgerError),
    /// A template recorded at import could not be read.
    Template {
        /// Its name.
        name: String,
        /// Why.
        message: String,
    },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ledger(LedgerError::UnknownBatch { id }) => {
                write!(f, "batch {id} is not an import (see the import's report)")
            }
            Self::Ledger(e) => e.fmt(f),
            Self::Template { name, message } => write!(f, "template {name:?}: {message}"),
        }
    }
}

impl std::error::Error for PlanError {}

impl From<LedgerError> for PlanError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Builds the license descriptions for every key import `batch` wrote. Each key's terms
/// come first, then `defaults` (the caller's flags and explicit template), then the template
/// the import recorded, read through `template` (called once per name).
///
/// # Errors
/// [`PlanError`].
pub fn plan(
    ledger: &Ledger,
    batch: BatchId,
    defaults: &LicenseSpec,
    mut template: impl FnMut(&str) -> Result<LicenseSpec, String>,
    now: UnixTime,
) -> Result<Plan, PlanError> {
    let product = ledger
        .imports()
        .get(batch)?
        .ok_or(LedgerError::UnknownBatch { id: batch })?
        .product;
    let mut templates: HashMap<String, LicenseSpec> = HashMap::new();
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for k in ledger.imports().keys(batch)? {
        if k.status != KeyStatus::Active {
            skipped.push(Skipped {
                key: k.key,
                reason: format!("the key is {}", k.status),
            });
            continue;
        }
        let mut base = defaults.clone();
        if let Some(name) = &k.terms.template {
            if !templates.contains_key(name) {
                let t = template(name).map_err(|message| PlanError::Template {
                    name: name.clone(),
                    message,
                })?;
                templates.insert(name.clone(), t);
            }
            if let Some(t) = templates.get(name) {
                base = base.or(t.clone());
            }
        }
        // The key's terms over the defaults and its template, less what the vendor took
        // away from it (`keys update`): the one place terms meet a template.
        let mut spec = k.terms.over(base);
        spec.product = Some(product.clone());
        spec.product_key = Some(k.key.clone());
        if let Some(exp) = &spec.expires {
            if spec.days.is_none() && spec.has_ended(now).unwrap_or(false) {
                skipped.push(Skipped {
                    key: k.key,
                    reason: format!("expired on {exp}"),
                });
                continue;
            }
        }
        jobs.push(LicenseJob { key: k.key, spec });
    }
    Ok(Plan {
        product,
        jobs,
        skipped,
    })
}

/// A signed license (its id and bytes), or why it could not be made.
pub type Issued = Result<(String, Vec<u8>), IssueError>;

/// Signs a license for every description, at time `now`, on `threads` threads (0 = one per
/// core), through the one parallel signing engine ([`crate::sign::par_for_each`]).
/// `sink(i, result)` receives each license (its id and bytes) or the reason it could not be
/// made, on the thread that made it, in no particular order; the first error the sink
/// returns stops every thread and is returned.
///
/// # Errors
/// The first error `sink` returned.
pub fn issue_parallel<E: Send>(
    issuer: &Issuer,
    specs: &[LicenseSpec],
    now: UnixTime,
    threads: usize,
    sink: &(dyn Fn(usize, Issued) -> Result<(), E> + Sync),
) -> Result<(), E> {
    crate::sign::par_for_each(
        specs,
        threads,
        &|_, spec: &LicenseSpec| {
            spec.to_claims(issuer, now, &mut rand::rng()).and_then(|c| {
                let id = c.license_id.clone();
                issuer.issue(c).map(|bytes| (id, bytes))
            })
        },
        sink,
    )
}
