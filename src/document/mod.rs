//! Documents at run time: one [`actor::DocumentActor`] task per open document owns its state,
//! the [`DocumentRegistry`] starts them on first use and is how everything else reaches them
//! (by [`Request`]s over a bounded mailbox), and the directory (`directory.rs`) maps an open
//! document's id to its mailbox, each entry removed by its task's registration guard.

mod actor;
mod directory;
mod registry;

use std::sync::Arc;

use ot::Operation;
use tokio::sync::{broadcast, oneshot, watch};

use crate::error::Rejection;
use crate::wire::Submission;

pub use registry::DocumentRegistry;

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

/// One applied op as broadcast to subscribers: its version and its pre-serialised JSON event
/// body (serialised once per op, not once per subscriber).
#[derive(Debug)]
pub struct OpEvent {
    /// Version the op produced.
    pub version: u64,
    /// `{"type":"op",...}` body.
    pub json: String,
}

/// What a new subscriber gets from the document task, atomically: the current version (and
/// content, if asked), and a receiver that sees every op after that version.
pub struct Subscribed {
    /// The document's version when the subscription was made.
    pub version: u64,
    /// Its content at that version, when requested.
    pub content: Option<String>,
    /// Live ops after `version`.
    pub events: broadcast::Receiver<Arc<OpEvent>>,
    /// The document's durable version, updated after every commit (what a lagging subscriber
    /// may safely read up to from storage).
    pub durable: watch::Receiver<u64>,
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
