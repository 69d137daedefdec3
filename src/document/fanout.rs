//! `Fanout`: a document task's live subscribers, each with the first version it has not been
//! given, and the one way commits reach them — pushed without waiting; one that cannot take a
//! batch leaves the live set and is told where it stopped, so it catches up from storage on its
//! own. Both kinds of document task use it: the owner's (`actor.rs`) for what it commits, a
//! relay's (`relay.rs`) for what the owner sends it.

use std::sync::Arc;

use super::{Committed, Listener, Push, Resumed};
use crate::metrics::Metrics;

/// A live listener and the first version it has not been given.
struct Live {
    listener: Arc<dyn Listener>,
    next: u64,
}

/// The live subscribers of one document.
#[derive(Default)]
pub(super) struct Fanout {
    live: Vec<Live>,
}

impl Fanout {
    /// How many are live.
    pub(super) fn len(&self) -> usize {
        self.live.len()
    }

    /// Drops the listeners that are gone; true if none is left.
    pub(super) fn prune(&mut self) -> bool {
        self.live.retain(|live| live.listener.is_alive());
        self.live.is_empty()
    }

    /// Pushes a batch of consecutive durable events to every live listener, never waiting.
    /// A listener already past the batch keeps waiting for later versions; one that would
    /// see a gap, or is full, leaves the live set and catches up from storage.
    pub(super) fn deliver(&mut self, batch: &Arc<Committed>, metrics: &Metrics) {
        let Some(last) = batch.events.last().map(|e| e.version) else {
            return;
        };
        let mut deliveries = 0;
        self.live.retain_mut(|live| {
            if live.next > last {
                // Ahead of this batch (it subscribed from a version a relay has yet to see).
                return live.listener.is_alive();
            }
            let Some(from) = batch.index_of(live.next) else {
                // Not the next version it needs (cannot happen for a live listener): let it
                // catch up rather than deliver a gap.
                live.listener.clone().lagged(live.next);
                return false;
            };
            match live.listener.push(batch, from) {
                Push::Delivered => {
                    live.next = last + 1;
                    deliveries += (batch.events.len() - from) as u64;
                    true
                }
                Push::Full => {
                    tracing::debug!(
                        next = live.next,
                        "subscriber lagging; it catches up from storage"
                    );
                    live.listener.clone().lagged(live.next);
                    false
                }
                Push::Gone => false,
            }
        });
        metrics.deliveries.inc_by(deliveries);
    }

    /// A listener asks to go live from `next` (everything before it delivered) while the
    /// document is at `version`. Granted if it is caught up (or ahead: it then waits for
    /// `next`), or if `gap` still has the versions in between in memory and they fit its
    /// queue now; otherwise it must catch up to `version` from storage first.
    pub(super) fn resume(
        &mut self,
        listener: Arc<dyn Listener>,
        next: u64,
        version: u64,
        gap: impl FnOnce() -> Option<Committed>,
    ) -> Resumed {
        if next > version {
            self.live.push(Live { listener, next });
            return Resumed::Live;
        }
        let Some(gap) = gap() else {
            return Resumed::CatchUp { upto: version };
        };
        match listener.push(&Arc::new(gap), 0) {
            Push::Delivered => {
                self.live.push(Live {
                    listener,
                    next: version + 1,
                });
                Resumed::Live
            }
            Push::Full | Push::Gone => Resumed::CatchUp { upto: version },
        }
    }

    /// The document was deleted: every live listener is told so, and none stays live.
    pub(super) fn deleted(&mut self) {
        for live in self.live.drain(..) {
            live.listener.deleted();
        }
    }

    /// The task stops delivering: every live listener is told where it stopped, and resumes on
    /// the document's next task.
    pub(super) fn hand_off(&mut self) {
        for live in self.live.drain(..) {
            live.listener.lagged(live.next);
        }
    }
}
