//! The administrators' queue: reports by status, and deciding one (exactly once).

use std::collections::HashMap;

use axum::{Json, extract::State};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::OwnReport;
use crate::{
    admin,
    audit::{self, Action},
    auth::AdminUser,
    db::{self, Db},
    entities::{Message, MessageRole, Report, ReportStatus, User, UserAction, Withheld, message, report, user},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, AppQuery, ClientMeta, routes::api_routes},
    rate_limit,
    state::AppState,
};

pub(super) fn routes() -> ApiRoutes {
    api_routes![list_reports, decide_report]
}

/// The longest note to the reporter, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// The longest restriction, in days.
pub const MAX_RESTRICT_DAYS: u32 = 365;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `open` (default), `actioned` or `dismissed`.
    pub status: Option<ReportStatus>,
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
}

/// One message of a report's context.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ContextMessage {
    pub role: MessageRole,
    pub content: String,
}

/// A report as the administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminReport {
    #[serde(flatten)]
    pub report: OwnReport,
    pub reporter_id: String,
    /// `null` when the account is gone.
    pub reporter_email: Option<String>,
    /// The reply as it was reported.
    pub reply: String,
    /// Whether the reply is withheld now (`null`: shown, or deleted).
    pub reply_withheld: Option<Withheld>,
    /// The message the reply answered, as it was reported.
    pub context: Vec<ContextMessage>,
    /// Open past its deadline.
    pub overdue: bool,
    pub decided_by_email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportPage {
    pub reports: Vec<AdminReport>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
    /// Open reports in all.
    pub open: u64,
    /// Open reports past their deadline.
    pub overdue: u64,
}

/// The report queue: open reports by deadline (oldest first), decided ones newest first.
#[utoipa::path(
    get,
    path = "/api/admin/reports",
    tag = "admin",
    security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, description = "A page of reports", body = ReportPage))
)]
pub(super) async fn list_reports(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<ReportQuery>,
) -> AppResult<Json<ReportPage>> {
    let (page, page_size) = admin::paging(query.page, query.page_size)?;
    let status = query.status.unwrap_or(ReportStatus::Open);
    let now = state.clock.now();
    let select = Report::find().filter(report::Column::Status.eq(status));
    let total = select.clone().count(&state.db).await?;
    let ordered = match status {
        ReportStatus::Open => select.order_by_asc(report::Column::DueAt).order_by_asc(report::Column::Id),
        _ => select.order_by_desc(report::Column::DecidedAt).order_by_desc(report::Column::Id),
    };
    let rows = ordered.offset((page - 1) * page_size).limit(page_size).all(&state.db).await?;
    let open_reports = Report::find().filter(report::Column::Status.eq(ReportStatus::Open));
    let open = open_reports.clone().count(&state.db).await?;
    let backend = state.db.get_database_backend();
    let overdue = open_reports.filter(report::Column::DueAt.lt(db::instant(backend, now))).count(&state.db).await?;
    let reports = views(&state.db, now, rows).await?;
    Ok(Json(ReportPage { reports, total, page, page_size, open, overdue }))
}

/// The rows as the queue shows them: with the accounts' addresses and the replies' state now.
async fn views(db: &Db, now: DateTime<Utc>, rows: Vec<report::Model>) -> AppResult<Vec<AdminReport>> {
    let user_ids: Vec<String> =
        rows.iter().flat_map(|row| [Some(row.reporter_id.clone()), row.decided_by.clone()]).flatten().collect();
    let emails: HashMap<String, String> = if user_ids.is_empty() {
        HashMap::new()
    } else {
        User::find()
            .select_only()
            .columns([user::Column::Id, user::Column::Email])
            .filter(user::Column::Id.is_in(user_ids))
            .into_tuple::<(String, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let message_ids: Vec<String> = rows.iter().filter_map(|row| row.message_id.clone()).collect();
    let withheld: HashMap<String, Option<Withheld>> = if message_ids.is_empty() {
        HashMap::new()
    } else {
        Message::find()
            .select_only()
            .columns([message::Column::Id, message::Column::Withheld])
            .filter(message::Column::Id.is_in(message_ids))
            .into_tuple::<(String, Option<Withheld>)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    Ok(rows.into_iter().map(|row| view(row, now, &emails, &withheld)).collect())
}

fn view(
    row: report::Model,
    now: DateTime<Utc>,
    emails: &HashMap<String, String>,
    withheld: &HashMap<String, Option<Withheld>>,
) -> AdminReport {
    let context =
        row.question.clone().map(|content| ContextMessage { role: MessageRole::User, content }).into_iter().collect();
    AdminReport {
        report: OwnReport::from(&row),
        reporter_email: emails.get(&row.reporter_id).cloned(),
        reply_withheld: row.message_id.as_ref().and_then(|id| withheld.get(id).copied().flatten()),
        context,
        overdue: row.status == ReportStatus::Open && row.due_at < now,
        decided_by_email: row.decided_by.as_ref().and_then(|id| emails.get(id)).cloned(),
        reporter_id: row.reporter_id,
        reply: row.reply,
    }
}

/// How a report ends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Something was done: the reply hidden and/or the account warned, restricted or banned.
    Actioned,
    /// Nothing to act on.
    Dismissed,
}

/// `POST /api/admin/reports/{id}/decision` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub outcome: Outcome,
    /// Hide the reply: it leaves its user's history and the model's context.
    #[serde(default)]
    pub hide_reply: bool,
    /// What to do about the account whose conversation holds the reply (default `none`).
    #[serde(default = "no_action")]
    pub user_action: UserAction,
    /// With `userAction: restrict`: for how many days (1–365) chat is refused.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub restrict_days: Option<u32>,
    /// Words to the reporter, shown with the outcome (required with `warn`: the warning);
    /// at most 1,000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

fn no_action() -> UserAction {
    UserAction::None
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminReportResponse {
    pub report: AdminReport,
}

/// Decide an open report: dismiss it, or act on it (hide the reply; warn, restrict or ban the
/// account). Each report is decided once.
#[utoipa::path(
    post,
    path = "/api/admin/reports/{id}/decision",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Report id")),
    request_body = Decision,
    responses(
        (status = 200, description = "Decided", body = AdminReportResponse),
        (status = 404, description = "No such report", body = ErrorBody),
        (status = 409, description = "`already_decided`: another decision came first", body = ErrorBody),
        (status = 422, description = "`invalid_decision` (dismissed with an action, actioned with none, `warn` without a note, `restrict` without 1–365 days), `note_too_long`, or `cannot_ban_self`", body = ErrorBody),
    )
)]
pub(super) async fn decide_report(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
    AppJson(decision): AppJson<Decision>,
) -> AppResult<Json<AdminReportResponse>> {
    let note = checked(&decision)?;
    // A deadlock with a concurrent deletion of the conversation (InnoDB rolls one back) runs
    // the decision again from the start: it is all one transaction.
    rate_limit::retry_transaction(3, || decide_once(&state, &admin.user, &id, &decision, note.clone(), &client))
        .await?;
    let decided = Report::find_by_id(id).one(&state.db).await?.ok_or(AppError::NotFound("report"))?;
    let report = views(&state.db, state.clock.now(), vec![decided]).await?.pop().ok_or(AppError::NotFound("report"))?;
    Ok(Json(AdminReportResponse { report }))
}

/// The decision, in one transaction: claims the open report, hides the reply, acts on the
/// account, audits.
async fn decide_once(
    state: &AppState,
    admin: &user::Model,
    id: &str,
    decision: &Decision,
    note: Option<String>,
    client: &ClientMeta,
) -> AppResult<()> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let row = Report::find_by_id(id.to_string()).one(&txn).await?.ok_or(AppError::NotFound("report"))?;
    if decision.user_action == UserAction::Ban && row.reporter_id == admin.id {
        return Err(AppError::validation("cannot_ban_self", "you cannot ban your own account"));
    }
    let status = match decision.outcome {
        Outcome::Actioned => ReportStatus::Actioned,
        Outcome::Dismissed => ReportStatus::Dismissed,
    };
    // Decided once: the update claims an open report, and a second decision (another
    // administrator, a double click) finds none.
    let claimed = Report::update_many()
        .col_expr(report::Column::Status, Expr::value(status))
        .col_expr(report::Column::DecidedAt, Expr::value(now))
        .col_expr(report::Column::DecidedBy, Expr::value(admin.id.clone()))
        .col_expr(report::Column::UserAction, Expr::value(decision.user_action))
        .col_expr(report::Column::Note, Expr::value(note))
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::Status.eq(ReportStatus::Open))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(AppError::conflict("already_decided", "this report was decided already"));
    }
    let actor = Some(admin.id.as_str());
    // Hidden only when the reply is still there to hide (a deleted conversation took it).
    let hidden = match (&row.message_id, decision.hide_reply) {
        (Some(message_id), true) => {
            hide(&txn, message_id).await?;
            let entry = audit::Entry::new(Action::ReplyHidden, actor, format!("hid reply {message_id} (report {id})"));
            audit::record(&txn, &state.clock, entry, client).await?;
            true
        }
        _ => false,
    };
    let restricted_until = act_on_account(&txn, state, actor, &row, decision, client).await?;
    Report::update_many()
        .col_expr(report::Column::ReplyHidden, Expr::value(hidden))
        .col_expr(report::Column::RestrictedUntil, Expr::value(restricted_until))
        .filter(report::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let action = match decision.user_action {
        UserAction::None => "none",
        UserAction::Warn => "warned",
        UserAction::Restrict => "restricted",
        UserAction::Ban => "banned",
    };
    let outcome = match decision.outcome {
        Outcome::Actioned => "actioned",
        Outcome::Dismissed => "dismissed",
    };
    let message = format!("decided report {id}: {outcome}; reply hidden: {hidden}; account: {action}");
    audit::record(&txn, &state.clock, audit::Entry::new(Action::ReportDecided, actor, message), client).await?;
    txn.commit().await?;
    Ok(())
}

/// The decision's note, trimmed, once the decision is consistent.
fn checked(decision: &Decision) -> AppResult<Option<String>> {
    let invalid = |message: &str| Err(AppError::validation("invalid_decision", message));
    let note = crate::text::optional(decision.note.clone(), MAX_NOTE_CHARS, "note_too_long", "the note")?;
    let acts = decision.hide_reply || decision.user_action != UserAction::None;
    match decision.outcome {
        Outcome::Dismissed if acts => return invalid("a dismissed report hides nothing and leaves the account alone"),
        Outcome::Actioned if !acts => return invalid("an actioned report hides the reply or acts on the account"),
        _ => {}
    }
    if decision.user_action == UserAction::Warn && note.is_none() {
        return invalid("a warning needs its words in `note`");
    }
    match (decision.user_action, decision.restrict_days) {
        (UserAction::Restrict, Some(days)) if (1..=MAX_RESTRICT_DAYS).contains(&days) => {}
        (UserAction::Restrict, _) => return invalid("a restriction needs `restrictDays` between 1 and 365"),
        (_, Some(_)) => return invalid("`restrictDays` goes with `userAction: restrict` only"),
        _ => {}
    }
    Ok(note)
}

/// Hides a reply from its user and the model (a reply moderation blocked stays blocked).
async fn hide(txn: &impl ConnectionTrait, message_id: &str) -> AppResult<()> {
    Message::update_many()
        .col_expr(message::Column::Withheld, Expr::value(Withheld::Hidden))
        .filter(message::Column::Id.eq(message_id))
        .filter(message::Column::Withheld.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Warns, restricts or bans the account whose conversation holds the reply (its reporter: a
/// conversation is its owner's alone). Returns when the account's chat restriction now ends,
/// for a restriction (the longer of the new one and one already running).
async fn act_on_account(
    txn: &impl ConnectionTrait,
    state: &AppState,
    actor: Option<&str>,
    row: &report::Model,
    decision: &Decision,
    client: &ClientMeta,
) -> AppResult<Option<DateTime<Utc>>> {
    if decision.user_action == UserAction::None {
        return Ok(None);
    }
    // Locked (on MySQL) until the decision commits: two restrictions at once are applied one
    // after the other, so the longer one is kept whichever comes last.
    let Some(target) = User::find_by_id(row.reporter_id.clone()).lock_exclusive().one(txn).await? else {
        return Ok(None);
    };
    let email = target.email.clone();
    let now = state.clock.now();
    let (entry, until) = match decision.user_action {
        UserAction::None => return Ok(None),
        UserAction::Warn => {
            (audit::Entry::new(Action::UserWarned, actor, format!("warned after report {}", row.id)), None)
        }
        UserAction::Restrict => {
            let asked = now + TimeDelta::days(i64::from(decision.restrict_days.unwrap_or(1)));
            // A longer restriction already running is not shortened.
            let until = target.restricted_until.filter(|running| *running > asked).unwrap_or(asked);
            User::update_many()
                .col_expr(user::Column::RestrictedUntil, Expr::value(until))
                .col_expr(user::Column::UpdatedAt, Expr::value(now))
                .filter(user::Column::Id.eq(&target.id))
                .exec(txn)
                .await?;
            let message = format!("chat restricted until {} after report {}", until.to_rfc3339(), row.id);
            (audit::Entry::new(Action::UserRestricted, actor, message), Some(until))
        }
        UserAction::Ban => {
            admin::apply_ban(txn, &state.clock, actor, target, true, client).await?;
            return Ok(None);
        }
    };
    audit::record(txn, &state.clock, entry.about(&email), client).await?;
    Ok(until)
}
