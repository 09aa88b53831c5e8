//! Operator CLI against `DATABASE_URL`: promote, demote, ban or unban an account by email, set
//! its password or mark its address verified (what the mail links do, for a server without
//! mail), or import the original app's Prisma SQLite database.
//!
//! ```text
//! appctl promote boss@example.com
//! appctl ban spammer@example.com
//! appctl reset-password someone@example.com            # prints a new random password
//! printf '%s' "$NEW" | appctl reset-password --password-stdin someone@example.com
//! appctl verify-email someone@example.com
//! appctl import --from old-app.db
//! ```
//! Every account change is written to the audit log (actor: none, user agent: `appctl`).

mod import;

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use app_core::{
    account, admin,
    audit::{self, Action},
    auth::{
        normalize_email,
        password::{self, validate_new_password},
    },
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
    /// bcrypt cost of a password set by reset-password (as the app's BCRYPT_COST).
    #[arg(long, env = "BCRYPT_COST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
    bcrypt_cost: u32,
    /// The app's ADMIN_EMAILS: verify-email makes a listed address an administrator.
    #[arg(long, env = "ADMIN_EMAILS", default_value = "", hide_env_values = true)]
    admin_emails: String,
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
    /// Set a new password (a random one, printed, unless --password-stdin), end every session
    /// and lift the failed-login lock.
    ResetPassword {
        email: String,
        /// Read the new password from standard input (8+ characters, at most 72 bytes).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Mark the address verified; an address on ADMIN_EMAILS becomes an administrator.
    VerifyEmail { email: String },
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
            return audit::record(&conn, &clock, audit::Entry::new(Action::Import, None, message), &client)
                .await
                .map_err(|err| anyhow::anyhow!("the import finished, but writing its audit row failed: {err}"));
        }
        Command::Promote { email }
        | Command::Demote { email }
        | Command::Ban { email }
        | Command::Unban { email }
        | Command::ResetPassword { email, .. }
        | Command::VerifyEmail { email } => normalize_email(email),
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
        Command::ResetPassword { password_stdin, .. } => {
            let (password, generated) = new_password(*password_stdin)?;
            validate_new_password(&password).map_err(|err| anyhow::anyhow!("{err}"))?;
            let hash =
                password::hash(password.clone(), cli.bcrypt_cost).await.map_err(|err| anyhow::anyhow!("{err}"))?;
            let updated = account::password::set_password(&db, &clock, &email, hash, &client).await;
            if generated && updated.is_ok() {
                println!("new password for {email}: {password}");
            }
            updated
        }
        Command::VerifyEmail { .. } => {
            let listed = cli.admin_emails.split(',').any(|listed| normalize_email(listed) == email);
            async {
                let txn = db.begin().await?;
                let user = account::email::mark_verified_with(&txn, &clock, listed, target.clone(), &client).await?;
                txn.commit().await?;
                Ok(user)
            }
            .await
        }
        Command::Import { .. } => unreachable!("import returned above"),
    };
    let user = updated.map_err(|err| anyhow::anyhow!("{err}"))?;
    let status = if user.banned_at.is_some() { "banned" } else { "active" };
    let verified = if user.email_verified_at.is_some() { "verified" } else { "not verified" };
    println!("{}: role {:?}, {status}, {verified}", user.email, user.role);
    Ok(())
}

/// The password to set: standard input (without its final newline) or 20 random characters
/// (the second value says it was generated, to be printed).
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    use std::io::Read;
    if from_stdin {
        let mut password = String::new();
        std::io::stdin()
            .take(1024)
            .read_to_string(&mut password)
            .context("cannot read the password from standard input")?;
        let password = password.strip_suffix('\n').map(|p| p.strip_suffix('\r').unwrap_or(p)).unwrap_or(&password);
        return Ok((password.to_string(), false));
    }
    use rand::{Rng, distr::Alphanumeric};
    Ok((rand::rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect(), true))
}
