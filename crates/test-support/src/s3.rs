//! An S3-compatible server the tests start on 127.0.0.1: `s3s-fs` from crates.io, which keeps
//! objects as files in a directory of its own and checks what matters here as S3 does: the
//! SigV4 signature of a request or a presigned URL (and its expiry), and a POST upload's policy
//! (its signature, expiry and conditions: `eq`, `starts-with`, `content-length-range`).
//! Addressed by path (`http://127.0.0.1:PORT/BUCKET/KEY`).

use std::path::PathBuf;

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
        let root = std::env::temp_dir().join(format!("s3-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join(bucket)).expect("the server's directory");
        let fs = s3s_fs::FileSystem::new(&root).expect("an s3s-fs file system");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(S3_ACCESS_KEY, S3_SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the S3 server");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self { origin, bucket: bucket.to_string(), root, task }
    }

    /// The stored bytes of `key`, if it is there.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(&self.bucket).join(key)).ok()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
