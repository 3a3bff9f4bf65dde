//! A tolerant RFC 4180 CSV reader for exports from other licensing platforms.
//!
//! # Why not the `csv` crate
//!
//! `csv` (and `csv-core` under it) is the obvious choice and was tried first. It recognises a
//! quote only as the very first byte of a field, so the Cryptlex v2 header
//! `"Key ID", "Product Key", "Email"` — a space after the comma, then a quoted field — reads
//! as the fields `Key ID`, `"Product Key"`, `"Email"` with the quotes kept, and a value such
//! as `, "Doe, Jane"` is split in two (checked with csv 1.3: `UnequalLengths`). Trimming is
//! applied after parsing, too late to help. Exports from these dashboards do write that form,
//! so this module reads CSV itself: about 150 lines, one pass over bytes already in memory,
//! with the positions our import report needs (the physical line a record starts on, which
//! `csv` also reports, and the line an unterminated quote opened on).
//!
//! # Dialect
//!
//! * Records end with LF, CRLF or a lone CR; line numbers count every one of those, including
//!   those inside quoted fields, so they match what an editor shows.
//! * A field is quoted when its first non-blank character is `"`; inside, `""` is a quote and
//!   commas, CR and LF are data. Spaces and tabs around a field (outside its quotes) are not
//!   part of the value; to keep them, quote the field.
//! * A quote inside an unquoted field is data (`27" monitor`). Text after a closing quote
//!   (`"abc"def`) makes the record malformed: it is returned with [`Record::malformed`] set,
//!   and the reader carries on with the next record.
//! * A quote still open at the end of the file is an error ([`CsvError::UnterminatedQuote`])
//!   naming the line it opened on: every record after it would be misread.

use std::borrow::Cow;

/// One record: its fields and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// 1-based physical line the record starts on.
    pub line: u64,
    /// The fields, unquoted.
    pub fields: Vec<Cow<'a, str>>,
    /// Set when a field is malformed: its 0-based index and what is wrong.
    pub malformed: Option<(usize, String)>,
}

impl Record<'_> {
    /// Whether every field is empty (a blank line, or a spreadsheet's row of commas).
    pub fn is_blank(&self) -> bool {
        self.malformed.is_none() && self.fields.iter().all(|f| f.is_empty())
    }
}

/// Why the file cannot be read as CSV at all.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// A quoted field is never closed.
    UnterminatedQuote {
        /// The line the quote opened on.
        line: u64,
    },
}

/// Reads records from `text` (already UTF-8, BOM removed).
#[derive(Debug)]
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    /// How many fields a record usually has (the header's), so each record's list is made
    /// the right size at once.
    width: usize,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Reader<'a> {
    /// A reader over the whole text.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
            width: 0,
        }
    }

    /// A reader starting at byte `pos` of `text`, which must be the start of a record on
    /// physical line `line`.
    pub fn starting_at(text: &'a str, pos: usize, line: u64) -> Self {
        Self {
            text,
            pos,
            line,
            width: 0,
        }
    }

    /// Expects records of `fields` fields (a hint: any number is still read).
    pub fn expect_width(&mut self, fields: usize) {
        self.width = fields;
    }

    /// The byte offset of the next record.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    /// Consumes a line ending at `self.pos` if there is one; returns whether it did.
    fn eat_newline(&mut self) -> bool {
        match self.byte(self.pos) {
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                true
            }
            Some(b'\r') => {
                self.pos += 1;
                if self.byte(self.pos) == Some(b'\n') {
                    self.pos += 1;
                }
                self.line += 1;
                true
            }
            _ => false,
        }
    }

    /// The next record, `None` at the end of the text.
    ///
    /// # Errors
    /// [`CsvError::UnterminatedQuote`].
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>, CsvError> {
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let start_line = self.line;
        let mut fields = Vec::with_capacity(self.width);
        let mut malformed = None;
        loop {
            let (field, problem) = self.field()?;
            if let Some(p) = problem {
                malformed.get_or_insert((fields.len(), p));
            }
            fields.push(field);
            match self.byte(self.pos) {
                Some(b',') => self.pos += 1,
                _ => {
                    self.eat_newline();
                    break;
                }
            }
        }
        Ok(Some(Record {
            line: start_line,
            fields,
            malformed,
        }))
    }

    /// Reads one field, leaving `self.pos` on the comma, line ending or end of text after it.
    fn field(&mut self) -> Result<(Cow<'a, str>, Option<String>), CsvError> {
        let bytes = self.text.as_bytes();
        while self.byte(self.pos).is_some_and(is_blank) {
            self.pos += 1;
        }
        if self.byte(self.pos) != Some(b'"') {
            let start = self.pos;
            while let Some(b) = self.byte(self.pos) {
                if b == b',' || b == b'\n' || b == b'\r' {
                    break;
                }
                self.pos += 1;
            }
            let mut end = self.pos;
            while end > start && bytes.get(end - 1).copied().is_some_and(is_blank) {
                end -= 1;
            }
            // Both ends sit next to ASCII bytes, so they are character boundaries.
            return Ok((Cow::Borrowed(self.text.get(start..end).unwrap_or("")), None));
        }
        let open_line = self.line;
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<String> = None;
        let mut run_start = start;
        loop {
            match self.byte(self.pos) {
                None => return Err(CsvError::UnterminatedQuote { line: open_line }),
                Some(b'"') if self.byte(self.pos + 1) == Some(b'"') => {
                    // A doubled quote: keep the text so far and one quote, skip the other.
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(self.text.get(run_start..=self.pos).unwrap_or(""));
                    self.pos += 2;
                    run_start = self.pos;
                }
                Some(b'"') => break,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'\r') => {
                    self.pos += 1;
                    if self.byte(self.pos) != Some(b'\n') {
                        self.line += 1;
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
        let tail = self.text.get(run_start..self.pos).unwrap_or("");
        let value = match owned {
            Some(mut s) => {
                s.push_str(tail);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(tail),
        };
        self.pos += 1; // the closing quote
        while self.byte(self.pos).is_some_and(is_blank) {
            self.pos += 1;
        }
        let mut problem = None;
        if !matches!(self.byte(self.pos), None | Some(b',' | b'\n' | b'\r')) {
            problem = Some("text after the closing quote of a quoted field".to_string());
            while let Some(b) = self.byte(self.pos) {
                if b == b',' || b == b'\n' || b == b'\r' {
                    break;
                }
                self.pos += 1;
            }
        }
        Ok((value, problem))
    }
}

/// The physical line number of byte `pos` (1-based), counting LF, CRLF and lone CR as
/// [`Reader`] does.
pub fn line_at(text: &str, pos: usize) -> u64 {
    let b = text.as_bytes();
    let head = b.get(..pos).unwrap_or(b);
    let lf = head.iter().filter(|c| **c == b'\n').count();
    let lone_cr = head
        .iter()
        .enumerate()
        .filter(|(i, c)| **c == b'\r' && b.get(i + 1) != Some(&b'\n'))
        .count();
    (lf + lone_cr) as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(u64, Vec<String>, bool)> {
        let mut r = Reader::new(text);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push((
                rec.line,
                rec.fields.iter().map(|f| f.to_string()).collect(),
                rec.malformed.is_some(),
            ));
        }
        out
    }

    #[test]
    fn spaces_before_quotes_and_quoted_commas() {
        let recs = all("\"Key ID\", \"Product Key\",\"Email\"\r\n1, \"A, B\" , x@y\r\n");
        assert_eq!(
            recs,
            vec![
                (
                    1,
                    vec!["Key ID".into(), "Product Key".into(), "Email".into()],
                    false
                ),
                (2, vec!["1".into(), "A, B".into(), "x@y".into()], false),
            ]
        );
    }

    #[test]
    fn quotes_newlines_and_line_numbers() {
        let recs = all("a,\"he said \"\"hi\"\"\nthen left\"\n\nb,27\" tv\rc,\"\"");
        assert_eq!(recs[0].0, 1);
        assert_eq!(recs[0].1[1], "he said \"hi\"\nthen left");
        assert_eq!(recs[1], (3, vec![String::new()], false));
        assert_eq!(recs[2], (4, vec!["b".into(), "27\" tv".into()], false));
        assert_eq!(recs[3], (5, vec!["c".into(), String::new()], false));
    }

    #[test]
    fn malformed_and_unterminated() {
        let recs = all("\"a\"b,c\nd,e");
        assert!(recs[0].2);
        assert_eq!(recs[1].1, vec!["d", "e"]);
        let mut r = Reader::new("x\n\"open,\nstill open");
        assert!(r.next_record().unwrap().is_some());
        assert_eq!(
            r.next_record(),
            Err(CsvError::UnterminatedQuote { line: 2 })
        );
    }
}
