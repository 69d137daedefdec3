//! SockJS sessions: one STOMP session ([`crate::session::run`]) per SockJS session, whatever
//! HTTP requests carry it, and the table that finds a session by its id.
//!
//! Each SockJS session is two tasks: the STOMP session itself, fed by an inbound channel
//! (`xhr_send` bodies and WebSocket messages push into it) and writing its encoded frames into
//! a bounded outbound channel; and the session's [`Courier`], which owns everything SockJS
//! adds: the receiving request currently attached (at most one; a second one is told `2010`),
//! the open frame, batching frames into `a[...]`, heart-beats, the end of a polling response
//! after one frame and of a streaming one after
//! [`SOCKJS_STREAMING_BYTES`](crate::config::limits::SOCKJS_STREAMING_BYTES), the close frame,
//! and the disconnect delay: a session without a receiving request for that long ends, and so
//! does its STOMP session. The courier reads STOMP frames only while a request is attached, so
//! frames wait in the outbound channel between two polls, and a client that stops polling
//! makes the STOMP writer wait and give up after `--write-timeout-ms` (the same rule as a
//! WebSocket that does not read).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, PollSender, WaitForCancellationFutureOwned};

use super::framing::{self, Transport};
use crate::app::App;
use crate::config::limits::{SOCKJS_INBOUND_QUEUE, SOCKJS_OUTBOUND_QUEUE, SOCKJS_STREAMING_BYTES};
use crate::error::{ErrorCode, Rejection};
use crate::session::{self, Peer};
use crate::stomp::Inbound;

/// Bodies queued for one receiving request (its response drains them).
const RECEIVER_QUEUE: usize = 16;

/// A transport failure, worded for the ERROR frame sent before the STOMP session closes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(super) struct InboundError(pub String);

/// A receiving request: where the courier writes the frames its response carries.
#[derive(Debug)]
pub(super) struct Receiver {
    transport: Transport,
    tx: mpsc::Sender<Bytes>,
}

impl Receiver {
    /// A receiver for `transport`, and the bodies its response is to carry, in order (the
    /// channel closes when the response is to end).
    pub(super) fn new(transport: Transport) -> (Receiver, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(RECEIVER_QUEUE);
        (Receiver { transport, tx }, rx)
    }
}

/// How requests reach a running SockJS session.
#[derive(Debug)]
pub(super) struct Handle {
    /// The `?token=` of the request that started the session: every later request must
    /// carry the same (a session id in a log or a proxy is not enough to join the session).
    token: Option<String>,
    inbound: mpsc::Sender<Result<Inbound, InboundError>>,
    receivers: mpsc::UnboundedSender<Receiver>,
    /// Cancelled when the session ends: the STOMP session reads a close.
    ended: CancellationToken,
}

impl Handle {
    /// Hands `receiver` to the session. Err (with it) if the session has ended.
    pub(super) fn attach(&self, receiver: Receiver) -> Result<(), Receiver> {
        self.receivers.send(receiver).map_err(|e| e.0)
    }

    /// Delivers client messages to the STOMP session in order, waiting while its queue is
    /// full; messages for a session that has ended are dropped.
    pub(super) async fn deliver(&self, messages: Vec<String>) {
        for message in messages {
            if message.is_empty() {
                continue;
            }
            let data = Inbound::Data(Bytes::from(message));
            if self.inbound.send(Ok(data)).await.is_err() {
                return;
            }
        }
    }

    /// Ends the STOMP session with a transport error (it says so in an ERROR frame).
    pub(super) async fn fail(&self, error: InboundError) {
        let _ = self.inbound.send(Err(error)).await;
    }

    /// Ends the session (its STOMP session reads a close).
    pub(super) fn end(&self) {
        self.ended.cancel();
    }
}

/// The running SockJS sessions of the polling and streaming transports, by session id.
/// (WebSocket sessions are not in it: each lives exactly as long as its connection, and the
/// protocol lets two of them share an id.)
#[derive(Clone, Debug, Default)]
pub(super) struct Registry {
    sessions: Arc<Mutex<HashMap<String, Arc<Handle>>>>,
}

impl Registry {
    /// The session `id`, if it is running.
    /// The session `id`, if it is running and was started with `token`.
    pub(super) fn get(&self, id: &str, token: Option<&str>) -> Option<Arc<Handle>> {
        self.sessions
            .lock()
            .get(id)
            .filter(|handle| handle.token.as_deref() == token)
            .cloned()
    }

    /// Attaches `receiver` to session `id`, starting the session (a STOMP session for `peer`)
    /// if there is none. Refused when a new session would exceed `--max-connections`.
    pub(super) fn receive(
        &self,
        app: &App,
        id: &str,
        peer: Peer,
        receiver: Receiver,
    ) -> Result<(), Rejection> {
        let mut receiver = receiver;
        // A session found here may end before the receiver reaches it: then it is gone from
        // the table, and the next round starts a new one.
        for _ in 0..3 {
            let handle = {
                let mut sessions = self.sessions.lock();
                match sessions.get(id) {
                    Some(handle) if handle.token == peer.token => handle.clone(),
                    Some(_) => return Err(unknown_session()),
                    None => {
                        session::admission(app)?;
                        let handle = start(app, peer.clone(), Some((self.clone(), id.to_owned())));
                        sessions.insert(id.to_owned(), handle.clone());
                        handle
                    }
                }
            };
            match handle.attach(receiver) {
                Ok(()) => return Ok(()),
                Err(back) => receiver = back,
            }
        }
        // Unreachable in practice (each round sees a fresh session); nothing is left behind.
        Ok(())
    }

    /// Removes `handle`'s entry (only it: a new session may have taken the id since).
    fn remove(&self, id: &str, handle: &Arc<Handle>) {
        let mut sessions = self.sessions.lock();
        if sessions.get(id).is_some_and(|h| Arc::ptr_eq(h, handle)) {
            sessions.remove(id);
        }
    }
}

/// The answer to a request for a session that is not running (or not with its token).
pub(super) fn unknown_session() -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        "no such SockJS session (it ended, never started, or was started with another token)",
    )
}

/// Starts a SockJS session that lives exactly as long as one receiving connection (the
/// WebSocket transport), with `receiver` attached.
pub(super) fn start_for_connection(
    app: &App,
    peer: Peer,
    receiver: Receiver,
) -> Result<Arc<Handle>, Rejection> {
    session::admission(app)?;
    let handle = start(app, peer, None);
    // A fresh session takes its first receiver.
    let _ = handle.attach(receiver);
    Ok(handle)
}

/// Spawns the STOMP session and the courier of a new SockJS session; `table` is where it is
/// registered (and removes itself from when it ends), if anywhere.
fn start(app: &App, peer: Peer, table: Option<(Registry, String)>) -> Arc<Handle> {
    let (inbound_tx, inbound_rx) = mpsc::channel(SOCKJS_INBOUND_QUEUE);
    let (frames_tx, frames_rx) = mpsc::channel(SOCKJS_OUTBOUND_QUEUE);
    let (receivers_tx, receivers_rx) = mpsc::unbounded_channel();
    let ended = CancellationToken::new();
    let handle = Arc::new(Handle {
        token: peer.token.clone(),
        inbound: inbound_tx,
        receivers: receivers_tx,
        ended: ended.clone(),
    });
    let inbound = InboundStream {
        rx: inbound_rx,
        ended: Box::pin(ended.clone().cancelled_owned()),
        done: false,
    };
    let phase = app.shutdown.connections.clone();
    phase.spawn(session::run(
        app.clone(),
        peer,
        inbound,
        PollSender::new(frames_tx),
    ));
    let courier = Courier {
        frames: Some(frames_rx),
        receivers: receivers_rx,
        current: None,
        opened: false,
        closed: None,
        reattachable: table.is_some(),
        heart_beat: app.config.sockjs_heartbeat(),
        write_timeout: app.config.write_timeout(),
        disconnect_delay: app.config.sockjs_disconnect_delay(),
        detached_since: Instant::now(),
        ended: ended.clone(),
    };
    let shutdown = app.shutdown.connections.clone();
    let own = handle.clone();
    phase.spawn(async move {
        courier.run(shutdown).await;
        own.end();
        if let Some((registry, id)) = table {
            registry.remove(&id, &own);
        }
    });
    handle
}

/// What the STOMP session reads: client messages until the SockJS session ends, then a close.
struct InboundStream {
    rx: mpsc::Receiver<Result<Inbound, InboundError>>,
    ended: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
}

impl Stream for InboundStream {
    type Item = Result<Inbound, InboundError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.ended.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Ok(Inbound::Close)));
        }
        self.rx.poll_recv(cx)
    }
}

/// The receiving request attached to a session.
struct Attached {
    receiver: Receiver,
    /// Bytes its response carried.
    sent: usize,
    last_write: Instant,
}

/// The SockJS side of one session (see the module docs).
struct Courier {
    /// The STOMP session's encoded frames (`None` once it ended, or was cut off).
    frames: Option<mpsc::Receiver<Bytes>>,
    receivers: mpsc::UnboundedReceiver<Receiver>,
    current: Option<Attached>,
    opened: bool,
    /// Set once the session has ended: every later receiving request gets this close frame.
    closed: Option<(u16, &'static str)>,
    /// False for a WebSocket session, which ends with its connection.
    reattachable: bool,
    heart_beat: Duration,
    /// Longest a write to the attached request may wait (`--write-timeout-ms`).
    write_timeout: Duration,
    disconnect_delay: Duration,
    detached_since: Instant,
    /// Cancelled when the session ends: the STOMP session reads a close.
    ended: CancellationToken,
}

/// Resolves when `current`'s response has gone (the client or network cut it), or never.
async fn receiver_gone(current: &Option<Attached>) {
    match current {
        Some(attached) => attached.receiver.tx.closed().await,
        None => std::future::pending().await,
    }
}

/// The next frame of the STOMP session while a request is attached to carry it, or never.
async fn next_frame(frames: &mut Option<mpsc::Receiver<Bytes>>, attached: bool) -> Option<Bytes> {
    match frames {
        Some(rx) if attached => rx.recv().await,
        _ => std::future::pending().await,
    }
}

impl Courier {
    async fn run(mut self, shutdown: crate::shutdown::Phase) {
        let mut stopping = false;
        loop {
            let attached = self.current.is_some();
            if !attached && ((!self.reattachable && self.opened) || stopping) {
                {
                    break;
                }
            }
            let heart_beat_at = self
                .current
                .as_ref()
                .map(|a| a.last_write + self.heart_beat);
            tokio::select! {
                receiver = self.receivers.recv() => match receiver {
                    Some(receiver) => self.attach(receiver).await,
                    None => { break },
                },
                frame = next_frame(&mut self.frames, attached) => match frame {
                    Some(first) => self.write_frames(first).await,
                    // The STOMP session has ended: say so, to this request and every later one.
                    None => self.end(framing::GO_AWAY).await,
                },
                () = receiver_gone(&self.current) => {
                    self.current = None;
                    self.detached_since = Instant::now();
                    if self.closed.is_none() {
                        self.end(framing::INTERRUPTED).await;
                    }
                }
                () = sleep_until(heart_beat_at) => self.write(framing::HEART_BEAT).await,
                () = tokio::time::sleep_until(self.detached_since + self.disconnect_delay), if !attached => { break },
                () = shutdown.stopped(), if !stopping => {
                    // The STOMP session is closing too; its last frames go to the request
                    // attached now, and no later one is waited for.
                    stopping = true;
                }
            }
        }
    }

    /// A new receiving request.
    async fn attach(&mut self, receiver: Receiver) {
        if self
            .current
            .as_ref()
            .is_some_and(|a| !a.receiver.tx.is_closed())
        {
            // One receiving request at a time; the new one is told so and ends.
            let transport = receiver.transport;
            if let Some(prelude) = transport.prelude() {
                let _ = receiver.tx.try_send(prelude);
            }
            let refusal = framing::close(framing::ANOTHER_CONNECTION);
            let _ = receiver.tx.try_send(transport.wrap(&refusal));
            return;
        }
        let transport = receiver.transport;
        if let Some(prelude) = transport.prelude() {
            if receiver.tx.send(prelude).await.is_err() {
                return;
            }
        }
        self.current = Some(Attached {
            receiver,
            sent: 0,
            last_write: Instant::now(),
        });
        if let Some(code) = self.closed {
            self.write(&framing::close(code)).await;
            self.detach();
        } else if !self.opened {
            self.opened = true;
            self.write(framing::OPEN).await;
        }
    }

    /// Writes `first` and every frame queued behind it as one array frame.
    async fn write_frames(&mut self, first: Bytes) {
        let mut batch = vec![first];
        if let Some(rx) = &mut self.frames {
            while batch.len() < SOCKJS_OUTBOUND_QUEUE {
                match rx.try_recv() {
                    Ok(frame) => batch.push(frame),
                    Err(_) => break,
                }
            }
        }
        let frame = framing::messages(batch.iter().map(|b| &b[..]));
        self.write(&frame).await;
    }

    /// The session has ended with `code`: the STOMP session is told (it reads a close, if it
    /// still runs) and its frames dropped, and the attached request gets the close frame. The
    /// session stays in the table until the disconnect delay, answering every receiving
    /// request with that close frame.
    async fn end(&mut self, code: (u16, &'static str)) {
        self.close(code);
        if self.current.is_some() {
            self.write(&framing::close(code)).await;
            self.detach();
        }
    }

    /// Marks the session ended with `code`: the STOMP session reads a close, and its frames
    /// are dropped (which fails its writer's next write at once, instead of it waiting for
    /// room no one will make).
    fn close(&mut self, code: (u16, &'static str)) {
        self.closed = Some(code);
        self.ended.cancel();
        self.frames = None;
    }

    /// Writes one SockJS frame to the attached request, ending its response when its
    /// transport says so.
    async fn write(&mut self, frame: &str) {
        let Some(attached) = &mut self.current else {
            return;
        };
        let transport = attached.receiver.transport;
        let bytes = transport.wrap(frame);
        let len = bytes.len();
        match tokio::time::timeout(self.write_timeout, attached.receiver.tx.send(bytes)).await {
            Ok(Ok(())) => {}
            // Gone: noticed as such by the run loop.
            Ok(Err(_)) => return,
            Err(_) => {
                // The client stopped reading its response (the rule of a WebSocket that does
                // not read): the session ends, the response with it.
                self.detach();
                if self.closed.is_none() {
                    self.close(framing::INTERRUPTED);
                }
                return;
            }
        }
        attached.sent += len;
        attached.last_write = Instant::now();
        if transport.is_polling()
            || (transport.has_byte_limit() && attached.sent >= SOCKJS_STREAMING_BYTES)
        {
            self.detach();
        }
    }

    /// Ends the attached request's response (dropping its sender ends the body).
    fn detach(&mut self) {
        self.current = None;
        self.detached_since = Instant::now();
    }
}

/// Resolves at `deadline`, or never.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
