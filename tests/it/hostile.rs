//! Hostile input against the real binary (`--auth jwt`, tight limits): malformed frames, bad
//! escapes, oversized frames and messages, frames before CONNECT, unknown commands and
//! destinations, bodies that are not JSON, ops that do not fit, future bases, floods of SENDs
//! and SUBSCRIBEs, a client that stops reading, bad and expired tokens, silent WebSockets and
//! slowloris on the HTTP port. Each gets its defined error, while a bystander editor keeps
//! typing on its own connection and must keep being served throughout; and the server's
//! resident memory (from `/proc`) after a flood of all of it stays within a bound of what it
//! was before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::common::http::request;
use crate::common::ot_client::OtClient;
use crate::common::process::{serve, ServerProcess};
use crate::common::tokens::{claims, hs256, ISSUER, SECRET};
use crate::common::{StompClient, WAIT};
use otterdoc::stomp::{Command, StompFrame};

/// The bystander's document.
const BYSTANDER_DOC: &str = "bystander";
/// A document large enough that its snapshot does not fit a connection's outbound budget.
const BIG_DOC: &str = "big";
const BIG_DOC_CHARS: usize = 256 * 1024;
const OUTBOUND_BYTES: &str = "65536";
const RATE: &str = "200";
const BURST: &str = "100";
/// `--connect-timeout-ms` (also the deadline for an HTTP request head).
const CONNECT_TIMEOUT_MS: u64 = 800;
const REQUEST_TIMEOUT_MS: u64 = 1200;
const ADMIN_TOKEN: &str = "the hostile test's admin token";
/// How much the resident set may grow over a flood of everything below (measured: ~10 MiB),
/// and how far above the start it may peak during the flood.
const RSS_GROWTH_BOUND: u64 = 32 * 1024 * 1024;
const RSS_PEAK_BOUND: u64 = 96 * 1024 * 1024;

struct Hostile {
    server: ServerProcess,
    /// Full rights.
    token: String,
    _dir: tempfile::TempDir,
}

impl Hostile {
    async fn start() -> Hostile {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, SECRET).expect("write the secret");
        let admin = dir.path().join("admin-token");
        std::fs::write(&admin, ADMIN_TOKEN).expect("write the admin token");
        let connect_timeout = CONNECT_TIMEOUT_MS.to_string();
        let request_timeout = REQUEST_TIMEOUT_MS.to_string();
        let args = [
            "--auth",
            "jwt",
            "--jwt-secret-file",
            secret.to_str().expect("a UTF-8 path"),
            "--jwt-issuer",
            ISSUER,
            "--max-outbound-bytes",
            OUTBOUND_BYTES,
            "--max-submissions-per-second",
            RATE,
            "--submission-burst",
            BURST,
            "--max-op-bytes",
            "1048576",
            "--connect-timeout-ms",
            &connect_timeout,
            "--request-timeout-ms",
            &request_timeout,
            "--admin-token-file",
            admin.to_str().expect("a UTF-8 path"),
        ];
        // At `info`, as an operator runs it: the logs are checked at the end.
        let mut command = serve(&dir.path().join("data"), &args);
        command.env("RUST_LOG", "info");
        let server = ServerProcess::start(command);
        let token = hs256(&claims("hostile-test", &["*"], &["*"], 3600), SECRET);
        let hostile = Hostile {
            server,
            token,
            _dir: dir,
        };
        let big = "b".repeat(BIG_DOC_CHARS);
        let body = json!({"client": "seed", "seq": 1, "base": 0, "op": [big]}).to_string();
        let response = hostile
            .http(
                "POST",
                &format!("/docs/{BIG_DOC}/ops"),
                Some(body.as_bytes()),
            )
            .await;
        assert_eq!(response.status, 200, "{:?}", response.json());
        hostile
    }

    fn url(&self) -> String {
        format!("{}?token={}", self.server.ws_url(), self.token)
    }

    async fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> crate::common::http::Response {
        let auth = format!("Bearer {}", self.token);
        request(
            self.server.addr,
            method,
            path,
            &[("authorization", &auth)],
            body,
        )
        .await
    }

    /// The ids of the sessions connected now (from the admin route).
    async fn admin_sessions(&self) -> Vec<String> {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let response = request(
            self.server.addr,
            "GET",
            "/admin/sessions",
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(response.status, 200, "{:?}", response.json());
        response.json()["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| s["session"].as_str().expect("session id").to_owned())
            .collect()
    }

    /// A connected session with full rights.
    async fn session(&self) -> StompClient {
        let mut c = StompClient::open(&self.url()).await;
        c.connect().await;
        c
    }

    /// A WebSocket without CONNECT yet.
    async fn socket(&self) -> StompClient {
        StompClient::open(&self.url()).await
    }
}

/// An editor typing on its own document all along, one op in flight, reporting its version.
struct Bystander {
    version: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<OtClient>,
}

impl Bystander {
    async fn start(hostile: &Hostile) -> Bystander {
        let mut editor = OtClient::join_url(&hostile.url(), BYSTANDER_DOC).await;
        let version = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (v, s) = (version.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(7);
            while !s.load(Ordering::Relaxed) {
                editor.random_edit(&mut rng).await;
                // Well under the submission rate: the bystander itself is never limited.
                editor.pump_for(Duration::from_millis(15)).await;
                v.store(editor.version(), Ordering::Relaxed);
            }
            editor.wait_idle().await;
            editor
        });
        Bystander {
            version,
            stop,
            task,
        }
    }

    /// Waits until the bystander has had a few more ops acknowledged.
    async fn still_served(&self, after: &str) {
        let before = self.version.load(Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.version.load(Ordering::Relaxed) < before + 3 {
            assert!(
                !self.task.is_finished(),
                "the bystander stopped (after {after})"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bystander was not served after {after}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops typing; the bystander's text must be the server's.
    async fn finish(self, hostile: &Hostile) {
        self.stop.store(true, Ordering::Relaxed);
        let editor = self.task.await.expect("the bystander");
        let doc = hostile
            .http("GET", &format!("/docs/{BYSTANDER_DOC}"), None)
            .await;
        let doc = doc.json();
        assert_eq!(doc["version"], editor.version());
        assert_eq!(doc["content"], editor.content());
        editor.close().await;
    }
}

fn frame(command: Command, headers: &[(&str, &str)]) -> StompFrame {
    headers
        .iter()
        .fold(StompFrame::new(command), |f, (k, v)| f.with_header(*k, *v))
}

/// The ERROR a violation ends the connection with; its message must contain `says`.
async fn fatal(c: &mut StompClient, says: &str, case: &str) -> StompFrame {
    let error = c.expect_error_and_close().await;
    let message = error.header("message").unwrap_or_default();
    assert!(message.contains(says), "{case}: {message:?}");
    error
}

/// A SEND with a receipt; the RECEIPT (the session stays).
async fn send_raw_body(
    c: &mut StompClient,
    destination: &str,
    body: &str,
    receipt: &str,
) -> StompFrame {
    let f = frame(
        Command::Send,
        &[("destination", destination), ("receipt", receipt)],
    )
    .with_body(body.to_owned());
    c.send(&f).await;
    c.until_receipt(receipt).await.1
}

async fn malformed_frames(h: &Hostile) {
    let cases: [(&str, &[u8], Option<&str>); 5] = [
        ("unknown command", b"BOGUS\nreceipt:r1\n\n\0", Some("r1")),
        (
            "bad escape",
            b"SEND\nreceipt:r2\ndestination:/app/doc/x\nx:a\\qb\n\n{}\0",
            Some("r2"),
        ),
        ("a header without a colon", b"SEND\ndestination\n\n\0", None),
        (
            "not UTF-8",
            b"SEND\ndestination:/app/doc/\xff\xfe\n\n\0",
            None,
        ),
        (
            "no NUL after content-length bytes",
            b"SEND\ndestination:/app/doc/x\ncontent-length:2\n\nabc\0",
            None,
        ),
    ];
    for (case, bytes, receipt) in cases {
        let mut c = h.session().await;
        c.send_binary(bytes).await;
        let error = fatal(&mut c, "malformed frame", case).await;
        assert_eq!(error.header("receipt-id"), receipt, "{case}");
    }
}

async fn oversized(h: &Hostile) {
    let mut c = h.session().await;
    let body = "x".repeat(70 * 1024);
    let f = frame(Command::Send, &[("destination", "/app/doc/x")]).with_body(body);
    c.send(&f).await;
    fatal(&mut c, "malformed frame", "a frame over --max-frame-bytes").await;

    let mut c = h.session().await;
    c.send_raw(&vec![b'\n'; 300 * 1024]).await;
    fatal(
        &mut c,
        "invalid WebSocket message",
        "a message over the transport limit",
    )
    .await;

    // A frame that never ends is cut off at the limit too (not buffered without end).
    let mut c = h.session().await;
    let mut head = b"SEND\ndestination:/app/doc/x\n\n".to_vec();
    head.extend(vec![b'y'; 40 * 1024]);
    c.send_raw(&head).await;
    c.send_raw(&vec![b'y'; 40 * 1024]).await;
    fatal(&mut c, "malformed frame", "an endless frame").await;
}

async fn before_connect(h: &Hostile) {
    for first in [Command::Send, Command::Subscribe, Command::Disconnect] {
        let mut c = h.socket().await;
        c.send(&frame(first, &[("destination", "/app/doc/x"), ("id", "1")]))
            .await;
        fatal(&mut c, "", &format!("{first:?} before CONNECT")).await;
    }
}

async fn bad_sends(h: &Hostile) {
    let mut c = h.session().await;
    // Fresh names each time: a resubmitted (client, seq) would be recognised, not rejected.
    let client = format!("bad-{}", uuid::Uuid::new_v4().simple());
    let doc = format!("/app/doc/{client}");
    let op = |seq: u64, base: u64, op: Value| {
        json!({"client": client, "seq": seq, "base": base, "op": op}).to_string()
    };
    let cases = [
        (
            "/queue/elsewhere",
            op(1, 0, json!(["x"])),
            "unknown-destination",
        ),
        ("/app/doc/bad%id", op(2, 0, json!(["x"])), "invalid-doc-id"),
        (&doc, "{not json".to_owned(), "malformed-body"),
        (
            &doc,
            json!({"client": client}).to_string(),
            "malformed-body",
        ),
        (&doc, op(3, 0, json!([{"x": 1}])), "invalid-op"),
        (&doc, op(4, 0, json!([5, "x"])), "op-does-not-fit"),
        (&doc, op(5, 1_000_000, json!(["x"])), "version-in-future"),
    ];
    for (i, (destination, body, code)) in cases.iter().enumerate() {
        let r = send_raw_body(&mut c, destination, body, &format!("b{i}")).await;
        assert_eq!(
            r.header("error"),
            Some(*code),
            "{destination} {body}: {r:?}"
        );
    }
    // The session that got the rejections still works.
    let r = send_raw_body(&mut c, &doc, &op(6, 0, json!(["ok"])), "fine").await;
    assert_eq!(r.header("error"), None, "{r:?}");
    assert_eq!(r.header("version"), Some("1"), "{r:?}");
    // An unknown destination on SUBSCRIBE is a violation.
    c.send(&frame(
        Command::Subscribe,
        &[("id", "s"), ("destination", "/topic/elsewhere")],
    ))
    .await;
    fatal(&mut c, "destination", "SUBSCRIBE to an unknown destination").await;
}

/// SENDs as fast as the socket takes them: the excess is `rate-limited`, nothing else happens.
async fn send_flood(h: &Hostile, doc: &str, n: u64) {
    let mut c = h.session().await;
    let mut bytes = Vec::new();
    for seq in 1..=n {
        let body = json!({"client": "flood", "seq": seq, "base": 0, "op": ["f"]});
        let f = frame(
            Command::Send,
            &[
                ("destination", &format!("/app/doc/{doc}")),
                ("receipt", &format!("f{seq}")),
            ],
        )
        .with_body(body.to_string());
        bytes.extend_from_slice(&f.encode());
        if bytes.len() > 32 * 1024 {
            c.send_raw(&bytes).await;
            bytes.clear();
        }
    }
    c.send_raw(&bytes).await;
    let (mut applied, mut limited) = (0u64, 0u64);
    for _ in 0..n {
        let r = c.frame().await;
        assert_eq!(r.command, Command::Receipt, "{r:?}");
        match r.header("error") {
            None => applied += 1,
            Some("rate-limited") => limited += 1,
            Some(other) => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert!(limited > 0, "a flood of {n} is rate-limited");
    let stored = h.http("GET", &format!("/docs/{doc}"), None).await.json();
    assert_eq!(
        stored["content"].as_str().map(|s| s.chars().count()),
        Some(applied as usize),
        "exactly the applied ops are in {doc}"
    );
    c.close().await;
}

async fn subscribe_flood(h: &Hostile) {
    let mut c = h.session().await;
    let mut bytes = Vec::new();
    for i in 0..200 {
        let id = format!("s{i}");
        bytes.extend_from_slice(
            &frame(
                Command::Subscribe,
                &[("id", &id), ("destination", "/topic/doc/subflood")],
            )
            .encode(),
        );
    }
    c.send_raw(&bytes).await;
    let frames = c.until_closed().await;
    let snapshots = frames
        .iter()
        .filter(|f| f.command == Command::Message)
        .count();
    assert_eq!(snapshots, 64, "--max-subscriptions are served");
    let error = frames.last().expect("an ERROR");
    assert_eq!(error.command, Command::Error, "{error:?}");
    assert!(
        error
            .header("message")
            .is_some_and(|m| m.contains("max-subscriptions")),
        "{error:?}"
    );
}

/// A client that asks for big answers and does not read them. Once its socket buffers are full
/// its answers stop fitting its outbound budget: the server stops serving it (the session ends,
/// as the admin route shows) and queues an ERROR saying it is not reading. Only then does this
/// client read: what the kernel had buffered — nothing like all it asked for — and the ERROR.
async fn non_reader(h: &Hostile) {
    const PAIRS: usize = 100;
    let mut c = h.socket().await;
    let connected = c.connect().await;
    let session = connected
        .header("session")
        .expect("a session id")
        .to_owned();
    let mut bytes = Vec::new();
    for i in 0..PAIRS {
        let id = format!("n{i}");
        let sub = frame(
            Command::Subscribe,
            &[
                ("id", &id),
                ("destination", &format!("/topic/doc/{BIG_DOC}")),
            ],
        );
        bytes.extend_from_slice(&sub.encode());
        bytes.extend_from_slice(&frame(Command::Unsubscribe, &[("id", &id)]).encode());
    }
    c.send_raw(&bytes).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.admin_sessions().await.contains(&session) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a client that does not read is still connected after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The ERROR is queued behind what the socket would not take; reading lets it out (well
    // before `--write-timeout-ms` would have ended the connection without it).
    let frames = c.until_closed().await;
    let (error, snapshots) = frames.split_last().expect("frames before the close");
    assert_eq!(error.command, Command::Error, "{error:?}");
    let message = error.header("message").unwrap_or_default();
    assert!(message.contains("not reading"), "{message:?}");
    for f in snapshots {
        assert_eq!(f.command, Command::Message, "{f:?}");
        assert_eq!(
            f.body.len(),
            snapshots[0].body.len(),
            "whole snapshots only"
        );
    }
    assert!(
        snapshots.len() < PAIRS,
        "the server stopped answering a client that did not read ({} snapshots)",
        snapshots.len()
    );
}

async fn bad_tokens(h: &Hostile) {
    let cases = [
        (
            "bad signature",
            hs256(&claims("eve", &["*"], &["*"], 600), "not the secret"),
        ),
        (
            "expired",
            hs256(&claims("eve", &["*"], &["*"], -60), SECRET),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in &cases {
        let mut c = StompClient::open(&h.server.ws_url()).await;
        let auth = format!("Bearer {token}");
        c.send(&frame(
            Command::Connect,
            &[("accept-version", "1.2"), ("authorization", &auth)],
        ))
        .await;
        fatal(&mut c, "authentication failed", case).await;
        let response = request(
            h.server.addr,
            "GET",
            "/docs/h",
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(response.status, 401, "{case}");
        assert_eq!(response.json()["error"]["code"], "unauthorized", "{case}");
    }
}

/// A WebSocket that never sends CONNECT: closed with an ERROR after the connect timeout.
async fn silent_socket(h: &Hostile) {
    let mut c = h.socket().await;
    fatal(&mut c, "no data", "a silent WebSocket").await;
}

/// A slowloris request: sent on the HTTP port a byte every 100 ms.
#[derive(Clone, Copy)]
enum Slow {
    /// The head trickles: the connection is closed, unanswered, after `--connect-timeout-ms`.
    Head,
    /// The head arrives whole, the body trickles: `408 request-timeout` after
    /// `--request-timeout-ms`.
    Body,
}

async fn slowloris(h: &Hostile, slow: Slow) {
    const HEAD: &[u8] =
        b"GET /docs/h HTTP/1.1\r\nHost: x\r\nX-1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    const BODY_HEAD: &[u8] = b"POST /docs/h/ops HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 70\r\n\r\n";
    const BODY: &[u8] =
        b"{\"client\":\"slow\",\"seq\":1,\"base\":0,\"op\":[\"sloooooooooooooooooooooow\"]}";
    let (at_once, trickled, deadline_ms) = match slow {
        Slow::Head => (&b""[..], HEAD, CONNECT_TIMEOUT_MS),
        Slow::Body => (BODY_HEAD, BODY, REQUEST_TIMEOUT_MS),
    };
    let mut tcp = TcpStream::connect(h.server.addr).await.expect("connect");
    tcp.write_all(at_once).await.expect("write");
    let started = tokio::time::Instant::now();
    let mut answer = Vec::new();
    for byte in trickled {
        if tcp.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    let limit = Duration::from_millis(deadline_ms + 2000);
    assert!(
        elapsed < limit,
        "a trickled request held its connection for {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    match slow {
        Slow::Head => assert!(
            answer.is_empty(),
            "a trickled head is not answered: {text:?}"
        ),
        Slow::Body => {
            assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
            assert!(text.contains(r#""code":"request-timeout""#), "{text:?}");
        }
    }
}

/// Every kind of hostile input once, each checked for its defined error, with the bystander
/// served after each.
async fn every_case(h: &Hostile, bystander: &Bystander, round: usize) {
    malformed_frames(h).await;
    bystander.still_served("malformed frames").await;
    oversized(h).await;
    bystander.still_served("oversized frames").await;
    before_connect(h).await;
    bystander.still_served("frames before CONNECT").await;
    bad_sends(h).await;
    bystander.still_served("bad SENDs").await;
    send_flood(h, &format!("flood-{round}"), 400).await;
    bystander.still_served("a SEND flood").await;
    subscribe_flood(h).await;
    bystander.still_served("a SUBSCRIBE flood").await;
    bad_tokens(h).await;
    bystander.still_served("bad tokens").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_defined_errors_while_others_are_served_and_memory_stays_bounded() {
    let h = Hostile::start().await;
    let bystander = Bystander::start(&h).await;
    bystander.still_served("the start").await;

    // Each case alone, in order, with its defined error.
    every_case(&h, &bystander, 0).await;
    non_reader(&h).await;
    bystander.still_served("a client that stops reading").await;
    silent_socket(&h).await;
    slowloris(&h, Slow::Head).await;
    slowloris(&h, Slow::Body).await;
    bystander.still_served("slowloris").await;

    // Then a flood of all of it at once, measured.
    let before = h.server.rss_bytes();
    let mut peak = before;
    let h = Arc::new(h);
    let mut attackers: Vec<JoinHandle<()>> = Vec::new();
    for round in 1..=6 {
        let hh = h.clone();
        attackers.push(tokio::spawn(async move {
            for _ in 0..4 {
                malformed_frames(&hh).await;
                oversized(&hh).await;
                before_connect(&hh).await;
                bad_sends(&hh).await;
                subscribe_flood(&hh).await;
                bad_tokens(&hh).await;
            }
            send_flood(&hh, &format!("flood-{round}"), 400).await;
        }));
        let hh = h.clone();
        attackers.push(tokio::spawn(async move {
            for _ in 0..3 {
                non_reader(&hh).await;
            }
        }));
        for slow in [Slow::Head, Slow::Body] {
            let hh = h.clone();
            attackers.push(tokio::spawn(async move {
                for _ in 0..5 {
                    slowloris(&hh, slow).await;
                }
            }));
        }
        let hh = h.clone();
        attackers.push(tokio::spawn(async move {
            let silent: Vec<StompClient> =
                futures::future::join_all((0..50).map(|_| hh.socket())).await;
            for mut c in silent {
                fatal(&mut c, "no data", "a silent WebSocket").await;
            }
        }));
    }
    while attackers.iter().any(|a| !a.is_finished()) {
        peak = peak.max(h.server.rss_bytes());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for attacker in attackers {
        attacker.await.expect("an attacker's checks");
    }
    bystander.still_served("the flood").await;
    // Let closing connections linger out (2 s) before measuring what stays.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = h.server.rss_bytes();
    eprintln!(
        "hostile flood: RSS {} KiB before, {} KiB peak, {} KiB after",
        before / 1024,
        peak / 1024,
        after / 1024
    );
    assert!(
        peak < before + RSS_PEAK_BOUND,
        "RSS peaked at {peak} bytes (from {before}) during the flood"
    );
    assert!(
        after < before + RSS_GROWTH_BOUND,
        "RSS grew from {before} to {after} bytes over the flood"
    );
    // Every hostile connection is gone: only the bystander's is left.
    let metrics = h.http("GET", "/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let connections = text
        .lines()
        .find_map(|l| l.strip_prefix("otterdoc_connections "))
        .unwrap_or_else(|| panic!("no otterdoc_connections in {text}"));
    assert_eq!(connections.trim(), "1", "open connections after the flood");
    bystander.finish(&h).await;

    // The logs: every session line carries its session id and user; no token and no document
    // content ever appears.
    let logs = h.server.stderr();
    assert!(
        logs.lines().any(|l| l.contains("session connected")
            && l.contains("session=")
            && l.contains("user=\"hostile-test\"")),
        "session lines carry session and user:\n{logs}"
    );
    assert!(logs.contains("kind=\"not-reading\""), "{logs}");
    assert!(logs.contains("authentication failed"), "{logs}");
    for secret in [
        h.token.as_str(),
        "sloooooow",
        "bbbbbbbbbbbbbbbb",
        "not.a.jwt",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}
