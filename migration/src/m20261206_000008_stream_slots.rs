//! A streaming reply's row in `reply_streams` is now also its stream slot (issue 26): the
//! `chat_streams` limit counts a user's rows started within the lease, so they are looked up by
//! user and start. The hits the previous version charged for slots expire on their own (their
//! bucket is still swept).
//!
//! Only additions: the previous version of the app keeps working on this schema. While both
//! versions serve (a rolling deploy), the cap is not exact across them: the previous version
//! counts only its own hits, so it does not see the new version's streams (the new version
//! sees every stream, since both write `reply_streams`).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000008_stream_slots"
    }
}

const INDEX: &str = "idx_reply_streams_user_started";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let index = Index::create()
            .name(INDEX)
            .table(ReplyStreams::Table)
            .col(ReplyStreams::UserId)
            .col(ReplyStreams::StartedAt)
            .to_owned();
        manager.create_index(index).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(ReplyStreams::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ReplyStreams {
    Table,
    UserId,
    StartedAt,
}
