//! Extractors that answer client mistakes with our error JSON instead of axum's plain text.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::{de::DeserializeOwned, de::IgnoredAny};

use crate::{error::AppError, state::AppState};

/// A JSON body, with every rejection one of ours: 415 without a JSON content type, 413 too
/// large, 400 `malformed_json` for text that is not JSON, and 422 `invalid_body` for JSON of
/// the wrong shape. (axum's `Json` tells these apart by serde's error category, which calls
/// some wrong types "syntax": `{"rating": null}` for an enum would be 400 "not valid JSON".
/// Here the body is parsed a second time as any JSON value when it does not fit, and only text
/// that is not JSON at all is `malformed_json`.)
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if !json_content_type(request.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("unreadable_body", rejection.body_text())
            }
        })?;
        let body = parse_json(&bytes)?;
        // serde reads a struct from a JSON array too (`[]` as `{}` where every field is
        // optional), and every body of this API is an object.
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
            return Err(AppError::validation("invalid_body", "the body must be a JSON object"));
        }
        Ok(Self(body))
    }
}

/// `bytes` as a `T`: 422 `invalid_body` when they are JSON of another shape, 400
/// `malformed_json` when they are not JSON.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // JSON text is UTF-8 (RFC 8259 §8.1); serde_json does not check the strings it skips.
    let text = std::str::from_utf8(bytes).map_err(|err| {
        AppError::bad_request("malformed_json", format!("the body is not valid JSON: not UTF-8 ({err})"))
    })?;
    serde_json::from_str(text).map_err(|err| {
        if serde_json::from_str::<IgnoredAny>(text).is_ok() {
            AppError::validation("invalid_body", format!("the body does not match what this endpoint expects: {err}"))
        } else {
            AppError::bad_request("malformed_json", format!("the body is not valid JSON: {err}"))
        }
    })
}

/// `application/json`, or any `application/*+json`, parameters aside (as axum's `Json`).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// A query string, with [`AppError`] rejections (400 `invalid_query`). Beyond axum's `Query`, a
/// value that is not UTF-8 once percent-decoded, or holds a NUL, is refused rather than read
/// lossily or passed on: SQLite would end a `LIKE` pattern at a NUL (`q=%00` found everything),
/// and `q=%FF` would search for U+FFFD.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if let Some(raw) = parts.uri.query() {
            check_query_text(raw)?;
        }
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Every name and value of `raw` (a query string) decodes to UTF-8 text without NUL.
fn check_query_text(raw: &str) -> Result<(), AppError> {
    for part in raw.split(['&', '=']) {
        let decoded = percent_decoded(part);
        match std::str::from_utf8(&decoded) {
            Err(_) => return Err(AppError::bad_request("invalid_query", "the query string is not UTF-8 text")),
            Ok(text) if text.contains('\0') => {
                return Err(AppError::bad_request("invalid_query", "the query string contains a NUL character"));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space, `%XY` a
/// byte (a `%` not followed by two hex digits stays as it is, as browsers and axum keep it).
fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|byte| (*byte as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push((hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0)) as u8);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

/// `axum::extract::Path` with [`AppError`] rejections (JSON, never axum's plain text).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Who is calling, for the audit log and per-IP rate limits.
///
/// The client's address comes from `X-Forwarded-For` only as far as it is trusted: each proxy
/// appends the address it saw connecting, so a client can forge every entry except the ones
/// our own proxies added, at the right end. With `TRUST_PROXY_HOPS=n` (default 1, Function
/// Compute's gateway) the client is the n-th entry from the right; with fewer entries, or with
/// 0, the TCP peer (the local stack). Only a parseable IP address is kept.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// The key per-IP limits count under: the address, or for IPv6 its /64 (one subscriber's
    /// network, which hands out addresses freely); all clients without a known IP share one.
    pub fn ip_key(&self) -> String {
        match self.ip {
            None => "unknown".to_string(),
            Some(IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => {
                let segments = ip.segments();
                let network = Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0);
                format!("{network}/64")
            }
            Some(IpAddr::V6(ip)) => ip.to_ipv4_mapped().map_or_else(|| ip.to_string(), |v4| v4.to_string()),
            Some(ip) => ip.to_string(),
        }
    }

    /// The client's address from the `X-Forwarded-For` values of a request, trusting `hops`
    /// proxies, else `peer`.
    pub fn client_ip<'a>(
        forwarded_for: impl Iterator<Item = &'a str>,
        hops: usize,
        peer: Option<IpAddr>,
    ) -> Option<IpAddr> {
        if hops == 0 {
            return peer;
        }
        // Several header lines are one list, in order.
        let entries: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).map(str::trim).collect();
        match entries.len().checked_sub(hops) {
            Some(index) => entries[index].parse::<IpAddr>().ok(),
            None => peer,
        }
    }

    pub fn from_parts(parts: &Parts, trust_proxy_hops: usize) -> Self {
        // Lossily decoded, not dropped: a line that is not ASCII (a client's garbage, to which
        // a proxy appended the real address) must still give its right-hand entries.
        let lines: Vec<String> = parts
            .headers
            .get_all("x-forwarded-for")
            .into_iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let forwarded = lines.iter().map(String::as_str);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        // Not `to_str`, which refuses any non-ASCII byte: such an agent is kept (lossily decoded)
        // rather than silently dropped from the audit trail.
        let user_agent =
            parts.headers.get(header::USER_AGENT).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Self { ip: Self::client_ip(forwarded, trust_proxy_hops, peer), user_agent }
    }
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, state.config.trust_proxy_hops))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_must_be_utf8_without_nul() {
        assert!(check_query_text("q=%E5%A4%B1%E7%9C%A0&limit=5").is_ok());
        assert!(check_query_text("q=a+b%25c%zz").is_ok(), "a bare % stays");
        assert_eq!(percent_decoded("a+b%41%4a%"), b"a bAJ%");
        for bad in ["q=%FF", "q=%00", "q=a%00b", "%C3=x", "q=%E5%A4"] {
            let err = check_query_text(bad).unwrap_err();
            assert_eq!((err.status(), err.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{bad}");
        }
    }

    #[test]
    fn wrong_types_are_invalid_bodies_and_only_non_json_is_malformed() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Rating {
            #[serde(rename = "up")]
            Up,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            rating: Rating,
        }
        for wrong in [r#"{"rating": null}"#, r#"{"rating": 5}"#, r#"{"rating": "sideways"}"#, "[]", "{}", "null"] {
            let err = parse_json::<Body>(wrong.as_bytes()).unwrap_err();
            assert_eq!((err.status(), err.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "{wrong}");
        }
        for broken in ["{", r#"{"rating": up}"#, "", r#"{"rating": "up"} trailing"#, "\u{feff}{}"] {
            let err = parse_json::<Body>(broken.as_bytes()).unwrap_err();
            assert_eq!((err.status(), err.code()), (StatusCode::BAD_REQUEST, "malformed_json"), "{broken}");
        }
        // Not UTF-8 inside a string the type does not read: not JSON text either.
        let err = parse_json::<Body>(b"{\"rating\": \"up\", \"other\": \"\xff\"}").unwrap_err();
        assert_eq!(err.code(), "malformed_json");
        assert!(parse_json::<Body>(br#"{"rating": "up"}"#).is_ok());
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn the_client_is_the_entry_our_proxies_added() {
        let peer = ip("10.0.0.1");
        // A forged first entry is ignored: FC's gateway appended the real one.
        assert_eq!(ClientMeta::client_ip(["6.6.6.6, 203.0.113.7"].into_iter(), 1, peer), ip("203.0.113.7"));
        assert_eq!(ClientMeta::client_ip(["203.0.113.7"].into_iter(), 1, peer), ip("203.0.113.7"));
        // Two header lines are one list.
        assert_eq!(ClientMeta::client_ip(["6.6.6.6", "203.0.113.7"].into_iter(), 1, peer), ip("203.0.113.7"));
        // A CDN in front of FC: two hops.
        assert_eq!(
            ClientMeta::client_ip(["6.6.6.6, 203.0.113.7, 198.51.100.2"].into_iter(), 2, peer),
            ip("203.0.113.7")
        );
        // Fewer entries than trusted hops, no header, or no trust: the TCP peer.
        assert_eq!(ClientMeta::client_ip(["203.0.113.7"].into_iter(), 2, peer), peer);
        assert_eq!(ClientMeta::client_ip(std::iter::empty(), 1, peer), peer);
        assert_eq!(ClientMeta::client_ip(["203.0.113.7"].into_iter(), 0, peer), peer);
        // A line that is not ASCII keeps its right-hand entries (decoded lossily).
        assert_eq!(ClientMeta::client_ip(["\u{fffd}garbage, 203.0.113.7"].into_iter(), 1, peer), ip("203.0.113.7"));
        // A trusted entry that is not an address: unknown, never the forged neighbour.
        assert_eq!(ClientMeta::client_ip(["6.6.6.6, garbage"].into_iter(), 1, peer), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |text: &str| ClientMeta { ip: ip(text), user_agent: None }.ip_key();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ClientMeta::default().ip_key(), "unknown");
    }
}
