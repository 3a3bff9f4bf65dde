//! The app's side on a machine (`std` only): what an installed app keeps on disk and reads
//! from the machine, as opposed to the `no_std` verifier at the crate root, which only
//! checks bytes against keys and a time it is given.
//!
//! - [`device`]: the activation data folder (device key, pending request, installed
//!   license, release proof; `SPEC.md` §15).
//! - [`fingerprint`]: this machine's components, hashed per product (`SPEC.md` §4.2).
//! - [`ClockGuard`]: clock-rollback detection and the newest revocation list seen
//!   (`SPEC.md` §14).
//! - [`fs`]: the one durable writer every state file here — and every file the vendor side
//!   writes — goes through.

pub mod device;
pub mod fingerprint;
pub mod fs;
mod guard;
pub(crate) mod state;

pub use guard::{ClockGuard, GuardSecret};
