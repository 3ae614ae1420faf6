//! What a move reports as it goes ([`Step`]) and how the command shows
//! it on stderr: a bar per table on a terminal, a line per page otherwise
//! (a log, a test reading the child's stderr), with rows copied of the
//! total and the rate.

use std::io::{IsTerminal, Write};

/// One thing a move did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    /// A table's copy starts, `done` of its `total` rows copied by an earlier run.
    Start { table: &'a str, done: u64, total: u64 },
    /// The `pages`th page of this run is inserted; its marker is not written yet.
    Inserted { table: &'a str, pages: u64 },
    /// `done` of `total` rows are copied and marked; this run copies `per_second`.
    Copied { table: &'a str, done: u64, total: u64, per_second: f64 },
    /// A table is done: this run wrote `written` rows; SQLite holds `total`.
    Done { table: &'a str, written: u64, total: u64, seconds: f64 },
    /// Sessions are being recomputed from the copied events.
    Rebuilding,
    /// Sessions were recomputed from the copied events.
    Rebuilt { sessions: u64, events: u64, seconds: f64 },
}

/// Shows steps on stderr.
pub struct Stderr {
    bar: Option<indicatif::ProgressBar>,
    terminal: bool,
}

impl Default for Stderr {
    fn default() -> Self {
        Stderr { bar: None, terminal: std::io::stderr().is_terminal() }
    }
}

impl Stderr {
    pub fn show(&mut self, step: Step) {
        match step {
            Step::Rebuilding => self.line("sessions: recomputing from the copied events…".into()),
            Step::Start { table, done, total } => {
                if done > 0 {
                    self.line(format!("{table}: resuming after {done} of {total} rows copied by an earlier run"));
                }
                if self.terminal {
                    let bar = indicatif::ProgressBar::new(total).with_position(done);
                    let style = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)")
                        .expect("a valid template")
                        .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_message(table.to_owned());
                    bar.reset_eta();
                    self.bar = Some(bar);
                }
            }
            Step::Inserted { .. } => {}
            Step::Copied { table, done, total, per_second } => match &self.bar {
                Some(bar) => bar.set_position(done),
                None => self.line(format!("{table}: {done}/{total} rows copied ({per_second:.0} rows/s)")),
            },
            Step::Done { table, written, total, seconds } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let rate = if seconds >= 1.0 && written > 0 { format!(", {:.0} rows/s", written as f64 / seconds) } else { String::new() };
                self.line(format!("{table}: done, {written} rows written by this run of {total} ({seconds:.1} s{rate})"));
            }
            Step::Rebuilt { sessions, events, seconds } => {
                self.line(format!("sessions: {sessions} recomputed from {events} events ({seconds:.1} s)"));
            }
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }
}
