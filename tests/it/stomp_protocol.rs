//! The STOMP 1.2 session contract, end to end: a real server on a loopback port, real
//! WebSocket clients. Covers subprotocol and version negotiation, heart-beats, framing over
//! WebSocket messages, receipts, protocol violations (ERROR then close, never silence or a hang),
//! rejected ops (answered, session kept), transactions and idempotent resubmission.
//!
//! Every wait is bounded by `common::WAIT`; the few timing checks only assert bounds the
//! server guarantees (a timer never fires early), with generous slack on the other side.
use std::time::Duration;

use crate::common::stomp::{body_json, Incoming};
use crate::common::{StompClient, TestServer, WAIT};
use otterdoc::stomp::{Command, StompFrame};
use serde_json::{json, Value};
use tokio::time::Instant;

// ----------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------

const ERRORS: &str = "/user/queue/errors";

/// A frame with `headers` and an empty body.
fn frame(command: Command, headers: &[(&str, &str)]) -> StompFrame {
    headers
        .iter()
        .fold(StompFrame::new(command), |f, (k, v)| f.with_header(*k, *v))
}

/// A SEND of `body` to `destination` (the encoder adds `content-length`).
fn send_frame(
    destination: &str,
    body: impl Into<bytes::Bytes>,
    headers: &[(&str, &str)],
) -> StompFrame {
    frame(Command::Send, headers)
        .with_header("destination", destination)
        .with_body(body)
}

/// A SEND of a submission to `/app/doc/<doc>`.
fn op_frame(doc: &str, body: &Value, headers: &[(&str, &str)]) -> StompFrame {
    send_frame(&format!("/app/doc/{doc}"), body.to_string(), headers)
        .with_header("content-type", "application/json")
}

/// A submission body.
fn submission(client: &str, seq: u64, base: u64, op: Value) -> Value {
    json!({"client": client, "seq": seq, "base": base, "op": op})
}

/// Opens a WebSocket to the server without sending CONNECT.
async fn open(server: &TestServer) -> StompClient {
    StompClient::open(&server.ws_url()).await
}

/// Opens a WebSocket, sends CONNECT with `headers` and asserts CONNECTED.
async fn connect_with(server: &TestServer, headers: &[(&str, &str)]) -> (StompClient, StompFrame) {
    let mut c = open(server).await;
    let connected = c.connect_with(headers).await;
    assert_eq!(connected.command, Command::Connected, "{connected:?}");
    (c, connected)
}

/// A connected client subscribed (confirmed) to `/user/queue/errors` with id `errors`.
async fn client_with_errors_queue(server: &TestServer) -> StompClient {
    let mut c = server.client().await;
    let before = c.subscribe_confirmed("errors", ERRORS, &[]).await;
    assert!(
        before.is_empty(),
        "nothing precedes the errors subscription's receipt: {before:?}"
    );
    c
}

/// Sends `f` (which carries `receipt:<receipt>`) and returns the frames before its RECEIPT and
/// the RECEIPT.
async fn request(
    c: &mut StompClient,
    f: &StompFrame,
    receipt: &str,
) -> (Vec<StompFrame>, StompFrame) {
    assert_eq!(
        f.header("receipt"),
        Some(receipt),
        "request() needs the frame's receipt"
    );
    c.send(f).await;
    c.until_receipt(receipt).await
}

/// Sends a `command` frame with `headers` and `receipt:<receipt>`; returns the frames before
/// its RECEIPT and the RECEIPT.
async fn request_frame(
    c: &mut StompClient,
    command: Command,
    headers: &[(&str, &str)],
    receipt: &str,
) -> (Vec<StompFrame>, StompFrame) {
    let f = frame(command, headers).with_header("receipt", receipt);
    request(c, &f, receipt).await
}

/// BEGINs `transaction`, confirmed by the RECEIPT `receipt`.
async fn begin(c: &mut StompClient, transaction: &str, receipt: &str) {
    request_frame(c, Command::Begin, &[("transaction", transaction)], receipt).await;
}

/// SENDs the submission `body` to `doc` inside `transaction` (held until COMMIT), with
/// `receipt:<receipt>` if given.
async fn send_in_transaction(
    c: &mut StompClient,
    doc: &str,
    body: &Value,
    transaction: &str,
    receipt: Option<&str>,
) {
    let mut headers = vec![("transaction", transaction)];
    headers.extend(receipt.map(|r| ("receipt", r)));
    c.send(&op_frame(doc, body, &headers)).await;
}

/// Sends DISCONNECT with `receipt:<receipt>`; returns every frame until the server closes.
async fn disconnect(c: &mut StompClient, receipt: &str) -> Vec<StompFrame> {
    c.send(&frame(Command::Disconnect, &[("receipt", receipt)]))
        .await;
    c.until_closed().await
}

/// Submits a valid op with a receipt and returns the version its RECEIPT reports.
async fn apply(c: &mut StompClient, doc: &str, body: &Value, receipt: &str) -> u64 {
    c.send_op(doc, body, Some(receipt)).await;
    let (_, r) = c.until_receipt(receipt).await;
    assert_eq!(r.header("error"), None, "op {body} was rejected: {r:?}");
    r.header("version")
        .unwrap_or_else(|| panic!("RECEIPT of an applied op carries version: {r:?}"))
        .parse()
        .expect("version is an integer")
}

/// Expects the server to send ERROR (with a non-empty `message`) as its last frame and then
/// close the connection; fails on a silent close or a hang. Returns the ERROR.
async fn expect_fatal(c: &mut StompClient) -> StompFrame {
    let frames = c.until_closed().await;
    let last = frames
        .last()
        .unwrap_or_else(|| panic!("the server closed the connection without an ERROR frame"));
    assert_eq!(
        last.command,
        Command::Error,
        "the last frame before close is ERROR: {frames:?}"
    );
    let errors = frames
        .iter()
        .filter(|f| f.command == Command::Error)
        .count();
    assert_eq!(errors, 1, "exactly one ERROR: {frames:?}");
    let message = last.header("message").expect("ERROR has a message header");
    assert!(!message.is_empty(), "ERROR message is not empty");
    last.clone()
}

/// The `message` header of an ERROR, lower-cased.
fn message_of(error: &StompFrame) -> String {
    error.header("message").unwrap_or_default().to_lowercase()
}

/// Expects ERROR then close (as [`expect_fatal`]) reporting a codec error whose message
/// mentions `keyword`, with `receipt-id` exactly when the frame's `receipt` header was read
/// before the fault (`receipt`).
async fn expect_malformed(c: &mut StompClient, keyword: &str, case: &str, receipt: Option<&str>) {
    let error = expect_fatal(c).await;
    let message = message_of(&error);
    assert!(
        message.starts_with("malformed frame: "),
        "{case}: {error:?}"
    );
    assert!(
        message.contains(keyword),
        "{case}: expected {keyword:?} in {error:?}"
    );
    assert_eq!(error.header("receipt-id"), receipt, "{case}: {error:?}");
}

/// `GET /docs/<doc>`: Some((version, content)), or None for a document that never had an op.
async fn doc_state(server: &TestServer, doc: &str) -> Option<(u64, String)> {
    let (status, body) = server.get(&format!("/docs/{doc}")).await;
    match status {
        200 => Some((
            body["version"].as_u64().expect("version"),
            body["content"].as_str().expect("content").to_owned(),
        )),
        404 => {
            assert_eq!(body["error"]["code"], "not-found", "{body}");
            None
        }
        other => panic!("GET /docs/{doc} answered {other}: {body}"),
    }
}

/// Asserts `GET /docs/<doc>` shows `version` and `content`.
async fn assert_doc(server: &TestServer, doc: &str, version: u64, content: &str) {
    assert_eq!(
        doc_state(server, doc).await,
        Some((version, content.to_owned())),
        "state of document {doc}"
    );
}

/// Sends `f` (carrying `receipt:<receipt>`) which must be rejected with `code`. The client must
/// be subscribed to `/user/queue/errors` as `errors` and to nothing else. Checks the RECEIPT
/// (`error` and `message` instead of `version`) and the error event, and returns the event.
async fn expect_rejected(c: &mut StompClient, f: &StompFrame, receipt: &str, code: &str) -> Value {
    assert_eq!(f.header("receipt"), Some(receipt));
    c.send(f).await;
    let mut got_receipt = None;
    let mut event = None;
    while got_receipt.is_none() || event.is_none() {
        let next = c.frame().await;
        match next.command {
            Command::Receipt
                if next.header("receipt-id") == Some(receipt) && got_receipt.is_none() =>
            {
                got_receipt = Some(next)
            }
            Command::Message if next.header("destination") == Some(ERRORS) && event.is_none() => {
                assert_eq!(next.header("subscription"), Some("errors"), "{next:?}");
                assert!(next.header("message-id").is_some(), "{next:?}");
                event = Some(body_json(&next));
            }
            _ => {
                panic!("unexpected frame while waiting for rejection {receipt} ({code}): {next:?}")
            }
        }
    }
    let r = got_receipt.unwrap();
    assert_eq!(r.header("error"), Some(code), "RECEIPT error code: {r:?}");
    assert_eq!(
        r.header("version"),
        None,
        "a rejected op's RECEIPT has no version: {r:?}"
    );
    assert!(r.header("message").is_some_and(|m| !m.is_empty()), "{r:?}");
    let event = event.unwrap();
    assert_eq!(event["type"], "error", "{event}");
    assert_eq!(event["code"], code, "{event}");
    assert_eq!(event["receipt"], receipt, "{event}");
    assert!(
        event["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{event}"
    );
    let keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in ["type", "code", "message", "doc", "client", "seq", "receipt"] {
        assert!(keys.contains(&key), "error event has {key:?}: {event}");
    }
    event
}

/// Reads frames until `n` heart-beats arrived; fails on any frame, a close or a timeout.
async fn expect_heart_beats(c: &mut StompClient, n: usize) {
    for i in 0..n {
        match c.next_within(WAIT).await {
            Some(Incoming::HeartBeat) => {}
            Some(Incoming::Frame(f)) => panic!("expected heart-beat {i}, got a frame: {f:?}"),
            Some(Incoming::Closed) => panic!("connection closed while waiting for heart-beat {i}"),
            None => panic!("no heart-beat {i} within {WAIT:?}"),
        }
    }
}

/// Asserts that nothing at all (frame, heart-beat or close) arrives within `wait`.
async fn expect_silence(c: &mut StompClient, wait: Duration) {
    if let Some(got) = c.next_within(wait).await {
        panic!("expected nothing within {wait:?}, got {got:?}");
    }
}

// ----------------------------------------------------------------------------------------
// Negotiation
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn subprotocol_negotiation_picks_the_best_offered_stomp_version() {
    let server = TestServer::start().await;
    let cases = [
        ("v10.stomp, v11.stomp, v12.stomp", "v12.stomp"),
        ("v12.stomp", "v12.stomp"),
        ("v10.stomp,v11.stomp", "v11.stomp"),
        ("v11.stomp, v10.stomp", "v11.stomp"),
        ("v10.stomp", "v10.stomp"),
        ("mqtt, v11.stomp", "v11.stomp"),
    ];
    for (offered, expected) in cases {
        let mut c = StompClient::open_with_protocols(&server.ws_url(), Some(offered)).await;
        assert_eq!(
            c.subprotocol.as_deref(),
            Some(expected),
            "offered {offered:?}"
        );
        c.connect().await;
        c.close().await;
    }
}

#[tokio::test]
async fn client_offering_no_subprotocol_still_connects() {
    let server = TestServer::start().await;
    let mut c = StompClient::open_with_protocols(&server.ws_url(), None).await;
    assert_eq!(c.subprotocol, None);
    c.connect().await;
    let (_, r) = request_frame(&mut c, Command::Ack, &[("id", "1")], "r").await;
    assert_eq!(r.header("receipt-id"), Some("r"));
}

#[tokio::test]
async fn connected_reports_version_heart_beat_session_server_and_user_name() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 5000).await;
    let (_a, connected) = connect_with(
        &server,
        &[
            ("accept-version", "1.0,1.1,1.2"),
            ("host", "localhost"),
            ("heart-beat", "0,0"),
        ],
    )
    .await;
    assert_eq!(connected.header("version"), Some("1.2"));
    assert_eq!(connected.header("heart-beat"), Some("5000,5000"));
    assert_eq!(
        connected.header("server"),
        Some(concat!("otterdoc/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(connected.header("user-name"), Some("anonymous"));
    let session = connected.header("session").expect("session header");
    uuid::Uuid::parse_str(session).unwrap_or_else(|e| panic!("session {session:?} is a uuid: {e}"));

    // `host` is optional, and every connection gets its own session id.
    let (_b, other) = connect_with(&server, &[("accept-version", "1.2")]).await;
    let other_session = other.header("session").expect("session header");
    uuid::Uuid::parse_str(other_session).expect("session is a uuid");
    assert_ne!(
        session, other_session,
        "session ids differ between connections"
    );
}

#[tokio::test]
async fn version_negotiation_picks_the_highest_common_version() {
    let server = TestServer::start().await;
    let cases: [(Option<&str>, &str); 7] = [
        (Some("1.2"), "1.2"),
        (Some("1.1,1.2"), "1.2"),
        (Some("1.2,1.1,1.0"), "1.2"),
        (Some("1.0,1.1"), "1.1"),
        (Some("1.0"), "1.0"),
        (Some("1.1,2.0"), "1.1"),
        (None, "1.0"), // no accept-version: a STOMP 1.0 client
    ];
    for (offered, expected) in cases {
        let mut headers = vec![("host", "localhost")];
        if let Some(v) = offered {
            headers.push(("accept-version", v));
        }
        let (mut c, connected) = connect_with(&server, &headers).await;
        assert_eq!(
            connected.header("version"),
            Some(expected),
            "accept-version {offered:?}"
        );
        // The session works after negotiation.
        let (_, r) = request_frame(&mut c, Command::Ack, &[("id", "1")], "ok").await;
        assert_eq!(r.command, Command::Receipt);
    }
}

#[tokio::test]
async fn stomp_frame_connects_like_connect() {
    let server = TestServer::start().await;
    let mut c = open(&server).await;
    c.send(&frame(
        Command::Stomp,
        &[
            ("accept-version", "1.1,1.2"),
            ("host", "localhost"),
            ("heart-beat", "0,0"),
        ],
    ))
    .await;
    let connected = c.frame().await;
    assert_eq!(connected.command, Command::Connected, "{connected:?}");
    assert_eq!(connected.header("version"), Some("1.2"));
    assert!(connected.header("session").is_some());
    c.send_op(
        "via-stomp",
        &submission("c", 1, 0, json!(["ok"])),
        Some("r"),
    )
    .await;
    let (_, r) = c.until_receipt("r").await;
    assert_eq!(r.header("version"), Some("1"));
}

#[tokio::test]
async fn no_common_version_is_an_error_then_close() {
    let server = TestServer::start().await;
    for offered in ["2.0", "0.9,3.1", ""] {
        let mut c = open(&server).await;
        c.send(&frame(
            Command::Connect,
            &[("accept-version", offered), ("host", "h")],
        ))
        .await;
        let error = expect_fatal(&mut c).await;
        assert!(
            message_of(&error).contains("version"),
            "accept-version {offered:?}: {error:?}"
        );
    }
    // The server is fine afterwards.
    server.client().await;
}

// ----------------------------------------------------------------------------------------
// Heart-beats
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn server_sends_heart_beats_at_the_negotiated_interval() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 100).await;

    // The client wants one every 100 ms: EOLs arrive about that often, and nothing else does.
    let mut c = open(&server).await;
    let start = Instant::now();
    let connected = c
        .connect_with(&[("accept-version", "1.2"), ("heart-beat", "0,100")])
        .await;
    assert_eq!(connected.command, Command::Connected);
    assert_eq!(connected.header("heart-beat"), Some("100,100"));
    expect_heart_beats(&mut c, 5).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "5 heart-beats came too fast: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "5 heart-beats took {elapsed:?}"
    );

    // A client wanting them less often than the server offers gets them at its own pace
    // (the larger of the two intervals, per STOMP 1.2).
    let mut slow = open(&server).await;
    let start = Instant::now();
    slow.connect_with(&[("accept-version", "1.2"), ("heart-beat", "0,300")])
        .await;
    expect_heart_beats(&mut slow, 2).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(550),
        "2 heart-beats at 300 ms came after {elapsed:?}"
    );
}

#[tokio::test]
async fn server_sends_no_heart_beats_when_the_client_wants_none() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 100).await;
    let (mut zero, _) =
        connect_with(&server, &[("accept-version", "1.2"), ("heart-beat", "0,0")]).await;
    let (mut absent, _) = connect_with(&server, &[("accept-version", "1.2")]).await;
    expect_silence(&mut zero, Duration::from_millis(400)).await;
    expect_silence(&mut absent, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn silent_client_is_closed_with_an_error_after_twice_its_heart_beat_interval() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 100).await;
    let mut c = open(&server).await;
    let start = Instant::now();
    let connected = c
        .connect_with(&[("accept-version", "1.2"), ("heart-beat", "100,0")])
        .await;
    assert_eq!(connected.command, Command::Connected);
    let error = expect_fatal(&mut c).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200),
        "closed after only {elapsed:?}"
    );
    assert_eq!(
        error.header("message"),
        Some("no data or heart-beat from the client for 200 ms")
    );
}

#[tokio::test]
async fn client_that_keeps_sending_heart_beats_stays_connected() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 250).await;
    let (mut c, connected) = connect_with(
        &server,
        &[("accept-version", "1.2"), ("heart-beat", "250,0")],
    )
    .await;
    assert_eq!(connected.header("heart-beat"), Some("250,250"));
    // Three times the 500 ms the server tolerates, heart-beating every 50 ms (LF and CRLF).
    let until = Instant::now() + Duration::from_millis(1500);
    let mut crlf = false;
    while Instant::now() < until {
        c.send_raw(if crlf { b"\r\n" } else { b"\n" }).await;
        crlf = !crlf;
        if let Some(got) = c.next_within(Duration::from_millis(50)).await {
            panic!("a heart-beating client got {got:?}");
        }
    }
    // The ACK is the last data the server gets: its 500 ms start after `quiet` does.
    let quiet = Instant::now();
    let (_, r) = request_frame(&mut c, Command::Ack, &[("id", "1")], "alive").await;
    assert_eq!(r.command, Command::Receipt);
    // The same session is closed once it goes quiet, so the above was not vacuous.
    let error = expect_fatal(&mut c).await;
    assert!(
        quiet.elapsed() >= Duration::from_millis(450),
        "{:?}",
        quiet.elapsed()
    );
    assert_eq!(
        error.header("message"),
        Some("no data or heart-beat from the client for 500 ms")
    );
}

// ----------------------------------------------------------------------------------------
// Frames over WebSocket messages
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn one_message_may_hold_several_frames_and_heart_beats() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let send = op_frame(
        "multi",
        &submission("c", 1, 0, json!(["hi"])),
        &[("receipt", "r4")],
    );
    let mut raw = Vec::new();
    raw.extend_from_slice(b"\nSUBSCRIBE\nid:s1\ndestination:/topic/doc/multi\nreceipt:r1\n\n\0\n");
    raw.extend_from_slice(b"BEGIN\r\ntransaction:t\r\nreceipt:r2\r\n\r\n\0\r\n\n");
    raw.extend_from_slice(b"ACK\nid:x\nreceipt:r3\n\n\0");
    raw.extend_from_slice(&send.encode());
    raw.extend_from_slice(b"\n");
    c.send_raw(&raw).await;
    let (before, r4) = c.until_receipt("r4").await;
    assert_eq!(r4.header("version"), Some("1"));
    let receipts: Vec<&str> = before
        .iter()
        .filter(|f| f.command == Command::Receipt)
        .map(|f| f.header("receipt-id").unwrap())
        .collect();
    assert_eq!(receipts, ["r1", "r2", "r3"]);
    let snapshot = before
        .iter()
        .find(|f| f.command == Command::Message)
        .expect("the subscription's snapshot");
    assert_eq!(body_json(snapshot)["type"], "snapshot");
    assert_doc(&server, "multi", 1, "hi").await;
}

#[tokio::test]
async fn one_frame_may_span_several_messages() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let bytes = op_frame(
        "split",
        &submission("c", 1, 0, json!(["abc"])),
        &[("receipt", "r")],
    )
    .encode();
    let (a, rest) = bytes.split_at(7); // inside the first header
    let (b, tail) = rest.split_at(rest.len() - 12); // inside the body
    for piece in [a, b] {
        c.send_raw(piece).await;
        // Half a frame is not a frame: the server waits for the rest.
        expect_silence(&mut c, Duration::from_millis(50)).await;
    }
    c.send_raw(tail).await;
    let (_, r) = c.until_receipt("r").await;
    assert_eq!(r.header("version"), Some("1"));
    assert_doc(&server, "split", 1, "abc").await;
}

#[tokio::test]
async fn binary_messages_are_accepted() {
    let server = TestServer::start().await;
    let mut c = open(&server).await;
    c.send_binary(&frame(Command::Connect, &[("accept-version", "1.2")]).encode())
        .await;
    assert_eq!(c.frame().await.command, Command::Connected);
    let send = op_frame(
        "bin",
        &submission("c", 1, 0, json!(["héllo ✓"])),
        &[("receipt", "r")],
    );
    c.send_binary(&send.encode()).await;
    let (_, r) = c.until_receipt("r").await;
    assert_eq!(r.header("version"), Some("1"));
    assert_doc(&server, "bin", 1, "héllo ✓").await;
}

#[tokio::test]
async fn content_length_lets_a_body_contain_nul() {
    let server = TestServer::start().await;
    let mut c = client_with_errors_queue(&server).await;

    // A 5-byte body with a NUL in the middle, then another frame in the same message: if the
    // NUL ended the frame, "cd\0ACK..." would be read as a (bad) command and the server would
    // close the connection instead of answering both receipts.
    let mut raw =
        b"SEND\ndestination:/queue/nowhere\ncontent-length:5\nreceipt:nul\n\nab\0cd\0".to_vec();
    raw.extend_from_slice(b"ACK\nid:1\nreceipt:after\n\n\0");
    c.send_raw(&raw).await;
    let (before, r) = c.until_receipt("nul").await;
    assert_eq!(r.header("error"), Some("unknown-destination"), "{r:?}");
    assert!(before.is_empty(), "{before:?}");
    let event = c.message_json().await;
    assert_eq!(event["code"], "unknown-destination");
    let (before, _) = c.until_receipt("after").await;
    assert!(before.is_empty(), "{before:?}");

    // A valid op followed by a NUL and more bytes, all inside content-length: the whole body
    // reaches the JSON parser (trailing data → malformed-body), so nothing is applied.
    let mut body = submission("c", 1, 0, json!(["x"])).to_string().into_bytes();
    body.extend_from_slice(b"\0trailing");
    let f = send_frame("/app/doc/nul", body, &[("receipt", "trail")]);
    let event = expect_rejected(&mut c, &f, "trail", "malformed-body").await;
    assert_eq!(event["doc"], "nul");
    assert_eq!(doc_state(&server, "nul").await, None);
}

// ----------------------------------------------------------------------------------------
// Receipts
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn every_client_frame_with_a_receipt_gets_a_receipt() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let doc = "receipts";

    let (before, _) = request_frame(
        &mut c,
        Command::Subscribe,
        &[("id", "s1"), ("destination", "/topic/doc/receipts")],
        "subscribe",
    )
    .await;
    assert_eq!(
        before.len(),
        1,
        "snapshot before the SUBSCRIBE receipt: {before:?}"
    );
    request_frame(&mut c, Command::Ack, &[("id", "m1")], "ack").await;
    request_frame(&mut c, Command::Nack, &[("id", "m2")], "nack").await;
    begin(&mut c, "t1", "begin").await;
    let held = submission("c", 1, 0, json!(["a"]));
    send_in_transaction(&mut c, doc, &held, "t1", Some("send-tx")).await;
    let (before, _) =
        request_frame(&mut c, Command::Commit, &[("transaction", "t1")], "commit").await;
    let tx_receipt = before
        .iter()
        .find(|f| f.command == Command::Receipt)
        .expect("the held SEND's RECEIPT comes before COMMIT's");
    assert_eq!(tx_receipt.header("receipt-id"), Some("send-tx"));
    assert_eq!(tx_receipt.header("version"), Some("1"));
    begin(&mut c, "t2", "begin2").await;
    request_frame(&mut c, Command::Abort, &[("transaction", "t2")], "abort").await;
    request_frame(&mut c, Command::Unsubscribe, &[("id", "s1")], "unsubscribe").await;
    let (before, r) = request(
        &mut c,
        &op_frame(
            doc,
            &submission("c", 2, 1, json!([1, "b"])),
            &[("receipt", "send")],
        ),
        "send",
    )
    .await;
    assert_eq!(r.header("version"), Some("2"));
    assert!(
        before
            .iter()
            .all(|f| f.command != Command::Message || body_json(f)["version"] == 1),
        "no op events after UNSUBSCRIBE: {before:?}"
    );

    // DISCONNECT's RECEIPT is the last frame, then the server closes.
    let frames = disconnect(&mut c, "bye").await;
    let last = frames.last().expect("RECEIPT before close");
    assert_eq!(last.command, Command::Receipt, "{frames:?}");
    assert_eq!(last.header("receipt-id"), Some("bye"));
    assert!(
        frames.iter().all(|f| f.command != Command::Error),
        "{frames:?}"
    );
    assert_doc(&server, doc, 2, "ab").await;
}

#[tokio::test]
async fn disconnect_receipt_follows_the_outcomes_of_earlier_sends() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // Pipelined: SENDs and DISCONNECT in one message; every RECEIPT arrives, in order, then
    // the close.
    let mut raw = Vec::new();
    for seq in 1..=3u64 {
        let body = submission("c", seq, seq - 1, json!(["x"]));
        let receipt = format!("s{seq}");
        raw.extend_from_slice(&op_frame("bye", &body, &[("receipt", &receipt)]).encode());
    }
    raw.extend_from_slice(&frame(Command::Disconnect, &[("receipt", "bye")]).encode());
    c.send_raw(&raw).await;
    let frames = c.until_closed().await;
    let receipts: Vec<(&str, Option<&str>)> = frames
        .iter()
        .map(|f| {
            assert_eq!(f.command, Command::Receipt, "{frames:?}");
            (f.header("receipt-id").unwrap(), f.header("version"))
        })
        .collect();
    assert_eq!(
        receipts,
        [
            ("s1", Some("1")),
            ("s2", Some("2")),
            ("s3", Some("3")),
            ("bye", None)
        ]
    );
    assert_doc(&server, "bye", 3, "xxx").await;
}

// ----------------------------------------------------------------------------------------
// Protocol violations: ERROR (message, receipt-id) then close
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_frames_get_an_error_then_close() {
    let server = TestServer::start().await;
    let cases: [(&str, &[u8], &str, Option<&str>); 8] = [
        (
            "header line without a colon",
            b"SEND\ndestination:/app/doc/x\nnocolon\n\n\0",
            "':'",
            None,
        ),
        (
            "bad escape in a SUBSCRIBE header, before its receipt",
            b"SUBSCRIBE\nid:s1\ndestination:/topic/doc/a\\tb\nreceipt:r\n\n\0",
            "escape",
            None,
        ),
        (
            "bad escape in a later header, after the receipt",
            b"SUBSCRIBE\nreceipt:r2\nid:s1\ndestination:/topic/doc/a\\tb\n\n\0",
            "escape",
            Some("r2"),
        ),
        (
            "unknown command",
            b"FOO\nreceipt:r\n\n\0",
            "command",
            Some("r"),
        ),
        (
            "lower-case command",
            b"send\ndestination:/app/doc/x\n\n\0",
            "command",
            None,
        ),
        (
            "lower-case command with a receipt",
            b"send\nreceipt:r3\ndestination:/app/doc/x\n\n\0",
            "command",
            Some("r3"),
        ),
        (
            "content-length not a number",
            b"SEND\ndestination:/q\ncontent-length:x\n\n\0",
            "content-length",
            None,
        ),
        (
            "body longer than content-length",
            b"SEND\ndestination:/q\ncontent-length:1\n\nabc\0",
            "nul",
            None,
        ),
    ];
    for (name, raw, keyword, receipt) in cases {
        let mut c = server.client().await;
        c.send_raw(raw).await;
        expect_malformed(&mut c, keyword, name, receipt).await;
    }
}

#[tokio::test]
async fn frames_over_the_default_64_kib_limit_get_an_error_then_close() {
    let server = TestServer::start().await;
    let big = "a".repeat(70_000);

    // Announced by content-length.
    let mut c = server.client().await;
    c.send(&send_frame(
        "/app/doc/big",
        big.clone(),
        &[("receipt", "r")],
    ))
    .await;
    expect_malformed(&mut c, "65536-byte limit", "over 64 KiB", Some("r")).await;

    // Without content-length: the body runs on past the limit before its NUL.
    let mut c = server.client().await;
    c.send_raw(format!("SEND\ndestination:/app/doc/big\n\n{big}\0").as_bytes())
        .await;
    expect_malformed(&mut c, "65536-byte limit", "over 64 KiB", None).await;

    // A huge header.
    let mut c = server.client().await;
    c.send_raw(format!("SEND\ndestination:/app/doc/big\nx:{big}\n\n\0").as_bytes())
        .await;
    expect_malformed(&mut c, "65536-byte limit", "over 64 KiB", None).await;

    // Just under the limit is fine.
    let mut c = server.client().await;
    let body = submission("c", 1, 0, json!(["b".repeat(60_000)]));
    assert_eq!(apply(&mut c, "big", &body, "ok").await, 1);
    assert_eq!(doc_state(&server, "big").await.unwrap().1.len(), 60_000);
}

#[tokio::test]
async fn frames_over_a_configured_max_frame_bytes_get_an_error_then_close() {
    let server = TestServer::start_with(|c| c.max_frame_bytes = 1024).await;

    // A frame under 1024 bytes works.
    let mut c = server.client().await;
    let body = submission("c", 1, 0, json!(["s".repeat(800)]));
    assert_eq!(apply(&mut c, "small", &body, "ok").await, 1);

    // A 2000-byte frame does not.
    let body = submission("c", 2, 1, json!(["s".repeat(2000)]));
    c.send(&op_frame("small", &body, &[("receipt", "big")]))
        .await;
    expect_malformed(
        &mut c,
        "1024-byte limit",
        "over max_frame_bytes",
        Some("big"),
    )
    .await;

    // The limit is per frame, not per message: a frame without content-length arriving in
    // 500-byte messages fails once it passes 1024 bytes.
    let mut c = server.client().await;
    let bytes = format!("SEND\ndestination:/app/doc/small\n\n{}", "q".repeat(1467));
    for (i, piece) in bytes.as_bytes().chunks(500).enumerate() {
        c.send_raw(piece).await;
        if i < 2 {
            expect_silence(&mut c, Duration::from_millis(50)).await;
        }
    }
    expect_malformed(&mut c, "1024-byte limit", "over max_frame_bytes", None).await;
    assert_doc(&server, "small", 1, &"s".repeat(800)).await;
}

#[tokio::test]
async fn websocket_message_over_the_transport_limit_gets_an_error_not_a_silent_close() {
    // The WebSocket layer caps one message (at 4× the frame limit, at least 64 KiB); a bigger
    // message must still be answered with ERROR before the close.
    let server = TestServer::start_with(|c| c.max_frame_bytes = 1024).await;
    let mut c = server.client().await;
    let huge = format!("SEND\ndestination:/app/doc/x\n\n{}\0", "z".repeat(200_000));
    c.send_raw(huge.as_bytes()).await;
    let error = expect_fatal(&mut c).await;
    assert!(message_of(&error).contains("too long"), "{error:?}");
    // Other sessions are unaffected.
    let mut other = server.client().await;
    assert_eq!(
        apply(&mut other, "x", &submission("c", 1, 0, json!(["ok"])), "r").await,
        1
    );
}

#[tokio::test]
async fn frames_before_connect_get_an_error_then_close() {
    let server = TestServer::start().await;
    let cases = [
        frame(
            Command::Send,
            &[("destination", "/app/doc/x"), ("receipt", "early")],
        ),
        frame(
            Command::Subscribe,
            &[
                ("id", "1"),
                ("destination", "/topic/doc/x"),
                ("receipt", "early"),
            ],
        ),
        frame(Command::Disconnect, &[("receipt", "early")]),
        frame(
            Command::Connected,
            &[("version", "1.2"), ("receipt", "early")],
        ),
    ];
    for bad in cases {
        let mut c = open(&server).await;
        c.send(&bad).await;
        let error = expect_fatal(&mut c).await;
        assert_eq!(
            error.header("receipt-id"),
            Some("early"),
            "{bad:?} → {error:?}"
        );
        assert!(message_of(&error).contains("connect"), "{error:?}");
    }
    // An invalid heart-beat header in CONNECT.
    let mut c = open(&server).await;
    c.send(&frame(
        Command::Connect,
        &[
            ("accept-version", "1.2"),
            ("heart-beat", "soon"),
            ("receipt", "hb"),
        ],
    ))
    .await;
    let error = expect_fatal(&mut c).await;
    assert_eq!(error.header("receipt-id"), Some("hb"));
    assert!(message_of(&error).contains("heart-beat"), "{error:?}");
    // Heart-beats (lone EOLs) before CONNECT are fine.
    let mut c = open(&server).await;
    c.send_raw(b"\n\r\n").await;
    c.connect().await;
}

#[tokio::test]
async fn invalid_frames_after_connect_get_an_error_with_receipt_id_then_close() {
    let server = TestServer::start().await;
    let long_id = "x".repeat(129);
    let long_topic = format!("/topic/doc/{long_id}");
    let sub = |id: &str, destination: &str| {
        frame(
            Command::Subscribe,
            &[("id", id), ("destination", destination)],
        )
    };
    // (name, frames that must succeed first, the bad frame, keyword in the ERROR message)
    let cases: Vec<(&str, Vec<StompFrame>, StompFrame, &str)> = vec![
        (
            "SEND without destination",
            vec![],
            frame(Command::Send, &[]).with_body("{}"),
            "destination",
        ),
        (
            "SUBSCRIBE without destination",
            vec![],
            frame(Command::Subscribe, &[("id", "s1")]),
            "destination",
        ),
        (
            "SUBSCRIBE without id",
            vec![],
            frame(Command::Subscribe, &[("destination", "/topic/doc/a")]),
            "id",
        ),
        (
            "duplicate subscription id",
            vec![sub("s1", "/topic/doc/a")],
            sub("s1", "/topic/doc/b"),
            "already",
        ),
        (
            "duplicate subscription id (errors queue)",
            vec![sub("s1", ERRORS)],
            sub("s1", ERRORS),
            "already",
        ),
        (
            "SUBSCRIBE to an unknown destination",
            vec![],
            sub("s1", "/queue/elsewhere"),
            "destination",
        ),
        (
            "SUBSCRIBE to a bare /topic/doc/",
            vec![],
            sub("s1", "/topic/doc/"),
            "invalid",
        ),
        (
            "SUBSCRIBE with a percent-encoded doc id",
            vec![],
            sub("s1", "/topic/doc/a%20b"),
            "invalid",
        ),
        (
            "SUBSCRIBE with a 129-char doc id",
            vec![],
            sub("s1", &long_topic),
            "invalid",
        ),
        (
            "SUBSCRIBE with a slash in the doc id",
            vec![],
            sub("s1", "/topic/doc/a/b"),
            "invalid",
        ),
        (
            "SUBSCRIBE with a version in the future",
            vec![],
            sub("s1", "/topic/doc/a").with_header("version", "5"),
            "version-in-future",
        ),
        (
            "SUBSCRIBE with a non-numeric version",
            vec![],
            sub("s1", "/topic/doc/a").with_header("version", "latest"),
            "version",
        ),
        (
            "UNSUBSCRIBE of an unknown id",
            vec![],
            frame(Command::Unsubscribe, &[("id", "nope")]),
            "subscription",
        ),
        (
            "UNSUBSCRIBE without id",
            vec![],
            frame(Command::Unsubscribe, &[]),
            "id",
        ),
        (
            "BEGIN without transaction",
            vec![],
            frame(Command::Begin, &[]),
            "transaction",
        ),
        (
            "BEGIN of an open transaction",
            vec![frame(Command::Begin, &[("transaction", "t")])],
            frame(Command::Begin, &[("transaction", "t")]),
            "transaction",
        ),
        (
            "COMMIT of an unknown transaction",
            vec![],
            frame(Command::Commit, &[("transaction", "t")]),
            "transaction",
        ),
        (
            "ABORT of an unknown transaction",
            vec![],
            frame(Command::Abort, &[("transaction", "t")]),
            "transaction",
        ),
        (
            "SEND in an unknown transaction",
            vec![],
            op_frame(
                "a",
                &submission("c", 1, 0, json!(["x"])),
                &[("transaction", "t")],
            ),
            "transaction",
        ),
        (
            "COMMIT of an aborted transaction",
            vec![
                frame(Command::Begin, &[("transaction", "t")]),
                frame(Command::Abort, &[("transaction", "t")]),
            ],
            frame(Command::Commit, &[("transaction", "t")]),
            "transaction",
        ),
        (
            "second CONNECT",
            vec![],
            frame(Command::Connect, &[("accept-version", "1.2")]),
            "connect",
        ),
        (
            "STOMP after CONNECT",
            vec![],
            frame(Command::Stomp, &[("accept-version", "1.2")]),
            "connect",
        ),
        (
            "a server frame (MESSAGE)",
            vec![],
            frame(Command::Message, &[("destination", "/topic/doc/a")]),
            "message",
        ),
        (
            "a server frame (ERROR)",
            vec![],
            frame(Command::Error, &[("message", "hi")]),
            "error",
        ),
    ];
    for (name, setup, bad, keyword) in cases {
        let mut c = server.client().await;
        for (i, f) in setup.into_iter().enumerate() {
            let receipt = format!("setup-{i}");
            request(&mut c, &f.with_header("receipt", receipt.clone()), &receipt).await;
        }
        c.send(&bad.with_header("receipt", "bad")).await;
        let error = expect_fatal(&mut c).await;
        assert_eq!(error.header("receipt-id"), Some("bad"), "{name}: {error:?}");
        assert!(
            message_of(&error).contains(keyword),
            "{name}: expected {keyword:?} in {error:?}"
        );
    }
    // Nothing above was applied, and the server still serves new sessions.
    assert_eq!(doc_state(&server, "a").await, None);
    let mut c = server.client().await;
    assert_eq!(
        apply(&mut c, "a", &submission("c", 1, 0, json!(["fine"])), "r").await,
        1
    );
}

// ----------------------------------------------------------------------------------------
// Rejected ops: answered on the RECEIPT and /user/queue/errors; the session stays open
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn rejected_ops_are_reported_and_leave_the_session_and_document_untouched() {
    let server = TestServer::start_with(|c| {
        c.max_op_bytes = 256;
        c.max_doc_bytes = 64;
    })
    .await;
    let doc = "rej";
    let mut c = client_with_errors_queue(&server).await;
    let mut version = apply(
        &mut c,
        doc,
        &submission("good", 1, 0, json!(["hello"])),
        "seed",
    )
    .await;
    let mut content = "hello".to_owned();
    let long_doc = "y".repeat(129);

    // (code, destination doc (None: `destination` is used as is), body, expected client and seq
    // in the event, a substring of the message)
    struct Case {
        code: &'static str,
        destination: String,
        body: Vec<u8>,
        ids: (Value, Value),
        message: &'static str,
    }
    let app = |d: &str| format!("/app/doc/{d}");
    let bad =
        |seq: u64, base: u64, op: Value| submission("bad", seq, base, op).to_string().into_bytes();
    let ids = |seq: u64| (json!("bad"), json!(seq));
    let none = || (Value::Null, Value::Null);
    let cases = vec![
        // malformed-body
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: b"not json".to_vec(),
            ids: none(),
            message: "json",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: b"[1,2]".to_vec(),
            ids: none(),
            message: "object",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: Vec::new(),
            ids: none(),
            message: "json",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: json!({"client":"bad","seq":3,"base":1})
                .to_string()
                .into_bytes(),
            ids: ids(3),
            message: "op",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: json!({"seq":4,"base":1,"op":["x"]})
                .to_string()
                .into_bytes(),
            ids: (Value::Null, json!(4)),
            message: "client",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: json!({"client":"bad","seq":"five","base":1,"op":["x"]})
                .to_string()
                .into_bytes(),
            ids: (json!("bad"), Value::Null),
            message: "seq",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: json!({"client":6,"seq":6,"base":1,"op":["x"]})
                .to_string()
                .into_bytes(),
            ids: (Value::Null, json!(6)),
            message: "client",
        },
        Case {
            code: "malformed-body",
            destination: app(doc),
            body: json!({"client":"bad","seq":7,"base":-1,"op":["x"]})
                .to_string()
                .into_bytes(),
            ids: ids(7),
            message: "base",
        },
        // invalid-op: the message names the offending component
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(10, 1, json!([1.5])),
            ids: ids(10),
            message: "component 0",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(11, 1, json!([2, 0])),
            ids: ids(11),
            message: "component 1",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(12, 1, json!([1, "x", null])),
            ids: ids(12),
            message: "component 2",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(13, 1, json!([["x"]])),
            ids: ids(13),
            message: "component 0",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(14, 1, json!([3, {"x": 1}])),
            ids: ids(14),
            message: "component 1",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(15, 1, json!([true])),
            ids: ids(15),
            message: "component 0",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(16, 1, json!([""])),
            ids: ids(16),
            message: "component 0",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(17, 1, json!("hello")),
            ids: ids(17),
            message: "array",
        },
        Case {
            code: "invalid-op",
            destination: app(doc),
            body: bad(18, 1, Value::Null),
            ids: ids(18),
            message: "array",
        },
        // invalid-doc-id and unknown-destination
        Case {
            code: "invalid-doc-id",
            destination: app("a%20b"),
            body: bad(20, 0, json!(["x"])),
            ids: ids(20),
            message: "a%20b",
        },
        Case {
            code: "invalid-doc-id",
            destination: app(&long_doc),
            body: bad(21, 0, json!(["x"])),
            ids: ids(21),
            message: "invalid",
        },
        Case {
            code: "invalid-doc-id",
            destination: app(""),
            body: bad(22, 0, json!(["x"])),
            ids: ids(22),
            message: "invalid",
        },
        Case {
            code: "unknown-destination",
            destination: "/queue/elsewhere".into(),
            body: bad(23, 0, json!(["x"])),
            ids: ids(23),
            message: "/queue/elsewhere",
        },
        Case {
            code: "unknown-destination",
            destination: "/topic/doc/rej".into(),
            body: bad(24, 0, json!(["x"])),
            ids: ids(24),
            message: "/topic/doc/rej",
        },
        // applying
        Case {
            code: "version-in-future",
            destination: app(doc),
            body: bad(30, 99, json!(["x"])),
            ids: ids(30),
            message: "99",
        },
        Case {
            code: "op-does-not-fit",
            destination: app(doc),
            body: bad(31, 1, json!([100, "x"])),
            ids: ids(31),
            message: "",
        },
        Case {
            code: "op-does-not-fit",
            destination: app(doc),
            body: bad(32, 1, json!([-10])),
            ids: ids(32),
            message: "",
        },
        Case {
            code: "delete-mismatch",
            destination: app(doc),
            body: bad(33, 1, json!([{"d": "xyz"}])),
            ids: ids(33),
            message: "xyz",
        },
        Case {
            code: "document-too-large",
            destination: app(doc),
            body: bad(34, 1, json!(["z".repeat(60)])),
            ids: ids(34),
            message: "64",
        },
        Case {
            code: "op-too-large",
            destination: app(doc),
            body: bad(35, 1, json!(["z".repeat(300)])),
            ids: none(),
            message: "256",
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let receipt = format!("bad-{i}");
        let f = send_frame(
            &case.destination,
            case.body.clone(),
            &[("receipt", &receipt)],
        );
        let event = expect_rejected(&mut c, &f, &receipt, case.code).await;
        let what = format!(
            "case {i} ({}) {:?}",
            case.code,
            String::from_utf8_lossy(&case.body)
        );
        let expected_doc = case
            .destination
            .strip_prefix("/app/doc/")
            .map_or(Value::Null, |d| json!(d));
        assert_eq!(event["doc"], expected_doc, "{what}: {event}");
        if case.code == "op-too-large" {
            // An oversized body need not be parsed to name its client and seq.
            assert!(
                event["client"].is_null() || event["client"] == "bad",
                "{what}: {event}"
            );
            assert!(
                event["seq"].is_null() || event["seq"] == 35,
                "{what}: {event}"
            );
        } else {
            assert_eq!(
                (&event["client"], &event["seq"]),
                (&case.ids.0, &case.ids.1),
                "{what}: {event}"
            );
        }
        let message = event["message"].as_str().unwrap();
        assert!(
            message.to_lowercase().contains(case.message),
            "{what}: message {message:?} lacks {:?}",
            case.message
        );
        // Nothing was applied…
        assert_doc(&server, doc, version, &content).await;
        // …and the same session still applies a valid op.
        let good = submission(
            "good",
            version + 1,
            version,
            json!([content.chars().count(), "."]),
        );
        version = apply(&mut c, doc, &good, &format!("good-{i}")).await;
        content.push('.');
        assert_doc(&server, doc, version, &content).await;
    }
    // The rejected submissions never reached any history.
    let (status, ops) = server.get(&format!("/docs/{doc}/ops")).await;
    assert_eq!(status, 200);
    let ops = ops["ops"].as_array().unwrap();
    assert_eq!(ops.len() as u64, version);
    assert!(ops.iter().all(|op| op["client"] == "good"), "{ops:?}");
}

#[tokio::test]
async fn rejected_op_without_receipt_reports_a_null_receipt_on_the_errors_queue() {
    let server = TestServer::start().await;
    let mut c = client_with_errors_queue(&server).await;
    c.send_op("nr", &submission("c", 9, 4, json!(["x"])), None)
        .await;
    let event = c.message_json().await;
    assert_eq!(
        event,
        json!({
            "type": "error",
            "code": "version-in-future",
            "message": event["message"],
            "doc": "nr",
            "client": "c",
            "seq": 9,
            "receipt": null,
        })
    );
    assert!(event["message"].as_str().is_some_and(|m| !m.is_empty()));
    // Without an errors subscription, a rejection still shows on the RECEIPT and the session
    // stays open.
    request_frame(&mut c, Command::Unsubscribe, &[("id", "errors")], "u").await;
    c.send_op("nr", &submission("c", 9, 4, json!(["x"])), Some("r"))
        .await;
    let (before, r) = c.until_receipt("r").await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(r.header("error"), Some("version-in-future"));
    assert_eq!(
        apply(&mut c, "nr", &submission("c", 10, 0, json!(["x"])), "ok").await,
        1
    );
}

// ----------------------------------------------------------------------------------------
// Transactions
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn transaction_holds_sends_until_commit_then_applies_them_in_order() {
    let server = TestServer::start().await;
    let doc = "tx";
    let mut observer = server.client().await;
    let snapshot = observer
        .subscribe_confirmed("o", "/topic/doc/tx", &[])
        .await;
    assert_eq!(body_json(&snapshot[0])["version"], 0);

    let mut c = server.client().await;
    begin(&mut c, "t1", "begin").await;
    let held = [
        (submission("c", 1, 1, json!([1, "a"])), "h1"),
        (submission("c", 2, 2, json!([2, "b"])), "h2"),
    ];
    for (body, receipt) in &held {
        send_in_transaction(&mut c, doc, body, "t1", Some(receipt)).await;
    }
    // An op outside the transaction goes through at once, while the held ones wait.
    let (before, r) = request(
        &mut c,
        &op_frame(
            doc,
            &submission("c", 0, 0, json!(["x"])),
            &[("receipt", "now")],
        ),
        "now",
    )
    .await;
    assert!(
        before.is_empty(),
        "held SENDs are not answered before COMMIT: {before:?}"
    );
    assert_eq!(r.header("version"), Some("1"));
    assert_doc(&server, doc, 1, "x").await;
    let event = observer.message_json().await;
    assert_eq!(
        (event["version"].clone(), event["op"].clone()),
        (json!(1), json!(["x"]))
    );
    expect_silence(&mut observer, Duration::from_millis(200)).await;
    assert_doc(&server, doc, 1, "x").await;

    let (before, _) =
        request_frame(&mut c, Command::Commit, &[("transaction", "t1")], "commit").await;
    let receipts: Vec<(&str, Option<&str>)> = before
        .iter()
        .map(|f| (f.header("receipt-id").unwrap(), f.header("version")))
        .collect();
    assert_eq!(receipts, [("h1", Some("2")), ("h2", Some("3"))]);
    for (version, op) in [(2, json!([1, "a"])), (3, json!([2, "b"]))] {
        let event = observer.message_json().await;
        assert_eq!(
            (event["version"].clone(), event["op"].clone()),
            (json!(version), op)
        );
    }
    assert_doc(&server, doc, 3, "xab").await;
}

#[tokio::test]
async fn abort_drops_held_sends_and_their_receipts_report_transaction_aborted() {
    let server = TestServer::start().await;
    let doc = "aborted";
    let mut observer = server.client().await;
    observer
        .subscribe_confirmed("o", "/topic/doc/aborted", &[])
        .await;
    let mut c = client_with_errors_queue(&server).await;
    begin(&mut c, "t", "begin").await;
    let with_receipt = submission("c", 1, 0, json!(["a"]));
    send_in_transaction(&mut c, doc, &with_receipt, "t", Some("h1")).await;
    let without_receipt = submission("c", 2, 1, json!([1, "b"]));
    send_in_transaction(&mut c, doc, &without_receipt, "t", None).await;
    let (before, _) = request_frame(&mut c, Command::Abort, &[("transaction", "t")], "abort").await;
    // h1: RECEIPT with the error, then its error event; the second SEND (no receipt): only the
    // event, with a null receipt.
    assert_eq!(before.len(), 3, "{before:?}");
    assert_eq!(before[0].command, Command::Receipt);
    assert_eq!(before[0].header("receipt-id"), Some("h1"));
    assert_eq!(before[0].header("error"), Some("transaction-aborted"));
    assert_eq!(before[0].header("version"), None);
    let events: Vec<Value> = before[1..].iter().map(body_json).collect();
    for (event, (seq, receipt)) in events.iter().zip([(1, json!("h1")), (2, Value::Null)]) {
        assert_eq!(event["code"], "transaction-aborted", "{event}");
        assert_eq!(event["doc"], doc);
        assert_eq!(event["client"], "c");
        assert_eq!(event["seq"], seq);
        assert_eq!(event["receipt"], receipt);
    }
    assert_eq!(
        doc_state(&server, doc).await,
        None,
        "nothing of the aborted transaction applied"
    );
    expect_silence(&mut observer, Duration::from_millis(100)).await;
    // The transaction is gone but the session is fine.
    assert_eq!(
        apply(&mut c, doc, &submission("c", 3, 0, json!(["z"])), "after").await,
        1
    );
    assert_doc(&server, doc, 1, "z").await;
}

#[tokio::test]
async fn disconnect_with_an_open_transaction_drops_its_sends() {
    let server = TestServer::start().await;
    let doc = "dropped";
    let mut c = server.client().await;
    begin(&mut c, "t", "begin").await;
    let held = submission("c", 1, 0, json!(["a"]));
    send_in_transaction(&mut c, doc, &held, "t", Some("h1")).await;
    let frames = disconnect(&mut c, "bye").await;
    assert_eq!(frames.len(), 1, "only DISCONNECT's RECEIPT: {frames:?}");
    assert_eq!(frames[0].header("receipt-id"), Some("bye"));
    assert_eq!(doc_state(&server, doc).await, None);

    // Another session starts from an empty document.
    let mut other = server.client().await;
    assert_eq!(
        apply(&mut other, doc, &submission("d", 1, 0, json!(["b"])), "r").await,
        1
    );
    assert_doc(&server, doc, 1, "b").await;
}

// ----------------------------------------------------------------------------------------
// Idempotent resubmission
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn resubmitting_the_same_op_is_not_applied_twice_and_gets_the_original_version() {
    let server = TestServer::start().await;
    let doc = "idem";
    let mut observer = server.client().await;
    observer
        .subscribe_confirmed("o", "/topic/doc/idem", &[])
        .await;
    let mut w = server.client().await;
    let mut other = server.client().await;

    let first = submission("w", 1, 0, json!(["hi"]));
    assert_eq!(apply(&mut w, doc, &first, "r1").await, 1);
    assert_eq!(observer.message_json().await["version"], 1);
    // At once, and again after another client's op: the original version, nothing new.
    assert_eq!(apply(&mut w, doc, &first, "r2").await, 1);
    assert_eq!(
        apply(
            &mut other,
            doc,
            &submission("o", 1, 1, json!([2, "!"])),
            "o1"
        )
        .await,
        2
    );
    assert_eq!(observer.message_json().await["version"], 2);
    assert_eq!(apply(&mut w, doc, &first, "r3").await, 1);
    assert_doc(&server, doc, 2, "hi!").await;

    // The next op is version 3, and the observer's next event is that one (no duplicate of 1).
    assert_eq!(
        apply(&mut w, doc, &submission("w", 2, 2, json!(["> "])), "r4").await,
        3
    );
    let event = observer.message_json().await;
    assert_eq!(
        (
            event["version"].clone(),
            event["client"].clone(),
            event["seq"].clone()
        ),
        (json!(3), json!("w"), json!(2))
    );
    assert_doc(&server, doc, 3, "> hi!").await;
}

// ----------------------------------------------------------------------------------------
// Limits that keep one connection from holding resources forever
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_connection_that_never_sends_connect_is_closed_with_an_error() {
    let server = TestServer::start_with(|c| c.connect_timeout_ms = 300).await;
    // The server's clock starts when it accepts the socket, before the upgrade completes: the
    // test's starts before it connects, or a slow handshake would seem to cut the wait short.
    let started = Instant::now();
    let mut c = open(&server).await;
    let error = expect_fatal(&mut c).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the timeout"
    );
    assert!(message_of(&error).contains("300 ms"), "{error:?}");
    // A client that connects in time is not affected once connected (no heart-beats asked).
    let mut ok = server.client().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    request_frame(&mut ok, Command::Ack, &[("id", "x")], "still-here").await;
}

#[tokio::test]
async fn every_errors_subscription_gets_every_error_event_until_unsubscribed() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.subscribe_confirmed("e1", ERRORS, &[]).await;
    c.subscribe_confirmed("e2", ERRORS, &[]).await;
    let bad = op_frame(
        "doc",
        &json!({"client": "c", "seq": 1}),
        &[("receipt", "bad-1")],
    );
    let (before, receipt) = request(&mut c, &bad, "bad-1").await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(receipt.header("error"), Some("malformed-body"));
    // The error events follow the RECEIPT.
    let events = [c.frame().await, c.frame().await];
    let mut subs: Vec<&str> = events
        .iter()
        .map(|f| {
            assert_eq!(f.command, Command::Message);
            assert_eq!(body_json(f)["code"], "malformed-body");
            f.header("subscription").expect("subscription header")
        })
        .collect();
    subs.sort();
    assert_eq!(subs, ["e1", "e2"], "both subscriptions get the event");
    request_frame(&mut c, Command::Unsubscribe, &[("id", "e1")], "u1").await;
    let bad = op_frame(
        "doc",
        &json!({"client": "c", "seq": 2}),
        &[("receipt", "bad-2")],
    );
    request(&mut c, &bad, "bad-2").await;
    let event = c.frame().await;
    assert_eq!(event.header("subscription"), Some("e2"), "{event:?}");
    // Nothing else: the next thing on the wire is the answer to a fresh request.
    let (between, _) = request_frame(&mut c, Command::Ack, &[("id", "x")], "after").await;
    assert!(
        between.is_empty(),
        "no event for the removed subscription: {between:?}"
    );
}

#[tokio::test]
async fn a_transaction_holding_too_many_sends_is_a_violation() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    begin(&mut c, "t", "b").await;
    let limit = otterdoc::config::limits::MAX_TRANSACTION_FRAMES;
    let body = submission("c", 1, 0, json!(["x"]));
    for _ in 0..limit {
        send_in_transaction(&mut c, "big", &body, "t", None).await;
    }
    // The limit itself is fine: the session still answers.
    request_frame(&mut c, Command::Ack, &[("id", "x")], "alive").await;
    send_in_transaction(&mut c, "big", &body, "t", Some("over")).await;
    let error = expect_fatal(&mut c).await;
    assert_eq!(error.header("receipt-id"), Some("over"));
    assert!(message_of(&error).contains("transaction"), "{error:?}");
    assert_eq!(doc_state(&server, "big").await, None, "nothing was applied");
}
