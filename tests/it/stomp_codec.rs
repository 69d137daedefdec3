//! Property tests for the STOMP codec (`otterdoc::stomp`): whatever frame we
//! encode, the parser gives back, however the bytes are chunked; and no byte
//! sequence a peer can send makes the parser panic.

use otterdoc::stomp::{Command, FrameError, FrameParser, Parsed, StompFrame};
use proptest::prelude::*;
use proptest::sample::select;
use strum::IntoEnumIterator;

/// Characters the escaping rules care about, plus some multi-byte ones, made
/// frequent; `any::<char>()` alone would almost never produce them.
fn header_char(verbatim: bool, is_name: bool) -> BoxedStrategy<char> {
    let special: Vec<char> = if verbatim {
        // CONNECT/CONNECTED have no escapes: CR and LF (and ':' in a name)
        // cannot be carried at all, so they are not round-trippable input.
        if is_name {
            vec!['\\', ' ', 'é', '✓', '\u{1F9A6}', '\0']
        } else {
            vec![':', '\\', ' ', 'é', '✓', '\u{1F9A6}', '\0']
        }
    } else {
        vec![':', '\n', '\r', '\\', ' ', 'é', '✓', '\u{1F9A6}', '\0']
    };
    let plain = any::<char>().prop_filter("not representable verbatim", move |c| {
        !verbatim || !(*c == '\r' || *c == '\n' || (is_name && *c == ':'))
    });
    prop_oneof![
        2 => select(special),
        3 => proptest::char::range('a', 'z'),
        2 => plain,
    ]
    .boxed()
}

fn header_string(verbatim: bool, is_name: bool) -> BoxedStrategy<String> {
    let min = usize::from(is_name); // header names cannot be empty
    proptest::collection::vec(header_char(verbatim, is_name), min..12)
        .prop_map(String::from_iter)
        .boxed()
}

fn header(verbatim: bool) -> BoxedStrategy<(String, String)> {
    prop_oneof![
        8 => (header_string(verbatim, true), header_string(verbatim, false)),
        // Sometimes a caller-set (usually wrong) content-length, which the
        // encoder must correct.
        1 => "[0-9]{1,4}".prop_map(|v| ("content-length".to_owned(), v)),
    ]
    .boxed()
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        4 => proptest::collection::vec(prop_oneof![1 => Just(0u8), 3 => any::<u8>()], 1..300),
    ]
}

fn frame() -> impl Strategy<Value = StompFrame> {
    select(Command::iter().collect::<Vec<_>>()).prop_flat_map(|command| {
        let verbatim = matches!(command, Command::Connect | Command::Connected);
        (proptest::collection::vec(header(verbatim), 0..6), body()).prop_map(
            move |(headers, body)| StompFrame {
                command,
                headers,
                body: body.into(),
            },
        )
    })
}

/// EOLs a peer may send after a frame; each one is reported as a heart-beat.
fn trailing_eols() -> impl Strategy<Value = Vec<&'static [u8]>> {
    proptest::collection::vec(select(vec![&b"\n"[..], &b"\r\n"[..]]), 0..3)
}

fn without_content_length(frame: &StompFrame) -> Vec<(String, String)> {
    frame
        .headers
        .iter()
        .filter(|(name, _)| name != "content-length")
        .cloned()
        .collect()
}

/// Pushes `wire` in chunks of the given sizes (cycled), draining the parser
/// after every push.
fn parse_in_chunks(
    parser: &mut FrameParser,
    wire: &[u8],
    sizes: &[usize],
) -> Result<Vec<Parsed>, FrameError> {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        parser.push(chunk);
        while let Some(item) = parser.next_frame()? {
            out.push(item);
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_gives_the_frame_back(
        frames in proptest::collection::vec((frame(), trailing_eols()), 1..4),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (frame, eols) in &frames {
            wire.extend_from_slice(&frame.encode());
            expected.push(Some(frame));
            for eol in eols {
                wire.extend_from_slice(eol);
                expected.push(None);
            }
        }

        let mut parser = FrameParser::new(1 << 20);
        let parsed = parse_in_chunks(&mut parser, &wire, &sizes)
            .map_err(|e| TestCaseError::fail(format!("parse error: {e}")))?;
        prop_assert_eq!(parsed.len(), expected.len());
        prop_assert_eq!(parser.buffered(), 0);

        for (got, want) in parsed.iter().zip(expected) {
            match (got, want) {
                (Parsed::HeartBeat, None) => {}
                (Parsed::Frame(got), Some(want)) => {
                    prop_assert_eq!(got.command, want.command);
                    prop_assert_eq!(&got.body, &want.body);
                    prop_assert_eq!(without_content_length(got), without_content_length(want));
                    let had_length = want.header("content-length").is_some();
                    if !want.body.is_empty() || had_length {
                        let len = want.body.len().to_string();
                        prop_assert_eq!(got.header("content-length"), Some(len.as_str()));
                    } else {
                        prop_assert_eq!(got.header("content-length"), None);
                    }
                }
                (got, want) => prop_assert!(false, "got {:?}, expected {:?}", got, want),
            }
        }
    }

    #[test]
    fn size_limit_accepts_exactly_the_encoded_length(
        frame in frame(),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let wire = frame.encode();
        let mut parser = FrameParser::new(wire.len());
        let parsed = parse_in_chunks(&mut parser, &wire, &sizes);
        prop_assert!(matches!(parsed.as_deref(), Ok([Parsed::Frame(_)])), "{:?}", parsed);

        let limit = wire.len() - 1;
        let mut parser = FrameParser::new(limit);
        let parsed = parse_in_chunks(&mut parser, &wire, &sizes);
        prop_assert_eq!(parsed, Err(FrameError::TooLarge { limit }));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        limit in 0usize..1024,
    ) {
        check_no_panic(&bytes, &sizes, limit)?;
    }

    #[test]
    fn stomp_like_bytes_never_panic(
        pieces in proptest::collection::vec(
            prop_oneof![
                select(vec![
                    &b"SEND"[..], b"CONNECT", b"MESSAGE", b"\n", b"\r", b"\r\n", b":",
                    b"\\", b"\\c", b"\\n", b"\\t", b"\0", b"content-length:", b"content-length:3",
                    b"99999999999999999999999", b"\xff", b"\xc3", "é".as_bytes(),
                ]).prop_map(|p| p.to_vec()),
                proptest::collection::vec(any::<u8>(), 1..4),
            ],
            0..64,
        ),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        limit in 0usize..1024,
    ) {
        check_no_panic(&pieces.concat(), &sizes, limit)?;
    }
}

/// Feeds `bytes` and drains the parser; it may return frames, heart-beats or
/// an error, but must not panic, must respect the limit, and must stay failed
/// once it has failed.
fn check_no_panic(bytes: &[u8], sizes: &[usize], limit: usize) -> Result<(), TestCaseError> {
    // The shortest possible frame is "ACK\n\n\0".
    const SMALLEST_FRAME: usize = 6;
    let mut parser = FrameParser::new(limit);
    match parse_in_chunks(&mut parser, bytes, sizes) {
        Ok(items) => {
            if limit < SMALLEST_FRAME {
                prop_assert!(items.iter().all(|i| matches!(i, Parsed::HeartBeat)));
            }
            // A frame still in progress always leaves room for its NUL; the
            // only exception is a lone CR that may become a heart-beat.
            prop_assert!(
                parser.buffered() < limit.max(2),
                "{} buffered",
                parser.buffered()
            );
        }
        Err(err) => {
            prop_assert!(!err.to_string().is_empty());
            parser.push(b"SEND\n\n\0");
            prop_assert_eq!(parser.next_frame(), Err(err));
        }
    }
    Ok(())
}
