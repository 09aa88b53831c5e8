//! The real `appctl` binary against a migrated SQLite file and a MariaDB database that the app
//! (the real router) is using at the same time.

mod common;

use app_core::entities::{AuditLog, Role, Session, User, audit_log, session, user};
use axum::http::StatusCode;
use common::{appctl, appctl_with, assert_success, stderr, stdout};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use test_support::{PASSWORD, TestApp, both_databases, json};

async fn stored(app: &TestApp, email: &str) -> user::Model {
    User::find().filter(user::Column::Email.eq(email)).one(&app.db).await.unwrap().expect("the user exists")
}

/// The audit rows written by appctl (user agent `appctl`), oldest first.
async fn appctl_audit(app: &TestApp) -> Vec<audit_log::Model> {
    AuditLog::find()
        .filter(audit_log::Column::UserAgent.eq("appctl"))
        .order_by_asc(audit_log::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str) -> (StatusCode, Option<String>) {
    let response = app.post("/api/auth/login").json(&json!({"email": email, "password": PASSWORD})).send().await;
    (response.status, response.json()["token"].as_str().map(str::to_string))
}

both_databases! {
    async fn promote_demote_ban_and_unban(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let url = app.state.config.database_url.clone();
        let first = app.register("operator.target@example.com").await;
        let (status, second) = login(&app, "operator.target@example.com").await;
        assert_eq!(status, StatusCode::OK);
        let second = second.unwrap();
        app.register("bystander@example.com").await;
        let id = stored(&app, "operator.target@example.com").await.id;
        assert_eq!(app.get("/api/admin/users").token(&first).send().await.status, StatusCode::FORBIDDEN);

        // promote: the email is matched case-insensitively; the live session gains admin rights.
        let output = appctl(&url, &["promote", "  Operator.Target@EXAMPLE.com "]).await;
        assert_success(&output);
        assert!(stdout(&output).contains("operator.target@example.com"), "{}", stdout(&output));
        assert_eq!(stored(&app, "operator.target@example.com").await.role, Role::Admin);
        assert_eq!(app.get("/api/admin/users").token(&first).send().await.status, StatusCode::OK);

        // demote
        let output = appctl(&url, &["demote", "operator.target@example.com"]).await;
        assert_success(&output);
        assert_eq!(stored(&app, "operator.target@example.com").await.role, Role::User);
        assert_eq!(app.get("/api/admin/users").token(&first).send().await.status, StatusCode::FORBIDDEN);

        // ban: banned_at set, every session gone, both tokens dead, login refused.
        let output = appctl(&url, &["ban", "operator.target@example.com"]).await;
        assert_success(&output);
        assert!(stdout(&output).contains("banned"), "{}", stdout(&output));
        assert!(stored(&app, "operator.target@example.com").await.banned_at.is_some());
        assert_eq!(Session::find().filter(session::Column::UserId.eq(&id)).count(&app.db).await.unwrap(), 0);
        for token in [&first, &second] {
            assert_eq!(app.get("/api/auth/session").token(token).send().await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(login(&app, "operator.target@example.com").await.0, StatusCode::FORBIDDEN);
        // The other account is untouched.
        let bystander = stored(&app, "bystander@example.com").await;
        assert_eq!((bystander.role, bystander.banned_at), (Role::User, None));
        assert_eq!(login(&app, "bystander@example.com").await.0, StatusCode::OK);

        // unban: the account logs in again.
        let output = appctl(&url, &["unban", "operator.target@example.com"]).await;
        assert_success(&output);
        assert!(stdout(&output).contains("active"), "{}", stdout(&output));
        assert_eq!(stored(&app, "operator.target@example.com").await.banned_at, None);
        let (status, token) = login(&app, "operator.target@example.com").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.get("/api/auth/session").token(&token.unwrap()).send().await.status, StatusCode::OK);

        // One audit row per command, without an actor (the operator is not an account).
        let rows = appctl_audit(&app).await;
        let actions: Vec<&str> = rows.iter().map(|row| row.action.as_str()).collect();
        assert_eq!(actions, ["promote", "demote", "ban", "unban"]);
        for row in &rows {
            assert_eq!(row.actor_id, None, "{}", row.action);
            assert_eq!(row.ip, None, "{}", row.action);
            assert_eq!(row.subject.as_deref(), Some("operator.target@example.com"), "{}", row.action);
        }
    }

    async fn reset_password_and_verify_email(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_ACCOUNT".into(), "2/1h".into());
        })
        .await;
        let url = app.state.config.database_url.clone();
        let email = "locked.out@example.com";
        let session = app.register(email).await;
        for _ in 0..2 {
            let wrong = app.post("/api/auth/login").json(&json!({"email": email, "password": "a wrong guess"})).send().await;
            assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(login(&app, email).await.0, StatusCode::TOO_MANY_REQUESTS);

        // A generated password, printed once; sessions end and the lock lifts.
        let output = appctl_with(&url, &["reset-password", email], &[("BCRYPT_COST", "4")], "").await;
        assert_success(&output);
        let printed = stdout(&output);
        let generated = printed.lines().find_map(|line| line.strip_prefix(&format!("new password for {email}: "))).expect(&printed);
        assert_eq!(generated.len(), 20);
        assert_eq!(app.get("/api/auth/session").token(&session).send().await.status, StatusCode::UNAUTHORIZED);
        let logged_in = app.post("/api/auth/login").json(&json!({"email": email, "password": generated})).send().await;
        assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.text());

        // A chosen one, from standard input (its newline is not part of it), with the same rules.
        let output = appctl_with(&url, &["reset-password", "--password-stdin", email], &[("BCRYPT_COST", "4")], "short\n").await;
        assert!(!output.status.success());
        assert!(stderr(&output).contains("at least 8 characters"), "{}", stderr(&output));
        let output = appctl_with(&url, &["reset-password", "--password-stdin", email], &[("BCRYPT_COST", "4")], "chosen by the operator\n").await;
        assert_success(&output);
        assert!(!stdout(&output).contains("chosen by the operator"), "a chosen password is not printed");
        let logged_in = app.post("/api/auth/login").json(&json!({"email": email, "password": "chosen by the operator"})).send().await;
        assert_eq!(logged_in.status, StatusCode::OK);

        // verify-email: verified; an address on ADMIN_EMAILS becomes an administrator.
        let output = appctl_with(&url, &["verify-email", email], &[("ADMIN_EMAILS", "boss@example.com, Locked.Out@example.com")], "").await;
        assert_success(&output);
        assert!(stdout(&output).contains("verified"), "{}", stdout(&output));
        let user = stored(&app, email).await;
        assert!(user.email_verified_at.is_some());
        assert_eq!(user.role, Role::Admin);
        let plain = "plain.user@example.com";
        app.register(plain).await;
        assert_success(&appctl(&url, &["verify-email", plain]).await);
        let user = stored(&app, plain).await;
        assert_eq!((user.role, user.email_verified_at.is_some()), (Role::User, true));

        let actions: Vec<String> = appctl_audit(&app).await.into_iter().map(|row| row.action).collect();
        assert_eq!(actions, ["password_reset", "password_reset", "email_verified", "promote", "email_verified"]);
    }

    async fn unknown_emails_fail_clearly_and_change_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let url = app.state.config.database_url.clone();
        app.register("someone@example.com").await;
        let audit_before = AuditLog::find().count(&app.db).await.unwrap();
        for command in ["promote", "demote", "ban", "unban", "reset-password", "verify-email"] {
            let output = appctl(&url, &[command, "Nobody@Example.com"]).await;
            assert!(!output.status.success(), "{command} succeeded: {}", stdout(&output));
            let message = stderr(&output);
            assert!(message.contains("no account with email nobody@example.com"), "{command}: {message}");
            assert!(stdout(&output).is_empty(), "{command}: {}", stdout(&output));
        }
        assert_eq!(AuditLog::find().count(&app.db).await.unwrap(), audit_before);
        let someone = stored(&app, "someone@example.com").await;
        assert_eq!((someone.role, someone.banned_at), (Role::User, None));
    }
}

#[tokio::test]
async fn usage_errors_and_an_unreachable_database_exit_non_zero() {
    // No command.
    let output = appctl("sqlite::memory:", &[]).await;
    assert!(!output.status.success());
    assert!(stderr(&output).contains("Usage"), "{}", stderr(&output));
    // A command without its email.
    let output = appctl("sqlite::memory:", &["ban"]).await;
    assert!(!output.status.success());
    assert!(stderr(&output).to_lowercase().contains("email"), "{}", stderr(&output));
    // No DATABASE_URL at all.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_appctl"))
        .args(["promote", "a@example.com"])
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("DATABASE_URL") || stderr(&output).contains("database-url"),
        "{}",
        stderr(&output)
    );
    // A database that is not there: given up on after DB_CONNECT_TIMEOUT (3s here), not 30s.
    let started = std::time::Instant::now();
    let output = appctl("mysql://root@127.0.0.1:1/nothing", &["promote", "a@example.com"]).await;
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cannot connect to DATABASE_URL"), "{}", stderr(&output));
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "took {:?}", started.elapsed());
    // A database without the schema.
    let output = appctl("sqlite::memory:", &["promote", "a@example.com"]).await;
    assert!(!output.status.success());
    assert!(stderr(&output).contains("are the migrations applied?"), "{}", stderr(&output));
}
