//! The agreement and the consent a person gives before chatting: the terms of service and
//! privacy policy (`TERMS_VERSION`: accepted at registration, and again when the version
//! changes; art. 9 of the generative-AI measures), and the separate consent to processing
//! health information before the TCM adviser's first turn (`HEALTH_CONSENT=required`; PIPL
//! art. 28–29: health information is sensitive and needs the person's separate consent, which
//! they may withdraw at any time, art. 15).
//!
//! What was accepted lives on the account's row (the version and when; when consent was given),
//! so the gates read nothing more than the row the session check already loaded (a TCM turn
//! reads the consent once more, under a lock, as it writes: [`lock_for_turn`]); the audit
//! trail keeps each acceptance, consent and withdrawal. Served under `/api/account` by the
//! `auth-login` function; the gates run in the `chat` function ([`terms_gate`],
//! [`health_gate`]).

use axum::{Json, extract::State};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    account::AccountView,
    audit::{self, Action},
    auth::AuthUser,
    config::{HealthConsent, TrustConfig},
    entities::{
        ConstitutionAssessment, Conversation, ConversationKind, Message, Report, User, constitution_assessment,
        conversation, message, report, user,
    },
    error::{AppError, AppResult, ErrorBody, Extra},
    http::{ApiRoutes, AppJson, AppQuery, ClientMeta, routes::api_routes},
    state::AppState,
};

/// The `/api/account` routes of consent.
pub fn routes() -> ApiRoutes {
    api_routes![accept_terms, give_health_consent, withdraw_health_consent]
}

/// The version a registration accepted, checked against `TERMS_VERSION`: `None` when the server
/// has no terms gate (nothing is stored); 403 `terms_required` when the person did not accept
/// the current version.
pub fn accepted_at_registration(trust: &TrustConfig, accepted: Option<&str>) -> AppResult<Option<String>> {
    let Some(current) = &trust.terms_version else { return Ok(None) };
    if accepted.map(str::trim) != Some(current.as_str()) {
        return Err(terms_required(current));
    }
    Ok(Some(current.clone()))
}

/// Refuses a chat turn of an account that has not accepted the current terms.
pub fn terms_gate(trust: &TrustConfig, user: &user::Model) -> AppResult<()> {
    match &trust.terms_version {
        Some(current) if user.terms_version.as_deref() != Some(current.as_str()) => Err(terms_required(current)),
        _ => Ok(()),
    }
}

fn terms_required(current: &str) -> AppError {
    AppError::forbidden(
        "terms_required",
        format!("accept the terms of service and the privacy policy (version {current}) first"),
    )
    .with(Extra::TermsVersion(current.to_string()))
}

/// Refuses a TCM turn of an account without the health-information consent (when the server
/// requires it). `kind` is the assistant the request names; a regeneration or an edit names
/// none, and the conversation's is read, only for an account without the consent.
pub async fn health_gate(
    state: &AppState,
    user: &user::Model,
    kind: Option<ConversationKind>,
    conversation_id: Option<&str>,
) -> AppResult<()> {
    if state.config.trust.health_consent == HealthConsent::Off || user.health_consent_at.is_some() {
        return Ok(());
    }
    let kind = match (kind, conversation_id) {
        (Some(kind), _) => Some(kind),
        (None, Some(id)) => {
            Conversation::find_by_id(id.to_string())
                .filter(conversation::Column::UserId.eq(&user.id))
                .select_only()
                .column(conversation::Column::Kind)
                .into_tuple::<ConversationKind>()
                .one(&state.db)
                .await?
        }
        (None, None) => None,
    };
    if kind == Some(ConversationKind::Tcm) {
        return Err(consent_required());
    }
    Ok(())
}

/// Within a chat turn's transaction, before it writes anything: for an account that had the
/// health consent when the turn passed [`health_gate`], its row is locked (on MySQL; SQLite
/// writes one at a time anyway) and the consent read again. A withdrawal that came in between
/// has then either committed (the consent is gone: [`still_given`] refuses a TCM turn) or waits
/// for the turn, and its deletion of the TCM conversations includes the turn's. `None` when
/// there is nothing to check (no gate, an oracle turn, no consent to lose).
pub async fn lock_for_turn(
    txn: &impl ConnectionTrait,
    state: &AppState,
    user: &user::Model,
    kind: Option<ConversationKind>,
) -> AppResult<Option<bool>> {
    if state.config.trust.health_consent == HealthConsent::Off
        || user.health_consent_at.is_none()
        || kind == Some(ConversationKind::Oracle)
    {
        return Ok(None);
    }
    let now: Option<Option<chrono::DateTime<chrono::Utc>>> = User::find_by_id(user.id.clone())
        .select_only()
        .column(user::Column::HealthConsentAt)
        .lock_exclusive()
        .into_tuple()
        .one(txn)
        .await?;
    Ok(Some(now.flatten().is_some()))
}

/// Refuses a TCM turn whose consent [`lock_for_turn`] found withdrawn.
pub fn still_given(consented: Option<bool>, kind: ConversationKind) -> AppResult<()> {
    if consented == Some(false) && kind == ConversationKind::Tcm {
        return Err(consent_required());
    }
    Ok(())
}

fn consent_required() -> AppError {
    AppError::forbidden(
        "consent_required",
        "the TCM adviser processes health information: give your separate consent first (you can withdraw it on your account page)",
    )
}

/// `POST /api/account/terms` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TermsAcceptance {
    /// The version accepted: the server's current `termsVersion` (`GET /api/chat/about`).
    #[schema(example = "2026-12-06", max_length = 32)]
    pub version: String,
}

/// The account after a change of what it accepted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountResponse {
    pub account: AccountView,
}

/// Accept the current terms of service and privacy policy.
#[utoipa::path(
    post,
    path = "/api/account/terms",
    tag = "account",
    security(("bearer" = [])),
    request_body = TermsAcceptance,
    responses(
        (status = 200, description = "Accepted (again: the first time is kept)", body = AccountResponse),
        (status = 409, description = "`terms_outdated`: not the current version (`error.termsVersion` names it); `no_terms`: this server has no terms to accept", body = ErrorBody),
    )
)]
async fn accept_terms(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    AppJson(acceptance): AppJson<TermsAcceptance>,
) -> AppResult<Json<AccountResponse>> {
    let Some(current) = state.config.trust.terms_version.clone() else {
        return Err(AppError::conflict("no_terms", "this server has no terms to accept (TERMS_VERSION is not set)"));
    };
    if acceptance.version.trim() != current {
        return Err(AppError::conflict("terms_outdated", format!("the current terms are version {current}"))
            .with(Extra::TermsVersion(current)));
    }
    let user = auth.user;
    if user.terms_version.as_deref() == Some(current.as_str()) {
        return Ok(Json(AccountResponse { account: AccountView::new(&state, &user) }));
    }
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut active: user::ActiveModel = user.into();
    active.terms_version = Set(Some(current.clone()));
    active.terms_accepted_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    let entry = audit::Entry::new(Action::TermsAccepted, Some(&user.id), format!("accepted terms version {current}"));
    audit::record(&txn, &state.clock, entry, &client).await?;
    txn.commit().await?;
    Ok(Json(AccountResponse { account: AccountView::new(&state, &user) }))
}

/// Consent to the processing of health information (what the TCM adviser needs).
#[utoipa::path(
    post,
    path = "/api/account/health-consent",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Consent given (again: the first time is kept)", body = AccountResponse),
        (status = 403, description = "`terms_required`: accept the current terms first", body = ErrorBody),
    )
)]
async fn give_health_consent(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
) -> AppResult<Json<AccountResponse>> {
    let user = auth.user;
    // The consent is given under the terms: an account on older terms accepts them first.
    terms_gate(&state.config.trust, &user)?;
    if user.health_consent_at.is_some() {
        return Ok(Json(AccountResponse { account: AccountView::new(&state, &user) }));
    }
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut active: user::ActiveModel = user.into();
    active.health_consent_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    let entry =
        audit::Entry::new(Action::HealthConsentGiven, Some(&user.id), "consented to health-information processing");
    audit::record(&txn, &state.clock, entry, &client).await?;
    txn.commit().await?;
    Ok(Json(AccountResponse { account: AccountView::new(&state, &user) }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawQuery {
    /// Also delete every TCM conversation of the account (with their messages).
    #[serde(default)]
    pub delete_conversations: bool,
    /// Also delete every constitution self-assessment of the account.
    #[serde(default)]
    pub delete_assessments: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawn {
    pub account: AccountView,
    /// TCM conversations deleted with the withdrawal (0 unless asked).
    pub deleted_conversations: u64,
    /// Constitution self-assessments deleted with the withdrawal (0 unless asked).
    pub deleted_assessments: u64,
}

/// Withdraw the consent to processing health information: TCM chat stops (403
/// `consent_required`) until it is given again; with `deleteConversations=true` the TCM
/// conversations are deleted too, with `deleteAssessments=true` the constitution
/// self-assessments (while the consent is withdrawn the TCM adviser sees none of them; kept ones
/// are seen again once it is given again).
#[utoipa::path(
    delete,
    path = "/api/account/health-consent",
    tag = "account",
    security(("bearer" = [])),
    params(WithdrawQuery),
    responses((status = 200, description = "No consent now (withdrawing twice is fine)", body = Withdrawn))
)]
async fn withdraw_health_consent(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    AppQuery(query): AppQuery<WithdrawQuery>,
) -> AppResult<Json<Withdrawn>> {
    let user = auth.user;
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let had_consent = user.health_consent_at.is_some();
    let mut active: user::ActiveModel = user.clone().into();
    active.health_consent_at = Set(None);
    active.updated_at = Set(now);
    let updated = if had_consent { active.update(&txn).await? } else { user };
    let deleted = if query.delete_conversations { delete_tcm_conversations(&txn, &updated.id, now).await? } else { 0 };
    // Tongue photos not sent yet are health information with no use now: they go in any case.
    crate::attachments::forget::mark_unsent_tongue_photos(&txn, &updated.id, now).await?;
    let deleted_assessments = match query.delete_assessments {
        true => {
            ConstitutionAssessment::delete_many()
                .filter(constitution_assessment::Column::UserId.eq(&updated.id))
                .exec(&txn)
                .await?
                .rows_affected
        }
        false => 0,
    };
    if had_consent || deleted > 0 || deleted_assessments > 0 {
        let deletions =
            format!("deleted {deleted} TCM conversations and {deleted_assessments} constitution assessments");
        let message = match had_consent {
            true => format!("withdrew health-information consent; {deletions}"),
            false => format!("{deletions} (no consent was held)"),
        };
        let entry = audit::Entry::new(Action::HealthConsentWithdrawn, Some(&updated.id), message);
        audit::record(&txn, &state.clock, entry, &client).await?;
    }
    txn.commit().await?;
    crate::attachments::forget::purge(&state).await;
    Ok(Json(Withdrawn {
        account: AccountView::new(&state, &updated),
        deleted_conversations: deleted,
        deleted_assessments,
    }))
}

/// Deletes every TCM conversation of `user_id` with its messages; how many conversations.
async fn delete_tcm_conversations(
    txn: &impl ConnectionTrait,
    user_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<u64> {
    let ids: Vec<String> = Conversation::find()
        .filter(conversation::Column::UserId.eq(user_id))
        .filter(conversation::Column::Kind.eq(ConversationKind::Tcm))
        .select_only()
        .column(conversation::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    // A person with thousands of conversations is deleted a batch at a time: one `IN` list
    // stays bounded.
    for batch in ids.chunks(500) {
        // The person's reports about these conversations keep their decision, not the words:
        // the health information goes with the conversations.
        Report::update_many()
            .col_expr(report::Column::Reply, Expr::value(""))
            .col_expr(report::Column::Question, Expr::value(Option::<String>::None))
            .filter(report::Column::ConversationId.is_in(batch.to_vec()))
            .exec(txn)
            .await?;
        crate::attachments::forget::mark_conversations(txn, batch, now).await?;
        Message::delete_many().filter(message::Column::ConversationId.is_in(batch.to_vec())).exec(txn).await?;
        Conversation::delete_many().filter(conversation::Column::Id.is_in(batch.to_vec())).exec(txn).await?;
    }
    Ok(ids.len() as u64)
}
