//! A document's presence — which sessions are here and where their selections are — owned by
//! the document's task, because only it knows the current version and sees every op as it
//! commits. Updates reach it through a [`PresenceInbox`], not the mailbox, so presence can never
//! make an op wait behind it:
//!
//! - The inbox holds at most one pending change per session (a newer update replaces an older
//!   one: the latest wins), so a flood of updates costs one slot per session, and the task
//!   takes them only after it has committed the ops it was handed.
//! - Each update is checked against the document (`version`, ranges within its length at that
//!   version), transformed to the current version and stored; every commit transforms the
//!   stored selections through its ops, so what a newcomer is told is valid at the version it
//!   is told. Text inserted exactly at a stored cursor pushes it only when the op comes from the
//!   cursor's own client (`Bias::Push`: their typing carries their caret); anyone else's insert
//!   leaves it before the text (`Bias::Stay`) — the rule the TypeScript client applies too.
//! - A session's presence is broadcast at most once per `PRESENCE_INTERVAL`; a leave at once.
//!   Delivery uses the connection outboxes like ops, but only while an outbox keeps
//!   `PRESENCE_HEADROOM` free slots. A subscriber that had no room is marked stale and later
//!   sent the whole current state — with a leave for every session it was told about that has
//!   gone — so a dropped update is repaired and no departed cursor stays behind.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use ot::{transform_selection, Bias, Operation, Selection};
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::{PresenceBatch, PresenceListener, PresenceMessage, Push};
use crate::config::limits::{PRESENCE_INTERVAL, PRESENCE_RESYNC};
use crate::error::{ErrorCode, Rejection};
use crate::store::OpRecord;
use crate::wire::{leave_event_json, presence_event_json, PresenceEvent, PresenceUpdate};

/// A session's id, shared by every place that keys on it.
pub type SessionId = Arc<str>;

/// What a session asks of a document's presence.
pub(crate) enum PresenceChange {
    /// Its new selection (and name, colour).
    Update {
        update: Box<PresenceUpdate>,
        /// The session's user, shown with its selection.
        user: String,
        /// Told whether the update was accepted (or superseded by a newer one).
        reply: oneshot::Sender<Result<(), Rejection>>,
    },
    /// It is no longer present.
    Leave,
}

#[derive(Default)]
struct Pending {
    changes: HashMap<SessionId, PresenceChange>,
    /// The task has stopped taking changes; a sender must find the document's next task.
    closed: bool,
}

/// The presence changes waiting for a document task: at most one per session.
#[derive(Default)]
pub(crate) struct PresenceInbox {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl PresenceInbox {
    /// Queues `change` for `session`, replacing (and accepting) one still pending. Gives the
    /// change back if the task has stopped.
    pub(crate) fn offer(
        &self,
        session: &SessionId,
        change: PresenceChange,
    ) -> Result<(), PresenceChange> {
        let replaced = {
            let mut pending = self.pending.lock();
            if pending.closed {
                return Err(change);
            }
            pending.changes.insert(session.clone(), change)
        };
        // Superseded before the document saw it: latest wins, so it counts as accepted.
        if let Some(PresenceChange::Update { reply, .. }) = replaced {
            let _ = reply.send(Ok(()));
        }
        self.notify.notify_one();
        Ok(())
    }

    /// Takes everything pending.
    fn take(&self) -> HashMap<SessionId, PresenceChange> {
        std::mem::take(&mut self.pending.lock().changes)
    }

    /// Resolves when something was offered since the last call.
    pub(super) async fn offered(&self) {
        self.notify.notified().await;
    }

    /// Stops taking changes if none is pending (the task is retiring); true if closed.
    pub(super) fn close_if_empty(&self) -> bool {
        let mut pending = self.pending.lock();
        if pending.changes.is_empty() {
            pending.closed = true;
        }
        pending.closed
    }

    /// Stops taking changes; the ones pending are dropped, so their senders see the task gone.
    pub(super) fn close(&self) {
        let dropped = {
            let mut pending = self.pending.lock();
            pending.closed = true;
            std::mem::take(&mut pending.changes)
        };
        drop(dropped);
    }
}

/// One session's stored presence, valid at the document's current version.
struct Stored {
    client: String,
    user: String,
    name: Option<String>,
    color: Option<String>,
    selection: Vec<Selection>,
    /// Changed since it was last broadcast.
    dirty: bool,
    /// When it was last broadcast (the rate limit).
    last_sent: Option<Instant>,
}

/// A presence subscriber.
struct Live {
    listener: Arc<dyn PresenceListener>,
    /// Sessions it has been told are present (and not told have left).
    told: HashSet<SessionId>,
    /// Missed something: gets the whole state at the next chance instead of the changes.
    stale: bool,
}

/// The presence of one document.
#[derive(Default)]
pub(super) struct PresenceState {
    sessions: HashMap<SessionId, Stored>,
    listeners: Vec<Live>,
    /// Leaves not yet broadcast.
    left: Vec<SessionId>,
    /// Numbers MESSAGEs (`message-id`); unique within the task, so within every subscription.
    next_number: u64,
    /// When a stale subscriber is next sent the whole state.
    resync_at: Option<Instant>,
}

/// The length of the document at `version` and the ops after it, from the recent history the
/// task keeps (`recent`, oldest first, ending at the current version).
fn ops_since<'a>(
    version: u64,
    current: u64,
    current_len: usize,
    recent: impl DoubleEndedIterator<Item = &'a Arc<OpRecord>> + ExactSizeIterator,
) -> Option<(usize, Vec<&'a OpRecord>)> {
    if version == current {
        return Some((current_len, Vec::new()));
    }
    let behind = usize::try_from(current - version).ok()?;
    if behind > recent.len() {
        return None;
    }
    let ops: Vec<&OpRecord> = recent.rev().take(behind).rev().map(|r| &**r).collect();
    let first = ops.first()?;
    (first.version == version + 1).then(|| (first.op.base_len(), ops))
}

fn bias(op_client: &str, cursor_client: &str) -> Bias {
    if op_client == cursor_client {
        Bias::Push
    } else {
        Bias::Stay
    }
}

fn transform_all(selection: &mut [Selection], op: &Operation, bias: Bias) {
    for range in selection {
        *range = transform_selection(*range, op, bias);
    }
}

impl PresenceState {
    /// True when nobody is present and nobody listens: the document may retire.
    pub(super) fn is_idle(&mut self) -> bool {
        self.listeners.retain(|live| live.listener.is_alive());
        self.sessions.is_empty() && self.listeners.is_empty() && self.left.is_empty()
    }

    /// Takes every change in `inbox` and applies it; the document is at `version` with
    /// `len` characters, `recent` its newest ops.
    pub(super) fn take<'a>(
        &mut self,
        inbox: &PresenceInbox,
        version: u64,
        len: usize,
        recent: impl DoubleEndedIterator<Item = &'a Arc<OpRecord>> + ExactSizeIterator + Clone,
    ) {
        for (session, change) in inbox.take() {
            match change {
                PresenceChange::Leave => {
                    if self.sessions.remove(&session).is_some() {
                        self.left.push(session);
                    }
                }
                PresenceChange::Update {
                    update,
                    user,
                    reply,
                } => {
                    let outcome = self.update(session, *update, user, version, len, recent.clone());
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    fn update<'a>(
        &mut self,
        session: SessionId,
        update: PresenceUpdate,
        user: String,
        version: u64,
        len: usize,
        recent: impl DoubleEndedIterator<Item = &'a Arc<OpRecord>> + ExactSizeIterator,
    ) -> Result<(), Rejection> {
        let PresenceUpdate {
            client,
            version: at,
            mut selection,
            name,
            color,
        } = update;
        if at > version {
            return Err(Rejection::new(
                ErrorCode::VersionInFuture,
                format!("presence version {at} is after the document's current version {version}"),
            ));
        }
        let Some((len_at, ops)) = ops_since(at, version, len, recent) else {
            return Err(Rejection::new(
                ErrorCode::VersionTooOld,
                format!(
                    "presence version {at} is too old to transform to the current version \
                     {version}; send it again at a newer version"
                ),
            ));
        };
        if let Some(range) = selection.iter().find(|r| r.anchor.max(r.head) > len_at) {
            return Err(Rejection::new(
                ErrorCode::InvalidPresence,
                format!(
                    "range {}..{} is past the end of the document, which has {len_at} \
                     characters at version {at}",
                    range.anchor, range.head
                ),
            ));
        }
        for op in ops {
            transform_all(&mut selection, &op.op, bias(&op.client, &client));
        }
        let last_sent = self.sessions.get(&session).and_then(|s| s.last_sent);
        self.sessions.insert(
            session,
            Stored {
                client,
                user,
                name,
                color,
                selection,
                dirty: true,
                last_sent,
            },
        );
        Ok(())
    }

    /// Moves every stored selection through ops just committed, so the stored copy stays
    /// valid at the current version.
    pub(super) fn committed<'a>(&mut self, records: impl Iterator<Item = &'a OpRecord> + Clone) {
        if self.sessions.is_empty() {
            return;
        }
        for stored in self.sessions.values_mut() {
            for record in records.clone() {
                transform_all(
                    &mut stored.selection,
                    &record.op,
                    bias(&record.client, &stored.client),
                );
            }
        }
    }

    /// Registers a subscriber; it is sent everyone's current presence at once (or, if its
    /// outbox has no room, as soon as it has).
    pub(super) fn subscribe(&mut self, listener: Arc<dyn PresenceListener>, version: u64) {
        let mut live = Live {
            listener,
            told: HashSet::new(),
            stale: true,
        };
        let now = Instant::now();
        let full = self.full_state(version);
        if !self.resync(&mut live, &full) {
            self.resync_at.get_or_insert(now + PRESENCE_RESYNC);
        }
        if live.listener.is_alive() {
            self.listeners.push(live);
        }
    }

    /// When [`Self::flush`] has something to do that is waiting for time to pass.
    pub(super) fn next_due(&self) -> Option<Instant> {
        let rate_limited = self
            .sessions
            .values()
            .filter(|s| s.dirty)
            .filter_map(|s| s.last_sent.map(|t| t + PRESENCE_INTERVAL))
            .min();
        match (rate_limited, self.resync_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Broadcasts what is due at `now`: leaves, changed presences whose interval has passed,
    /// and the whole state to stale subscribers (when their resync is due).
    pub(super) fn flush(&mut self, version: u64, now: Instant) {
        let mut messages = Vec::new();
        let mut changed = Vec::new();
        for session in std::mem::take(&mut self.left) {
            messages.push(self.message(leave_event_json(&session)));
            changed.push((session, false));
        }
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.dirty && s.last_sent.is_none_or(|t| now >= t + PRESENCE_INTERVAL))
            .map(|(id, _)| id.clone())
            .collect();
        for session in due {
            let json = self.event_json(&session, version);
            if let Some(stored) = self.sessions.get_mut(&session) {
                stored.dirty = false;
                stored.last_sent = Some(now);
            }
            if let Some(json) = json {
                messages.push(self.message(json));
                changed.push((session, true));
            }
        }
        let resync_due = self.resync_at.is_some_and(|t| now >= t);
        if messages.is_empty() && !resync_due {
            return;
        }
        let batch = Arc::new(PresenceBatch { messages });
        let full = if resync_due && self.listeners.iter().any(|l| l.stale) {
            self.full_state(version)
        } else {
            Vec::new()
        };
        let mut listeners = std::mem::take(&mut self.listeners);
        let mut still_stale = false;
        listeners.retain_mut(|live| {
            if !live.listener.is_alive() {
                return false;
            }
            if live.stale {
                if !(resync_due && self.resync(live, &full)) {
                    still_stale = true;
                }
                return true;
            }
            if batch.messages.is_empty() {
                return true;
            }
            match live.listener.push(&batch) {
                Push::Delivered => {
                    for (session, present) in &changed {
                        if *present {
                            live.told.insert(session.clone());
                        } else {
                            live.told.remove(session);
                        }
                    }
                    true
                }
                Push::Full => {
                    tracing::debug!(
                        "presence subscriber has no room; it is sent the whole state later"
                    );
                    live.stale = true;
                    still_stale = true;
                    true
                }
                Push::Gone => false,
            }
        });
        self.listeners = listeners;
        self.resync_at = if !still_stale {
            None
        } else if resync_due || self.resync_at.is_none() {
            Some(now + PRESENCE_RESYNC)
        } else {
            self.resync_at
        };
    }

    /// Every current presence as (session, message), numbered afresh.
    fn full_state(&mut self, version: u64) -> Vec<(SessionId, PresenceMessage)> {
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        sessions
            .into_iter()
            .filter_map(|session| {
                let json = self.event_json(&session, version)?;
                Some((session, self.message(json)))
            })
            .collect()
    }

    /// Sends a stale subscriber the whole state `full`, with a leave for each session it knew
    /// that has gone. True if delivered (it is then in sync again).
    fn resync(&mut self, live: &mut Live, full: &[(SessionId, PresenceMessage)]) -> bool {
        let present: HashSet<&SessionId> = full.iter().map(|(s, _)| s).collect();
        let gone: Vec<SessionId> = live
            .told
            .iter()
            .filter(|s| !present.contains(s))
            .cloned()
            .collect();
        let mut messages: Vec<PresenceMessage> = gone
            .iter()
            .map(|session| self.message(leave_event_json(session)))
            .collect();
        messages.extend(full.iter().map(|(_, m)| m.clone()));
        if messages.is_empty() {
            live.stale = false;
            return true;
        }
        match live.listener.push(&Arc::new(PresenceBatch { messages })) {
            Push::Delivered => {
                live.told = full.iter().map(|(s, _)| s.clone()).collect();
                live.stale = false;
                true
            }
            Push::Full | Push::Gone => false,
        }
    }

    /// The presence event of `session` at `version`.
    fn event_json(&self, session: &SessionId, version: u64) -> Option<String> {
        let stored = self.sessions.get(session)?;
        Some(presence_event_json(&PresenceEvent {
            session,
            client: &stored.client,
            user: &stored.user,
            version,
            selection: &stored.selection,
            name: stored.name.as_deref(),
            color: stored.color.as_deref(),
        }))
    }

    fn message(&mut self, json: String) -> PresenceMessage {
        self.next_number += 1;
        PresenceMessage {
            number: self.next_number,
            json: Bytes::from(json),
        }
    }

    /// The task is stopping: tells every subscriber that the sessions it knew are gone (best
    /// effort; the next task starts without presence) and that it must subscribe again.
    pub(super) fn end(&mut self) {
        for mut live in std::mem::take(&mut self.listeners) {
            let gone: Vec<SessionId> = live.told.drain().collect();
            let messages: Vec<PresenceMessage> = gone
                .iter()
                .map(|session| self.message(leave_event_json(session)))
                .collect();
            if !messages.is_empty() {
                let _ = live.listener.push(&Arc::new(PresenceBatch { messages }));
            }
            live.listener.ended();
        }
        self.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that records what it is pushed, with room for `room` batches.
    #[derive(Default)]
    struct Recorder {
        room: parking_lot::Mutex<usize>,
        got: parking_lot::Mutex<Vec<serde_json::Value>>,
    }

    impl PresenceListener for Recorder {
        fn push(&self, batch: &Arc<PresenceBatch>) -> Push {
            let mut room = self.room.lock();
            if *room == 0 {
                return Push::Full;
            }
            *room -= 1;
            let mut got = self.got.lock();
            for m in &batch.messages {
                got.push(serde_json::from_slice(&m.json).unwrap());
            }
            Push::Delivered
        }
        fn is_alive(&self) -> bool {
            true
        }
        fn ended(self: Arc<Self>) {}
    }

    fn update(session: &str, client: &str, version: u64, at: usize) -> (SessionId, PresenceChange) {
        let (reply, _) = oneshot::channel();
        let update = PresenceUpdate {
            client: client.into(),
            version,
            selection: vec![Selection {
                anchor: at,
                head: at,
            }],
            name: None,
            color: None,
        };
        (
            session.into(),
            PresenceChange::Update {
                update: Box::new(update),
                user: "anonymous".into(),
                reply,
            },
        )
    }

    fn record(version: u64, client: &str, op: &str) -> Arc<OpRecord> {
        Arc::new(OpRecord {
            version,
            op: Operation::from_json(op).unwrap(),
            client: client.into(),
            seq: version,
            user: "anonymous".into(),
            time: 0,
            hash: crate::store::ChainHash::GENESIS,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_subscriber_is_resynced_with_leaves_for_whoever_went() {
        let inbox = PresenceInbox::default();
        let mut state = PresenceState::default();
        let recent: Vec<Arc<OpRecord>> = Vec::new();
        let sub = Arc::new(Recorder::default());
        *sub.room.lock() = 1;
        state.subscribe(sub.clone(), 0);
        for (s, c) in [update("s1", "c1", 0, 0), update("s2", "c2", 0, 0)] {
            inbox.offer(&s, c).map_err(|_| ()).unwrap();
        }
        state.take(&inbox, 0, 0, recent.iter());
        state.flush(0, Instant::now());
        assert_eq!(sub.got.lock().len(), 2, "both presences delivered");
        // No room: s1 leaves and s2 moves while the subscriber cannot take anything.
        inbox
            .offer(&"s1".into(), PresenceChange::Leave)
            .map_err(|_| ())
            .unwrap();
        state.take(&inbox, 0, 0, recent.iter());
        state.flush(0, Instant::now());
        assert!(state.next_due().is_some(), "a resync is scheduled");
        *sub.room.lock() = 1;
        tokio::time::advance(PRESENCE_RESYNC).await;
        state.flush(0, Instant::now());
        let got = sub.got.lock();
        let tail: Vec<(&str, &str)> = got[2..]
            .iter()
            .map(|v| (v["type"].as_str().unwrap(), v["session"].as_str().unwrap()))
            .collect();
        assert_eq!(tail, [("leave", "s1"), ("presence", "s2")]);
    }

    #[tokio::test(start_paused = true)]
    async fn stored_cursors_follow_ops_with_the_documented_bias() {
        let inbox = PresenceInbox::default();
        let mut state = PresenceState::default();
        // "abc" at version 1; c2's cursor at 1 (stated at version 1).
        let mut recent = vec![record(1, "c9", r#"["abc"]"#)];
        let (s, c) = update("s2", "c2", 1, 1);
        inbox.offer(&s, c).map_err(|_| ()).unwrap();
        state.take(&inbox, 1, 3, recent.iter());
        // Someone else inserts at the cursor: it stays; its own client inserts: it is pushed.
        let others = record(2, "c9", r#"[1, "X", 2]"#);
        let own = record(3, "c2", r#"[1, "Y", 3]"#);
        state.committed(std::iter::once(&*others));
        state.committed(std::iter::once(&*own));
        recent.extend([others, own]);
        let sub = Arc::new(Recorder::default());
        *sub.room.lock() = 2;
        state.subscribe(sub.clone(), 3);
        assert_eq!(
            sub.got.lock()[0]["selection"],
            serde_json::json!([{"anchor": 2, "head": 2}])
        );
        assert_eq!(sub.got.lock()[0]["version"], 3);
        // An update stated at an old version is moved through the ops since (both by others:
        // 3 -> 4 -> 5), and one past the end of the document at its version is refused.
        let (s, c) = update("s3", "c3", 1, 3);
        inbox.offer(&s, c).map_err(|_| ()).unwrap();
        state.take(&inbox, 3, 5, recent.iter());
        state.flush(3, Instant::now());
        let s3 = sub
            .got
            .lock()
            .iter()
            .find(|v| v["session"] == "s3")
            .cloned()
            .expect("s3 broadcast");
        assert_eq!(
            s3["selection"],
            serde_json::json!([{"anchor": 5, "head": 5}])
        );
        let (reply, answer) = oneshot::channel();
        let (_, PresenceChange::Update { update, user, .. }) = update("s4", "c4", 1, 4) else {
            unreachable!()
        };
        let change = PresenceChange::Update {
            update,
            user,
            reply,
        };
        inbox.offer(&"s4".into(), change).map_err(|_| ()).unwrap();
        state.take(&inbox, 3, 5, recent.iter());
        let refused = answer.await.unwrap().unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidPresence);
    }
}
