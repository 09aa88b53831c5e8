//! The FC custom-runtime adapter, in-process and over real sockets: event invocations,
//! lifecycle hooks, idle keep-alive connections and graceful shutdown.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode, Uri},
    routing::{any, get},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use fc_runtime::{Runtime, event::HttpTriggerResponse};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Echoes what the routed request looked like.
fn echo_app() -> Router {
    Router::new()
        .route(
            "/api/echo/{*rest}",
            any(|method: Method, uri: Uri, headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                Json(json!({
                    "method": method.as_str(),
                    "path": uri.path(),
                    "query": uri.query(),
                    "body": String::from_utf8_lossy(&body),
                    "custom": header("x-custom"),
                    "forwardedFor": header("x-forwarded-for"),
                    "fcRequestId": header("x-fc-request-id"),
                }))
            }),
        )
        .route("/api/binary", get(|| async { ([("content-type", "image/png")], vec![0u8, 159, 146, 150, 255]) }))
        .route(
            "/api/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "finished"
            }),
        )
}

fn trigger_event(method: &str, raw_path: &str, body: Option<&str>, base64: bool) -> Value {
    json!({
        "version": "v1",
        "rawPath": raw_path,
        "headers": {"X-Custom": "custom value", "Content-Type": "application/json"},
        "queryParameters": {"lang": "zh-CN", "q": "a b&c"},
        "body": body,
        "isBase64Encoded": base64,
        "requestContext": {
            "accountId": "123456", "domainName": "x.cn-hangzhou.fcapp.run", "domainPrefix": "x",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "ua"},
            "requestId": "1-64f6cd87-inner", "time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895"
        }
    })
}

async fn invoke(router: &Router, body: impl Into<Body>, request_id: Option<&str>) -> (StatusCode, HeaderMap, Bytes) {
    let mut request =
        Request::post("/invoke").header("content-type", "application/octet-stream").body(body.into()).unwrap();
    if let Some(id) = request_id {
        request.headers_mut().insert("x-fc-request-id", id.parse().unwrap());
    }
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn an_http_trigger_event_is_routed_and_answered_in_fcs_shape() {
    let router = Runtime::new(echo_app()).into_router();
    let event = trigger_event("POST", "/api/echo/a%20b", Some("{\"hello\":\"世界\"}"), false);
    let (status, _, body) = invoke(&router, event.to_string(), Some("outer-id")).await;
    assert_eq!(status, StatusCode::OK);
    let answer: HttpTriggerResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.status_code, 200);
    assert!(!answer.is_base64_encoded);
    assert_eq!(answer.headers["content-type"], "application/json");
    let seen: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/api/echo/a%20b");
    let query: Vec<(String, String)> = serde_urlencoded::from_str(seen["query"].as_str().unwrap()).unwrap();
    assert_eq!(query, [("lang".into(), "zh-CN".into()), ("q".into(), "a b&c".into())]);
    assert_eq!(seen["body"], "{\"hello\":\"世界\"}");
    assert_eq!(seen["custom"], "custom value");
    // The client address comes from requestContext.http.sourceIp when no header carries it…
    assert_eq!(seen["forwardedFor"], "203.0.113.9");
    // …and the invocation's request id follows the request, so its logs group under it.
    assert_eq!(seen["fcRequestId"], "outer-id");

    // A Base64 body is decoded.
    let encoded = BASE64.encode("binary \u{0}\u{1} body");
    let (_, _, body) =
        invoke(&router, trigger_event("PUT", "/api/echo/x", Some(&encoded), true).to_string(), None).await;
    let answer: HttpTriggerResponse = serde_json::from_slice(&body).unwrap();
    let seen: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["body"], "binary \u{0}\u{1} body");
    assert_eq!(seen["fcRequestId"], "1-64f6cd87-inner", "without an outer id, the event's own");

    // Binary responses come back Base64-encoded; routing misses keep their status.
    let (_, _, body) = invoke(&router, trigger_event("GET", "/api/binary", None, false).to_string(), None).await;
    let answer: HttpTriggerResponse = serde_json::from_slice(&body).unwrap();
    assert!(answer.is_base64_encoded);
    assert_eq!(BASE64.decode(answer.body).unwrap(), [0u8, 159, 146, 150, 255]);
    let (_, _, body) = invoke(&router, trigger_event("GET", "/nowhere", None, false).to_string(), None).await;
    assert_eq!(serde_json::from_slice::<HttpTriggerResponse>(&body).unwrap().status_code, 404);
}

#[tokio::test]
async fn malformed_events_get_a_clear_error_and_never_a_crash() {
    let router = Runtime::new(echo_app()).into_router();
    let mut bad_method = trigger_event("GET", "/api/echo/x", None, false);
    bad_method["requestContext"]["http"]["method"] = json!("GE T");
    let mut bad_header = trigger_event("GET", "/api/echo/x", None, false);
    bad_header["headers"]["x-evil"] = json!("line\r\nbreak");
    let mut non_string_header = trigger_event("GET", "/api/echo/x", None, false);
    non_string_header["headers"]["x-number"] = json!(42);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"hello".to_vec()),
        ("a timer event", br#"{"triggerTime":"2023-01-01T00:00:00Z","triggerName":"t","payload":""}"#.to_vec()),
        ("invalid method", bad_method.to_string().into_bytes()),
        ("relative path", trigger_event("GET", "api/echo", None, false).to_string().into_bytes()),
        ("bad base64", trigger_event("POST", "/api/echo/x", Some("%%%"), true).to_string().into_bytes()),
        ("header with a line break", bad_header.to_string().into_bytes()),
        ("non-string header", non_string_header.to_string().into_bytes()),
        ("invalid UTF-8", vec![0xff, 0xfe, 0x00]),
    ];
    for (name, body) in cases {
        let (status, headers, body) = invoke(&router, body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(headers.get("x-fc-status").unwrap(), "404", "{name}: FC's failed-invocation marker");
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"]["code"], "invalid_event", "{name}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}");
    }
}

/// Arbitrary bytes as an event: never a panic, never a 5xx. (A property test over a
/// deterministic generator: byte soup, and mutations of a valid event.)
#[tokio::test]
async fn arbitrary_event_bytes_never_crash_or_5xx() {
    let router = Runtime::new(echo_app()).into_router();
    let valid = trigger_event("POST", "/api/echo/x", Some("body"), false).to_string().into_bytes();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = (next() % 300) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut mutated = valid.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % mutated.len();
                mutated[at] = next() as u8;
            }
            mutated
        };
        let (status, _, _) = invoke(&router, bytes.clone(), None).await;
        assert!(!status.is_server_error(), "{status} for {:?}", String::from_utf8_lossy(&bytes));
    }
}

#[tokio::test]
async fn lifecycle_hooks_answer_2xx_and_run_the_initializer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Runtime::new(echo_app())
        .on_initialize(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .into_router();
    let initialize = router.clone().oneshot(Request::post("/initialize").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(initialize.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let pre_stop = router.clone().oneshot(Request::get("/pre-stop").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(pre_stop.status(), StatusCode::OK);

    let failing = Runtime::new(echo_app()).on_initialize(|| async { Err("no database".to_string()) }).into_router();
    let response = failing.oneshot(Request::post("/initialize").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

async fn serve(
    router_app: Router,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Runtime::new(router_app).serve(listener, async {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

/// One HTTP/1.1 connection, used for several requests.
async fn connection(address: std::net::SocketAddr) -> hyper::client::conn::http1::SendRequest<Body> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    sender
}

async fn fetch(sender: &mut hyper::client::conn::http1::SendRequest<Body>, path: &str) -> (StatusCode, String) {
    sender.ready().await.expect("the connection is still open");
    let response = sender
        .send_request(Request::get(path).header("host", "localhost").body(Body::empty()).unwrap())
        .await
        .expect("the request went through");
    let status = response.status();
    (status, String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

/// FC keeps connections to an instance open between requests and needs the server not to close
/// them for at least 15 minutes. hyper's usual header-read timeout is 30 s: a connection idle for
/// longer than that must still work.
#[tokio::test]
async fn idle_keep_alive_connections_stay_open() {
    let (address, stop, server) = serve(echo_app()).await;
    let mut sender = connection(address).await;
    assert_eq!(fetch(&mut sender, "/api/echo/first").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert!(!sender.is_closed(), "the server closed an idle keep-alive connection");
    assert_eq!(fetch(&mut sender, "/api/echo/second").await.0, StatusCode::OK);
    let _ = stop.send(());
    drop(sender);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_stops_listening() {
    let (address, stop, server) = serve(echo_app()).await;
    let mut sender = connection(address).await;
    let slow = tokio::spawn(async move { fetch(&mut sender, "/api/slow").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(());
    let (status, body) = slow.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "finished"), "the in-flight request completed");
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("serve returned").unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "no longer accepting connections");
}
