//! `Session`: one STOMP 1.2 connection. It reads the client's bytes, parses frames, and
//! dispatches each command; everything it says goes through the connection's [`Outbox`].
//! The rooms it uses: `negotiate.rs` (version and heart-beats), `destination.rs` (what a
//! destination names), `transactions.rs` (held SENDs), `replies.rs` (outcomes in frame order,
//! the errors queue); subscriptions are [`DocSubscription`]s and [`PresenceSubscription`]s, and
//! where the session is present is its [`SessionPresence`].
//!
//! Rules (the contract in `docs/protocol.md`): a protocol violation gets an ERROR frame and the
//! connection is closed; a rejected op does not close anything — it is answered on the RECEIPT
//! (`error:<code>`) and on the session's `/user/queue/errors` subscription.

mod destination;
mod negotiate;
mod replies;
mod transactions;

use std::collections::HashMap;
use std::fmt::Display;
use std::time::Duration;

use bytes::Bytes;
use futures::{Sink, Stream, StreamExt};
use tracing::Instrument;

use crate::app::App;
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::identity::ANONYMOUS;
use crate::presence::{PresenceSubscription, SessionPresence};
use crate::stomp::{
    self, server, ClientCommand, Closed, Command, Connected, FrameParser, Inbound, Outbox, Parsed,
    Violation,
};
use crate::subscription::{DocSubscription, Subscriber};
use crate::wire::{PresenceUpdate, Submission, SubmissionIds};

pub use destination::{APP_PREFIX, ERRORS_DESTINATION, PRESENCE_SUFFIX, TOPIC_PREFIX};
pub use negotiate::VERSIONS;

use replies::Replies;
use transactions::Transactions;

/// Stands in for "no read timeout" where a timer needs a duration.
const FOREVER: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// The optional features this server has, announced in CONNECTED's `features` header so a
/// client need not probe for them.
pub const FEATURES: &[&str] = &["presence"];

enum Subscription {
    Document(DocSubscription),
    Presence(DocId, PresenceSubscription),
    Errors,
}

/// Whether the session goes on after a frame.
enum Flow {
    Continue,
    /// Close without an error (DISCONNECT).
    Close,
}

struct Session {
    app: App,
    outbox: Outbox,
    id: String,
    user: String,
    connected: bool,
    /// Longest the peer may stay silent, once negotiated (before CONNECT: the connect timeout).
    read_timeout: Option<Duration>,
    subscriptions: HashMap<String, Subscription>,
    /// Where this session is present (it leaves those documents when it ends).
    presence: SessionPresence,
    transactions: Transactions,
    replies: Replies,
}

/// Runs a session over a transport (any stream of [`Inbound`] chunks and sink of outgoing
/// frames) until either side closes it.
pub async fn run<R, E, W>(app: App, inbound: R, sink: W)
where
    R: Stream<Item = Result<Inbound, E>> + Unpin + Send,
    E: Display,
    W: Sink<Bytes> + Unpin + Send + 'static,
    W::Error: Display + Send,
{
    // Counts as a running connection for shutdown until the lingering close is over.
    let _alive = app.shutdown.connections.token();
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("session", session = %id, user = tracing::field::Empty);
    serve(app, id, inbound, sink).instrument(span).await;
}

async fn serve<R, E, W>(app: App, id: String, mut inbound: R, sink: W)
where
    R: Stream<Item = Result<Inbound, E>> + Unpin + Send,
    E: Display,
    W: Sink<Bytes> + Unpin + Send + 'static,
    W::Error: Display + Send,
{
    let (outbox, writer) = stomp::writer(sink, app.config.write_timeout());
    let mut writer = app.shutdown.connections.spawn(writer);
    let mut parser = FrameParser::new(app.config.max_frame_bytes);
    let mut session = Session {
        read_timeout: Some(app.config.connect_timeout()),
        app,
        outbox,
        presence: SessionPresence::new(&id),
        id,
        user: ANONYMOUS.to_owned(),
        connected: false,
        subscriptions: HashMap::new(),
        transactions: Transactions::default(),
        replies: Replies::default(),
    };
    let shutdown = session.app.shutdown.connections.clone();
    let mut writer_done = false;
    loop {
        let silence = session.read_timeout.unwrap_or(FOREVER);
        tokio::select! {
            incoming = tokio::time::timeout(silence, inbound.next()) => {
                let chunk = match incoming {
                    Err(_) => {
                        let ms = silence.as_millis();
                        session.fatal(&format!("no data or heart-beat from the client for {ms} ms")).await;
                        break;
                    }
                    Ok(None) | Ok(Some(Ok(Inbound::Close))) => break,
                    Ok(Some(Err(err))) => {
                        // E.g. a message over the size limit: say why before closing (on a dead
                        // socket the write just fails), never close silently.
                        session.fatal(&err.to_string()).await;
                        break;
                    }
                    Ok(Some(Ok(Inbound::Control))) => continue,
                    Ok(Some(Ok(Inbound::Data(bytes)))) => bytes,
                };
                parser.push(&chunk);
                // Boxed, here and below: handling a frame needs far more state than waiting for
                // one, and an idle connection should only hold the latter.
                if !Box::pin(session.drain_parser(&mut parser)).await {
                    break;
                }
            }
            Some(outcome) = session.replies.next(), if !session.replies.is_empty() => {
                if Box::pin(session.replies.report(outcome, &session.outbox)).await.is_err() {
                    break;
                }
            }
            () = shutdown.stopped() => {
                session.fatal("the server is shutting down").await;
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
    drop(session);
    if !writer_done {
        let _ = writer.await;
    }
    stomp::linger(&mut inbound).await;
}

impl Session {
    /// Handles every complete frame in the parser. False when the connection must close.
    async fn drain_parser(&mut self, parser: &mut FrameParser) -> bool {
        loop {
            match parser.next_frame() {
                Ok(None) => return true,
                Ok(Some(Parsed::HeartBeat)) => {}
                Ok(Some(Parsed::Frame(frame))) => match self.handle(frame).await {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Close) => return false,
                    Err(violation) => {
                        self.outbox.fatal(server::violation(&violation)).await;
                        return false;
                    }
                },
                Err(err) => {
                    self.fatal(&format!("malformed frame: {err}")).await;
                    return false;
                }
            }
        }
    }

    async fn fatal(&self, message: &str) {
        self.outbox.fatal(server::error(message, None)).await;
    }

    /// Stops everything the session started.
    async fn close(&mut self) {
        for (_, subscription) in self.subscriptions.drain() {
            match subscription {
                Subscription::Document(subscription) => subscription.stop().await,
                Subscription::Presence(_, subscription) => subscription.stop().await,
                Subscription::Errors => {}
            }
        }
        // However the session ends, it leaves every document it was present in.
        self.presence.end(&self.app.documents);
        // Held SENDs of open transactions are dropped with the session, as STOMP requires.
        self.transactions.clear();
        self.outbox.close().await;
    }

    /// Handles one frame.
    async fn handle(&mut self, frame: stomp::StompFrame) -> Result<Flow, Violation> {
        if !self.connected && !matches!(frame.command, Command::Connect | Command::Stomp) {
            return Err(Violation::new(
                format!(
                    "expected CONNECT or STOMP as the first frame, got {}",
                    frame.command.as_str()
                ),
                frame.header("receipt"),
            ));
        }
        let command = ClientCommand::from_frame(frame)?;
        let receipt = command.receipt().map(str::to_owned);
        let violation = |message: String| Violation::new(message, receipt.as_deref());
        match command {
            ClientCommand::Connect(_) if self.connected => Err(violation(
                "already connected: CONNECT may be sent only once".into(),
            )),
            ClientCommand::Connect(connect) => self.on_connect(connect).await.map_err(violation),
            ClientCommand::Send(send) => self.on_send(send).await.map_err(violation),
            ClientCommand::Subscribe(subscribe) => {
                self.on_subscribe(subscribe).await.map_err(violation)
            }
            ClientCommand::Unsubscribe { id, receipt } => {
                match self.subscriptions.remove(&id) {
                    Some(Subscription::Document(subscription)) => subscription.stop().await,
                    Some(Subscription::Presence(doc, subscription)) => {
                        subscription.stop().await;
                        self.presence.unsubscribed(&doc, &self.app.documents);
                    }
                    Some(Subscription::Errors) => self.replies.unsubscribe_errors(&id),
                    None => return Err(violation(format!("no subscription with id {id:?}"))),
                }
                self.replies.receipt(receipt.as_deref());
                Ok(Flow::Continue)
            }
            ClientCommand::Acknowledge { receipt } => {
                // Subscriptions are ack:auto; acknowledgements are accepted and have no effect.
                self.replies.receipt(receipt.as_deref());
                Ok(Flow::Continue)
            }
            ClientCommand::Begin {
                transaction,
                receipt,
            } => {
                self.transactions.begin(&transaction).map_err(violation)?;
                self.replies.receipt(receipt.as_deref());
                Ok(Flow::Continue)
            }
            ClientCommand::Commit {
                transaction,
                receipt,
            } => {
                for send in self.transactions.end(&transaction).map_err(violation)? {
                    self.submit(send).await;
                }
                self.replies.receipt(receipt.as_deref());
                Ok(Flow::Continue)
            }
            ClientCommand::Abort {
                transaction,
                receipt,
            } => {
                for send in self.transactions.end(&transaction).map_err(violation)? {
                    let rejection = Rejection::new(
                        ErrorCode::TransactionAborted,
                        format!(
                            "transaction {transaction:?} was aborted; the op was not submitted"
                        ),
                    );
                    let ids = submission_ids(&send.body);
                    let doc = destination::named_document(&send.destination);
                    self.replies.rejected(send.receipt, doc, ids, rejection);
                }
                self.replies.receipt(receipt.as_deref());
                Ok(Flow::Continue)
            }
            ClientCommand::Disconnect { receipt } => {
                // Everything before DISCONNECT is answered before its RECEIPT.
                if self.replies.drain(&self.outbox).await.is_ok() {
                    if let Some(receipt) = receipt {
                        let _ = self.outbox.frame(server::receipt(&receipt)).await;
                    }
                }
                Ok(Flow::Close)
            }
        }
    }

    async fn on_connect(&mut self, connect: stomp::Connect) -> Result<Flow, String> {
        let version = negotiate::version(connect.accept_version.as_deref())?;
        let ours = self.app.config.heartbeat_ms;
        let heart_beats = negotiate::heart_beats(ours, connect.heart_beat.as_deref())?;
        self.read_timeout = heart_beats.read_timeout;
        tracing::Span::current().record("user", self.user.as_str());
        let connected = server::connected(&Connected {
            version,
            heart_beat: (ours, ours),
            session: &self.id,
            user: &self.user,
            features: FEATURES,
        });
        self.connected = true;
        self.say(connected).await;
        if let Some(every) = heart_beats.send_every {
            let _ = self.outbox.heart_beat(every).await;
        }
        if let Some(receipt) = connect.receipt {
            self.say(server::receipt(&receipt)).await;
        }
        Ok(Flow::Continue)
    }

    /// Queues a frame; a closed outbox is noticed by the run loop (the writer has ended).
    async fn say(&self, frame: stomp::StompFrame) {
        let _: Result<(), Closed> = self.outbox.frame(frame).await;
    }

    async fn on_send(&mut self, send: stomp::Send) -> Result<Flow, String> {
        match send.transaction.clone() {
            Some(tx) => self.transactions.hold(&tx, send)?,
            None => self.submit(send).await,
        }
        Ok(Flow::Continue)
    }

    /// Queues a SEND's op (or presence update) on its document; its outcome is reported in
    /// frame order.
    async fn submit(&mut self, send: stomp::Send) {
        let doc = destination::named_document(&send.destination);
        let doc_id = match destination::send_target(&send.destination) {
            Ok(destination::Target::Ops(doc_id)) => doc_id,
            Ok(destination::Target::Presence(doc_id)) => {
                self.send_presence(send, doc, doc_id);
                return;
            }
            Err(rejection) => {
                let ids = submission_ids(&send.body);
                self.replies.rejected(send.receipt, doc, ids, rejection);
                return;
            }
        };
        let submission = match Submission::parse(&send.body, self.app.config.max_op_bytes) {
            Ok(submission) => submission,
            Err((rejection, ids)) => {
                self.replies.rejected(send.receipt, doc, ids, rejection);
                return;
            }
        };
        let ids = SubmissionIds {
            client: Some(submission.client.clone()),
            seq: Some(submission.seq),
        };
        let queued = self
            .app
            .documents
            .submit_queued(&doc_id, submission, &self.user)
            .await;
        match queued {
            Ok(outcome) => self.replies.submitted(send.receipt, doc, ids, outcome),
            Err(rejection) => self.replies.rejected(send.receipt, doc, ids, rejection),
        }
    }

    /// `SEND /app/doc/<id>/presence`: hands the update to the document's task, which never
    /// makes this wait. This and the presence SUBSCRIBE (in [`Self::on_subscribe`]) are the
    /// two entry points of presence, where a read-access check on `doc_id` belongs.
    fn send_presence(&mut self, send: stomp::Send, doc: Option<String>, doc_id: DocId) {
        let update = match PresenceUpdate::parse(&send.body) {
            Ok(update) => update,
            Err((rejection, ids)) => {
                self.replies.rejected(send.receipt, doc, ids, rejection);
                return;
            }
        };
        let ids = SubmissionIds {
            client: Some(update.client.clone()),
            seq: None,
        };
        let handed =
            self.app
                .documents
                .presence(&doc_id, self.presence.session(), &self.user, update);
        match handed {
            Ok(outcome) => {
                self.presence.sent(&doc_id);
                self.replies.presence(send.receipt, doc, ids, outcome);
            }
            Err(rejection) => self.replies.rejected(send.receipt, doc, ids, rejection),
        }
    }

    async fn on_subscribe(&mut self, subscribe: stomp::Subscribe) -> Result<Flow, String> {
        let stomp::Subscribe {
            id,
            destination,
            version,
            receipt,
        } = subscribe;
        if self.subscriptions.contains_key(&id) {
            return Err(format!("subscription id {id:?} is already in use"));
        }
        let doc = match destination::subscription(&destination)? {
            destination::Subscription::Errors => {
                self.replies.subscribe_errors(&id);
                self.subscriptions.insert(id, Subscription::Errors);
                self.replies.receipt(receipt.as_deref());
                return Ok(Flow::Continue);
            }
            destination::Subscription::Presence(doc) => {
                // The second presence entry point (see `send_presence`).
                let subscriber = Subscriber {
                    id: id.clone(),
                    destination,
                    outbox: self.outbox.clone(),
                };
                let subscription = PresenceSubscription::start(
                    &self.app.subscription_sources(),
                    doc.clone(),
                    subscriber,
                )
                .await?;
                self.presence.subscribed(&doc);
                self.subscriptions
                    .insert(id, Subscription::Presence(doc, subscription));
                self.replies.receipt(receipt.as_deref());
                return Ok(Flow::Continue);
            }
            destination::Subscription::Document(doc) => doc,
        };
        let known = match version {
            None => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| format!("version header {v:?} is not a non-negative integer"))?,
            ),
        };
        let subscriber = Subscriber {
            id: id.clone(),
            destination,
            outbox: self.outbox.clone(),
        };
        let subscription =
            DocSubscription::start(&self.app.subscription_sources(), doc, known, subscriber)
                .await?;
        self.subscriptions
            .insert(id, Subscription::Document(subscription));
        self.replies.receipt(receipt.as_deref());
        Ok(Flow::Continue)
    }
}

/// `client` and `seq` from a SEND body, as far as they can be read.
fn submission_ids(body: &[u8]) -> SubmissionIds {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    SubmissionIds {
        client: value
            .get("client")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        seq: value.get("seq").and_then(serde_json::Value::as_u64),
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("subscriptions", &self.subscriptions.len())
            .finish()
    }
}
