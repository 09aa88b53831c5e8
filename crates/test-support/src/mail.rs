//! A real SMTP server for the tests: `tests/smtp/smtp_sink.py` (aiosmtpd), started per test on
//! a port of its own, writing each delivered message as a JSON file the test reads back.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::Deserialize;

/// The sender the tests configure.
pub const MAIL_FROM: &str = "Oracle & TCM <noreply@example.com>";
/// The site address the tests configure: links in mail start with it.
pub const SITE_URL: &str = "https://chat.example.com";

/// One delivered message, as the server decoded it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl Mail {
    /// The token of the first `{SITE_URL}/#/{page}/<token>` link in the text body.
    pub fn link_token(&self, page: &str) -> Option<String> {
        let prefix = format!("{SITE_URL}/#/{page}/");
        let text = self.text.as_deref()?;
        let start = text.find(&prefix)? + prefix.len();
        let token: String = text[start..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        (!token.is_empty()).then_some(token)
    }
}

pub struct MailServer {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl MailServer {
    /// Starts a server that accepts every message.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// Starts a server that requires `AUTH` with these credentials.
    pub fn start_with_auth(username: &str, password: &str) -> Self {
        Self::spawn(Some(format!("{username}:{password}")))
    }

    fn spawn(auth: Option<String>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/smtp/smtp_sink.py");
        let dir = std::env::temp_dir().join(format!("smtp-sink-{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new("python3");
        command.arg(script).arg("--dir").arg(&dir).stdout(Stdio::piped()).stderr(Stdio::inherit());
        if let Some(auth) = auth {
            command.arg("--auth").arg(auth);
        }
        let mut child = command.spawn().expect("python3 runs (the SMTP server of the tests)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line.strip_prefix("READY ").and_then(|port| port.trim().parse().ok());
        let Some(port) = port.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the test SMTP server did not start (got {line:?}). It needs aiosmtpd: \
                 python3 -m pip install aiosmtpd==1.4.6 (`make test` installs it)"
            );
        };
        Self { child, dir, port }
    }

    /// `SMTP_URL`, `MAIL_FROM` and `SITE_URL` for an app that sends mail here.
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        env.extend(self.env().into_iter().map(|(name, value)| (name.to_string(), value)));
    }

    /// The same variables as pairs (for processes: `Stack::start`).
    pub fn env(&self) -> [(&'static str, String); 3] {
        [("SMTP_URL", self.url()), ("MAIL_FROM", MAIL_FROM.into()), ("SITE_URL", SITE_URL.into())]
    }

    /// A plain-SMTP URL of this server (loopback: no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
            .unwrap_or_default();
        files.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("read a delivered message");
                serde_json::from_str(&text).expect("a message file is JSON")
            })
            .collect()
    }

    /// The messages delivered to `address`.
    pub fn messages_to(&self, address: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|mail| mail.rcpt_tos.iter().any(|to| to == address)).collect()
    }

    /// Waits (at most 10 s) until `address` has received `count` messages; returns the last.
    pub async fn wait_for(&self, address: &str, count: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.messages_to(address);
            if mails.len() >= count {
                return mails[count - 1].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{address} received {} messages, expected {count}: {:?}",
                mails.len(),
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
