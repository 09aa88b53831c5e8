//! The S3 signatures of `app_core::storage` against a real S3-compatible server of the tests'
//! own (`s3s-fs`, which checks signatures and POST-policy conditions as S3 does): a browser's
//! POST upload within its policy is stored, and one that breaks it (too big, another type,
//! another key) is refused and stores nothing; a presigned GET reads the object until it
//! expires, and not with a tampered signature; a presigned PUT must send the size and type it
//! was signed for.

use std::time::Duration;

use app_core::{
    moderation::acs3::Credentials,
    storage::s3_v4::{self, Endpoint},
};
use chrono::Utc;
use test_support::s3::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3Server, multipart};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n and some pixels";

fn credentials() -> Credentials {
    Credentials { access_key_id: S3_ACCESS_KEY.into(), access_key_secret: S3_SECRET_KEY.into(), security_token: None }
}

fn endpoint(server: &S3Server) -> Endpoint {
    Endpoint {
        origin: server.origin.clone(),
        region: S3_REGION.into(),
        bucket: server.bucket.clone(),
        path_style: true,
    }
}

fn client() -> reqwest::Client {
    app_core::outbound::https_client().unwrap()
}

async fn post(server: &S3Server, fields: &[(&str, String)], file: &[u8]) -> reqwest::Response {
    let fields: Vec<(String, String)> = fields.iter().map(|(name, value)| (name.to_string(), value.clone())).collect();
    let (content_type, body) = multipart(&fields, file, "image/png");
    client()
        .post(format!("{}/{}", server.origin, server.bucket))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Refused by the server, with `code` (S3's error code) in its answer.
async fn assert_refused(response: reqwest::Response, code: &str) {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_client_error() && body.contains(code), "{status}: {body}");
}

fn with(fields: &[(&'static str, String)], name: &str, value: &str) -> Vec<(&'static str, String)> {
    fields.iter().map(|(field, old)| (*field, if *field == name { value.to_string() } else { old.clone() })).collect()
}

#[tokio::test]
async fn a_post_upload_is_stored_only_within_its_policy() {
    let server = S3Server::start("attachments").await;
    let key = "uploads/u1/photo-1";
    let policy = s3_v4::post_policy(
        &credentials(),
        &endpoint(&server),
        key,
        "image/png",
        64,
        Utc::now(),
        Duration::from_secs(600),
    );

    // Too big for the policy: refused, nothing stored.
    assert_refused(post(&server, &policy, &[0u8; 65]).await, "EntityTooLarge").await;
    assert!(server.object(key).is_none());
    // Another type, or another key, than the ones signed: refused.
    assert_refused(post(&server, &with(&policy, "Content-Type", "image/gif"), PNG).await, "content-type").await;
    assert_refused(post(&server, &with(&policy, "key", "uploads/u2/photo-1"), PNG).await, "key").await;
    assert!(server.object("uploads/u2/photo-1").is_none());
    // A tampered signature: refused.
    assert_refused(post(&server, &with(&policy, "x-amz-signature", &"0".repeat(64)), PNG).await, "Signature").await;
    assert!(server.object(key).is_none());

    // Within it: stored as sent.
    let stored = post(&server, &policy, PNG).await;
    assert!(stored.status().is_success(), "{}: {}", stored.status(), stored.text().await.unwrap());
    assert_eq!(server.object(key).as_deref(), Some(PNG));
}

#[tokio::test]
async fn a_presigned_get_reads_until_it_expires_and_not_when_tampered() {
    let server = S3Server::start("attachments").await;
    let key = "uploads/u1/photo-2";
    std::fs::create_dir_all(server.root.join("attachments/uploads/u1")).unwrap();
    std::fs::write(server.root.join("attachments").join(key), PNG).unwrap();
    let url = s3_v4::presign(&credentials(), &endpoint(&server), key, "GET", &[], Utc::now(), Duration::from_secs(600));
    let read = client().get(&url).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.unwrap().as_ref(), PNG);

    let tampered = url.replace(key, "uploads/u1/photo-3");
    assert_refused(client().get(&tampered).send().await.unwrap(), "SignatureDoesNotMatch").await;
    let forged = format!("{}{}", &url[..url.len() - 1], if url.ends_with('0') { '1' } else { '0' });
    assert_refused(client().get(&forged).send().await.unwrap(), "SignatureDoesNotMatch").await;
    let long_ago = Utc::now() - chrono::Duration::hours(2);
    let expired =
        s3_v4::presign(&credentials(), &endpoint(&server), key, "GET", &[], long_ago, Duration::from_secs(60));
    assert_refused(client().get(&expired).send().await.unwrap(), "expired").await;
}

#[tokio::test]
async fn a_presigned_put_takes_only_the_size_and_type_it_was_signed_for() {
    let server = S3Server::start("attachments").await;
    let key = "uploads/u1/photo-4";
    let length = PNG.len().to_string();
    let signed = [("content-type", "image/png"), ("content-length", length.as_str())];
    let url =
        s3_v4::presign(&credentials(), &endpoint(&server), key, "PUT", &signed, Utc::now(), Duration::from_secs(600));

    let bigger = [PNG, b" and more"].concat();
    let bigger = client().put(&url).header("content-type", "image/png").body(bigger).send().await.unwrap();
    assert_refused(bigger, "SignatureDoesNotMatch").await;
    let retyped = client().put(&url).header("content-type", "image/gif").body(PNG.to_vec()).send().await.unwrap();
    assert_refused(retyped, "SignatureDoesNotMatch").await;
    assert!(server.object(key).is_none());

    let stored = client().put(&url).header("content-type", "image/png").body(PNG.to_vec()).send().await.unwrap();
    assert!(stored.status().is_success(), "{}: {}", stored.status(), stored.text().await.unwrap());
    assert_eq!(server.object(key).as_deref(), Some(PNG));
}
