//! The admin API (users, bans, the audit trail, the export) through the real router, on SQLite
//! and MariaDB.

use std::{collections::HashSet, time::Duration};

use app_core::{
    entities::{
        AuditLog, Conversation, ConversationKind, Message, MessageRole, Role, Session, User, audit_log, conversation,
        message, session, user,
    },
    ids::new_id,
};
use axum::http::{Method, StatusCode};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{ADMIN_EMAIL, Backend, PASSWORD, TestApp, TestResponse, both_databases, json};

/// A test app where registrations are not rate limited (the tests register many accounts).
async fn spawn(backend: Backend) -> TestApp {
    TestApp::with_env(backend, |env| {
        env.insert("RATE_LIMIT_REGISTER_IP".into(), "off".into());
    })
    .await
}

async fn user_id(app: &TestApp, email: &str) -> String {
    User::find().filter(user::Column::Email.eq(email)).one(&app.db).await.unwrap().expect("user exists").id
}

async fn login(app: &TestApp, email: &str) -> String {
    let response = app.post("/api/auth/login").json(&json!({"email": email, "password": PASSWORD})).send().await;
    assert_eq!(response.status, StatusCode::OK, "login {email}: {}", response.text());
    response.json()["token"].as_str().unwrap().to_string()
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<audit_log::Model> {
    AuditLog::find().filter(audit_log::Column::Action.eq(action)).all(&app.db).await.unwrap()
}

async fn insert_conversation(app: &TestApp, user_id: &str, title: &str, at: DateTime<Utc>) -> String {
    let id = new_id();
    Conversation::insert(conversation::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        kind: Set(ConversationKind::Oracle),
        title: Set(title.to_string()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    id
}

/// The fields of an exported message, in both formats.
const MESSAGE_RECORD_KEYS: [&str; 11] = [
    "completionTokens",
    "content",
    "conversationId",
    "createdAt",
    "fromClient",
    "id",
    "parentId",
    "promptTokens",
    "role",
    "stopped",
    "withheld",
];

/// A reply's record: the message's fields and its AI label (GB 45438 `AIGC`).
fn reply_record_keys() -> Vec<&'static str> {
    std::iter::once("AIGC").chain(MESSAGE_RECORD_KEYS).collect()
}

fn message_model(conversation_id: &str, content: &str, at: DateTime<Utc>) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(new_id()),
        conversation_id: Set(conversation_id.to_string()),
        role: Set(MessageRole::Assistant),
        content: Set(content.to_string()),
        prompt_tokens: Set(Some(12)),
        completion_tokens: Set(Some(34)),
        created_at: Set(at),
        ..Default::default()
    }
}

async fn insert_message(app: &TestApp, conversation_id: &str, content: &str, at: DateTime<Utc>) -> String {
    let model = message_model(conversation_id, content, at);
    let id = model.id.clone().unwrap();
    Message::insert(model).exec_without_returning(&app.db).await.unwrap();
    id
}

/// `at` as a query-string value (RFC 3339, `Z`, microseconds: no `+` to escape).
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Asserts no password hash (nor the field) appears anywhere in a response body.
fn assert_no_password_material(response: &TestResponse) {
    let text = response.text();
    for needle in ["$2b$", "$2a$", "$2y$", "passwordHash", "password_hash", "password"] {
        assert!(!text.contains(needle), "the body contains {needle:?}: {}", &text[..text.len().min(2000)]);
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array().expect("an array").iter().map(|row| row["id"].as_str().expect("an id").to_string()).collect()
}

/// The export as `(type, data)` records, from either format.
fn ndjson_records(body: &str) -> Vec<(String, Value)> {
    assert!(body.is_empty() || body.ends_with('\n'), "NDJSON ends with a newline");
    body.lines()
        .map(|line| {
            assert!(!line.trim().is_empty(), "no blank lines in NDJSON");
            let record: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("bad line ({err}): {line}"));
            assert_eq!(keys(&record), ["data", "type"], "{line}");
            (record["type"].as_str().unwrap().to_string(), record["data"].clone())
        })
        .collect()
}

/// `(users, conversations, messages, auditLogs)` ids of an NDJSON export, in order.
fn ndjson_ids(body: &str) -> [Vec<String>; 4] {
    let mut sections: [Vec<String>; 4] = Default::default();
    for (kind, data) in ndjson_records(body) {
        let index = match kind.as_str() {
            "user" => 0,
            "conversation" => 1,
            "message" => 2,
            "auditLog" => 3,
            other => panic!("unknown record type {other}"),
        };
        sections[index].push(data["id"].as_str().unwrap().to_string());
    }
    sections
}

fn json_ids(document: &Value) -> [Vec<String>; 4] {
    // The file's implicit AI label (GB 45438), then the seed's `data`.
    assert_eq!(keys(document), ["AIGC", "data"]);
    assert_eq!(
        keys(&document["data"]),
        ["auditLogs", "conversations", "feedback", "messages", "readings", "reports", "users"]
    );
    ["users", "conversations", "messages", "auditLogs"].map(|key| ids(&document["data"][key]))
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

const ADMIN_ROUTES: [(Method, &str); 5] = [
    (Method::GET, "/api/admin/export"),
    (Method::GET, "/api/admin/users"),
    (Method::POST, "/api/admin/users/{id}/ban"),
    (Method::POST, "/api/admin/users/{id}/unban"),
    (Method::GET, "/api/admin/audit-logs"),
];

both_databases! {
    async fn admin_routes_need_an_admin_token(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let user = app.register("user@example.com").await;
        let target = user_id(&app, "user@example.com").await;

        for (method, path) in ADMIN_ROUTES {
            let path = path.replace("{id}", &target);
            let anonymous = app.request(method.clone(), &path).send().await;
            assert_eq!(anonymous.assert_error(StatusCode::UNAUTHORIZED), "missing_token", "{method} {path}");
            let bad = app.request(method.clone(), &path).token("not-a-token").send().await;
            assert_eq!(bad.assert_error(StatusCode::UNAUTHORIZED), "invalid_token", "{method} {path}");
            let forbidden = app.request(method.clone(), &path).token(&user).send().await;
            assert_eq!(forbidden.assert_error(StatusCode::FORBIDDEN), "admin_only", "{method} {path}");
        }
        // Nothing happened on the user's behalf: not banned, and no ban/unban/export audited.
        let stored = User::find_by_id(target.clone()).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.banned_at, None);
        for action in ["ban", "unban", "export"] {
            assert!(audit_rows(&app, action).await.is_empty(), "{action} was audited");
        }

        // The same routes answer an admin (all but ban, which would end the user's session).
        for (method, path) in [&ADMIN_ROUTES[0], &ADMIN_ROUTES[1], &ADMIN_ROUTES[3], &ADMIN_ROUTES[4]] {
            let path = path.replace("{id}", &target);
            let response = app.request(method.clone(), &path).token(&admin).send().await;
            assert_eq!(response.status, StatusCode::OK, "{method} {path}: {}", response.text());
        }

        // A demoted admin loses access with their very next request.
        let second_admin_id = {
            app.register("second@example.com").await;
            user_id(&app, "second@example.com").await
        };
        let mut active: user::ActiveModel = User::find_by_id(second_admin_id.clone()).one(&app.db).await.unwrap().unwrap().into();
        active.role = Set(Role::Admin);
        sea_orm::ActiveModelTrait::update(active, &app.db).await.unwrap();
        let second = login(&app, "second@example.com").await;
        assert_eq!(app.get("/api/admin/users").token(&second).send().await.status, StatusCode::OK);
        let mut active: user::ActiveModel = User::find_by_id(second_admin_id).one(&app.db).await.unwrap().unwrap().into();
        active.role = Set(Role::User);
        sea_orm::ActiveModelTrait::update(active, &app.db).await.unwrap();
        let demoted = app.get("/api/admin/users").token(&second).send().await;
        assert_eq!(demoted.assert_error(StatusCode::FORBIDDEN), "admin_only");
    }

    async fn users_are_listed_newest_first_searched_and_paginated(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let emails = [
            "under_score@example.com",
            "underxscore@example.com",
            "per%cent@example.com",
            "perxcent@example.com",
            "Mixed.Case@Example.COM",
            "back\\slash@example.org",
            "plain@example.org",
        ];
        for email in emails {
            app.clock.advance(Duration::from_secs(60));
            if email.contains('\\') {
                // Registration refuses backslashes; an imported account may still have one.
                let now = app.clock.now();
                User::insert(user::ActiveModel {
                    id: Set(new_id()),
                    email: Set(email.to_string()),
                    password_hash: Set("$2b$04$imported".into()),
                    role: Set(Role::User),
                    banned_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .exec_without_returning(&app.db)
                .await
                .unwrap();
            } else {
                app.register(email).await;
            }
        }
        // Newest first: the reverse of the registration order, the admin last.
        let mut expected: Vec<String> = emails.iter().rev().map(|email| email.to_lowercase()).collect();
        expected.push(ADMIN_EMAIL.to_string());

        let all = app.get("/api/admin/users").token(&admin).send().await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text());
        assert_no_password_material(&all);
        let body = all.json();
        assert_eq!(body["total"], expected.len());
        assert_eq!(body["page"], 1);
        assert_eq!(body["pageSize"], 20);
        let listed: Vec<&str> = body["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(listed, expected);
        let first = &body["users"][0];
        assert_eq!(keys(first), ["bannedAt", "createdAt", "email", "emailVerifiedAt", "healthConsentAt", "id", "locale",
            "moderationFlaggedAt", "restrictedUntil", "role", "termsAcceptedAt", "termsVersion", "updatedAt"]);
        assert_eq!(first["role"], "USER");
        assert_eq!(first["bannedAt"], Value::Null);
        assert_eq!(body["users"][expected.len() - 1]["role"], "ADMIN");
        let created: Vec<DateTime<Utc>> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["createdAt"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(created.windows(2).all(|pair| pair[0] > pair[1]), "{created:?}");

        // `q`: a case-insensitive substring of the email; `%`, `_` and `\` are literal.
        let search = async |q: &str| -> Vec<String> {
            let response = app.get(&format!("/api/admin/users?q={q}")).token(&admin).send().await;
            assert_eq!(response.status, StatusCode::OK, "q={q}: {}", response.text());
            let body = response.json();
            let found: Vec<String> =
                body["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect();
            assert_eq!(body["total"], found.len(), "q={q}");
            found
        };
        assert_eq!(search("UNDER_SCORE").await, ["under_score@example.com"]);
        assert_eq!(search("_").await, ["under_score@example.com"]);
        assert_eq!(search("%25").await, ["per%cent@example.com"]);
        assert_eq!(search("r%25c").await, ["per%cent@example.com"]);
        assert_eq!(search("%5C").await, ["back\\slash@example.org"]);
        assert_eq!(search("mixed.CASE").await, ["mixed.case@example.com"]);
        assert_eq!(search("%20%20Plain%20").await, ["plain@example.org"], "surrounding spaces are ignored");
        assert_eq!(search("example.org").await, ["plain@example.org", "back\\slash@example.org"]);
        assert_eq!(search("nobody").await, Vec::<String>::new());
        assert_eq!(search("").await.len(), expected.len());

        // Paging walks the same order without gaps or repeats; `total` is the whole count.
        let mut walked = Vec::new();
        for page in 1..=3 {
            let response = app.get(&format!("/api/admin/users?page={page}&pageSize=3")).token(&admin).send().await;
            let body = response.json();
            assert_eq!(body["total"], expected.len());
            assert_eq!(body["page"], page);
            assert_eq!(body["pageSize"], 3);
            let users = body["users"].as_array().unwrap();
            assert_eq!(users.len(), if page < 3 { 3 } else { expected.len() - 6 }, "page {page}");
            walked.extend(users.iter().map(|u| u["email"].as_str().unwrap().to_string()));
        }
        assert_eq!(walked, expected);
        let beyond = app.get("/api/admin/users?page=4&pageSize=3").token(&admin).send().await.json();
        assert_eq!(beyond["users"], json!([]));
        assert_eq!(beyond["total"], expected.len());
        let filtered = app.get("/api/admin/users?q=example.com&page=2&pageSize=2").token(&admin).send().await.json();
        assert_eq!(filtered["total"], 6);
        let emails_on_page: Vec<&str> = filtered["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        // mixed.case, perxcent | per%cent, underxscore | under_score, admin
        assert_eq!(emails_on_page, ["per%cent@example.com", "underxscore@example.com"]);
        let max = app.get("/api/admin/users?pageSize=100").token(&admin).send().await;
        assert_eq!(max.status, StatusCode::OK);
        // Far beyond the end, but a representable offset: just an empty page.
        let far = app.get("/api/admin/users?page=10000000000000000&pageSize=100").token(&admin).send().await;
        assert_eq!(far.status, StatusCode::OK, "{}", far.text());
        assert_eq!(far.json()["users"], json!([]));
        assert_eq!(far.json()["total"], expected.len());

        for bad in [
            "page=0",
            "pageSize=0",
            "pageSize=101",
            "page=abc",
            "pageSize=abc",
            "page=-1",
            "page=1.5",
            "page=18446744073709551615",
            "page=18446744073709551616",
            "page=100000000000000000&pageSize=100",
        ] {
            let response = app.get(&format!("/api/admin/users?{bad}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "{bad}");
        }
    }

    async fn ban_ends_every_session_and_unban_restores_access(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        let first = app.register("target@example.com").await;
        let second = login(&app, "target@example.com").await;
        let bystander = app.register("bystander@example.com").await;
        let target = user_id(&app, "target@example.com").await;
        let sessions_of = async |id: &str| {
            Session::find().filter(session::Column::UserId.eq(id)).count(&app.db).await.unwrap()
        };
        assert_eq!(sessions_of(&target).await, 2);

        let ban = app
            .post(&format!("/api/admin/users/{target}/ban"))
            .token(&admin)
            .header("x-forwarded-for", "203.0.113.50, 10.0.0.1")
            .header("user-agent", "admin-console/2.0")
            .send()
            .await;
        assert_eq!(ban.status, StatusCode::OK, "{}", ban.text());
        assert_no_password_material(&ban);
        let body = ban.json();
        assert_eq!(body["user"]["id"], target.as_str());
        assert_eq!(body["user"]["email"], "target@example.com");
        let banned_at: DateTime<Utc> = body["user"]["bannedAt"].as_str().expect("bannedAt is set").parse().unwrap();
        let stored = User::find_by_id(target.clone()).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.banned_at, Some(banned_at));
        assert_eq!(stored.updated_at, banned_at);

        // Every session ended at once; the other accounts are untouched.
        assert_eq!(sessions_of(&target).await, 0);
        for token in [&first, &second] {
            let response = app.get("/api/auth/session").token(token).send().await;
            assert_eq!(response.assert_error(StatusCode::UNAUTHORIZED), "invalid_token");
        }
        assert_eq!(app.get("/api/auth/session").token(&bystander).send().await.status, StatusCode::OK);
        assert_eq!(app.get("/api/admin/users").token(&admin).send().await.status, StatusCode::OK);
        let relogin = app.post("/api/auth/login").json(&json!({"email": "target@example.com", "password": PASSWORD})).send().await;
        assert_eq!(relogin.assert_error(StatusCode::FORBIDDEN), "account_banned");

        // Audited: the admin as actor, the forwarded hop FC's gateway added (the last), the user
        // agent.
        let rows = audit_rows(&app, "ban").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor_id.as_deref(), Some(admin_id.as_str()));
        assert_eq!(rows[0].ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(rows[0].user_agent.as_deref(), Some("admin-console/2.0"));
        assert_eq!(rows[0].subject.as_deref(), Some("target@example.com"));

        // Banning again is fine (still banned, audited again).
        app.clock.advance(Duration::from_secs(5));
        let again = app.post(&format!("/api/admin/users/{target}/ban")).token(&admin).send().await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        assert!(again.json()["user"]["bannedAt"].is_string());
        assert_eq!(audit_rows(&app, "ban").await.len(), 2);

        // The listing shows the ban.
        let listed = app.get("/api/admin/users?q=target").token(&admin).send().await.json();
        assert!(listed["users"][0]["bannedAt"].is_string());

        // Unban clears it and is audited; the account can log in again.
        let unban = app
            .post(&format!("/api/admin/users/{target}/unban"))
            .token(&admin)
            .ip("198.51.100.4")
            .header("user-agent", "admin-console/2.0")
            .send()
            .await;
        assert_eq!(unban.status, StatusCode::OK, "{}", unban.text());
        assert_eq!(unban.json()["user"]["bannedAt"], Value::Null);
        assert_eq!(User::find_by_id(target.clone()).one(&app.db).await.unwrap().unwrap().banned_at, None);
        let rows = audit_rows(&app, "unban").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor_id.as_deref(), Some(admin_id.as_str()));
        assert_eq!(rows[0].ip.as_deref(), Some("198.51.100.4"));
        assert_eq!(rows[0].user_agent.as_deref(), Some("admin-console/2.0"));
        let token = login(&app, "target@example.com").await;
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.status, StatusCode::OK);
        // The old tokens stay dead: their sessions are gone for good.
        assert_eq!(app.get("/api/auth/session").token(&first).send().await.status, StatusCode::UNAUTHORIZED);
    }

    async fn ban_refuses_unknown_ids_and_the_admin_themselves(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        for action in ["ban", "unban"] {
            let response = app.post(&format!("/api/admin/users/no-such-user/{action}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "not_found", "{action}");
        }
        // An id that is not valid UTF-8 once decoded: our JSON error, not axum's plain text.
        let garbled = app.post("/api/admin/users/%FF%FE/ban").token(&admin).send().await;
        assert_eq!(garbled.assert_error(StatusCode::BAD_REQUEST), "invalid_path");
        let own = app.post(&format!("/api/admin/users/{admin_id}/ban")).token(&admin).send().await;
        assert_eq!(own.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "cannot_ban_self");
        let stored = User::find_by_id(admin_id.clone()).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.banned_at, None);
        assert_eq!(app.get("/api/auth/session").token(&admin).send().await.status, StatusCode::OK);
        assert!(audit_rows(&app, "ban").await.is_empty());
        assert!(audit_rows(&app, "unban").await.is_empty());

        // Another admin may be banned, though.
        let other = app.register("other-admin@example.com").await;
        let other_id = user_id(&app, "other-admin@example.com").await;
        let mut active: user::ActiveModel = User::find_by_id(other_id.clone()).one(&app.db).await.unwrap().unwrap().into();
        active.role = Set(Role::Admin);
        sea_orm::ActiveModelTrait::update(active, &app.db).await.unwrap();
        let banned = app.post(&format!("/api/admin/users/{other_id}/ban")).token(&admin).send().await;
        assert_eq!(banned.status, StatusCode::OK);
        assert_eq!(app.get("/api/admin/users").token(&other).send().await.status, StatusCode::UNAUTHORIZED);
    }

    async fn audit_log_entries_name_their_actor_while_the_account_exists(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        // A second apart each, so that newest-first is one order.
        app.clock.advance(Duration::from_secs(1));
        app.register("someone@example.com").await;
        let someone = user_id(&app, "someone@example.com").await;
        app.clock.advance(Duration::from_secs(1));
        app.post(&format!("/api/admin/users/{someone}/ban")).token(&admin).send().await;
        // An entry from the operator CLI (no actor) and an imported one whose actor is gone.
        for (actor, action) in [(None, "promote"), (Some("gone-account-id"), "login")] {
            app.clock.advance(Duration::from_secs(1));
            AuditLog::insert(audit_log::ActiveModel {
                id: Set(new_id()),
                actor_id: Set(actor.map(str::to_string)),
                action: Set(action.to_string()),
                message: Set(format!("{action} entry")),
                ip: Set(None),
                user_agent: Set(None),
                created_at: Set(app.clock.now()),
                ..Default::default()
            })
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        }

        let body = app.get("/api/admin/audit-logs?pageSize=100").token(&admin).send().await.json();
        let actors: Vec<(&str, Value, Value)> = body["auditLogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|log| (log["action"].as_str().unwrap(), log["actorId"].clone(), log["actorEmail"].clone()))
            .collect();
        assert_eq!(
            actors,
            [
                ("login", json!("gone-account-id"), Value::Null),
                ("promote", Value::Null, Value::Null),
                ("ban", json!(admin_id), json!(ADMIN_EMAIL)),
                ("register", json!(someone), json!("someone@example.com")),
                ("register", json!(admin_id), json!(ADMIN_EMAIL)),
            ]
        );
    }

    async fn audit_logs_are_newest_first_filtered_and_paginated(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        for n in 0..3 {
            app.clock.advance(Duration::from_secs(1));
            app.register(&format!("user{n}@example.com")).await;
        }
        let user0 = user_id(&app, "user0@example.com").await;
        login(&app, "user0@example.com").await;
        let failed = app.post("/api/auth/login").json(&json!({"email": "user0@example.com", "password": "wrong password"})).send().await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        let user1 = user_id(&app, "user1@example.com").await;
        app.post(&format!("/api/admin/users/{user1}/ban")).token(&admin).send().await;
        app.post(&format!("/api/admin/users/{user1}/unban")).token(&admin).send().await;
        let total = AuditLog::find().count(&app.db).await.unwrap();
        assert_eq!(total, 8, "4 registrations, a login, a failed login, a ban and an unban");

        let all = app.get("/api/admin/audit-logs?pageSize=100").token(&admin).send().await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text());
        let body = all.json();
        assert_eq!(body["total"], 8);
        assert_eq!(body["page"], 1);
        assert_eq!(body["pageSize"], 100);
        let logs = body["auditLogs"].as_array().unwrap();
        assert_eq!(logs.len(), 8);
        assert_eq!(
            keys(&logs[0]),
            ["action", "actorEmail", "actorId", "createdAt", "id", "ip", "message", "occurrences", "subject", "userAgent"]
        );
        let actions: Vec<&str> = logs.iter().map(|log| log["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["unban", "ban", "login_failed", "login", "register", "register", "register", "register"]);
        let times: Vec<DateTime<Utc>> = logs.iter().map(|log| log["createdAt"].as_str().unwrap().parse().unwrap()).collect();
        assert!(times.windows(2).all(|pair| pair[0] > pair[1]), "{times:?}");

        let by_action = app.get("/api/admin/audit-logs?action=register").token(&admin).send().await.json();
        assert_eq!(by_action["total"], 4);
        assert!(by_action["auditLogs"].as_array().unwrap().iter().all(|log| log["action"] == "register"));
        let by_actor = app.get(&format!("/api/admin/audit-logs?actorId={user0}")).token(&admin).send().await.json();
        let actor_actions: Vec<&str> = by_actor["auditLogs"].as_array().unwrap().iter().map(|log| log["action"].as_str().unwrap()).collect();
        // A failed login from the login form is a stranger's until proven otherwise: it names
        // the address it tried (its subject), not the account as its actor.
        assert_eq!(actor_actions, ["login", "register"]);
        assert_eq!(by_actor["total"], 2);
        let by_subject = app.get("/api/admin/audit-logs?subject=user0@example.com").token(&admin).send().await.json();
        let subject_actions: Vec<&str> = by_subject["auditLogs"].as_array().unwrap().iter().map(|log| log["action"].as_str().unwrap()).collect();
        assert!(subject_actions.contains(&"login_failed"), "{subject_actions:?}");
        assert!(by_subject["auditLogs"].as_array().unwrap().iter().filter(|log| log["action"] == "login_failed").all(|log| log["actorId"].is_null()));
        let both = app.get(&format!("/api/admin/audit-logs?actorId={admin_id}&action=ban")).token(&admin).send().await.json();
        assert_eq!(both["total"], 1);
        assert_eq!(both["auditLogs"][0]["action"], "ban");
        assert_eq!(both["auditLogs"][0]["actorId"], admin_id.as_str());
        let none = app.get("/api/admin/audit-logs?action=nothing").token(&admin).send().await.json();
        assert_eq!(none["total"], 0);
        assert_eq!(none["auditLogs"], json!([]));

        // Pages of 3 walk the same order.
        let mut walked = Vec::new();
        for page in 1..=3 {
            let body = app.get(&format!("/api/admin/audit-logs?page={page}&pageSize=3")).token(&admin).send().await.json();
            assert_eq!(body["total"], 8);
            walked.extend(body["auditLogs"].as_array().unwrap().iter().map(|log| log["id"].as_str().unwrap().to_string()));
        }
        assert_eq!(walked, ids(&body["auditLogs"]));

        for bad in ["page=0", "pageSize=0", "pageSize=101", "page=abc", "page=18446744073709551615"] {
            let response = app.get(&format!("/api/admin/audit-logs?{bad}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "{bad}");
        }
    }

    async fn export_is_one_json_document_without_password_hashes(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        app.register("writer@example.com").await;
        let writer = user_id(&app, "writer@example.com").await;
        let now = app.clock.now();
        let conversation = insert_conversation(&app, &writer, "Hexagram 1 🔮", now).await;
        let question = insert_message(&app, &conversation, "What does \"乾\" mean?\nLine two", app.clock.now()).await;
        Message::insert(message::ActiveModel {
            role: Set(MessageRole::User),
            prompt_tokens: Set(None),
            completion_tokens: Set(None),
            ..message_model(&conversation, "plain", app.clock.now())
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap();

        let response = app
            .get("/api/admin/export")
            .token(&admin)
            .ip("192.0.2.77")
            .header("user-agent", "exporter/1.0")
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("content-type"), Some("application/json"));
        let disposition = response.header("content-disposition").expect("content-disposition");
        assert!(disposition.starts_with("attachment; filename=\"export-") && disposition.ends_with(".json\""), "{disposition}");
        assert_no_password_material(&response);

        let document = response.json();
        let [users, conversations, messages, audit_logs] = json_ids(&document);
        let data = &document["data"];
        assert_eq!(sorted(users), sorted(vec![admin_id.clone(), writer.clone()]));
        for user in data["users"].as_array().unwrap() {
            assert_eq!(keys(user), ["bannedAt", "createdAt", "email", "emailVerifiedAt", "healthConsentAt", "id", "locale",
                "moderationFlaggedAt", "restrictedUntil", "role", "termsAcceptedAt", "termsVersion", "updatedAt"]);
        }
        assert_eq!(conversations, [conversation.as_str()]);
        let exported = &data["conversations"][0];
        assert_eq!(
            keys(exported),
            ["activeLeafId", "createdAt", "id", "title", "titleSource", "type", "updatedAt", "userId"]
        );
        // Written as the app before versions did: no branch chosen, the first message's title.
        assert_eq!(exported["activeLeafId"], Value::Null);
        assert_eq!(exported["titleSource"], "message");
        assert_eq!(exported["userId"], writer.as_str());
        assert_eq!(exported["type"], "ORACLE");
        assert_eq!(exported["title"], "Hexagram 1 🔮");
        assert_eq!(exported["createdAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), now);
        assert_eq!(messages.len(), 2);
        let exported = data["messages"].as_array().unwrap().iter().find(|m| m["id"] == question.as_str()).unwrap();
        // (Stored as a reply: it carries its AI label besides the record's fields.)
        assert_eq!(keys(exported), reply_record_keys());
        assert_eq!((&exported["parentId"], &exported["stopped"]), (&Value::Null, &json!(false)));
        assert_eq!(exported["content"], "What does \"乾\" mean?\nLine two");
        assert_eq!(exported["conversationId"], conversation.as_str());
        assert_eq!(exported["role"], "ASSISTANT");
        assert_eq!(exported["promptTokens"], 12);
        assert_eq!(exported["completionTokens"], 34);
        let plain = data["messages"].as_array().unwrap().iter().find(|m| m["id"] != question.as_str()).unwrap();
        assert_eq!(plain["role"], "USER");
        assert_eq!(plain["promptTokens"], Value::Null);

        // The audit trail is exported too, including the export itself, which is audited.
        let rows = audit_rows(&app, "export").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor_id.as_deref(), Some(admin_id.as_str()));
        assert_eq!(rows[0].ip.as_deref(), Some("192.0.2.77"));
        assert_eq!(rows[0].user_agent.as_deref(), Some("exporter/1.0"));
        assert_eq!(audit_logs.len(), 3, "2 registrations and the export");
        assert!(audit_logs.contains(&rows[0].id));
        let exported = data["auditLogs"].as_array().unwrap().iter().find(|log| log["id"] == rows[0].id.as_str()).unwrap();
        assert_eq!(keys(exported), ["action", "actorId", "createdAt", "id", "ip", "message", "occurrences", "subject", "userAgent"]);
        assert_eq!(exported["action"], "export");
        assert_eq!(exported["ip"], "192.0.2.77");

        // An empty section is an empty array, and the document is still valid.
        Message::delete_many().exec(&app.db).await.unwrap();
        let document = app.get("/api/admin/export?format=json").token(&admin).send().await.json();
        assert_eq!(document["data"]["messages"], json!([]));
        assert_eq!(audit_rows(&app, "export").await.len(), 2);
    }

    async fn export_as_ndjson_has_one_record_per_row(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        app.register("writer@example.com").await;
        let writer = user_id(&app, "writer@example.com").await;
        let conversation = insert_conversation(&app, &writer, "t", app.clock.now()).await;
        for n in 0..3 {
            insert_message(&app, &conversation, &format!("line {n}\nwith a newline"), app.clock.now()).await;
        }

        let response = app.get("/api/admin/export?format=ndjson").token(&admin).send().await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("content-type"), Some("application/x-ndjson"));
        assert!(response.header("content-disposition").unwrap().ends_with(".ndjson\""));
        assert_no_password_material(&response);
        let text = response.text();
        let records = ndjson_records(&text);
        assert_eq!(text.lines().count(), records.len());
        let [users, conversations, messages, audit_logs] = ndjson_ids(&text);
        assert_eq!(users.len(), 2);
        assert_eq!(conversations, [conversation]);
        assert_eq!(messages.len(), 3);
        assert_eq!(audit_logs.len() as u64, AuditLog::find().count(&app.db).await.unwrap());
        // Records come section by section, in the JSON document's order.
        let kinds: Vec<&str> = records.iter().map(|(kind, _)| kind.as_str()).collect();
        let mut deduped = kinds.clone();
        deduped.dedup();
        assert_eq!(deduped, ["user", "conversation", "message", "auditLog"]);
        // The messages here are replies: each carries its AI label (GB 45438) besides the record.
        let reply = records.iter().find(|(kind, data)| kind == "message" && data["role"] == "ASSISTANT").unwrap();
        assert_eq!(keys(&reply.1), reply_record_keys());
        assert_eq!(reply.1["AIGC"]["ProduceID"], reply.1["id"]);
        assert_eq!(audit_rows(&app, "export").await.len(), 1);
    }

    async fn export_filters_by_created_at(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        let early_conversation = insert_conversation(&app, &admin_id, "early", app.clock.now()).await;
        let early_message = insert_message(&app, &early_conversation, "early", app.clock.now()).await;

        app.clock.advance(Duration::from_secs(3600));
        let b1 = app.clock.now();
        // Exactly on the boundary: in `since=b1`, not in `until=b1`.
        let boundary_message = insert_message(&app, &early_conversation, "boundary", b1).await;
        app.register("middle@example.com").await;
        let middle = user_id(&app, "middle@example.com").await;
        let middle_conversation = insert_conversation(&app, &middle, "middle", app.clock.now()).await;
        let middle_message = insert_message(&app, &middle_conversation, "middle", app.clock.now()).await;

        app.clock.advance(Duration::from_secs(3600));
        let b2 = app.clock.now();
        app.register("late@example.com").await;
        let late = user_id(&app, "late@example.com").await;
        let late_conversation = insert_conversation(&app, &late, "late", app.clock.now()).await;
        let late_message = insert_message(&app, &late_conversation, "late", app.clock.now()).await;
        app.clock.advance(Duration::from_secs(3600));

        let register_of = async |id: &str| {
            AuditLog::find()
                .filter(audit_log::Column::ActorId.eq(id))
                .filter(audit_log::Column::Action.eq("register"))
                .one(&app.db)
                .await
                .unwrap()
                .unwrap()
                .id
        };
        let export = async |query: String| {
            let response = app.get(&format!("/api/admin/export?{query}")).token(&admin).send().await;
            assert_eq!(response.status, StatusCode::OK, "{query}: {}", response.text());
            json_ids(&response.json()).map(sorted)
        };

        let before = export(format!("until={}", stamp(b1))).await;
        assert_eq!(before, [
            vec![admin_id.clone()],
            vec![early_conversation.clone()],
            vec![early_message.clone()],
            vec![register_of(&admin_id).await],
        ]);

        let between = export(format!("since={}&until={}", stamp(b1), stamp(b2))).await;
        assert_eq!(between, [
            vec![middle.clone()],
            vec![middle_conversation.clone()],
            sorted(vec![boundary_message.clone(), middle_message.clone()]),
            vec![register_of(&middle).await],
        ]);
        // The same instants written with an offset select the same rows.
        let offset = FixedOffset::east_opt(8 * 3600).unwrap();
        let with_offset = export(format!(
            "since={}&until={}",
            b1.with_timezone(&offset).to_rfc3339_opts(SecondsFormat::Micros, false).replace('+', "%2B"),
            b2.with_timezone(&offset).to_rfc3339_opts(SecondsFormat::Micros, false).replace('+', "%2B"),
        ))
        .await;
        assert_eq!(with_offset, between);

        // Extreme but valid bounds select everything.
        let everything = export("since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999Z".to_string()).await;
        assert_eq!(everything[0].len(), 3);
        assert_eq!(everything[1].len(), 3);
        assert_eq!(everything[2].len(), 4);
        let nothing = export("since=9999-01-01T00:00:00Z".to_string()).await;
        assert!(nothing[..3].iter().all(Vec::is_empty), "{nothing:?}");

        let after = export(format!("since={}", stamp(b2))).await;
        assert_eq!(after[0], [late.as_str()]);
        assert_eq!(after[1], [late_conversation]);
        assert_eq!(after[2], [late_message]);
        // The late registration and every export so far (this one included: it is audited first).
        let mut exports = audit_rows(&app, "export").await;
        exports.sort_by_key(|row| row.created_at);
        assert_eq!(exports.len(), 6);
        let mut expected = vec![register_of(&late).await];
        expected.extend(exports.iter().map(|row| row.id.clone()));
        assert_eq!(after[3], sorted(expected));
        assert!(exports.iter().all(|row| row.actor_id.as_deref() == Some(admin_id.as_str())));
        // The audit message records the range.
        assert!(exports[0].message.contains(&format!("until {}", b1.to_rfc3339())), "{}", exports[0].message);
        assert!(exports[1].message.contains(&format!("since {}", b1.to_rfc3339())), "{}", exports[1].message);

        // Refused: an empty or inverted range, timestamps that are not RFC 3339, unknown formats.
        for bad in [
            format!("since={}&until={}", stamp(b2), stamp(b1)),
            format!("since={}&until={}", stamp(b1), stamp(b1)),
            "since=yesterday".to_string(),
            "until=2024-01-01".to_string(),
            "since=1700000000".to_string(),
            "since=".to_string(),
            "format=xml".to_string(),
            "format=JSON5".to_string(),
            "format=".to_string(),
        ] {
            let response = app.get(&format!("/api/admin/export?{bad}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "{bad}");
        }
        assert_eq!(audit_rows(&app, "export").await.len(), 6, "refused exports are not audited");
    }

    async fn export_is_gzipped_when_the_client_accepts_it(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        let conversation = insert_conversation(&app, &admin_id, "t", app.clock.now()).await;
        for n in 0..50 {
            insert_message(&app, &conversation, &format!("message {n}: {}", "lorem ipsum ".repeat(20)), app.clock.now()).await;
        }
        // A fixed `until`, so the audit rows of the exports themselves do not differ between runs.
        let until = app.clock.now();
        app.clock.advance(Duration::from_secs(1));

        for format in ["json", "ndjson"] {
            let path = format!("/api/admin/export?format={format}&until={}", stamp(until));
            let plain = app.get(&path).token(&admin).send().await;
            assert_eq!(plain.status, StatusCode::OK);
            assert_eq!(plain.header("content-encoding"), None);
            let gzipped = app.get(&path).token(&admin).header("accept-encoding", "gzip").send().await;
            assert_eq!(gzipped.status, StatusCode::OK, "{}", gzipped.text());
            assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
            assert_eq!(gzipped.header("content-type"), plain.header("content-type"));
            assert!(gzipped.body.len() < plain.body.len() / 2, "{} vs {}", gzipped.body.len(), plain.body.len());
            let inflated = gunzip::decompress(&gzipped.body);
            assert_eq!(inflated, plain.body.to_vec(), "{format}");
        }
    }

    async fn export_is_complete_beyond_one_page(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        // 500 conversations (exactly one page), 1,234 messages (two full pages and a partial one).
        let mut conversations = Vec::new();
        let mut batch = Vec::new();
        for n in 0..500 {
            let id = new_id();
            let at = app.clock.now();
            batch.push(conversation::ActiveModel {
                id: Set(id.clone()),
                user_id: Set(admin_id.clone()),
                kind: Set(if n % 2 == 0 { ConversationKind::Oracle } else { ConversationKind::Tcm }),
                title: Set(format!("conversation {n}")),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            });
            conversations.push(id);
        }
        for chunk in batch.chunks(100) {
            Conversation::insert_many(chunk.to_vec()).exec_without_returning(&app.db).await.unwrap();
        }
        let mut messages = Vec::new();
        let mut batch = Vec::new();
        for n in 0..1234 {
            let model = message_model(&conversations[n % conversations.len()], &format!("message {n}"), app.clock.now());
            messages.push(model.id.clone().unwrap());
            batch.push(model);
        }
        for chunk in batch.chunks(100) {
            Message::insert_many(chunk.to_vec()).exec_without_returning(&app.db).await.unwrap();
        }
        assert_eq!(Message::find().count(&app.db).await.unwrap(), 1234);

        let document = app.get("/api/admin/export").token(&admin).send().await;
        assert_eq!(document.status, StatusCode::OK);
        let [users, exported_conversations, exported_messages, audit_logs] = json_ids(&document.json());
        assert_eq!(users, [admin_id.as_str()]);
        assert_eq!(exported_conversations.len(), 500);
        assert_eq!(sorted(exported_conversations), sorted(conversations.clone()));
        assert_eq!(exported_messages.len(), 1234);
        assert_eq!(exported_messages.iter().collect::<HashSet<_>>().len(), 1234, "no duplicates");
        assert_eq!(sorted(exported_messages), sorted(messages.clone()));
        assert_eq!(audit_logs.len(), 2, "the registration and this export");

        let ndjson = app.get("/api/admin/export?format=ndjson").token(&admin).send().await;
        assert_eq!(ndjson.status, StatusCode::OK);
        let [users, exported_conversations, exported_messages, audit_logs] = ndjson_ids(&ndjson.text());
        assert_eq!(users, [admin_id]);
        assert_eq!(sorted(exported_conversations), sorted(conversations));
        assert_eq!(exported_messages.len(), 1234);
        assert_eq!(sorted(exported_messages), sorted(messages));
        assert_eq!(audit_logs.len(), 3);
        assert_eq!(ndjson.text().lines().count(), 1 + 500 + 1234 + 3);
    }

    async fn export_of_many_audit_rows_crosses_pages_in_order(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        // 1,000 rows in all at export time (999 here, plus the export's own row): two full pages.
        let existing = AuditLog::find().count(&app.db).await.unwrap();
        let mut batch = Vec::new();
        for n in existing..999 {
            batch.push(audit_log::ActiveModel {
                id: Set(new_id()),
                actor_id: Set(None),
                action: Set("login_failed".into()),
                message: Set(format!("failed login {n}")),
                ip: Set(Some("192.0.2.1".into())),
                user_agent: Set(None),
                created_at: Set(app.clock.now()),
                ..Default::default()
            });
        }
        for chunk in batch.chunks(100) {
            AuditLog::insert_many(chunk.to_vec()).exec_without_returning(&app.db).await.unwrap();
        }
        let response = app.get("/api/admin/export").token(&admin).send().await;
        let [_, _, _, audit_logs] = json_ids(&response.json());
        assert_eq!(audit_logs.len(), 1000);
        assert_eq!(audit_logs.iter().collect::<HashSet<_>>().len(), 1000);
        let stored = AuditLog::find().all(&app.db).await.unwrap().into_iter().map(|row| row.id).collect();
        assert_eq!(sorted(audit_logs), sorted(stored));
    }

    async fn audit_rows_survive_an_oversized_user_agent(backend: Backend) {
        let app = spawn(backend).await;
        // Far over MySQL's TEXT column (64 KiB), well under hyper's header limits.
        let huge = format!("Mozilla/5.0 {}", "x".repeat(70_000));
        let response = app
            .post("/api/auth/register")
            .header("user-agent", &huge)
            .json(&json!({"email": "agent@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let failed = app
            .post("/api/auth/login")
            .header("user-agent", &huge)
            .json(&json!({"email": "agent@example.com", "password": "wrong password"}))
            .send()
            .await;
        assert_eq!(failed.assert_error(StatusCode::UNAUTHORIZED), "invalid_credentials");
        for action in ["register", "login_failed"] {
            let rows = audit_rows(&app, action).await;
            assert_eq!(rows.len(), 1, "{action}");
            let stored = rows[0].user_agent.as_deref().expect("a user agent");
            let kept = stored.strip_suffix('…').expect("the shortening is visible");
            assert!(huge.starts_with(kept), "{action}: a prefix of what was sent");
            assert!(stored.starts_with("Mozilla/5.0 x") && stored.len() <= 1024, "{action}: {} bytes", stored.len());
        }
        // A short one is kept as sent, even with non-ASCII characters in it.
        let response = app
            .post("/api/auth/login")
            .header("user-agent", "short/1.0 (🙂 ünï)")
            .json(&json!({"email": "agent@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK);
        let rows = audit_rows(&app, "login").await;
        assert_eq!(rows[0].user_agent.as_deref(), Some("short/1.0 (🙂 ünï)"));
    }

    async fn long_and_four_byte_content_round_trips(backend: Backend) {
        let app = spawn(backend).await;
        let admin = app.admin_token().await;
        let admin_id = user_id(&app, ADMIN_EMAIL).await;
        let conversation = insert_conversation(&app, &admin_id, "🔮 易经 𝄞 ünïcödé", app.clock.now()).await;
        // Over MySQL's TEXT limit (65,535 bytes): only MEDIUMTEXT keeps it whole.
        let long: String = (0..70_000).map(|n| char::from(b'a' + (n % 26) as u8)).collect();
        let long_id = insert_message(&app, &conversation, &long, app.clock.now()).await;
        // 4-byte UTF-8 (emoji, supplementary CJK) needs utf8mb4.
        let emoji = "🔮🀄 𠀋 𝄞 — 乾為天 😀👍🏽".to_string();
        let emoji_id = insert_message(&app, &conversation, &emoji, app.clock.now()).await;
        // Long *and* multi-byte: 70,000 emoji are 280,000 bytes.
        let long_emoji = "😀".repeat(70_000);
        let long_emoji_id = insert_message(&app, &conversation, &long_emoji, app.clock.now()).await;

        for (id, content) in [(&long_id, &long), (&emoji_id, &emoji), (&long_emoji_id, &long_emoji)] {
            let stored = Message::find_by_id(id.clone()).one(&app.db).await.unwrap().unwrap();
            assert_eq!(stored.content.chars().count(), content.chars().count());
            assert!(stored.content == *content, "content of {id} changed");
        }
        let stored = Conversation::find_by_id(conversation.clone()).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.title, "🔮 易经 𝄞 ünïcödé");

        // And through the export.
        let document = app.get("/api/admin/export").token(&admin).send().await.json();
        let exported = document["data"]["messages"].as_array().unwrap();
        for (id, content) in [(&long_id, &long), (&emoji_id, &emoji), (&long_emoji_id, &long_emoji)] {
            let message = exported.iter().find(|m| m["id"] == id.as_str()).unwrap();
            assert!(message["content"].as_str() == Some(content.as_str()), "exported content of {id} changed");
        }
        assert_eq!(document["data"]["conversations"][0]["title"], "🔮 易经 𝄞 ünïcödé");
    }
}

/// The column types behind the round trips above, on MariaDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_columns_hold_long_utf8mb4_text() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn(Backend::MySql).await;
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::MySql,
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('messages', 'conversations', 'audit_logs') \
             AND DATA_TYPE IN ('varchar', 'text', 'mediumtext', 'longtext')",
        ))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let table: String = row.try_get("", "TABLE_NAME").unwrap();
        let column: String = row.try_get("", "COLUMN_NAME").unwrap();
        let data_type: String = row.try_get("", "DATA_TYPE").unwrap();
        let charset: String = row.try_get("", "CHARACTER_SET_NAME").unwrap();
        assert_eq!(charset, "utf8mb4", "{table}.{column}");
        if (table.as_str(), column.as_str()) == ("messages", "content") {
            assert_eq!(data_type, "mediumtext");
        }
    }
}

/// A minimal gzip (RFC 1952) and DEFLATE (RFC 1951) decoder, after zlib's `puff.c`, so the
/// compressed export can be checked without a compression crate among the dev-dependencies.
/// It verifies the CRC-32 and length in the trailer.
mod gunzip {
    const LENGTH_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ];
    const LENGTH_EXTRA: [u32; 29] =
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u32; 30] =
        [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
    const CODE_LENGTH_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

    pub fn decompress(data: &[u8]) -> Vec<u8> {
        assert!(data.len() >= 18, "too short for gzip");
        assert_eq!(data[..3], [0x1f, 0x8b, 8], "gzip magic and the deflate method");
        let flags = data[3];
        let mut pos = 10;
        if flags & 0x04 != 0 {
            pos += 2 + usize::from(u16::from_le_bytes([data[pos], data[pos + 1]]));
        }
        for flag in [0x08, 0x10] {
            if flags & flag != 0 {
                pos += data[pos..].iter().position(|&byte| byte == 0).expect("a NUL-terminated field") + 1;
            }
        }
        if flags & 0x02 != 0 {
            pos += 2;
        }
        let mut inflater = Inflater { data, pos, buffer: 0, count: 0 };
        let out = inflater.inflate();
        let trailer = &data[inflater.pos..];
        assert_eq!(trailer.len(), 8, "one gzip member and its 8-byte trailer");
        assert_eq!(u32::from_le_bytes(trailer[..4].try_into().unwrap()), crc32(&out), "CRC-32");
        assert_eq!(u32::from_le_bytes(trailer[4..].try_into().unwrap()), out.len() as u32, "ISIZE");
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    struct Huffman {
        count: [u16; 16],
        symbol: Vec<u16>,
    }

    impl Huffman {
        fn new(lengths: &[u8]) -> Self {
            let mut count = [0u16; 16];
            for &length in lengths {
                count[usize::from(length)] += 1;
            }
            count[0] = 0;
            let mut offsets = [0u16; 16];
            for length in 1..15 {
                offsets[length + 1] = offsets[length] + count[length];
            }
            let mut symbol = vec![0u16; lengths.len()];
            for (value, &length) in lengths.iter().enumerate() {
                if length != 0 {
                    symbol[usize::from(offsets[usize::from(length)])] = value as u16;
                    offsets[usize::from(length)] += 1;
                }
            }
            Self { count, symbol }
        }
    }

    struct Inflater<'a> {
        data: &'a [u8],
        pos: usize,
        buffer: u64,
        count: u32,
    }

    impl Inflater<'_> {
        fn bits(&mut self, need: u32) -> u32 {
            while self.count < need {
                let byte = *self.data.get(self.pos).expect("truncated deflate stream");
                self.pos += 1;
                self.buffer |= u64::from(byte) << self.count;
                self.count += 8;
            }
            let value = (self.buffer & ((1u64 << need) - 1)) as u32;
            self.buffer >>= need;
            self.count -= need;
            value
        }

        fn decode(&mut self, huffman: &Huffman) -> usize {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for length in 1..16 {
                code |= self.bits(1) as i32;
                let count = i32::from(huffman.count[length]);
                if code - count < first {
                    return usize::from(huffman.symbol[(index + code - first) as usize]);
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            panic!("invalid Huffman code")
        }

        fn inflate(&mut self) -> Vec<u8> {
            let mut out = Vec::new();
            loop {
                let last = self.bits(1) == 1;
                match self.bits(2) {
                    0 => {
                        // Stored: skip to the byte boundary, then LEN, NLEN and the bytes.
                        self.buffer = 0;
                        self.count = 0;
                        let header = &self.data[self.pos..self.pos + 4];
                        let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
                        assert_eq!(len as u16, !u16::from_le_bytes([header[2], header[3]]), "stored block length");
                        out.extend_from_slice(&self.data[self.pos + 4..self.pos + 4 + len]);
                        self.pos += 4 + len;
                    }
                    1 => {
                        let mut lengths = [0u8; 288];
                        lengths[..144].fill(8);
                        lengths[144..256].fill(9);
                        lengths[256..280].fill(7);
                        lengths[280..].fill(8);
                        let (literals, distances) = (Huffman::new(&lengths), Huffman::new(&[5; 30]));
                        self.codes(&mut out, &literals, &distances);
                    }
                    2 => {
                        let (literals, distances) = self.dynamic_tables();
                        self.codes(&mut out, &literals, &distances);
                    }
                    _ => panic!("invalid deflate block type"),
                }
                if last {
                    return out;
                }
            }
        }

        fn dynamic_tables(&mut self) -> (Huffman, Huffman) {
            let literal_count = self.bits(5) as usize + 257;
            let distance_count = self.bits(5) as usize + 1;
            let code_count = self.bits(4) as usize + 4;
            let mut code_lengths = [0u8; 19];
            for &index in &CODE_LENGTH_ORDER[..code_count] {
                code_lengths[index] = self.bits(3) as u8;
            }
            let code_lengths = Huffman::new(&code_lengths);
            let mut lengths = Vec::with_capacity(literal_count + distance_count);
            while lengths.len() < literal_count + distance_count {
                match self.decode(&code_lengths) {
                    symbol @ 0..=15 => lengths.push(symbol as u8),
                    16 => {
                        let previous = *lengths.last().expect("a repeat needs a previous length");
                        let times = 3 + self.bits(2);
                        lengths.extend((0..times).map(|_| previous));
                    }
                    17 => {
                        let times = 3 + self.bits(3);
                        lengths.extend((0..times).map(|_| 0));
                    }
                    _ => {
                        let times = 11 + self.bits(7);
                        lengths.extend((0..times).map(|_| 0));
                    }
                }
            }
            assert_eq!(lengths.len(), literal_count + distance_count, "code lengths overrun");
            (Huffman::new(&lengths[..literal_count]), Huffman::new(&lengths[literal_count..]))
        }

        fn codes(&mut self, out: &mut Vec<u8>, literals: &Huffman, distances: &Huffman) {
            loop {
                match self.decode(literals) {
                    symbol @ 0..=255 => out.push(symbol as u8),
                    256 => return,
                    symbol => {
                        let index = symbol - 257;
                        let length = usize::from(LENGTH_BASE[index]) + self.bits(LENGTH_EXTRA[index]) as usize;
                        let index = self.decode(distances);
                        let distance = usize::from(DIST_BASE[index]) + self.bits(DIST_EXTRA[index]) as usize;
                        assert!(distance <= out.len(), "distance too far back");
                        let start = out.len() - distance;
                        for offset in 0..length {
                            out.push(out[start + offset]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn decodes_known_gzip_streams() {
        // Made with Python's `gzip.compress(…, mtime=0)`: fixed Huffman codes with back-references,
        let fixed = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
            0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00,
        ];
        assert_eq!(decompress(&fixed), b"hello hello hello hello\n");
        // a stored block (`compresslevel=0`),
        let stored = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x01, 0x07, 0x00, 0xf8, 0xff, 0x73, 0x74, 0x6f,
            0x72, 0x65, 0x64, 0x21, 0xa2, 0x65, 0xef, 0x09, 0x07, 0x00, 0x00, 0x00,
        ];
        assert_eq!(decompress(&stored), b"stored!");
        // and dynamic Huffman codes.
        let dynamic = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x5d, 0x92, 0x31, 0x0e, 0x43, 0x31, 0x08, 0x43,
            0xaf, 0xc2, 0x11, 0x02, 0x24, 0x24, 0x51, 0x4e, 0x53, 0xa9, 0x1d, 0x3a, 0xb6, 0x55, 0xef, 0x5f, 0xfc, 0x27,
            0xdc, 0x31, 0x08, 0xd9, 0xcf, 0x26, 0x4d, 0x3e, 0xaf, 0xef, 0xed, 0xfd, 0xb8, 0xcb, 0xf3, 0x23, 0xed, 0x88,
            0xd6, 0xb7, 0x1e, 0xb1, 0xfa, 0xee, 0x47, 0xbc, 0xbe, 0xf7, 0x91, 0x4e, 0xfb, 0x71, 0x64, 0xd4, 0x81, 0x8d,
            0x23, 0x51, 0x07, 0x9e, 0x1b, 0x93, 0x24, 0x53, 0x63, 0xd5, 0x41, 0xa4, 0xc9, 0xae, 0x83, 0x95, 0x14, 0xda,
            0xc8, 0xa6, 0x01, 0x94, 0x49, 0x0d, 0x5b, 0x04, 0xab, 0x3d, 0x95, 0xd4, 0x99, 0x2f, 0xdd, 0x94, 0x91, 0x77,
            0x12, 0x29, 0x43, 0x83, 0x5a, 0x83, 0x73, 0x60, 0x8b, 0xc0, 0x6d, 0x41, 0x8b, 0xd0, 0xdd, 0xe0, 0xb8, 0x39,
            0x2f, 0x3a, 0x24, 0xfa, 0x0e, 0x7a, 0x23, 0xfa, 0xde, 0xb1, 0xc5, 0x55, 0xaf, 0xd4, 0x32, 0xa2, 0x1f, 0x96,
            0x8e, 0x46, 0xf4, 0x63, 0x26, 0x97, 0x11, 0x7d, 0x80, 0xde, 0x88, 0x3e, 0xae, 0x2d, 0xa2, 0x9f, 0x97, 0x16,
            0xd1, 0xcf, 0xcb, 0x91, 0xab, 0x07, 0x97, 0x13, 0xfd, 0x06, 0xbd, 0x13, 0xfd, 0x46, 0x46, 0xe7, 0xee, 0x1b,
            0xaa, 0x70, 0x2e, 0xbf, 0xa1, 0x31, 0xe7, 0xf6, 0x15, 0xc5, 0xfa, 0xe0, 0x53, 0x22, 0x81, 0x07, 0xcf, 0x70,
            0x26, 0xa7, 0x08, 0xea, 0xb8, 0xa6, 0xaf, 0xbf, 0x9b, 0xc3, 0x97, 0x42, 0xe8, 0xc0, 0xdf, 0xf8, 0x01, 0xc8,
            0xfb, 0x55, 0xaa, 0xe8, 0x02, 0x00, 0x00,
        ];
        let expected: String = (0..40).map(|n| format!("{n} squared is {}; ", n * n)).collect();
        assert_eq!(decompress(&dynamic), expected.as_bytes());
        let mut corrupted = dynamic;
        corrupted[dynamic.len() - 8] ^= 1;
        assert!(std::panic::catch_unwind(|| decompress(&corrupted)).is_err(), "a bad CRC is caught");
    }
}

test_support::both_databases! {
    /// An admin-only call by a non-admin is refused and audited, with the caller as actor.
    async fn admin_only_attempts_are_audited(backend: Backend) {
        let app = spawn(backend).await;
        let token = app.register("curious@example.com").await;
        let id = app.get("/api/auth/session").token(&token).send().await.json()["user"]["id"].as_str().unwrap().to_string();
        for path in ["/api/admin/users", "/api/admin/export"] {
            let response = app.get(path).token(&token).ip("203.0.113.44").send().await;
            assert_eq!(response.assert_error(StatusCode::FORBIDDEN), "admin_only");
        }
        // Refusals of one caller within the hour are one row with a count (the first one's path).
        let rows = audit_rows(&app, "admin_denied").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(rows.iter().all(|row| row.actor_id.as_deref() == Some(id.as_str()) && row.ip.as_deref() == Some("203.0.113.44")));
        assert_eq!(rows[0].occurrences, 2);
        assert!(rows[0].message.contains("/api/admin/users"), "{rows:?}");
        assert_eq!(rows[0].subject.as_deref(), Some("curious@example.com"));
    }
}
