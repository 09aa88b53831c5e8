//! Registration, login, sessions, logout and brute-force limits, through the real router on
//! SQLite and MariaDB.

use std::time::Duration;

use app_core::{
    AppState,
    entities::{AuditLog, Role, Session, User, audit_log, user},
    http,
};
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use test_support::{ADMIN_EMAIL, Backend, PASSWORD, TEST_SECRET, TestApp, both_databases, json};

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut logs = AuditLog::find().all(&app.db).await.unwrap();
    logs.sort_by_key(|log| log.created_at);
    logs.into_iter().map(|log| log.action).collect()
}

both_databases! {
    async fn register_returns_user_and_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .post("/api/auth/register")
            .ip("203.0.113.7")
            .header("user-agent", "test-agent/1.0")
            .json(&json!({"email": "  New.User@Example.COM ", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let body = response.json();
        assert_eq!(body["user"]["email"], "new.user@example.com");
        assert_eq!(body["user"]["role"], "USER");
        let id = body["user"]["id"].as_str().unwrap();
        assert!(id.len() >= 20, "cuid-style id: {id}");

        // The token is an HS256 JWT with the claims the contract names.
        let token = body["token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        let claims: serde_json::Value = {
            let payload = token.split('.').nth(1).unwrap();
            use base64::Engine;
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
        };
        assert_eq!(claims["sub"], id);
        assert_eq!(claims["role"], "USER");
        assert!(claims["sid"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 7 * 24 * 3600);

        // The password is stored as a bcrypt hash, never in clear.
        let stored = User::find_by_id(id.to_string()).one(&app.db).await.unwrap().unwrap();
        assert!(stored.password_hash.starts_with("$2b$04$"), "{}", stored.password_hash);
        assert!(bcrypt::verify(PASSWORD, &stored.password_hash).unwrap());

        // Audited with IP and user agent.
        let log = AuditLog::find().filter(audit_log::Column::Action.eq("register")).one(&app.db).await.unwrap().unwrap();
        assert_eq!(log.actor_id.as_deref(), Some(id));
        assert_eq!(log.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(log.user_agent.as_deref(), Some("test-agent/1.0"));

        // The session endpoint accepts the token.
        let session = app.get("/api/auth/session").token(token).send().await;
        assert_eq!(session.status, StatusCode::OK);
        assert_eq!(session.json()["user"]["id"], id);
        assert!(session.json()["expires"].is_string());
    }

    async fn admin_emails_register_as_admin(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.post("/api/auth/register").json(&json!({"email": "ADMIN@example.com", "password": PASSWORD})).send().await;
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.json()["user"]["role"], "ADMIN");
    }

    async fn duplicate_email_is_409_whatever_the_case(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.register("taken@example.com").await;
        let response = app.post("/api/auth/register").json(&json!({"email": "Taken@Example.com", "password": PASSWORD})).send().await;
        assert_eq!(response.assert_error(StatusCode::CONFLICT), "email_taken");
        assert_eq!(User::find().count(&app.db).await.unwrap(), 1);
    }

    async fn registration_validates_input(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            (json!({"email": "not-an-email", "password": PASSWORD}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            (json!({"email": format!("{}@example.com", "a".repeat(200)), "password": PASSWORD}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            (json!({"email": "a@example.com", "password": "short"}), StatusCode::UNPROCESSABLE_ENTITY, "password_too_short"),
            // 73 bytes: bcrypt would silently ignore the last one, so it is refused.
            (json!({"email": "a@example.com", "password": "x".repeat(73)}), StatusCode::UNPROCESSABLE_ENTITY, "password_too_long"),
            (json!({"email": "a@example.com"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (json!({"email": 42, "password": PASSWORD}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (json!("a@example.com"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ];
        for (body, status, code) in cases {
            let response = app.post("/api/auth/register").json(&body).send().await;
            assert_eq!(response.status, status, "{body} -> {}", response.text());
            assert_eq!(response.assert_error(status), code, "{body}");
        }
        let malformed = app.post("/api/auth/register").raw_json("{\"email\": ").send().await;
        assert_eq!(malformed.assert_error(StatusCode::BAD_REQUEST), "malformed_json");
        let no_type = app.post("/api/auth/register").send().await;
        assert_eq!(no_type.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE), "unsupported_media_type");
        let huge = app
            .post("/api/auth/register")
            .raw_json(format!("{{\"email\":\"a@example.com\",\"password\":\"{}\"}}", "x".repeat(70 * 1024)))
            .send()
            .await;
        assert_eq!(huge.assert_error(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(User::find().count(&app.db).await.unwrap(), 0);
    }

    async fn login_succeeds_and_failures_look_alike(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.register("someone@example.com").await;

        let ok = app.post("/api/auth/login").json(&json!({"email": " SOMEONE@example.com", "password": PASSWORD})).send().await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert_eq!(ok.json()["user"]["email"], "someone@example.com");
        let token = ok.json()["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.status, StatusCode::OK);

        let wrong_password = app.post("/api/auth/login").json(&json!({"email": "someone@example.com", "password": "wrong password"})).send().await;
        let unknown_email = app.post("/api/auth/login").json(&json!({"email": "nobody@example.com", "password": PASSWORD})).send().await;
        let too_long = app.post("/api/auth/login").json(&json!({"email": "someone@example.com", "password": format!("{PASSWORD}{}", "x".repeat(80))})).send().await;
        assert_eq!(wrong_password.assert_error(StatusCode::UNAUTHORIZED), "invalid_credentials");
        assert_eq!(wrong_password.body, unknown_email.body, "unknown email and wrong password must be indistinguishable");
        assert_eq!(wrong_password.body, too_long.body);

        assert_eq!(audit_actions(&app).await, ["register", "login", "login_failed", "login_failed", "login_failed"]);
        let failed_unknown = AuditLog::find().filter(audit_log::Column::Subject.contains("nobody@")).one(&app.db).await.unwrap().unwrap();
        assert_eq!(failed_unknown.actor_id, None);
    }

    async fn session_requires_a_valid_live_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("someone@example.com").await;

        let missing = app.get("/api/auth/session").send().await;
        assert_eq!(missing.assert_error(StatusCode::UNAUTHORIZED), "missing_token");
        for bad in ["garbage", "Bearer", "Basic abc", "Bearer not.a.jwt"] {
            let response = app.get("/api/auth/session").header("authorization", bad).send().await;
            assert_eq!(response.assert_error(StatusCode::UNAUTHORIZED), "invalid_token", "{bad}");
        }

        // Valid-looking claims signed with another key, with another algorithm, or without exp.
        let claims: serde_json::Value = {
            use base64::Engine;
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
        };
        let forged = [
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"another-secret-another-secret-xx")).unwrap(),
            jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(TEST_SECRET.as_bytes())).unwrap(),
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &json!({"sub": claims["sub"], "sid": claims["sid"], "role": "ADMIN", "iat": claims["iat"]}), &EncodingKey::from_secret(TEST_SECRET.as_bytes())).unwrap(),
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &json!({"sub": claims["sub"], "sid": "no-such-session", "role": "USER", "iat": claims["iat"], "exp": claims["exp"]}), &EncodingKey::from_secret(TEST_SECRET.as_bytes())).unwrap(),
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &json!({"sub": "someone-else", "sid": claims["sid"], "role": "USER", "iat": claims["iat"], "exp": claims["exp"]}), &EncodingKey::from_secret(TEST_SECRET.as_bytes())).unwrap(),
        ];
        for token in forged {
            let response = app.get("/api/auth/session").token(&token).send().await;
            assert_eq!(response.assert_error(StatusCode::UNAUTHORIZED), "invalid_token");
        }
        // An unsigned ("alg":"none") token.
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", token.split('.').nth(1).unwrap());
        assert_eq!(app.get("/api/auth/session").token(&none).send().await.assert_error(StatusCode::UNAUTHORIZED), "invalid_token");

        // Still fine just before the session expires, refused after.
        app.clock.advance(Duration::from_secs(7 * 24 * 3600 - 60));
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.status, StatusCode::OK);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.assert_error(StatusCode::UNAUTHORIZED), "invalid_token");
    }

    async fn logout_ends_one_or_all_sessions(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.register("someone@example.com").await;
        let login = || async {
            let response = app.post("/api/auth/login").json(&json!({"email": "someone@example.com", "password": PASSWORD})).send().await;
            response.json()["token"].as_str().unwrap().to_string()
        };
        let second = login().await;
        let third = login().await;

        let logout = app.post("/api/auth/logout").token(&first).send().await;
        assert_eq!(logout.status, StatusCode::OK);
        assert_eq!(logout.json()["revoked"], 1);
        assert_eq!(app.get("/api/auth/session").token(&first).send().await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/auth/session").token(&second).send().await.status, StatusCode::OK);

        let everywhere = app.post("/api/auth/logout?all=true").token(&second).send().await;
        assert_eq!(everywhere.json()["revoked"], 2);
        for token in [&second, &third] {
            assert_eq!(app.get("/api/auth/session").token(token).send().await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(Session::find().count(&app.db).await.unwrap(), 0);
        assert_eq!(app.post("/api/auth/logout?all=maybe").token(&third).send().await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(audit_actions(&app).await.iter().filter(|a| *a == "logout").count(), 2);
    }

    async fn banned_users_cannot_log_in(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("bad@example.com").await;
        let admin = app.admin_token().await;
        let id = app.get("/api/auth/session").token(&token).send().await.json()["user"]["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/api/admin/users/{id}/ban")).token(&admin).send().await.status, StatusCode::OK);

        // The ban ended the live session at once…
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.status, StatusCode::UNAUTHORIZED);
        // …and a correct password now gets 403, a wrong one still the usual 401.
        let login = app.post("/api/auth/login").json(&json!({"email": "bad@example.com", "password": PASSWORD})).send().await;
        assert_eq!(login.assert_error(StatusCode::FORBIDDEN), "account_banned");
        let wrong = app.post("/api/auth/login").json(&json!({"email": "bad@example.com", "password": "wrong password"})).send().await;
        assert_eq!(wrong.assert_error(StatusCode::UNAUTHORIZED), "invalid_credentials");
    }

    /// ADMIN_EMAILS grants the role at registration only: an address added later is not
    /// promoted at its next login, and an operator's demotion of a listed address sticks (it
    /// used to be undone at every login).
    async fn admin_emails_grant_the_role_at_registration_only(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.register("later-admin@example.com").await;
        app.admin_token().await;
        // The operator adds the address to ADMIN_EMAILS and redeploys.
        let mut env = test_support::test_env("unused");
        env.insert("ADMIN_EMAILS".into(), format!("{ADMIN_EMAIL},later-admin@example.com"));
        env.insert("DATABASE_URL".into(), "sqlite::memory:".into());
        let config = test_support::config_from(&env);
        let redeployed = http::app(AppState::with_parts(config, app.db.clone(), app.clock.clone()), test_support::all_routes().router());
        let login = |email: &str| {
            axum::http::Request::post("/api/auth/login")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json!({"email": email, "password": PASSWORD}).to_string()))
                .unwrap()
        };
        let role = |email: &'static str| {
            let db = app.db.clone();
            async move { User::find().filter(user::Column::Email.eq(email)).one(&db).await.unwrap().unwrap().role }
        };
        let response = tower::ServiceExt::oneshot(redeployed.clone(), login("later-admin@example.com")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(role("later-admin@example.com").await, Role::User);

        // The listed admin, demoted by the operator, stays demoted through logins.
        app_core::admin::set_role(&app.state.db, &app.clock, ADMIN_EMAIL, Role::User, &Default::default()).await.unwrap();
        let response = tower::ServiceExt::oneshot(redeployed, login(ADMIN_EMAIL)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(role(ADMIN_EMAIL).await, Role::User);
        assert!(!audit_actions(&app).await.contains(&"promote".to_string()));
    }

    async fn failed_logins_are_limited_per_ip(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.register("someone@example.com").await;
        let attempt = |ip: &'static str, password: &'static str| {
            app.post("/api/auth/login").ip(ip).json(&json!({"email": "someone@example.com", "password": password})).send()
        };
        for _ in 0..7 {
            assert_eq!(attempt("198.51.100.1", "wrong password").await.status, StatusCode::UNAUTHORIZED);
        }
        // The 8th try from that IP is refused before the password is even checked.
        let limited = attempt("198.51.100.1", PASSWORD).await;
        assert_eq!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry_after), "{retry_after}");
        // Another IP is unaffected.
        assert_eq!(attempt("198.51.100.2", PASSWORD).await.status, StatusCode::OK);
        // Once the window has passed, the first IP may try again.
        app.clock.advance(Duration::from_secs(retry_after));
        assert_eq!(attempt("198.51.100.1", PASSWORD).await.status, StatusCode::OK);
    }

    async fn failed_logins_are_limited_per_account(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_ACCOUNT".into(), "3/1h".into());
            env.insert("RATE_LIMIT_LOGIN_IP".into(), "off".into());
        })
        .await;
        app.register("target@example.com").await;
        let ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
        for ip in &ips[..3] {
            let response = app.post("/api/auth/login").ip(ip).json(&json!({"email": "TARGET@example.com", "password": "guess guess"})).send().await;
            assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        }
        let limited = app.post("/api/auth/login").ip(ips[3]).json(&json!({"email": "target@example.com", "password": PASSWORD})).send().await;
        assert_eq!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert_eq!(limited.header("retry-after"), Some("3600"));
        app.clock.advance(Duration::from_secs(3600));
        let ok = app.post("/api/auth/login").ip(ips[3]).json(&json!({"email": "target@example.com", "password": PASSWORD})).send().await;
        assert_eq!(ok.status, StatusCode::OK);
    }

    async fn registrations_are_limited_per_ip(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for n in 0..5 {
            let response = app.post("/api/auth/register").ip("203.0.113.9")
                .json(&json!({"email": format!("user{n}@example.com"), "password": PASSWORD})).send().await;
            assert_eq!(response.status, StatusCode::CREATED);
        }
        let limited = app.post("/api/auth/register").ip("203.0.113.9")
            .json(&json!({"email": "user5@example.com", "password": PASSWORD})).send().await;
        assert_eq!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert!(limited.header("retry-after").is_some());
        let elsewhere = app.post("/api/auth/register").ip("203.0.113.10")
            .json(&json!({"email": "user5@example.com", "password": PASSWORD})).send().await;
        assert_eq!(elsewhere.status, StatusCode::CREATED);
    }
}

/// bcrypt runs on the blocking pool: on a single-threaded runtime, a request that needs no
/// hashing completes while an expensive login is still hashing.
#[tokio::test(flavor = "current_thread")]
async fn bcrypt_does_not_block_the_async_workers() {
    let app = TestApp::with_env(Backend::Sqlite, |env| {
        env.insert("BCRYPT_COST".into(), "14".into());
    })
    .await;
    let router = app.router.clone();
    let login = tokio::spawn(async move {
        let request = axum::http::Request::post("/api/auth/login")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({"email": "nobody@example.com", "password": PASSWORD}).to_string()))
            .unwrap();
        tower::ServiceExt::oneshot(router, request).await.unwrap().status()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let health = app.get("/api/health").send().await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(!login.is_finished(), "the cost-14 hash should still be running while health answers");
    assert_eq!(login.await.unwrap(), StatusCode::UNAUTHORIZED);
}
