//! Searching your own conversations through the real router, on SQLite and MariaDB: Chinese by
//! substring, English without regard to case, `%` `_` `!` taken literally, titles and every
//! version of every message, newest first in pages, a snippet around each match, and never
//! anyone else's conversations.

use axum::http::StatusCode;
use serde_json::Value;
use test_support::{Behaviour, TestApp, Upstream, both_databases, json};

async fn conversation(
    app: &TestApp,
    upstream: &Upstream,
    token: &str,
    question: &str,
    reply: &str,
) -> (String, String) {
    upstream.set(Behaviour::reply(reply));
    let body = json!({"type": "tcm", "locale": "zh", "messages": [{"role": "user", "content": question}]});
    let response = app.post("/api/chat").token(token).json(&body).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = response.json();
    (json["conversationId"].as_str().unwrap().into(), json["messageId"].as_str().unwrap().into())
}

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/api/chat/search?{query}")).token(token).send().await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {}", response.text());
    response.json()
}

fn q(text: &str) -> String {
    format!("q={}", urlencode(text))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The conversation ids of the hits, in order.
fn ids(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["conversation"]["id"].as_str().unwrap().to_string())
        .collect()
}

both_databases! {
    async fn finds_chinese_and_english_text_in_the_callers_conversations_only(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let me = app.register("searcher@example.com").await;
        let other = app.register("neighbour@example.com").await;
        let (sleep, _) = conversation(&app, &upstream, &me, "最近总是失眠，怎么办？", "可以试试睡前泡脚，保持作息规律。").await;
        let (hexagram, hexagram_reply) = conversation(&app, &upstream, &me, "What does the Hexagram of Peace say?", "Heaven below, EARTH above: harmony.").await;
        let (_theirs, _) = conversation(&app, &upstream, &other, "我也失眠 hexagram", "同样的问题").await;

        // Chinese by substring, in the question or the reply; the other user's never.
        assert_eq!(ids(&search(&app, &me, &q("失眠")).await), vec![sleep.clone()]);
        assert_eq!(ids(&search(&app, &me, &q("泡脚")).await), vec![sleep.clone()]);
        assert_eq!(ids(&search(&app, &me, &q("眠")).await), vec![sleep.clone()], "one character");
        assert_eq!(ids(&search(&app, &other, &q("失眠")).await).len(), 1);
        assert_ne!(ids(&search(&app, &other, &q("失眠")).await), vec![sleep.clone()]);
        // English whatever the case, in the title too.
        for text in ["hexagram", "HEXAGRAM", "HeXaGrAm of peace", "earth above"] {
            assert_eq!(ids(&search(&app, &me, &q(text)).await), vec![hexagram.clone()], "{text}");
        }
        assert_eq!(ids(&search(&app, &me, &q("no such words")).await), Vec::<String>::new());

        // The hit: the title matched, how many messages, and the newest with its snippet.
        let results = search(&app, &me, &q("earth")).await;
        let hit = &results["hits"][0];
        assert_eq!(hit["titleMatch"], false);
        assert_eq!(hit["matches"], 1);
        assert_eq!(hit["message"]["id"], hexagram_reply.as_str());
        assert_eq!(hit["message"]["role"], "assistant");
        assert_eq!((hit["message"]["before"].as_str(), hit["message"]["match"].as_str(), hit["message"]["after"].as_str()),
            (Some("Heaven below, "), Some("EARTH"), Some(" above: harmony.")));
        let results = search(&app, &me, &q("hexagram")).await;
        assert_eq!(results["hits"][0]["titleMatch"], true);
        assert_eq!(results["hits"][0]["message"]["role"], "user", "the reply does not say it: the question is the newest match");
        assert_eq!(results["hits"][0]["conversation"]["type"], "tcm");
        assert_eq!(results["nextCursor"], Value::Null);
    }
}

both_databases! {
    async fn like_wildcards_are_plain_characters(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let me = app.register("literal@example.com").await;
        let (percent, _) = conversation(&app, &upstream, &me, "I am 100% sure", "ok").await;
        let (underscore, _) = conversation(&app, &upstream, &me, "snake_case names", "ok").await;
        let (bang, _) = conversation(&app, &upstream, &me, "wow! really", "ok").await;
        let (_plain, _) = conversation(&app, &upstream, &me, "100 percent, snakecase, wow really", "ok").await;
        assert_eq!(ids(&search(&app, &me, &q("100%")).await), vec![percent.clone()]);
        assert_eq!(ids(&search(&app, &me, &q("%")).await), vec![percent]);
        assert_eq!(ids(&search(&app, &me, &q("e_c")).await), vec![underscore.clone()]);
        assert_eq!(ids(&search(&app, &me, &q("_")).await), vec![underscore]);
        assert_eq!(ids(&search(&app, &me, &q("wow!")).await), vec![bang.clone()]);
        assert_eq!(ids(&search(&app, &me, &q("!")).await), vec![bang]);
        assert_eq!(ids(&search(&app, &me, &q("'; DROP TABLE messages; --")).await), Vec::<String>::new());
        assert_eq!(search(&app, &me, &q("ok")).await["hits"].as_array().unwrap().len(), 4, "the table is still there");
    }
}

both_databases! {
    async fn pages_go_newest_first_and_versions_are_searched(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let me = app.register("pager@example.com").await;
        let mut made = Vec::new();
        for n in 0..5 {
            app.clock.advance(std::time::Duration::from_secs(60));
            made.push(conversation(&app, &upstream, &me, &format!("question {n} about qi"), "a reply").await.0);
        }
        let newest_first: Vec<String> = made.iter().rev().cloned().collect();
        let first = search(&app, &me, &format!("{}&limit=2", q("qi"))).await;
        assert_eq!(ids(&first), newest_first[..2]);
        let cursor = first["nextCursor"].as_str().unwrap().to_string();
        let second = search(&app, &me, &format!("{}&limit=2&cursor={cursor}", q("qi"))).await;
        assert_eq!(ids(&second), newest_first[2..4]);
        let third = search(&app, &me, &format!("{}&limit=2&cursor={}", q("qi"), second["nextCursor"].as_str().unwrap())).await;
        assert_eq!(ids(&third), newest_first[4..]);
        assert_eq!(third["nextCursor"], Value::Null);

        // An edited message: the original text is a version off the branch, and still found.
        let detail = app.get(&format!("/api/chat/conversations/{}", made[0])).token(&me).send().await.json();
        let question = detail["messages"][0]["id"].as_str().unwrap().to_string();
        let edit = format!("/api/chat/conversations/{}/messages/{question}/edit", made[0]);
        let edited = app.post(&edit).token(&me).json(&json!({"content": "rewritten entirely"})).send().await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
        let old = search(&app, &me, &q("question 0")).await;
        assert_eq!(ids(&old), vec![made[0].clone()]);
        assert_eq!(old["hits"][0]["message"]["id"], question.as_str());
        let new = search(&app, &me, &q("rewritten")).await;
        assert_eq!(ids(&new), vec![made[0].clone()]);
        // Its title (cut from the first question) and that original question say "about qi".
        let qi = search(&app, &me, &q("about qi")).await;
        let hit = qi["hits"].as_array().unwrap().iter().find(|hit| hit["conversation"]["id"] == made[0].as_str()).unwrap();
        assert_eq!((hit["titleMatch"].as_bool(), hit["matches"].as_u64()), (Some(true), Some(1)));
    }
}

both_databases! {
    async fn bad_queries_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let me = app.register("typo@example.com").await;
        for query in ["q=", "q=%20%20", &q(&"长".repeat(101))] {
            let response = app.get(&format!("/api/chat/search?{query}")).token(&me).send().await;
            assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_query", "{query}");
        }
        assert_eq!(search(&app, &me, &q(&"长".repeat(100))).await["hits"], json!([]));
        for query in ["", "q=a&cursor=not-a-cursor", "q=a&limit=0", "q=a&limit=101"] {
            let response = app.get(&format!("/api/chat/search?{query}")).token(&me).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "{query}");
        }
        assert_eq!(app.get("/api/chat/search?q=a").send().await.status, StatusCode::UNAUTHORIZED);
    }
}
