//! The database fails while clients keep calling: a MariaDB server of the test's own (its own
//! data directory and port, never the machine's shared one) is frozen, killed and started
//! again, and a proxy of the test's own in front of it stalls and resets connections. While it
//! is gone every request gets our 503 JSON within `DB_CONNECT_TIMEOUT` plus a little (the
//! health check its 200 within 2 s); once it is back every instance answers again within 2 s,
//! with no restart; and every chat turn that was answered 200 is in the history afterwards.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use test_support::{
    Backend, Behaviour, TestDb, Upstream,
    burst::Reply,
    fault::{OwnMariaDb, ProxyMode, TcpProxy},
    stack::{INSTANCES, Stack},
};

/// `DB_CONNECT_TIMEOUT` of the stack under test.
const DEADLINE: Duration = Duration::from_secs(1);
/// What "a little" above the deadline may be: scheduling, the response, a loaded CI machine.
const SLACK: Duration = Duration::from_millis(1500);
/// How soon after the database is back every instance must answer.
const RECOVERY: Duration = Duration::from_secs(2);

struct Scene {
    stack: Stack,
    token: String,
    upstream: Upstream,
}

async fn scene(database_url: &str) -> Scene {
    let upstream = Upstream::start(Behaviour::reply("A steady answer.")).await;
    let database = TestDb::migrated_at(database_url).await;
    let mut env = upstream.env().to_vec();
    env.extend([("DB_CONNECT_TIMEOUT", "1s"), ("CHAT_QUOTA_USER", "off"), ("RATE_LIMIT_LOGIN_IP", "off")]);
    let stack = Stack::on(Backend::MySql, database, &env);
    let token = stack.register("steady@example.com").await;
    Scene { stack, token, upstream }
}

impl Scene {
    /// One of each kind of request, on instance `i`: a session check, a login, a chat turn and
    /// the health check.
    async fn mixed(&self, i: usize) -> Vec<(&'static str, Reply)> {
        let auth = format!("Bearer {}", self.token);
        let stack = &self.stack;
        let session = stack.call(i, "GET", "/api/auth/session", &[("authorization", &auth)], b"").await;
        let credentials = json!({"email": "steady@example.com", "password": test_support::PASSWORD});
        let login = stack.post_json(i, "/api/auth/login", &[], &credentials).await;
        let chat = stack.post_json(i, "/api/chat", &[("authorization", &auth)], &turn("while it is down")).await;
        let health = stack.call(i, "GET", "/api/health", &[], b"").await;
        vec![("session", session), ("login", login), ("chat", chat), ("health", health)]
    }

    /// Asserts what every request gets while the database is gone: 503 `database_unavailable`
    /// JSON within the deadline, and the health check's 200 "down" within 2 s.
    async fn assert_unavailable(&self) {
        // Two rounds per instance, all at once.
        let rounds = (0..2 * INSTANCES).map(|i| self.mixed(i));
        let all: Vec<_> = futures::future::join_all(rounds).await.into_iter().flatten().collect();
        let slowest =
            |health: bool| all.iter().filter(|(what, _)| (*what == "health") == health).map(|(_, r)| r.elapsed).max();
        // Figures for `make soak` (BENCHMARKS.md); shown with `--success-output`.
        println!("while down: slowest 503 {:?}, slowest health {:?}", slowest(false), slowest(true));
        for (what, reply) in &all {
            if *what == "health" {
                assert_eq!(reply.status, 200, "health: {}", reply.text());
                assert_eq!(reply.json()["database"], "down", "{}", reply.text());
                assert!(reply.elapsed <= RECOVERY, "health took {:?}", reply.elapsed);
            } else {
                assert_eq!(reply.status, 503, "{what}: {} {}", reply.status, reply.text());
                assert_eq!(reply.error_code(), "database_unavailable", "{what}");
                assert!(reply.elapsed <= DEADLINE + SLACK, "{what} took {:?}", reply.elapsed);
            }
        }
    }

    /// Waits until every instance answers a session check, a login and a chat turn; returns
    /// how long that took.
    async fn time_to_recover(&self) -> Duration {
        let started = Instant::now();
        let auth = format!("Bearer {}", self.token);
        for i in 0..INSTANCES {
            loop {
                let session = self.stack.call(i, "GET", "/api/auth/session", &[("authorization", &auth)], b"").await;
                let chat = self.stack.post_json(i, "/api/chat", &[("authorization", &auth)], &turn("back again")).await;
                if session.status == 200 && chat.status == 200 {
                    break;
                }
                for reply in [&session, &chat] {
                    assert!([200, 503].contains(&reply.status), "while recovering: {} {}", reply.status, reply.text());
                }
                assert!(started.elapsed() < Duration::from_secs(20), "no recovery: {}", self.stack.logs());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let took = started.elapsed();
        println!("every instance answered again after {took:?}");
        took
    }
}

fn turn(text: &str) -> serde_json::Value {
    json!({"type": "tcm", "locale": "zh-CN", "messages": [{"role": "user", "content": text}]})
}

/// Chat turns sent one after another on every instance until stopped; each answered 200 is
/// remembered (conversation, text) to be found in the history afterwards.
struct Chatter {
    stop: Arc<AtomicBool>,
    answered: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<Vec<u16>>,
}

impl Chatter {
    fn start(scene: &Scene) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let ports: Vec<u16> = (0..INSTANCES).map(|i| scene.stack.port("/api/chat", i)).collect();
        let auth = format!("Bearer {}", scene.token);
        let (stop_flag, answers) = (stop.clone(), answered.clone());
        let task = tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop_flag.load(Ordering::SeqCst) {
                let text = format!("turn {n}");
                let port = ports[n % ports.len()];
                let reply = test_support::burst::call_json(
                    port,
                    "POST",
                    "/api/chat",
                    &[("authorization", &auth)],
                    &turn(&text),
                )
                .await;
                statuses.push(reply.status);
                match reply.status {
                    200 => answers
                        .lock()
                        .unwrap()
                        .push((reply.json()["conversationId"].as_str().unwrap().to_string(), text)),
                    503 | 504 => assert!(reply.json()["error"]["code"].is_string(), "{}", reply.text()),
                    other => panic!("a chat turn got {other}: {}", reply.text()),
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        });
        Self { stop, answered, task }
    }

    /// Stops, and checks that every turn answered 200 is stored with its reply.
    async fn finish(self, scene: &Scene) -> Vec<u16> {
        self.stop.store(true, Ordering::SeqCst);
        let statuses = self.task.await.expect("the chatter ran");
        let answered = self.answered.lock().unwrap().clone();
        assert!(answered.len() >= 2, "too few turns were answered to check anything: {statuses:?}");
        let auth = format!("Bearer {}", scene.token);
        for (conversation, text) in answered {
            let reply = scene
                .stack
                .call(0, "GET", &format!("/api/chat/conversations/{conversation}"), &[("authorization", &auth)], b"")
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let messages = reply.json()["messages"].as_array().unwrap().clone();
            let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
            assert_eq!(roles, ["user", "assistant"], "{conversation}");
            assert_eq!(messages[0]["content"], text.as_str());
            assert_eq!(messages[1]["content"], "A steady answer.");
        }
        assert!(!scene.upstream.received().is_empty());
        statuses
    }
}

/// Finding 7: requests on pooled connections used to wait for a frozen database until it came
/// back (on FC, until the function's timeout), and 503s went on for seconds after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_is_503_in_time_and_recovers_within_2s() {
    let server = OwnMariaDb::start();
    let scene = scene(&server.url()).await;
    let chatter = Chatter::start(&scene);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every instance holds pooled connections now; the database stops answering on them.
    for i in 0..INSTANCES {
        assert_eq!(scene.mixed(i).await[0].1.status, 200);
    }
    server.freeze();
    scene.assert_unavailable().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.thaw();
    let took = scene.time_to_recover().await;
    assert!(took <= RECOVERY, "recovered after {took:?}\n{}", scene.stack.logs());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = chatter.finish(&scene).await;
    assert!(statuses.contains(&503), "the chatter saw the outage: {statuses:?}");
}

/// Killed and started again (a crash, a failover to a fresh server): 503s while it is down,
/// and every instance answers again within 2 s of it being back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_database_is_503_then_recovers_within_2s() {
    let mut server = OwnMariaDb::start();
    let scene = scene(&server.url()).await;
    let chatter = Chatter::start(&scene);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    scene.assert_unavailable().await;
    server.restart();
    let took = scene.time_to_recover().await;
    assert!(took <= RECOVERY, "recovered after {took:?}\n{}", scene.stack.logs());
    tokio::time::sleep(Duration::from_millis(300)).await;
    chatter.finish(&scene).await;
}

/// A network that drops everything (a stalled proxy holds every byte), then resets every
/// connection, then heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_stalls_then_resets_is_503_then_recovers_within_2s() {
    let server = OwnMariaDb::start();
    let proxy = TcpProxy::start(server.port).await;
    let scene = scene(&format!("mysql://root@127.0.0.1:{}/test", proxy.port)).await;
    let chatter = Chatter::start(&scene);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for mode in [ProxyMode::Stall, ProxyMode::Reset] {
        proxy.set(mode);
        scene.assert_unavailable().await;
        proxy.set(ProxyMode::Pass);
        let took = scene.time_to_recover().await;
        assert!(took <= RECOVERY, "{mode:?}: recovered after {took:?}\n{}", scene.stack.logs());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    chatter.finish(&scene).await;
}
