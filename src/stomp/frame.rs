//! STOMP 1.2 frames: the in-memory [`StompFrame`], its [`Command`], and the encoder.
//!
//! Wire format (STOMP 1.2, "Augmented BNF" section of the spec):
//!
//! ```text
//! frame = command EOL *(header EOL) EOL body NUL *(EOL)
//! EOL   = [CR] LF
//! ```
//!
//! The encoder always writes a truthful `content-length` (so bodies may contain NUL) and
//! escapes headers as [`escape`](super::escape) says; the parser (`parser.rs`) reads what it
//! writes, which the codec property tests check.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use strum::{EnumIter, EnumString, IntoStaticStr};

use super::escape;

pub(crate) const CONTENT_LENGTH: &str = "content-length";

/// A STOMP 1.2 command, client or server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "UPPERCASE")]
pub enum Command {
    /// Opens a session (client).
    Connect,
    /// The 1.2 spelling of CONNECT (client).
    Stomp,
    /// Accepts a session (server).
    Connected,
    /// Sends a message to a destination (client).
    Send,
    /// Subscribes to a destination (client).
    Subscribe,
    /// Ends a subscription (client).
    Unsubscribe,
    /// Acknowledges a message (client).
    Ack,
    /// Refuses a message (client).
    Nack,
    /// Opens a transaction (client).
    Begin,
    /// Commits a transaction (client).
    Commit,
    /// Rolls a transaction back (client).
    Abort,
    /// Ends the session (client).
    Disconnect,
    /// Delivers a message of a subscription (server).
    Message,
    /// Confirms a frame that asked for a receipt (server).
    Receipt,
    /// Reports an error; the server closes afterwards (server).
    Error,
}

impl Command {
    /// Parses a command name. Case-sensitive, as on the wire: `send` is not
    /// a command.
    pub fn parse(s: &str) -> Option<Command> {
        s.parse().ok()
    }

    /// The command name as written on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// CONNECT and CONNECTED are exchanged before the version is agreed, so
    /// 1.2 keeps their headers verbatim for the sake of 1.0 peers. STOMP
    /// (the 1.2 spelling of CONNECT) is escaped like every other frame.
    pub(crate) fn escapes_headers(self) -> bool {
        !matches!(self, Command::Connect | Command::Connected)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One STOMP frame. Headers keep wire order and duplicates; the body is
/// opaque bytes (STOMP does not require it to be text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StompFrame {
    /// The command.
    pub command: Command,
    /// Headers in wire order, unescaped.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl StompFrame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Self {
        StompFrame {
            command,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Appends a header (it does not replace an earlier one with the same
    /// name — and since the first occurrence wins, a later duplicate is
    /// ignored by the receiver). Names must be non-empty to be parseable.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body. `encode` adds the matching `content-length`.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The value of the first header called `name`: STOMP 1.2 says only the
    /// first occurrence of a repeated header is significant.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The frame as wire bytes (without trailing EOLs).
    pub fn encode(&self) -> Bytes {
        let mut dst = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut dst);
        dst.freeze()
    }

    /// Appends the frame's wire bytes to `dst`, e.g. to batch several frames
    /// into one WebSocket message.
    ///
    /// `content-length` is always made truthful: it is written whenever the
    /// body is non-empty or the caller set one, with the body's real length,
    /// in place of the caller's first one (later duplicates are dropped).
    /// Trusting a caller-supplied value would let one bad header desynchronise
    /// the peer's parser for the rest of the connection.
    ///
    /// CONNECT and CONNECTED headers are written verbatim (no escapes exist
    /// for them). A CR or LF there, or a `:` in a name, cannot be carried and
    /// is replaced with U+FFFD, so a value can never inject extra header lines.
    pub fn encode_into(&self, dst: &mut BytesMut) {
        let escape = self.command.escapes_headers();
        dst.reserve(self.encoded_len_hint());
        dst.put_slice(self.command.as_str().as_bytes());
        dst.put_u8(b'\n');

        let needs_length = !self.body.is_empty();
        let mut wrote_length = false;
        for (name, value) in &self.headers {
            if name == CONTENT_LENGTH {
                if !wrote_length {
                    put_content_length(dst, self.body.len());
                    wrote_length = true;
                }
                continue;
            }
            if escape {
                escape::escape_into(dst, name);
                dst.put_u8(b':');
                escape::escape_into(dst, value);
            } else {
                escape::verbatim_into(dst, name, true);
                dst.put_u8(b':');
                escape::verbatim_into(dst, value, false);
            }
            dst.put_u8(b'\n');
        }
        if needs_length && !wrote_length {
            put_content_length(dst, self.body.len());
        }

        dst.put_u8(b'\n');
        dst.put_slice(&self.body);
        dst.put_u8(0);
    }

    /// Buffer capacity estimate: exact for headers without escapes, plus
    /// room for a `content-length` line.
    pub(crate) fn encoded_len_hint(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum();
        // command + EOL, headers, room for content-length, blank line, body, NUL
        self.command.as_str().len() + 1 + headers + 36 + 1 + self.body.len() + 1
    }
}

fn put_content_length(dst: &mut BytesMut, len: usize) {
    dst.put_slice(CONTENT_LENGTH.as_bytes());
    dst.put_u8(b':');
    dst.put_slice(len.to_string().as_bytes());
    dst.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_escapes_and_adds_content_length() {
        let frame = StompFrame::new(Command::Message)
            .with_header("a:b", "x\\y\nz\r")
            .with_body(&b"a\0b"[..]);
        assert_eq!(
            &frame.encode()[..],
            b"MESSAGE\na\\cb:x\\\\y\\nz\\r\ncontent-length:3\n\na\0b\0"
        );
        // No body, no content-length.
        assert_eq!(
            &StompFrame::new(Command::Receipt).encode()[..],
            b"RECEIPT\n\n\0"
        );
    }

    #[test]
    fn encode_replaces_wrong_content_length_in_place() {
        let frame = StompFrame::new(Command::Send)
            .with_header("content-length", "99")
            .with_header("destination", "/d")
            .with_header("content-length", "1")
            .with_body("abc");
        assert_eq!(
            &frame.encode()[..],
            b"SEND\ncontent-length:3\ndestination:/d\n\nabc\0"
        );
        let empty = StompFrame::new(Command::Send).with_header("content-length", "5");
        assert_eq!(&empty.encode()[..], b"SEND\ncontent-length:0\n\n\0");
    }
}
