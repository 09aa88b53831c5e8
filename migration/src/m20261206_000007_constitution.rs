//! The TCM constitution self-assessment (the craft issue): `constitution_assessments`, one row
//! per questionnaire answered — the scale it follows, the sex given (it chooses one question),
//! and the sixty answers as digits in the questionnaire's order; the scores are computed from
//! them, never stored beside them. Health information: deleted with the account, alone, or with
//! the withdrawal of the health consent.
//!
//! Only additions: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000007_constitution"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut assessments = Table::create()
            .table(ConstitutionAssessments::Table)
            .if_not_exists()
            .col(ColumnDef::new(ConstitutionAssessments::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(ConstitutionAssessments::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(ConstitutionAssessments::Scale).string_len(32).not_null())
            .col(ColumnDef::new(ConstitutionAssessments::Sex).string_len(8).not_null())
            .col(ColumnDef::new(ConstitutionAssessments::Answers).string_len(64).not_null())
            .col(datetime(db, ConstitutionAssessments::CreatedAt).not_null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_constitution_assessments_user")
                    .from(ConstitutionAssessments::Table, ConstitutionAssessments::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut assessments);
        manager.create_table(assessments).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_constitution_assessments_user_created")
                    .table(ConstitutionAssessments::Table)
                    .col(ConstitutionAssessments::UserId)
                    .col(ConstitutionAssessments::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ConstitutionAssessments::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ConstitutionAssessments {
    Table,
    Id,
    UserId,
    Scale,
    Sex,
    Answers,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
