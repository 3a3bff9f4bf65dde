#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

extern crate alloc;

pub mod activation;
pub mod armor;
pub mod cbor;
pub mod cert;
pub mod claims;
pub mod cose;
pub mod expiry;
#[doc(hidden)]
pub mod fuzz_hooks;
#[cfg(feature = "json")]
pub mod json;
pub mod kid;
pub mod productkey;
pub mod pubkey;
pub mod revocation;
pub mod signedkey;

pub use cbor::{DecodeError, DecodeErrorKind};
pub use claims::{
    Features, LicenseClaims, LicenseKind, Licensee, Limit, MachineBinding, MetaValue, NamedFeature,
    UnixTime,
};
pub use cose::{EnvelopeError, ObjectType, Sign1};
pub use expiry::{Expiry, valid_until};
pub use kid::KeyId;
