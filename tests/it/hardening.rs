//! Limits, STOMP conformance details, observability and the operator's routes, through a real
//! server and real clients: each limit gives its defined error and leaves everyone else alone;
//! MESSAGE frames carry `ack` where the subscription asks for it; `/metrics` and `/readyz`
//! answer; the admin routes list, close and notify sessions; and a graceful shutdown sends the
//! RECEIPT of every op it applied.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::history::all_ops;
use crate::common::http::{get, request};
use crate::common::stomp::body_json;
use crate::common::{StompClient, TestServer, WAIT};
use otterdoc::stomp::{Command, StompFrame};
use serde_json::json;

fn frame(command: Command, headers: &[(&str, &str)]) -> StompFrame {
    headers
        .iter()
        .fold(StompFrame::new(command), |f, (k, v)| f.with_header(*k, *v))
}

/// SEND with a receipt; the RECEIPT's `error` header.
async fn submit(
    c: &mut StompClient,
    doc: &str,
    client: &str,
    seq: u64,
    base: u64,
) -> Option<String> {
    let body = json!({"client": client, "seq": seq, "base": base, "op": ["x"]});
    let receipt = format!("{client}-{seq}");
    c.send_op(doc, &body, Some(&receipt)).await;
    let (_, r) = c.until_receipt(&receipt).await;
    r.header("error").map(str::to_owned)
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_with_503() {
    let server = TestServer::start_with(|c| c.max_connections = 2).await;
    let a = server.client().await;
    let _b = server.client().await;
    let refused = StompClient::try_open_with(&server.ws_url(), &[]).await;
    assert_eq!(refused.err(), Some(503));
    let response = request(server.addr, "GET", "/healthz", &[], None).await;
    assert_eq!(response.status, 200, "HTTP is not affected");
    // A connection that closes makes room.
    a.close().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(mut c) = StompClient::try_open_with(&server.ws_url(), &[]).await {
            c.connect().await;
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no room after a close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscriptions_and_transactions_beyond_their_limits_are_violations() {
    let server = TestServer::start_with(|c| {
        c.max_subscriptions = 2;
        c.max_transactions = 1;
    })
    .await;
    let mut c = server.client().await;
    c.subscribe_confirmed("a", "/topic/doc/one", &[]).await;
    c.subscribe_confirmed("b", "/user/queue/errors", &[]).await;
    c.subscribe("c", "/topic/doc/two", &[("receipt", "r")])
        .await;
    let error = c.expect_error_and_close().await;
    assert!(
        error
            .header("message")
            .unwrap()
            .contains("too many subscriptions"),
        "{error:?}"
    );
    assert_eq!(error.header("receipt-id"), Some("r"));

    let mut c = server.client().await;
    c.send(&frame(Command::Begin, &[("transaction", "t1")]))
        .await;
    c.send(&frame(
        Command::Begin,
        &[("transaction", "t2"), ("receipt", "r2")],
    ))
    .await;
    let error = c.expect_error_and_close().await;
    assert!(
        error
            .header("message")
            .unwrap()
            .contains("too many open transactions"),
        "{error:?}"
    );
    // Others are unaffected.
    let mut other = server.client().await;
    assert_eq!(submit(&mut other, "one", "o", 1, 0).await, None);
}

#[tokio::test]
async fn submissions_beyond_the_rate_are_rejected_and_not_applied() {
    let server = TestServer::start_with(|c| {
        c.max_submissions_per_second = 5;
        c.submission_burst = 5;
    })
    .await;
    let mut c = server.client().await;
    // 30 SENDs at once: the burst of 5 passes, the rest (bar the few the rate refills) do not.
    for seq in 1..=30u64 {
        let body = json!({"client": "flood", "seq": seq, "base": 0, "op": ["x"]});
        c.send_op("rated", &body, Some(&seq.to_string())).await;
    }
    let mut applied = 0;
    let mut limited = 0;
    for seq in 1..=30u64 {
        let (_, r) = c.until_receipt(&seq.to_string()).await;
        match r.header("error") {
            None => applied += 1,
            Some("rate-limited") => limited += 1,
            Some(other) => panic!("unexpected {other}"),
        }
    }
    assert!((5..=10).contains(&applied), "applied {applied}");
    assert_eq!(applied + limited, 30);
    let ops = all_ops(server.addr, "rated", None).await;
    assert_eq!(ops.len(), applied, "nothing rate-limited was applied");
    // Another connection has its own budget.
    let mut other = server.client().await;
    assert_eq!(submit(&mut other, "rated", "other", 1, 0).await, None);
}

#[tokio::test]
async fn a_reader_that_does_not_read_never_slows_the_writer_and_misses_nothing() {
    let server = TestServer::start_with(|c| c.max_outbound_bytes = 16 * 1024).await;
    // A subscriber over a tiny socket buffer that stops reading at once.
    let mut slow = StompClient::open_with_recv_buffer(&server.ws_url(), 4096).await;
    slow.connect().await;
    let snapshot = slow.subscribe_confirmed("s", "/topic/doc/busy", &[]).await;
    assert_eq!(snapshot.len(), 1);
    let mut writer = server.client().await;
    let started = tokio::time::Instant::now();
    for seq in 1..=600u64 {
        let body =
            json!({"client": "w", "seq": seq, "base": seq - 1, "op": [format!("{seq:04} ")]});
        writer.send_op("busy", &body, Some("last")).await;
        if seq % 100 == 0 {
            // Pace on receipts so the writer measures the server, not its own socket.
            let (_, r) = writer.until_receipt("last").await;
            assert_eq!(r.header("error"), None);
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the writer was held back"
    );
    // Now the slow reader reads: every version once, in order, with no gap.
    let mut next = 1u64;
    while next <= 600 {
        let f = slow.frame().await;
        assert_eq!(f.command, Command::Message, "{f:?}");
        let event = body_json(&f);
        assert_eq!(event["version"], next, "{event}");
        next += 1;
    }
}

#[tokio::test]
async fn client_acknowledged_subscriptions_get_ack_headers_and_may_ack() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let frames = c
        .subscribe_confirmed("s", "/topic/doc/acked", &[("ack", "client-individual")])
        .await;
    assert_eq!(
        frames[0].header("ack"),
        frames[0].header("message-id"),
        "{:?}",
        frames[0]
    );
    assert!(frames[0].header("ack").is_some());
    let mut auto = server.client().await;
    let plain = auto.subscribe_confirmed("p", "/topic/doc/acked", &[]).await;
    assert_eq!(plain[0].header("ack"), None, "ack:auto sends no ack header");
    let body = json!({"client": "a", "seq": 1, "base": 0, "op": ["hi"]});
    c.send_op("acked", &body, Some("r1")).await;
    let (before, _) = c.until_receipt("r1").await;
    let message = match before.into_iter().next() {
        Some(m) => m,
        None => c.frame().await,
    };
    assert_eq!(message.command, Command::Message);
    let ack = message.header("ack").expect("ack header").to_owned();
    assert_eq!(Some(ack.as_str()), message.header("message-id"));
    c.send(&frame(Command::Ack, &[("id", &ack), ("receipt", "acked")]))
        .await;
    let (_, r) = c.until_receipt("acked").await;
    assert_eq!(r.command, Command::Receipt);
    c.send(&frame(
        Command::Nack,
        &[("id", &ack), ("receipt", "nacked")],
    ))
    .await;
    c.until_receipt("nacked").await;
    // A bad ack mode is a violation.
    let mut bad = server.client().await;
    bad.subscribe("x", "/topic/doc/acked", &[("ack", "sometimes")])
        .await;
    let error = bad.expect_error_and_close().await;
    assert!(error.header("message").unwrap().contains("ack mode"));
}

#[tokio::test]
async fn no_common_version_names_the_versions_the_server_speaks() {
    let server = TestServer::start().await;
    let mut c = StompClient::open(&server.ws_url()).await;
    let error = c.connect_with(&[("accept-version", "2.0")]).await;
    assert_eq!(error.command, Command::Error);
    assert_eq!(error.header("version"), Some("1.2,1.1,1.0"));
}

#[tokio::test]
async fn metrics_and_readiness_report_what_happened() {
    let server = TestServer::start().await;
    assert_eq!(
        get(server.addr, "/readyz").await,
        (200, json!({"status": "ready"}))
    );
    let mut c = server.client().await;
    c.subscribe_confirmed("s", "/topic/doc/m", &[]).await;
    for seq in 1..=3 {
        assert_eq!(submit(&mut c, "m", "c", seq, seq - 1).await, None);
    }
    let body = json!({"client": "c", "seq": 9, "base": 99, "op": ["x"]});
    c.send_op("m", &body, Some("bad")).await;
    c.until_receipt("bad").await;
    let response = request(server.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(response.status, 200);
    let text = String::from_utf8(response.body).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("otterdoc_ops_applied_total"), 3.0);
    assert_eq!(value("otterdoc_connections"), 1.0);
    assert_eq!(value("otterdoc_sessions"), 1.0);
    assert_eq!(value("otterdoc_subscriptions"), 1.0);
    assert_eq!(value("otterdoc_open_documents"), 1.0);
    assert!(value("otterdoc_deliveries_total") >= 3.0);
    assert!(value("otterdoc_frames_in_total") >= 6.0);
    assert!(
        text.contains(r#"otterdoc_ops_rejected_total{label="version-in-future"} 1"#),
        "{text}"
    );
    assert!(text.contains("otterdoc_commit_seconds_bucket"), "{text}");
    assert!(text.contains("otterdoc_transform_depth_bucket"), "{text}");
}

#[tokio::test]
async fn operators_list_close_and_notify_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, "op-secret\n").unwrap();
    let server = TestServer::start_with(|c| c.admin_token_file = Some(token_file)).await;
    let admin = [("authorization", "Bearer op-secret")];

    let mut a = server.client().await;
    let connected = {
        let mut b = StompClient::open(&server.ws_url()).await;
        let f = b.connect().await;
        (b, f)
    };
    let (mut b, b_connected) = connected;
    a.subscribe_confirmed("doc", "/topic/doc/shared", &[]).await;
    a.subscribe_confirmed("n", "/user/queue/notices", &[]).await;
    b.subscribe_confirmed("n", "/user/queue/notices", &[]).await;

    // Without the token: 401; the routes exist.
    let denied = request(server.addr, "GET", "/admin/sessions", &[], None).await;
    assert_eq!(denied.status, 401);
    let sessions = request(server.addr, "GET", "/admin/sessions", &admin, None).await;
    assert_eq!(sessions.status, 200);
    let list = sessions.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let with_doc = list
        .iter()
        .find(|s| s["documents"] == json!(["shared"]))
        .expect("a's session");
    assert_eq!(with_doc["user"], "anonymous");
    assert!(with_doc["connected_since"].as_u64().unwrap() > 0);
    let docs = request(server.addr, "GET", "/admin/documents", &admin, None).await;
    assert_eq!(
        docs.json()["documents"],
        json!([{"doc": "shared", "version": 0, "subscribers": 1}])
    );

    // A notice to everyone.
    let notice = json!({"message": "maintenance at noon"}).to_string();
    let sent = request(
        server.addr,
        "POST",
        "/admin/notices",
        &admin,
        Some(notice.as_bytes()),
    )
    .await;
    assert_eq!(sent.json(), json!({"sessions": 2}));
    for c in [&mut a, &mut b] {
        let f = c.frame().await;
        assert_eq!(f.header("destination"), Some("/user/queue/notices"));
        assert_eq!(
            body_json(&f),
            json!({"type": "notice", "message": "maintenance at noon"})
        );
    }
    let bad = request(server.addr, "POST", "/admin/notices", &admin, Some(b"{}")).await;
    assert_eq!(bad.status, 400);

    // Close one session.
    let b_id = b_connected.header("session").unwrap();
    let closed = request(
        server.addr,
        "POST",
        &format!("/admin/sessions/{b_id}/close"),
        &admin,
        None,
    )
    .await;
    assert_eq!(closed.json(), json!({"closed": 1}));
    let error = b.expect_error_and_close().await;
    assert!(
        error.header("message").unwrap().contains("operator"),
        "{error:?}"
    );
    let missing = request(
        server.addr,
        "POST",
        "/admin/sessions/nope/close",
        &admin,
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    // Close every session of a user.
    let closed = request(
        server.addr,
        "POST",
        "/admin/users/anonymous/close",
        &admin,
        None,
    )
    .await;
    assert_eq!(closed.json(), json!({"closed": 1}));
    a.expect_error_and_close().await;

    // Without --admin-token-file the routes are off.
    let plain = TestServer::start().await;
    let off = request(plain.addr, "GET", "/admin/sessions", &admin, None).await;
    assert_eq!(off.status, 404);
}

#[tokio::test]
async fn a_graceful_shutdown_sends_the_receipt_of_every_op_it_applied() {
    let mut server = TestServer::start().await;
    let mut c = server.client().await;
    // Many SENDs in one message: the server has read them all when it starts shutting down.
    let mut bytes = Vec::new();
    for seq in 1..=2000u64 {
        let body = json!({"client": "s", "seq": seq, "base": 0, "op": ["x"]});
        let f = frame(
            Command::Send,
            &[
                ("destination", "/app/doc/drain"),
                ("receipt", &seq.to_string()),
            ],
        )
        .with_body(body.to_string());
        bytes.extend_from_slice(&f.encode());
    }
    c.send_raw(&bytes).await;
    // Shut down once the server is working through them: some applied, more queued.
    let first = c.frame().await;
    assert_eq!(first.command, Command::Receipt, "{first:?}");
    server.stop().await;
    let mut frames = vec![first];
    frames.extend(c.until_closed().await);
    let error_at = frames
        .iter()
        .position(|f| f.command == Command::Error)
        .expect("an ERROR before the close");
    assert_eq!(
        frames[error_at].header("message"),
        Some("the server is shutting down")
    );
    let acked: BTreeSet<u64> = frames[..error_at]
        .iter()
        .filter(|f| f.command == Command::Receipt && f.header("error").is_none())
        .map(|f| f.header("receipt-id").unwrap().parse().unwrap())
        .collect();
    server.restart().await;
    let stored: BTreeSet<u64> = all_ops(server.addr, "drain", None)
        .await
        .iter()
        .map(|op| op["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        stored, acked,
        "every applied op was acknowledged, and nothing else"
    );
    assert!(!stored.is_empty());
}
