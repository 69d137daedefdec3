//! STOMP over plain TCP (`--stomp-tcp-listen`) with a raw socket: the same session as `/ws` —
//! frames split anyhow across reads, heart-beats both ways, authentication by the CONNECT
//! `passcode` or `Authorization` header, rights, limits and errors. (The editing scenario with
//! a real TCP STOMP client, `@stomp/tcp-wrapper` + stompjs, is `interop`'s.)

use std::time::Duration;

use otterdoc::config::AuthMode;
use otterdoc::stomp::{FrameParser, Parsed, StompFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::tokens::{claims, hs256, ISSUER, SECRET};
use crate::common::{TestServer, WAIT};

/// A server with STOMP over TCP on a free port, after `tweak`.
async fn server(tweak: impl FnOnce(&mut otterdoc::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.stomp_tcp_listen = Some("127.0.0.1:0".parse().unwrap());
        tweak(c);
    })
    .await
}

/// One raw TCP STOMP connection.
struct Tcp {
    stream: TcpStream,
    parser: FrameParser,
}

/// What the connection delivered next.
#[derive(Debug, PartialEq)]
enum Next {
    Frame(StompFrame),
    HeartBeat,
    Closed,
}

impl Tcp {
    async fn open(server: &TestServer) -> Tcp {
        let addr = server.stomp_tcp_addr().expect("--stomp-tcp-listen bound");
        Tcp {
            stream: TcpStream::connect(addr).await.expect("connect"),
            parser: FrameParser::new(1 << 20),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    async fn next(&mut self) -> Next {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.parser.next_frame().expect("the server's frames parse") {
                    Some(Parsed::Frame(frame)) => return Next::Frame(frame),
                    Some(Parsed::HeartBeat) => return Next::HeartBeat,
                    None => {}
                }
                let mut buf = [0u8; 4096];
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return Next::Closed,
                    Ok(n) => self.parser.push(&buf[..n]),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("nothing from the server within {WAIT:?}"))
    }

    /// The next frame, skipping heart-beats.
    async fn frame(&mut self) -> StompFrame {
        loop {
            match self.next().await {
                Next::Frame(frame) => return frame,
                Next::HeartBeat => continue,
                Next::Closed => panic!("closed while waiting for a frame"),
            }
        }
    }

    async fn connect(&mut self, headers: &str) -> StompFrame {
        let frame = format!("CONNECT\naccept-version:1.2\nhost:otterdoc\n{headers}\n\0");
        self.write(frame.as_bytes()).await;
        self.frame().await
    }
}

fn command(frame: &StompFrame) -> &str {
    frame.command.as_str()
}

#[tokio::test]
async fn edits_over_tcp_with_frames_split_anyhow() {
    let server = server(|_| {}).await;
    let mut tcp = Tcp::open(&server).await;
    // CONNECT and SUBSCRIBE arrive byte by byte, then SEND glued to them.
    let connect = "CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0";
    for byte in connect.as_bytes() {
        tcp.write(&[*byte]).await;
    }
    let connected = tcp.frame().await;
    assert_eq!(command(&connected), "CONNECTED", "{connected:?}");
    assert_eq!(connected.header("version"), Some("1.2"));
    let both = concat!(
        "SUBSCRIBE\nid:d\ndestination:/topic/doc/tcp\n\n\0",
        "SEND\ndestination:/app/doc/tcp\nreceipt:r1\ncontent-type:application/json\n\n",
        "{\"client\":\"tcp\",\"seq\":1,\"base\":0,\"op\":[\"over tcp\"]}\0"
    );
    tcp.write(both.as_bytes()).await;
    let snapshot = tcp.frame().await;
    assert_eq!(command(&snapshot), "MESSAGE");
    let mut seen = vec![];
    loop {
        let frame = tcp.frame().await;
        if command(&frame) == "RECEIPT" {
            assert_eq!(frame.header("receipt-id"), Some("r1"));
            assert_eq!(frame.header("version"), Some("1"));
            break;
        }
        seen.push(frame);
    }
    // A WebSocket client sees the TCP client's op and answers; the TCP client sees that.
    let mut ws = server.client().await;
    let before = ws.subscribe_confirmed("d", "/topic/doc/tcp", &[]).await;
    assert_eq!(
        crate::common::stomp::body_json(&before[0])["content"],
        "over tcp"
    );
    let op = serde_json::json!({"client":"ws","seq":1,"base":1,"op":[8,"!"]});
    ws.send_op("tcp", &op, Some("w1")).await;
    ws.until_receipt("w1").await;
    loop {
        let frame = tcp.frame().await;
        let body: serde_json::Value = serde_json::from_slice(&frame.body).unwrap();
        if body["client"] == "ws" {
            assert_eq!(body["version"], 2, "{body}");
            break;
        }
    }
    let (_, doc) = server.get("/docs/tcp").await;
    assert_eq!(doc["content"], "over tcp!");

    // DISCONNECT with a receipt: RECEIPT, then the server closes.
    tcp.write(b"DISCONNECT\nreceipt:bye\n\n\0").await;
    let receipt = tcp.frame().await;
    assert_eq!(receipt.header("receipt-id"), Some("bye"));
    assert_eq!(tcp.next().await, Next::Closed);
}

#[tokio::test]
async fn heart_beats_both_ways() {
    let server = server(|_| {}).await;
    let mut tcp = Tcp::open(&server).await;
    // The client wants one every 100 ms and promises none; the server may ask for more.
    let connected = tcp.connect("heart-beat:0,100\n").await;
    let negotiated = connected.header("heart-beat").expect("heart-beat header");
    let sends: u64 = negotiated.split(',').next().unwrap().parse().unwrap();
    assert!(sends > 0, "the server sends heart-beats: {negotiated}");
    assert_eq!(tcp.next().await, Next::HeartBeat);
    assert_eq!(tcp.next().await, Next::HeartBeat);
}

#[tokio::test]
async fn a_silent_client_is_closed_after_its_heart_beat_promise() {
    let server = server(|c| c.heartbeat_ms = 200).await;
    let mut tcp = Tcp::open(&server).await;
    let connected = tcp.connect("heart-beat:100,0\n").await;
    let negotiated = connected.header("heart-beat").expect("heart-beat header");
    let expects: u64 = negotiated.split(',').nth(1).unwrap().parse().unwrap();
    assert!(expects > 0, "{negotiated}");
    // Client heart-beats (EOLs) keep it open past the promise...
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(expects / 2)).await;
        tcp.write(b"\n").await;
    }
    tcp.write(b"SUBSCRIBE\nid:e\ndestination:/user/queue/errors\nreceipt:r\n\n\0")
        .await;
    assert_eq!(tcp.frame().await.header("receipt-id"), Some("r"));
    // ...silence closes it with an ERROR.
    let error = tcp.frame().await;
    assert_eq!(command(&error), "ERROR", "{error:?}");
    assert_eq!(tcp.next().await, Next::Closed);
}

#[tokio::test]
async fn authentication_by_passcode_or_authorization_header() {
    let server = server(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_secret = Some(SECRET.to_owned());
        c.jwt_issuer = Some(ISSUER.to_owned());
    })
    .await;
    let reader = hs256(&claims("tcp-bot", &["a"], &[], 600), SECRET);
    let writer = hs256(&claims("tcp-writer", &["a"], &["a"], 600), SECRET);

    let mut tcp = Tcp::open(&server).await;
    let connected = tcp
        .connect(&format!("login:bot\npasscode:{reader}\n"))
        .await;
    assert_eq!(command(&connected), "CONNECTED", "{connected:?}");
    assert_eq!(connected.header("user-name"), Some("tcp-bot"));
    // Read-only: the write is refused on its receipt, the session goes on.
    tcp.write(b"SEND\ndestination:/app/doc/a\nreceipt:w\n\n{\"client\":\"b\",\"seq\":1,\"base\":0,\"op\":[\"x\"]}\0")
        .await;
    let receipt = tcp.frame().await;
    assert_eq!(receipt.header("receipt-id"), Some("w"));
    assert_eq!(receipt.header("error"), Some("forbidden"));

    let mut tcp = Tcp::open(&server).await;
    let connected = tcp
        .connect(&format!("Authorization:Bearer {writer}\n"))
        .await;
    assert_eq!(connected.header("user-name"), Some("tcp-writer"));

    for headers in ["".to_owned(), "passcode:not-a-token\n".to_owned()] {
        let mut tcp = Tcp::open(&server).await;
        let refused = tcp.connect(&headers).await;
        assert_eq!(command(&refused), "ERROR", "{headers:?}: {refused:?}");
        assert_eq!(tcp.next().await, Next::Closed, "{headers:?}");
    }
}

#[tokio::test]
async fn errors_and_limits_are_those_of_websocket_sessions() {
    let server = server(|c| c.max_frame_bytes = 1024).await;
    // Not STOMP at all: ERROR, closed.
    let mut tcp = Tcp::open(&server).await;
    tcp.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let error = tcp.frame().await;
    assert_eq!(command(&error), "ERROR", "{error:?}");
    assert_eq!(tcp.next().await, Next::Closed);

    // A frame over --max-frame-bytes: ERROR, closed.
    let mut tcp = Tcp::open(&server).await;
    tcp.connect("").await;
    let big = format!("SEND\ndestination:/app/doc/x\n\n{}\0", "x".repeat(2000));
    tcp.write(big.as_bytes()).await;
    let error = tcp.frame().await;
    assert_eq!(command(&error), "ERROR", "{error:?}");
    assert!(
        error.header("message").unwrap_or_default().contains("1024"),
        "{error:?}"
    );
    assert_eq!(tcp.next().await, Next::Closed);

    // --max-connections counts TCP and WebSocket sessions alike.
    let server = self::server(|c| c.max_connections = 2).await;
    let mut first = Tcp::open(&server).await;
    first.connect("").await;
    let _ws = server.client().await;
    let mut third = Tcp::open(&server).await;
    let refused = third.frame().await;
    assert_eq!(command(&refused), "ERROR", "{refused:?}");
    assert!(
        refused
            .header("message")
            .unwrap_or_default()
            .contains("--max-connections"),
        "{refused:?}"
    );
    assert_eq!(third.next().await, Next::Closed);
}

#[tokio::test]
async fn off_unless_asked_for_and_closed_at_shutdown() {
    let plain = TestServer::start().await;
    assert_eq!(plain.stomp_tcp_addr(), None);

    let mut server = server(|_| {}).await;
    let mut tcp = Tcp::open(&server).await;
    tcp.connect("").await;
    let addr = server.stomp_tcp_addr().unwrap();
    server.stop().await;
    // The session was told and closed; the port no longer accepts.
    loop {
        match tcp.next().await {
            Next::Closed => break,
            Next::Frame(_) | Next::HeartBeat => continue,
        }
    }
    assert!(TcpStream::connect(addr).await.is_err());
}
