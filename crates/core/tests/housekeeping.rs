//! Finding 12: `rate_limit_hits` rows were pruned only when the same key came back, so one-off
//! IPs and emails stayed forever. Now charges sweep a bounded batch of their bucket's expired
//! hits and keys, and new sessions a batch of expired sessions: no scheduler needed. Issue 26:
//! each sweep at most once a minute per instance, and at once again while batches come back full.

use std::time::Duration;

use app_core::{
    entities::{RateLimitHit, RateLimitKey, Session, rate_limit_hit, rate_limit_key},
    rate_limit::SWEEP_BATCH,
};
use axum::http::StatusCode;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use test_support::{PASSWORD, TestApp, both_databases, json};

async fn hits(app: &TestApp, bucket: &str) -> u64 {
    RateLimitHit::find().filter(rate_limit_hit::Column::Bucket.eq(bucket)).count(&app.db).await.unwrap()
}

async fn keys(app: &TestApp, bucket: &str) -> u64 {
    RateLimitKey::find().filter(rate_limit_key::Column::Bucket.eq(bucket)).count(&app.db).await.unwrap()
}

async fn fail_login(app: &TestApp, email: &str, ip: &str) -> StatusCode {
    app.post("/api/auth/login").ip(ip).json(&json!({"email": email, "password": "wrong password"})).send().await.status
}

both_databases! {
    async fn expired_hits_and_keys_of_one_off_clients_are_swept(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_IP".into(), "7/5m".into());
            env.insert("RATE_LIMIT_LOGIN_ACCOUNT".into(), "100/1h".into());
        })
        .await;
        // Ten one-off clients, each trying one address once: none of them ever comes back.
        for n in 0..10 {
            let status = fail_login(&app, &format!("nobody{n}@example.com"), &format!("198.51.100.{n}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!((hits(&app, "login_ip").await, keys(&app, "login_ip").await), (10, 10));
        assert_eq!((hits(&app, "login_account").await, keys(&app, "login_account").await), (10, 10));

        // Past the per-IP window (5 m) but inside the per-account one (1 h): the next charge
        // sweeps only what no limit counts any more.
        app.clock.advance(Duration::from_secs(600));
        assert_eq!(fail_login(&app, "someone@example.com", "203.0.113.1").await, StatusCode::UNAUTHORIZED);
        assert_eq!((hits(&app, "login_ip").await, keys(&app, "login_ip").await), (1, 1));
        assert_eq!((hits(&app, "login_account").await, keys(&app, "login_account").await), (11, 11));

        app.clock.advance(Duration::from_secs(2 * 3600));
        assert_eq!(fail_login(&app, "someone-else@example.com", "203.0.113.2").await, StatusCode::UNAUTHORIZED);
        assert_eq!((hits(&app, "login_ip").await, keys(&app, "login_ip").await), (1, 1));
        assert_eq!((hits(&app, "login_account").await, keys(&app, "login_account").await), (1, 1));
    }

    async fn a_sweep_is_bounded(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_REGISTER_IP".into(), "5/1h".into());
        })
        .await;
        let old = app.clock.now() - chrono::TimeDelta::days(1);
        let rows = (0..SWEEP_BATCH + 50).map(|n| rate_limit_hit::ActiveModel {
            bucket: Set("register_ip".into()),
            key: Set(format!("192.0.2.{}", n % 250)),
            created_at: Set(old),
            ..Default::default()
        });
        RateLimitHit::insert_many(rows).exec(&app.db).await.unwrap();
        let register = |n: u32| {
            app.post("/api/auth/register").ip("203.0.113.3").json(&json!({"email": format!("new{n}@example.com"), "password": PASSWORD}))
        };
        assert_eq!(register(0).send().await.status, StatusCode::CREATED);
        // One batch went (the new hit stays); the next charge takes the rest.
        assert_eq!(hits(&app, "register_ip").await, 50 + 1);
        assert_eq!(register(1).send().await.status, StatusCode::CREATED);
        assert_eq!(hits(&app, "register_ip").await, 2);
    }

    /// Sweeping leaves the hot path: a bucket is swept at most once a minute per instance (by
    /// the app's clock), so a burst of charges pays for one sweep; expired rows still never pile
    /// up, since the first charge after the minute takes them, and a full batch sweeps again.
    async fn a_bucket_is_swept_at_most_once_a_minute(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_LOGIN_IP".into(), "100/5m".into());
            env.insert("RATE_LIMIT_LOGIN_ACCOUNT".into(), "off".into());
        })
        .await;
        let expired = |n: usize| {
            let old = app.clock.now() - chrono::TimeDelta::hours(1);
            (0..n).map(move |i| rate_limit_hit::ActiveModel {
                bucket: Set("login_ip".into()),
                key: Set(format!("192.0.2.{}", i % 250)),
                created_at: Set(old),
                ..Default::default()
            })
        };
        RateLimitHit::insert_many(expired(10)).exec(&app.db).await.unwrap();
        assert_eq!(fail_login(&app, "a@example.com", "203.0.113.9").await, StatusCode::UNAUTHORIZED);
        assert_eq!(hits(&app, "login_ip").await, 1, "the first charge swept");
        // More rows expire: charges within the minute leave them.
        RateLimitHit::insert_many(expired(10)).exec(&app.db).await.unwrap();
        for n in 0..5 {
            assert_eq!(fail_login(&app, &format!("b{n}@example.com"), "203.0.113.9").await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(hits(&app, "login_ip").await, 1 + 10 + 5, "no sweep within the minute");
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(fail_login(&app, "c@example.com", "203.0.113.9").await, StatusCode::UNAUTHORIZED);
        assert_eq!(hits(&app, "login_ip").await, 1 + 5 + 1, "the next minute's first charge swept");
        // A backlog over a batch: each charge takes a batch until one comes back short.
        let live = hits(&app, "login_ip").await; // the last minutes' charges, inside the 5-minute window
        RateLimitHit::insert_many(expired(SWEEP_BATCH as usize + 20)).exec(&app.db).await.unwrap();
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(fail_login(&app, "d@example.com", "203.0.113.9").await, StatusCode::UNAUTHORIZED);
        assert_eq!(hits(&app, "login_ip").await, live + 20 + 1, "one batch went");
        assert_eq!(fail_login(&app, "e@example.com", "203.0.113.9").await, StatusCode::UNAUTHORIZED);
        assert_eq!(hits(&app, "login_ip").await, live + 2, "the full batch left the sweep due: the rest went");
    }

    async fn expired_sessions_are_swept_when_sessions_start(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("SESSION_TTL".into(), "1h".into());
        })
        .await;
        for n in 0..5 {
            app.register(&format!("sleeper{n}@example.com")).await;
        }
        assert_eq!(Session::find().count(&app.db).await.unwrap(), 5);
        app.clock.advance(Duration::from_secs(2 * 3600));
        let token = app.register("awake@example.com").await;
        assert_eq!(Session::find().count(&app.db).await.unwrap(), 1, "only the new session is left");
        assert_eq!(app.get("/api/auth/session").token(&token).send().await.status, StatusCode::OK);
    }
}
