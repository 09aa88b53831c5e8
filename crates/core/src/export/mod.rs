//! Data exports, streamed: `GET /api/admin/export` (every user, conversation, message, feedback,
//! audit-log row, report and reading; never a password hash) and `GET /api/account/export` (the
//! caller's account, conversations, messages of every version, feedback, audit rows, reports,
//! readings, constitution self-assessments and pictures), as one JSON document (the seed's
//! `{data:{users,conversations,messages,auditLogs}}`, plus `feedback`, `reports`, `readings` and,
//! in the account's own, `constitutionAssessments` and `attachments`) or
//! as NDJSON (`?format=ndjson`, one `{"type","data"}` record per line).
//!
//! Both formats are streamed page by page (keyset pagination on the id), so memory stays flat
//! however large the tables are. An account's messages are read conversation by conversation
//! (each through its index), not by filtering the whole messages table. Responses are gzip-compressed when the client accepts it
//! (the shared middleware): Function Compute refuses synchronous responses over 32 MB, and
//! compression plus `since`/`until` keep real exports under it.

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::{
    audit::{self, Action},
    db::{self, Db},
    entities::{
        Attachment, AuditLog, ConstitutionAssessment, Conversation, Message, MessageFeedback, MessageRole, Reading,
        Report, User, attachment, audit_log, constitution_assessment, conversation, message, message_feedback, reading,
        report, user,
    },
    error::{AppError, AppResult},
    http::ClientMeta,
    safety::labels::AigcLabel,
    state::AppState,
};

mod records;

pub use records::{
    AssessmentRecord, AttachmentRecord, AuditLogRecord, ConversationRecord, ExportData, ExportDocument, ExportLine,
    FeedbackRecord, MessageRecord, ReadingRecord, ReportRecord, UserRecord,
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

/// Which rows an export holds.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every row created in `[since, until)` (the admin export).
    Everything { since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>> },
    /// What the account with this id owns, and its audit rows (the account's own export).
    Owner(String),
}

/// The export of `scope` as a download, audited as done by `actor`.
pub async fn export(
    state: &AppState,
    actor: &user::Model,
    scope: Scope,
    format: ExportFormat,
    client: &ClientMeta,
) -> AppResult<Response> {
    let format_name = match format {
        ExportFormat::Json => "json",
        ExportFormat::Ndjson => "ndjson",
    };
    let (action, message, name) = match &scope {
        Scope::Everything { since: Some(since), until: Some(until) } if since >= until => {
            return Err(AppError::bad_request("invalid_query", "`since` must be earlier than `until`"));
        }
        Scope::Everything { since, until } => {
            let describe = |bound: &Option<DateTime<Utc>>| bound.map_or_else(|| "-".to_string(), |at| at.to_rfc3339());
            let message = format!("exported {format_name} since {} until {}", describe(since), describe(until));
            (Action::Export, message, "export")
        }
        Scope::Owner(_) => (Action::AccountExport, format!("downloaded their data as {format_name}"), "my-data"),
    };
    audit::record(&state.db, &state.clock, audit::Entry::new(action, Some(&actor.id), message), client).await?;

    let (content_type, extension) = match format {
        ExportFormat::Json => ("application/json", "json"),
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    // The download's id (its name): the `ProduceID` of the file's AI label.
    let id = format!("{name}-{}", state.clock.now().format("%Y%m%dT%H%M%SZ"));
    let filename = format!("{id}.{extension}");
    let file_label = AigcLabel::generated(&state.config.service_provider, &id, None);
    let mut response = Body::from_stream(stream(state.db.clone(), scope, format, file_label)).into_response();
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
    Feedback,
    AuditLogs,
    Reports,
    Readings,
    Assessments,
    Attachments,
}

impl Section {
    const ALL: [Section; 9] = [
        Self::Users,
        Self::Conversations,
        Self::Messages,
        Self::Feedback,
        Self::AuditLogs,
        Self::Reports,
        Self::Readings,
        Self::Assessments,
        Self::Attachments,
    ];

    /// Whether `scope`'s export holds this section. The constitution assessments are health
    /// information the person gave for themselves, and their pictures may be (a tongue photo):
    /// their own download has them, the administrators' export does not.
    fn in_scope(self, scope: &Scope) -> bool {
        !matches!((self, scope), (Self::Assessments | Self::Attachments, Scope::Everything { .. }))
    }

    fn json_key(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Conversations => "conversations",
            Self::Messages => "messages",
            Self::Feedback => "feedback",
            Self::AuditLogs => "auditLogs",
            Self::Reports => "reports",
            Self::Readings => "readings",
            Self::Assessments => "constitutionAssessments",
            Self::Attachments => "attachments",
        }
    }

    fn ndjson_type(self) -> &'static str {
        match self {
            Self::Users => "user",
            Self::Conversations => "conversation",
            Self::Messages => "message",
            Self::Feedback => "feedback",
            Self::AuditLogs => "auditLog",
            Self::Reports => "report",
            Self::Readings => "reading",
            Self::Assessments => "constitutionAssessment",
            Self::Attachments => "attachment",
        }
    }

    /// One page of this section's `rows` after id `after`: `(id, record as JSON)` pairs.
    async fn page(
        self,
        db: &Db,
        rows: Rows<'_>,
        after: Option<&str>,
        producer: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, DbErr> {
        fn encode<R: Serialize>(id: String, record: R) -> Result<(String, Vec<u8>), DbErr> {
            serde_json::to_vec(&record).map(|json| (id, json)).map_err(|err| DbErr::Custom(err.to_string()))
        }
        let backend = db.get_database_backend();
        match self {
            Self::Users => {
                let rows = rows.condition(backend, user::Column::CreatedAt, user::Column::Id);
                keyset::<User>(db, user::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), UserRecord::from(row)))
                    .collect()
            }
            Self::Conversations => {
                let rows = rows.condition(backend, conversation::Column::CreatedAt, conversation::Column::UserId);
                keyset::<Conversation>(db, conversation::Column::Id, rows, after)
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
            Self::Messages => {
                // The owner gets what the site showed them: not a reply moderation withheld.
                let owner = matches!(rows, Rows::OwnedBy(_));
                let rows = rows.condition(backend, message::Column::CreatedAt, message::Column::ConversationId);
                keyset::<Message>(db, message::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| {
                        let hidden = owner && row.hidden_from_its_user();
                        let generated = row.role == MessageRole::Assistant && !row.from_client && !hidden;
                        let aigc = generated.then(|| AigcLabel::generated(producer, &row.id, Some(&row.content)));
                        let record = MessageRecord {
                            id: row.id.clone(),
                            conversation_id: row.conversation_id,
                            role: sea_orm::ActiveEnum::to_value(&row.role),
                            content: if hidden { String::new() } else { row.content },
                            thinking: row.thinking.filter(|_| !hidden),
                            thinking_ms: row.thinking_ms,
                            thinking_tokens: row.thinking_tokens,
                            prompt_tokens: row.prompt_tokens,
                            completion_tokens: row.completion_tokens,
                            created_at: row.created_at,
                            parent_id: row.parent_id,
                            stopped: row.stopped,
                            from_client: row.from_client,
                            withheld: row.withheld,
                            aigc,
                        };
                        encode(row.id, record)
                    })
                    .collect()
            }
            Self::Feedback => {
                let rows =
                    rows.condition(backend, message_feedback::Column::CreatedAt, message_feedback::Column::UserId);
                keyset::<MessageFeedback>(db, message_feedback::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| {
                        let record = FeedbackRecord {
                            id: row.id.clone(),
                            message_id: row.message_id,
                            user_id: row.user_id,
                            assistant: sea_orm::ActiveEnum::to_value(&row.assistant),
                            rating: row.rating,
                            comment: row.comment,
                            created_at: row.created_at,
                            updated_at: row.updated_at,
                        };
                        encode(row.id, record)
                    })
                    .collect()
            }
            Self::AuditLogs => {
                let rows = rows.condition(backend, audit_log::Column::CreatedAt, audit_log::Column::ActorId);
                keyset::<AuditLog>(db, audit_log::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), AuditLogRecord::from(row)))
                    .collect()
            }
            Self::Readings => {
                let rows = rows.condition(backend, reading::Column::CreatedAt, reading::Column::UserId);
                keyset::<Reading>(db, reading::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), ReadingRecord::from(row)))
                    .collect()
            }
            Self::Assessments => {
                let rows = rows.condition(
                    backend,
                    constitution_assessment::Column::CreatedAt,
                    constitution_assessment::Column::UserId,
                );
                keyset::<ConstitutionAssessment>(db, constitution_assessment::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), AssessmentRecord::from(row)))
                    .collect()
            }
            Self::Attachments => {
                let rows = rows
                    .condition(backend, attachment::Column::CreatedAt, attachment::Column::UserId)
                    .add(attachment::Column::DeletedAt.is_null());
                keyset::<Attachment>(db, attachment::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| encode(row.id.clone(), AttachmentRecord::from(row)))
                    .collect()
            }
            Self::Reports => {
                let owner = matches!(rows, Rows::OwnedBy(_));
                let rows = rows.condition(backend, report::Column::CreatedAt, report::Column::ReporterId);
                keyset::<Report>(db, report::Column::Id, rows, after)
                    .await?
                    .into_iter()
                    .map(|row| {
                        let mut record = ReportRecord::from(row);
                        if owner {
                            // The owner gets what the site shows them: not a hidden reply's
                            // words, nor which administrator decided.
                            if record.reply_hidden {
                                record.reply = String::new();
                            }
                            record.decided_by = None;
                        }
                        encode(record.id.clone(), record)
                    })
                    .collect()
            }
        }
    }
}

/// Which rows of a section a page reads.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Created in `[since, until)`.
    Created { since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>> },
    /// Whose owner column (the user's id, a conversation's user, a message's conversation, a
    /// feedback's user, an audit row's actor, a report's reporter, a reading's user) is this id.
    OwnedBy(&'a str),
}

impl Rows<'_> {
    fn condition(self, backend: DbBackend, created_at: impl ColumnTrait, owner: impl ColumnTrait) -> Condition {
        match self {
            Self::Created { since, until } => Condition::all()
                .add_option(since.map(|since| created_at.gte(db::instant(backend, since))))
                .add_option(until.map(|until| created_at.lt(db::instant(backend, until)))),
            Self::OwnedBy(id) => Condition::all().add(owner.eq(id)),
        }
    }
}

async fn keyset<E: EntityTrait>(
    db: &Db,
    id: E::Column,
    rows: Condition,
    after: Option<&str>,
) -> Result<Vec<E::Model>, DbErr> {
    let mut select = E::find().filter(rows).order_by_asc(id).limit(PAGE_SIZE);
    if let Some(after) = after {
        select = select.filter(id.gt(after));
    }
    select.all(db).await
}

/// Writes pages of records as JSON array items or NDJSON lines.
struct Writer {
    json: bool,
    first: bool,
}

impl Writer {
    fn start(&mut self, index: usize, section: Section) -> Option<Bytes> {
        self.first = true;
        let separator = if index == 0 { "" } else { "," };
        self.json.then(|| Bytes::from(format!("{separator}\"{}\":[", section.json_key())))
    }

    fn page(&mut self, section: Section, page: Vec<(String, Vec<u8>)>) -> Bytes {
        let mut chunk = Vec::with_capacity(page.iter().map(|(_, record)| record.len() + 32).sum());
        for (_, record) in page {
            if self.json {
                if !self.first {
                    chunk.push(b',');
                }
                chunk.extend_from_slice(&record);
            } else {
                chunk.extend_from_slice(format!("{{\"type\":\"{}\",\"data\":", section.ndjson_type()).as_bytes());
                chunk.extend_from_slice(&record);
                chunk.extend_from_slice(b"}\n");
            }
            self.first = false;
        }
        Bytes::from(chunk)
    }
}

/// Every page of `section`'s `rows`, after `after`, ending with the last id read.
fn pages<'a>(
    db: &'a Db,
    section: Section,
    rows: Rows<'a>,
    producer: &'a str,
) -> impl Stream<Item = Result<Vec<(String, Vec<u8>)>, DbErr>> + 'a {
    async_stream::try_stream! {
        let mut after: Option<String> = None;
        loop {
            let page = section.page(db, rows, after.as_deref(), producer).await?;
            let Some((last_id, _)) = page.last() else { break };
            after = Some(last_id.clone());
            let full = page.len() as u64 == PAGE_SIZE;
            yield page;
            if !full {
                break;
            }
        }
    }
}

/// The export body, produced a page at a time. A database failure midway ends the stream with
/// an error, which aborts the response: the client sees a broken download, never a silently
/// short one.
fn stream(
    db: Db,
    scope: Scope,
    format: ExportFormat,
    file_label: AigcLabel,
) -> impl Stream<Item = Result<Bytes, DbErr>> {
    async_stream::try_stream! {
        let producer = file_label.content_producer.as_str();
        let mut writer = Writer { json: format == ExportFormat::Json, first: true };
        if writer.json {
            // The file's own label first: it holds generated content (GB 45438-2025, Annex E).
            let label = serde_json::to_string(&file_label).unwrap_or_default();
            yield Bytes::from(format!("{{\"AIGC\":{label},\"data\":{{"));
        }
        for (index, section) in Section::ALL.into_iter().filter(|section| section.in_scope(&scope)).enumerate() {
            if let Some(start) = writer.start(index, section) {
                yield start;
            }
            match (&scope, section) {
                (Scope::Everything { since, until }, _) => {
                    let rows = Rows::Created { since: *since, until: *until };
                    for await page in pages(&db, section, rows, producer) {
                        yield writer.page(section, logged(page)?);
                    }
                }
                // An account's messages, conversation by conversation.
                (Scope::Owner(owner), Section::Messages) => {
                    for await conversations in pages(&db, Section::Conversations, Rows::OwnedBy(owner), producer) {
                        for (conversation_id, _) in logged(conversations)? {
                            for await page in pages(&db, section, Rows::OwnedBy(&conversation_id), producer) {
                                yield writer.page(section, logged(page)?);
                            }
                        }
                    }
                }
                (Scope::Owner(owner), _) => {
                    for await page in pages(&db, section, Rows::OwnedBy(owner), producer) {
                        yield writer.page(section, logged(page)?);
                    }
                }
            }
            if writer.json {
                yield Bytes::from_static(b"]");
            }
        }
        if writer.json {
            yield Bytes::from_static(b"}}");
        }
    }
}

fn logged<T>(page: Result<T, DbErr>) -> Result<T, DbErr> {
    page.inspect_err(|err| tracing::error!(error = %err, "export aborted by a database error"))
}
