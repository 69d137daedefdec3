//! What an operator watches: every counter, gauge and histogram of the server, registered in
//! one [`prometheus_client`] registry and served as Prometheus text at `GET /metrics`. One
//! `Metrics` per server (not a global), so several servers in one process — as in the tests —
//! keep their own figures. The names are a contract, listed in `docs/operations.md`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A label naming an error code, a kind of error or a reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Label {
    /// The value.
    pub label: String,
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    /// STOMP connections open now.
    pub connections: Gauge,
    /// Connections that have completed CONNECT.
    pub sessions: Gauge,
    /// Document subscriptions now.
    pub subscriptions: Gauge,
    /// Documents with a running task now.
    pub open_documents: Gauge,
    /// Ops applied (committed).
    pub ops_applied: Counter,
    /// Ops rejected, by error code.
    pub ops_rejected: Family<Label, Counter>,
    /// How many stored ops an incoming op was transformed against.
    pub transform_depth: Histogram,
    /// Ops per commit.
    pub commit_batch: Histogram,
    /// Seconds a commit took (write and flush).
    pub commit_seconds: Histogram,
    /// Op messages queued for subscribers.
    pub deliveries: Counter,
    /// Subscriptions that fell behind and caught up from storage.
    pub catch_ups: Counter,
    /// STOMP frames received.
    pub frames_in: Counter,
    /// STOMP frames written.
    pub frames_out: Counter,
    /// Connections ended by an ERROR, by kind.
    pub errors: Family<Label, Counter>,
    /// Credentials refused, by reason.
    pub auth_failures: Family<Label, Counter>,
    /// Batches a webhook acknowledged, by webhook URL.
    pub webhook_deliveries: Family<Label, Counter>,
    /// Failed webhook POSTs (retried), by webhook URL.
    pub webhook_failures: Family<Label, Counter>,
    /// Changefeed entries a webhook has not acknowledged yet, by webhook URL.
    pub webhook_lag: Family<Label, Gauge>,
    /// Document leases this node took (nodes sharing a store).
    pub leases_acquired: Counter,
    /// Documents this node relays from their owner on another node, now.
    pub relayed_documents: Gauge,
    /// Submissions this node forwarded to a document's owner on another node.
    pub forwarded: Counter,
    /// Commits the store refused (stale lease, version taken by another writer).
    pub commits_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("otterdoc");
        let m = Metrics {
            connections: Gauge::default(),
            sessions: Gauge::default(),
            subscriptions: Gauge::default(),
            open_documents: Gauge::default(),
            ops_applied: Counter::default(),
            ops_rejected: Family::default(),
            // 0, 1, 2, 4, … 1024 ops.
            transform_depth: Histogram::new(
                [0.0].into_iter().chain(exponential_buckets(1.0, 2.0, 11)),
            ),
            commit_batch: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            // 50 µs … ~1.6 s.
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            deliveries: Counter::default(),
            catch_ups: Counter::default(),
            frames_in: Counter::default(),
            frames_out: Counter::default(),
            errors: Family::default(),
            auth_failures: Family::default(),
            webhook_deliveries: Family::default(),
            webhook_failures: Family::default(),
            webhook_lag: Family::default(),
            leases_acquired: Counter::default(),
            relayed_documents: Gauge::default(),
            forwarded: Counter::default(),
            commits_refused: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "connections",
            "STOMP connections open now",
            m.connections.clone(),
        );
        r.register(
            "sessions",
            "Connections that completed CONNECT",
            m.sessions.clone(),
        );
        r.register(
            "subscriptions",
            "Document subscriptions now",
            m.subscriptions.clone(),
        );
        r.register(
            "open_documents",
            "Documents with a running task",
            m.open_documents.clone(),
        );
        r.register(
            "ops_applied",
            "Ops applied and durable",
            m.ops_applied.clone(),
        );
        r.register(
            "ops_rejected",
            "Ops rejected, by error code",
            m.ops_rejected.clone(),
        );
        r.register(
            "transform_depth",
            "Stored ops an incoming op was transformed against",
            m.transform_depth.clone(),
        );
        r.register("commit_batch_ops", "Ops per commit", m.commit_batch.clone());
        r.register(
            "commit_seconds",
            "Time of a commit (write and flush)",
            m.commit_seconds.clone(),
        );
        r.register(
            "deliveries",
            "Op messages queued for subscribers",
            m.deliveries.clone(),
        );
        r.register(
            "catch_ups",
            "Subscriptions that fell behind and caught up from storage",
            m.catch_ups.clone(),
        );
        r.register("frames_in", "STOMP frames received", m.frames_in.clone());
        r.register("frames_out", "STOMP frames written", m.frames_out.clone());
        r.register(
            "errors",
            "Connections ended by an ERROR, by kind",
            m.errors.clone(),
        );
        r.register(
            "auth_failures",
            "Credentials refused, by reason",
            m.auth_failures.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Changefeed batches a webhook acknowledged, by webhook",
            m.webhook_deliveries.clone(),
        );
        r.register(
            "webhook_failures",
            "Failed webhook POSTs (retried with backoff), by webhook",
            m.webhook_failures.clone(),
        );
        r.register(
            "webhook_lag_entries",
            "Changefeed entries a webhook has not acknowledged yet, by webhook",
            m.webhook_lag.clone(),
        );
        r.register(
            "leases_acquired",
            "Document leases this node took",
            m.leases_acquired.clone(),
        );
        r.register(
            "relayed_documents",
            "Documents relayed from their owner on another node",
            m.relayed_documents.clone(),
        );
        r.register(
            "forwarded_submissions",
            "Submissions forwarded to a document's owner on another node",
            m.forwarded.clone(),
        );
        r.register(
            "commits_refused",
            "Commits the store refused (stale lease, version taken)",
            m.commits_refused.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets `family`'s gauge under `label`.
    pub fn set(family: &Family<Label, Gauge>, label: &str, value: u64) {
        family
            .get_or_create(&Label {
                label: label.to_owned(),
            })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }

    /// Counts one of `family` under `label`.
    pub fn count(family: &Family<Label, Counter>, label: &str) {
        family
            .get_or_create(&Label {
                label: label.to_owned(),
            })
            .inc();
    }

    /// The metrics as Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
