//! An S3-compatible server the tests start on 127.0.0.1: `s3s-fs` from crates.io, which keeps
//! objects as files in a directory of its own and checks what matters here as S3 does: the
//! SigV4 signature of a request or a presigned URL (and its expiry), and a POST upload's policy
//! (its signature, expiry and conditions: `eq`, `starts-with`, `content-length-range`).
//! Addressed by path (`http://127.0.0.1:PORT/BUCKET/KEY`).

use std::{collections::HashMap, path::PathBuf};

use hyper_util::rt::TokioIo;
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};

pub const S3_ACCESS_KEY: &str = "test-s3-access-key";
pub const S3_SECRET_KEY: &str = "test-s3-secret-key";
pub const S3_REGION: &str = "us-east-1";

pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    pub bucket: String,
    /// Where the objects are, as files: `root/BUCKET/KEY`.
    pub root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    /// A server with one empty `bucket`.
    pub async fn start(bucket: &str) -> Self {
        Self::start_with_cors(bucket, None).await
    }

    /// The same, answering browsers from `origin` as the bucket's CORS rule (README, "Pictures")
    /// does: preflights for POST, GET and HEAD with any header, and the origin allowed on every
    /// answer. (s3s-fs has no CORS of its own; OSS applies the bucket's rule in front of the
    /// same requests.)
    pub async fn start_with_cors(bucket: &str, site: Option<&str>) -> Self {
        let root = std::env::temp_dir().join(format!("s3-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join(bucket)).expect("the server's directory");
        let fs = s3s_fs::FileSystem::new(&root).expect("an s3s-fs file system");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(S3_ACCESS_KEY, S3_SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the S3 server");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let allowed = site.map(|site| http::HeaderValue::from_str(site).expect("an origin"));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (service, allowed) = (service.clone(), allowed.clone());
                let cors = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (service, allowed) = (service.clone(), allowed.clone());
                    async move { with_cors(&service, allowed, request).await }
                });
                tokio::spawn(async move {
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), cors).await;
                });
            }
        });
        Self { origin, bucket: bucket.to_string(), root, task }
    }

    /// Points an app's picture storage at this server (`STORAGE=s3`, addressed by path).
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        for (name, value) in [
            ("STORAGE", "s3"),
            ("STORAGE_BUCKET", self.bucket.as_str()),
            ("STORAGE_REGION", S3_REGION),
            ("STORAGE_ENDPOINT", self.origin.as_str()),
            ("STORAGE_PATH_STYLE", "true"),
            ("STORAGE_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("STORAGE_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ] {
            env.insert(name.to_string(), value.to_string());
        }
    }

    /// The keys stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, keys: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, keys);
                } else if let Ok(relative) = path.strip_prefix(root) {
                    keys.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = self.root.join(&self.bucket);
        let mut keys = Vec::new();
        walk(&root, &root, &mut keys);
        keys.retain(|key| !key.starts_with('.') && !key.contains("/."));
        keys.sort();
        keys
    }

    /// The stored bytes of `key`, if it is there.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(&self.bucket).join(key)).ok()
    }
}

/// `request` to `service`, with the CORS rule of `allowed` (none: as S3 without a rule).
async fn with_cors(
    service: &s3s::service::S3Service,
    allowed: Option<http::HeaderValue>,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<s3s::Body>, s3s::HttpError> {
    use http::header;
    let matches = allowed.as_ref().filter(|allowed| request.headers().get(header::ORIGIN) == Some(allowed)).cloned();
    let preflight = request.method() == http::Method::OPTIONS;
    let mut response = match (preflight, &matches) {
        (true, Some(_)) => {
            let mut response = http::Response::new(s3s::Body::empty());
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, http::HeaderValue::from_static("POST, GET, HEAD"));
            if let Some(asked) = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("600"));
            response
        }
        _ => hyper::service::Service::call(service, request).await?,
    };
    if let Some(origin) = matches {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(header::VARY, http::HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A `multipart/form-data` body of `fields`, then the file (`file`, of type `file_type`), as a
/// browser's form sends it; and its content type.
pub fn multipart(fields: &[(String, String)], file: &[u8], file_type: &str) -> (String, Vec<u8>) {
    let boundary = "----test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\nContent-Type: {file_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
