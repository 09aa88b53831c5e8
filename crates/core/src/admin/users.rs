//! Listing and moderating accounts, and reading the audit trail.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use serde::Deserialize;

use super::{AuditLogEntry, AuditLogPage, UserPage};
use crate::{
    audit::{self, Action},
    auth::admin_emails,
    auth::end_all_sessions,
    clock::Clock,
    db::{self, Db},
    entities::{AuditLog, Report, Role, User, UserAction, audit_log, report, user},
    error::{AppError, AppResult},
    http::ClientMeta,
};

pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of an email address, case-insensitive.
    pub q: Option<String>,
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// e.g. `login_failed`, `ban`, `export`.
    pub action: Option<String>,
    /// The acting user's id.
    pub actor_id: Option<String>,
    /// The address a row is about (exact, case-insensitive).
    pub subject: Option<String>,
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
}

/// The query of a list that is only paged (`?page=2&pageSize=50`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
}

/// `(page, page_size)`, 1-based, with defaults, refusing values out of range.
pub(crate) fn paging(page: Option<u64>, page_size: Option<u64>) -> AppResult<(u64, u64)> {
    let page = page.unwrap_or(1);
    let page_size = page_size.unwrap_or(20);
    if page == 0 {
        return Err(AppError::bad_request("invalid_query", "page starts at 1"));
    }
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(AppError::bad_request("invalid_query", format!("pageSize must be between 1 and {MAX_PAGE_SIZE}")));
    }
    // The row offset must fit the databases' signed 64-bit integers (and not overflow the
    // paginator's multiplication, which would panic).
    let offset = (page - 1).checked_mul(page_size).filter(|offset| i64::try_from(*offset).is_ok());
    if offset.is_none() {
        return Err(AppError::bad_request("invalid_query", "page is out of range"));
    }
    Ok((page, page_size))
}

pub async fn list_users(db: &impl ConnectionTrait, query: UserQuery) -> AppResult<UserPage> {
    let (page, page_size) = paging(query.page, query.page_size)?;
    let mut select = User::find().order_by_desc(user::Column::CreatedAt).order_by_asc(user::Column::Id);
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // Emails are stored lower-cased, so lower-casing the needle makes the search
        // case-insensitive on every backend.
        let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        select = select.filter(Expr::col(user::Column::Email).like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
    }
    let paginator = select.paginate(db, page_size);
    let total = paginator.num_items().await?;
    let users = paginator.fetch_page(page - 1).await?;
    Ok(UserPage { users: users.into_iter().map(Into::into).collect(), total, page, page_size })
}

pub async fn list_audit_logs(db: &impl ConnectionTrait, query: AuditLogQuery) -> AppResult<AuditLogPage> {
    let (page, page_size) = paging(query.page, query.page_size)?;
    let mut select = AuditLog::find().order_by_desc(audit_log::Column::CreatedAt).order_by_desc(audit_log::Column::Id);
    if let Some(action) = query.action.as_deref().filter(|action| !action.is_empty()) {
        select = select.filter(audit_log::Column::Action.eq(action));
    }
    if let Some(actor) = query.actor_id.as_deref().filter(|actor| !actor.is_empty()) {
        select = select.filter(audit_log::Column::ActorId.eq(actor));
    }
    if let Some(subject) = query.subject.as_deref().map(str::trim).filter(|subject| !subject.is_empty()) {
        select = select.filter(audit_log::Column::Subject.eq(crate::auth::normalize_email(subject)));
    }
    let paginator = select.paginate(db, page_size);
    let total = paginator.num_items().await?;
    let logs = paginator.fetch_page(page - 1).await?;
    let actor_ids: HashSet<&str> = logs.iter().filter_map(|log| log.actor_id.as_deref()).collect();
    let emails: HashMap<String, String> = if actor_ids.is_empty() {
        HashMap::new()
    } else {
        User::find()
            .select_only()
            .columns([user::Column::Id, user::Column::Email])
            .filter(user::Column::Id.is_in(actor_ids))
            .into_tuple::<(String, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let audit_logs = logs
        .into_iter()
        .map(|log| {
            let actor_email = log.actor_id.as_ref().and_then(|id| emails.get(id)).cloned();
            AuditLogEntry { record: log.into(), actor_email }
        })
        .collect();
    Ok(AuditLogPage { audit_logs, total, page, page_size })
}

/// Bans (ending every session at once) or unbans the user `user_id`. `actor` is the admin doing
/// it (`None` for the operator CLI); admins cannot ban themselves.
pub async fn set_banned(
    db: &Db,
    clock: &Clock,
    actor: Option<&user::Model>,
    user_id: &str,
    banned: bool,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    if banned && actor.is_some_and(|actor| actor.id == user_id) {
        return Err(AppError::validation("cannot_ban_self", "you cannot ban your own account"));
    }
    let txn = db.begin().await?;
    let target = User::find_by_id(user_id.to_string()).one(&txn).await?.ok_or(AppError::NotFound("user"))?;
    let updated = apply_ban(&txn, clock, actor.map(|actor| actor.id.as_str()), target, banned, client).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Bans or unbans `target` within `txn` (a ban ends every session and voids reset links), and
/// audits it: what the ban route and a report's decision share.
pub(crate) async fn apply_ban(
    txn: &impl ConnectionTrait,
    clock: &Clock,
    actor_id: Option<&str>,
    target: user::Model,
    banned: bool,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    let email = target.email.clone();
    let user_id = target.id.clone();
    let now = clock.now();
    let mut active: user::ActiveModel = target.into();
    active.banned_at = Set(banned.then_some(now));
    active.updated_at = Set(now);
    let updated = active.update(txn).await?;
    let (action, verb) = if banned { (Action::Ban, "banned") } else { (Action::Unban, "unbanned") };
    if banned {
        end_all_sessions(txn, &user_id).await?;
    }
    let entry = audit::Entry::new(action, actor_id, verb).about(&email);
    audit::record(txn, clock, entry, client).await?;
    Ok(updated)
}

/// Ends the chat restriction of the user `user_id` now (a report's decision set it).
pub async fn lift_restriction(
    db: &Db,
    clock: &Clock,
    actor: &user::Model,
    user_id: &str,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    let txn = db.begin().await?;
    let target = User::find_by_id(user_id.to_string()).one(&txn).await?.ok_or(AppError::NotFound("user"))?;
    if target.restricted_until.is_none_or(|until| until <= clock.now()) {
        return Ok(target); // nothing to lift
    }
    let email = target.email.clone();
    let mut active: user::ActiveModel = target.into();
    active.restricted_until = Set(None);
    active.updated_at = Set(clock.now());
    let updated = active.update(&txn).await?;
    // The reports that restricted the account say it ended now.
    Report::update_many()
        .col_expr(report::Column::RestrictedUntil, Expr::value(clock.now()))
        .filter(report::Column::ReporterId.eq(user_id))
        .filter(report::Column::UserAction.eq(UserAction::Restrict))
        .filter(report::Column::RestrictedUntil.gt(db::instant(db.get_database_backend(), clock.now())))
        .exec(&txn)
        .await?;
    let entry = audit::Entry::new(Action::RestrictionLifted, Some(&actor.id), "chat restriction lifted").about(&email);
    audit::record(&txn, clock, entry, client).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Promotes or demotes the account with `email` (the operator CLI).
pub async fn set_role(db: &Db, clock: &Clock, email: &str, role: Role, client: &ClientMeta) -> AppResult<user::Model> {
    let email = crate::auth::normalize_email(email);
    let txn = db.begin().await?;
    let target =
        User::find().filter(user::Column::Email.eq(&email)).one(&txn).await?.ok_or(AppError::NotFound("user"))?;
    let mut active: user::ActiveModel = target.into();
    active.role = Set(role);
    active.updated_at = Set(clock.now());
    let updated = active.update(&txn).await?;
    // The operator's word outlasts the account: ADMIN_EMAILS does not promote a demoted
    // address again, even once it is deleted and registered anew.
    match role {
        Role::Admin => admin_emails::forget_demotion(&txn, &email).await?,
        Role::User => admin_emails::remember_demotion(&txn, &email, clock.now()).await?,
    }
    let action = if role == Role::Admin { Action::Promote } else { Action::Demote };
    let entry = audit::Entry::new(action, None, format!("set to {role:?}")).about(&email);
    audit::record(&txn, clock, entry, client).await?;
    txn.commit().await?;
    Ok(updated)
}
