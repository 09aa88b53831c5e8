//! What the app counts, made visible, through the real router on SQLite and MariaDB against
//! the test upstream: the caller's quota state follows the real limit (and its window), and the
//! admins' usage report adds up to exactly the traffic each test sends (counted here, by the
//! test, not read back from the tables the report reads).

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures::StreamExt;
use serde_json::Value;
use test_support::{Backend, Behaviour, TestApp, Upstream, both_databases, json};

async fn app(backend: Backend, upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    TestApp::with_upstream(backend, upstream, extra).await
}

fn turn(kind: &str, locale: &str, text: &str) -> Value {
    json!({"type": kind, "locale": locale, "messages": [{"role": "user", "content": text}]})
}

async fn quota(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/chat/quota").token(token).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|text| DateTime::parse_from_rfc3339(text).ok()).expect("an RFC 3339 instant").to_utc()
}

/// Within a millisecond (MySQL keeps microseconds, the JSON may round).
fn about(actual: DateTime<Utc>, expected: DateTime<Utc>) -> bool {
    (actual - expected).abs() < TimeDelta::milliseconds(1)
}

async fn usage(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/api/admin/usage{query}")).token(token).send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

fn period(report: &Value, start: NaiveDate) -> &Value {
    let start = start.to_string();
    report["periods"].as_array().unwrap().iter().find(|period| period["start"] == start.as_str()).expect("the period")
}

fn today(app: &TestApp, offset_hours: i64) -> NaiveDate {
    (app.clock.now() + TimeDelta::hours(offset_hours)).date_naive()
}

both_databases! {
    async fn quota_state_follows_the_limit_and_its_window(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = app(backend, &upstream, &[("CHAT_QUOTA_USER", "3/1h"), ("CHAT_MAX_CONCURRENT_STREAMS", "2")]).await;
        let token = app.register("counted@example.com").await;
        assert_eq!(quota(&app, &token).await, json!({
            "messages": {"used": 0, "limit": 3, "remaining": 3, "windowSeconds": 3600, "nextFreeAt": null},
            "streams": {"inUse": 0, "limit": 2},
        }));

        let first_at = app.clock.now();
        assert_eq!(app.post("/api/chat").token(&token).json(&turn("oracle", "en", "one")).send().await.status, StatusCode::OK);
        app.clock.advance(Duration::from_secs(600));
        let second_at = app.clock.now();
        assert_eq!(app.post("/api/chat").token(&token).json(&turn("oracle", "en", "two")).send().await.status, StatusCode::OK);
        let state = quota(&app, &token).await;
        assert_eq!((state["messages"]["used"].as_u64(), state["messages"]["remaining"].as_u64()), (Some(2), Some(1)));
        // The window frees its next message when the first one leaves it, an hour after it.
        let next = instant(&state["messages"]["nextFreeAt"]);
        assert!(about(next, first_at + TimeDelta::hours(1)), "{next} vs {first_at}");

        assert_eq!(app.post("/api/chat").token(&token).json(&turn("oracle", "en", "three")).send().await.status, StatusCode::OK);
        assert_eq!(quota(&app, &token).await["messages"]["remaining"], 0);
        // The fourth is refused, and a refused turn counts nothing.
        let refused = app.post("/api/chat").token(&token).json(&turn("oracle", "en", "four")).send().await;
        assert_eq!(refused.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert_eq!(quota(&app, &token).await["messages"]["used"], 3, "a refused turn is not counted");

        // Once the first message leaves the window, one is free again and the next follows it.
        app.clock.advance(Duration::from_secs(3000));
        let state = quota(&app, &token).await;
        assert_eq!((state["messages"]["used"].as_u64(), state["messages"]["remaining"].as_u64()), (Some(2), Some(1)));
        let next = instant(&state["messages"]["nextFreeAt"]);
        assert!(about(next, second_at + TimeDelta::hours(1)), "{next} vs {second_at}");
        assert_eq!(app.post("/api/chat").token(&token).json(&turn("oracle", "en", "four")).send().await.status, StatusCode::OK);
    }
}

both_databases! {
    async fn quota_state_without_limits_and_for_admins(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = app(backend, &upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "0")]).await;
        let admin = app.admin_token().await;
        // Admins have no quota by default (CHAT_QUOTA_ADMIN=off); here streams are uncapped.
        assert_eq!(quota(&app, &admin).await, json!({"messages": null, "streams": null}));
        let user = app.register("plain@example.com").await;
        assert_eq!(quota(&app, &user).await["messages"]["limit"], 50, "the default user quota, 50/1d");
        assert_eq!(app.get("/api/chat/quota").send().await.assert_error(StatusCode::UNAUTHORIZED), "missing_token");
    }
}

/// Streams `text` as a new conversation, stops it after its first piece, and reads it to the end.
async fn stopped_turn(app: &TestApp, token: &str, kind: &str, locale: &str, text: &str) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/chat")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(Body::from(turn(kind, locale, text).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        let next = tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("a piece");
        seen.push_str(&String::from_utf8_lossy(&next.expect("more").unwrap()));
    }
    let start = seen.split("\n\n").find(|block| block.starts_with("event: start")).unwrap();
    let start: Value = serde_json::from_str(start.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    let conversation = start["conversationId"].as_str().unwrap();
    let stop = app.post(&format!("/api/chat/conversations/{conversation}/stop")).token(token).send().await;
    assert_eq!(stop.json()["ended"], 1, "{}", stop.text());
    while body.next().await.is_some() {}
}

both_databases! {
    async fn the_usage_report_adds_up_to_the_traffic(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = app(backend, &upstream, &[("CHAT_QUOTA_USER", "off")]).await;
        let admin = app.admin_token().await;
        let ming = app.register("ming@example.com").await;
        let ann = app.register("ann@example.com").await;
        // The test upstream reports 11 prompt tokens and one completion token per piece.
        let tokens_per_reply = 12;

        // Ming: three oracle turns in Chinese. Ann: two tcm turns in English, one the model
        // fails, and one she stops (streamed in two pieces: 11 + 1 tokens are not reported for
        // a stopped reply, whose usage never arrives).
        let mut replies = Vec::new();
        for text in ["问一", "问二", "问三"] {
            let reply = app.post("/api/chat").token(&ming).json(&turn("oracle", "zh-CN", text)).send().await.json();
            replies.push((ming.clone(), reply));
        }
        for text in ["first", "second"] {
            let reply = app.post("/api/chat").token(&ann).json(&turn("tcm", "en", text)).send().await.json();
            replies.push((ann.clone(), reply));
        }
        upstream.set(Behaviour::Status(500));
        let failed = app.post("/api/chat").token(&ann).json(&turn("tcm", "en", "fails")).send().await;
        assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
        upstream.set(Behaviour::pieces(&["part ", "more ", "and more"], Duration::from_millis(400)));
        stopped_turn(&app, &ann, "tcm", "en", "stop me").await;
        upstream.set(Behaviour::reply("an answer"));

        // Feedback: Ming 👍 👍 👎, Ann 👎 (then changed her mind: still one).
        let rate = async |(token, reply): &(String, Value), rating: &str| {
            let path = format!(
                "/api/chat/conversations/{}/messages/{}/feedback",
                reply["conversationId"].as_str().unwrap(),
                reply["messageId"].as_str().unwrap()
            );
            let response = app.request(Method::PUT, &path).token(token).json(&json!({"rating": rating})).send().await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        };
        rate(&replies[0], "up").await;
        rate(&replies[1], "up").await;
        rate(&replies[2], "down").await;
        rate(&replies[3], "up").await;
        rate(&replies[3], "down").await;

        let report = usage(&app, &admin, "").await;
        let day = today(&app, 0);
        assert_eq!(report["bucket"], "day");
        assert_eq!(report["to"], day.to_string());
        assert_eq!(report["periods"].as_array().unwrap().len(), 30);
        let expected_today = json!({
            "start": day.to_string(),
            // 3 + 2 + the failed one + the stopped one.
            "messages": 7,
            "replies": 6,
            "promptTokens": 11 * 5,
            "completionTokens": 5,
            "thinkingTokens": 0,
            "tokens": tokens_per_reply * 5,
            "activeUsers": 2,
            "registrations": 3,
            "stopped": 1,
            "modelErrors": 1,
        });
        assert_eq!(period(&report, day), &expected_today);
        assert_eq!(report["totals"], json!({
            "messages": 7, "replies": 6, "tokens": tokens_per_reply * 5, "thinkingTokens": 0, "activeUsers": 2,
            "registrations": 3, "stopped": 1, "modelErrors": 1,
        }));
        assert_eq!(report["byAssistant"], json!([
            {"start": day.to_string(), "assistant": "oracle", "language": "zh", "messages": 3, "replies": 3, "tokens": tokens_per_reply * 3},
            {"start": day.to_string(), "assistant": "tcm", "language": "en", "messages": 4, "replies": 3, "tokens": tokens_per_reply * 2},
        ]));
        assert_eq!(report["feedback"], json!([
            {"assistant": "oracle", "up": 2, "down": 1},
            {"assistant": "tcm", "up": 0, "down": 1},
        ]));
        let top: Vec<(&str, i64, i64)> = report["topUsers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| (user["email"].as_str().unwrap(), user["tokens"].as_i64().unwrap(), user["messages"].as_i64().unwrap()))
            .collect();
        assert_eq!(top, [("ming@example.com", 36, 3), ("ann@example.com", 24, 4)]);
        assert!(report["topUsers"][0]["userId"].as_str().is_some());
        assert_eq!(report["topUsers"][0]["bannedAt"], Value::Null);

        // Every other day of the range is zero; a day later the new day has its own numbers
        // and yesterday keeps its own.
        let zero_days = report["periods"].as_array().unwrap().iter().filter(|p| p["messages"] == 0 && p["registrations"] == 0).count();
        assert_eq!(zero_days, 29);
        app.clock.advance(Duration::from_secs(24 * 3600));
        app.post("/api/chat").token(&ming).json(&turn("oracle", "en", "next day")).send().await;
        let report = usage(&app, &admin, "").await;
        assert_eq!(period(&report, day), &expected_today);
        let next = period(&report, today(&app, 0));
        assert_eq!((next["messages"].as_i64(), next["activeUsers"].as_i64(), next["registrations"].as_i64()), (Some(1), Some(1), Some(0)));
        assert_eq!(report["totals"]["activeUsers"], 2, "distinct over the range, not summed per day");
        assert_eq!(report["totals"]["messages"], 8);
        let by_assistant = report["byAssistant"].as_array().unwrap();
        assert_eq!(by_assistant.last().unwrap()["language"], "en", "the next day's turn was in English");

        // A range that leaves today out does not count it; by week, the same numbers in one row.
        let yesterday_only = usage(&app, &admin, &format!("?from={day}&to={day}")).await;
        assert_eq!(yesterday_only["periods"].as_array().unwrap().len(), 1);
        assert_eq!(yesterday_only["totals"]["messages"], 7);
        let weekly = usage(&app, &admin, &format!("?from={}&to={}&bucket=week", day - TimeDelta::days(200), today(&app, 0))).await;
        assert_eq!(weekly["bucket"], "week");
        let weeks = weekly["periods"].as_array().unwrap();
        assert!(weeks.iter().all(|week| {
            let start: NaiveDate = week["start"].as_str().unwrap().parse().unwrap();
            start.format("%A").to_string() == "Monday"
        }));
        assert_eq!(weeks.iter().map(|week| week["messages"].as_i64().unwrap()).sum::<i64>(), 8);
        assert_eq!(weekly["totals"]["tokens"], tokens_per_reply * 6);
    }
}

both_databases! {
    async fn the_usage_report_reads_days_in_the_viewers_time_zone(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = app(backend, &upstream, &[]).await;
        // At 23:30 UTC: the turn is on the next day for the viewers east of UTC.
        let now = app.clock.now();
        let next = (now.date_naive() + TimeDelta::days(1)).and_hms_opt(23, 30, 0).unwrap().and_utc();
        app.clock.advance((next - now).to_std().unwrap());
        assert_ne!(today(&app, 8), today(&app, 0));
        let admin = app.admin_token().await;
        let user = app.register("late@example.com").await;
        app.post("/api/chat").token(&user).json(&turn("oracle", "en", "hello")).send().await;
        for offset in [-12, -5, 0, 8, 14] {
            let report = usage(&app, &admin, &format!("?utcOffsetMinutes={}", offset * 60)).await;
            let day = today(&app, offset);
            assert_eq!(report["to"], day.to_string(), "offset {offset}");
            assert_eq!(period(&report, day)["messages"], 1, "offset {offset}: the turn is on the viewer's today");
            assert_eq!(report["totals"]["messages"], 1, "offset {offset}");
        }
        // The viewer's yesterday at +14 does not hold it.
        let local = today(&app, 14);
        let yesterday = local - TimeDelta::days(1);
        let report = usage(&app, &admin, &format!("?from={yesterday}&to={yesterday}&utcOffsetMinutes=840")).await;
        assert_eq!(report["totals"]["messages"], 0);
    }
}

both_databases! {
    async fn the_usage_report_is_for_admins_and_checks_its_range(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token().await;
        let user = app.register("curious@example.com").await;
        assert_eq!(app.get("/api/admin/usage").token(&user).send().await.assert_error(StatusCode::FORBIDDEN), "admin_only");
        assert_eq!(app.get("/api/admin/usage").send().await.assert_error(StatusCode::UNAUTHORIZED), "missing_token");
        for query in [
            "?from=2026-12-02&to=2026-12-01",
            "?from=2025-01-01&to=2026-12-01",
            "?utcOffsetMinutes=330",
            "?utcOffsetMinutes=-780",
        ] {
            let response = app.get(&format!("/api/admin/usage{query}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_range", "{query}");
        }
        for query in ["?from=yesterday", "?bucket=month", "?utcOffsetMinutes=eight"] {
            let response = app.get(&format!("/api/admin/usage{query}")).token(&admin).send().await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "invalid_query", "{query}");
        }
        // A year is fine, by week; an empty database reports zeros, both assistants' feedback.
        let report = usage(&app, &admin, "?from=2025-12-02&to=2026-12-01").await;
        assert_eq!(report["bucket"], "week");
        assert_eq!(report["feedback"], json!([{"assistant": "oracle", "up": 0, "down": 0}, {"assistant": "tcm", "up": 0, "down": 0}]));
        assert_eq!(report["topUsers"], json!([]));
    }
}

both_databases! {
    /// After the limit was lowered (5 counted, limit now 3): all 5 are shown, none left, and
    /// the next message is free once the third-youngest leaves the window (two more must go).
    async fn quota_state_after_the_limit_was_lowered(backend: Backend) {
        use app_core::entities::{RateLimitHit, rate_limit_hit};
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let app = app(backend, &upstream, &[("CHAT_QUOTA_USER", "3/1h")]).await;
        let token = app.register("lowered@example.com").await;
        let user_id = app.get("/api/auth/session").token(&token).send().await.json()["user"]["id"].as_str().unwrap().to_string();
        let start = app.clock.now() - TimeDelta::minutes(50);
        for minute in 0..5 {
            let hit = rate_limit_hit::ActiveModel {
                bucket: Set("chat_messages".into()),
                key: Set(user_id.clone()),
                created_at: Set(start + TimeDelta::minutes(minute * 10)),
                ..Default::default()
            };
            RateLimitHit::insert(hit).exec(&app.db).await.unwrap();
        }
        let state = quota(&app, &token).await;
        assert_eq!((state["messages"]["used"].as_u64(), state["messages"]["remaining"].as_u64()), (Some(5), Some(0)));
        let next = instant(&state["messages"]["nextFreeAt"]);
        assert!(about(next, start + TimeDelta::minutes(20) + TimeDelta::hours(1)), "{next}");
        // And the charge agrees: refused, with a Retry-After until then.
        let refused = app.post("/api/chat").token(&token).json(&turn("oracle", "en", "more")).send().await;
        assert_eq!(refused.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        let retry: i64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((retry - (next - app.clock.now()).num_seconds()).abs() <= 1, "{retry}");
    }
}
