//! The one way the CLI writes to the terminal: standard output through [`outln!`] /
//! [`out!`] / [`Out`], standard error through [`errln!`], and untrusted text through
//! [`field`].
//!
//! Why one writer: `println!` panics when the reader of a pipe goes away
//! (`airseal inspect x.lic | head -1`), which ends the process with exit 101 and a Rust
//! message, sometimes after a side effect (an install) and sometimes halfway through one.
//! Here a closed standard output is remembered instead: every later write is dropped, the
//! command runs to its end (so nothing is left half done), listings stop early by checking
//! [`stdout_closed`], and `main` exits with the command's own code, as `git log | head`
//! does. Any other write error (a full disk behind `>`) is reported at the end, exit 3.
//!
//! Why escaping here: licensee names, product ids, app versions and ledger e-mails come from
//! outside. Printed raw, `ESC ]52;…` writes the vendor's clipboard, `ESC [2J` clears the
//! screen, a carriage return or a bidi override makes a line say something else. Text for
//! people is escaped (all C0/C1 controls, DEL, bidi controls); data formats are not (JSON
//! is escaped per JSON by [`json_text`]; CSV keeps its bytes unless it goes to a terminal).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output's reader has gone away (EPIPE).
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error on standard output other than a closed pipe.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Exit code when the process panics: a bug, told apart from every documented code
/// (sysexits' `EX_SOFTWARE`).
pub const BUG: u8 = 70;

/// Whether standard output's reader has gone away; long listings check it to stop early.
pub fn stdout_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// The first standard-output error that was not a closed pipe, to report at exit.
pub fn stdout_error() -> Option<String> {
    FAILED.lock().ok().and_then(|f| f.clone())
}

/// Files an error from writing to standard output: a closed pipe silences all later
/// output; anything else is kept for `main` to report.
fn note(e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CLOSED.store(true, Ordering::Relaxed);
    } else if let Ok(mut f) = FAILED.lock() {
        if f.is_none() {
            *f = Some(e.to_string());
        }
        // Stop writing: the rest would fail the same way.
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Standard output as an [`io::Write`] that files its errors (see [`note`]) and refuses
/// every write once the output is closed, so a loop writing through it ends at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct Out;

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        io::stdout().lock().write(buf).inspect_err(note)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if stdout_closed() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        io::stdout().lock().write_all(buf).inspect_err(note)
    }

    fn flush(&mut self) -> io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        io::stdout().lock().flush().inspect_err(note)
    }
}

/// Writes bytes to standard output exactly as they are (armored files, CSV, JSON), or
/// nothing once it is closed. Errors are filed, not returned: see the module docs.
pub fn out_bytes(bytes: &[u8]) {
    let _ = Out.write_all(bytes);
}

/// Writes text for people to standard output, control characters escaped except newline
/// and tab (a catch-all: untrusted fields should already have gone through [`field`]).
pub fn out_text(text: &str) {
    out_bytes(escape_keep_lines(text).as_bytes());
}

/// Writes text for people to standard error, escaped as [`out_text`] does; a closed or
/// failing standard error is ignored (there is nowhere left to say so).
pub fn err_text(text: &str) {
    let _ = io::stderr()
        .lock()
        .write_all(escape_keep_lines(text).as_bytes());
}

/// Flushes standard output at exit, filing a late error.
pub fn flush() {
    let _ = Out.flush();
}

/// `outln!(…)`: `println!` through [`out_text`].
macro_rules! outln {
    () => {
        $crate::term::out_text("\n")
    };
    ($($arg:tt)*) => {
        $crate::term::out_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `out!(…)`: `print!` through [`out_text`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::term::out_text(&format!($($arg)*))
    };
}

/// `errln!(…)`: `eprintln!` through [`err_text`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::term::err_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Whether `c` must not reach a terminal raw: C0 and C1 controls, DEL, and the Unicode
/// controls that reorder or hide text (bidi embeddings, overrides, isolates and marks,
/// zero-width joiners aside).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

fn escape_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

fn escape_where(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One untrusted value (a licensee name, a product id, an e-mail, an app version) made
/// safe to print on one line: every control character, newline included, and every bidi
/// control is written as a visible escape (`\x1b`, `\n`, `\u{202e}`).
pub fn field(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe)
}

/// The most of one error message printed: a message quoting a file's content (an import's
/// 1 MB header line, say) is cut there, saying how much was left out.
pub const MAX_MESSAGE: usize = 4096;

/// `s`, cut to [`MAX_MESSAGE`] bytes (at a character boundary) with a note of the rest.
pub fn clip(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_MESSAGE {
        return Cow::Borrowed(s);
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} more bytes not shown)",
        &s[..end],
        s.len() - end
    ))
}

/// Text of several lines made safe to print: as [`field`] but newline and tab kept.
pub fn escape_keep_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && c != '\t' && is_unsafe(c))
}

/// Serialized JSON made safe for a terminal without changing its value: serde_json already
/// escapes C0 controls; the C1 controls, DEL and bidi controls it leaves raw can only occur
/// inside strings, where `\uXXXX` means the same character.
pub fn json_text(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unsafe_in_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_unsafe_in_json(c) {
            // Every one of these is in the Basic Multilingual Plane: one \u escape.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Unsafe characters other than the JSON structural whitespace serde_json emits.
fn is_unsafe_in_json(c: char) -> bool {
    is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t')
}

/// Writes one JSON value as a line on standard output (terminal-safe, see [`json_text`]).
pub fn out_json(value: &serde_json::Value) {
    out_json_text(&value.to_string());
}

/// Writes serialized JSON (compact or pretty) and a newline on standard output,
/// terminal-safe (see [`json_text`]).
pub fn out_json_text(json: &str) {
    let mut text = json_text(json).into_owned();
    text.push('\n');
    out_bytes(text.as_bytes());
}

/// Whether standard error is a terminal (progress bars are drawn only then).
pub fn stderr_is_terminal() -> bool {
    io::IsTerminal::is_terminal(&io::stderr())
}

/// Installs the panic hook: one line asking for a bug report, no backtrace, and exit
/// [`BUG`] so scripts can tell a crash from every documented failure.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        err_text(&format!(
            "airseal: internal error (a bug{place}): {}; please report it with the command \
             you ran: {}\n",
            field(&what),
            env!("CARGO_PKG_REPOSITORY")
        ));
        std::process::exit(i32::from(BUG));
    }));
}

/// `n` and the word for it, singular or plural: "1 license", "2 licenses".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_clipped_at_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_MESSAGE);
        let c = clip(&long);
        assert!(c.len() < MAX_MESSAGE + 40, "{}", c.len());
        assert!(c.ends_with(&format!(
            "({} more bytes not shown)",
            long.len() - MAX_MESSAGE
        )));
    }

    #[test]
    fn field_escapes_terminal_controls() {
        let evil = "\x1b]52;c;ZXZpbA==\x07\x1b[2J";
        assert_eq!(field(evil), "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J");
        assert_eq!(field("a\rb\x08c\nd"), "a\\rb\\x08c\\nd");
        assert_eq!(
            field("x\u{202e}y\u{2066}z\u{9b}"),
            "x\\u{202e}y\\u{2066}z\\u{009b}"
        );
        assert_eq!(
            field("Jane Doe <jane@example.com> Ünïcödé"),
            "Jane Doe <jane@example.com> Ünïcödé"
        );
        assert!(matches!(field("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_newlines_only() {
        assert_eq!(escape_keep_lines("a\n\tb\x1b"), "a\n\tb\\x1b");
    }

    #[test]
    fn json_stays_the_same_value() {
        let v = serde_json::json!({"name": "\x1b]52;c;x\x07 \u{202e}rtl\u{85}"});
        let text = json_text(&v.to_string()).into_owned();
        assert!(!text.chars().any(is_unsafe), "{text:?}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
