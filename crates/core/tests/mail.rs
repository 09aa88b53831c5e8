//! The features that send mail, through the real router on SQLite and MariaDB, against a real
//! SMTP server the test starts (`tests/smtp/smtp_sink.py`): the tests read the delivered
//! message and follow its link, as the owner of the address would.

use std::time::Duration;

use app_core::entities::{AccountToken, AuditLog, User, audit_log, user};
use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{
    ADMIN_EMAIL, Behaviour, PASSWORD, TestApp, TestResponse, Upstream, both_databases, json,
    mail::{MAIL_FROM, MailServer, SITE_URL},
};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Follows a verification link, logged in as `session` (the link's own account must be).
async fn verify(app: &TestApp, session: &str, token: &str) -> TestResponse {
    app.post("/api/account/email/verify").token(session).json(&json!({"token": token})).send().await
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.post("/api/auth/login").json(&json!({"email": email, "password": password})).send().await.status
}

async fn stored_user(app: &TestApp, email: &str) -> user::Model {
    User::find().filter(user::Column::Email.eq(email)).one(&app.db).await.unwrap().expect("user")
}

both_databases! {
    async fn a_reset_link_sets_the_password_once_ends_sessions_and_lifts_the_lock(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("RATE_LIMIT_LOGIN_ACCOUNT", "3/1h"), ("RATE_LIMIT_LOGIN_IP", "off")]).await;
        let email = "forgetful@example.com";
        let old_session = app.register(email).await;
        for _ in 0..3 {
            assert_eq!(login_status(&app, email, "a wrong guess").await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(login_status(&app, email, PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "locked out");

        let known = app.forgot_password(email).await;
        let unknown = app.forgot_password("nobody@example.com").await;
        assert_eq!((known.status, unknown.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
        assert_eq!(known.body, unknown.body, "the same answer whether or not the address has an account");
        let letter = mail.wait_for(email, 1).await;
        assert_eq!(letter.subject, "Reset your password");
        assert!(letter.from.contains("noreply@example.com") && MAIL_FROM.contains("noreply@example.com"));
        let token = letter.link_token("reset").expect("a reset link in the text");
        assert!(letter.html.as_deref().unwrap().contains(&format!("{SITE_URL}/#/reset/{token}")));
        assert!(mail.messages_to("nobody@example.com").is_empty(), "nothing is sent to an unknown address");
        // Only the token's hash is stored.
        let stored = AccountToken::find().all(&app.db).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(stored[0].token_hash != token && stored[0].token_hash.len() == 64);

        let short = app.reset_password(&token, "short").await;
        assert_eq!(short.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "password_too_short");
        let done = app.reset_password(&token, NEW_PASSWORD).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        let new_session = done.json()["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/auth/session").token(&new_session).send().await.status, StatusCode::OK);
        app.get("/api/auth/session").token(&old_session).send().await.assert_error(StatusCode::UNAUTHORIZED);
        assert_eq!(done.json()["user"]["emailVerified"], true, "the link proved the address");

        // The lock is lifted, the new password works, the old one and the link do not.
        assert_eq!(login_status(&app, email, NEW_PASSWORD).await, StatusCode::OK);
        assert_eq!(login_status(&app, email, PASSWORD).await, StatusCode::UNAUTHORIZED);
        assert_eq!(app.reset_password(&token, "yet another passphrase").await.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
        let audited = AuditLog::find().filter(audit_log::Column::Action.eq("password_reset")).count(&app.db).await.unwrap();
        assert_eq!(audited, 1);
    }

    async fn a_newer_link_voids_the_older_one_and_links_expire(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[]).await;
        let email = "twice@example.com";
        app.register(email).await;
        assert_eq!(app.forgot_password(email).await.status, StatusCode::ACCEPTED);
        assert_eq!(app.forgot_password(email).await.status, StatusCode::ACCEPTED);
        let first = mail.wait_for(email, 1).await.link_token("reset").unwrap();
        let second = mail.wait_for(email, 2).await.link_token("reset").unwrap();
        assert_ne!(first, second);
        assert_eq!(app.reset_password(&first, NEW_PASSWORD).await.assert_error(StatusCode::BAD_REQUEST), "invalid_link");

        // 30 minutes later the newest link has expired too.
        app.clock.advance(Duration::from_secs(30 * 60 + 1));
        assert_eq!(app.reset_password(&second, NEW_PASSWORD).await.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
        assert_eq!(login_status(&app, email, PASSWORD).await, StatusCode::OK, "the password is unchanged");

        // A verification link is not a reset link.
        let token = app.login(email, PASSWORD).await;
        assert_eq!(app.post("/api/account/email/verification").token(&token).send().await.status, StatusCode::ACCEPTED);
        let verification = mail.wait_for(email, 3).await.link_token("verify").unwrap();
        assert_eq!(app.reset_password(&verification, NEW_PASSWORD).await.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
    }

    async fn reset_requests_are_limited_per_address_and_per_network(backend: Backend) {
        let mail = MailServer::start();
        let limits = [("RATE_LIMIT_RESET_ADDRESS", "2/1h"), ("RATE_LIMIT_RESET_IP", "4/1h")];
        let app = TestApp::with_mail(backend, &mail, &limits).await;
        app.register("limited@example.com").await;
        // The address limit counts unknown addresses as well (answering differently would tell).
        for address in ["limited@example.com", "ghost@example.com"] {
            for _ in 0..2 {
                let response = app.post("/api/account/password/forgot").ip("203.0.113.1").json(&json!({"email": address})).send().await;
                assert_eq!(response.status, StatusCode::ACCEPTED);
            }
            let refused = app.post("/api/account/password/forgot").ip("203.0.113.2").json(&json!({"email": address})).send().await;
            assert_eq!(refused.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
            assert!(refused.header("retry-after").is_some());
        }
        // 203.0.113.1 has made four requests: its fifth is refused whatever the address.
        let response = app.post("/api/account/password/forgot").ip("203.0.113.1").json(&json!({"email": "fresh@example.com"})).send().await;
        assert_eq!(response.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        mail.wait_for("limited@example.com", 2).await;
        let invalid = app.forgot_password("not an address").await;
        assert_eq!(invalid.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_email");
    }

    async fn verification_links_verify_and_make_listed_addresses_admins(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("EMAIL_VERIFICATION", "optional")]).await;
        let registered = app
            .post("/api/auth/register")
            .json(&json!({"email": ADMIN_EMAIL, "password": PASSWORD, "locale": "zh-CN"}))
            .send()
            .await;
        assert_eq!(registered.status, StatusCode::CREATED);
        // With mail configured, ADMIN_EMAILS waits for the address to be proven.
        assert_eq!(registered.json()["user"]["role"], "USER");
        assert_eq!(registered.json()["user"]["emailVerified"], false);
        let token = registered.json()["token"].as_str().unwrap().to_string();
        app.get("/api/admin/users").token(&token).send().await.assert_error(StatusCode::FORBIDDEN);

        let letter = mail.wait_for(ADMIN_EMAIL, 1).await;
        assert_eq!(letter.subject, "确认您的邮箱地址", "a zh account gets Chinese mail");
        assert!(letter.text.as_deref().unwrap().contains("24 小时"));
        let link = letter.link_token("verify").expect("a verification link");
        let verified = verify(&app, &token, &link).await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
        assert_eq!(verified.json()["emailVerified"], true);
        assert_eq!(verified.json()["role"], "ADMIN");
        assert_eq!(app.get("/api/admin/users").token(&token).send().await.status, StatusCode::OK);
        assert_eq!(verify(&app, &token, &link).await.assert_error(StatusCode::BAD_REQUEST), "invalid_link", "single use");
        let again = app.post("/api/account/email/verification").token(&token).send().await;
        assert_eq!(again.assert_error(StatusCode::CONFLICT), "already_verified");
        let promoted = AuditLog::find().filter(audit_log::Column::Action.eq("promote")).count(&app.db).await.unwrap();
        assert_eq!(promoted, 1);

        // An address that is not listed stays a user when verified; English by default.
        let other = app.register("plain@example.com").await;
        let letter = mail.wait_for("plain@example.com", 1).await;
        assert_eq!(letter.subject, "Confirm your email address");
        assert_eq!(verify(&app, &other, &letter.link_token("verify").unwrap()).await.json()["role"], "USER");
        assert_eq!(app.get("/api/auth/session").token(&other).send().await.json()["user"]["emailVerified"], true);
    }

    async fn a_new_verification_mail_voids_the_old_link_and_is_limited(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("EMAIL_VERIFICATION", "optional"), ("RATE_LIMIT_VERIFY_MAIL", "2/1h")]).await;
        let email = "resend@example.com";
        let token = app.register(email).await;
        let first = mail.wait_for(email, 1).await.link_token("verify").unwrap();
        assert_eq!(app.post("/api/account/email/verification").token(&token).send().await.status, StatusCode::ACCEPTED);
        let second = mail.wait_for(email, 2).await.link_token("verify").unwrap();
        let limited = app.post("/api/account/email/verification").token(&token).send().await;
        assert_eq!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited", "the registration mail counts");
        assert_eq!(verify(&app, &token, &first).await.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
        assert_eq!(verify(&app, &token, &second).await.status, StatusCode::OK);
        assert!(stored_user(&app, email).await.email_verified_at.is_some());
    }

    async fn required_verification_keeps_unverified_accounts_from_chatting(backend: Backend) {
        let mail = MailServer::start();
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_env(backend, |env| {
            mail.configure(env);
            upstream.configure(env);
            env.insert("CHAT_TITLE_MODEL".into(), "off".into());
            env.insert("EMAIL_VERIFICATION".into(), "required".into());
        })
        .await;
        let email = "strict@example.com";
        let token = app.register(email).await;
        let turn = json!({"type": "tcm", "locale": "en", "messages": [{"role": "user", "content": "hello"}]});
        let refused = app.post("/api/chat").token(&token).json(&turn).send().await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "email_unverified");
        assert!(upstream.received().is_empty(), "the model was not asked");
        // The rest of the account works meanwhile.
        assert_eq!(app.get("/api/account").token(&token).send().await.json()["emailVerification"], "required");
        assert_eq!(app.get("/api/chat/conversations").token(&token).send().await.status, StatusCode::OK);

        let link = mail.wait_for(email, 1).await.link_token("verify").unwrap();
        assert_eq!(verify(&app, &token, &link).await.status, StatusCode::OK);
        let answered = app.post("/api/chat").token(&token).json(&turn).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    }

    async fn smtp_authentication_and_a_failing_server(backend: Backend) {
        // A server that requires AUTH, as DirectMail does: the credentials of SMTP_URL are used.
        let mail = MailServer::start_with_auth("sender@example.com", "s3cret");
        let url = format!("smtp://sender%40example.com:s3cret@127.0.0.1:{}", mail.port);
        let app = TestApp::with_env(backend, |env| {
            mail.configure(env);
            env.insert("SMTP_URL".into(), url);
        })
        .await;
        let token = app.register("authed@example.com").await;
        assert_eq!(app.post("/api/account/email/verification").token(&token).send().await.status, StatusCode::ACCEPTED);
        mail.wait_for("authed@example.com", 1).await;

        // A server that is gone: the verification request says so (502) and is not charged;
        // the forgotten-password request answers as always (its answer must not depend on it).
        let port = mail.port;
        drop(mail);
        let app = TestApp::with_env(backend, |env| {
            env.insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{port}"));
            env.insert("MAIL_FROM".into(), MAIL_FROM.into());
            env.insert("SITE_URL".into(), SITE_URL.into());
            env.insert("SMTP_TIMEOUT".into(), "2s".into());
            env.insert("RATE_LIMIT_VERIFY_MAIL".into(), "1/1h".into());
        })
        .await;
        let token = app.register("unlucky@example.com").await;
        for _ in 0..2 {
            let failed = app.post("/api/account/email/verification").token(&token).send().await;
            assert_eq!(failed.assert_error(StatusCode::BAD_GATEWAY), "mail_failed", "a failure is not charged");
        }
        assert_eq!(app.forgot_password("unlucky@example.com").await.status, StatusCode::ACCEPTED);
        let body: Value = app.forgot_password("nobody@example.com").await.json();
        assert_eq!(body, json!({"accepted": true}));
    }
}
