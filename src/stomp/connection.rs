//! One STOMP connection's byte transport, seen from the server: the [`Outbox`] (a bounded
//! queue every producer of outgoing frames writes to), the writer task that drains it into the
//! socket, sends heart-beats when nothing else was written, and gives up on a peer whose
//! writes stall, and the lingering close that reads a closing peer dry.
//!
//! It is generic over the transport: the writer takes any `Sink<Bytes>` (one item per frame
//! or heart-beat), the reader any `Stream` of [`Inbound`] chunks, so WebSocket (and any other
//! carrier of STOMP bytes) plugs in through a small adapter, and the timing rules are tested
//! here over in-memory channels with paused time.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};

use super::command::server;
use super::escape::escape_into;
use super::frame::StompFrame;
use crate::config::limits::{CLOSE_HANDSHAKE, LINGER, OUTBOUND_QUEUE, STALLED_ERROR_WRITE};

/// A heart-beat on the wire: one EOL.
const HEART_BEAT: &[u8] = b"\n";

/// What a transport delivers to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// STOMP bytes (any fragment of the stream: part of a frame, or several frames).
    Data(Bytes),
    /// Transport-level traffic that carries no STOMP data but proves the peer alive (a
    /// WebSocket ping or pong).
    Control,
    /// The peer closed its side.
    Close,
}

/// JSON message bodies to deliver on one subscription, each with its number (`message-id:
/// <subscription>-<number>`). Shared by every subscription they go to: a batch of bodies is
/// serialised once and only the per-subscription headers are written per connection.
pub trait MessageBodies: Send + Sync {
    /// How many bodies.
    fn count(&self) -> usize;
    /// Body `i`: its number and its JSON.
    fn body(&self, i: usize) -> (u64, &[u8]);
}

/// Where MESSAGE frames of one subscription go: its headers, escaped and encoded once, and
/// whether it is still subscribed. Ending a subscription is two steps: [`Self::close`] stops
/// producers from queueing more for it, and [`Outbox::end`] queues a marker after which the
/// writer drops whatever a producer still queued — so what was queued before the UNSUBSCRIBE
/// is written, and nothing after its RECEIPT.
#[derive(Debug)]
pub struct MessageTarget {
    /// `MESSAGE`, `destination`, `subscription` and the `message-id:<id>-` prefix.
    head: Bytes,
    /// With client acknowledgement: the `<id>-` prefix of the `ack` header.
    ack: Option<Bytes>,
    /// Producers may queue for it.
    active: AtomicBool,
    /// The writer has passed the end marker.
    ended: AtomicBool,
}

impl MessageTarget {
    /// The target of subscription `subscription` to `destination`; with `client_ack`, every
    /// MESSAGE also carries an `ack` header equal to its `message-id`.
    pub fn new(destination: &str, subscription: &str, client_ack: bool) -> Arc<MessageTarget> {
        let mut head = BytesMut::with_capacity(48 + destination.len() + 2 * subscription.len());
        head.put_slice(b"MESSAGE\ndestination:");
        escape_into(&mut head, destination);
        head.put_slice(b"\nsubscription:");
        escape_into(&mut head, subscription);
        head.put_slice(b"\nmessage-id:");
        let mut id = BytesMut::new();
        escape_into(&mut id, subscription);
        id.put_u8(b'-');
        head.put_slice(&id);
        Arc::new(MessageTarget {
            head: head.freeze(),
            ack: client_ack.then(|| id.freeze()),
            active: AtomicBool::new(true),
            ended: AtomicBool::new(false),
        })
    }

    /// Stops producers (they check [`Self::is_active`]) from queueing more for it.
    pub fn close(&self) {
        self.active.store(false, Ordering::Release);
    }

    /// False once [`Self::close`]d.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Appends the MESSAGE frame of body number `number` to `dst`.
    fn encode_into(&self, dst: &mut BytesMut, number: u64, json: &[u8]) {
        use std::fmt::Write;
        dst.reserve(self.head.len() + 64 + json.len());
        dst.put_slice(&self.head);
        // Writing into a BytesMut cannot fail.
        let _ = writeln!(dst, "{number}");
        if let Some(ack) = &self.ack {
            dst.put_slice(b"ack:");
            dst.put_slice(ack);
            let _ = writeln!(dst, "{number}");
        }
        let _ = write!(
            dst,
            "content-type:application/json\ncontent-length:{}\n\n",
            json.len()
        );
        dst.put_slice(json);
        dst.put_u8(0);
    }
}

/// What the writer is asked to do, in queue order.
enum Outbound {
    Frame(StompFrame),
    Messages {
        target: Arc<MessageTarget>,
        bodies: Arc<dyn MessageBodies>,
        from: usize,
    },
    End(Arc<MessageTarget>),
    HeartBeat(Duration),
    Fatal(StompFrame),
    Close,
}

/// Why a message batch could not be queued without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryQueue {
    /// The queue is full (the connection is slow); nothing was queued.
    Full,
    /// The connection is closed.
    Closed,
}

/// The connection's writer is gone (the socket closed or stalled); nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is closed")]
pub struct Closed;

/// Where every outgoing frame of one connection is queued. Cloned into each producer (the
/// session, its subscriptions). Bounded twice: by items (a producer waits for a slot) and by
/// bytes — a connection with more than its byte budget queued is not reading, and it gets
/// nothing more but an ERROR (live deliveries are refused instead, so subscriptions fall back
/// to catching up from storage).
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: flume::Sender<Outbound>,
    budget: Arc<Budget>,
}

/// Bytes queued for a connection, against its limit.
#[derive(Debug)]
struct Budget {
    queued: AtomicUsize,
    limit: usize,
    /// Set by the first fatal ERROR: from then on the connection is closing, and producers
    /// are told so (nothing queued after an ERROR would be written anyway).
    closing: AtomicBool,
    /// Signalled whenever the writer has written something.
    room: tokio::sync::Notify,
}

impl Budget {
    /// Takes `size` bytes of the budget if they fit (an empty queue takes anything, so one
    /// item larger than the budget can still go through).
    fn take(&self, size: usize) -> bool {
        let mut queued = self.queued.load(Ordering::Acquire);
        loop {
            if queued != 0 && queued.saturating_add(size) > self.limit {
                return false;
            }
            match self.queued.compare_exchange_weak(
                queued,
                queued + size,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => queued = now,
            }
        }
    }

    fn give_back(&self, size: usize) {
        self.queued.fetch_sub(size, Ordering::AcqRel);
    }
}

/// Bytes an item will take on the wire (near enough to bound memory).
fn weight(item: &Outbound) -> usize {
    match item {
        Outbound::Frame(frame) => frame.encoded_len_hint(),
        Outbound::Messages {
            target,
            bodies,
            from,
        } => (*from..bodies.count())
            .map(|i| target.head.len() + 64 + bodies.body(i).1.len())
            .sum(),
        Outbound::End(_) | Outbound::HeartBeat(_) | Outbound::Fatal(_) | Outbound::Close => 0,
    }
}

impl Outbox {
    /// Queues `item` if its bytes fit the budget and a slot is free now.
    fn try_queue(&self, item: Outbound) -> Result<(), TryQueue> {
        if self.is_closed() {
            return Err(TryQueue::Closed);
        }
        let size = weight(&item);
        if !self.budget.take(size) {
            return Err(TryQueue::Full);
        }
        self.tx.try_send(item).map_err(|e| {
            self.budget.give_back(size);
            match e {
                flume::TrySendError::Full(_) => TryQueue::Full,
                flume::TrySendError::Disconnected(_) => TryQueue::Closed,
            }
        })
    }

    /// Queues `item`, waiting for its bytes to fit the budget and for a slot.
    async fn queue_waiting(&self, item: Outbound) -> Result<(), Closed> {
        let size = weight(&item);
        loop {
            let room = self.budget.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.budget.take(size) {
                break;
            }
            if self.is_closed() {
                return Err(Closed);
            }
            room.await;
        }
        self.tx.send_async(item).await.map_err(|_| {
            self.budget.give_back(size);
            Closed
        })
    }

    /// Queues one of the session's own frames. A connection whose budget it does not fit is
    /// not reading: it is closed with an ERROR saying so.
    async fn queue_answer(&self, item: Outbound) -> Result<(), Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        let size = weight(&item);
        if !self.budget.take(size) {
            let limit = self.budget.limit;
            let message = format!(
                "over {limit} bytes are queued for this connection: the client is not reading; closing"
            );
            tracing::info!(
                kind = "not-reading",
                limit,
                "closing the session with an ERROR"
            );
            self.fatal(server::error(&message, None)).await;
            return Err(Closed);
        }
        self.tx.send_async(item).await.map_err(|_| {
            self.budget.give_back(size);
            Closed
        })
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.budget.queued.load(Ordering::Acquire)
    }

    /// Queues bodies `from..` of `bodies` as MESSAGE frames of `target`, if there is room now.
    pub fn try_messages(
        &self,
        target: &Arc<MessageTarget>,
        bodies: Arc<dyn MessageBodies>,
        from: usize,
    ) -> Result<(), TryQueue> {
        self.try_queue(Outbound::Messages {
            target: target.clone(),
            bodies,
            from,
        })
    }

    /// Like [`Self::try_messages`], but only while more than `keep_free` slots stay free after
    /// it: for traffic that may be dropped (presence), which must leave room for the traffic
    /// that may not (ops). Concurrent producers can overshoot by a few slots; that only moves
    /// the line, never past the queue's bound.
    pub fn try_messages_leaving(
        &self,
        keep_free: usize,
        target: &Arc<MessageTarget>,
        bodies: Arc<dyn MessageBodies>,
        from: usize,
    ) -> Result<(), TryQueue> {
        if self.tx.len() + keep_free >= OUTBOUND_QUEUE {
            return Err(if self.tx.is_disconnected() {
                TryQueue::Closed
            } else {
                TryQueue::Full
            });
        }
        self.try_messages(target, bodies, from)
    }

    /// Queues bodies `from..` of `bodies` as MESSAGE frames of `target`, waiting for room.
    pub async fn messages(
        &self,
        target: &Arc<MessageTarget>,
        bodies: Arc<dyn MessageBodies>,
        from: usize,
    ) -> Result<(), Closed> {
        self.queue_waiting(Outbound::Messages {
            target: target.clone(),
            bodies,
            from,
        })
        .await
    }

    /// Ends `target` (after [`MessageTarget::close`]): the writer drops whatever for it was
    /// queued after this.
    pub async fn end(&self, target: &Arc<MessageTarget>) {
        let _ = self.tx.send_async(Outbound::End(target.clone())).await;
    }

    /// Queues a frame (closing the connection instead if it is over its byte budget).
    pub async fn frame(&self, frame: StompFrame) -> Result<(), Closed> {
        self.queue_answer(Outbound::Frame(frame)).await
    }

    /// From now on, send a heart-beat whenever nothing was written for `every`.
    pub async fn heart_beat(&self, every: Duration) -> Result<(), Closed> {
        self.tx
            .send_async(Outbound::HeartBeat(every))
            .await
            .map_err(|_| Closed)
    }

    /// Queues an ERROR frame; the connection closes once it is written, and from now on
    /// [`Self::is_closed`] says so.
    pub async fn fatal(&self, error: StompFrame) {
        if self.budget.closing.swap(true, Ordering::AcqRel) {
            // One ERROR per connection: the first one says why it ends.
            return;
        }
        // Producers waiting for room learn that there will be none.
        self.budget.room.notify_waiters();
        // A closed queue means the writer already gave up; the error cannot be delivered.
        let _ = self.tx.send_async(Outbound::Fatal(error)).await;
    }

    /// Closes the connection once everything queued before is written.
    pub async fn close(&self) {
        let _ = self.tx.send_async(Outbound::Close).await;
    }

    /// True once the connection is closing (after a fatal ERROR) or the writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.budget.closing.load(Ordering::Acquire) || self.tx.is_disconnected()
    }
}

/// An outbox and the writer task that empties it into `sink`; the caller spawns the writer.
/// The writer ends on [`Outbox::close`], after a fatal ERROR, when `sink` fails, when a write
/// makes no progress for `write_timeout`, or when every `Outbox` is dropped.
pub fn writer<S>(sink: S, settings: WriterSettings) -> (Outbox, impl Future<Output = ()> + Send)
where
    S: Sink<Bytes> + Unpin + Send + 'static,
    S::Error: Display + Send,
{
    let (tx, rx) = flume::bounded(OUTBOUND_QUEUE);
    let budget = Arc::new(Budget {
        queued: AtomicUsize::new(0),
        limit: settings.max_queued_bytes,
        closing: AtomicBool::new(false),
        room: tokio::sync::Notify::new(),
    });
    // Not instrumented (polled once per batch, entering a span each time would cost more
    // than the rest of a small write); it logs in its creator's span.
    let span = tracing::Span::current();
    let outbox = Outbox {
        tx,
        budget: budget.clone(),
    };
    (outbox, write_loop(sink, rx, settings, budget, span))
}

/// How a connection's writer behaves.
#[derive(Clone, Debug)]
pub struct WriterSettings {
    /// A write that makes no progress for this long closes the connection.
    pub write_timeout: Duration,
    /// Bytes that may be queued for the connection.
    pub max_queued_bytes: usize,
    /// Counts every frame written.
    pub frames_out: prometheus_client::metrics::counter::Counter,
}

/// What writing one queued item leaves to do.
enum Then {
    Continue,
    /// That was the last item (a fatal ERROR, or close).
    Stop,
}

/// Feeds one queued item to the sink (without flushing).
async fn feed<S: Sink<Bytes> + Unpin>(
    sink: &mut S,
    item: Outbound,
    heart_beat: &mut Option<Duration>,
    frames_out: &prometheus_client::metrics::counter::Counter,
) -> Result<Then, S::Error> {
    match item {
        Outbound::Frame(frame) => {
            frames_out.inc();
            sink.feed(frame.encode()).await?
        }
        Outbound::Messages {
            target,
            bodies,
            from,
        } => {
            if !target.ended.load(Ordering::Relaxed) {
                for i in from..bodies.count() {
                    let (number, json) = bodies.body(i);
                    let mut frame = BytesMut::new();
                    target.encode_into(&mut frame, number, json);
                    frames_out.inc();
                    sink.feed(frame.freeze()).await?;
                }
            }
        }
        Outbound::End(target) => target.ended.store(true, Ordering::Relaxed),
        Outbound::HeartBeat(every) => *heart_beat = Some(every),
        Outbound::Fatal(frame) => {
            frames_out.inc();
            sink.feed(frame.encode()).await?;
            return Ok(Then::Stop);
        }
        Outbound::Close => return Ok(Then::Stop),
    }
    Ok(Then::Continue)
}

async fn write_loop<S>(
    mut sink: S,
    rx: flume::Receiver<Outbound>,
    settings: WriterSettings,
    budget: Arc<Budget>,
    span: tracing::Span,
) where
    S: Sink<Bytes> + Unpin,
    S::Error: Display,
{
    let mut heart_beat: Option<Duration> = None;
    loop {
        // A timer only when heart-beats need one: arming and disarming one per wait is a
        // measurable part of a small write.
        let received = match heart_beat {
            Some(idle) => tokio::time::timeout(idle, rx.recv_async()).await,
            None => Ok(rx.recv_async().await),
        };
        let first = match received {
            Ok(Err(_)) => break,
            Ok(Ok(first)) => Some(first),
            Err(_) => None,
        };
        // Everything queued meanwhile goes out with one flush (one syscall), not one each,
        // under one timer.
        let outcome = {
            let write = async {
                let Some(mut item) = first else {
                    sink.feed(Bytes::from_static(HEART_BEAT)).await?;
                    sink.flush().await?;
                    return Ok::<Then, S::Error>(Then::Continue);
                };
                let mut written = 0;
                let then = loop {
                    let size = weight(&item);
                    let then = feed(&mut sink, item, &mut heart_beat, &settings.frames_out).await;
                    budget.give_back(size);
                    if let Then::Stop = then? {
                        break Then::Stop;
                    }
                    written += 1;
                    match rx.try_recv() {
                        Ok(next) if written < OUTBOUND_QUEUE => item = next,
                        Ok(next) => {
                            // A bound on one batch, so a flood cannot delay the flush forever.
                            sink.flush().await?;
                            written = 0;
                            item = next;
                        }
                        Err(_) => break Then::Continue,
                    }
                };
                sink.flush().await?;
                budget.room.notify_waiters();
                Ok(then)
            };
            // Most writes complete at once (the socket has room); the timer is armed only for
            // one that does not.
            let mut write = std::pin::pin!(write);
            match futures::FutureExt::now_or_never(&mut write) {
                Some(done) => Ok(done),
                None => tokio::time::timeout(settings.write_timeout, write).await,
            }
        };
        match outcome {
            Ok(Ok(Then::Continue)) => {}
            Ok(Ok(Then::Stop)) => break,
            Ok(Err(err)) => {
                span.in_scope(|| tracing::debug!(error = %err, "connection write failed"));
                break;
            }
            Err(_) => {
                let ms = settings.write_timeout.as_millis();
                span.in_scope(|| {
                    tracing::warn!(
                        timeout_ms = ms as u64,
                        "closing a connection whose writes stalled"
                    )
                });
                let message = format!("write timeout: the client read nothing for {ms} ms");
                let error = server::error(&message, None).encode();
                let _ = tokio::time::timeout(STALLED_ERROR_WRITE, sink.send(error)).await;
                break;
            }
        }
    }
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, sink.close()).await;
    // Dropping the receiver unblocks anyone still queueing frames for this connection.
    drop(rx);
    budget.room.notify_waiters();
}

/// Lingering close: reads and discards what the peer still sends, for a moment. Closing a
/// socket that has unread incoming data makes the kernel answer with a RST, and a RST makes
/// the peer drop what it has not read yet — such as the ERROR or RECEIPTs just written.
pub async fn linger<R, E>(inbound: &mut R)
where
    R: Stream<Item = Result<Inbound, E>> + Unpin,
{
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(chunk)) = inbound.next().await {
            if chunk == Inbound::Close {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stomp::{Command, FrameParser, Parsed};
    use futures::channel::mpsc as fmpsc;

    fn settings(timeout_secs: u64) -> WriterSettings {
        WriterSettings {
            write_timeout: Duration::from_secs(timeout_secs),
            max_queued_bytes: 1 << 20,
            frames_out: Default::default(),
        }
    }

    fn frames(chunks: &[Bytes]) -> Vec<Parsed> {
        let mut parser = FrameParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk);
            while let Some(item) = parser.next_frame().unwrap() {
                out.push(item);
            }
        }
        out
    }

    /// Collects what the writer wrote so far.
    fn written(rx: &mut fmpsc::UnboundedReceiver<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            out.push(chunk);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn heart_beats_go_out_only_after_the_idle_interval() {
        let (sink, mut wire) = fmpsc::unbounded::<Bytes>();
        let (outbox, writer) = writer(sink, settings(10));
        let task = tokio::spawn(writer);
        outbox.heart_beat(Duration::from_secs(5)).await.unwrap();
        outbox
            .frame(server::receipt("r1"))
            .await
            .expect("writer alive");
        tokio::time::sleep(Duration::from_millis(4_900)).await;
        let early = written(&mut wire);
        assert_eq!(frames(&early).len(), 1, "only the receipt before 5 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            frames(&written(&mut wire)),
            vec![Parsed::HeartBeat],
            "one heart-beat once 5 s passed with nothing written"
        );
        // Each write restarts the interval.
        tokio::time::sleep(Duration::from_millis(4_000)).await;
        outbox.frame(server::receipt("r2")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(4_000)).await;
        // No heart-beat at 10 s: the receipt at 9.1 s restarted the interval.
        assert!(matches!(
            frames(&written(&mut wire)).as_slice(),
            [Parsed::Frame(_)]
        ));
        outbox.close().await;
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn without_heart_beats_an_idle_connection_writes_nothing() {
        let (sink, mut wire) = fmpsc::unbounded::<Bytes>();
        let (outbox, writer) = writer(sink, settings(10));
        let task = tokio::spawn(writer);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(written(&mut wire).is_empty());
        outbox.close().await;
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_is_the_last_frame_and_ends_the_writer() {
        let (sink, mut wire) = fmpsc::unbounded::<Bytes>();
        let (outbox, writer) = writer(sink, settings(10));
        let task = tokio::spawn(writer);
        outbox.frame(server::receipt("r1")).await.unwrap();
        outbox.fatal(server::error("bye", None)).await;
        task.await.unwrap();
        let out = frames(&written(&mut wire));
        assert_eq!(out.len(), 2);
        let Parsed::Frame(last) = &out[1] else {
            panic!("expected a frame")
        };
        assert_eq!(last.command, Command::Error);
        assert!(outbox.is_closed());
        assert_eq!(outbox.frame(server::receipt("r2")).await, Err(Closed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_sink_is_given_up_after_the_write_timeout() {
        // A bounded channel nobody reads: after its buffer is full, every write waits.
        let (sink, _wire) = fmpsc::channel::<Bytes>(0);
        let (outbox, writer) = writer(sink, settings(2));
        let task = tokio::spawn(writer);
        let start = tokio::time::Instant::now();
        for i in 0..4 {
            if outbox.frame(server::receipt(&i.to_string())).await.is_err() {
                break;
            }
        }
        task.await.unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "gave up after {waited:?}"
        );
        assert!(outbox.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn queued_frames_are_written_in_order_with_one_flush() {
        let (sink, mut wire) = fmpsc::unbounded::<Bytes>();
        let (outbox, writer) = writer(sink, settings(10));
        for i in 0..50 {
            outbox.frame(server::receipt(&i.to_string())).await.unwrap();
        }
        outbox.close().await;
        writer.await;
        let ids: Vec<String> = frames(&written(&mut wire))
            .into_iter()
            .map(|p| match p {
                Parsed::Frame(f) => f.header("receipt-id").unwrap().to_owned(),
                Parsed::HeartBeat => panic!("no heart-beat expected"),
            })
            .collect();
        let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected);
    }

    struct Two;
    impl MessageBodies for Two {
        fn count(&self) -> usize {
            2
        }
        fn body(&self, i: usize) -> (u64, &[u8]) {
            [(7, &b"{\"a\":1}"[..]), (8, &b"{}"[..])][i]
        }
    }

    #[tokio::test(start_paused = true)]
    async fn message_batches_encode_like_built_frames_and_stop_after_close() {
        let (sink, mut wire) = fmpsc::unbounded::<Bytes>();
        let (outbox, writer) = writer(sink, settings(10));
        let task = tokio::spawn(writer);
        let target = MessageTarget::new("/topic/doc/a:b", "s\\1", false);
        outbox.try_messages(&target, Arc::new(Two), 0).unwrap();
        outbox.messages(&target, Arc::new(Two), 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let got: Vec<Parsed> = frames(&written(&mut wire));
        let expected = |n: u64, body: &'static [u8]| {
            Parsed::Frame(
                server::message("/topic/doc/a:b", "s\\1", &format!("s\\1-{n}"), body)
                    .with_header("content-length", body.len().to_string()),
            )
        };
        assert_eq!(
            got,
            vec![
                expected(7, b"{\"a\":1}"),
                expected(8, b"{}"),
                expected(8, b"{}")
            ]
        );
        // Queued before the end marker: written; after it: dropped.
        outbox.try_messages(&target, Arc::new(Two), 1).unwrap();
        target.close();
        assert!(!target.is_active());
        outbox.end(&target).await;
        outbox.try_messages(&target, Arc::new(Two), 0).unwrap();
        outbox.close().await;
        task.await.unwrap();
        assert_eq!(frames(&written(&mut wire)), vec![expected(8, b"{}")]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_byte_budget_refuses_deliveries_and_closes_a_connection_that_does_not_read() {
        // Nobody reads the wire: the first write fills the channel, then everything queues.
        let (sink, _wire) = fmpsc::channel::<Bytes>(0);
        let mut small = settings(3600);
        small.max_queued_bytes = 600;
        let (outbox, writer) = writer(sink, small);
        let task = tokio::spawn(writer);
        let target = MessageTarget::new("/topic/doc/a", "s", false);
        let mut delivered = 0;
        while outbox.try_messages(&target, Arc::new(Two), 0).is_ok() {
            delivered += 1;
            assert!(delivered < 100, "the budget never filled");
            tokio::task::yield_now().await;
        }
        assert_eq!(
            outbox.try_messages(&target, Arc::new(Two), 0),
            Err(TryQueue::Full),
            "live deliveries are refused, not queued"
        );
        assert!(
            outbox.queued_bytes() <= 600 + 400,
            "{}",
            outbox.queued_bytes()
        );
        // The session's own answer does not fit either: the connection is closed.
        let answer = server::receipt("r").with_header("message", "x".repeat(700));
        assert_eq!(outbox.frame(answer).await, Err(Closed));
        drop(outbox);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn linger_reads_until_the_peer_closes_or_the_deadline() {
        let (tx, mut rx) = fmpsc::unbounded::<Result<Inbound, ()>>();
        tx.unbounded_send(Ok(Inbound::Data(Bytes::from_static(b"x"))))
            .unwrap();
        tx.unbounded_send(Ok(Inbound::Close)).unwrap();
        let start = tokio::time::Instant::now();
        linger(&mut rx).await;
        assert!(start.elapsed() < Duration::from_millis(1));
        // A peer that sends nothing and never closes: bounded by LINGER.
        let (_tx, mut rx) = fmpsc::unbounded::<Result<Inbound, ()>>();
        let start = tokio::time::Instant::now();
        linger(&mut rx).await;
        assert_eq!(start.elapsed(), LINGER);
    }
}
