//! The accounts figure of `make bench`: whether a forgotten-password request's answer time says
//! anything about the address. Requests for an address with an account (which stores a link and
//! mails it to a real SMTP server) alternate with requests for one without; both should answer
//! at the same moment (`FORGOT_ANSWER_AFTER` after arrival).

use std::{
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use test_support::mail::MailServer;

use super::{Fixture, Server, ms, percentile};

const ROUNDS: usize = 20;

/// Returns the difference of the two medians.
pub async fn forgot_timing(bin: &Path, fixture: &Fixture, report: &mut String) -> anyhow::Result<Duration> {
    writeln!(report, "## Forgotten password: the answer's time for a known and an unknown address\n")?;
    let mail = MailServer::start();
    let mail_env = mail.env();
    let mut extra: Vec<(&str, &str)> = mail_env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    extra.extend([("RATE_LIMIT_RESET_IP", "off"), ("RATE_LIMIT_RESET_ADDRESS", "off")]);
    let server = Server::start_with(bin, "auth-login", fixture, &extra).await?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    server.ready(&client, "/api/health", None).await?;
    writeln!(
        report,
        "One `auth-login` on the fixture's database, mail to a local SMTP server (aiosmtpd); {ROUNDS} requests for\n\
         `user@example.com` (a link stored and mailed) alternating with {ROUNDS} for an address without an account,\n\
         one at a time. The answer is due {} after arrival either way.\n",
        ms(app_core::account::password::FORGOT_ANSWER_AFTER)
    )?;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS * 2 {
        let email = if round % 2 == 0 { "user@example.com".to_string() } else { format!("nobody{round}@example.com") };
        let body = serde_json::json!({"email": email});
        let sent = Instant::now();
        let reply =
            test_support::burst::call_json(server.port, "POST", "/api/account/password/forgot", &[], &body).await;
        let took = sent.elapsed();
        anyhow::ensure!(reply.status == 202, "forgot: {} {}", reply.status, reply.text());
        if round % 2 == 0 { known.push(took) } else { unknown.push(took) }
    }
    let delivered = mail.messages_to("user@example.com").len();
    anyhow::ensure!(delivered == ROUNDS, "{delivered} mails delivered for {ROUNDS} requests");
    known.sort();
    unknown.sort();
    writeln!(report, "| address | p50 | p90 | max |\n|---|---|---|---|")?;
    for (label, times) in [("with an account (mailed)", &known), ("without an account", &unknown)] {
        writeln!(
            report,
            "| {label} | {} | {} | {} |",
            ms(percentile(times, 50)),
            ms(percentile(times, 90)),
            ms(times.last().copied().unwrap_or_default())
        )?;
    }
    writeln!(report)?;
    Ok(percentile(&known, 50).abs_diff(percentile(&unknown, 50)))
}
