//! The account's own controls: its profile, password, address verification, devices (sessions)
//! and data. Served by the `auth-login` function beside login and logout (`/api/account/...`).
//!
//! - [`password`]: change it (knowing the current one), or reset it through a mailed link;
//! - [`email`]: verification links, and `ADMIN_EMAILS` taking effect on a verified address;
//! - [`devices`]: where the account is signed in, and signing any of them out;
//! - [`own_data`]: a download of everything the account owns, and deleting the account;
//! - [`links`]: the single-use links the mails carry;
//! - [`registration`]: a new account (the `auth-register` function).

pub mod devices;
pub mod email;
mod links;
pub mod own_data;
pub mod password;
pub mod registration;

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::auth::LAST_USED_EVERY;
pub use links::{RESET_LINK_TTL, VERIFY_LINK_TTL};

use crate::{
    auth::AuthUser,
    config::EmailVerification,
    entities::{Role, user},
    error::{AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, routes::api_routes},
    language::Language,
    state::AppState,
};

/// Every `/api/account` route.
pub fn router() -> ApiRoutes {
    api_routes![profile, update_profile]
        .merge(password::routes())
        .merge(email::routes())
        .merge(devices::routes())
        .merge(own_data::routes())
        .merge(crate::consent::routes())
        .merge(crate::reports::account_routes())
}

/// The account as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// `zh` or `en`: the language of the account's mail.
    pub locale: String,
    pub email_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// This server's `EMAIL_VERIFICATION`: `required` keeps an unverified account from chatting.
    pub email_verification: EmailVerification,
    /// Whether this server sends mail (password reset by mail, verification).
    pub mail_enabled: bool,
    /// The terms version the account accepted (`null`: none).
    pub accepted_terms: Option<String>,
    pub terms_accepted_at: Option<DateTime<Utc>>,
    /// When the account consented to the processing of health information (`null`: not given,
    /// or withdrawn).
    pub health_consent_at: Option<DateTime<Utc>>,
    /// An administrator restricted the account's chat until then.
    pub restricted_until: Option<DateTime<Utc>>,
}

impl AccountView {
    pub fn new(state: &AppState, user: &user::Model) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            role: user.role,
            locale: user.locale.clone(),
            email_verified: user.email_verified_at.is_some(),
            email_verified_at: user.email_verified_at,
            created_at: user.created_at,
            email_verification: state.config.email_verification,
            mail_enabled: state.mailer.is_some(),
            accepted_terms: user.terms_version.clone(),
            terms_accepted_at: user.terms_accepted_at,
            health_consent_at: user.health_consent_at,
            restricted_until: user.restricted_until,
        }
    }
}

/// `PATCH /api/account` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileChange {
    /// The language of the account's mail: `zh*` is Chinese, anything else English.
    #[schema(example = "en", max_length = 35)]
    pub locale: String,
}

/// The caller's account.
#[utoipa::path(
    get,
    path = "/api/account",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The account", body = AccountView))
)]
async fn profile(State(state): State<AppState>, auth: AuthUser) -> Json<AccountView> {
    Json(AccountView::new(&state, &auth.user))
}

/// Change the account's settings (the language of its mail).
#[utoipa::path(
    patch,
    path = "/api/account",
    tag = "account",
    security(("bearer" = [])),
    request_body = ProfileChange,
    responses(
        (status = 200, description = "The account as changed", body = AccountView),
        (status = 422, description = "The body has the wrong shape", body = ErrorBody),
    )
)]
async fn update_profile(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(change): AppJson<ProfileChange>,
) -> AppResult<Json<AccountView>> {
    let mut active: user::ActiveModel = auth.user.into();
    active.locale = Set(Language::from_locale(Some(&change.locale)).code().to_string());
    active.updated_at = Set(state.clock.now());
    let user = active.update(&state.db).await?;
    Ok(Json(AccountView::new(&state, &user)))
}
