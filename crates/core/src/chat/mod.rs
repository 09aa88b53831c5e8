//! The chat assistants (`oracle`, `tcm`): the routes of the `chat` function.
//!
//! Built out in the chat issue; until then the function serves only `/api/health`.

use axum::Router;

use crate::state::AppState;

/// Routes of the `chat` function.
pub fn router() -> Router<AppState> {
    Router::new()
}
