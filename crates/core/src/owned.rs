//! Rows that belong to one account and that it manages itself (its oracle readings, its
//! constitution assessments, the reports it filed): a page of them newest first, and deleting
//! one of them. Each area keeps its own routes and views; the queries are the same.

use sea_orm::{EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::{
    db::Db,
    error::{AppError, AppResult},
};

/// Page `page` (1-based, checked by `admin::paging`) of `select`'s rows, newest first (by
/// `created_at`, then `id`), and how many rows `select` has in all.
pub async fn newest_page<E>(
    db: &Db,
    select: Select<E>,
    created_at: E::Column,
    id: E::Column,
    (page, page_size): (u64, u64),
) -> AppResult<(Vec<E::Model>, u64)>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_desc(created_at)
        .order_by_desc(id)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Deletes the row of `E` whose `id` column is `row_id` if its `owner` column is `user_id`;
/// 404 `what` when there is no such row of that account's.
pub async fn delete<E: EntityTrait>(
    db: &Db,
    (id, owner): (E::Column, E::Column),
    row_id: &str,
    user_id: &str,
    what: &'static str,
) -> AppResult<()> {
    use sea_orm::ColumnTrait;
    let deleted = E::delete_many().filter(id.eq(row_id)).filter(owner.eq(user_id)).exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound(what));
    }
    Ok(())
}
