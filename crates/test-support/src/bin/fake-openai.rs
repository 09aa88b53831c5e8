//! An OpenAI-compatible chat-completions server for manual runs, the API fuzzing and the
//! browser tests: `fake-openai [PORT]` answers every request by describing it back
//! ([`Behaviour::Echo`]), streamed word by word. Prints its base URL on the first line.

use std::time::Duration;

use test_support::{Behaviour, Upstream};

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|port| port.parse().ok()).unwrap_or(0);
    let delay = std::env::var("FAKE_OPENAI_DELAY_MS").ok().and_then(|ms| ms.parse().ok()).unwrap_or(40);
    let upstream = Upstream::start_on(port, Behaviour::Echo { delay: Duration::from_millis(delay) }).await;
    println!("{}", upstream.base_url);
    let _ = tokio::signal::ctrl_c().await;
}
