//! Titles written by the model, through the real router on SQLite and MariaDB, against the
//! test upstream's title model: the title follows the first reply (in the stream's last event
//! when ready), in the conversation's language; a failure or `off` keeps the first message; a
//! title the user chose is never replaced.

use std::time::Duration;

use app_core::entities::{Conversation, TitleSource};
use axum::http::{Method, StatusCode};
use sea_orm::EntityTrait;
use test_support::{
    Backend, Behaviour, TEST_TITLE, TestApp, UPSTREAM_TITLE_MODEL, Upstream, both_databases, eventually, json,
};

async fn app(backend: Backend, upstream: &Upstream, titles: Option<&str>) -> TestApp {
    TestApp::with_env(backend, |env| {
        upstream.configure(env);
        if let Some(model) = titles {
            env.insert("CHAT_TITLE_MODEL".into(), model.into());
        }
    })
    .await
}

async fn title_of(app: &TestApp) -> (String, TitleSource) {
    let conversation = Conversation::find().one(&app.db).await.unwrap().unwrap();
    (conversation.title, conversation.title_source)
}

both_databases! {
    async fn the_model_titles_a_new_conversation(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["Qian ", "is heaven."], Duration::ZERO)).await;
        upstream.set_titles(Behaviour::reply("\"乾卦：天行健。\""));
        let app = app(backend, &upstream, None).await;
        let token = app.register("titled@example.com").await;
        let request = json!({"type": "oracle", "locale": "zh-CN", "messages": [{"role": "user", "content": "乾卦是什么意思？"}]});
        let response = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&request).send().await;
        let text = response.text();
        // `done` first (the turn is not held up), then the title, the stream's last event.
        let done = text.find("event: done").expect("done");
        let title = text.find("event: title").expect("a title event");
        assert!(done < title, "{text}");
        assert!(text.trim_end().ends_with("\"title\":\"乾卦：天行健\"}"), "{text}");
        assert_eq!(title_of(&app).await, ("乾卦：天行健".to_string(), TitleSource::Model));

        // One small request to the title model, in Chinese, with the exchange.
        let asked = upstream.title_requests();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].body["model"], UPSTREAM_TITLE_MODEL);
        assert_eq!(asked[0].body["max_tokens"], 40);
        let messages = asked[0].messages();
        assert!(messages[0].1.contains("简体中文"), "{}", messages[0].1);
        assert!(messages[1].1.contains("乾卦是什么意思？") && messages[1].1.contains("Qian is heaven."));

        // Later turns ask for no title.
        let conversation = Conversation::find().one(&app.db).await.unwrap().unwrap().id;
        let next = json!({"type": "oracle", "conversationId": conversation, "messages": [{"role": "user", "content": "再说说"}]});
        assert_eq!(app.post("/api/chat").token(&token).json(&next).send().await.status, StatusCode::OK);
        assert_eq!(upstream.title_requests().len(), 1);

        // A JSON turn gets its title too, written after the answer.
        let json_turn = json!({"type": "tcm", "locale": "en", "messages": [{"role": "user", "content": "Is ginger warming?"}]});
        upstream.set_titles(Behaviour::reply(TEST_TITLE));
        let body = app.post("/api/chat").token(&token).json(&json_turn).send().await.json();
        let id = body["conversationId"].as_str().unwrap().to_string();
        let db = app.db.clone();
        let titled = async || Conversation::find_by_id(id.clone()).one(&db).await.unwrap().unwrap().title == TEST_TITLE;
        assert!(eventually(Duration::from_secs(5), titled).await);
        assert!(upstream.title_requests()[1].messages()[0].1.contains("English"));
    }

    async fn a_failing_or_disabled_title_model_keeps_the_first_message(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("An answer.")).await;
        upstream.set_titles(Behaviour::Status(500));
        let app = app(backend, &upstream, None).await;
        let token = app.register("plain@example.com").await;
        let request = json!({"type": "oracle", "messages": [{"role": "user", "content": "What   is\nhexagram 2?"}]});
        let response = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&request).send().await;
        let text = response.text();
        assert!(text.contains("event: done") && !text.contains("event: title"), "{text}");
        assert!(!text.contains("event: error"), "a failed title never fails the turn: {text}");
        assert!(!upstream.title_requests().is_empty());
        assert_eq!(title_of(&app).await, ("What is hexagram 2?".to_string(), TitleSource::Message));

        // An empty title is no title either.
        upstream.set_titles(Behaviour::reply(" \"\" "));
        let again = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&request).send().await;
        assert!(!again.text().contains("event: title"));

        let off_upstream = Upstream::start(Behaviour::reply("An answer.")).await;
        let off = app_core_off(backend, &off_upstream).await;
        let token = off.register("off@example.com").await;
        let response = off.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&request).send().await;
        assert!(!response.text().contains("event: title"));
        assert!(off_upstream.title_requests().is_empty(), "titles are off: no request");
        assert_eq!(title_of(&off).await.0, "What is hexagram 2?");
    }

    /// A conversation whose first reply failed is titled after the retry's reply.
    async fn a_retried_first_reply_gets_the_title(backend: Backend) {
        let upstream = Upstream::start(Behaviour::Status(500)).await;
        let app = app(backend, &upstream, None).await;
        let token = app.register("retry@example.com").await;
        let request = json!({"type": "oracle", "messages": [{"role": "user", "content": "first try"}]});
        let failed = app.post("/api/chat").token(&token).json(&request).send().await;
        assert_eq!(failed.assert_error(StatusCode::BAD_GATEWAY), "upstream_error");
        let id = failed.json()["error"]["conversationId"].as_str().unwrap().to_string();
        upstream.set(Behaviour::reply("An answer."));
        let retry = json!({"type": "oracle", "conversationId": id, "messages": [{"role": "user", "content": "first try"}]});
        let response = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&retry).send().await;
        assert!(response.text().contains("event: title"), "{}", response.text());
        assert_eq!(title_of(&app).await, (TEST_TITLE.to_string(), TitleSource::Model));
    }

    /// A rename that comes while the model is still writing the title wins.
    async fn a_renamed_title_is_never_replaced(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("An answer.")).await;
        upstream.set_titles(Behaviour::Reply { pieces: vec!["Too Late".into()], delay: Duration::from_millis(600) });
        let app = app(backend, &upstream, None).await;
        let token = app.register("renamer@example.com").await;
        let body = app.post("/api/chat").token(&token).json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "hi"}]})).send().await.json();
        let id = body["conversationId"].as_str().unwrap();
        let renamed = app.request(Method::PATCH, &format!("/api/chat/conversations/{id}")).token(&token).json(&json!({"title": "Mine"})).send().await;
        assert_eq!(renamed.status, StatusCode::OK);
        // The title model answers (after its delay) and is ignored.
        assert!(eventually(Duration::from_secs(5), async || !upstream.title_requests().is_empty()).await);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(title_of(&app).await, ("Mine".to_string(), TitleSource::User));
    }
}

async fn app_core_off(backend: Backend, upstream: &Upstream) -> TestApp {
    app(backend, upstream, Some("off")).await
}
