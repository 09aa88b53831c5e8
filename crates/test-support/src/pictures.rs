//! Pictures for the tests: small real files of each type, and the browser's two steps — ask the
//! app for an upload form, then post the picture with it (to the S3 server, or to the app's own
//! route for the local directory).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, s3::multipart};

/// A PNG's first bytes and some more (the server reads only the first bytes).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR some pixels of a tongue";
/// A JPEG's first bytes and some more.
pub const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0 a photo";
/// A WebP's first bytes and some more.
pub const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 a picture";

/// `POST /api/attachments` for `size` bytes of `content_type`: the response.
pub async fn ask(app: &TestApp, token: &str, content_type: &str, size: usize) -> crate::TestResponse {
    app.post("/api/attachments").token(token).json(&json!({"contentType": content_type, "size": size})).send().await
}

/// Posts `file` (sent as of `file_type`) with the upload form `upload` (an answer's `upload`):
/// the status and body of the bucket's (or the app's) answer.
pub async fn post_form(app: &TestApp, upload: &Value, file: &[u8], file_type: &str) -> (u16, String) {
    let url = upload["url"].as_str().expect("an upload url");
    if url.starts_with('/') {
        let (content_type, body) = multipart(&fields_of(upload), file, file_type);
        let response = app.post(url).body(&content_type, body).send().await;
        return (response.status.as_u16(), response.text());
    }
    post_to_bucket(upload, file, file_type).await
}

/// Posts `file` with the upload form `upload` to the bucket its URL names.
pub async fn post_to_bucket(upload: &Value, file: &[u8], file_type: &str) -> (u16, String) {
    let (content_type, body) = multipart(&fields_of(upload), file, file_type);
    let url = upload["url"].as_str().expect("an upload url");
    let client = app_core::outbound::https_client().expect("a client");
    let response = client.post(url).header("content-type", content_type).body(body).send().await.expect("the upload");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn fields_of(upload: &Value) -> Vec<(String, String)> {
    upload["fields"]
        .as_array()
        .expect("form fields")
        .iter()
        .map(|field| (field["name"].as_str().unwrap().to_string(), field["value"].as_str().unwrap().to_string()))
        .collect()
}

/// Asks for a form and uploads `file` as `content_type` with it: the picture's id.
pub async fn upload(app: &TestApp, token: &str, content_type: &str, file: &[u8]) -> String {
    let asked = ask(app, token, content_type, file.len()).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let answer = asked.json();
    let (status, body) = post_form(app, &answer["upload"], file, content_type).await;
    assert!((200..300).contains(&status), "the upload: {status} {body}");
    answer["attachment"]["id"].as_str().unwrap().to_string()
}

/// The bytes a picture's link (`url` of a view) reads: from the S3 server, or the app.
pub async fn fetch(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    if url.starts_with('/') {
        let response = app.get(url).send().await;
        return (response.status.as_u16(), response.body.to_vec());
    }
    if let Some(data) = url.strip_prefix("data:") {
        use base64::Engine;
        let encoded = data.split_once(";base64,").map(|(_, encoded)| encoded).unwrap_or_default();
        return (200, base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default());
    }
    let client = app_core::outbound::https_client().expect("a client");
    let response = client.get(url).send().await.expect("the download");
    (response.status().as_u16(), response.bytes().await.unwrap_or_default().to_vec())
}

/// Moves the app's clock past every upload form's expiry (and its grace) and runs the pictures'
/// housekeeping: what deletions left marked (their forms could still upload) goes now.
pub async fn after_the_forms_expired(app: &TestApp) {
    app.clock.advance(std::time::Duration::from_secs(20 * 60));
    app_core::attachments::forget::sweep(&app.state).await;
}
