//! Usage: what the app counts, made visible. The caller's own quota state ([`quota`], served
//! by the `chat` function), the tallies each chat turn adds to ([`tally`]), and the admins'
//! usage dashboard computed from them ([`dashboard`], served by `admin-export`).

mod dashboard;
mod quota;
pub mod tally;

pub use dashboard::{UsageQuery, UsageReport};
pub use quota::{QuotaView, message_limit};

use crate::http::ApiRoutes;

/// `GET /api/chat/quota`, part of the `chat` function.
pub fn quota_routes() -> ApiRoutes {
    quota::routes()
}

/// `GET /api/admin/usage`, part of the `admin-export` function.
pub fn dashboard_routes() -> ApiRoutes {
    dashboard::routes()
}
