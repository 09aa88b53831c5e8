//! The `auth-login` function: `/api/auth/login`, `/api/auth/session`, `/api/auth/logout`.

fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::auth::login_router())
}
