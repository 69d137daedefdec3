//! Presence as one session sees it: delivering a document's presence topic
//! (`/topic/doc/<id>/presence`) to one subscriber ([`PresenceSubscription`]), and tracking where
//! the session is present ([`SessionPresence`]) so that it leaves each document exactly when
//! `docs/protocol.md` says it does:
//!
//! - when the session ends, whatever the way (DISCONNECT, the socket closing, an ERROR, the
//!   heart-beat or write timeout, shutdown): in every document it sent presence to;
//! - when it unsubscribes its last presence subscription of a document: in that document (a
//!   later presence SEND there makes it present again).
//!
//! The presence state itself (who is where, at which version) belongs to the document task
//! (`document/presence.rs`); this module only carries it to and from one connection.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::limits::PRESENCE_HEADROOM;
use crate::doc_id::DocId;
use crate::document::{DocumentRegistry, PresenceBatch, PresenceListener, Push, SessionId};
use crate::stomp::{MessageBodies, MessageTarget, Outbox, TryQueue};
use crate::subscription::{Sources, Subscriber};

impl MessageBodies for PresenceBatch {
    fn count(&self) -> usize {
        self.messages.len()
    }

    fn body(&self, i: usize) -> (u64, &[u8]) {
        let message = &self.messages[i];
        (message.number, &message.json)
    }
}

/// A running presence subscription; [`PresenceSubscription::stop`] ends it.
pub struct PresenceSubscription {
    shared: Arc<Shared>,
}

/// The subscription as the document task sees it (a [`PresenceListener`]).
struct Shared {
    doc: DocId,
    target: Arc<MessageTarget>,
    outbox: Outbox,
    sources: Sources,
    /// Subscribing again on the document's next task, while that runs.
    resubscribing: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl PresenceListener for Shared {
    fn push(&self, batch: &Arc<PresenceBatch>) -> Push {
        if !self.target.is_active() {
            return Push::Gone;
        }
        // Presence may be dropped (it is resent whole later); op delivery may not, so presence
        // never takes the last part of the outbox.
        match self
            .outbox
            .try_messages_leaving(PRESENCE_HEADROOM, &self.target, batch.clone(), 0)
        {
            Ok(()) => Push::Delivered,
            Err(TryQueue::Full) => Push::Full,
            Err(TryQueue::Closed) => Push::Gone,
        }
    }

    fn is_alive(&self) -> bool {
        self.target.is_active() && !self.outbox.is_closed()
    }

    fn ended(self: Arc<Self>) {
        if !self.is_alive() {
            return;
        }
        let span = tracing::debug_span!("presence-resubscribe", doc = %self.doc);
        let shared = self.clone();
        let task = self.sources.phase.spawn(
            async move {
                let listener: Arc<dyn PresenceListener> = shared.clone();
                if let Err(err) = shared
                    .sources
                    .registry
                    .subscribe_presence(&shared.doc, listener)
                    .await
                {
                    // Shutting down, or the document cannot be opened: presence is best
                    // effort, the subscription goes quiet (its ops are unaffected).
                    tracing::debug!(error = %err, "presence subscription not resumed");
                }
            }
            .instrument(span),
        );
        *self.resubscribing.lock() = Some(task);
    }
}

impl PresenceSubscription {
    /// Subscribes `subscriber` to `doc`'s presence; everyone's current presence is queued for
    /// it before this returns (unless its outbox is too full, in which case it follows soon).
    /// The error is the message of the protocol violation to report.
    pub async fn start(
        sources: &Sources,
        doc: DocId,
        subscriber: Subscriber,
    ) -> Result<PresenceSubscription, String> {
        let shared = Arc::new(Shared {
            target: MessageTarget::new(
                &subscriber.destination,
                &subscriber.id,
                subscriber.client_ack,
            ),
            outbox: subscriber.outbox,
            sources: sources.clone(),
            resubscribing: parking_lot::Mutex::new(None),
            doc,
        });
        let listener: Arc<dyn PresenceListener> = shared.clone();
        sources
            .registry
            .subscribe_presence(&shared.doc, listener)
            .await
            .map_err(|r| format!("cannot subscribe: {}", r.message))?;
        Ok(PresenceSubscription { shared })
    }

    /// Ends the subscription: what is already queued is still written, nothing after.
    pub async fn stop(&self) {
        self.shared.target.close();
        let task = self.shared.resubscribing.lock().take();
        if let Some(task) = task {
            task.abort();
        }
        self.shared.outbox.end(&self.shared.target).await;
    }
}

/// How a session is present in one document.
#[derive(Default)]
struct Here {
    /// Its open presence subscriptions of the document.
    subscriptions: usize,
    /// It sent presence there (so the document may hold its selection).
    sent: bool,
}

/// Where one session is present, so it can leave at the right moments.
pub struct SessionPresence {
    session: SessionId,
    docs: HashMap<DocId, Here>,
}

impl SessionPresence {
    /// The presence of session `session` (its CONNECTED `session` id), nowhere yet.
    pub fn new(session: &str) -> SessionPresence {
        SessionPresence {
            session: session.into(),
            docs: HashMap::new(),
        }
    }

    /// The session's id, as presence events name it.
    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// The session sent presence to `doc`.
    pub fn sent(&mut self, doc: &DocId) {
        self.docs.entry(doc.clone()).or_default().sent = true;
    }

    /// The session subscribed to `doc`'s presence.
    pub fn subscribed(&mut self, doc: &DocId) {
        self.docs.entry(doc.clone()).or_default().subscriptions += 1;
    }

    /// The session ended a presence subscription of `doc`; with its last one, it leaves.
    pub fn unsubscribed(&mut self, doc: &DocId, registry: &DocumentRegistry) {
        let Some(here) = self.docs.get_mut(doc) else {
            return;
        };
        here.subscriptions = here.subscriptions.saturating_sub(1);
        if here.subscriptions == 0 {
            if here.sent {
                registry.presence_leave(doc, &self.session);
            }
            self.docs.remove(doc);
        }
    }

    /// The session ended: it leaves every document it is present in.
    pub fn end(&mut self, registry: &DocumentRegistry) {
        for (doc, here) in self.docs.drain() {
            if here.sent {
                registry.presence_leave(&doc, &self.session);
            }
        }
    }
}
