//! `DocumentRegistry`: how sessions and HTTP routes talk to documents. It finds the task of an
//! open document in the directory, or starts one (under the directory lock, so two requests
//! never start two tasks for one document), and puts requests into its mailbox. Mailbox order
//! is request order, so one session's ops reach a document in the order it sent them.
//! Presence changes go into the task's presence inbox instead, which never makes the sender
//! (or an op) wait.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::actor::{DocumentActor, Start};
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
}

fn unavailable() -> Rejection {
    Rejection::new(ErrorCode::Unavailable, "the server is shutting down")
}

impl DocumentRegistry {
    /// A registry whose document tasks use `store` and run in the shutdown `phase`.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        phase: Phase,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory: Arc::default(),
                store,
                config,
                phase,
                metrics,
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
        inner.phase.spawn(DocumentActor::run(Start {
            doc: doc.clone(),
            store: inner.store.clone(),
            config: inner.config.clone(),
            registration,
            mailbox: rx,
            weak: tx.downgrade(),
            presence: presence.clone(),
            phase: inner.phase.clone(),
            metrics: inner.metrics.clone(),
        }));
        Ok((tx, presence))
    }

    /// Puts the request `make` builds into `doc`'s mailbox (waiting while it is full) and
    /// returns where its answer will arrive. A task that stopped between lookup and send is
    /// replaced.
    async fn enqueue<T>(
        &self,
        doc: &DocId,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
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
        let answer = self
            .enqueue(doc, |reply| Request::Submit {
                submission: Box::new(submission),
                user,
                reply,
            })
            .await?;
        let phase = self.inner.phase.clone();
        Ok(async move { Self::answer(&phase, answer).await? })
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
        let answer = self
            .enqueue(doc, |reply| Request::Subscribe {
                with_content,
                reply,
            })
            .await?;
        Self::answer(&self.inner.phase, answer).await
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
        let answer = self
            .enqueue(doc, |reply| Request::Resume {
                listener,
                next,
                epoch,
                reply,
            })
            .await?;
        Self::answer(&self.inner.phase, answer).await
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
        let answer = self
            .enqueue(doc, |reply| Request::SubscribePresence { listener, reply })
            .await?;
        Self::answer(&self.inner.phase, answer).await
    }

    /// Restores the text `doc` had at an earlier version, as one new op by the caller;
    /// answers once it is durable.
    pub async fn restore(
        &self,
        doc: &DocId,
        restore: Restore,
        user: &str,
    ) -> Result<Applied, Rejection> {
        let user = user.to_owned();
        let answer = self
            .enqueue(doc, |reply| Request::Restore {
                restore: Box::new(restore),
                user,
                reply,
            })
            .await?;
        Self::answer(&self.inner.phase, answer).await?
    }

    /// Merges a full new text made against a base version, as one new op; answers once it is
    /// durable.
    pub async fn text(
        &self,
        doc: &DocId,
        text: TextSubmission,
        user: &str,
    ) -> Result<Applied, Rejection> {
        let user = user.to_owned();
        let answer = self
            .enqueue(doc, |reply| Request::Text {
                text: Box::new(text),
                user,
                reply,
            })
            .await?;
        Self::answer(&self.inner.phase, answer).await?
    }

    /// Fills the new document `doc` with a copy of `source`; `document-exists` if `doc` has
    /// ops.
    pub async fn copy(
        &self,
        doc: &DocId,
        source: CopySource,
        user: &str,
    ) -> Result<Copied, Rejection> {
        let user = user.to_owned();
        let answer = self
            .enqueue(doc, |reply| Request::Copy {
                source: Box::new(source),
                user,
                reply,
            })
            .await?;
        Self::answer(&self.inner.phase, answer).await?
    }

    /// Deletes `doc` (after everything queued before); `not-found` if it has no ops.
    pub async fn delete(&self, doc: &DocId, user: &str) -> Result<Deleted, Rejection> {
        let user = user.to_owned();
        let answer = self
            .enqueue(doc, |reply| Request::Delete { user, reply })
            .await?;
        Self::answer(&self.inner.phase, answer).await?
    }

    /// The current version, content and hash of `doc`.
    pub async fn snapshot(&self, doc: &DocId) -> Result<Current, Rejection> {
        let answer = self
            .enqueue(doc, |reply| Request::Snapshot { reply })
            .await?;
        Self::answer(&self.inner.phase, answer).await
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
