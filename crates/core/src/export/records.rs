//! The records of the exports: one struct per table, as JSON, and the document and NDJSON
//! line shapes that hold them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    constitution::assessments::Assessment,
    entities::{
        ConversationKind, Rating, ReportReason, ReportStatus, Role, UserAction, Withheld, attachment, audit_log,
        constitution_assessment, reading, report, user,
    },
    safety::labels::AigcLabel,
};

/// An account as administrators see it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub banned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the address was verified (`null`: not verified).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// `zh` or `en`: the language of the account's mail.
    pub locale: String,
    /// When the account last used up its moderation strikes (`MODERATION_STRIKES`): chat was
    /// paused for it. Bans stay an administrator's decision.
    pub moderation_flagged_at: Option<DateTime<Utc>>,
    /// An administrator's restriction after a report: chat refused until then.
    #[serde(default)]
    pub restricted_until: Option<DateTime<Utc>>,
    /// The terms version the account accepted, and when.
    #[serde(default)]
    pub terms_version: Option<String>,
    #[serde(default)]
    pub terms_accepted_at: Option<DateTime<Utc>>,
    /// When the account consented to the processing of health information (`null`: not given,
    /// or withdrawn).
    #[serde(default)]
    pub health_consent_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for UserRecord {
    fn from(user: user::Model) -> Self {
        Self {
            id: user.id,
            email: user.email,
            role: user.role,
            banned_at: user.banned_at,
            email_verified_at: user.email_verified_at,
            locale: user.locale,
            moderation_flagged_at: user.moderation_flagged_at,
            restricted_until: user.restricted_until,
            terms_version: user.terms_version,
            terms_accepted_at: user.terms_accepted_at,
            health_consent_at: user.health_consent_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogRecord {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub message: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The address the row is about (a login tried for it, a ban of it); `null` when it is
    /// about no address, or when that account was deleted.
    pub subject: Option<String>,
    /// How many times it happened: more than 1 for refusals of one client within an hour,
    /// which are one row (`createdAt` is the first).
    pub occurrences: i32,
}

impl From<audit_log::Model> for AuditLogRecord {
    fn from(log: audit_log::Model) -> Self {
        Self {
            id: log.id,
            actor_id: log.actor_id,
            action: log.action,
            message: log.message,
            ip: log.ip,
            user_agent: log.user_agent,
            created_at: log.created_at,
            subject: log.subject,
            occurrences: log.occurrences,
        }
    }
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
    /// Brought along by the client when it opened the conversation (a history it kept
    /// itself), not written in this app: an `ASSISTANT` one is not the model's.
    pub from_client: bool,
    /// `blocked`: moderation refused it (a user's message never sent to the model, or a reply
    /// never shown: the account's own download leaves such a reply's text out).
    pub withheld: Option<Withheld>,
    /// What the model thought before this reply (a reply thought through), left out with its
    /// reply where the reply's text is; and for how long, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_ms: Option<i32>,
    /// Of `completionTokens`, the thinking's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_tokens: Option<i32>,
    /// On a reply the model wrote: the implicit AI label of GB 45438-2025 (`Label` "1", the
    /// provider, the message id, the SHA-256 of the text).
    #[serde(rename = "AIGC", default, skip_serializing_if = "Option::is_none")]
    pub aigc: Option<AigcLabel>,
}

/// A thumbs up or down on a reply.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackRecord {
    pub id: String,
    pub message_id: String,
    pub user_id: String,
    /// `ORACLE` or `TCM`, as stored: the reply's assistant.
    pub assistant: String,
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The JSON export (`format=json`): the seed's `{data:{…}}` shape. Documents the stream below.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportDocument {
    /// The file's implicit AI label (GB 45438-2025, Annex E): it holds generated content.
    #[serde(rename = "AIGC")]
    pub aigc: AigcLabel,
    pub data: ExportData,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportData {
    pub users: Vec<UserRecord>,
    pub conversations: Vec<ConversationRecord>,
    pub messages: Vec<MessageRecord>,
    pub feedback: Vec<FeedbackRecord>,
    pub audit_logs: Vec<AuditLogRecord>,
    /// Reports of replies (the account's own, in its download).
    #[serde(default)]
    pub reports: Vec<ReportRecord>,
    /// The oracle's readings (the journal).
    #[serde(default)]
    pub readings: Vec<ReadingRecord>,
    /// The constitution self-assessments (the account's own download only).
    #[serde(default)]
    pub constitution_assessments: Vec<AssessmentRecord>,
    /// The pictures sent or uploaded (the account's own download only): listed, not included.
    #[serde(default)]
    pub attachments: Vec<AttachmentRecord>,
}

/// One line of the NDJSON export (`format=ndjson`): `{"type":"user","data":{…}}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum ExportLine {
    User(UserRecord),
    Conversation(ConversationRecord),
    Message(MessageRecord),
    Feedback(FeedbackRecord),
    AuditLog(AuditLogRecord),
    Report(ReportRecord),
    Reading(ReadingRecord),
    ConstitutionAssessment(AssessmentRecord),
    Attachment(AttachmentRecord),
}

/// A report of a reply and its decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRecord {
    pub id: String,
    pub reporter_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub assistant: ConversationKind,
    pub reason: ReportReason,
    pub comment: Option<String>,
    /// The reply as it was reported.
    pub reply: String,
    /// The message it answered, as it was reported.
    pub question: Option<String>,
    pub status: ReportStatus,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub reply_hidden: bool,
    pub user_action: UserAction,
    pub restricted_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

impl From<report::Model> for ReportRecord {
    fn from(row: report::Model) -> Self {
        Self {
            id: row.id,
            reporter_id: row.reporter_id,
            conversation_id: row.conversation_id,
            message_id: row.message_id,
            assistant: row.assistant,
            reason: row.reason,
            comment: row.comment,
            reply: row.reply,
            question: row.question,
            status: row.status,
            created_at: row.created_at,
            due_at: row.due_at,
            decided_at: row.decided_at,
            decided_by: row.decided_by,
            reply_hidden: row.reply_hidden,
            user_action: row.user_action,
            restricted_until: row.restricted_until,
            note: row.note,
        }
    }
}

/// A reading of the oracle's journal: the question, the method, the six values cast (bottom
/// first, as digits) and the hexagrams' King Wen numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingRecord {
    pub id: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub question: String,
    pub method: String,
    /// The six values, bottom first, as digits: `779868`.
    #[serde(rename = "lines")]
    pub line_values: String,
    pub primary_number: i16,
    pub relating_number: Option<i16>,
    pub created_at: DateTime<Utc>,
}

impl From<reading::Model> for ReadingRecord {
    fn from(row: reading::Model) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            conversation_id: row.conversation_id,
            question: row.question,
            method: row.method,
            line_values: row.line_values,
            primary_number: row.primary_number,
            relating_number: row.relating_number,
            created_at: row.created_at,
        }
    }
}

/// A constitution self-assessment: what was answered, and (computed from it on export) the
/// scores, verdicts and result; `assessment` is `null` for a row this version cannot score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentRecord {
    pub id: String,
    pub user_id: String,
    pub scale: String,
    pub sex: String,
    /// The sixty answers (1–5) as digits, in the questionnaire's order for that sex.
    pub answers: String,
    pub created_at: DateTime<Utc>,
    pub assessment: Option<Assessment>,
}

impl From<constitution_assessment::Model> for AssessmentRecord {
    fn from(row: constitution_assessment::Model) -> Self {
        let assessment = Assessment::from_row(&row);
        Self {
            id: row.id,
            user_id: row.user_id,
            scale: row.scale,
            sex: row.sex,
            answers: row.answers,
            created_at: row.created_at,
            assessment,
        }
    }
}

/// A picture of the account's: which message it was sent with (`null`: uploaded, not sent),
/// its type, size and purpose, and what the vision model observed in it (a tongue photo).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRecord {
    pub id: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub purpose: String,
    pub observations: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub attached_at: Option<DateTime<Utc>>,
}

impl From<attachment::Model> for AttachmentRecord {
    fn from(row: attachment::Model) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            conversation_id: row.conversation_id,
            message_id: row.message_id,
            content_type: row.content_type,
            size: row.size_bytes,
            purpose: row.purpose,
            observations: row.observations.and_then(|json| serde_json::from_str(json.as_str()).ok()),
            created_at: row.created_at,
            attached_at: row.attached_at,
        }
    }
}
