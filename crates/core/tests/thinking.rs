//! Thinking (issue 27), through the real router on SQLite and MariaDB against the test upstream,
//! which thinks as DashScope's Qwen3 does: only when the request says `enable_thinking: true`,
//! as `reasoning_content` before the answer, and only when streamed. What is asserted: which
//! requests carry the switch (and to which model), the `thinking` events before the `delta`s,
//! the thinking kept apart from the reply (history, JSON answer) and never sent back to the
//! model, its tokens in the tallies, a stop while it thinks, and the refusal where it is off.

use std::time::Duration;

use app_core::entities::{UsageHour, usage_hour};
use axum::http::StatusCode;
use sea_orm::{EntityTrait, QuerySelect};
use serde_json::Value;
use test_support::{
    Backend, Behaviour, TestApp, Upstream, both_databases, json, moderation::ModerationServer, read_sse_until,
    sse_events as events, streaming_chat,
};

const THINKER: &str = "test-thinking-model";

async fn app(backend: Backend, upstream: &Upstream, mode: &str) -> TestApp {
    TestApp::with_upstream(backend, upstream, &[("CHAT_THINKING", mode), ("CHAT_THINKING_MODEL", THINKER)]).await
}

fn turn(text: &str, think: Option<bool>) -> Value {
    let mut body = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": text}]});
    if let Some(think) = think {
        body["think"] = json!(think);
    }
    body
}

fn thinker() -> Behaviour {
    Behaviour::thinking(&["Six lines, ", "read from the bottom."], &["The answer ", "is patience."], Duration::ZERO)
}

/// A model that thinks `pieces` thoughts (`thought0 `, `thought1 `…), 50 ms apart, before an
/// answer it never gets to; and all it would think.
fn long_thinker(pieces: usize) -> (Behaviour, String) {
    let thoughts: Vec<String> = (0..pieces).map(|n| format!("thought{n} ")).collect();
    let borrowed: Vec<&str> = thoughts.iter().map(String::as_str).collect();
    (Behaviour::thinking(&borrowed, &["never"], Duration::from_millis(50)), thoughts.concat())
}

/// A streamed turn of `token`'s (asking `think`), read until its model has thought three
/// thoughts: the body still streaming, what was read, and the conversation's id.
async fn thinking_a_while(
    app: &TestApp,
    token: &str,
    think: Option<bool>,
) -> (axum::body::BodyDataStream, String, String) {
    let request = streaming_chat(token, &turn("Think long", think));
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    read_sse_until(&mut body, &mut text, "thought2 ").await;
    let conversation = events(text.split("\n\n").next().unwrap())[0].1["conversationId"].as_str().unwrap().to_string();
    (body, text, conversation)
}

/// The stored reply of a conversation as the history shows it (the branch's last message).
async fn last_message(app: &TestApp, token: &str, conversation: &str) -> Value {
    let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(token).send().await.json();
    detail["messages"].as_array().unwrap().last().unwrap().clone()
}

both_databases! {
    async fn off_sends_no_switch_and_refuses_asking(backend: Backend) {
        let upstream = Upstream::start(thinker()).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("plain@example.com").await;
        let about = app.get("/api/chat/about").send().await.json();
        assert_eq!(about["thinking"], "off");
        let reply = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&turn("hi", None)).send().await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.text().contains("event: thinking"), "{}", reply.text());
        assert_eq!(upstream.received()[0].enable_thinking(), None, "a provider that knows no switch is sent none");
        let asked = app.post("/api/chat").token(&token).json(&turn("think", Some(true))).send().await;
        assert_eq!(asked.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "thinking_not_offered");
        assert_eq!(upstream.received().len(), 1, "a refused turn asks no model");
    }

    async fn offered_thinks_when_asked_streams_it_first_and_keeps_it_apart(backend: Backend) {
        let upstream = Upstream::start(thinker()).await;
        let app = app(backend, &upstream, "offered").await;
        let token = app.register("thinker@example.com").await;
        let about = app.get("/api/chat/about").send().await.json();
        assert_eq!((about["thinking"].as_str(), about["thinkingModel"].as_str()), (Some("offered"), Some(THINKER)));

        let reply = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&turn("What now?", Some(true))).send().await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let events = events(&reply.text());
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        let first_delta = names.iter().position(|name| *name == "delta").expect("a delta");
        let thinking: String = events.iter().filter(|(name, _)| name == "thinking").map(|(_, data)| data["content"].as_str().unwrap()).collect();
        assert_eq!(thinking, "Six lines, read from the bottom.");
        assert!(names[..first_delta].contains(&"thinking") && !names[first_delta..].contains(&"thinking"), "{names:?}");
        let answer: String = events.iter().filter(|(name, _)| name == "delta").map(|(_, data)| data["content"].as_str().unwrap()).collect();
        assert_eq!(answer, "The answer is patience.");
        let done = &events.iter().find(|(name, _)| name == "done").unwrap().1;
        assert!(done["thinkingMs"].is_u64(), "{done}");
        assert_eq!(done["usage"]["thinkingTokens"], 2, "{done}");
        let asked = &upstream.received()[0];
        assert_eq!((asked.enable_thinking(), asked.body["model"].as_str()), (Some(true), Some(THINKER)));

        // The history keeps the thinking beside the reply, not in it.
        let conversation = events[0].1["conversationId"].as_str().unwrap().to_string();
        let stored = last_message(&app, &token, &conversation).await;
        assert_eq!(stored["content"], "The answer is patience.");
        assert_eq!(stored["thinking"]["content"], "Six lines, read from the bottom.");
        assert!(stored["thinking"]["ms"].is_u64());

        // Not asked: the chat model, told not to think; the thinking never goes back to it.
        let mut next = turn("And then?", Some(false));
        next["conversationId"] = json!(conversation);
        let plain = app.post("/api/chat").token(&token).json(&next).send().await;
        assert_eq!(plain.status, StatusCode::OK, "{}", plain.text());
        assert!(plain.json().get("thinking").is_none(), "{}", plain.text());
        let asked = upstream.received().last().unwrap().clone();
        assert_eq!((asked.enable_thinking(), asked.body["model"].as_str()), (Some(false), Some(test_support::UPSTREAM_MODEL)));
        assert!(asked.messages().iter().any(|(role, content)| role == "assistant" && content == "The answer is patience."));
        assert!(!asked.body.to_string().contains("Six lines"), "the thinking was sent back: {}", asked.body);
        assert!(last_message(&app, &token, &conversation).await["thinking"].is_null());

        // The account's own download has it, beside its reply.
        let export = app.get("/api/account/export").token(&token).send().await.json();
        let replies: Vec<&Value> = export["data"]["messages"].as_array().unwrap().iter().filter(|row| row["role"] == "ASSISTANT").collect();
        let thought: Vec<&Value> = replies.iter().filter(|row| row.get("thinking").is_some()).copied().collect();
        assert_eq!(thought.len(), 1, "{replies:?}");
        assert_eq!((thought[0]["thinking"].as_str(), thought[0]["content"].as_str()), (Some("Six lines, read from the bottom."), Some("The answer is patience.")));
        assert_eq!(thought[0]["thinkingTokens"], 2);

        // The tallies count the thinking's tokens (of the completion's).
        let tallied: Vec<(i64, i64)> = UsageHour::find()
            .select_only()
            .columns([usage_hour::Column::CompletionTokens, usage_hour::Column::ThinkingTokens])
            .into_tuple()
            .all(&app.db)
            .await
            .unwrap();
        let (completion, thinking) = tallied.iter().fold((0, 0), |sum, row| (sum.0 + row.0, sum.1 + row.1));
        assert_eq!((completion, thinking), (4 + 2, 2), "{tallied:?}");
        // …and the administrators' dashboard shows them apart.
        let admin = app.admin_token().await;
        let usage = app.get("/api/admin/usage").token(&admin).send().await.json();
        assert_eq!(usage["totals"]["thinkingTokens"], 2, "{}", usage["totals"]);
        let periods = usage["periods"].as_array().unwrap();
        assert_eq!(periods.iter().map(|period| period["thinkingTokens"].as_i64().unwrap()).sum::<i64>(), 2);
    }

    async fn a_json_answer_thought_through_is_streamed_from_the_model_and_answered_whole(backend: Backend) {
        let upstream = Upstream::start(thinker()).await;
        let app = app(backend, &upstream, "always").await;
        let token = app.register("whole@example.com").await;
        // `always`: no switch needed.
        let reply = app.post("/api/chat").token(&token).json(&turn("What now?", None)).send().await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["reply"], "The answer is patience.");
        assert_eq!(body["thinking"]["content"], "Six lines, read from the bottom.");
        assert_eq!(body["usage"]["thinkingTokens"], 2);
        let asked = &upstream.received()[0];
        assert_eq!((asked.enable_thinking(), asked.body["stream"].as_bool()), (Some(true), Some(true)));
        // A regeneration thinks too, and its versions keep their own thinking.
        let path = format!("/api/chat/conversations/{}/messages/{}/regenerate", body["conversationId"].as_str().unwrap(), body["messageId"].as_str().unwrap());
        upstream.set(Behaviour::thinking(&["Again."], &["Still patience."], Duration::ZERO));
        let again = app.post(&path).token(&token).json(&json!({})).send().await.json();
        assert_eq!(again["thinking"]["content"], "Again.");
        assert_eq!(again["reply"], "Still patience.");
    }

    /// A JSON turn thought through is collected from a stream whose timeout bounds each piece:
    /// the whole has the deadline of a streamed reply (`CHAT_REPLY_MAX`).
    async fn a_json_answer_thought_through_has_a_deadline(backend: Backend) {
        let thoughts: Vec<String> = (0..50).map(|n| format!("t{n} ")).collect();
        let thoughts: Vec<&str> = thoughts.iter().map(String::as_str).collect();
        let upstream = Upstream::start(Behaviour::thinking(&thoughts, &["late"], Duration::from_millis(100))).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("CHAT_THINKING", "always"), ("CHAT_REPLY_MAX", "1s")]).await;
        let token = app.register("patient@example.com").await;
        let started = std::time::Instant::now();
        let reply = app.post("/api/chat").token(&token).json(&turn("Think long", None)).send().await;
        assert_eq!(reply.assert_error(StatusCode::GATEWAY_TIMEOUT), "reply_too_long");
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }

    /// Deleting the conversation while a reply streams in it ends the reply: the model's request
    /// is closed and the slot free, as after a stop.
    async fn deleting_the_conversation_ends_its_streaming_reply(backend: Backend) {
        let (thinker, _) = long_thinker(60);
        let upstream = Upstream::start(thinker).await;
        let app = app(backend, &upstream, "always").await;
        let token = app.register("deleter@example.com").await;
        let (mut body, mut text, conversation) = thinking_a_while(&app, &token, None).await;
        let asked = std::time::Instant::now();
        let deleted = app.request(axum::http::Method::DELETE, &format!("/api/chat/conversations/{conversation}")).token(&token).send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        read_sse_until(&mut body, &mut text, "event: error").await;
        let ended = events(&text);
        assert_eq!(ended.last().unwrap().1["error"]["code"], "not_found", "{text}");
        let cut_at = upstream.streams()[0].cut_at.expect("the model's request was closed");
        assert!(cut_at.duration_since(asked) < Duration::from_secs(1), "{:?}", cut_at.duration_since(asked));
        let held = app.get("/api/chat/quota").token(&token).send().await.json();
        assert_eq!(held["streams"]["inUse"], 0, "{held}");
    }

    /// The thinking is shown, so moderation checks it as it checks the reply: a thought the
    /// output check refuses blocks the reply, streamed or whole, and its user sees none of it.
    async fn moderation_checks_the_thinking_like_the_reply(backend: Backend) {
        const RISKY: &str = "forbidden-thought";
        let upstream = Upstream::start(Behaviour::thinking(
            &["A fine first thought. ", "Then a ", RISKY, " in the second. ", "A third."],
            &["The answer."],
            Duration::from_millis(20),
        ))
        .await;
        let moderation = ModerationServer::start(&[RISKY]).await;
        let app = TestApp::with_env(backend, |env| {
            upstream.configure(env);
            for (name, value) in moderation.aliyun_env() {
                env.insert(name.to_string(), value);
            }
            env.insert("CHAT_THINKING".into(), "always".into());
        })
        .await;
        let token = app.register("guarded@example.com").await;

        let streamed = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&turn("Think", None)).send().await;
        assert_eq!(streamed.status, StatusCode::OK, "{}", streamed.text());
        let events = events(&streamed.text());
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["start", "thinking", "done"], "{events:?}");
        assert_eq!(events[1].1["content"], "A fine first thought.");
        assert_eq!(events[2].1["finishReason"], "blocked");
        assert!(events[2].1.get("thinkingMs").is_none(), "{}", events[2].1);
        let conversation = events[0].1["conversationId"].as_str().unwrap().to_string();
        let shown = last_message(&app, &token, &conversation).await;
        assert_eq!((&shown["withheld"], &shown["thinking"]), (&json!("blocked"), &Value::Null));
        let export = app.get("/api/account/export").token(&token).send().await.text();
        assert!(!export.contains(RISKY) && !export.contains("A fine first thought"), "{export}");
        let admin = app.admin_token().await;
        assert!(app.get("/api/admin/export?format=json").token(&admin).send().await.text().contains(RISKY), "administrators keep it");

        // Whole (JSON): the same verdict, a notice in place of the reply, no thinking.
        let whole = app.post("/api/chat").token(&token).json(&turn("Think again", None)).send().await;
        assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
        let body = whole.json();
        assert_eq!(body["finishReason"], "blocked");
        assert!(body.get("thinking").is_none(), "{body}");
        assert!(!whole.text().contains(RISKY));
    }

    async fn a_stop_while_it_thinks_ends_the_reply_and_keeps_what_was_shown(backend: Backend) {
        let (thinker, thought) = long_thinker(40);
        let upstream = Upstream::start(thinker).await;
        let app = app(backend, &upstream, "offered").await;
        let token = app.register("stopper@example.com").await;
        let (mut body, mut text, conversation) = thinking_a_while(&app, &token, Some(true)).await;
        let stopped = app.post(&format!("/api/chat/conversations/{conversation}/stop")).token(&token).send().await;
        assert_eq!(stopped.json(), json!({"requested": 1, "ended": 1}));
        read_sse_until(&mut body, &mut text, "event: done").await;
        let events = events(&text);
        let done = &events.iter().find(|(name, _)| name == "done").expect("done").1;
        assert_eq!(done["finishReason"], "stopped");
        assert!(!events.iter().any(|(name, _)| name == "delta"), "the answer never began");
        let shown: String = events.iter().filter(|(name, _)| name == "thinking").map(|(_, data)| data["content"].as_str().unwrap()).collect();
        assert!(shown.starts_with("thought0 thought1 thought2 ") && shown.len() < thought.len(), "{shown:?}");
        let stored = last_message(&app, &token, &conversation).await;
        assert_eq!((stored["stopped"].as_bool(), stored["thinking"]["content"].as_str()), (Some(true), Some(shown.as_str())));
        assert!(upstream.streams()[0].cut_at.is_some(), "the model's request was closed");
    }
}
