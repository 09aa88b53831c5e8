//! The `auth-register` function: `/api/auth/register`.

fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::functions::auth_register())
}
