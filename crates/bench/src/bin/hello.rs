//! The floor for cold-start measurements: a bare hyper server answering 200 "hello" on
//! `0.0.0.0:$FC_CUSTOM_LISTEN_PORT`, with nothing else to set up. It runs on the same
//! single-threaded tokio runtime as the functions (`app_core::serve_function`), so the
//! difference measured is our own setup, not the runtime's flavour.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("FC_CUSTOM_LISTEN_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9000);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
