//! The directory of open documents: id → the mailbox (and presence inbox) of the task that
//! owns it. Entries are
//! added by the registry and removed only by the owning task's [`Registration`] — when it is
//! dropped (whatever way the task ends) or when the task retires itself while idle — so no
//! exit path can forget to remove one, and a stale task can never remove its successor's.
//!
//! The directory also counts each document's deletions while the server runs (its epoch), so
//! a task started after a deletion knows that subscriptions of an earlier epoch are over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::mpsc;

use super::presence::PresenceInbox;
use super::Request;
use crate::doc_id::DocId;

/// One open document.
pub(super) struct Entry {
    /// Its task's mailbox.
    pub(super) mailbox: mpsc::Sender<Request>,
    /// Its task's presence inbox.
    pub(super) presence: Arc<PresenceInbox>,
    /// Which task: a new one gets a new number, so a departing task removes only its own entry.
    generation: u64,
    stats: Arc<Stats>,
}

/// What the task reports about its document, for operators.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Its durable version.
    pub(crate) version: AtomicU64,
    /// Its live subscribers.
    pub(crate) subscribers: AtomicUsize,
}

/// An open document as operators see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DocumentInfo {
    /// The id.
    pub doc: String,
    /// Its durable version.
    pub version: u64,
    /// Its live subscribers.
    pub subscribers: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<DocId, Entry>,
    next_generation: u64,
    /// Deletions per document since the server started (absent: none). One small entry per
    /// deleted id, for the life of the process.
    epochs: HashMap<DocId, u64>,
}

/// The map, shared by the registry and every registration.
#[derive(Default)]
pub(super) struct Directory {
    entries: Mutex<Entries>,
}

/// The directory, locked: what the registry looks up and inserts under one lock.
pub(super) struct Locked<'a> {
    directory: &'a Arc<Directory>,
    entries: MutexGuard<'a, Entries>,
}

impl Directory {
    /// Locks the directory.
    pub(super) fn lock(self: &Arc<Self>) -> Locked<'_> {
        Locked {
            directory: self,
            entries: self.entries.lock(),
        }
    }

    /// Number of open documents.
    pub(super) fn len(&self) -> usize {
        self.entries.lock().map.len()
    }

    /// Every open document, by id.
    pub(super) fn list(&self) -> Vec<DocumentInfo> {
        let entries = self.entries.lock();
        let mut out: Vec<DocumentInfo> = entries
            .map
            .iter()
            .map(|(doc, e)| DocumentInfo {
                doc: doc.to_string(),
                version: e.stats.version.load(Ordering::Relaxed),
                subscribers: e.stats.subscribers.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by(|a, b| a.doc.cmp(&b.doc));
        out
    }
}

impl Locked<'_> {
    /// The mailbox and presence inbox of `doc`'s task, if one is registered and still
    /// receiving.
    pub(super) fn mailbox(
        &self,
        doc: &DocId,
    ) -> Option<(mpsc::Sender<Request>, Arc<PresenceInbox>)> {
        self.entries
            .map
            .get(doc)
            .filter(|entry| !entry.mailbox.is_closed())
            .map(|entry| (entry.mailbox.clone(), entry.presence.clone()))
    }

    /// Registers a new task for `doc` (replacing any stale entry); the task must own the
    /// returned registration for as long as it serves `mailbox` and `presence`.
    pub(super) fn register(
        &mut self,
        doc: &DocId,
        mailbox: mpsc::Sender<Request>,
        presence: Arc<PresenceInbox>,
    ) -> Registration {
        let generation = self.entries.next_generation;
        self.entries.next_generation += 1;
        let epoch = self.entries.epochs.get(doc).copied().unwrap_or(0);
        let stats = Arc::new(Stats::default());
        self.entries.map.insert(
            doc.clone(),
            Entry {
                mailbox,
                presence,
                generation,
                stats: stats.clone(),
            },
        );
        Registration {
            directory: self.directory.clone(),
            doc: doc.clone(),
            generation,
            epoch,
            stats,
        }
    }
}

/// A task's claim on its directory entry.
pub(crate) struct Registration {
    directory: Arc<Directory>,
    doc: DocId,
    generation: u64,
    /// The document's epoch when the task started.
    epoch: u64,
    stats: Arc<Stats>,
}

impl Registration {
    /// The document's epoch for this task.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The document was deleted: counts the deletion (the next task starts in the next epoch)
    /// and removes the entry, in one step under the lock, so no request finds this task again.
    pub(super) fn deleted(&self) {
        let mut entries = self.directory.entries.lock();
        *entries.epochs.entry(self.doc.clone()).or_default() += 1;
        Self::remove(&mut entries, &self.doc, self.generation);
    }

    /// Reports the document's durable version and live subscribers.
    pub(super) fn report(&self, version: u64, subscribers: usize) {
        self.stats.version.store(version, Ordering::Relaxed);
        self.stats.subscribers.store(subscribers, Ordering::Relaxed);
    }

    /// Removes the entry if `idle()` holds, deciding under the directory lock — the lock the
    /// registry hands out mailboxes under — so no request can slip in between the check and
    /// the removal. True if removed: the task must then stop.
    pub(super) fn retire_if(&self, idle: impl FnOnce() -> bool) -> bool {
        let mut entries = self.directory.entries.lock();
        if !idle() {
            return false;
        }
        Self::remove(&mut entries, &self.doc, self.generation);
        true
    }

    fn remove(entries: &mut Entries, doc: &DocId, generation: u64) {
        if entries
            .map
            .get(doc)
            .is_some_and(|entry| entry.generation == generation)
        {
            entries.map.remove(doc);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut entries = self.directory.entries.lock();
        Self::remove(&mut entries, &self.doc, self.generation);
    }
}
