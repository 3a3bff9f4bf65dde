//! Times in messages: RFC 3339 UTC (the vendor crate's `format_time`, the one formatter),
//! with the relative form where it helps: "expired 3 days ago, at 2027-12-04T15:56:06Z".
//! Never raw Unix seconds.

use airseal_vendor::time::format_time;
use airseal_verify::Error;

/// An instant as RFC 3339 UTC.
pub fn at(t: i64) -> String {
    format_time(t)
}

/// A duration in seconds in words, rounded down to its largest unit: "1 second",
/// "5 minutes", "3 hours", "2 days" (days from 48 hours on, so "30 hours" stays precise).
pub fn span(secs: u64) -> String {
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..3_600 => (secs / 60, "minute"),
        3_600..172_800 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `t` relative to `now`: "3 days ago", "in 2 hours", or "now".
pub fn relative(t: i64, now: i64) -> String {
    let d = t.abs_diff(now);
    if d == 0 {
        "now".to_string()
    } else if t < now {
        format!("{} ago", span(d))
    } else {
        format!("in {}", span(d))
    }
}

/// Both forms: "3 days ago, at 2027-12-04T15:56:06Z".
pub fn relative_at(t: i64, now: i64) -> String {
    format!("{}, at {}", relative(t, now), at(t))
}

/// The message of a verification failure that carries instants (expired, not yet valid,
/// clock rolled back, maintenance ended, key not trusted then), with those instants as
/// dates; `None` for the others, whose library message is already for people.
pub fn verify_error(e: &Error) -> Option<String> {
    Some(match e {
        Error::Expired { expired_at, now } => format!(
            "license expired {} (grace period included)",
            relative_at(*expired_at, *now)
        ),
        Error::NotYetValid { valid_from, now } => format!(
            "license not valid yet: valid from {}, {}",
            at(*valid_from),
            relative(*valid_from, *now)
        ),
        Error::ClockRolledBack { now, last_seen } => format!(
            "clock rolled back: it reads {}, but {} was already observed ({} later)",
            at(*now),
            at(*last_seen),
            span(last_seen.abs_diff(*now))
        ),
        Error::MaintenanceEnded {
            maintenance_until,
            release_date,
        } => format!(
            "this release ({}) is newer than the license's maintenance end ({}): the license \
             covers releases published before that date",
            at(*release_date),
            at(*maintenance_until)
        ),
        Error::KeyOutOfValidity { kid, issued_at } => format!(
            "license issued at {} by key {kid}, which was not trusted at that time (rotated \
             out or not yet introduced)",
            at(*issued_at)
        ),
        Error::StaleUpdate {
            issued_at,
            installed_at,
        } => format!(
            "this license update (issued {}) is not newer than the one already installed for \
             this seat (issued {})",
            at(*issued_at),
            at(*installed_at)
        ),
        Error::CertificateOutOfValidity {
            serial,
            not_before,
            not_after,
            issued_at,
        } => format!(
            "issued {} by an issuing key whose certificate #{serial} is valid only from {} \
             until {}",
            at(*issued_at),
            at(*not_before),
            at(*not_after)
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_use_the_largest_unit_and_right_plurals() {
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(59), "59 seconds");
        assert_eq!(span(60), "1 minute");
        assert_eq!(span(3_599), "59 minutes");
        assert_eq!(span(3_600), "1 hour");
        assert_eq!(span(30 * 3_600), "30 hours");
        assert_eq!(span(172_800), "2 days");
        assert_eq!(span(3 * 86_400 + 5), "3 days");
    }

    #[test]
    fn relative_forms() {
        let now = 1_830_297_600; // 2028-01-01T00:00:00Z
        assert_eq!(
            relative_at(1_827_936_264, now),
            "27 days ago, at 2027-12-04T16:04:24Z"
        );
        assert_eq!(relative(now + 7_200, now), "in 2 hours");
        assert_eq!(relative(now, now), "now");
    }
}
