//! What fault tests break: a MariaDB server of the test's own (its own data directory, port and
//! process, never the machine's shared server), which can be frozen, thawed, killed and started
//! again; and a TCP proxy of its own in front of a server, which can stall or reset every
//! connection. Both are removed when dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A MariaDB server started for one test, on a free port, with a throw-away data directory.
pub struct OwnMariaDb {
    pub port: u16,
    dir: PathBuf,
    server: Option<Child>,
}

impl OwnMariaDb {
    /// Initializes a data directory (`mariadb-install-db`) and starts `mariadbd` on it, with a
    /// `test` database and `root` without a password, as the shared server has.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("own-mariadb-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a directory for the server");
        let install = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db (Debian's mariadb-server) runs");
        assert!(install.success(), "mariadb-install-db failed");
        let port = crate::ports::free_port();
        let mut server = Self { port, dir, server: None };
        server.restart();
        server
    }

    /// `mysql://root@127.0.0.1:PORT/test`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// Starts the server (again) on the same data directory and port, and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let data = self.dir.join("data");
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1", "--skip-log-bin"])
            .args(["--innodb-buffer-pool-size=32M", "--max-connections=500", "--skip-name-resolve"])
            .arg(format!("--port={}", self.port))
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", self.dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", self.dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.dir.join("error.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new("mariadb")
                .args(["--no-defaults", "-h127.0.0.1", "-uroot", "-e", "CREATE DATABASE IF NOT EXISTS test"])
                .arg(format!("-P{}", self.port))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "mariadbd did not start: {}", self.error_log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process where it is (SIGSTOP): connections stay open, nothing answers, as in a
    /// network partition or a stuck failover.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// SIGKILL: the server is gone, its connections reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.server.as_ref().expect("the server is running").id();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().expect("kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            // A frozen server must be thawed to die cleanly (SIGKILL works either way).
            let _ = Command::new("kill").arg("-CONT").arg(server.id().to_string()).status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProxyMode {
    /// Forward both ways.
    Pass = 0,
    /// Hold every byte (connections stay open, new ones are accepted): a black hole.
    Stall = 1,
    /// Reset every open connection, and every new one as it arrives.
    Reset = 2,
}

/// A TCP proxy on `127.0.0.1:port` in front of `127.0.0.1:target`.
pub struct TcpProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    changed: watch::Sender<u8>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(ProxyMode::Pass as u8));
        let (changed, _) = watch::channel(ProxyMode::Pass as u8);
        let accept_mode = mode.clone();
        let accept_changed = changed.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accept_mode.load(Ordering::SeqCst) == ProxyMode::Reset as u8 {
                    reset(client);
                    continue;
                }
                let (mode, changed) = (accept_mode.clone(), accept_changed.subscribe());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await {
                        pipe(client, server, mode, changed).await;
                    }
                });
            }
        });
        Self { port, mode, changed, task }
    }

    pub fn set(&self, mode: ProxyMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        let _ = self.changed.send(mode as u8);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.set(ProxyMode::Reset);
    }
}

fn reset(stream: TcpStream) {
    // Linger 0: closing sends RST instead of FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Forwards between `client` and `server` while the mode allows; holds bytes while stalled;
/// resets both on `Reset`.
async fn pipe(client: TcpStream, server: TcpStream, mode: Arc<AtomicU8>, mut changed: watch::Receiver<u8>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        let current = mode.load(Ordering::SeqCst);
        if current == ProxyMode::Reset as u8 {
            break;
        }
        if current == ProxyMode::Stall as u8 {
            if changed.changed().await.is_err() {
                break;
            }
            continue;
        }
        tokio::select! {
            read = client_read.read(&mut up) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => if server_write.write_all(&up[..n]).await.is_err() { break },
            },
            read = server_read.read(&mut down) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => if client_write.write_all(&down[..n]).await.is_err() { break },
            },
            result = changed.changed() => if result.is_err() { break },
        }
    }
    if let (Ok(client), Ok(server)) = (client_read.reunite(client_write), server_read.reunite(server_write)) {
        reset(client);
        reset(server);
    }
}
