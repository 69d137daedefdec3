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

use tokio::sync::mpsc;

use crate::app::App;
use crate::auth;
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::presence::{PresenceSubscription, SessionPresence};
use crate::roster::{Control, Enrolment};
use crate::stomp::{
    self, server, ClientCommand, Closed, Command, Connected, FrameParser, Inbound, Outbox, Parsed,
    Violation, WriterSettings,
};
use crate::subscription::{DocSubscription, Subscriber};
use crate::wire::{PresenceUpdate, Submission, SubmissionIds};

pub use destination::{
    APP_PREFIX, ERRORS_DESTINATION, NOTICES_DESTINATION, PRESENCE_SUFFIX, TOPIC_PREFIX,
};
pub use negotiate::VERSIONS;

use replies::Replies;
use transactions::Transactions;

/// The per-connection submission limiter `config` asks for (`None`: no limit).
fn rate_limiter(config: &crate::config::Config) -> Option<governor::DefaultDirectRateLimiter> {
    let per_second = std::num::NonZeroU32::new(config.max_submissions_per_second)?;
    let burst = std::num::NonZeroU32::new(config.submission_burst).unwrap_or(per_second);
    Some(governor::RateLimiter::direct(
        governor::Quota::per_second(per_second).allow_burst(burst),
    ))
}

/// Stands in for "no read timeout" where a timer needs a duration.
const FOREVER: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// The optional features this server has, announced in CONNECTED's `features` header so a
/// client need not probe for them.
pub const FEATURES: &[&str] = &["presence"];

enum Subscription {
    Document(DocId, DocSubscription),
    Presence(DocId, PresenceSubscription),
    Errors,
    Notices,
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
    connected: bool,
    /// Longest the peer may stay silent, once negotiated (before CONNECT: the connect timeout).
    read_timeout: Option<Duration>,
    subscriptions: HashMap<String, Subscription>,
    /// Where this session is present (it leaves those documents when it ends).
    presence: SessionPresence,
    transactions: Transactions,
    replies: Replies,
    /// What the client proved at CONNECT (anonymous until then).
    identity: Identity,
    /// When its credentials expire.
    expiry: Option<tokio::time::Instant>,
    /// The token the transport carried (e.g. `?token=` on the WebSocket URL).
    transport_token: Option<String>,
    /// Submissions per second.
    limiter: Option<governor::DefaultDirectRateLimiter>,
    /// The client is another node of the cluster (`otterdoc-peer` at CONNECT, proven with the
    /// peer secret): its SENDs name the user they are forwarded for, and it is not rate
    /// limited (its own sessions are).
    from_node: bool,
    /// Its entry in the roster (after CONNECT), and the operator's controls.
    enrolment: Option<Enrolment>,
    control: Option<mpsc::UnboundedReceiver<Control>>,
}

/// Presence is not offered by nodes sharing a store (it lives in one document task, and relays
/// do not carry it).
fn presence_unclustered() -> Rejection {
    Rejection::new(
        ErrorCode::Unavailable,
        "presence is not available on servers running as several nodes (docs/cluster.md)",
    )
}

/// What the transport knows about the peer before any STOMP frame.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// A token carried by the transport itself (`?token=` on the WebSocket URL), used when
    /// CONNECT brings none.
    pub token: Option<String>,
}

/// Whether one more session may start: refused while the server has `--max-connections`
/// sessions (every transport counts, SockJS per SockJS session).
pub fn admission(app: &App) -> Result<(), Rejection> {
    let max = app.config.max_connections;
    if app.metrics.connections.get() >= i64::try_from(max).unwrap_or(i64::MAX) {
        return Err(Rejection::new(
            ErrorCode::TooManyConnections,
            format!("the server already has {max} connections (--max-connections); retry later"),
        ));
    }
    Ok(())
}

/// Runs a session over a transport (any stream of [`Inbound`] chunks and sink of outgoing
/// frames) until either side closes it.
pub async fn run<R, E, W>(app: App, peer: Peer, inbound: R, sink: W)
where
    R: Stream<Item = Result<Inbound, E>> + Unpin + Send,
    E: Display,
    W: Sink<Bytes> + Unpin + Send + 'static,
    W::Error: Display + Send,
{
    // Counts as a running connection for shutdown until the lingering close is over.
    let _alive = app.shutdown.connections.token();
    let metrics = app.metrics.clone();
    metrics.connections.inc();
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("session", session = %id, user = tracing::field::Empty);
    serve(app, id, peer, inbound, sink).instrument(span).await;
    metrics.connections.dec();
}

/// Resolves at `deadline`, or never.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The next control from the roster, or never (before CONNECT).
async fn next_control(control: &mut Option<mpsc::UnboundedReceiver<Control>>) -> Control {
    match control {
        Some(rx) => match rx.recv().await {
            Some(control) => control,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

async fn serve<R, E, W>(app: App, id: String, peer: Peer, mut inbound: R, sink: W)
where
    R: Stream<Item = Result<Inbound, E>> + Unpin + Send,
    E: Display,
    W: Sink<Bytes> + Unpin + Send + 'static,
    W::Error: Display + Send,
{
    let settings = WriterSettings {
        write_timeout: app.config.write_timeout(),
        max_queued_bytes: app.config.max_outbound_bytes,
        frames_out: app.metrics.frames_out.clone(),
    };
    let (outbox, writer) = stomp::writer(sink, settings);
    let mut writer = app.shutdown.connections.spawn(writer);
    let mut parser = FrameParser::new(app.config.max_frame_bytes);
    let limiter = rate_limiter(&app.config);
    let mut session = Session {
        read_timeout: Some(app.config.connect_timeout()),
        app,
        outbox,
        presence: SessionPresence::new(&id),
        id,
        connected: false,
        subscriptions: HashMap::new(),
        transactions: Transactions::default(),
        replies: Replies::default(),
        identity: Identity::anonymous(),
        expiry: None,
        transport_token: peer.token,
        limiter,
        from_node: false,
        enrolment: None,
        control: None,
    };
    let intake = session.app.shutdown.intake.clone();
    let shutdown = session.app.shutdown.connections.clone();
    let mut writer_done = false;
    loop {
        let silence = session.read_timeout.unwrap_or(FOREVER);
        let reading = !intake.is_stopping();
        tokio::select! {
            incoming = tokio::time::timeout(silence, inbound.next()), if reading => {
                let chunk = match incoming {
                    Err(_) => {
                        let ms = silence.as_millis();
                        session.fatal_as("timeout", &format!("no data or heart-beat from the client for {ms} ms")).await;
                        break;
                    }
                    Ok(None) | Ok(Some(Ok(Inbound::Close))) => break,
                    Ok(Some(Err(err))) => {
                        // E.g. a message over the size limit: say why before closing (on a dead
                        // socket the write just fails), never close silently.
                        session.fatal_as("transport", &err.to_string()).await;
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
            // Shutting down: read no more frames, but keep reporting outcomes while the
            // documents finish what they have queued (below).
            () = intake.stopped(), if reading => {}
            () = shutdown.stopped() => {
                // The documents have drained: every outcome is settled. Report them, then go.
                let _ = Box::pin(session.replies.drain(&session.outbox)).await;
                session.fatal_as("shutdown", "the server is shutting down").await;
                break;
            }
            () = until(session.expiry) => {
                session.fatal_as("expired", "the session's token has expired; reconnect with a fresh one").await;
                break;
            }
            control = next_control(&mut session.control) => {
                match control {
                    Control::Close(message) => {
                        session.fatal_as("operator", &message).await;
                        break;
                    }
                    Control::Notice(message) => {
                        if Box::pin(session.replies.notice(&message, &session.outbox)).await.is_err() {
                            break;
                        }
                    }
                }
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
    tracing::info!("session ended");
}

impl Session {
    /// Handles every complete frame in the parser. False when the connection must close.
    async fn drain_parser(&mut self, parser: &mut FrameParser) -> bool {
        loop {
            match parser.next_frame() {
                Ok(None) => return true,
                Ok(Some(Parsed::HeartBeat)) => {}
                Ok(Some(Parsed::Frame(frame))) => {
                    self.app.metrics.frames_in.inc();
                    match self.handle(frame).await {
                        // An answer that did not fit closed the connection (the client is not
                        // reading): nothing more is handled.
                        Ok(Flow::Continue) if self.outbox.is_closed() => return false,
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Close) => return false,
                        Err(violation) => {
                            Metrics::count(&self.app.metrics.errors, "violation");
                            tracing::info!(kind = "violation", "closing the session with an ERROR");
                            self.outbox.fatal(server::violation(&violation)).await;
                            return false;
                        }
                    }
                }
                Err(err) => {
                    Metrics::count(&self.app.metrics.errors, "malformed");
                    tracing::info!(kind = "malformed", "closing the session with an ERROR");
                    let message = format!("malformed frame: {err}");
                    let error = server::error(&message, parser.failed_receipt());
                    self.outbox.fatal(error).await;
                    return false;
                }
            }
        }
    }

    /// Ends the connection with an ERROR, counted under `kind`.
    async fn fatal_as(&self, kind: &str, message: &str) {
        Metrics::count(&self.app.metrics.errors, kind);
        // The kind, not the message: a message may quote what the client sent.
        tracing::info!(kind, "closing the session with an ERROR");
        self.outbox.fatal(server::error(message, None)).await;
    }

    /// Counts a subscription made or ended (for metrics and the roster).
    fn subscribed(&self, doc: &DocId, up: bool) {
        if let Some(enrolment) = &self.enrolment {
            if up {
                enrolment.subscribed(doc);
            } else {
                enrolment.unsubscribed(doc);
            }
        }
        if up {
            self.app.metrics.subscriptions.inc();
        } else {
            self.app.metrics.subscriptions.dec();
        }
    }

    /// Stops everything the session started.
    async fn close(&mut self) {
        let ended: Vec<Subscription> = self.subscriptions.drain().map(|(_, s)| s).collect();
        for subscription in ended {
            match subscription {
                Subscription::Document(doc, subscription) => {
                    subscription.stop().await;
                    self.subscribed(&doc, false);
                }
                Subscription::Presence(_, subscription) => subscription.stop().await,
                Subscription::Errors | Subscription::Notices => {}
            }
        }
        // However the session ends, it leaves every document it was present in.
        self.presence.end(&self.app.documents);
        if self.enrolment.take().is_some() {
            self.app.metrics.sessions.dec();
        }
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
            ClientCommand::Connect(connect) => self.on_connect(connect).await,
            ClientCommand::Send(send) => self.on_send(send).await.map_err(violation),
            ClientCommand::Subscribe(subscribe) => {
                self.on_subscribe(subscribe).await.map_err(violation)
            }
            ClientCommand::Unsubscribe { id, receipt } => {
                match self.subscriptions.remove(&id) {
                    Some(Subscription::Document(doc, subscription)) => {
                        subscription.stop().await;
                        self.subscribed(&doc, false);
                    }
                    Some(Subscription::Presence(doc, subscription)) => {
                        subscription.stop().await;
                        self.presence.unsubscribed(&doc, &self.app.documents);
                    }
                    Some(Subscription::Errors) => self.replies.unsubscribe_errors(&id),
                    Some(Subscription::Notices) => self.replies.unsubscribe_notices(&id),
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
                self.transactions
                    .begin(&transaction, self.app.config.max_transactions)
                    .map_err(violation)?;
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

    async fn on_connect(&mut self, connect: stomp::Connect) -> Result<Flow, Violation> {
        let receipt = connect.receipt.as_deref();
        let version = negotiate::version(connect.accept_version.as_deref()).map_err(|e| {
            // STOMP 1.2: the ERROR names the versions the server speaks.
            Violation::new(e, receipt).with_header("version", negotiate::VERSIONS.join(","))
        })?;
        let ours = self.app.config.heartbeat_ms;
        let heart_beats = negotiate::heart_beats(ours, connect.heart_beat.as_deref())
            .map_err(|e| Violation::new(e, receipt))?;
        if let Some(node) = connect.peer.as_deref() {
            self.identity = self.authenticate_node(node, connect.passcode.as_deref(), receipt)?;
            self.from_node = true;
            self.limiter = None;
        } else {
            // The token: the Authorization header, else the passcode, else the transport's.
            let token = connect
                .authorization
                .as_deref()
                .and_then(auth::bearer)
                .or(connect.passcode.as_deref())
                .or(self.transport_token.as_deref());
            self.identity = self.app.auth.authenticate(token).map_err(|err| {
                Metrics::count(&self.app.metrics.auth_failures, err.reason());
                tracing::info!(reason = err.reason(), "authentication failed");
                Violation::new(format!("authentication failed: {err}"), receipt)
            })?;
        }
        self.expiry = self
            .identity
            .valid_for()
            .map(|d| tokio::time::Instant::now() + d);
        self.read_timeout = heart_beats.read_timeout;
        tracing::Span::current().record("user", self.identity.user());
        tracing::info!(stomp = version, "session connected");
        let connected = server::connected(&Connected {
            version,
            heart_beat: (ours, ours),
            session: &self.id,
            user: self.identity.user(),
            // Several nodes have no presence: a client told so never subscribes to it.
            features: if self.app.cluster.is_some() {
                &[]
            } else {
                FEATURES
            },
        });
        self.connected = true;
        let (enrolment, control) =
            self.app
                .roster
                .enrol(&self.id, self.identity.user(), self.outbox.clone());
        self.enrolment = Some(enrolment);
        self.control = Some(control);
        self.app.metrics.sessions.inc();
        self.say(connected).await;
        if let Some(every) = heart_beats.send_every {
            let _ = self.outbox.heart_beat(every).await;
        }
        if let Some(receipt) = connect.receipt {
            self.say(server::receipt(&receipt)).await;
        }
        Ok(Flow::Continue)
    }

    /// A CONNECT naming itself another node: accepted only when nodes share the store here
    /// and `passcode` is their shared secret.
    fn authenticate_node(
        &self,
        node: &str,
        passcode: Option<&str>,
        receipt: Option<&str>,
    ) -> Result<Identity, Violation> {
        let refuse = |reason: &'static str, why: &str| {
            Metrics::count(&self.app.metrics.auth_failures, reason);
            tracing::info!(reason, %node, "node authentication failed");
            Violation::new(format!("authentication failed: {why}"), receipt)
        };
        let Some(cluster) = &self.app.cluster else {
            return Err(refuse(
                "node",
                "otterdoc-peer names a node, but this server does not run as one of several",
            ));
        };
        let expected = cluster.secret().as_bytes();
        let given = passcode.unwrap_or_default().as_bytes();
        // Compared in time independent of where they differ.
        let same = given.len() == expected.len()
            && given
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(refuse("node", "wrong node secret"));
        }
        Ok(Identity::node(node))
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
                self.reject(send, doc, ids, rejection);
                return;
            }
        };
        if !self.identity.can_write(&doc_id) {
            let rejection = Rejection::new(
                ErrorCode::Forbidden,
                format!(
                    "user {} may not write document {doc_id}",
                    self.identity.user()
                ),
            );
            let ids = submission_ids(&send.body);
            self.reject(send, doc, ids, rejection);
            return;
        }
        if self.limiter.as_ref().is_some_and(|l| l.check().is_err()) {
            let limit = self.app.config.max_submissions_per_second;
            let rejection = Rejection::new(
                ErrorCode::RateLimited,
                format!("over {limit} submissions per second on this connection; nothing was applied, retry later"),
            );
            let ids = submission_ids(&send.body);
            self.reject(send, doc, ids, rejection);
            return;
        }
        let submission = match Submission::parse(&send.body, self.app.config.max_op_bytes) {
            Ok(submission) => submission,
            Err((rejection, ids)) => {
                self.reject(send, doc, ids, rejection);
                return;
            }
        };
        let ids = SubmissionIds {
            client: Some(submission.client.clone()),
            seq: Some(submission.seq),
        };
        // A node forwards for the user its session authenticated; anyone else is who they are.
        let user = match send.user.as_deref() {
            Some(user) if self.from_node => user,
            _ => self.identity.user(),
        };
        let queued = self
            .app
            .documents
            .submit_queued(&doc_id, submission, user)
            .await;
        match queued {
            Ok(outcome) => {
                let metrics = self.app.metrics.clone();
                let outcome = async move {
                    let result = outcome.await;
                    if let Err(rejection) = &result {
                        Metrics::count(&metrics.ops_rejected, rejection.code.as_str());
                    }
                    result
                };
                self.replies.submitted(send.receipt, doc, ids, outcome)
            }
            Err(rejection) => self.reject(send, doc, ids, rejection),
        }
    }

    /// Reports a SEND refused before it reached its document.
    fn reject(
        &mut self,
        send: stomp::Send,
        doc: Option<String>,
        ids: SubmissionIds,
        rejection: Rejection,
    ) {
        Metrics::count(&self.app.metrics.ops_rejected, rejection.code.as_str());
        self.replies.rejected(send.receipt, doc, ids, rejection);
    }

    /// `SEND /app/doc/<id>/presence`: hands the update to the document's task, which never
    /// makes this wait. Showing where one is in a document takes the right to read it (a
    /// read-only viewer may show a cursor), like the presence SUBSCRIBE in
    /// [`Self::on_subscribe`].
    fn send_presence(&mut self, send: stomp::Send, doc: Option<String>, doc_id: DocId) {
        if self.app.cluster.is_some() {
            let ids = submission_ids(&send.body);
            self.replies
                .rejected(send.receipt, doc, ids, presence_unclustered());
            return;
        }
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
        if !self.identity.can_read(&doc_id) {
            let rejection = Rejection::new(
                ErrorCode::Forbidden,
                format!(
                    "user {} may not read document {doc_id}, so may not be present in it",
                    self.identity.user()
                ),
            );
            self.replies.rejected(send.receipt, doc, ids, rejection);
            return;
        }
        let handed = self.app.documents.presence(
            &doc_id,
            self.presence.session(),
            self.identity.user(),
            update,
        );
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
            client_ack,
            receipt,
        } = subscribe;
        if self.subscriptions.contains_key(&id) {
            return Err(format!("subscription id {id:?} is already in use"));
        }
        let max = self.app.config.max_subscriptions;
        if self.subscriptions.len() >= max {
            return Err(format!(
                "too many subscriptions: a connection may hold {max} (--max-subscriptions)"
            ));
        }
        let doc = match destination::subscription(&destination)? {
            destination::Subscription::Errors => {
                self.replies.subscribe_errors(&id, client_ack);
                self.subscriptions.insert(id, Subscription::Errors);
                self.replies.receipt(receipt.as_deref());
                return Ok(Flow::Continue);
            }
            destination::Subscription::Notices => {
                self.replies.subscribe_notices(&id, client_ack);
                self.subscriptions.insert(id, Subscription::Notices);
                self.replies.receipt(receipt.as_deref());
                return Ok(Flow::Continue);
            }
            destination::Subscription::Presence(doc) => {
                if self.app.cluster.is_some() {
                    return Err(presence_unclustered().message);
                }
                if !self.identity.can_read(&doc) {
                    return Err(format!(
                        "forbidden: user {} may not read document {doc}",
                        self.identity.user()
                    ));
                }
                let subscriber = Subscriber {
                    id: id.clone(),
                    destination,
                    client_ack,
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
        if !self.identity.can_read(&doc) {
            return Err(format!(
                "forbidden: user {} may not read document {doc}",
                self.identity.user()
            ));
        }
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
            client_ack,
            outbox: self.outbox.clone(),
        };
        let subscription = DocSubscription::start(
            &self.app.subscription_sources(),
            doc.clone(),
            known,
            subscriber,
        )
        .await?;
        self.subscribed(&doc, true);
        self.subscriptions
            .insert(id, Subscription::Document(doc, subscription));
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
