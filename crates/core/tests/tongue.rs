//! The tongue photo (issue 27), through the real router on SQLite and MariaDB against the test
//! model and S3 server: it needs the health consent; before the reply the tongue model is asked
//! what the photo shows (once), and only its categories are kept; the TCM model gets the
//! observations, framed as observation, with the constitution self-assessment beside them; the
//! history and the export carry them; a tongue photo is for the TCM adviser only; a failed
//! observation leaves the reply to the photo alone; withdrawing the consent with its
//! conversations deletes the photos.

use app_core::entities::Attachment;
use axum::http::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;
use test_support::{
    Backend, Behaviour, TestApp, Upstream, both_databases, json,
    pictures::{PNG, after_the_forms_expired, post_form},
    s3::S3Server,
};

async fn app(backend: Backend, upstream: &Upstream, server: &S3Server) -> TestApp {
    TestApp::with_env(backend, |env| {
        upstream.configure(env);
        server.configure(env);
        env.insert("CHAT_TITLE_MODEL".into(), "off".into());
        env.insert("HEALTH_CONSENT".into(), "required".into());
    })
    .await
}

/// Asks for a tongue photo's form and uploads it: the picture's id.
async fn tongue_photo(app: &TestApp, token: &str) -> String {
    let asked = app
        .post("/api/attachments")
        .token(token)
        .json(&json!({"contentType": "image/png", "size": PNG.len(), "purpose": "tongue"}))
        .send()
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let asked = asked.json();
    assert_eq!(asked["attachment"]["purpose"], "tongue");
    let (status, body) = post_form(app, &asked["upload"], PNG, "image/png").await;
    assert!((200..300).contains(&status), "{status} {body}");
    asked["attachment"]["id"].as_str().unwrap().to_string()
}

fn turn(kind: &str, text: &str, attachments: &[&str]) -> Value {
    json!({"type": kind, "locale": "en", "messages": [{"role": "user", "content": text}], "attachments": attachments})
}

/// A constitution self-assessment of the person's (every answer "sometimes").
async fn assessment(app: &TestApp, token: &str) {
    let questionnaire = app.get("/api/constitution/questionnaire").send().await.json();
    let body = test_support::all_sometimes(&questionnaire);
    let submitted = app.post("/api/constitution/assessments").token(token).json(&body).send().await;
    assert_eq!(submitted.status, StatusCode::CREATED, "{}", submitted.text());
}

both_databases! {
    async fn the_tongue_photo_is_observed_and_the_adviser_relates_it(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Your tongue looks a little pale.")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server).await;
        let token = app.register("tongue@example.com").await;

        // Health information: not without the consent.
        let refused = app.post("/api/attachments").token(&token)
            .json(&json!({"contentType": "image/png", "size": PNG.len(), "purpose": "tongue"})).send().await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "consent_required");
        assert_eq!(app.post("/api/account/health-consent").token(&token).send().await.status, StatusCode::OK);
        assessment(&app, &token).await;

        let photo = tongue_photo(&app, &token).await;
        // For the TCM adviser only, and observed only for a turn that is placed.
        let oracle = app.post("/api/chat").token(&token).json(&turn("oracle", "My tongue", &[&photo])).send().await;
        assert_eq!(oracle.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "tongue_photo_not_tcm");
        let oracle_conversation = app.post("/api/chat").token(&token).json(&turn("oracle", "A question", &[])).send().await;
        let oracle_conversation = oracle_conversation.json()["conversationId"].as_str().unwrap().to_string();
        let mut into_oracle = turn("tcm", "My tongue", &[&photo]);
        into_oracle["conversationId"] = json!(oracle_conversation);
        let refused = app.post("/api/chat").token(&token).json(&into_oracle).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "conversation_type_mismatch");
        assert!(upstream.tongue_requests().is_empty(), "nothing was observed for a refused turn");

        let answered = app.post("/api/chat").token(&token).json(&turn("tcm", "Here is my tongue", &[&photo])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();

        // The tongue model saw the photo, asked for observations only.
        let observed = upstream.tongue_requests();
        assert_eq!(observed.len(), 1);
        assert_eq!(observed[0].pictures().concat().len(), 1);
        let instructions = &observed[0].messages()[0].1;
        assert!(instructions.contains("do not diagnose") && instructions.contains("bodyColour"), "{instructions}");
        // The TCM model got the photo and the observations, beside the constitution.
        let asked = upstream.received().last().unwrap().clone();
        let system = &asked.messages()[0].1;
        assert!(system.contains("The person's tongue photo") && system.contains("body colour pale"), "{system}");
        assert!(system.contains("shape swollen") && system.contains("not a diagnosis"));
        assert!(system.contains("constitution self-assessment"), "the constitution is there to relate them to");
        assert_eq!(asked.pictures().concat().len(), 1);

        // The history shows them under the photo; the export lists them.
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let seen = &detail["messages"][0]["attachments"][0]["observations"];
        assert_eq!(seen["bodyColour"], "pale");
        assert_eq!(seen["coatingColour"], "white");
        assert_eq!(seen["toothMarks"], "slight");
        assert!(seen.get("notes").is_none(), "nothing but the categories is kept: {seen}");
        let export = app.get("/api/account/export").token(&token).send().await.json();
        assert_eq!(export["data"]["attachments"][0]["observations"]["shape"], "swollen");

        // The next turn reads the kept observations: the photo is not observed again.
        let body = json!({"type": "tcm", "locale": "en", "conversationId": conversation,
            "messages": [{"role": "user", "content": "What should I eat?"}]});
        assert_eq!(app.post("/api/chat").token(&token).json(&body).send().await.status, StatusCode::OK);
        assert_eq!(upstream.tongue_requests().len(), 1);
        assert!(upstream.received().last().unwrap().messages()[0].1.contains("body colour pale"));

        // An unsent tongue photo, and the sent one: withdrawing the consent with the TCM
        // conversations deletes both, objects included.
        tongue_photo(&app, &token).await;
        assert_eq!(server.keys().len(), 2);
        let withdrawn = app.delete("/api/account/health-consent?deleteConversations=true").token(&token).send().await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text());
        assert!(server.keys().is_empty(), "{:?}", server.keys());
        after_the_forms_expired(&app).await;
        assert_eq!(Attachment::find().count(&app.db).await.unwrap(), 0);
    }

    /// What the tongue model says is kept only as its categories; when it fails, the reply is
    /// written from the photo alone (no observations, nothing refused).
    async fn a_failed_or_wayward_observation(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A reply.")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server).await;
        let token = app.register("wayward@example.com").await;
        assert_eq!(app.post("/api/account/health-consent").token(&token).send().await.status, StatusCode::OK);

        upstream.set_tongue(Behaviour::Status(500));
        let photo = tongue_photo(&app, &token).await;
        let answered = app.post("/api/chat").token(&token).json(&turn("tcm", "My tongue", &[&photo])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let system = upstream.received().last().unwrap().messages()[0].1.clone();
        assert!(!system.contains("tongue photo"), "no observations, no section");
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        assert!(detail["messages"][0]["attachments"][0].get("observations").is_none());

        upstream.set_tongue(Behaviour::reply(
            "{\"usable\": true, \"bodyColour\": \"purple\", \"cracks\": \"yin deficiency, see a doctor\", \"shape\": \"<b>swollen</b>\"}",
        ));
        let photo = tongue_photo(&app, &token).await;
        let answered = app.post("/api/chat").token(&token).json(&turn("tcm", "Again", &[&photo])).send().await;
        assert_eq!(answered.status, StatusCode::OK);
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let seen = &detail["messages"][0]["attachments"][0]["observations"];
        assert_eq!(seen["bodyColour"], "purple");
        assert_eq!(seen["cracks"], "unclear", "a diagnosis is no category");
        assert_eq!(seen["shape"], "unclear");

        // Withdrawing the consent, conversations kept: the sent photos stay with them, an unsent
        // one goes (health information with no use now).
        let unsent = tongue_photo(&app, &token).await;
        assert_eq!(server.keys().len(), 3);
        let withdrawn = app.delete("/api/account/health-consent").token(&token).send().await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text());
        let left = server.keys();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.iter().all(|key| key.contains("/sent/") && !key.contains(&unsent)), "{left:?}");
    }
}
