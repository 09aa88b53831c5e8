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
        assert_eq!(about.json(), json!({"model": "test-model", "disclosure": "通义千问 · 网信算备 000000000000000001",
            "termsVersion": null, "healthConsent": "off", "reportResponseDays": 7, "thinking": "off", "thinkingModel": null,
            "pictures": {"maxBytes": 5_000_000, "maxPerMessage": 4, "quotaBytes": 200_000_000,
                "types": ["image/jpeg", "image/png", "image/webp"]},
            "visionModel": "test-model"}));

        let bare = TestApp::spawn(backend).await;
        assert_eq!(bare.get("/api/chat/about").send().await.json()["model"], json!(null));
        assert_eq!(bare.get("/api/chat/about").send().await.json()["disclosure"], json!(null));
    }
}

both_databases! {
    /// Every download that holds generated text carries GB 45438's implicit label: on the file
    /// (JSON) and on every reply the model wrote (JSON and NDJSON; the admin's and the owner's).
    async fn exports_carry_the_implicit_label_on_every_reply(backend: Backend) {
        use sha2::{Digest, Sha256};
        let upstream = Upstream::start(Behaviour::reply("Warm millet porridge.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("SERVICE_PROVIDER", "91110000TEST00001X")]).await;
        let token = app.register("reader@example.com").await;
        let reply = app.post("/api/chat").token(&token).json(&json!({"type": "tcm", "locale": "en", "messages": [
            {"role": "assistant", "content": "brought from elsewhere"}, {"role": "user", "content": "What for breakfast?"}
        ]})).send().await.json();
        let reply_id = reply["messageId"].as_str().unwrap().to_string();
        let admin = app.admin_token().await;
        let digest = hex::encode(Sha256::digest("Warm millet porridge.".as_bytes()));
        let expected = json!({"Label": "1", "ContentProducer": "91110000TEST00001X", "ProduceID": reply_id,
            "ReservedCode1": digest, "ContentPropagator": "91110000TEST00001X", "PropagateID": reply_id, "ReservedCode2": ""});

        for (path, token) in [("/api/admin/export?format=json", &admin), ("/api/account/export?format=json", &token)] {
            let document: serde_json::Value = serde_json::from_str(&app.get(path).token(token).send().await.text()).unwrap();
            assert_eq!(document["AIGC"]["Label"], "1", "{path}");
            assert_eq!(document["AIGC"]["ContentProducer"], "91110000TEST00001X");
            let messages = document["data"]["messages"].as_array().unwrap();
            let labelled: Vec<&serde_json::Value> = messages.iter().filter(|m| m.get("AIGC").is_some()).collect();
            assert_eq!(labelled.len(), 1, "only the model's reply is labelled, not the user's words nor the brought reply: {messages:?}");
            assert_eq!(labelled[0]["AIGC"], expected);
        }
        let ndjson = app.get("/api/admin/export?format=ndjson").token(&admin).send().await.text();
        let lines: Vec<serde_json::Value> = ndjson.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let reply_line = lines.iter().find(|line| line["data"]["id"] == reply_id.as_str()).unwrap();
        assert_eq!(reply_line["data"]["AIGC"], expected);
    }
}
