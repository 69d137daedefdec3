//! STOMP over WebSocket: adapts an upgraded warp WebSocket to the byte transport a session
//! runs on. Every outgoing frame is one message (text when it is UTF-8, which every frame the
//! server builds is); incoming text and binary messages are both STOMP bytes; pings and pongs
//! are answered by the WebSocket layer and only prove the peer alive.

use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use warp::ws::{Message, WebSocket};

use crate::stomp::Inbound;

/// A WebSocket-level failure, worded for the ERROR frame sent before closing.
#[derive(Debug, thiserror::Error)]
#[error("invalid WebSocket message: {0}")]
pub struct WebSocketError(#[from] warp::Error);

/// Splits `socket` into the session's inbound stream and outbound sink.
pub fn split(
    socket: WebSocket,
) -> (
    impl Stream<Item = Result<Inbound, WebSocketError>> + Unpin + Send,
    impl Sink<Bytes, Error = warp::Error> + Unpin + Send + 'static,
) {
    let (sink, stream) = socket.split();
    let inbound = stream.map(|message| {
        let message = message?;
        Ok(if message.is_close() {
            Inbound::Close
        } else if message.is_text() || message.is_binary() {
            Inbound::Data(message.into_bytes())
        } else {
            Inbound::Control
        })
    });
    let outbound =
        sink.with(|bytes: Bytes| futures::future::ready(Ok::<_, warp::Error>(to_message(bytes))));
    (inbound, Box::pin(outbound))
}

fn to_message(bytes: Bytes) -> Message {
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Message::text(text),
        Err(err) => Message::binary(err.into_bytes()),
    }
}
