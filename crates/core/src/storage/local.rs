//! The embedded default (`STORAGE=local`): pictures kept as files under `STORAGE_DIR`, served by
//! the app itself, so `make dev` shows pictures with no cloud account. It keeps the bucket's
//! interface: the browser uploads with a form whose fields the server signs (the key, the type
//! and the largest size, until a deadline), and reads through URLs signed until they expire.
//! The signatures are HMAC-SHA256 with a key derived from `JWT_SECRET`.
//!
//! On Function Compute nothing would keep these files (an instance's disk is its own and goes
//! with it): production uses OSS.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};

use super::hmac;

/// Where the form is posted (the app's own route, `attachments::local`).
pub const UPLOAD_PATH: &str = "/api/attachments/local-upload";
/// Where a picture is read: `{FILE_PATH}?key=…&expires=…&signature=…`.
pub const FILE_PATH: &str = "/api/attachments/local-file";

#[derive(Clone)]
pub struct LocalDir {
    pub dir: PathBuf,
    key: Vec<u8>,
}

impl std::fmt::Debug for LocalDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDir").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// What a signed upload form allows, as the upload route reads it back.
#[derive(Debug, PartialEq, Eq)]
pub struct Allowed {
    pub key: String,
    pub content_type: String,
    pub max_bytes: u64,
}

impl LocalDir {
    pub fn new(dir: PathBuf, jwt_secret: &[u8]) -> Self {
        let key = hmac(jwt_secret, "local picture storage");
        Self { dir, key }
    }

    fn sign(&self, parts: &[&str]) -> String {
        hex::encode(hmac(&self.key, &parts.join("\n")))
    }

    /// The form's fields (the file goes last).
    pub fn upload_fields(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        expires_at: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let (max, expires) = (max_bytes.to_string(), expires_at.timestamp().to_string());
        let signature = self.sign(&["upload", key, content_type, &max, &expires]);
        vec![
            ("key", key.to_string()),
            ("Content-Type", content_type.to_string()),
            ("max", max),
            ("expires", expires),
            ("signature", signature),
        ]
    }

    /// What the form's fields allow, if they are signed and not expired at `now`.
    pub fn allowed(&self, field: impl Fn(&str) -> Option<String>, now: DateTime<Utc>) -> Option<Allowed> {
        let (key, content_type) = (field("key")?, field("Content-Type")?);
        let (max, expires, signature) = (field("max")?, field("expires")?, field("signature")?);
        let good = self.sign(&["upload", &key, &content_type, &max, &expires]);
        if !constant_time_eq(good.as_bytes(), signature.as_bytes()) || expires.parse::<i64>().ok()? < now.timestamp() {
            return None;
        }
        Some(Allowed { key, content_type, max_bytes: max.parse().ok()? })
    }

    /// The path and query a picture is read at until `expires_at`.
    pub fn file_url(&self, key: &str, expires_at: DateTime<Utc>) -> String {
        let expires = expires_at.timestamp().to_string();
        let signature = self.sign(&["read", key, &expires]);
        format!("{FILE_PATH}?key={}&expires={expires}&signature={signature}", super::encode(key))
    }

    /// Whether a read of `key` is signed and not expired at `now`.
    pub fn may_read(&self, key: &str, expires: &str, signature: &str, now: DateTime<Utc>) -> bool {
        let good = self.sign(&["read", key, expires]);
        constant_time_eq(good.as_bytes(), signature.as_bytes())
            && expires.parse::<i64>().is_ok_and(|expires| expires >= now.timestamp())
    }

    /// The file of `key`; `None` for a key that would leave the directory (the server chooses
    /// keys, but the routes take them from URLs).
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        let relative = Path::new(key);
        let plain = relative.components().all(|component| matches!(component, Component::Normal(_)));
        (plain && !key.is_empty()).then(|| self.dir.join(relative))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_links_hold_only_as_signed() {
        let dir = LocalDir::new("/tmp/x".into(), b"a secret of thirty-two bytes or more..");
        let now: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let later = now + chrono::Duration::minutes(10);
        let fields = dir.upload_fields("chat-img/u/a.png", "image/png", 1000, later);
        let field = |name: &str| fields.iter().find(|(field, _)| *field == name).map(|(_, value)| value.clone());
        let allowed = dir.allowed(field, now).unwrap();
        assert_eq!(
            allowed,
            Allowed { key: "chat-img/u/a.png".into(), content_type: "image/png".into(), max_bytes: 1000 }
        );
        // Another size, type or key, or too late: refused.
        for (name, value) in [("max", "2000"), ("Content-Type", "image/gif"), ("key", "chat-img/u/b.png")] {
            let tampered = |asked: &str| if asked == name { Some(value.to_string()) } else { field(asked) };
            assert!(dir.allowed(tampered, now).is_none(), "{name} changed");
        }
        assert!(dir.allowed(field, later + chrono::Duration::seconds(1)).is_none());

        let url = dir.file_url("chat-img/u/a.png", later);
        let query: Vec<(String, String)> = serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
        assert_eq!(query[0], ("key".to_string(), "chat-img/u/a.png".to_string()));
        let (expires, signature) = (query[1].1.as_str(), query[2].1.as_str());
        assert!(dir.may_read("chat-img/u/a.png", expires, signature, now));
        assert!(!dir.may_read("chat-img/u/b.png", expires, signature, now));
        assert!(!dir.may_read("chat-img/u/a.png", expires, signature, later + chrono::Duration::seconds(1)));

        assert!(dir.path("../etc/passwd").is_none());
        assert!(dir.path("/etc/passwd").is_none());
        assert_eq!(dir.path("chat-img/u/a.png").unwrap(), PathBuf::from("/tmp/x/chat-img/u/a.png"));
    }
}
