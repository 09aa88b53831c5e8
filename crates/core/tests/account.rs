//! The account's own controls without mail, through the real router on SQLite and MariaDB: the
//! profile, devices, changing the password, the account's own export, and deleting it.

use std::time::Duration;

use app_core::entities::{AuditLog, Conversation, Message, Session, User, audit_log, conversation, session, user};
use axum::http::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{ADMIN_EMAIL, Backend, Behaviour, PASSWORD, TestApp, Upstream, both_databases, json};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn spawn(backend: Backend) -> TestApp {
    TestApp::with_env(backend, |env| {
        env.insert("RATE_LIMIT_REGISTER_IP".into(), "off".into());
        env.insert("RATE_LIMIT_LOGIN_IP".into(), "off".into());
    })
    .await
}

async fn session_row(app: &TestApp, id: &str) -> session::Model {
    Session::find_by_id(id.to_string()).one(&app.db).await.unwrap().expect("session exists")
}

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get("/api/account/sessions").token(token).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["sessions"].as_array().unwrap().clone()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    User::find().filter(user::Column::Email.eq(email)).one(&app.db).await.unwrap().expect("user").id
}

both_databases! {
    async fn the_profile_shows_the_settings_and_sets_the_mail_language(backend: Backend) {
        let app = spawn(backend).await;
        let response = app
            .post("/api/auth/register")
            .json(&json!({"email": "li@example.com", "password": PASSWORD, "locale": "zh-CN"}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.json()["user"]["emailVerified"], false);
        let token = response.json()["token"].as_str().unwrap().to_string();

        let profile = app.get("/api/account").token(&token).send().await.json();
        assert_eq!(profile["email"], "li@example.com");
        assert_eq!(profile["locale"], "zh");
        assert_eq!(profile["emailVerified"], false);
        assert_eq!(profile["emailVerification"], "off");
        assert_eq!(profile["mailEnabled"], false);

        let changed = app.request(Method::PATCH, "/api/account").token(&token).json(&json!({"locale": "en-GB"})).send().await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
        assert_eq!(changed.json()["locale"], "en");
        let stored = User::find_by_id(user_id(&app, "li@example.com").await).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.locale, "en");
        // Without a locale an account gets English mail.
        let other = app.register("other@example.com").await;
        assert_eq!(app.get("/api/account").token(&other).send().await.json()["locale"], "en");
        let bad = app.request(Method::PATCH, "/api/account").token(&token).json(&json!({"locale": 7})).send().await;
        bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        app.get("/api/account").send().await.assert_error(StatusCode::UNAUTHORIZED);
    }

    async fn without_mail_the_mail_routes_answer_503_and_the_rest_works(backend: Backend) {
        let app = spawn(backend).await;
        let token = app.register("someone@example.com").await;
        let forgot = app.post("/api/account/password/forgot").json(&json!({"email": "someone@example.com"})).send().await;
        assert_eq!(forgot.assert_error(StatusCode::SERVICE_UNAVAILABLE), "mail_unavailable");
        let verification = app.post("/api/account/email/verification").token(&token).send().await;
        assert_eq!(verification.assert_error(StatusCode::SERVICE_UNAVAILABLE), "mail_unavailable");
        // A link that was never mailed is simply invalid.
        let reset = app
            .post("/api/account/password/reset")
            .json(&json!({"token": "0".repeat(64), "password": NEW_PASSWORD}))
            .send()
            .await;
        assert_eq!(reset.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
        let verify = app.post("/api/account/email/verify").token(&token).json(&json!({"token": "not-a-token"})).send().await;
        assert_eq!(verify.assert_error(StatusCode::BAD_REQUEST), "invalid_link");
    }

    async fn devices_are_listed_with_this_one_marked_and_can_be_signed_out(backend: Backend) {
        let app = spawn(backend).await;
        let here = app.register("devices@example.com").await;
        let phone = app
            .post("/api/auth/login")
            .ip("198.51.100.7")
            .header("user-agent", "Phone/1.0")
            .json(&json!({"email": "devices@example.com", "password": PASSWORD}))
            .send()
            .await
            .json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let laptop = app.login("devices@example.com", PASSWORD).await;
        let stranger = app.register("stranger@example.com").await;

        let listed = sessions(&app, &here).await;
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
        let phone_row = listed.iter().find(|s| s["userAgent"] == "Phone/1.0").expect("the phone's session");
        assert_eq!(phone_row["ip"], "198.51.100.7");
        assert_eq!(phone_row["current"], false);
        assert!(phone_row["lastUsedAt"].is_string() && phone_row["expires"].is_string());

        // Another account's session cannot be ended from here, nor can an unknown one.
        let strangers = sessions(&app, &stranger).await;
        let strangers_id = strangers[0]["id"].as_str().unwrap();
        let refused = app.delete(&format!("/api/account/sessions/{strangers_id}")).token(&here).send().await;
        refused.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/auth/session").token(&stranger).send().await.status, StatusCode::OK);

        let phone_id = phone_row["id"].as_str().unwrap();
        let ended = app.delete(&format!("/api/account/sessions/{phone_id}")).token(&here).send().await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text());
        assert_eq!(ended.json()["revoked"], 1);
        app.get("/api/auth/session").token(&phone).send().await.assert_error(StatusCode::UNAUTHORIZED);
        assert_eq!(sessions(&app, &here).await.len(), 2);

        let others = app.post("/api/account/sessions/revoke-others").token(&here).send().await;
        assert_eq!(others.json()["revoked"], 1);
        app.get("/api/auth/session").token(&laptop).send().await.assert_error(StatusCode::UNAUTHORIZED);
        let left = sessions(&app, &here).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["current"], true);

        // Ending this session is a logout.
        let this_id = left[0]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/api/account/sessions/{this_id}")).token(&here).send().await.status, StatusCode::OK);
        app.get("/api/auth/session").token(&here).send().await.assert_error(StatusCode::UNAUTHORIZED);
    }

    async fn last_use_is_written_at_most_every_five_minutes(backend: Backend) {
        let app = spawn(backend).await;
        let token = app.register("used@example.com").await;
        let id = sessions(&app, &token).await[0]["id"].as_str().unwrap().to_string();
        let started = session_row(&app, &id).await.last_used_at.expect("set at login");

        app.clock.advance(Duration::from_secs(4 * 60));
        app.get("/api/auth/session").token(&token).send().await;
        assert_eq!(session_row(&app, &id).await.last_used_at, Some(started), "not rewritten within five minutes");

        app.clock.advance(Duration::from_secs(2 * 60));
        app.get("/api/auth/session").token(&token).send().await;
        let used = session_row(&app, &id).await.last_used_at.unwrap();
        assert!(used > started + chrono::TimeDelta::minutes(5), "{used} after {started}");
    }

    async fn changing_the_password_keeps_this_session_and_ends_the_others(backend: Backend) {
        let app = spawn(backend).await;
        let here = app.register("change@example.com").await;
        let elsewhere = app.login("change@example.com", PASSWORD).await;
        let change = |current: &str, new: &str| json!({"currentPassword": current, "newPassword": new});

        let wrong = app.post("/api/account/password").token(&here).json(&change("not it at all", NEW_PASSWORD)).send().await;
        assert_eq!(wrong.assert_error(StatusCode::FORBIDDEN), "wrong_password");
        let short = app.post("/api/account/password").token(&here).json(&change(PASSWORD, "short")).send().await;
        assert_eq!(short.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "password_too_short");
        let long = app.post("/api/account/password").token(&here).json(&change(PASSWORD, &"x".repeat(73))).send().await;
        assert_eq!(long.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "password_too_long");
        assert_eq!(app.get("/api/auth/session").token(&elsewhere).send().await.status, StatusCode::OK, "nothing changed yet");

        let changed = app.post("/api/account/password").token(&here).json(&change(PASSWORD, NEW_PASSWORD)).send().await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
        assert_eq!(changed.json()["revoked"], 1);
        assert_eq!(app.get("/api/auth/session").token(&here).send().await.status, StatusCode::OK);
        app.get("/api/auth/session").token(&elsewhere).send().await.assert_error(StatusCode::UNAUTHORIZED);
        let old = app.post("/api/auth/login").json(&json!({"email": "change@example.com", "password": PASSWORD})).send().await;
        old.assert_error(StatusCode::UNAUTHORIZED);
        app.login("change@example.com", NEW_PASSWORD).await;

        let audited = AuditLog::find().filter(audit_log::Column::Action.eq("password_change")).all(&app.db).await.unwrap();
        assert_eq!(audited.len(), 1);
        assert_eq!(audited[0].actor_id.as_deref(), Some(user_id(&app, "change@example.com").await.as_str()));
    }

    async fn wrong_current_passwords_count_as_failed_logins(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_ACCOUNT".into(), "3/1h".into());
        })
        .await;
        let token = app.register("guess@example.com").await;
        for _ in 0..3 {
            let body = json!({"currentPassword": "a wrong guess", "newPassword": NEW_PASSWORD});
            let wrong = app.post("/api/account/password").token(&token).json(&body).send().await;
            assert_eq!(wrong.assert_error(StatusCode::FORBIDDEN), "wrong_password");
        }
        let body = json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD});
        let limited = app.post("/api/account/password").token(&token).json(&body).send().await;
        assert_eq!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        // The same lock the login form has: the account's failed logins are the same count.
        let login = app.post("/api/auth/login").json(&json!({"email": "guess@example.com", "password": PASSWORD})).send().await;
        login.assert_error(StatusCode::TOO_MANY_REQUESTS);
    }
}

/// Two conversations of one user (one with a regenerated reply: two versions), one of another.
async fn chat_history(app: &TestApp, token: &str, text: &str) -> String {
    let turn = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": text}]});
    let response = app.post("/api/chat").token(token).json(&turn).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["conversationId"].as_str().unwrap().to_string()
}

both_databases! {
    async fn the_own_export_holds_the_callers_data_and_every_version(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("RATE_LIMIT_REGISTER_IP", "off")]).await;
        let mine = app.register("mine@example.com").await;
        let theirs = app.register("theirs@example.com").await;
        let first = chat_history(&app, &mine, "first question").await;
        let second = chat_history(&app, &mine, "second question").await;
        let other = chat_history(&app, &theirs, "not yours").await;
        let detail = app.get(&format!("/api/chat/conversations/{first}")).token(&mine).send().await.json();
        let reply = detail["messages"][1]["id"].as_str().unwrap().to_string();
        let regenerated = app
            .post(&format!("/api/chat/conversations/{first}/messages/{reply}/regenerate"))
            .token(&mine)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(regenerated.status, StatusCode::OK, "{}", regenerated.text());

        let response = app.get("/api/account/export").token(&mine).send().await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert!(response.header("content-disposition").unwrap().starts_with("attachment; filename=\"my-data-"));
        let data = &response.json()["data"];
        let ids = |key: &str, field: &str| -> Vec<String> {
            data[key].as_array().unwrap().iter().map(|row| row[field].as_str().unwrap().to_string()).collect()
        };
        let my_id = user_id(&app, "mine@example.com").await;
        assert_eq!(ids("users", "id"), std::slice::from_ref(&my_id));
        assert!(data["users"][0].get("passwordHash").is_none());
        let mut conversations = ids("conversations", "id");
        conversations.sort();
        let mut expected = vec![first.clone(), second.clone()];
        expected.sort();
        assert_eq!(conversations, expected);
        // Every message of both conversations, both versions of the regenerated reply included.
        let stored = Message::find()
            .filter(app_core::entities::message::Column::ConversationId.is_in([first.clone(), second.clone()]))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(stored, 5, "two turns and one regenerated reply");
        let messages = ids("messages", "conversationId");
        assert_eq!(messages.len(), 5);
        assert!(!messages.contains(&other));
        assert!(ids("auditLogs", "actorId").iter().all(|actor| *actor == my_id));
        assert!(!ids("auditLogs", "action").is_empty());

        let ndjson = app.get("/api/account/export?format=ndjson").token(&mine).send().await;
        assert_eq!(ndjson.header("content-type"), Some("application/x-ndjson"));
        let lines: Vec<Value> = ndjson.text().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let count = |kind: &str| lines.iter().filter(|line| line["type"] == kind).count();
        assert_eq!((count("user"), count("conversation"), count("message")), (1, 2, 5));
        let audited = AuditLog::find().filter(audit_log::Column::Action.eq("account_export")).count(&app.db).await.unwrap();
        assert_eq!(audited, 2);
        app.get("/api/account/export?format=xml").token(&mine).send().await.assert_error(StatusCode::BAD_REQUEST);
    }

    async fn deleting_the_account_removes_everything_and_scrubs_the_address(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("RATE_LIMIT_REGISTER_IP", "off")]).await;
        let admin = app.admin_token().await;
        let email = "leaving_100%@example.com";
        let token = app.register(email).await;
        let elsewhere = app.login(email, PASSWORD).await;
        let id = user_id(&app, email).await;
        chat_history(&app, &token, "a private question").await;
        // An administrator's actions mention the address too.
        for action in ["ban", "unban"] {
            let response = app.post(&format!("/api/admin/users/{id}/{action}")).token(&admin).send().await;
            assert_eq!(response.status, StatusCode::OK, "{action}: {}", response.text());
        }
        let token = app.login(email, PASSWORD).await;
        let elsewhere_after_ban = app.login(email, PASSWORD).await;
        drop(elsewhere);

        let wrong = app.post("/api/account/delete").token(&token).json(&json!({"password": "not the password"})).send().await;
        assert_eq!(wrong.assert_error(StatusCode::FORBIDDEN), "wrong_password");
        assert!(User::find_by_id(id.clone()).one(&app.db).await.unwrap().is_some(), "nothing deleted");

        let deleted = app.post("/api/account/delete").token(&token).json(&json!({"password": PASSWORD})).send().await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        assert_eq!(deleted.json()["deleted"], true);
        for gone in [&token, &elsewhere_after_ban] {
            app.get("/api/auth/session").token(gone).send().await.assert_error(StatusCode::UNAUTHORIZED);
        }
        assert!(User::find_by_id(id.clone()).one(&app.db).await.unwrap().is_none());
        assert_eq!(Session::find().filter(session::Column::UserId.eq(&id)).count(&app.db).await.unwrap(), 0);
        assert_eq!(Conversation::find().filter(conversation::Column::UserId.eq(&id)).count(&app.db).await.unwrap(), 0);
        assert_eq!(Message::find().count(&app.db).await.unwrap(), 0, "the only messages were this account's");

        // The trail keeps the actions, but not the address; the deletion itself is on it.
        let trail = AuditLog::find().all(&app.db).await.unwrap();
        assert!(trail.iter().all(|row| !row.message.contains(email)), "{trail:#?}");
        assert!(trail.iter().all(|row| row.subject.as_deref() != Some(email)), "{trail:#?}");
        assert!(trail.iter().any(|row| row.action == "ban" && row.subject.as_deref() == Some("[deleted account]")));
        let deletion = trail.iter().find(|row| row.action == "account_delete").expect("the deletion is audited");
        assert_eq!(deletion.actor_id.as_deref(), Some(id.as_str()));
        let listed = app.get("/api/admin/audit-logs?action=account_delete").token(&admin).send().await;
        assert_eq!(listed.json()["total"], 1, "{}", listed.text());

        // The address is free again.
        app.register(email).await;
        app.login(email, PASSWORD).await;
        assert_eq!(app.get("/api/auth/session").token(&app.login(ADMIN_EMAIL, PASSWORD).await).send().await.status, StatusCode::OK);
    }
}
