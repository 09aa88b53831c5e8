//! The holes an audit found in accounts, the audit trail and feedback, each shown closed through
//! the real router on SQLite and MariaDB (with a real SMTP server where mail is involved):
//! a verification link that handed a squatter the ADMIN role, deletion rewriting other people's
//! audit rows, demotions that did not stick, an audit trail a client could flood, reset links
//! that outlived a password change, per-address mail limits reset by deleting the account, and
//! thumbs on replies the model never wrote.

use std::time::Duration;

use app_core::{
    admin,
    entities::{AuditLog, Role, User, audit_log, user},
    http::ClientMeta,
    ids::new_id,
};
use axum::http::StatusCode;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{ADMIN_EMAIL, Behaviour, PASSWORD, TestApp, Upstream, both_databases, json, mail::MailServer};

const OWNER_PASSWORD: &str = "the owner's own passphrase";

async fn register_with(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.post("/api/auth/register").json(&json!({"email": email, "password": password})).send().await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()["token"].as_str().unwrap().to_string()
}

async fn role_of(app: &TestApp, email: &str) -> Role {
    User::find().filter(user::Column::Email.eq(email)).one(&app.db).await.unwrap().expect("the account").role
}

async fn rows(app: &TestApp, action: &str) -> Vec<audit_log::Model> {
    AuditLog::find().filter(audit_log::Column::Action.eq(action)).all(&app.db).await.unwrap()
}

async fn delete_account(app: &TestApp, token: &str, password: &str) {
    let deleted = app.post("/api/account/delete").token(token).json(&json!({"password": password})).send().await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
}

both_databases! {
    /// Someone registers a listed address before its owner; the owner's "confirm your address"
    /// link must not make that account (with the squatter's password) an administrator.
    async fn a_verification_link_alone_gives_no_role_and_a_reset_takes_the_account_over(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("EMAIL_VERIFICATION", "optional")]).await;
        let squatter = register_with(&app, ADMIN_EMAIL, "the squatter's password").await;
        let link = mail.wait_for(ADMIN_EMAIL, 1).await.link_token("verify").expect("a verification link");

        // The owner (or a mail scanner) opens the link without being logged in as that account.
        let anonymous = app.post("/api/account/email/verify").json(&json!({"token": link})).send().await;
        assert_eq!(anonymous.assert_error(StatusCode::UNAUTHORIZED), "missing_token");
        let someone_else = app.register("owner.elsewhere@example.com").await;
        let other = app.post("/api/account/email/verify").token(&someone_else).json(&json!({"token": link})).send().await;
        assert_eq!(other.assert_error(StatusCode::FORBIDDEN), "wrong_account");
        assert_eq!(role_of(&app, ADMIN_EMAIL).await, Role::User);
        let session = app.get("/api/auth/session").token(&squatter).send().await.json();
        assert_eq!((&session["user"]["role"], &session["user"]["emailVerified"]), (&json!("USER"), &json!(false)));

        // The owner takes the account over by a reset: their own password, every other session
        // ended; that proves the address and the password together, so the role comes with it.
        assert_eq!(app.forgot_password(ADMIN_EMAIL).await.status, StatusCode::ACCEPTED);
        let reset_link = mail.wait_for(ADMIN_EMAIL, 2).await.link_token("reset").expect("a reset link");
        let owner = app.reset_password(&reset_link, OWNER_PASSWORD).await;
        assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
        assert_eq!(owner.json()["user"]["role"], "ADMIN");
        app.get("/api/auth/session").token(&squatter).send().await.assert_error(StatusCode::UNAUTHORIZED);
        let squatter_again = app
            .post("/api/auth/login")
            .json(&json!({"email": ADMIN_EMAIL, "password": "the squatter's password"}))
            .send()
            .await;
        squatter_again.assert_error(StatusCode::UNAUTHORIZED);

        // Logged in as the account, its own link verifies (and, listed, promotes) as before.
        let plain = register_with(&app, "listed.later@example.com", PASSWORD).await;
        let link = mail.wait_for("listed.later@example.com", 1).await.link_token("verify").unwrap();
        let verified = app.post("/api/account/email/verify").token(&plain).json(&json!({"token": link})).send().await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
        assert_eq!(verified.json()["emailVerified"], true);
    }

    /// Deleting `h@example.com` must not touch the rows of `carol.smith@example.com`, whose
    /// address contains it.
    async fn deleting_an_account_clears_exactly_its_own_address(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_REGISTER_IP".into(), "off".into());
        })
        .await;
        let admin = app.admin_token().await;
        let carol = "carol.smith@example.com";
        let short = "h@example.com";
        app.register(carol).await;
        let leaving = app.register(short).await;
        let carol_id = User::find().filter(user::Column::Email.eq(carol)).one(&app.db).await.unwrap().unwrap().id;
        for action in ["ban", "unban"] {
            app.post(&format!("/api/admin/users/{carol_id}/{action}")).token(&admin).send().await;
        }
        app.post("/api/auth/login").json(&json!({"email": carol, "password": "wrong password"})).send().await;
        let about_carol = |rows: &[audit_log::Model]| {
            let mut rows: Vec<(String, String, Option<String>)> = rows
                .iter()
                .filter(|row| row.subject.as_deref() == Some(carol))
                .map(|row| (row.id.clone(), row.message.clone(), row.subject.clone()))
                .collect();
            rows.sort();
            rows
        };
        let before = about_carol(&AuditLog::find().all(&app.db).await.unwrap());
        assert_eq!(before.len(), 4, "registered, banned, unbanned, a failed login: {before:?}");

        delete_account(&app, &leaving, PASSWORD).await;
        let trail = AuditLog::find().all(&app.db).await.unwrap();
        assert_eq!(about_carol(&trail), before, "carol's rows are untouched");
        assert!(trail.iter().all(|row| row.subject.as_deref() != Some(short) && !row.message.contains(short)));
        let registered = rows(&app, "register").await;
        assert!(registered.iter().any(|row| row.subject.as_deref() == Some("[deleted account]")));
    }

    /// `appctl demote` (admin::set_role) outlasts the account: deleting it and registering the
    /// listed address again, with or without mail, gives no role back; `appctl promote` lifts it.
    async fn a_demotion_sticks_across_deletion_and_registration(backend: Backend) {
        let operator = ClientMeta { ip: None, user_agent: Some("appctl".into()) };
        let app = TestApp::spawn(backend).await;
        app.admin_token().await;
        assert_eq!(role_of(&app, ADMIN_EMAIL).await, Role::Admin, "listed, no mail: ADMIN at registration");
        admin::set_role(&app.state.db, &app.clock, ADMIN_EMAIL, Role::User, &operator).await.unwrap();
        let token = app.login(ADMIN_EMAIL, PASSWORD).await;
        delete_account(&app, &token, PASSWORD).await;
        app.register(ADMIN_EMAIL).await;
        assert_eq!(role_of(&app, ADMIN_EMAIL).await, Role::User, "the demotion sticks");
        admin::set_role(&app.state.db, &app.clock, ADMIN_EMAIL, Role::Admin, &operator).await.unwrap();
        let token = app.login(ADMIN_EMAIL, PASSWORD).await;
        delete_account(&app, &token, PASSWORD).await;
        app.register(ADMIN_EMAIL).await;
        assert_eq!(role_of(&app, ADMIN_EMAIL).await, Role::Admin, "promoted again by the operator: listed again");

        // With mail: verifying the demoted address gives no role either.
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("EMAIL_VERIFICATION", "optional")]).await;
        let token = app.register(ADMIN_EMAIL).await;
        admin::set_role(&app.state.db, &app.clock, ADMIN_EMAIL, Role::User, &operator).await.unwrap();
        let link = mail.wait_for(ADMIN_EMAIL, 1).await.link_token("verify").unwrap();
        let verified = app.post("/api/account/email/verify").token(&token).json(&json!({"token": link})).send().await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
        assert_eq!(verified.json()["role"], "USER");
    }

    /// Refusals from one client add at most one row per hour (with a count), whatever their
    /// number or size; another client, or the next hour, gets a row of its own.
    async fn refusals_add_at_most_one_row_per_client_and_hour(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_IP".into(), "1/1h".into());
        })
        .await;
        let user = app.register("flooder@example.com").await;
        let huge_agent = "A".repeat(5000);
        for n in 0..40 {
            let email = format!("{}{n}@example.com", "x".repeat(150));
            let response = app
                .post("/api/auth/login")
                .ip("198.51.100.9")
                .header("user-agent", &huge_agent)
                .json(&json!({"email": email, "password": "guess"}))
                .send()
                .await;
            let expected = if n == 0 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
            assert_eq!(response.status, expected, "attempt {n}");
        }
        let long_path = format!("/api/admin/users/{}/ban", "z".repeat(6000));
        for _ in 0..30 {
            let denied = app.post(&long_path).token(&user).send().await;
            assert_eq!(denied.assert_error(StatusCode::FORBIDDEN), "admin_only");
        }
        let limited = rows(&app, "login_rate_limited").await;
        assert_eq!(limited.len(), 1, "{limited:?}");
        assert_eq!(limited[0].occurrences, 39);
        assert!(limited[0].user_agent.as_ref().unwrap().chars().count() <= app_core::audit::MAX_USER_AGENT_CHARS);
        let denied = rows(&app, "admin_denied").await;
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].occurrences, 30);
        assert!(denied[0].message.chars().count() <= 200, "the path is quoted short: {}", denied[0].message);

        // Another network: its own row. The next hour: a new row.
        app.post("/api/auth/login").ip("198.51.100.10").json(&json!({"email": "a@example.com", "password": "x"})).send().await;
        app.post("/api/auth/login").ip("198.51.100.10").json(&json!({"email": "a@example.com", "password": "x"})).send().await;
        assert_eq!(rows(&app, "login_rate_limited").await.len(), 2);
        app.clock.advance(Duration::from_secs(3600));
        app.post(&long_path).token(&user).send().await;
        assert_eq!(rows(&app, "admin_denied").await.len(), 2);
    }

    /// Rows older than AUDIT_RETENTION go, a bounded batch at a time, with no scheduler: a login
    /// now and then (at most once a minute per instance) pays for a batch.
    async fn audit_rows_past_their_retention_are_deleted_in_batches(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("AUDIT_RETENTION".into(), "30d".into());
        })
        .await;
        app.register("keeper@example.com").await;
        let old_at = app.clock.now() - chrono::TimeDelta::days(40);
        let old: Vec<audit_log::ActiveModel> = (0..1200)
            .map(|n| audit_log::ActiveModel {
                id: Set(new_id()),
                action: Set("login".into()),
                message: Set(format!("old row {n}")),
                created_at: Set(old_at + chrono::TimeDelta::seconds(n)),
                ..Default::default()
            })
            .collect();
        for chunk in old.chunks(200) {
            AuditLog::insert_many(chunk.to_vec()).exec_without_returning(&app.db).await.unwrap();
        }
        let old_rows = || AuditLog::find().filter(audit_log::Column::CreatedAt.lt(old_at + chrono::TimeDelta::days(1)));
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 1200);

        // (The registration swept, finding nothing: the next sweep is due a minute later.)
        app.clock.advance(Duration::from_secs(61));
        app.login("keeper@example.com", PASSWORD).await;
        let batch = app_core::audit::AUDIT_SWEEP_BATCH;
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 1200 - batch, "one batch, oldest first");
        // A full batch leaves the chore due: the next requests go on at once until one is short.
        app.login("keeper@example.com", PASSWORD).await;
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 1200 - 2 * batch);
        app.login("keeper@example.com", PASSWORD).await;
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 0);
        // After a short batch, not again within the minute.
        let late: Vec<audit_log::ActiveModel> = (0..10)
            .map(|n| audit_log::ActiveModel {
                id: Set(new_id()),
                action: Set("login".into()),
                message: Set(format!("late old row {n}")),
                created_at: Set(old_at),
                ..Default::default()
            })
            .collect();
        AuditLog::insert_many(late).exec_without_returning(&app.db).await.unwrap();
        app.login("keeper@example.com", PASSWORD).await;
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 10, "not again within the minute");
        app.clock.advance(Duration::from_secs(61));
        app.login("keeper@example.com", PASSWORD).await;
        assert_eq!(old_rows().count(&app.db).await.unwrap(), 0);
        // Nothing younger than the retention went.
        assert_eq!(rows(&app, "register").await.len(), 1);
        assert_eq!(rows(&app, "login").await.len(), 5);
    }

    /// A reset link mailed before a password change, "sign out everywhere" or signing the
    /// other devices out no longer sets the password afterwards.
    async fn reset_links_die_with_a_password_change_and_signing_out_everywhere(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("RATE_LIMIT_RESET_ADDRESS", "off")]).await;
        let email = "careful@example.com";
        let token = app.register(email).await;
        let mut password = PASSWORD.to_string();
        for (n, how) in ["change", "logout_all", "revoke_others"].into_iter().enumerate() {
            assert_eq!(app.forgot_password(email).await.status, StatusCode::ACCEPTED);
            let link = mail.wait_for(email, n + 1).await.link_token("reset").unwrap();
            let token = app.login(email, &password).await;
            let done = match how {
                "change" => {
                    let new = "a changed passphrase";
                    let body = json!({"currentPassword": password, "newPassword": new});
                    password = new.to_string();
                    app.post("/api/account/password").token(&token).json(&body).send().await
                }
                "logout_all" => app.post("/api/auth/logout?all=true").token(&token).send().await,
                _ => app.post("/api/account/sessions/revoke-others").token(&token).send().await,
            };
            assert_eq!(done.status, StatusCode::OK, "{how}: {}", done.text());
            let late = app.reset_password(&link, "set by an old link").await;
            assert_eq!(late.assert_error(StatusCode::BAD_REQUEST), "invalid_link", "{how}");
        }
        app.login(email, &password).await;
        drop(token);
    }

    /// Deleting the account and registering again gives the address no new allowance of reset
    /// or verification mails.
    async fn deleting_the_account_keeps_the_address_mail_limits(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[
            ("EMAIL_VERIFICATION", "optional"),
            ("RATE_LIMIT_RESET_ADDRESS", "1/1h"),
            ("RATE_LIMIT_VERIFY_MAIL", "1/1h"),
            ("RATE_LIMIT_REGISTER_IP", "off"),
        ])
        .await;
        let email = "again@example.com";
        let token = app.register(email).await;
        mail.wait_for(email, 1).await;
        assert_eq!(app.forgot_password(email).await.status, StatusCode::ACCEPTED);
        mail.wait_for(email, 2).await;
        delete_account(&app, &token, PASSWORD).await;

        let token = app.register(email).await;
        let resend = app.post("/api/account/email/verification").token(&token).send().await;
        assert_eq!(resend.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert_eq!(app.forgot_password(email).await.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(mail.messages_to(email).len(), 2, "no mail beyond the limits");
    }

    /// A new conversation may bring earlier messages from the client: they are marked as the
    /// client's, and a "reply" among them cannot be rated.
    async fn replies_a_client_brought_along_cannot_be_rated(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("the model's own answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("bringer@example.com").await;
        let turn = json!({"type": "tcm", "locale": "en", "messages": [
            {"role": "user", "content": "an earlier question"},
            {"role": "assistant", "content": "an invented reply"},
            {"role": "user", "content": "and now?"},
        ]});
        let answered = app.post("/api/chat").token(&token).json(&turn).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();
        let history = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let messages = history["messages"].as_array().unwrap();
        let flags: Vec<(&str, bool)> =
            messages.iter().map(|m| (m["content"].as_str().unwrap(), m["fromClient"].as_bool().unwrap())).collect();
        assert_eq!(flags, [
            ("an earlier question", true),
            ("an invented reply", true),
            ("and now?", false),
            ("the model's own answer", false)
        ]);
        let rate = |message: &Value| {
            let path = format!("/api/chat/conversations/{conversation}/messages/{}/feedback", message["id"].as_str().unwrap());
            app.request(axum::http::Method::PUT, &path).token(&token).json(&json!({"rating": "down"})).send()
        };
        assert_eq!(rate(&messages[1]).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "not_a_reply");
        assert_eq!(rate(&messages[3]).await.status, StatusCode::OK);
        let admin = app.admin_token().await;
        let usage = app.get("/api/admin/usage").token(&admin).send().await.json();
        assert_eq!(usage["totals"]["replies"], 1, "{usage}");
    }

    /// A search for NUL or for bytes that are not UTF-8 is refused on both databases (SQLite
    /// ended the pattern at the NUL and found every conversation).
    async fn search_refuses_nul_and_text_that_is_not_utf8(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("seeker@example.com").await;
        let turn = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": "a question"}]});
        assert_eq!(app.post("/api/chat").token(&token).json(&turn).send().await.status, StatusCode::OK);
        for q in ["%00", "a%00b", "%FF", "%E5%A4"] {
            let response = app.get(&format!("/api/chat/search?q={q}")).token(&token).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "q={q}");
        }
        let found = app.get("/api/chat/search?q=%71uestion").token(&token).send().await;
        assert_eq!(found.json()["hits"].as_array().unwrap().len(), 1, "{}", found.text());
    }

    /// Valid JSON of the wrong shape is 422 `invalid_body`, whatever the wrong type (null for an
    /// enum was 400 "not valid JSON"); only text that is not JSON is 400 `malformed_json`.
    async fn wrong_types_in_a_body_are_invalid_not_malformed(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("typist@example.com").await;
        let turn = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": "a question"}]});
        let conversation = app.post("/api/chat").token(&token).json(&turn).send().await.json()["conversationId"]
            .as_str()
            .unwrap()
            .to_string();
        let history = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let reply = history["messages"][1]["id"].as_str().unwrap().to_string();
        let path = format!("/api/chat/conversations/{conversation}/messages/{reply}/feedback");
        let put = |body: &'static str| app.request(axum::http::Method::PUT, &path).token(&token).raw_json(body).send();
        for wrong in [r#"{"rating": null}"#, r#"{"rating": 1}"#, r#"{"rating": ["up"]}"#, r#"{"comment": "no rating"}"#] {
            assert_eq!(put(wrong).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_body", "{wrong}");
        }
        assert_eq!(put(r#"{"rating": up}"#).await.assert_error(StatusCode::BAD_REQUEST), "malformed_json");
        let register = app.post("/api/auth/register").raw_json(r#"{"email": null, "password": "x"}"#).send().await;
        assert_eq!(register.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_body");
        assert_eq!(put(r#"{"rating": "up"}"#).await.status, StatusCode::OK);
    }

    /// A model answering 500 is called once more by default (OPENAI_MAX_RETRIES=1), as often
    /// as configured otherwise, and never again for a 4xx: each attempt may be billed.
    async fn a_failing_model_is_retried_as_configured(backend: Backend) {
        let upstream = Upstream::start(Behaviour::Status(500)).await;
        let turn = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": "Will it work?"}]});
        for (retries, calls) in [(None, 2), (Some("0"), 1), (Some("3"), 4)] {
            let extra: Vec<(&str, &str)> = retries.map(|n| ("OPENAI_MAX_RETRIES", n)).into_iter().collect();
            let app = TestApp::with_upstream(backend, &upstream, &extra).await;
            let token = app.register("patient@example.com").await;
            let before = upstream.received().len();
            let response = app.post("/api/chat").token(&token).json(&turn).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_GATEWAY), "upstream_error");
            assert_eq!(upstream.received().len() - before, calls, "OPENAI_MAX_RETRIES={retries:?}");
        }
        upstream.set(Behaviour::Status(400));
        let app = TestApp::with_upstream(backend, &upstream, &[("OPENAI_MAX_RETRIES", "3")]).await;
        let token = app.register("patient@example.com").await;
        let before = upstream.received().len();
        app.post("/api/chat").token(&token).json(&turn).send().await.assert_error(StatusCode::BAD_GATEWAY);
        assert_eq!(upstream.received().len() - before, 1, "a 4xx is not retried");
    }

    /// Logins that run while the owner resets the password (a squatter keeping one in flight at
    /// all times) must not outlive the reset: each either ends with it or sees the new password.
    async fn no_login_outlives_a_reset_it_overlapped(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("BCRYPT_COST", "6"), ("RATE_LIMIT_LOGIN_IP", "off")]).await;
        let email = "contested@example.com";
        register_with(&app, email, "the squatter's password").await;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let app = std::sync::Arc::new(app);
        let squatters: Vec<_> = (0..6)
            .map(|_| {
                let (app, done) = (app.clone(), done.clone());
                tokio::spawn(async move {
                    let mut tokens = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        let body = json!({"email": email, "password": "the squatter's password"});
                        let response = app.post("/api/auth/login").json(&body).send().await;
                        if response.status == StatusCode::OK {
                            tokens.push(response.json()["token"].as_str().unwrap().to_string());
                        }
                    }
                    tokens
                })
            })
            .collect();
        assert_eq!(app.forgot_password(email).await.status, StatusCode::ACCEPTED);
        let link = mail.wait_for(email, 1).await.link_token("reset").unwrap();
        let owner = app.reset_password(&link, OWNER_PASSWORD).await;
        assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut tried = 0;
        for squatter in squatters {
            for token in squatter.await.unwrap() {
                tried += 1;
                let session = app.get("/api/auth/session").token(&token).send().await;
                assert_eq!(session.status, StatusCode::UNAUTHORIZED, "a squatter's session outlived the reset");
            }
        }
        assert!(tried > 6, "the squatters kept logging in while the reset ran ({tried} sessions)");
        let owner_token = owner.json()["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/auth/session").token(&owner_token).send().await.status, StatusCode::OK);
    }

    /// Look-alike addresses are other addresses, byte for byte, on both databases (MySQL's
    /// `utf8mb4_unicode_ci` made `bóss` equal `boss`); full-width ASCII is the address itself;
    /// invisible characters are refused.
    async fn look_alike_addresses_neither_block_nor_reach_the_real_one(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[("RATE_LIMIT_REGISTER_IP", "off")]).await;
        register_with(&app, "bóss@example.com", "a look-alike's password").await;
        let owner = register_with(&app, "boss@example.com", OWNER_PASSWORD).await;
        let session = app.get("/api/auth/session").token(&owner).send().await.json();
        assert_eq!(session["user"]["email"], "boss@example.com");
        // The look-alike's password does not open the real address, and its mail goes to it.
        let wrong = app.post("/api/auth/login").json(&json!({"email": "boss@example.com", "password": "a look-alike's password"})).send().await;
        assert_eq!(wrong.assert_error(StatusCode::UNAUTHORIZED), "invalid_credentials");
        assert_eq!(app.forgot_password("boss@example.com").await.status, StatusCode::ACCEPTED);
        let letter = mail.wait_for("boss@example.com", 1).await;
        assert!(letter.rcpt_tos.iter().all(|to| to == "boss@example.com"), "{:?}", letter.rcpt_tos);
        // Full-width (an input method's full-width mode) is the same address.
        let full_width = app.post("/api/auth/register").json(&json!({"email": "ＢＯＳＳ＠ｅｘａｍｐｌｅ．ｃｏｍ", "password": "whatever password"})).send().await;
        assert_eq!(full_width.assert_error(StatusCode::CONFLICT), "email_taken");
        app.login("ｂｏｓｓ＠example.com", OWNER_PASSWORD).await;
        // Invisible characters make no address.
        for invisible in ["bo\u{200b}ss@example.com", "boss\u{feff}@example.com"] {
            let refused = app.post("/api/auth/register").json(&json!({"email": invisible, "password": "whatever password"})).send().await;
            assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_email", "{invisible:?}");
        }
        // Deleting the look-alike leaves the real address's rows alone.
        let look_alike = app.login("bóss@example.com", "a look-alike's password").await;
        delete_account(&app, &look_alike, "a look-alike's password").await;
        let about_owner = AuditLog::find().filter(audit_log::Column::Subject.eq("boss@example.com")).count(&app.db).await.unwrap();
        assert!(about_owner >= 2, "registration and the reset request stay the owner's: {about_owner}");
    }

    /// A stranger's failed login or reset request for an address names it, not the account: the
    /// account's own download does not carry the stranger's address and browser.
    async fn the_owners_download_holds_no_strangers_attempts(backend: Backend) {
        let mail = MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[]).await;
        let email = "private@example.com";
        let token = app.register(email).await;
        let stranger = json!({"email": email, "password": "a guess"});
        let failed = app.post("/api/auth/login").ip("198.51.100.66").header("user-agent", "StrangerBot/1.0").json(&stranger).send().await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        app.post("/api/account/password/forgot").ip("198.51.100.66").json(&json!({"email": email})).send().await;
        let download = app.get("/api/account/export").token(&token).send().await.text();
        assert!(!download.contains("198.51.100.66") && !download.contains("StrangerBot"), "{download}");
        // The administrators still see them, by the address.
        let stranger_rows = AuditLog::find().filter(audit_log::Column::Ip.eq("198.51.100.66")).all(&app.db).await.unwrap();
        assert_eq!(stranger_rows.len(), 2);
        assert!(stranger_rows.iter().all(|row| row.subject.as_deref() == Some(email) && row.actor_id.is_none()));
    }
}
