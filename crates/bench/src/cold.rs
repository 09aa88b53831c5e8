//! Cold starts: exec of a binary → its first 200, with what the process used by then.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use crate::{COLD_START_RUNS, Fixture, Server, percentile};

/// One exec → first 200: when the port first accepted a connection, when the 200 came back,
/// and what the process had used by then.
pub(crate) struct ColdStart {
    pub(crate) listening: Duration,
    pub(crate) answered: Duration,
    pub(crate) cpu: Duration,
    pub(crate) faults: u64,
}

/// The cold starts of one binary.
#[derive(Default)]
pub(crate) struct ColdStarts(pub(crate) Vec<ColdStart>);

impl ColdStarts {
    /// The `p`th percentile of one measure over the runs.
    pub(crate) fn percentile<T: Ord + Copy + Default>(&self, p: usize, measure: impl Fn(&ColdStart) -> T) -> T {
        let mut values: Vec<T> = self.0.iter().map(measure).collect();
        values.sort();
        percentile(&values, p)
    }
}

/// Exec → first 200 of each `(binary, path, token)`, `COLD_START_RUNS` times, in turns.
pub(crate) async fn cold_starts(
    bin: &Path,
    subjects: &[(&str, &str, Option<&str>)],
    fixture: &Fixture,
) -> anyhow::Result<Vec<ColdStarts>> {
    let mut starts: Vec<ColdStarts> = subjects.iter().map(|_| ColdStarts::default()).collect();
    for _ in 0..COLD_START_RUNS {
        for ((name, path, token), starts) in subjects.iter().zip(&mut starts) {
            let start = Instant::now();
            let server = Server::start(bin, name, fixture).await?;
            starts.0.push(tokio::task::block_in_place(|| server.first_ok(path, *token, start))?);
        }
    }
    Ok(starts)
}
