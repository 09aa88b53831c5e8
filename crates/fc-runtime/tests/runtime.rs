//! The FC custom-runtime adapter on a generic router (no database), three ways:
//!
//! - in-process (`Runtime::into_router` + `oneshot`): `/invoke` events, malformed and arbitrary
//!   events, lifecycle hooks;
//! - over real sockets (`Runtime::serve` on `127.0.0.1:0`, a hyper client connection): idle
//!   keep-alive connections, graceful shutdown and its bound;
//! - as a real process (`Runtime::run`, the way a function binary runs it): this test binary
//!   re-runs itself with [`CHILD_ENV`] set, and the child serves [`test_app`] from the
//!   environment's port until SIGTERM, with FC's log markers on its stdout.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream as StdTcpStream},
    pin::Pin,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::{Body, Bytes, HttpBody},
    http::{HeaderMap, Method, Request, StatusCode, Uri},
    response::{AppendHeaders, IntoResponse},
    routing::{any, get},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use fc_runtime::{MAX_EVENT_BYTES, Runtime, event::HttpTriggerResponse};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// The router under test
// ---------------------------------------------------------------------------------------------

/// Answers with everything it saw of the request.
async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let mut seen_headers = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|value| Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        seen_headers.insert(name.as_str().to_string(), Value::Array(values));
    }
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": seen_headers,
        "body": String::from_utf8_lossy(&body),
        "bodyBase64": BASE64.encode(&body),
    }))
}

/// A streamed body: three chunks 100 ms apart, each announced on stdout as it is produced.
fn streamed_body(id: String) -> Body {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        for chunk in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("stream chunk {chunk} for {id}");
            if sender.send(Bytes::from(format!("chunk {chunk}\n"))).await.is_err() {
                return;
            }
        }
    });
    Body::new(ChannelBody(receiver))
}

/// A body fed by a channel (no `futures`/`tokio-stream` dev-dependency needed).
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|chunk| Ok(hyper::body::Frame::data(chunk))))
    }
}

fn test_app() -> Router {
    Router::new()
        .route("/api/binary", get(|| async { ([("content-type", "image/png")], vec![0u8, 159, 146, 150, 255, 0]) }))
        .route("/api/text", get(|| async { ([("content-type", "text/plain; charset=utf-8")], "héllo, 世界") }))
        .route(
            "/api/gzipped-json",
            get(|| async {
                ([("content-type", "application/json"), ("content-encoding", "gzip")], vec![0x1f, 0x8b, 8])
            }),
        )
        .route("/api/created", get(|| async { (StatusCode::CREATED, Json(json!({"created": true}))) }))
        .route("/api/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/api/cookies",
            get(|| async {
                (AppendHeaders([("set-cookie", "a=1"), ("set-cookie", "b=2"), ("content-type", "text/plain")]), "two")
            }),
        )
        .route(
            "/api/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1000)).await;
                "finished"
            }),
        )
        .route(
            "/api/stream",
            get(|headers: HeaderMap| async move {
                let id = headers.get("x-fc-request-id").and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
                ([("content-type", "text/plain")], streamed_body(id)).into_response()
            }),
        )
        .route("/api/echo/{*rest}", any(echo))
        .fallback(echo)
}

// ---------------------------------------------------------------------------------------------
// In-process helpers
// ---------------------------------------------------------------------------------------------

/// The full HTTP-trigger event of FC's documentation (every field), for `method` and `raw_path`.
fn full_event(method: &str, raw_path: &str, decoded_path: &str) -> Value {
    json!({
        "version": "v1",
        "rawPath": raw_path,
        "body": "Hello FC!",
        "isBase64Encoded": false,
        "headers": {"Header1": "value1", "header2": "value1,value2", "Content-Type": "text/plain"},
        "queryParameters": {"parameter1": "value1", "parameter2": "value1,value2", "q": "a b&c=d/é"},
        "requestContext": {
            "accountId": "123456",
            "domainName": "abc.cn-hangzhou.fcapp.run",
            "domainPrefix": "abc",
            "http": {
                "method": method, "path": decoded_path, "protocol": "HTTP/1.1",
                "sourceIp": "11.11.11.11", "userAgent": "curl/8.0"
            },
            "requestId": "1-64f6cd87-inner",
            "time": "2023-09-05T06:41:11Z",
            "timeEpoch": "1693896071895"
        }
    })
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The routed response inside a successful invocation's answer.
    fn routed(&self) -> HttpTriggerResponse {
        assert_eq!(self.status, StatusCode::OK, "invocation failed: {}", String::from_utf8_lossy(&self.body));
        let value = self.json();
        let keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["body", "headers", "isBase64Encoded", "statusCode"], "FC's response shape, nothing else");
        serde_json::from_value(value).expect("FC's response shape")
    }

    /// Asserts a failed invocation: `status`, FC's failure marker and our error JSON; returns the code.
    fn assert_failed(&self, status: StatusCode, what: &str) -> String {
        assert_eq!(self.status, status, "{what}: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(
            self.headers.get("x-fc-status").map(|v| v.as_bytes()),
            Some(&b"404"[..]),
            "{what}: FC's failed-invocation marker"
        );
        assert_eq!(self.headers.get("content-type").unwrap(), "application/json", "{what}");
        let error = self.json();
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: no message in {error}");
        error["error"]["code"].as_str().unwrap_or_else(|| panic!("{what}: no code in {error}")).to_string()
    }
}

/// `POST /invoke` in-process, with the invocation's own `headers`.
async fn invoke_with(router: &Router, event: impl Into<Body>, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::post("/invoke").header("content-type", "application/octet-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(event.into()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

async fn invoke(router: &Router, event: &Value) -> Answer {
    invoke_with(router, event.to_string(), &[]).await
}

/// What the echo handler saw, from a routed answer.
fn echoed(answer: &HttpTriggerResponse) -> Value {
    assert!(!answer.is_base64_encoded, "the echo's JSON comes back as text");
    serde_json::from_str(&answer.body).unwrap_or_else(|err| panic!("echo body not JSON ({err}): {}", answer.body))
}

fn header_values(seen: &Value, name: &str) -> Vec<String> {
    seen["headers"][name]
        .as_array()
        .map(|values| values.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// In-process: events
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_full_http_trigger_event_reaches_the_inner_router_unchanged() {
    let router = Runtime::new(test_app()).into_router();
    let answer = invoke(&router, &full_event("POST", "/api/echo/a%20b/%E4%B8%96", "/api/echo/a b/世")).await;
    let routed = answer.routed();
    assert_eq!(routed.status_code, 200);
    assert_eq!(routed.headers["content-type"], "application/json", "the inner response's headers");
    let seen = echoed(&routed);

    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/api/echo/a%20b/%E4%B8%96", "rawPath is used as is (still URL-encoded)");
    let query: Vec<(String, String)> = serde_urlencoded::from_str(seen["query"].as_str().unwrap()).unwrap();
    assert_eq!(
        query,
        [
            ("parameter1".to_string(), "value1".to_string()),
            ("parameter2".to_string(), "value1,value2".to_string()),
            ("q".to_string(), "a b&c=d/é".to_string()),
        ],
        "every query parameter, with reserved characters surviving the round trip"
    );
    assert_eq!(header_values(&seen, "header1"), ["value1"], "header names are case-insensitive");
    assert_eq!(header_values(&seen, "header2"), ["value1,value2"]);
    assert_eq!(header_values(&seen, "content-type"), ["text/plain"]);
    assert_eq!(seen["body"], "Hello FC!");
    assert_eq!(header_values(&seen, "x-forwarded-for"), ["11.11.11.11"], "the client address from sourceIp");
    assert_eq!(header_values(&seen, "x-fc-request-id"), ["1-64f6cd87-inner"], "no outer id: the event's own");
}

#[tokio::test]
async fn every_method_and_the_decoded_path_fallback() {
    let router = Runtime::new(test_app()).into_router();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"] {
        let routed = invoke(&router, &full_event(method, "/api/echo/m", "/api/echo/m")).await.routed();
        let seen = echoed(&routed);
        assert_eq!(seen["method"].as_str().unwrap().to_ascii_uppercase(), method.to_ascii_uppercase(), "{method}");
        assert_eq!(seen["path"], "/api/echo/m");
    }
    // HEAD has no body in the answer.
    let routed = invoke(&router, &full_event("HEAD", "/api/echo/h", "/api/echo/h")).await.routed();
    assert_eq!(routed.status_code, 200);

    // Without rawPath, requestContext.http.path (decoded) is encoded again.
    let mut event = full_event("GET", "", "/api/echo/a b?#%/世");
    event.as_object_mut().unwrap().remove("rawPath");
    let seen = echoed(&invoke(&router, &event).await.routed());
    assert_eq!(seen["path"], "/api/echo/a%20b%3F%23%25/%E4%B8%96");
    assert_eq!(seen["query"].as_str().unwrap().split('&').count(), 3, "the query still comes from queryParameters");
}

#[tokio::test]
async fn base64_bodies_are_decoded_byte_for_byte() {
    let router = Runtime::new(test_app()).into_router();
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    let mut event = full_event("PUT", "/api/echo/upload", "/api/echo/upload");
    event["body"] = json!(BASE64.encode(&bytes));
    event["isBase64Encoded"] = json!(true);
    event["headers"]["Content-Type"] = json!("application/octet-stream");
    let seen = echoed(&invoke(&router, &event).await.routed());
    assert_eq!(seen["method"], "PUT");
    assert_eq!(BASE64.decode(seen["bodyBase64"].as_str().unwrap()).unwrap(), bytes);

    // Surrounding whitespace (a wrapped Base64 line) is tolerated.
    event["body"] = json!(format!("  {}\n", BASE64.encode(b"padded")));
    let seen = echoed(&invoke(&router, &event).await.routed());
    assert_eq!(seen["body"], "padded");

    // A plain body that only looks like Base64 is left alone.
    event["body"] = json!("aGVsbG8=");
    event["isBase64Encoded"] = json!(false);
    assert_eq!(seen_body(&router, &event).await, "aGVsbG8=");

    // No body at all, and a JSON null body, are empty.
    event.as_object_mut().unwrap().remove("body");
    assert_eq!(seen_body(&router, &event).await, "");
    event["body"] = Value::Null;
    assert_eq!(seen_body(&router, &event).await, "");
}

async fn seen_body(router: &Router, event: &Value) -> String {
    echoed(&invoke(router, event).await.routed())["body"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_client_address_comes_from_the_event_unless_fcs_gateway_set_one() {
    let router = Runtime::new(test_app()).into_router();
    let event = full_event("GET", "/api/echo/ip", "/api/echo/ip");

    // sourceIp when the event has no x-forwarded-for header…
    let seen_ip = |answer: Answer| header_values(&echoed(&answer.routed()), "x-forwarded-for");
    assert_eq!(seen_ip(invoke(&router, &event).await), ["11.11.11.11"]);

    // …the event's header when it has one…
    let mut with_header = event.clone();
    with_header["headers"]["X-Forwarded-For"] = json!("198.51.100.1, 10.0.0.1");
    assert_eq!(seen_ip(invoke(&router, &with_header).await), ["198.51.100.1, 10.0.0.1"]);

    // …nothing when neither is there…
    let mut anonymous = event.clone();
    anonymous["requestContext"]["http"].as_object_mut().unwrap().remove("sourceIp");
    assert!(seen_ip(invoke(&router, &anonymous).await).is_empty());

    // …and FC's own header on the invocation beats both: `/invoke` is reachable through a
    // public HTTP trigger, and a caller must not choose the address per-IP limits count.
    let answer = invoke_with(&router, with_header.to_string(), &[("x-forwarded-for", "203.0.113.50")]).await;
    assert_eq!(seen_ip(answer), ["203.0.113.50"]);
}

#[tokio::test]
async fn the_invocations_request_id_wins_so_logs_group_under_it() {
    let router = Runtime::new(test_app()).into_router();
    let mut event = full_event("GET", "/api/echo/id", "/api/echo/id");
    let seen_id = |answer: Answer| header_values(&echoed(&answer.routed()), "x-fc-request-id");

    assert_eq!(seen_id(invoke(&router, &event).await), ["1-64f6cd87-inner"], "requestContext.requestId");
    assert_eq!(seen_id(invoke_with(&router, event.to_string(), &[("x-fc-request-id", "outer")]).await), ["outer"]);

    // An event recorded from a real request carries a stale id header: the invocation's wins.
    event["headers"]["x-fc-request-id"] = json!("stale");
    assert_eq!(seen_id(invoke(&router, &event).await), ["stale"], "without an outer id the event's header");
    assert_eq!(seen_id(invoke_with(&router, event.to_string(), &[("x-fc-request-id", "outer")]).await), ["outer"]);
}

#[tokio::test]
async fn lenient_about_what_real_events_may_contain() {
    let router = Runtime::new(test_app()).into_router();

    // Non-ASCII header values (a user agent, a file name): hyper accepts them over HTTP, so the
    // event path does too.
    let mut event = full_event("GET", "/api/echo/utf8", "/api/echo/utf8");
    event["headers"]["User-Agent"] = json!("Mozilla/5.0 (中文) é");
    let seen = echoed(&invoke(&router, &event).await.routed());
    assert_eq!(header_values(&seen, "user-agent"), ["Mozilla/5.0 (中文) é"]);

    // null for the optional fields, and the minimal event.
    let nulls = json!({
        "version": "v1", "rawPath": "/api/echo/nulls", "headers": null, "queryParameters": null,
        "body": null, "isBase64Encoded": null,
        "requestContext": {"http": {"method": "GET", "path": null, "sourceIp": null}, "requestId": null}
    });
    let seen = echoed(&invoke(&router, &nulls).await.routed());
    assert_eq!(seen["path"], "/api/echo/nulls");
    assert_eq!(seen["query"], Value::Null);

    let minimal = json!({"rawPath": "/api/echo/min", "requestContext": {"http": {"method": "DELETE"}}});
    let seen = echoed(&invoke(&router, &minimal).await.routed());
    assert_eq!((seen["method"].as_str(), seen["path"].as_str()), (Some("DELETE"), Some("/api/echo/min")));
}

#[tokio::test]
async fn responses_come_back_in_fcs_shape_text_as_text_and_binary_as_base64() {
    let router = Runtime::new(test_app()).into_router();
    let get = |path: &str| full_event("GET", path, path);

    let binary = invoke(&router, &get("/api/binary")).await.routed();
    assert_eq!(binary.status_code, 200);
    assert!(binary.is_base64_encoded);
    assert_eq!(BASE64.decode(&binary.body).unwrap(), [0u8, 159, 146, 150, 255, 0]);
    assert_eq!(binary.headers["content-type"], "image/png");

    let text = invoke(&router, &get("/api/text")).await.routed();
    assert!(!text.is_base64_encoded);
    assert_eq!(text.body, "héllo, 世界");

    let json_answer = invoke(&router, &get("/api/created")).await.routed();
    assert_eq!(json_answer.status_code, 201, "the inner status, not the invocation's");
    assert!(!json_answer.is_base64_encoded);
    assert_eq!(serde_json::from_str::<Value>(&json_answer.body).unwrap(), json!({"created": true}));

    let compressed = invoke(&router, &get("/api/gzipped-json")).await.routed();
    assert!(compressed.is_base64_encoded, "a content-encoded body is bytes, whatever its type");
    assert_eq!(BASE64.decode(&compressed.body).unwrap(), [0x1f, 0x8b, 8]);
    assert_eq!(compressed.headers["content-encoding"], "gzip");

    let empty = invoke(&router, &get("/api/empty")).await.routed();
    assert_eq!((empty.status_code, empty.body.as_str(), empty.is_base64_encoded), (204, "", false));

    let cookies = invoke(&router, &get("/api/cookies")).await.routed();
    assert_eq!(cookies.headers["set-cookie"], "a=1, b=2", "repeated headers are comma-joined");

    let missing = invoke(&router, &get("/nowhere/at/all")).await.routed();
    assert_eq!(missing.status_code, 200, "the echo fallback answers any path");
    let not_allowed = invoke(&router, &full_event("POST", "/api/binary", "/api/binary")).await.routed();
    assert_eq!(not_allowed.status_code, 405, "routing errors keep their status inside the answer");
}

#[tokio::test]
async fn plain_http_trigger_requests_bypass_the_event_decoding() {
    // HTTP-trigger and custom-domain requests arrive as themselves, not as events.
    let router = Runtime::new(test_app()).into_router();
    let request = Request::post("/api/echo/direct?x=1")
        .header("x-forwarded-for", "192.0.2.7")
        .body(Body::from("raw body"))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!((seen["path"].as_str(), seen["query"].as_str()), (Some("/api/echo/direct"), Some("x=1")));
    assert_eq!(seen["body"], "raw body");

    // Only POST is an invocation; GET /invoke is not handed to the app as an event.
    let response = router.oneshot(Request::get("/invoke").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn malformed_events_answer_400_invalid_event_and_mark_the_invocation_failed() {
    let router = Runtime::new(test_app()).into_router();
    let valid = full_event("POST", "/api/echo/x", "/api/echo/x");
    let with = |pointer: &str, value: Value| {
        let mut event = valid.clone();
        *event.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        event.to_string().into_bytes()
    };
    let without_paths = {
        let mut event = valid.clone();
        event.as_object_mut().unwrap().remove("rawPath");
        event["requestContext"]["http"].as_object_mut().unwrap().remove("path");
        event.to_string().into_bytes()
    };
    let mut bad_header_name = valid.clone();
    bad_header_name["headers"]["bad header"] = json!("x");
    let mut header_newline = valid.clone();
    header_newline["headers"]["x-evil"] = json!("line\r\nInjected: yes");
    let mut header_lf = valid.clone();
    header_lf["headers"]["x-evil"] = json!("line\nbreak");
    let mut header_nul = valid.clone();
    header_nul["headers"]["x-evil"] = json!("nul\u{0}byte");

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an empty body", Vec::new()),
        ("whitespace", b"  \n ".to_vec()),
        ("not JSON", b"Hello FC!".to_vec()),
        ("truncated JSON", valid.to_string().as_bytes()[..40].to_vec()),
        ("invalid UTF-8", vec![0xff, 0xfe, 0xfd]),
        ("JSON null", b"null".to_vec()),
        ("a JSON string", b"\"event\"".to_vec()),
        ("a JSON array", b"[1,2,3]".to_vec()),
        ("an empty object", b"{}".to_vec()),
        ("a timer event", br#"{"triggerTime":"2023-09-05T06:41:11Z","triggerName":"timer","payload":"x"}"#.to_vec()),
        ("an OSS event", br#"{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss"}]}"#.to_vec()),
        ("no http context", br#"{"rawPath":"/api/echo/x","requestContext":{}}"#.to_vec()),
        ("no method", br#"{"rawPath":"/api/echo/x","requestContext":{"http":{}}}"#.to_vec()),
        ("an invalid method", with("/requestContext/http/method", json!("GE T"))),
        ("an empty method", with("/requestContext/http/method", json!(""))),
        ("a numeric method", with("/requestContext/http/method", json!(7))),
        ("a rawPath without a leading slash", with("/rawPath", json!("api/echo/x"))),
        ("an absolute URL as rawPath", with("/rawPath", json!("http://evil.example/x"))),
        ("a rawPath with a space", with("/rawPath", json!("/api/echo/a b"))),
        ("a decoded path without a leading slash", {
            let mut event = valid.clone();
            event.as_object_mut().unwrap().remove("rawPath");
            event["requestContext"]["http"]["path"] = json!("relative");
            event.to_string().into_bytes()
        }),
        ("no path at all", without_paths),
        ("invalid Base64", {
            let mut event = valid.clone();
            event["isBase64Encoded"] = json!(true);
            event["body"] = json!("not base64 %%%");
            event.to_string().into_bytes()
        }),
        ("a header value with CRLF", header_newline.to_string().into_bytes()),
        ("a header value with LF", header_lf.to_string().into_bytes()),
        ("a header value with NUL", header_nul.to_string().into_bytes()),
        ("an invalid header name", bad_header_name.to_string().into_bytes()),
        ("a non-string header value", with("/headers/header2", json!(42))),
        ("headers as a list", with("/headers", json!(["a", "b"]))),
        ("a non-string query value", with("/queryParameters/parameter1", json!({"nested": true}))),
        ("a non-string body", with("/body", json!({"json": "object"}))),
        ("a string isBase64Encoded", with("/isBase64Encoded", json!("yes"))),
    ];
    for (what, event) in cases {
        let answer = invoke_with(&router, event, &[]).await;
        assert_eq!(answer.assert_failed(StatusCode::BAD_REQUEST, what), "invalid_event", "{what}");
    }
}

#[tokio::test]
async fn an_oversized_event_is_refused_in_the_same_shape() {
    let router = Runtime::new(test_app()).into_router();
    let answer = invoke_with(&router, vec![b'a'; MAX_EVENT_BYTES + 1], &[]).await;
    assert_eq!(answer.assert_failed(StatusCode::PAYLOAD_TOO_LARGE, "oversized"), "event_too_large");

    // A large event under the limit is fine (a Base64 body of 160 KiB, 213 KiB encoded).
    let mut event = full_event("POST", "/api/echo/big", "/api/echo/big");
    event["body"] = json!(BASE64.encode(vec![7u8; 160 * 1024]));
    event["isBase64Encoded"] = json!(true);
    let routed = invoke(&router, &event).await.routed();
    let seen = echoed(&routed);
    assert_eq!(BASE64.decode(seen["bodyBase64"].as_str().unwrap()).unwrap().len(), 160 * 1024);

    // The limit is the runtime's to set: the app's own body limit in Base64, plus headers.
    let small = Runtime::new(test_app()).max_event_bytes(4096).into_router();
    let answer = invoke_with(&small, vec![b' '; 4097], &[]).await;
    assert_eq!(answer.assert_failed(StatusCode::PAYLOAD_TOO_LARGE, "over a set limit"), "event_too_large");
}

/// A small deterministic generator (xorshift64*), so every run checks the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A string mixing the characters that matter to paths, headers and JSON.
    fn string(&mut self, max: usize) -> String {
        const POOL: &[&str] = &[
            "a", "Z", "0", "/", "%", "%2F", "%zz", "?", "#", " ", "&", "=", "+", ",", ";", ":", "\\", "\"", "\r", "\n",
            "\t", "\u{0}", "\u{7f}", "é", "世", "😀", "..", "//", "*", "{", "}", "[", "]",
        ];
        let len = self.below(max + 1);
        (0..len).map(|_| POOL[self.below(POOL.len())]).collect()
    }

    /// Any JSON value, a few levels deep.
    fn json(&mut self, depth: u32) -> Value {
        match self.below(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(self.next() as i64),
            3 => json!(self.string(12)),
            4 => json!(["GET", "POST", "HEAD", "PATCH", "", "CONNECT", "TRACE"][self.below(7)]),
            5 => Value::Array((0..self.below(3)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                let mut object = serde_json::Map::new();
                for _ in 0..self.below(3) {
                    object.insert(self.string(6), self.json(depth - 1));
                }
                Value::Object(object)
            }
        }
    }
}

/// Arbitrary bytes as the event: never a panic (a panic fails the test), never a 5xx, and a
/// refusal is always the `invalid_event` error with FC's failure marker. Byte soup, byte
/// mutations of a valid event, and structurally valid events with arbitrary field values.
#[tokio::test]
async fn arbitrary_events_never_panic_or_answer_5xx() {
    let router = Runtime::new(test_app()).into_router();
    let valid = full_event("POST", "/api/echo/x", "/api/echo/x").to_string().into_bytes();
    let fields = [
        "/rawPath",
        "/body",
        "/isBase64Encoded",
        "/headers",
        "/queryParameters",
        "/requestContext/http/method",
        "/requestContext/http/path",
        "/requestContext/http/sourceIp",
        "/requestContext/requestId",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut routed, mut refused) = (0, 0);
    for round in 0..4000 {
        let event: Vec<u8> = match round % 4 {
            0 => rng.bytes(300),
            1 => {
                let mut mutated = valid.clone();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(mutated.len());
                    match rng.below(3) {
                        0 => mutated[at] = rng.next() as u8,
                        1 => mutated.truncate(at.max(1)),
                        _ => mutated.insert(at, rng.next() as u8),
                    }
                }
                mutated
            }
            2 => {
                let mut event = full_event("POST", "/api/echo/x", "/api/echo/x");
                let field = fields[rng.below(fields.len())];
                *event.pointer_mut(field).unwrap() = rng.json(2);
                event.to_string().into_bytes()
            }
            _ => {
                let mut event = full_event("GET", "/api/echo/x", "/api/echo/x");
                event["rawPath"] = json!(format!("/{}", rng.string(20)));
                event["headers"] = json!({ rng.string(8): rng.string(16) });
                event["queryParameters"] = json!({ rng.string(8): rng.string(16) });
                event["body"] = json!(rng.string(30));
                event["isBase64Encoded"] = json!(rng.next().is_multiple_of(2));
                event.to_string().into_bytes()
            }
        };
        let answer = invoke_with(&router, event.clone(), &[]).await;
        let what = format!("round {round}: {:?}", String::from_utf8_lossy(&event));
        assert!(!answer.status.is_server_error(), "{what}: {}", answer.status);
        if answer.status == StatusCode::OK {
            let inner = answer.routed();
            assert!(inner.status_code < 500, "{what}: the echo never fails, got {}", inner.status_code);
            routed += 1;
        } else {
            assert_eq!(answer.assert_failed(StatusCode::BAD_REQUEST, &what), "invalid_event");
            refused += 1;
        }
    }
    assert!(routed > 200 && refused > 200, "the generator covers both outcomes: {routed} routed, {refused} refused");
}

// ---------------------------------------------------------------------------------------------
// In-process: lifecycle hooks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn initialize_runs_the_hook_and_pre_stop_answers_200() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Runtime::new(test_app())
        .on_initialize(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .into_router();
    let post_initialize =
        || Request::post("/initialize").header("x-fc-request-id", "init").body(Body::empty()).unwrap();

    let response = router.clone().oneshot(post_initialize()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the hook ran once");
    let response = router.clone().oneshot(post_initialize()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "and runs on every call");

    let response = router.clone().oneshot(Request::get("/pre-stop").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "pre-stop does not initialize");

    // Not the app's: GET /initialize is no hook, and no hook runs for it.
    let response = router.clone().oneshot(Request::get("/initialize").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Without a hook, initialize is a plain 200.
    let plain = Runtime::new(test_app()).into_router();
    assert_eq!(plain.oneshot(post_initialize()).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_failing_initialize_hook_answers_500_with_the_reason() {
    let router =
        Runtime::new(test_app()).on_initialize(|| async { Err("database unreachable".to_string()) }).into_router();
    let response = router.oneshot(Request::post("/initialize").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("database unreachable"));
}

// ---------------------------------------------------------------------------------------------
// Real sockets: Runtime::serve
// ---------------------------------------------------------------------------------------------

struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(runtime: Runtime) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(runtime.serve(listener, async {
            let _ = stopped.await;
        }));
        Self { address, stop: Some(stop), task }
    }

    fn shut_down(&mut self) {
        let _ = self.stop.take().expect("shut down once").send(());
    }

    /// Waits up to `limit` for `serve` to return; its result.
    async fn finished(self, limit: Duration) -> std::io::Result<()> {
        tokio::time::timeout(limit, self.task).await.expect("serve() returned in time").expect("serve() did not panic")
    }
}

/// One HTTP/1.1 client connection, for several requests in a row.
async fn connect(address: SocketAddr) -> SendRequest<Body> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    sender
}

async fn send(sender: &mut SendRequest<Body>, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    sender.ready().await.expect("the connection is still open");
    let response = sender.send_request(request).await.expect("the request went through");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("the whole body").to_bytes())
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).header("host", "localhost").body(Body::empty()).unwrap()
}

#[tokio::test]
async fn events_and_plain_requests_over_a_real_socket() {
    let mut server = Server::start(Runtime::new(test_app())).await;
    let mut sender = connect(server.address).await;

    let event = full_event("POST", "/api/echo/socket", "/api/echo/socket").to_string();
    let request = Request::post("/invoke")
        .header("host", "localhost")
        .header("content-type", "application/octet-stream")
        .header("x-fc-request-id", "sock-1")
        .body(Body::from(event))
        .unwrap();
    let (status, _, body) = send(&mut sender, request).await;
    assert_eq!(status, StatusCode::OK);
    let routed: HttpTriggerResponse = serde_json::from_slice(&body).unwrap();
    let seen = echoed(&routed);
    assert_eq!((seen["method"].as_str(), seen["path"].as_str()), (Some("POST"), Some("/api/echo/socket")));
    assert_eq!(header_values(&seen, "x-fc-request-id"), ["sock-1"]);

    // Same connection: a plain request, a malformed event, a binary response with its length.
    let (status, _, body) = send(&mut sender, get_request("/api/echo/plain?a=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["query"], "a=1");
    let bad = Request::post("/invoke").header("host", "localhost").body(Body::from("{")).unwrap();
    let (status, headers, _) = send(&mut sender, bad).await;
    assert_eq!((status, headers.get("x-fc-status").unwrap().as_bytes()), (StatusCode::BAD_REQUEST, &b"404"[..]));
    let (status, headers, body) = send(&mut sender, get_request("/api/binary")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-length").unwrap(), "6", "a known-length body keeps its content-length");
    assert_eq!(body.as_ref(), [0u8, 159, 146, 150, 255, 0]);

    server.shut_down();
    drop(sender);
    server.finished(Duration::from_secs(5)).await.unwrap();
}

/// FC keeps connections to an instance open between requests and needs the server to keep them
/// for at least 15 minutes. hyper's usual header-read timeout is 30 s: a connection idle for
/// longer than that must still carry the next request.
#[tokio::test]
async fn a_keep_alive_connection_survives_31_idle_seconds() {
    let mut server = Server::start(Runtime::new(test_app())).await;
    let mut sender = connect(server.address).await;
    let (status, _, _) = send(&mut sender, get_request("/api/echo/first")).await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::sleep(Duration::from_secs(31)).await;

    assert!(!sender.is_closed(), "the server closed an idle keep-alive connection");
    let (status, _, body) = send(&mut sender, get_request("/api/echo/second")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["path"], "/api/echo/second", "on the same connection");

    server.shut_down();
    drop(sender);
    server.finished(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_the_in_flight_request_finish_then_refuses_connections() {
    let mut server = Server::start(Runtime::new(test_app())).await;
    let address = server.address;
    let mut sender = connect(address).await;
    let started = Instant::now();
    let slow = tokio::spawn(async move { send(&mut sender, get_request("/api/slow")).await });
    // Let the request reach the handler (it sleeps 1 s), then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!slow.is_finished());
    server.shut_down();

    let (status, _, body) = slow.await.unwrap();
    assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"finished"[..]), "the in-flight request completed");
    assert!(started.elapsed() >= Duration::from_millis(900), "it really was in flight during the shutdown");
    server.finished(Duration::from_secs(5)).await.expect("serve() returns Ok after draining");

    let refused = tokio::net::TcpStream::connect(address).await;
    assert!(refused.is_err(), "a new connection after shutdown is refused");
}

#[tokio::test]
async fn idle_and_silent_connections_do_not_hold_up_shutdown() {
    let mut server = Server::start(Runtime::new(test_app())).await;
    // A keep-alive connection between requests (how FC leaves them), and one that never spoke.
    let mut idle = connect(server.address).await;
    assert_eq!(send(&mut idle, get_request("/api/echo/once")).await.0, StatusCode::OK);
    let _silent = tokio::net::TcpStream::connect(server.address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    server.shut_down();
    server.finished(Duration::from_secs(5)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_client_cannot_keep_the_server_alive_past_the_grace() {
    let mut server = Server::start(Runtime::new(test_app()).shutdown_grace(Duration::from_millis(500))).await;
    // Half a request head, then nothing: hyper waits for the rest forever (no read timeout, so
    // that idle connections stay open).
    let mut stalled = StdTcpStream::connect(server.address).unwrap();
    stalled.write_all(b"GET /api/echo/x HTTP/1.1\r\nHo").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    server.shut_down();
    server.finished(Duration::from_secs(5)).await.expect("serve() returns Ok once the grace is over");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(450) && waited < Duration::from_secs(3), "waited {waited:?}");
}

// ---------------------------------------------------------------------------------------------
// A real process: Runtime::run
// ---------------------------------------------------------------------------------------------

/// Set in the environment of the child this test binary starts; see [`child_process_entry`].
const CHILD_ENV: &str = "FC_RUNTIME_TEST_CHILD";

/// Not a test of its own: in the child process (with [`CHILD_ENV`] set) this serves
/// [`test_app`] through `Runtime::run` exactly as a function binary does (port from the
/// environment, 0.0.0.0, until SIGTERM). In a normal test run it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_entry() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // Ends libtest's unterminated "test child_process_entry ... " line.
    println!("\nchild: serving");
    Runtime::new(test_app()).run().await.expect("Runtime::run returns Ok after SIGTERM");
    println!("child: run() returned");
}

/// This test binary re-run as a server, its stdout collected, killed on drop. Its helpers block
/// (std sleeps), so the tests using it run on a multi-thread runtime.
struct ChildServer {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl ChildServer {
    /// The child on a free port. The port is found by binding port 0 and letting it go, so
    /// another program may take it before the child binds it; the child then exits at once and
    /// is started again on another port.
    fn start() -> Self {
        for _ in 0..5 {
            if let Some(server) = Self::try_start() {
                return server;
            }
        }
        panic!("the child exited before listening, five times");
    }

    fn try_start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_process_entry", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env("FC_CUSTOM_LISTEN_PORT", port.to_string())
            .env_remove("FC_SERVER_PORT")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("re-run this test binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let sink = stdout.clone();
        let pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Self { child, port, stdout };
        let deadline = Instant::now() + Duration::from_secs(15);
        while StdTcpStream::connect(("127.0.0.1", port)).is_err() {
            if server.child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "the child did not listen on port {port} within 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The index of the first stdout line equal to `line`, waiting up to 5 s for it.
    fn wait_for_line(&self, line: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(at) = self.lines().iter().position(|l| l == line) {
                return at;
            }
            assert!(Instant::now() < deadline, "no line {line:?} on stdout: {:#?}", self.lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the child to exit.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running {limit:?} after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether /proc/net/tcp lists a socket listening (state 0A) on 0.0.0.0:`port`.
fn listens_on_all_interfaces(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && fields[1] == format!("00000000:{port:04X}") && fields[3] == "0A"
    })
}

fn with_id(path: &str, id: &str) -> Request<Body> {
    Request::get(path).header("host", "localhost").header("x-fc-request-id", id).body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_listens_on_all_interfaces_and_prints_fcs_markers() {
    let child = ChildServer::start();
    assert!(listens_on_all_interfaces(child.port), "not listening on 0.0.0.0:{}", child.port);

    let mut sender = connect(child.address()).await;
    let (status, _, _) = send(&mut sender, with_id("/api/echo/marked", "abc-123")).await;
    assert_eq!(status, StatusCode::OK);
    let start = child.wait_for_line("FC Invoke Start RequestId: abc-123");
    let end = child.wait_for_line("FC Invoke End RequestId: abc-123");
    assert!(start < end);

    // Lifecycle hooks get their own kinds.
    let initialize = Request::post("/initialize")
        .header("host", "localhost")
        .header("x-fc-request-id", "init-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&mut sender, initialize).await.0, StatusCode::OK);
    assert!(
        child.wait_for_line("FC Initialize Start RequestId: init-1")
            < child.wait_for_line("FC Initialize End RequestId: init-1")
    );
    assert_eq!(send(&mut sender, with_id("/pre-stop", "stop-1")).await.0, StatusCode::OK);
    assert!(
        child.wait_for_line("FC PreStop Start RequestId: stop-1")
            < child.wait_for_line("FC PreStop End RequestId: stop-1")
    );

    // No id, no markers.
    assert_eq!(send(&mut sender, get_request("/api/echo/unmarked")).await.0, StatusCode::OK);
    assert_eq!(send(&mut sender, with_id("/api/echo/after", "after")).await.0, StatusCode::OK);
    child.wait_for_line("FC Invoke End RequestId: after");
    let markers = child.lines().iter().filter(|line| line.starts_with("FC ")).count();
    assert_eq!(markers, 8, "a start and an end line for each of the four marked requests: {:#?}", child.lines());
}

/// The end marker comes after the whole body: a streamed reply's logs stay in its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_marker_follows_a_streamed_body() {
    let child = ChildServer::start();
    let mut sender = connect(child.address()).await;
    let (status, _, body) = send(&mut sender, with_id("/api/stream", "stream-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_ref(), b"chunk 0\nchunk 1\nchunk 2\n");
    let start = child.wait_for_line("FC Invoke Start RequestId: stream-1");
    let last_chunk = child.wait_for_line("stream chunk 2 for stream-1");
    let end = child.wait_for_line("FC Invoke End RequestId: stream-1");
    assert!(start < last_chunk && last_chunk < end, "{:#?}", child.lines());
}

/// A client that gives up mid-request still gets its end marker printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_still_gets_an_end_marker() {
    let child = ChildServer::start();
    let mut stream = StdTcpStream::connect(child.address()).unwrap();
    stream.write_all(b"GET /api/slow HTTP/1.1\r\nHost: localhost\r\nx-fc-request-id: gone-1\r\n\r\n").unwrap();
    child.wait_for_line("FC Invoke Start RequestId: gone-1");
    drop(stream);
    child.wait_for_line("FC Invoke End RequestId: gone-1");

    // And the server is unharmed.
    let mut sender = connect(child.address()).await;
    assert_eq!(send(&mut sender, get_request("/api/echo/still-up")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_in_flight_request_and_exits_0() {
    let mut child = ChildServer::start();
    let mut sender = connect(child.address()).await;
    let slow = tokio::spawn(async move { send(&mut sender, with_id("/api/slow", "slow-1")).await });
    child.wait_for_line("FC Invoke Start RequestId: slow-1");

    let signalled = Instant::now();
    child.terminate();
    let (status, _, body) = slow.await.unwrap();
    assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"finished"[..]), "the in-flight request completed");

    let exit = child.wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "exit status {exit}; stdout: {:#?}", child.lines());
    assert!(signalled.elapsed() < Duration::from_secs(10));
    child.wait_for_line("child: run() returned");
    child.wait_for_line("FC Invoke End RequestId: slow-1");
    assert!(StdTcpStream::connect(child.address()).is_err(), "nothing listens after the exit");
}

/// The raw request of a real FC event invocation (what `s local invoke` sends) over a socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_event_invocation_against_the_process() {
    let child = ChildServer::start();
    let event = full_event("GET", "/api/text", "/api/text").to_string();
    let mut stream = StdTcpStream::connect(child.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST /invoke HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/octet-stream\r\n\
         x-fc-request-id: evt-raw\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{event}",
        child.port,
        event.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let routed: HttpTriggerResponse = serde_json::from_str(body).unwrap();
    assert_eq!((routed.status_code, routed.body.as_str(), routed.is_base64_encoded), (200, "héllo, 世界", false));
    child.wait_for_line("FC Invoke End RequestId: evt-raw");
}

#[tokio::test]
async fn accepted_connections_have_nagles_algorithm_off() {
    use axum::serve::Listener;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut listener = fc_runtime::without_nagle(listener);
    let _client = tokio::net::TcpStream::connect(address).await.unwrap();
    let (accepted, _) = listener.accept().await;
    assert!(accepted.nodelay().unwrap(), "streamed pieces must not wait for the peer's ACK");

    // The plain listener, for contrast: the kernel's default is Nagle on.
    let mut plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = tokio::net::TcpStream::connect(plain.local_addr().unwrap()).await.unwrap();
    let (accepted, _) = Listener::accept(&mut plain).await;
    assert!(!accepted.nodelay().unwrap());
}
