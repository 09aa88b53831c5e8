//! The packet parser and the count, over hand-made bytes fed in pieces of every size.

use super::*;

fn packet(sequence: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_le_bytes();
    [&length[..3], &[sequence][..], payload].concat()
}

/// A client's side of a connection: the handshake response, then commands of every kind,
/// one of them longer than what is kept of a payload.
fn client_bytes() -> Vec<u8> {
    let long_query = [&[COM_QUERY][..], &b"SELECT 1 FROM t WHERE x IN ("[..], &[b'1'; 5000][..], &b")"[..]].concat();
    let execute = [&[COM_STMT_EXECUTE][..], &7u32.to_le_bytes()[..], &[0u8, 1, 0, 0, 0][..]].concat();
    let close = [&[COM_STMT_CLOSE][..], &7u32.to_le_bytes()[..]].concat();
    [
        packet(1, b"\x0d\xa2\x00\x00handshake response"),
        packet(0, b"\x03  begin"),
        packet(0, &[&[COM_STMT_PREPARE][..], &b"SELECT `a` FROM `users` WHERE `id` = ?"[..]].concat()),
        packet(0, &execute),
        packet(0, &long_query),
        packet(0, b"\x03Start Transaction"),
        packet(0, b"\x03COMMIT"),
        packet(0, &close),
        packet(0, &[COM_PING]),
        packet(0, &[COM_STMT_SEND_LONG_DATA, 7, 0, 0, 0, 0, 0]),
        packet(1, b""),
        packet(0, &[COM_QUIT]),
    ]
    .concat()
}

/// Feeds `bytes` in pieces of `size` through the counting the proxy does.
fn count(bytes: &[u8], size: usize) -> (Counts, Vec<String>) {
    let counters = Counters::default();
    let prepared = Mutex::new(Prepared::default());
    let mut packets = Packets::default();
    let mut server = Packets::default();
    for chunk in bytes.chunks(size) {
        packets.feed(chunk, |sequence, payload| {
            if sequence == 0 {
                counters.count(payload, &prepared);
            }
            if payload.first() == Some(&COM_STMT_PREPARE) {
                // The server's answer: PREPARE_OK for statement 7.
                let answer = packet(1, &[&[0u8][..], &7u32.to_le_bytes()[..], &[1u8, 0, 1, 0, 0, 0, 0][..]].concat());
                server.feed(&answer, |_, payload| prepared.lock().unwrap().answered(payload));
            }
        });
    }
    (counters.snapshot(), counters.take_log().into_iter().map(|(_, line)| line).collect())
}

#[test]
fn counts_commands_however_the_bytes_are_cut() {
    let bytes = client_bytes();
    let whole = count(&bytes, bytes.len());
    assert_eq!(
        whole.0,
        Counts { statements: 2, transaction: 3, prepares: 1, other: 4, round_trips: 7 },
        "{:?}",
        whole.1
    );
    assert_eq!(whole.1[2], "SELECT … FROM `users` WHERE `id` = ?");
    for size in [1, 2, 3, 5, 7, 4099] {
        assert_eq!(count(&bytes, size), whole, "in pieces of {size}");
    }
}

#[test]
fn an_empty_packet_at_the_end_of_a_chunk_completes() {
    let mut seen = Vec::new();
    let mut packets = Packets::default();
    packets.feed(&packet(3, b""), |sequence, payload| seen.push((sequence, payload.to_vec())));
    packets.feed(&packet(0, b"\x0e")[..2], |sequence, payload| seen.push((sequence, payload.to_vec())));
    assert_eq!(seen, vec![(3, vec![])]);
}
