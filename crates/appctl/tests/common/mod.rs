//! Running the real `appctl` binary, shared by the CLI and import tests.

use std::process::Output;

/// Runs `appctl ARGS` against `database_url` (giving up on an unreachable database after 3 s).
pub async fn appctl(database_url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_appctl"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DB_CONNECT_TIMEOUT", "3s")
        .env("RUST_LOG", "off")
        .output()
        .await
        .expect("run appctl")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(output.status.success(), "appctl failed ({}): {}{}", output.status, stdout(output), stderr(output));
}
