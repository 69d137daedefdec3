//! The roster of connected sessions: who is connected, to which documents, since when, how
//! much is queued for them — and how the admin routes reach them (close one, close a user's,
//! send a notice). Each session registers once it has CONNECTed and its [`Enrolment`] removes
//! it again, whichever way the session ends.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::doc_id::DocId;
use crate::stomp::Outbox;

/// What an operator asks a session to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Close with an ERROR carrying this message.
    Close(String),
    /// Deliver this notice on `/user/queue/notices`.
    Notice(String),
}

/// One connected session, as the roster knows it.
struct Entry {
    user: String,
    since_ms: u64,
    documents: Arc<Mutex<BTreeSet<DocId>>>,
    outbox: Outbox,
    control: mpsc::UnboundedSender<Control>,
}

/// A session as listed by the admin routes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionInfo {
    /// The session id (CONNECTED `session`).
    pub session: String,
    /// Its user.
    pub user: String,
    /// Documents it is subscribed to.
    pub documents: Vec<String>,
    /// When it connected, ms since the epoch.
    pub connected_since: u64,
    /// Bytes queued for it, not yet written.
    pub queued_bytes: usize,
}

/// Every connected session.
#[derive(Clone, Default)]
pub struct Roster {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

/// A session's place in the roster; dropping it leaves.
pub struct Enrolment {
    roster: Roster,
    id: String,
    documents: Arc<Mutex<BTreeSet<DocId>>>,
}

impl Enrolment {
    /// The session subscribed to `doc`.
    pub fn subscribed(&self, doc: &DocId) {
        self.documents.lock().insert(doc.clone());
    }

    /// The session no longer subscribes to `doc`.
    pub fn unsubscribed(&self, doc: &DocId) {
        self.documents.lock().remove(doc);
    }
}

impl Drop for Enrolment {
    fn drop(&mut self) {
        self.roster.entries.lock().remove(&self.id);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Roster {
    /// Registers session `id` of `user`; controls for it arrive on the returned receiver.
    pub fn enrol(
        &self,
        id: &str,
        user: &str,
        outbox: Outbox,
    ) -> (Enrolment, mpsc::UnboundedReceiver<Control>) {
        let (control, rx) = mpsc::unbounded_channel();
        let documents = Arc::new(Mutex::new(BTreeSet::new()));
        self.entries.lock().insert(
            id.to_owned(),
            Entry {
                user: user.to_owned(),
                since_ms: now_ms(),
                documents: documents.clone(),
                outbox,
                control,
            },
        );
        let enrolment = Enrolment {
            roster: self.clone(),
            id: id.to_owned(),
            documents,
        };
        (enrolment, rx)
    }

    /// Every session, oldest first.
    pub fn list(&self) -> Vec<SessionInfo> {
        let entries = self.entries.lock();
        let mut out: Vec<SessionInfo> = entries
            .iter()
            .map(|(id, e)| SessionInfo {
                session: id.clone(),
                user: e.user.clone(),
                documents: e.documents.lock().iter().map(|d| d.to_string()).collect(),
                connected_since: e.since_ms,
                queued_bytes: e.outbox.queued_bytes(),
            })
            .collect();
        out.sort_by(|a, b| (a.connected_since, &a.session).cmp(&(b.connected_since, &b.session)));
        out
    }

    /// Sends `control` to the sessions `select` picks; how many it reached.
    pub fn send(&self, select: impl Fn(&str, &str) -> bool, control: &Control) -> usize {
        self.entries
            .lock()
            .iter()
            .filter(|(id, e)| select(id, &e.user))
            .filter(|(_, e)| e.control.send(control.clone()).is_ok())
            .count()
    }

    /// Number of connected sessions.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
