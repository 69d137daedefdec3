//! Every knob and every limit of the server, in one place. [`Config`] holds what an operator
//! sets (each field is a flag of `otterdoc serve` with an `OTTERDOC_*` environment variable,
//! defaulting to a constant of [`defaults`]); [`limits`] holds the fixed internal bounds. The
//! flag names and defaults are a user-facing contract, listed in `docs/cli.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Defaults of the [`Config`] flags. clap shows them in `--help`, [`Config::new`] uses them,
/// and `docs/cli.md` documents them (pinned by the docs contract test).
pub mod defaults {
    /// `--listen`.
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// `--data`.
    pub const DATA: &str = "./otterdoc-data";
    /// `--max-frame-bytes`: large enough for any realistic edit batch, small enough that a
    /// thousand connections with a half-received frame each stay well under 100 MiB.
    pub const MAX_FRAME_BYTES: usize = 64 * 1024;
    /// `--max-op-bytes`.
    pub const MAX_OP_BYTES: usize = 64 * 1024;
    /// `--max-doc-bytes` (16 MiB).
    pub const MAX_DOC_BYTES: usize = 16 * 1024 * 1024;
    /// `--snapshot-interval`.
    pub const SNAPSHOT_INTERVAL: u64 = 1000;
    /// `--heartbeat-ms`.
    pub const HEARTBEAT_MS: u64 = 10_000;
    /// `--idle-doc-ms`.
    pub const IDLE_DOC_MS: u64 = 60_000;
    /// `--connect-timeout-ms`.
    pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
    /// `--write-timeout-ms`.
    pub const WRITE_TIMEOUT_MS: u64 = 10_000;
    /// `--max-connections`: STOMP connections at once (a node is sized for 100,000).
    pub const MAX_CONNECTIONS: usize = 100_000;
    /// `--max-subscriptions`: subscriptions one connection may hold.
    pub const MAX_SUBSCRIPTIONS: usize = 64;
    /// `--max-transactions`: transactions one connection may have open.
    pub const MAX_TRANSACTIONS: usize = 16;
    /// `--max-submissions-per-second`: sustained ops one connection may submit (a fast typist
    /// makes ~10; scripts and imports more).
    pub const MAX_SUBMISSIONS_PER_SECOND: u32 = 1000;
    /// `--submission-burst`: ops one connection may submit at once above that rate.
    pub const SUBMISSION_BURST: u32 = 2000;
    /// `--max-outbound-bytes`: bytes queued for one connection before it counts as not reading.
    pub const MAX_OUTBOUND_BYTES: usize = 4 * 1024 * 1024;
    /// `--request-timeout-ms`: longest an HTTP request (head and body) may take to arrive.
    pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
    /// `--sockjs-path`: the base URL of the SockJS endpoint.
    pub const SOCKJS_PATH: &str = "/sockjs";
    /// `--sockjs-heartbeat-ms`: the SockJS protocol's suggested 25 s, under the idle timeouts
    /// of common proxies and load balancers (often 30-60 s).
    pub const SOCKJS_HEARTBEAT_MS: u64 = 25_000;
    /// `--sockjs-disconnect-delay-ms`: the SockJS protocol's 5 s, long enough for a polling
    /// client to open its next request.
    pub const SOCKJS_DISCONNECT_DELAY_MS: u64 = 5_000;
    /// `--lease-ms`: how long a node's ownership of a document lasts without renewal, so how
    /// long its documents wait before another node takes them over if it dies.
    pub const LEASE_MS: u64 = 5_000;
}

/// How clients prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Nobody does: every session and request is `anonymous` with full rights (local use).
    None,
    /// A JWT, verified with `--jwt-secret-file` / `OTTERDOC_JWT_SECRET` (HS256) or
    /// `--jwt-public-key-file` (RS256 or ES256).
    Jwt,
}

/// Fixed bounds that are not flags. Each keeps some memory or wait bounded; the ones a client
/// can observe are documented in `docs/` (and pinned by the docs contract test).
pub mod limits {
    use std::time::Duration;

    /// The longest document id, in characters.
    pub const MAX_DOC_ID_LEN: usize = 128;
    /// Longest `client` id a submission may carry.
    pub const MAX_CLIENT_ID_LEN: usize = 64;
    /// Most SENDs one STOMP transaction may hold; a client past it gets an ERROR.
    pub const MAX_TRANSACTION_FRAMES: usize = 1000;
    /// Outbound items (frames, or one commit's op messages) queued per connection. When full,
    /// the session's answers wait and live subscriptions fall behind and catch up from
    /// storage, instead of memory growing or the document waiting.
    pub const OUTBOUND_QUEUE: usize = 256;
    /// How long a closing connection keeps reading (and discarding) what the client still
    /// sends, so a RST cannot eat the last frames written (see `stomp::connection`).
    pub const LINGER: Duration = Duration::from_secs(2);
    /// How long the writer tries to get a final ERROR out to a peer whose writes stalled.
    pub const STALLED_ERROR_WRITE: Duration = Duration::from_millis(100);
    /// How long the writer waits for the WebSocket close handshake.
    pub const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);
    /// A document task's mailbox; senders wait (backpressure) when it is full.
    pub const MAILBOX: usize = 1024;
    /// Most commands one document task takes from its mailbox into one group commit.
    pub const MAX_BATCH: usize = 256;
    /// Fewest and most recent ops a document task keeps in memory for transforming and
    /// duplicate detection (`--snapshot-interval` clamped to this range).
    pub const RECENT_OPS: (usize, usize) = (2 * MAX_BATCH, 4096);
    /// Ops read from storage per catch-up page of a lagging subscriber.
    pub const CATCH_UP_PAGE: usize = 256;
    /// Ops per page of `GET /docs/<id>/ops` when `limit` is not given.
    pub const DEFAULT_OPS_LIMIT: usize = 100;
    /// Largest page of `GET /docs/<id>/ops`; larger `limit`s are clamped to it.
    pub const MAX_OPS_LIMIT: usize = 1000;
    /// Smallest WebSocket message limit; the limit is max(4 × `--max-frame-bytes`, this).
    pub const MIN_WS_MESSAGE_BYTES: usize = 64 * 1024;
    /// How long shutdown waits for each phase (HTTP requests, sessions) before moving on.
    pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
    /// How often a task that enqueues into a mailbox retries when the task it reached stopped.
    pub const MAILBOX_RETRIES: usize = 3;

    // History (`docs/http.md`): reading, diffing, verifying and feeding it.

    /// Records read per page when verifying a document's hash chain.
    pub const VERIFY_PAGE: usize = 1000;
    /// Records written per commit when copying a document with its history.
    pub const COPY_CHUNK: usize = 1000;
    /// Without `base`, a restore is recognised as a resubmission when an op with its `client`
    /// and `seq` is among the document's this many newest ops.
    pub const RESTORE_DEDUP_WINDOW: u64 = 512;
    /// How long computing one minimal diff may take before it settles for a coarser (still
    /// correct) one; a diff never stalls a document (or a request) for longer.
    pub const DIFF_DEADLINE: Duration = Duration::from_millis(500);
    /// Documents per page of `GET /docs` when `limit` is not given.
    pub const DEFAULT_DOCS_LIMIT: usize = 100;
    /// Largest page of `GET /docs`; larger `limit`s are clamped to it.
    pub const MAX_DOCS_LIMIT: usize = 1000;
    /// Most stored documents one `GET /docs` request looks at (readable or not) before it
    /// answers with what it has and a `next` to go on from.
    pub const MAX_DOCS_SCANNED: usize = 10_000;
    /// Entries per page of `GET /changes` when `limit` is not given.
    pub const DEFAULT_CHANGES_LIMIT: usize = 100;
    /// Largest page of `GET /changes` (and the page `GET /changes/stream` reads).
    pub const MAX_CHANGES_LIMIT: usize = 1000;
    /// A comment line is sent on an idle `GET /changes/stream` this often, so proxies keep it.
    pub const CHANGES_KEEP_ALIVE: Duration = Duration::from_secs(15);
    /// Most changefeed entries in one webhook POST.
    pub const WEBHOOK_BATCH: usize = 100;
    /// A webhook POST not answered within this long counts as failed (and is retried).
    pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
    /// The first retry of a failed webhook POST waits this long; each further one twice as
    /// long, up to [`WEBHOOK_BACKOFF_MAX`] (with up to 25 % jitter).
    pub const WEBHOOK_BACKOFF_MIN: Duration = Duration::from_millis(500);
    /// The longest wait between two attempts of a webhook POST.
    pub const WEBHOOK_BACKOFF_MAX: Duration = Duration::from_secs(60);

    // SockJS (`docs/protocol.md#sockjs`).

    /// A SockJS streaming response (xhr_streaming, eventsource) ends once it has carried this
    /// many bytes, so the browser can free what it buffered; the client opens the next one.
    pub const SOCKJS_STREAMING_BYTES: usize = 128 * 1024;
    /// Messages from the client (`xhr_send` bodies, SockJS WebSocket messages) queued for a
    /// SockJS session's STOMP reader; a sender waits while it is full.
    pub const SOCKJS_INBOUND_QUEUE: usize = 64;
    /// Encoded STOMP frames queued for a SockJS session between two receiving requests; when
    /// full, the session's writer waits (and gives up after `--write-timeout-ms`).
    pub const SOCKJS_OUTBOUND_QUEUE: usize = 256;
    // Several nodes on PostgreSQL (`docs/cluster.md`).

    /// Longest any one PostgreSQL call (connecting included) may take before it counts as
    /// failed and its connection is dropped.
    pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
    /// PostgreSQL connections one node keeps at most.
    pub const STORE_POOL: usize = 16;
    /// How often a node on PostgreSQL reads the changefeed's head, to see the entries other
    /// nodes committed (its own commits move it at once).
    pub const FEED_POLL: Duration = Duration::from_millis(200);

    // Presence (`docs/protocol.md#presence`). Each bounds what one session can make a document
    // store or broadcast; the client-visible ones are pinned by the docs contract test.

    /// Largest presence update body (`SEND /app/doc/<id>/presence`), in bytes.
    pub const MAX_PRESENCE_BYTES: usize = 4096;
    /// Most ranges one presence selection may have.
    pub const MAX_PRESENCE_RANGES: usize = 32;
    /// Longest presence `name`, in characters.
    pub const MAX_PRESENCE_NAME_LEN: usize = 64;
    /// Longest presence `color`, in characters.
    pub const MAX_PRESENCE_COLOR_LEN: usize = 32;
    /// A session's presence is broadcast at most once per this interval; updates in between are
    /// coalesced (the latest wins) and go out when it has passed.
    pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(50);
    /// A presence subscriber whose outbox had no room is sent the whole current presence again
    /// after this long (and again until it has room).
    pub const PRESENCE_RESYNC: Duration = Duration::from_millis(200);
    /// Presence is queued for a connection only while its outbox has more free slots than
    /// this, so presence can never take the room op delivery needs.
    pub const PRESENCE_HEADROOM: usize = OUTBOUND_QUEUE / 2;
}

/// Settings of one server instance.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address to listen on (HTTP routes and the STOMP WebSocket at /ws).
    #[arg(long, env = "OTTERDOC_LISTEN", default_value = defaults::LISTEN)]
    pub listen: SocketAddr,

    /// Directory of the sled database holding every document's history.
    #[arg(long, env = "OTTERDOC_DATA", default_value = defaults::DATA)]
    pub data: PathBuf,

    /// Largest STOMP frame accepted, in bytes (headers and body).
    #[arg(long, env = "OTTERDOC_MAX_FRAME_BYTES", default_value_t = defaults::MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Largest operation accepted, in bytes of its JSON (also caps HTTP request bodies).
    #[arg(long, env = "OTTERDOC_MAX_OP_BYTES", default_value_t = defaults::MAX_OP_BYTES)]
    pub max_op_bytes: usize,

    /// Largest document, in UTF-8 bytes; an operation that would make it larger is rejected.
    #[arg(long, env = "OTTERDOC_MAX_DOC_BYTES", default_value_t = defaults::MAX_DOC_BYTES)]
    pub max_doc_bytes: usize,

    /// A snapshot of a document is stored every this many operations.
    #[arg(long, env = "OTTERDOC_SNAPSHOT_INTERVAL", default_value_t = defaults::SNAPSHOT_INTERVAL, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_interval: u64,

    /// Heart-beat interval the server offers and asks for, in milliseconds (0 disables).
    #[arg(long, env = "OTTERDOC_HEARTBEAT_MS", default_value_t = defaults::HEARTBEAT_MS)]
    pub heartbeat_ms: u64,

    /// A document with no subscribers and no submissions for this long is unloaded (ms).
    #[arg(long, env = "OTTERDOC_IDLE_DOC_MS", default_value_t = defaults::IDLE_DOC_MS)]
    pub idle_doc_ms: u64,

    /// A new connection that sends no CONNECT frame within this long is closed (ms).
    #[arg(long, env = "OTTERDOC_CONNECT_TIMEOUT_MS", default_value_t = defaults::CONNECT_TIMEOUT_MS)]
    pub connect_timeout_ms: u64,

    /// A connection whose writes make no progress for this long is closed (ms).
    #[arg(long, env = "OTTERDOC_WRITE_TIMEOUT_MS", default_value_t = defaults::WRITE_TIMEOUT_MS)]
    pub write_timeout_ms: u64,

    /// How clients authenticate: none (everyone is anonymous with full rights) or jwt.
    #[arg(long, env = "OTTERDOC_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,

    /// File holding the HS256 secret that signs the JWTs (trailing whitespace ignored).
    #[arg(long, env = "OTTERDOC_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// The HS256 secret itself (prefer the environment variable or the file to the flag).
    #[arg(long, env = "OTTERDOC_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file of the public key that verifies the JWTs (RSA: RS256, EC P-256: ES256).
    #[arg(long, env = "OTTERDOC_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// If set, a token's `iss` claim must be this.
    #[arg(long, env = "OTTERDOC_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// If set, a token's `aud` claim must include this.
    #[arg(long, env = "OTTERDOC_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Origins (comma-separated, `*` for any) allowed to open the WebSocket and to call the HTTP
    /// routes from a browser (CORS); empty: no Origin check and no CORS headers.
    #[arg(long, env = "OTTERDOC_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// File holding the token of the admin HTTP routes (`/admin/...`); without it they are off.
    #[arg(long, env = "OTTERDOC_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// STOMP connections at once; one more is refused with 503.
    #[arg(long, env = "OTTERDOC_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Subscriptions one connection may hold.
    #[arg(long, env = "OTTERDOC_MAX_SUBSCRIPTIONS", default_value_t = defaults::MAX_SUBSCRIPTIONS)]
    pub max_subscriptions: usize,

    /// Transactions one connection may have open at once.
    #[arg(long, env = "OTTERDOC_MAX_TRANSACTIONS", default_value_t = defaults::MAX_TRANSACTIONS)]
    pub max_transactions: usize,

    /// Ops one connection may submit per second, sustained (0: no limit).
    #[arg(long, env = "OTTERDOC_MAX_SUBMISSIONS_PER_SECOND", default_value_t = defaults::MAX_SUBMISSIONS_PER_SECOND)]
    pub max_submissions_per_second: u32,

    /// Ops one connection may submit at once beyond the sustained rate.
    #[arg(long, env = "OTTERDOC_SUBMISSION_BURST", default_value_t = defaults::SUBMISSION_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub submission_burst: u32,

    /// Bytes queued for one connection before it counts as not reading and is closed.
    #[arg(long, env = "OTTERDOC_MAX_OUTBOUND_BYTES", default_value_t = defaults::MAX_OUTBOUND_BYTES)]
    pub max_outbound_bytes: usize,

    /// Longest an HTTP request's head and body may take to arrive (ms).
    #[arg(long, env = "OTTERDOC_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,

    /// An http:// URL that receives the changefeed as signed POSTs (repeatable; the variable
    /// takes a comma-separated list).
    #[arg(long, env = "OTTERDOC_WEBHOOK_URL", value_delimiter = ',')]
    pub webhook_url: Vec<String>,

    /// File holding the secret that signs webhook deliveries (HMAC-SHA256; trailing
    /// whitespace ignored). Required with --webhook-url.
    #[arg(long, env = "OTTERDOC_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,

    /// Base URL of the SockJS endpoint (STOMP over SockJS 0.3.3, for sockjs-client frontends).
    #[arg(long, env = "OTTERDOC_SOCKJS_PATH", default_value = defaults::SOCKJS_PATH, value_parser = parse_sockjs_path)]
    pub sockjs_path: String,

    /// A SockJS session's receiving connection gets an `h` frame after this long without
    /// traffic (ms).
    #[arg(long, env = "OTTERDOC_SOCKJS_HEARTBEAT_MS", default_value_t = defaults::SOCKJS_HEARTBEAT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub sockjs_heartbeat_ms: u64,

    /// A SockJS session with no receiving connection for this long is closed (ms).
    #[arg(long, env = "OTTERDOC_SOCKJS_DISCONNECT_DELAY_MS", default_value_t = defaults::SOCKJS_DISCONNECT_DELAY_MS)]
    pub sockjs_disconnect_delay_ms: u64,

    /// SockJS `info` says `cookie_needed` and session responses set a `JSESSIONID` cookie (for
    /// load balancers that keep sessions sticky by it).
    #[arg(long, env = "OTTERDOC_SOCKJS_COOKIE_NEEDED")]
    pub sockjs_cookie_needed: bool,

    /// Also serve STOMP over plain TCP on this address (e.g. 127.0.0.1:61613); off if unset.
    #[arg(long, env = "OTTERDOC_STOMP_TCP_LISTEN")]
    pub stomp_tcp_listen: Option<SocketAddr>,

    /// Keep every document's history in this PostgreSQL database
    /// (`postgres://user:password@host:port/db`) instead of sled under --data. One node per
    /// database for now: a second node on the same database is refused (docs/cluster.md).
    #[arg(long, env = "OTTERDOC_STORE", hide_env_values = true, value_parser = postgres_url)]
    pub store: Option<String>,

    /// With --store: run as the node of this name among several nodes sharing the database
    /// (docs/cluster.md). Without it, a node on PostgreSQL is the database's only node.
    #[arg(long, env = "OTTERDOC_NODE_ID", requires = "store")]
    pub node_id: Option<String>,

    /// With --node-id: `host:port` where the other nodes reach this one (default: the address
    /// it listens on, which must then name a host, not 0.0.0.0).
    #[arg(long, env = "OTTERDOC_ADVERTISE_ADDR", requires = "node_id")]
    pub advertise_addr: Option<String>,

    /// With --node-id: how long this node's ownership of a document lasts unless renewed (ms);
    /// a dead node's documents move to another node after at most this long.
    #[arg(long, env = "OTTERDOC_LEASE_MS", default_value_t = defaults::LEASE_MS, value_parser = clap::value_parser!(u64).range(100..))]
    pub lease_ms: u64,
}

/// `--sockjs-path`: starts with `/`, does not end with one, and has no `?` or `#`.
fn parse_sockjs_path(value: &str) -> Result<String, String> {
    if !value.starts_with('/') || value.len() < 2 || value.ends_with('/') {
        return Err("must start with '/' and not end with one, e.g. /sockjs".into());
    }
    if value.contains(['?', '#']) || value.contains("//") {
        return Err("must be a plain path (no '?', '#' or '//')".into());
    }
    Ok(value.to_owned())
}

/// `--store`: a `postgres://` (or `postgresql://`) URL; anything else is refused up front, with
/// what is accepted (sled, the default, needs no `--store`).
fn postgres_url(value: &str) -> Result<String, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_owned())
    } else {
        Err(
            "expected a postgres:// URL (postgres://user:password@host:port/db); \
             omit --store to keep the history in sled under --data"
                .to_owned(),
        )
    }
}

impl Config {
    /// Defaults for a server on `listen` with its data in `data` (used by tests and embedders).
    pub fn new(listen: SocketAddr, data: PathBuf) -> Self {
        Self {
            listen,
            data,
            max_frame_bytes: defaults::MAX_FRAME_BYTES,
            max_op_bytes: defaults::MAX_OP_BYTES,
            max_doc_bytes: defaults::MAX_DOC_BYTES,
            snapshot_interval: defaults::SNAPSHOT_INTERVAL,
            heartbeat_ms: defaults::HEARTBEAT_MS,
            idle_doc_ms: defaults::IDLE_DOC_MS,
            connect_timeout_ms: defaults::CONNECT_TIMEOUT_MS,
            write_timeout_ms: defaults::WRITE_TIMEOUT_MS,
            auth: AuthMode::None,
            jwt_secret_file: None,
            jwt_secret: None,
            jwt_public_key_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            allowed_origins: Vec::new(),
            admin_token_file: None,
            max_connections: defaults::MAX_CONNECTIONS,
            max_subscriptions: defaults::MAX_SUBSCRIPTIONS,
            max_transactions: defaults::MAX_TRANSACTIONS,
            max_submissions_per_second: defaults::MAX_SUBMISSIONS_PER_SECOND,
            submission_burst: defaults::SUBMISSION_BURST,
            max_outbound_bytes: defaults::MAX_OUTBOUND_BYTES,
            request_timeout_ms: defaults::REQUEST_TIMEOUT_MS,
            webhook_url: Vec::new(),
            webhook_secret_file: None,
            sockjs_path: defaults::SOCKJS_PATH.to_owned(),
            sockjs_heartbeat_ms: defaults::SOCKJS_HEARTBEAT_MS,
            sockjs_disconnect_delay_ms: defaults::SOCKJS_DISCONNECT_DELAY_MS,
            sockjs_cookie_needed: false,
            stomp_tcp_listen: None,
            store: None,
            node_id: None,
            advertise_addr: None,
            lease_ms: defaults::LEASE_MS,
        }
    }

    /// [`Self::lease_ms`] as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// How long a request for a document keeps being retried while the document moves to
    /// another node (its owner died or lost the store): a few leases and store timeouts.
    pub fn failover_wait(&self) -> Duration {
        self.lease() * 4 + limits::STORE_TIMEOUT * 2
    }

    /// [`Self::idle_doc_ms`] as a duration.
    pub fn idle_doc(&self) -> Duration {
        Duration::from_millis(self.idle_doc_ms)
    }

    /// [`Self::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`Self::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// [`Self::sockjs_heartbeat_ms`] as a duration.
    pub fn sockjs_heartbeat(&self) -> Duration {
        Duration::from_millis(self.sockjs_heartbeat_ms)
    }

    /// [`Self::sockjs_disconnect_delay_ms`] as a duration.
    pub fn sockjs_disconnect_delay(&self) -> Duration {
        Duration::from_millis(self.sockjs_disconnect_delay_ms)
    }

    /// True if a browser page from `origin` may use the server.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty()
            || self
                .allowed_origins
                .iter()
                .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }

    /// [`Self::write_timeout_ms`] as a duration.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }

    /// The largest WebSocket message accepted: room for a few frames, never below 64 KiB.
    pub fn max_ws_message_bytes(&self) -> usize {
        self.max_frame_bytes
            .saturating_mul(4)
            .max(limits::MIN_WS_MESSAGE_BYTES)
    }

    /// How many recent ops a document task keeps in memory.
    pub fn recent_ops(&self) -> usize {
        let (min, max) = limits::RECENT_OPS;
        usize::try_from(self.snapshot_interval)
            .unwrap_or(max)
            .clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_uses_the_flag_defaults() {
        let config = Config::new(defaults::LISTEN.parse().unwrap(), defaults::DATA.into());
        assert_eq!(config.max_ws_message_bytes(), 262_144);
        assert_eq!(config.recent_ops(), 1000);
        let mut small = config.clone();
        small.snapshot_interval = 1;
        assert_eq!(small.recent_ops(), 512);
    }
}
