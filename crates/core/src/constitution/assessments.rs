//! The questionnaire and a person's answers to it: `GET /api/constitution/questionnaire`
//! (public: the questions, the scale, the types), and the caller's assessments — submitted,
//! scored and kept (`POST`), listed newest first, read and deleted. Served by the `chat` function.
//!
//! The answers are health information: where the server asks for the separate consent to it
//! (`HEALTH_CONSENT=required`), an assessment is submitted only with that consent, read once
//! more under a lock as the row is written (a withdrawal racing the submission either comes
//! first and refuses it, or waits and can delete it).

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    SCALE,
    items::{ANSWERED, ITEMS, OPTIONS, RECALL_EN, RECALL_ZH, Sex, TYPES, Type, for_sex},
    scoring::{self, TypeScore},
};
use crate::{
    auth::AuthUser,
    entities::{ConversationKind, constitution_assessment as stored},
    error::{AppError, AppResult, DbResultExt, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, AppQuery, routes::api_routes},
    ids::new_id,
    owned,
    rate_limit::{self, Bucket, Meter},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![questionnaire, submit, list_assessments, get_assessment, delete_assessment]
}

/// Text in both languages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

impl Bilingual {
    fn new(zh: &str, en: &str) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerOption {
    pub value: u8,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TypeDescription {
    pub key: Type,
    pub zh: String,
    pub en: String,
    /// What the type is like, in a sentence (ours).
    pub about: Bilingual,
}

/// A type a question counts in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    #[serde(rename = "type")]
    pub kind: Type,
    /// The answer counts the other way round (1 as 5): the balanced type's six questions.
    pub reversed: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Question {
    /// The answer's key in `answers`.
    pub id: String,
    pub zh: String,
    pub en: String,
    /// `female` or `male` for the one question asked of one sex only; `null` for everyone.
    pub sex: Option<Sex>,
    pub counts: Vec<Counts>,
}

/// The questionnaire.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Questionnaire {
    /// The standard whose structure and scoring the questionnaire follows.
    #[schema(example = "ZYYXH/T157-2009")]
    pub scale: String,
    /// The instruction: answer for the past year.
    pub recall: Bilingual,
    /// 1 (never) … 5 (always).
    pub options: Vec<AnswerOption>,
    /// The nine types, in the standard's order.
    pub types: Vec<TypeDescription>,
    /// 61 questions; a person answers the 60 that apply to their sex.
    pub items: Vec<Question>,
}

/// The questions (ours, modelled on the structure and scoring of ZYYXH/T157-2009), the answer
/// scale and the nine types.
#[utoipa::path(
    get,
    path = "/api/constitution/questionnaire",
    tag = "constitution",
    responses((status = 200, description = "The questionnaire", body = Questionnaire))
)]
async fn questionnaire() -> Json<Questionnaire> {
    Json(Questionnaire {
        scale: SCALE.into(),
        recall: Bilingual::new(RECALL_ZH, RECALL_EN),
        options: OPTIONS.iter().map(|&(value, zh, en)| AnswerOption { value, zh: zh.into(), en: en.into() }).collect(),
        types: TYPES
            .iter()
            .map(|info| TypeDescription {
                key: info.kind,
                zh: info.zh.into(),
                en: info.en.into(),
                about: Bilingual::new(info.about_zh, info.about_en),
            })
            .collect(),
        items: ITEMS
            .iter()
            .map(|item| Question {
                id: item.id.into(),
                zh: item.zh.into(),
                en: item.en.into(),
                sex: item.sex,
                counts: item.counts.iter().map(|&(kind, reversed)| Counts { kind, reversed }).collect(),
            })
            .collect(),
    })
}

/// `POST /api/constitution/assessments` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Submission {
    /// Chooses the one question asked of one sex only.
    pub sex: Sex,
    /// Every question that applies (60), by id: 1 (never) … 5 (always).
    #[schema(value_type = BTreeMap<String, u8>)]
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// A scored assessment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[schema(example = "ZYYXH/T157-2009")]
    pub scale: String,
    pub sex: Sex,
    /// The nine types in the standard's order: raw and transformed scores and the verdict
    /// (balanced: `yes`, `basically` or `no`; the others: `yes`, `leaning` or `no`).
    pub scores: Vec<TypeScore>,
    /// The result in a sentence: "基本是平和质，有气郁质倾向".
    pub summary: Bilingual,
    /// The answers given, by question id.
    pub answers: BTreeMap<String, u8>,
}

impl Assessment {
    /// `None` for a row this version cannot read (another scale, a damaged value).
    pub fn from_row(row: &stored::Model) -> Option<Self> {
        let sex = match row.sex.as_str() {
            "female" => Sex::Female,
            "male" => Sex::Male,
            _ => return None,
        };
        let digits = row.answers.as_bytes();
        if row.scale != SCALE || digits.len() != ANSWERED || !digits.iter().all(|digit| (b'1'..=b'5').contains(digit)) {
            return None;
        }
        let answers: [u8; ANSWERED] = std::array::from_fn(|index| digits[index] - b'0');
        let scores = scoring::score(sex, &answers);
        let (zh, en) = scoring::summary(&scores);
        Some(Self {
            id: row.id.clone(),
            created_at: row.created_at,
            scale: row.scale.clone(),
            sex,
            scores: scores.to_vec(),
            summary: Bilingual { zh, en },
            answers: for_sex(sex).zip(answers).map(|(item, answer)| (item.id.to_string(), answer)).collect(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssessmentResponse {
    pub assessment: Assessment,
}

/// The answers in the questionnaire's order, or the 422 that says what is wrong with them.
fn ordered_answers(sex: Sex, answers: &BTreeMap<String, serde_json::Value>) -> AppResult<[u8; ANSWERED]> {
    for id in answers.keys() {
        match ITEMS.iter().find(|item| item.id == id) {
            None => {
                let shown: String = id.chars().take(64).collect();
                return Err(AppError::validation("unknown_item", format!("there is no question `{shown}`")));
            }
            Some(item) if item.sex.is_some_and(|asked| asked != sex) => {
                return Err(AppError::validation(
                    "item_not_for_sex",
                    format!("question `{id}` is asked of the other sex: leave it out"),
                ));
            }
            Some(_) => {}
        }
    }
    let mut ordered = [0; ANSWERED];
    let mut missing = Vec::new();
    for (slot, item) in for_sex(sex).enumerate() {
        match answers.get(item.id) {
            None => missing.push(item.id),
            Some(value) => match value.as_u64().filter(|value| (1..=5).contains(value)) {
                Some(answer) => ordered[slot] = answer as u8,
                None => {
                    return Err(AppError::validation(
                        "invalid_answer",
                        format!("the answer to `{}` must be a whole number from 1 (never) to 5 (always)", item.id),
                    ));
                }
            },
        }
    }
    if !missing.is_empty() {
        let named = missing.iter().take(5).copied().collect::<Vec<_>>().join("`, `");
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        return Err(AppError::validation(
            "incomplete_answers",
            format!("{} of {ANSWERED} questions have no answer: `{named}`{more}", missing.len()),
        ));
    }
    Ok(ordered)
}

/// Submit the answers: they are scored by the standard's rules and kept in the caller's history.
/// The TCM adviser is given the newest assessment as context.
#[utoipa::path(
    post,
    path = "/api/constitution/assessments",
    tag = "constitution",
    security(("bearer" = [])),
    request_body = Submission,
    responses(
        (status = 201, description = "The scored assessment, kept", body = AssessmentResponse),
        (status = 401, description = "Not signed in, or the account was deleted meanwhile", body = ErrorBody),
        (status = 403, description = "`terms_required`: the current terms are not accepted; `consent_required`: the server asks for the health-information consent, which the account has not given", body = ErrorBody),
        (status = 422, description = "`incomplete_answers`, `unknown_item`, `item_not_for_sex`, `invalid_answer` (not a whole number 1–5)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: as many as `RATE_LIMIT_CONSTITUTION_ASSESSMENTS` allows; see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn submit(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(submission): AppJson<Submission>,
) -> AppResult<(StatusCode, Json<AssessmentResponse>)> {
    let user = &auth.user;
    crate::consent::terms_gate(&state.config.trust, user)?;
    crate::consent::health_gate(&state, user, Some(ConversationKind::Tcm), None).await?;
    let answers = ordered_answers(submission.sex, &submission.answers)?;
    // The limit is charged in the transaction that writes the assessment, and the consent read
    // again there under a lock.
    let meters: Vec<Meter> =
        Meter::new(Bucket::ConstitutionAssessments, &user.id, state.config.constitution_assessments)
            .into_iter()
            .collect();
    let (txn, _charged) = rate_limit::begin_charged(&state.db, &state.clock, &meters).await?;
    let consented = crate::consent::lock_for_turn(&txn, &state, user, Some(ConversationKind::Tcm)).await?;
    crate::consent::still_given(consented, ConversationKind::Tcm)?;
    let row = stored::Model {
        id: new_id(),
        user_id: user.id.clone(),
        scale: SCALE.into(),
        sex: submission.sex.as_str().into(),
        answers: answers.iter().map(|answer| char::from(b'0' + answer)).collect(),
        created_at: state.clock.now(),
    };
    // Every field is known: no need to read the row back (MySQL would, in a second statement).
    stored::Entity::insert(stored::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await
        // The account was deleted meanwhile (its token was good a moment ago).
        .on_foreign_key_violation(crate::auth::token::invalid_token)?;
    txn.commit().await?;
    state.sweep(Bucket::ConstitutionAssessments).await;
    let assessment =
        Assessment::from_row(&row).ok_or_else(|| AppError::internal("a new assessment did not read back"))?;
    Ok((StatusCode::CREATED, Json(AssessmentResponse { assessment })))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentPage {
    pub assessments: Vec<Assessment>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// The caller's assessments, newest first.
#[utoipa::path(
    get,
    path = "/api/constitution/assessments",
    tag = "constitution",
    security(("bearer" = [])),
    params(crate::admin::PageQuery),
    responses((status = 200, description = "A page of assessments", body = AssessmentPage))
)]
async fn list_assessments(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(query): AppQuery<crate::admin::PageQuery>,
) -> AppResult<Json<AssessmentPage>> {
    let (page, page_size) = crate::admin::paging(query.page, query.page_size)?;
    let select = stored::Entity::find().filter(stored::Column::UserId.eq(&auth.user.id));
    let (created_at, id) = (stored::Column::CreatedAt, stored::Column::Id);
    let (rows, total) = owned::newest_page(&state.db, select, created_at, id, (page, page_size)).await?;
    let assessments = rows.iter().filter_map(Assessment::from_row).collect();
    Ok(Json(AssessmentPage { assessments, total, page, page_size }))
}

/// One of the caller's assessments.
#[utoipa::path(
    get,
    path = "/api/constitution/assessments/{id}",
    tag = "constitution",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Assessment id")),
    responses(
        (status = 200, description = "The assessment", body = AssessmentResponse),
        (status = 404, description = "No such assessment of the caller's", body = ErrorBody),
    )
)]
async fn get_assessment(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<AssessmentResponse>> {
    let assessment = stored::Entity::find_by_id(id)
        .filter(stored::Column::UserId.eq(&auth.user.id))
        .one(&state.db)
        .await?
        .as_ref()
        .and_then(Assessment::from_row)
        .ok_or(AppError::NotFound("assessment"))?;
    Ok(Json(AssessmentResponse { assessment }))
}

/// Delete an assessment (the TCM adviser no longer sees it).
#[utoipa::path(
    delete,
    path = "/api/constitution/assessments/{id}",
    tag = "constitution",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Assessment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such assessment of the caller's", body = ErrorBody),
    )
)]
async fn delete_assessment(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<StatusCode> {
    let columns = (stored::Column::Id, stored::Column::UserId);
    owned::delete::<stored::Entity>(&state.db, columns, &id, &auth.user.id, "assessment").await?;
    Ok(StatusCode::NO_CONTENT)
}
