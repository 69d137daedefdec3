//! `DocumentRegistry`: how sessions and HTTP routes talk to documents. It finds the task of an
//! open document in the directory, or starts one (under the directory lock, so two requests
//! never start two tasks for one document), and puts requests into its mailbox. Mailbox order
//! is request order, so one session's ops reach a document in the order it sent them.
//! Presence changes go into the task's presence inbox instead, which never makes the sender
//! (or an op) wait.
//!
//! When nodes share the store, a document's task may stop without answering — its node lost
//! the document, or the owner it relayed went away — and a request it dropped is put to the
//! document's next task, again and again until the document has an owner or
//! `Config::failover_wait` has passed. A submission is resubmitted unchanged, with its
//! (client, seq), so the first task that applies it is the only one: a later one finds it in
//! the history and answers its version.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::actor::{DocumentActor, Start};
use super::cluster::Cluster;
use super::directory::Directory;
use super::presence::{PresenceChange, PresenceInbox, SessionId};
use super::{
    Applied, Copied, CopySource, Current, Deleted, Listener, PresenceListener, Request, Resumed,
    Subscribed,
};
use crate::config::limits::{MAILBOX, MAILBOX_RETRIES};
use crate::config::Config;
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::metrics::Metrics;
use crate::shutdown::Phase;
use crate::store::Store;
use crate::wire::{PresenceUpdate, Restore, Submission, TextSubmission};

/// Finds or starts document tasks and sends them requests.
#[derive(Clone)]
pub struct DocumentRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    directory: Arc<Directory>,
    store: Arc<dyn Store>,
    config: Arc<Config>,
    /// The documents' shutdown phase: every task is spawned in it.
    phase: Phase,
    metrics: Arc<Metrics>,
    /// The nodes sharing the store, if several may.
    cluster: Option<Arc<Cluster>>,
}

fn unavailable() -> Rejection {
    Rejection::new(ErrorCode::Unavailable, "the server is shutting down")
}

fn ownerless(doc: &DocId, waited: Duration) -> Rejection {
    Rejection::new(
        ErrorCode::Unavailable,
        format!(
            "no node could serve document {doc} within {} ms (its owner is gone or the store \
             cannot be reached); an op may or may not have been applied: resubmit it unchanged",
            waited.as_millis()
        ),
    )
}

impl DocumentRegistry {
    /// A registry whose document tasks use `store` and run in the shutdown `phase`; with
    /// `cluster`, each task first finds out whether this node owns its document.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        phase: Phase,
        metrics: Arc<Metrics>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory: Arc::default(),
                store,
                config,
                phase,
                metrics,
                cluster,
            }),
        }
    }

    /// Number of documents currently open.
    pub fn open_documents(&self) -> usize {
        self.inner.directory.len()
    }

    /// Every open document, with its version and live subscribers.
    pub fn list_open(&self) -> Vec<super::DocumentInfo> {
        self.inner.directory.list()
    }

    /// The mailbox and presence inbox of `doc`'s task, starting the task if there is none.
    fn open(&self, doc: &DocId) -> Result<(mpsc::Sender<Request>, Arc<PresenceInbox>), Rejection> {
        let inner = &self.inner;
        let mut directory = inner.directory.lock();
        // Checked under the lock that `shutdown` cancels under: no task starts after it.
        if inner.phase.is_stopping() {
            return Err(unavailable());
        }
        if let Some(open) = directory.mailbox(doc) {
            return Ok(open);
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        let presence = Arc::new(PresenceInbox::default());
        let registration = directory.register(doc, tx.clone(), presence.clone());
        let start = Start {
            doc: doc.clone(),
            store: inner.store.clone(),
            config: inner.config.clone(),
            registration,
            mailbox: rx,
            weak: tx.downgrade(),
            presence: presence.clone(),
            phase: inner.phase.clone(),
            metrics: inner.metrics.clone(),
        };
        match &inner.cluster {
            None => {
                inner.phase.spawn(DocumentActor::run(start));
            }
            Some(cluster) => {
                inner
                    .phase
                    .spawn(super::ownership::run(start, cluster.clone()));
            }
        }
        Ok((tx, presence))
    }

    /// Puts the request `make` builds into `doc`'s mailbox (waiting while it is full) and
    /// returns where its answer will arrive. A task that stopped between lookup and send is
    /// replaced.
    async fn enqueue<T>(
        &self,
        doc: &DocId,
        make: &impl Fn(oneshot::Sender<T>) -> Request,
    ) -> Result<oneshot::Receiver<T>, Rejection> {
        let (reply, answer) = oneshot::channel();
        let mut request = make(reply);
        for _ in 0..MAILBOX_RETRIES {
            let (mailbox, _) = self.open(doc)?;
            match mailbox.send(request).await {
                Ok(()) => return Ok(answer),
                Err(mpsc::error::SendError(returned)) => request = returned,
            }
        }
        Err(Rejection::new(
            ErrorCode::Internal,
            "the document task keeps stopping; retry",
        ))
    }

    /// Puts a request to `doc`'s task and awaits the answer (see [`Self::settle`]).
    async fn ask<T>(
        &self,
        doc: &DocId,
        make: impl Fn(oneshot::Sender<T>) -> Request,
    ) -> Result<T, Rejection> {
        let answer = self.enqueue(doc, &make).await?;
        self.settle(doc, answer, &make).await
    }

    /// Awaits the answer to a request made with `make`. With a single node, a task that dies
    /// after accepting it means `internal`; when nodes share the store it means the document
    /// is moving, and the request is put to the next task until one answers.
    async fn settle<T>(
        &self,
        doc: &DocId,
        mut answer: oneshot::Receiver<T>,
        make: &impl Fn(oneshot::Sender<T>) -> Request,
    ) -> Result<T, Rejection> {
        let phase = &self.inner.phase;
        if self.inner.cluster.is_none() {
            return Self::answer(phase, answer).await;
        }
        let waited = self.inner.config.failover_wait();
        let deadline = tokio::time::Instant::now() + waited;
        let mut pause = Duration::from_millis(10);
        loop {
            match tokio::time::timeout_at(deadline, &mut answer).await {
                Ok(Ok(value)) => return Ok(value),
                Err(_) => return Err(ownerless(doc, waited)),
                Ok(Err(_)) if phase.is_stopping() => return Err(unavailable()),
                Ok(Err(_)) => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(super::relay::RETRY);
            if tokio::time::Instant::now() >= deadline {
                return Err(ownerless(doc, waited));
            }
            answer = self.enqueue(doc, make).await?;
        }
    }

    /// Awaits an answer from a document task. A task that dies after accepting the request
    /// reports `internal` (the caller may resubmit: submissions are idempotent).
    async fn answer<T>(phase: &Phase, answer: oneshot::Receiver<T>) -> Result<T, Rejection> {
        answer.await.map_err(|_| {
            if phase.is_stopping() {
                unavailable()
            } else {
                Rejection::new(ErrorCode::Internal, "the document task stopped; retry")
            }
        })
    }

    /// Queues an op for `doc` and returns a future of its outcome, which resolves once the op
    /// is durable (or rejected). Queue order is the order ops are applied in.
    pub async fn submit_queued(
        &self,
        doc: &DocId,
        submission: Submission,
        user: &str,
    ) -> Result<impl Future<Output = Result<Applied, Rejection>> + Send + Sync + 'static, Rejection>
    {
        let user = user.to_owned();
        let make = move |reply| Request::Submit {
            submission: Box::new(submission.clone()),
            user: user.clone(),
            reply,
        };
        let answer = self.enqueue(doc, &make).await?;
        let registry = self.clone();
        let doc = doc.clone();
        Ok(async move { registry.settle(&doc, answer, &make).await? })
    }

    /// Submits an op to `doc`; answers once it is durable (or rejected).
    pub async fn submit(
        &self,
        doc: &DocId,
        submission: Submission,
        user: &str,
    ) -> Result<Applied, Rejection> {
        self.submit_queued(doc, submission, user).await?.await
    }

    /// The current version of `doc` (and its content, if asked) for a new subscriber.
    pub async fn subscribe(
        &self,
        doc: &DocId,
        with_content: bool,
    ) -> Result<Subscribed, Rejection> {
        self.ask(doc, |reply| Request::Subscribe {
            with_content,
            reply,
        })
        .await
    }

    /// Makes `listener` a live subscriber of `doc` from version `next` on, or says up to which
    /// version it must first catch up from storage.
    pub async fn resume(
        &self,
        doc: &DocId,
        listener: Arc<dyn Listener>,
        next: u64,
        epoch: u64,
    ) -> Result<Resumed, Rejection> {
        self.ask(doc, |reply| Request::Resume {
            listener: listener.clone(),
            next,
            epoch,
            reply,
        })
        .await
    }

    /// Hands `session`'s presence update for `doc` to the document's task (starting it if
    /// needed), replacing one of the session's that is still waiting there; never waits. The
    /// future resolves once the task has checked it (or a newer one replaced it).
    pub fn presence(
        &self,
        doc: &DocId,
        session: &SessionId,
        user: &str,
        update: PresenceUpdate,
    ) -> Result<impl Future<Output = Result<(), Rejection>> + Send + Sync + 'static, Rejection>
    {
        let (reply, answer) = oneshot::channel();
        let mut change = PresenceChange::Update {
            update: Box::new(update),
            user: user.to_owned(),
            reply,
        };
        let mut offered = false;
        for _ in 0..MAILBOX_RETRIES {
            let (_, inbox) = self.open(doc)?;
            match inbox.offer(session, change) {
                Ok(()) => {
                    offered = true;
                    break;
                }
                // That task stopped (retired or failed) after the lookup: use the next one.
                Err(returned) => change = returned,
            }
        }
        if !offered {
            return Err(Rejection::new(
                ErrorCode::Internal,
                "the document task keeps stopping; retry",
            ));
        }
        let phase = self.inner.phase.clone();
        Ok(async move { Self::answer(&phase, answer).await? })
    }

    /// `session` is no longer present in `doc`. Starts no task: a document that is not open
    /// has no presence to remove.
    pub fn presence_leave(&self, doc: &DocId, session: &SessionId) {
        let open = self.inner.directory.lock().mailbox(doc);
        if let Some((_, inbox)) = open {
            // A closed inbox belongs to a task that has stopped, presence and all.
            let _ = inbox.offer(session, PresenceChange::Leave);
        }
    }

    /// Adds `listener` to `doc`'s presence subscribers; it is first sent everyone's current
    /// presence.
    pub async fn subscribe_presence(
        &self,
        doc: &DocId,
        listener: Arc<dyn PresenceListener>,
    ) -> Result<(), Rejection> {
        self.ask(doc, |reply| Request::SubscribePresence {
            listener: listener.clone(),
            reply,
        })
        .await
    }

    /// Restores the text `doc` had at an earlier version, as one new op by the caller;
    /// answers once it is durable.
    pub async fn restore(
        &self,
        doc: &DocId,
        restore: Restore,
        user: &str,
    ) -> Result<Applied, Rejection> {
        self.ask(doc, |reply| Request::Restore {
            restore: Box::new(restore.clone()),
            user: user.to_owned(),
            reply,
        })
        .await?
    }

    /// Merges a full new text made against a base version, as one new op; answers once it is
    /// durable.
    pub async fn text(
        &self,
        doc: &DocId,
        text: TextSubmission,
        user: &str,
    ) -> Result<Applied, Rejection> {
        self.ask(doc, |reply| Request::Text {
            text: Box::new(text.clone()),
            user: user.to_owned(),
            reply,
        })
        .await?
    }

    /// Fills the new document `doc` with a copy of `source`; `document-exists` if `doc` has
    /// ops.
    pub async fn copy(
        &self,
        doc: &DocId,
        source: CopySource,
        user: &str,
    ) -> Result<Copied, Rejection> {
        self.ask(doc, |reply| Request::Copy {
            source: Box::new(source.clone()),
            user: user.to_owned(),
            reply,
        })
        .await?
    }

    /// Deletes `doc` (after everything queued before); `not-found` if it has no ops.
    pub async fn delete(&self, doc: &DocId, user: &str) -> Result<Deleted, Rejection> {
        self.ask(doc, |reply| Request::Delete {
            user: user.to_owned(),
            reply,
        })
        .await?
    }

    /// The current version, content and hash of `doc`.
    pub async fn snapshot(&self, doc: &DocId) -> Result<Current, Rejection> {
        self.ask(doc, |reply| Request::Snapshot { reply }).await
    }

    /// Stops accepting requests and lets every task finish what it has queued (each flushes
    /// before it answers); returns once all have ended.
    pub async fn shutdown(&self) {
        {
            let _directory = self.inner.directory.lock();
            self.inner.phase.cancel();
        }
        self.inner.phase.wait().await;
    }
}
