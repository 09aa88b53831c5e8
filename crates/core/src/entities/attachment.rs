use sea_orm::entity::prelude::*;

/// A picture attached to a message (see `crate::attachments`): whose it is, where its object is
/// and the message it was sent with (`None`: its upload form was issued, the picture not sent
/// yet). `deleted_at` marks a picture whose object is to be deleted (its message, conversation
/// or account is gone); the row goes with the object.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    /// Where the picture is: the key its upload form writes until it is sent, then a key of its
    /// own that no form can write (`attachments::checked`), chosen by the server.
    pub object_key: String,
    /// The key its upload form writes (until `form_expires_at`).
    pub upload_key: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// The most its upload form allows until it is sent; then its real size.
    pub size_bytes: i64,
    /// Its place among its message's pictures, from 0.
    pub position: i16,
    /// `chat`, or `tongue` (the TCM adviser's tongue photo).
    pub purpose: String,
    /// What the vision model saw (the tongue photo's structured observations, JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub observations: Option<String>,
    pub created_at: DateTimeUtc,
    /// When its upload form stops being accepted: until then the form can write `upload_key`
    /// again, so what is there is deleted after it (`attachments::forget`).
    pub form_expires_at: DateTimeUtc,
    /// When `upload_key` was deleted for good, its form having expired.
    pub upload_deleted_at: Option<DateTimeUtc>,
    /// A turn is sending it (copying and checking it) until then: another turn finds it taken.
    pub claimed_until: Option<DateTimeUtc>,
    pub attached_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
