//! The `chat` function: `/api/chat` and `/api/chat/*`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::chat::router()).await
}
