//! Arbitrary bytes through the server's STOMP parser, fed in chunks of a size the input picks:
//! it never panics; it finds the same frames, heart-beats and error whatever the chunking (one
//! push, or many); after it asks for more input it holds no more than one frame's limit; and
//! every frame it returns encodes to bytes that parse back to the same frame (with a
//! truthful `content-length`, stated whenever there is a body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otterdoc::stomp::{Command, FrameError, FrameParser, Parsed, StompFrame};

/// Everything the parser yields for `data` pushed in `chunk`-byte pieces, up to and including
/// the first error; and whether it ever held more than its limit while waiting.
fn parse(data: &[u8], max_frame: usize, chunk: usize) -> Vec<Result<Parsed, FrameError>> {
    let mut parser = FrameParser::new(max_frame);
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        parser.push(piece);
        loop {
            match parser.next_frame() {
                Ok(Some(parsed)) => out.push(Ok(parsed)),
                Ok(None) => break,
                Err(err) => {
                    out.push(Err(err));
                    return out;
                }
            }
        }
        // Waiting for more: never more buffered than one frame may take (a frame over the
        // limit is an error while it is still arriving, not after it was buffered).
        assert!(
            parser.buffered() <= max_frame,
            "{} bytes buffered with a {max_frame}-byte limit",
            parser.buffered()
        );
    }
    out
}

fn without_length(frame: &StompFrame) -> Vec<&(String, String)> {
    frame
        .headers
        .iter()
        .filter(|(name, _)| name != "content-length")
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, chunk], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let max_frame = 16 + usize::from(limit) * 8;
    let whole = parse(data, max_frame, data.len());
    let chunked = parse(data, max_frame, 1 + usize::from(chunk % 32));
    assert_eq!(whole, chunked, "the chunking changed what was parsed");
    let bytewise = parse(data, max_frame, 1);
    assert_eq!(whole, bytewise, "byte-at-a-time changed what was parsed");

    for item in &whole {
        let Ok(Parsed::Frame(frame)) = item else {
            continue;
        };
        // CONNECT and CONNECTED headers are written verbatim, so a CR or LF in them (or a ':'
        // in a name) cannot be carried: encoding replaces it, by design.
        let verbatim = matches!(frame.command, Command::Connect | Command::Connected);
        let unrepresentable = |(name, value): &(String, String)| {
            name.contains([':', '\r', '\n']) || value.contains(['\r', '\n'])
        };
        if verbatim && frame.headers.iter().any(unrepresentable) {
            continue;
        }
        let encoded = frame.encode();
        let mut again = FrameParser::new(usize::MAX);
        again.push(&encoded);
        match again.next_frame() {
            Ok(Some(Parsed::Frame(back))) => {
                // Encoding states the body's length (so bodies may hold NUL); all else is kept.
                assert_eq!(back.command, frame.command, "round trip: command");
                assert_eq!(back.body, frame.body, "round trip: body");
                assert_eq!(
                    without_length(&back),
                    without_length(frame),
                    "round trip: headers"
                );
                let length = back.header("content-length").map(str::parse::<usize>);
                let stated = !frame.body.is_empty() || frame.header("content-length").is_some();
                let expected = stated.then_some(Ok(frame.body.len()));
                assert_eq!(length, expected, "round trip: content-length");
            }
            other => panic!("an encoded frame does not parse: {other:?} from {encoded:?}"),
        }
        assert_eq!(again.buffered(), 0, "an encoded frame is exactly one frame");
    }
});
