//! `Upstream`: the connection a node opens to the node that owns a document, when several
//! nodes share one store. It is otterdoc's own protocol — STOMP 1.2 over the owner's `/ws`
//! WebSocket — so the node is just a client of the owner: it subscribes to the document's topic
//! (to relay every op to its own subscribers) and SENDs its clients' submissions. It proves it
//! is a node with the peer secret both share through the store (`passcode`) and names itself
//! in an `otterdoc-peer` header; the owner then records, with each op, the user the forwarding
//! node authenticated (`otterdoc-user` on the SEND), and trusts that node's checks of rights
//! and rates.
//!
//! Frames are encoded and parsed with the server's own codec; heart-beats are not used (a dead
//! owner is noticed by its connection closing, or by its lease expiring).

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::stomp::{Command, FrameParser, Parsed, StompFrame, PEER_HEADER};

/// Why a peer connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// TCP or the WebSocket handshake failed, or the connection broke.
    #[error("cannot reach node {addr}: {reason}")]
    Unreachable {
        /// The node's address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The node refused us or broke the protocol.
    #[error("node {addr} refused the connection: {reason}")]
    Refused {
        /// The node's address.
        addr: String,
        /// What it said.
        reason: String,
    },
}

/// A STOMP connection to another node.
pub struct Upstream {
    addr: String,
    ws: WebSocketStream<TcpStream>,
    parser: FrameParser,
}

impl Upstream {
    /// Connects to the node at `addr` (`host:port`) as node `node`, with the shared `secret`,
    /// within `within`.
    pub async fn connect(
        addr: &str,
        node: &str,
        secret: &str,
        max_frame: usize,
        within: Duration,
    ) -> Result<Upstream, PeerError> {
        let unreachable = |reason: String| PeerError::Unreachable {
            addr: addr.to_owned(),
            reason,
        };
        let handshake = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            // Forwarded submissions are small and latency-bound (see `listener.rs`).
            tcp.set_nodelay(true)
                .map_err(|e| unreachable(e.to_string()))?;
            let mut request = format!("ws://{addr}/ws")
                .into_client_request()
                .map_err(|e| unreachable(e.to_string()))?;
            request.headers_mut().insert(
                "sec-websocket-protocol",
                "v12.stomp"
                    .parse()
                    .map_err(|_| unreachable("bad header".into()))?,
            );
            let (ws, _) = tokio_tungstenite::client_async(request, tcp)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let mut upstream = Upstream {
                addr: addr.to_owned(),
                ws,
                parser: FrameParser::new(max_frame),
            };
            let connect = StompFrame::new(Command::Connect)
                .with_header("accept-version", "1.2")
                .with_header("host", addr)
                .with_header("heart-beat", "0,0")
                .with_header(PEER_HEADER, node)
                .with_header("passcode", secret);
            upstream.send(&connect).await?;
            match upstream.next().await? {
                Some(frame) if frame.command == Command::Connected => Ok(upstream),
                Some(frame) => Err(PeerError::Refused {
                    addr: addr.to_owned(),
                    reason: frame.header("message").unwrap_or("no CONNECTED").to_owned(),
                }),
                None => Err(unreachable("closed during CONNECT".into())),
            }
        };
        tokio::time::timeout(within, handshake)
            .await
            .map_err(|_| unreachable(format!("no answer within {} ms", within.as_millis())))?
    }

    /// The node's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &StompFrame) -> Result<(), PeerError> {
        let bytes: Bytes = frame.encode();
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| PeerError::Refused {
            addr: self.addr.clone(),
            reason: "a frame that is not UTF-8".into(),
        });
        let message = match text {
            Ok(text) => Message::text(text),
            Err(_) => Message::binary(bytes),
        };
        self.ws
            .send(message)
            .await
            .map_err(|e| PeerError::Unreachable {
                addr: self.addr.clone(),
                reason: e.to_string(),
            })
    }

    /// The next frame from the node (heart-beats skipped); `None` once it closed.
    pub async fn next(&mut self) -> Result<Option<StompFrame>, PeerError> {
        loop {
            match self.parser.next_frame() {
                Ok(Some(Parsed::Frame(frame))) => return Ok(Some(frame)),
                Ok(Some(Parsed::HeartBeat)) => continue,
                Ok(None) => {}
                Err(err) => {
                    return Err(PeerError::Refused {
                        addr: self.addr.clone(),
                        reason: format!("malformed frame: {err}"),
                    })
                }
            }
            match self.ws.next().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(PeerError::Unreachable {
                        addr: self.addr.clone(),
                        reason: e.to_string(),
                    })
                }
                Some(Ok(Message::Text(text))) => self.parser.push(text.as_bytes()),
                Some(Ok(Message::Binary(data))) => self.parser.push(&data),
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes the connection (best effort).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
