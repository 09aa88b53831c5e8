//! The AWS Lambda path: with `AWS_LAMBDA_RUNTIME_API` set, `Runtime::run` serves the router
//! through `lambda_http`. A local emulator of the Lambda Runtime API (its two documented
//! endpoints: `GET …/invocation/next` and `POST …/invocation/{id}/response`) hands it API
//! Gateway v2 (HTTP API) events over real HTTP and collects the answers.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

#[derive(Default)]
struct Emulator {
    pending: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<(String, Value)>>,
}

const API: &str = "/2018-06-01/runtime/invocation";

async fn next(State(emulator): State<Arc<Emulator>>) -> Response {
    loop {
        let event = emulator.pending.lock().unwrap().pop_front();
        if let Some((id, event)) = event {
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test".parse().unwrap(),
            );
            headers.insert("lambda-runtime-trace-id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700".parse().unwrap());
            return (headers, Json(event)).into_response();
        }
        // Long-poll like the real API: the runtime waits here for the next event.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn respond(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>, body: String) -> StatusCode {
    let answer: Value = serde_json::from_str(&body).expect("the runtime answers JSON");
    emulator.answers.lock().unwrap().push((id, answer));
    StatusCode::ACCEPTED
}

async fn error(Path(id): Path<String>, body: String) -> StatusCode {
    panic!("the runtime reported an invocation error for {id}: {body}");
}

fn http_api_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "user-agent": "lambda-test", "x-forwarded-for": "198.51.100.4"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.4", "userAgent": "lambda-test"},
            "requestId": "request-id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1_583_348_638_390u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The app the runtime serves: echoes what it received, so the test sees the event decoded.
fn app() -> Router {
    Router::new()
        .route(
            "/api/echo",
            post(|headers: HeaderMap, uri: axum::http::Uri, body: String| async move {
                let forwarded =
                    headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                (StatusCode::CREATED, Json(json!({"query": uri.query(), "body": body, "forwardedFor": forwarded})))
            }),
        )
        .route("/api/health", get(|| async { Json(json!({"status": "ok"})) }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_api_gateway_v2_events_through_the_lambda_runtime_api() {
    let emulator = Arc::new(Emulator::default());
    emulator.pending.lock().unwrap().extend([
        ("inv-1".to_string(), http_api_event("POST", "/api/echo", "lang=zh&x=1", Some("{\"hello\":\"世界\"}"))),
        ("inv-2".to_string(), http_api_event("GET", "/api/health", "", None)),
        ("inv-3".to_string(), http_api_event("GET", "/api/missing", "", None)),
    ]);
    let routes = Router::new()
        .route(&format!("{API}/next"), get(next))
        .route(&format!("{API}/{{id}}/response"), post(respond))
        .route(&format!("{API}/{{id}}/error"), post(error))
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });

    // SAFETY: this test binary runs this one test; nothing else reads the environment
    // concurrently while it is being set.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", address.to_string());
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "test");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        std::env::set_var("AWS_LAMBDA_LOG_STREAM_NAME", "stream");
        std::env::set_var("AWS_LAMBDA_LOG_GROUP_NAME", "group");
    }
    // The lambda_http future is not `Send` (bodies are not `Sync`); run it the way a binary's
    // `main` does, on a runtime of its own. The process ends with the test.
    let runtime = std::thread::spawn(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(fc_runtime::Runtime::new(app()).run())
    });

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while emulator.answers.lock().unwrap().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the runtime did not answer every invocation");
        assert!(!runtime.is_finished(), "the runtime stopped: {:?}", runtime.join());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let answers = emulator.answers.lock().unwrap().clone();
    let answer = |id: &str| answers.iter().find(|(answered, _)| answered == id).map(|(_, a)| a.clone()).unwrap();

    let echo = answer("inv-1");
    assert_eq!(echo["statusCode"], 201, "{echo}");
    let body: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["body"], "{\"hello\":\"世界\"}");
    assert_eq!(body["query"], "lang=zh&x=1");
    assert_eq!(body["forwardedFor"], "198.51.100.4");

    let health = answer("inv-2");
    assert_eq!(health["statusCode"], 200);
    assert_eq!(serde_json::from_str::<Value>(health["body"].as_str().unwrap()).unwrap()["status"], "ok");

    assert_eq!(answer("inv-3")["statusCode"], 404);
}
