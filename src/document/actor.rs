//! `DocumentActor`: the single task that owns one open document. It serialises submissions,
//! transforms stale ones against the history, applies them, persists them in one batch per
//! mailbox drain (group commit: one flush for everything waiting), and only then acknowledges
//! and broadcasts them — so an acknowledged op survives `kill -9`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ot::{transform_through, Component, Document, Operation, Side};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::registry::RegistryShared;
use super::{Applied, OpEvent, Subscribed};
use crate::doc_id::DocId;
use crate::protocol::{op_event_json, ErrorCode, OpRecord, Rejection, Submission};
use crate::storage::StorageError;

/// Most commands taken from the mailbox into one group commit.
const MAX_BATCH: usize = 256;

/// Live-event buffer per document. A subscriber that falls further behind than this catches
/// up from storage instead of holding the document back.
pub const BROADCAST_CAPACITY: usize = 1024;

/// A request to a document task.
pub enum Command {
    /// Apply a client's op.
    Submit {
        /// The op and who sent it (boxed: it is much larger than the other commands).
        submission: Box<Submission>,
        /// The session's user name, recorded with the op.
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Applied, Rejection>>,
    },
    /// Register a live subscriber.
    Subscribe {
        /// Include the current content in the reply.
        with_content: bool,
        /// Where the subscription goes.
        reply: oneshot::Sender<Subscribed>,
    },
    /// Read the current version and content.
    Snapshot {
        /// Where (version, content) goes.
        reply: oneshot::Sender<(u64, String)>,
    },
}

/// A reply held back until the batch it depends on is durable.
struct HeldReply {
    reply: oneshot::Sender<Result<Applied, Rejection>>,
    applied: Applied,
}

/// The state of one open document, owned by its task.
pub struct DocumentActor {
    doc: DocId,
    shared: Arc<RegistryShared>,
    version: u64,
    document: Document,
    last_time: u64,
    /// The newest ops (applied, flushed or about to be), for transform and dedup without
    /// reading storage. Always holds every op of the batch being committed.
    recent: VecDeque<Arc<OpRecord>>,
    recent_capacity: usize,
    events: broadcast::Sender<Arc<OpEvent>>,
    durable: watch::Sender<u64>,
    /// Applied but not yet durable.
    unflushed: Vec<Arc<OpRecord>>,
    snapshots: Vec<(u64, String)>,
    held: Vec<HeldReply>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn internal(err: &StorageError) -> Rejection {
    Rejection::new(
        ErrorCode::Internal,
        format!(
            "storage failed ({err}); the op may or may not be stored: resubmit it unchanged, \
             resubmission is idempotent"
        ),
    )
}

impl DocumentActor {
    /// Runs the task for `doc` until it is retired (idle), the server shuts down, or storage
    /// fails. `rx` is its mailbox; `weak` lets it see whether anyone else could still send.
    pub async fn run(
        doc: DocId,
        shared: Arc<RegistryShared>,
        mut rx: mpsc::Receiver<Command>,
        weak: mpsc::WeakSender<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let loaded = match shared.log.load(&doc) {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(doc = %doc, error = %err, "cannot load document");
                shared.forget(&doc, &weak);
                rx.close();
                while let Some(cmd) = rx.recv().await {
                    if let Command::Submit { reply, .. } = cmd {
                        let _ = reply.send(Err(internal(&err)));
                    }
                }
                return;
            }
        };
        let recent_capacity = (shared.config.snapshot_interval as usize).clamp(MAX_BATCH * 2, 4096);
        let mut actor = DocumentActor {
            doc,
            version: loaded.version,
            document: loaded.document,
            last_time: loaded.last_time,
            recent: VecDeque::with_capacity(recent_capacity),
            recent_capacity,
            events: broadcast::channel(BROADCAST_CAPACITY).0,
            durable: watch::channel(loaded.version).0,
            unflushed: Vec::new(),
            snapshots: Vec::new(),
            held: Vec::new(),
            shared,
        };
        tracing::debug!(doc = %actor.doc, version = actor.version, "document opened");
        let idle = actor.shared.config.idle_doc();
        loop {
            let first = tokio::select! {
                cmd = rx.recv() => cmd,
                _ = tokio::time::sleep(idle) => {
                    if actor.try_retire(&rx, &weak) {
                        return;
                    }
                    continue;
                }
                _ = crate::session::stopped(&mut shutdown) => None,
            };
            let Some(first) = first else {
                // Shutting down (or the registry is gone): finish what is queued, then stop.
                rx.close();
                let mut rest = Vec::new();
                while let Some(cmd) = rx.recv().await {
                    rest.push(cmd);
                }
                let _ = actor.handle_batch(rest).await;
                actor.shared.forget(&actor.doc, &weak);
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            if actor.handle_batch(batch).await.is_err() {
                // Storage failed: in-memory state may be ahead of disk. Stop; the next request
                // starts a fresh task that reloads from storage.
                actor.shared.forget(&actor.doc, &weak);
                rx.close();
                while let Some(cmd) = rx.recv().await {
                    if let Command::Submit { reply, .. } = cmd {
                        let _ = reply.send(Err(Rejection::new(
                            ErrorCode::Internal,
                            "storage failed; nothing was applied, retry",
                        )));
                    }
                }
                return;
            }
        }
    }

    /// Leaves the registry if nobody can reach this task any more: no subscriber, nothing in
    /// the mailbox, and no sender besides the registry's. Checked under the registry lock, so
    /// no new request can slip in between the check and the removal.
    fn try_retire(&self, rx: &mpsc::Receiver<Command>, weak: &mpsc::WeakSender<Command>) -> bool {
        let mut docs = self.shared.docs.lock();
        let retire = self.events.receiver_count() == 0 && rx.is_empty() && weak.strong_count() <= 1;
        if retire {
            if let Some(sender) = docs.get(&self.doc) {
                if weak.upgrade().is_some_and(|own| own.same_channel(sender)) {
                    docs.remove(&self.doc);
                }
            }
            tracing::debug!(doc = %self.doc, version = self.version, "document idle, unloaded");
        }
        retire
    }

    /// Handles one mailbox drain: applies every submission in memory, commits them all with one
    /// write batch and one flush, and only then answers reads and subscriptions, so that those
    /// never see state that is not yet durable and never force a second flush.
    async fn handle_batch(&mut self, batch: Vec<Command>) -> Result<(), StorageError> {
        let mut reads = Vec::new();
        for cmd in batch {
            match cmd {
                Command::Submit {
                    submission,
                    user,
                    reply,
                } => match self.submit(*submission, user) {
                    Ok(applied) => self.held.push(HeldReply { reply, applied }),
                    Err(rejection) => {
                        let _ = reply.send(Err(rejection));
                    }
                },
                read => reads.push(read),
            }
        }
        self.commit().await?;
        for read in reads {
            match read {
                Command::Subscribe {
                    with_content,
                    reply,
                } => {
                    let _ = reply.send(Subscribed {
                        version: self.version,
                        content: with_content.then(|| self.document.to_string()),
                        events: self.events.subscribe(),
                        durable: self.durable.subscribe(),
                    });
                }
                Command::Snapshot { reply } => {
                    let _ = reply.send((self.version, self.document.to_string()));
                }
                Command::Submit { .. } => unreachable!("submissions were handled above"),
            }
        }
        Ok(())
    }

    /// Persists every unflushed op in one batch and one flush, then acknowledges and
    /// broadcasts them, in version order.
    async fn commit(&mut self) -> Result<(), StorageError> {
        if self.unflushed.is_empty() && self.held.is_empty() {
            return Ok(());
        }
        let records: Vec<OpRecord> = self.unflushed.iter().map(|r| (**r).clone()).collect();
        let snapshots = std::mem::take(&mut self.snapshots);
        if let Err(err) = self
            .shared
            .log
            .append(&self.doc, &records, &snapshots)
            .await
        {
            tracing::error!(doc = %self.doc, error = %err, "commit failed");
            for held in self.held.drain(..) {
                let _ = held.reply.send(Err(internal(&err)));
            }
            return Err(err);
        }
        self.durable.send_replace(self.version);
        for record in self.unflushed.drain(..) {
            let json = op_event_json(self.doc.as_str(), &record);
            // No receivers is fine: nobody is listening.
            let _ = self.events.send(Arc::new(OpEvent {
                version: record.version,
                json,
            }));
        }
        for held in self.held.drain(..) {
            let _ = held.reply.send(Ok(held.applied));
        }
        Ok(())
    }

    /// Ops after `after` up to the current version, oldest first, from memory where possible.
    fn history_after(&self, after: u64) -> Result<Vec<Arc<OpRecord>>, Rejection> {
        let first_recent = self.recent.front().map_or(self.version + 1, |r| r.version);
        let mut out = Vec::with_capacity((self.version - after) as usize);
        if after + 1 < first_recent {
            let stored = self
                .shared
                .log
                .ops(&self.doc, after, first_recent - 1, usize::MAX)
                .map_err(|e| internal(&e))?;
            out.extend(stored.into_iter().map(Arc::new));
        }
        let skip = (after + 1).saturating_sub(first_recent) as usize;
        out.extend(self.recent.iter().skip(skip).cloned());
        Ok(out)
    }

    /// The text at `version` (≤ current), for verifying checked deletes made against it.
    fn text_at(&self, version: u64) -> Result<String, Rejection> {
        if version == self.version {
            return Ok(self.document.to_string());
        }
        let (at, text) = self
            .shared
            .log
            .snapshot_at_or_before(&self.doc, version)
            .map_err(|e| internal(&e))?;
        let mut document = Document::from_text(&text);
        for record in self.history_after(at)? {
            if record.version > version {
                break;
            }
            document.apply(&record.op).map_err(|e| {
                Rejection::new(ErrorCode::Internal, format!("history does not replay: {e}"))
            })?;
        }
        Ok(document.to_string())
    }

    /// Transforms and applies one submission in memory (made durable by the next commit).
    fn submit(&mut self, submission: Submission, user: String) -> Result<Applied, Rejection> {
        let Submission {
            client,
            seq,
            base,
            op: checked,
        } = submission;
        if base > self.version {
            return Err(Rejection::new(
                ErrorCode::VersionInFuture,
                format!(
                    "base version {base} is after the document's current version {}",
                    self.version
                ),
            ));
        }
        let history = self.history_after(base)?;
        if let Some(done) = history.iter().find(|r| r.client == client && r.seq == seq) {
            return Ok(Applied {
                version: done.version,
                op: done.op.clone(),
                duplicate: true,
            });
        }
        let base_len = history
            .first()
            .map_or(self.document.char_len(), |r| r.op.base_len());
        if !checked.checks.is_empty() {
            let text = self.text_at(base)?;
            checked.verify(&text).map_err(|e| {
                Rejection::new(ErrorCode::DeleteMismatch, format!("at version {base}: {e}"))
            })?;
        }
        let mut op = checked.op;
        op.fit_to(base_len).map_err(|_| {
            Rejection::new(
                ErrorCode::OpDoesNotFit,
                format!(
                    "the op spans {} characters, but the document has {base_len} at version {base}",
                    op.base_len()
                ),
            )
        })?;
        let op = transform_through(&op, history.iter().map(|r| &r.op), Side::Right)
            .map_err(|e| Rejection::new(ErrorCode::Internal, format!("transform failed: {e}")))?;
        self.apply_within_limit(&op)?;
        self.version += 1;
        self.last_time = self.last_time.max(now_ms());
        let record = Arc::new(OpRecord {
            version: self.version,
            op: op.clone(),
            client,
            seq,
            user,
            time: self.last_time,
        });
        if self.recent.len() == self.recent_capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(record.clone());
        self.unflushed.push(record);
        if self
            .version
            .is_multiple_of(self.shared.config.snapshot_interval)
        {
            self.snapshots
                .push((self.version, self.document.to_string()));
        }
        Ok(Applied {
            version: self.version,
            op,
            duplicate: false,
        })
    }

    /// Applies `op`, refusing (and leaving the document as it was) if the result would exceed
    /// the document size limit.
    fn apply_within_limit(&mut self, op: &Operation) -> Result<(), Rejection> {
        let max = self.shared.config.max_doc_bytes;
        let inserted: usize = op
            .components()
            .iter()
            .map(|c| match c {
                Component::Insert(s) => s.len(),
                _ => 0,
            })
            .sum();
        let undo =
            if self.document.byte_len() + inserted > max {
                Some(self.document.invert(op).map_err(|e| {
                    Rejection::new(ErrorCode::Internal, format!("cannot invert: {e}"))
                })?)
            } else {
                None
            };
        self.document.apply(op).map_err(|e| {
            Rejection::new(
                ErrorCode::Internal,
                format!("transformed op does not apply: {e}"),
            )
        })?;
        if let Some(undo) = undo {
            if self.document.byte_len() > max {
                let size = self.document.byte_len();
                self.document.apply(&undo).map_err(|e| {
                    Rejection::new(ErrorCode::Internal, format!("cannot undo: {e}"))
                })?;
                return Err(Rejection::new(
                    ErrorCode::DocumentTooLarge,
                    format!("the document would be {size} bytes, over the {max}-byte limit"),
                ));
            }
        }
        Ok(())
    }
}
