//! Where pictures people attach are kept (issue 27), and their limits. `STORAGE` is `local`
//! (the default: a directory, `STORAGE_DIR`, default `.data/uploads` beside `make dev`'s database, served by the app itself, so `make dev` needs no
//! cloud account), `oss` (a private Alibaba Cloud OSS bucket, signed with OSS's own V4
//! signature: production), `s3` (any S3-compatible server, signed with SigV4: the tests' own,
//! or OSS's S3-compatible endpoint) or `off` (no pictures).

use std::{path::PathBuf, time::Duration};

use super::{ConfigError, Env};
use crate::moderation::acs3::Credentials;

const EXAMPLE_ORIGIN: &str = "https://img.example.com";

/// The most pictures one message may carry.
pub const MAX_PICTURES_PER_MESSAGE: usize = 4;

#[derive(Clone, Debug)]
pub struct StorageConfig {
    pub backend: Backend,
    /// The largest picture accepted (`ATTACHMENT_MAX_BYTES`, default 5 MB), enforced by the
    /// upload's signature and checked again before a turn.
    pub max_bytes: u64,
    /// The bytes one person's pictures may take in all (`ATTACHMENT_QUOTA_BYTES`, default 200 MB):
    /// what is uploaded or promised by an upload form not yet used.
    pub quota_bytes: u64,
    /// How long an upload form, and a picture's URL in the history, stays valid
    /// (`ATTACHMENT_URL_TTL`, default 10 minutes; at most a day).
    pub url_ttl: Duration,
    /// How long the model's links to pictures stay valid (`ATTACHMENT_MODEL_URL_TTL`, default 30
    /// minutes: the whole request and its retries; DashScope fetches them itself).
    pub model_url_ttl: Duration,
    /// Where keys start (`STORAGE_PREFIX`, default `chat-img/`): the RAM policy and the bucket's
    /// lifecycle rules name it.
    pub prefix: String,
}

#[derive(Clone, Debug)]
pub enum Backend {
    Local { dir: PathBuf },
    Oss(ObjectStore),
    S3(ObjectStore),
}

/// A bucket on OSS or an S3-compatible server.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    pub bucket: String,
    /// `STORAGE_REGION`: `cn-hangzhou` (OSS), `us-east-1`…
    pub region: String,
    /// `STORAGE_ENDPOINT`: the origin the browser and the model reach (`https://img.example.com`,
    /// a custom domain bound to the bucket, which OSS requires of accounts opened since
    /// 2025-03-20 for mainland buckets; or `https://BUCKET.oss-cn-hangzhou.aliyuncs.com`).
    pub public_origin: String,
    /// `STORAGE_INTERNAL_ENDPOINT`: the origin this server reaches for its own checks and
    /// deletions (`https://BUCKET.oss-cn-hangzhou-internal.aliyuncs.com` inside the region's
    /// VPC); default the public one.
    pub internal_origin: String,
    /// `STORAGE_PATH_STYLE=true`: the bucket is named in the path (an S3 server on one host);
    /// OSS only takes virtual-hosted style.
    pub path_style: bool,
    pub credentials: Credentials,
}

pub(super) fn read(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<Option<StorageConfig>, ConfigError> {
    let backend = match env.get("STORAGE").map(|raw| raw.to_ascii_lowercase()).as_deref() {
        Some("off") => return Ok(None),
        None | Some("local") => {
            Backend::Local { dir: PathBuf::from(env.get("STORAGE_DIR").unwrap_or_else(|| ".data/uploads".into())) }
        }
        Some("oss") => Backend::Oss(object_store(env, true)?),
        Some("s3") => Backend::S3(object_store(env, false)?),
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "STORAGE",
                reason: format!("{other:?}: expected local, oss, s3 or off"),
            });
        }
    };
    let max_bytes: u64 = env.parsed("ATTACHMENT_MAX_BYTES", 5_000_000)?;
    if !(1_000..=20_000_000).contains(&max_bytes) {
        return Err(ConfigError::Invalid {
            name: "ATTACHMENT_MAX_BYTES",
            // 20 MB: the most Content Moderation's image service takes.
            reason: "must be between 1000 and 20000000 bytes".into(),
        });
    }
    let quota_bytes: u64 = env.parsed("ATTACHMENT_QUOTA_BYTES", 200_000_000)?;
    if quota_bytes < max_bytes {
        return Err(ConfigError::Invalid {
            name: "ATTACHMENT_QUOTA_BYTES",
            reason: format!("must be at least ATTACHMENT_MAX_BYTES ({max_bytes})"),
        });
    }
    let day = Duration::from_secs(24 * 3600);
    let url_ttl = env.duration("ATTACHMENT_URL_TTL", Duration::from_secs(600))?;
    let model_url_ttl = env.duration("ATTACHMENT_MODEL_URL_TTL", Duration::from_secs(1800))?;
    for (name, ttl) in [("ATTACHMENT_URL_TTL", url_ttl), ("ATTACHMENT_MODEL_URL_TTL", model_url_ttl)] {
        if ttl > day {
            return Err(ConfigError::Invalid { name, reason: "must be at most a day".into() });
        }
    }
    let prefix = env.get("STORAGE_PREFIX").unwrap_or_else(|| "chat-img/".into());
    if !prefix.ends_with('/') || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)) {
        return Err(ConfigError::Invalid {
            name: "STORAGE_PREFIX",
            reason: format!("{prefix:?}: letters, digits, `-`, `_` and `/`, ending with `/`"),
        });
    }
    Ok(Some(StorageConfig { backend, max_bytes, quota_bytes, url_ttl, model_url_ttl, prefix }))
}

fn object_store(env: &Env<'_, impl Fn(&str) -> Option<String>>, oss: bool) -> Result<ObjectStore, ConfigError> {
    let bucket = env.required("STORAGE_BUCKET", "name the bucket pictures go to")?;
    let region = env.required("STORAGE_REGION", "name the bucket's region: cn-hangzhou, us-east-1…")?;
    let public_origin = env.origin("STORAGE_ENDPOINT", EXAMPLE_ORIGIN)?.ok_or(ConfigError::Missing {
        name: "STORAGE_ENDPOINT",
        hint: "the origin browsers and the model reach the bucket at, e.g. https://img.example.com",
    })?;
    let internal_origin =
        env.origin("STORAGE_INTERNAL_ENDPOINT", EXAMPLE_ORIGIN)?.unwrap_or_else(|| public_origin.clone());
    let path_style = match env.get("STORAGE_PATH_STYLE").map(|raw| raw.to_ascii_lowercase()).as_deref() {
        None | Some("false") => false,
        Some("true") if !oss => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "STORAGE_PATH_STYLE",
                reason: format!("{other:?}: expected true or false (OSS takes virtual-hosted style only)"),
            });
        }
    };
    if oss && !public_origin.starts_with("https://") {
        // The OSS signer writes https URLs, and DashScope fetches pictures over HTTPS only.
        return Err(ConfigError::Invalid { name: "STORAGE_ENDPOINT", reason: "must be https:// for OSS".into() });
    }
    let credentials = match oss {
        true => env.alibaba_credentials()?,
        false => Credentials {
            access_key_id: env.required("STORAGE_ACCESS_KEY_ID", "the S3 server's access key")?,
            access_key_secret: env.required("STORAGE_SECRET_ACCESS_KEY", "the S3 server's secret key")?,
            security_token: env.get("STORAGE_SESSION_TOKEN"),
        },
    };
    Ok(ObjectStore { bucket, region, public_origin, internal_origin, path_style, credentials })
}
