//! An ot.js-style editing client over [`StompClient`], for end-to-end collaboration tests.
//!
//! It keeps the local content, the last server version it knows, and the classic three-state
//! machine of ot.js: at most ONE op in flight (sent, not yet acknowledged) plus a buffer (local
//! edits made meanwhile, composed into one op). Local edits apply to the local content at once.
//! When an op event arrives:
//! - if it is the in-flight op (same `client` and `seq`), that op is acknowledged: the version
//!   becomes the event's and the buffer (if any) is sent next, based on that version;
//! - otherwise the in-flight op and the buffer are transformed against it (pending ops on
//!   `Side::Left`, as the server puts an incoming op against its history), the transformed
//!   incoming op is applied locally, and the version becomes the event's.
//!
//! Every SEND carries a receipt `op-<seq>`. The RECEIPT is checked (an `error` header panics) and
//! also acknowledges the in-flight op when it names exactly the next version (every earlier op
//! has been seen); otherwise the acknowledgement waits for the op's own event. Either order of
//! RECEIPT and op event is handled, and the two must agree on the version.
//!
//! A client outlives its connection: when the server goes away it keeps editing locally, and
//! [`OtClient::reconnect`] resubscribes from the last version it knows, takes in what it missed
//! (its own in-flight op among it, if that had been applied) and resubmits what is still
//! unacknowledged, transformed to that version.

use std::collections::HashMap;
use std::time::Duration;

use ot::{transform, Document, Operation, Side};
use otterdoc::stomp::{Command, StompFrame};
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::stomp::{body_json, Incoming, StompClient};
use super::{TestServer, WAIT};

/// Pieces of text random edits are made of: ASCII, Latin-1, CJK, combining marks, astral-plane
/// emoji (4 UTF-8 bytes, 2 UTF-16 units), ZWJ sequences, flags, skin tones, newlines.
const PIECES: &[&str] = &[
    "a",
    "b",
    "c",
    "x",
    "y",
    " ",
    " ",
    "\n",
    "é",
    "ß",
    "Ω",
    "中",
    "文",
    "한",
    "e\u{301}",
    "😀",
    "👍",
    "👍🏽",
    "🇫🇷",
    "👩\u{200D}💻",
    "𝄞",
    "\u{FE0F}",
    "\u{10FFFF}",
];

struct InFlight {
    seq: u64,
    base: u64,
    op: Operation,
}

/// One editor of one document, connected over its own STOMP connection.
pub struct OtClient {
    stomp: StompClient,
    /// False once a send failed or the server closed the connection (until a reconnect).
    connected: bool,
    doc: String,
    sub: String,
    client_id: String,
    content: Document,
    version: u64,
    next_seq: u64,
    inflight: Option<InFlight>,
    buffer: Option<Operation>,
    /// Versions of our acknowledged ops, by seq.
    acked: HashMap<u64, u64>,
    /// Versions named by RECEIPTs that arrived before the op's own event, by seq.
    receipts: HashMap<u64, u64>,
    /// Ops sent to the server.
    pub sent: u64,
    /// Foreign ops received while something of ours was pending (i.e. really transformed).
    pub transformed: u64,
    /// Foreign ops received.
    pub received: u64,
    /// Acknowledgements that came from a RECEIPT (before the op's own event) and from the
    /// op's own event (before or without the RECEIPT).
    pub acked_by_receipt: u64,
    pub acked_by_event: u64,
}

impl OtClient {
    /// Connects to `server`, subscribes to `doc` and loads its snapshot.
    pub async fn join(server: &TestServer, doc: &str) -> OtClient {
        let stomp = server.client().await;
        let client_id = format!("ot-{}", uuid::Uuid::new_v4().simple());
        Self::join_with(stomp, doc, &client_id).await
    }

    /// Like [`Self::join`] over an already connected `stomp`, with a given client id.
    pub async fn join_with(mut stomp: StompClient, doc: &str, client_id: &str) -> OtClient {
        let sub = format!("ot-sub-{doc}");
        let frames = stomp
            .subscribe_confirmed(&sub, &format!("/topic/doc/{doc}"), &[])
            .await;
        let mut frames = frames.into_iter();
        let snapshot = frames
            .next()
            .expect("a snapshot before the SUBSCRIBE receipt");
        assert_eq!(snapshot.command, Command::Message, "{snapshot:?}");
        let snap = body_json(&snapshot);
        assert_eq!(snap["type"], "snapshot", "{snap}");
        assert_eq!(snap["doc"], doc, "{snap}");
        let mut client = OtClient {
            stomp,
            connected: true,
            doc: doc.to_owned(),
            sub,
            client_id: client_id.to_owned(),
            content: Document::from_text(snap["content"].as_str().expect("snapshot content")),
            version: snap["version"].as_u64().expect("snapshot version"),
            next_seq: 0,
            inflight: None,
            buffer: None,
            acked: HashMap::new(),
            receipts: HashMap::new(),
            sent: 0,
            transformed: 0,
            received: 0,
            acked_by_receipt: 0,
            acked_by_event: 0,
        };
        for frame in frames {
            client.handle(frame).await;
        }
        client
    }

    /// Joins `doc` on the server at `url` (a `ws://` URL), as a fresh client.
    pub async fn join_url(url: &str, doc: &str) -> OtClient {
        let mut stomp = StompClient::open(url).await;
        stomp.connect().await;
        let client_id = format!("ot-{}", uuid::Uuid::new_v4().simple());
        Self::join_with(stomp, doc, &client_id).await
    }

    /// Connects again, to the server at `url`, whose document is at version `current` (or
    /// later): resubscribes from the last version this client knows, takes in every op up to
    /// `current`, then resubmits the in-flight op if the server never applied it (had it, its
    /// op event would have been among those).
    pub async fn reconnect(&mut self, url: &str, current: u64) {
        let mut stomp = StompClient::open(url).await;
        stomp.connect().await;
        let version = self.version.to_string();
        let frames = stomp
            .subscribe_confirmed(
                &self.sub,
                &format!("/topic/doc/{}", self.doc),
                &[("version", &version)],
            )
            .await;
        self.stomp = stomp;
        self.connected = true;
        // RECEIPTs of SENDs on the old connection never come: forget the ones half-known.
        self.receipts.clear();
        for frame in frames {
            self.handle(frame).await;
        }
        self.wait_until(|c| c.version >= current).await;
        if let Some(inflight) = self.inflight.take() {
            self.transmit(inflight.seq, inflight.op).await;
        }
    }

    /// Every op of this client the server acknowledged (by RECEIPT or by its op event), as
    /// (seq, version).
    pub fn acknowledged(&self) -> Vec<(u64, u64)> {
        let mut all: Vec<(u64, u64)> = self
            .acked
            .iter()
            .chain(self.receipts.iter())
            .map(|(&seq, &version)| (seq, version))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The number of ops this client has sent (its last seq).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The local content (including edits not yet acknowledged).
    pub fn content(&self) -> String {
        self.content.to_string()
    }

    /// The last server version this client has incorporated.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Nothing in flight and nothing buffered.
    pub fn is_idle(&self) -> bool {
        self.inflight.is_none() && self.buffer.is_none()
    }

    /// Replaces `delete` chars at `pos` (in chars) with `insert`, locally and then on the server.
    pub async fn splice(&mut self, pos: usize, delete: usize, insert: &str) {
        let op = Operation::splice(self.content.char_len(), pos, delete, insert)
            .unwrap_or_else(|e| panic!("local edit out of range: {e}"));
        self.apply_local(op).await;
    }

    pub async fn insert(&mut self, pos: usize, text: &str) {
        self.splice(pos, 0, text).await;
    }

    pub async fn delete(&mut self, pos: usize, len: usize) {
        self.splice(pos, len, "").await;
    }

    /// Applies a local op (spanning the local content) and sends or buffers it.
    pub async fn apply_local(&mut self, op: Operation) {
        if op.is_noop() {
            return;
        }
        self.content
            .apply(&op)
            .unwrap_or_else(|e| panic!("local op does not apply: {e}"));
        if self.inflight.is_none() {
            self.send(op).await;
        } else {
            self.buffer = Some(match self.buffer.take() {
                None => op,
                Some(buffer) => buffer
                    .compose(&op)
                    .unwrap_or_else(|e| panic!("compose failed: {e}")),
            });
        }
    }

    /// One random edit: an insert (more likely while the text is short), a delete of 1–3 chars,
    /// or a replacement; inserted text mixes ASCII with multi-byte chars and emoji.
    pub async fn random_edit<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        let len = self.content.char_len();
        let insert_weight = if len < 40 { 0.75 } else { 0.5 };
        let text = random_text(rng, 1, 4);
        if len == 0 || rng.random_bool(insert_weight) {
            let pos = rng.random_range(0..=len);
            self.insert(pos, &text).await;
        } else {
            let pos = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - pos).min(3));
            if rng.random_bool(0.3) {
                self.splice(pos, n, &text).await;
            } else {
                self.delete(pos, n).await;
            }
        }
    }

    async fn send(&mut self, op: Operation) {
        assert!(self.inflight.is_none(), "only one op may be in flight");
        if op.is_noop() {
            // A buffer whose edits cancelled out: nothing to tell anyone.
            return;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        self.transmit(seq, op).await;
    }

    /// Sends op `seq` based on the current version and puts it in flight. While disconnected
    /// it only goes in flight: [`Self::reconnect`] sends it.
    async fn transmit(&mut self, seq: u64, op: Operation) {
        if self.connected {
            let body =
                json!({"client": self.client_id, "seq": seq, "base": self.version, "op": op});
            let frame = StompFrame::new(Command::Send)
                .with_header("destination", format!("/app/doc/{}", self.doc))
                .with_header("content-type", "application/json")
                .with_header("receipt", format!("op-{seq}"))
                .with_body(body.to_string());
            self.connected = self.stomp.try_send(&frame).await;
            self.sent += 1;
        }
        self.inflight = Some(InFlight {
            seq,
            base: self.version,
            op,
        });
    }

    /// The in-flight op is acknowledged at `version`; the buffer goes out next.
    async fn ack(&mut self, version: u64) {
        let inflight = self
            .inflight
            .take()
            .expect("an op in flight to acknowledge");
        assert!(
            version > inflight.base,
            "ack version {version} <= base {}",
            inflight.base
        );
        self.acked.insert(inflight.seq, version);
        self.version = version;
        if let Some(buffer) = self.buffer.take() {
            self.send(buffer).await;
        }
    }

    async fn handle(&mut self, frame: StompFrame) {
        match frame.command {
            Command::Message => {
                let body = body_json(&frame);
                assert_eq!(
                    frame.header("subscription"),
                    Some(self.sub.as_str()),
                    "{frame:?}"
                );
                match body["type"].as_str() {
                    Some("op") => self.on_op(&body).await,
                    _ => panic!("{}: unexpected message {body}", self.client_id),
                }
            }
            Command::Receipt => self.on_receipt(&frame).await,
            _ => panic!("{}: unexpected frame {frame:?}", self.client_id),
        }
    }

    async fn on_receipt(&mut self, frame: &StompFrame) {
        let id = frame.header("receipt-id").unwrap_or_default();
        let Some(seq) = id.strip_prefix("op-").and_then(|s| s.parse::<u64>().ok()) else {
            panic!("{}: unexpected RECEIPT {frame:?}", self.client_id);
        };
        if let Some(code) = frame.header("error") {
            panic!(
                "{}: op {seq} rejected: {code}: {:?}",
                self.client_id,
                frame.header("message")
            );
        }
        let version: u64 = frame
            .header("version")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("RECEIPT of a SEND without a version: {frame:?}"));
        if let Some(&acked) = self.acked.get(&seq) {
            assert_eq!(
                acked, version,
                "{}: RECEIPT and op event disagree",
                self.client_id
            );
            return;
        }
        let ours = self.inflight.as_ref().is_some_and(|f| f.seq == seq);
        assert!(
            ours,
            "{}: RECEIPT for op {seq}, which is not in flight",
            self.client_id
        );
        if version == self.version + 1 {
            // Every op before ours has been seen: this is the op's place in the history.
            self.acked_by_receipt += 1;
            self.ack(version).await;
        } else {
            assert!(
                version > self.version,
                "{}: stale RECEIPT {frame:?}",
                self.client_id
            );
            self.receipts.insert(seq, version);
        }
    }

    async fn on_op(&mut self, event: &Value) {
        assert_eq!(event["doc"], self.doc.as_str(), "{event}");
        let version = event["version"].as_u64().expect("op event version");
        let client = event["client"].as_str().expect("op event client");
        let seq = event["seq"].as_u64().expect("op event seq");
        let ours = client == self.client_id;
        if version <= self.version {
            // Only our own op, acknowledged by its RECEIPT already, can come "late".
            assert!(
                ours && self.acked.get(&seq) == Some(&version),
                "{}: duplicate or out-of-order op event {event} at version {}",
                self.client_id,
                self.version
            );
            return;
        }
        assert_eq!(
            version,
            self.version + 1,
            "{}: gap in the op events: got {event}",
            self.client_id
        );
        if ours {
            let inflight_seq = self.inflight.as_ref().map(|f| f.seq);
            assert_eq!(
                inflight_seq,
                Some(seq),
                "{}: own op event for seq {seq}, but in flight is {inflight_seq:?}",
                self.client_id
            );
            if let Some(v) = self.receipts.remove(&seq) {
                assert_eq!(
                    v, version,
                    "{}: RECEIPT and op event disagree",
                    self.client_id
                );
            }
            self.acked_by_event += 1;
            self.ack(version).await;
            return;
        }
        let mut incoming: Operation =
            serde_json::from_value(event["op"].clone()).expect("op event op parses");
        self.received += 1;
        if self.inflight.is_some() || self.buffer.is_some() {
            self.transformed += 1;
        }
        if let Some(inflight) = &mut self.inflight {
            let (pending, received) = transform(&inflight.op, &incoming, Side::Left)
                .unwrap_or_else(|e| panic!("transform against in-flight op: {e}"));
            inflight.op = pending;
            incoming = received;
        }
        if let Some(buffer) = &mut self.buffer {
            let (pending, received) = transform(buffer, &incoming, Side::Left)
                .unwrap_or_else(|e| panic!("transform against buffer: {e}"));
            *buffer = pending;
            incoming = received;
        }
        self.content
            .apply(&incoming)
            .unwrap_or_else(|e| panic!("{}: transformed op does not apply: {e}", self.client_id));
        self.version = version;
    }

    /// Handles at most one incoming frame, waiting up to `wait`. False if nothing came.
    pub async fn pump(&mut self, wait: Duration) -> bool {
        match self.try_pump(wait).await {
            Some(handled) => handled,
            None => panic!("{}: the server closed the connection", self.client_id),
        }
    }

    /// Like [`Self::pump`]; None if the connection is gone.
    pub async fn try_pump(&mut self, wait: Duration) -> Option<bool> {
        if !self.connected {
            return None;
        }
        match self.stomp.next_within(wait).await {
            None => Some(false),
            Some(Incoming::HeartBeat) => Some(true),
            Some(Incoming::Closed) => {
                self.connected = false;
                None
            }
            Some(Incoming::Frame(frame)) => {
                self.handle(frame).await;
                Some(true)
            }
        }
    }

    /// Handles incoming frames for `duration` (an editor idling between keystrokes).
    pub async fn pump_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        loop {
            let now = Instant::now();
            if now >= deadline {
                // Take whatever is already there without waiting.
                while self.pump(Duration::ZERO).await {}
                return;
            }
            self.pump(deadline - now).await;
        }
    }

    /// Waits until nothing is in flight and nothing is buffered.
    pub async fn wait_idle(&mut self) {
        self.wait_until(|c| c.is_idle()).await;
    }

    /// Waits until idle and at `version` (or later).
    pub async fn wait_version(&mut self, version: u64) {
        self.wait_until(|c| c.is_idle() && c.version >= version)
            .await;
    }

    async fn wait_until(&mut self, done: impl Fn(&OtClient) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "{}: timed out (version {}, in flight: {}, buffered: {})",
                self.client_id,
                self.version,
                self.inflight.is_some(),
                self.buffer.is_some()
            );
            self.pump(deadline - now).await;
        }
    }

    pub async fn close(self) {
        self.stomp.close().await;
    }
}

/// Random text of `min..=max` pieces of [`PIECES`].
pub fn random_text<R: Rng + ?Sized>(rng: &mut R, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}
