//! Keys made for an order (a store's purchase, `POST /v1/keys`): a batch of keys for a
//! product, each linked to a customer and given its terms, returned to the caller instead of
//! written to a file it names. The same steps as `airseal keys generate` followed by `airseal
//! keys update` on each key: [`super::source::plan`], [`crate::batch::generate`] (its crash
//! safety included) and [`super::ops::update`].

use std::fmt;
use std::path::Path;

use airseal_core::UnixTime;

use super::KeyKind;
use super::ops::{KeyOpError, KeyUpdate, UpdateReport};
use super::source::{SourceError, SourceOptions};
use crate::batch::{BatchError, BatchRequest, OutputFormat};
use crate::issue::Issuer;
use crate::ledger::{Ledger, LedgerError};
use crate::vendor_dir::VendorDir;

/// The most keys one order makes (a larger run is a batch job: `airseal keys generate`).
pub const MAX_ORDER: u64 = 1000;

/// What to make.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyOrder {
    /// The product (one of `airseal.toml`'s).
    pub product: String,
    /// How many keys (1 to [`MAX_ORDER`]).
    pub count: u64,
    /// Random (the default), data or signed keys.
    pub kind: Option<KeyKind>,
    /// The template activation uses for these keys (the product's default when `None`).
    pub template: Option<String>,
    /// The customer the keys belong to.
    pub customer: Option<i64>,
    /// Terms every key gets over its template (seats, features, end, notes, metadata);
    /// nothing changes when it is empty.
    pub terms: KeyUpdate,
}

/// The keys an order made.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderedKeys {
    /// The batch that recorded them.
    pub batch: i64,
    /// The product.
    pub product: String,
    /// The keys, as customers type them (the product's pattern).
    pub keys: Vec<String>,
    /// Each key's terms after the update (empty when the order set no terms).
    pub terms: Vec<UpdateReport>,
}

/// Why an order was refused or failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum OrderError {
    /// The count is 0 or above [`MAX_ORDER`].
    Count {
        /// The count asked for.
        count: u64,
        /// The most allowed.
        max: u64,
    },
    /// The keys cannot be made as asked (product, template, pattern).
    Source(SourceError),
    /// The customer is not in the ledger.
    UnknownCustomer {
        /// Its number.
        id: i64,
    },
    /// The batch failed (nothing of it is recorded).
    Batch(BatchError),
    /// The terms could not be given (the keys are made and recorded; the report names them).
    Terms {
        /// The batch that holds the keys.
        batch: i64,
        /// Why.
        source: KeyOpError,
    },
    /// The ledger failed.
    Ledger(LedgerError),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count { count, max } => {
                write!(f, "{count} keys: an order makes 1 to {max} keys")
            }
            Self::Source(e) => e.fmt(f),
            Self::UnknownCustomer { id } => write!(f, "no customer has the number {id}"),
            Self::Batch(e) => e.fmt(f),
            Self::Terms { batch, source } => {
                write!(
                    f,
                    "the keys of batch {batch} were made, but not given their terms: {source}"
                )
            }
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OrderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Source(e) => Some(e),
            Self::Batch(e) => Some(e),
            Self::Terms { source, .. } => Some(source),
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for OrderError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Makes the keys of `order` at `now`, signing data and signed keys with `issuer`: a batch
/// recorded and audited as `keys generate` records one, its output written to a scratch
/// file in `scratch` (a folder only the vendor can read), read back and removed; then each
/// key's terms, audited as `key.update`.
///
/// # Errors
/// [`OrderError`]; before the batch, nothing is recorded.
pub fn create_keys(
    ledger: &mut Ledger,
    vendor: &VendorDir,
    issuer: &Issuer,
    order: &KeyOrder,
    scratch: &Path,
    now: UnixTime,
) -> Result<OrderedKeys, OrderError> {
    if order.count == 0 || order.count > MAX_ORDER {
        return Err(OrderError::Count {
            count: order.count,
            max: MAX_ORDER,
        });
    }
    if let Some(id) = order.customer.or(order.terms.customer) {
        if ledger.customers().get(id)?.is_none() {
            return Err(OrderError::UnknownCustomer { id });
        }
    }
    let plan = super::source::plan(
        vendor.config(),
        SourceOptions {
            product: order.product.clone(),
            kind: order.kind.unwrap_or(KeyKind::Random),
            pattern: None,
            features: 0,
            days: None,
            allow_weak: false,
            template: order.template.clone(),
            seed: None,
        },
    )
    .map_err(OrderError::Source)?;
    let source = plan
        .into_source(Some(issuer), now)
        .map_err(OrderError::Source)?;
    let mut name = [0u8; 8];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut name);
    let output = scratch.join(format!(".order-{}.txt", crate::issue::crockford(&name)));
    let report = crate::batch::generate(
        ledger,
        BatchRequest {
            product: &order.product,
            count: order.count,
            source,
            format: OutputFormat::Txt,
            output: &output,
            force: false,
            template: order.template.as_deref(),
            customer: order.customer,
        },
        &mut |_| {},
    )
    .map_err(OrderError::Batch)?;
    let text = std::fs::read_to_string(&output);
    let _ = std::fs::remove_file(&output);
    let text = text.map_err(|source| {
        OrderError::Batch(BatchError::Io {
            path: output.clone(),
            source,
        })
    })?;
    let keys: Vec<String> = text.lines().map(str::to_string).collect();
    let mut terms = Vec::new();
    if order.terms != KeyUpdate::default() {
        for key in &keys {
            let done = super::ops::update(
                ledger,
                vendor.config(),
                Some(&order.product),
                key,
                &order.terms,
                now,
            )
            .map_err(|source| OrderError::Terms {
                batch: report.batch,
                source,
            })?;
            terms.push(done);
        }
    }
    Ok(OrderedKeys {
        batch: report.batch,
        product: order.product.clone(),
        keys,
        terms,
    })
}
