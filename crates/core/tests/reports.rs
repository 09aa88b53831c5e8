//! Reports of replies (issue 24): filed once per reply by its reader, worked by administrators
//! from a queue with a deadline, decided once (hide the reply; warn, restrict or ban the
//! account), the outcome shown to the reporter, everything audited and exported.

use std::time::Duration;

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use test_support::{Behaviour, TestApp, Upstream, both_databases, json};

use app_core::entities::{AuditLog, audit_log};

const DAY: Duration = Duration::from_secs(86_400);

/// Sends `message` to the oracle in a new conversation: `(conversation id, reply id)`.
async fn turn(app: &TestApp, token: &str, message: &str) -> (String, String) {
    let response = app
        .post("/api/chat")
        .token(token)
        .json(&json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": message}]}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    (body["conversationId"].as_str().unwrap().into(), body["messageId"].as_str().unwrap().into())
}

fn report_path(conversation: &str, message: &str) -> String {
    format!("/api/chat/conversations/{conversation}/messages/{message}/report")
}

async fn actions(app: &TestApp) -> Vec<String> {
    let rows = AuditLog::find().all(&app.db).await.unwrap();
    rows.into_iter().map(|row| row.action).collect()
}

/// The admin queue's reports of `status`.
async fn queue(app: &TestApp, admin: &str, status: &str) -> Value {
    let response = app.get(&format!("/api/admin/reports?status={status}")).token(admin).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

both_databases! {
    async fn a_reply_is_reported_once_and_its_reporter_sees_it(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Hexagram 11 says: peace.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("REPORT_RESPONSE_DAYS", "3")]).await;
        let token = app.register("reader@example.com").await;
        let (conversation, reply) = turn(&app, &token, "What does my reading say?").await;

        let filed = app.post(&report_path(&conversation, &reply)).token(&token)
            .json(&json!({"reason": "wrong", "comment": "  That is not what hexagram 11 says.  "})).send().await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text());
        let report = filed.json()["report"].clone();
        assert_eq!(report["status"], "open");
        assert_eq!(report["reason"], "wrong");
        assert_eq!(report["comment"], "That is not what hexagram 11 says.");
        assert_eq!(report["excerpt"], "Hexagram 11 says: peace.");
        assert_eq!(report["messageId"], reply.as_str());
        assert_eq!(report["assistant"], "oracle");
        let created: chrono::DateTime<chrono::Utc> = report["createdAt"].as_str().unwrap().parse().unwrap();
        let due: chrono::DateTime<chrono::Utc> = report["dueAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(due - created, chrono::TimeDelta::days(3), "REPORT_RESPONSE_DAYS sets the deadline");

        let again = app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "harmful"})).send().await;
        assert_eq!(again.assert_error(StatusCode::CONFLICT), "already_reported");

        let history = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let messages = history["messages"].as_array().unwrap();
        assert_eq!(messages[0]["reported"], false, "a user message is not reported");
        assert_eq!(messages[1]["reported"], true);

        let own = app.get("/api/account/reports").token(&token).send().await.json();
        assert_eq!(own["total"], 1);
        assert_eq!(own["reports"][0]["id"], report["id"]);
        assert_eq!(own["reports"][0]["status"], "open");
        assert!(actions(&app).await.contains(&"report_filed".to_string()));

        // What cannot be reported.
        let question = messages[0]["id"].as_str().unwrap();
        let response = app.post(&report_path(&conversation, question)).token(&token).json(&json!({"reason": "other"})).send().await;
        assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "not_a_reply");
        let long = "x".repeat(1001);
        let response = app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "other", "comment": long})).send().await;
        assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "comment_too_long");
        let response = app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "boring"})).send().await;
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let stranger = app.register("stranger@example.com").await;
        let response = app.post(&report_path(&conversation, &reply)).token(&stranger).json(&json!({"reason": "other"})).send().await;
        assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "not_found");
        let response = app.post(&report_path(&conversation, "no-such-message")).token(&token).json(&json!({"reason": "other"})).send().await;
        assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "not_found");
        assert_eq!(app.get("/api/account/reports").token(&stranger).send().await.json()["total"], 0);
    }
}

both_databases! {
    /// The queue shows the report with its context and deadline; hiding the reply with a
    /// warning takes it out of the history and the model's context, and the reporter sees it.
    async fn an_administrator_hides_a_reply_and_warns(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Take 30 g of raw aconite.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("REPORT_RESPONSE_DAYS", "2")]).await;
        let admin = app.admin_token().await;
        let token = app.register("patient@example.com").await;
        let (conversation, reply) = turn(&app, &token, "What helps cold hands?").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "harmful"})).send().await;

        let open = queue(&app, &admin, "open").await;
        assert_eq!((open["total"].clone(), open["open"].clone(), open["overdue"].clone()), (json!(1), json!(1), json!(0)));
        let item = &open["reports"][0];
        assert_eq!(item["reporterEmail"], "patient@example.com");
        assert_eq!(item["reply"], "Take 30 g of raw aconite.");
        assert_eq!(item["context"], json!([{"role": "user", "content": "What helps cold hands?"}]));
        assert_eq!(item["replyWithheld"], Value::Null);
        assert_eq!(item["overdue"], false);
        let id = item["id"].as_str().unwrap().to_string();

        app.clock.advance(3 * DAY);
        let late = queue(&app, &admin, "open").await;
        assert_eq!(late["overdue"], 1, "past its two days");
        assert_eq!(late["reports"][0]["overdue"], true);

        let decision = json!({"outcome": "actioned", "hideReply": true, "userAction": "warn", "note": "Asking for dangerous doses breaks the terms."});
        let decided = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin).json(&decision).send().await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
        let decided = decided.json()["report"].clone();
        assert_eq!(decided["status"], "actioned");
        assert_eq!(decided["replyWithheld"], "hidden");
        assert_eq!(decided["decidedByEmail"], test_support::ADMIN_EMAIL);
        let twice = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin).json(&json!({"outcome": "dismissed"})).send().await;
        assert_eq!(twice.assert_error(StatusCode::CONFLICT), "already_decided");
        assert_eq!(queue(&app, &admin, "open").await["total"], 0);
        assert_eq!(queue(&app, &admin, "actioned").await["reports"][0]["id"], id.as_str());

        // Gone from its user's history, search and the model's context; no thumbs on it.
        let history = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        assert_eq!(history["messages"][1]["withheld"], "hidden");
        assert_eq!(history["messages"][1]["content"], "");
        let found = app.get("/api/chat/search?q=aconite").token(&token).send().await.json();
        assert_eq!(found["hits"].as_array().map(Vec::len), Some(0), "{found}");
        let thumbs = app.request(axum::http::Method::PUT, &format!("/api/chat/conversations/{conversation}/messages/{reply}/feedback"))
            .token(&token).json(&json!({"rating": "up"})).send().await;
        assert_eq!(thumbs.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "not_a_reply");
        let next = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "conversationId": conversation,
            "messages": [{"role": "user", "content": "And warm feet?"}]})).send().await;
        assert_eq!(next.status, StatusCode::OK, "a warning does not stop chat: {}", next.text());
        let sent = upstream.received().last().unwrap().messages();
        assert!(sent.iter().all(|(_, content)| !content.contains("aconite")), "the hidden reply reached the model: {sent:?}");
        assert!(sent.iter().any(|(_, content)| content == "What helps cold hands?"), "the question stays: {sent:?}");

        // The reporter sees the outcome.
        let own = app.get("/api/account/reports").token(&token).send().await.json();
        let outcome = &own["reports"][0];
        assert_eq!((outcome["status"].clone(), outcome["replyHidden"].clone(), outcome["userAction"].clone()),
            (json!("actioned"), json!(true), json!("warn")));
        assert_eq!(outcome["note"], "Asking for dangerous doses breaks the terms.");
        assert_eq!(outcome["excerpt"], "", "the hidden words are out of the reporter's sight here too");
        let download: Value = serde_json::from_str(&app.get("/api/account/export").token(&token).send().await.text()).unwrap();
        let record = &download["data"]["reports"][0];
        assert_eq!((record["reply"].clone(), record["decidedBy"].clone()), (json!(""), Value::Null), "{record}");
        assert_eq!(record["question"], "What helps cold hands?", "the person's own words stay");
        let everything: Value = serde_json::from_str(&app.get("/api/admin/export").token(&admin).send().await.text()).unwrap();
        assert_eq!(everything["data"]["reports"][0]["reply"], "Take 30 g of raw aconite.", "administrators keep the record");
        let decided = AuditLog::find().filter(audit_log::Column::Action.eq("report_decided")).one(&app.db).await.unwrap().unwrap();
        assert!(decided.message.ends_with("actioned; reply hidden: true; account: warned"), "{}", decided.message);
        let trail = actions(&app).await;
        for action in ["report_decided", "reply_hidden", "user_warned"] {
            assert!(trail.contains(&action.to_string()), "{action} not audited: {trail:?}");
        }
        let warned = AuditLog::find().filter(audit_log::Column::Action.eq("user_warned")).one(&app.db).await.unwrap().unwrap();
        assert_eq!(warned.subject.as_deref(), Some("patient@example.com"));
    }
}

both_databases! {
    async fn a_restriction_pauses_chat_until_it_ends_and_a_ban_ends_the_sessions(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A reply.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let admin = app.admin_token().await;
        let token = app.register("probe@example.com").await;
        let (conversation, reply) = turn(&app, &token, "first").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "illegal"})).send().await;
        let id = queue(&app, &admin, "open").await["reports"][0]["id"].as_str().unwrap().to_string();
        let restrict = json!({"outcome": "actioned", "userAction": "restrict", "restrictDays": 2});
        let decided = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin).json(&restrict).send().await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
        assert_eq!(decided.json()["report"]["replyWithheld"], Value::Null, "not hidden unless asked");

        let refused = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "again"}]})).send().await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "chat_restricted");
        let until = refused.json()["error"]["until"].as_str().unwrap().to_string();
        let account = app.get("/api/account").token(&token).send().await.json();
        assert_eq!(account["restrictedUntil"].as_str(), Some(until.as_str()));
        let quota = app.get("/api/chat/quota").token(&token).send().await.json();
        assert_eq!(quota["messages"]["used"], 1, "a refused turn is not charged: {quota}");
        let regenerate = app.post(&format!("/api/chat/conversations/{conversation}/messages/{reply}/regenerate"))
            .token(&token).json(&json!({})).send().await;
        assert_eq!(regenerate.assert_error(StatusCode::FORBIDDEN), "chat_restricted");

        app.clock.advance(2 * DAY + Duration::from_secs(1));
        let back = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "again"}]})).send().await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.text());

        // An administrator can lift a restriction early.
        let (conversation, reply) = turn(&app, &token, "third").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "illegal"})).send().await;
        let id = queue(&app, &admin, "open").await["reports"][0]["id"].as_str().unwrap().to_string();
        let decided = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin).json(&restrict).send().await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
        let user_id = app.get("/api/account").token(&token).send().await.json()["id"].as_str().unwrap().to_string();
        let lift = format!("/api/admin/users/{user_id}/lift-restriction");
        app.post(&lift).token(&token).send().await.assert_error(StatusCode::FORBIDDEN);
        let lifted = app.post(&lift).token(&admin).send().await;
        assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text());
        assert_eq!(lifted.json()["user"]["restrictedUntil"], Value::Null);
        assert_eq!(app.post(&lift).token(&admin).send().await.status, StatusCode::OK, "lifting twice is fine");
        let own = app.get("/api/account/reports").token(&token).send().await.json();
        let ended: chrono::DateTime<chrono::Utc> = own["reports"][0]["restrictedUntil"].as_str().unwrap().parse().unwrap();
        assert!(ended <= app.clock.now(), "the report says the restriction ended when it was lifted: {ended}");
        let free = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "free"}]})).send().await;
        assert_eq!(free.status, StatusCode::OK, "{}", free.text());
        assert_eq!(AuditLog::find().filter(audit_log::Column::Action.eq("restriction_lifted")).all(&app.db).await.unwrap().len(), 1);

        // A ban ends the sessions at once; an administrator cannot ban themselves this way.
        let (conversation, reply) = turn(&app, &token, "second").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "illegal"})).send().await;
        let id = queue(&app, &admin, "open").await["reports"][0]["id"].as_str().unwrap().to_string();
        let ban = json!({"outcome": "actioned", "hideReply": true, "userAction": "ban"});
        let decided = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin).json(&ban).send().await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
        app.get("/api/account").token(&token).send().await.assert_error(StatusCode::UNAUTHORIZED);
        assert!(actions(&app).await.contains(&"ban".to_string()));

        let (conversation, reply) = turn(&app, &admin, "mine").await;
        app.post(&report_path(&conversation, &reply)).token(&admin).json(&json!({"reason": "other"})).send().await;
        let id = queue(&app, &admin, "open").await["reports"][0]["id"].as_str().unwrap().to_string();
        let response = app.post(&format!("/api/admin/reports/{id}/decision")).token(&admin)
            .json(&json!({"outcome": "actioned", "userAction": "ban"})).send().await;
        assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "cannot_ban_self");
        assert_eq!(queue(&app, &admin, "open").await["total"], 1, "a refused decision leaves the report open");
    }
}

both_databases! {
    async fn inconsistent_decisions_and_strangers_are_refused(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A reply.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let admin = app.admin_token().await;
        let token = app.register("someone@example.com").await;
        let (conversation, reply) = turn(&app, &token, "hello").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "other"})).send().await;
        let id = queue(&app, &admin, "open").await["reports"][0]["id"].as_str().unwrap().to_string();
        let path = format!("/api/admin/reports/{id}/decision");
        for (body, code) in [
            (json!({"outcome": "dismissed", "hideReply": true}), "invalid_decision"),
            (json!({"outcome": "dismissed", "userAction": "warn", "note": "x"}), "invalid_decision"),
            (json!({"outcome": "actioned"}), "invalid_decision"),
            (json!({"outcome": "actioned", "userAction": "warn"}), "invalid_decision"),
            (json!({"outcome": "actioned", "userAction": "warn", "note": "   "}), "invalid_decision"),
            (json!({"outcome": "actioned", "userAction": "restrict"}), "invalid_decision"),
            (json!({"outcome": "actioned", "userAction": "restrict", "restrictDays": 0}), "invalid_decision"),
            (json!({"outcome": "actioned", "userAction": "restrict", "restrictDays": 366}), "invalid_decision"),
            (json!({"outcome": "actioned", "hideReply": true, "restrictDays": 3}), "invalid_decision"),
            (json!({"outcome": "actioned", "hideReply": true, "note": "n".repeat(1001)}), "note_too_long"),
        ] {
            let response = app.post(&path).token(&admin).json(&body).send().await;
            assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), code, "{body}");
        }
        let response = app.post(&path).token(&admin).json(&json!({"outcome": "maybe"})).send().await;
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let response = app.post(&path).token(&token).json(&json!({"outcome": "dismissed"})).send().await;
        assert_eq!(response.assert_error(StatusCode::FORBIDDEN), "admin_only");
        app.get("/api/admin/reports").token(&token).send().await.assert_error(StatusCode::FORBIDDEN);
        let response = app.post("/api/admin/reports/nope/decision").token(&admin).json(&json!({"outcome": "dismissed"})).send().await;
        assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "not_found");
        app.get("/api/admin/reports?status=pending").token(&admin).send().await.assert_error(StatusCode::BAD_REQUEST);

        let dismissed = app.post(&path).token(&admin).json(&json!({"outcome": "dismissed", "note": "The reply is accurate."})).send().await;
        assert_eq!(dismissed.status, StatusCode::OK, "{}", dismissed.text());
        let own = app.get("/api/account/reports").token(&token).send().await.json();
        assert_eq!((own["reports"][0]["status"].clone(), own["reports"][0]["note"].clone()), (json!("dismissed"), json!("The reply is accurate.")));
        let history = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        assert_eq!(history["messages"][1]["content"], "A reply.", "a dismissed report leaves the reply");
    }
}

both_databases! {
    /// Reports are in both exports (the owner's own only), and outlive the conversation with
    /// their copy of the reply; they go with the reporter's account.
    async fn reports_are_exported_and_outlive_the_conversation(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("The reply.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let admin = app.admin_token().await;
        let token = app.register("owner@example.com").await;
        let other = app.register("other@example.com").await;
        let (conversation, reply) = turn(&app, &token, "mine").await;
        let (other_conversation, other_reply) = turn(&app, &other, "theirs").await;
        app.post(&report_path(&conversation, &reply)).token(&token).json(&json!({"reason": "privacy"})).send().await;
        app.post(&report_path(&other_conversation, &other_reply)).token(&other).json(&json!({"reason": "other"})).send().await;

        let everything: Value = serde_json::from_str(&app.get("/api/admin/export").token(&admin).send().await.text()).unwrap();
        assert_eq!(everything["data"]["reports"].as_array().unwrap().len(), 2);
        let own: Value = serde_json::from_str(&app.get("/api/account/export").token(&token).send().await.text()).unwrap();
        let own_reports = own["data"]["reports"].as_array().unwrap();
        assert_eq!(own_reports.len(), 1);
        assert_eq!(own_reports[0]["reason"], "privacy");
        assert_eq!(own_reports[0]["question"], "mine");
        let ndjson = app.get("/api/admin/export?format=ndjson").token(&admin).send().await.text();
        assert_eq!(ndjson.lines().filter(|line| line.starts_with("{\"type\":\"report\"")).count(), 2);

        let deleted = app.delete(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let open = queue(&app, &admin, "open").await;
        let kept = open["reports"].as_array().unwrap().iter().find(|r| r["reason"] == "privacy").unwrap().clone();
        assert_eq!((kept["conversationId"].clone(), kept["messageId"].clone()), (Value::Null, Value::Null));
        assert_eq!(kept["reply"], "The reply.");
        let hide = json!({"outcome": "actioned", "hideReply": true});
        let decided = app.post(&format!("/api/admin/reports/{}/decision", kept["id"].as_str().unwrap())).token(&admin).json(&hide).send().await;
        assert_eq!(decided.status, StatusCode::OK, "a report whose reply is gone can still be decided: {}", decided.text());

        let gone = app.post("/api/account/delete").token(&token)
            .json(&json!({"password": test_support::PASSWORD})).send().await;
        assert!(gone.status.is_success(), "{}", gone.text());
        let left = queue(&app, &admin, "open").await;
        assert_eq!(left["total"], 1, "the deleted account's report went with it: {left}");
        assert_eq!(left["reports"][0]["reporterEmail"], "other@example.com");
    }
}
