//! An S3-compatible server for the browser tests and manual runs: `s3-server BUCKET ORIGIN`
//! starts `s3s-fs` (signatures and upload policies checked, as S3 does) with one empty bucket,
//! answering the site at ORIGIN as the bucket's CORS rule does, and prints `ORIGIN_URL ROOT` (its
//! address and the directory that holds the objects, as `ROOT/BUCKET/KEY`) on its first line.
//! Its keys are `test_support::s3::S3_ACCESS_KEY` / `S3_SECRET_KEY`.

use test_support::s3::S3Server;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bucket = args.next().unwrap_or_else(|| "pictures".into());
    let origin = args.next();
    let server = S3Server::start_with_cors(&bucket, origin.as_deref()).await;
    println!("{} {}", server.origin, server.root.display());
    let _ = tokio::signal::ctrl_c().await;
}
