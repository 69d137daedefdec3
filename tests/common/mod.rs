//! Test harness shared by the integration suite, one helper per job:
//! - [`TestServer`]: a real server in this process on a loopback port with a temp sled dir;
//! - [`process`]: the real `otterdoc` binary as a child process (kill -9, signals, CLI);
//! - [`stomp`]: the one STOMP-over-WebSocket client; [`ot_client`]: an ot.js-style editor on it;
//! - [`http`]: HTTP requests through `reqwest` (and raw bytes for deliberately bad requests);
//! - [`history`]: reading a document's history back over HTTP and replaying it;
//! - [`tokens`]: signed JWTs for servers run with `--auth jwt`;
//! - [`postgres`]: a real PostgreSQL (started once per test run), a fresh database per test;
//! - [`proxy`]: a TCP proxy a test can cut and restore (a node losing its database).

pub mod history;
pub mod http;
pub mod ot_client;
pub mod postgres;
pub mod process;
pub mod proxy;
pub mod stomp;
pub mod tokens;

use std::path::PathBuf;
use std::time::Duration;

use otterdoc::{Config, Server};
use serde_json::Value;

pub use stomp::StompClient;

/// Longest any single wait in a test may take before the test fails (never hangs).
pub const WAIT: Duration = Duration::from_secs(20);

/// A server running in this process on 127.0.0.1:<free port>, with its own data directory.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    server: Option<Server>,
    config: Config,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts its config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
        tweak(&mut config);
        let server = Server::start(config.clone()).await.expect("server starts");
        TestServer {
            addr: server.local_addr(),
            server: Some(server),
            config,
            _dir: dir,
        }
    }

    /// Stops the server gracefully and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let server = Server::start(self.config.clone())
            .await
            .expect("server restarts");
        self.addr = server.local_addr();
        self.server = Some(server);
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.config.data
    }

    /// Stops the server gracefully.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// How many documents have a running task.
    pub fn open_documents(&self) -> usize {
        self.server.as_ref().map_or(0, Server::open_documents)
    }

    /// Waits (bounded by [`WAIT`]) until no document task is running.
    pub async fn wait_all_unloaded(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.open_documents() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "documents still loaded after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Where `--stomp-tcp-listen` listens, if the config set it.
    pub fn stomp_tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref()?.stomp_tcp_addr()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Opens a STOMP connection and completes CONNECT.
    pub async fn client(&self) -> StompClient {
        let mut c = StompClient::open(&self.ws_url()).await;
        c.connect().await;
        c
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        http::get(self.addr, path).await
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        http::post(self.addr, path, body).await
    }
}

/// The repository root (where `Cargo.toml` of the server lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
