//! STOMP 1.2 wire codec: the bytes editor frontends exchange with us over
//! WebSocket, turned into [`StompFrame`]s and back.
//!
//! Written by hand rather than taken from crates.io. The async STOMP crates
//! (`tokio-stomp` and its forks, `async-stomp`) are clients: they decode
//! server frames and encode client frames, the opposite of what a server
//! needs. `stomp-parser` decodes both directions but only from a complete
//! message, so it cannot bound how much a peer makes us buffer while a frame
//! is still arriving. `little-stomper` is a whole broker framework (its own
//! destinations and client model), far more than the framing layer we want
//! under our own session logic. The codec itself is small, so owning it is
//! cheaper than adapting any of those.
//!
//! What lives where:
//! - `frame.rs` owns the whole codec: [`Command`], [`StompFrame`] and its
//!   encoder, the incremental [`FrameParser`], and [`FrameError`]. Encoder
//!   and parser sit in one file because they must agree on the escaping and
//!   `content-length` rules; keeping them (and their tests) side by side
//!   keeps them in step.
//! - This file only re-exports, so callers write `otterdoc::stomp::StompFrame`
//!   and the file layout can change without touching them.
//!
//! Nothing here knows about sessions, subscriptions or documents: the codec
//! turns bytes into frames and frames into bytes, and reports malformed
//! input as a [`FrameError`] whose `Display` text is meant for the
//! `message` header of the ERROR frame sent before closing the connection.

mod frame;

pub use frame::{Command, FrameError, FrameParser, Parsed, StompFrame, DEFAULT_MAX_FRAME};
