//! `DocumentActor`: the single task that owns one open document. It serialises submissions,
//! transforms stale ones against the history, applies them, persists them in one batch per
//! mailbox drain (group commit: one flush for everything waiting), and only then acknowledges
//! and broadcasts them — so an acknowledged op survives `kill -9`. It also owns the document's
//! presence (`presence.rs`), which it handles only after committing what its mailbox held.
//!
//! The history routes' writes are ordinary requests of the same task: a restore and a text
//! merge become one op each (a minimal diff, `text_diff.rs`) submitted like any other; a copy
//! fills a document still at version 0; a deletion commits what came before it, removes the
//! document from storage, tells the live subscribers, refuses what is queued after it and
//! ends the task (the next request starts a fresh one at version 0).
//!
//! When several nodes share the store, the task runs only on the node that holds the
//! document's lease (`ownership.rs`), and commits under that lease's epoch: a commit the store
//! refuses (the lease moved on, the store cannot be reached, another writer took the version)
//! ends the task without answering its submitters, whose registry resubmits them — unchanged,
//! so idempotently — to the document's next task, which reloads from the store and transforms
//! them against what it finds there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ot::{transform_through, CheckedOp, Component, Document, Operation, Side};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::cluster::OwnedLease;
use super::directory::Registration;
use super::fanout::Fanout;
use super::presence::{PresenceInbox, PresenceState};
use super::text_diff::text_diff_off_thread;
use super::{
    Applied, Committed, Copied, CopySource, Current, Deleted, Listener, OpEvent, Request, Resumed,
    Subscribed,
};
use crate::config::limits::{COPY_CHUNK, MAX_BATCH, RESTORE_DEDUP_WINDOW};
use crate::config::Config;
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::metrics::Metrics;
use crate::shutdown::Phase;
use crate::store::{ChainHash, Deletion, OpRecord, Store, StoreError};
use crate::wire::{op_event_json, Restore, Submission, TextSubmission};

/// What a document task is started with.
pub(super) struct Start {
    pub(super) doc: DocId,
    pub(super) store: Arc<dyn Store>,
    pub(super) config: Arc<Config>,
    pub(super) registration: Registration,
    pub(super) mailbox: mpsc::Receiver<Request>,
    /// Lets the task see whether anyone besides the directory could still send to it.
    pub(super) weak: mpsc::WeakSender<Request>,
    /// Presence changes, beside the mailbox.
    pub(super) presence: Arc<PresenceInbox>,
    /// The documents' shutdown phase.
    pub(super) phase: Phase,
    pub(super) metrics: Arc<Metrics>,
}

/// A reply held back until the batch it depends on is durable.
struct HeldReply {
    reply: oneshot::Sender<Result<Applied, Rejection>>,
    applied: Applied,
}

/// The state of one open document, owned by its task.
pub(super) struct DocumentActor {
    doc: DocId,
    store: Arc<dyn Store>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    version: u64,
    document: Document,
    last_time: u64,
    /// The hash chain's link at `version`.
    hash: ChainHash,
    /// The document's epoch ([`Subscribed::epoch`]).
    epoch: u64,
    /// The newest ops (applied, flushed or about to be), for transform and dedup without
    /// reading storage. Always holds every op of the batch being committed.
    recent: VecDeque<Arc<OpRecord>>,
    recent_capacity: usize,
    /// Live subscribers, each with the first version it has not been given.
    fanout: Fanout,
    /// The lease this task commits under, when nodes share the store.
    lease: Option<OwnedLease>,
    /// Applied but not yet durable.
    unflushed: Vec<Arc<OpRecord>>,
    snapshots: Vec<(u64, String)>,
    held: Vec<HeldReply>,
    /// Who is here, and their selections at the current version.
    presence: PresenceState,
    /// Why the serving loop ended.
    exit: Exit,
}

/// How a document task ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Idle, removed from the directory.
    Retired,
    /// The documents' shutdown phase stopped it, after finishing its queue.
    Shutdown,
    /// Storage failed: the task leaves the directory and refuses what is queued.
    StorageFailed,
    /// The document was deleted: the task leaves the directory (in a new epoch) and refuses
    /// what is queued with `document-deleted`.
    Deleted,
    /// Nodes share the store, and this one can no longer commit for the document (its lease
    /// moved on, or a commit failed): the task leaves the directory and drops what is queued,
    /// unanswered, for the registry to resubmit to the document's next task.
    Moved,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn deleted_rejection() -> Rejection {
    Rejection::new(
        ErrorCode::DocumentDeleted,
        "the document was deleted before this request reached it; nothing was applied",
    )
}

fn internal(err: &StoreError) -> Rejection {
    Rejection::new(
        ErrorCode::Internal,
        format!(
            "storage failed ({err}); the op may or may not be stored: resubmit it unchanged, \
             resubmission is idempotent"
        ),
    )
}

impl DocumentActor {
    /// Runs the task until it is retired (idle), the documents' shutdown phase stops it, or
    /// storage fails.
    pub(super) async fn run(start: Start) {
        let span = tracing::debug_span!("document", doc = %start.doc);
        Self::serve(start, None).instrument(span).await;
    }

    /// Runs the task as the owner of the document under `lease` (nodes share the store).
    pub(super) async fn run_owned(start: Start, lease: OwnedLease) {
        Self::serve(start, Some(lease)).await;
    }

    async fn serve(start: Start, lease: Option<OwnedLease>) {
        let Start {
            doc,
            store,
            config,
            registration,
            mut mailbox,
            weak,
            presence: inbox,
            phase,
            metrics,
        } = start;
        let loaded = match store.load(&doc).await {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(error = %err, "cannot load document");
                inbox.close();
                drop(registration);
                match lease {
                    Some(lease) => {
                        lease.give_up(&doc);
                        abandon(&mut mailbox);
                    }
                    None => refuse_all(&mut mailbox, || internal(&err)).await,
                }
                return;
            }
        };
        let recent_capacity = config.recent_ops();
        let mut actor = DocumentActor {
            doc,
            version: loaded.version,
            document: loaded.document,
            last_time: loaded.last_time,
            hash: loaded.hash,
            epoch: registration.epoch(),
            recent: VecDeque::with_capacity(recent_capacity),
            recent_capacity,
            fanout: Fanout::default(),
            lease,
            unflushed: Vec::new(),
            snapshots: Vec::new(),
            held: Vec::new(),
            presence: PresenceState::default(),
            exit: Exit::Shutdown,
            store,
            config,
            metrics,
        };
        tracing::debug!(version = actor.version, "document opened");
        let idle = actor.config.idle_doc();
        actor
            .serve_loop(&mut mailbox, &registration, &weak, &inbox, &phase, idle)
            .await;
        // However the task ends, presence subscribers must subscribe again on the next task,
        // and a session offering a change must find that task.
        inbox.close();
        actor.presence.end();
        match actor.exit {
            Exit::Retired | Exit::Shutdown => {
                if let Some(lease) = actor.lease.take() {
                    // Nothing is lost by stopping: let another node take over at once.
                    lease.release(&actor.doc).await;
                }
            }
            Exit::Moved => {
                drop(registration);
                if let Some(lease) = actor.lease.take() {
                    lease.give_up(&actor.doc);
                }
                actor.fanout.hand_off();
                abandon(&mut mailbox);
            }
            Exit::StorageFailed => {
                // Storage failed: in-memory state may be ahead of disk. Leave the directory
                // first, so the next request starts a fresh task that reloads from storage;
                // live subscribers catch up and resume on that one.
                drop(registration);
                actor.fanout.hand_off();
                refuse_all(&mut mailbox, || {
                    Rejection::new(
                        ErrorCode::Internal,
                        "storage failed; nothing was applied, retry",
                    )
                })
                .await;
            }
            Exit::Deleted => {
                // Gone from storage: leave the directory in a new epoch, so the next request
                // starts a task at version 0 and a subscriber resuming from before learns of
                // the deletion; refuse everything that was queued behind it.
                registration.deleted();
                if let Some(lease) = actor.lease.take() {
                    // Nothing is left to own: another node may take the id at once.
                    lease.release(&actor.doc).await;
                }
                refuse_all(&mut mailbox, deleted_rejection).await;
            }
        }
    }

    /// Serves requests and presence until the task retires, shuts down or storage fails
    /// (recorded in `self.exit`).
    async fn serve_loop(
        &mut self,
        mailbox: &mut mpsc::Receiver<Request>,
        registration: &Registration,
        weak: &mpsc::WeakSender<Request>,
        inbox: &PresenceInbox,
        phase: &Phase,
        idle: std::time::Duration,
    ) {
        let lost = self.lease.as_ref().map(|l| l.lost.clone());
        loop {
            registration.report(self.version, self.fanout.len());
            let presence_due = self.presence.next_due();
            let first = tokio::select! {
                // Ops first: presence is handled after the drain it arrived during.
                biased;
                () = async { lost.as_ref().expect("guarded").cancelled().await }, if lost.is_some() => {
                    tracing::info!(doc = %self.doc, "lease lost: another node owns the document now");
                    self.exit = Exit::Moved;
                    return;
                }
                request = mailbox.recv() => request,
                () = phase.stopped() => None,
                () = inbox.offered() => {
                    self.presence_step(inbox);
                    continue;
                }
                () = tokio::time::sleep_until(presence_due.unwrap_or_else(tokio::time::Instant::now)),
                    if presence_due.is_some() => {
                    self.presence_step(inbox);
                    continue;
                }
                _ = tokio::time::sleep(idle) => {
                    // Retire if nobody can reach this task any more: no subscriber, nobody
                    // present, nothing in the mailbox or the presence inbox (closed in the same
                    // check), and no sender besides the directory's.
                    let none_live = self.fanout.prune();
                    let unreachable = || {
                        none_live
                            && self.presence.is_idle()
                            && mailbox.is_empty()
                            && weak.strong_count() <= 1
                            && inbox.close_if_empty()
                    };
                    if registration.retire_if(unreachable) {
                        tracing::debug!(version = self.version, "document idle, unloaded");
                        self.exit = Exit::Retired;
                        return;
                    }
                    continue;
                }
            };
            let Some(first) = first else {
                // Shutting down: finish what is queued, then stop.
                mailbox.close();
                let mut rest = Vec::new();
                while let Some(request) = mailbox.recv().await {
                    rest.push(request);
                }
                let _ = self.handle_batch(rest).await;
                self.exit = Exit::Shutdown;
                return;
            };
            let mut batch = vec![first];
            let mut yielded = false;
            while batch.len() < MAX_BATCH {
                match mailbox.try_recv() {
                    Ok(request) => batch.push(request),
                    // Under concurrent load (more than one request waiting), let the sessions
                    // that are about to enqueue run once before committing: a larger batch
                    // shares one flush, and no timer adds latency.
                    Err(_) if batch.len() > 1 && !yielded => {
                        yielded = true;
                        tokio::task::yield_now().await;
                    }
                    Err(_) => break,
                }
            }
            if self.handle_batch(batch).await.is_err() {
                self.exit = if self.lease.is_some() {
                    Exit::Moved
                } else {
                    Exit::StorageFailed
                };
                return;
            }
            if self.exit == Exit::Deleted {
                return;
            }
            // The drain's ops are committed, acknowledged and delivered: now presence.
            self.presence_step(inbox);
        }
    }

    /// Applies the waiting presence changes and broadcasts what is due.
    fn presence_step(&mut self, inbox: &PresenceInbox) {
        let len = self.document.char_len();
        self.presence
            .take(inbox, self.version, len, self.recent.iter());
        self.presence
            .flush(self.version, tokio::time::Instant::now());
    }

    /// Handles one mailbox drain: applies every submission in memory, commits them all with one
    /// write batch and one flush, and only then answers reads and subscriptions, so that those
    /// never see state that is not yet durable and never force a second flush. A deletion
    /// ends the drain: what came before it is committed first, what came after is refused.
    async fn handle_batch(&mut self, batch: Vec<Request>) -> Result<(), StoreError> {
        let mut reads = Vec::new();
        let mut requests = batch.into_iter();
        let mut deletion = None;
        for cmd in requests.by_ref() {
            match cmd {
                Request::Submit {
                    submission,
                    user,
                    reply,
                } => {
                    let outcome = self.submit(*submission, user).await;
                    self.hold(reply, outcome);
                }
                Request::Restore {
                    restore,
                    user,
                    reply,
                } => {
                    let outcome = self.restore(*restore, user).await;
                    self.hold(reply, outcome);
                }
                Request::Text { text, user, reply } => {
                    let outcome = self.text(*text, user).await;
                    self.hold(reply, outcome);
                }
                Request::Copy {
                    source,
                    user,
                    reply,
                } => {
                    // Commits on its own (a copy may be longer than any batch).
                    self.commit().await?;
                    let outcome = self.copy(*source, user).await?;
                    let _ = reply.send(outcome);
                }
                Request::Delete { user, reply } => {
                    deletion = Some((user, reply));
                    break;
                }
                read => reads.push(read),
            }
        }
        self.commit().await?;
        for read in reads {
            match read {
                Request::Subscribe {
                    with_content,
                    reply,
                } => {
                    let _ = reply.send(Subscribed {
                        version: self.version,
                        content: with_content.then(|| self.document.to_string()),
                        hash: self.hash,
                        epoch: self.epoch,
                    });
                }
                Request::Resume {
                    listener,
                    next,
                    epoch,
                    reply,
                } => {
                    let _ = reply.send(self.resume(listener, next, epoch));
                }
                Request::SubscribePresence { listener, reply } => {
                    self.presence.subscribe(listener, self.version);
                    let _ = reply.send(());
                }
                Request::Snapshot { reply } => {
                    let _ = reply.send(Current {
                        version: self.version,
                        content: self.document.to_string(),
                        hash: self.hash,
                    });
                }
                _ => {}
            }
        }
        if let Some((user, reply)) = deletion {
            match self.delete(user).await {
                Ok(Ok(deleted)) => {
                    let _ = reply.send(Ok(deleted));
                    self.exit = Exit::Deleted;
                    refuse(requests, deleted_rejection);
                }
                Ok(Err(rejection)) => {
                    let _ = reply.send(Err(rejection));
                    // Not deleted (nothing to delete): the rest of the drain goes on.
                    return Box::pin(self.handle_batch(requests.collect())).await;
                }
                Err(err) => {
                    let _ = reply.send(Err(internal(&err)));
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// Holds an accepted op's reply until its commit, or answers a rejection at once.
    fn hold(
        &mut self,
        reply: oneshot::Sender<Result<Applied, Rejection>>,
        outcome: Result<Applied, Rejection>,
    ) {
        match outcome {
            Ok(applied) => self.held.push(HeldReply { reply, applied }),
            Err(rejection) => {
                let _ = reply.send(Err(rejection));
            }
        }
    }

    /// Writes `records` and `snapshots` in one durable batch: under the lease when nodes
    /// share the store (refused if another node owns the document now).
    async fn append(
        &self,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        match &self.lease {
            Some(owned) => owned.append(&self.doc, records, snapshots).await,
            None => self.store.append(&self.doc, records, snapshots).await,
        }
    }

    /// Persists every unflushed op in one batch and one flush, then acknowledges and
    /// broadcasts them, in version order.
    async fn commit(&mut self) -> Result<(), StoreError> {
        if self.unflushed.is_empty() && self.held.is_empty() {
            return Ok(());
        }
        let records: Vec<OpRecord> = self.unflushed.iter().map(|r| (**r).clone()).collect();
        let snapshots = std::mem::take(&mut self.snapshots);
        let started = std::time::Instant::now();
        let appended = self.append(&records, &snapshots).await;
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Err(err) = appended {
            tracing::error!(doc = %self.doc, error = %err, "commit failed");
            if let StoreError::Fenced { .. } | StoreError::VersionTaken { .. } = &err {
                self.metrics.commits_refused.inc();
            }
            if self.lease.is_some() {
                // Unanswered: the registry resubmits each, unchanged, to the next owner, which
                // finds it in the history if this commit did land after all.
                self.held.clear();
            }
            for held in self.held.drain(..) {
                let _ = held.reply.send(Err(internal(&err)));
            }
            return Err(err);
        }
        let records = std::mem::take(&mut self.unflushed);
        if !records.is_empty() {
            self.metrics.ops_applied.inc_by(records.len() as u64);
            self.metrics.commit_batch.observe(records.len() as f64);
            let batch = Arc::new(self.events_of(records.iter().map(|r| &**r)));
            self.deliver(&batch);
        }
        for held in self.held.drain(..) {
            let _ = held.reply.send(Ok(held.applied));
        }
        // Ops first (delivered, answered), then the stored selections follow them.
        self.presence.committed(records.iter().map(|r| &**r));
        Ok(())
    }

    /// The op events of `records`, each serialised once.
    fn events_of<'a>(&self, records: impl Iterator<Item = &'a OpRecord>) -> Committed {
        Committed {
            events: records
                .map(|record| OpEvent {
                    version: record.version,
                    json: op_event_json(self.doc.as_str(), record).into(),
                })
                .collect(),
        }
    }

    /// Pushes a durable batch to every live listener, never waiting: one that is full leaves
    /// the live set and catches up from storage on its own.
    fn deliver(&mut self, batch: &Arc<Committed>) {
        self.fanout.deliver(batch, &self.metrics);
    }

    /// A listener asks to go live from `next` (everything before it delivered). Granted if it
    /// is caught up, or if the gap is still in memory and fits its queue now.
    fn resume(&mut self, listener: Arc<dyn Listener>, next: u64, epoch: u64) -> Resumed {
        if epoch != self.epoch {
            return Resumed::Deleted;
        }
        let first_recent = self.recent.front().map_or(u64::MAX, |r| r.version);
        let gap = || {
            if next < first_recent {
                return None;
            }
            let skip = usize::try_from(next - first_recent).unwrap_or(usize::MAX);
            Some(self.events_of(self.recent.iter().skip(skip).map(|r| &**r)))
        };
        let version = self.version;
        let gap = gap();
        self.fanout.resume(listener, next, version, || gap)
    }

    /// Ops after `after` up to the current version, oldest first, from memory where possible.
    async fn history_after(&self, after: u64) -> Result<Vec<Arc<OpRecord>>, Rejection> {
        let first_recent = self.recent.front().map_or(self.version + 1, |r| r.version);
        let mut out = Vec::with_capacity((self.version - after) as usize);
        if after + 1 < first_recent {
            let stored = self
                .store
                .ops(&self.doc, after, first_recent - 1, usize::MAX)
                .await
                .map_err(|e| internal(&e))?;
            out.extend(stored.into_iter().map(Arc::new));
        }
        let skip = (after + 1).saturating_sub(first_recent) as usize;
        out.extend(self.recent.iter().skip(skip).cloned());
        Ok(out)
    }

    /// The text at `version` (≤ current), for verifying checked deletes made against it.
    async fn text_at(&self, version: u64) -> Result<String, Rejection> {
        if version == self.version {
            return Ok(self.document.to_string());
        }
        let (at, text) = self
            .store
            .snapshot_at_or_before(&self.doc, version)
            .await
            .map_err(|e| internal(&e))?;
        let mut document = Document::from_text(&text);
        for record in self.history_after(at).await? {
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
    async fn submit(&mut self, submission: Submission, user: String) -> Result<Applied, Rejection> {
        let Submission {
            client,
            seq,
            base,
            op: checked,
            ..
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
        let history = self.history_after(base).await?;
        self.metrics.transform_depth.observe(history.len() as f64);
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
            let text = self.text_at(base).await?;
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
        let op = transform_through(&op, history.iter().map(|r| &r.op), Side::Left)
            .map_err(|e| Rejection::new(ErrorCode::Internal, format!("transform failed: {e}")))?;
        self.apply_within_limit(&op)?;
        self.version += 1;
        self.last_time = self.last_time.max(now_ms());
        let mut record = OpRecord {
            version: self.version,
            op: op.clone(),
            client,
            seq,
            user,
            time: self.last_time,
            hash: ChainHash::GENESIS,
        };
        self.hash = record.chain_after(&self.hash);
        let record = Arc::new(record);
        self.remember(record.clone());
        self.unflushed.push(record);
        if self.version.is_multiple_of(self.config.snapshot_interval) {
            self.snapshots
                .push((self.version, self.document.to_string()));
        }
        Ok(Applied {
            version: self.version,
            op,
            duplicate: false,
        })
    }

    /// Keeps `record` among the newest ops.
    fn remember(&mut self, record: Arc<OpRecord>) {
        if self.recent.len() == self.recent_capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }

    /// A restore: one op, by the caller, from the current text to the text at
    /// `restore.version`. A resubmission (same `client` and `seq`) among the ops after
    /// `restore.base`, or else among the newest [`RESTORE_DEDUP_WINDOW`] ops, answers the op it
    /// made.
    async fn restore(&mut self, restore: Restore, user: String) -> Result<Applied, Rejection> {
        let Restore {
            version,
            client,
            seq,
            base,
        } = restore;
        for (asked, v) in [("version", Some(version)), ("base", base)] {
            if let Some(v) = v.filter(|v| *v > self.version) {
                return Err(Rejection::new(
                    ErrorCode::VersionInFuture,
                    format!(
                        "{asked} {v} is after the document's current version {}",
                        self.version
                    ),
                ));
            }
        }
        let since = base.unwrap_or(self.version.saturating_sub(RESTORE_DEDUP_WINDOW));
        let history = self.history_after(since).await?;
        if let Some(done) = history.iter().find(|r| r.client == client && r.seq == seq) {
            return Ok(Applied {
                version: done.version,
                op: done.op.clone(),
                duplicate: true,
            });
        }
        let target = self.text_at(version).await?;
        let op = text_diff_off_thread(self.document.to_string(), target).await;
        let submission = Submission {
            client,
            seq,
            base: self.version,
            op: CheckedOp {
                op,
                checks: Vec::new(),
            },
            // Made here by the owner's task, never forwarded.
            body: bytes::Bytes::new(),
        };
        self.submit(submission, user).await
    }

    /// A text merge: the op from the text at `text.base` to `text.content`, submitted at
    /// `base` (so it is transformed against everything after it, like any submission).
    async fn text(&mut self, text: TextSubmission, user: String) -> Result<Applied, Rejection> {
        let TextSubmission {
            content,
            base,
            client,
            seq,
        } = text;
        if base > self.version {
            return Err(Rejection::new(
                ErrorCode::VersionInFuture,
                format!(
                    "base version {base} is after the document's current version {}",
                    self.version
                ),
            ));
        }
        let history = self.history_after(base).await?;
        if let Some(done) = history.iter().find(|r| r.client == client && r.seq == seq) {
            return Ok(Applied {
                version: done.version,
                op: done.op.clone(),
                duplicate: true,
            });
        }
        let old = self.text_at(base).await?;
        let op = text_diff_off_thread(old, content).await;
        let submission = Submission {
            client,
            seq,
            base,
            op: CheckedOp {
                op,
                checks: Vec::new(),
            },
            // Made here by the owner's task, never forwarded.
            body: bytes::Bytes::new(),
        };
        self.submit(submission, user).await
    }

    /// Fills this document (which must be at version 0) with a copy of `source`, committing
    /// as it goes: with history, the source's records 1..=version (same ops, users, times and
    /// so the same hashes) in chunks; without, one insert of its text, by `user`.
    async fn copy(
        &mut self,
        source: CopySource,
        user: String,
    ) -> Result<Result<Copied, Rejection>, StoreError> {
        if self.version > 0 {
            return Ok(Err(Rejection::new(
                ErrorCode::DocumentExists,
                format!(
                    "document {} already exists (version {}); copy to a new id",
                    self.doc, self.version
                ),
            )));
        }
        if !source.history {
            let content = self
                .store
                .content_at(&source.doc, source.version)
                .await?
                .to_string();
            let mut op = Operation::new();
            op.insert(&content);
            let submission = Submission {
                client: COPY_CLIENT.into(),
                seq: 0,
                base: 0,
                op: CheckedOp {
                    op,
                    checks: Vec::new(),
                },
                // Made here by the owner's task, never forwarded.
                body: bytes::Bytes::new(),
            };
            return match self.submit(submission, user).await {
                Ok(_) => {
                    self.commit().await?;
                    Ok(Ok(Copied {
                        version: self.version,
                    }))
                }
                Err(rejection) => Ok(Err(rejection)),
            };
        }
        while self.version < source.version {
            let page = self
                .store
                .ops(&source.doc, self.version, source.version, COPY_CHUNK)
                .await?;
            if page.first().map(|r| r.version) != Some(self.version + 1) {
                return Ok(Err(Rejection::new(
                    ErrorCode::NotFound,
                    format!(
                        "document {} has no version {} any more (deleted during the copy?); \
                         the copy stopped at version {}",
                        source.doc,
                        self.version + 1,
                        self.version
                    ),
                )));
            }
            let mut snapshots = Vec::new();
            let mut records = Vec::with_capacity(page.len());
            for mut record in page {
                if record.version != self.version + 1 {
                    break;
                }
                self.document
                    .apply(&record.op)
                    .map_err(|e| StoreError::Corrupt {
                        doc: source.doc.to_string(),
                        version: record.version,
                        reason: format!("does not apply while copying: {e}"),
                    })?;
                self.version = record.version;
                self.last_time = self.last_time.max(record.time);
                // Recomputed, so the copy's chain is sound even if the source's was not.
                self.hash = record.chain_after(&self.hash);
                if self.version.is_multiple_of(self.config.snapshot_interval) {
                    snapshots.push((self.version, self.document.to_string()));
                }
                records.push(record);
            }
            self.append(&records, &snapshots).await?;
            let batch = Arc::new(self.events_of(records.iter()));
            self.deliver(&batch);
            for record in records {
                self.remember(Arc::new(record));
            }
        }
        Ok(Ok(Copied {
            version: self.version,
        }))
    }

    /// Deletes the document from storage (everything before it is committed) and tells the
    /// live subscribers; `not-found` if it has no ops.
    async fn delete(&mut self, user: String) -> Result<Result<Deleted, Rejection>, StoreError> {
        if self.version == 0 {
            return Ok(Err(Rejection::new(
                ErrorCode::NotFound,
                format!("document {} has never had an operation", self.doc),
            )));
        }
        let deletion = Deletion {
            version: self.version,
            user,
            time: self.last_time.max(now_ms()),
        };
        match &self.lease {
            Some(owned) => owned.delete(&self.doc, &deletion).await?,
            None => self.store.delete(&self.doc, &deletion).await?,
        }
        self.fanout.deleted();
        Ok(Ok(Deleted {
            version: deletion.version,
        }))
    }

    /// Applies `op`, refusing (and leaving the document as it was) if the result would exceed
    /// the document size limit.
    fn apply_within_limit(&mut self, op: &Operation) -> Result<(), Rejection> {
        let max = self.config.max_doc_bytes;
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

/// The `client` of the op a copy without history writes (its `seq` is 0).
pub(super) const COPY_CLIENT: &str = "otterdoc-copy";

/// Answers the requests of a drain that follow a deletion: writes with `why`, reads by
/// dropping them (their callers see the task gone, and retry on the next one).
fn refuse(requests: impl Iterator<Item = Request>, why: impl Fn() -> Rejection) {
    for request in requests {
        refuse_one(request, &why);
    }
}

fn refuse_one(request: Request, why: &impl Fn() -> Rejection) {
    match request {
        Request::Submit { reply, .. }
        | Request::Restore { reply, .. }
        | Request::Text { reply, .. } => {
            let _ = reply.send(Err(why()));
        }
        Request::Copy { reply, .. } => {
            let _ = reply.send(Err(why()));
        }
        Request::Delete { reply, .. } => {
            let _ = reply.send(Err(why()));
        }
        Request::Subscribe { .. }
        | Request::Resume { .. }
        | Request::SubscribePresence { .. }
        | Request::Snapshot { .. } => {}
    }
}

/// Drops every request still in (or arriving at) the mailbox, unanswered: their senders see
/// the task gone and take them to the document's next task.
pub(super) fn abandon(mailbox: &mut mpsc::Receiver<Request>) {
    mailbox.close();
    while mailbox.try_recv().is_ok() {}
}

/// Answers every request still in (or arriving at) a closed mailbox: submissions with the
/// rejection `why` builds, reads by dropping them (their callers see the task gone).
async fn refuse_all(mailbox: &mut mpsc::Receiver<Request>, why: impl Fn() -> Rejection) {
    mailbox.close();
    while let Some(request) = mailbox.recv().await {
        refuse_one(request, &why);
    }
}
