//! The admins' usage dashboard, `GET /api/admin/usage`: over a range of days (default the last
//! 30, by day; up to a year, by week), messages and tokens per period, per assistant and
//! language; active users and registrations; stopped replies and model failures; feedback per
//! assistant; the top users by tokens. One call, a handful of grouped queries, all computed in
//! the database from the hourly tallies ([`super::tally`]), so its cost follows the number of
//! user-hours in the range, not the number of messages (BENCHMARKS.md).
//!
//! Days are local days at a whole-hour UTC offset (the browser's), since the tallies are
//! hourly. Weeks start on Monday.

use std::collections::HashMap;

use axum::{Json, extract::State};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter, Statement, Value,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::AdminUser,
    db::{self, Db},
    entities::{ConversationKind, Rating, User, user},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppQuery, routes::api_routes},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![usage]
}

/// The longest range, in days.
pub const MAX_DAYS: i64 = 366;
/// Ranges up to this many days are shown by day unless asked otherwise.
const DAILY_UP_TO: i64 = 92;
const TOP_USERS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct UsageQuery {
    /// First day (`YYYY-MM-DD`, local at `utcOffsetMinutes`); default 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day, included; default today.
    pub to: Option<NaiveDate>,
    /// `day` or `week`; default `day` for ranges up to 92 days, else `week`.
    #[param(inline)]
    pub bucket: Option<Period>,
    /// The viewer's offset from UTC in minutes, a whole number of hours (-720 to 840; default 0).
    #[param(minimum = -720, maximum = 840)]
    pub utc_offset_minutes: Option<i32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: Period,
    pub utc_offset_minutes: i32,
    /// Every period of the range, in order (zeros included).
    pub periods: Vec<PeriodUsage>,
    /// Per period, assistant and language: only the non-empty ones.
    pub by_assistant: Vec<AssistantUsage>,
    /// Thumbs given in the range, per assistant (both always listed).
    pub feedback: Vec<FeedbackCount>,
    /// The users with the most tokens in the range (at most 10).
    pub top_users: Vec<TopUser>,
    pub totals: Totals,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodUsage {
    /// The period's first day (a Monday for weeks, possibly before `from`).
    pub start: NaiveDate,
    /// Messages users sent.
    pub messages: i64,
    /// Replies saved (complete or stopped).
    pub replies: i64,
    pub prompt_tokens: i64,
    /// Every token the model wrote, the thinking's included.
    pub completion_tokens: i64,
    /// Of `completion_tokens`, what the model thought before it answered ("think deeply").
    pub thinking_tokens: i64,
    pub tokens: i64,
    /// Users who sent a message.
    pub active_users: i64,
    pub registrations: i64,
    /// Replies the user stopped.
    pub stopped: i64,
    /// Turns whose model failed (timed out, erred, broke off, answered nothing).
    pub model_errors: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantUsage {
    pub start: NaiveDate,
    pub assistant: ConversationKind,
    /// `zh`, `en`, or `unknown` (messages from before this version).
    pub language: String,
    pub messages: i64,
    pub replies: i64,
    pub tokens: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct FeedbackCount {
    pub assistant: ConversationKind,
    pub up: i64,
    pub down: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopUser {
    pub user_id: String,
    pub email: String,
    pub tokens: i64,
    pub messages: i64,
    pub banned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub messages: i64,
    pub replies: i64,
    pub tokens: i64,
    /// Of `tokens`, the thinking's.
    pub thinking_tokens: i64,
    /// Distinct users who sent a message in the range.
    pub active_users: i64,
    pub registrations: i64,
    pub stopped: i64,
    pub model_errors: i64,
}

/// Usage over a range of days: activity, assistants, feedback and the top users.
#[utoipa::path(
    get,
    path = "/api/admin/usage",
    tag = "admin",
    security(("bearer" = [])),
    params(UsageQuery),
    responses(
        (status = 200, description = "The usage report", body = UsageReport),
        (status = 422, description = "A range that is reversed, longer than 366 days, before 1970 or after tomorrow, or at an offset that is not whole hours (`invalid_range`)", body = ErrorBody),
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<UsageQuery>,
) -> AppResult<Json<UsageReport>> {
    let range = Range::of(&query, state.clock.now())?;
    Ok(Json(report(&state.db, &range).await?))
}

/// A checked range: local days `from..=to` at `offset_hours`, read in `bucket`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: Period,
    pub offset_hours: i64,
}

fn invalid_range(message: impl Into<String>) -> AppError {
    AppError::validation("invalid_range", message)
}

impl Range {
    pub fn of(query: &UsageQuery, now: DateTime<Utc>) -> AppResult<Self> {
        let offset_minutes = query.utc_offset_minutes.unwrap_or(0);
        if !(-720..=840).contains(&offset_minutes) || offset_minutes % 60 != 0 {
            return Err(invalid_range("`utcOffsetMinutes` must be a whole number of hours from -720 to 840"));
        }
        let offset_hours = i64::from(offset_minutes / 60);
        let today = (now + Duration::hours(offset_hours)).date_naive();
        let to = query.to.unwrap_or(today);
        let from = match query.from {
            Some(from) => from,
            None => to.checked_sub_signed(Duration::days(29)).ok_or_else(|| invalid_range("`to` is too early"))?,
        };
        let days = (to - from).num_days() + 1;
        if days < 1 {
            return Err(invalid_range("`from` must not be after `to`"));
        }
        if days > MAX_DAYS {
            return Err(invalid_range(format!("the range may span at most {MAX_DAYS} days")));
        }
        if from < epoch() {
            return Err(invalid_range("the range starts before 1970"));
        }
        if to > today + Duration::days(1) {
            return Err(invalid_range("the range ends after tomorrow"));
        }
        let bucket = query.bucket.unwrap_or(if days <= DAILY_UP_TO { Period::Day } else { Period::Week });
        Ok(Self { from, to, bucket, offset_hours })
    }

    /// The tallies' hours `[start, end)` the range covers.
    fn hours(&self) -> (i64, i64) {
        let day = |date: NaiveDate| (date - epoch()).num_days();
        (day(self.from) * 24 - self.offset_hours, (day(self.to) + 1) * 24 - self.offset_hours)
    }

    /// The instants `[start, end)` the range covers.
    fn instants(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let (start, end) = self.hours();
        let at = |hour: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::hours(hour);
        (at(start), at(end))
    }

    /// SQL for the period number of an hour column: local days since 1970, or weeks since the
    /// Monday before it (1970-01-01 was a Thursday). Integer division is `DIV` on MySQL.
    fn period_sql(&self, backend: DatabaseBackend, hour: &str) -> String {
        let div = if backend == DatabaseBackend::MySql { "DIV" } else { "/" };
        let day = format!("(({hour}) + {}) {div} 24", self.offset_hours);
        match self.bucket {
            Period::Day => day,
            Period::Week => format!("({day} + 3) {div} 7"),
        }
    }

    /// The first day of period number `period`.
    fn start_of(&self, period: i64) -> NaiveDate {
        let days = match self.bucket {
            Period::Day => period,
            Period::Week => period * 7 - 3,
        };
        epoch() + Duration::days(days)
    }

    /// The number of the period holding `date`.
    fn period_of(&self, date: NaiveDate) -> i64 {
        let days = (date - epoch()).num_days();
        match self.bucket {
            Period::Day => days,
            Period::Week => (days + 3).div_euclid(7),
        }
    }
}

fn epoch() -> NaiveDate {
    DateTime::<Utc>::UNIX_EPOCH.date_naive()
}

#[derive(Debug, FromQueryResult)]
struct PeriodRow {
    period: i64,
    messages: i64,
    replies: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    thinking_tokens: i64,
    stopped: i64,
    model_errors: i64,
    active_users: i64,
}

#[derive(Debug, FromQueryResult)]
struct AssistantRow {
    period: i64,
    assistant: ConversationKind,
    language: String,
    messages: i64,
    replies: i64,
    tokens: i64,
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    period: i64,
    count: i64,
}

#[derive(Debug, FromQueryResult)]
struct FeedbackRow {
    assistant: ConversationKind,
    rating: Rating,
    count: i64,
}

#[derive(Debug, FromQueryResult)]
struct UserTokensRow {
    user_id: String,
    tokens: i64,
    messages: i64,
}

#[derive(Debug, FromQueryResult)]
struct Single {
    count: i64,
}

/// The report for `range`, from the tallies, the accounts and the feedback.
pub async fn report(db: &Db, range: &Range) -> AppResult<UsageReport> {
    let backend = db.get_database_backend();
    let (first_hour, end_hour) = range.hours();
    let (since, until) = range.instants();
    let hours = || vec![Value::from(first_hour), Value::from(end_hour)];
    let statement = |sql: String, values: Vec<Value>| Statement::from_sql_and_values(backend, sql, values);
    let period = range.period_sql(backend, "hour");
    let int = |expr: &str| crate::db::integer(backend, expr);

    let rows = PeriodRow::find_by_statement(statement(
        format!(
            "SELECT {period} AS period, {}, {}, {}, {}, {}, {}, {}, \
               COUNT(DISTINCT CASE WHEN user_messages > 0 THEN user_id END) AS active_users \
             FROM usage_hours WHERE hour >= ? AND hour < ? GROUP BY period",
            int("SUM(user_messages)") + " AS messages",
            int("SUM(replies)") + " AS replies",
            int("SUM(prompt_tokens)") + " AS prompt_tokens",
            int("SUM(completion_tokens)") + " AS completion_tokens",
            int("SUM(thinking_tokens)") + " AS thinking_tokens",
            int("SUM(stopped)") + " AS stopped",
            int("SUM(model_errors)") + " AS model_errors",
        ),
        hours(),
    ))
    .all(db)
    .await?;

    let by_assistant = AssistantRow::find_by_statement(statement(
        format!(
            "SELECT {period} AS period, assistant, language, {}, {}, {} FROM usage_hours \
             WHERE hour >= ? AND hour < ? GROUP BY period, assistant, language \
             HAVING SUM(user_messages) + SUM(replies) > 0 ORDER BY period, assistant, language",
            int("SUM(user_messages)") + " AS messages",
            int("SUM(replies)") + " AS replies",
            int("SUM(prompt_tokens + completion_tokens)") + " AS tokens",
        ),
        hours(),
    ))
    .all(db)
    .await?;

    let created_hour = match backend {
        DatabaseBackend::MySql => "TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', created_at)",
        _ => "CAST(strftime('%s', created_at) AS INTEGER) / 3600",
    };
    let registrations = CountRow::find_by_statement(statement(
        format!(
            "SELECT {} AS period, COUNT(*) AS count FROM users WHERE created_at >= ? AND created_at < ? GROUP BY period",
            range.period_sql(backend, created_hour)
        ),
        vec![db::instant(backend, since), db::instant(backend, until)],
    ))
    .all(db)
    .await?;

    let active_users = Single::find_by_statement(statement(
        "SELECT COUNT(DISTINCT user_id) AS count FROM usage_hours WHERE hour >= ? AND hour < ? AND user_messages > 0"
            .into(),
        hours(),
    ))
    .one(db)
    .await?
    .map_or(0, |row| row.count);

    let feedback = FeedbackRow::find_by_statement(statement(
        "SELECT assistant, rating, COUNT(*) AS count FROM message_feedback \
         WHERE updated_at >= ? AND updated_at < ? GROUP BY assistant, rating"
            .into(),
        vec![db::instant(backend, since), db::instant(backend, until)],
    ))
    .all(db)
    .await?;

    let top = UserTokensRow::find_by_statement(statement(
        format!(
            "SELECT user_id, {}, {} FROM usage_hours WHERE hour >= ? AND hour < ? GROUP BY user_id \
             ORDER BY tokens DESC, messages DESC, user_id LIMIT {TOP_USERS}",
            int("SUM(prompt_tokens + completion_tokens)") + " AS tokens",
            int("SUM(user_messages)") + " AS messages",
        ),
        hours(),
    ))
    .all(db)
    .await?;
    let top_users = top_users(db, top).await?;

    Ok(assemble(range, rows, by_assistant, registrations, active_users, feedback, top_users))
}

/// The accounts of the top users, in their order.
async fn top_users(db: &Db, rows: Vec<UserTokensRow>) -> AppResult<Vec<TopUser>> {
    let ids: Vec<String> = rows.iter().map(|row| row.user_id.clone()).collect();
    let accounts: HashMap<String, user::Model> = match ids.is_empty() {
        true => HashMap::new(),
        false => User::find()
            .filter(user::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|account| (account.id.clone(), account))
            .collect(),
    };
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let account = accounts.get(&row.user_id)?;
            Some(TopUser {
                email: account.email.clone(),
                banned_at: account.banned_at,
                user_id: row.user_id,
                tokens: row.tokens,
                messages: row.messages,
            })
        })
        .collect())
}

/// Every period of the range with its numbers, zeros included, and the totals.
fn assemble(
    range: &Range,
    rows: Vec<PeriodRow>,
    by_assistant: Vec<AssistantRow>,
    registrations: Vec<CountRow>,
    active_users: i64,
    feedback: Vec<FeedbackRow>,
    top_users: Vec<TopUser>,
) -> UsageReport {
    let (first, last) = (range.period_of(range.from), range.period_of(range.to));
    let mut periods: Vec<PeriodUsage> =
        (first..=last).map(|period| PeriodUsage { start: range.start_of(period), ..PeriodUsage::default() }).collect();
    let slot = |period: i64| usize::try_from(period - first).ok();
    for row in rows {
        if let Some(at) = slot(row.period).and_then(|at| periods.get_mut(at)) {
            *at = PeriodUsage {
                start: at.start,
                messages: row.messages,
                replies: row.replies,
                prompt_tokens: row.prompt_tokens,
                completion_tokens: row.completion_tokens,
                thinking_tokens: row.thinking_tokens,
                tokens: row.prompt_tokens + row.completion_tokens,
                active_users: row.active_users,
                registrations: 0,
                stopped: row.stopped,
                model_errors: row.model_errors,
            };
        }
    }
    for row in registrations {
        if let Some(at) = slot(row.period).and_then(|at| periods.get_mut(at)) {
            at.registrations = row.count;
        }
    }
    let mut totals = Totals { active_users, ..Totals::default() };
    for period in &periods {
        totals.messages += period.messages;
        totals.replies += period.replies;
        totals.tokens += period.tokens;
        totals.thinking_tokens += period.thinking_tokens;
        totals.registrations += period.registrations;
        totals.stopped += period.stopped;
        totals.model_errors += period.model_errors;
    }
    let by_assistant = by_assistant
        .into_iter()
        .map(|row| AssistantUsage {
            start: range.start_of(row.period),
            assistant: row.assistant,
            language: row.language,
            messages: row.messages,
            replies: row.replies,
            tokens: row.tokens,
        })
        .collect();
    let feedback = [ConversationKind::Oracle, ConversationKind::Tcm]
        .into_iter()
        .map(|assistant| {
            let count = |rating: Rating| {
                feedback
                    .iter()
                    .filter(|row| row.assistant == assistant && row.rating == rating)
                    .map(|row| row.count)
                    .sum()
            };
            FeedbackCount { assistant, up: count(Rating::Up), down: count(Rating::Down) }
        })
        .collect();
    UsageReport {
        from: range.from,
        to: range.to,
        bucket: range.bucket,
        utc_offset_minutes: i32::try_from(range.offset_hours * 60).unwrap_or_default(),
        periods,
        by_assistant,
        feedback,
        top_users,
        totals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn defaults_to_the_last_30_local_days_by_day() {
        // 2026-12-01 20:00 UTC is already 2026-12-02 in Beijing.
        let query = UsageQuery { utc_offset_minutes: Some(480), ..UsageQuery::default() };
        let range = Range::of(&query, at("2026-12-01T20:00:00Z")).unwrap();
        assert_eq!((range.from, range.to, range.bucket), (date("2026-11-03"), date("2026-12-02"), Period::Day));
        // Local midnight of 2026-11-03 is 16:00 UTC the day before.
        assert_eq!(range.instants().0, at("2026-11-02T16:00:00Z"));
        assert_eq!(range.instants().1, at("2026-12-02T16:00:00Z"));
    }

    #[test]
    fn long_ranges_go_by_monday_weeks() {
        let query =
            UsageQuery { from: Some(date("2026-01-01")), to: Some(date("2026-12-31")), ..UsageQuery::default() };
        let range = Range::of(&query, at("2027-01-01T00:00:00Z")).unwrap();
        assert_eq!(range.bucket, Period::Week);
        // 2026-01-01 is a Thursday: its week started on Monday 2025-12-29.
        assert_eq!(range.start_of(range.period_of(range.from)), date("2025-12-29"));
        assert_eq!(range.start_of(range.period_of(date("2026-01-05"))), date("2026-01-05"));
    }

    #[test]
    fn refuses_bad_ranges() {
        let now = at("2026-12-01T00:00:00Z");
        let refused = |query: UsageQuery| {
            matches!(Range::of(&query, now), Err(AppError::Validation { code: "invalid_range", .. }))
        };
        assert!(refused(UsageQuery {
            from: Some(date("2026-12-02")),
            to: Some(date("2026-12-01")),
            ..UsageQuery::default()
        }));
        assert!(refused(UsageQuery {
            from: Some(date("2025-01-01")),
            to: Some(date("2026-12-01")),
            ..UsageQuery::default()
        }));
        assert!(refused(UsageQuery { utc_offset_minutes: Some(330), ..UsageQuery::default() }));
        assert!(refused(UsageQuery { utc_offset_minutes: Some(900), ..UsageQuery::default() }));
        assert!(refused(UsageQuery {
            from: Some(date("1969-12-01")),
            to: Some(date("1970-01-01")),
            ..UsageQuery::default()
        }));
        let year = UsageQuery { from: Some(date("2025-12-01")), to: Some(date("2026-12-01")), ..UsageQuery::default() };
        assert!(Range::of(&year, now).is_ok());
    }
}
