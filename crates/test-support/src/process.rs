//! A function binary run as a process the way Function Compute runs it (its port from
//! `FC_CUSTOM_LISTEN_PORT`), with plain HTTP/1.1 requests over a socket, its stdout collected,
//! and a kill on drop; plus [`replay_events`] for the `functions/<name>/events/` files.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{ActiveValue::Set, Database, EntityTrait};

use crate::{Backend, PASSWORD, TEST_SECRET, TestDb};

pub struct FunctionProcess {
    pub child: Child,
    pub port: u16,
    stdout: Arc<Mutex<String>>,
}

impl FunctionProcess {
    /// Starts `binary` on a free port with the test secret, cost-4 bcrypt and `extra` variables,
    /// and waits until it listens.
    pub fn start(binary: &str, database_url: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_on("FC_CUSTOM_LISTEN_PORT", binary, database_url, extra)
    }

    /// The local stack (`make dev`'s binary of the workspace) on a free port, like [`start`].
    ///
    /// [`start`]: FunctionProcess::start
    pub fn start_local_stack(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let binary = crate::burst::workspace_binary("local-stack");
        Self::start_on("PORT", &binary.to_string_lossy(), database_url, extra)
    }

    /// A function binary of the workspace (`chat`, `auth-login`…), like [`start`].
    ///
    /// [`start`]: FunctionProcess::start
    pub fn start_function(name: &str, database_url: &str, extra: &[(&str, &str)]) -> Self {
        let binary = crate::burst::workspace_binary(name);
        Self::start(&binary.to_string_lossy(), database_url, extra)
    }

    /// Starts `binary` on a port of [`crate::ports::free_port`]; should another program take
    /// that port first (the binary then exits at once), it starts again on another.
    fn start_on(port_variable: &str, binary: &str, database_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut attempt = 1;
        loop {
            match Self::try_start_on(port_variable, binary, database_url, extra) {
                Ok(process) => return process,
                Err(exited) if attempt < 5 => {
                    eprintln!("{binary} exited before listening ({exited}); starting it again on another port");
                    attempt += 1;
                }
                Err(exited) => panic!("{binary} exited before listening, five times: {exited}"),
            }
        }
    }

    fn try_start_on(
        port_variable: &str,
        binary: &str,
        database_url: &str,
        extra: &[(&str, &str)],
    ) -> Result<Self, std::process::ExitStatus> {
        let port = crate::ports::free_port();
        let mut child = Command::new(binary)
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", TEST_SECRET)
            .env("BCRYPT_COST", "4")
            .env(port_variable, port.to_string())
            .env("DB_CONNECT_TIMEOUT", "1s")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("start {binary}: {err}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        let pipe = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let mut process = Self { child, port, stdout };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = process.child.try_wait().ok().flatten() {
                return Err(status);
            }
            assert!(Instant::now() < deadline, "{binary} did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(process)
    }

    /// One HTTP/1.1 request on a fresh connection: (status, body).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        stream.write_all(crate::burst::request_head(method, path, headers, body.len()).as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
        (status, body)
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits up to 5 s for `needle` on stdout.
    pub fn wait_for_stdout(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.stdout().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The account the event files act as: `someone@example.com` with [`PASSWORD`], an ADMIN, whose
/// session `session-events` the pre-signed token in the files names (signed with
/// [`TEST_SECRET`], expiring 2037-12-31).
pub const EVENTS_USER_ID: &str = "user-events";
pub const EVENTS_SESSION_ID: &str = "session-events";

/// Posts every `<name>.<status>.json` FC event in `dir` to `binary`'s `/invoke` and checks the
/// status in each answer. Returns how many files it replayed.
pub async fn replay_events(binary: &str, dir: &Path) -> usize {
    use app_core::entities::{Role, session, user};

    let db = TestDb::migrated(Backend::Sqlite).await;
    let conn = Database::connect(&db.url).await.expect("connect");
    let now = chrono::Utc::now();
    let hash = app_core::auth::password::hash(PASSWORD.to_string(), 4).await.expect("hash");
    user::Entity::insert(user::ActiveModel {
        id: Set(EVENTS_USER_ID.into()),
        email: Set("someone@example.com".into()),
        password_hash: Set(hash),
        role: Set(Role::Admin),
        banned_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&conn)
    .await
    .expect("seed the user");
    let expires = chrono::DateTime::from_timestamp(2_145_830_400, 0).expect("2037-12-31");
    session::Entity::insert(session::ActiveModel {
        id: Set(EVENTS_SESSION_ID.into()),
        user_id: Set(EVENTS_USER_ID.into()),
        session_token: Set("events-session-token".into()),
        expires: Set(expires),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&conn)
    .await
    .expect("seed the session");
    let _ = conn.close().await;

    let function = FunctionProcess::start(binary, &db.url, &[]);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected: u16 = name
            .trim_end_matches(".json")
            .rsplit('.')
            .next()
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("{name}: name event files `<what>.<status>.json`"));
        let event = std::fs::read(file).unwrap();
        let (status, body) =
            function.request("POST", "/invoke", &[("content-type", "application/octet-stream")], &event);
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status != 200 || answer["statusCode"] != expected {
            failures.push(format!("{name}: expected statusCode {expected}, got HTTP {status} {body}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    files.len()
}
