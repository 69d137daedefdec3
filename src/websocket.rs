//! STOMP over WebSocket: turns an upgraded HTTP connection into the byte transport a session
//! runs on. Every outgoing frame is one text message (every frame the server builds is UTF-8;
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
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::stomp::Inbound;

/// Read buffer of one connection (it grows while a larger message arrives).
const READ_BUFFER: usize = 1024;
/// Outgoing bytes gathered before a write to the socket (the writer flushes every batch).
const WRITE_BUFFER: usize = 16 * 1024;

/// A WebSocket-level failure, worded for the ERROR frame sent before closing.
#[derive(Debug, thiserror::Error)]
#[error("invalid WebSocket message: {0}")]
pub struct WebSocketError(#[from] tungstenite::Error);

/// Runs the WebSocket protocol on `upgraded` and splits it into the session's inbound stream
/// and outbound sink. Messages over `max_message` bytes are an error.
pub async fn accept(
    upgraded: Upgraded,
    max_message: usize,
) -> (
    impl Stream<Item = Result<Inbound, WebSocketError>> + Unpin + Send,
    impl Sink<Bytes, Error = tungstenite::Error> + Unpin + Send + 'static,
) {
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (sink, stream) = socket.split();
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
