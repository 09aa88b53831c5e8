//! The local directory's two routes (`STORAGE=local`, the embedded default of `make dev`): where
//! the browser posts a picture with its signed form, and where a signed link reads it. They act
//! as the bucket does: the form's signature is the credential (no session), it fixes the key,
//! the type and the largest size, and it expires. With another backend they answer 404.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppQuery, routes::api_routes},
    state::AppState,
    storage::local::LocalDir,
};

pub fn routes() -> ApiRoutes {
    api_routes![local_upload, local_file]
}

/// The largest upload body the route reads: the largest picture `ATTACHMENT_MAX_BYTES` allows
/// and the form's fields around it. (The general request limit does not apply to this route:
/// `http::refuse_oversized_bodies`.)
pub const UPLOAD_BODY_LIMIT: u64 = 20_000_000 + 64 * 1024;
/// The largest form field other than the file.
const FIELD_LIMIT: u64 = 4 * 1024;
/// The fields of a form as issued, before the file: nothing else is read.
const FIELDS: [&str; 5] = ["key", "Content-Type", "max", "expires", "signature"];
/// The longest an upload may take (a stalled one is dropped, its partial file deleted).
const UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(120);

fn local(state: &AppState) -> AppResult<&LocalDir> {
    state.storage.as_ref().and_then(|store| store.local()).ok_or(AppError::NotFound("upload target"))
}

fn refused(message: &str) -> AppError {
    AppError::forbidden("upload_refused", message.to_string())
}

/// The form of `POST /api/attachments/local-upload`: the fields of the upload form, then the
/// picture.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the body is read as a stream
struct LocalUploadForm {
    key: String,
    #[schema(rename = "Content-Type")]
    content_type: String,
    max: String,
    expires: String,
    signature: String,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The local directory's upload target (`STORAGE=local` only): post the fields of the upload
/// form, then the picture as `file`. Like a bucket's, it takes only what the form's signature
/// allows, until it expires.
#[utoipa::path(
    post,
    path = "/api/attachments/local-upload",
    tag = "attachments",
    request_body(content = LocalUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "`invalid_form`: not a form as issued, or no file", body = ErrorBody),
        (status = 403, description = "`upload_refused`: the signature does not hold, or the form expired", body = ErrorBody),
        (status = 404, description = "Pictures are not kept in a local directory here", body = ErrorBody),
        (status = 413, description = "Larger than the form allows", body = ErrorBody),
    )
)]
async fn local_upload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> AppResult<StatusCode> {
    let dir = local(&state)?;
    tokio::time::timeout(UPLOAD_TIME, receive(&state, dir, headers, body)).await.unwrap_or_else(|_| {
        Err(AppError::BadRequest { code: "upload_too_slow", message: "the upload took too long".into() })
    })
}

/// The form of `body`, read field by field: the issued fields (small, once each), then the file,
/// written aside and renamed once whole (a half-written picture is never seen, and one dropped
/// midway, by the client or the timeout, leaves nothing).
async fn receive(state: &AppState, dir: &LocalDir, headers: HeaderMap, body: Body) -> AppResult<StatusCode> {
    let invalid = |message: &str| AppError::BadRequest { code: "invalid_form", message: message.to_string() };
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| invalid("expected multipart/form-data"))?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(UPLOAD_BODY_LIMIT)
            .per_field(FIELD_LIMIT)
            .for_field("file", UPLOAD_BODY_LIMIT),
    );
    let mut form = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut fields: Vec<(String, String)> = Vec::new();
    let broken = |err: multer::Error| match err {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => AppError::PayloadTooLarge,
        err => AppError::BadRequest { code: "invalid_form", message: format!("the form is broken: {err}") },
    };
    while let Some(mut field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            if !FIELDS.contains(&name.as_str()) || fields.iter().any(|(seen, _)| *seen == name) {
                return Err(invalid("the form has a field it was not issued with"));
            }
            fields.push((name, field.text().await.map_err(broken)?));
            continue;
        }
        let value = |name: &str| fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.clone());
        let allowed = dir
            .allowed(value, state.clock.now())
            .ok_or_else(|| refused("the form's signature does not hold, or it expired"))?;
        let path = dir.path(&allowed.key).ok_or_else(|| refused("not a key of this server's"))?;
        let parent = path.parent().ok_or_else(|| AppError::internal("a key's directory"))?;
        tokio::fs::create_dir_all(parent).await.map_err(|err| AppError::internal(format!("{err}")))?;
        let partial = parent.join(format!(".partial-{}", uuid::Uuid::new_v4()));
        // Deleted however this ends but by the rename (an error, a timeout, a client gone).
        let guard = PartialFile(Some(partial.clone()));
        let written = async {
            let mut file =
                tokio::fs::File::create(&partial).await.map_err(|err| AppError::internal(format!("{err}")))?;
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                size += chunk.len() as u64;
                if size > allowed.max_bytes {
                    return Err(AppError::PayloadTooLarge);
                }
                file.write_all(&chunk).await.map_err(|err| AppError::internal(format!("{err}")))?;
            }
            file.flush().await.map_err(|err| AppError::internal(format!("{err}")))?;
            if size == 0 {
                return Err(invalid("the file is empty"));
            }
            Ok(())
        }
        .await;
        written?;
        tokio::fs::rename(&partial, &path).await.map_err(|err| AppError::internal(format!("{err}")))?;
        guard.keep();
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(invalid("the form has no `file`"))
}

/// A partial upload's file, deleted when dropped unless kept.
struct PartialFile(Option<std::path::PathBuf>);

impl PartialFile {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `GET /api/attachments/local-file` query.
#[derive(Debug, Deserialize, IntoParams)]
struct FileQuery {
    key: String,
    expires: String,
    signature: String,
}

/// A picture in the local directory (`STORAGE=local` only), by a link signed until it expires.
#[utoipa::path(
    get,
    path = "/api/attachments/local-file",
    tag = "attachments",
    params(FileQuery),
    responses(
        (status = 200, description = "The picture", content_type = "image/*"),
        (status = 403, description = "`link_refused`: the link's signature does not hold, or it expired", body = ErrorBody),
        (status = 404, description = "No such picture", body = ErrorBody),
    )
)]
async fn local_file(State(state): State<AppState>, AppQuery(query): AppQuery<FileQuery>) -> AppResult<Response> {
    let dir = local(&state)?;
    if !dir.may_read(&query.key, &query.expires, &query.signature, state.clock.now()) {
        return Err(AppError::forbidden("link_refused", "the link's signature does not hold, or it expired"));
    }
    let path = dir.path(&query.key).ok_or(AppError::NotFound("picture"))?;
    // At most `ATTACHMENT_MAX_BYTES` (20 MB at most), and only in `make dev`: read whole.
    let bytes = tokio::fs::read(&path).await.map_err(|_| AppError::NotFound("picture"))?;
    let kind = match path.extension().and_then(|extension| extension.to_str()) {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    };
    Ok(([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "private, max-age=600")], bytes).into_response())
}
