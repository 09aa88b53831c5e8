//! `messages.red_flag`: the red-flag rule a user's message matched (`chest_pain`,
//! `self_harm`…), so that its card is shown with the turn in the history. NULL for every other
//! message. An addition, NULL by default: the previous version of the app keeps working.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000004_red_flags"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(Messages::RedFlag).string_len(32).null().to_owned();
        manager.alter_table(Table::alter().table(Messages::Table).add_column(&mut column).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::RedFlag).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    RedFlag,
}
