//! Presence through STOMP, end to end (`docs/protocol.md#presence`): updates transformed to the
//! current version and broadcast, stored selections kept current by later ops (with the
//! documented bias), everyone's presence first for a newcomer, `leave` on every way a session
//! goes, coalescing and rate limiting, rejections on the RECEIPT and the errors queue, and a
//! subscriber without room that misses no op and ends up with the right presence.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::stomp::{body_json, Incoming};
use crate::common::{StompClient, TestServer, WAIT};
use otterdoc::config::limits::{MAX_PRESENCE_NAME_LEN, MAX_PRESENCE_RANGES, PRESENCE_INTERVAL};
use otterdoc::stomp::{Command, StompFrame};
use serde_json::{json, Value};
use tokio::time::Instant;

const ERRORS: &str = "/user/queue/errors";

fn topic(doc: &str) -> String {
    format!("/topic/doc/{doc}/presence")
}

/// A connected client and its session id (CONNECTED's `session`).
async fn connect(server: &TestServer) -> (StompClient, String) {
    let mut c = StompClient::open(&server.ws_url()).await;
    let connected = c.connect().await;
    let session = connected.header("session").expect("session").to_owned();
    (c, session)
}

/// SENDs a presence update to `doc`, with a receipt when given.
async fn send_presence(c: &mut StompClient, doc: &str, body: &Value, receipt: Option<&str>) {
    let mut frame = StompFrame::new(Command::Send)
        .with_header("destination", format!("/app/doc/{doc}/presence"))
        .with_header("content-type", "application/json")
        .with_body(body.to_string());
    if let Some(r) = receipt {
        frame = frame.with_header("receipt", r);
    }
    c.send(&frame).await;
}

/// SENDs a presence update and waits for its RECEIPT, which must not be an error.
async fn present(c: &mut StompClient, doc: &str, body: &Value) {
    let receipt = format!("p-{}", rand::random::<u32>());
    send_presence(c, doc, body, Some(&receipt)).await;
    let (_, r) = c.until_receipt(&receipt).await;
    assert_eq!(r.header("error"), None, "presence {body} refused: {r:?}");
}

fn update(client: &str, version: u64, ranges: &[(u64, u64)]) -> Value {
    let selection: Vec<Value> = ranges
        .iter()
        .map(|(a, h)| json!({"anchor": a, "head": h}))
        .collect();
    json!({"client": client, "version": version, "selection": selection})
}

/// Submits an op and waits for its RECEIPT; returns the version.
async fn apply(
    c: &mut StompClient,
    doc: &str,
    client: &str,
    seq: u64,
    base: u64,
    op: Value,
) -> u64 {
    let receipt = format!("op-{client}-{seq}");
    let body = json!({"client": client, "seq": seq, "base": base, "op": op});
    c.send_op(doc, &body, Some(&receipt)).await;
    let (_, r) = c.until_receipt(&receipt).await;
    assert_eq!(r.header("error"), None, "{r:?}");
    r.header("version").unwrap().parse().unwrap()
}

/// Subscribes to `doc`'s presence (confirmed); returns the events that arrived before the
/// RECEIPT — everyone's current presence.
async fn watch(c: &mut StompClient, id: &str, doc: &str) -> Vec<Value> {
    c.subscribe_confirmed(id, &topic(doc), &[])
        .await
        .iter()
        .map(|f| {
            assert_eq!(f.command, Command::Message, "{f:?}");
            assert_eq!(f.header("destination"), Some(topic(doc).as_str()));
            assert_eq!(f.header("subscription"), Some(id));
            body_json(f)
        })
        .collect()
}

/// The next presence or leave event (any other frame fails the test).
async fn next_event(c: &mut StompClient) -> Value {
    let f = c.frame().await;
    assert_eq!(f.command, Command::Message, "{f:?}");
    assert!(
        f.header("destination")
            .is_some_and(|d| d.ends_with("/presence")),
        "{f:?}"
    );
    body_json(&f)
}

/// The next event must be `session`'s leave.
async fn expect_leave(watcher: &mut StompClient, session: String) {
    let leave = next_event(watcher).await;
    assert_eq!(leave, json!({"type": "leave", "session": session}));
}

/// Asserts that nothing arrives for a while.
async fn assert_quiet(c: &mut StompClient, wait: Duration) {
    match c.next_within(wait).await {
        None | Some(Incoming::HeartBeat) => {}
        Some(other) => panic!("expected nothing, got {other:?}"),
    }
}

#[tokio::test]
async fn connected_announces_the_presence_feature() {
    let server = TestServer::start().await;
    let mut c = StompClient::open(&server.ws_url()).await;
    let connected = c.connect().await;
    assert_eq!(connected.header("features"), Some("presence"));
}

#[tokio::test]
async fn an_update_is_transformed_to_the_current_version_and_broadcast() {
    let server = TestServer::start().await;
    let doc = "p-broadcast";
    let (mut w, _) = connect(&server).await;
    apply(&mut w, doc, "cw", 1, 0, json!(["hello world"])).await;
    let (mut watcher, _) = connect(&server).await;
    assert_eq!(watch(&mut watcher, "p", doc).await, Vec::<Value>::new());

    let (mut a, a_session) = connect(&server).await;
    let mut body = update("ca", 1, &[(3, 7)]);
    body["name"] = json!("Ann");
    body["color"] = json!("#1e88e5");
    present(&mut a, doc, &body).await;
    assert_eq!(
        next_event(&mut watcher).await,
        json!({"type": "presence", "session": a_session, "client": "ca", "user": "anonymous",
               "version": 1, "selection": [{"anchor": 3, "head": 7}], "name": "Ann",
               "color": "#1e88e5"})
    );

    // Someone else inserts at the start; a's next update is still stated at version 1: the
    // server moves it to version 2 (an insert exactly at a cursor of another client leaves the
    // cursor before it: Bias::Stay).
    apply(&mut w, doc, "cw", 2, 1, json!(["XX"])).await;
    present(&mut a, doc, &update("ca", 1, &[(0, 5)])).await;
    let moved = next_event(&mut watcher).await;
    assert_eq!(moved["version"], 2);
    assert_eq!(moved["selection"], json!([{"anchor": 0, "head": 7}]));
    assert_eq!(moved.get("name"), None, "name and colour are per update");
}

#[tokio::test]
async fn a_newcomer_gets_everyones_presence_kept_current_by_later_ops() {
    let server = TestServer::start().await;
    let doc = "p-newcomer";
    let (mut w, _) = connect(&server).await;
    apply(&mut w, doc, "cw", 1, 0, json!(["abcdef"])).await;
    let (mut a, a_session) = connect(&server).await;
    let (mut b, b_session) = connect(&server).await;
    present(&mut a, doc, &update("ca", 1, &[(2, 2)])).await;
    present(&mut b, doc, &update("cb", 1, &[(4, 4), (0, 1)])).await;
    // a's own client types at a's cursor (its caret is pushed: Bias::Push); another client
    // types at b's cursor (b's stays before the text: Bias::Stay).
    apply(&mut a, doc, "ca", 1, 1, json!([2, "12"])).await;
    apply(&mut w, doc, "cw", 2, 2, json!([6, "zz"])).await;

    let (mut newcomer, _) = connect(&server).await;
    let first = watch(&mut newcomer, "p", doc).await;
    let by_session: BTreeMap<String, Value> = first
        .into_iter()
        .map(|e| (e["session"].as_str().unwrap().to_owned(), e))
        .collect();
    assert_eq!(by_session.len(), 2, "{by_session:?}");
    let (ea, eb) = (&by_session[&a_session], &by_session[&b_session]);
    assert_eq!((&ea["version"], &eb["version"]), (&json!(3), &json!(3)));
    assert_eq!(ea["selection"], json!([{"anchor": 4, "head": 4}]));
    assert_eq!(
        eb["selection"],
        json!([{"anchor": 6, "head": 6}, {"anchor": 0, "head": 1}])
    );
    assert_eq!((&ea["client"], &eb["client"]), (&json!("ca"), &json!("cb")));
}

#[tokio::test]
async fn a_session_leaves_when_it_unsubscribes_disconnects_closes_or_times_out() {
    // Heart-beats of 100 ms: a client that negotiates them and then goes silent is closed
    // after 200 ms. The others ask for none.
    let server = TestServer::start_with(|c| c.heartbeat_ms = 100).await;
    let doc = "p-leave";
    let (mut watcher, _) = connect(&server).await;
    watch(&mut watcher, "p", doc).await;
    // Unsubscribing its last presence subscription.
    let (mut a, a_session) = connect(&server).await;
    watch(&mut a, "p1", doc).await;
    watch(&mut a, "p2", doc).await;
    present(&mut a, doc, &update("ca", 0, &[(0, 0)])).await;
    assert_eq!(next_event(&mut watcher).await["session"], a_session);
    let unsubscribe = |id: &str, receipt: &str| {
        StompFrame::new(Command::Unsubscribe)
            .with_header("id", id)
            .with_header("receipt", receipt)
    };
    a.send(&unsubscribe("p1", "u1")).await;
    a.until_receipt("u1").await;
    assert_quiet(&mut watcher, PRESENCE_INTERVAL * 4).await;
    a.send(&unsubscribe("p2", "u2")).await;
    a.until_receipt("u2").await;
    expect_leave(&mut watcher, a_session).await;

    // DISCONNECT, with presence sent but never subscribed.
    let (mut b, b_session) = connect(&server).await;
    present(&mut b, doc, &update("cb", 0, &[(0, 0)])).await;
    assert_eq!(next_event(&mut watcher).await["session"], b_session);
    b.send(&StompFrame::new(Command::Disconnect).with_header("receipt", "bye"))
        .await;
    b.until_closed().await;
    expect_leave(&mut watcher, b_session).await;

    // The socket closing without DISCONNECT.
    let (mut c, c_session) = connect(&server).await;
    present(&mut c, doc, &update("cc", 0, &[(0, 0)])).await;
    assert_eq!(next_event(&mut watcher).await["session"], c_session);
    c.close().await;
    expect_leave(&mut watcher, c_session).await;

    // Silence past the heart-beat timeout.
    let mut d = StompClient::open(&server.ws_url()).await;
    let connected = d
        .connect_with(&[("accept-version", "1.2"), ("heart-beat", "100,0")])
        .await;
    let d_session = connected.header("session").unwrap().to_owned();
    present(&mut d, doc, &update("cd", 0, &[(0, 0)])).await;
    assert_eq!(next_event(&mut watcher).await["session"], d_session);
    let started = Instant::now();
    expect_leave(&mut watcher, d_session).await;
    assert!(started.elapsed() < WAIT);
    // A session that never sent presence leaves nothing behind.
    let (mut e, _) = connect(&server).await;
    watch(&mut e, "p", doc).await;
    e.close().await;
    assert_quiet(&mut watcher, PRESENCE_INTERVAL * 4).await;
}

#[tokio::test]
async fn updates_are_coalesced_and_rate_limited_and_the_latest_wins() {
    let server = TestServer::start().await;
    let doc = "p-burst";
    let (mut w, _) = connect(&server).await;
    apply(&mut w, doc, "cw", 1, 0, json!(["x".repeat(300)])).await;
    let (mut watcher, _) = connect(&server).await;
    watch(&mut watcher, "p", doc).await;
    let (mut a, _) = connect(&server).await;
    let started = Instant::now();
    const BURST: u64 = 200;
    for i in 1..=BURST {
        send_presence(&mut a, doc, &update("ca", 1, &[(i, i)]), None).await;
    }
    present(&mut a, doc, &update("ca", 1, &[(BURST + 1, BURST + 1)])).await;
    let mut seen = Vec::new();
    loop {
        let event = next_event(&mut watcher).await;
        let head = event["selection"][0]["head"].as_u64().unwrap();
        seen.push(head);
        if head == BURST + 1 {
            break;
        }
    }
    let elapsed = started.elapsed();
    // At most one broadcast per interval (plus the first), however fast the updates came.
    let allowed = 2 + (elapsed.as_millis() / PRESENCE_INTERVAL.as_millis()) as usize;
    assert!(
        seen.len() <= allowed,
        "{} broadcasts in {elapsed:?}: {seen:?}",
        seen.len()
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    assert_quiet(&mut watcher, PRESENCE_INTERVAL * 4).await;
}

#[tokio::test]
async fn bad_updates_are_rejected_on_the_receipt_and_the_errors_queue() {
    let server = TestServer::start_with(|c| c.idle_doc_ms = 100).await;
    let doc = "p-bad";
    let (mut w, _) = connect(&server).await;
    apply(&mut w, doc, "cw", 1, 0, json!(["abc"])).await;
    apply(&mut w, doc, "cw", 2, 1, json!([3, "d"])).await;
    let (mut c, _) = connect(&server).await;
    c.subscribe_confirmed("errors", ERRORS, &[]).await;
    let mut ranges = update("cc", 2, &[]);
    ranges["selection"] = json!(vec![
        json!({"anchor": 0, "head": 0});
        MAX_PRESENCE_RANGES + 1
    ]);
    let mut long_name = update("cc", 2, &[(0, 0)]);
    long_name["name"] = json!("n".repeat(MAX_PRESENCE_NAME_LEN + 1));
    let cases: Vec<(&str, String, &str)> = vec![
        (doc, "not json".into(), "malformed-body"),
        (
            doc,
            json!({"client": "cc", "version": 2}).to_string(),
            "malformed-body",
        ),
        (
            doc,
            json!({"client": "cc", "version": 2, "selection": [{"anchor": -1, "head": 0}]})
                .to_string(),
            "malformed-body",
        ),
        (doc, ranges.to_string(), "invalid-presence"),
        (doc, long_name.to_string(), "invalid-presence"),
        (
            doc,
            update("cc", 2, &[(0, 5)]).to_string(),
            "invalid-presence",
        ),
        (
            doc,
            update("cc", 1, &[(4, 4)]).to_string(),
            "invalid-presence",
        ),
        (
            doc,
            update("cc", 3, &[(0, 0)]).to_string(),
            "version-in-future",
        ),
        ("bad id", update("cc", 0, &[]).to_string(), "invalid-doc-id"),
    ];
    for (i, (target, body, code)) in cases.iter().enumerate() {
        let receipt = format!("r{i}");
        let frame = StompFrame::new(Command::Send)
            .with_header("destination", format!("/app/doc/{target}/presence"))
            .with_header("receipt", receipt.as_str())
            .with_body(body.clone());
        c.send(&frame).await;
        let r = c.frame().await;
        assert_eq!(r.command, Command::Receipt, "{body}: {r:?}");
        assert_eq!(r.header("receipt-id"), Some(receipt.as_str()));
        assert_eq!(r.header("error"), Some(*code), "{body}: {r:?}");
        let event = body_json(&c.frame().await);
        assert_eq!(event["type"], "error");
        assert_eq!(event["code"], *code, "{event}");
        assert_eq!(event["doc"], format!("{target}/presence"));
        assert_eq!(event["seq"], Value::Null);
        assert_eq!(event["receipt"], receipt);
    }
    // The connection is fine, and a good update is accepted.
    present(&mut c, doc, &update("cc", 2, &[(4, 4)])).await;

    // Right after the document is loaded again it keeps no history in memory: an update at
    // an older version cannot be moved to the current one.
    drop((w, c));
    server.wait_all_unloaded().await;
    let (mut c, _) = connect(&server).await;
    c.subscribe_confirmed("errors", ERRORS, &[]).await;
    send_presence(&mut c, doc, &update("cc", 1, &[(0, 0)]), Some("old")).await;
    let (_, r) = c.until_receipt("old").await;
    assert_eq!(r.header("error"), Some("version-too-old"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_without_room_misses_no_op_and_is_resynced() {
    let server = TestServer::start_with(|c| c.write_timeout_ms = 120_000).await;
    let doc = "p-full";
    let (mut w, _) = connect(&server).await;
    // Large ops (8 KB events) fill the socket buffers quickly; the presence events then pile
    // up in the connection's outbox until there is no room for them.
    const LEN: usize = 2000;
    let mut version = apply(&mut w, doc, "cw", 1, 0, json!(["-".repeat(LEN)])).await;

    // The stuck reader: both topics on one connection with a tiny receive buffer, and it
    // reads nothing until the end.
    let mut stuck = StompClient::open_with_recv_buffer(&server.ws_url(), 4096).await;
    stuck.connect().await;
    let snapshot = stuck
        .subscribe_confirmed("ops", &format!("/topic/doc/{doc}"), &[])
        .await;
    assert_eq!(body_json(&snapshot[0])["version"], version);
    let before = stuck.subscribe_confirmed("p", &topic(doc), &[]).await;
    assert!(before.is_empty());

    // Eight sessions move their cursors quickly while the writer submits ops; then one
    // session leaves, and the others state their final positions.
    let mut movers = Vec::new();
    for k in 0..8 {
        let (c, session) = connect(&server).await;
        movers.push((c, session, format!("c{k}")));
    }
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut seq = 1;
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        for (c, _, client) in movers.iter_mut() {
            send_presence(
                c,
                doc,
                &update(client, version, &[(round % 100, round % 100)]),
                None,
            )
            .await;
        }
        seq += 1;
        let letter = ['😀', '中', '👍'][round as usize % 3].to_string();
        version = apply(
            &mut w,
            doc,
            "cw",
            seq,
            version,
            json!([-(LEN as i64), letter.repeat(LEN)]),
        )
        .await;
    }
    let (gone, gone_session, _) = movers.pop().unwrap();
    gone.close().await;
    let mut expected = BTreeMap::new();
    for (k, (c, session, client)) in movers.iter_mut().enumerate() {
        present(c, doc, &update(client, version, &[(k as u64, k as u64)])).await;
        expected.insert(session.clone(), k as u64);
    }

    // Now read: every op exactly once and in order, and a presence view that ends with the
    // final positions and without the session that left.
    let mut next_version = 2;
    let mut view: BTreeMap<String, u64> = BTreeMap::new();
    let settle = Instant::now() + WAIT;
    while next_version <= version || view != expected {
        assert!(
            Instant::now() < settle,
            "view {view:?}, expected {expected:?}"
        );
        let Some(Incoming::Frame(f)) = stuck.next_within(Duration::from_secs(2)).await else {
            continue;
        };
        assert_eq!(f.command, Command::Message, "{f:?}");
        let event = body_json(&f);
        match event["type"].as_str() {
            Some("op") => {
                assert_eq!(event["version"], next_version, "ops in order, once");
                next_version += 1;
            }
            Some("presence") => {
                let head = event["selection"][0]["head"].as_u64().unwrap();
                view.insert(event["session"].as_str().unwrap().to_owned(), head);
            }
            Some("leave") => {
                view.remove(event["session"].as_str().unwrap());
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(!view.contains_key(&gone_session));
}
