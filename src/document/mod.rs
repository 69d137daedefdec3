//! Documents at run time: one [`actor::DocumentActor`] task per open document owns its state,
//! the [`DocumentRegistry`] starts them on first use and is how everything else reaches them
//! (by [`Request`]s over a bounded mailbox), and the directory (`directory.rs`) maps an open
//! document's id to its mailbox, each entry removed by its task's registration guard. Live
//! subscribers are [`Listener`]s the task pushes each commit to; presence subscribers are
//! [`PresenceListener`]s, and presence updates reach the task through its presence inbox
//! (`presence.rs`), beside the mailbox, so they never wait in line with ops.
//!
//! Everything that changes a document goes through its task: ops, and the history routes'
//! restores, text merges, copies into it and its deletion. A deletion ends the task; the id
//! then starts again at version 0 in a new *epoch* (counted by the directory), which is how a
//! subscription that was behind at the time learns that its document is gone.
//!
//! When several nodes share the store ([`Cluster`]), a document's task runs the document only
//! on the node holding its lease (`ownership.rs` decides, `cluster.rs` renews); on the other
//! nodes the task is a relay (`relay.rs`) of the owner, through the same mailbox and the same
//! live-subscriber fan-out (`fanout.rs`).

mod actor;
mod cluster;
mod directory;
mod fanout;
mod ownership;
mod presence;
mod registry;
mod relay;
mod text_diff;

use std::sync::Arc;

use bytes::Bytes;
use ot::Operation;
use tokio::sync::oneshot;

use crate::doc_id::DocId;
use crate::error::Rejection;
use crate::store::ChainHash;
use crate::wire::{Restore, Submission, TextSubmission};

pub use cluster::Cluster;
pub use directory::DocumentInfo;
pub use presence::SessionId;
pub use registry::DocumentRegistry;
pub use text_diff::{op_size, text_diff, text_diff_off_thread};

/// The outcome of an accepted submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The version the op produced.
    pub version: u64,
    /// The op as applied (transformed against everything after its base, full length).
    pub op: Operation,
    /// True when this was a resubmission of an op that had already been applied.
    pub duplicate: bool,
}

/// One applied op as delivered to subscribers: its version and its JSON event body,
/// serialised once per op (not once per subscriber).
#[derive(Debug, Clone)]
pub struct OpEvent {
    /// Version the op produced.
    pub version: u64,
    /// `{"type":"op",...}` body.
    pub json: Bytes,
}

/// Consecutive op events, as one commit (or one catch-up page) produced them; shared by every
/// subscriber they are delivered to.
#[derive(Debug)]
pub struct Committed {
    /// The events, in version order, without gaps.
    pub events: Vec<OpEvent>,
}

impl Committed {
    /// Index of `version` in [`Self::events`], if it is there.
    pub fn index_of(&self, version: u64) -> Option<usize> {
        let first = self.events.first()?.version;
        let index = usize::try_from(version.checked_sub(first)?).ok()?;
        (index < self.events.len()).then_some(index)
    }
}

/// What came of pushing events to a [`Listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued for delivery.
    Delivered,
    /// The listener cannot take more now (its connection is slow); nothing was queued.
    Full,
    /// The listener is gone (unsubscribed, disconnected).
    Gone,
}

/// A live subscriber of a document, held by its task. The task pushes every commit to it
/// without ever waiting: a listener that cannot keep up is dropped from the live set and told
/// where it stopped, and catches up from storage on its own before it resumes.
pub trait Listener: Send + Sync + 'static {
    /// Queues events `from..` of `batch` if it can do so now.
    fn push(&self, batch: &Arc<Committed>, from: usize) -> Push;
    /// The task stopped delivering to this listener (it was full, or the task is ending);
    /// `next` is the first version it has not been given. The listener must catch up and
    /// resume (see [`DocumentRegistry::resume`]) without making the task wait.
    fn lagged(self: Arc<Self>, next: u64);
    /// False once the listener is gone; the task then drops it.
    fn is_alive(&self) -> bool;
    /// The document was deleted: tell the subscriber and deliver nothing more. Must not make
    /// the task wait.
    fn deleted(self: Arc<Self>);
}

/// One presence or leave event, serialised once.
#[derive(Debug, Clone)]
pub struct PresenceMessage {
    /// Its number (`message-id: <subscription>-<number>`), unique within the document task.
    pub number: u64,
    /// `{"type":"presence",...}` or `{"type":"leave",...}`.
    pub json: Bytes,
}

/// Presence messages pushed to a subscriber as one outbox item.
#[derive(Debug)]
pub struct PresenceBatch {
    /// The messages, in the order the subscriber must see them.
    pub messages: Vec<PresenceMessage>,
}

/// A presence subscriber of a document, held by its task. Pushes never wait; a subscriber that
/// cannot take a batch (`Push::Full`) is sent the whole current state later instead.
pub trait PresenceListener: Send + Sync + 'static {
    /// Queues `batch` if it can do so now without taking room op delivery needs.
    fn push(&self, batch: &Arc<PresenceBatch>) -> Push;
    /// False once the subscriber is gone; the task then drops it.
    fn is_alive(&self) -> bool;
    /// The document task is stopping: subscribe again (on the next task) to go on.
    fn ended(self: Arc<Self>);
}

/// What a new subscriber learns from the document task: the current (durable) version and,
/// if asked, the content at it.
pub struct Subscribed {
    /// The document's version.
    pub version: u64,
    /// Its content at that version, when requested.
    pub content: Option<String>,
    /// The hash of that version.
    pub hash: ChainHash,
    /// The document's epoch (how often it was deleted while this server ran): a subscription
    /// resumes only within it.
    pub epoch: u64,
}

/// A document's current state, as its task holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    /// The (durable) version.
    pub version: u64,
    /// The text at it.
    pub content: String,
    /// The hash of that version.
    pub hash: ChainHash,
}

/// The outcome of a copy into a new document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The new document's version.
    pub version: u64,
}

/// The outcome of a deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The version the document had.
    pub version: u64,
}

/// What a copy takes from its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource {
    /// The source document.
    pub doc: DocId,
    /// Its version to copy (≥ 1, ≤ its head).
    pub version: u64,
    /// Copy its ops 1..=version (`true`), or its text at `version` as one insert.
    pub history: bool,
}

/// The answer to a [`Request::Resume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// The listener is live: every version from the one it asked for on is pushed to it.
    Live,
    /// Read versions up to `upto` from storage first (they are durable), then resume again.
    CatchUp {
        /// The document's version.
        upto: u64,
    },
    /// The document was deleted since the listener subscribed: it must tell its subscriber and
    /// stop.
    Deleted,
}

/// A request to a document task.
pub(crate) enum Request {
    /// Apply a client's op.
    Submit {
        /// The op and who sent it (boxed: it is much larger than the other requests).
        submission: Box<Submission>,
        /// The session's user name, recorded with the op.
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Applied, Rejection>>,
    },
    /// Restore the text of an earlier version, as one new op.
    Restore {
        /// What to restore, and who asks (boxed, like a submission).
        restore: Box<Restore>,
        /// The caller's user name, recorded with the op.
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Applied, Rejection>>,
    },
    /// Merge a new full text, made against a base version, as one new op.
    Text {
        /// The text and who sends it.
        text: Box<TextSubmission>,
        /// The caller's user name, recorded with the op.
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Applied, Rejection>>,
    },
    /// Fill this (empty) document with a copy of another.
    Copy {
        /// What to copy.
        source: Box<CopySource>,
        /// The caller's user name (recorded with the op of a copy without history).
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Copied, Rejection>>,
    },
    /// Delete the document.
    Delete {
        /// Who deletes it (recorded in the changefeed).
        user: String,
        /// Where the outcome goes, once durable.
        reply: oneshot::Sender<Result<Deleted, Rejection>>,
    },
    /// The current version (and content) for a new subscriber.
    Subscribe {
        /// Include the current content in the reply.
        with_content: bool,
        /// Where the answer goes.
        reply: oneshot::Sender<Subscribed>,
    },
    /// Make a listener live from version `next` on, if it is caught up enough.
    Resume {
        /// The listener.
        listener: Arc<dyn Listener>,
        /// The first version it does not have.
        next: u64,
        /// The epoch it subscribed in ([`Subscribed::epoch`]).
        epoch: u64,
        /// Where the answer goes.
        reply: oneshot::Sender<Resumed>,
    },
    /// Add a presence subscriber (it is sent everyone's current presence first).
    SubscribePresence {
        /// The subscriber.
        listener: Arc<dyn PresenceListener>,
        /// Answered once it is registered.
        reply: oneshot::Sender<()>,
    },
    /// Read the current version and content.
    Snapshot {
        /// Where the state goes.
        reply: oneshot::Sender<Current>,
    },
}
