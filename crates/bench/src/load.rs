//! Load: keep-alive clients sending requests, timed requests, and the HTTP plumbing they share.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};

use crate::{HttpClient, percentile};

pub(crate) enum Load {
    Requests(u64),
    For(Duration),
}

pub(crate) struct LoadResult {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) elapsed: Duration,
}

impl LoadResult {
    pub(crate) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn p(&self, p: usize) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// `connections` concurrent keep-alive clients sending `GET url` until the load is done; any
/// non-200 answer is an error.
pub(crate) async fn load(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    connections: usize,
    load: Load,
) -> anyhow::Result<LoadResult> {
    let remaining = Arc::new(AtomicU64::new(match load {
        Load::Requests(n) => n,
        Load::For(_) => u64::MAX,
    }));
    let deadline = match load {
        Load::For(duration) => Some(Instant::now() + duration),
        Load::Requests(_) => None,
    };
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, token, remaining) =
                (client.clone(), url.to_string(), token.map(str::to_string), remaining.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while deadline.is_none_or(|deadline| Instant::now() < deadline)
                    && remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
                {
                    let sent = Instant::now();
                    let (status, _) = send(&client, Method::GET, &url, token.as_deref(), None).await?;
                    if status != StatusCode::OK {
                        bail!("{url} answered {status} under load");
                    }
                    latencies.push(sent.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Ok(LoadResult { latencies, elapsed })
}

/// `count` sequential POSTs of `body`, timed to the complete answer, or to the first body byte
/// when `first_byte`.
pub(crate) async fn timed(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
    first_byte: bool,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let request = request(Method::POST, url, token, Some(body.to_string()))?;
        let start = Instant::now();
        let response = client.request(request).await?;
        if response.status() != StatusCode::OK {
            bail!("{url} answered {}", response.status());
        }
        let mut body = response.into_body();
        if first_byte {
            while let Some(frame) = body.frame().await {
                if frame?.data_ref().is_some_and(|data| !data.is_empty()) {
                    break;
                }
            }
            times.push(start.elapsed());
            // Drain the rest so the connection is reusable and the reply is saved.
            while body.frame().await.is_some() {}
        } else {
            body.collect().await?;
            times.push(start.elapsed());
        }
    }
    times.sort();
    Ok(times)
}

pub(crate) fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    Ok(builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?)
}

pub(crate) async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let response = client.request(request(method, url, token, body)?).await?;
    let status = response.status();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}
