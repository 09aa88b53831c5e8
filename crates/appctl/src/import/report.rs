//! Progress and the report.

use std::{
    collections::{BTreeMap, HashMap},
    io::IsTerminal,
    time::Duration,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{LISTED, Reason, Skip, Spec};

pub(super) struct Stats {
    pub(super) table: &'static str,
    pub(super) read: u64,
    pub(super) imported: u64,
    pub(super) noted: u64,
    pub(super) skipped: BTreeMap<Reason, u64>,
}

impl Stats {
    pub(super) fn new(table: &'static str) -> Self {
        Self { table, read: 0, imported: 0, noted: 0, skipped: BTreeMap::new() }
    }

    /// `users: read 6, imported 3 (notes: 1), skipped 3 (invalid: 1, email taken: 2)`
    pub(super) fn line(&self) -> String {
        let skipped: u64 = self.skipped.values().sum();
        let mut line = format!("{}: read {}, imported {}", self.table, self.read, self.imported);
        if self.noted > 0 {
            line.push_str(&format!(" (notes: {})", self.noted));
        }
        line.push_str(&format!(", skipped {skipped}"));
        if skipped > 0 {
            let reasons: Vec<String> =
                self.skipped.iter().map(|(reason, count)| format!("{}: {count}", reason.label())).collect();
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        line
    }
}

pub(super) struct Report {
    pub(super) bar: ProgressBar,
    pub(super) stats: Vec<Stats>,
    pub(super) listed: HashMap<(&'static str, Reason), u64>,
}

impl Report {
    /// The bar is drawn only when stdout is a terminal (not in scripts, CI or tests, where the
    /// report lines alone are printed).
    pub(super) fn new(total: u64) -> Self {
        let target =
            if std::io::stdout().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template("{prefix:>13} [{bar:40}] {pos}/{len} rows ({eta} left)") {
            bar.set_style(style.progress_chars("=> "));
        }
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self { bar, stats: Vec::new(), listed: HashMap::new() }
    }

    pub(super) fn table(&mut self) -> &mut Stats {
        self.stats.last_mut().expect("a table is being imported")
    }

    pub(super) fn say(&self, line: String) {
        self.bar.suspend(|| println!("{line}"));
    }

    pub(super) fn skip(&mut self, spec: &Spec, id: &str, skip: Skip) {
        *self.table().skipped.entry(skip.reason).or_default() += 1;
        if !skip.reason.listed() {
            return;
        }
        let listed = self.listed.entry((spec.prisma, skip.reason)).or_default();
        *listed += 1;
        if *listed <= LISTED {
            self.say(format!("skipped {} {id}: {}", spec.prisma, skip.detail));
        } else if *listed == LISTED + 1 {
            self.say(format!("… more {} rows skipped as {} are only counted", spec.prisma, skip.reason.label()));
        }
    }

    pub(super) fn imported(&mut self, spec: &Spec, id: &str, notes: &[String]) {
        let stats = self.table();
        stats.imported += 1;
        if !notes.is_empty() {
            stats.noted += 1;
            for note in notes {
                self.say(format!("note {} {id}: {note}", spec.prisma));
            }
        }
    }

    pub(super) fn print_summary(&self, elapsed: Duration, finished: bool) {
        if !finished {
            println!(
                "The import stopped on an error (below). The rows counted as imported are saved; run the \
                 import again to continue."
            );
        }
        println!("Summary ({:.1} s):", elapsed.as_secs_f64());
        for stats in &self.stats {
            println!("  {}", stats.line());
        }
        let problems = self.stats.iter().any(|s| s.skipped.keys().any(|reason| reason.listed()));
        println!("Rows already present were left as they are; nothing was overwritten.");
        if problems {
            println!(
                "Skipped rows are listed above. Fix them in the old database if they matter and run the import \
                 again: it only adds what is missing."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines() {
        let mut stats = Stats::new("users");
        stats.read = 6;
        stats.imported = 3;
        assert_eq!(stats.line(), "users: read 6, imported 3, skipped 0");
        stats.noted = 1;
        stats.skipped.insert(Reason::EmailTaken, 2);
        stats.skipped.insert(Reason::Invalid, 1);
        assert_eq!(stats.line(), "users: read 6, imported 3 (notes: 1), skipped 3 (invalid: 1, email taken: 2)");
    }
}
