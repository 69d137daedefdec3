//! A real PostgreSQL for the tests: started once per test process from Debian's binaries
//! (`initdb` into a temp dir, `postgres` on a free loopback port, as an unprivileged user when
//! the tests run as root, since PostgreSQL refuses root), with a fresh database per test.
//! Nothing is mocked, and nothing is skipped: without PostgreSQL a test that needs it fails,
//! saying how to get it.
//!
//! The binaries are taken from `OTTERDOC_TEST_PG_BIN` (the test command sets it), else the
//! newest `/usr/lib/postgresql/<version>/bin`. A watchdog process stops the server and removes
//! its directory once the test process is gone, however it ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use super::WAIT;

/// The running server.
struct Server {
    port: u16,
    /// Kept (never waited for here): the watchdog stops it once this process is gone.
    _postgres: std::process::Child,
    _watchdog: std::process::Child,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// Where `initdb` and `postgres` are.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OTTERDOC_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("postgres").exists(),
            "OTTERDOC_TEST_PG_BIN={} has no postgres binary",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "these tests need PostgreSQL and found none: install Debian's `postgresql` package \
             (`.ci/run` does), or set OTTERDOC_TEST_PG_BIN to the directory of its binaries"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args...`, as the unprivileged `nobody` when we are root (`setpriv` execs the
/// program itself, so the child's pid is the program's).
fn as_postgres_user(program: &Path, root: bool) -> Command {
    if root {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start() -> Server {
    let bin = bin_dir();
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("otterdoc-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let data = dir.join("data");
    if root {
        let status = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown of {} failed", dir.display());
    }
    let out = as_postgres_user(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "otterdoc", "-E", "UTF8", "--no-sync"])
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let log = std::fs::File::create(dir.join("postgres.log")).expect("log file");
    let child = as_postgres_user(&bin.join("postgres"), root)
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "max_connections=300", "-c", "shared_buffers=64MB"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start postgres");
    // Stops the server (fast shutdown) and removes its files once this process is gone.
    let script = format!(
        "while kill -0 {test} 2>/dev/null; do sleep 1; done; kill -INT {pg} 2>/dev/null; \
         sleep 3; kill -9 {pg} 2>/dev/null; rm -rf '{dir}'",
        test = std::process::id(),
        pg = child.id(),
        dir = dir.display()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog");
    let deadline = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "PostgreSQL did not listen on port {port}; its log:\n{}",
            std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        port,
        _postgres: child,
        _watchdog: watchdog,
    }
}

/// The port of the shared server (started on first use).
pub fn port() -> u16 {
    SERVER.get_or_init(start).port
}

/// A fresh, empty database on the shared server: its `postgres://` URL.
pub async fn database() -> String {
    let port = port();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = format!("host=127.0.0.1 port={port} user=otterdoc dbname=postgres");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Right after start-up the server may still refuse ("starting up"): retry.
        match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a test database");
                return format!("postgres://otterdoc@127.0.0.1:{port}/{name}");
            }
            Err(err) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "cannot reach the test PostgreSQL: {err}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A plain client of the database at `url`, for tests that look at tables directly.
pub async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}
