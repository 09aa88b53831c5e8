//! FC HTTP-trigger events delivered as event invocations (`s local invoke`, `s invoke`, SDK
//! `InvokeFunction`): decode the event into a request, run it through the router, and answer in
//! the trigger's response shape. A malformed event is a 400 with `x-fc-status: 404` (FC's way
//! to mark an invocation as failed), never a crash.
//!
//! `POST /invoke` can also be reached from the internet (an HTTP trigger passes every path
//! through), so the event's headers are not trusted over FC's own: when the invocation itself
//! carries `x-forwarded-for` (set by FC's gateway) or `x-fc-request-id`, those replace the
//! event's, and a caller cannot pick the client address that per-IP limits count.

use std::collections::{BTreeMap, HashMap};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use http_body_util::BodyExt;
use serde::{Deserialize, Deserializer, Serialize};
use tower::ServiceExt;

/// `{"version":"v1","rawPath",…,"requestContext":{"http":{"method",…}}}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTriggerEvent {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub raw_path: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: HashMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub query_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_base64_encoded: bool,
    pub request_context: RequestContext,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub request_id: Option<String>,
    pub http: HttpContext,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    pub method: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// The answer FC expects for an HTTP-trigger event.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpTriggerResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

/// `null` is read as the field's default (an empty map, `false`), like a missing field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EventError(String);

impl HttpTriggerEvent {
    pub fn parse(raw: &[u8]) -> Result<Self, EventError> {
        if raw.is_empty() {
            return Err(EventError("the event is empty; expected an FC HTTP-trigger event (JSON)".into()));
        }
        serde_json::from_slice(raw).map_err(|err| EventError(format!("not an FC HTTP-trigger event: {err}")))
    }

    /// The request this event describes. `outer_request_id` (the invocation's
    /// `x-fc-request-id`) is carried over so the routed request logs under the same id.
    pub fn into_request(self, outer_request_id: Option<&HeaderValue>) -> Result<Request<Body>, EventError> {
        let mut outer = HeaderMap::new();
        if let Some(id) = outer_request_id {
            outer.insert("x-fc-request-id", id.clone());
        }
        self.into_request_from(&outer)
    }

    /// The request this event describes, for an invocation whose own headers are `outer`: the
    /// invocation's `x-fc-request-id` and `x-forwarded-for` (FC's) win over the event's.
    pub fn into_request_from(self, outer: &HeaderMap) -> Result<Request<Body>, EventError> {
        let method = Method::from_bytes(self.request_context.http.method.as_bytes())
            .map_err(|_| EventError(format!("invalid HTTP method {:?}", self.request_context.http.method)))?;

        let path = match (self.raw_path, self.request_context.http.path) {
            (Some(raw), _) if !raw.is_empty() => raw,
            (_, Some(decoded)) if !decoded.is_empty() => {
                percent_encoding::utf8_percent_encode(&decoded, PATH_UNSAFE).to_string()
            }
            _ => {
                return Err(EventError("the event has neither rawPath nor requestContext.http.path".into()));
            }
        };
        if !path.starts_with('/') {
            return Err(EventError(format!("the path must start with '/', got {path:?}")));
        }
        let query = serde_urlencoded::to_string(&self.query_parameters)
            .map_err(|err| EventError(format!("invalid queryParameters: {err}")))?;
        let uri_text = if query.is_empty() { path } else { format!("{path}?{query}") };
        let uri: Uri = uri_text.parse().map_err(|err| EventError(format!("invalid path {uri_text:?}: {err}")))?;

        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| EventError(format!("invalid header name {name:?}")))?;
            let value =
                HeaderValue::from_str(value).map_err(|_| EventError(format!("invalid value for header {name}")))?;
            headers.append(name, value);
        }
        let outer_forwarded_for: Vec<HeaderValue> = outer.get_all("x-forwarded-for").iter().cloned().collect();
        if !outer_forwarded_for.is_empty() {
            headers.remove("x-forwarded-for");
            for value in outer_forwarded_for {
                headers.append("x-forwarded-for", value);
            }
        } else if !headers.contains_key("x-forwarded-for")
            && let Some(ip) =
                self.request_context.http.source_ip.as_deref().and_then(|ip| HeaderValue::from_str(ip).ok())
        {
            headers.insert("x-forwarded-for", ip);
        }
        if let Some(id) = outer.get("x-fc-request-id") {
            headers.insert("x-fc-request-id", id.clone());
        } else if !headers.contains_key("x-fc-request-id")
            && let Some(id) = self.request_context.request_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert("x-fc-request-id", id);
        }

        let body = match (self.body, self.is_base64_encoded) {
            (None, _) => Bytes::new(),
            (Some(text), false) => Bytes::from(text),
            (Some(encoded), true) => Bytes::from(
                BASE64
                    .decode(encoded.trim())
                    .map_err(|err| EventError(format!("body is marked isBase64Encoded but is not Base64: {err}")))?,
            ),
        };

        let mut request = Request::new(Body::from(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
}

/// Characters escaped when only the decoded path is given: controls, space, `"#%<>?\^`{|}`.
const PATH_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl HttpTriggerResponse {
    /// Collects a routed response; text bodies stay text, anything else is Base64.
    pub async fn from_response(response: Response) -> Result<Self, EventError> {
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|err| EventError(format!("failed to read the response body: {err}")))?
            .to_bytes();
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_string())
                .and_modify(|existing| {
                    existing.push_str(", ");
                    existing.push_str(&value);
                })
                .or_insert(value);
        }
        let textual = !parts.headers.contains_key(header::CONTENT_ENCODING)
            && parts.headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(is_textual);
        let (body, is_base64_encoded) = match (textual || bytes.is_empty(), std::str::from_utf8(&bytes)) {
            (true, Ok(text)) => (text.to_string(), false),
            _ => (BASE64.encode(&bytes), true),
        };
        Ok(Self { status_code: parts.status.as_u16(), headers, body, is_base64_encoded })
    }
}

fn is_textual(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || matches!(
            essence.as_str(),
            "application/json" | "application/x-ndjson" | "application/javascript" | "application/xml"
        )
}

/// What `POST /invoke` needs: the app to route events to, and the largest event it reads.
#[derive(Clone)]
pub(crate) struct Invoke {
    pub app: Router,
    pub max_event_bytes: usize,
}

/// `POST /invoke`. An event whose declared length is over the limit is refused before any of
/// it is read; one without a length is read only up to the limit.
pub(crate) async fn invoke(State(invoke): State<Invoke>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.trim().parse::<u64>().ok());
    let too_large = || {
        tracing::warn!(limit = invoke.max_event_bytes, "refused an invocation event over the size limit");
        let message = format!("the event is larger than {} bytes", invoke.max_event_bytes);
        failed_invocation(StatusCode::PAYLOAD_TOO_LARGE, "event_too_large", &message)
    };
    if declared.is_some_and(|length| length > invoke.max_event_bytes as u64) {
        return too_large();
    }
    let body = match http_body_util::Limited::new(body, invoke.max_event_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return too_large(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read an invocation event");
            return failed_invocation(StatusCode::BAD_REQUEST, "invalid_event", "the event could not be read");
        }
    };
    let headers = parts.headers;
    let request = match HttpTriggerEvent::parse(&body).and_then(|event| event.into_request_from(&headers)) {
        Ok(request) => request,
        Err(err) => return invalid_event(err),
    };
    let response = match invoke.app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match HttpTriggerResponse::from_response(response).await {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot encode the routed response");
            failed_invocation(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error")
        }
    }
}

fn invalid_event(err: EventError) -> Response {
    tracing::warn!(error = %err, "rejected an invocation event");
    failed_invocation(StatusCode::BAD_REQUEST, "invalid_event", &err.to_string())
}

/// `{"error":{"code","message"}}` with `x-fc-status: 404`, FC's mark of a failed invocation.
fn failed_invocation(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (status, Json(serde_json::json!({"error": {"code": code, "message": message}}))).into_response();
    response.headers_mut().insert("x-fc-status", HeaderValue::from_static("404"));
    response
}
