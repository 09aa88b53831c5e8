//! Alibaba Cloud's API signature V3, `ACS3-HMAC-SHA256`, as "V3 request structure and
//! signature" documents it (help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature):
//!
//! ```text
//! CanonicalRequest = METHOD \n URI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(AccessKeySecret, StringToSign))
//! ```
//!
//! Signed are `host`, `content-type` and every `x-acs-*` header, names lower-cased and sorted;
//! names and values of the query are percent-encoded (RFC 3986: only `A-Za-z0-9-_.~` kept).
//! The unit test reproduces the worked example the documentation publishes.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// An AccessKey pair, or the temporary credentials of a role (Function Compute passes a
/// function's in `ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET/_SECURITY_TOKEN`).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A request to sign. `headers` are the `x-acs-*` ones besides those this module adds, and
/// `content-type` when there is a body.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    /// `/` for an RPC-style API.
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub action: &'a str,
    pub version: &'a str,
    /// UTC, `2023-10-26T10:22:32Z`; the server refuses a date more than 15 minutes off.
    pub date: &'a str,
    /// Unique per request (replay protection).
    pub nonce: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// What is kept unencoded: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Percent-encodes as the signature requires (a space is `%20`, never `+`).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// The headers to send, `Authorization` last: `host`, the `x-acs-*` ones and `content-type`.
pub fn signed_headers(credentials: &Credentials, request: &Request<'_>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.into()),
        ("x-acs-action".into(), request.action.into()),
        ("x-acs-content-sha256".into(), hex::encode(Sha256::digest(request.body))),
        ("x-acs-date".into(), request.date.into()),
        ("x-acs-signature-nonce".into(), request.nonce.into()),
        ("x-acs-version".into(), request.version.into()),
    ];
    if let Some(token) = &credentials.security_token {
        headers.push(("x-acs-security-token".into(), token.clone()));
    }
    if let Some(content_type) = request.content_type {
        headers.push(("content-type".into(), content_type.into()));
    }
    headers.sort();
    let canonical = canonical_request(request, &headers);
    let signature = sign(&credentials.access_key_secret, &canonical);
    let names = signed_names(&headers);
    let authorization =
        format!("{ALGORITHM} Credential={},SignedHeaders={names},Signature={signature}", credentials.access_key_id);
    headers.push(("authorization".into(), authorization));
    headers
}

/// The canonical request of `request` with these (sorted, lower-case) headers.
pub fn canonical_request(request: &Request<'_>, headers: &[(String, String)]) -> String {
    let mut query: Vec<(String, String)> =
        request.query.iter().map(|(name, value)| (encode(name), encode(value))).collect();
    query.sort();
    let query = query.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{}\n", value.trim())).collect();
    format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        request.path,
        signed_names(headers),
        hex::encode(Sha256::digest(request.body)),
    )
}

fn signed_names(headers: &[(String, String)]) -> String {
    headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";")
}

/// The signature of a canonical request.
pub fn sign(secret: &str, canonical_request: &str) -> String {
    let string_to_sign = format!("{ALGORITHM}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "fixed parameter values" example of the V3 signature documentation (an ECS
    /// `RunInstances` call): its canonical request, hashed canonical request and signature.
    #[test]
    fn reproduces_the_documented_example() {
        let credentials = Credentials {
            access_key_id: "YourAccessKeyId".into(),
            access_key_secret: "YourAccessKeySecret".into(),
            security_token: None,
        };
        let request = Request {
            method: "POST",
            host: "ecs.cn-shanghai.aliyuncs.com",
            path: "/",
            query: &[("RegionId", "cn-shanghai"), ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd")],
            action: "RunInstances",
            version: "2014-05-26",
            date: "2023-10-26T10:22:32Z",
            nonce: "3156853299f313e23d1673dc12e1703d",
            content_type: None,
            body: b"",
        };
        let headers = signed_headers(&credentials, &request);
        let expected_canonical = "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n\
host:ecs.cn-shanghai.aliyuncs.com\n\
x-acs-action:RunInstances\n\
x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
x-acs-date:2023-10-26T10:22:32Z\n\
x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
x-acs-version:2014-05-26\n\
\n\
host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let unsigned: Vec<_> = headers.iter().filter(|(name, _)| name != "authorization").cloned().collect();
        let canonical = canonical_request(&request, &unsigned);
        assert_eq!(canonical, expected_canonical);
        assert_eq!(
            hex::encode(Sha256::digest(canonical.as_bytes())),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        let authorization = &headers.last().unwrap().1;
        assert_eq!(
            authorization,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn encodes_as_rfc_3986() {
        assert_eq!(encode(" a!*'()~/中"), "%20a%21%2A%27%28%29~%2F%E4%B8%AD");
    }

    /// A security token is a signed header.
    #[test]
    fn a_security_token_is_signed() {
        let credentials = Credentials {
            access_key_id: "STS.id".into(),
            access_key_secret: "secret".into(),
            security_token: Some("token".into()),
        };
        let request = Request {
            method: "POST",
            host: "green-cip.cn-shanghai.aliyuncs.com",
            path: "/",
            query: &[],
            action: "TextModerationPlus",
            version: "2022-03-02",
            date: "2023-10-26T10:22:32Z",
            nonce: "n",
            content_type: Some("application/x-www-form-urlencoded"),
            body: b"Service=llm_query_moderation",
        };
        let headers = signed_headers(&credentials, &request);
        let authorization = &headers.last().unwrap().1;
        assert!(authorization.contains(
            "SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;\
x-acs-signature-nonce;x-acs-version,"
        ));
    }
}
