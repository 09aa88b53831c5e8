//! Ports for the servers tests start (function binaries, MariaDB servers, proxies), chosen where
//! no other program is handed one by the kernel.
//!
//! Binding port 0, noting the number and closing the socket leaves a window before the server
//! binds it, and within it the kernel may give that very number to an outgoing connection of
//! any program on the machine: a number from port 0 comes from the *ephemeral* range
//! (`/proc/sys/net/ipv4/ip_local_port_range`), which is where outgoing connections get their
//! local ports. On a busy machine that happened ("Address already in use"). So the ports here
//! come from outside that range, picked at random (several test processes run at once) and
//! checked free; a start that still finds its port taken tries another ([`FunctionProcess`]).
//!
//! [`FunctionProcess`]: crate::process::FunctionProcess

use std::{
    hash::{BuildHasher, Hasher},
    net::TcpListener,
    ops::RangeInclusive,
};

/// The lowest port handed out: above the well-known and most registered service ports.
const LOWEST: u16 = 20_000;

/// The kernel's ephemeral range (Linux's default when it cannot be read).
pub fn ephemeral_range() -> RangeInclusive<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut numbers = text.split_whitespace().map(|number| number.parse::<u16>().ok());
            Some(numbers.next()??..=numbers.next()??)
        })
        .unwrap_or(32_768..=60_999)
}

/// The ranges ports are picked from: [`LOWEST`] up to the ephemeral range, and above it.
fn candidate_ranges() -> Vec<RangeInclusive<u16>> {
    let ephemeral = ephemeral_range();
    let mut ranges = Vec::new();
    if *ephemeral.start() > LOWEST {
        ranges.push(LOWEST..=ephemeral.start() - 1);
    }
    if *ephemeral.end() < u16::MAX {
        ranges.push(ephemeral.end() + 1..=u16::MAX);
    }
    if ranges.is_empty() {
        // An ephemeral range that covers everything: nothing is safe, so take what is free.
        ranges.push(LOWEST..=u16::MAX);
    }
    ranges
}

/// A port on 127.0.0.1 outside the ephemeral range that was free a moment ago.
pub fn free_port() -> u16 {
    let ranges = candidate_ranges();
    let total: u32 = ranges.iter().map(|range| u32::from(range.end() - range.start()) + 1).sum();
    for _ in 0..1000 {
        let mut pick = random() % total;
        let port = ranges
            .iter()
            .find_map(|range| {
                let size = u32::from(range.end() - range.start()) + 1;
                if pick < size {
                    Some(range.start() + pick as u16)
                } else {
                    pick -= size;
                    None
                }
            })
            .expect("the pick is within the ranges");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port outside the ephemeral range {:?} after 1000 tries", ephemeral_range());
}

/// A random number: std's per-process random hash keys, fed a counter.
fn random() -> u32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_outside_the_ephemeral_range() {
        let ephemeral = ephemeral_range();
        for _ in 0..200 {
            let port = free_port();
            assert!(!ephemeral.contains(&port) && port >= LOWEST, "{port} is in {ephemeral:?}");
        }
        let ports: std::collections::HashSet<u16> = (0..50).map(|_| free_port()).collect();
        assert!(ports.len() > 40, "picked at random: {ports:?}");
    }
}
