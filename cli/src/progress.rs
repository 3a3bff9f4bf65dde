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

    /// A spinner for work whose size is not known: `message`, elapsed time.
    pub fn spinner(message: &str, quiet: bool) -> Progress {
        if quiet || !crate::term::stderr_is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(style("{spinner} {msg}  {elapsed}"));
        bar.set_message(message.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
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
}

/// A rate as a whole number per second.
pub fn rate(per_sec: f64) -> String {
    if per_sec.is_finite() && per_sec >= 0.0 {
        format!("{:.0}/s", per_sec.round())
    } else {
        "-/s".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(rate(185_155.590_2), "185156/s");
        assert_eq!(rate(0.4), "0/s");
        assert_eq!(rate(f64::NAN), "-/s");
    }

    #[test]
    fn hidden_bars_do_nothing() {
        let p = Progress::bar(10, "keys", true);
        p.set(5);
        p.inc(1);
        p.finish();
        assert!(p.0.is_none());
    }
}
