//! Server configuration: every knob is a CLI flag of `otterdoc serve` with an `OTTERDOC_*`
//! environment variable, and the defaults are what `cargo run --release -- serve` uses.
//! The flag names are a user-facing contract, listed in `docs/cli.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Settings of one server instance.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address to listen on (HTTP routes and the STOMP WebSocket at /ws).
    #[arg(long, env = "OTTERDOC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the sled database holding every document's history.
    #[arg(long, env = "OTTERDOC_DATA", default_value = "./otterdoc-data")]
    pub data: PathBuf,

    /// Largest STOMP frame accepted, in bytes (headers and body).
    #[arg(long, env = "OTTERDOC_MAX_FRAME_BYTES", default_value_t = 65_536)]
    pub max_frame_bytes: usize,

    /// Largest operation accepted, in bytes of its JSON (also caps HTTP request bodies).
    #[arg(long, env = "OTTERDOC_MAX_OP_BYTES", default_value_t = 65_536)]
    pub max_op_bytes: usize,

    /// Largest document, in UTF-8 bytes; an operation that would make it larger is rejected.
    #[arg(long, env = "OTTERDOC_MAX_DOC_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_doc_bytes: usize,

    /// A snapshot of a document is stored every this many operations.
    #[arg(long, env = "OTTERDOC_SNAPSHOT_INTERVAL", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_interval: u64,

    /// Heart-beat interval the server offers and asks for, in milliseconds (0 disables).
    #[arg(long, env = "OTTERDOC_HEARTBEAT_MS", default_value_t = 10_000)]
    pub heartbeat_ms: u64,

    /// A document with no subscribers and no submissions for this long is unloaded (ms).
    #[arg(long, env = "OTTERDOC_IDLE_DOC_MS", default_value_t = 60_000)]
    pub idle_doc_ms: u64,

    /// A new connection that sends no CONNECT frame within this long is closed (ms).
    #[arg(long, env = "OTTERDOC_CONNECT_TIMEOUT_MS", default_value_t = 10_000)]
    pub connect_timeout_ms: u64,

    /// A connection whose writes make no progress for this long is closed (ms).
    #[arg(long, env = "OTTERDOC_WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,
}

impl Config {
    /// Defaults for a server on `listen` with its data in `data` (used by tests and embedders).
    pub fn new(listen: SocketAddr, data: PathBuf) -> Self {
        Self {
            listen,
            data,
            max_frame_bytes: 65_536,
            max_op_bytes: 65_536,
            max_doc_bytes: 16 * 1024 * 1024,
            snapshot_interval: 1000,
            heartbeat_ms: 10_000,
            idle_doc_ms: 60_000,
            connect_timeout_ms: 10_000,
            write_timeout_ms: 10_000,
        }
    }

    /// [`Self::idle_doc_ms`] as a duration.
    pub fn idle_doc(&self) -> Duration {
        Duration::from_millis(self.idle_doc_ms)
    }

    /// [`Self::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`Self::write_timeout_ms`] as a duration.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
}
