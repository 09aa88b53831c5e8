//! The `admin-export` function: `/api/admin/*` (export, users, bans, audit log).

fn main() -> std::process::ExitCode {
    app_core::serve_function(app_core::functions::admin_export())
}
