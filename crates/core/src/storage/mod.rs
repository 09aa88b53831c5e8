//! Object storage for what people attach (issue 27: pictures, the tongue photo): the browser
//! uploads straight to a private OSS bucket with a form the server signs, and the model reads
//! through short-lived signed URLs; nothing passes through Function Compute. The
//! signatures: OSS's own ([`oss_v4`], for production) and S3's ([`s3_v4`], which the tests'
//! S3-compatible server checks, and OSS's S3-compatible endpoint accepts). They differ in their
//! constants and in what they sign, not in how: the key derivation below serves both. The
//! design and what is verified are in `docs/research/images-on-oss/images-on-oss.md`.
//! [`Store`] puts them behind one interface, with the embedded default beside them ([`local`]:
//! a directory the app serves itself).

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

pub mod local;
pub mod oss_v4;
pub mod s3_v4;
mod store;

pub use store::{Head, StorageError, Store, UploadForm};

/// What stays unencoded in a URI (RFC 3986's unreserved characters); a path also keeps `/`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// A query value as both dialects sign it (a space is `%20`, `/` is `%2F`).
fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `HMAC(HMAC(HMAC(HMAC(secret, date), region), service), terminator)`: the signing key of both
/// dialects (`secret` already prefixed: `AWS4…`, `aliyun_v4…`).
fn signing_key(secret: &str, date: &str, region: &str, service: &str, terminator: &str) -> Vec<u8> {
    let key = hmac(secret.as_bytes(), date);
    let key = hmac(&key, region);
    let key = hmac(&key, service);
    hmac(&key, terminator)
}

/// A POST policy, base64-encoded as it is signed and sent: it expires `expires_in` after `at`
/// and holds `conditions` (JSON, written out by the caller: the signature is over these exact
/// bytes, so they are never rebuilt through a map that would reorder them).
fn encoded_policy(at: DateTime<Utc>, expires_in: std::time::Duration, conditions: &[String]) -> String {
    let expiration =
        (at + chrono::Duration::from_std(expires_in).unwrap_or_default()).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let policy = format!("{{\"expiration\":{},\"conditions\":[{}]}}", json_text(&expiration), conditions.join(","));
    base64::engine::general_purpose::STANDARD.encode(policy)
}

/// `value` as a JSON string.
fn json_text(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `yyyymmddThhmmssZ` and `yyyymmdd`.
fn stamps(at: DateTime<Utc>) -> (String, String) {
    (at.format("%Y%m%dT%H%M%SZ").to_string(), at.format("%Y%m%d").to_string())
}
