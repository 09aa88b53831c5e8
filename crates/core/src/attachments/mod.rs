//! Pictures a person attaches to a message (issue 27). The browser asks for an upload form
//! (`POST /api/attachments`: the type and size it will send), uploads the picture straight to
//! the bucket with it, then sends the message naming the picture; the server checks the object
//! (there, its real type by its first bytes, its size) before the turn is accepted
//! ([`checked`]), and the model sees it through a short-lived link. Served by the `chat`
//! function.
//!
//! A picture counts against its owner's storage quota ([`quota`]) from the moment its form is
//! issued; it is deleted (the object too, [`forget`]) with its conversation or account, or
//! alone before it is sent. Where pictures are kept is [`crate::storage`]'s business; the local
//! directory's routes are in [`local`].

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    config::{MAX_PICTURES_PER_MESSAGE, StorageConfig},
    entities::attachment,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, routes::api_routes},
    ids::new_id,
    state::AppState,
    storage::Store,
};

pub mod checked;
pub mod forget;
pub mod local;
pub mod quota;
pub mod sent;
pub mod tongue;

pub use checked::{Ready, ready};

pub fn routes() -> ApiRoutes {
    api_routes![request_upload, delete_unsent].merge(local::routes())
}

/// The picture types accepted: what browsers show and the vision models read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum PictureType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
}

impl PictureType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    /// Whether `bytes` (a file's first twelve or more) begin as this type's files do.
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Self::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Webp => bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        }
    }
}

/// What a picture is for: any message's, or the TCM adviser's tongue photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    #[default]
    Chat,
    Tongue,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Tongue => "tongue",
        }
    }
}

/// `POST /api/attachments` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    /// `image/jpeg`, `image/png` or `image/webp`.
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// The file's size in bytes (at most `ATTACHMENT_MAX_BYTES`): the upload may be no larger.
    #[schema(example = 1_204_331)]
    pub size: u64,
    #[serde(default)]
    pub purpose: Purpose,
}

/// A picture of the caller's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: String,
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// Bytes: the most the upload may have until the picture is sent, then its size.
    pub size: u64,
    pub purpose: Purpose,
    /// Where the picture is shown, until `urlExpiresAt` (a link signed for the caller; on the
    /// local directory, a path of this API's).
    pub url: String,
    pub url_expires_at: DateTime<Utc>,
    /// What the vision model saw in a tongue photo (`null`: not a tongue photo, or not observed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observations: Option<tongue::TongueObservations>,
}

/// One field of an upload form, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// How to upload: `POST url` as `multipart/form-data` with `fields`, in order, and then the
/// picture as the field `file` (last). The bucket refuses another key, type or size, and
/// anything after `expiresAt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    /// The bucket's address, or a path of this API's (the local directory).
    pub url: String,
    pub fields: Vec<FormField>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadResponse {
    pub attachment: AttachmentView,
    pub upload: UploadTarget,
}

/// What the chat page is told of pictures (in `GET /api/chat/about`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PicturesOffer {
    /// The largest picture (`ATTACHMENT_MAX_BYTES`).
    pub max_bytes: u64,
    /// The most pictures one message may carry.
    pub max_per_message: usize,
    pub types: Vec<PictureType>,
    /// The bytes one person's pictures may take in all (`ATTACHMENT_QUOTA_BYTES`).
    pub quota_bytes: u64,
}

/// Where a picture is kept once sent: beside its upload key, under `sent/`, a key no upload form
/// is ever issued for (forms name `{prefix}{id}.{ext}` exactly), so what was checked is what
/// stays, however long the form that uploaded it is still valid.
pub fn sent_key(upload_key: &str) -> String {
    match upload_key.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/sent/{file}"),
        None => format!("sent/{upload_key}"),
    }
}

/// Pictures are offered: there is somewhere to keep them and a model to see them.
pub fn offered(state: &AppState) -> Option<(&Store, &StorageConfig)> {
    let vision = state.config.llm.as_ref().and_then(|llm| llm.vision_model.as_ref());
    vision?;
    Some((state.storage.as_ref()?, state.config.storage.as_ref()?))
}

pub fn offer(state: &AppState) -> Option<PicturesOffer> {
    offered(state).map(|(_, config)| PicturesOffer {
        max_bytes: config.max_bytes,
        max_per_message: MAX_PICTURES_PER_MESSAGE,
        types: vec![PictureType::Jpeg, PictureType::Png, PictureType::Webp],
        quota_bytes: config.quota_bytes,
    })
}

fn not_offered() -> AppError {
    AppError::Unavailable {
        code: "pictures_not_offered",
        message: "this server does not take pictures (no storage, or no model that sees them)".into(),
    }
}

/// The offer, or 503 `pictures_not_offered`.
pub fn require(state: &AppState) -> AppResult<(&Store, &StorageConfig)> {
    offered(state).ok_or_else(not_offered)
}

/// A picture's view, with a link valid from `now` for `URL_TTL`.
pub fn view(store: &Store, config: &StorageConfig, row: &attachment::Model, now: DateTime<Utc>) -> AttachmentView {
    AttachmentView {
        id: row.id.clone(),
        content_type: row.content_type.clone(),
        size: u64::try_from(row.size_bytes).unwrap_or_default(),
        purpose: if row.purpose == Purpose::Tongue.as_str() { Purpose::Tongue } else { Purpose::Chat },
        url: store.read_url(&row.object_key, now, config.url_ttl),
        url_expires_at: now + config.url_ttl,
        observations: tongue::of_row(row),
    }
}

/// Ask for an upload form for one picture: its type and size are checked and its bytes
/// counted against the caller's storage quota now; the form lets the browser upload exactly
/// that (the key is the server's choice) until it expires. Send the picture's `id` with a
/// message (`attachments` of `POST /api/chat`) once it is uploaded.
#[utoipa::path(
    post,
    path = "/api/attachments",
    tag = "attachments",
    security(("bearer" = [])),
    request_body = UploadRequest,
    responses(
        (status = 201, description = "The picture's id and its upload form", body = UploadResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`storage_full`: the caller's pictures take `ATTACHMENT_QUOTA_BYTES` already (delete conversations with pictures, or unsent pictures); as for a chat turn: `terms_required`, `chat_restricted`, `email_unverified`; `consent_required` (a tongue photo without the health consent)", body = ErrorBody),
        (status = 422, description = "`unsupported_picture_type`, `picture_too_large`, `empty_picture`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: as many forms as `RATE_LIMIT_ATTACHMENT_UPLOADS` allows", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`pictures_not_offered`", body = ErrorBody),
    )
)]
async fn request_upload(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(request): AppJson<UploadRequest>,
) -> AppResult<(StatusCode, Json<UploadResponse>)> {
    let (store, config) = require(&state)?;
    // Whoever may not chat now may not upload for it either.
    crate::consent::terms_gate(&state.config.trust, &auth.user)?;
    crate::reports::restriction_gate(state.clock.now(), &auth.user)?;
    crate::chat::verified(&state, &auth.user)?;
    if request.purpose == Purpose::Tongue {
        crate::consent::health_gate(&state, &auth.user, Some(crate::entities::ConversationKind::Tcm), None).await?;
    }
    let kind = PictureType::parse(&request.content_type).ok_or_else(|| {
        AppError::validation("unsupported_picture_type", "a picture must be a JPEG, PNG or WebP image")
    })?;
    if request.size == 0 {
        return Err(AppError::validation("empty_picture", "the picture is empty"));
    }
    if request.size > config.max_bytes {
        return Err(AppError::validation(
            "picture_too_large",
            format!("a picture may have at most {} bytes; this one has {}", config.max_bytes, request.size),
        ));
    }
    let now = state.clock.now();
    let id = new_id();
    let upload_key = format!("{}{id}.{}", config.prefix, kind.extension());
    let row = attachment::Model {
        object_key: upload_key.clone(),
        upload_key,
        form_expires_at: now + config.url_ttl,
        upload_deleted_at: None,
        claimed_until: None,
        id,
        user_id: auth.user.id.clone(),
        conversation_id: None,
        message_id: None,
        content_type: kind.mime().to_string(),
        size_bytes: i64::try_from(request.size).unwrap_or(i64::MAX),
        position: 0,
        purpose: request.purpose.as_str().to_string(),
        observations: None,
        created_at: now,
        attached_at: None,
        deleted_at: None,
    };
    quota::reserve(&state, config, &row).await?;
    let form = store.upload_form(&row.upload_key, kind.mime(), request.size, now, config.url_ttl);
    let upload = UploadTarget {
        url: form.url,
        fields: form.fields.into_iter().map(|(name, value)| FormField { name: name.to_string(), value }).collect(),
        expires_at: now + config.url_ttl,
    };
    Ok((StatusCode::CREATED, Json(UploadResponse { attachment: view(store, config, &row, now), upload })))
}

/// Delete a picture not sent with a message yet (removed before sending): the object too, and
/// its bytes no longer count. A sent picture goes with its conversation.
#[utoipa::path(
    delete,
    path = "/api/attachments/{id}",
    tag = "attachments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The picture's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such picture of the caller's", body = ErrorBody),
        (status = 409, description = "`attachment_sent`: it was sent with a message; delete the conversation", body = ErrorBody),
    )
)]
async fn delete_unsent(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<StatusCode> {
    forget::unsent(&state, &auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
