//! One interface over where pictures are kept: a forms to upload with, links to read with, and
//! the server's own checks and deletions. OSS and an S3-compatible server are reached over
//! HTTP with URLs presigned for a minute (the server's requests sign alike, and need no other
//! client); the local directory is read from disk.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use base64::Engine;
use chrono::{DateTime, Utc};

use super::{local::LocalDir, oss_v4, s3_v4};
use crate::{
    config::{ObjectStore, StorageBackend, StorageConfig},
    moderation::acs3::Credentials,
};

/// How long one request of the server's to the bucket may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the URLs of the server's own requests are signed for.
const OWN_URL_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[error("object storage: {0}")]
pub struct StorageError(pub String);

/// A form the browser posts the picture with (`multipart/form-data`, the file last, as `file`).
#[derive(Debug, Clone)]
pub struct UploadForm {
    /// Absolute for a bucket; a path of this API's for the local directory.
    pub url: String,
    pub fields: Vec<(&'static str, String)>,
}

/// What the server learns of a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
}

#[derive(Debug)]
enum Where {
    Local(LocalDir),
    Oss { public: oss_v4::Bucket, internal: oss_v4::Bucket, credentials: Credentials },
    S3 { public: s3_v4::Endpoint, internal: s3_v4::Endpoint, credentials: Credentials },
}

/// Where pictures are kept, and the HTTP client the server reaches the bucket with.
#[derive(Debug, Clone)]
pub struct Store {
    place: Arc<Where>,
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

fn host(origin: &str) -> String {
    origin.split_once("://").map_or(origin, |(_, host)| host).to_string()
}

impl Store {
    pub fn new(config: &StorageConfig, jwt_secret: &[u8]) -> Self {
        let place = match &config.backend {
            StorageBackend::Local { dir } => Where::Local(LocalDir::new(dir.clone(), jwt_secret)),
            StorageBackend::Oss(store) => {
                let bucket = |origin: &str| oss_v4::Bucket {
                    name: store.bucket.clone(),
                    region: store.region.clone(),
                    host: host(origin),
                };
                Where::Oss {
                    public: bucket(&store.public_origin),
                    internal: bucket(&store.internal_origin),
                    credentials: store.credentials.clone(),
                }
            }
            StorageBackend::S3(store) => {
                let endpoint = |origin: &str, store: &ObjectStore| s3_v4::Endpoint {
                    origin: origin.to_string(),
                    region: store.region.clone(),
                    bucket: store.bucket.clone(),
                    path_style: store.path_style,
                };
                Where::S3 {
                    public: endpoint(&store.public_origin, store),
                    internal: endpoint(&store.internal_origin, store),
                    credentials: store.credentials.clone(),
                }
            }
        };
        Self { place: Arc::new(place), client: Arc::default() }
    }

    /// The local directory, when pictures are kept there.
    pub fn local(&self) -> Option<&LocalDir> {
        match &*self.place {
            Where::Local(dir) => Some(dir),
            _ => None,
        }
    }

    /// A form that uploads one object, `key`, of `content_type` and at most `max_bytes`, until
    /// `ttl` after `at`; the bucket (or the local route) refuses anything else.
    pub fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        at: DateTime<Utc>,
        ttl: Duration,
    ) -> UploadForm {
        match &*self.place {
            Where::Local(dir) => UploadForm {
                url: super::local::UPLOAD_PATH.to_string(),
                fields: dir.upload_fields(key, content_type, max_bytes, at + ttl),
            },
            Where::Oss { public, credentials, .. } => UploadForm {
                url: format!("https://{}/", public.host),
                fields: oss_v4::post_policy(credentials, public, key, content_type, max_bytes, at, ttl),
            },
            Where::S3 { public, credentials, .. } => UploadForm {
                url: match public.path_style {
                    true => format!("{}/{}", public.origin, public.bucket),
                    false => format!("{}/", public.origin),
                },
                fields: s3_v4::post_policy(credentials, public, key, content_type, max_bytes, at, ttl),
            },
        }
    }

    /// A link that shows `key` until `ttl` after `at`.
    pub fn read_url(&self, key: &str, at: DateTime<Utc>, ttl: Duration) -> String {
        match &*self.place {
            Where::Local(dir) => dir.file_url(key, at + ttl),
            Where::Oss { public, credentials, .. } => {
                oss_v4::presign(credentials, public, key, "GET", &[], &[], at, ttl)
            }
            Where::S3 { public, credentials, .. } => s3_v4::presign(credentials, public, key, "GET", &[], at, ttl),
        }
    }

    /// What the model is given to see `key`: a link like [`Store::read_url`]'s, or, from the
    /// local directory (which a model elsewhere cannot reach), the picture itself as a
    /// `data:` URL.
    pub async fn model_url(
        &self,
        key: &str,
        content_type: &str,
        at: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        let Where::Local(dir) = &*self.place else { return Ok(self.read_url(key, at, ttl)) };
        let path = dir.path(key).ok_or_else(|| StorageError(format!("{key:?} is not a plain key")))?;
        let bytes = tokio::fs::read(&path).await.map_err(|err| StorageError(format!("reading {key}: {err}")))?;
        Ok(format!("data:{content_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// A presigned URL of the server's own, on the internal endpoint, signed at the real time: the
    /// bucket refuses a signature more than 15 minutes off (the app's clock may be shifted in
    /// tests; this one never is).
    fn own_url(&self, key: &str, method: &str) -> String {
        let at = Utc::now();
        match &*self.place {
            Where::Local(_) => unreachable!("the local directory is read from disk"),
            Where::Oss { internal, credentials, .. } => {
                oss_v4::presign(credentials, internal, key, method, &[], &[], at, OWN_URL_TTL)
            }
            Where::S3 { internal, credentials, .. } => {
                s3_v4::presign(credentials, internal, key, method, &[], at, OWN_URL_TTL)
            }
        }
    }

    fn client(&self) -> Result<&reqwest::Client, StorageError> {
        self.client
            .get_or_init(|| {
                crate::outbound::https_client().map_err(|err| {
                    tracing::error!(error = %err, "cannot build the object storage's HTTP client");
                    err.to_string()
                })
            })
            .as_ref()
            .map_err(|err| StorageError(format!("no HTTP client: {err}")))
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response, StorageError> {
        tokio::time::timeout(REQUEST_TIMEOUT, request.send())
            .await
            .map_err(|_| StorageError(format!("{what}: no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
            .map_err(|err| StorageError(format!("{what}: {err}")))
    }

    /// The object's size, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<Head>, StorageError> {
        if let Where::Local(dir) = &*self.place {
            let Some(path) = dir.path(key) else { return Ok(None) };
            return match tokio::fs::metadata(&path).await {
                Ok(metadata) => Ok(Some(Head { size: metadata.len() })),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(StorageError(format!("reading {key}: {err}"))),
            };
        }
        let url = self.own_url(key, "HEAD");
        let response = self.send(self.client()?.head(url), "HEAD").await?;
        match response.status() {
            status if status.is_success() => {
                // The header, not `content_length()`: a HEAD's body is empty whatever it says.
                let size = response
                    .headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
                    .ok_or_else(|| StorageError("HEAD: no Content-Length".into()))?;
                Ok(Some(Head { size }))
            }
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            status => Err(StorageError(format!("HEAD answered {status}"))),
        }
    }

    /// The object's first `n` bytes (fewer if it is shorter).
    pub async fn first_bytes(&self, key: &str, n: usize) -> Result<Vec<u8>, StorageError> {
        if let Where::Local(dir) = &*self.place {
            use tokio::io::AsyncReadExt;
            let path = dir.path(key).ok_or_else(|| StorageError(format!("{key:?} is not a plain key")))?;
            let file = tokio::fs::File::open(&path).await.map_err(|err| StorageError(format!("{key}: {err}")))?;
            let mut bytes = Vec::with_capacity(n);
            file.take(n as u64).read_to_end(&mut bytes).await.map_err(|err| StorageError(format!("{key}: {err}")))?;
            return Ok(bytes);
        }
        let url = self.own_url(key, "GET");
        let request = self.client()?.get(url).header(reqwest::header::RANGE, format!("bytes=0-{}", n.max(1) - 1));
        let response = self.send(request, "GET").await?;
        if !response.status().is_success() {
            return Err(StorageError(format!("GET answered {}", response.status())));
        }
        // A server that ignores the range sends it all: read no more than asked.
        let mut bytes = Vec::with_capacity(n);
        let mut response = response;
        while bytes.len() < n {
            let chunk = tokio::time::timeout(REQUEST_TIMEOUT, response.chunk())
                .await
                .map_err(|_| StorageError("GET: the body stalled".into()))?
                .map_err(|err| StorageError(format!("GET: {err}")))?;
            let Some(chunk) = chunk else { break };
            bytes.extend_from_slice(&chunk[..chunk.len().min(n - bytes.len())]);
        }
        Ok(bytes)
    }

    /// Copies the object `from` to `to` inside the bucket (a server-side copy: no byte passes
    /// through here); `false` when there is no object `from`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<bool, StorageError> {
        let now = Utc::now();
        let request = match &*self.place {
            Where::Local(dir) => {
                let (Some(source), Some(target)) = (dir.path(from), dir.path(to)) else { return Ok(false) };
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|err| StorageError(format!("{to}: {err}")))?;
                }
                return match tokio::fs::copy(&source, &target).await {
                    Ok(_) => Ok(true),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(err) => Err(StorageError(format!("copying {from}: {err}"))),
                };
            }
            // The copy's source is a signed header: the signature covers it.
            Where::Oss { internal, credentials, .. } => {
                let source = format!("/{}/{from}", internal.name);
                let headers = [("x-oss-copy-source", source.as_str())];
                let url = oss_v4::presign(credentials, internal, to, "PUT", &headers, &[], now, OWN_URL_TTL);
                self.client()?.put(url).header("x-oss-copy-source", source)
            }
            Where::S3 { internal, credentials, .. } => {
                let source = format!("/{}/{from}", internal.bucket);
                let headers = [("x-amz-copy-source", source.as_str())];
                let url = s3_v4::presign(credentials, internal, to, "PUT", &headers, now, OWN_URL_TTL);
                self.client()?.put(url).header("x-amz-copy-source", source)
            }
        };
        let response = self.send(request, "COPY").await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            status => Err(StorageError(format!("COPY answered {status}"))),
        }
    }

    /// Deletes the object (a missing one counts as deleted).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        if let Where::Local(dir) = &*self.place {
            let Some(path) = dir.path(key) else { return Ok(()) };
            return match tokio::fs::remove_file(&path).await {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    Err(StorageError(format!("deleting {key}: {err}")))
                }
                _ => Ok(()),
            };
        }
        let url = self.own_url(key, "DELETE");
        let response = self.send(self.client()?.delete(url), "DELETE").await?;
        match response.status() {
            status if status.is_success() || status == reqwest::StatusCode::NOT_FOUND => Ok(()),
            status => Err(StorageError(format!("DELETE answered {status}"))),
        }
    }
}
