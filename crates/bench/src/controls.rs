//! The conversation-controls figure of `make bench`: how long a stop takes to end the model's
//! request, when it is sent to another instance than the one streaming (as the custom domain
//! may route it). Target: under a second.

use std::{
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use test_support::{Behaviour, Upstream, burst::Streaming};

use super::{Fixture, Server, ms, percentile};

const STOPS: usize = 20;

/// Streams a slow reply from one `chat` instance, stops it through a second, and times the
/// stop: until the upstream saw its stream closed, and until the stop call answered. Returns
/// the worst time to the upstream's close.
pub async fn stop_latency(
    bin: &Path,
    fixture: &Fixture,
    upstream: &Upstream,
    report: &mut String,
) -> anyhow::Result<Duration> {
    writeln!(report, "## Stop: from the stop request to the model's request closed\n")?;
    writeln!(
        report,
        "Two `chat` instances on the fixture's database; a reply streams from the first (a piece every 50 ms)\n\
         and the stop goes to the second after 2 to 10 pieces, {STOPS} times. \"Upstream closed\" is when the test upstream saw\n\
         its stream dropped, \"stop answered\" when the stop call returned (the reply saved as stopped and\n\
         the slot free). The streaming instance looks for a stop every {} ms.\n",
        app_core_poll_ms()
    )?;
    let extra = [("CHAT_QUOTA_USER", "off"), ("CHAT_MAX_CONCURRENT_STREAMS", "0"), ("CHAT_TITLE_MODEL", "off")];
    let streaming_instance = Server::start_with(bin, "chat", fixture, &extra).await?;
    let stopping_instance = Server::start_with(bin, "chat", fixture, &extra).await?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    streaming_instance.ready(&client, "/api/health", None).await?;
    stopping_instance.ready(&client, "/api/health", None).await?;
    let pieces: Vec<String> = (0..400).map(|n| format!("w{n} ")).collect();
    upstream.set(Behaviour::Reply { pieces, delay: Duration::from_millis(50) });

    let auth = format!("Bearer {}", fixture.user_token);
    let headers = [("authorization", auth.as_str()), ("accept", "text/event-stream")];
    let body = serde_json::json!({"type": "oracle", "messages": [{"role": "user", "content": "a long one"}]});
    let (mut closed, mut answered) = (Vec::new(), Vec::new());
    for round in 0..STOPS {
        let mut stream = Streaming::open(streaming_instance.port, "/api/chat", &headers, &body).await;
        // Stop after a varying number of pieces (2 to 10, 50 ms apart), so that the stops fall
        // at every phase of the streaming instance's polling.
        let after = format!("w{} ", 2 + (round * 7) % 9);
        anyhow::ensure!(stream.read_until(&after).await, "the reply did not stream: {}", stream.received);
        let conversation = conversation_id(&stream.received).ok_or_else(|| anyhow::anyhow!("no conversation id"))?;
        let path = format!("/api/chat/conversations/{conversation}/stop");
        let sent = Instant::now();
        let reply =
            test_support::burst::call(stopping_instance.port, "POST", &path, &[("authorization", &auth)], b"").await;
        answered.push(sent.elapsed());
        anyhow::ensure!(reply.status == 200 && reply.text().contains("\"ended\":1"), "stop: {}", reply.text());
        let log = upstream.streams().pop().ok_or_else(|| anyhow::anyhow!("no upstream stream"))?;
        let cut_at = log.cut_at.ok_or_else(|| anyhow::anyhow!("the upstream stream was not closed: {log:?}"))?;
        closed.push(cut_at.saturating_duration_since(sent));
        stream.read_to_end().await;
    }
    closed.sort();
    answered.sort();
    writeln!(report, "| | p50 | p90 | max |\n|---|---|---|---|")?;
    for (label, times) in [("upstream closed", &closed), ("stop answered", &answered)] {
        writeln!(
            report,
            "| {label} | {} | {} | {} |",
            ms(percentile(times, 50)),
            ms(percentile(times, 90)),
            ms(times.last().copied().unwrap_or_default())
        )?;
    }
    writeln!(report)?;
    upstream.set(Behaviour::reply("ok"));
    Ok(closed.last().copied().unwrap_or_default())
}

fn app_core_poll_ms() -> u128 {
    app_core::chat::STOP_POLL.as_millis()
}

/// The `conversationId` of the `start` event in a raw streamed answer.
fn conversation_id(raw: &str) -> Option<String> {
    let at = raw.find("\"conversationId\":\"")? + "\"conversationId\":\"".len();
    raw[at..].split('"').next().map(str::to_string)
}
