//! A MySQL proxy of the bench's own, between the function binaries and MariaDB. It does two
//! things a section needs to say what a request costs the database:
//!
//! - it puts the database a little away: every byte is delayed by a fixed time in each direction
//!   (as RDS in another zone of the VPC would be). The delay is pipelined and keeps the order: a
//!   reader task stamps each chunk with its arrival plus the delay and hands it to a writer task,
//!   which waits until the stamp (to within microseconds: [`until`]), then writes; the section
//!   reports the round trip measured through the proxy.
//! - it counts what the client sends. MySQL packets are a 3-byte little-endian payload length, a
//!   sequence id and the payload, and a chunk may hold several packets or part of one ([`Packets`]
//!   keeps the state between chunks). A command is a client packet with sequence id 0 (the
//!   handshake's packets from the client have 1 and up); its first payload byte says which.
//!
//! sqlx (under sea-orm) caches prepared statements per connection, so once a connection is warm a
//! statement is one COM_STMT_EXECUTE, while BEGIN and COMMIT go as COM_QUERY text. For the log of
//! commands ([`Proxy::take_log`]) the proxy also reads the server's answer to each
//! COM_STMT_PREPARE (sequence id 1: `0x00` and the statement's id) to name later executions.

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    ops::Sub,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::mpsc,
    task::JoinHandle,
    time::{Instant, sleep, sleep_until},
};

const COM_QUIT: u8 = 0x01;
const COM_QUERY: u8 = 0x03;
const COM_PING: u8 = 0x0e;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// How much of each packet's payload is kept: the command and enough SQL for the log.
const KEEP: usize = 4096;
/// The counters are quiet once they have not moved for this long ([`Proxy::quiet`]).
const QUIET: Duration = Duration::from_millis(100);
/// A wait for quiet gives up after this long (the database may never be idle).
const QUIET_AT_MOST: Duration = Duration::from_secs(3);

/// The counters at one moment; subtract two for what was sent between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Data statements: COM_QUERY other than transaction control, and COM_STMT_EXECUTE.
    pub(crate) statements: u64,
    /// Transaction control as COM_QUERY text: BEGIN, START TRANSACTION, COMMIT, ROLLBACK (and
    /// SAVEPOINT / RELEASE SAVEPOINT, sea-orm's nested transactions).
    pub(crate) transaction: u64,
    /// COM_STMT_PREPARE: a statement the connection had not prepared yet.
    pub(crate) prepares: u64,
    /// Every other command: pings, connection resets, statement closes, quits.
    pub(crate) other: u64,
    /// Commands the server answers (every one but a statement close, long data and a quit):
    /// each is a round trip the client waits for.
    pub(crate) round_trips: u64,
}

impl Sub for Counts {
    type Output = Counts;

    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            statements: self.statements.saturating_sub(earlier.statements),
            transaction: self.transaction.saturating_sub(earlier.transaction),
            prepares: self.prepares.saturating_sub(earlier.prepares),
            other: self.other.saturating_sub(earlier.other),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
        }
    }
}

/// The proxy, listening on [`Proxy::address`] until dropped.
pub(crate) struct Proxy {
    pub(crate) address: SocketAddr,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and relays each connection to `server`, `delay` late
    /// in each direction.
    pub(crate) async fn start(server: SocketAddr, delay: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let accept = tokio::spawn({
            let counters = counters.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(relay(client, server, delay, counters.clone()));
                }
            }
        });
        Ok(Self { address, counters, accept })
    }

    pub(crate) fn snapshot(&self) -> Counts {
        self.counters.snapshot()
    }

    /// The counters once they have not moved for [`QUIET`] (or after [`QUIET_AT_MOST`]), so that
    /// what a request sends after its answer is charged to it, not to the next.
    pub(crate) async fn quiet(&self) -> Counts {
        let started = Instant::now();
        let (mut last, mut since) = (self.snapshot(), Instant::now());
        while since.elapsed() < QUIET && started.elapsed() < QUIET_AT_MOST {
            sleep(Duration::from_millis(10)).await;
            let now = self.snapshot();
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    }

    /// The commands sent since the last call, in order, one line each, with when they came.
    pub(crate) fn take_log(&self) -> Vec<(std::time::Instant, String)> {
        self.counters.take_log()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[derive(Default)]
struct Counters {
    statements: AtomicU64,
    transaction: AtomicU64,
    prepares: AtomicU64,
    other: AtomicU64,
    round_trips: AtomicU64,
    log: Mutex<Vec<(std::time::Instant, String)>>,
}

impl Counters {
    fn snapshot(&self) -> Counts {
        let read = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Counts {
            statements: read(&self.statements),
            transaction: read(&self.transaction),
            prepares: read(&self.prepares),
            other: read(&self.other),
            round_trips: read(&self.round_trips),
        }
    }

    fn take_log(&self) -> Vec<(std::time::Instant, String)> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts one command (a client packet of sequence id 0) and logs it.
    fn count(&self, payload: &[u8], prepared: &Mutex<Prepared>) {
        let Some((&command, rest)) = payload.split_first() else { return };
        let mut prepared = prepared.lock().unwrap_or_else(PoisonError::into_inner);
        let text = || String::from_utf8_lossy(rest).into_owned();
        let (counter, line) = match command {
            COM_QUERY if is_transaction_control(rest) => (&self.transaction, text()),
            COM_QUERY => (&self.statements, format!("query: {}", summary(&text()))),
            COM_STMT_EXECUTE => {
                let sql = statement_id(payload).and_then(|id| prepared.by_id.get(&id));
                (&self.statements, sql.map_or_else(|| "execute: (unknown statement)".into(), |sql| summary(sql)))
            }
            COM_STMT_PREPARE => {
                prepared.pending = Some(text());
                (&self.prepares, format!("prepare: {}", summary(&text())))
            }
            COM_STMT_CLOSE => {
                statement_id(payload).and_then(|id| prepared.by_id.remove(&id));
                (&self.other, "close a prepared statement".into())
            }
            COM_PING => (&self.other, "ping".into()),
            COM_RESET_CONNECTION => (&self.other, "reset connection".into()),
            COM_QUIT => (&self.other, "quit".into()),
            unknown => (&self.other, format!("command 0x{unknown:02x}")),
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if !matches!(command, COM_STMT_CLOSE | COM_STMT_SEND_LONG_DATA | COM_QUIT) {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push((std::time::Instant::now(), line));
    }
}

/// One connection's prepared statements, to name its executions in the log.
#[derive(Default)]
struct Prepared {
    /// The SQL of a COM_STMT_PREPARE whose answer has not come yet.
    pending: Option<String>,
    by_id: HashMap<u32, String>,
}

impl Prepared {
    /// A server packet of sequence id 1: the first one after a prepare is its answer.
    fn answered(&mut self, payload: &[u8]) {
        if let Some(sql) = self.pending.take()
            && payload.first() == Some(&0x00)
            && let Some(id) = statement_id(payload)
        {
            self.by_id.insert(id, sql);
        }
    }
}

/// The statement id after the first byte (COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_PREPARE_OK).
fn statement_id(payload: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(payload.get(1..5)?.try_into().ok()?))
}

fn is_transaction_control(sql: &[u8]) -> bool {
    let start = sql.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(sql.len());
    let sql = &sql[start..];
    ["BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT"]
        .iter()
        .any(|keyword| sql.len() >= keyword.len() && sql[..keyword.len()].eq_ignore_ascii_case(keyword.as_bytes()))
}

/// A statement on one short line: a SELECT's column list left out.
fn summary(sql: &str) -> String {
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let sql = match sql.find(" FROM ") {
        Some(at) if sql.starts_with("SELECT") => format!("SELECT … {}", &sql[at + 1..]),
        _ => sql,
    };
    match sql.char_indices().nth(140) {
        Some((at, _)) => format!("{}…", &sql[..at]),
        None => sql,
    }
}

/// Cuts a byte stream into MySQL packets, whatever the chunks it comes in.
#[derive(Default)]
pub(crate) struct Packets {
    header: Vec<u8>,
    /// Payload bytes still to come of the current packet; `None` while a header is read.
    remaining: Option<usize>,
    sequence: u8,
    /// The current packet's payload, its first [`KEEP`] bytes.
    payload: Vec<u8>,
}

impl Packets {
    /// Reads the next chunk; calls `packet(sequence id, payload's first bytes)` for each packet it
    /// completes.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], mut packet: impl FnMut(u8, &[u8])) {
        loop {
            let remaining = match self.remaining {
                Some(remaining) => remaining,
                None => {
                    let take = (4 - self.header.len()).min(chunk.len());
                    self.header.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.header.len() < 4 {
                        return;
                    }
                    let header = std::mem::take(&mut self.header);
                    self.sequence = header[3];
                    self.payload.clear();
                    usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16
                }
            };
            let take = remaining.min(chunk.len());
            let keep = take.min(KEEP.saturating_sub(self.payload.len()));
            self.payload.extend_from_slice(&chunk[..keep]);
            chunk = &chunk[take..];
            if take < remaining {
                self.remaining = Some(remaining - take);
                return;
            }
            self.remaining = None;
            packet(self.sequence, &self.payload);
            if chunk.is_empty() {
                return;
            }
        }
    }
}

/// One client connection: the client's side counted, both sides delayed.
async fn relay(client: TcpStream, server: SocketAddr, delay: Duration, counters: Arc<Counters>) {
    let Ok(server) = TcpStream::connect(server).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let prepared = Arc::new(Mutex::new(Prepared::default()));
    let commands = {
        let prepared = prepared.clone();
        move |sequence: u8, payload: &[u8]| {
            if sequence == 0 {
                counters.count(payload, &prepared);
            }
        }
    };
    let answers = move |sequence: u8, payload: &[u8]| {
        if sequence == 1 {
            prepared.lock().unwrap_or_else(PoisonError::into_inner).answered(payload);
        }
    };
    let _ = tokio::join!(
        delayed(client_read, server_write, delay, commands),
        delayed(server_read, client_write, delay, answers)
    );
}

/// Copies `from` to `to`, each chunk `delay` after it arrived (a writer task sleeps until each
/// chunk's time), and shows every packet to `inspect` as it arrives.
async fn delayed(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    mut inspect: impl FnMut(u8, &[u8]),
) -> io::Result<()> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Instant, Bytes)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = receiver.recv().await {
            until(due).await;
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    });
    let mut packets = Packets::default();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        let due = Instant::now() + delay;
        packets.feed(&buffer[..read], &mut inspect);
        if sender.send((due, Bytes::copy_from_slice(&buffer[..read]))).is_err() {
            break;
        }
    }
    drop(sender);
    writer.await.map_err(io::Error::other)?
}

/// Waits until `due`, to within microseconds: tokio's timer rounds a sleep up to the next
/// millisecond (a 1 ms delay came out near 2 ms each way), so it sleeps to a millisecond before
/// and yields the rest of the way.
async fn until(due: Instant) {
    if let Some(early) = due.checked_sub(Duration::from_millis(1)) {
        sleep_until(early).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// The parser and the count over hand-made packets, cut at awkward places.
#[cfg(test)]
mod tests;
