//! Operator CLI against `DATABASE_URL`: promote, demote, ban or unban an account by email, or
//! import the original app's Prisma SQLite database.
//!
//! ```text
//! appctl promote boss@example.com
//! appctl ban spammer@example.com
//! appctl import --from old-app.db
//! ```
//! Every account change is written to the audit log (actor: none, user agent: `appctl`).

mod import;

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use app_core::{
    admin,
    audit::{self, Action},
    auth::normalize_email,
    clock::Clock,
    config::parse_duration,
    db::Db,
    entities::{Role, User, user},
    http::ClientMeta,
};
use clap::{Parser, Subcommand};
use sea_orm::{ColumnTrait, ConnectOptions, Database, EntityTrait, QueryFilter};

#[derive(Parser)]
#[command(version, about = "Manage accounts of the chat backend (uses DATABASE_URL)")]
struct Cli {
    /// The database to change (mysql://… or sqlite://…).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// How long to wait for the database before giving up (`10s`, `1m`…).
    #[arg(long, env = "DB_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
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
    /// Copy users, sessions, conversations, messages and audit logs from the original app's
    /// Prisma SQLite database. Safe to run again: rows already present are left as they are.
    Import {
        /// The old app's SQLite file (opened read-only).
        #[arg(long)]
        from: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut options = ConnectOptions::new(cli.database_url.clone());
    options
        .max_connections(1)
        .connect_timeout(cli.connect_timeout)
        .acquire_timeout(cli.connect_timeout)
        .sqlx_logging(false);
    let conn = Database::connect(options).await.context("cannot connect to DATABASE_URL")?;
    let clock = Clock::system();
    let client = ClientMeta { ip: None, user_agent: Some("appctl".into()) };

    let email = match &cli.command {
        Command::Import { from } => {
            import::run(&conn, from).await?;
            let message = format!("imported the old app's database {}", from.display());
            return audit::record(&conn, &clock, None, Action::Import, message, &client)
                .await
                .map_err(|err| anyhow::anyhow!("the import finished, but writing its audit row failed: {err}"));
        }
        Command::Promote { email } | Command::Demote { email } | Command::Ban { email } | Command::Unban { email } => {
            normalize_email(email)
        }
    };
    // Every command looks the account up first, so an unknown email gets the same clear message.
    // Every statement waits at most the connect timeout: an operator is told, not left hanging.
    let db = Db::new(conn, cli.connect_timeout);
    let Some(target) = User::find()
        .filter(user::Column::Email.eq(&email))
        .one(&db)
        .await
        .context("cannot read the users table (are the migrations applied?)")?
    else {
        bail!("no account with email {email}");
    };
    let updated = match &cli.command {
        Command::Promote { .. } => admin::set_role(&db, &clock, &email, Role::Admin, &client).await,
        Command::Demote { .. } => admin::set_role(&db, &clock, &email, Role::User, &client).await,
        Command::Ban { .. } => admin::set_banned(&db, &clock, None, &target.id, true, &client).await,
        Command::Unban { .. } => admin::set_banned(&db, &clock, None, &target.id, false, &client).await,
        Command::Import { .. } => unreachable!("import returned above"),
    };
    let user = updated.map_err(|err| anyhow::anyhow!("{err}"))?;
    let status = if user.banned_at.is_some() { "banned" } else { "active" };
    println!("{}: role {:?}, {status}", user.email, user.role);
    Ok(())
}
