//! `DocSubscription`: one `/topic/doc/<id>` subscription, its whole life. [`DocSubscription::start`]
//! registers with the document task, checks the version the subscriber asked to resume from,
//! sends the snapshot when it asked for none, and spawns the delivery task, which delivers
//! every later version exactly once, in order, with no gap — across the switch from stored to
//! live ops and across falling behind. Live ops come from the document task's broadcast;
//! whenever the next live op is not the next version the subscriber needs (it resumed from an
//! old version, or lagged and the broadcast dropped ops for it), the missing ops are read from
//! storage. A slow reader therefore never slows the document or makes it buffer: it just
//! catches up from disk.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::limits::CATCH_UP_PAGE;
use crate::doc_id::DocId;
use crate::document::{DocumentRegistry, OpEvent};
use crate::error::ErrorCode;
use crate::shutdown::Phase;
use crate::stomp::{server, Closed, Outbox};
use crate::store::Store;
use crate::wire::{op_event_json, snapshot_event_json};

/// What a subscription needs from the server.
#[derive(Clone)]
pub struct Sources {
    /// The documents, to register with (and to re-register if a document task restarts).
    pub registry: DocumentRegistry,
    /// Storage, to catch up from.
    pub store: Arc<dyn Store>,
    /// The shutdown phase delivery tasks run in.
    pub phase: Phase,
}

/// Who is subscribing, and where the MESSAGE frames go.
pub struct Subscriber {
    /// The STOMP subscription id.
    pub id: String,
    /// The destination as the client wrote it (echoed in every MESSAGE).
    pub destination: String,
    /// The session's outgoing frames.
    pub outbox: Outbox,
}

/// One subscription's delivery task.
pub struct DocSubscription {
    doc: DocId,
    subscriber: Subscriber,
    /// The next version the subscriber has not seen.
    next: u64,
    events: broadcast::Receiver<Arc<OpEvent>>,
    durable: watch::Receiver<u64>,
    sources: Sources,
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
    ) -> Result<JoinHandle<()>, String> {
        let subscribed = sources
            .registry
            .subscribe(&doc, known.is_none())
            .await
            .map_err(|r| format!("cannot subscribe: {}", r.message))?;
        let upto = subscribed.version;
        let next = match known {
            Some(v) if v > upto => {
                return Err(format!(
                    "version {v} is after document {doc}'s current version {upto} ({})",
                    ErrorCode::VersionInFuture
                ));
            }
            Some(v) => v + 1,
            None => {
                let content = subscribed.content.unwrap_or_default();
                let body = snapshot_event_json(doc.as_str(), upto, &content);
                let id = format!("{}-snapshot", subscriber.id);
                let message = server::message(&subscriber.destination, &subscriber.id, &id, body);
                // A closed outbox means the session is going away; it stops this task then.
                let _ = subscriber.outbox.frame(message).await;
                upto + 1
            }
        };
        let span = tracing::debug_span!("subscription", doc = %doc, id = %subscriber.id);
        let delivery = DocSubscription {
            doc,
            subscriber,
            next,
            events: subscribed.events,
            durable: subscribed.durable,
            sources: sources.clone(),
        };
        Ok(sources.phase.spawn(
            async move {
                let _ = delivery.deliver(upto).await;
            }
            .instrument(span),
        ))
    }

    async fn send(&self, version: u64, body: String) -> Result<(), Closed> {
        let sub = &self.subscriber;
        let id = format!("{}-{version}", sub.id);
        sub.outbox
            .frame(server::message(&sub.destination, &sub.id, &id, body))
            .await
    }

    /// Ends the connection with an ERROR saying why delivery cannot go on.
    async fn fail(&self, message: String) -> Closed {
        self.subscriber
            .outbox
            .fatal(server::error(&message, None))
            .await;
        Closed
    }

    /// Sends stored ops `next ..= upto`.
    async fn catch_up(&mut self, upto: u64) -> Result<(), Closed> {
        while self.next <= upto {
            let page = match self
                .sources
                .store
                .ops(&self.doc, self.next - 1, upto, CATCH_UP_PAGE)
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
            if page.is_empty() {
                // Cannot happen for durable versions; never spin, and never stop silently.
                tracing::error!(next = self.next, upto, "history gap in storage");
                let (doc, next) = (&self.doc, self.next);
                return Err(self
                    .fail(format!(
                        "document {doc} has no stored version {next} (storage is missing history)"
                    ))
                    .await);
            }
            for record in page {
                if record.version != self.next {
                    continue;
                }
                let body = op_event_json(self.doc.as_str(), &record);
                self.send(record.version, body).await?;
                self.next += 1;
            }
        }
        Ok(())
    }

    /// Delivers ops until the session goes away. `upto` is the version already durable when
    /// the subscription was made (everything up to it is read from storage first).
    async fn deliver(mut self, upto: u64) -> Result<(), Closed> {
        self.catch_up(upto).await?;
        loop {
            match self.events.recv().await {
                Ok(event) => {
                    if event.version < self.next {
                        continue;
                    }
                    if event.version > self.next {
                        self.catch_up(event.version - 1).await?;
                    }
                    self.send(event.version, event.json.clone()).await?;
                    self.next = event.version + 1;
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "subscriber lagged; catching up from storage");
                    let durable = *self.durable.borrow();
                    self.catch_up(durable).await?;
                }
                Err(RecvError::Closed) => {
                    // The document task stopped (shutdown or a storage failure). Reattach to
                    // its successor, if the server is still running.
                    let subscribed = self
                        .sources
                        .registry
                        .subscribe(&self.doc, false)
                        .await
                        .map_err(|_| Closed)?;
                    self.events = subscribed.events;
                    self.durable = subscribed.durable;
                    self.catch_up(subscribed.version).await?;
                }
            }
        }
    }
}
