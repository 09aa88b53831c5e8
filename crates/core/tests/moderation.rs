//! Moderation of what goes to the model and what comes back, through the real router on SQLite
//! and MariaDB, against a moderation server of the tests' own that speaks Alibaba Cloud's
//! `TextModerationPlus` (checking every request's ACS3 signature) and OpenAI's `/v1/moderations`.

use std::time::Duration;

use app_core::entities::{AuditLog, Message, MessageRole, User, Withheld, audit_log, message, user};
use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use test_support::{
    ADMIN_EMAIL, Behaviour, TestApp, Upstream, both_databases, json,
    moderation::{Mode, ModerationServer},
    sse_events,
};

const RISKY: &str = "forbidden-word";

async fn app(
    backend: test_support::Backend,
    upstream: &Upstream,
    moderation: &[(&'static str, String)],
    extra: &[(&str, &str)],
) -> TestApp {
    TestApp::with_env(backend, |env| {
        upstream.configure(env);
        env.insert("CHAT_TITLE_MODEL".into(), "off".into());
        for (name, value) in moderation {
            env.insert(name.to_string(), value.clone());
        }
        for (name, value) in extra {
            env.insert(name.to_string(), value.to_string());
        }
    })
    .await
}

fn turn(text: &str, locale: &str) -> Value {
    json!({"type": "tcm", "messages": [{"role": "user", "content": text}], "locale": locale})
}

async fn stored(app: &TestApp, conversation_id: &str) -> Vec<message::Model> {
    Message::find()
        .filter(message::Column::ConversationId.eq(conversation_id))
        .order_by_asc(message::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
}

async fn audited(app: &TestApp, action: &str) -> Vec<audit_log::Model> {
    AuditLog::find().filter(audit_log::Column::Action.eq(action)).all(&app.db).await.unwrap()
}

async fn quota_used(app: &TestApp, token: &str) -> Value {
    app.get("/api/chat/quota").token(token).send().await.json()["messages"]["used"].clone()
}

both_databases! {
    /// A blocked message never reaches the model: 422 in the user's language, stored withheld,
    /// charged, audited; the conversation goes on without it.
    async fn a_blocked_message_is_kept_from_the_model_charged_and_audited(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Rest and warm water.")).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = app(backend, &upstream, &moderation.aliyun_env(), &[]).await;
        let token = app.register("patient@example.com").await;

        let refused = app.post("/api/chat").token(&token).json(&turn(&format!("where to buy {RISKY}"), "zh-CN")).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        let body = refused.json();
        assert!(body["error"]["message"].as_str().unwrap().contains("未发送"), "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().contains(RISKY), "the refusal names no words");
        let conversation_id = body["error"]["conversationId"].as_str().expect("the stored turn is named").to_string();
        assert!(upstream.received().is_empty(), "the model was not called");
        assert_eq!(quota_used(&app, &token).await, 1, "the blocked turn counts against the quota");

        let rows = stored(&app, &conversation_id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].role, rows[0].withheld), (MessageRole::User, Some(Withheld::Blocked)));
        let audit = audited(&app, "content_blocked").await;
        assert_eq!(audit.len(), 1);
        assert!(audit[0].message.contains("contraband_drug") && audit[0].message.contains(&conversation_id), "{}", audit[0].message);
        let calls = moderation.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].service.as_deref(), Some("llm_query_moderation"));
        assert_eq!(moderation.refused(), Vec::<String>::new(), "every request was signed right");

        // The conversation continues; the model never sees the blocked message. (A client that
        // resends its whole history, as the seed's does, is not refused for the old message: with
        // `conversationId` the server keeps the history, and only the new message is checked.)
        let next = app.post("/api/chat").token(&token).json(&json!({
            "type": "tcm", "conversationId": conversation_id, "locale": "en",
            "messages": [{"role": "user", "content": format!("where to buy {RISKY}")}, {"role": "user", "content": "I sleep badly."}]
        })).send().await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.text());
        let sent = upstream.received()[0].messages();
        assert!(sent.iter().all(|(_, content)| !content.contains(RISKY)), "{sent:?}");
        assert_eq!(sent.last().unwrap().1, "I sleep badly.");
        let history = app.get(&format!("/api/chat/conversations/{conversation_id}")).token(&token).send().await.json();
        let messages = history["messages"].as_array().unwrap();
        assert_eq!(messages[0]["withheld"], "blocked");
        assert_eq!(messages[0]["content"], format!("where to buy {RISKY}"), "the author sees their own words");
        assert!(messages[1]["withheld"].is_null());
        // Resending the blocked text is checked again, not taken for a retry.
        let again = app.post("/api/chat").token(&token).json(&json!({
            "type": "tcm", "conversationId": conversation_id, "locale": "en",
            "messages": [{"role": "user", "content": format!("where to buy {RISKY}")}]
        })).send().await;
        assert_eq!(again.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        assert_eq!(upstream.received().len(), 1);

        // A blocked message that shows an emergency sign keeps its card: a person in crisis is
        // shown the hotline whatever the filter thinks of their words.
        let crisis = app.post("/api/chat").token(&token).json(&turn(&format!("I want to kill myself {RISKY}"), "en")).send().await;
        assert_eq!(crisis.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        let id = crisis.json()["error"]["conversationId"].as_str().unwrap().to_string();
        let history = app.get(&format!("/api/chat/conversations/{id}")).token(&token).send().await.json();
        assert_eq!(history["messages"][0]["redFlag"]["card"], "crisis", "{history}");
    }

    /// The hint and the messages a new conversation brings along reach the model too: checked.
    async fn hints_and_brought_messages_are_checked(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Fine.")).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = app(backend, &upstream, &moderation.aliyun_env(), &[]).await;
        let token = app.register("hinter@example.com").await;

        let hinted = app.post("/api/chat").token(&token).json(&json!({
            "type": "oracle", "locale": "en", "systemHint": format!("always mention {RISKY}"),
            "messages": [{"role": "user", "content": "Hello"}]
        })).send().await;
        assert_eq!(hinted.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        let brought = app.post("/api/chat").token(&token).json(&json!({
            "type": "oracle", "locale": "en",
            "messages": [{"role": "assistant", "content": format!("sure, {RISKY}")}, {"role": "user", "content": "go on"}]
        })).send().await;
        assert_eq!(brought.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        let conversation_id = brought.json()["error"]["conversationId"].as_str().unwrap().to_string();
        let rows = stored(&app, &conversation_id).await;
        assert!(rows.iter().all(|row| row.withheld == Some(Withheld::Blocked)), "brought messages are withheld with the turn");
        assert!(upstream.received().is_empty());

        // A regeneration's hint is checked as well (there is no new message).
        let fine = app.post("/api/chat").token(&token).json(&turn("How do I sleep better?", "en")).send().await.json();
        let (id, reply) = (fine["conversationId"].as_str().unwrap(), fine["messageId"].as_str().unwrap());
        let regenerated = app.post(&format!("/api/chat/conversations/{id}/messages/{reply}/regenerate"))
            .token(&token).json(&json!({"systemHint": RISKY})).send().await;
        assert_eq!(regenerated.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        assert_eq!(upstream.received().len(), 1);
        assert_eq!(moderation.refused(), Vec::<String>::new());
    }

    /// A streamed reply is checked segment by segment; when one is blocked, nothing of it
    /// reaches the client, the model's stream is closed, and the reply is kept for
    /// administrators only.
    async fn a_streamed_reply_is_stopped_at_the_blocked_segment(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(
            &["The first sentence is fine. ", "Then comes ", RISKY, " in the second. ", "A third. ", "A fourth. ", "A fifth. "],
            Duration::from_millis(30),
        )).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = app(backend, &upstream, &moderation.aliyun_env(), &[]).await;
        let token = app.register("streamer@example.com").await;

        let response = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&turn("Tell me", "en")).send().await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let events = sse_events(&response.text());
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["start", "delta", "done"], "{events:?}");
        assert_eq!(events[1].1["content"], "The first sentence is fine.");
        assert_eq!(events[2].1["finishReason"], "blocked");
        let conversation_id = events[0].1["conversationId"].as_str().unwrap().to_string();

        // The model's request was closed before it finished.
        let streams = upstream.streams();
        assert!(!streams[0].finished, "{streams:?}");
        // Every segment went to the output service in one session, in order.
        let calls: Vec<_> = moderation.calls().into_iter().filter(|call| call.service.as_deref() == Some("llm_response_moderation")).collect();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls.iter().all(|call| call.session_id == calls[0].session_id && call.session_id.is_some()));
        assert_eq!(calls[0].content, "The first sentence is fine.");

        let rows = stored(&app, &conversation_id).await;
        let reply = rows.iter().find(|row| row.role == MessageRole::Assistant).expect("the reply is kept");
        assert_eq!(reply.withheld, Some(Withheld::Blocked));
        assert!(reply.content.contains(RISKY), "administrators see what was blocked: {}", reply.content);
        assert_eq!(audited(&app, "reply_blocked").await.len(), 1);

        // Its user never sees it: not in the history, not in search, not in their download.
        let history = app.get(&format!("/api/chat/conversations/{conversation_id}")).token(&token).send().await.json();
        let shown = &history["messages"][1];
        assert_eq!((&shown["withheld"], &shown["content"]), (&json!("blocked"), &json!("")));
        let found = app.get("/api/chat/search?q=second").token(&token).send().await.json();
        assert_eq!(found["hits"], json!([]));
        let export = app.get("/api/account/export?format=json").token(&token).send().await.text();
        assert!(!export.contains(RISKY), "{export}");
        let admin = app.admin_token().await;
        let everything = app.get("/api/admin/export?format=json").token(&admin).send().await.text();
        assert!(everything.contains(RISKY), "administrators' export keeps it");
        // Nor can it be rated, and the model does not see it next time.
        let rated = app.request(axum::http::Method::PUT, &format!("/api/chat/conversations/{conversation_id}/messages/{}/feedback", reply.id))
            .token(&token).json(&json!({"rating": "down"})).send().await;
        assert_eq!(rated.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "not_a_reply");
        upstream.set(Behaviour::reply("Sure."));
        let next = app.post("/api/chat").token(&token).json(&json!({
            "type": "tcm", "conversationId": conversation_id, "locale": "en", "messages": [{"role": "user", "content": "And?"}]
        })).send().await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.text());
        let sent = upstream.received().last().unwrap().messages();
        assert!(sent.iter().all(|(_, content)| !content.contains(RISKY)), "{sent:?}");
        assert_eq!(moderation.refused(), Vec::<String>::new());
        let _ = ADMIN_EMAIL;
    }

    /// A whole (JSON) reply is checked whole; a blocked one answers the notice, not the words.
    async fn a_whole_reply_is_checked_whole(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply(&format!("Here is how: {RISKY}."))).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = app(backend, &upstream, &moderation.aliyun_env(), &[]).await;
        let token = app.register("json@example.com").await;
        let response = app.post("/api/chat").token(&token).json(&turn("How?", "en")).send().await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let body = response.json();
        assert_eq!(body["finishReason"], "blocked");
        assert!(!body["reply"].as_str().unwrap().contains(RISKY));
        assert!(body["reply"].as_str().unwrap().contains("content rules"));
        let clean = Upstream::start(Behaviour::reply("Warm water.")).await;
        let app = self::app(backend, &clean, &moderation.aliyun_env(), &[]).await;
        let token = app.register("json2@example.com").await;
        let fine = app.post("/api/chat").token(&token).json(&turn("How?", "en")).send().await.json();
        assert_eq!((&fine["reply"], &fine["finishReason"]), (&json!("Warm water."), &json!("completed")));
    }

    /// The provider down: closed refuses (nothing goes to the model), open lets the turn through.
    async fn a_failing_provider_is_closed_by_default_and_open_when_configured(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Fine.")).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        moderation.set_mode(Mode::Fail);
        let closed = app(backend, &upstream, &moderation.aliyun_env(), &[]).await;
        let token = closed.register("closed@example.com").await;
        let refused = closed.post("/api/chat").token(&token).json(&turn("Hello", "en")).send().await;
        assert_eq!(refused.assert_error(StatusCode::SERVICE_UNAVAILABLE), "moderation_unavailable");
        assert!(upstream.received().is_empty());

        let open = app(backend, &upstream, &moderation.aliyun_env(), &[("MODERATION_FAILURE", "open")]).await;
        let token = open.register("open@example.com").await;
        let passed = open.post("/api/chat").token(&token).json(&turn("Hello", "en")).send().await;
        assert_eq!(passed.status, StatusCode::OK, "{}", passed.text());
        assert_eq!(open.state.moderator.as_ref().unwrap().failed_open(), 2, "the message and the reply passed unchecked");

        // A provider that never answers is cut at MODERATION_TIMEOUT (1 s here).
        moderation.set_mode(Mode::Hang);
        let started = std::time::Instant::now();
        let late = closed.post("/api/chat").token(&token_of(&closed, "late@example.com").await).json(&turn("Hello", "en")).send().await;
        assert_eq!(late.assert_error(StatusCode::SERVICE_UNAVAILABLE), "moderation_unavailable");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    /// Strikes: after MODERATION_STRIKES blocked messages, chat is paused and the account is
    /// flagged for administrators.
    async fn blocked_messages_lead_to_a_cool_down_and_a_flag(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Fine.")).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = app(backend, &upstream, &moderation.aliyun_env(), &[("MODERATION_STRIKES", "2/1h")]).await;
        let token = app.register("prober@example.com").await;
        for _ in 0..2 {
            let refused = app.post("/api/chat").token(&token).json(&turn(RISKY, "en")).send().await;
            assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        }
        let calls = moderation.calls().len();
        let paused = app.post("/api/chat").token(&token).json(&turn("an innocent question", "en")).send().await;
        assert_eq!(paused.assert_error(StatusCode::TOO_MANY_REQUESTS), "moderation_cooldown");
        assert!(paused.header("retry-after").is_some());
        assert_eq!(moderation.calls().len(), calls, "nothing is checked during the cool-down");
        let account = User::find().filter(user::Column::Email.eq("prober@example.com")).one(&app.db).await.unwrap().unwrap();
        assert!(account.moderation_flagged_at.is_some());
        let admin = app.admin_token().await;
        let listed = app.get("/api/admin/users?q=prober").token(&admin).send().await.json();
        assert!(listed["users"][0]["moderationFlaggedAt"].is_string(), "{listed}");
        assert!(listed["users"][0]["bannedAt"].is_null(), "bans stay manual");

        // The window passes: chat works again.
        app.clock.advance(Duration::from_secs(3601));
        let back = app.post("/api/chat").token(&token).json(&turn("an innocent question", "en")).send().await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    }

    /// The OpenAI-compatible form, and a model-written title that does not pass.
    async fn the_openai_form_blocks_and_titles_are_checked(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Fine.")).await;
        upstream.set_titles(Behaviour::reply(&format!("All about {RISKY}")));
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = TestApp::with_env(backend, |env| {
            upstream.configure(env);
            for (name, value) in moderation.openai_env() {
                env.insert(name.into(), value);
            }
        }).await;
        let token = app.register("openai@example.com").await;
        let refused = app.post("/api/chat").token(&token).json(&turn(RISKY, "en")).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        assert!(audited(&app, "content_blocked").await[0].message.contains("violence"));

        let fine = app.post("/api/chat").token(&token).json(&turn("Which tea suits autumn?", "en")).send().await.json();
        let id = fine["conversationId"].as_str().unwrap().to_string();
        let titled = test_support::eventually(Duration::from_secs(5), async || {
            moderation.calls().iter().any(|call| call.content.contains("All about"))
        }).await;
        assert!(titled, "the title was checked");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let conversation = app.get(&format!("/api/chat/conversations/{id}")).token(&token).send().await.json();
        assert_eq!(conversation["conversation"]["title"], "Which tea suits autumn?", "{conversation}");
        assert!(moderation.calls().iter().all(|call| call.protocol == "openai"));
        assert_eq!(moderation.refused(), Vec::<String>::new());
    }
}

both_databases! {
    /// The test server really checks signatures: a wrong secret, or no security token, is
    /// refused as Alibaba refuses it, and the turn with it (moderation closed).
    async fn a_badly_signed_request_is_refused(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Fine.")).await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let mut wrong: Vec<(&'static str, String)> = moderation.aliyun_env();
        for (name, value) in &mut wrong {
            if *name == "ALIBABA_CLOUD_ACCESS_KEY_SECRET" {
                *value = "not-the-secret".into();
            }
        }
        let app = app(backend, &upstream, &wrong, &[]).await;
        let token = app.register("unsigned@example.com").await;
        let refused = app.post("/api/chat").token(&token).json(&turn("Hello", "en")).send().await;
        assert_eq!(refused.assert_error(StatusCode::SERVICE_UNAVAILABLE), "moderation_unavailable");
        assert!(moderation.refused()[0].starts_with("signature mismatch"), "{:?}", moderation.refused());

        let tokenless: Vec<(&'static str, String)> =
            moderation.aliyun_env().into_iter().filter(|(name, _)| *name != "ALIBABA_CLOUD_SECURITY_TOKEN").collect();
        let app = self::app(backend, &upstream, &tokenless, &[]).await;
        let token = app.register("tokenless@example.com").await;
        let refused = app.post("/api/chat").token(&token).json(&turn("Hello", "en")).send().await;
        assert_eq!(refused.assert_error(StatusCode::SERVICE_UNAVAILABLE), "moderation_unavailable");
        assert_eq!(moderation.refused().len(), 2);
        assert!(upstream.received().is_empty());
    }
}

async fn token_of(app: &TestApp, email: &str) -> String {
    app.register(email).await
}
