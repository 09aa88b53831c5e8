//! The agreement and consent gates (issue 24): the terms accepted at registration and again
//! when their version changes (`TERMS_VERSION`), and the separate health-information consent
//! before TCM turns (`HEALTH_CONSENT=required`), withdrawable with the TCM conversations. With
//! neither set, the seed's client registers and chats as before.

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use test_support::{Behaviour, PASSWORD, TestApp, Upstream, both_databases, json};

use app_core::entities::{AuditLog, Conversation, ConversationKind, User, audit_log, conversation, user};

const TERMS: &str = "2026-12-06";

async fn register(app: &TestApp, email: &str, accept: Option<&str>) -> test_support::TestResponse {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(version) = accept {
        body["acceptTerms"] = json!(version);
    }
    app.post("/api/auth/register").json(&body).send().await
}

async fn chat(app: &TestApp, token: &str, kind: &str, message: &str) -> test_support::TestResponse {
    app.post("/api/chat")
        .token(token)
        .json(&json!({"type": kind, "locale": "en", "messages": [{"role": "user", "content": message}]}))
        .send()
        .await
}

async fn audited(app: &TestApp, action: &str) -> usize {
    AuditLog::find().filter(audit_log::Column::Action.eq(action)).all(&app.db).await.unwrap().len()
}

both_databases! {
    async fn registration_needs_the_current_terms_and_a_new_version_asks_again(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A reply.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("TERMS_VERSION", TERMS)]).await;
        let about = app.get("/api/chat/about").send().await.json();
        assert_eq!(about["termsVersion"], TERMS);

        for accept in [None, Some("2025-01-01")] {
            let refused = register(&app, "new@example.com", accept).await;
            assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "terms_required");
            assert_eq!(refused.json()["error"]["termsVersion"], TERMS);
        }
        assert_eq!(User::find().all(&app.db).await.unwrap().len(), 0, "no account without the terms");

        let created = register(&app, "new@example.com", Some(TERMS)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        assert_eq!(created.json()["user"]["acceptedTerms"], TERMS);
        let token = created.json()["token"].as_str().unwrap().to_string();
        let account = app.get("/api/account").token(&token).send().await.json();
        assert_eq!(account["acceptedTerms"], TERMS);
        assert!(account["termsAcceptedAt"].is_string());
        assert_eq!(chat(&app, &token, "oracle", "hello").await.status, StatusCode::OK);

        // The operator publishes new terms: the account accepted an older version.
        User::update_many()
            .col_expr(user::Column::TermsVersion, Expr::value("2025-01-01"))
            .filter(user::Column::Email.eq("new@example.com"))
            .exec(&app.db)
            .await
            .unwrap();
        let session = app.get("/api/auth/session").token(&token).send().await.json();
        assert_eq!(session["user"]["acceptedTerms"], "2025-01-01", "the site compares it with about.termsVersion");
        let refused = chat(&app, &token, "oracle", "again").await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "terms_required");
        assert_eq!(refused.json()["error"]["termsVersion"], TERMS);
        assert_eq!(app.get("/api/chat/quota").token(&token).send().await.json()["messages"]["used"], 1, "not charged");
        // Reading and leaving stay open without accepting: history, export, deletion.
        assert_eq!(app.get("/api/chat/conversations").token(&token).send().await.status, StatusCode::OK);
        assert_eq!(app.get("/api/account/export").token(&token).send().await.status, StatusCode::OK);

        let stale = app.post("/api/account/terms").token(&token).json(&json!({"version": "2025-01-01"})).send().await;
        assert_eq!(stale.assert_error(StatusCode::CONFLICT), "terms_outdated");
        assert_eq!(stale.json()["error"]["termsVersion"], TERMS);
        let accepted = app.post("/api/account/terms").token(&token).json(&json!({"version": TERMS})).send().await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
        assert_eq!(accepted.json()["account"]["acceptedTerms"], TERMS);
        assert_eq!(chat(&app, &token, "oracle", "again").await.status, StatusCode::OK);
        assert_eq!(audited(&app, "terms_accepted").await, 1);
        let registered = AuditLog::find().filter(audit_log::Column::Action.eq("register")).one(&app.db).await.unwrap().unwrap();
        assert!(registered.message.contains(TERMS), "{}", registered.message);
    }
}

both_databases! {
    /// Without the variables the seed's client works as it always did.
    async fn without_gates_the_seed_client_registers_and_chats_as_before(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A reply.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let about = app.get("/api/chat/about").send().await.json();
        assert_eq!((about["termsVersion"].clone(), about["healthConsent"].clone(), about["reportResponseDays"].clone()),
            (serde_json::Value::Null, json!("off"), json!(7)));
        let created = register(&app, "seed@example.com", None).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let token = created.json()["token"].as_str().unwrap().to_string();
        assert_eq!(created.json()["user"]["acceptedTerms"], serde_json::Value::Null);
        assert_eq!(chat(&app, &token, "tcm", "I feel tired").await.status, StatusCode::OK);
        let response = app.post("/api/account/terms").token(&token).json(&json!({"version": TERMS})).send().await;
        assert_eq!(response.assert_error(StatusCode::CONFLICT), "no_terms");
    }
}

both_databases! {
    async fn tcm_needs_the_health_consent_which_can_be_withdrawn_with_the_conversations(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Rest and warm food.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("HEALTH_CONSENT", "required")]).await;
        assert_eq!(app.get("/api/chat/about").send().await.json()["healthConsent"], "required");
        let token = app.register("patient@example.com").await;

        let refused = chat(&app, &token, "tcm", "I sleep badly").await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "consent_required");
        assert!(upstream.received().is_empty(), "nothing reached the model");
        assert_eq!(app.get("/api/chat/quota").token(&token).send().await.json()["messages"]["used"], 0, "not charged");
        let oracle = chat(&app, &token, "oracle", "Cast for me").await;
        assert_eq!(oracle.status, StatusCode::OK, "the oracle needs no health consent");

        let given = app.post("/api/account/health-consent").token(&token).send().await;
        assert_eq!(given.status, StatusCode::OK, "{}", given.text());
        let consent_at = given.json()["account"]["healthConsentAt"].clone();
        assert!(consent_at.is_string());
        let again = app.post("/api/account/health-consent").token(&token).send().await.json();
        assert_eq!(again["account"]["healthConsentAt"], consent_at, "giving it twice keeps the first time");
        let tcm = chat(&app, &token, "tcm", "I sleep badly").await;
        assert_eq!(tcm.status, StatusCode::OK, "{}", tcm.text());
        let tcm = tcm.json();
        let (conversation, reply) = (tcm["conversationId"].as_str().unwrap(), tcm["messageId"].as_str().unwrap());

        // Withdrawn: TCM turns stop, also those naming no assistant (regenerate, edit).
        let withdrawn = app.delete("/api/account/health-consent").token(&token).send().await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text());
        assert_eq!(withdrawn.json()["deletedConversations"], 0);
        assert_eq!(withdrawn.json()["account"]["healthConsentAt"], serde_json::Value::Null);
        let regenerate = app.post(&format!("/api/chat/conversations/{conversation}/messages/{reply}/regenerate"))
            .token(&token).json(&json!({})).send().await;
        assert_eq!(regenerate.assert_error(StatusCode::FORBIDDEN), "consent_required");
        let follow_up = app.post("/api/chat").token(&token).json(&json!({"type": "tcm", "conversationId": conversation,
            "messages": [{"role": "user", "content": "and now?"}]})).send().await;
        assert_eq!(follow_up.assert_error(StatusCode::FORBIDDEN), "consent_required");

        // A report of the TCM reply keeps its decision, not the health words, once they go.
        let filed = app.post(&format!("/api/chat/conversations/{conversation}/messages/{reply}/report")).token(&token)
            .json(&json!({"reason": "wrong"})).send().await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text());

        // The offer that follows: delete the TCM conversations (the oracle's stay).
        let deleted = app.delete("/api/account/health-consent?deleteConversations=true").token(&token).send().await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        assert_eq!(deleted.json()["deletedConversations"], 1);
        let left = Conversation::find().all(&app.db).await.unwrap();
        assert_eq!(left.iter().map(|c| c.kind).collect::<Vec<_>>(), vec![ConversationKind::Oracle]);
        assert_eq!(Conversation::find().filter(conversation::Column::Kind.eq(ConversationKind::Tcm)).all(&app.db).await.unwrap().len(), 0);
        assert_eq!(audited(&app, "health_consent_given").await, 1);
        assert_eq!(audited(&app, "health_consent_withdrawn").await, 2, "the withdrawal, then the deletion");
        let admin = app.admin_token().await;
        let queue = app.get("/api/admin/reports").token(&admin).send().await.json();
        assert_eq!(queue["total"], 1);
        assert_eq!((queue["reports"][0]["reply"].clone(), queue["reports"][0]["context"].clone()), (json!(""), json!([])));
        let bad = app.delete("/api/account/health-consent?deleteConversations=maybe").token(&token).send().await;
        assert_eq!(bad.assert_error(StatusCode::BAD_REQUEST), "invalid_query");
    }
}
