//! Versions of a conversation through the real router, on SQLite and MariaDB, against the test
//! upstream: regenerate and edit keep every version, the model sees only the branch shown,
//! switching is one call, old conversations (from before versions) read and continue as one
//! branch, and the limits apply to these turns as to any.

use std::time::Duration;

use app_core::entities::{Conversation, ConversationKind, Message, MessageRole, TitleSource, conversation, message};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;
use test_support::{Backend, Behaviour, TestApp, Upstream, both_databases, json};

async fn app(backend: Backend, upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    TestApp::with_upstream(backend, upstream, extra).await
}

fn first_turn(text: &str) -> Value {
    json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": text}]})
}

fn next_turn(conversation: &str, text: &str) -> Value {
    json!({"type": "oracle", "locale": "en", "conversationId": conversation, "messages": [{"role": "user", "content": text}]})
}

/// The branch shown: `(role, content, version, versions)` per message.
async fn branch(app: &TestApp, token: &str, conversation: &str) -> Vec<(String, String, u64, u64)> {
    let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(token).send().await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    rows(&detail.json())
}

fn rows(detail: &Value) -> Vec<(String, String, u64, u64)> {
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
                m["version"].as_u64().unwrap(),
                m["versions"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn row(role: &str, content: &str, version: u64, versions: u64) -> (String, String, u64, u64) {
    (role.to_string(), content.to_string(), version, versions)
}

/// The conversation turns the model received in its last request (after the system prompt).
fn last_prompt(upstream: &Upstream) -> Vec<(String, String)> {
    upstream.received().last().expect("a request").messages()[1..].to_vec()
}

fn pair(role: &str, content: &str) -> (String, String) {
    (role.to_string(), content.to_string())
}

async fn message_of(app: &TestApp, token: &str, conversation: &str, index: usize) -> Value {
    let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(token).send().await.json();
    detail["messages"][index].clone()
}

both_databases! {
    async fn regenerating_keeps_every_reply_as_a_version(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("first answer")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("seeker@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("question one")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap().to_string();
        let first_reply = first["messageId"].as_str().unwrap().to_string();

        upstream.set(Behaviour::reply("second answer"));
        let path = format!("/api/chat/conversations/{conversation}/messages/{first_reply}/regenerate");
        let again = app.post(&path).token(&token).json(&json!({"locale": "en"})).send().await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        let again = again.json();
        assert_eq!(again["reply"], "second answer");
        assert_eq!(again["userMessageId"], first["userMessageId"]);
        // The model was asked the same question again, and did not see the first answer.
        assert_eq!(last_prompt(&upstream), [pair("user", "question one")]);
        assert_eq!(branch(&app, &token, &conversation).await, [row("user", "question one", 1, 1), row("assistant", "second answer", 2, 2)]);

        // A third, streamed: the same events as a turn.
        upstream.set(Behaviour::pieces(&["third ", "answer"], Duration::ZERO));
        let streamed = app.post(&path).token(&token).header("accept", "text/event-stream").json(&json!({})).send().await;
        assert_eq!(streamed.status, StatusCode::OK);
        let text = streamed.text();
        assert!(text.contains("event: start") && text.contains("\"finishReason\":\"completed\""), "{text}");
        assert!(!text.contains("event: title"), "only a new conversation gets a title");
        let shown = message_of(&app, &token, &conversation, 1).await;
        assert_eq!((shown["content"].as_str(), shown["version"].as_u64(), shown["versions"].as_u64()), (Some("third answer"), Some(3), Some(3)));
        let versions: Vec<String> = shown["versionIds"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()).collect();
        assert_eq!(versions[0], first_reply);
        assert_eq!(versions[1], again["messageId"].as_str().unwrap());

        // Back to the first reply: one call, and the next turn continues from it.
        let switched = app.post(&format!("/api/chat/conversations/{conversation}/switch")).token(&token).json(&json!({"messageId": first_reply})).send().await;
        assert_eq!(switched.status, StatusCode::OK, "{}", switched.text());
        assert_eq!(rows(&switched.json()), [row("user", "question one", 1, 1), row("assistant", "first answer", 1, 3)]);
        upstream.set(Behaviour::reply("follow-up answer"));
        let follow = app.post("/api/chat").token(&token).json(&next_turn(&conversation, "question two")).send().await;
        assert_eq!(follow.status, StatusCode::OK);
        assert_eq!(last_prompt(&upstream), [pair("user", "question one"), pair("assistant", "first answer"), pair("user", "question two")]);
        // Nothing was lost: four replies and two questions are stored.
        assert_eq!(Message::find().all(&app.db).await.unwrap().len(), 6);

        // Switching to the third reply shows its branch as it was left (it ends there).
        let switched = app.post(&format!("/api/chat/conversations/{conversation}/switch")).token(&token).json(&json!({"messageId": versions[2]})).send().await.json();
        assert_eq!(rows(&switched), [row("user", "question one", 1, 1), row("assistant", "third answer", 3, 3)]);
        // …and switching to the first shows the follow-up again.
        let switched = app.post(&format!("/api/chat/conversations/{conversation}/switch")).token(&token).json(&json!({"messageId": first_reply})).send().await.json();
        assert_eq!(rows(&switched).len(), 4);

        // The admin export carries the tree: every reply to question one names it as parent,
        // the question names itself (a root), and the conversation its branch.
        let admin = app.admin_token().await;
        let export = app.get("/api/admin/export").token(&admin).send().await.json();
        let question = first["userMessageId"].as_str().unwrap();
        let messages = export["data"]["messages"].as_array().unwrap();
        let parent_of = |id: &str| messages.iter().find(|m| m["id"] == id).unwrap()["parentId"].clone();
        assert_eq!(parent_of(question), question);
        for reply in &versions {
            assert_eq!(parent_of(reply), question);
        }
        let exported = &export["data"]["conversations"][0];
        assert_eq!(exported["activeLeafId"], switched["messages"][3]["id"]);
    }

    async fn editing_a_message_branches_from_it(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("a1")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("editor@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("q1")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap().to_string();
        upstream.set(Behaviour::reply("a2"));
        let second = app.post("/api/chat").token(&token).json(&next_turn(&conversation, "q2")).send().await.json();
        let q2 = second["userMessageId"].as_str().unwrap().to_string();

        upstream.set(Behaviour::reply("a2 for the edit"));
        let path = format!("/api/chat/conversations/{conversation}/messages/{q2}/edit");
        let edited = app.post(&path).token(&token).json(&json!({"content": "q2, rephrased", "locale": "en"})).send().await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
        assert_eq!(edited.json()["reply"], "a2 for the edit");
        // The model saw the branch up to the edited message, then the new text: not q2, not a2.
        assert_eq!(last_prompt(&upstream), [pair("user", "q1"), pair("assistant", "a1"), pair("user", "q2, rephrased")]);
        assert_eq!(
            branch(&app, &token, &conversation).await,
            [row("user", "q1", 1, 1), row("assistant", "a1", 1, 1), row("user", "q2, rephrased", 2, 2), row("assistant", "a2 for the edit", 1, 1)]
        );
        // The original question and its reply are a version away.
        let switched = app.post(&format!("/api/chat/conversations/{conversation}/switch")).token(&token).json(&json!({"messageId": q2})).send().await.json();
        assert_eq!(rows(&switched), [row("user", "q1", 1, 1), row("assistant", "a1", 1, 1), row("user", "q2", 1, 2), row("assistant", "a2", 1, 1)]);

        // Editing the very first message makes a second root.
        let q1 = first["userMessageId"].as_str().unwrap();
        upstream.set(Behaviour::pieces(&["fresh ", "start"], Duration::ZERO));
        let root = app.post(&format!("/api/chat/conversations/{conversation}/messages/{q1}/edit")).token(&token).header("accept", "text/event-stream").json(&json!({"content": "q1 again"})).send().await;
        assert_eq!(root.status, StatusCode::OK);
        assert!(root.text().contains("event: done"), "{}", root.text());
        assert_eq!(last_prompt(&upstream), [pair("user", "q1 again")]);
        assert_eq!(branch(&app, &token, &conversation).await, [row("user", "q1 again", 2, 2), row("assistant", "fresh start", 1, 1)]);
    }

    async fn bad_version_requests_are_clear_errors(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("answer")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("owner@example.com").await;
        let other = app.register("other@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("mine")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap();
        let reply = first["messageId"].as_str().unwrap();
        let question = first["userMessageId"].as_str().unwrap();
        let second = app.post("/api/chat").token(&token).json(&first_turn("another")).send().await.json();
        let elsewhere = second["messageId"].as_str().unwrap();
        let base = format!("/api/chat/conversations/{conversation}");
        let sent = upstream.received().len();

        let cases = [
            (format!("{base}/messages/nope/regenerate"), json!({}), &token, StatusCode::NOT_FOUND, "not_found"),
            (format!("{base}/messages/{reply}/regenerate"), json!({}), &other, StatusCode::NOT_FOUND, "not_found"),
            (format!("{base}/messages/{reply}/edit"), json!({"content": "x"}), &token, StatusCode::UNPROCESSABLE_ENTITY, "not_a_user_message"),
            (format!("{base}/messages/{question}/edit"), json!({"content": "  "}), &token, StatusCode::UNPROCESSABLE_ENTITY, "empty_message"),
            (format!("{base}/messages/{question}/edit"), json!({"content": "x".repeat(4001)}), &token, StatusCode::UNPROCESSABLE_ENTITY, "message_too_long"),
            (format!("{base}/messages/{question}/edit"), json!({}), &token, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            // Every field of a regeneration is optional, but a body that is not an object is not one.
            (format!("{base}/messages/{reply}/regenerate"), json!([]), &token, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (format!("{base}/messages/{reply}/regenerate"), json!([null, "zh"]), &token, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (format!("{base}/messages/{reply}/regenerate"), json!({"systemHint": "h".repeat(501)}), &token, StatusCode::UNPROCESSABLE_ENTITY, "system_hint_too_long"),
            (format!("{base}/switch"), json!({"messageId": "nope"}), &token, StatusCode::NOT_FOUND, "not_found"),
            (format!("{base}/switch"), json!({"messageId": reply}), &other, StatusCode::NOT_FOUND, "not_found"),
            // A message of another conversation of the same user is not in this one.
            (format!("{base}/messages/{elsewhere}/regenerate"), json!({}), &token, StatusCode::NOT_FOUND, "not_found"),
            (format!("{base}/switch"), json!({"messageId": elsewhere}), &token, StatusCode::NOT_FOUND, "not_found"),
        ];
        for (path, body, who, status, code) in cases {
            let response = app.post(&path).token(who).json(&body).send().await;
            assert_eq!(response.status, status, "{path} {body}: {}", response.text());
            assert_eq!(response.json()["error"]["code"], code, "{path} {body}");
        }
        // None of them reached the model or stored anything.
        assert_eq!(upstream.received().len(), sent);
        assert_eq!(Message::find().all(&app.db).await.unwrap().len(), 4);
    }

    /// A regeneration the model fails changes nothing: the old reply stays shown, and the next
    /// message follows it.
    async fn a_failed_regeneration_changes_nothing(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("kept")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("unlucky@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("q1")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap().to_string();
        let reply = first["messageId"].as_str().unwrap();
        upstream.set(Behaviour::Status(500));
        let path = format!("/api/chat/conversations/{conversation}/messages/{reply}/regenerate");
        assert_eq!(app.post(&path).token(&token).json(&json!({})).send().await.assert_error(StatusCode::BAD_GATEWAY), "upstream_error");
        let streamed = app.post(&path).token(&token).header("accept", "text/event-stream").json(&json!({})).send().await;
        assert_eq!(streamed.assert_error(StatusCode::BAD_GATEWAY), "upstream_error");
        assert_eq!(branch(&app, &token, &conversation).await, [row("user", "q1", 1, 1), row("assistant", "kept", 1, 1)]);
        upstream.set(Behaviour::reply("a2"));
        assert_eq!(app.post("/api/chat").token(&token).json(&next_turn(&conversation, "q2")).send().await.status, StatusCode::OK);
        assert_eq!(last_prompt(&upstream), [pair("user", "q1"), pair("assistant", "kept"), pair("user", "q2")]);
        assert_eq!(branch(&app, &token, &conversation).await.len(), 4);
    }

    /// Regenerations and edits are turns: they spend the message quota (and are refused with it).
    async fn versions_count_against_the_quota(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("answer")).await;
        let app = app(backend, &upstream, &[("CHAT_QUOTA_USER", "3/1d")]).await;
        let token = app.register("counted@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("one")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap();
        let reply = first["messageId"].as_str().unwrap();
        let question = first["userMessageId"].as_str().unwrap();
        let regenerate = format!("/api/chat/conversations/{conversation}/messages/{reply}/regenerate");
        let edit = format!("/api/chat/conversations/{conversation}/messages/{question}/edit");
        assert_eq!(app.post(&regenerate).token(&token).json(&json!({})).send().await.status, StatusCode::OK);
        assert_eq!(app.post(&edit).token(&token).json(&json!({"content": "two"})).send().await.status, StatusCode::OK);
        let refused = app.post(&regenerate).token(&token).json(&json!({})).send().await;
        assert_eq!(refused.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert_eq!(upstream.received().len(), 3);
    }

    /// Conversations written before versions (no parents, no branch chosen, as the import and
    /// the previous version of the app leave them) read as one branch and go on from their end.
    async fn old_conversations_are_one_branch(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("new answer")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("veteran@example.com").await;
        let user_id = app_core::entities::User::find().one(&app.db).await.unwrap().unwrap().id;
        let at = |seconds: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap();
        Conversation::insert(conversation::ActiveModel {
            id: Set("old-conversation".into()),
            user_id: Set(user_id),
            kind: Set(ConversationKind::Tcm),
            title: Set("Sleep".into()),
            created_at: Set(at(0)),
            updated_at: Set(at(3)),
            ..Default::default()
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap();
        let texts = ["I sleep badly", "Try warm water", "And in winter?", "Keep warm"];
        for (n, text) in texts.iter().enumerate() {
            Message::insert(message::ActiveModel {
                id: Set(format!("old-{n}")),
                conversation_id: Set("old-conversation".into()),
                role: Set(if n % 2 == 0 { MessageRole::User } else { MessageRole::Assistant }),
                content: Set(text.to_string()),
                created_at: Set(at(n as i64)),
                ..Default::default()
            })
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        }
        let stored = Conversation::find_by_id("old-conversation".to_string()).one(&app.db).await.unwrap().unwrap();
        assert_eq!((stored.active_leaf_id, stored.title_source), (None, TitleSource::Message));
        let shown = branch(&app, &token, "old-conversation").await;
        assert_eq!(shown, [row("user", texts[0], 1, 1), row("assistant", texts[1], 1, 1), row("user", texts[2], 1, 1), row("assistant", texts[3], 1, 1)]);

        // The next turn continues from the end, and the model sees the old history.
        let next = json!({"type": "tcm", "locale": "en", "conversationId": "old-conversation", "messages": [{"role": "user", "content": "And now?"}]});
        assert_eq!(app.post("/api/chat").token(&token).json(&next).send().await.status, StatusCode::OK);
        let expected: Vec<_> = [("user", texts[0]), ("assistant", texts[1]), ("user", texts[2]), ("assistant", texts[3]), ("user", "And now?")]
            .iter()
            .map(|(role, text)| pair(role, text))
            .collect();
        assert_eq!(last_prompt(&upstream), expected);
        // Regenerating an old reply makes a version beside it.
        upstream.set(Behaviour::reply("warmer"));
        let path = "/api/chat/conversations/old-conversation/messages/old-3/regenerate";
        assert_eq!(app.post(path).token(&token).json(&json!({})).send().await.status, StatusCode::OK);
        assert_eq!(last_prompt(&upstream), expected[..3].to_vec());
        let shown = branch(&app, &token, "old-conversation").await;
        assert_eq!(shown.last(), Some(&row("assistant", "warmer", 2, 2)));
        assert_eq!(shown.len(), 4);
    }

    /// The branch pages backwards from its end, by a cursor naming the oldest message returned.
    async fn long_branches_page(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("r")).await;
        let app = app(backend, &upstream, &[]).await;
        let token = app.register("pager@example.com").await;
        let first = app.post("/api/chat").token(&token).json(&first_turn("q0")).send().await.json();
        let conversation = first["conversationId"].as_str().unwrap().to_string();
        for n in 1..4 {
            app.clock.advance(Duration::from_secs(1));
            assert_eq!(app.post("/api/chat").token(&token).json(&next_turn(&conversation, &format!("q{n}"))).send().await.status, StatusCode::OK);
        }
        let page = app.get(&format!("/api/chat/conversations/{conversation}?limit=3")).token(&token).send().await.json();
        let contents: Vec<_> = rows(&page).into_iter().map(|row| row.1).collect();
        assert_eq!(contents, ["r", "q3", "r"]);
        let cursor = page["nextCursor"].as_str().unwrap();
        let older = app.get(&format!("/api/chat/conversations/{conversation}?limit=3&cursor={cursor}")).token(&token).send().await.json();
        let contents: Vec<_> = rows(&older).into_iter().map(|row| row.1).collect();
        assert_eq!(contents, ["q1", "r", "q2"]);
        let cursor = older["nextCursor"].as_str().unwrap();
        let oldest = app.get(&format!("/api/chat/conversations/{conversation}?limit=3&cursor={cursor}")).token(&token).send().await.json();
        let contents: Vec<_> = rows(&oldest).into_iter().map(|row| row.1).collect();
        assert_eq!(contents, ["q0", "r"]);
        assert!(oldest["nextCursor"].is_null());
        let bad = app.get(&format!("/api/chat/conversations/{conversation}?cursor=bm9wZQ")).token(&token).send().await;
        assert_eq!(bad.assert_error(StatusCode::BAD_REQUEST), "invalid_query");
    }
}
