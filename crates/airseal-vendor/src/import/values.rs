//! Reading one cell: dates, ISO 8601 durations, counts and limits, booleans, custom fields
//! and metadata values. Every function returns the reason a cell is refused, worded for the
//! import report.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike as _, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike as _, Utc,
};

use crate::issue::{LimitSpec, MetaSpec, UnlimitedWord};
use crate::time::format_time;

/// A date or an instant, as the export gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// A calendar day with no time (an expiry then means the end of that day, UTC, as
    /// everywhere in airseal).
    Date(NaiveDate),
    /// An instant, seconds since 1970.
    Instant(i64),
}

impl When {
    /// The text stored in a license description: `YYYY-MM-DD` or RFC 3339 UTC.
    pub(crate) fn to_spec(self) -> String {
        // Written by hand: chrono's formatter parses its format string on every call, which
        // was a visible share of importing a million rows.
        // `format!` too, at a tenth of a million-row import's parse time: digits are pushed
        // into a string made the right size once.
        let date = |out: &mut String, d: NaiveDate| {
            match u32::try_from(d.year()) {
                Ok(y) if y <= 9999 => push_digits(out, y, 4),
                _ => out.push_str(&format!("{:04}", d.year())),
            }
            out.push('-');
            push_digits(out, d.month(), 2);
            out.push('-');
            push_digits(out, d.day(), 2);
        };
        match self {
            When::Date(d) => {
                let mut out = String::with_capacity(10);
                date(&mut out, d);
                out
            }
            When::Instant(t) => match DateTime::<Utc>::from_timestamp(t, 0) {
                Some(d) => {
                    let mut out = String::with_capacity(20);
                    date(&mut out, d.date_naive());
                    for (sep, n) in [('T', d.hour()), (':', d.minute()), (':', d.second())] {
                        out.push(sep);
                        push_digits(&mut out, n, 2);
                    }
                    out.push('Z');
                    out
                }
                None => format_time(t),
            },
        }
    }

    /// The start of the day, or the instant.
    fn start(self) -> Option<NaiveDateTime> {
        match self {
            When::Date(d) => d.and_hms_opt(0, 0, 0),
            When::Instant(t) => DateTime::<Utc>::from_timestamp(t, 0).map(|d| d.naive_utc()),
        }
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits (`n` must have at most `width`).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = n / 10u32.pow(place) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

/// Instants without a zone are taken as UTC (what these dashboards export).
const NAIVE_ISO: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];
const ZONED_ISO: &[&str] = &["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];
const NAIVE_MDY: &[&str] = &[
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
];

/// Reads a date: ISO 8601 (`2027-01-31`, `2027-01-31T12:00:00Z`, with an offset, with or
/// without fractional seconds, with `T` or a space, no zone = UTC) and, when `mdy`,
/// `MM/DD/YYYY` with an optional time. Day-first dates are never guessed.
pub(crate) fn parse_when(s: &str, mdy: bool) -> Result<When, String> {
    if let Some(w) = fast_when(s, mdy) {
        return Ok(w);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(When::Instant(t.timestamp()));
    }
    for f in ZONED_ISO {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(When::Instant(t.timestamp()));
        }
    }
    for f in NAIVE_ISO {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(When::Instant(t.and_utc().timestamp()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(When::Date(d));
    }
    if mdy {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%m/%d/%Y") {
            return Ok(When::Date(d));
        }
        for f in NAIVE_MDY {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(When::Instant(t.and_utc().timestamp()));
            }
        }
    }
    Err(format!(
        "{s:?} is not a date: expected ISO 8601 (2027-01-31 or 2027-01-31T12:00:00Z){}",
        if mdy { " or MM/DD/YYYY" } else { "" }
    ))
}

fn digits(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = s.get(range)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// The forms exports use most, read without chrono's format machinery (which tries each
/// pattern in turn): `YYYY-MM-DD`, `MM/DD/YYYY` and `MM/DD/YYYY HH:MM:SS`. Anything else
/// (or anything these reject) goes through the full list in [`parse_when`].
fn fast_when(s: &str, mdy: bool) -> Option<When> {
    let b = s.as_bytes();
    let date = match (b.len(), b.get(4), b.get(2), b.get(5)) {
        (10, Some(b'-'), _, _) if b.get(7) == Some(&b'-') => {
            NaiveDate::from_ymd_opt(digits(s, 0..4)? as i32, digits(s, 5..7)?, digits(s, 8..10)?)?
        }
        (10 | 19, _, Some(b'/'), Some(b'/')) if mdy => {
            NaiveDate::from_ymd_opt(digits(s, 6..10)? as i32, digits(s, 0..2)?, digits(s, 3..5)?)?
        }
        _ => return None,
    };
    if b.len() == 10 {
        return Some(When::Date(date));
    }
    if b.get(10) != Some(&b' ') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let t = date.and_hms_opt(digits(s, 11..13)?, digits(s, 14..16)?, digits(s, 17..19)?)?;
    Some(When::Instant(t.and_utc().timestamp()))
}

/// An ISO 8601 duration: calendar months (years count 12) plus exact seconds (weeks, days,
/// hours, minutes, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IsoDuration {
    months: u32,
    seconds: i64,
}

/// Reads `P1Y`, `P1M`, `P2W`, `P1DT1H`, `PT90M`, … (integers only).
pub(crate) fn parse_duration(s: &str) -> Result<IsoDuration, String> {
    let bad = || format!("{s:?} is not an ISO 8601 duration (P1Y, P1M, P30D, P1DT1H)");
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut d = IsoDuration {
        months: 0,
        seconds: 0,
    };
    let mut any = false;
    for (part, units) in [(date, "YMWD"), (time.unwrap_or(""), "HMS")] {
        let mut num = String::new();
        let mut last_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let Some(pos) = units.find(c) else {
                return Err(bad());
            };
            // Units must come in order, each at most once.
            if pos < last_unit || num.is_empty() {
                return Err(bad());
            }
            last_unit = pos + 1;
            let n: u32 = num.parse().map_err(|_| bad())?;
            num.clear();
            any = true;
            let secs = |unit: i64| i64::from(n).checked_mul(unit).ok_or_else(bad);
            match (units, c) {
                ("YMWD", 'Y') => {
                    d.months = n
                        .checked_mul(12)
                        .and_then(|m| m.checked_add(d.months))
                        .ok_or_else(bad)?
                }
                ("YMWD", 'M') => d.months = d.months.checked_add(n).ok_or_else(bad)?,
                ("YMWD", 'W') => d.seconds += secs(7 * 86_400)?,
                ("YMWD", _) => d.seconds += secs(86_400)?,
                (_, 'H') => d.seconds += secs(3_600)?,
                (_, 'M') => d.seconds += secs(60)?,
                _ => d.seconds += secs(1)?,
            }
        }
        if !num.is_empty() {
            return Err(bad());
        }
    }
    if !any {
        return Err(bad());
    }
    Ok(d)
}

/// `start` plus a duration: months on the calendar (31 January + P1M = 28/29 February),
/// then the exact seconds. A date-only start counts from the start of its day.
pub(crate) fn add_duration(start: When, d: IsoDuration) -> Option<When> {
    let t = start.start()?;
    let t = t.checked_add_months(Months::new(d.months))?;
    let t = t.checked_add_signed(TimeDelta::try_seconds(d.seconds)?)?;
    Some(When::Instant(t.and_utc().timestamp()))
}

/// `start` plus whole days; a date stays a date.
pub(crate) fn add_days(start: When, days: u32) -> Option<When> {
    match start {
        When::Date(d) => d
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .map(When::Date),
        When::Instant(t) => t.checked_add(i64::from(days) * 86_400).map(When::Instant),
    }
}

/// A count that cannot be negative.
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("{s:?} is not a whole number of zero or more"))
}

/// An activation limit: a number or `unlimited`; 0 means unlimited where the platform says
/// so, and is refused elsewhere (a license must allow at least one activation).
pub(crate) fn parse_limit(s: &str, zero_unlimited: bool) -> Result<LimitSpec, String> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(LimitSpec::Word(UnlimitedWord::Unlimited));
    }
    match parse_count(s)? {
        0 if zero_unlimited => Ok(LimitSpec::Word(UnlimitedWord::Unlimited)),
        0 => Err(
            "a limit of 0 would allow no activation at all; give a number of at least \
                  1 or `unlimited`"
                .to_string(),
        ),
        n => Ok(LimitSpec::Count(n)),
    }
}

/// A yes/no cell.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "t" => Ok(true),
        "false" | "no" | "n" | "0" | "f" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

/// A metadata value: an integer when the text is exactly an integer's canonical form
/// (`42`, `-7`; not `007`, which stays text so order numbers keep their zeros), else text.
pub(crate) fn meta_value(s: &str) -> MetaSpec {
    match s.parse::<i64>() {
        Ok(i) if i.to_string() == s => MetaSpec::Int(i),
        _ => MetaSpec::Text(s.to_string()),
    }
}

fn json_meta(v: &serde_json::Value) -> Option<MetaSpec> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(meta_value(s)),
        serde_json::Value::Number(n) => Some(match n.as_i64() {
            Some(i) => MetaSpec::Int(i),
            None => MetaSpec::Text(n.to_string()),
        }),
        other => Some(MetaSpec::Text(other.to_string())),
    }
}

/// Reads a metadata object written as JSON (Keygen's `metadata`): each member is one entry;
/// strings and integers keep their type, other values are kept as their JSON text, `null`
/// members are left out.
pub(crate) fn parse_json_metadata(s: &str) -> Result<Vec<(String, MetaSpec)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("not a JSON object: {e}"))?;
    let serde_json::Value::Object(map) = v else {
        return Err("not a JSON object".to_string());
    };
    Ok(map
        .iter()
        .filter_map(|(k, v)| json_meta(v).map(|m| (k.clone(), m)))
        .collect())
}

/// Reads Cryptlex v2's `Custom Fields` cell. Accepted encodings, tried in this order:
///
/// 1. a JSON array of `{"key": …, "value": …}` objects (the shape of Cryptlex's API
///    `metadata`), also with `name` for `key`;
/// 2. a JSON object, one member per field;
/// 3. `name=value` pairs separated by `;` (the dashboard's text form), each split at its
///    first `=`; spaces around names and values are dropped, and a `;` inside a value
///    needs one of the JSON forms.
///
/// Each field becomes one metadata entry; fields with an empty value are left out.
pub(crate) fn parse_custom_fields(s: &str) -> Result<Vec<(String, MetaSpec)>, String> {
    let t = s.trim_start();
    if t.starts_with('[') {
        let v: Vec<BTreeMap<String, serde_json::Value>> = serde_json::from_str(s).map_err(|e| {
            format!("a JSON list of {{\"key\", \"value\"}} objects is expected: {e}")
        })?;
        let mut out = Vec::new();
        for item in v {
            let name = item
                .get("key")
                .or_else(|| item.get("name"))
                .and_then(serde_json::Value::as_str)
                .ok_or("a custom field without a \"key\"")?;
            if let Some(m) = item.get("value").and_then(json_meta) {
                out.push((name.to_string(), m));
            }
        }
        return Ok(out);
    }
    if t.starts_with('{') {
        return parse_json_metadata(s);
    }
    let mut out = Vec::new();
    for pair in s.split(';') {
        if pair.trim().is_empty() {
            continue;
        }
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("custom field {:?} is not name=value", pair.trim()))?;
        let (k, v) = (k.trim(), v.trim());
        if !v.is_empty() {
            out.push((k.to_string(), meta_value(v)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = |y, m, day| When::Date(NaiveDate::from_ymd_opt(y, m, day).unwrap());
        assert_eq!(parse_when("2027-01-31", false).unwrap(), d(2027, 1, 31));
        assert_eq!(
            parse_when("1970-01-02T00:00:00Z", false).unwrap(),
            When::Instant(86_400)
        );
        assert_eq!(
            parse_when("1970-01-02T01:00:00+01:00", false).unwrap(),
            When::Instant(86_400)
        );
        assert_eq!(
            parse_when("1970-01-02 00:00:00.123", false).unwrap(),
            When::Instant(86_400)
        );
        assert_eq!(parse_when("01/31/2027", true).unwrap(), d(2027, 1, 31));
        assert_eq!(
            parse_when("01/02/1970 12:00:00 AM", true).unwrap(),
            When::Instant(86_400)
        );
        assert!(parse_when("01/31/2027", false).is_err());
        assert!(parse_when("31/01/2027", true).is_err());
        assert!(parse_when("2027-02-30", false).is_err());
        assert_eq!(d(2027, 1, 31).to_spec(), "2027-01-31");
    }

    #[test]
    fn stored_dates_and_instants_are_what_chrono_writes() {
        // Spread over the years airseal can store, with every hour, minute and second.
        for i in 0..20_000i64 {
            // From 0001-01-01 to about 9999, in steps that vary the time of day too.
            let t = -62_135_596_800 + i * 15_778_463;
            // Four-digit years: past 9999 chrono writes a `+`, these texts (as before) none.
            let Some(dt) = DateTime::<Utc>::from_timestamp(t, 0).filter(|d| d.year() <= 9999)
            else {
                continue;
            };
            assert_eq!(
                When::Instant(t).to_spec(),
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "{t}"
            );
            assert_eq!(
                When::Date(dt.date_naive()).to_spec(),
                dt.format("%Y-%m-%d").to_string(),
                "{t}"
            );
        }
    }

    #[test]
    fn durations() {
        let start = When::Date(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
        let end = |s| {
            add_duration(start, parse_duration(s).unwrap())
                .unwrap()
                .to_spec()
        };
        assert_eq!(end("P1Y"), "2025-01-31T00:00:00Z");
        assert_eq!(end("P1M"), "2024-02-29T00:00:00Z");
        assert_eq!(end("P1DT1H"), "2024-02-01T01:00:00Z");
        assert_eq!(end("P2W"), "2024-02-14T00:00:00Z");
        assert_eq!(end("PT90M"), "2024-01-31T01:30:00Z");
        for bad in ["", "P", "1Y", "PT", "P1H", "PY", "P1D1Y", "P1.5Y", "P1YT"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_fields_in_each_encoding() {
        let want = vec![
            ("seats".to_string(), MetaSpec::Int(5)),
            ("plan".to_string(), MetaSpec::Text("pro; yearly".into())),
        ];
        assert_eq!(
            parse_custom_fields(
                r#"[{"key":"seats","value":"5"},{"key":"plan","value":"pro; yearly"}]"#
            )
            .unwrap(),
            want
        );
        let mut obj = parse_custom_fields(r#"{"seats":5,"plan":"pro; yearly"}"#).unwrap();
        obj.sort_by(|a, b| b.0.cmp(&a.0));
        assert_eq!(obj, want);
        assert_eq!(
            parse_custom_fields("seats=5; plan = pro ;empty=").unwrap(),
            vec![
                ("seats".to_string(), MetaSpec::Int(5)),
                ("plan".to_string(), MetaSpec::Text("pro".into()))
            ]
        );
        assert!(parse_custom_fields("seats").is_err());
        assert_eq!(meta_value("007"), MetaSpec::Text("007".into()));
    }
}
