//! Amazon S3's Signature Version 4 (`AWS4-HMAC-SHA256`) for a presigned URL and a POST policy
//! (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html, sigv4-post-example.html):
//! what the tests' S3-compatible server checks, and what OSS's S3-compatible endpoint accepts.
//!
//! ```text
//! SigningKey   = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd), region), "s3"), "aws4_request")
//! Canonical    = METHOD \n path (URI-encoded, `/` kept) \n sorted query (X-Amz-*, encoded) \n
//!                headers (`name:value\n`, lower-cased, sorted, `host` always) \n signed header
//!                names (`;`) \n UNSIGNED-PAYLOAD
//! StringToSign = AWS4-HMAC-SHA256 \n yyyymmddThhmmssZ \n yyyymmdd/region/s3/aws4_request \n hex(sha256(Canonical))
//! ```
//!
//! The unit test reproduces the presigned URL the S3 documentation works through.

use chrono::{DateTime, Utc};
use percent_encoding::utf8_percent_encode;
use sha2::{Digest, Sha256};

use super::{PATH, encode, encoded_policy, hmac, json_text, stamps};
use crate::moderation::acs3::Credentials;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Where objects are: `origin` is what URLs start with (`https://examplebucket.s3.amazonaws.com`,
/// or `http://127.0.0.1:9000` for a server addressed by path), `bucket` is named in the path
/// when `path_style`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub origin: String,
    pub region: String,
    pub bucket: String,
    pub path_style: bool,
}

impl Endpoint {
    fn host(&self) -> &str {
        self.origin.split_once("://").map_or(self.origin.as_str(), |(_, host)| host)
    }

    /// The object's path, encoded as signed (each byte outside RFC 3986's unreserved set but `/`).
    fn path(&self, key: &str) -> String {
        let path = if self.path_style { format!("/{}/{key}", self.bucket) } else { format!("/{key}") };
        utf8_percent_encode(&path, PATH).to_string()
    }
}

fn signing_key(secret: &str, date: &str, region: &str) -> Vec<u8> {
    super::signing_key(&format!("AWS4{secret}"), date, region, "s3", "aws4_request")
}

/// A URL that lets its holder `method` the object `key` until `expires_in` after `at`. `headers`
/// (`content-type`, `content-length`…) are signed with `host`: the request must carry them as
/// given.
#[allow(clippy::too_many_arguments)]
pub fn presign(
    credentials: &Credentials,
    endpoint: &Endpoint,
    key: &str,
    method: &str,
    headers: &[(&str, &str)],
    at: DateTime<Utc>,
    expires_in: std::time::Duration,
) -> String {
    let (stamp, date) = stamps(at);
    let scope = format!("{date}/{}/s3/aws4_request", endpoint.region);
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .chain(std::iter::once(("host".to_string(), endpoint.host().to_string())))
        .collect();
    signed.sort();
    let names: Vec<&str> = signed.iter().map(|(name, _)| name.as_str()).collect();
    let mut query: Vec<(&str, String)> = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_string()),
        ("X-Amz-Credential", encode(&format!("{}/{scope}", credentials.access_key_id))),
        ("X-Amz-Date", stamp.clone()),
        ("X-Amz-Expires", expires_in.as_secs().to_string()),
        ("X-Amz-SignedHeaders", encode(&names.join(";"))),
    ];
    if let Some(token) = &credentials.security_token {
        query.push(("X-Amz-Security-Token", encode(token)));
    }
    let mut sorted: Vec<String> = query.iter().map(|(name, value)| format!("{name}={value}")).collect();
    sorted.sort();
    let canonical_headers: String = signed.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let path = endpoint.path(key);
    let canonical =
        format!("{method}\n{path}\n{}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD", sorted.join("&"), names.join(";"));
    let to_sign = format!("{ALGORITHM}\n{stamp}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let signature = hex::encode(hmac(&signing_key(&credentials.access_key_secret, &date, &endpoint.region), &to_sign));
    query.push(("X-Amz-Signature", signature));
    let query: Vec<String> = query.iter().map(|(name, value)| format!("{name}={value}")).collect();
    format!("{}{path}?{}", endpoint.origin, query.join("&"))
}

/// The form fields of a browser upload by POST (the `file` goes last) to `endpoint`'s bucket:
/// the key and content type fixed, the size within `1..=max_bytes`, enforced against the signed
/// policy.
#[allow(clippy::too_many_arguments)]
pub fn post_policy(
    credentials: &Credentials,
    endpoint: &Endpoint,
    key: &str,
    content_type: &str,
    max_bytes: u64,
    at: DateTime<Utc>,
    expires_in: std::time::Duration,
) -> Vec<(&'static str, String)> {
    let (stamp, date) = stamps(at);
    let credential = format!("{}/{date}/{}/s3/aws4_request", credentials.access_key_id, endpoint.region);
    let mut conditions = vec![
        format!("{{\"bucket\":{}}}", json_text(&endpoint.bucket)),
        format!("[\"eq\",\"$key\",{}]", json_text(key)),
        format!("[\"eq\",\"$Content-Type\",{}]", json_text(content_type)),
        format!("[\"content-length-range\",1,{max_bytes}]"),
        format!("{{\"x-amz-algorithm\":{}}}", json_text(ALGORITHM)),
        format!("{{\"x-amz-credential\":{}}}", json_text(&credential)),
        format!("{{\"x-amz-date\":{}}}", json_text(&stamp)),
    ];
    if let Some(token) = &credentials.security_token {
        conditions.push(format!("{{\"x-amz-security-token\":{}}}", json_text(token)));
    }
    let policy = encoded_policy(at, expires_in, &conditions);
    let signature = hex::encode(hmac(&signing_key(&credentials.access_key_secret, &date, &endpoint.region), &policy));
    let mut fields = vec![
        ("key", key.to_string()),
        ("Content-Type", content_type.to_string()),
        ("policy", policy),
        ("x-amz-algorithm", ALGORITHM.to_string()),
        ("x-amz-credential", credential),
        ("x-amz-date", stamp),
    ];
    if let Some(token) = &credentials.security_token {
        fields.push(("x-amz-security-token", token.clone()));
    }
    fields.push(("x-amz-signature", signature));
    fields
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;

    use super::*;

    fn example() -> (Credentials, Endpoint) {
        let credentials = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            access_key_secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            security_token: None,
        };
        let endpoint = Endpoint {
            origin: "https://examplebucket.s3.amazonaws.com".into(),
            region: "us-east-1".into(),
            bucket: "examplebucket".into(),
            path_style: false,
        };
        (credentials, endpoint)
    }

    /// The example of "Authenticating Requests: Using Query Parameters": GET test.txt for a day.
    #[test]
    fn the_documented_presigned_url() {
        let (credentials, endpoint) = example();
        let at = "2013-05-24T00:00:00Z".parse().unwrap();
        let url = presign(&credentials, &endpoint, "test.txt", "GET", &[], at, Duration::from_secs(86_400));
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// A POST policy: the policy decodes to the conditions asked, and the signature is the
    /// documented key's HMAC of it (the key checked by the presigned example above).
    #[test]
    fn a_post_policy_fixes_the_key_the_type_and_the_size() {
        let (mut credentials, mut endpoint) = example();
        credentials.security_token = Some("session/token".into());
        endpoint.path_style = true;
        let at: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let fields = post_policy(
            &credentials,
            &endpoint,
            "uploads/u1/a.png",
            "image/png",
            5_000_000,
            at,
            Duration::from_secs(600),
        );
        let field =
            |name: &str| fields.iter().find(|(field, _)| *field == name).map(|(_, value)| value.clone()).unwrap();
        let policy: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(field("policy")).unwrap())
                .unwrap();
        assert_eq!(policy["expiration"], "2026-12-06T12:10:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        for expected in [
            serde_json::json!(["eq", "$key", "uploads/u1/a.png"]),
            serde_json::json!(["eq", "$Content-Type", "image/png"]),
            serde_json::json!(["content-length-range", 1, 5_000_000]),
            serde_json::json!({"x-amz-security-token": "session/token"}),
            serde_json::json!({"bucket": "examplebucket"}),
        ] {
            assert!(conditions.contains(&expected), "{expected} in {conditions:?}");
        }
        let key = signing_key(&credentials.access_key_secret, "20261206", "us-east-1");
        assert_eq!(field("x-amz-signature"), hex::encode(hmac(&key, &field("policy"))));
        assert_eq!(fields.last().unwrap().0, "x-amz-signature");
    }
}
