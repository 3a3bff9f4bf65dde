//! Time as people and files write it: `YYYY-MM-DD` or RFC 3339 in, RFC 3339 UTC out. The one
//! place the vendor side parses and formats instants (the CLI's `--now`, `--expires`,
//! `--issued-before`, templates' `expires`, the ledger's listings), so a date means the same
//! thing everywhere. Licenses themselves carry seconds since 1970 (`SPEC.md` §4).

use airseal_core::UnixTime;
use chrono::{DateTime, NaiveDate, Utc};

use crate::issue::{IssueError, field_error};

/// Whether a bare date means the start or the end of that day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndOfDay {
    /// `2027-01-31` means up to the end of 31 January: the instant 2027-02-01T00:00:00Z.
    Yes,
    /// `2027-01-31` means from 2027-01-31T00:00:00Z.
    No,
}

/// Parses `YYYY-MM-DD` or an RFC 3339 instant into seconds since 1970.
///
/// # Errors
/// [`IssueError::InvalidField`] naming `field`.
pub fn parse_time(field: &'static str, s: &str, end: EndOfDay) -> Result<UnixTime, IssueError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        field_error(
            field,
            format!("{s:?} is not a date (YYYY-MM-DD) or RFC 3339 time (2027-01-31T12:00:00Z)"),
        )
    })?;
    let date = match end {
        EndOfDay::Yes => date
            .succ_opt()
            .ok_or_else(|| field_error(field, "date out of range"))?,
        EndOfDay::No => date,
    };
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp())
        .unwrap_or_default())
}

/// The one rule for a number of days of validity, wherever it is given (`issue --days`, a
/// template's `days`, `keys generate --days`): a positive number of days. Zero is refused —
/// it read as "no expiry" in one command and "already expired" in another; no expiry is
/// said by giving no days at all.
///
/// # Errors
/// [`IssueError::InvalidField`] naming `field` when `days` is 0.
pub fn require_days(field: &'static str, days: u32) -> Result<u32, IssueError> {
    if days == 0 {
        return Err(field_error(
            field,
            "0 days: give a positive number of days, or none for no expiry",
        ));
    }
    Ok(days)
}

/// The end of a term of `days` whole days (of 86,400 seconds) starting at `from`: the one
/// function that turns days into an instant ([`require_days`] first).
///
/// # Errors
/// As [`require_days`].
pub fn end_after_days(
    field: &'static str,
    from: UnixTime,
    days: u32,
) -> Result<UnixTime, IssueError> {
    let days = require_days(field, days)?;
    Ok(from.saturating_add(i64::from(days).saturating_mul(86_400)))
}

/// Formats seconds since 1970 as RFC 3339 UTC, for people and JSON.
pub fn format_time(t: UnixTime) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}
