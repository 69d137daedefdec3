//! The one STOMP-over-WebSocket client of the suite: frames are encoded and parsed with the
//! server's own codec (verified separately by the codec property tests and against stompjs by
//! the interop test). Waits are bounded by [`WAIT`]; helpers that must not fail panic with
//! what they saw, the `try_`/`next_within` ones report instead (for servers being killed).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use otterdoc::stomp::{Command, FrameParser, Parsed, StompFrame};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What came off the wire.
#[derive(Debug)]
pub enum Incoming {
    Frame(StompFrame),
    HeartBeat,
    Closed,
}

pub struct StompClient {
    ws: Ws,
    parser: FrameParser,
    /// The subprotocol the server picked.
    pub subprotocol: Option<String>,
    closed: bool,
}

impl StompClient {
    /// Opens the WebSocket offering the STOMP subprotocols.
    pub async fn open(url: &str) -> StompClient {
        Self::open_with_protocols(url, Some("v10.stomp, v11.stomp, v12.stomp")).await
    }

    pub async fn open_with_protocols(url: &str, protocols: Option<&str>) -> StompClient {
        let request = Self::request(url, protocols);
        let (ws, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect timed out")
            .expect("websocket connects");
        Self::from_handshake(ws, &response)
    }

    /// Opens the WebSocket with extra handshake headers (e.g. `Origin`); the HTTP status if the
    /// server refuses the upgrade.
    pub async fn try_open_with(url: &str, headers: &[(&str, &str)]) -> Result<StompClient, u16> {
        let mut request = Self::request(url, Some("v10.stomp, v11.stomp, v12.stomp"));
        for (name, value) in headers {
            let name: tokio_tungstenite::tungstenite::http::HeaderName =
                name.parse().expect("header name");
            request
                .headers_mut()
                .insert(name, value.parse().expect("header value"));
        }
        let connected = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect timed out");
        match connected {
            Ok((ws, response)) => Ok(Self::from_handshake(ws, &response)),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(other) => panic!("websocket handshake failed: {other}"),
        }
    }

    /// Like [`Self::open`], over a socket whose receive buffer is set to `bytes` before it
    /// connects (the kernel rounds it up to its minimum): a client that stops reading then
    /// pushes back on the server almost at once instead of after megabytes of buffering.
    pub async fn open_with_recv_buffer(url: &str, bytes: u32) -> StompClient {
        let request = Self::request(url, Some("v10.stomp, v11.stomp, v12.stomp"));
        let host = request.uri().host().expect("host").to_owned();
        let port = request.uri().port_u16().expect("port");
        let addr: std::net::SocketAddr = format!("{host}:{port}").parse().expect("ip:port");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let handshake = async {
            let tcp = socket.connect(addr).await.expect("tcp connects");
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp))
                .await
                .expect("websocket connects")
        };
        let (ws, response) = tokio::time::timeout(WAIT, handshake)
            .await
            .expect("connect timed out");
        Self::from_handshake(ws, &response)
    }

    /// The upgrade request for `url`, offering `protocols` as subprotocols.
    fn request(
        url: &str,
        protocols: Option<&str>,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut request = url.into_client_request().expect("request");
        if let Some(p) = protocols {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().expect("header"));
        }
        request
    }

    /// A client over an upgraded connection, remembering the subprotocol the server picked.
    fn from_handshake(
        ws: Ws,
        response: &tokio_tungstenite::tungstenite::handshake::client::Response,
    ) -> StompClient {
        let subprotocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        StompClient {
            ws,
            parser: FrameParser::new(16 * 1024 * 1024),
            subprotocol,
            closed: false,
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let msg = match std::str::from_utf8(bytes) {
            Ok(text) => Message::text(text.to_owned()),
            Err(_) => Message::binary(bytes.to_vec()),
        };
        self.ws.send(msg).await.expect("send");
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::binary(bytes.to_vec()))
            .await
            .expect("send");
    }

    /// Sends `frame`; false if the connection is gone.
    pub async fn try_send(&mut self, frame: &StompFrame) -> bool {
        let text = String::from_utf8(frame.encode().to_vec()).expect("a UTF-8 frame");
        self.ws.send(Message::text(text)).await.is_ok()
    }

    pub async fn send(&mut self, frame: &StompFrame) {
        let bytes = frame.encode();
        self.send_raw(&bytes).await;
    }

    /// Next frame or heart-beat, waiting at most `wait`; None on timeout.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.parser.next_frame() {
                Ok(Some(Parsed::Frame(f))) => return Some(Incoming::Frame(f)),
                Ok(Some(Parsed::HeartBeat)) => return Some(Incoming::HeartBeat),
                Ok(None) => {}
                Err(e) => panic!("server sent a malformed frame: {e}"),
            }
            if self.closed {
                return Some(Incoming::Closed);
            }
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => self.closed = true,
                Ok(Some(Ok(msg))) => match msg {
                    Message::Text(t) => self.parser.push(t.as_bytes()),
                    Message::Binary(b) => self.parser.push(&b),
                    Message::Close(_) => self.closed = true,
                    _ => {}
                },
            }
        }
    }

    /// Next frame, skipping heart-beats; panics on timeout or close.
    pub async fn frame(&mut self) -> StompFrame {
        loop {
            match self.next_within(WAIT).await {
                Some(Incoming::Frame(f)) => return f,
                Some(Incoming::HeartBeat) => continue,
                Some(Incoming::Closed) => panic!("connection closed while waiting for a frame"),
                None => panic!("timed out waiting for a frame"),
            }
        }
    }

    /// Next frame, or None if the connection closed first (skipping heart-beats).
    pub async fn frame_or_close(&mut self) -> Option<StompFrame> {
        loop {
            match self.next_within(WAIT).await {
                Some(Incoming::Frame(f)) => return Some(f),
                Some(Incoming::HeartBeat) => continue,
                Some(Incoming::Closed) => return None,
                None => panic!("timed out waiting for a frame or close"),
            }
        }
    }

    /// Waits until the server closes the connection (frames before that are returned).
    pub async fn until_closed(&mut self) -> Vec<StompFrame> {
        let mut frames = Vec::new();
        while let Some(f) = self.frame_or_close().await {
            frames.push(f);
        }
        frames
    }

    /// Expects an ERROR frame followed by the connection closing; returns the ERROR.
    pub async fn expect_error_and_close(&mut self) -> StompFrame {
        let frames = self.until_closed().await;
        let error = frames
            .iter()
            .find(|f| f.command == Command::Error)
            .unwrap_or_else(|| panic!("expected an ERROR frame before close, got {frames:?}"))
            .clone();
        assert!(
            error.header("message").is_some(),
            "ERROR has a message header"
        );
        error
    }

    pub async fn connect_with(&mut self, headers: &[(&str, &str)]) -> StompFrame {
        let mut frame = StompFrame::new(Command::Connect);
        for (k, v) in headers {
            frame = frame.with_header(*k, *v);
        }
        self.send(&frame).await;
        self.frame().await
    }

    /// CONNECT with accept-version 1.2 and no heart-beats; asserts CONNECTED.
    pub async fn connect(&mut self) -> StompFrame {
        let f = self
            .connect_with(&[("accept-version", "1.2"), ("heart-beat", "0,0")])
            .await;
        assert_eq!(f.command, Command::Connected, "{f:?}");
        f
    }

    pub async fn subscribe(&mut self, id: &str, destination: &str, extra: &[(&str, &str)]) {
        let mut frame = StompFrame::new(Command::Subscribe)
            .with_header("id", id)
            .with_header("destination", destination);
        for (k, v) in extra {
            frame = frame.with_header(*k, *v);
        }
        self.send(&frame).await;
    }

    /// SUBSCRIBE with a receipt, waiting for it (frames before the RECEIPT are returned).
    pub async fn subscribe_confirmed(
        &mut self,
        id: &str,
        destination: &str,
        extra: &[(&str, &str)],
    ) -> Vec<StompFrame> {
        let receipt = format!("sub-{id}");
        let mut headers = extra.to_vec();
        headers.push(("receipt", &receipt));
        self.subscribe(id, destination, &headers).await;
        self.until_receipt(&receipt).await.0
    }

    /// SEND a JSON body to `/app/doc/<doc>`, optionally with a receipt.
    pub async fn send_op(&mut self, doc: &str, body: &Value, receipt: Option<&str>) {
        let mut frame = StompFrame::new(Command::Send)
            .with_header("destination", format!("/app/doc/{doc}"))
            .with_header("content-type", "application/json")
            .with_body(body.to_string());
        if let Some(r) = receipt {
            frame = frame.with_header("receipt", r);
        }
        self.send(&frame).await;
    }

    /// Reads frames until the RECEIPT with `receipt-id` = `id`; returns the frames before it
    /// and the RECEIPT.
    pub async fn until_receipt(&mut self, id: &str) -> (Vec<StompFrame>, StompFrame) {
        let mut before = Vec::new();
        loop {
            let f = self.frame().await;
            if f.command == Command::Receipt && f.header("receipt-id") == Some(id) {
                return (before, f);
            }
            assert_ne!(f.command, Command::Error, "unexpected ERROR: {f:?}");
            before.push(f);
        }
    }

    /// Frames until the RECEIPT with `receipt-id` = `id` (included, last) or until the server
    /// closes the connection (an ERROR, if any, is then last).
    pub async fn until_closed_or_receipt(&mut self, id: &str) -> Vec<StompFrame> {
        let mut frames = Vec::new();
        while let Some(f) = self.frame_or_close().await {
            let done = f.command == Command::Receipt && f.header("receipt-id") == Some(id);
            frames.push(f);
            if done {
                break;
            }
        }
        frames
    }

    /// Next MESSAGE's JSON body (skipping other frames is NOT done: anything else panics).
    pub async fn message_json(&mut self) -> Value {
        let f = self.frame().await;
        assert_eq!(f.command, Command::Message, "expected MESSAGE, got {f:?}");
        body_json(&f)
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A frame's body as JSON.
pub fn body_json(frame: &StompFrame) -> Value {
    serde_json::from_slice(&frame.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&frame.body)
        )
    })
}
