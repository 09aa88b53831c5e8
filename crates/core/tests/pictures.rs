//! Pictures (issue 27), through the real router on SQLite and MariaDB, against an S3-compatible
//! server of the tests' own (`s3s-fs`, which checks signatures and upload policies) and the test
//! model, and against the local directory (`make dev`'s default). What is asserted: the upload
//! form takes only what it was issued for; a turn is accepted only with pictures that are
//! there, of their declared type and size, and the caller's; the model (the vision model) gets
//! links that really read the picture; the history shows them; they are deleted, objects too,
//! with their conversation or account, or alone before they are sent; the account's export
//! lists them; the storage quota holds under a burst.

use std::time::Duration;

use app_core::entities::{Attachment, Message};
use axum::http::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;
use test_support::{
    Backend, Behaviour, TestApp, Upstream, both_databases, json,
    moderation::ModerationServer,
    pictures::{JPEG, PNG, WEBP, after_the_forms_expired, ask, fetch, post_form, upload},
    s3::S3Server,
};

const VISION: &str = "test-vision-model";

async fn app(backend: Backend, upstream: &Upstream, server: &S3Server, extra: &[(&str, &str)]) -> TestApp {
    TestApp::with_env(backend, |env| {
        upstream.configure(env);
        server.configure(env);
        env.insert("CHAT_TITLE_MODEL".into(), "off".into());
        env.insert("CHAT_VISION_MODEL".into(), VISION.into());
        for (name, value) in extra {
            env.insert(name.to_string(), value.to_string());
        }
    })
    .await
}

fn turn(text: &str, attachments: &[&str]) -> Value {
    json!({"type": "tcm", "locale": "en", "messages": [{"role": "user", "content": text}], "attachments": attachments})
}

/// How many files are under `dir` (in its subdirectories too).
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| if entry.path().is_dir() { files_under(&entry.path()) } else { 1 })
        .sum()
}

fn key_of(server: &S3Server, id: &str) -> String {
    server.keys().into_iter().find(|key| key.contains(id)).unwrap_or_else(|| panic!("no object for {id}"))
}

both_databases! {
    /// The whole way: a form, the upload straight to the bucket, the turn naming the picture,
    /// the vision model given a link that reads it, the history showing it (and the next turn
    /// showing it to the model again), the export listing it; the conversation's deletion
    /// deletes the object.
    async fn a_picture_goes_from_the_browser_to_the_model_and_back(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A pale tongue, a thin white coating.")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server, &[("HEALTH_CONSENT", "off")]).await;
        let token = app.register("pictures@example.com").await;

        let about = app.get("/api/chat/about").send().await.json();
        assert_eq!(about["pictures"]["maxPerMessage"], 4);
        assert_eq!(about["pictures"]["maxBytes"], 5_000_000);
        assert_eq!(about["visionModel"], VISION);

        let asked = ask(&app, &token, "image/png", PNG.len()).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
        let asked = asked.json();
        // The form posts to the bucket itself, never through the app.
        assert!(asked["upload"]["url"].as_str().unwrap().starts_with(&server.origin), "{asked}");
        let id = asked["attachment"]["id"].as_str().unwrap().to_string();
        let (status, body) = post_form(&app, &asked["upload"], PNG, "image/png").await;
        assert!((200..300).contains(&status), "{status} {body}");
        let key = key_of(&server, &id);
        assert!(key.starts_with("chat-img/") && key.ends_with(".png"), "{key}");
        let second = upload(&app, &token, "image/jpeg", JPEG).await;

        let answered = app.post("/api/chat").token(&token).json(&turn("What do you see?", &[&id, &second])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();

        // The vision model got both pictures, before the text, as links that read them.
        let received = upstream.received();
        let request = received.last().unwrap();
        assert_eq!(request.model(), VISION);
        let pictures = request.pictures();
        let shown = pictures.last().unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(request.messages().last().unwrap().1, "What do you see?");
        assert_eq!(fetch(&app, &shown[0]).await, (200, PNG.to_vec()));
        assert_eq!(fetch(&app, &shown[1]).await, (200, JPEG.to_vec()));

        // The history shows them under the message, with links that read them.
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let message = &detail["messages"][0];
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 2);
        assert_eq!(attachments[0]["id"], id.as_str());
        assert_eq!(attachments[0]["contentType"], "image/png");
        assert_eq!(attachments[0]["size"], PNG.len());
        assert_eq!(fetch(&app, attachments[0]["url"].as_str().unwrap()).await, (200, PNG.to_vec()));
        assert!(detail["messages"][1]["attachments"].as_array().unwrap().is_empty());

        // The next turn, text only, still shows the model the pictures of its branch.
        let body = json!({"type": "tcm", "locale": "en", "conversationId": conversation,
            "messages": [{"role": "user", "content": "And the coating?"}]});
        let again = app.post("/api/chat").token(&token).json(&body).send().await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        let request = upstream.received().last().unwrap().clone();
        assert_eq!(request.model(), VISION);
        assert_eq!(request.pictures().iter().map(Vec::len).sum::<usize>(), 2);

        // The account's export lists them.
        let export = app.get("/api/account/export").token(&token).send().await.json();
        let listed = export["data"]["attachments"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.iter().all(|row| row["conversationId"] == conversation.as_str()));

        // Deleting the conversation deletes the pictures, objects included.
        let deleted = app.delete(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert!(server.keys().is_empty(), "left: {:?}", server.keys());
        // Their rows go once their forms expired (until then a form could upload again).
        after_the_forms_expired(&app).await;
        assert_eq!(Attachment::find().count(&app.db).await.unwrap(), 0);
    }

    /// What the bucket refuses (the policy: another size, type or key; a forged signature), and
    /// what the turn refuses (a picture not uploaded, not an image of its type, someone else's,
    /// sent already, too many): the turn then saves nothing.
    async fn what_is_refused(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server, &[("HEALTH_CONSENT", "off"), ("ATTACHMENT_MAX_BYTES", "1000")]).await;
        let token = app.register("refused@example.com").await;

        // The form is asked for a type and a size it accepts.
        assert_eq!(ask(&app, &token, "image/gif", 10).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "unsupported_picture_type");
        assert_eq!(ask(&app, &token, "image/png", 1001).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "picture_too_large");
        assert_eq!(ask(&app, &token, "image/png", 0).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "empty_picture");
        let bad = app.post("/api/attachments").token(&token).json(&json!({"contentType": "image/png"})).send().await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());

        // The bucket takes no more than the form was issued for…
        let asked = ask(&app, &token, "image/png", PNG.len()).await.json();
        let bigger = [PNG, b"and more"].concat();
        let (status, _) = post_form(&app, &asked["upload"], &bigger, "image/png").await;
        assert!((400..500).contains(&status), "{status}");
        // …nor under another key, or with a forged signature.
        for (name, value) in [("key", "chat-img/elsewhere.png"), ("x-amz-signature", &"0".repeat(64)[..])] {
            let mut upload = asked["upload"].clone();
            for field in upload["fields"].as_array_mut().unwrap() {
                if field["name"] == name {
                    field["value"] = json!(value);
                }
            }
            let (status, _) = post_form(&app, &upload, PNG, "image/png").await;
            assert!((400..500).contains(&status), "{name}: {status}");
        }
        assert!(server.keys().is_empty(), "{:?}", server.keys());
        // Not uploaded: the turn is refused, and nothing of it saved.
        let not_there = asked["attachment"]["id"].as_str().unwrap();
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &[not_there])).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "picture_not_uploaded");

        // Not the image its form said: the first bytes tell.
        let asked = ask(&app, &token, "image/png", 20).await.json();
        let (status, _) = post_form(&app, &asked["upload"], b"<svg>not a png</svg>", "image/png").await;
        assert!((200..300).contains(&status));
        let fake = asked["attachment"]["id"].as_str().unwrap();
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &[fake])).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "picture_not_an_image");

        // Someone else's picture is no picture of the caller's.
        let other = app.register("other@example.com").await;
        let theirs = upload(&app, &other, "image/webp", WEBP).await;
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &[&theirs])).send().await;
        assert_eq!(refused.assert_error(StatusCode::NOT_FOUND), "not_found");
        assert_eq!(app.delete(&format!("/api/attachments/{theirs}")).token(&token).send().await.status, StatusCode::NOT_FOUND);

        // At most four, each once.
        let five: Vec<String> = (0..5).map(|n| format!("id{n}")).collect();
        let five: Vec<&str> = five.iter().map(String::as_str).collect();
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &five)).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "too_many_pictures");
        let mine = upload(&app, &token, "image/png", PNG).await;
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &[&mine, &mine])).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "duplicate_picture");
        assert_eq!(Message::find().count(&app.db).await.unwrap(), 0, "no refused turn saved a message");

        // A turn refused after its pictures were checked (no such conversation) gives them back:
        // sent again at once, they go.
        let mut nowhere = turn("Look", &[&mine]);
        nowhere["conversationId"] = json!("no-such-conversation");
        let refused = app.post("/api/chat").token(&token).json(&nowhere).send().await;
        assert_eq!(refused.assert_error(StatusCode::NOT_FOUND), "not_found");

        // Sent once; sent again with another message: refused, and that turn saves nothing.
        let first = app.post("/api/chat").token(&token).json(&turn("Look", &[&mine])).send().await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text());
        let again = app.post("/api/chat").token(&token).json(&turn("Look again", &[&mine])).send().await;
        assert_eq!(again.assert_error(StatusCode::CONFLICT), "attachment_in_use");
        assert_eq!(Message::find().count(&app.db).await.unwrap(), 2);
        // A sent picture goes with its conversation, not alone.
        let refused = app.delete(&format!("/api/attachments/{mine}")).token(&token).send().await;
        assert_eq!(refused.assert_error(StatusCode::CONFLICT), "attachment_sent");
    }

    /// The storage quota counts a form's bytes from its issue, frees them when an unsent
    /// picture is deleted (its object too), and holds exactly under a burst.
    async fn the_storage_quota(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let server = S3Server::start("pictures").await;
        let extra = [("ATTACHMENT_MAX_BYTES", "1000"), ("ATTACHMENT_QUOTA_BYTES", "5000")];
        let app = app(backend, &upstream, &server, &extra).await;
        let token = app.register("quota@example.com").await;

        // Twenty requests of 1000 bytes at once: exactly five get a form.
        let asks = (0..20).map(|_| ask(&app, &token, "image/png", 1000));
        let answers = futures::future::join_all(asks).await;
        let issued: Vec<&test_support::TestResponse> =
            answers.iter().filter(|answer| answer.status == StatusCode::CREATED).collect();
        assert_eq!(issued.len(), 5);
        for answer in answers.iter().filter(|answer| answer.status != StatusCode::CREATED) {
            assert_eq!(answer.assert_error(StatusCode::FORBIDDEN), "storage_full");
        }
        // Deleting an unsent one (uploaded: its object goes too) makes room for one more.
        let unsent = issued[0].json();
        let (status, _) = post_form(&app, &unsent["upload"], PNG, "image/png").await;
        assert!((200..300).contains(&status));
        assert_eq!(server.keys().len(), 1);
        let id = unsent["attachment"]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/api/attachments/{id}")).token(&token).send().await.status, StatusCode::NO_CONTENT);
        assert!(server.keys().is_empty());
        assert_eq!(ask(&app, &token, "image/png", 1000).await.status, StatusCode::CREATED);
        assert_eq!(ask(&app, &token, "image/png", 1).await.assert_error(StatusCode::FORBIDDEN), "storage_full");
        // Another person has their own quota.
        let other = app.register("quota-other@example.com").await;
        assert_eq!(ask(&app, &other, "image/png", 1000).await.status, StatusCode::CREATED);

        // An unsent picture is deleted a day after its form: its bytes count no more.
        app.clock.advance(Duration::from_secs(25 * 3600));
        app_core::attachments::forget::sweep(&app.state).await;
        assert_eq!(ask(&app, &token, "image/png", 1000).await.status, StatusCode::CREATED);
    }

    /// The account's deletion deletes its pictures, sent and unsent, objects included.
    async fn deleted_with_the_account(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server, &[("HEALTH_CONSENT", "off")]).await;
        let token = app.register("leaving@example.com").await;
        let sent = upload(&app, &token, "image/png", PNG).await;
        let answered = app.post("/api/chat").token(&token).json(&turn("Look", &[&sent])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        upload(&app, &token, "image/jpeg", JPEG).await;
        let stays = app.register("staying@example.com").await;
        upload(&app, &stays, "image/webp", WEBP).await;
        assert_eq!(server.keys().len(), 3);

        let deleted = app.post("/api/account/delete").token(&token).json(&json!({"password": test_support::PASSWORD})).send().await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        let left = server.keys();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].ends_with(".webp"));
        after_the_forms_expired(&app).await;
        assert_eq!(Attachment::find().count(&app.db).await.unwrap(), 1);
    }

    /// `make dev`'s default: the local directory, behind the same interface. The form posts to
    /// the app, holds only as signed, and the model is given the picture itself.
    async fn the_local_directory(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let dir = std::env::temp_dir().join(format!("pictures-{}", uuid::Uuid::new_v4()));
        let dir_text = dir.to_string_lossy().to_string();
        let app = TestApp::with_upstream(backend, &upstream, &[
            ("STORAGE_DIR", &dir_text), ("HEALTH_CONSENT", "off"), ("ATTACHMENT_MAX_BYTES", "1000"),
        ]).await;
        let token = app.register("local@example.com").await;

        let asked = ask(&app, &token, "image/png", PNG.len()).await.json();
        assert_eq!(asked["upload"]["url"], "/api/attachments/local-upload");
        // Tampered, or larger than signed: refused, nothing stored.
        let mut tampered = asked["upload"].clone();
        for field in tampered["fields"].as_array_mut().unwrap() {
            if field["name"] == "max" {
                field["value"] = json!("1000");
            }
        }
        assert_eq!(post_form(&app, &tampered, PNG, "image/png").await.0, 403);
        // Only the fields it was issued with: another one is refused before anything is kept.
        let mut extra = asked["upload"].clone();
        extra["fields"].as_array_mut().unwrap().insert(0, json!({"name": "padding", "value": "x".repeat(3000)}));
        assert_eq!(post_form(&app, &extra, PNG, "image/png").await.0, 400);
        assert_eq!(post_form(&app, &asked["upload"], &[PNG, b"more"].concat(), "image/png").await.0, 413);
        assert_eq!(files_under(&dir), 0);
        assert_eq!(post_form(&app, &asked["upload"], PNG, "image/png").await.0, 204);
        let id = asked["attachment"]["id"].as_str().unwrap();

        let answered = app.post("/api/chat").token(&token).json(&turn("Look", &[id])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let pictures = upstream.received().last().unwrap().pictures();
        let shown = pictures.last().unwrap();
        assert!(shown[0].starts_with("data:image/png;base64,"));
        assert_eq!(fetch(&app, &shown[0]).await, (200, PNG.to_vec()));

        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let url = detail["messages"][0]["attachments"][0]["url"].as_str().unwrap().to_string();
        let read = app.get(&url).send().await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.header("content-type"), Some("image/png"));
        assert_eq!(read.body.to_vec(), PNG);
        // The link expires, and holds only as signed.
        assert_eq!(app.get(&url.replace("signature=", "signature=0")).send().await.status, StatusCode::FORBIDDEN);
        app.clock.advance(Duration::from_secs(11 * 60));
        assert_eq!(app.get(&url).send().await.status, StatusCode::FORBIDDEN);

        let deleted = app.delete(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(files_under(&dir), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// With `STORAGE=off` (or no model that sees), pictures are not offered.
    async fn not_offered(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[("STORAGE", "off")]).await;
        let token = app.register("none@example.com").await;
        assert!(app.get("/api/chat/about").send().await.json()["pictures"].is_null());
        assert_eq!(ask(&app, &token, "image/png", 10).await.assert_error(StatusCode::SERVICE_UNAVAILABLE), "pictures_not_offered");
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &["x"])).send().await;
        assert_eq!(refused.assert_error(StatusCode::SERVICE_UNAVAILABLE), "pictures_not_offered");
        let app = TestApp::with_upstream(backend, &upstream, &[("CHAT_VISION_MODEL", "off")]).await;
        assert!(app.get("/api/chat/about").send().await.json()["pictures"].is_null());

        // Whoever may not chat may not upload for it: an unverified address where verification
        // is required.
        let mail = test_support::mail::MailServer::start();
        let app = TestApp::with_mail(backend, &mail, &[
            ("EMAIL_VERIFICATION", "required"), ("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", upstream.base_url.as_str()),
        ]).await;
        let token = app.register("unverified@example.com").await;
        assert_eq!(ask(&app, &token, "image/png", 10).await.assert_error(StatusCode::FORBIDDEN), "email_unverified");
    }

    /// With moderation, each new picture is checked before the turn goes to the model: by
    /// Content Moderation's `ImageModeration` (which downloads it from its signed link), or by
    /// the OpenAI form (which reads the local directory's `data:` URLs too). A risky one blocks
    /// the turn as a risky message does; the model never sees it.
    async fn pictures_are_moderated_first(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let server = S3Server::start("pictures").await;
        let moderation = ModerationServer::start(&["forbidden-pixels"]).await;
        let env: Vec<(&str, String)> = moderation.aliyun_env();
        let mut extra: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        extra.push(("HEALTH_CONSENT", "off"));
        let app = app(backend, &upstream, &server, &extra).await;
        let token = app.register("moderated@example.com").await;

        let clean = upload(&app, &token, "image/png", PNG).await;
        let risky_png = [PNG, b" forbidden-pixels"].concat();
        let risky = upload(&app, &token, "image/png", &risky_png).await;
        let refused = app.post("/api/chat").token(&token).json(&turn("Look", &[&clean, &risky])).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        assert!(upstream.received().is_empty(), "the model saw nothing");
        let pictures: Vec<_> = moderation.calls().into_iter().filter(|call| call.service.as_deref() == Some("baselineCheck")).collect();
        assert_eq!(pictures.len(), 2, "{pictures:?}");
        assert!(pictures.iter().all(|call| call.content.starts_with(&server.origin)), "checked by their links");
        assert_eq!(pictures.iter().filter(|call| call.blocked).count(), 1);
        assert!(moderation.refused().is_empty(), "{:?}", moderation.refused());

        let fine = upload(&app, &token, "image/jpeg", JPEG).await;
        let answered = app.post("/api/chat").token(&token).json(&turn("Look", &[&fine])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        assert_eq!(upstream.received().last().unwrap().pictures().concat().len(), 1);

        // The local directory's pictures: the OpenAI form reads their `data:` URLs…
        let dir = std::env::temp_dir().join(format!("pictures-{}", uuid::Uuid::new_v4()));
        let dir_text = dir.to_string_lossy().to_string();
        let env: Vec<(&str, String)> = moderation.openai_env();
        let mut extra: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        extra.extend([("HEALTH_CONSENT", "off"), ("STORAGE_DIR", dir_text.as_str())]);
        let local = TestApp::with_upstream(backend, &upstream, &extra).await;
        let token = local.register("moderated@example.com").await;
        let risky = upload(&local, &token, "image/png", &risky_png).await;
        let refused = local.post("/api/chat").token(&token).json(&turn("Look", &[&risky])).send().await;
        assert_eq!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "content_blocked");
        assert!(moderation.calls().iter().any(|call| call.protocol == "openai" && call.content.starts_with("data:image/png")));
        // …Content Moderation cannot (it reads links only): closed, the turn is refused.
        let env: Vec<(&str, String)> = moderation.aliyun_env();
        let mut extra: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        extra.extend([("HEALTH_CONSENT", "off"), ("STORAGE_DIR", dir_text.as_str())]);
        let local = TestApp::with_upstream(backend, &upstream, &extra).await;
        let token = local.register("moderated@example.com").await;
        let picture = upload(&local, &token, "image/png", PNG).await;
        let refused = local.post("/api/chat").token(&token).json(&turn("Look", &[&picture])).send().await;
        assert_eq!(refused.assert_error(StatusCode::SERVICE_UNAVAILABLE), "moderation_unavailable");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An upload form stays valid after its picture was sent, and after it was deleted: using it
    /// again changes nothing that was checked (the sent picture is a copy no form can write), and
    /// what it uploads is deleted once it expired; a deleted picture's form cannot bring it back
    /// for good.
    async fn a_form_used_again_changes_nothing(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("ok")).await;
        let server = S3Server::start("pictures").await;
        let app = app(backend, &upstream, &server, &[("HEALTH_CONSENT", "off")]).await;
        let token = app.register("again@example.com").await;

        let asked = ask(&app, &token, "image/png", PNG.len()).await.json();
        assert_eq!(post_form(&app, &asked["upload"], PNG, "image/png").await.0, 204);
        let id = asked["attachment"]["id"].as_str().unwrap().to_string();
        let answered = app.post("/api/chat").token(&token).json(&turn("Look", &[&id])).send().await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
        let conversation = answered.json()["conversationId"].as_str().unwrap().to_string();
        // Sent: kept under a key of its own; the uploaded object is gone.
        assert_eq!(server.keys(), [format!("chat-img/sent/{id}.png")]);

        // The form again, with other bytes of the same size: stored at the form's key…
        let swapped: Vec<u8> = b"<html><script>alert(1)</script>".iter().copied().cycle().take(PNG.len()).collect();
        assert_eq!(post_form(&app, &asked["upload"], &swapped, "image/png").await.0, 204);
        assert_eq!(server.keys().len(), 2);
        // …but the history and the model still read the picture that was checked.
        let detail = app.get(&format!("/api/chat/conversations/{conversation}")).token(&token).send().await.json();
        let url = detail["messages"][0]["attachments"][0]["url"].as_str().unwrap().to_string();
        assert_eq!(fetch(&app, &url).await, (200, PNG.to_vec()));
        let body = json!({"type": "tcm", "locale": "en", "conversationId": conversation,
            "messages": [{"role": "user", "content": "And now?"}]});
        assert_eq!(app.post("/api/chat").token(&token).json(&body).send().await.status, StatusCode::OK);
        let shown = upstream.received().last().unwrap().pictures().concat();
        assert_eq!(fetch(&app, &shown[0]).await, (200, PNG.to_vec()));

        // A picture deleted before sending: its form brings the object back, and the next purge
        // after the form expired deletes it for good (its row went with it).
        let asked = ask(&app, &token, "image/png", PNG.len()).await.json();
        assert_eq!(post_form(&app, &asked["upload"], PNG, "image/png").await.0, 204);
        let unsent = asked["attachment"]["id"].as_str().unwrap().to_string();
        assert_eq!(app.delete(&format!("/api/attachments/{unsent}")).token(&token).send().await.status, StatusCode::NO_CONTENT);
        assert!(!server.keys().iter().any(|key| key.contains(&unsent)));
        assert_eq!(post_form(&app, &asked["upload"], PNG, "image/png").await.0, 204);
        assert!(server.keys().iter().any(|key| key.contains(&unsent)), "the form stored it again");
        // Once the forms expired, what they uploaded goes: the sent picture's copy alone stays.
        after_the_forms_expired(&app).await;
        assert_eq!(server.keys(), [format!("chat-img/sent/{id}.png")]);
        assert_eq!(Attachment::find().count(&app.db).await.unwrap(), 1, "the sent picture's row only");
    }
}
