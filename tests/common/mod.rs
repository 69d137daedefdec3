//! Test harness shared by the integration tests: a real server on a loopback port with a temp
//! sled directory, a small async STOMP client over tokio-tungstenite, a raw HTTP/1.1 client, and
//! helpers that read a document's history back and replay it. Each test file uses only part of
//! it.
#![allow(dead_code)]

pub mod history;
pub mod ot_client;
pub mod stomp_client;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use otterdoc::{Config, Server};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use stomp_client::StompClient;

/// Longest any single wait in a test may take before the test fails (never hangs).
pub const WAIT: Duration = Duration::from_secs(20);

/// A server running in this process on 127.0.0.1:<free port>, with its own data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    server: Option<Server>,
    config: Config,
    _dir: Option<tempfile::TempDir>,
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
            _dir: Some(dir),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data
    }

    /// Stops the server gracefully and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let server = Server::start(self.config.clone())
            .await
            .expect("server restarts");
        self.addr = server.local_addr();
        self.server = Some(server);
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
        http(self.addr, "GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        http(self.addr, "POST", path, Some(body.as_bytes())).await
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the JSON body
/// (`Value::Null` if the body is not JSON).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
    let (status, bytes) = http_raw(addr, method, path, &[], body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Like [`http`] with extra headers, returning the raw body.
pub async fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Vec<u8>) {
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(body) = body {
            bytes.extend_from_slice(body);
        }
        stream.write_all(&bytes).await.expect("write request");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .expect("read response");
        parse_response(&response)
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("HTTP request timed out")
}

fn parse_response(response: &[u8]) -> (u16, Vec<u8>) {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response has a header block");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// The repository root (where `Cargo.toml` of the server lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared editing traces, `../shared/traces` beside the repository.
pub fn traces_dir() -> PathBuf {
    repo_root().join("../shared/traces")
}
