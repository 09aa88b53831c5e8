//! The five tables: how each row of the old app becomes one of ours.

use std::collections::{HashMap, HashSet};

use app_core::{
    auth::normalize_email,
    entities::{
        AuditLog, Conversation, ConversationKind, Message, MessageRole, Role, Session, TitleSource, User, audit_log,
        conversation, message, session, user,
    },
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect, Statement, Value,
};

use super::{
    ACTION_CHARS, Candidate, EMAIL_BYTES, ID_CHARS, IP_CHARS, MEDIUMTEXT_BYTES, PASSWORD_HASH_CHARS, Reason, Row, Skip,
    Source, Spec, TEXT_BYTES, TITLE_CHARS, TOKEN_CHARS, source::shorten,
};

/// What the import of one table needs to know; [`import_table`] does the rest.
pub(super) trait Table {
    type Model: Clone;
    type Entity: EntityTrait<Model = Self::Model, ActiveModel: From<Self::Model>>;
    /// The primary key.
    const ID: <Self::Entity as EntityTrait>::Column;
    const SPEC: Spec;

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip>;
    fn id(model: &Self::Model) -> &str;
    /// Roughly how many bytes the row takes in an INSERT.
    fn size(model: &Self::Model) -> usize;
    /// Which of `ids` are already in the target.
    async fn present(txn: &DatabaseTransaction, ids: Vec<String>) -> Result<HashSet<String>, DbErr> {
        let found: Vec<String> = Self::Entity::find()
            .select_only()
            .column(Self::ID)
            .filter(Self::ID.is_in(ids))
            .into_tuple()
            .all(txn)
            .await?;
        Ok(found.into_iter().collect())
    }
    /// Skips that depend on the target or the rest of the page, one entry per model.
    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>>;
    async fn insert(txn: &DatabaseTransaction, models: Vec<Self::Model>) -> Result<u64, DbErr> {
        Self::Entity::insert_many(models.into_iter().map(<Self::Entity as EntityTrait>::ActiveModel::from))
            .exec_without_returning(txn)
            .await
    }
}

pub(super) struct Env<'a> {
    pub(super) source: &'a Source,
    pub(super) now: DateTime<Utc>,
}

pub(super) struct Users;
pub(super) struct Sessions;
pub(super) struct Conversations;
pub(super) struct Messages;
pub(super) struct AuditLogs;

impl Table for Users {
    type Model = user::Model;
    type Entity = User;
    const ID: user::Column = user::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "User",
        ours: "users",
        columns: &["id", "email", "passwordHash", "role", "bannedAt", "createdAt", "updatedAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let email = normalize_email(&row.required(1)?);
        if email.is_empty() {
            return Err(Skip::invalid("email is empty"));
        }
        if email.len() > EMAIL_BYTES {
            return Err(Skip::invalid(format!("email is longer than {EMAIL_BYTES} bytes")));
        }
        let password_hash = row.bounded(2, PASSWORD_HASH_CHARS)?;
        let bcrypt =
            password_hash.len() == 60 && ["$2a$", "$2b$", "$2y$", "$2x$"].iter().any(|v| password_hash.starts_with(v));
        let mut candidate = Candidate::new(user::Model {
            id: row.bounded(0, ID_CHARS)?,
            email,
            password_hash,
            role: row.choice(3, &[("USER", Role::User), ("ADMIN", Role::Admin)])?,
            banned_at: row.optional_time(4)?,
            created_at: row.time(5)?,
            updated_at: row.time(6)?,
            // The old app never verified addresses; its users were Chinese-speaking.
            email_verified_at: None,
            locale: "zh".into(),
            moderation_flagged_at: None,
            restricted_until: None,
            terms_version: None,
            terms_accepted_at: None,
            health_consent_at: None,
        });
        if !bcrypt {
            candidate
                .notes
                .push("passwordHash is not a bcrypt hash: the account cannot log in until it is reset".into());
        }
        Ok(candidate)
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.email.len() + model.password_hash.len() + 64
    }

    /// An email already used by another account (in the target, or earlier in this page) keeps
    /// its first owner: ids are read in order, which for Prisma's `cuid()` ids is creation order.
    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let emails: Vec<&str> = models.iter().map(|m| m.email.as_str()).collect();
        let owners: Vec<(String, String)> = User::find()
            .select_only()
            .columns([user::Column::Email, user::Column::Id])
            .filter(user::Column::Email.is_in(emails))
            .into_tuple()
            .all(txn)
            .await?;
        let mut owners: HashMap<String, String> = owners.into_iter().collect();
        let mut verdicts = Vec::with_capacity(models.len());
        for model in models {
            let verdict = match owners.get(&model.email) {
                Some(owner) => {
                    let old = !env.source.existing(Users::SPEC.prisma, &[owner.as_str()]).await?.is_empty();
                    let whose = if old {
                        format!("old user {owner} (imported before it)")
                    } else {
                        format!("account {owner} in this database")
                    };
                    Some(Skip::new(Reason::EmailTaken, format!("email {} already belongs to {whose}", model.email)))
                }
                None => {
                    owners.insert(model.email.clone(), model.id.clone());
                    None
                }
            };
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }
}

impl Table for Sessions {
    type Model = session::Model;
    type Entity = Session;
    const ID: session::Column = session::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Session",
        ours: "sessions",
        columns: &["id", "userId", "sessionToken", "expires", "createdAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        Ok(Candidate::new(session::Model {
            id: row.bounded(0, ID_CHARS)?,
            user_id: row.bounded(1, ID_CHARS)?,
            session_token: row.bounded(2, TOKEN_CHARS)?,
            expires: row.time(3)?,
            created_at: row.time(4)?,
            ip: None,
            user_agent: None,
            last_used_at: None,
        }))
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.user_id.len() + model.session_token.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let user_ids: Vec<&str> = models.iter().map(|m| m.user_id.as_str()).collect();
        let parents = Parents::find::<Users>(env, txn, &user_ids, "user").await?;
        let tokens: Vec<&str> = models.iter().map(|m| m.session_token.as_str()).collect();
        let holders: Vec<(String, String)> = Session::find()
            .select_only()
            .columns([session::Column::SessionToken, session::Column::Id])
            .filter(session::Column::SessionToken.is_in(tokens))
            .into_tuple()
            .all(txn)
            .await?;
        let holders: HashMap<String, String> = holders.into_iter().collect();
        Ok(models
            .iter()
            .map(|model| {
                if model.expires <= env.now {
                    Some(Skip::new(Reason::Expired, format!("expired at {}", model.expires.to_rfc3339())))
                } else if let Some(skip) = parents.skip(&model.user_id) {
                    Some(skip)
                } else {
                    holders.get(&model.session_token).map(|other| {
                        Skip::new(Reason::Conflict, format!("its sessionToken is used by session {other}"))
                    })
                }
            })
            .collect())
    }
}

impl Table for Conversations {
    type Model = conversation::Model;
    type Entity = Conversation;
    const ID: conversation::Column = conversation::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Conversation",
        ours: "conversations",
        columns: &["id", "userId", "type", "title", "createdAt", "updatedAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let (title, cut) = shorten(row.required(3)?, TITLE_CHARS, usize::MAX);
        let mut candidate = Candidate::new(conversation::Model {
            id: row.bounded(0, ID_CHARS)?,
            user_id: row.bounded(1, ID_CHARS)?,
            kind: row.choice(2, &[("ORACLE", ConversationKind::Oracle), ("TCM", ConversationKind::Tcm)])?,
            title,
            created_at: row.time(4)?,
            updated_at: row.time(5)?,
            // The old app's conversations are one branch each: their messages have no parent,
            // and read in order (see `chat::tree`).
            active_leaf_id: None,
            title_source: TitleSource::Message,
        });
        if cut {
            candidate.notes.push(format!("title shortened to {TITLE_CHARS} characters"));
        }
        Ok(candidate)
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.user_id.len() + model.title.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let user_ids: Vec<&str> = models.iter().map(|m| m.user_id.as_str()).collect();
        let parents = Parents::find::<Users>(env, txn, &user_ids, "user").await?;
        Ok(models.iter().map(|model| parents.skip(&model.user_id)).collect())
    }
}

impl Table for Messages {
    type Model = message::Model;
    type Entity = Message;
    const ID: message::Column = message::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Message",
        ours: "messages",
        columns: &["id", "conversationId", "role", "content", "createdAt"],
    };

    /// The rows, and their tallies for the usage dashboard (in the same transaction).
    async fn insert(txn: &DatabaseTransaction, models: Vec<Self::Model>) -> Result<u64, DbErr> {
        let ids: Vec<Value> = models.iter().map(|model| model.id.clone().into()).collect();
        let inserted = Message::insert_many(models.into_iter().map(message::ActiveModel::from))
            .exec_without_returning(txn)
            .await?;
        let backend = txn.get_database_backend();
        let tally = migration::tally_messages_sql(backend, Some(ids.len()));
        txn.execute_raw(Statement::from_sql_and_values(backend, tally, ids)).await?;
        Ok(inserted)
    }

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let content = row.required(3)?;
        if content.len() > MEDIUMTEXT_BYTES {
            return Err(Skip::invalid(format!("content is longer than {MEDIUMTEXT_BYTES} bytes")));
        }
        Ok(Candidate::new(message::Model {
            id: row.bounded(0, ID_CHARS)?,
            conversation_id: row.bounded(1, ID_CHARS)?,
            role: row.choice(2, &[("USER", MessageRole::User), ("ASSISTANT", MessageRole::Assistant)])?,
            content,
            prompt_tokens: None,
            completion_tokens: None,
            created_at: row.time(4)?,
            parent_id: None,
            stopped: false,
            // The old app's replies were its model's, as ours are.
            from_client: false,
            withheld: None,
            red_flag: None,
            thinking: None,
            thinking_ms: None,
            thinking_tokens: None,
        }))
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.conversation_id.len() + model.content.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let conversation_ids: Vec<&str> = models.iter().map(|m| m.conversation_id.as_str()).collect();
        let parents = Parents::find::<Conversations>(env, txn, &conversation_ids, "conversation").await?;
        Ok(models.iter().map(|model| parents.skip(&model.conversation_id)).collect())
    }
}

impl Table for AuditLogs {
    type Model = audit_log::Model;
    type Entity = AuditLog;
    const ID: audit_log::Column = audit_log::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "AuditLog",
        ours: "audit_logs",
        columns: &["id", "actorId", "action", "message", "ip", "userAgent", "createdAt"],
    };

    /// The actor is kept even when that account is gone (the trail has no foreign key).
    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let actor_id = row.optional(1).filter(|actor| !actor.is_empty());
        if actor_id.as_ref().is_some_and(|actor| actor.chars().count() > ID_CHARS) {
            return Err(Skip::invalid(format!("actorId is longer than {ID_CHARS} characters")));
        }
        let mut notes = Vec::new();
        let mut fit = |name: &str, value: String, max_chars: usize, max_bytes: usize| {
            let (value, cut) = shorten(value, max_chars, max_bytes);
            if cut {
                notes.push(format!("{name} shortened to fit the column"));
            }
            value
        };
        let action = fit("action", row.required(2)?, ACTION_CHARS, usize::MAX);
        let message = fit("message", row.required(3)?, usize::MAX, TEXT_BYTES);
        let ip = row.optional(4).map(|ip| fit("ip", ip, IP_CHARS, usize::MAX));
        let user_agent = row.optional(5).map(|agent| fit("userAgent", agent, usize::MAX, TEXT_BYTES));
        let model = audit_log::Model {
            id: row.bounded(0, ID_CHARS)?,
            actor_id,
            action,
            message,
            ip,
            user_agent,
            created_at: row.time(6)?,
            // The old app quoted addresses in its messages; they stay as they were.
            subject: None,
            repeat_key: None,
            occurrences: 1,
        };
        Ok(Candidate { model, notes })
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        let optional = |value: &Option<String>| value.as_ref().map_or(0, String::len);
        model.id.len()
            + optional(&model.actor_id)
            + model.action.len()
            + model.message.len()
            + optional(&model.ip)
            + optional(&model.user_agent)
            + 64
    }

    async fn check(_: &Env<'_>, _: &DatabaseTransaction, models: &[&Self::Model]) -> anyhow::Result<Vec<Option<Skip>>> {
        Ok(models.iter().map(|_| None).collect())
    }
}

/// The parents (users or conversations) a page refers to: present in the target, or else
/// skipped (in the source) or missing (not even in the source).
pub(super) struct Parents {
    pub(super) noun: &'static str,
    pub(super) present: HashSet<String>,
    pub(super) in_source: HashSet<String>,
}

impl Parents {
    pub(super) async fn find<P: Table>(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        ids: &[&str],
        noun: &'static str,
    ) -> anyhow::Result<Self> {
        let unique: HashSet<&str> = ids.iter().copied().collect();
        let present = P::present(txn, unique.iter().map(|id| id.to_string()).collect()).await?;
        let absent: Vec<&str> = unique.into_iter().filter(|id| !present.contains(*id)).collect();
        let in_source = env.source.existing(P::SPEC.prisma, &absent).await?;
        Ok(Self { noun, present, in_source })
    }

    pub(super) fn skip(&self, id: &str) -> Option<Skip> {
        if self.present.contains(id) {
            None
        } else if self.in_source.contains(id) {
            Some(Skip::new(Reason::ParentSkipped, format!("its {} {id} was skipped", self.noun)))
        } else {
            Some(Skip::new(Reason::Orphan, format!("its {} {id} does not exist in the old database", self.noun)))
        }
    }
}
