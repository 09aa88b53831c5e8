use sea_orm::entity::prelude::*;

/// An address an operator demoted (`appctl demote`): `ADMIN_EMAILS` no longer promotes it, even
/// after the account is deleted and registered again. `appctl promote` removes the row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_demotions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub email: String,
    pub demoted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
