//! The one renderer for listings: an aligned table for people, RFC 4180 CSV, a JSON array
//! or JSON lines — written row by row, so a listing of millions of rows starts at once and
//! holds only a bounded window in memory.
//!
//! Untrusted text (the ledger's e-mails, names, app versions) is escaped in tables and, on a
//! terminal, in CSV (see `term`); JSON escapes it per JSON. CSV cells starting with `=`, `+`,
//! `-` or `@` are defused ([`csv_cell`]) so a spreadsheet does not run them as formulas.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use airseal_verify::app::fs::{Access, DurableFile, Mode, WriteError};
use clap::ValueEnum;
use serde_json::Value;

use crate::term;

/// Output formats of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the long hex columns left out).
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON array, one row object a line.
    Json,
    /// JSON lines: one object a line, nothing around them (for streams).
    Jsonl,
}

impl Format {
    /// The format a file name's extension asks for, if it names one.
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format to write: the one asked for (`--format`/`--json`), else the one `out`'s
    /// extension names, else a table. A format that contradicts the extension is refused
    /// rather than writing CSV into `x.json`.
    ///
    /// # Errors
    /// The message to show when the two disagree.
    pub fn resolve(asked: Option<Format>, out: Option<&Path>) -> Result<Format, String> {
        let by_name = out.and_then(Format::from_extension);
        match (asked, by_name) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "--format {} does not match the file name {} (a .{} file); change one of them",
                a.name(),
                out.map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                b.name()
            )),
            (Some(a), _) => Ok(a),
            (None, Some(b)) => Ok(b),
            (None, None) => Ok(Format::Table),
        }
    }
}

/// A cell as text ([`airseal_vendor::listing::cell_text`], the one rule the service's CSV
/// follows too).
pub fn cell_text(v: &Value) -> Cow<'_, str> {
    airseal_vendor::listing::cell_text(v)
}

/// One CSV cell, through the one CSV writer ([`airseal_vendor::csv::cell`]): RFC 4180
/// quoting, and a field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
/// first) prefixed with `'` (e-mails and app versions come from outside).
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    airseal_vendor::csv::cell(s)
}

/// Rows a table holds back to size its columns; later rows use those widths (a wider cell
/// just pushes the rest of its line), so memory stays bounded.
const TABLE_WINDOW: usize = 1000;

/// Columns left out of tables (long hex and JSON blobs); CSV and JSON carry them.
const WIDE: &[&str] = &["components", "token_id", "device_key", "meters"];

/// Writes one listing, row by row, in one format.
#[derive(Debug)]
pub struct Renderer<W: Write> {
    out: W,
    format: Format,
    columns: &'static [&'static str],
    /// Escape CSV cells for a terminal (tables are always escaped, JSON per JSON).
    terminal: bool,
    rows: u64,
    /// Table only: the columns shown, the rows held back, and the widths once fixed.
    shown: Vec<usize>,
    window: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
}

impl<W: Write> Renderer<W> {
    /// Starts a listing of `columns` on `out` (the CSV header or the JSON `[` is written at
    /// once). `terminal`: `out` is a terminal, so CSV is escaped too.
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn new(
        out: W,
        format: Format,
        columns: &'static [&'static str],
        terminal: bool,
    ) -> io::Result<Self> {
        let mut r = Renderer {
            out,
            format,
            columns,
            terminal,
            rows: 0,
            shown: (0..columns.len())
                .filter(|i| columns.get(*i).is_some_and(|c| !WIDE.contains(c)))
                .collect(),
            window: Vec::new(),
            widths: None,
        };
        match format {
            Format::Csv => {
                r.out.write_all(columns.join(",").as_bytes())?;
                r.out.write_all(b"\n")?;
            }
            Format::Json => r.out.write_all(b"[")?,
            Format::Table | Format::Jsonl => {}
        }
        Ok(r)
    }

    /// Writes one row (values in column order).
    ///
    /// # Errors
    /// Writing to `out`; a closed standard output shows as `BrokenPipe`, to stop the listing.
    pub fn row(&mut self, row: &[Value]) -> io::Result<()> {
        self.rows += 1;
        match self.format {
            Format::Csv => {
                let mut line = String::new();
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    let text = cell_text(v);
                    if self.terminal {
                        line.push_str(&csv_cell(&term::field(&text)));
                    } else {
                        line.push_str(&csv_cell(&text));
                    }
                }
                line.push('\n');
                self.out.write_all(line.as_bytes())
            }
            Format::Json | Format::Jsonl => {
                let mut line = String::new();
                if self.format == Format::Json {
                    line.push_str(if self.rows == 1 { "\n" } else { ",\n" });
                }
                line.push_str(&term::json_text(&self.object(row)));
                if self.format == Format::Jsonl {
                    line.push('\n');
                }
                self.out.write_all(line.as_bytes())
            }
            Format::Table => {
                let cells: Vec<String> = self
                    .shown
                    .iter()
                    .map(|i| {
                        row.get(*i)
                            .map(|v| term::field(&cell_text(v)).into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                if self.widths.is_some() {
                    let line = self.line(&cells);
                    return self.out.write_all(line.as_bytes());
                }
                self.window.push(cells);
                if self.window.len() >= TABLE_WINDOW {
                    self.flush_window()?;
                }
                Ok(())
            }
        }
    }

    /// Ends the listing (the table's `(N rows)` line, the JSON `]`); returns the output
    /// (to commit it) and the row count.
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        match self.format {
            Format::Table => {
                self.flush_window()?;
                let footer = format!(
                    "({} {})\n",
                    self.rows,
                    if self.rows == 1 { "row" } else { "rows" }
                );
                self.out.write_all(footer.as_bytes())?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.rows == 0 { b"]\n" } else { b"\n]\n" })?;
            }
            Format::Csv | Format::Jsonl => {}
        }
        self.out.flush()?;
        Ok((self.out, self.rows))
    }

    /// A row as a JSON object with its keys in column order (a `Map` would sort them).
    fn object(&self, row: &[Value]) -> String {
        let mut text = String::from("{");
        for (i, (c, v)) in self.columns.iter().zip(row).enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&Value::String((*c).to_string()).to_string());
            text.push(':');
            text.push_str(&v.to_string());
        }
        text.push('}');
        text
    }

    /// Fixes the column widths from the header and the rows held back, and writes them.
    fn flush_window(&mut self) -> io::Result<()> {
        if self.widths.is_some() {
            return Ok(());
        }
        let header: Vec<String> = self
            .shown
            .iter()
            .filter_map(|i| self.columns.get(*i).map(|c| (*c).to_string()))
            .collect();
        let widths = (0..header.len())
            .map(|n| {
                std::iter::once(&header)
                    .chain(&self.window)
                    .map(|r| r.get(n).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        self.widths = Some(widths);
        let mut text = self.line(&header);
        for row in std::mem::take(&mut self.window) {
            text.push_str(&self.line(&row));
        }
        self.out.write_all(text.as_bytes())
    }

    fn line(&self, cells: &[String]) -> String {
        let widths = self.widths.as_deref().unwrap_or(&[]);
        let mut l = cells
            .iter()
            .zip(widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    }
}

/// Where a listing goes: standard output, or a file made visible only once complete.
#[derive(Debug)]
pub enum Sink {
    /// Standard output, through `term` (a closed pipe stops the listing quietly).
    Stdout(io::BufWriter<term::Out>),
    /// The one durable writer (`airseal_verify::app::fs`): a temporary file beside the target,
    /// fsynced and put in place by [`Sink::commit`].
    File(DurableFile),
}

impl Sink {
    /// Standard output.
    pub fn stdout() -> Sink {
        Sink::Stdout(io::BufWriter::with_capacity(64 * 1024, term::Out))
    }

    /// A new file at `path`; an existing one is refused (now, and again atomically at
    /// commit) unless `force`. Readable by its owner only (0600), the temporary file too:
    /// what the ledger lists (product keys, which work as passwords, and customers' e-mail
    /// addresses) is as private as the ledger itself.
    ///
    /// # Errors
    /// The target exists without `force`, or its folder cannot take the temporary file.
    pub fn file(path: &Path, force: bool) -> Result<Sink, WriteError> {
        DurableFile::create(path, Access::OwnerOnly, Mode::replace_if(force)).map(Sink::File)
    }

    /// Whether this is standard output and it is a terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Sink::Stdout(_)) && io::stdout().is_terminal()
    }

    /// Makes the output final: flushes standard output (a reader gone is not an error), or
    /// commits the file.
    ///
    /// # Errors
    /// Writing, syncing or putting the file in place.
    pub fn commit(self) -> Result<(), WriteError> {
        match self {
            Sink::Stdout(mut w) => match w.flush() {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(WriteError::Io {
                    path: PathBuf::from("standard output"),
                    source: e,
                }),
                _ => Ok(()),
            },
            Sink::File(f) => f.commit(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File(f) => f.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(w) => w.write_all(buf),
            Sink::File(f) => f.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File(f) => f.flush(),
        }
    }
}

/// Prints a short listing held in memory (products, templates, customers, batches) on
/// standard output: a table for people, or one JSON array. A reader that goes away early
/// (`| head`) ends it quietly.
///
/// # Errors
/// Writing to standard output.
pub fn print_list(
    columns: &'static [&'static str],
    rows: impl IntoIterator<Item = Vec<Value>>,
    json: bool,
) -> Result<(), WriteError> {
    let gone = |e: io::Error| WriteError::Io {
        path: PathBuf::from("standard output"),
        source: e,
    };
    let sink = Sink::stdout();
    let terminal = sink.is_terminal();
    let format = if json { Format::Json } else { Format::Table };
    let mut r = Renderer::new(sink, format, columns, terminal).map_err(gone)?;
    for row in rows {
        match r.row(&row) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.map_err(gone)?,
        }
    }
    match r.finish() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(gone(e)),
        Ok((sink, _)) => sink.commit(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLS: &[&str] = &["name", "email", "token_id"];

    fn render(format: Format, rows: &[Vec<Value>], terminal: bool) -> String {
        let mut out = Vec::new();
        let mut r = Renderer::new(&mut out, format, COLS, terminal).unwrap();
        for row in rows {
            r.row(row).unwrap();
        }
        r.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![json!("Jane"), json!("=HYPERLINK(\"x\")"), json!("00ff")],
            vec![
                json!("\x1b]52;c;ZXZpbA==\x07\u{202e}"),
                Value::Null,
                json!("01"),
            ],
        ]
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("+1+A1"), "'+1+A1");
        assert_eq!(csv_cell("-cmd|' /C calc'!A0"), "'-cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-1"), "-1", "a plain number holds no formula");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn csv_keeps_data_off_a_terminal_and_escapes_it_on_one() {
        let piped = render(Format::Csv, &rows(), false);
        assert_eq!(
            piped,
            "name,email,token_id\nJane,\"'=HYPERLINK(\"\"x\"\")\",00ff\n\
             \x1b]52;c;ZXZpbA==\x07\u{202e},,01\n"
        );
        let shown = render(Format::Csv, &rows(), true);
        assert!(
            !shown.contains('\x1b') && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert!(
            shown.contains("\\x1b]52;c;ZXZpbA==\\x07\\u{202e}"),
            "{shown}"
        );
    }

    #[test]
    fn tables_escape_align_and_count() {
        let t = render(Format::Table, &rows(), false);
        assert_eq!(
            t,
            "name                            email\n\
             Jane                            =HYPERLINK(\"x\")\n\
             \\x1b]52;c;ZXZpbA==\\x07\\u{202e}\n\
             (2 rows)\n"
        );
        assert!(render(Format::Table, &rows()[..1], false).ends_with("(1 row)\n"));
        assert_eq!(render(Format::Table, &[], false), "name  email\n(0 rows)\n");
    }

    #[test]
    fn json_array_and_lines_parse_back_in_column_order() {
        for format in [Format::Json, Format::Jsonl] {
            let text = render(format, &rows(), false);
            assert!(
                !text.contains('\x1b') && !text.contains('\u{202e}'),
                "{text}"
            );
            assert!(text.contains(r#"{"name":"Jane","email":"#), "{text}");
            let parsed: Vec<Value> = if format == Format::Json {
                serde_json::from_str(&text).unwrap()
            } else {
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect()
            };
            assert_eq!(parsed.len(), 2);
            assert_eq!(parsed[1]["name"], json!("\x1b]52;c;ZXZpbA==\x07\u{202e}"));
        }
        assert_eq!(render(Format::Json, &[], false), "[]\n");
    }

    #[test]
    fn tables_stream_past_the_window() {
        let many: Vec<Vec<Value>> = (0..TABLE_WINDOW + 5)
            .map(|i| vec![json!(format!("n{i}")), json!("e"), json!("t")])
            .collect();
        let t = render(Format::Table, &many, false);
        assert_eq!(t.lines().count(), TABLE_WINDOW + 5 + 2);
        assert!(t.ends_with(&format!("({} rows)\n", TABLE_WINDOW + 5)));
    }

    #[test]
    fn format_follows_the_flag_then_the_extension() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(Format::resolve(None, Some(&p("x.json"))), Ok(Format::Json));
        assert_eq!(Format::resolve(None, Some(&p("x.CSV"))), Ok(Format::Csv));
        assert_eq!(
            Format::resolve(None, Some(&p("x.jsonl"))),
            Ok(Format::Jsonl)
        );
        assert_eq!(Format::resolve(None, Some(&p("x.out"))), Ok(Format::Table));
        assert_eq!(Format::resolve(None, None), Ok(Format::Table));
        assert_eq!(
            Format::resolve(Some(Format::Csv), Some(&p("x.dat"))),
            Ok(Format::Csv)
        );
        assert!(Format::resolve(Some(Format::Csv), Some(&p("x.json"))).is_err());
    }
}
