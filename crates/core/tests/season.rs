//! The season reaches the TCM adviser and the site (issue 25): the solar term now, computed.

use axum::http::StatusCode;
use test_support::{Behaviour, TestApp, Upstream, both_databases, json};

both_databases! {
    async fn the_tcm_adviser_and_the_page_know_the_solar_term(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Keep warm.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let expected = app_core::season::at(app.clock.now());
        let season = app.get("/api/chat/season").send().await;
        assert_eq!(season.status, StatusCode::OK, "public: {}", season.text());
        let body = season.json();
        assert_eq!(body["current"]["name"], expected.current.name.as_str());
        assert_eq!(body["next"]["english"], expected.next.english.as_str());
        let (current, next): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = (
            body["current"]["startsAt"].as_str().unwrap().parse().unwrap(),
            body["next"]["startsAt"].as_str().unwrap().parse().unwrap(),
        );
        assert!(current <= app.clock.now() && app.clock.now() < next, "{body}");

        let token = app.register("patient@example.com").await;
        for (kind, told) in [("tcm", true), ("oracle", false)] {
            let turn = app.post("/api/chat").token(&token)
                .json(&json!({"type": kind, "locale": "en", "messages": [{"role": "user", "content": "What suits this time of year?"}]}))
                .send().await;
            assert_eq!(turn.status, StatusCode::OK, "{}", turn.text());
            let system = upstream.received().last().unwrap().messages()[0].1.clone();
            let note = app_core::season::prompt_note(app.clock.now(), app_core::language::Language::English);
            assert_eq!(system.ends_with(&note), told, "{kind}: {system}");
        }
    }
}
