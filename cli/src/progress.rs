//! The one progress bar: position, rate (an integer per second) and ETA, on standard error,
//! drawn only on a terminal and never with `--quiet`, so logs and pipes stay clean.

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// A progress bar that may be hidden; every method is a no-op then.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` `unit`s ("keys", "licenses"), shown when standard error is a
    /// terminal and not `quiet`.
    pub fn bar(total: u64, unit: &str, quiet: bool) -> Progress {
        if quiet || !crate::term::stderr_is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(style(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit}  {{rate}}  ETA {{eta}}"
        )));
        Progress(Some(bar))
    }

    /// A bar over `total` bytes, labelled `what` ("parsing"): sizes in KiB/MiB/GiB, the rate
    /// as whole MiB (or KiB, B) per second, and ETA; shown as [`Progress::bar`] is.
    pub fn bytes(total: u64, what: &str, quiet: bool) -> Progress {
        if quiet || !crate::term::stderr_is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(style(&format!(
            "{what} {{bar:40}} {{bytes}}/{{total_bytes}}  {{byte_rate}}  ETA {{eta}}"
        )));
        Progress(Some(bar))
    }

    /// A counter for work whose total is not known in advance (rows streamed to a file):
    /// count, rate, elapsed time.
    pub fn counter(unit: &str, quiet: bool) -> Progress {
        if quiet || !crate::term::stderr_is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(style(&format!(
            "{{spinner}} {{pos}} {unit}  {{rate}}  {{elapsed}}"
        )));
        Progress(Some(bar))
    }

    /// Sets the position.
    pub fn set(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }

    /// Advances by `n`.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The style with `{rate}`: items per second as a whole number ("185155/s"), where
/// indicatif's `{per_sec}` prints "185,155.5902/s".
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", rate(s.per_sec()));
        })
        .with_key(
            "byte_rate",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", byte_rate(s.per_sec()));
            },
        )
}

/// A rate as a whole number per second.
pub fn rate(per_sec: f64) -> String {
    if per_sec.is_finite() && per_sec >= 0.0 {
        format!("{:.0}/s", per_sec.round())
    } else {
        "-/s".to_string()
    }
}

/// Bytes per second as a whole number of the largest binary unit it reaches ("31 MiB/s"),
/// where indicatif's `{binary_bytes_per_sec}` prints "31.25 MiB/s".
pub fn byte_rate(per_sec: f64) -> String {
    if !(per_sec.is_finite() && per_sec >= 0.0) {
        return "-/s".to_string();
    }
    let (n, unit) = [("GiB", 30), ("MiB", 20), ("KiB", 10)]
        .into_iter()
        .map(|(u, shift)| (per_sec / f64::from(1u32 << shift), u))
        .find(|(n, _)| *n >= 1.0)
        .unwrap_or((per_sec, "B"));
    format!("{:.0} {unit}/s", n.round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(rate(185_155.590_2), "185156/s");
        assert_eq!(rate(0.4), "0/s");
        assert_eq!(rate(f64::NAN), "-/s");
        assert_eq!(byte_rate(31.4 * 1024.0 * 1024.0), "31 MiB/s");
        assert_eq!(byte_rate(2047.0), "2 KiB/s");
        assert_eq!(byte_rate(3.0 * 1024.0 * 1024.0 * 1024.0), "3 GiB/s");
        assert_eq!(byte_rate(12.6), "13 B/s");
        assert_eq!(byte_rate(-1.0), "-/s");
    }

    #[test]
    fn hidden_bars_do_nothing() {
        let p = Progress::bar(10, "keys", true);
        assert!(Progress::bytes(10, "parsing", true).0.is_none());
        p.set(5);
        p.inc(1);
        p.finish();
        assert!(p.0.is_none());
    }
}
