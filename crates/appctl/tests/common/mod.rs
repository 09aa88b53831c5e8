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

/// Runs `appctl ARGS` with `input` on its standard input and `env` set.
#[allow(dead_code)] // used by cli.rs; import.rs shares this module without it
pub async fn appctl_with(database_url: &str, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_appctl"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DB_CONNECT_TIMEOUT", "3s")
        .env("RUST_LOG", "off")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run appctl");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).await.expect("write appctl's stdin");
    drop(stdin);
    child.wait_with_output().await.expect("appctl exits")
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
