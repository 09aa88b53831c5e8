//! Stopping a streamed reply, through the real router on SQLite and MariaDB, against the test
//! upstream: the model's request is closed (the upstream sees its stream cut), the reply is
//! saved as far as it got and marked stopped, the stream ends with `finishReason: "stopped"`,
//! and the slot is free when the stop answers. The same across instances is in
//! `crates/reliability/tests/concurrency.rs`.

use std::time::{Duration, Instant};

use app_core::entities::{Message, MessageRole, ReplyStream};
use axum::http::StatusCode;
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{
    Backend, Behaviour, TestApp, Upstream, both_databases, eventually, json, read_sse_until, streaming_chat,
};

async fn app(backend: Backend, upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    TestApp::with_upstream(backend, upstream, extra).await
}

fn first_turn(text: &str) -> Value {
    json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": text}]})
}

fn conversation_of(text: &str) -> String {
    let start = text.split("\n\n").find(|block| block.starts_with("event: start")).expect("a start event");
    let data: Value = serde_json::from_str(start.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    data["conversationId"].as_str().unwrap().to_string()
}

async fn slots_held(app: &TestApp) -> u64 {
    ReplyStream::find().count(&app.db).await.unwrap()
}

both_databases! {
    async fn a_stop_ends_the_model_request_and_saves_the_reply_so_far(backend: Backend) {
        let pieces: Vec<String> = (0..40).map(|n| format!("word{n} ")).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let upstream = Upstream::start(Behaviour::pieces(&pieces, Duration::from_millis(50))).await;
        let app = app(backend, &upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "1"), ("CHAT_QUOTA_USER", "3/1d")]).await;
        let token = app.register("stopper@example.com").await;
        let response = tower::ServiceExt::oneshot(app.router.clone(), streaming_chat(&token, &first_turn("a long answer, please"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body().into_data_stream();
        let mut text = String::new();
        read_sse_until(&mut body, &mut text, "word2 ").await;
        let conversation = conversation_of(&text);

        let asked = Instant::now();
        let stop = app.post(&format!("/api/chat/conversations/{conversation}/stop")).token(&token).send().await;
        assert_eq!(stop.status, StatusCode::OK, "{}", stop.text());
        assert_eq!(stop.json(), json!({"requested": 1, "ended": 1}));
        // When the stop answers, the model's stream is cut, the reply saved and the slot free.
        let log = upstream.streams().pop().unwrap();
        let cut_at = log.cut_at.expect("the upstream saw its stream closed");
        assert!(!log.finished && log.pieces_sent < 40, "{log:?}");
        assert!(cut_at.duration_since(asked) < Duration::from_secs(1), "{:?}", cut_at.duration_since(asked));
        assert_eq!(slots_held(&app).await, 0);
        assert_eq!(ReplyStream::find().count(&app.db).await.unwrap(), 0);
        let saved = Message::find().filter(app_core::entities::message::Column::Role.eq(MessageRole::Assistant)).one(&app.db).await.unwrap().unwrap();
        assert!(saved.stopped);
        assert!(saved.content.starts_with("word0 word1 word2 "), "{}", saved.content);
        assert!(saved.content.len() < pieces.concat().len());

        // The client hears the end: `done`, stopped, naming the saved reply; nothing after it.
        read_sse_until(&mut body, &mut text, "event: done").await;
        assert!(body.next().await.is_none(), "the stream ends after done");
        let done = text.split("\n\n").find(|block| block.starts_with("event: done")).unwrap();
        let done: Value = serde_json::from_str(done.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
        assert_eq!(done["finishReason"], "stopped");
        assert_eq!(done["messageId"], saved.id.as_str());
        let streamed: String = text
            .split("\n\n")
            .filter(|block| block.starts_with("event: delta"))
            .map(|block| serde_json::from_str::<Value>(block.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap()["content"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(streamed, saved.content, "the client saw exactly what was saved");

        // The history shows it stopped; the next stream starts at once (the cap is 1).
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        assert_eq!(detail["messages"][1]["stopped"], true);
        upstream.set(Behaviour::reply("short"));
        let next = app.post("/api/chat").token(&token).header("accept", "text/event-stream")
            .json(&json!({"type": "oracle", "conversationId": conversation, "messages": [{"role": "user", "content": "go on"}]}))
            .send().await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.text());
        // The model sees the stopped reply as it was saved.
        let sent = upstream.received().last().unwrap().messages();
        assert_eq!(sent[2], ("assistant".to_string(), saved.content.clone()));
        // A stopped turn counted: two turns of three are spent.
        let third = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "conversationId": conversation, "messages": [{"role": "user", "content": "last"}]})).send().await;
        assert_eq!(third.status, StatusCode::OK);
        let fourth = app.post("/api/chat").token(&token).json(&first_turn("over")).send().await;
        assert_eq!(fourth.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
    }

    /// A stop before the model's first word: the stream opens and ends stopped, with an empty
    /// reply saved (which the model is not shown later).
    async fn a_stop_before_the_first_word(backend: Backend) {
        let upstream = Upstream::start(Behaviour::Hang).await;
        let app = app(backend, &upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "1"), ("OPENAI_TIMEOUT", "30s")]).await;
        let token = app.register("quick@example.com").await;
        let pending = tokio::spawn(tower::ServiceExt::oneshot(app.router.clone(), streaming_chat(&token, &first_turn("hello?"))));
        let db = app.db.clone();
        assert!(eventually(Duration::from_secs(5), async || ReplyStream::find().count(&db).await.unwrap() == 1).await);
        let conversation = ReplyStream::find().one(&app.db).await.unwrap().unwrap().conversation_id;
        let stop = app.post(&format!("/api/chat/conversations/{conversation}/stop")).token(&token).send().await;
        assert_eq!(stop.json(), json!({"requested": 1, "ended": 1}));
        let response = tokio::time::timeout(Duration::from_secs(5), pending).await.unwrap().unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("\"finishReason\":\"stopped\""), "{text}");
        assert_eq!(slots_held(&app).await, 0);

        // Asking the same again is a new message after the stopped reply (not a retry of one
        // that failed), and the model is not shown the empty reply.
        upstream.set(Behaviour::reply("now I answer"));
        let next = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "conversationId": conversation, "messages": [{"role": "user", "content": "hello?"}]})).send().await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.text());
        let sent: Vec<(String, String)> = upstream.received().last().unwrap().messages().into_iter().skip(1).collect();
        assert_eq!(sent, [("user".to_string(), "hello?".to_string()), ("user".to_string(), "hello?".to_string())]);
        let asked = Message::find_by_id(next.json()["userMessageId"].as_str().unwrap().to_string()).one(&app.db).await.unwrap().unwrap();
        assert_eq!(asked.role, MessageRole::User);
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let shown: Vec<(&str, &str, bool)> = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap(), m["stopped"].as_bool().unwrap()))
            .collect();
        assert_eq!(shown, [("user", "hello?", false), ("assistant", "", true), ("user", "hello?", false), ("assistant", "now I answer", false)]);
    }

    /// Nothing streaming: the stop is a no-op, not an error; another user's conversation is 404.
    async fn a_stop_with_nothing_streaming(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("done already")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("late@example.com").await;
        let other = app.register("other@example.com").await;
        let body = app.post("/api/chat").token(&token).json(&first_turn("hi")).send().await.json();
        let path = format!("/api/chat/conversations/{}/stop", body["conversationId"].as_str().unwrap());
        let stop = app.post(&path).token(&token).send().await;
        assert_eq!(stop.json(), json!({"requested": 0, "ended": 0}));
        assert_eq!(app.post(&path).token(&other).send().await.assert_error(StatusCode::NOT_FOUND), "not_found");
        assert_eq!(app.post("/api/chat/conversations/nope/stop").token(&token).send().await.status, StatusCode::NOT_FOUND);
        // A client that only disconnects is not a stop: the reply is completed (chat.rs tests it).
        let message = Message::find().filter(app_core::entities::message::Column::Role.eq(MessageRole::Assistant)).one(&app.db).await.unwrap().unwrap();
        assert!(!message.stopped);
    }
}

both_databases! {
    /// The instance looks for stops of all its streaming replies with one statement per tick:
    /// while five replies stream, every look names all five rows, and none looks for one alone.
    async fn one_look_per_tick_for_every_streaming_reply(backend: Backend) {
        // Replies of 10 s: all five stream through the look below, however slow the machine.
        let pieces: Vec<String> = (0..200).map(|n| format!("word{n} ")).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let upstream = Upstream::start(Behaviour::pieces(&pieces, Duration::from_millis(50))).await;
        let app = app(backend, &upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "0"), ("CHAT_QUOTA_USER", "off")]).await;
        let token = app.register("reader@example.com").await;
        let mut bodies = Vec::new();
        let mut conversations = Vec::new();
        for n in 0..5 {
            let request = streaming_chat(&token, &first_turn(&format!("question {n}")));
            let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
            let mut body = response.into_body().into_data_stream();
            let mut text = String::new();
            read_sse_until(&mut body, &mut text, "word1 ").await;
            conversations.push(conversation_of(&text));
            bodies.push((body, text));
        }
        let looks = |statements: Vec<(String, usize)>| -> Vec<usize> {
            statements
                .into_iter()
                .filter(|(sql, _)| sql.contains("reply_streams") && sql.contains("stop_requested_at") && sql.starts_with("SELECT"))
                .map(|(_, values)| values)
                .collect()
        };
        let mark = app.statements.len();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let seen = looks(app.statements.since(mark));
        assert!(!seen.is_empty(), "the instance looked for stops");
        assert!(seen.len() <= 6, "one look per 200 ms tick for all five, not one per reply: {seen:?}");
        assert!(seen.iter().all(|&ids| ids == 5), "each look names every streaming reply: {seen:?}");

        // A stop still reaches the one reply it names, and only that one.
        let stop = app.post(&format!("/api/chat/conversations/{}/stop", conversations[2])).token(&token).send().await;
        assert_eq!(stop.json(), json!({"requested": 1, "ended": 1}));
        let (body, text) = &mut bodies[2];
        read_sse_until(body, text, "event: done").await;
        assert!(text.contains("\"finishReason\":\"stopped\""), "{text}");
        let mark = app.statements.len();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = looks(app.statements.since(mark));
        assert!(!seen.is_empty() && seen.iter().all(|&ids| ids == 4), "the four still streaming: {seen:?}");
        // …and when nothing streams any more, nobody looks.
        for (n, conversation) in conversations.iter().enumerate().filter(|(n, _)| *n != 2) {
            let stop = app.post(&format!("/api/chat/conversations/{conversation}/stop")).token(&token).send().await;
            assert_eq!(stop.json(), json!({"requested": 1, "ended": 1}), "{n}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mark = app.statements.len();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(looks(app.statements.since(mark)).is_empty(), "no look while nothing streams");
    }
}
