//! How `ADMIN_EMAILS` gives the ADMIN role, and how an operator's demotion keeps it from
//! giving it again.
//!
//! A listed address becomes ADMIN once its owner has proved to read it *and* chosen the
//! account's password: without mail configured, at registration (there is no proof to wait
//! for: the operator's choice, for local use); with mail, when the address is verified by a
//! verification link opened while logged into that very account, or by a reset link (which
//! sets a password of the owner's choosing and ends every other session), or by the operator
//! (`appctl verify-email`). A link alone never does it: whoever registered a listed address
//! first chose that account's password, and the real owner opening "confirm your address"
//! must not hand that password the role.
//!
//! `appctl demote` records the address in `admin_demotions`, and a recorded address is never
//! promoted by the list again (not after the account is deleted and registered again either),
//! until `appctl promote` lifts it.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

use crate::entities::{AdminDemotion, admin_demotion};

/// Whether `listed` (the address is on `ADMIN_EMAILS`) should still promote `email`: not when
/// an operator demoted it.
pub async fn promotes(db: &impl ConnectionTrait, listed: bool, email: &str) -> Result<bool, DbErr> {
    if !listed {
        return Ok(false);
    }
    Ok(AdminDemotion::find_by_id(email.to_string()).one(db).await?.is_none())
}

/// Records that an operator demoted `email`: the list no longer promotes it.
pub async fn remember_demotion(db: &impl ConnectionTrait, email: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    let row = admin_demotion::ActiveModel { email: Set(email.to_string()), demoted_at: Set(now) };
    let again =
        OnConflict::column(admin_demotion::Column::Email).update_column(admin_demotion::Column::DemotedAt).to_owned();
    AdminDemotion::insert(row).on_conflict(again).exec_without_returning(db).await?;
    Ok(())
}

/// An operator promoted `email` again: a demotion no longer stands in the list's way.
pub async fn forget_demotion(db: &impl ConnectionTrait, email: &str) -> Result<(), DbErr> {
    AdminDemotion::delete_by_id(email.to_string()).exec(db).await?;
    Ok(())
}
