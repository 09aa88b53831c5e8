//! Operator CLI against `DATABASE_URL`: promote, demote, ban or unban an account by email.
//!
//! ```text
//! appctl promote boss@example.com
//! appctl ban spammer@example.com
//! ```
//! Every change is written to the audit log (actor: none, user agent: `appctl`).

use anyhow::{Context, bail};
use app_core::{
    admin,
    auth::normalize_email,
    clock::Clock,
    entities::{Role, User, user},
    http::ClientMeta,
};
use clap::{Parser, Subcommand};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};

#[derive(Parser)]
#[command(version, about = "Manage accounts of the chat backend (uses DATABASE_URL)")]
struct Cli {
    /// The database to change (mysql://… or sqlite://…).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Give the account the ADMIN role.
    Promote { email: String },
    /// Give the account the USER role.
    Demote { email: String },
    /// Suspend the account and end all its sessions.
    Ban { email: String },
    /// Lift a suspension.
    Unban { email: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let db = Database::connect(&cli.database_url).await.context("cannot connect to DATABASE_URL")?;
    let clock = Clock::system();
    let client = ClientMeta { ip: None, user_agent: Some("appctl".into()) };
    let updated = match &cli.command {
        Command::Promote { email } => admin::set_role(&db, &clock, email, Role::Admin, &client).await,
        Command::Demote { email } => admin::set_role(&db, &clock, email, Role::User, &client).await,
        Command::Ban { email } | Command::Unban { email } => {
            let email = normalize_email(email);
            let Some(target) = User::find().filter(user::Column::Email.eq(&email)).one(&db).await? else {
                bail!("no account with email {email}");
            };
            let ban = matches!(cli.command, Command::Ban { .. });
            admin::set_banned(&db, &clock, None, &target.id, ban, &client).await
        }
    };
    let user = updated.map_err(|err| anyhow::anyhow!("{err}"))?;
    let status = if user.banned_at.is_some() { "banned" } else { "active" };
    println!("{}: role {:?}, {status}", user.email, user.role);
    Ok(())
}
