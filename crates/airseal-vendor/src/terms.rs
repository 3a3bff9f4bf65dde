//! A key's term: when it starts and when it ends (`SPEC.md` §17.1, "terms are anchored").
//!
//! A template's `days` count from the key's **term start**, not from whenever a license
//! happens to be signed: otherwise releasing a seat and activating again (on the same
//! machine or another) would buy a fresh term each time. The start is the key's creation or
//! its first activation, as the template's `term_starts` says ([`TermStarts`], default
//! first activation); the ledger records it when it happens (`keys.term_start`, written once
//! in the transaction of the first activation) and nothing but an explicit extension or
//! renewal moves the end.
//!
//! [`term_end`] is the one reading of that rule: activation, renewal and `keys update
//! --extend` all call it with the recorded start.

use airseal_core::UnixTime;
use serde::{Deserialize, Serialize};

use crate::issue::{IssueError, LicenseSpec, field_error};

/// When a key's term starts (the template's `term_starts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TermStarts {
    /// When the key was created (its batch: generated or imported).
    Creation,
    /// When the key is first activated on any machine (the default, like Cryptlex's
    /// subscription start trigger).
    #[default]
    FirstActivation,
}

impl TermStarts {
    /// The word a template uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creation => "creation",
            Self::FirstActivation => "first-activation",
        }
    }

    /// Reads the word a template uses.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "creation" => Some(Self::Creation),
            "first-activation" => Some(Self::FirstActivation),
            _ => None,
        }
    }

    /// The start of a term that has not started yet, were it to start `now`: the key's
    /// creation (`created`) or `now`.
    pub fn start(self, created: UnixTime, now: UnixTime) -> UnixTime {
        match self {
            Self::Creation => created,
            Self::FirstActivation => now,
        }
    }
}

/// When a key's term started: as the ledger recorded it (`recorded`), or, for a key whose
/// term has not started yet, the start `starts` gives it were it to start `now` (its
/// creation `created`, or `now`). Activation and renewal both read the start here.
pub fn term_start(
    recorded: Option<UnixTime>,
    starts: TermStarts,
    created: UnixTime,
    now: UnixTime,
) -> UnixTime {
    recorded.unwrap_or_else(|| starts.start(created, now))
}

/// When a key's term ends, given when it started (`start`, as the ledger recorded it) and
/// its terms (`spec`: the template with the key's own terms laid over it): the fixed
/// `expires` if there is one, else `start` plus `days`, else never (`None`).
///
/// # Errors
/// [`IssueError::InvalidField`] when `expires` is not a date, or both `days` and `expires`
/// are given.
pub fn term_end(start: UnixTime, spec: &LicenseSpec) -> Result<Option<UnixTime>, IssueError> {
    match (spec.days, spec.fixed_expiry()?) {
        (Some(_), Some(_)) => Err(field_error(
            "expires",
            "give either days or expires, not both",
        )),
        (Some(days), None) => Ok(Some(crate::time::end_after_days("days", start, days)?)),
        (None, end) => Ok(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_count_from_the_start_and_a_fixed_date_ignores_it() {
        let days = LicenseSpec {
            days: Some(30),
            ..LicenseSpec::default()
        };
        assert_eq!(term_end(1_000, &days).unwrap(), Some(1_000 + 30 * 86_400));
        let fixed = LicenseSpec {
            expires: Some("2027-12-04".into()),
            ..LicenseSpec::default()
        };
        assert_eq!(term_end(0, &fixed).unwrap(), Some(1_827_964_800));
        assert_eq!(term_end(99, &fixed).unwrap(), Some(1_827_964_800));
        assert_eq!(term_end(5, &LicenseSpec::default()).unwrap(), None);
        let both = LicenseSpec {
            days: Some(1),
            expires: Some("2027-12-04".into()),
            ..LicenseSpec::default()
        };
        assert!(term_end(0, &both).is_err());
    }

    #[test]
    fn the_start_is_the_creation_or_now() {
        assert_eq!(TermStarts::Creation.start(10, 20), 10);
        assert_eq!(TermStarts::FirstActivation.start(10, 20), 20);
        assert_eq!(TermStarts::default(), TermStarts::FirstActivation);
        for t in [TermStarts::Creation, TermStarts::FirstActivation] {
            assert_eq!(TermStarts::parse(t.as_str()), Some(t));
        }
        assert_eq!(TermStarts::parse("first_activation"), None);
    }
}
