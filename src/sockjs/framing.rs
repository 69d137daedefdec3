//! The SockJS 0.3.3 framing: what the server writes (`o`, `h`, `a[...]`, `c[code,"reason"]`),
//! how each HTTP transport wraps a frame on the wire, and how client payloads (`xhr_send`
//! bodies, WebSocket messages) are read. Pure functions, no I/O.
//!
//! Messages are JSON strings. Beyond what JSON requires, the protocol asks the server to
//! escape the characters browsers or proxies mangle: U+0000-U+001F, U+200C-U+200F,
//! U+2028-U+202F, U+2060-U+206F and U+FFF0-U+FFFF (Rust strings hold no lone surrogates, the
//! other range it names).

use std::fmt::Write;

use bytes::Bytes;

/// The open frame, sent once when a session starts.
pub(super) const OPEN: &str = "o";
/// The heart-beat frame.
pub(super) const HEART_BEAT: &str = "h";
/// Answer to a receiving request while another one is open on the session.
pub(super) const ANOTHER_CONNECTION: (u16, &str) = (2010, "Another connection still open");
/// The session has ended (the server closed it).
pub(super) const GO_AWAY: (u16, &str) = (3000, "Go away!");
/// The receiving request was cut off by the client or the network: the session ended.
pub(super) const INTERRUPTED: (u16, &str) = (1002, "Connection interrupted");

/// Bytes of the `xhr_streaming` prelude (`h` × 2048 and a newline), which gets some browsers
/// to hand over the response as it streams.
const STREAMING_PRELUDE: usize = 2048;

/// How a transport carries frames on its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transport {
    /// `xhr`: one frame per response, newline-terminated.
    XhrPolling,
    /// `xhr_streaming`: a 2 KiB prelude, then newline-terminated frames.
    XhrStreaming,
    /// `eventsource`: `text/event-stream` events (`data: <frame>\r\n\r\n`).
    EventSource,
    /// `websocket`: one WebSocket text message per frame.
    WebSocket,
}

impl Transport {
    /// True if a response carries one frame and ends.
    pub(super) fn is_polling(self) -> bool {
        self == Transport::XhrPolling
    }

    /// True if the response ends after [`crate::config::limits::SOCKJS_STREAMING_BYTES`].
    pub(super) fn has_byte_limit(self) -> bool {
        matches!(self, Transport::XhrStreaming | Transport::EventSource)
    }

    /// What the response starts with, before any frame.
    pub(super) fn prelude(self) -> Option<Bytes> {
        match self {
            Transport::XhrStreaming => {
                let mut prelude = "h".repeat(STREAMING_PRELUDE);
                prelude.push('\n');
                Some(Bytes::from(prelude))
            }
            // An empty line first: some EventSource implementations miss the first event
            // otherwise.
            Transport::EventSource => Some(Bytes::from_static(b"\r\n")),
            Transport::XhrPolling | Transport::WebSocket => None,
        }
    }

    /// `frame` as this transport writes it.
    pub(super) fn wrap(self, frame: &str) -> Bytes {
        match self {
            Transport::XhrPolling | Transport::XhrStreaming => {
                let mut out = String::with_capacity(frame.len() + 1);
                out.push_str(frame);
                out.push('\n');
                Bytes::from(out)
            }
            Transport::EventSource => {
                let mut out = String::with_capacity(frame.len() + 10);
                out.push_str("data: ");
                out.push_str(frame);
                out.push_str("\r\n\r\n");
                Bytes::from(out)
            }
            Transport::WebSocket => Bytes::from(frame.to_owned()),
        }
    }

    /// The `Content-Type` of its responses.
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Transport::XhrPolling | Transport::XhrStreaming => {
                "application/javascript;charset=UTF-8"
            }
            Transport::EventSource => "text/event-stream;charset=UTF-8",
            Transport::WebSocket => "",
        }
    }
}

/// A close frame: `c[<code>,"<reason>"]`.
pub(super) fn close((code, reason): (u16, &str)) -> String {
    let mut out = format!("c[{code},");
    push_json_string(&mut out, reason);
    out.push(']');
    out
}

/// An array frame carrying `messages` (each a STOMP frame, or part of one, as UTF-8).
pub(super) fn messages<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut out = String::from("a[");
    for (i, message) in messages.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, &String::from_utf8_lossy(message));
    }
    out.push(']');
    out
}

/// True if the protocol asks the server to `\u`-escape `c` in a message.
fn must_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{200c}'..='\u{200f}'
        | '\u{2028}'..='\u{202f}'
        | '\u{2060}'..='\u{206f}'
        | '\u{fff0}'..='\u{ffff}')
}

/// Appends `s` as a JSON string literal, escaping what [`must_escape`] names as `\uXXXX`.
fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if must_escape(c) => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a client payload was refused; the `Display` text is the protocol's response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// An empty body.
    #[error("Payload expected.")]
    Expected,
    /// Not a JSON array of strings.
    #[error("Broken JSON encoding.")]
    Broken,
}

/// The messages of an `xhr_send` body: a JSON array of strings (`[]` carries none).
pub(super) fn parse_send_body(body: &[u8]) -> Result<Vec<String>, PayloadError> {
    if body.is_empty() {
        return Err(PayloadError::Expected);
    }
    serde_json::from_slice::<Vec<String>>(body).map_err(|_| PayloadError::Broken)
}

/// The messages of a SockJS WebSocket message: a JSON array of strings or one JSON string;
/// an empty message carries none.
pub(super) fn parse_websocket_message(text: &str) -> Result<Vec<String>, PayloadError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if let Ok(messages) = serde_json::from_str::<Vec<String>>(text) {
        return Ok(messages);
    }
    serde_json::from_str::<String>(text)
        .map(|one| vec![one])
        .map_err(|_| PayloadError::Broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_as_the_protocol_spells_them() {
        assert_eq!(close(GO_AWAY), r#"c[3000,"Go away!"]"#);
        assert_eq!(
            close(ANOTHER_CONNECTION),
            r#"c[2010,"Another connection still open"]"#
        );
        assert_eq!(messages([&b"a"[..], b"b\"c"]), r#"a["a","b\"c"]"#);
        assert_eq!(
            messages([&b"CONNECTED\nversion:1.2\n\n\0"[..]]),
            r#"a["CONNECTED\u000aversion:1.2\u000a\u000a\u0000"]"#
        );
        assert_eq!(Transport::XhrPolling.wrap("o"), "o\n");
        assert_eq!(Transport::EventSource.wrap("o"), "data: o\r\n\r\n");
        assert_eq!(Transport::WebSocket.wrap("h"), "h");
        let prelude = Transport::XhrStreaming.prelude().unwrap();
        assert_eq!(prelude.len(), 2049);
        assert!(prelude[..2048].iter().all(|b| *b == b'h') && prelude[2048] == b'\n');
    }

    #[test]
    fn every_character_the_protocol_names_is_escaped_and_nothing_else() {
        for code in 0u32..=0xffff {
            let Some(c) = char::from_u32(code) else {
                continue; // surrogates
            };
            let frame = messages([c.to_string().as_bytes()]);
            let escaped = frame == format!("a[\"\\u{code:04x}\"]");
            let named = code <= 0x1f
                || (0x200c..=0x200f).contains(&code)
                || (0x2028..=0x202f).contains(&code)
                || (0x2060..=0x206f).contains(&code)
                || (0xfff0..=0xffff).contains(&code);
            assert_eq!(escaped, named, "U+{code:04X}: {frame}");
            // Whatever the encoding, it decodes back to the character.
            let decoded: Vec<String> = serde_json::from_str(&frame[1..]).unwrap();
            assert_eq!(decoded, vec![c.to_string()]);
        }
    }

    #[test]
    fn send_bodies_are_json_arrays_of_strings() {
        assert_eq!(parse_send_body(b"[]"), Ok(vec![]));
        assert_eq!(
            parse_send_body(br#"["a","\u0000\u2028"]"#),
            Ok(vec!["a".into(), "\0\u{2028}".into()])
        );
        assert_eq!(parse_send_body(b""), Err(PayloadError::Expected));
        for broken in [
            &b"[\"x"[..],
            b"x",
            b"[1]",
            b"{}",
            b"\"a\"",
            br#"["\ud800"]"#,
        ] {
            assert_eq!(parse_send_body(broken), Err(PayloadError::Broken));
        }
        assert_eq!(PayloadError::Expected.to_string(), "Payload expected.");
        assert_eq!(PayloadError::Broken.to_string(), "Broken JSON encoding.");
    }

    #[test]
    fn websocket_messages_are_arrays_or_single_strings() {
        assert_eq!(parse_websocket_message(""), Ok(vec![]));
        assert_eq!(parse_websocket_message("[]"), Ok(vec![]));
        assert_eq!(
            parse_websocket_message(r#"["a","b"]"#),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_websocket_message(r#""a""#), Ok(vec!["a".into()]));
        assert_eq!(parse_websocket_message("[\"a"), Err(PayloadError::Broken));
    }
}
