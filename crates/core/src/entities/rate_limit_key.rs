use sea_orm::entity::prelude::*;

/// One (bucket, key) that a limit counts: the row a check-and-charge locks, so that charges of
/// the same key run one after the other across every instance (see `rate_limit`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The last charge: a key unused for longer than its bucket's window has nothing to count.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
