//! STOMP 1.2: the wire codec editor frontends exchange with us, what its frames mean, and the
//! outbound side of one connection. Nothing here knows about sessions, subscriptions or
//! documents.
//!
//! Written by hand rather than taken from crates.io. The async STOMP crates (`tokio-stomp` and
//! its forks, `async-stomp`) are clients: they decode server frames and encode client frames,
//! the opposite of what a server needs. `stomp-parser` decodes both directions but only from a
//! complete message, so it cannot bound how much a peer makes us buffer while a frame is still
//! arriving. `little-stomper` is a whole broker framework (its own destinations and client
//! model), far more than the framing layer we want under our own session logic. The codec
//! itself is small, so owning it is cheaper than adapting any of those.
//!
//! What lives where:
//! - `frame.rs`: [`Command`], [`StompFrame`] and its encoder;
//! - `escape.rs`: the header escaping rules, shared by encoder and parser so they agree;
//! - `parser.rs`: the incremental [`FrameParser`] and [`FrameError`] (whose `Display` text is
//!   meant for the `message` header of the ERROR sent before closing);
//! - `command.rs`: typed client commands ([`ClientCommand::from_frame`]) and a builder for
//!   every server frame ([`server`]);
//! - `connection.rs`: the [`Outbox`], the writer task, heart-beats and the lingering close.

mod command;
mod connection;
mod escape;
mod frame;
mod parser;

pub use command::{
    server, ClientCommand, Connect, Connected, Send, Subscribe, Violation, PEER_HEADER, USER_HEADER,
};
pub use connection::{
    linger, writer, Closed, Inbound, MessageBodies, MessageTarget, Outbox, TryQueue, WriterSettings,
};
pub use frame::{Command, StompFrame};
pub use parser::{FrameError, FrameParser, Parsed};
