//! Logging setup for every binary: `RUST_LOG` filters (default `info`), `LOG_FORMAT=json`
//! switches to one JSON object per line (what Function Compute's log service indexes best).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true).with_span_list(false)).try_init()
    } else {
        registry.with(fmt::layer().with_ansi(false)).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}
