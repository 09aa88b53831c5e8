//! What moderation costs a turn: provider calls per turn, and the time to the first streamed
//! byte and to the whole streamed reply, with moderation off and with the Alibaba provider
//! answering every check in 50 ms (the test server, which also checks every signature).

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::bail;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use serde_json::json;
use test_support::{Behaviour, Upstream, moderation::ModerationServer};
use tokio::time::Instant;

use crate::{
    HttpClient,
    fixture::{Fixture, Server},
    format::{ms, percentile},
    load::{request, timed},
};

/// Turns measured per configuration.
const TURNS: usize = 40;
/// The provider's answer time.
const PROVIDER_LATENCY: Duration = Duration::from_millis(50);

/// Writes the section; returns the first-byte overhead (p50) moderation adds.
pub(crate) async fn moderation_cost(
    bin: &Path,
    fixture: &Fixture,
    client: &HttpClient,
    report: &mut String,
) -> anyhow::Result<Duration> {
    // A reply of eight sentences, streamed at once (the model's own pace is not measured here).
    let sentence = "Warm water in the morning settles the stomach and the spirit. ";
    let reply: Vec<&str> = std::iter::repeat_n(sentence, 8).collect();
    let chars: usize = reply.iter().map(|piece| piece.chars().count()).sum();
    let upstream = Upstream::start(Behaviour::pieces(&reply, Duration::ZERO)).await;
    let moderation = ModerationServer::start(&[]).await;
    moderation.set_latency(PROVIDER_LATENCY);
    let base = [("CHAT_TITLE_MODEL", "off".to_string()), ("OPENAI_BASE_URL", upstream.base_url.clone())];
    let mut with: Vec<(&str, String)> = base.to_vec();
    with.extend(moderation.aliyun_env());
    with.push(("MODERATION_TIMEOUT", "3s".into()));
    let body = json!({"type": "tcm", "locale": "en", "stream": true, "messages": [{"role": "user", "content": "How do I sleep better?"}]});

    writeln!(
        report,
        "## Moderation: calls and latency\n\n{TURNS} sequential streamed turns, each in a new conversation; the model streams a reply of\n\
         {} sentences ({chars} characters) at once. With moderation, the user's message is checked before the model\n\
         is called and the reply sentence by sentence before each is sent, each check answered by the test server\n\
         after {} ms. Titles are off.\n",
        reply.len(),
        PROVIDER_LATENCY.as_millis()
    )?;
    writeln!(report, "| measure | moderation off | `aliyun` at 50 ms | added |\n|---|---|---|---|")?;
    let mut rows = Vec::new();
    for env in [&base[..], &with[..]] {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let server = Server::start_with(bin, "chat", fixture, &pairs).await?;
        server.ready(client, "/api/chat/conversations", Some(&fixture.user_token)).await?;
        let url = server.url("/api/chat");
        let first = first_words(client, &url, &fixture.user_token, &body).await?;
        let whole = timed(client, &url, Some(&fixture.user_token), &body, false, TURNS).await?;
        rows.push((percentile(&first, 50), percentile(&whole, 50)));
    }
    let (off, on) = (rows[0], rows[1]);
    for (label, off, on) in [("first words (`delta`), p50", off.0, on.0), ("whole streamed reply, p50", off.1, on.1)] {
        writeln!(report, "| {label} | {} | {} | {} |", ms(off), ms(on), ms(on.saturating_sub(off)))?;
    }
    let calls = moderation.calls();
    let turns = (2 * TURNS) as f64;
    let input = calls.iter().filter(|call| call.service.as_deref() == Some("llm_query_moderation")).count() as f64;
    let output = calls.iter().filter(|call| call.service.as_deref() == Some("llm_response_moderation")).count() as f64;
    writeln!(
        report,
        "\nProvider calls per turn: {:.1} for the message, {:.1} for the reply ({:.0} characters per output call).\n\
         Requests the test server refused for their signature: {}.\n\
         The checks of one reply run one after another, so each sentence waits for its own check: the reply's\n\
         last byte comes about one provider answer per sentence later.\n",
        input / turns,
        output / turns,
        chars as f64 / (output / turns),
        moderation.refused().len()
    )?;
    Ok(on.0.saturating_sub(off.0))
}

/// [`TURNS`] sequential streamed turns, each timed to its first `delta` event: the first words
/// the person reads (the `start` event comes before the reply is checked).
async fn first_words(
    client: &HttpClient,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(TURNS);
    for _ in 0..TURNS {
        let start = Instant::now();
        let response = client.request(request(Method::POST, url, Some(token), Some(body.to_string()))?).await?;
        if response.status() != StatusCode::OK {
            bail!("{url} answered {}", response.status());
        }
        let mut body = response.into_body();
        let mut seen = Vec::new();
        let mut at = None;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                seen.extend_from_slice(data);
                let delta = |pattern: &[u8]| seen.windows(pattern.len()).any(|window| window == pattern);
                if at.is_none() && (delta(b"event: delta") || delta(b"event:delta")) {
                    at = Some(start.elapsed());
                }
            }
        }
        times.push(at.ok_or_else(|| anyhow::anyhow!("a reply without a delta"))?);
    }
    times.sort();
    Ok(times)
}
