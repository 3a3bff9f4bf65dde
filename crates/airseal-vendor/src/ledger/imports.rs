//! Imports from other licensing platforms (migration 5). Placeholder, filled in by the
//! import work.

/// Migration 5.
pub(super) const MIGRATION_5: &str = "";
