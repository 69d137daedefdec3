//! Documents at run time: one [`actor::DocumentActor`] task per open document owns its state,
//! and the [`registry::DocumentRegistry`] starts, finds and retires those tasks. Everything else
//! (STOMP sessions, HTTP routes) reaches a document only through the registry's requests.

pub mod actor;
pub mod registry;

use std::sync::Arc;

use ot::Operation;
use tokio::sync::{broadcast, watch};

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
