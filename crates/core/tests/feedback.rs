//! Feedback on replies through the real router, on SQLite and MariaDB: a thumbs up or down with
//! an optional comment, changed or withdrawn, one per user per reply (also when sent many
//! times at once), on any version, never on someone else's reply or a user message; shown in
//! the history and carried by both exports.

use app_core::entities::{MessageFeedback, message_feedback};
use axum::http::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use test_support::{Behaviour, TestApp, TestResponse, Upstream, both_databases, json};

struct Turn {
    conversation: String,
    reply: String,
    question: String,
}

async fn turn(app: &TestApp, token: &str, text: &str) -> Turn {
    let body = json!({"type": "tcm", "locale": "en", "messages": [{"role": "user", "content": text}]});
    let reply = app.post("/api/chat").token(token).json(&body).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = reply.json();
    Turn {
        conversation: reply["conversationId"].as_str().unwrap().into(),
        reply: reply["messageId"].as_str().unwrap().into(),
        question: reply["userMessageId"].as_str().unwrap().into(),
    }
}

fn path(conversation: &str, message: &str) -> String {
    format!("/api/chat/conversations/{conversation}/messages/{message}/feedback")
}

async fn give(app: &TestApp, token: &str, conversation: &str, message: &str, body: Value) -> TestResponse {
    app.request(Method::PUT, &path(conversation, message)).token(token).json(&body).send().await
}

/// The feedback the history shows on message `index` of the branch.
async fn shown(app: &TestApp, token: &str, conversation: &str, index: usize) -> Value {
    let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(token).send().await.json();
    detail["messages"][index]["feedback"].clone()
}

async fn rows(app: &TestApp) -> u64 {
    MessageFeedback::find().count(&app.db).await.unwrap()
}

both_databases! {
    async fn a_reply_gets_one_rating_that_can_change_and_be_withdrawn(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("drink warm water")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("rater@example.com").await;
        let t = turn(&app, &token, "how do I sleep better?").await;
        assert_eq!(shown(&app, &token, &t.conversation, 1).await, Value::Null);

        let up = give(&app, &token, &t.conversation, &t.reply, json!({"rating": "up"})).await;
        assert_eq!(up.status, StatusCode::OK, "{}", up.text());
        assert_eq!(up.json()["feedback"]["rating"], "up");
        assert_eq!(up.json()["feedback"]["comment"], Value::Null);
        assert_eq!(shown(&app, &token, &t.conversation, 1).await["rating"], "up");
        assert_eq!(shown(&app, &token, &t.conversation, 0).await, Value::Null, "never on the user's message");

        // Changed, with a comment (trimmed): still one row.
        let down = give(&app, &token, &t.conversation, &t.reply, json!({"rating": "down", "comment": "  too vague  "})).await;
        assert_eq!(down.json()["feedback"], json!({"rating": "down", "comment": "too vague", "updatedAt": down.json()["feedback"]["updatedAt"]}));
        assert_eq!(shown(&app, &token, &t.conversation, 1).await["comment"], "too vague");
        assert_eq!(rows(&app).await, 1);
        // A blank comment is none; 500 characters (Chinese counts by character) are fine, 501 not.
        let blank = give(&app, &token, &t.conversation, &t.reply, json!({"rating": "down", "comment": "   "})).await;
        assert_eq!(blank.json()["feedback"]["comment"], Value::Null);
        let longest = "好".repeat(500);
        let ok = give(&app, &token, &t.conversation, &t.reply, json!({"rating": "up", "comment": longest})).await;
        assert_eq!(ok.json()["feedback"]["comment"], longest.as_str());
        let too_long = give(&app, &token, &t.conversation, &t.reply, json!({"rating": "up", "comment": "好".repeat(501)})).await;
        assert_eq!(too_long.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "comment_too_long");
        assert_eq!(shown(&app, &token, &t.conversation, 1).await["comment"], longest.as_str(), "a refused change keeps the stored one");

        // Withdrawn: gone; withdrawing again is fine.
        for _ in 0..2 {
            let withdrawn = app.delete(&path(&t.conversation, &t.reply)).token(&token).send().await;
            assert_eq!(withdrawn.status, StatusCode::NO_CONTENT, "{}", withdrawn.text());
        }
        assert_eq!(shown(&app, &token, &t.conversation, 1).await, Value::Null);
        assert_eq!(rows(&app).await, 0);
    }
}

both_databases! {
    async fn feedback_is_refused_where_it_does_not_belong(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let owner = app.register("owner@example.com").await;
        let other = app.register("other@example.com").await;
        let t = turn(&app, &owner, "mine").await;
        let theirs = turn(&app, &other, "theirs").await;
        let up = json!({"rating": "up"});

        let user_message = give(&app, &owner, &t.conversation, &t.question, up.clone()).await;
        assert_eq!(user_message.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "not_a_reply");
        // Someone else's reply: 404, whether named through their conversation or through mine.
        for (conversation, message) in [(&theirs.conversation, &theirs.reply), (&t.conversation, &theirs.reply)] {
            let refused = give(&app, &owner, conversation, message, up.clone()).await;
            assert_eq!(refused.assert_error(StatusCode::NOT_FOUND), "not_found");
            let refused = app.delete(&path(conversation, message)).token(&owner).send().await;
            assert_eq!(refused.assert_error(StatusCode::NOT_FOUND), "not_found");
        }
        let unknown = give(&app, &owner, &t.conversation, "no-such-message", up.clone()).await;
        assert_eq!(unknown.assert_error(StatusCode::NOT_FOUND), "not_found");
        for body in [json!({"rating": "meh"}), json!({}), json!({"rating": "up", "comment": 5})] {
            let refused = give(&app, &owner, &t.conversation, &t.reply, body.clone()).await;
            assert!(refused.status.is_client_error(), "{body}: {}", refused.text());
            refused.assert_error(refused.status);
        }
        let anonymous = app.request(Method::PUT, &path(&t.conversation, &t.reply)).json(&up).send().await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(rows(&app).await, 0);
    }
}

both_databases! {
    async fn one_rating_per_reply_when_many_arrive_at_once(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("clicker@example.com").await;
        let t = turn(&app, &token, "question").await;
        let sends = (0..20usize).map(|n| {
            let rating = if n.is_multiple_of(2) { "up" } else { "down" };
            give(&app, &token, &t.conversation, &t.reply, json!({"rating": rating, "comment": format!("click {n}")}))
        });
        let answers = futures::future::join_all(sends).await;
        assert!(answers.iter().all(|answer| answer.status == StatusCode::OK), "{:?}", answers.iter().map(|a| a.text()).collect::<Vec<_>>());
        assert_eq!(rows(&app).await, 1, "one row, whatever the order");
        // The stored one is one of those sent, consistent in itself.
        let stored = shown(&app, &token, &t.conversation, 1).await;
        let n: usize = stored["comment"].as_str().unwrap().trim_start_matches("click ").parse().unwrap();
        assert_eq!(stored["rating"], if n.is_multiple_of(2) { "up" } else { "down" });
    }
}

both_databases! {
    async fn every_version_can_be_rated_and_both_exports_carry_it(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("first version")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let admin = app.admin_token().await;
        let token = app.register("versions@example.com").await;
        let t = turn(&app, &token, "question").await;
        upstream.set(Behaviour::reply("second version"));
        let regenerate = format!("/api/chat/conversations/{}/messages/{}/regenerate", t.conversation, t.reply);
        let second = app.post(&regenerate).token(&token).json(&json!({})).send().await.json();
        let second = second["messageId"].as_str().unwrap().to_string();
        // The first version is off the branch shown; it can still be rated.
        assert_eq!(give(&app, &token, &t.conversation, &t.reply, json!({"rating": "down", "comment": "wrong"})).await.status, StatusCode::OK);
        assert_eq!(give(&app, &token, &t.conversation, &second, json!({"rating": "up"})).await.status, StatusCode::OK);
        assert_eq!(shown(&app, &token, &t.conversation, 1).await["rating"], "up", "the version shown");

        let own = app.get("/api/account/export").token(&token).send().await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text());
        let mut own: Vec<(String, String, Option<String>)> = own.json()["data"]["feedback"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["messageId"].as_str().unwrap().into(), f["rating"].as_str().unwrap().into(), f["comment"].as_str().map(Into::into)))
            .collect();
        own.sort();
        let mut expected = vec![(t.reply.clone(), "down".to_string(), Some("wrong".to_string())), (second.clone(), "up".to_string(), None)];
        expected.sort();
        assert_eq!(own, expected);

        let all = app.get("/api/admin/export?format=ndjson").token(&admin).send().await.text();
        let lines: Vec<Value> = all.lines().map(|line| serde_json::from_str(line).unwrap()).filter(|line: &Value| line["type"] == "feedback").collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| line["data"]["assistant"] == "TCM" && line["data"]["userId"].is_string()));

        // Deleting the conversation deletes its replies' feedback.
        app.delete(&format!("/api/chat/conversations/{}", t.conversation)).token(&token).send().await;
        let left = MessageFeedback::find().filter(message_feedback::Column::MessageId.is_in([t.reply, second])).count(&app.db).await.unwrap();
        assert_eq!(left, 0);
    }
}
