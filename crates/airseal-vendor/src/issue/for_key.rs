//! A license for a product key, issued on request (a store's `POST /v1/licenses`): the
//! product's named template, the key and the licensee, checked against the ledger and
//! recorded as `airseal issue --product-key KEY --template NAME` does ([`super::recorded`]).
//! Only named templates of `airseal.toml` are used: a request never names a file.

use std::fmt;

use airseal_core::{LicenseClaims, UnixTime};

use super::recorded::{self, RecordedError, issue_recorded};
use super::{Issuer, LicenseSpec};
use crate::ledger::Ledger;
use crate::vendor_dir::{VendorDir, VendorDirError};

/// The license to issue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LicenseOrder {
    /// The product.
    pub product: String,
    /// The product key (as typed; the ledger's spelling is written into the license).
    pub key: String,
    /// A template of the product (default: its `activation_template`).
    pub template: Option<String>,
    /// The licensee's name.
    pub licensee_name: Option<String>,
    /// The licensee's e-mail address.
    pub licensee_email: Option<String>,
    /// The licensee's organisation.
    pub licensee_org: Option<String>,
}

/// Why the license was not issued. Nothing is recorded.
#[non_exhaustive]
#[derive(Debug)]
pub enum LicenseOrderError {
    /// No template was named and the product has no `activation_template`.
    NoTemplate {
        /// The product.
        product: String,
    },
    /// The product or template is not in `airseal.toml`.
    Config(VendorDirError),
    /// The key, the product or the signing failed ([`recorded::check`], [`issue_recorded`]).
    Recorded(RecordedError),
}

impl fmt::Display for LicenseOrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTemplate { product } => write!(
                f,
                "no template named, and the product {product} has no activation template"
            ),
            Self::Config(e) => e.fmt(f),
            Self::Recorded(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LicenseOrderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Recorded(e) => Some(e),
            Self::NoTemplate { .. } => None,
        }
    }
}

impl From<RecordedError> for LicenseOrderError {
    fn from(e: RecordedError) -> Self {
        Self::Recorded(e)
    }
}

/// Issues and records the license `order` describes at `now`; returns its claims and the
/// signed bytes (raw COSE).
///
/// # Errors
/// [`LicenseOrderError`].
pub fn issue_for_key(
    vendor: &VendorDir,
    ledger: &mut Ledger,
    issuer: &Issuer,
    order: &LicenseOrder,
    now: UnixTime,
) -> Result<(LicenseClaims, Vec<u8>), LicenseOrderError> {
    let config = vendor.config();
    if !config.products.contains_key(&order.product) {
        return Err(RecordedError::UnknownProduct {
            product: order.product.clone(),
        }
        .into());
    }
    let name = order
        .template
        .clone()
        .or_else(|| {
            config
                .products
                .get(&order.product)
                .and_then(|p| p.activation_template.clone())
        })
        .ok_or_else(|| LicenseOrderError::NoTemplate {
            product: order.product.clone(),
        })?;
    let base = config
        .template_spec(&order.product, &name)
        .map_err(LicenseOrderError::Config)?;
    let mut spec = LicenseSpec {
        product: Some(order.product.clone()),
        product_key: Some(order.key.clone()),
        licensee_name: order.licensee_name.clone(),
        licensee_email: order.licensee_email.clone(),
        licensee_org: order.licensee_org.clone(),
        ..LicenseSpec::default()
    }
    .or(base);
    if spec.issuer.is_none() {
        spec.issuer = Some(config.vendor.clone());
    }
    recorded::check(vendor, ledger, &mut spec, now)?;
    let extra = serde_json::json!({ "template": name });
    let issued =
        issue_recorded::<RecordedError>(issuer, &spec, now, Some(ledger), &extra, |_, _| Ok(()))?;
    Ok(issued)
}
