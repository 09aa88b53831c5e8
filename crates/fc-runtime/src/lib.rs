//! Serves an axum [`Router`] as an Alibaba Cloud Function Compute 3.0 custom runtime.
//!
//! What FC expects of a custom-runtime HTTP server, and where it is handled here:
//! - listen on `0.0.0.0` at `FC_CUSTOM_LISTEN_PORT` (else `FC_SERVER_PORT`, else 9000), and keep
//!   idle keep-alive connections open (no server idle timeout): [`Runtime::run`];
//! - HTTP-trigger and custom-domain requests arrive unchanged: they go straight to the router;
//! - event invocations arrive as `POST /invoke` with the raw event as body: an HTTP-trigger event
//!   is decoded, routed, and answered in FC's response shape ([`event`]);
//! - lifecycle hooks `POST /initialize` and `GET /pre-stop` answer 2xx;
//! - `FC Invoke Start/End RequestId: …` lines on stdout group the logs per request (the end line
//!   once the response body has been sent, so a streamed reply's logs stay inside the group);
//! - SIGTERM stops accepting connections and lets in-flight requests finish (for at most
//!   [`DEFAULT_SHUTDOWN_GRACE`], so a stalled connection cannot keep the instance alive).
//!
//! When `AWS_LAMBDA_RUNTIME_API` is set the same router is served through `lambda_http`
//! instead, so one binary runs on both platforms.

pub mod event;

use std::{
    future::{Future, IntoFuture},
    io::{self, Write},
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes, HttpBody},
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::net::TcpListener;

/// Event bodies larger than this are refused (413) unless [`Runtime::max_event_bytes`] says
/// otherwise. FC's own synchronous limit is 32 MB, but an event is read whole into memory
/// before it is routed, and `/invoke` is reachable from the internet: the cap is what bounds an
/// instance's memory under many large or unfinished events at once. Set it to what the routed
/// API accepts (its body limit in Base64, plus headers and the event's JSON).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

pub const DEFAULT_PORT: u16 = 9000;

/// How long, after the shutdown signal, in-flight requests may take before [`Runtime::serve`]
/// returns anyway (a client that stalls half-way through its request would otherwise keep the
/// process alive until FC kills it).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

type InitializeHook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

pub struct Runtime {
    app: Router,
    on_initialize: Option<InitializeHook>,
    shutdown_grace: Duration,
    max_event_bytes: usize,
}

impl Runtime {
    pub fn new(app: Router) -> Self {
        Self { app, on_initialize: None, shutdown_grace: DEFAULT_SHUTDOWN_GRACE, max_event_bytes: MAX_EVENT_BYTES }
    }

    /// The largest `/invoke` event read (default [`MAX_EVENT_BYTES`]); larger ones get 413.
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// How long in-flight requests may run on after the shutdown signal (default
    /// [`DEFAULT_SHUTDOWN_GRACE`]).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Work to do on FC's `POST /initialize` lifecycle hook (e.g. warm the database pool). An
    /// error answers 500, which FC reports as a failed initialization.
    pub fn on_initialize<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.on_initialize = Some(Arc::new(move || Box::pin(hook())));
        self
    }

    /// The app plus FC's endpoints (`/invoke`, `/initialize`, `/pre-stop`) and log lines.
    pub fn into_router(self) -> Router {
        let fc_routes = Router::new()
            .route("/invoke", post(event::invoke).layer(DefaultBodyLimit::disable()))
            .with_state(event::Invoke { app: self.app.clone(), max_event_bytes: self.max_event_bytes })
            .route("/initialize", post(initialize).with_state(self.on_initialize))
            .route("/pre-stop", get(pre_stop));
        fc_routes.fallback_service(self.app).layer(middleware::from_fn(fc_log_lines))
    }

    /// Serves on FC (or AWS Lambda) until SIGTERM / Ctrl-C.
    pub async fn run(self) -> io::Result<()> {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            tracing::info!("AWS_LAMBDA_RUNTIME_API is set: serving through lambda_http");
            return lambda_http::run(self.app).await.map_err(io::Error::other);
        }
        let port = port_from(|name| std::env::var(name).ok());
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?;
        tracing::info!(port, "listening on 0.0.0.0");
        self.serve(listener, shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting connections and
    /// waits for in-flight requests (at most the shutdown grace). axum's server sets no idle
    /// timeout, so FC's keep-alive connections stay open.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let grace = self.shutdown_grace;
        let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled.send(());
        };
        let service = self.into_router().into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(without_nagle(listener), service).with_graceful_shutdown(shutdown).into_future();
        let deadline = async move {
            match on_signal.await {
                Ok(()) => tokio::time::sleep(grace).await,
                // The server finished without a shutdown signal: nothing to time out.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            result = server => result,
            () = deadline => {
                tracing::warn!(?grace, "in-flight requests still running after the shutdown grace; stopping anyway");
                Ok(())
            }
        }
    }
}

/// Sets `TCP_NODELAY` on every accepted connection (axum leaves Nagle's algorithm on). With it
/// on, a small write waits for the peer to acknowledge the previous one: each streamed chat
/// piece after the first could sit for up to the peer's delayed-ACK time (40 ms on Linux).
pub fn without_nagle(listener: TcpListener) -> axum::serve::TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    })
}

/// `FC_CUSTOM_LISTEN_PORT`, else `FC_SERVER_PORT` (the `s local` emulator), else 9000.
pub fn port_from(lookup: impl Fn(&str) -> Option<String>) -> u16 {
    ["FC_CUSTOM_LISTEN_PORT", "FC_SERVER_PORT"]
        .into_iter()
        .find_map(|name| {
            let raw = lookup(name)?;
            match raw.trim().parse::<u16>() {
                Ok(port) => Some(port),
                Err(_) => {
                    tracing::warn!(name, value = %raw, "ignoring a port that is not a number");
                    None
                }
            }
        })
        .unwrap_or(DEFAULT_PORT)
}

/// Completes on SIGTERM (how FC stops an instance) or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

fn fc_request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-fc-request-id").and_then(|value| value.to_str().ok()).map(str::to_string)
}

/// Prints FC's per-request marker lines (stdout, as FC's log grouping expects). The end line is
/// printed when the response body is finished (or dropped: the client went away, or the request
/// was cancelled), so the logs of a streamed body stay between the markers and every start line
/// gets its end line.
async fn fc_log_lines(request: Request, next: Next) -> Response {
    let Some(id) = fc_request_id(request.headers()) else {
        return next.run(request).await;
    };
    let kind = match request.uri().path() {
        "/initialize" => "Initialize",
        "/pre-stop" => "PreStop",
        _ => "Invoke",
    };
    print_line(format_args!("FC {kind} Start RequestId: {id}"));
    let end = EndMarker { kind, id };
    let response = next.run(request).await;
    response.map(|body| Body::new(WithEndMarker { body, _end: end }))
}

/// Writes one line to stdout. Unlike `println!`, never panics (a closed stdout must not take
/// requests down with it).
fn print_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Prints `FC <kind> End RequestId: <id>` when dropped.
struct EndMarker {
    kind: &'static str,
    id: String,
}

impl Drop for EndMarker {
    fn drop(&mut self) {
        print_line(format_args!("FC {} End RequestId: {}", self.kind, self.id));
    }
}

/// A response body that keeps the [`EndMarker`] alive until the body is done with.
struct WithEndMarker {
    body: Body,
    _end: EndMarker,
}

impl HttpBody for WithEndMarker {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

async fn initialize(State(hook): State<Option<InitializeHook>>) -> Response {
    match hook {
        None => StatusCode::OK.into_response(),
        Some(hook) => match hook().await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(err) => {
                tracing::error!(error = %err, "initialize hook failed");
                (StatusCode::INTERNAL_SERVER_ERROR, format!("initialize failed: {err}")).into_response()
            }
        },
    }
}

async fn pre_stop() -> StatusCode {
    tracing::info!("pre-stop hook called");
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(port_from(env(&[])), 9000);
        assert_eq!(port_from(env(&[("FC_SERVER_PORT", "9100")])), 9100);
        assert_eq!(port_from(env(&[("FC_SERVER_PORT", "9100"), ("FC_CUSTOM_LISTEN_PORT", "9200")])), 9200);
        assert_eq!(port_from(env(&[("FC_CUSTOM_LISTEN_PORT", "nope"), ("FC_SERVER_PORT", "9100")])), 9100);
    }
}
