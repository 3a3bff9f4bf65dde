//! The JSON form of license claims: moved to [`airseal_core::json`] (feature `json`) so
//! that verifying needs no vendor crate; re-exported here for existing callers.

pub use airseal_core::json::claims_to_json;
