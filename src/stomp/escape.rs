//! The header escaping rules of STOMP 1.2, in one place because both directions must agree on
//! them exactly: the encoder escapes with them, the parser undoes them, and a rule changed on
//! one side only would let two peers disagree about what a header says.
//!
//! - In every frame except CONNECT and CONNECTED, `\\`, LF, CR and `:` are written as `\\\\`,
//!   `\\n`, `\\r` and `\\c`; any other escape is an error, not passed through.
//! - CONNECT and CONNECTED are verbatim (1.0 peers must be able to negotiate); a CR or LF (or a
//!   `:` in a name) cannot be carried there and is replaced with U+FFFD, so a value can never
//!   inject header lines.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

/// Appends `s` to `dst` with the 1.2 escapes.
pub(crate) fn escape_into(dst: &mut BytesMut, s: &str) {
    // The escaped characters are ASCII, so working on bytes never splits a multi-byte UTF-8
    // sequence.
    for &b in s.as_bytes() {
        match b {
            b'\\' => dst.put_slice(b"\\\\"),
            b'\n' => dst.put_slice(b"\\n"),
            b'\r' => dst.put_slice(b"\\r"),
            b':' => dst.put_slice(b"\\c"),
            _ => dst.put_u8(b),
        }
    }
}

/// Appends `s` to `dst` verbatim (CONNECT / CONNECTED), replacing what cannot be carried.
pub(crate) fn verbatim_into(dst: &mut BytesMut, s: &str, is_name: bool) {
    for &b in s.as_bytes() {
        match b {
            b'\n' | b'\r' => dst.put_slice("\u{FFFD}".as_bytes()),
            b':' if is_name => dst.put_slice("\u{FFFD}".as_bytes()),
            _ => dst.put_u8(b),
        }
    }
}

/// What is wrong with an escaped header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadEscape {
    /// A backslash followed by this character, which is not an escape.
    Invalid(char),
    /// A backslash at the very end.
    Dangling,
}

/// Undoes the 1.2 escapes in `raw`.
pub(crate) fn unescape(raw: &str) -> Result<Cow<'_, str>, BadEscape> {
    if !raw.contains('\\') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('c') => out.push(':'),
            Some(other) => return Err(BadEscape::Invalid(other)),
            None => return Err(BadEscape::Dangling),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_unescape_are_inverse() {
        for s in ["plain", "a:b", "x\\y\nz\rw:", "", "ünï:cödé\\"] {
            let mut dst = BytesMut::new();
            escape_into(&mut dst, s);
            let escaped = std::str::from_utf8(&dst).unwrap();
            assert!(
                !escaped.contains(':') && !escaped.contains('\n'),
                "{escaped}"
            );
            assert_eq!(unescape(escaped).unwrap(), s);
        }
        assert_eq!(unescape("a\\tb"), Err(BadEscape::Invalid('t')));
        assert_eq!(unescape("ab\\"), Err(BadEscape::Dangling));
    }

    #[test]
    fn verbatim_cannot_inject_lines() {
        let mut dst = BytesMut::new();
        verbatim_into(&mut dst, "a\nb:c", false);
        verbatim_into(&mut dst, "n:m", true);
        assert_eq!(&dst[..], "a\u{FFFD}b:cn\u{FFFD}m".as_bytes());
    }
}
