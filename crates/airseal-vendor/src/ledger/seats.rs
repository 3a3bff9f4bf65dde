//! Seat accounting for offline activation (migration 4). Placeholder, filled in by the
//! activation work.

/// Migration 4.
pub(super) const MIGRATION_4: &str = "";
