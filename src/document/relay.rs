//! `Relay`: a document's task on a node that does not own the document (nodes share the store
//! and another node holds its lease). It keeps one [`Upstream`] connection to the owner: a
//! subscription to the document's topic, whose ops it applies to its own copy of the text and
//! pushes to its local live subscribers (the same [`Fanout`] the owner uses), and SENDs of its
//! clients' submissions, whose RECEIPTs it turns back into their outcomes. What it delivers is
//! what the owner broadcast, so only durable ops, in the owner's order.
//!
//! A text merge (`POST /docs/<id>/text`) is an ordinary submission made at its base, so the
//! relay computes its op from the stored text at `base` and forwards it like its clients'
//! submissions. The other history writes (restore, copy, delete) depend on the owner's current
//! state and are served by the owner's task only: a relay refuses them with `unavailable`,
//! naming the owner, rather than forwarding what the node-to-node STOMP cannot carry. When the owner deletes the document, the relay receives
//! its `deleted` event, tells its own live subscribers, and leaves the directory in a new epoch
//! (as an owner's task does), so subscribers that were catching up learn of it too.
//!
//! It ends when the owner goes away (the connection closes), when the store names a different
//! owner (checked once per lease period), when it retires (idle) or at shutdown. Ending, it
//! leaves the directory, tells its live subscribers where they stopped (they catch up from the
//! store and resume on the next task) and drops the submissions still waiting for the owner's
//! answer unanswered: the registry resubmits them, with the same (client, seq), to the next
//! task, so the client sees exactly one outcome.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ot::Document;
use strum::IntoEnumIterator;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::Start;
use super::cluster::Cluster;
use super::fanout::Fanout;
use super::text_diff::text_diff_off_thread;
use super::{Applied, Committed, Current, OpEvent, Request, Resumed, Subscribed};
use crate::config::limits::STORE_TIMEOUT;
use crate::error::{ErrorCode, Rejection};
use crate::peer::Upstream;
use crate::stomp::{Command, StompFrame, USER_HEADER};
use crate::store::{ChainHash, OpRecord, Owner};
use crate::wire::TextSubmission;

/// The subscription id of the relay on its upstream connection.
const SUBSCRIPTION: &str = "relay";

type Reply = oneshot::Sender<Result<Applied, Rejection>>;

/// How the relay ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Retired,
    Shutdown,
    /// The owner went away or changed.
    Moved,
    /// The owner deleted the document.
    Deleted,
}

/// The state of a relayed document.
pub(super) struct Relay {
    start: Start,
    cluster: Arc<Cluster>,
    owner: Owner,
    upstream: Upstream,
    version: u64,
    document: Document,
    /// The hash chain's link at `version`.
    hash: ChainHash,
    /// The newest ops received, with their event bodies, for resuming subscribers from memory.
    recent: VecDeque<(Arc<OpRecord>, Bytes)>,
    fanout: Fanout,
    /// Forwarded submissions waiting for their RECEIPT, by receipt id.
    forwarded: HashMap<String, Reply>,
    /// Outcomes known, waiting for the relay to receive the op's version.
    answered: Vec<(u64, Reply)>,
    /// Reads of the current text waiting for the relay to reach the store's head.
    reads: Vec<(u64, oneshot::Sender<Current>)>,
    next_receipt: u64,
    last_request: Instant,
}

fn moved(why: impl std::fmt::Display) -> String {
    why.to_string()
}

impl Relay {
    /// Subscribes to the document on `upstream` and relays it until the relay ends.
    pub(super) async fn run(start: Start, cluster: Arc<Cluster>, owner: Owner, upstream: Upstream) {
        let doc = start.doc.clone();
        let mut relay = match Self::open(start, cluster, owner, upstream).await {
            Ok(relay) => relay,
            Err((mut start, why)) => {
                tracing::info!(%doc, why, "cannot relay the document from its owner");
                start.presence.close();
                drop(start.registration);
                super::actor::abandon(&mut start.mailbox);
                return;
            }
        };
        relay.start.metrics.relayed_documents.inc();
        tracing::debug!(version = relay.version, owner = %relay.owner.node, "relaying document");
        let exit = relay.serve().await;
        relay.start.metrics.relayed_documents.dec();
        let Relay {
            mut start,
            upstream,
            mut fanout,
            ..
        } = relay;
        start.presence.close();
        match exit {
            Exit::Deleted => {
                fanout.deleted();
                start.registration.deleted();
            }
            Exit::Moved => {
                drop(start.registration);
                fanout.hand_off();
            }
            Exit::Retired | Exit::Shutdown => drop(start.registration),
        }
        super::actor::abandon(&mut start.mailbox);
        upstream.close().await;
    }

    /// Subscribes and reads the snapshot the owner answers with.
    async fn open(
        start: Start,
        cluster: Arc<Cluster>,
        owner: Owner,
        mut upstream: Upstream,
    ) -> Result<Relay, (Start, String)> {
        let subscribe = StompFrame::new(Command::Subscribe)
            .with_header("id", SUBSCRIPTION)
            .with_header("destination", format!("/topic/doc/{}", start.doc));
        let snapshot = async {
            upstream.send(&subscribe).await.map_err(moved)?;
            loop {
                let Some(frame) = upstream.next().await.map_err(moved)? else {
                    return Err("the owner closed the connection".to_owned());
                };
                match frame.command {
                    Command::Message => {
                        let body: serde_json::Value =
                            serde_json::from_slice(&frame.body).map_err(moved)?;
                        let version = body["version"].as_u64();
                        let content = body["content"].as_str();
                        let hash = body["hash"].as_str().and_then(ChainHash::from_hex);
                        match (body["type"].as_str(), version, content, hash) {
                            (Some("snapshot"), Some(v), Some(text), Some(hash)) => {
                                return Ok((v, Document::from_text(text), hash))
                            }
                            _ => return Err(format!("expected a snapshot, got {body}")),
                        }
                    }
                    Command::Error => {
                        return Err(format!(
                            "the owner refused: {}",
                            frame.header("message").unwrap_or_default()
                        ))
                    }
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(STORE_TIMEOUT, snapshot).await {
            Ok(Ok((version, document, hash))) => Ok(Relay {
                recent: VecDeque::with_capacity(start.config.recent_ops()),
                start,
                cluster,
                owner,
                upstream,
                version,
                document,
                hash,
                fanout: Fanout::default(),
                forwarded: HashMap::new(),
                answered: Vec::new(),
                reads: Vec::new(),
                next_receipt: 0,
                last_request: Instant::now(),
            }),
            Ok(Err(why)) => Err((start, why)),
            Err(_) => Err((start, "no snapshot from the owner in time".into())),
        }
    }

    async fn serve(&mut self) -> Exit {
        let check = self.cluster.lease.min(self.start.config.idle_doc());
        let mut tick = tokio::time::interval_at(Instant::now() + check, check);
        loop {
            self.start
                .registration
                .report(self.version, self.fanout.len());
            tokio::select! {
                biased;
                frame = self.upstream.next() => {
                    let frame = match frame {
                        Ok(Some(frame)) => frame,
                        Ok(None) => return self.gone("the owner closed the connection"),
                        Err(err) => return self.gone(err),
                    };
                    match self.on_frame(frame).await {
                        Ok(true) => {}
                        Ok(false) => return Exit::Deleted,
                        Err(why) => return self.gone(why),
                    }
                }
                request = self.start.mailbox.recv() => {
                    let Some(request) = request else { return Exit::Shutdown };
                    self.last_request = Instant::now();
                    if let Err(why) = self.on_request(request).await {
                        return self.gone(why);
                    }
                }
                () = self.start.phase.stopped() => return self.drain().await,
                _ = tick.tick() => {
                    if let Some(exit) = self.checkup().await {
                        return exit;
                    }
                }
            }
        }
    }

    fn gone(&self, why: impl std::fmt::Display) -> Exit {
        tracing::info!(doc = %self.start.doc, owner = %self.owner.node, %why, "stopped relaying from the owner");
        Exit::Moved
    }

    /// Once per period: is the owner still the owner, and is anyone still here?
    async fn checkup(&mut self) -> Option<Exit> {
        match self.cluster.leases.owner(&self.start.doc).await {
            Ok(Some(owner))
                if owner.incarnation == self.owner.incarnation && !owner.remaining.is_zero() => {}
            Ok(_) => return Some(self.gone("the store names another owner, or none")),
            // The owner is the fence: while it answers, relaying is right even without the store.
            Err(err) => tracing::debug!(error = %err, "cannot check the document's owner"),
        }
        if self.last_request.elapsed() < self.start.config.idle_doc() {
            return None;
        }
        let none_live = self.fanout.prune();
        let waiting = self.forwarded.is_empty() && self.answered.is_empty();
        let Start {
            registration,
            mailbox,
            weak,
            presence,
            ..
        } = &self.start;
        let unreachable = || {
            none_live
                && waiting
                && mailbox.is_empty()
                && weak.strong_count() <= 1
                && presence.close_if_empty()
        };
        registration.retire_if(unreachable).then_some(Exit::Retired)
    }

    /// Shutting down: forwards what is queued and waits (bounded) for the owner's answers, so
    /// the sessions can report them.
    async fn drain(&mut self) -> Exit {
        self.start.mailbox.close();
        while let Some(request) = self.start.mailbox.recv().await {
            if self.on_request(request).await.is_err() {
                return Exit::Shutdown;
            }
        }
        let deadline = Instant::now() + STORE_TIMEOUT;
        while !(self.forwarded.is_empty() && self.answered.is_empty()) {
            match tokio::time::timeout_at(deadline, self.upstream.next()).await {
                Ok(Ok(Some(frame))) => {
                    if !matches!(self.on_frame(frame).await, Ok(true)) {
                        break;
                    }
                }
                _ => break,
            }
        }
        Exit::Shutdown
    }

    async fn on_request(&mut self, request: Request) -> Result<(), String> {
        match request {
            Request::Submit {
                submission,
                user,
                reply,
            } => self.forward(submission.body.clone(), user, reply).await?,
            Request::Text { text, user, reply } => match self.text_submission(*text).await {
                Ok(body) => self.forward(body, user, reply).await?,
                Err(rejection) => {
                    let _ = reply.send(Err(rejection));
                }
            },
            Request::Subscribe {
                with_content,
                reply,
            } => {
                let _ = reply.send(Subscribed {
                    version: self.version,
                    hash: self.hash,
                    epoch: self.start.registration.epoch(),
                    content: with_content.then(|| self.document.to_string()),
                });
            }
            Request::Resume {
                listener,
                next,
                epoch,
                reply,
            } => {
                if epoch != self.start.registration.epoch() {
                    let _ = reply.send(Resumed::Deleted);
                    return Ok(());
                }
                let first = self.recent.front().map_or(u64::MAX, |(r, _)| r.version);
                let gap = (next >= first).then(|| {
                    let skip = usize::try_from(next - first).unwrap_or(usize::MAX);
                    Committed {
                        events: self
                            .recent
                            .iter()
                            .skip(skip)
                            .map(|(r, json)| OpEvent {
                                version: r.version,
                                json: json.clone(),
                            })
                            .collect(),
                    }
                });
                let _ = reply.send(self.fanout.resume(listener, next, self.version, || gap));
            }
            Request::Snapshot { reply } => {
                // The current text as of the store's head: a reader who was just told an op
                // is durable (on any node) finds it here too.
                let head = self.start.store.head(&self.start.doc).await.unwrap_or(0);
                if head <= self.version {
                    let _ = reply.send(self.current());
                } else {
                    self.reads.push((head, reply));
                }
            }
            // Presence is not offered while nodes share a store; the session refuses it first.
            Request::SubscribePresence { .. } => {}
            Request::Restore { reply, .. } => {
                let _ = reply.send(Err(self.owner_only()));
            }
            Request::Copy { reply, .. } => {
                let _ = reply.send(Err(self.owner_only()));
            }
            Request::Delete { reply, .. } => {
                let _ = reply.send(Err(self.owner_only()));
            }
        }
        Ok(())
    }

    /// Sends a submission's body to the owner, to be answered by its RECEIPT.
    async fn forward(&mut self, body: Bytes, user: String, reply: Reply) -> Result<(), String> {
        self.next_receipt += 1;
        let id = format!("f-{}", self.next_receipt);
        let frame = StompFrame::new(Command::Send)
            .with_header("destination", format!("/app/doc/{}", self.start.doc))
            .with_header("content-type", "application/json")
            .with_header("receipt", id.clone())
            .with_header(USER_HEADER, user)
            .with_body(body);
        // Unsent, the reply is dropped with the relay: the registry resubmits it.
        self.upstream.send(&frame).await.map_err(moved)?;
        self.start.metrics.forwarded.inc();
        self.forwarded.insert(id, reply);
        Ok(())
    }

    /// A text merge as the submission it is: the op from the stored text at `base` to the new
    /// text, made at `base` (the owner transforms it and recognises a retry by client/seq).
    async fn text_submission(&self, text: TextSubmission) -> Result<Bytes, Rejection> {
        let store_failed = |e: crate::store::StoreError| {
            Rejection::new(
                ErrorCode::Unavailable,
                format!("cannot read the base text: {e}"),
            )
        };
        let head = self
            .start
            .store
            .head(&self.start.doc)
            .await
            .map_err(store_failed)?;
        if text.base > head {
            return Err(Rejection::new(
                ErrorCode::VersionInFuture,
                format!(
                    "base version {} is after the document's current version {head}",
                    text.base
                ),
            ));
        }
        let old = self
            .start
            .store
            .content_at(&self.start.doc, text.base)
            .await
            .map_err(store_failed)?;
        let op = text_diff_off_thread(old.to_string(), text.content).await;
        let body = serde_json::json!({
            "client": text.client,
            "seq": text.seq,
            "base": text.base,
            "op": op,
        });
        Ok(Bytes::from(body.to_string()))
    }

    /// The refusal of a history write, which only the owner's task serves.
    fn owner_only(&self) -> Rejection {
        Rejection::new(
            ErrorCode::Unavailable,
            format!(
                "document {} is owned by node {} ({}); with several nodes, restore, copy and \
                 delete are served only by the owner's node: send the request there",
                self.start.doc, self.owner.node, self.owner.addr
            ),
        )
    }

    fn current(&self) -> Current {
        Current {
            version: self.version,
            content: self.document.to_string(),
            hash: self.hash,
        }
    }

    /// Handles one frame from the owner; `Ok(false)` once the owner deleted the document.
    async fn on_frame(&mut self, frame: StompFrame) -> Result<bool, String> {
        match frame.command {
            Command::Message if frame.header("subscription") == Some(SUBSCRIPTION) => {
                if is_deleted_event(&frame.body) {
                    return Ok(false);
                }
                self.on_op(frame.body)?;
                self.settle().await;
            }
            Command::Receipt => {
                let Some(reply) = frame
                    .header("receipt-id")
                    .and_then(|id| self.forwarded.remove(id))
                else {
                    return Ok(true);
                };
                if let Some(code) = frame.header("error") {
                    let code = ErrorCode::iter()
                        .find(|c| c.as_str() == code)
                        .unwrap_or(ErrorCode::Internal);
                    let message = frame.header("message").unwrap_or_default();
                    let _ = reply.send(Err(Rejection::new(code, message)));
                    return Ok(true);
                }
                let Some(version) = frame.header("version").and_then(|v| v.parse().ok()) else {
                    return Err(format!("a RECEIPT without a version: {frame:?}"));
                };
                self.answered.push((version, reply));
                self.settle().await;
            }
            Command::Error => {
                return Err(format!(
                    "the owner ended the connection: {}",
                    frame.header("message").unwrap_or_default()
                ))
            }
            _ => {}
        }
        Ok(true)
    }

    /// Applies and delivers one op event from the owner.
    fn on_op(&mut self, body: Bytes) -> Result<(), String> {
        let record: OpRecord = serde_json::from_slice(&body).map_err(moved)?;
        if record.version <= self.version {
            return Ok(());
        }
        if record.version != self.version + 1 {
            return Err(format!(
                "the owner skipped from version {} to {}",
                self.version, record.version
            ));
        }
        self.document.apply(&record.op).map_err(moved)?;
        self.version = record.version;
        self.hash = record.hash;
        if self.recent.len() == self.start.config.recent_ops() {
            self.recent.pop_front();
        }
        self.recent.push_back((Arc::new(record), body.clone()));
        let batch = Arc::new(Committed {
            events: vec![OpEvent {
                version: self.version,
                json: body,
            }],
        });
        self.fanout.deliver(&batch, &self.start.metrics);
        Ok(())
    }

    /// Answers the outcomes and reads whose version the relay has now received.
    async fn settle(&mut self) {
        let version = self.version;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.answered.drain(..).partition(|(v, _)| *v <= version);
        self.answered = waiting;
        for (v, reply) in ready {
            let op = match self.recent.iter().find(|(r, _)| r.version == v) {
                Some((record, _)) => Some(record.op.clone()),
                None => self
                    .start
                    .store
                    .op(&self.start.doc, v)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.op),
            };
            let outcome = match op {
                Some(op) => Ok(Applied {
                    version: v,
                    op,
                    duplicate: false,
                }),
                None => Err(Rejection::new(
                    ErrorCode::Internal,
                    format!("the op was stored at version {v}, but cannot be read back"),
                )),
            };
            let _ = reply.send(outcome);
        }
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.reads.drain(..).partition(|(v, _)| *v <= version);
        self.reads = waiting;
        for (_, reply) in ready {
            let _ = reply.send(self.current());
        }
    }
}

/// Whether an event body from the owner is its `{"type":"deleted"}`.
fn is_deleted_event(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        r#type: Option<&'a str>,
    }
    serde_json::from_slice::<Kind<'_>>(body).is_ok_and(|k| k.r#type == Some("deleted"))
}

/// How long a relay waits before re-checking an owner it could not reach.
pub(super) const RETRY: Duration = Duration::from_millis(200);
