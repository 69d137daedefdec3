//! `DocSubscription`: delivers one document's ops to one STOMP subscription — every version
//! exactly once, in order, with no gap — across the switch from stored to live ops and across
//! falling behind. Live ops come from the document task's broadcast; whenever the next live op
//! is not the next version the subscriber needs (it subscribed with an old `version`, or lagged
//! and the broadcast dropped ops for it), the missing ops are read from storage. A slow reader
//! therefore never slows the document or makes it buffer: it just catches up from disk.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use crate::doc_id::DocId;
use crate::document::{DocumentRegistry, OpEvent};
use crate::protocol::op_event_json;
use crate::session::Outbound;
use crate::stomp::{Command, StompFrame};

/// Ops read from storage per catch-up page.
const CATCH_UP_PAGE: usize = 256;

/// One `/topic/doc/<id>` subscription's delivery task.
pub struct DocSubscription {
    /// The document.
    pub doc: DocId,
    /// The STOMP subscription id.
    pub id: String,
    /// The destination as the client wrote it.
    pub destination: String,
    /// The next version the subscriber has not seen.
    pub next: u64,
    /// Live ops from the document task.
    pub events: broadcast::Receiver<Arc<OpEvent>>,
    /// The document's durable version.
    pub durable: watch::Receiver<u64>,
    /// The registry, to read storage and to resubscribe if the document task restarts.
    pub registry: DocumentRegistry,
    /// The session's outgoing frames.
    pub out: mpsc::Sender<Outbound>,
}

/// Why delivery stopped.
enum Stop {
    /// The session is gone.
    SessionClosed,
}

impl DocSubscription {
    /// Builds a MESSAGE frame for this subscription.
    pub fn message(&self, message_id: String, body: String) -> StompFrame {
        StompFrame::new(Command::Message)
            .with_header("destination", self.destination.clone())
            .with_header("subscription", self.id.clone())
            .with_header("message-id", message_id)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    async fn send(&self, version: u64, body: String) -> Result<(), Stop> {
        let frame = self.message(format!("{}-{}", self.id, version), body);
        self.out
            .send(Outbound::Frame(frame))
            .await
            .map_err(|_| Stop::SessionClosed)
    }

    /// Sends stored ops `next ..= upto`.
    async fn catch_up(&mut self, upto: u64) -> Result<(), Stop> {
        while self.next <= upto {
            let page = match self
                .registry
                .log()
                .ops(&self.doc, self.next - 1, upto, CATCH_UP_PAGE)
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(doc = %self.doc, error = %err, "catch-up read failed");
                    let _ = self
                        .out
                        .send(Outbound::Fatal(format!(
                            "cannot read the history of document {}: {err}",
                            self.doc
                        )))
                        .await;
                    return Err(Stop::SessionClosed);
                }
            };
            if page.is_empty() {
                // Cannot happen for durable versions; never spin, and never stop silently.
                tracing::error!(doc = %self.doc, next = self.next, upto, "history gap in storage");
                let _ = self
                    .out
                    .send(Outbound::Fatal(format!(
                        "document {} has no stored version {} (storage is missing history)",
                        self.doc, self.next
                    )))
                    .await;
                return Err(Stop::SessionClosed);
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
    pub async fn run(mut self, upto: u64) {
        let _ = self.deliver(upto).await;
    }

    async fn deliver(&mut self, upto: u64) -> Result<(), Stop> {
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
                    tracing::debug!(doc = %self.doc, skipped, "subscriber lagged; catching up from storage");
                    let durable = *self.durable.borrow();
                    self.catch_up(durable).await?;
                }
                Err(RecvError::Closed) => {
                    // The document task stopped (shutdown or a storage failure). Reattach to its
                    // successor, if the server is still running.
                    match self.registry.subscribe(&self.doc, false).await {
                        Ok(subscribed) => {
                            self.events = subscribed.events;
                            self.durable = subscribed.durable;
                            self.catch_up(subscribed.version).await?;
                        }
                        Err(_) => return Err(Stop::SessionClosed),
                    }
                }
            }
        }
    }
}
