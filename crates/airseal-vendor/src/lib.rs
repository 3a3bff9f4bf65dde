//! The vendor side of airseal: signing keys at rest and issuing signed license files.
//!
//! Everything a vendor's own backend needs lives here so that the `airseal` CLI stays a thin
//! shell. The wire formats are in `airseal-core` and `SPEC.md`.
#![deny(missing_docs)]

pub mod activate;
pub mod batch;
pub mod csv;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod import;
pub mod issue;
pub mod issuing;
pub mod keyfile;
pub mod keys;
pub mod ledger;
pub mod listing;
pub mod problem;
pub mod renew;
pub mod revoke;
pub mod sign;
pub mod signedkey;
pub mod skgl;
pub mod template;
pub mod terms;
pub mod time;
pub mod tokens;
pub mod vendor_dir;
