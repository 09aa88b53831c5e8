//! The `auth-login` function: `/api/auth/login`, `/api/auth/session`, `/api/auth/logout`, and
//! the account's own controls, `/api/account/...`.

fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::functions::auth_login())
}
