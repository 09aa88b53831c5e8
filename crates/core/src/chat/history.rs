//! The caller's conversations: list (newest first, cursor-paginated), read the branch shown
//! (paginated backwards from its last message, each message with its versions), rename,
//! delete. Other users' conversations are 404.

use axum::{Json, extract::State, http::StatusCode};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::{self, Action},
    auth::AuthUser,
    chat::{
        feedback::{self, FeedbackView},
        tree::{Tree, Versions},
    },
    entities::{
        Conversation, ConversationKind, Message, MessageRole, ReplyStream, TitleSource, Withheld, conversation,
        message, reply_stream,
    },
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, AppQuery, ClientMeta, routes::api_routes},
    safety::RedFlagCard,
    state::AppState,
};

/// The history routes, part of the `chat` function.
pub fn routes() -> ApiRoutes {
    api_routes![list, get, rename, delete]
}

const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;
pub const MAX_TITLE_CHARS: usize = 120;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<conversation::Model> for ConversationView {
    fn from(model: conversation::Model) -> Self {
        Self {
            id: model.id,
            kind: model.kind,
            title: model.title,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    /// `user` or `assistant`.
    pub role: MessageRole,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// The message before this one in the branch (`null` for the first, including an edited
    /// first message; as stored, a first message names itself).
    pub parent_id: Option<String>,
    /// A reply the user stopped, saved as far as it got.
    pub stopped: bool,
    /// Brought along by the client when it opened the conversation (a history it kept
    /// itself), not written here: such a "reply" is not the model's and cannot be rated.
    pub from_client: bool,
    /// `blocked`: moderation refused it. A message of the user's was not sent to the assistant
    /// (its text is shown to its author); a reply was not shown, and its `content` is empty.
    /// `hidden`: an administrator hid the reply after a report (its `content` is empty).
    pub withheld: Option<Withheld>,
    /// The emergency card shown with this message of the user's (`null`: none).
    pub red_flag: Option<RedFlagCard>,
    /// How many versions exist at this point of the conversation (1 when never regenerated
    /// or edited).
    pub versions: u32,
    /// Which of them this is, from 1 (`< version/versions >`).
    pub version: u32,
    /// The ids of all the versions, oldest first: pass one to
    /// `POST /api/chat/conversations/{id}/switch` to show it.
    pub version_ids: Vec<String>,
    /// The caller's thumbs up or down on this reply (`null`: none given; always `null` on a
    /// user message).
    pub feedback: Option<FeedbackView>,
    /// The caller reported this reply (`POST …/report`).
    pub reported: bool,
    /// What the model thought before this reply (`null`: it did not think first, or the reply
    /// is withheld): shown folded; never sent back to the model.
    pub thinking: Option<super::ThinkingView>,
    /// The pictures sent with this message of the user's, each with a link valid for a while
    /// (ask for the conversation again for fresh links).
    #[serde(default)]
    pub attachments: Vec<crate::attachments::AttachmentView>,
}

impl MessageView {
    fn new(model: message::Model, parent_id: Option<String>, versions: Versions) -> Self {
        let hidden = model.hidden_from_its_user();
        Self {
            id: model.id,
            role: model.role,
            thinking: match (hidden, model.thinking) {
                (false, Some(content)) => Some(super::ThinkingView {
                    content,
                    ms: model.thinking_ms.and_then(|ms| u32::try_from(ms).ok()).unwrap_or_default(),
                }),
                _ => None,
            },
            content: if hidden { String::new() } else { model.content },
            created_at: model.created_at,
            parent_id,
            stopped: model.stopped,
            from_client: model.from_client,
            withheld: model.withheld,
            red_flag: None,
            versions: u32::try_from(versions.ids.len()).unwrap_or(u32::MAX),
            version: u32::try_from(versions.index + 1).unwrap_or(u32::MAX),
            version_ids: versions.ids,
            feedback: None,
            reported: false,
            attachments: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–100 (default 20 conversations, 50 messages).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationList {
    pub conversations: Vec<ConversationView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetail {
    pub conversation: ConversationView,
    /// The branch shown, oldest first: its last `limit` messages, or those before `cursor`.
    /// Other versions are reached through each message's `versionIds`.
    pub messages: Vec<MessageView>,
    /// Pass as `cursor` for the page of older messages; absent when there are none.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameRequest {
    /// 1–120 characters (surrounding spaces are trimmed).
    #[schema(min_length = 1, max_length = 120)]
    pub title: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationResponse {
    pub conversation: ConversationView,
}

/// The refusal of a cursor this API did not hand out (or whose message is gone).
fn invalid_cursor() -> AppError {
    AppError::bad_request("invalid_query", "`cursor` is not a cursor this API returned")
}

/// A keyset position: rows strictly after it in the listing order (time, then id, descending).
pub(super) struct Cursor {
    at: DateTime<Utc>,
    id: String,
}

impl Cursor {
    pub(super) fn encode(at: DateTime<Utc>, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
    }

    pub(super) fn decode(raw: &str) -> AppResult<Self> {
        let text = URL_SAFE_NO_PAD.decode(raw).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        let (micros, id) = text.as_deref().and_then(|text| text.split_once('|')).ok_or_else(invalid_cursor)?;
        let at = micros.parse().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(invalid_cursor)?;
        Ok(Self { at, id: id.to_string() })
    }

    /// `(time, id) < (cursor.at, cursor.id)`.
    pub(super) fn before(&self, time: impl ColumnTrait, id: impl ColumnTrait) -> Condition {
        Condition::any().add(time.lt(self.at)).add(Condition::all().add(time.eq(self.at)).add(id.lt(self.id.clone())))
    }
}

pub(super) fn page_size(limit: Option<u64>) -> AppResult<u64> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        limit @ 1..=MAX_PAGE => Ok(limit),
        _ => Err(AppError::bad_request("invalid_query", format!("`limit` must be between 1 and {MAX_PAGE}"))),
    }
}

pub(crate) async fn owned(state: &AppState, auth: &AuthUser, id: &str) -> AppResult<conversation::Model> {
    Conversation::find_by_id(id.to_string())
        .filter(conversation::Column::UserId.eq(&auth.user.id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("conversation"))
}

/// The caller's conversations, most recently active first.
#[utoipa::path(
    get,
    path = "/api/chat/conversations",
    tag = "chat",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of conversations", body = ConversationList))
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(query): AppQuery<PageQuery>,
) -> AppResult<Json<ConversationList>> {
    let limit = page_size(query.limit)?;
    let mut select = Conversation::find()
        .filter(conversation::Column::UserId.eq(&auth.user.id))
        .order_by_desc(conversation::Column::UpdatedAt)
        .order_by_desc(conversation::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = query.cursor.as_deref() {
        select =
            select.filter(Cursor::decode(cursor)?.before(conversation::Column::UpdatedAt, conversation::Column::Id));
    }
    let mut rows = select.all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|last| Cursor::encode(last.updated_at, &last.id))).flatten();
    Ok(Json(ConversationList { conversations: rows.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One conversation with a page of its messages (the newest, or those before `cursor`).
#[utoipa::path(
    get,
    path = "/api/chat/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), PageQuery),
    responses(
        (status = 200, description = "The conversation and messages, oldest first", body = ConversationDetail),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
    AppQuery(query): AppQuery<PageQuery>,
) -> AppResult<Json<ConversationDetail>> {
    let limit = page_size(query.limit.or(Some(50)))?;
    let conversation = owned(&state, &auth, &id).await?;
    let before = query.cursor.as_deref().map(message_cursor::decode).transpose()?;
    Ok(Json(detail(&state, conversation, limit, before.as_deref()).await?))
}

/// A conversation with a page of the branch shown: its last `limit` messages, or the `limit`
/// before message `before`.
pub(super) async fn detail(
    state: &AppState,
    conversation: conversation::Model,
    limit: u64,
    before: Option<&str>,
) -> AppResult<ConversationDetail> {
    let tree = Tree::load(&state.db, &conversation.id).await?;
    let end = match before {
        Some(id) => {
            let at = tree.find(id).ok_or_else(invalid_cursor)?;
            tree.parent(at)
        }
        None => tree.leaf(conversation.active_leaf_id.as_deref()),
    };
    let branch = end.map(|end| tree.branch(end)).unwrap_or_default();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page = &branch[branch.len().saturating_sub(limit)..];
    let next_cursor = (page.len() < branch.len()).then(|| message_cursor::encode(&tree.node(page[0]).id));
    let rows = tree.messages(&state.db, page).await?;
    let replies = rows.iter().filter(|(_, row)| row.role == MessageRole::Assistant).map(|(_, row)| row.id.clone());
    let replies: Vec<String> = replies.collect();
    let reported = crate::reports::reported_of(&state.db, &conversation.user_id, replies.clone()).await?;
    let mut feedback = feedback::of(&state.db, &conversation.user_id, replies).await?;
    let mut pictures =
        crate::attachments::sent::views_of(state, &rows.iter().map(|(_, row)| row.id.clone()).collect::<Vec<_>>())
            .await?;
    let messages = rows
        .into_iter()
        .map(|(index, row)| {
            let parent = tree.parent(index).map(|parent| tree.node(parent).id.clone());
            let given = feedback.remove(&row.id);
            let red_flag = row.red_flag.as_deref().and_then(|rule| RedFlagCard::of_rule(&state.config, rule));
            let reported = reported.contains(&row.id);
            let attachments = pictures.remove(&row.id).unwrap_or_default();
            let versions = tree.versions(index);
            MessageView { feedback: given, red_flag, reported, attachments, ..MessageView::new(row, parent, versions) }
        })
        .collect();
    Ok(ConversationDetail { conversation: conversation.into(), messages, next_cursor })
}

/// Cursors of a branch page: the oldest message returned; the next page ends before it.
mod message_cursor {
    use super::*;

    pub fn encode(id: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("m|{id}"))
    }

    pub fn decode(raw: &str) -> AppResult<String> {
        let text = URL_SAFE_NO_PAD.decode(raw).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        text.and_then(|text| text.strip_prefix("m|").map(str::to_string)).ok_or_else(invalid_cursor)
    }
}

/// Rename a conversation.
#[utoipa::path(
    patch,
    path = "/api/chat/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    request_body = RenameRequest,
    responses(
        (status = 200, description = "Renamed", body = ConversationResponse),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 422, description = "The title is empty or longer than 120 characters (`invalid_title`)", body = ErrorBody),
    )
)]
pub async fn rename(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<RenameRequest>,
) -> AppResult<Json<ConversationResponse>> {
    let title = request.title.trim();
    let length = title.chars().count();
    if length == 0 || length > MAX_TITLE_CHARS {
        return Err(AppError::validation(
            "invalid_title",
            format!("the title must have 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    let conversation = owned(&state, &auth, &id).await?;
    let mut active: conversation::ActiveModel = conversation.into();
    active.title = Set(title.to_string());
    // Chosen by the user: the model's title never replaces it.
    active.title_source = Set(TitleSource::User);
    let updated = active.update(&state.db).await?;
    Ok(Json(ConversationResponse { conversation: updated.into() }))
}

/// Delete a conversation and its messages.
#[utoipa::path(
    delete,
    path = "/api/chat/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
) -> AppResult<StatusCode> {
    let conversation = owned(&state, &auth, &id).await?;
    // A deadlock with a turn in it (at another instance: both lock its messages and its
    // pictures) rolls this back: it runs again, the turn having committed or given way.
    let attempts = crate::rate_limit::CHARGE_ATTEMPTS;
    crate::rate_limit::retry_transaction(attempts, || async {
        let txn = state.db.begin().await?;
        let ids = std::slice::from_ref(&conversation.id);
        crate::attachments::forget::mark_conversations(&txn, ids, state.clock.now()).await?;
        let deleted =
            Message::delete_many().filter(message::Column::ConversationId.eq(&conversation.id)).exec(&txn).await?;
        let message = format!(
            "deleted conversation {} ({:?}, {} messages)",
            conversation.id, conversation.kind, deleted.rows_affected
        );
        // A reply still streaming in it ends (its instance finds its row gone, as after a stop):
        // the model's request is closed and the slot free at once.
        ReplyStream::delete_many()
            .filter(reply_stream::Column::ConversationId.eq(&conversation.id))
            .filter(reply_stream::Column::UserId.eq(&auth.user.id))
            .exec(&txn)
            .await?;
        Conversation::delete_by_id(conversation.id.clone()).exec(&txn).await?;
        let entry = audit::Entry::new(Action::ConversationDelete, Some(&auth.user.id), message);
        audit::record(&txn, &state.clock, entry, &client).await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    crate::attachments::forget::purge(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
