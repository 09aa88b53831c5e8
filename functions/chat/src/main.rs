//! The `chat` function: `/api/chat` and `/api/chat/*`.

fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::functions::chat())
}
