//! A content-moderation server the tests start on 127.0.0.1, speaking both protocols the app
//! can use: Alibaba Cloud's `TextModerationPlus` and `ImageModeration` (RPC style, `POST /`,
//! signed with `ACS3-HMAC-SHA256`) and an OpenAI-compatible `POST /v1/moderations` (text, or
//! `image_url` parts). Pictures are judged as the services do: downloaded from their link (or
//! read from a `data:` URL, which only the OpenAI form takes), and risky when their bytes hold
//! a risky word.
//!
//! It checks every Alibaba request's signature with its own implementation of the documented
//! algorithm (not the app's), its date (within 15 minutes), its nonce (never twice) and its
//! security token, and refuses a bad one as Alibaba does (`SignatureDoesNotMatch`…). Verdicts
//! are the test's: a text is risky when it contains one of the words the test set (checked, for
//! a reply's segments, with the session's earlier segments, as Content Moderation reads a
//! `sessionId`); the test can also make it fail or answer late.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ACCESS_KEY_ID: &str = "STS.test-moderation-key";
pub const ACCESS_KEY_SECRET: &str = "test-moderation-secret";
pub const SECURITY_TOKEN: &str = "test-security-token";
pub const OPENAI_KEY: &str = "sk-test-moderation";

/// How the server answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Verdicts by the risky words.
    Judge,
    /// HTTP 500 with an Alibaba-style error body.
    Fail,
    /// Never answer.
    Hang,
}

/// One check the server answered.
#[derive(Clone, Debug)]
pub struct Call {
    /// `aliyun` or `openai`.
    pub protocol: &'static str,
    /// The Alibaba `Service` (`llm_query_moderation`, `llm_response_moderation`,
    /// `baselineCheck`).
    pub service: Option<String>,
    /// The text checked, or the picture's link.
    pub content: String,
    pub session_id: Option<String>,
    pub blocked: bool,
}

#[derive(Default)]
struct Shared {
    risky: Mutex<Vec<String>>,
    mode: Mutex<Option<Mode>>,
    latency: Mutex<Duration>,
    calls: Mutex<Vec<Call>>,
    /// Requests refused for their signature, date, nonce or token.
    refused: Mutex<Vec<String>>,
    nonces: Mutex<HashSet<String>>,
    /// What each session has been sent so far.
    sessions: Mutex<HashMap<String, String>>,
}

pub struct ModerationServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
    _server: tokio::task::JoinHandle<()>,
}

impl ModerationServer {
    /// A server that blocks text containing any of `risky`.
    pub async fn start(risky: &[&str]) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.risky.lock().unwrap() = risky.iter().map(|word| word.to_string()).collect();
        *shared.mode.lock().unwrap() = Some(Mode::Judge);
        let app =
            Router::new().route("/", post(aliyun)).route("/v1/moderations", post(openai)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the moderation server");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: format!("http://{address}"), shared, _server: server }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
    }

    /// Each answer waits this long first.
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().unwrap() = latency;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Why each refused request was refused (a test expects none).
    pub fn refused(&self) -> Vec<String> {
        self.shared.refused.lock().unwrap().clone()
    }

    /// The variables that point the app at this server as its Alibaba Cloud provider.
    pub fn aliyun_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MODERATION_PROVIDER", "aliyun".into()),
            ("MODERATION_ALIYUN_ENDPOINT", self.url.clone()),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET.into()),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", SECURITY_TOKEN.into()),
            ("MODERATION_TIMEOUT", "1s".into()),
        ]
    }

    /// The same for the OpenAI-compatible form.
    pub fn openai_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MODERATION_PROVIDER", "openai".into()),
            ("MODERATION_OPENAI_BASE_URL", format!("{}/v1", self.url)),
            ("MODERATION_OPENAI_API_KEY", OPENAI_KEY.into()),
            ("MODERATION_TIMEOUT", "1s".into()),
        ]
    }
}

impl Shared {
    fn risky_in(&self, text: &str) -> Option<String> {
        self.risky.lock().unwrap().iter().find(|word| text.contains(word.as_str())).cloned()
    }

    /// Waits the latency; `None` when the mode says not to answer normally.
    async fn delay(&self) -> Mode {
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mode = self.mode.lock().unwrap().clone().unwrap_or(Mode::Judge);
        if let Mode::Hang = mode {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        mode
    }

    fn refuse(&self, why: String, code: &str) -> Response {
        self.refused.lock().unwrap().push(why);
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"RequestId": "test", "Code": code, "Message": "refused by the test server"})),
        )
            .into_response()
    }
}

async fn aliyun(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err((why, code)) = verify(&shared, &method, &uri, &headers, &body) {
        return shared.refuse(why, code);
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let service = form.get("Service").cloned();
    let parameters: Value =
        form.get("ServiceParameters").and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or(Value::Null);
    if headers.get("x-acs-action").is_some_and(|action| action == "ImageModeration") {
        return aliyun_image(&shared, service, &parameters).await;
    }
    let Some(content) = parameters["content"].as_str().map(str::to_string) else {
        return (StatusCode::OK, Json(json!({"RequestId": "test", "Code": 400, "Message": "content is missing"})))
            .into_response();
    };
    if let Mode::Fail = shared.delay().await {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"RequestId": "test", "Code": "InternalError"})))
            .into_response();
    }
    let session_id = parameters["sessionId"].as_str().map(str::to_string);
    // A session's segments are read together, as the service joins them.
    let read = match &session_id {
        Some(id) => {
            let mut sessions = shared.sessions.lock().unwrap();
            let joined = sessions.entry(id.clone()).or_default();
            joined.push_str(&content);
            joined.clone()
        }
        None => content.clone(),
    };
    let risky = shared.risky_in(&read);
    shared.calls.lock().unwrap().push(Call {
        protocol: "aliyun",
        service,
        content,
        session_id,
        blocked: risky.is_some(),
    });
    let data = match risky {
        Some(word) => json!({
            "RiskLevel": "high",
            "Result": [{"Label": "contraband_drug", "Confidence": 96.5, "RiskWords": word, "Description": "test"}],
        }),
        None => json!({"RiskLevel": "none", "Result": [{"Label": "nonLabel", "Description": "未检测出风险"}]}),
    };
    Json(json!({"RequestId": "test", "Code": 200, "Message": "OK", "Data": data})).into_response()
}

/// `ImageModeration`: the picture is downloaded from `imageUrl` (a failed download is the
/// service's error), and risky when its bytes hold a risky word.
async fn aliyun_image(shared: &Shared, service: Option<String>, parameters: &Value) -> Response {
    let url = parameters["imageUrl"].as_str().unwrap_or_default().to_string();
    if let Mode::Fail = shared.delay().await {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"RequestId": "test", "Code": "InternalError"})))
            .into_response();
    }
    let Some(bytes) = download(&url).await.filter(|_| url.starts_with("http")) else {
        shared.refused.lock().unwrap().push(format!("could not download {url}"));
        return Json(json!({"RequestId": "test", "Code": 408, "Message": "download the image failed"})).into_response();
    };
    let risky = shared.risky_in(&String::from_utf8_lossy(&bytes));
    shared.calls.lock().unwrap().push(Call {
        protocol: "aliyun",
        service,
        content: url,
        session_id: None,
        blocked: risky.is_some(),
    });
    let data = match risky {
        Some(_) => json!({"RiskLevel": "high", "Result": [{"Label": "pornographic_adultContent", "Confidence": 95.1}]}),
        None => json!({"RiskLevel": "none", "Result": [{"Label": "nonLabel", "Confidence": 99.0}]}),
    };
    Json(json!({"RequestId": "test", "Code": 200, "Msg": "OK", "Data": data})).into_response()
}

/// A picture's bytes: from its link, or its `data:` URL.
async fn download(url: &str) -> Option<Vec<u8>> {
    if let Some(data) = url.strip_prefix("data:") {
        use base64::Engine;
        let (_, encoded) = data.split_once(";base64,")?;
        return base64::engine::general_purpose::STANDARD.decode(encoded).ok();
    }
    let client = app_core::outbound::https_client().ok()?;
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.bytes().await.ok().map(|bytes| bytes.to_vec())
}

/// Checks an `ACS3-HMAC-SHA256` request as Alibaba Cloud's documentation describes it.
fn verify(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), (String, &'static str)> {
    let get = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    let authorization = get("authorization").ok_or(("no Authorization".to_string(), "MissingAuthorization"))?;
    let rest = authorization
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .ok_or(("not ACS3-HMAC-SHA256".to_string(), "InvalidAuthorization"))?;
    let fields: HashMap<&str, &str> = rest.split(',').filter_map(|part| part.split_once('=')).collect();
    let (Some(credential), Some(signed), Some(signature)) =
        (fields.get("Credential"), fields.get("SignedHeaders"), fields.get("Signature"))
    else {
        return Err((format!("malformed Authorization: {authorization}"), "InvalidAuthorization"));
    };
    if *credential != ACCESS_KEY_ID {
        return Err((format!("unknown key {credential}"), "InvalidAccessKeyId.NotFound"));
    }
    if get("x-acs-security-token") != Some(SECURITY_TOKEN) {
        return Err(("missing or wrong security token".into(), "InvalidSecurityToken.Mismatch"));
    }
    let action = get("x-acs-action");
    if !matches!(action, Some("TextModerationPlus" | "ImageModeration")) || get("x-acs-version") != Some("2022-03-02") {
        return Err(("wrong action or version".into(), "InvalidAction.NotFound"));
    }
    let date = get("x-acs-date").unwrap_or_default();
    let when = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%SZ")
        .map_err(|_| (format!("bad x-acs-date {date:?}"), "InvalidTimeStamp.Format"))?;
    let skew = (chrono::Utc::now().naive_utc() - when).num_seconds().abs();
    if skew > 15 * 60 {
        return Err((format!("x-acs-date {date} is {skew} s off"), "InvalidTimeStamp.Expired"));
    }
    let digest = hex::encode(Sha256::digest(body));
    if get("x-acs-content-sha256") != Some(digest.as_str()) {
        return Err(("x-acs-content-sha256 does not match the body".into(), "InvalidContentSha256"));
    }
    let names: Vec<&str> = signed.split(';').collect();
    for required in [
        "host",
        "content-type",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
        "x-acs-security-token",
    ] {
        if !names.contains(&required) {
            return Err((format!("{required} is not signed"), "IncompleteSignature"));
        }
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted != names {
        return Err(("SignedHeaders are not sorted".into(), "IncompleteSignature"));
    }
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let encode = |text: &str| utf8_percent_encode(text, UNRESERVED).to_string();
    let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(name)), encode(&decode(value)))
        })
        .collect();
    query.sort();
    let query = query.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    let mut canonical_headers = String::new();
    for name in &names {
        let value = get(name).ok_or((format!("signed header {name} is missing"), "IncompleteSignature"))?;
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!("{method}\n{}\n{query}\n{canonical_headers}\n{signed}\n{digest}", uri.path());
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut mac = Hmac::<Sha256>::new_from_slice(ACCESS_KEY_SECRET.as_bytes()).expect("key");
    mac.update(to_sign.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    if *signature != expected {
        return Err((format!("signature mismatch; canonical request:\n{canonical}"), "SignatureDoesNotMatch"));
    }
    let nonce = get("x-acs-signature-nonce").unwrap_or_default().to_string();
    if !shared.nonces.lock().unwrap().insert(nonce.clone()) {
        return Err((format!("nonce {nonce} used twice"), "SignatureNonceUsed"));
    }
    Ok(())
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if bearer != Some(&format!("Bearer {OPENAI_KEY}")) {
        shared.refused.lock().unwrap().push("wrong bearer".into());
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"message": "bad key", "type": "auth"}})))
            .into_response();
    }
    if let Mode::Fail = shared.delay().await {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "down", "type": "server_error"}})),
        )
            .into_response();
    }
    let (input, risky) = match &body["input"] {
        // Content parts: a picture, downloaded and read.
        Value::Array(parts) => {
            let url = parts.iter().find_map(|part| part["image_url"]["url"].as_str()).unwrap_or_default().to_string();
            let Some(bytes) = download(&url).await else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": {"message": "cannot read the image", "type": "invalid_request_error"}})),
                )
                    .into_response();
            };
            let risky = shared.risky_in(&String::from_utf8_lossy(&bytes));
            (url, risky)
        }
        input => {
            let input = input.as_str().unwrap_or_default().to_string();
            let risky = shared.risky_in(&input);
            (input, risky)
        }
    };
    shared.calls.lock().unwrap().push(Call {
        protocol: "openai",
        service: None,
        content: input,
        session_id: None,
        blocked: risky.is_some(),
    });
    // The older models' answer: no `illicit` category (the app must not need it).
    Json(json!({
        "id": "modr-test", "model": body["model"],
        "results": [{"flagged": risky.is_some(), "categories": {"violence": risky.is_some(), "hate": false}, "category_scores": {"violence": 0.9, "hate": 0.0}}]
    }))
    .into_response()
}
