//! The incremental STOMP 1.2 parser: bytes in as they arrive, [`Parsed`] frames and
//! heart-beats out, malformed input reported as a [`FrameError`].
//!
//! Rules it enforces, and why they matter for a server:
//! - Header escapes are undone by the rules in [`escape`](super::escape); a bad escape is an
//!   error, so two peers can never disagree about what a header says.
//! - A repeated header keeps every occurrence in order, but only the first one counts
//!   ([`StompFrame::header`]), as the spec requires.
//! - `content-length`, when present, fixes the body length (so bodies may contain NUL);
//!   without it the body ends at the first NUL.
//! - Every frame is bounded by a byte limit checked while the frame is still arriving, so a
//!   peer that never sends the terminating NUL, or announces a huge `content-length`, cannot
//!   make us buffer more than the limit.

use std::borrow::Cow;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::escape::{self, BadEscape};
use super::frame::{Command, StompFrame, CONTENT_LENGTH};

/// Longest command name ("UNSUBSCRIBE"); a command line growing past it is rejected without
/// waiting for its end.
const MAX_COMMAND_LEN: usize = 11;

/// Error messages quote offending input; cap the quote so one hostile line cannot turn into a
/// 64 KiB ERROR header.
const MAX_EXCERPT_CHARS: usize = 64;

/// Why a byte stream is not valid STOMP 1.2. The `Display` text is written
/// for the peer: it goes into the `message` header of the ERROR frame.
///
/// STOMP has no way to resynchronise after a malformed frame, so every error
/// ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("header line without ':': '{0}'")]
    MissingColon(String),
    #[error("header line with an empty name: '{0}'")]
    EmptyHeaderName(String),
    #[error("invalid header escape \\{escape} in header '{header}'")]
    InvalidEscape { escape: char, header: String },
    #[error("header '{header}' ends with a lone backslash")]
    DanglingEscape { header: String },
    #[error("invalid content-length '{0}'")]
    InvalidContentLength(String),
    #[error("body of content-length {0} is not followed by NUL")]
    MissingNul(usize),
}

/// What [`FrameParser::next_frame`] found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Frame(StompFrame),
    /// A lone EOL between frames. The spec uses these as heart-beats; the EOLs
    /// a peer may put after a frame's NUL are reported the same way, which is
    /// harmless since any incoming byte proves the peer alive.
    HeartBeat,
}

/// Incremental STOMP parser for one connection.
///
/// Feed it bytes as they arrive ([`push`](Self::push)), then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`: a WebSocket
/// message may hold a fragment of a frame, or several frames.
///
/// Work is linear in the input: lines are consumed as soon as they are
/// complete, and a scan for LF or NUL resumes where the previous one stopped,
/// so a frame trickling in one byte at a time costs no rescans.
///
/// After an error the parser stays failed and returns that error again:
/// the stream cannot be resynchronised, the caller should send ERROR and
/// close.
#[derive(Debug)]
pub struct FrameParser {
    buf: BytesMut,
    max_frame: usize,
    /// Bytes at the front of `buf` already known not to contain what the
    /// current state is looking for (LF in the head, NUL in the body).
    scanned: usize,
    state: State,
    failed: Option<FrameError>,
    /// The `receipt` header of the frame being read, once read (for the ERROR of a frame that
    /// turns out malformed after it).
    receipt: Option<String>,
}

#[derive(Debug, Default)]
enum State {
    /// At a frame boundary.
    #[default]
    Idle,
    /// Command line read; reading header lines.
    Headers(Head),
    /// Blank line read; waiting for the body and its NUL.
    Body {
        head: Head,
        content_length: Option<usize>,
    },
}

/// The parsed part of a frame still arriving.
#[derive(Debug)]
struct Head {
    command: Command,
    /// The command line, when it is not a command: the frame's headers are still read (so its
    /// ERROR can carry the receipt), then it fails.
    unknown: Option<String>,
    headers: Vec<(String, String)>,
    /// Bytes of this frame consumed so far, for the size limit.
    len: usize,
}

impl Default for FrameParser {
    fn default() -> Self {
        FrameParser::new(crate::config::defaults::MAX_FRAME_BYTES)
    }
}

impl FrameParser {
    /// A parser rejecting frames longer than `max_frame` bytes, counted from
    /// the first byte of the command through the terminating NUL.
    pub fn new(max_frame: usize) -> Self {
        FrameParser {
            buf: BytesMut::new(),
            max_frame,
            scanned: 0,
            state: State::Idle,
            failed: None,
            receipt: None,
        }
    }

    /// The limit given to [`new`](Self::new).
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes received but not yet returned as part of a frame or heart-beat.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends received bytes. Nothing is parsed until `next_frame`.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame or heart-beat, `Ok(None)` if more bytes are
    /// needed, or the reason the stream is malformed.
    pub fn next_frame(&mut self) -> Result<Option<Parsed>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// After [`Self::next_frame`] failed: the `receipt` header of the malformed frame, if it
    /// was read before the fault (STOMP 1.2: the ERROR should carry it as `receipt-id`).
    pub fn failed_receipt(&self) -> Option<&str> {
        self.failed.as_ref().and(self.receipt.as_deref())
    }

    fn step(&mut self) -> Result<Option<Parsed>, FrameError> {
        loop {
            // Taken by value so each arm can move the partial frame into the
            // next state; every `Ok(None)` path puts it back.
            match std::mem::take(&mut self.state) {
                State::Idle => {
                    match self.buf.first() {
                        None => return Ok(None),
                        Some(b'\n') => {
                            self.consume(1);
                            return Ok(Some(Parsed::HeartBeat));
                        }
                        Some(b'\r') => match self.buf.get(1) {
                            None => return Ok(None),
                            Some(b'\n') => {
                                self.consume(2);
                                return Ok(Some(Parsed::HeartBeat));
                            }
                            Some(_) => {}
                        },
                        Some(_) => {}
                    }
                    // A line too long to be a command is rejected on its first bytes, whether or
                    // not its end has arrived, quoting just those: what is reported must not
                    // depend on how the input was split into messages.
                    // +1 leaves room for a CR before the LF.
                    let too_long = |buf: &[u8]| {
                        FrameError::UnknownCommand(excerpt(&buf[..MAX_COMMAND_LEN + 1]))
                    };
                    let Some((end, used)) = self.find_line() else {
                        if self.buf.len() > MAX_COMMAND_LEN + 1 {
                            return Err(too_long(&self.buf));
                        }
                        self.check_size(self.buf.len())?;
                        return Ok(None);
                    };
                    if end > MAX_COMMAND_LEN {
                        return Err(too_long(&self.buf));
                    }
                    self.check_size(used)?;
                    let (command, unknown) = match parse_command(&self.buf[..end]) {
                        Ok(command) => (command, None),
                        // Headers are read as a SEND's (escaped), then the frame fails.
                        Err(FrameError::UnknownCommand(name)) => (Command::Send, Some(name)),
                        Err(other) => return Err(other),
                    };
                    self.consume(used);
                    self.receipt = None;
                    self.state = State::Headers(Head {
                        command,
                        unknown,
                        headers: Vec::new(),
                        len: used,
                    });
                }
                State::Headers(mut head) => {
                    let Some((end, used)) = self.find_line() else {
                        self.check_size(head.len.saturating_add(self.buf.len()))?;
                        self.state = State::Headers(head);
                        return Ok(None);
                    };
                    head.len += used;
                    self.check_size(head.len)?;
                    if end == 0 {
                        self.consume(used);
                        if let Some(name) = head.unknown {
                            return Err(FrameError::UnknownCommand(name));
                        }
                        let content_length = content_length(&head.headers)?;
                        if let Some(n) = content_length {
                            self.check_size(head.len.saturating_add(n))?;
                        }
                        self.state = State::Body {
                            head,
                            content_length,
                        };
                    } else {
                        let header = parse_header(head.command, &self.buf[..end])?;
                        self.consume(used);
                        if header.0 == "receipt" && self.receipt.is_none() {
                            self.receipt = Some(header.1.clone());
                        }
                        head.headers.push(header);
                        self.state = State::Headers(head);
                    }
                }
                State::Body {
                    head,
                    content_length: Some(n),
                } => {
                    // `n < buf.len()` so indexing `buf[n]` below is in bounds.
                    if self.buf.len() <= n {
                        self.state = State::Body {
                            head,
                            content_length: Some(n),
                        };
                        return Ok(None);
                    }
                    if self.buf[n] != 0 {
                        return Err(FrameError::MissingNul(n));
                    }
                    let body = Bytes::copy_from_slice(&self.buf[..n]);
                    self.consume(n + 1);
                    return Ok(Some(Parsed::Frame(head.into_frame(body))));
                }
                State::Body {
                    head,
                    content_length: None,
                } => {
                    let Some(pos) = self.find_from_scanned(0) else {
                        self.check_size(head.len.saturating_add(self.buf.len()))?;
                        self.state = State::Body {
                            head,
                            content_length: None,
                        };
                        return Ok(None);
                    };
                    self.check_size(head.len.saturating_add(pos))?;
                    let body = Bytes::copy_from_slice(&self.buf[..pos]);
                    self.consume(pos + 1);
                    return Ok(Some(Parsed::Frame(head.into_frame(body))));
                }
            }
        }
    }

    /// `len` is how many bytes of the current frame precede its NUL (known
    /// exactly, or a lower bound while they are still arriving).
    fn check_size(&self, len: usize) -> Result<(), FrameError> {
        if len.saturating_add(1) > self.max_frame {
            Err(FrameError::TooLarge {
                limit: self.max_frame,
            })
        } else {
            Ok(())
        }
    }

    /// Position of the first `byte` in `buf`, resuming after the part already
    /// searched; records progress when it is not there yet.
    fn find_from_scanned(&mut self, byte: u8) -> Option<usize> {
        match self.buf[self.scanned..].iter().position(|&b| b == byte) {
            Some(i) => Some(self.scanned + i),
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// Locates the next complete line: where its content ends (before the
    /// EOL) and how many bytes it occupies including the EOL.
    fn find_line(&mut self) -> Option<(usize, usize)> {
        let lf = self.find_from_scanned(b'\n')?;
        let end = if lf > 0 && self.buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        Some((end, lf + 1))
    }

    /// Drops bytes that have been turned into a frame, heart-beat or head.
    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.scanned = 0;
    }
}

impl Head {
    fn into_frame(self, body: Bytes) -> StompFrame {
        StompFrame {
            command: self.command,
            headers: self.headers,
            body,
        }
    }
}

fn parse_command(line: &[u8]) -> Result<Command, FrameError> {
    let text = std::str::from_utf8(line).map_err(|_| FrameError::NotUtf8("command line"))?;
    Command::parse(text).ok_or_else(|| FrameError::UnknownCommand(excerpt(line)))
}

fn parse_header(command: Command, line: &[u8]) -> Result<(String, String), FrameError> {
    let text = std::str::from_utf8(line).map_err(|_| FrameError::NotUtf8("header line"))?;
    // Escaping turns every ':' inside a name or value into `\c`, so the first
    // raw ':' is the separator; in verbatim frames a value may still contain
    // colons of its own.
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| FrameError::MissingColon(excerpt(line)))?;
    if name.is_empty() {
        return Err(FrameError::EmptyHeaderName(excerpt(line)));
    }
    if !command.escapes_headers() {
        return Ok((name.to_owned(), value.to_owned()));
    }
    let unescaped = |raw: &str| {
        escape::unescape(raw)
            .map(Cow::into_owned)
            .map_err(|bad| match bad {
                BadEscape::Invalid(escape) => FrameError::InvalidEscape {
                    escape,
                    header: excerpt(name.as_bytes()),
                },
                BadEscape::Dangling => FrameError::DanglingEscape {
                    header: excerpt(name.as_bytes()),
                },
            })
    };
    Ok((unescaped(name)?, unescaped(value)?))
}

/// The body length announced by the first `content-length` header, if any.
fn content_length(headers: &[(String, String)]) -> Result<Option<usize>, FrameError> {
    let Some((_, value)) = headers.iter().find(|(n, _)| n == CONTENT_LENGTH) else {
        return Ok(None);
    };
    // Digits only: `usize::from_str` would also take a leading '+'.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FrameError::InvalidContentLength(excerpt(value.as_bytes())));
    }
    // All digits, so the only possible failure is overflow; saturating lets
    // the caller's size check reject it with the real limit in the message.
    Ok(Some(value.parse().unwrap_or(usize::MAX)))
}

/// Offending input, quoted in an error message: lossy UTF-8, length-capped.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use strum::IntoEnumIterator;

    const LIMIT: usize = crate::config::defaults::MAX_FRAME_BYTES;

    /// Parses `input` pushed in one go, collecting everything until more data
    /// would be needed.
    fn parse_all(input: &[u8]) -> Result<Vec<Parsed>, FrameError> {
        parse_chunked(input, input.len().max(1), LIMIT)
    }

    fn parse_chunked(input: &[u8], chunk: usize, limit: usize) -> Result<Vec<Parsed>, FrameError> {
        let mut parser = FrameParser::new(limit);
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            parser.push(piece);
            while let Some(item) = parser.next_frame()? {
                out.push(item);
            }
        }
        Ok(out)
    }

    fn one_frame(input: &[u8]) -> StompFrame {
        match parse_all(input).expect("valid input").as_slice() {
            [Parsed::Frame(frame)] => frame.clone(),
            other => panic!("expected exactly one frame, got {other:?}"),
        }
    }

    fn error_of(input: &[u8]) -> FrameError {
        parse_all(input).expect_err("input should be rejected")
    }

    #[test]
    fn parses_a_simple_frame() {
        let frame = one_frame(b"SEND\ndestination:/doc/1\nreceipt:7\n\nhello\0");
        assert_eq!(frame.command, Command::Send);
        assert_eq!(frame.header("destination"), Some("/doc/1"));
        assert_eq!(frame.header("receipt"), Some("7"));
        assert_eq!(frame.header("missing"), None);
        assert_eq!(&frame.body[..], b"hello");
    }

    #[test]
    fn command_names_round_trip_and_are_case_sensitive() {
        for command in Command::iter() {
            assert_eq!(Command::parse(command.as_str()), Some(command));
            assert_eq!(command.to_string(), command.as_str());
        }
        assert_eq!(Command::parse("send"), None);
        assert_eq!(Command::parse("FOO"), None);
    }

    #[test]
    fn unescapes_the_four_escapes() {
        let frame = one_frame(b"SEND\na\\cb:x\\\\y\\nz\\rw\\c\n\n\0");
        assert_eq!(frame.headers, vec![("a:b".into(), "x\\y\nz\rw:".into())]);
    }

    #[test]
    fn rejects_unknown_escape() {
        let err = error_of(b"SEND\ndestination:/a\\tb\n\n\0");
        assert_eq!(
            err,
            FrameError::InvalidEscape {
                escape: 't',
                header: "destination".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "invalid header escape \\t in header 'destination'"
        );
    }

    #[test]
    fn rejects_escape_in_name_and_lone_trailing_backslash() {
        assert!(matches!(
            error_of(b"SEND\nde\\st:x\n\n\0"),
            FrameError::InvalidEscape { escape: 's', .. }
        ));
        let err = error_of(b"SEND\ndestination:abc\\\n\n\0");
        assert_eq!(
            err,
            FrameError::DanglingEscape {
                header: "destination".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "header 'destination' ends with a lone backslash"
        );
    }

    #[test]
    fn connect_and_connected_headers_are_verbatim() {
        let frame = one_frame(b"CONNECT\nlogin:a\\tb\\c\npasscode:x:y\n\n\0");
        assert_eq!(frame.header("login"), Some("a\\tb\\c"));
        assert_eq!(frame.header("passcode"), Some("x:y"));
        let frame = one_frame(b"CONNECTED\nserver:o\\n\n\n\0");
        assert_eq!(frame.header("server"), Some("o\\n"));
        // STOMP is the 1.2 spelling of CONNECT and is escaped normally.
        assert!(parse_all(b"STOMP\nlogin:a\\tb\n\n\0").is_err());
    }

    #[test]
    fn repeated_header_first_wins() {
        let frame = one_frame(b"MESSAGE\nfoo:first\nfoo:second\n\n\0");
        assert_eq!(frame.header("foo"), Some("first"));
        assert_eq!(frame.headers.len(), 2);
    }

    #[test]
    fn value_may_contain_colons_and_may_be_empty() {
        let frame = one_frame(b"CONNECT\nhost:a:b:c\nempty:\n\n\0");
        assert_eq!(frame.header("host"), Some("a:b:c"));
        assert_eq!(frame.header("empty"), Some(""));
        // Leading/trailing spaces are part of the value in 1.2.
        let frame = one_frame(b"SEND\nk: v \n\n\0");
        assert_eq!(frame.header("k"), Some(" v "));
    }

    #[test]
    fn header_without_colon_or_name_is_rejected() {
        let err = error_of(b"SEND\ndestination\n\n\0");
        assert_eq!(err, FrameError::MissingColon("destination".into()));
        assert_eq!(err.to_string(), "header line without ':': 'destination'");
        assert!(matches!(
            error_of(b"SEND\n:value\n\n\0"),
            FrameError::EmptyHeaderName(_)
        ));
    }

    #[test]
    fn content_length_allows_nul_in_body() {
        let frame = one_frame(b"SEND\ncontent-length:5\n\na\0b\0c\0");
        assert_eq!(&frame.body[..], b"a\0b\0c");
    }

    #[test]
    fn content_length_first_occurrence_counts() {
        let frame = one_frame(b"SEND\ncontent-length:3\ncontent-length:1\n\na\0b\0");
        assert_eq!(&frame.body[..], b"a\0b");
    }

    #[test]
    fn zero_content_length_and_no_content_length() {
        assert!(one_frame(b"SEND\ncontent-length:0\n\n\0").body.is_empty());
        assert!(one_frame(b"SEND\n\n\0").body.is_empty());
        assert!(one_frame(b"DISCONNECT\n\n\0").headers.is_empty());
    }

    #[test]
    fn content_length_must_be_followed_by_nul() {
        assert_eq!(
            error_of(b"SEND\ncontent-length:2\n\nabc\0"),
            FrameError::MissingNul(2)
        );
    }

    #[test]
    fn invalid_content_length_is_rejected() {
        for bad in ["abc", "-1", "+5", " 5", "5 ", "", "0x10", "1.5"] {
            let input = format!("SEND\ncontent-length:{bad}\n\n\0");
            assert_eq!(
                error_of(input.as_bytes()),
                FrameError::InvalidContentLength(bad.into()),
                "content-length {bad:?}"
            );
        }
        assert_eq!(
            error_of(b"SEND\ncontent-length:99999999999999999999999\n\n\0"),
            FrameError::TooLarge { limit: LIMIT }
        );
    }

    #[test]
    fn crlf_line_endings() {
        let frame = one_frame(b"SEND\r\ndestination:/d\r\nx:y\r\n\r\nbody\0");
        assert_eq!(frame.command, Command::Send);
        assert_eq!(frame.header("destination"), Some("/d"));
        assert_eq!(frame.header("x"), Some("y"));
        assert_eq!(&frame.body[..], b"body");
    }

    #[test]
    fn heart_beats_between_and_after_frames() {
        let items = parse_all(b"\n\r\nSEND\n\na\0\n\r\nACK\nid:1\n\n\0\n").unwrap();
        let shape: Vec<&str> = items
            .iter()
            .map(|p| match p {
                Parsed::HeartBeat => "hb",
                Parsed::Frame(f) => f.command.as_str(),
            })
            .collect();
        assert_eq!(shape, ["hb", "hb", "SEND", "hb", "hb", "ACK", "hb"]);
    }

    #[test]
    fn lone_cr_waits_for_lf() {
        let mut parser = FrameParser::default();
        parser.push(b"\r");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.push(b"\n");
        assert_eq!(parser.next_frame(), Ok(Some(Parsed::HeartBeat)));
        assert_eq!(parser.buffered(), 0);
    }

    #[test]
    fn several_frames_in_one_buffer() {
        let mut input = Vec::new();
        for i in 0..5 {
            let frame = StompFrame::new(Command::Message)
                .with_header("message-id", i.to_string())
                .with_body(format!("body {i}"));
            input.extend_from_slice(&frame.encode());
        }
        let items = parse_all(&input).unwrap();
        assert_eq!(items.len(), 5);
        for (i, item) in items.iter().enumerate() {
            let Parsed::Frame(frame) = item else {
                panic!("expected a frame, got {item:?}")
            };
            assert_eq!(frame.header("message-id"), Some(i.to_string().as_str()));
            assert_eq!(frame.body, Bytes::from(format!("body {i}")));
        }
    }

    #[test]
    fn frames_split_at_every_byte_boundary() {
        let mut input = Vec::new();
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(
            b"SEND\r\ndestination:/a\\cb\r\ncontent-length:3\r\n\r\n\0x\0\0\r\n",
        );
        input.extend_from_slice(b"CONNECT\naccept-version:1.2\nhost:h\n\n\0");
        input.extend_from_slice(b"ACK\nid:12\n\nno length\0");
        let whole = parse_all(&input).unwrap();
        assert_eq!(whole.len(), 5);
        // One split point anywhere...
        for split in 0..=input.len() {
            let mut parser = FrameParser::default();
            let mut items = Vec::new();
            for piece in [&input[..split], &input[split..]] {
                parser.push(piece);
                while let Some(item) = parser.next_frame().unwrap() {
                    items.push(item);
                }
            }
            assert_eq!(items, whole, "split at {split}");
        }
        // ...and every byte on its own.
        assert_eq!(parse_chunked(&input, 1, LIMIT).unwrap(), whole);
    }

    #[test]
    fn incomplete_frame_waits_without_error() {
        let mut parser = FrameParser::default();
        parser.push(b"SEND\ndestination:/a\n\npartial body");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.push(b" and the rest\0");
        let Some(Parsed::Frame(frame)) = parser.next_frame().unwrap() else {
            panic!("expected a frame")
        };
        assert_eq!(&frame.body[..], b"partial body and the rest");
    }

    #[test]
    fn size_limit_is_exact() {
        let wire = StompFrame::new(Command::Send)
            .with_header("destination", "/d")
            .with_body("0123456789")
            .encode();
        assert!(parse_chunked(&wire, wire.len(), wire.len()).is_ok());
        assert!(parse_chunked(&wire, 1, wire.len()).is_ok());
        let err = parse_chunked(&wire, wire.len(), wire.len() - 1).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                limit: wire.len() - 1
            }
        );
        assert_eq!(
            err.to_string(),
            format!("frame exceeds the {}-byte limit", wire.len() - 1)
        );
        // Same for a frame without content-length.
        let wire = b"SEND\n\n0123456789\0";
        assert!(parse_chunked(wire, 1, wire.len()).is_ok());
        assert!(parse_chunked(wire, 1, wire.len() - 1).is_err());
    }

    #[test]
    fn too_large_detected_before_the_nul_arrives() {
        let mut parser = FrameParser::new(1024);
        parser.push(b"SEND\ndestination:/d\n\n");
        assert_eq!(parser.next_frame(), Ok(None));
        let mut sent = 0;
        let err = loop {
            parser.push(&[b'x'; 100]);
            sent += 100;
            match parser.next_frame() {
                Ok(None) => assert!(sent < 1024, "still buffering after {sent} bytes"),
                Ok(Some(item)) => panic!("unexpected {item:?}"),
                Err(err) => break err,
            }
        };
        assert_eq!(err, FrameError::TooLarge { limit: 1024 });
        assert!(parser.buffered() <= 1024 + 100);
        // The parser stays failed.
        parser.push(b"\0");
        assert_eq!(parser.next_frame(), Err(err));
    }

    #[test]
    fn too_large_content_length_detected_from_the_header() {
        let mut parser = FrameParser::new(1024);
        parser.push(b"SEND\ncontent-length:1000000\n\n");
        assert_eq!(
            parser.next_frame(),
            Err(FrameError::TooLarge { limit: 1024 })
        );
    }

    #[test]
    fn too_large_detected_in_an_endless_header_line() {
        let mut parser = FrameParser::new(256);
        parser.push(b"SEND\ndestination:");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.push(&[b'a'; 300]);
        assert_eq!(
            parser.next_frame(),
            Err(FrameError::TooLarge { limit: 256 })
        );
    }

    /// Found by the `stomp_parser` fuzz target: a command line too long to be a command was
    /// quoted as far as it had arrived, and when it arrived whole its headers were read first,
    /// so the error depended on how the input was split.
    #[test]
    fn a_too_long_command_line_fails_the_same_however_it_arrives() {
        let input = b"CONNEC\x10\x03estination:/app/doc/b\nreceipt:r\n\n\0";
        let expected = Err(FrameError::UnknownCommand("CONNEC\u{10}\u{3}esti".into()));
        let mut whole = FrameParser::default();
        whole.push(input);
        assert_eq!(whole.next_frame(), expected);
        assert_eq!(whole.failed_receipt(), None);
        let mut trickled = FrameParser::default();
        let mut result = Ok(None);
        for byte in input {
            trickled.push(&[*byte]);
            result = trickled.next_frame();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, expected);
        assert_eq!(trickled.failed_receipt(), None);
    }

    #[test]
    fn a_malformed_frame_names_its_receipt_when_it_was_read() {
        // An unknown command: its headers are still read.
        let mut parser = FrameParser::default();
        parser.push(b"FOO\nreceipt:r1\nx:y\n\n\0");
        assert_eq!(
            parser.next_frame(),
            Err(FrameError::UnknownCommand("FOO".into()))
        );
        assert_eq!(parser.failed_receipt(), Some("r1"));
        // A bad escape after the receipt header.
        let mut parser = FrameParser::default();
        parser.push(b"SEND\nreceipt:r2\nbad:a\\tb\n\n\0");
        assert!(parser.next_frame().is_err());
        assert_eq!(parser.failed_receipt(), Some("r2"));
        // A bad escape before it: not read.
        let mut parser = FrameParser::default();
        parser.push(b"SEND\nbad:a\\tb\nreceipt:r3\n\n\0");
        assert!(parser.next_frame().is_err());
        assert_eq!(parser.failed_receipt(), None);
        // A good frame leaves nothing behind.
        let mut parser = FrameParser::default();
        parser.push(b"SEND\nreceipt:r4\n\n\0");
        assert!(parser.next_frame().unwrap().is_some());
        assert_eq!(parser.failed_receipt(), None);
    }

    #[test]
    fn unknown_command_is_rejected() {
        let err = error_of(b"FOO\n\n\0");
        assert_eq!(err, FrameError::UnknownCommand("FOO".into()));
        assert_eq!(err.to_string(), "unknown command 'FOO'");
        assert!(matches!(
            error_of(b"send\n\n\0"),
            FrameError::UnknownCommand(_)
        ));
        assert!(matches!(
            error_of(b"SEND \n\n\0"),
            FrameError::UnknownCommand(_)
        ));
    }

    #[test]
    fn overlong_command_line_is_rejected_before_its_end() {
        let mut parser = FrameParser::default();
        parser.push(b"GET / HTTP/1.1");
        assert!(matches!(
            parser.next_frame(),
            Err(FrameError::UnknownCommand(_))
        ));
        // The longest real command, with CR, is not rejected early.
        let mut parser = FrameParser::default();
        parser.push(b"UNSUBSCRIBE\r");
        assert_eq!(parser.next_frame(), Ok(None));
    }

    #[test]
    fn non_utf8_command_or_header_is_rejected() {
        assert_eq!(
            error_of(b"SE\xffND\n\n\0"),
            FrameError::NotUtf8("command line")
        );
        assert_eq!(
            error_of(b"SEND\nk:\xc3\x28\n\n\0"),
            FrameError::NotUtf8("header line")
        );
        // The body is bytes and may be anything.
        assert_eq!(&one_frame(b"SEND\n\n\xff\xfe\0").body[..], b"\xff\xfe");
    }

    #[test]
    fn unicode_headers_survive() {
        let frame = one_frame("SEND\nclé:värde ✓\\c\n\n\0".as_bytes());
        assert_eq!(frame.header("clé"), Some("värde ✓:"));
    }

    #[test]
    fn encode_connected_is_verbatim_but_cannot_inject_lines() {
        let frame = StompFrame::new(Command::Connected)
            .with_header("version", "1.2")
            .with_header("server", "otter\\doc:1")
            .with_header("session", "evil\nreceipt-id:1");
        let wire = frame.encode();
        assert_eq!(
            &wire[..],
            "CONNECTED\nversion:1.2\nserver:otter\\doc:1\nsession:evil\u{FFFD}receipt-id:1\n\n\0"
                .as_bytes()
        );
        let parsed = one_frame(&wire);
        assert_eq!(parsed.headers.len(), 3);
        assert_eq!(parsed.header("server"), Some("otter\\doc:1"));
    }

    #[test]
    fn encode_parse_round_trip_with_binary_body() {
        let frame = StompFrame::new(Command::Send)
            .with_header("destination", "/doc/ä:1\\x")
            .with_header("destination", "second")
            .with_body(vec![0u8, 1, 0, 255, b'\n', 0]);
        let parsed = one_frame(&frame.encode());
        assert_eq!(parsed.command, frame.command);
        assert_eq!(parsed.body, frame.body);
        assert_eq!(&parsed.headers[..2], &frame.headers[..]);
        assert_eq!(parsed.header("content-length"), Some("6"));
    }

    #[test]
    fn error_messages_quote_at_most_a_short_excerpt() {
        let mut input = b"SEND\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 1000));
        input.extend_from_slice(b"\n\n\0");
        let FrameError::MissingColon(quoted) = error_of(&input) else {
            panic!("expected MissingColon")
        };
        assert_eq!(quoted.chars().count(), MAX_EXCERPT_CHARS + 1);
        assert!(quoted.ends_with('…'));
    }
}
