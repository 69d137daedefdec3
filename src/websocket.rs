//! STOMP over WebSocket: the upgrade of an HTTP request (shared by `/ws` and SockJS's raw
//! `<base>/websocket`), and the adapter that turns the upgraded connection into the byte
//! transport a session runs on. Every outgoing frame is one text message (every frame the server builds is UTF-8;
//! anything else would go out as binary); incoming text and binary messages are both STOMP
//! bytes; pings are answered by the WebSocket layer and, like pongs, only prove the peer alive.
//!
//! Buffers are sized for many mostly idle connections: a 4 KiB read buffer (it grows for a
//! larger message) and writes gathered up to 16 KiB before they go to the socket, flushed
//! once per batch by the connection's writer.

use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use warp::http::{header, HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::app::App;
use crate::error::Rejection;
use crate::session::{self, Peer};
use crate::stomp::Inbound;

/// STOMP WebSocket subprotocols, best first.
const SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];

/// The upgraded connection, as a WebSocket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// The value of `name` contains `token` (comma-separated, case-insensitive), as `Connection`
/// and `Upgrade` headers are written.
fn has_token<B>(req: &Request<B>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// The `Sec-WebSocket-Key` of `req` if it asks for a WebSocket upgrade (GET with
/// `Connection: Upgrade`, `Upgrade: websocket` and `Sec-WebSocket-Version: 13`).
pub fn upgrade_key<B>(req: &Request<B>) -> Option<HeaderValue> {
    let upgrade = req.method() == Method::GET
        && has_token(req, header::CONNECTION, "upgrade")
        && has_token(req, header::UPGRADE, "websocket")
        && req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            == Some(b"13");
    upgrade
        .then(|| req.headers().get(header::SEC_WEBSOCKET_KEY).cloned())
        .flatten()
}

/// The `101 Switching Protocols` answer to a WebSocket upgrade with `key`, choosing
/// `protocol` as the subprotocol.
pub fn switching_protocols(key: &[u8], protocol: Option<&'static str>) -> Response {
    let mut response =
        warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key)) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol),
        );
    }
    response
}

/// Upgrades `req` (a request [`upgrade_key`] accepted, with that `key`) and runs a STOMP
/// session on the WebSocket, one frame per message; the `token` query parameter is the
/// transport's token. Refused when the server has `--max-connections` sessions.
pub fn upgrade_to_stomp(
    app: &App,
    mut req: Request<hyper::body::Incoming>,
    key: &[u8],
) -> Result<Response, Rejection> {
    session::admission(app)?;
    let offered = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let protocol = choose_subprotocol(offered);
    let peer = Peer {
        token: query_token(req.uri()),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let app = app.clone();
    let max_message = app.config.max_ws_message_bytes();
    app.shutdown.connections.clone().spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let (inbound, outbound) = accept(upgraded, max_message).await;
                session::run(app, peer, inbound, outbound).await;
            }
            Err(err) => tracing::debug!(error = %err, "WebSocket upgrade failed"),
        }
    });
    Ok(switching_protocols(key, protocol))
}

/// The `token` query parameter of `uri`, percent-decoded.
pub fn query_token(uri: &warp::http::Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Picks the best STOMP subprotocol the client offered, if any.
fn choose_subprotocol(offered: Option<&str>) -> Option<&'static str> {
    let offered: Vec<&str> = offered?.split(',').map(str::trim).collect();
    SUBPROTOCOLS.into_iter().find(|p| offered.contains(p))
}

/// Read buffer of one connection (it grows while a larger message arrives).
const READ_BUFFER: usize = 1024;
/// Outgoing bytes gathered before a write to the socket (the writer flushes every batch).
const WRITE_BUFFER: usize = 16 * 1024;

/// A WebSocket-level failure, worded for the ERROR frame sent before closing.
#[derive(Debug, thiserror::Error)]
#[error("invalid WebSocket message: {0}")]
pub struct WebSocketError(#[from] tungstenite::Error);

/// Runs the WebSocket protocol (server side) on `upgraded`, with small buffers; messages over
/// `max_message` bytes are an error.
pub async fn socket(upgraded: Upgraded, max_message: usize) -> Socket {
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await
}

/// Runs the WebSocket protocol on `upgraded` and splits it into the session's inbound stream
/// and outbound sink. Messages over `max_message` bytes are an error.
pub async fn accept(
    upgraded: Upgraded,
    max_message: usize,
) -> (
    impl Stream<Item = Result<Inbound, WebSocketError>> + Unpin + Send,
    impl Sink<Bytes, Error = tungstenite::Error> + Unpin + Send + 'static,
) {
    let (sink, stream) = socket(upgraded, max_message).await.split();
    let inbound = stream.map(|message| {
        Ok(match message? {
            Message::Text(text) => Inbound::Data(Bytes::from(text)),
            Message::Binary(bytes) => Inbound::Data(bytes),
            Message::Close(_) => Inbound::Close,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Inbound::Control,
        })
    });
    let outbound = sink.with(|bytes: Bytes| futures::future::ready(Ok(to_message(bytes))));
    (inbound, Box::pin(outbound))
}

fn to_message(bytes: Bytes) -> Message {
    // A `Bytes` clone is a reference count, not a copy.
    match Utf8Bytes::try_from(bytes.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_best_offered_subprotocol() {
        assert_eq!(
            choose_subprotocol(Some("v10.stomp, v12.stomp")),
            Some("v12.stomp")
        );
        assert_eq!(choose_subprotocol(Some("v11.stomp")), Some("v11.stomp"));
        assert_eq!(choose_subprotocol(Some("mqtt")), None);
        assert_eq!(choose_subprotocol(None), None);
    }

    #[test]
    fn reads_the_token_query_parameter() {
        let uri: warp::http::Uri = "/ws?x=1&token=a%2Bb.c".parse().unwrap();
        assert_eq!(query_token(&uri).as_deref(), Some("a+b.c"));
        let uri: warp::http::Uri = "/ws".parse().unwrap();
        assert_eq!(query_token(&uri), None);
    }
}
