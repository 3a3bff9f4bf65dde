//! The one CSV writer: every CSV file airseal writes (batch key files, the `index.csv` of
//! `issue --batch`, `ledger … --format csv`) goes through [`cell`] or [`write_record`].
//!
//! Cells are quoted as RFC 4180 asks (a cell holding a comma, a double quote, CR or LF is
//! put in double quotes, inner quotes doubled), and guarded against spreadsheet formula
//! injection as OWASP recommends ("CSV Injection"): these files hold text that came from
//! customers (names, e-mail addresses, app versions), and a cell starting with `=`, `+`,
//! `-`, `@`, a tab or a carriage return would be run as a formula by Excel, LibreOffice or
//! Google Sheets when the vendor opens the file. Such a cell is prefixed with `'`, which
//! spreadsheets show as text and hide. A plain number (`-5`, `3.25`) is left alone: it
//! cannot be a formula, and prefixing it would turn numbers into text.
//!
//! Reading CSV (imports) is `import::csv`, a separate job.

use std::borrow::Cow;
use std::io::{self, Write};

/// The first characters that make a spreadsheet read a cell as a formula (OWASP).
const FORMULA_LEAD: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `s` is a plain decimal number: an optional `-`, digits, optionally `.` and more
/// digits. Nothing else, so no formula can hide in it.
fn is_plain_number(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// One cell, ready to be written between commas: guarded against formula injection, then
/// quoted if it must be. Borrowed when nothing needed changing (the common case).
pub fn cell(s: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if s.starts_with(FORMULA_LEAD) && !is_plain_number(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

/// One record (a line ending in `\n`) of cells, each through [`cell`].
pub fn record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&cell(c));
    }
    line.push('\n');
    line
}

/// Writes one record (a line ending in `\n`) of cells, each through [`cell`], without
/// building the line first: for files of millions of lines.
///
/// # Errors
/// The writer's.
pub fn write_record<'a>(
    w: &mut impl Write,
    cells: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(cell(c).as_bytes())?;
    }
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_are_borrowed_unchanged() {
        for s in [
            "plain",
            "",
            "jane@example.com",
            "ABCDE-12345",
            "4.2.1",
            "a'b",
        ] {
            assert!(matches!(cell(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn every_formula_lead_is_defused() {
        for (input, expected) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("\t=1+1", "'\t=1+1"),
            ("-", "'-"),
            ("-1.", "'-1."),
        ] {
            assert_eq!(cell(input), expected, "{input:?}");
        }
        // A carriage return leads: defused, then quoted (CR needs quotes).
        assert_eq!(cell("\r=1+1"), "\"'\r=1+1\"");
        // Only the first character counts; `=` inside is harmless text.
        assert_eq!(cell("a=b"), "a=b");
    }

    #[test]
    fn plain_numbers_stay_numbers() {
        for s in ["-5", "0", "3.25", "-0.5", "1767225600", "-1767225600"] {
            assert_eq!(cell(s), s);
        }
    }

    #[test]
    fn quotes_commas_and_newlines_are_quoted() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(cell("cr\rhere"), "\"cr\rhere\"");
        // Guard and quoting together: the quote goes around the prefixed cell.
        assert_eq!(
            cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
    }

    #[test]
    fn records_join_cells_and_end_lines() {
        let line = record(["K-1", "=1", "jane, doe", ""]);
        assert_eq!(line, "K-1,'=1,\"jane, doe\",\n");
        let mut out = Vec::new();
        write_record(&mut out, ["K-1", "=1", "jane, doe", ""]).unwrap();
        assert_eq!(out, line.as_bytes());
        assert_eq!(record([]), "\n");
    }
}
