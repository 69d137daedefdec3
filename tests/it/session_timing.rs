//! The session's timing rules, proven with paused time: a whole session (`session::run`) runs
//! over in-memory channels instead of a socket, on a real store in a temp directory, so "nothing
//! arrives for an hour" and "the ERROR comes at exactly 200 ms, not before" are facts of the
//! tokio clock, not guesses from a short real-time wait. The same rules are also exercised over
//! real WebSockets in `stomp_protocol`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use otterdoc::app::App;
use otterdoc::session;
use otterdoc::stomp::{Command, FrameParser, Inbound, Parsed, StompFrame};
use otterdoc::store::SledStore;
use otterdoc::Config;

/// A session on the other end of two channels.
struct Peer {
    to_server: mpsc::UnboundedSender<Result<Inbound, std::io::Error>>,
    from_server: mpsc::UnboundedReceiver<Bytes>,
    parser: FrameParser,
    _dir: tempfile::TempDir,
}

impl Peer {
    fn start(tweak: impl FnOnce(&mut Config)) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
        tweak(&mut config);
        let store = Arc::new(SledStore::open(&config.data).unwrap());
        let app = App::new(config, store).unwrap();
        let (to_server, inbound) = mpsc::unbounded();
        let (outbound, from_server) = mpsc::unbounded();
        tokio::spawn(session::run(
            app,
            session::Peer::default(),
            inbound,
            outbound,
        ));
        Peer {
            to_server,
            from_server,
            parser: FrameParser::default(),
            _dir: dir,
        }
    }

    fn send(&self, frame: StompFrame) {
        self.to_server
            .unbounded_send(Ok(Inbound::Data(frame.encode())))
            .unwrap();
    }

    fn connect(&self, heart_beat: &str) {
        self.send(
            StompFrame::new(Command::Connect)
                .with_header("accept-version", "1.2")
                .with_header("heart-beat", heart_beat),
        );
    }

    /// Everything the server has written so far, parsed.
    fn received(&mut self) -> Vec<Parsed> {
        while let Ok(chunk) = self.from_server.try_recv() {
            self.parser.push(&chunk);
        }
        let mut out = Vec::new();
        while let Some(item) = self.parser.next_frame().unwrap() {
            out.push(item);
        }
        out
    }

    /// True once the server has closed its side.
    fn closed(&mut self) -> bool {
        matches!(self.from_server.try_recv(), Err(mpsc::TryRecvError::Closed))
    }
}

fn commands(items: &[Parsed]) -> Vec<&str> {
    items
        .iter()
        .map(|p| match p {
            Parsed::Frame(f) => f.command.as_str(),
            Parsed::HeartBeat => "heart-beat",
        })
        .collect()
}

async fn advance(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_wants_no_heart_beats_gets_none_for_an_hour() {
    let mut peer = Peer::start(|c| c.heartbeat_ms = 100);
    peer.connect("0,0");
    advance(10).await;
    assert_eq!(commands(&peer.received()), ["CONNECTED"]);
    advance(3_600_000).await;
    assert!(peer.received().is_empty(), "nothing at all in an hour");
    assert!(!peer.closed(), "and the connection is still open");
}

#[tokio::test(start_paused = true)]
async fn heart_beats_come_at_the_larger_interval_and_not_before() {
    // The server offers 100 ms; the client wants them every 300 ms: 300 ms it is.
    let mut peer = Peer::start(|c| c.heartbeat_ms = 100);
    peer.connect("0,300");
    advance(299).await;
    assert_eq!(commands(&peer.received()), ["CONNECTED"]);
    advance(2).await;
    assert_eq!(commands(&peer.received()), ["heart-beat"]);
    advance(298).await;
    assert!(peer.received().is_empty(), "none before the next 300 ms");
    advance(3).await;
    assert_eq!(commands(&peer.received()), ["heart-beat"]);
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_closed_at_twice_its_interval_not_before() {
    let mut peer = Peer::start(|c| c.heartbeat_ms = 100);
    peer.connect("100,0");
    advance(199).await;
    assert_eq!(commands(&peer.received()), ["CONNECTED"]);
    assert!(!peer.closed());
    advance(2).await;
    let items = peer.received();
    let [Parsed::Frame(error)] = items.as_slice() else {
        panic!("expected one ERROR, got {items:?}")
    };
    assert_eq!(
        error.header("message"),
        Some("no data or heart-beat from the client for 200 ms")
    );
    peer.to_server.unbounded_send(Ok(Inbound::Close)).unwrap();
    advance(10).await;
    assert!(peer.closed());
}

#[tokio::test(start_paused = true)]
async fn heart_beats_from_the_client_keep_it_connected() {
    let mut peer = Peer::start(|c| c.heartbeat_ms = 100);
    peer.connect("100,0");
    for _ in 0..100 {
        advance(150).await;
        peer.to_server
            .unbounded_send(Ok(Inbound::Data(Bytes::from_static(b"\n"))))
            .unwrap();
    }
    assert_eq!(commands(&peer.received()), ["CONNECTED"], "15 s, no ERROR");
    advance(201).await;
    assert_eq!(commands(&peer.received()), ["ERROR"], "then quiet: closed");
}

#[tokio::test(start_paused = true)]
async fn no_connect_within_the_connect_timeout_is_an_error() {
    let mut peer = Peer::start(|c| c.connect_timeout_ms = 5_000);
    advance(4_999).await;
    assert!(peer.received().is_empty());
    advance(2).await;
    let items = peer.received();
    let [Parsed::Frame(error)] = items.as_slice() else {
        panic!("expected one ERROR, got {items:?}")
    };
    assert_eq!(
        error.header("message"),
        Some("no data or heart-beat from the client for 5000 ms")
    );
}
