//! Extractors that answer client mistakes with our error JSON instead of axum's plain text.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts},
    http::{header, request::Parts},
};

use crate::{error::AppError, state::AppState};

/// `axum::Json`, but rejections become [`AppError`] (400 malformed JSON, 422 wrong shape, 413
/// too large, 415 wrong content type).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query` with [`AppError`] rejections (400 `invalid_query`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

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
