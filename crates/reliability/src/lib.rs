//! The concurrency and fault suites (`tests/`), run by `make test` like every other test.
//!
//! They start the real binaries as processes (two instances of each function on one MariaDB
//! database, as Function Compute runs them; the local stack on SQLite), fire bursts of
//! concurrent requests at them and count what got through (`tests/concurrency.rs`), and break
//! a database of their own while clients keep calling (`tests/faults.rs`). The helpers live in
//! `test-support` (`burst`, `fault`). Client counts come from variables, so a longer soak can
//! be run by hand: `make soak` (see the README's reliability section).
