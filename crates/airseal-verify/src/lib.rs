#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

extern crate alloc;

mod error;
mod license;
mod trust;

pub use airseal_core::{
    DecodeError, DecodeErrorKind, Features, KeyId, LicenseClaims, LicenseKind, Licensee, Limit,
    MachineBinding, MetaValue, NamedFeature, UnixTime,
};
pub use error::Error;
pub use license::{License, Status};
pub use trust::{Expected, Machine, TrustStore};

/// A public key file and a license it verifies, for the README example. Not part of the API.
#[doc(hidden)]
pub fn doc_example() -> (&'static str, &'static str) {
    (include_str!("../../../vectors/doc-example.pub"), include_str!("../../../vectors/doc-example.lic"))
}
