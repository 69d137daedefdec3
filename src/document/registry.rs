//! `DocumentRegistry`: maps an open document's id to its task's mailbox, starts the task on
//! first use, and is how sessions and HTTP routes talk to documents. A task leaves the map
//! itself (see `DocumentActor::try_retire`) under the same lock that hands out senders, so a
//! request never reaches a task that has already decided to stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::actor::{Command, DocumentActor};
use super::{Applied, Subscribed};
use crate::config::Config;
use crate::doc_id::DocId;
use crate::protocol::{ErrorCode, Rejection, Submission};
use crate::storage::OpLog;

/// Mailbox size of a document task; senders wait (backpressure) when it is full.
const MAILBOX: usize = 1024;

/// State shared by the registry and every document task.
pub struct RegistryShared {
    pub(super) docs: Mutex<HashMap<DocId, mpsc::Sender<Command>>>,
    /// The op log every task reads and writes.
    pub log: OpLog,
    /// Server settings.
    pub config: Arc<Config>,
    closing: AtomicBool,
    tasks: Mutex<JoinSet<()>>,
    shutdown: watch::Sender<bool>,
}

impl RegistryShared {
    /// Removes `doc`'s entry if it is still the channel `weak` belongs to.
    pub(super) fn forget(&self, doc: &DocId, weak: &mpsc::WeakSender<Command>) {
        let mut docs = self.docs.lock();
        let ours = match (docs.get(doc), weak.upgrade()) {
            (Some(sender), Some(own)) => own.same_channel(sender),
            _ => false,
        };
        if ours {
            docs.remove(doc);
        }
    }
}

/// Finds or starts document tasks and sends them requests.
#[derive(Clone)]
pub struct DocumentRegistry {
    shared: Arc<RegistryShared>,
}

fn unavailable() -> Rejection {
    Rejection::new(ErrorCode::Unavailable, "the server is shutting down")
}

impl DocumentRegistry {
    /// A registry over `log`.
    pub fn new(log: OpLog, config: Arc<Config>) -> Self {
        Self {
            shared: Arc::new(RegistryShared {
                docs: Mutex::new(HashMap::new()),
                log,
                config,
                closing: AtomicBool::new(false),
                tasks: Mutex::new(JoinSet::new()),
                shutdown: watch::channel(false).0,
            }),
        }
    }

    /// The op log (for read-only routes: old versions, op pages).
    pub fn log(&self) -> &OpLog {
        &self.shared.log
    }

    /// Server settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Number of documents currently open.
    pub fn open_documents(&self) -> usize {
        self.shared.docs.lock().len()
    }

    fn sender(&self, doc: &DocId) -> Result<mpsc::Sender<Command>, Rejection> {
        let mut docs = self.shared.docs.lock();
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(unavailable());
        }
        if let Some(sender) = docs.get(doc) {
            if !sender.is_closed() {
                return Ok(sender.clone());
            }
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        let weak = tx.downgrade();
        docs.insert(doc.clone(), tx.clone());
        let mut tasks = self.shared.tasks.lock();
        while tasks.try_join_next().is_some() {}
        tasks.spawn(DocumentActor::run(
            doc.clone(),
            self.shared.clone(),
            rx,
            weak,
            self.shared.shutdown.subscribe(),
        ));
        Ok(tx)
    }

    /// Puts the command `make` builds into `doc`'s mailbox (waiting while it is full) and
    /// returns where its answer will arrive. A task that stopped between lookup and send is
    /// replaced; mailbox order is request order, so a session's ops keep their order.
    async fn enqueue<T>(
        &self,
        doc: &DocId,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<oneshot::Receiver<T>, Rejection> {
        let (reply, answer) = oneshot::channel();
        let mut cmd = make(reply);
        for _ in 0..3 {
            let sender = self.sender(doc)?;
            match sender.send(cmd).await {
                Ok(()) => return Ok(answer),
                Err(mpsc::error::SendError(returned)) => cmd = returned,
            }
        }
        Err(Rejection::new(
            ErrorCode::Internal,
            "the document task keeps stopping; retry",
        ))
    }

    /// Awaits an answer from a document task. A task that dies after accepting the command
    /// reports `internal` (the caller may resubmit: submissions are idempotent).
    async fn answer<T>(&self, answer: oneshot::Receiver<T>) -> Result<T, Rejection> {
        answer.await.map_err(|_| {
            if self.shared.closing.load(Ordering::SeqCst) {
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
    ) -> Result<
        impl std::future::Future<Output = Result<Applied, Rejection>> + Send + Sync + 'static,
        Rejection,
    > {
        let user = user.to_owned();
        let answer = self
            .enqueue(doc, |reply| Command::Submit {
                submission: Box::new(submission),
                user,
                reply,
            })
            .await?;
        let this = self.clone();
        Ok(async move { this.answer(answer).await? })
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

    /// Subscribes to `doc`'s live ops.
    pub async fn subscribe(
        &self,
        doc: &DocId,
        with_content: bool,
    ) -> Result<Subscribed, Rejection> {
        let answer = self
            .enqueue(doc, |reply| Command::Subscribe {
                with_content,
                reply,
            })
            .await?;
        self.answer(answer).await
    }

    /// The current (version, content) of `doc`.
    pub async fn snapshot(&self, doc: &DocId) -> Result<(u64, String), Rejection> {
        let answer = self
            .enqueue(doc, |reply| Command::Snapshot { reply })
            .await?;
        self.answer(answer).await
    }

    /// Stops accepting requests, lets every task finish what it has queued (each flushes before
    /// it answers), waits for them, and flushes storage.
    pub async fn shutdown(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let _ = self.shared.shutdown.send(true);
        let mut tasks = std::mem::take(&mut *self.shared.tasks.lock());
        while tasks.join_next().await.is_some() {}
        self.shared.docs.lock().clear();
        if let Err(err) = self.shared.log.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
    }
}
