//! Logging setup for every binary: `RUST_LOG` filters (default `info`), `LOG_FORMAT=json`
//! switches to one JSON object per line (what Function Compute's log service indexes best).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init() {
    // A `RUST_LOG` that does not parse (a typo in a level, say) falls back to `info`, and the
    // first log line says so rather than leaving the operator to wonder where the debug lines went.
    let (filter, rejected) = match std::env::var("RUST_LOG") {
        Ok(value) => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(err) => (EnvFilter::new("info"), Some((value, err))),
        },
        Err(_) => (EnvFilter::new("info"), None),
    };
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true).with_span_list(false)).try_init()
    } else {
        registry.with(fmt::layer().with_ansi(false)).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
    if let Some((value, err)) = rejected {
        tracing::warn!(rust_log = %value, error = %err, "RUST_LOG is not a valid filter; logging at info");
    }
}
