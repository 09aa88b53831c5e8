//! Alibaba Cloud OSS's signature V4, `OSS4-HMAC-SHA256` (help.aliyun.com/en/oss/developer-reference/
//! signature-version-4-recommend), for what the browser and the model are handed: a presigned URL
//! (`x-oss-*` query parameters) and a POST policy (a form the browser uploads with).
//!
//! ```text
//! SigningKey   = HMAC(HMAC(HMAC(HMAC("aliyun_v4" + secret, yyyymmdd), region), "oss"), "aliyun_v4_request")
//! Scope        = yyyymmdd/region/oss/aliyun_v4_request
//! Canonical    = METHOD \n /bucket/key (URI-encoded, `/` kept) \n sorted query \n signed headers
//!                (`name:value\n`, lower-cased, sorted: x-oss-*, content-type, content-md5 and the
//!                additional ones) \n additional header names (`;`) \n UNSIGNED-PAYLOAD
//! StringToSign = OSS4-HMAC-SHA256 \n yyyymmddThhmmssZ \n Scope \n hex(sha256(Canonical))
//! Signature    = hex(HMAC(SigningKey, StringToSign)); for a POST policy, of base64(policy)
//! ```
//!
//! The canonical URI names the bucket, not the host, so a custom domain (which buckets opened
//! since 2025-03-20 need for browser uploads) signs alike. The unit tests reproduce vectors made
//! with Alibaba Cloud's official Python SDK signer (`docs/research/images-on-oss/`).

use chrono::{DateTime, Utc};
use percent_encoding::utf8_percent_encode;
use sha2::{Digest, Sha256};

use super::{PATH, encode, encoded_policy, hmac, json_text, stamps};
use crate::moderation::acs3::Credentials;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";

/// Where objects are: the bucket, its region (`cn-hangzhou`) and the host URLs name (the bucket's
/// endpoint, `bucket.oss-cn-hangzhou.aliyuncs.com`, or a custom domain bound to it).
#[derive(Clone, Debug)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    pub host: String,
}

fn signing_key(secret: &str, date: &str, region: &str) -> Vec<u8> {
    super::signing_key(&format!("aliyun_v4{secret}"), date, region, "oss", "aliyun_v4_request")
}

/// A URL that lets its holder `method` the object `key` until `expires_in` after `at`, without
/// credentials. `headers` (`content-type`…) must then be sent as signed; `additional` names
/// further headers to sign (`content-length`: the upload must have exactly that size).
#[allow(clippy::too_many_arguments)]
pub fn presign(
    credentials: &Credentials,
    bucket: &Bucket,
    key: &str,
    method: &str,
    headers: &[(&str, &str)],
    additional: &[&str],
    at: DateTime<Utc>,
    expires_in: std::time::Duration,
) -> String {
    let (stamp, date) = stamps(at);
    let scope = format!("{date}/{}/oss/aliyun_v4_request", bucket.region);
    let mut additional: Vec<String> = additional.iter().map(|name| name.to_ascii_lowercase()).collect();
    additional.sort();
    // The query, in the order the URL carries it (the signature is over its sorted form).
    let mut query: Vec<(&str, String)> = vec![
        ("x-oss-signature-version", ALGORITHM.to_string()),
        ("x-oss-date", stamp.clone()),
        ("x-oss-expires", expires_in.as_secs().to_string()),
        ("x-oss-credential", encode(&format!("{}/{scope}", credentials.access_key_id))),
    ];
    if let Some(token) = &credentials.security_token {
        query.push(("x-oss-security-token", encode(token)));
    }
    if !additional.is_empty() {
        query.push(("x-oss-additional-headers", encode(&additional.join(";"))));
    }
    let mut sorted: Vec<String> = query.iter().map(|(name, value)| format!("{name}={value}")).collect();
    sorted.sort();
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .filter(|(name, _)| {
            name.starts_with("x-oss-") || name == "content-type" || name == "content-md5" || additional.contains(name)
        })
        .collect();
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let path = utf8_percent_encode(&format!("/{}/{key}", bucket.name), PATH).to_string();
    let canonical = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD",
        sorted.join("&"),
        additional.join(";")
    );
    let to_sign = format!("{ALGORITHM}\n{stamp}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let signature = hex::encode(hmac(&signing_key(&credentials.access_key_secret, &date, &bucket.region), &to_sign));
    query.push(("x-oss-signature", signature));
    let query: Vec<String> = query.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let object = utf8_percent_encode(key, PATH);
    format!("https://{}/{object}?{}", bucket.host, query.join("&"))
}

/// The form fields of a browser upload by POST (besides the `file`, which goes last): the
/// object's key and content type are fixed, and its size must be within `1..=max_bytes`, all
/// enforced by OSS against the signed policy.
#[allow(clippy::too_many_arguments)]
pub fn post_policy(
    credentials: &Credentials,
    bucket: &Bucket,
    key: &str,
    content_type: &str,
    max_bytes: u64,
    at: DateTime<Utc>,
    expires_in: std::time::Duration,
) -> Vec<(&'static str, String)> {
    let (stamp, date) = stamps(at);
    let credential = format!("{}/{date}/{}/oss/aliyun_v4_request", credentials.access_key_id, bucket.region);
    // Written out, not built as a map: the signature is over these exact bytes.
    let mut conditions = vec![
        format!("{{\"bucket\":{}}}", json_text(&bucket.name)),
        format!("{{\"x-oss-signature-version\":{}}}", json_text(ALGORITHM)),
        format!("{{\"x-oss-credential\":{}}}", json_text(&credential)),
        format!("{{\"x-oss-date\":{}}}", json_text(&stamp)),
    ];
    if let Some(token) = &credentials.security_token {
        conditions.push(format!("{{\"x-oss-security-token\":{}}}", json_text(token)));
    }
    conditions.push(format!("[\"content-length-range\",1,{max_bytes}]"));
    conditions.push(format!("[\"eq\",\"$key\",{}]", json_text(key)));
    conditions.push(format!("[\"eq\",\"$Content-Type\",{}]", json_text(content_type)));
    let policy = encoded_policy(at, expires_in, &conditions);
    let signature = hex::encode(hmac(&signing_key(&credentials.access_key_secret, &date, &bucket.region), &policy));
    let mut fields = vec![
        ("key", key.to_string()),
        ("Content-Type", content_type.to_string()),
        ("policy", policy),
        ("x-oss-signature-version", ALGORITHM.to_string()),
        ("x-oss-credential", credential),
        ("x-oss-date", stamp),
        ("x-oss-signature", signature),
    ];
    if let Some(token) = &credentials.security_token {
        fields.push(("x-oss-security-token", token.clone()));
    }
    fields
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::*;

    /// Vectors made with the official `alibabacloud_oss_v2` signer (`gen_vectors.py`).
    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../../../docs/research/images-on-oss/oss_v4_vectors.json")).unwrap()
    }

    fn credentials(token: bool) -> Credentials {
        Credentials {
            access_key_id: "ak".into(),
            access_key_secret: "sk".into(),
            security_token: token.then(|| "token/with+special=".into()),
        }
    }

    fn bucket() -> Bucket {
        Bucket {
            name: "bucket".into(),
            region: "cn-hangzhou".into(),
            host: "bucket.oss-cn-hangzhou.aliyuncs.com".into(),
        }
    }

    fn at() -> DateTime<Utc> {
        "2024-01-02T03:04:05Z".parse().unwrap()
    }

    #[test]
    fn presigned_urls_match_the_official_signer() {
        let vectors = vectors();
        let ten_minutes = Duration::from_secs(600);
        let url = |name: &str| vectors[name]["url"].as_str().unwrap().to_string();
        let get = presign(&credentials(false), &bucket(), "uploads/u1/a b.png", "GET", &[], &[], at(), ten_minutes);
        assert_eq!(get, url("presign_get_no_token"));
        let get = presign(&credentials(true), &bucket(), "uploads/u1/a b.png", "GET", &[], &[], at(), ten_minutes);
        assert_eq!(get, url("presign_get_token"));
        let typed = [("Content-Type", "image/png")];
        let put = presign(&credentials(true), &bucket(), "uploads/u1/a b.png", "PUT", &typed, &[], at(), ten_minutes);
        assert_eq!(put, url("presign_put_ct_token"));
        let sized = [("Content-Type", "image/png"), ("content-length", "12345")];
        let put = presign(
            &credentials(true),
            &bucket(),
            "uploads/u1/abc.png",
            "PUT",
            &sized,
            &["content-length"],
            at(),
            ten_minutes,
        );
        assert_eq!(put, url("presign_put_ct_len_token"));
    }

    #[test]
    fn a_post_policy_matches_the_official_signer() {
        let vectors = vectors();
        let expected = &vectors["post_policy_v4"];
        let fields = post_policy(
            &credentials(true),
            &bucket(),
            "uploads/u1/abc.png",
            "image/png",
            10_485_760,
            at(),
            Duration::from_secs(600),
        );
        let field = |name: &str| fields.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_str());
        assert_eq!(field("policy"), expected["policy_b64"].as_str());
        assert_eq!(field("x-oss-signature"), expected["x-oss-signature"].as_str());
        assert_eq!(field("x-oss-security-token"), Some("token/with+special="));
        assert_eq!((field("key"), field("Content-Type")), (Some("uploads/u1/abc.png"), Some("image/png")));
    }

    #[test]
    fn a_changed_key_or_time_signs_differently() {
        let ten_minutes = Duration::from_secs(600);
        let one = presign(&credentials(true), &bucket(), "uploads/u1/a.png", "GET", &[], &[], at(), ten_minutes);
        let other = presign(&credentials(true), &bucket(), "uploads/u2/a.png", "GET", &[], &[], at(), ten_minutes);
        let later = presign(
            &credentials(true),
            &bucket(),
            "uploads/u1/a.png",
            "GET",
            &[],
            &[],
            at() + chrono::Duration::seconds(1),
            ten_minutes,
        );
        let signature = |url: &str| url.rsplit("x-oss-signature=").next().unwrap().to_string();
        assert_ne!(signature(&one), signature(&other));
        assert_ne!(signature(&one), signature(&later));
    }
}
