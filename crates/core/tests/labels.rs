//! The label the chat page shows beside generated replies: which model writes them and the
//! operator's disclosure (its filing), from `GET /api/chat/about`, public.

use axum::http::StatusCode;
use test_support::{Behaviour, TestApp, Upstream, both_databases, json};

both_databases! {
    async fn the_page_learns_the_model_and_the_disclosure(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("MODEL_DISCLOSURE", "通义千问 · 网信算备 000000000000000001")]).await;
        let about = app.get("/api/chat/about").send().await;
        assert_eq!(about.status, StatusCode::OK, "{}", about.text());
        assert_eq!(about.json(), json!({"model": "test-model", "disclosure": "通义千问 · 网信算备 000000000000000001"}));

        let bare = TestApp::spawn(backend).await;
        assert_eq!(bare.get("/api/chat/about").send().await.json(), json!({"model": null, "disclosure": null}));
    }
}
