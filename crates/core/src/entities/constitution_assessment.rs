use sea_orm::entity::prelude::*;

/// A constitution self-assessment (see `crate::constitution`): the scale, the sex given and the
/// sixty answers, as digits 1–5 in the questionnaire's order for that sex; deleted alone, with
/// the health consent's withdrawal, or with the account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "constitution_assessments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// `ZYYXH/T157-2009`.
    pub scale: String,
    /// `female` or `male`.
    pub sex: String,
    /// `4223…`: sixty digits.
    pub answers: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
