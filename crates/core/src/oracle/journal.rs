//! The journal: a person's readings, cast here (`POST /api/oracle/readings`), listed and
//! searched newest first, each linked to the conversation that asks about it, deleted alone
//! or with that conversation (or the account). Served by the `chat` function.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    book::book,
    casting::{self, LineValue, Method},
    reading::{self, ReadingView},
};
use crate::{
    auth::AuthUser,
    chat::search::like_pattern,
    entities::reading as stored,
    error::{AppError, AppResult, DbResultExt, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, AppQuery, ClientMeta, routes::api_routes},
    ids::new_id,
    language::Language,
    owned,
    rate_limit::{self, Bucket, Meter},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![cast, list_readings, get_reading, delete_reading]
}

/// The longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;

/// `POST /api/oracle/readings` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CastRequest {
    /// What the person asks (1–500 characters).
    #[schema(max_length = 500)]
    pub question: String,
    /// `coins` (three coins), `yarrow` (yarrow stalks' probabilities), or `manual` (the person
    /// cast with their own coins and gives `lines`).
    pub method: Method,
    /// With `manual` only: the six values cast, bottom first, each 6, 7, 8 or 9.
    #[serde(default)]
    #[schema(min_items = 6, max_items = 6)]
    pub lines: Option<Vec<LineValue>>,
    /// The language of a refusal's message (`zh`, `en`…; default Chinese).
    #[serde(default)]
    pub locale: Option<String>,
}

/// A reading of the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    pub id: String,
    pub question: String,
    pub method: Method,
    pub created_at: DateTime<Utc>,
    /// The conversation that asks about it (`null` until a chat turn names it).
    pub conversation_id: Option<String>,
    /// "Hexagram 11 泰 Peace, changing lines 2 and 5, becoming 63 既济 After Completion".
    pub summary: String,
    #[serde(flatten)]
    pub reading: ReadingView,
}

impl Reading {
    pub fn from_row(row: &stored::Model) -> Self {
        let view = reading::read(lines_of(&row.line_values));
        Self {
            id: row.id.clone(),
            question: row.question.clone(),
            method: match row.method.as_str() {
                "yarrow" => Method::Yarrow,
                "manual" => Method::Manual,
                _ => Method::Coins,
            },
            created_at: row.created_at,
            conversation_id: row.conversation_id.clone(),
            summary: reading::summary(&view),
            reading: view,
        }
    }
}

/// `779868` as six values (stored by this module, so always six digits 6–9).
fn lines_of(stored: &str) -> [LineValue; 6] {
    let mut lines = [7; 6];
    for (line, digit) in lines.iter_mut().zip(stored.bytes()) {
        *line = digit.saturating_sub(b'0');
    }
    lines
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReadingResponse {
    pub reading: Reading,
}

/// Cast a reading (or record one cast by hand) for a question: the lines are drawn on the
/// server; the reading says which texts govern the answer. Ask the oracle about it with
/// `readingId` in `POST /api/chat`.
#[utoipa::path(
    post,
    path = "/api/oracle/readings",
    tag = "oracle",
    security(("bearer" = [])),
    request_body = CastRequest,
    responses(
        (status = 201, description = "The reading, kept in the journal", body = ReadingResponse),
        (status = 401, description = "Not signed in, or the account was deleted meanwhile", body = ErrorBody),
        (status = 403, description = "`terms_required`: the account has not accepted the current terms", body = ErrorBody),
        (status = 422, description = "`empty_question`, `question_too_long`, `invalid_lines` (manual without six values 6–9, or lines with another method), `content_blocked` (moderation refused the question: it would reach the model)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: as many readings as `RATE_LIMIT_ORACLE_CASTS` allows; see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn cast(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    AppJson(request): AppJson<CastRequest>,
) -> AppResult<(StatusCode, Json<ReadingResponse>)> {
    crate::consent::terms_gate(&state.config.trust, &auth.user)?;
    let question = request.question.trim().to_string();
    if crate::text::is_blank(&question) {
        return Err(AppError::validation("empty_question", "ask a question to cast for"));
    }
    let length = question.chars().count();
    if length > MAX_QUESTION_CHARS {
        return Err(AppError::validation(
            "question_too_long",
            format!("the question has {length} characters; the limit is {MAX_QUESTION_CHARS}"),
        ));
    }
    let lines = match (request.method, request.lines) {
        (Method::Manual, Some(lines)) if lines.len() == 6 && lines.iter().copied().all(casting::is_valid) => {
            std::array::from_fn(|index| lines[index])
        }
        (Method::Manual, _) => {
            return Err(AppError::validation(
                "invalid_lines",
                "give the six values you cast, bottom first, each 6, 7, 8 or 9",
            ));
        }
        (_, Some(_)) => {
            return Err(AppError::validation(
                "invalid_lines",
                "`lines` goes with `method: manual` only: the server casts",
            ));
        }
        (method, None) => casting::cast(method, &mut rand::rng()),
    };
    // The question reaches the model in every later turn that asks about the reading: it is
    // checked as a message is — after the limit is read, so that a caller past it costs no
    // check (the charge below refuses what gets past this).
    let meter = Meter::new(Bucket::OracleCasts, &auth.user.id, state.config.oracle_casts);
    if let (Some(meter), Some(_)) = (&meter, &state.moderator) {
        rate_limit::ensure_room(&state.db, &state.clock, meter).await?;
    }
    let language = Language::from_locale(request.locale.as_deref());
    crate::moderation::input::screen_kept(&state, &auth.user, &client, &question, "a reading's question", language)
        .await?;
    let view = reading::read(lines);
    // The limit is charged in the transaction that writes the reading: a burst at every
    // instance writes exactly as many as it allows.
    let meters: Vec<Meter> = meter.into_iter().collect();
    let (txn, _charged) = rate_limit::begin_charged(&state.db, &state.clock, &meters).await?;
    let row = stored::Model {
        id: new_id(),
        user_id: auth.user.id.clone(),
        conversation_id: None,
        question,
        method: request.method.as_str().to_string(),
        line_values: lines.iter().map(|value| char::from(b'0' + value)).collect(),
        primary_number: i16::from(view.primary.number),
        relating_number: view.relating.as_ref().map(|relating| i16::from(relating.number)),
        created_at: state.clock.now(),
    };
    // Every field is known: no need to read the row back (MySQL would, in a second statement).
    stored::Entity::insert(stored::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await
        // The account was deleted meanwhile (its token was good a moment ago).
        .on_foreign_key_violation(crate::auth::token::invalid_token)?;
    txn.commit().await?;
    state.sweep(Bucket::OracleCasts).await;
    Ok((StatusCode::CREATED, Json(ReadingResponse { reading: Reading::from_row(&row) })))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReadingQuery {
    /// Part of the question, or a hexagram's name (泰, Peace) as primary or relating.
    pub q: Option<String>,
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingPage {
    pub readings: Vec<Reading>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// The caller's readings, newest first, optionally searched.
#[utoipa::path(
    get,
    path = "/api/oracle/readings",
    tag = "oracle",
    security(("bearer" = [])),
    params(ReadingQuery),
    responses(
        (status = 200, description = "A page of readings", body = ReadingPage),
        (status = 422, description = "`invalid_query`: `q` over 100 characters", body = ErrorBody),
    )
)]
async fn list_readings(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(query): AppQuery<ReadingQuery>,
) -> AppResult<Json<ReadingPage>> {
    let (page, page_size) = crate::admin::paging(query.page, query.page_size)?;
    let mut select = stored::Entity::find().filter(stored::Column::UserId.eq(&auth.user.id));
    if let Some(text) = query.q.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        if text.chars().count() > 100 {
            return Err(AppError::validation("invalid_query", "`q` must have at most 100 characters"));
        }
        select = select.filter(matching(text));
    }
    let (created_at, id) = (stored::Column::CreatedAt, stored::Column::Id);
    let (rows, total) = owned::newest_page(&state.db, select, created_at, id, (page, page_size)).await?;
    Ok(Json(ReadingPage { readings: rows.iter().map(Reading::from_row).collect(), total, page, page_size }))
}

/// The question contains `text`, or a hexagram of the reading is named `text` (in Chinese, or
/// its English name containing it).
fn matching(text: &str) -> Condition {
    let lower = text.to_lowercase();
    let numbers: Vec<i16> = book()
        .hexagrams
        .iter()
        .filter(|hexagram| {
            hexagram.name == text || (lower.len() >= 3 && hexagram.english.to_lowercase().contains(&lower))
        })
        .map(|hexagram| i16::from(hexagram.number))
        .collect();
    let mut condition =
        Condition::any().add(Expr::cust_with_values("readings.question LIKE ? ESCAPE '!'", [like_pattern(text)]));
    if !numbers.is_empty() {
        condition = condition
            .add(stored::Column::PrimaryNumber.is_in(numbers.clone()))
            .add(stored::Column::RelatingNumber.is_in(numbers));
    }
    condition
}

/// One of the caller's readings.
#[utoipa::path(
    get,
    path = "/api/oracle/readings/{id}",
    tag = "oracle",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Reading id")),
    responses(
        (status = 200, description = "The reading", body = ReadingResponse),
        (status = 404, description = "No such reading of the caller's", body = ErrorBody),
    )
)]
async fn get_reading(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<ReadingResponse>> {
    let row = owned(&state, &auth.user.id, &id).await?;
    Ok(Json(ReadingResponse { reading: Reading::from_row(&row) }))
}

/// Delete a reading from the journal (its conversation stays).
#[utoipa::path(
    delete,
    path = "/api/oracle/readings/{id}",
    tag = "oracle",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Reading id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such reading of the caller's", body = ErrorBody),
    )
)]
async fn delete_reading(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<StatusCode> {
    let columns = (stored::Column::Id, stored::Column::UserId);
    owned::delete::<stored::Entity>(&state.db, columns, &id, &auth.user.id, "reading").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The reading `id` of `user_id`, or 404.
pub async fn owned(state: &AppState, user_id: &str, id: &str) -> AppResult<stored::Model> {
    stored::Entity::find_by_id(id.to_string())
        .filter(stored::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("reading"))
}
