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
        return require_end(field, t.with_timezone(&Utc).timestamp());
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
    let at = date
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp())
        .unwrap_or_default();
    // The end of 9999-12-31 is its last second: the next one is past what RFC 3339 writes.
    let at = match end {
        EndOfDay::Yes if at == LATEST + 1 => LATEST,
        _ => at,
    };
    require_end(field, at)
}

/// The latest instant a license may name: 9999-12-31T23:59:59Z, the last second RFC 3339
/// (and so every listing and `inspect`) can write. Every end is at or before it.
pub const LATEST: UnixTime = 253_402_300_799;

/// The most days of validity: the days from 1970-01-01 to 9999-12-31, so a term of at most
/// this many days, started at any time the tools accept, still ends where [`LATEST`]
/// allows ([`end_after_days`] checks the end itself).
pub const MAX_DAYS: u32 = 2_932_896;

/// The one rule for a number of days of validity, wherever it is given (`issue --days`, a
/// template's `days`, `keys generate --days`, an extension of a key's term): a positive
/// number of days, at most [`MAX_DAYS`]. Zero is refused — it read as "no expiry" in one
/// command and "already expired" in another; no expiry is said by giving no days at all.
///
/// # Errors
/// [`IssueError::InvalidField`] naming `field` when `days` is 0 or above [`MAX_DAYS`].
pub fn require_days(field: &'static str, days: u32) -> Result<u32, IssueError> {
    if days == 0 {
        return Err(field_error(
            field,
            "0 days: give a positive number of days, or none for no expiry",
        ));
    }
    if days > MAX_DAYS {
        return Err(field_error(
            field,
            format!("{days} days is too long: at most {MAX_DAYS} (to the year 9999)"),
        ));
    }
    Ok(days)
}

/// The one bound on an end: `at` if it is at or before [`LATEST`].
///
/// # Errors
/// [`IssueError::InvalidField`] naming `field` when `at` is past the year 9999.
pub fn require_end(field: &'static str, at: UnixTime) -> Result<UnixTime, IssueError> {
    if at > LATEST {
        return Err(field_error(field, "the end would be after the year 9999"));
    }
    Ok(at)
}

/// The end of a term of `days` whole days (of 86,400 seconds) starting at `from`: the one
/// function that turns days into an instant ([`require_days`] first, [`require_end`] after).
///
/// # Errors
/// As [`require_days`] and [`require_end`].
pub fn end_after_days(
    field: &'static str,
    from: UnixTime,
    days: u32,
) -> Result<UnixTime, IssueError> {
    let days = require_days(field, days)?;
    require_end(
        field,
        from.saturating_add(i64::from(days).saturating_mul(86_400)),
    )
}

/// Formats seconds since 1970 as RFC 3339 UTC, for people and JSON.
pub fn format_time(t: UnixTime) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_end_is_past_what_rfc_3339_writes() {
        assert!(require_days("days", u32::MAX).is_err());
        assert!(require_days("days", MAX_DAYS + 1).is_err());
        assert_eq!(
            end_after_days("days", 0, MAX_DAYS).ok(),
            Some(i64::from(MAX_DAYS) * 86_400)
        );
        assert!(end_after_days("days", 1_800_000_000, MAX_DAYS).is_err());
        assert_eq!(format_time(LATEST), "9999-12-31T23:59:59Z");
        assert_eq!(
            parse_time("e", "9999-12-31", EndOfDay::Yes).ok(),
            Some(LATEST)
        );
        assert!(parse_time("e", "+10000-01-01T00:00:00Z", EndOfDay::No).is_err());
        assert!(parse_time("e", "10000-01-01", EndOfDay::No).is_err());
    }
}
