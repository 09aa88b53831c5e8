//! A registration burst the way Function Compute serves it: as many `auth-register` instances as
//! `s.yaml`'s sizing implies (`instanceConcurrency` requests in flight per instance at most, so
//! 200 at once need ⌈200 / instanceConcurrency⌉ instances), each with the `PASSWORD_HASH_QUEUE`
//! it is deployed with, sharing one MariaDB (as they share RDS). A dispatcher in front plays
//! FC's part: each request goes to an instance with a free slot, never beyond its concurrency.
//!
//! What it shows: that sizing answers every registration 201 by scaling out, none `503
//! overloaded`, within the function's timeout. What it cannot show: FC's 0.25 vCPU per
//! instance. Here every instance shares this machine's cores, so a hash takes longer than on a
//! whole vCPU once the instances outnumber the cores; the per-instance numbers in the README's
//! sizing are computed, not measured here.

use std::{fmt::Write as _, path::Path, sync::Arc};

use test_support::{Backend, TestDb, burst};
use tokio::sync::Semaphore;

use super::{Fixture, HttpClient, PASSWORD, Server, reliability::RegistrationOutcome};

const BURST: usize = 200;

/// Writes the scale-out table; returns how many of the burst were answered 201, of how many.
pub async fn registrations_across_instances(
    root: &Path,
    bin: &Path,
    fixture: &Fixture,
    client: &HttpClient,
    report: &mut String,
) -> anyhow::Result<(usize, usize)> {
    let s_yaml = std::fs::read_to_string(root.join("s.yaml"))?;
    let sizing = deploy_check::sizing(&s_yaml, "auth-register").map_err(anyhow::Error::msg)?;
    let concurrency = usize::try_from(sizing.instance_concurrency)?;
    let queue = sizing.password_hash_queue.unwrap_or(64).to_string();
    let instances = BURST.div_ceil(concurrency);

    writeln!(report, "## {BURST} registrations at once, across instances as FC scales out\n")?;
    writeln!(
        report,
        "`s.yaml` runs `auth-register` with `instanceConcurrency: {concurrency}`, `PASSWORD_HASH_QUEUE: {queue}`, \
         {} vCPU and a {} s timeout,\nso {BURST} registrations at once need {instances} instances. They run here as \
         processes on one MariaDB (local,\ndefault settings), bcrypt cost 10, the per-IP limit off; a dispatcher sends \
         each request to an instance with\nfewer than {concurrency} in flight, as FC does. Every instance shares this \
         machine's cores (FC gives each its own\n{} vCPU), so the latencies are this machine's, not FC's.\n",
        sizing.cpu, sizing.timeout_seconds, sizing.cpu
    )?;

    let database = TestDb::migrated(Backend::MySql).await;
    let extra = [
        ("DATABASE_URL", database.url.as_str()),
        ("RATE_LIMIT_REGISTER_IP", "off"),
        ("PASSWORD_HASH_QUEUE", queue.as_str()),
        ("BCRYPT_COST", "10"),
        ("DB_MAX_CONNECTIONS", "5"),
    ];
    let mut servers = Vec::with_capacity(instances);
    for _ in 0..instances {
        let server = Server::start_with(bin, "auth-register", fixture, &extra).await?;
        server.ready(client, "/api/health", None).await?;
        servers.push(server);
    }
    let slots: Arc<Vec<(u16, Arc<Semaphore>)>> =
        Arc::new(servers.iter().map(|server| (server.port, Arc::new(Semaphore::new(concurrency)))).collect());
    let peak_in_flight = Arc::new(std::sync::Mutex::new(vec![0usize; instances]));

    let replies = burst::burst(BURST, |i| {
        let slots = slots.clone();
        let peak = peak_in_flight.clone();
        async move {
            // FC's part: the first instance with a free slot (the sizing leaves one for all).
            let (index, port, permit) = slots
                .iter()
                .enumerate()
                .find_map(|(index, (port, slot))| {
                    slot.clone().try_acquire_owned().ok().map(|permit| (index, *port, permit))
                })
                .expect("the sizing gives every request of the burst a slot");
            {
                let mut peak = peak.lock().expect("peak");
                let in_flight = concurrency - slots[index].1.available_permits();
                peak[index] = peak[index].max(in_flight);
            }
            let body = serde_json::json!({"email": format!("scale-{i}@example.com"), "password": PASSWORD});
            let reply = burst::call_json(port, "POST", "/api/auth/register", &[], &body).await;
            drop(permit);
            reply
        }
    })
    .await;
    let outcome = RegistrationOutcome::of(&replies);
    let busiest = peak_in_flight.lock().expect("peak").iter().copied().max().unwrap_or(0);
    writeln!(report, "| instances | most in flight on one | 201 | 503 overloaded | other | p50 | p99 | max |")?;
    writeln!(report, "|---|---|---|---|---|---|---|---|")?;
    writeln!(report, "| {instances} | {busiest} | {} |\n", outcome.cells())?;
    drop(servers);
    Ok((outcome.created, BURST))
}
