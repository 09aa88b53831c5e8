//! `GET /api/admin/export`: every user, conversation, message and audit-log row (never a
//! password hash), as one JSON document (the seed's `{data:{users,conversations,messages,
//! auditLogs}}`) or as NDJSON (`?format=ndjson`, one `{"type","data"}` record per line).
//!
//! Both formats are streamed page by page (keyset pagination on the id), so memory stays flat
//! however large the tables are. Responses are gzip-compressed when the client accepts it
//! (the shared middleware): Function Compute refuses synchronous responses over 32 MB, and
//! compression plus `since`/`until` keep real exports under it.

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{AuditLogRecord, UserRecord};
use crate::{
    audit::{self, Action},
    db::Db,
    entities::{AuditLog, Conversation, Message, User, audit_log, conversation, message, user},
    error::{AppError, AppResult},
    http::ClientMeta,
    state::AppState,
};

/// Rows fetched per query.
const PAGE_SIZE: u64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Json,
    Ndjson,
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `ndjson`.
    #[serde(default)]
    #[param(inline)]
    pub format: ExportFormat,
    /// Only rows created at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only rows created before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRecord {
    pub id: String,
    pub user_id: String,
    /// `ORACLE` or `TCM`, as stored.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last message of the branch shown (`null`: the newest message).
    pub active_leaf_id: Option<String>,
    /// `message`, `model` or `user`: where the title came from.
    pub title_source: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    pub id: String,
    pub conversation_id: String,
    /// `USER` or `ASSISTANT`, as stored.
    pub role: String,
    pub content: String,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// The message this one follows in the conversation's tree: its own id for a first
    /// message (or an edited first message); `null` for a message from before versions, whose
    /// parent is the message written just before it.
    pub parent_id: Option<String>,
    /// A reply the user stopped, saved as far as it got.
    pub stopped: bool,
}

/// The JSON export (`format=json`): the seed's `{data:{…}}` shape. Documents the stream below.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportDocument {
    pub data: ExportData,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportData {
    pub users: Vec<UserRecord>,
    pub conversations: Vec<ConversationRecord>,
    pub messages: Vec<MessageRecord>,
    pub audit_logs: Vec<AuditLogRecord>,
}

/// One line of the NDJSON export (`format=ndjson`): `{"type":"user","data":{…}}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum ExportLine {
    User(UserRecord),
    Conversation(ConversationRecord),
    Message(MessageRecord),
    AuditLog(AuditLogRecord),
}

pub async fn export(
    state: &AppState,
    admin: &user::Model,
    query: ExportQuery,
    client: &ClientMeta,
) -> AppResult<Response> {
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(AppError::bad_request("invalid_query", "`since` must be earlier than `until`"));
    }
    let describe = |bound: Option<DateTime<Utc>>| bound.map_or_else(|| "-".to_string(), |at| at.to_rfc3339());
    audit::record(
        &state.db,
        &state.clock,
        Some(&admin.id),
        Action::Export,
        format!("exported {:?} since {} until {}", query.format, describe(query.since), describe(query.until)),
        client,
    )
    .await?;

    let (content_type, extension) = match query.format {
        ExportFormat::Json => ("application/json", "json"),
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let filename = format!("export-{}.{extension}", state.clock.now().format("%Y%m%dT%H%M%SZ"));
    let mut response = Body::from_stream(stream(state.db.clone(), query)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[derive(Clone, Copy)]
enum Section {
    Users,
    Conversations,
    Messages,
    AuditLogs,
}

impl Section {
    const ALL: [Section; 4] = [Self::Users, Self::Conversations, Self::Messages, Self::AuditLogs];

    fn json_key(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Conversations => "conversations",
            Self::Messages => "messages",
            Self::AuditLogs => "auditLogs",
        }
    }

    fn ndjson_type(self) -> &'static str {
        match self {
            Self::Users => "user",
            Self::Conversations => "conversation",
            Self::Messages => "message",
            Self::AuditLogs => "auditLog",
        }
    }

    /// One page of this section after id `after`: `(id, record as JSON)` pairs.
    async fn page(self, db: &Db, query: &ExportQuery, after: Option<&str>) -> Result<Vec<(String, Vec<u8>)>, DbErr> {
        fn encode<R: Serialize>(id: String, record: R) -> Result<(String, Vec<u8>), DbErr> {
            serde_json::to_vec(&record).map(|json| (id, json)).map_err(|err| DbErr::Custom(err.to_string()))
        }
        match self {
            Self::Users => keyset::<User>(db, user::Column::Id, user::Column::CreatedAt, query, after)
                .await?
                .into_iter()
                .map(|row| encode(row.id.clone(), UserRecord::from(row)))
                .collect(),
            Self::Conversations => {
                keyset::<Conversation>(db, conversation::Column::Id, conversation::Column::CreatedAt, query, after)
                    .await?
                    .into_iter()
                    .map(|row| {
                        let record = ConversationRecord {
                            id: row.id.clone(),
                            user_id: row.user_id,
                            kind: sea_orm::ActiveEnum::to_value(&row.kind),
                            title: row.title,
                            created_at: row.created_at,
                            updated_at: row.updated_at,
                            active_leaf_id: row.active_leaf_id,
                            title_source: sea_orm::ActiveEnum::to_value(&row.title_source),
                        };
                        encode(row.id, record)
                    })
                    .collect()
            }
            Self::Messages => keyset::<Message>(db, message::Column::Id, message::Column::CreatedAt, query, after)
                .await?
                .into_iter()
                .map(|row| {
                    let record = MessageRecord {
                        id: row.id.clone(),
                        conversation_id: row.conversation_id,
                        role: sea_orm::ActiveEnum::to_value(&row.role),
                        content: row.content,
                        prompt_tokens: row.prompt_tokens,
                        completion_tokens: row.completion_tokens,
                        created_at: row.created_at,
                        parent_id: row.parent_id,
                        stopped: row.stopped,
                    };
                    encode(row.id, record)
                })
                .collect(),
            Self::AuditLogs => {
                keyset::<AuditLog>(db, audit_log::Column::Id, audit_log::Column::CreatedAt, query, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), AuditLogRecord::from(row)))
                    .collect()
            }
        }
    }
}

async fn keyset<E: EntityTrait>(
    db: &Db,
    id: E::Column,
    created_at: E::Column,
    query: &ExportQuery,
    after: Option<&str>,
) -> Result<Vec<E::Model>, DbErr> {
    let mut select = E::find().order_by_asc(id).limit(PAGE_SIZE);
    if let Some(after) = after {
        select = select.filter(id.gt(after));
    }
    if let Some(since) = query.since {
        select = select.filter(created_at.gte(since));
    }
    if let Some(until) = query.until {
        select = select.filter(created_at.lt(until));
    }
    select.all(db).await
}

/// The export body, produced a page at a time. A database failure midway ends the stream with
/// an error, which aborts the response: the client sees a broken download, never a silently
/// short one.
fn stream(db: Db, query: ExportQuery) -> impl Stream<Item = Result<Bytes, DbErr>> {
    async_stream::try_stream! {
        let json = query.format == ExportFormat::Json;
        if json {
            yield Bytes::from_static(b"{\"data\":{");
        }
        for (index, section) in Section::ALL.into_iter().enumerate() {
            if json {
                let separator = if index == 0 { "" } else { "," };
                yield Bytes::from(format!("{separator}\"{}\":[", section.json_key()));
            }
            let mut after: Option<String> = None;
            let mut first = true;
            loop {
                let page = section.page(&db, &query, after.as_deref()).await.inspect_err(|err| {
                    tracing::error!(error = %err, "export aborted by a database error");
                })?;
                let Some((last_id, _)) = page.last() else { break };
                after = Some(last_id.clone());
                let full = page.len() as u64 == PAGE_SIZE;
                let mut chunk = Vec::with_capacity(page.iter().map(|(_, record)| record.len() + 32).sum());
                for (_, record) in page {
                    if json {
                        if !first {
                            chunk.push(b',');
                        }
                        chunk.extend_from_slice(&record);
                    } else {
                        chunk.extend_from_slice(format!("{{\"type\":\"{}\",\"data\":", section.ndjson_type()).as_bytes());
                        chunk.extend_from_slice(&record);
                        chunk.extend_from_slice(b"}\n");
                    }
                    first = false;
                }
                yield Bytes::from(chunk);
                if !full {
                    break;
                }
            }
            if json {
                yield Bytes::from_static(b"]");
            }
        }
        if json {
            yield Bytes::from_static(b"}}");
        }
    }
}
