//! Every limit is exact under bursts: fired at two instances of each real function binary
//! sharing MariaDB, and at the local stack on SQLite, a burst of `BURST` (default 40; `BURST=…`
//! for a soak) concurrent requests admits exactly the limit, and a refused request counts
//! nothing. Plus many users streaming several turns at once: every turn is stored, in order,
//! and nothing else is (and tallied once); a stream whose client leaves releases its slot; the
//! quota state right after a burst; one rating per reply however many arrive at once; moderation
//! strikes counted exactly; a reply reported once and a report decided once; a withdrawal of the
//! health consent taking every TCM conversation and constitution assessment that races it; the
//! storage quota of pictures exact, and a picture sent with one message only.

use std::time::Duration;

use app_core::entities::{
    Attachment, AuditLog, ConstitutionAssessment, Conversation, Message, MessageFeedback, RateLimitHit, Reading,
    ReplyStream, Report, User, audit_log, rate_limit_hit, user,
};
use sea_orm::{ColumnTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use test_support::{
    Behaviour, PASSWORD, Upstream, both_stacks,
    burst::{Reply, Streaming, burst, tally},
    eventually,
    moderation::ModerationServer,
    pictures::{PNG, post_to_bucket},
    s3::S3Server,
    stack::Stack,
};
use tokio::io::AsyncWriteExt;

/// Requests per burst (`BURST`, default 40).
fn burst_size() -> usize {
    std::env::var("BURST").ok().and_then(|n| n.parse().ok()).unwrap_or(40)
}

async fn connect(stack: &Stack) -> DatabaseConnection {
    Database::connect(&stack.database.url).await.expect("connect to the stack's database")
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|reply| reply.status).collect()
}

/// Every refusal is our 429 JSON with a `Retry-After` between 1 s and `longest` seconds.
fn assert_refusals(replies: &[Reply], code: &str, longest: u64) {
    for reply in replies.iter().filter(|reply| reply.status == 429) {
        assert_eq!(reply.error_code(), code, "{}", reply.text());
        let retry_after: u64 = reply.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!((1..=longest).contains(&retry_after), "Retry-After {retry_after} not in 1..={longest}");
    }
}

async fn audit_count(db: &DatabaseConnection, action: &str) -> u64 {
    AuditLog::find().filter(audit_log::Column::Action.eq(action)).count(db).await.unwrap()
}

/// The refusals of `action` as rows (one per client and hour) and how many they stand for.
async fn refusals(db: &DatabaseConnection, action: &str) -> (usize, i64) {
    let rows = AuditLog::find().filter(audit_log::Column::Action.eq(action)).all(db).await.unwrap();
    (rows.len(), rows.iter().map(|row| i64::from(row.occurrences)).sum())
}

both_stacks! {
    /// Finding 2: 40 wrong passwords from one IP at once used to all be checked.
    async fn failed_logins_per_ip_admit_exactly_the_limit(backend: Backend) {
        let stack = Stack::start(backend, &[("RATE_LIMIT_LOGIN_IP", "7/5m"), ("RATE_LIMIT_LOGIN_ACCOUNT", "off")]).await;
        stack.register("victim@example.com").await;
        let n = burst_size();
        let stack = &stack;
        let wrong = json!({"email": "victim@example.com", "password": "not the password"});
        let replies = stack
            .burst_post(n, "/api/auth/login", |_| (vec![("x-forwarded-for", "198.51.100.7".to_string())], wrong.clone()))
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&401), Some(&7), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 7)), "{counts:?}");
        assert_refusals(&replies, "rate_limited", 300);

        // The IP stays refused, even with the right password; another IP is not.
        let right = json!({"email": "victim@example.com", "password": PASSWORD});
        let same_ip = stack.post_json(0, "/api/auth/login", &[("x-forwarded-for", "198.51.100.7")], &right).await;
        assert_eq!(same_ip.status, 429, "{}", same_ip.text());
        let other_ip = stack.post_json(1, "/api/auth/login", &[("x-forwarded-for", "198.51.100.8")], &right).await;
        assert_eq!(other_ip.status, 200, "{}", other_ip.text());

        // Only the checked attempts count; every refusal is audited, in one row for the client
        // (an upsert on one key, however many instances refuse at once) that counts them all.
        let db = connect(stack).await;
        let hits = RateLimitHit::find().filter(rate_limit_hit::Column::Bucket.eq("login_ip")).count(&db).await.unwrap();
        assert_eq!(hits, 7);
        assert_eq!(audit_count(&db, "login_failed").await, 7);
        assert_eq!(refusals(&db, "login_rate_limited").await, (1, (n - 7 + 1) as i64));
    }

    /// The per-account limit, with every attempt from a different IP.
    async fn failed_logins_per_account_admit_exactly_the_limit(backend: Backend) {
        let stack = Stack::start(backend, &[("RATE_LIMIT_LOGIN_IP", "off"), ("RATE_LIMIT_LOGIN_ACCOUNT", "5/1h")]).await;
        stack.register("victim@example.com").await;
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/auth/login", |i| {
                let ip = format!("203.0.113.{}", i % 250 + 1);
                (vec![("x-forwarded-for", ip)], json!({"email": "VICTIM@example.com", "password": format!("guess {i}")}))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&401), Some(&5), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 5)), "{counts:?}");
        assert_refusals(&replies, "rate_limited", 3600);
    }

    /// Finding 3: a burst of 20 registrations from one IP used to create 8 to 20 accounts.
    async fn registrations_per_ip_admit_exactly_the_limit(backend: Backend) {
        let stack = Stack::start(backend, &[("RATE_LIMIT_REGISTER_IP", "5/1h")]).await;
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/auth/register", |i| {
                let body = json!({"email": format!("user{i}@example.com"), "password": PASSWORD});
                (vec![("x-forwarded-for", "192.0.2.1".to_string())], body)
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&201), Some(&5), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 5)), "{counts:?}");
        assert_refusals(&replies, "rate_limited", 3600);
        let db = connect(stack).await;
        assert_eq!(User::find().count(&db).await.unwrap(), 5);
        assert_eq!(refusals(&db, "register_rate_limited").await, (1, (n - 5) as i64), "one row, every refusal counted");
    }

    /// Finding 1: 24 concurrent turns against a 3/1d quota used to get 8 to 22 answers.
    async fn the_chat_quota_admits_exactly_the_limit(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["The ", "answer."], Duration::from_millis(20))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("CHAT_QUOTA_USER", "3/1d")])).await;
        let token = stack.register("chatty@example.com").await;
        let n = burst_size();
        let stack = &stack;
        let auth = format!("Bearer {token}");
        let replies = stack
            .burst_post(n, "/api/chat", |i| {
                // Every other turn streams: both paths charge the same quota.
                let mut headers = vec![("authorization", auth.clone())];
                if i % 2 == 1 {
                    headers.push(("accept", "text/event-stream".to_string()));
                }
                (headers, turn(&format!("question {i}"), None))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&200), Some(&3), "{counts:?}: {:?}\n{}", statuses(&replies), stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 3)), "{counts:?}");
        assert_refusals(&replies, "rate_limited", 86_400);
        // Exactly the admitted turns were stored (a user message and a reply each), and the
        // model was asked exactly that often.
        let db = connect(stack).await;
        assert!(eventually(Duration::from_secs(5), async || Message::find().count(&db).await.unwrap() == 6).await);
        assert_eq!(upstream.received().len(), 3);
        // Right after the burst, every instance shows the quota as the burst left it.
        for instance in 0..2 {
            let state = stack.call(instance, "GET", "/api/chat/quota", &[("authorization", &auth)], b"").await;
            assert_eq!(state.status, 200, "{}", state.text());
            let state: Value = serde_json::from_str(&state.text()).unwrap();
            assert_eq!(
                (&state["messages"]["used"], &state["messages"]["limit"], &state["messages"]["remaining"]),
                (&json!(3), &json!(3), &json!(0)),
                "instance {instance}: {state}"
            );
            assert!(state["messages"]["nextFreeAt"].is_string());
        }
    }

    /// Moderation strikes: a burst of blocked messages at every instance records exactly the
    /// strikes allowed (each stored, withheld and audited); the others are refused with
    /// `moderation_cooldown` and store nothing. The model is never called.
    async fn blocked_messages_count_exactly_the_strikes_allowed(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("never asked")).await;
        let moderation = ModerationServer::start(&["forbidden-word"]).await;
        let moderation_env = moderation.aliyun_env();
        let mut extra: Vec<(&str, &str)> = moderation_env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        extra.push(("MODERATION_STRIKES", "3/1h"));
        let stack = Stack::start(backend, &upstream_env(&upstream, &extra)).await;
        let auth = format!("Bearer {}", stack.register("prober@example.com").await);
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/chat", |i| {
                let mut headers = vec![("authorization", auth.clone())];
                if i % 2 == 1 {
                    headers.push(("accept", "text/event-stream".to_string()));
                }
                (headers, turn(&format!("forbidden-word {i}"), None))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&422), Some(&3), "{counts:?}: {:?}\n{}", statuses(&replies), stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 3)), "{counts:?}");
        assert_refusals(&replies, "moderation_cooldown", 3600);
        assert!(replies.iter().filter(|reply| reply.status == 422).all(|reply| reply.error_code() == "content_blocked"));
        let db = connect(stack).await;
        let strikes = RateLimitHit::find().filter(rate_limit_hit::Column::Bucket.eq("moderation_strikes")).count(&db).await.unwrap();
        assert_eq!(strikes, 3);
        assert_eq!(Message::find().count(&db).await.unwrap(), 3, "only the blocked turns that struck were stored");
        assert_eq!(audit_count(&db, "content_blocked").await, 3);
        assert!(upstream.received().is_empty(), "the model was never called");
        assert_eq!(moderation.refused(), Vec::<String>::new(), "every instance signed every call right");
        let flagged = User::find().one(&db).await.unwrap().unwrap().moderation_flagged_at;
        assert!(flagged.is_some(), "the account is flagged for administrators");
    }

    /// One rating per user per reply: a burst of changes at every instance leaves one row.
    async fn a_burst_of_ratings_leaves_one_per_reply(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer")).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[])).await;
        let auth = format!("Bearer {}", stack.register("rater@example.com").await);
        let reply = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn("rate me", None)).await;
        let reply = reply.json();
        let path = format!(
            "/api/chat/conversations/{}/messages/{}/feedback",
            reply["conversationId"].as_str().unwrap(),
            reply["messageId"].as_str().unwrap()
        );
        let n = burst_size();
        let replies = stack
            .burst_json(n, "PUT", &path, |i| {
                let rating = if i.is_multiple_of(2) { "up" } else { "down" };
                (vec![("authorization", auth.clone())], json!({"rating": rating, "comment": format!("try {i}")}))
            })
            .await;
        assert_eq!(tally(&replies).get(&200), Some(&n), "{:?}\n{}", statuses(&replies), stack.logs());
        let db = connect(&stack).await;
        assert_eq!(MessageFeedback::find().count(&db).await.unwrap(), 1);
    }

    /// Reports are exactly once: a burst of reports of one reply at every instance files one
    /// (the others `already_reported`), and a burst of different decisions of it takes the first
    /// only (the others `already_decided`), with its effects and audit rows once.
    async fn a_reply_is_reported_once_and_each_report_decided_once(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("an answer to report")).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("ADMIN_EMAILS", test_support::ADMIN_EMAIL)])).await;
        let admin = format!("Bearer {}", stack.register(test_support::ADMIN_EMAIL).await);
        let auth = format!("Bearer {}", stack.register("reporter@example.com").await);
        let reply = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn("report me", None)).await.json();
        let (conversation, message) = (reply["conversationId"].as_str().unwrap(), reply["messageId"].as_str().unwrap());
        let path = format!("/api/chat/conversations/{conversation}/messages/{message}/report");
        let n = burst_size();
        let stack = &stack;
        let filed = stack
            .burst_post(n, &path, |i| (vec![("authorization", auth.clone())], json!({"reason": "wrong", "comment": format!("try {i}")})))
            .await;
        let counts = tally(&filed);
        assert_eq!((counts.get(&201), counts.get(&409)), (Some(&1), Some(&(n - 1))), "{counts:?}\n{}", stack.logs());
        assert!(filed.iter().filter(|reply| reply.status == 409).all(|reply| reply.error_code() == "already_reported"));
        let db = connect(stack).await;
        assert_eq!(Report::find().count(&db).await.unwrap(), 1);
        assert_eq!(audit_count(&db, "report_filed").await, 1);

        let id = Report::find().one(&db).await.unwrap().unwrap().id;
        let decided = stack
            .burst_post(n, &format!("/api/admin/reports/{id}/decision"), |i| {
                let body = if i % 2 == 0 {
                    json!({"outcome": "actioned", "hideReply": true, "userAction": "restrict", "restrictDays": 1 + i})
                } else {
                    json!({"outcome": "dismissed", "note": format!("decision {i}")})
                };
                (vec![("authorization", admin.clone())], body)
            })
            .await;
        let counts = tally(&decided);
        assert_eq!((counts.get(&200), counts.get(&409)), (Some(&1), Some(&(n - 1))), "{counts:?}\n{}", stack.logs());
        assert!(decided.iter().filter(|reply| reply.status == 409).all(|reply| reply.error_code() == "already_decided"));
        let winner = decided.iter().find(|reply| reply.status == 200).unwrap().json()["report"].clone();
        let report = Report::find().one(&db).await.unwrap().unwrap();
        let hidden = Message::find_by_id(message.to_string()).one(&db).await.unwrap().unwrap().withheld.is_some();
        let restricted = User::find().filter(user::Column::Email.eq("reporter@example.com")).one(&db).await.unwrap().unwrap().restricted_until;
        assert_eq!(audit_count(&db, "report_decided").await, 1);
        if winner["status"] == "actioned" {
            assert!(hidden && restricted.is_some() && report.restricted_until == restricted, "{winner}");
            assert_eq!((audit_count(&db, "reply_hidden").await, audit_count(&db, "user_restricted").await), (1, 1));
        } else {
            assert!(!hidden && restricted.is_none() && report.note == winner["note"].as_str().map(str::to_string), "{winner}");
            assert_eq!((audit_count(&db, "reply_hidden").await, audit_count(&db, "user_restricted").await), (0, 0));
        }
    }

    /// Restrictions decided at once (one report each) keep the longest, whichever commits last;
    /// every report records the restriction then in force.
    async fn restrictions_decided_at_once_keep_the_longest(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("a reply")).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("ADMIN_EMAILS", test_support::ADMIN_EMAIL)])).await;
        let admin = format!("Bearer {}", stack.register(test_support::ADMIN_EMAIL).await);
        let auth = format!("Bearer {}", stack.register("restricted@example.com").await);
        let n = 8;
        let mut ids = Vec::new();
        for i in 0..n {
            let reply = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn(&format!("turn {i}"), None)).await.json();
            let path = format!(
                "/api/chat/conversations/{}/messages/{}/report",
                reply["conversationId"].as_str().unwrap(),
                reply["messageId"].as_str().unwrap()
            );
            let filed = stack.post_json(i, &path, &[("authorization", &auth)], &json!({"reason": "harmful"})).await;
            ids.push(filed.json()["report"]["id"].as_str().unwrap().to_string());
        }
        let stack = &stack;
        let decided = burst(n, |i| {
            let path = format!("/api/admin/reports/{}/decision", ids[i]);
            let port = stack.port(&path, i);
            // One of them a year, the others a day or two.
            let days = if i == n / 2 { 365 } else { 1 + i % 2 };
            let body = json!({"outcome": "actioned", "userAction": "restrict", "restrictDays": days});
            let admin = admin.clone();
            async move { test_support::burst::call_json(port, "POST", &path, &[("authorization", &admin)], &body).await }
        })
        .await;
        assert_eq!(tally(&decided).get(&200), Some(&n), "{:?}\n{}", statuses(&decided), stack.logs());
        let db = connect(stack).await;
        let until = User::find().filter(user::Column::Email.eq("restricted@example.com")).one(&db).await.unwrap().unwrap().restricted_until.unwrap();
        let days = (until - chrono::Utc::now()).num_days();
        assert!((364..=365).contains(&days), "the year's restriction stands: {until} ({days} days)");
        let reports = Report::find().all(&db).await.unwrap();
        assert!(reports.iter().all(|report| report.restricted_until.is_some_and(|at| at <= until)));
        assert!(reports.iter().any(|report| report.restricted_until == Some(until)), "the last one records the year");
    }

    /// A report (and then a decision that hides the reply) racing the deletion of its
    /// conversation, round after round at both instances: each ends as one of its honest
    /// outcomes (filed or 404; decided), never a 500 — a deadlock between the two runs again.
    async fn reports_and_decisions_racing_a_deletion_never_fail(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("a reply")).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("ADMIN_EMAILS", test_support::ADMIN_EMAIL)])).await;
        let admin = format!("Bearer {}", stack.register(test_support::ADMIN_EMAIL).await);
        let auth = format!("Bearer {}", stack.register("racer@example.com").await);
        let stack = &stack;
        for round in 0..12 {
            let reply = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn(&format!("round {round}"), None)).await.json();
            let conversation = reply["conversationId"].as_str().unwrap().to_string();
            let report = format!("/api/chat/conversations/{conversation}/messages/{}/report", reply["messageId"].as_str().unwrap());
            let delete = format!("/api/chat/conversations/{conversation}");
            // Odd rounds: the report is filed first, and its decision races the deletion.
            let decision = if round % 2 == 1 {
                let filed = stack.post_json(round, &report, &[("authorization", &auth)], &json!({"reason": "other"})).await;
                Some(format!("/api/admin/reports/{}/decision", filed.json()["report"]["id"].as_str().unwrap()))
            } else {
                None
            };
            let raced = burst(2, |i| {
                let (path, token, body) = match (i, &decision) {
                    (0, None) => (report.clone(), auth.clone(), Some(json!({"reason": "harmful"}))),
                    (0, Some(path)) => (path.clone(), admin.clone(), Some(json!({"outcome": "actioned", "hideReply": true}))),
                    _ => (delete.clone(), auth.clone(), None),
                };
                let port = stack.port(&path, i + round);
                async move {
                    match body {
                        Some(body) => test_support::burst::call_json(port, "POST", &path, &[("authorization", &token)], &body).await,
                        None => test_support::burst::call(port, "DELETE", &path, &[("authorization", &token)], b"").await,
                    }
                }
            })
            .await;
            let expected: &[u16] = if decision.is_some() { &[200] } else { &[201, 404] };
            assert!(expected.contains(&raced[0].status), "round {round}: {} {}\n{}", raced[0].status, raced[0].text(), stack.logs());
            assert_eq!(raced[1].status, 204, "round {round}: {}", raced[1].text());
        }
    }

    /// Withdrawing the health consent with its TCM conversations while TCM turns run at every
    /// instance: each turn either came first (and its conversation is deleted with the others)
    /// or is refused; none leaves a TCM conversation behind, and none fails with a 500.
    async fn a_withdrawal_takes_every_tcm_conversation_however_turns_race_it(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("rest well")).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("HEALTH_CONSENT", "required")])).await;
        let auth = format!("Bearer {}", stack.register("patient@example.com").await);
        let given = stack.call(0, "POST", "/api/account/health-consent", &[("authorization", &auth)], b"").await;
        assert_eq!(given.status, 200, "{}", given.text());
        let n = burst_size();
        let stack = &stack;
        let replies = burst(n, |i| {
            let auth = auth.clone();
            let (method, path, body) = match i {
                0 => ("DELETE", "/api/account/health-consent?deleteConversations=true".to_string(), json!(null)),
                _ => ("POST", "/api/chat".to_string(), json!({"type": "tcm", "messages": [{"role": "user", "content": format!("tired {i}")}]})),
            };
            let port = stack.port(&path, i);
            async move {
                match method {
                    "DELETE" => test_support::burst::call(port, method, &path, &[("authorization", &auth)], b"").await,
                    _ => test_support::burst::call_json(port, method, &path, &[("authorization", &auth)], &body).await,
                }
            }
        })
        .await;
        assert_eq!(replies[0].status, 200, "{}", replies[0].text());
        for reply in &replies[1..] {
            assert!([200, 403, 404].contains(&reply.status), "{}: {}\n{}", reply.status, reply.text(), stack.logs());
        }
        let db = connect(stack).await;
        assert_eq!(Conversation::find().count(&db).await.unwrap(), 0, "no TCM conversation outlives the withdrawal");
        let after = stack.post_json(1, "/api/chat", &[("authorization", &auth)], &json!({"type": "tcm", "messages": [{"role": "user", "content": "again"}]})).await;
        assert_eq!((after.status, after.error_code()), (403, "consent_required".to_string()));
    }

    /// The storage quota of pictures: a burst of upload forms at every instance issues exactly
    /// what fits (each form counts the bytes it allows); the others are 403 `storage_full` and
    /// write nothing.
    async fn the_storage_quota_admits_exactly_what_fits(backend: Backend) {
        // (Pictures are offered where a model can see them.)
        let upstream = Upstream::start(Behaviour::reply("unused")).await;
        let server = S3Server::start("pictures").await;
        let mut env = std::collections::HashMap::new();
        server.configure(&mut env);
        let mut env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        env.extend([("ATTACHMENT_MAX_BYTES", "1000"), ("ATTACHMENT_QUOTA_BYTES", "5000"), ("RATE_LIMIT_ATTACHMENT_UPLOADS", "off")]);
        let stack = Stack::start(backend, &upstream_env(&upstream, &env)).await;
        let auth = format!("Bearer {}", stack.register("album@example.com").await);
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/attachments", |_| {
                (vec![("authorization", auth.clone())], json!({"contentType": "image/png", "size": 1000}))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!((counts.get(&201), counts.get(&403)), (Some(&5), Some(&(n - 5))), "{counts:?}\n{}", stack.logs());
        for reply in replies.iter().filter(|reply| reply.status == 403) {
            assert_eq!(reply.error_code(), "storage_full", "{}", reply.text());
        }
        let db = connect(stack).await;
        assert_eq!(Attachment::find().count(&db).await.unwrap(), 5);
    }

    /// One picture named by a burst of turns at every instance: it is sent with exactly one
    /// message; the other turns are 409 `attachment_in_use` and store nothing (nor charge the
    /// quota).
    async fn a_picture_is_sent_with_one_message_only(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("A picture.")).await;
        let server = S3Server::start("pictures").await;
        let mut env = std::collections::HashMap::new();
        server.configure(&mut env);
        let mut env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        env.push(("CHAT_QUOTA_USER", "off"));
        let stack = Stack::start(backend, &upstream_env(&upstream, &env)).await;
        let auth = format!("Bearer {}", stack.register("sender@example.com").await);
        let asked = stack
            .post_json(0, "/api/attachments", &[("authorization", &auth)], &json!({"contentType": "image/png", "size": PNG.len()}))
            .await;
        assert_eq!(asked.status, 201, "{}", asked.text());
        let asked = asked.json();
        let (status, body) = post_to_bucket(&asked["upload"], PNG, "image/png").await;
        assert!((200..300).contains(&status), "{status} {body}");
        let id = asked["attachment"]["id"].as_str().unwrap().to_string();
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/chat", |i| {
                let mut body = turn(&format!("look {i}"), None);
                body["attachments"] = json!([id]);
                (vec![("authorization", auth.clone())], body)
            })
            .await;
        let counts = tally(&replies);
        assert_eq!((counts.get(&200), counts.get(&409)), (Some(&1), Some(&(n - 1))), "{counts:?}\n{}", stack.logs());
        for reply in replies.iter().filter(|reply| reply.status == 409) {
            assert_eq!(reply.error_code(), "attachment_in_use", "{}", reply.text());
        }
        let db = connect(stack).await;
        assert!(eventually(Duration::from_secs(5), async || Message::find().count(&db).await.unwrap() == 2).await);
        assert_eq!(upstream.received().len(), 1);
    }

    /// Casting readings: a burst at every instance writes exactly the readings the limit allows.
    async fn casting_readings_admits_exactly_the_limit(backend: Backend) {
        let stack = Stack::start(backend, &[("RATE_LIMIT_ORACLE_CASTS", "5/1h")]).await;
        let auth = format!("Bearer {}", stack.register("caster@example.com").await);
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/oracle/readings", |i| {
                (vec![("authorization", auth.clone())], json!({"question": format!("question {i}"), "method": "coins"}))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!((counts.get(&201), counts.get(&429)), (Some(&5), Some(&(n - 5))), "{counts:?}\n{}", stack.logs());
        assert_refusals(&replies, "rate_limited", 3600);
        let db = connect(stack).await;
        assert_eq!(Reading::find().count(&db).await.unwrap(), 5);
    }

    /// The constitution questionnaire: a burst of submissions at every instance keeps exactly
    /// the assessments the limit allows.
    async fn submitting_assessments_admits_exactly_the_limit(backend: Backend) {
        let stack = Stack::start(backend, &[("RATE_LIMIT_CONSTITUTION_ASSESSMENTS", "5/1h")]).await;
        let auth = format!("Bearer {}", stack.register("patient@example.com").await);
        let body = full_submission(&stack).await;
        let n = burst_size();
        let stack = &stack;
        let replies =
            stack.burst_post(n, "/api/constitution/assessments", |_| (vec![("authorization", auth.clone())], body.clone())).await;
        let counts = tally(&replies);
        assert_eq!((counts.get(&201), counts.get(&429)), (Some(&5), Some(&(n - 5))), "{counts:?}\n{}", stack.logs());
        assert_refusals(&replies, "rate_limited", 3600);
        let db = connect(stack).await;
        assert_eq!(ConstitutionAssessment::find().count(&db).await.unwrap(), 5);
    }

    /// Withdrawing the health consent with the assessments while submissions arrive at every
    /// instance: each submission came first (and is deleted with the others) or is refused.
    async fn a_withdrawal_takes_every_assessment_however_submissions_race_it(backend: Backend) {
        let env = [("HEALTH_CONSENT", "required"), ("RATE_LIMIT_CONSTITUTION_ASSESSMENTS", "off")];
        let stack = Stack::start(backend, &env).await;
        let auth = format!("Bearer {}", stack.register("patient@example.com").await);
        let given = stack.call(0, "POST", "/api/account/health-consent", &[("authorization", &auth)], b"").await;
        assert_eq!(given.status, 200, "{}", given.text());
        let body = full_submission(&stack).await;
        let n = burst_size();
        let stack = &stack;
        let replies = burst(n, |i| {
            let (auth, body) = (auth.clone(), body.clone());
            let path = match i {
                0 => "/api/account/health-consent?deleteAssessments=true",
                _ => "/api/constitution/assessments",
            };
            let port = stack.port(path, i);
            async move {
                match i {
                    0 => test_support::burst::call(port, "DELETE", path, &[("authorization", &auth)], b"").await,
                    _ => test_support::burst::call_json(port, "POST", path, &[("authorization", &auth)], &body).await,
                }
            }
        })
        .await;
        assert_eq!(replies[0].status, 200, "{}", replies[0].text());
        for reply in &replies[1..] {
            assert!([201, 403].contains(&reply.status), "{}: {}\n{}", reply.status, reply.text(), stack.logs());
        }
        let db = connect(stack).await;
        assert_eq!(ConstitutionAssessment::find().count(&db).await.unwrap(), 0, "no assessment outlives the withdrawal");
        let after = stack.post_json(1, "/api/constitution/assessments", &[("authorization", &auth)], &body).await;
        assert_eq!((after.status, after.error_code()), (403, "consent_required".to_string()));
    }

    /// Turns in a conversation, casts and assessments racing the deletion of the conversation and
    /// of the account at every instance: each is done before, or refused after (404, 401) —
    /// never a 500 from a deadlock or a broken foreign key — and nothing is left behind.
    async fn writes_racing_deletions_are_done_or_refused(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("So it is.")).await;
        let env = upstream_env(&upstream, &[("RATE_LIMIT_ORACLE_CASTS", "off"), ("RATE_LIMIT_CONSTITUTION_ASSESSMENTS", "off")]);
        let stack = Stack::start(backend, &env).await;
        let token = stack.register("racer@example.com").await;
        let auth = format!("Bearer {token}");
        let body = full_submission(&stack).await;
        let first = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn("first", None)).await;
        assert_eq!(first.status, 200, "{}", first.text());
        let conversation: Value = serde_json::from_str(&first.text()).unwrap();
        let conversation = conversation["conversationId"].as_str().unwrap().to_string();
        let n = burst_size();
        let stack = &stack;
        // Round one: turns in the conversation while it is deleted.
        let replies = burst(n, |i| {
            let auth = auth.clone();
            let path = match i {
                0 => format!("/api/chat/conversations/{conversation}"),
                _ => "/api/chat".to_string(),
            };
            let body = turn(&format!("more {i}"), Some(&conversation));
            let port = stack.port(&path, i);
            async move {
                match i {
                    0 => test_support::burst::call(port, "DELETE", &path, &[("authorization", &auth)], b"").await,
                    _ => test_support::burst::call_json(port, "POST", &path, &[("authorization", &auth)], &body).await,
                }
            }
        })
        .await;
        assert_eq!(replies[0].status, 204, "{}", replies[0].text());
        for reply in &replies[1..] {
            assert!([200, 404].contains(&reply.status), "{}: {}\n{}", reply.status, reply.text(), stack.logs());
        }
        // Round two: new turns, casts and assessments while the account is deleted.
        let replies = burst(n, |i| {
            let (auth, submission) = (auth.clone(), body.clone());
            let (path, body) = match i % 4 {
                0 if i == 0 => ("/api/account/delete", json!({"password": PASSWORD})),
                1 => ("/api/oracle/readings", json!({"question": format!("q {i}"), "method": "coins"})),
                2 => ("/api/constitution/assessments", submission),
                _ => ("/api/chat", turn(&format!("new {i}"), None)),
            };
            let port = stack.port(path, i);
            async move { test_support::burst::call_json(port, "POST", path, &[("authorization", &auth)], &body).await }
        })
        .await;
        assert_eq!(replies[0].status, 200, "{}", replies[0].text());
        for (i, reply) in replies.iter().enumerate().skip(1) {
            // A turn placed before the deletion finds its conversation gone when its reply is
            // saved: 404, as for a conversation deleted during its reply.
            let allowed: &[u16] = if i % 4 == 1 || i % 4 == 2 { &[201, 401] } else { &[200, 401, 404] };
            assert!(allowed.contains(&reply.status), "{i}: {}: {}\n{}", reply.status, reply.text(), stack.logs());
        }
        let db = connect(stack).await;
        assert_eq!(Conversation::find().count(&db).await.unwrap(), 0);
        assert_eq!(Reading::find().count(&db).await.unwrap(), 0);
        assert_eq!(ConstitutionAssessment::find().count(&db).await.unwrap(), 0);
    }

    /// The usage tallies under a burst: many users' turns at once on every instance, and each
    /// one counted once (a lost update of the hourly row would show fewer).
    async fn every_turn_of_a_burst_is_tallied_once(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["The ", "answer."], Duration::from_millis(20))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("ADMIN_EMAILS", test_support::ADMIN_EMAIL)])).await;
        let users = 4;
        let mut auths = Vec::new();
        for user in 0..users {
            auths.push(format!("Bearer {}", stack.register(&format!("tallied{user}@example.com")).await));
        }
        let n = burst_size();
        let stack = &stack;
        let replies = stack
            .burst_post(n, "/api/chat", |i| {
                let mut headers = vec![("authorization", auths[i % users].clone())];
                if i % 2 == 1 {
                    headers.push(("accept", "text/event-stream".to_string()));
                }
                (headers, turn(&format!("question {i}"), None))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&200), Some(&n), "{counts:?}\n{}", stack.logs());
        let db = connect(stack).await;
        assert!(eventually(Duration::from_secs(5), async || Message::find().count(&db).await.unwrap() == 2 * n as u64).await);
        let admin = stack.register(test_support::ADMIN_EMAIL).await;
        let report = stack.call(0, "GET", "/api/admin/usage", &[("authorization", &format!("Bearer {admin}"))], b"").await;
        assert_eq!(report.status, 200, "{}", report.text());
        let report: Value = serde_json::from_str(&report.text()).unwrap();
        // The test upstream reports 11 prompt tokens and one completion token per piece.
        assert_eq!(report["totals"]["messages"], n, "{report}");
        assert_eq!(report["totals"]["replies"], n, "{report}");
        assert_eq!(report["totals"]["tokens"], n * 13, "{report}");
        assert_eq!(report["totals"]["activeUsers"], users, "{report}");
    }

    /// The stream cap: at most `CHAT_MAX_CONCURRENT_STREAMS` replies stream at once, across
    /// instances; the refusals say truly when a slot frees; every slot is released after.
    async fn the_stream_cap_admits_exactly_the_limit(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["a ", "slow ", "reply"], Duration::from_millis(300))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "2")])).await;
        let token = stack.register("streamer@example.com").await;
        let n = burst_size();
        let stack = &stack;
        let auth = format!("Bearer {token}");
        // Half the burst continues a stored conversation (whose read carries the slot count),
        // half opens new ones.
        let opened = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn("first", None)).await;
        assert_eq!(opened.status, 200, "{}", opened.text());
        let conversation = opened.json()["conversationId"].as_str().unwrap().to_string();
        let replies = stack
            .burst_post(n, "/api/chat", |i| {
                let headers = vec![("authorization", auth.clone()), ("accept", "text/event-stream".to_string())];
                (headers, turn(&format!("q{i}"), (i % 2 == 0).then_some(conversation.as_str())))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&200), Some(&2), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 2)), "{counts:?}");
        // The lease is ten model timeouts (OPENAI_TIMEOUT=2s): no slot is held longer.
        assert_refusals(&replies, "too_many_streams", 20);
        for reply in replies.iter().filter(|reply| reply.status == 200) {
            assert!(reply.text().contains("event: done"), "{}", reply.text());
        }
        let db = connect(stack).await;
        let held = ReplyStream::find();
        assert!(eventually(Duration::from_secs(5), async || held.clone().count(&db).await.unwrap() == 0).await);
        let next = stack
            .post_json(0, "/api/chat", &[("authorization", &auth), ("accept", "text/event-stream")], &turn("again", None))
            .await;
        assert_eq!(next.status, 200, "{}", next.text());
    }

    /// Finding 4: a client that leaves before the first byte used to keep its slot (and two
    /// such leaves locked the user out, with a `Retry-After: 5` that was not true).
    async fn a_stream_whose_client_leaves_early_frees_its_slot(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["late ", "reply"], Duration::from_millis(400))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "1")])).await;
        let token = stack.register("leaver@example.com").await;
        for attempt in 0..2 {
            leave_before_the_first_byte(stack.port("/api/chat", attempt), &token, &format!("leaving {attempt}")).await;
            // The reply is still completed and saved, and the slot released.
            let db = connect(&stack).await;
            let saved = async || Message::find().count(&db).await.unwrap() == 2 * (attempt as u64 + 1);
            assert!(eventually(Duration::from_secs(5), saved).await, "{}", stack.logs());
            // (The slot is released just after the reply is saved: wait for that too.)
            let held = ReplyStream::find();
            let released = async || held.clone().count(&db).await.unwrap() == 0;
            assert!(eventually(Duration::from_secs(5), released).await, "{}", stack.logs());
        }
        let reply = stack
            .post_json(1, "/api/chat", &[("authorization", &format!("Bearer {token}")), ("accept", "text/event-stream")], &turn("still here", None))
            .await;
        assert_eq!(reply.status, 200, "{}\n{}", reply.text(), stack.logs());
    }

    /// The stop reaches the instance streaming through the database: sent to the other chat
    /// instance, it closes the model's request there, the reply is saved as stopped, and the
    /// slot is free when the stop answers.
    async fn a_stop_sent_to_another_instance_stops_the_stream(backend: Backend) {
        let pieces: Vec<String> = (0..60).map(|n| format!("w{n} ")).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let upstream = Upstream::start(Behaviour::pieces(&pieces, Duration::from_millis(50))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("CHAT_MAX_CONCURRENT_STREAMS", "1")])).await;
        let token = stack.register("stopper@example.com").await;
        let auth = format!("Bearer {token}");
        let headers = [("authorization", auth.as_str()), ("accept", "text/event-stream")];
        let mut streaming = Streaming::open(stack.port("/api/chat", 0), "/api/chat", &headers, &turn("a long one", None)).await;
        assert!(streaming.read_until("w3 ").await, "{}\n{}", streaming.received, stack.logs());
        let start = streaming.received.split("event: start\ndata: ").nth(1).unwrap();
        let conversation = start[start.find("\"conversationId\":\"").unwrap() + 18..].split('"').next().unwrap().to_string();

        let stop = stack.call(1, "POST", &format!("/api/chat/conversations/{conversation}/stop"), &[("authorization", &auth)], b"").await;
        assert_eq!(stop.status, 200, "{}\n{}", stop.text(), stack.logs());
        assert_eq!(stop.json(), json!({"requested": 1, "ended": 1}));
        let log = upstream.streams().pop().unwrap();
        assert!(log.cut_at.is_some() && !log.finished && log.pieces_sent < 60, "{log:?}");
        streaming.read_to_end().await;
        // (The raw answer is chunked; each event arrives whole within one chunk.)
        assert!(streaming.received.contains("\"finishReason\":\"stopped\""), "{}", streaming.received);
        // The slot is free at once, on either instance.
        let next = stack.post_json(0, "/api/chat", &headers, &turn("next", Some(&conversation))).await;
        assert_eq!(next.status, 200, "{}", next.text());
        let db = connect(&stack).await;
        let stopped = Message::find().filter(app_core::entities::message::Column::Stopped.eq(true)).all(&db).await.unwrap();
        assert_eq!(stopped.len(), 1);
        assert!(stopped[0].content.starts_with("w0 w1 w2 w3 "), "{}", stopped[0].content);
    }

    /// Regenerations are turns: a burst of them, over both instances, spends exactly what the
    /// quota has left.
    async fn regenerations_spend_the_quota_exactly(backend: Backend) {
        let upstream = Upstream::start(Behaviour::pieces(&["again"], Duration::from_millis(20))).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("CHAT_QUOTA_USER", "5/1d")])).await;
        let token = stack.register("regenerator@example.com").await;
        let auth = format!("Bearer {token}");
        let first = stack.post_json(0, "/api/chat", &[("authorization", &auth)], &turn("once", None)).await;
        assert_eq!(first.status, 200, "{}", first.text());
        let (conversation, reply) =
            (first.json()["conversationId"].as_str().unwrap().to_string(), first.json()["messageId"].as_str().unwrap().to_string());
        let path: &'static str = Box::leak(format!("/api/chat/conversations/{conversation}/messages/{reply}/regenerate").into_boxed_str());
        let n = burst_size();
        let replies = stack
            .burst_post(n, path, |i| {
                let mut headers = vec![("authorization", auth.clone())];
                if i % 2 == 1 {
                    headers.push(("accept", "text/event-stream".to_string()));
                }
                (headers, json!({}))
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&200), Some(&4), "{counts:?}: {:?}\n{}", statuses(&replies), stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 4)), "{counts:?}");
        assert_refusals(&replies, "rate_limited", 86_400);
        let db = connect(&stack).await;
        assert!(eventually(Duration::from_secs(5), async || Message::find().count(&db).await.unwrap() == 6).await);
        let detail = stack.call(0, "GET", &format!("/api/chat/conversations/{conversation}"), &[("authorization", &auth)], b"").await;
        assert_eq!(detail.json()["messages"][1]["versions"], 5, "{}", detail.text());
    }

    /// Many users at once, each streaming several turns in one conversation: every turn is
    /// stored in order, with its own reply, and nothing else is.
    async fn concurrent_users_keep_every_turn_in_order(backend: Backend) {
        let upstream = Upstream::start(Behaviour::Echo { delay: Duration::from_millis(5) }).await;
        let stack = Stack::start(backend, &upstream_env(&upstream, &[("RATE_LIMIT_REGISTER_IP", "off")])).await;
        let users = std::env::var("USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(12);
        let turns = 3;
        let mut tokens = Vec::new();
        for user in 0..users {
            tokens.push(stack.register(&format!("user{user}@example.com")).await);
        }
        let stack = &stack;
        let conversations = burst(users, |user| {
            let token = tokens[user].clone();
            let ports: Vec<u16> = (0..turns).map(|turn| stack.port("/api/chat", user + turn)).collect();
            async move {
                let auth = format!("Bearer {token}");
                let mut conversation: Option<String> = None;
                for (turn, port) in ports.into_iter().enumerate() {
                    let body = super::turn(&format!("user {user} turn {turn}"), conversation.as_deref());
                    let headers = [("authorization", auth.as_str()), ("accept", "text/event-stream")];
                    let reply = test_support::burst::call_json(port, "POST", "/api/chat", &headers, &body).await;
                    if reply.status != 200 {
                        // Asserted below, where the processes' logs can go with the failure.
                        return Err(format!("user {user} turn {turn}: {} {}", reply.status, reply.text()));
                    }
                    let done = sse_event(&reply.text(), "done").expect("a done event");
                    conversation = Some(done["conversationId"].as_str().unwrap().to_string());
                }
                Ok((token, conversation.unwrap()))
            }
        })
        .await;
        let conversations: Vec<(String, String)> = conversations
            .into_iter()
            .map(|turns| turns.unwrap_or_else(|failed| panic!("{failed}\n{}", stack.logs())))
            .collect();
        for (user, (token, conversation)) in conversations.iter().enumerate() {
            let reply = stack
                .call(user, "GET", &format!("/api/chat/conversations/{conversation}"), &[("authorization", &format!("Bearer {token}"))], b"")
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let messages = reply.json()["messages"].as_array().unwrap().clone();
            let seen: Vec<(String, String)> = messages
                .iter()
                .map(|m| (m["role"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
                .collect();
            assert_eq!(seen.len(), 2 * turns, "user {user}: {seen:?}");
            for turn in 0..turns {
                let asked = format!("user {user} turn {turn}");
                assert_eq!(seen[2 * turn], ("user".to_string(), asked.clone()), "user {user}: {seen:?}");
                assert_eq!(seen[2 * turn + 1].0, "assistant");
                assert!(seen[2 * turn + 1].1.contains(&format!("heard: {asked}")), "user {user}: {seen:?}");
            }
            let list = stack.call(user, "GET", "/api/chat/conversations", &[("authorization", &format!("Bearer {token}"))], b"").await;
            assert_eq!(list.json()["conversations"].as_array().unwrap().len(), 1, "{}", list.text());
        }
        let db = connect(stack).await;
        assert_eq!(Message::find().count(&db).await.unwrap(), (users * 2 * turns) as u64);
    }
}

/// Sends a streaming turn and closes the connection before the model's first piece.
async fn leave_before_the_first_byte(port: u16, token: &str, text: &str) {
    let body = turn(text, None).to_string();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "POST /api/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
}

fn turn(text: &str, conversation: Option<&str>) -> Value {
    let mut body = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": text}]});
    if let Some(id) = conversation {
        body["conversationId"] = json!(id);
    }
    body
}

/// The data of the first `event: name` in an SSE text.
fn sse_event(text: &str, name: &str) -> Option<Value> {
    text.split("\n\n").find_map(|block| {
        let mut lines = block.lines();
        (lines.next()? == format!("event: {name}"))
            .then(|| {
                lines.find_map(|line| line.strip_prefix("data: ")).and_then(|data| serde_json::from_str(data).ok())
            })
            .flatten()
    })
}

/// `extra`, plus the variables that point the stack at `upstream` and lift the limits a test
/// does not look at.
fn upstream_env<'a>(upstream: &'a Upstream, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = upstream.env().to_vec();
    env.extend([("CHAT_QUOTA_USER", "off"), ("CHAT_MAX_CONCURRENT_STREAMS", "0")]);
    for (name, value) in extra {
        env.retain(|(existing, _)| existing != name);
        env.push((name, value));
    }
    env
}

/// A man's answers to every question of the questionnaire the stack serves (all "sometimes").
async fn full_submission(stack: &Stack) -> Value {
    let reply = stack.call(0, "GET", "/api/constitution/questionnaire", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let questionnaire: Value = serde_json::from_str(&reply.text()).unwrap();
    test_support::all_sometimes(&questionnaire)
}
