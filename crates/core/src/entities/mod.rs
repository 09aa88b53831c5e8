//! SeaORM entities for the tables in `migration/`. Column names are snake_case versions of the
//! seed's Prisma fields; enums are stored as the seed's upper-case strings.

pub mod account_token;
pub mod admin_demotion;
pub mod attachment;
pub mod audit_log;
pub mod constitution_assessment;
pub mod conversation;
pub mod message;
pub mod message_feedback;
pub mod rate_limit_hit;
pub mod rate_limit_key;
pub mod reading;
pub mod reply_stream;
pub mod report;
pub mod session;
pub mod usage_hour;
pub mod user;

pub use account_token::{Entity as AccountToken, TokenPurpose};
pub use admin_demotion::Entity as AdminDemotion;
pub use attachment::Entity as Attachment;
pub use audit_log::Entity as AuditLog;
pub use constitution_assessment::Entity as ConstitutionAssessment;
pub use conversation::{ConversationKind, Entity as Conversation, TitleSource};
pub use message::{Entity as Message, MessageRole, Withheld};
pub use message_feedback::{Entity as MessageFeedback, Rating};
pub use rate_limit_hit::Entity as RateLimitHit;
pub use rate_limit_key::Entity as RateLimitKey;
pub use reading::Entity as Reading;
pub use reply_stream::Entity as ReplyStream;
pub use report::{Entity as Report, ReportReason, ReportStatus, UserAction};
pub use session::Entity as Session;
pub use usage_hour::Entity as UsageHour;
pub use user::{Entity as User, Role};
