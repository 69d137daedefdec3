//! `DocSubscription`: one `/topic/doc/<id>` subscription, its whole life, delivering every
//! version after its starting point exactly once, in order, with no gap.
//!
//! [`DocSubscription::start`] asks the document task for the current version, checks the
//! version the subscriber asked to resume from, sends the snapshot when it asked for none, and
//! then asks to go live. A live subscription has no task of its own: the document task pushes
//! each commit straight into the connection's outbox (one shared batch, encoded once), never
//! waiting. When that outbox is full — the client reads slowly — the document task drops the
//! subscription from its live set and says where it stopped; the subscription then reads the
//! missing ops from storage in pages, waiting for room as a slow reader must, and asks to go
//! live again. A slow reader therefore never slows the document or makes it buffer.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::limits::CATCH_UP_PAGE;
use crate::doc_id::DocId;
use crate::document::{Committed, DocumentRegistry, Listener, OpEvent, Push, Resumed};
use crate::error::ErrorCode;
use crate::metrics::Metrics;
use crate::shutdown::Phase;
use crate::stomp::{server, Closed, MessageBodies, MessageTarget, Outbox, TryQueue};
use crate::store::Store;
use crate::wire::{deleted_event_json, op_event_json, snapshot_event_json};

/// What a subscription needs from the server.
#[derive(Clone)]
pub struct Sources {
    /// The documents, to subscribe to (and to resume on, after catching up).
    pub registry: DocumentRegistry,
    /// Storage, to catch up from.
    pub store: Arc<dyn Store>,
    /// The shutdown phase catch-up tasks run in.
    pub phase: Phase,
    /// Counts catch-ups.
    pub metrics: Arc<Metrics>,
}

/// Who is subscribing, and where the MESSAGE frames go.
pub struct Subscriber {
    /// The STOMP subscription id.
    pub id: String,
    /// The destination as the client wrote it (echoed in every MESSAGE).
    pub destination: String,
    /// MESSAGE frames carry an `ack` header (`ack:client` / `ack:client-individual`).
    pub client_ack: bool,
    /// The session's outgoing frames.
    pub outbox: Outbox,
}

/// A running subscription; dropping it does not end it, [`DocSubscription::stop`] does.
pub struct DocSubscription {
    shared: Arc<Shared>,
}

/// What the document task (as a [`Listener`]) and catch-up share.
struct Shared {
    doc: DocId,
    target: Arc<MessageTarget>,
    outbox: Outbox,
    sources: Sources,
    /// The document's epoch when it subscribed: it resumes only within it.
    epoch: u64,
    /// The subscription id and destination, and whether it acks (for the `deleted` event).
    id: String,
    destination: String,
    client_ack: bool,
    /// The catch-up task, while one runs.
    catching_up: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl MessageBodies for Committed {
    fn count(&self) -> usize {
        self.events.len()
    }

    fn body(&self, i: usize) -> (u64, &[u8]) {
        let event = &self.events[i];
        (event.version, &event.json)
    }
}

impl Listener for Shared {
    fn push(&self, batch: &Arc<Committed>, from: usize) -> Push {
        if !self.target.is_active() {
            return Push::Gone;
        }
        match self.outbox.try_messages(&self.target, batch.clone(), from) {
            Ok(()) => Push::Delivered,
            Err(TryQueue::Full) => Push::Full,
            Err(TryQueue::Closed) => Push::Gone,
        }
    }

    fn lagged(self: Arc<Self>, next: u64) {
        if !self.is_alive() {
            return;
        }
        self.sources.metrics.catch_ups.inc();
        let span = tracing::debug_span!("catch-up", doc = %self.doc);
        let task = self
            .sources
            .phase
            .spawn(self.clone().catch_up(next).instrument(span));
        *self.catching_up.lock() = Some(task);
    }

    fn is_alive(&self) -> bool {
        self.target.is_active() && !self.outbox.is_closed()
    }

    fn deleted(self: Arc<Self>) {
        if !self.is_alive() {
            return;
        }
        let phase = self.sources.phase.clone();
        phase.spawn(async move { self.announce_deleted().await });
    }
}

impl Shared {
    /// Reads versions `next..` from storage until the document task takes the subscription
    /// live again. Ends when the connection goes away or the subscription ends.
    async fn catch_up(self: Arc<Self>, mut next: u64) {
        loop {
            let listener: Arc<dyn Listener> = self.clone();
            let upto = match self
                .sources
                .registry
                .resume(&self.doc, listener, next, self.epoch)
                .await
            {
                Ok(Resumed::Live) => return,
                Ok(Resumed::Deleted) => return self.announce_deleted().await,
                Ok(Resumed::CatchUp { upto }) => upto,
                // The server is shutting down; the session is closing too.
                Err(_) => return,
            };
            match self.read(next, upto).await {
                Ok(()) => next = upto + 1,
                Err(Closed) => return,
            }
        }
    }

    /// Tells the subscriber its document was deleted (`{"type":"deleted"}`, after everything
    /// already queued) and ends the subscription: nothing more is delivered on it.
    async fn announce_deleted(&self) {
        if !self.target.is_active() {
            return;
        }
        let message = server::message_acked(
            &self.destination,
            &self.id,
            &format!("{}-deleted", self.id),
            self.client_ack,
            deleted_event_json(self.doc.as_str()),
        );
        let _ = self.outbox.frame(message).await;
        self.target.close();
        self.outbox.end(&self.target).await;
    }

    /// Sends stored versions `next ..= upto`, waiting for room in the outbox.
    async fn read(&self, mut next: u64, upto: u64) -> Result<(), Closed> {
        while next <= upto {
            if !self.is_alive() {
                return Err(Closed);
            }
            let page = match self
                .sources
                .store
                .ops(&self.doc, next - 1, upto, CATCH_UP_PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(error = %err, "catch-up read failed");
                    let doc = &self.doc;
                    return Err(self
                        .fail(format!("cannot read the history of document {doc}: {err}"))
                        .await);
                }
            };
            let events: Vec<OpEvent> = page
                .iter()
                .filter(|r| r.version >= next)
                .map(|record| OpEvent {
                    version: record.version,
                    json: op_event_json(self.doc.as_str(), record).into(),
                })
                .collect();
            if events.first().map(|e| e.version) != Some(next) {
                // The document may have been deleted during this read: then say so instead.
                let probe: Arc<dyn Listener> = Arc::new(Probe);
                if let Ok(Resumed::Deleted) = self
                    .sources
                    .registry
                    .resume(&self.doc, probe, u64::MAX, self.epoch)
                    .await
                {
                    self.announce_deleted().await;
                    return Err(Closed);
                }
                // Cannot happen for durable versions; never spin, and never stop silently.
                tracing::error!(next, upto, "history gap in storage");
                let doc = &self.doc;
                return Err(self
                    .fail(format!(
                        "document {doc} has no stored version {next} (storage is missing history)"
                    ))
                    .await);
            }
            next += events.len() as u64;
            let batch = Arc::new(Committed { events });
            self.outbox.messages(&self.target, batch, 0).await?;
        }
        Ok(())
    }

    /// Ends the connection with an ERROR saying why delivery cannot go on.
    async fn fail(&self, message: String) -> Closed {
        self.outbox.fatal(server::error(&message, None)).await;
        Closed
    }
}

impl DocSubscription {
    /// Starts delivering `doc` to `subscriber`: from the version after `known` (the last
    /// version it has), or, when `known` is `None`, from a snapshot of the current content.
    /// The error is the message of the protocol violation to report.
    pub async fn start(
        sources: &Sources,
        doc: DocId,
        known: Option<u64>,
        subscriber: Subscriber,
    ) -> Result<DocSubscription, String> {
        let subscribed = sources
            .registry
            .subscribe(&doc, known.is_none())
            .await
            .map_err(|r| format!("cannot subscribe: {}", r.message))?;
        let current = subscribed.version;
        let next = match known {
            Some(v) if v > current => {
                return Err(format!(
                    "version {v} is after document {doc}'s current version {current} ({})",
                    ErrorCode::VersionInFuture
                ));
            }
            Some(v) => v + 1,
            None => {
                let content = subscribed.content.unwrap_or_default();
                let body = snapshot_event_json(doc.as_str(), current, &content, &subscribed.hash);
                let id = format!("{}-snapshot", subscriber.id);
                let message = server::message_acked(
                    &subscriber.destination,
                    &subscriber.id,
                    &id,
                    subscriber.client_ack,
                    body,
                );
                // A closed outbox means the session is going away; the subscription is moot.
                let _ = subscriber.outbox.frame(message).await;
                current + 1
            }
        };
        let shared = Arc::new(Shared {
            doc,
            target: MessageTarget::new(
                &subscriber.destination,
                &subscriber.id,
                subscriber.client_ack,
            ),
            outbox: subscriber.outbox,
            sources: sources.clone(),
            epoch: subscribed.epoch,
            id: subscriber.id,
            destination: subscriber.destination,
            client_ack: subscriber.client_ack,
            catching_up: parking_lot::Mutex::new(None),
        });
        // The usual case — nothing to catch up — goes live without a task.
        let listener: Arc<dyn Listener> = shared.clone();
        match sources
            .registry
            .resume(&shared.doc, listener, next, shared.epoch)
            .await
        {
            Ok(Resumed::Live) => {}
            Ok(Resumed::Deleted) => shared.announce_deleted().await,
            Ok(Resumed::CatchUp { .. }) => shared.clone().lagged(next),
            Err(r) => return Err(format!("cannot subscribe: {}", r.message)),
        }
        Ok(DocSubscription { shared })
    }

    /// Ends the subscription: what is already queued is still written, nothing after.
    pub async fn stop(&self) {
        self.shared.target.close();
        let task = self.shared.catching_up.lock().take();
        if let Some(task) = task {
            task.abort();
        }
        self.shared.outbox.end(&self.shared.target).await;
    }
}

/// A listener that only asks whether a subscription's epoch is over; it is never made live
/// (it asks to resume from a version no document reaches).
struct Probe;

impl Listener for Probe {
    fn push(&self, _: &Arc<Committed>, _: usize) -> Push {
        Push::Gone
    }
    fn lagged(self: Arc<Self>, _: u64) {}
    fn is_alive(&self) -> bool {
        false
    }
    fn deleted(self: Arc<Self>) {}
}
