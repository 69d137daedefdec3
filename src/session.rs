//! `Session`: one STOMP 1.2 connection over a WebSocket. It owns the connection's protocol
//! state (negotiation, subscriptions, transactions, heart-beats) and turns frames into document
//! requests through the registry. Outgoing frames go through one bounded queue to a writer task,
//! which also sends heart-beats and closes a connection whose writes stall.
//!
//! Rules (the contract in `docs/protocol.md`): a protocol violation gets an ERROR frame and the
//! connection is closed; a rejected op does not close anything — it is answered on the RECEIPT
//! (`error:<code>`) and on the session's `/user/queue/errors` subscription.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::FuturesOrdered;
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use warp::ws::{Message, WebSocket};

use crate::doc_id::DocId;
use crate::document::{Applied, DocumentRegistry};
use crate::protocol::{
    error_event_json, snapshot_event_json, ErrorCode, Rejection, Submission, SubmissionIds,
};
use crate::stomp::{Command, FrameParser, Parsed, StompFrame};
use crate::subscription::DocSubscription;

/// Frames queued for the writer per connection; when full, subscriptions wait (and, if they
/// fall far behind, catch up from storage later) instead of growing memory.
const OUTBOUND_CAPACITY: usize = 256;

/// How long a closing connection keeps reading (and discarding) what the client still sends.
const LINGER: Duration = Duration::from_secs(2);

/// STOMP versions this server speaks, best first.
const VERSIONS: [&str; 3] = ["1.2", "1.1", "1.0"];

/// Most SENDs one transaction may hold; a client past it gets an ERROR (memory stays bounded).
pub const MAX_TRANSACTION_FRAMES: usize = 1000;

/// The prefix of document topics (subscribe) and of document ops (send).
const TOPIC_PREFIX: &str = "/topic/doc/";
const APP_PREFIX: &str = "/app/doc/";
/// The per-session queue of rejected ops.
pub const ERRORS_DESTINATION: &str = "/user/queue/errors";

/// The user name recorded with every op until authentication exists.
pub const ANONYMOUS: &str = "anonymous";

/// What the session asks its writer task to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write a frame.
    Frame(StompFrame),
    /// From now on, write a heart-beat (EOL) whenever nothing was written for this long.
    HeartBeat(Duration),
    /// Write an ERROR frame with this message, then close the connection.
    Fatal(String),
    /// Write this ERROR frame, then close.
    FatalFrame(StompFrame),
    /// Close the connection (after everything queued before).
    Close,
}

/// Everything a session needs from the server.
#[derive(Clone)]
pub struct SessionContext {
    /// Documents.
    pub registry: DocumentRegistry,
    /// Flips to true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Held while the session (or any of its tasks) runs, so shutdown can wait for them.
    pub alive: mpsc::Sender<()>,
}

/// A frame the peer got wrong: answered with ERROR, then the connection closes.
struct ProtocolError {
    message: String,
    receipt: Option<String>,
}

fn violation(frame: &StompFrame, message: impl Into<String>) -> ProtocolError {
    ProtocolError {
        message: message.into(),
        receipt: frame.header("receipt").map(str::to_owned),
    }
}

/// The outcome of a SEND, delivered in frame order.
type Pending = Pin<Box<dyn Future<Output = Delivery> + Send + Sync>>;

/// What to tell the client once an earlier-queued request is settled.
enum Delivery {
    /// A SEND's outcome.
    Submitted {
        receipt: Option<String>,
        doc: Option<String>,
        ids: SubmissionIds,
        /// Boxed: an applied op is much larger than the other variant.
        result: Box<Result<Applied, Rejection>>,
    },
    /// A plain RECEIPT (for a frame whose effect was immediate, but which must not overtake
    /// the receipts of SENDs before it).
    Receipt(String),
}

enum Subscription {
    Doc(JoinHandle<()>),
    Errors,
}

struct Session {
    ctx: SessionContext,
    out: mpsc::Sender<Outbound>,
    session_id: String,
    user: String,
    connected: bool,
    /// Longest the peer may stay silent (twice its heart-beat interval), once negotiated.
    read_timeout: Option<Duration>,
    subscriptions: HashMap<String, Subscription>,
    /// Ids of this session's `/user/queue/errors` subscriptions (each gets every error event).
    errors_subscriptions: Vec<String>,
    transactions: HashMap<String, Vec<StompFrame>>,
    pending: FuturesOrdered<Pending>,
    error_messages: u64,
}

/// Runs a session on an upgraded WebSocket until either side closes it.
pub async fn run(ws: WebSocket, ctx: SessionContext) {
    let (sink, mut stream) = ws.split();
    let (out, out_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    let write_timeout = ctx.registry.config().write_timeout();
    let mut writer = tokio::spawn(write_loop(sink, out_rx, write_timeout, ctx.alive.clone()));
    let mut writer_done = false;
    let max_frame = ctx.registry.config().max_frame_bytes;
    let mut shutdown = ctx.shutdown.clone();
    let connect_timeout = ctx.registry.config().connect_timeout();
    let mut session = Session {
        ctx,
        out,
        session_id: uuid::Uuid::new_v4().to_string(),
        user: ANONYMOUS.to_owned(),
        connected: false,
        read_timeout: Some(connect_timeout),
        subscriptions: HashMap::new(),
        errors_subscriptions: Vec::new(),
        transactions: HashMap::new(),
        pending: FuturesOrdered::new(),
        error_messages: 0,
    };
    let mut parser = FrameParser::new(max_frame);
    loop {
        let silence = session
            .read_timeout
            .unwrap_or(Duration::from_secs(60 * 60 * 24 * 365));
        tokio::select! {
            incoming = tokio::time::timeout(silence, stream.next()) => {
                let msg = match incoming {
                    Err(_) => {
                        let ms = silence.as_millis();
                        session.fatal(format!("no data or heart-beat from the client for {ms} ms")).await;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        // E.g. a message over the WebSocket size limit: say why before closing
                        // (on a dead socket the write just fails), never close silently.
                        session.fatal(format!("invalid WebSocket message: {err}")).await;
                        break;
                    }
                    Ok(Some(Ok(msg))) => msg,
                };
                if msg.is_close() {
                    break;
                }
                if !(msg.is_text() || msg.is_binary()) {
                    continue; // pings are answered by the WebSocket layer
                }
                parser.push(msg.as_bytes());
                if !session.drain_parser(&mut parser).await {
                    break;
                }
            }
            Some(delivery) = session.pending.next(), if !session.pending.is_empty() => {
                if !session.deliver(delivery).await {
                    break;
                }
            }
            _ = stopped(&mut shutdown) => {
                session.fatal("the server is shutting down".to_owned()).await;
                break;
            }
            _ = &mut writer => {
                // The writer gave up (write timeout, socket error): nothing more can be said.
                writer_done = true;
                break;
            }
        }
    }
    session.close().await;
    // Keeps shutdown waiting until the lingering close below is over.
    let alive = session.ctx.alive.clone();
    drop(session);
    if !writer_done {
        let _ = writer.await;
    }
    // Lingering close: read and discard what the client still sends for a moment. Closing a
    // socket that has unread incoming data makes the kernel answer with a RST, and a RST makes
    // the client drop what it has not read yet — such as the ERROR or RECEIPTs just written.
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(msg)) = stream.next().await {
            if msg.is_close() {
                break;
            }
        }
    })
    .await;
    drop(alive);
}

impl Session {
    /// Handles every complete frame in the parser. False when the connection must close.
    async fn drain_parser(&mut self, parser: &mut FrameParser) -> bool {
        loop {
            match parser.next_frame() {
                Ok(None) => return true,
                Ok(Some(Parsed::HeartBeat)) => {}
                Ok(Some(Parsed::Frame(frame))) => match self.handle(frame).await {
                    Ok(true) => {}
                    Ok(false) => return false,
                    Err(err) => {
                        self.protocol_error(err).await;
                        return false;
                    }
                },
                Err(err) => {
                    self.fatal(format!("malformed frame: {err}")).await;
                    return false;
                }
            }
        }
    }

    async fn send(&self, out: Outbound) {
        // A closed queue means the writer is gone; the read loop notices on its own.
        let _ = self.out.send(out).await;
    }

    async fn fatal(&self, message: String) {
        self.send(Outbound::Fatal(message)).await;
    }

    async fn protocol_error(&self, err: ProtocolError) {
        let mut frame = StompFrame::new(Command::Error)
            .with_header("message", err.message.clone())
            .with_header("content-type", "text/plain");
        if let Some(receipt) = err.receipt {
            frame = frame.with_header("receipt-id", receipt);
        }
        let frame = frame.with_body(err.message);
        self.send(Outbound::FatalFrame(frame)).await;
    }

    /// Stops everything the session started.
    async fn close(&mut self) {
        for (_, sub) in self.subscriptions.drain() {
            if let Subscription::Doc(task) = sub {
                task.abort();
            }
        }
        // Held SENDs of open transactions are dropped with the session, as STOMP requires.
        self.transactions.clear();
        self.send(Outbound::Close).await;
    }

    /// Handles one frame. Ok(false) when the connection must close without an error.
    async fn handle(&mut self, frame: StompFrame) -> Result<bool, ProtocolError> {
        if !self.connected {
            return match frame.command {
                Command::Connect | Command::Stomp => self.connect(&frame).await.map(|()| true),
                other => Err(violation(
                    &frame,
                    format!(
                        "expected CONNECT or STOMP as the first frame, got {}",
                        other.as_str()
                    ),
                )),
            };
        }
        match frame.command {
            Command::Connect | Command::Stomp => Err(violation(
                &frame,
                "already connected: CONNECT may be sent only once",
            )),
            Command::Send => self.on_send(frame).await.map(|()| true),
            Command::Subscribe => self.on_subscribe(&frame).await.map(|()| true),
            Command::Unsubscribe => {
                let id = required(&frame, "id")?;
                match self.subscriptions.remove(id) {
                    Some(Subscription::Doc(task)) => task.abort(),
                    Some(Subscription::Errors) => self.errors_subscriptions.retain(|s| s != id),
                    None => {
                        return Err(violation(&frame, format!("no subscription with id {id:?}")))
                    }
                }
                self.receipt_in_order(&frame);
                Ok(true)
            }
            Command::Ack | Command::Nack => {
                // Subscriptions are ack:auto; acknowledgements are accepted and have no effect.
                self.receipt_in_order(&frame);
                Ok(true)
            }
            Command::Begin => {
                let tx = required(&frame, "transaction")?;
                if self.transactions.contains_key(tx) {
                    return Err(violation(
                        &frame,
                        format!("transaction {tx:?} is already open"),
                    ));
                }
                self.transactions.insert(tx.to_owned(), Vec::new());
                self.receipt_in_order(&frame);
                Ok(true)
            }
            Command::Commit => {
                let tx = required(&frame, "transaction")?;
                let Some(held) = self.transactions.remove(tx) else {
                    return Err(violation(&frame, format!("no open transaction {tx:?}")));
                };
                for send in held {
                    self.submit(send).await;
                }
                self.receipt_in_order(&frame);
                Ok(true)
            }
            Command::Abort => {
                let tx = required(&frame, "transaction")?;
                let Some(held) = self.transactions.remove(tx) else {
                    return Err(violation(&frame, format!("no open transaction {tx:?}")));
                };
                for send in held {
                    let rejection = Rejection::new(
                        ErrorCode::TransactionAborted,
                        format!("transaction {tx:?} was aborted; the op was not submitted"),
                    );
                    let receipt = send.header("receipt").map(str::to_owned);
                    let ids = submission_ids(&send);
                    let doc = doc_of(&send);
                    self.pending.push_back(Box::pin(async move {
                        Delivery::Submitted {
                            receipt,
                            doc,
                            ids,
                            result: Box::new(Err(rejection)),
                        }
                    }));
                }
                self.receipt_in_order(&frame);
                Ok(true)
            }
            Command::Disconnect => {
                // Everything before DISCONNECT is answered before its RECEIPT.
                while let Some(delivery) = self.pending.next().await {
                    self.deliver(delivery).await;
                }
                if let Some(receipt) = frame.header("receipt") {
                    self.send(Outbound::Frame(receipt_frame(receipt))).await;
                }
                Ok(false)
            }
            other => Err(violation(
                &frame,
                format!(
                    "{} is a server frame; a client may not send it",
                    other.as_str()
                ),
            )),
        }
    }

    async fn connect(&mut self, frame: &StompFrame) -> Result<(), ProtocolError> {
        let offered = frame.header("accept-version").unwrap_or("1.0");
        let version = VERSIONS
            .iter()
            .find(|v| offered.split(',').any(|o| o.trim() == **v))
            .ok_or_else(|| {
                violation(
                    frame,
                    format!(
                        "no common STOMP version: client accepts {offered:?}, server supports {}",
                        VERSIONS.join(",")
                    ),
                )
            })?;
        let (client_sends, client_wants) = match frame.header("heart-beat") {
            None => (0, 0),
            Some(hb) => parse_heart_beat(hb)
                .ok_or_else(|| violation(frame, format!("invalid heart-beat header {hb:?}")))?,
        };
        let ours = self.ctx.registry.config().heartbeat_ms;
        // STOMP 1.2 §Heart-beating: each direction runs at the larger of what one side can do
        // and the other wants, and is off if either says 0.
        let send_every = if ours == 0 || client_wants == 0 {
            0
        } else {
            ours.max(client_wants)
        };
        let expect_every = if ours == 0 || client_sends == 0 {
            0
        } else {
            ours.max(client_sends)
        };
        self.read_timeout = (expect_every > 0).then(|| Duration::from_millis(expect_every * 2));
        let connected = StompFrame::new(Command::Connected)
            .with_header("version", *version)
            .with_header("heart-beat", format!("{ours},{ours}"))
            .with_header("session", self.session_id.clone())
            .with_header("server", concat!("otterdoc/", env!("CARGO_PKG_VERSION")))
            .with_header("user-name", self.user.clone());
        self.connected = true;
        self.send(Outbound::Frame(connected)).await;
        if send_every > 0 {
            self.send(Outbound::HeartBeat(Duration::from_millis(send_every)))
                .await;
        }
        if let Some(receipt) = frame.header("receipt") {
            self.send(Outbound::Frame(receipt_frame(receipt))).await;
        }
        Ok(())
    }

    /// Queues a RECEIPT for `frame` (if it asked for one) behind every earlier outcome.
    fn receipt_in_order(&mut self, frame: &StompFrame) {
        if let Some(receipt) = frame.header("receipt") {
            let receipt = receipt.to_owned();
            self.pending
                .push_back(Box::pin(async move { Delivery::Receipt(receipt) }));
        }
    }

    async fn on_send(&mut self, frame: StompFrame) -> Result<(), ProtocolError> {
        required(&frame, "destination")?;
        if let Some(tx) = frame.header("transaction") {
            let Some(held) = self.transactions.get_mut(tx) else {
                return Err(violation(&frame, format!("no open transaction {tx:?}")));
            };
            if held.len() >= MAX_TRANSACTION_FRAMES {
                return Err(violation(
                    &frame,
                    format!("transaction {tx:?} holds more than {MAX_TRANSACTION_FRAMES} SENDs"),
                ));
            }
            held.push(frame);
            return Ok(());
        }
        self.submit(frame).await;
        Ok(())
    }

    /// Queues a SEND's op on its document; its outcome is delivered in frame order.
    async fn submit(&mut self, frame: StompFrame) {
        let receipt = frame.header("receipt").map(str::to_owned);
        let destination = frame.header("destination").unwrap_or_default();
        let doc = doc_of(&frame);
        let rejected = |rejection: Rejection, ids: SubmissionIds| -> Pending {
            let receipt = receipt.clone();
            let doc = doc.clone();
            Box::pin(async move {
                Delivery::Submitted {
                    receipt,
                    doc,
                    ids,
                    result: Box::new(Err(rejection)),
                }
            })
        };
        let Some(id) = destination.strip_prefix(APP_PREFIX) else {
            let rejection = Rejection::new(
                ErrorCode::UnknownDestination,
                format!("unknown destination {destination:?}: ops are sent to {APP_PREFIX}<id>"),
            );
            let pending = rejected(rejection, submission_ids(&frame));
            self.pending.push_back(pending);
            return;
        };
        let doc_id = match DocId::parse(id) {
            Ok(doc_id) => doc_id,
            Err(rejection) => {
                let pending = rejected(rejection, submission_ids(&frame));
                self.pending.push_back(pending);
                return;
            }
        };
        let max_op = self.ctx.registry.config().max_op_bytes;
        let submission = match Submission::parse(&frame.body, max_op) {
            Ok(submission) => submission,
            Err((rejection, ids)) => {
                let pending = rejected(rejection, ids);
                self.pending.push_back(pending);
                return;
            }
        };
        let ids = SubmissionIds {
            client: Some(submission.client.clone()),
            seq: Some(submission.seq),
        };
        let queued = self
            .ctx
            .registry
            .submit_queued(&doc_id, submission, &self.user)
            .await;
        let pending: Pending = match queued {
            Ok(outcome) => Box::pin(async move {
                Delivery::Submitted {
                    receipt,
                    doc,
                    ids,
                    result: Box::new(outcome.await),
                }
            }),
            Err(rejection) => rejected(rejection, ids),
        };
        self.pending.push_back(pending);
    }

    /// Tells the client how an earlier request ended. False when the connection must close.
    async fn deliver(&mut self, delivery: Delivery) -> bool {
        match delivery {
            Delivery::Receipt(receipt) => {
                self.send(Outbound::Frame(receipt_frame(&receipt))).await;
            }
            Delivery::Submitted {
                receipt,
                doc,
                ids,
                result,
            } => match *result {
                Ok(applied) => {
                    if let Some(receipt) = receipt {
                        let frame = receipt_frame(&receipt)
                            .with_header("version", applied.version.to_string());
                        self.send(Outbound::Frame(frame)).await;
                    }
                }
                Err(rejection) => {
                    tracing::debug!(code = %rejection.code, message = %rejection.message, "op rejected");
                    if let Some(receipt) = &receipt {
                        let frame = receipt_frame(receipt)
                            .with_header("error", rejection.code.as_str())
                            .with_header("message", rejection.message.clone());
                        self.send(Outbound::Frame(frame)).await;
                    }
                    let body =
                        error_event_json(&rejection, doc.as_deref(), &ids, receipt.as_deref());
                    for sub in self.errors_subscriptions.clone() {
                        self.error_messages += 1;
                        let frame = StompFrame::new(Command::Message)
                            .with_header("destination", ERRORS_DESTINATION)
                            .with_header("subscription", sub)
                            .with_header("message-id", format!("error-{}", self.error_messages))
                            .with_header("content-type", "application/json")
                            .with_body(body.clone());
                        self.send(Outbound::Frame(frame)).await;
                    }
                }
            },
        }
        true
    }

    async fn on_subscribe(&mut self, frame: &StompFrame) -> Result<(), ProtocolError> {
        let id = required(frame, "id")?.to_owned();
        let destination = required(frame, "destination")?.to_owned();
        if self.subscriptions.contains_key(&id) {
            return Err(violation(
                frame,
                format!("subscription id {id:?} is already in use"),
            ));
        }
        if destination == ERRORS_DESTINATION {
            self.errors_subscriptions.push(id.clone());
            self.subscriptions.insert(id, Subscription::Errors);
            self.receipt_in_order(frame);
            return Ok(());
        }
        let Some(doc) = destination.strip_prefix(TOPIC_PREFIX) else {
            return Err(violation(
                frame,
                format!(
                    "unknown destination {destination:?}: subscribe to {TOPIC_PREFIX}<id> or {ERRORS_DESTINATION}"
                ),
            ));
        };
        let doc = DocId::parse(doc).map_err(|r| violation(frame, r.message))?;
        let known = match frame.header("version") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                violation(
                    frame,
                    format!("version header {v:?} is not a non-negative integer"),
                )
            })?),
        };
        let subscribed = self
            .ctx
            .registry
            .subscribe(&doc, known.is_none())
            .await
            .map_err(|r| violation(frame, format!("cannot subscribe: {}", r.message)))?;
        let mut delivery = DocSubscription {
            doc: doc.clone(),
            id: id.clone(),
            destination,
            next: subscribed.version + 1,
            events: subscribed.events,
            durable: subscribed.durable,
            registry: self.ctx.registry.clone(),
            out: self.out.clone(),
        };
        match known {
            Some(v) if v > subscribed.version => {
                return Err(violation(
                    frame,
                    format!(
                        "version {v} is after document {doc}'s current version {} ({})",
                        subscribed.version,
                        ErrorCode::VersionInFuture
                    ),
                ));
            }
            Some(v) => delivery.next = v + 1,
            None => {
                let content = subscribed.content.unwrap_or_default();
                let body = snapshot_event_json(doc.as_str(), subscribed.version, &content);
                let message = delivery.message(format!("{id}-snapshot"), body);
                self.send(Outbound::Frame(message)).await;
            }
        }
        let alive = self.ctx.alive.clone();
        let upto = subscribed.version;
        let task = tokio::spawn(async move {
            delivery.run(upto).await;
            drop(alive);
        });
        self.subscriptions.insert(id, Subscription::Doc(task));
        self.receipt_in_order(frame);
        Ok(())
    }
}

/// Resolves once the server starts shutting down.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn required<'a>(frame: &'a StompFrame, header: &str) -> Result<&'a str, ProtocolError> {
    frame.header(header).ok_or_else(|| {
        violation(
            frame,
            format!("{} frame without a {header} header", frame.command.as_str()),
        )
    })
}

fn receipt_frame(receipt: &str) -> StompFrame {
    StompFrame::new(Command::Receipt).with_header("receipt-id", receipt)
}

/// The document id a SEND names, for error events (even when the id is invalid).
fn doc_of(frame: &StompFrame) -> Option<String> {
    frame
        .header("destination")
        .and_then(|d| d.strip_prefix(APP_PREFIX))
        .map(str::to_owned)
}

/// `client` and `seq` from a SEND body, as far as they can be read.
fn submission_ids(frame: &StompFrame) -> SubmissionIds {
    let value: serde_json::Value = serde_json::from_slice(&frame.body).unwrap_or_default();
    SubmissionIds {
        client: value
            .get("client")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        seq: value.get("seq").and_then(serde_json::Value::as_u64),
    }
}

/// Parses `cx,cy` (two non-negative integers, in ms).
fn parse_heart_beat(value: &str) -> Option<(u64, u64)> {
    let (x, y) = value.split_once(',')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

/// Writes queued frames to the socket, sends heart-beats when idle, and gives up on a
/// connection whose writes stall for `write_timeout`.
async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    write_timeout: Duration,
    alive: mpsc::Sender<()>,
) {
    let mut heart_beat: Option<Duration> = None;
    loop {
        let idle = heart_beat.unwrap_or(Duration::from_secs(60 * 60 * 24 * 365));
        let next = match tokio::time::timeout(idle, rx.recv()).await {
            Err(_) => Some(Message::text("\n")),
            Ok(None) => break,
            Ok(Some(Outbound::HeartBeat(every))) => {
                heart_beat = Some(every);
                None
            }
            Ok(Some(Outbound::Frame(frame))) => Some(encode(&frame)),
            Ok(Some(Outbound::Fatal(message))) => {
                let frame = StompFrame::new(Command::Error)
                    .with_header("message", message.clone())
                    .with_header("content-type", "text/plain")
                    .with_body(message);
                let _ = tokio::time::timeout(write_timeout, sink.send(encode(&frame))).await;
                break;
            }
            Ok(Some(Outbound::FatalFrame(frame))) => {
                let _ = tokio::time::timeout(write_timeout, sink.send(encode(&frame))).await;
                break;
            }
            Ok(Some(Outbound::Close)) => break,
        };
        if let Some(msg) = next {
            match tokio::time::timeout(write_timeout, sink.send(msg)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::warn!(
                        timeout_ms = write_timeout.as_millis() as u64,
                        "closing a connection whose writes stalled"
                    );
                    let frame = StompFrame::new(Command::Error).with_header(
                        "message",
                        format!(
                            "write timeout: the client read nothing for {} ms",
                            write_timeout.as_millis()
                        ),
                    );
                    let _ =
                        tokio::time::timeout(Duration::from_millis(100), sink.send(encode(&frame)))
                            .await;
                    break;
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    // Unblock anyone still queueing frames for this connection.
    rx.close();
    drop(alive);
}

fn encode(frame: &StompFrame) -> Message {
    let bytes = frame.encode();
    match std::str::from_utf8(&bytes) {
        Ok(text) => Message::text(text.to_owned()),
        Err(_) => Message::binary(bytes),
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("subscriptions", &self.subscriptions.len())
            .finish()
    }
}
