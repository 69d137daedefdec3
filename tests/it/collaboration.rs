//! End-to-end collaboration through the real server: snapshots, the op event round trip,
//! concurrent ot.js-style editors converging, catch-up with the `version` header (also while
//! ops keep arriving), a subscriber that lags far behind, resubmission dedup across a restart,
//! a real editing trace replayed by two editors, and idle document unloading.
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::history::{all_ops, get_doc, replay};
use crate::common::ot_client::OtClient;
use crate::common::stomp::{body_json, Incoming};
use crate::common::{StompClient, TestServer};
use ot::testkit::trace::{self, Trace};
use ot::Operation;
use otterdoc::stomp::{Command, StompFrame};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Upper bound for any one test (each single wait is bounded by `common::WAIT` as well).
const TEST_LIMIT: Duration = Duration::from_secs(120);

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test exceeded its time limit");
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=otterdoc=debug`).
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// SENDs `body` with a receipt and returns the version the RECEIPT names (panics on a
/// rejection). Frames arriving before the RECEIPT are returned too.
async fn submit_with_frames(
    c: &mut StompClient,
    doc: &str,
    body: &Value,
) -> (u64, Vec<StompFrame>) {
    let receipt = format!("r-{}-{}", body["client"].as_str().unwrap(), body["seq"]);
    c.send_op(doc, body, Some(&receipt)).await;
    let (before, r) = c.until_receipt(&receipt).await;
    assert_eq!(r.header("error"), None, "rejected: {r:?}");
    let version = r
        .header("version")
        .expect("RECEIPT version")
        .parse()
        .unwrap();
    (version, before)
}

async fn submit(c: &mut StompClient, doc: &str, body: &Value) -> u64 {
    let (version, before) = submit_with_frames(c, doc, body).await;
    assert!(before.is_empty(), "unexpected frames: {before:?}");
    version
}

/// A client that submits ops pipelined: a batch of ops, then the RECEIPTs of the whole batch.
struct Writer {
    stomp: StompClient,
    doc: String,
    client: String,
    seq: u64,
    version: u64,
}

impl Writer {
    async fn new(server: &TestServer, doc: &str, client: &str, version: u64) -> Writer {
        Writer {
            stomp: server.client().await,
            doc: doc.to_owned(),
            client: client.to_owned(),
            seq: 0,
            version,
        }
    }

    /// Sends `ops` (wire JSON), all based on the last version known, so that the server
    /// transforms each against those before it; waits for their RECEIPTs.
    async fn window(&mut self, ops: Vec<Value>) -> u64 {
        self.send_all(ops, false).await
    }

    /// Sends `ops` (wire JSON), each based on the version the previous one will produce:
    /// consecutive ops of the only writer of a document, which need no transform.
    async fn chain(&mut self, ops: Vec<Value>) -> u64 {
        self.send_all(ops, true).await
    }

    async fn send_all(&mut self, ops: Vec<Value>, chained: bool) -> u64 {
        let first = self.seq + 1;
        for (k, op) in ops.into_iter().enumerate() {
            self.seq += 1;
            let base = if chained {
                self.version + k as u64
            } else {
                self.version
            };
            let body = json!({"client": self.client, "seq": self.seq, "base": base, "op": op});
            let receipt = format!("w-{}", self.seq);
            self.stomp.send_op(&self.doc, &body, Some(&receipt)).await;
        }
        for seq in first..=self.seq {
            let (before, r) = self.stomp.until_receipt(&format!("w-{seq}")).await;
            assert!(before.is_empty(), "writer got {before:?}");
            assert_eq!(r.header("error"), None, "rejected: {r:?}");
            let v: u64 = r.header("version").unwrap().parse().unwrap();
            assert!(
                v > self.version,
                "versions go up: {v} after {}",
                self.version
            );
            self.version = v;
        }
        self.version
    }
}

/// An op event carries exactly its stored record plus `type` and `doc`.
fn assert_event_is_record(event: &Value, record: &Value, doc: &str) {
    let mut stripped = event.clone();
    let map = stripped.as_object_mut().unwrap();
    assert_eq!(map.remove("type"), Some(json!("op")), "{event}");
    assert_eq!(map.remove("doc"), Some(json!(doc)), "{event}");
    assert_eq!(&stripped, record);
}

/// Reads op events (after `already`, the frames that came before a RECEIPT) until version
/// `upto`; asserts they are exactly `from..=upto`, in order, each once, and nothing else.
async fn read_ops(
    c: &mut StompClient,
    already: Vec<StompFrame>,
    from: u64,
    upto: u64,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut already = already.into_iter();
    for expect in from..=upto {
        let frame = match already.next() {
            Some(frame) => frame,
            None => c.frame().await,
        };
        assert_eq!(frame.command, Command::Message, "{frame:?}");
        let ev = body_json(&frame);
        assert_eq!(ev["type"], "op", "expected only op events, got {ev}");
        assert_eq!(ev["version"], expect, "versions arrive once each, in order");
        assert_eq!(
            frame.header("message-id").map(str::to_owned),
            Some(format!(
                "{}-{expect}",
                frame.header("subscription").unwrap()
            )),
        );
        events.push(ev);
    }
    let extra: Vec<StompFrame> = already.collect();
    assert!(extra.is_empty(), "frames after version {upto}: {extra:?}");
    events
}

/// The wire JSON of `Operation::splice(len, pos, delete, insert)`.
fn splice_json(len: usize, pos: usize, delete: usize, insert: &str) -> Value {
    serde_json::to_value(Operation::splice(len, pos, delete, insert).unwrap()).unwrap()
}

/// Nothing (no duplicate, nothing unexpected) arrives within a short while.
async fn assert_quiet(c: &mut StompClient) {
    match c.next_within(Duration::from_millis(150)).await {
        None => {}
        Some(Incoming::Frame(f)) => panic!("unexpected frame {f:?}"),
        Some(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn subscribing_sends_a_snapshot_of_content_and_version() {
    bounded(async {
        let server = TestServer::start().await;
        // A document nobody wrote to: version 0, empty.
        let mut fresh = server.client().await;
        let frames = fresh
            .subscribe_confirmed("s0", "/topic/doc/snap-new", &[])
            .await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(
            body_json(&frames[0]),
            json!({"type":"snapshot","doc":"snap-new","version":0,"content":"","hash":crate::common::history::GENESIS_HASH})
        );

        let mut w = server.client().await;
        let doc = "snap";
        assert_eq!(
            submit(
                &mut w,
                doc,
                &json!({"client":"w","seq":1,"base":0,"op":["Hello"]})
            )
            .await,
            1
        );
        let op2 = json!({"client":"w","seq":2,"base":1,"op":[5," wörld 🌍"]});
        assert_eq!(submit(&mut w, doc, &op2).await, 2);
        assert_eq!(
            submit(
                &mut w,
                doc,
                &json!({"client":"w","seq":3,"base":2,"op":[-1,"J"]})
            )
            .await,
            3
        );

        let mut sub = server.client().await;
        let frames = sub.subscribe_confirmed("s1", "/topic/doc/snap", &[]).await;
        assert_eq!(
            frames.len(),
            1,
            "only the snapshot before the RECEIPT: {frames:?}"
        );
        let snap = &frames[0];
        assert_eq!(snap.command, Command::Message);
        assert_eq!(snap.header("subscription"), Some("s1"));
        assert_eq!(snap.header("destination"), Some("/topic/doc/snap"));
        assert_eq!(snap.header("message-id"), Some("s1-snapshot"));
        assert_eq!(snap.header("content-type"), Some("application/json"));
        assert_eq!(
            crate::common::history::without_hash(body_json(snap)),
            json!({"type":"snapshot","doc":"snap","version":3,"content":"Jello wörld 🌍"})
        );

        // The snapshot is followed by exactly the ops after it.
        assert_eq!(
            submit(
                &mut w,
                doc,
                &json!({"client":"w","seq":4,"base":3,"op":[13,"!"]})
            )
            .await,
            4
        );
        let events = read_ops(&mut sub, Vec::new(), 4, 4).await;
        assert_eq!(events[0]["op"], json!([13, "!"]));
        assert_quiet(&mut sub).await;

        // The OT client starts from the same snapshot.
        let ot = OtClient::join(&server, doc).await;
        assert_eq!(
            (ot.version(), ot.content()),
            (4, "Jello wörld 🌍!".to_owned())
        );
        assert_eq!(
            get_doc(server.addr, doc).await,
            (4, "Jello wörld 🌍!".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn an_op_event_reaches_its_submitter_and_every_other_subscriber() {
    bounded(async {
        let server = TestServer::start().await;
        let doc = "roundtrip";
        let mut a = server.client().await;
        let mut b = server.client().await;
        a.subscribe_confirmed("sa", "/topic/doc/roundtrip", &[])
            .await;
        b.subscribe_confirmed("sb", "/topic/doc/roundtrip", &[])
            .await;

        let before = now_ms();
        let body = json!({"client":"rt-a","seq":7,"base":0,"op":["héllo 👋"]});
        let (version, mut frames) = submit_with_frames(&mut a, doc, &body).await;
        let after = now_ms();
        assert_eq!(version, 1);
        if frames.is_empty() {
            frames.push(a.frame().await);
        }
        assert_eq!(frames.len(), 1, "{frames:?}");
        let mine = &frames[0];
        assert_eq!(mine.command, Command::Message);
        assert_eq!(mine.header("subscription"), Some("sa"));
        assert_eq!(mine.header("destination"), Some("/topic/doc/roundtrip"));
        assert_eq!(mine.header("message-id"), Some("sa-1"));
        assert_eq!(mine.header("content-type"), Some("application/json"));
        let ev = body_json(mine);
        let time = ev["time"].as_u64().expect("time in ms");
        assert!(
            before <= time && time <= after,
            "time {time} not in [{before}, {after}]"
        );
        // The first link of the hash chain, computed here from the record's fields.
        let hash = otterdoc::store::ChainHash::GENESIS.next(&otterdoc::store::OpRecord {
            version: 1,
            op: ot::Operation::from_json(r#"["héllo 👋"]"#).unwrap(),
            client: "rt-a".into(),
            seq: 7,
            user: "anonymous".into(),
            time,
            hash: otterdoc::store::ChainHash::GENESIS,
        });
        assert_eq!(
            ev,
            json!({"type":"op","doc":"roundtrip","version":1,"op":["héllo 👋"],
                   "client":"rt-a","seq":7,"user":"anonymous","time":time,
                   "hash":hash.to_hex()})
        );

        let theirs = b.frame().await;
        assert_eq!(theirs.header("subscription"), Some("sb"));
        assert_eq!(theirs.header("message-id"), Some("sb-1"));
        assert_eq!(
            body_json(&theirs),
            ev,
            "every subscriber sees the same event"
        );

        // A stale op from b is transformed (incoming on the left: at the same position its "X"
        // goes before "héllo 👋"), and both see it as applied.
        let body = json!({"client":"rt-b","seq":1,"base":0,"op":["X"]});
        let (version, mut frames) = submit_with_frames(&mut b, doc, &body).await;
        assert_eq!(version, 2);
        if frames.is_empty() {
            frames.push(b.frame().await);
        }
        let ev_b = body_json(&frames[0]);
        assert_eq!(ev_b["op"], json!(["X", 7]));
        assert_eq!(
            (ev_b["client"].clone(), ev_b["seq"].clone()),
            (json!("rt-b"), json!(1))
        );
        assert_eq!(ev_b["user"], "anonymous");
        assert!(
            ev_b["time"].as_u64().unwrap() >= time,
            "time never decreases"
        );
        assert_eq!(a.message_json().await, ev_b);
        assert_quiet(&mut a).await;
        assert_quiet(&mut b).await;

        let records = all_ops(server.addr, doc, None).await;
        assert_event_is_record(&ev, &records[0], doc);
        assert_event_is_record(&ev_b, &records[1], doc);
        assert_eq!(get_doc(server.addr, doc).await, (2, "Xhéllo 👋".to_owned()));
    })
    .await;
}

#[tokio::test]
async fn concurrent_edits_at_the_same_place_converge_later_arrival_first() {
    bounded(async {
        let server = TestServer::start().await;
        let doc = "tie";
        let mut a = OtClient::join(&server, doc).await;
        let mut b = OtClient::join(&server, doc).await;
        a.insert(0, "hello").await;
        a.wait_idle().await;
        assert_eq!(a.version(), 1);
        // b has not seen "hello": one op in flight and one buffered, both concurrent with it.
        b.insert(0, "¡").await;
        b.insert(1, "👋 ").await;
        assert_eq!(b.content(), "¡👋 ");
        // a edits concurrently with b's ops too, elsewhere.
        a.insert(5, " there").await;
        a.wait_idle().await;
        b.wait_idle().await;
        let (version, content) = get_doc(server.addr, doc).await;
        assert_eq!(version, 4);
        a.wait_version(version).await;
        b.wait_version(version).await;
        // "hello" reached the server first; b's inserts at the same place, typed before b saw
        // it, go before it, in one run.
        assert_eq!(content, "¡👋 hello there");
        assert_eq!(a.content(), content);
        assert_eq!(b.content(), content);
        assert!(b.transformed >= 1, "b transformed its pending ops");
        assert_eq!(
            replay(&all_ops(server.addr, doc, None).await).last(),
            Some(&content)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_random_editors_converge() {
    bounded(async {
        init_tracing();
        const CLIENTS: u64 = 4;
        const EDITS: usize = 400;
        let server = TestServer::start().await;
        let doc = "random";
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let mut client = OtClient::join(&server, doc).await;
            tasks.push(tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(0x07_7E_4D_0C + i);
                for _ in 0..EDITS {
                    client.random_edit(&mut rng).await;
                    let pause = Duration::from_millis(rng.random_range(0..=5));
                    client.pump_for(pause).await;
                }
                client.wait_idle().await;
                client
            }));
        }
        let mut clients = Vec::new();
        for task in tasks {
            clients.push(task.await.expect("editor task"));
        }
        // Everyone is idle, so every op is applied: the server's version is final.
        let (version, content) = get_doc(server.addr, doc).await;
        let sent: u64 = clients.iter().map(|c| c.sent).sum();
        assert_eq!(version, sent, "every op sent was applied once");
        for c in &mut clients {
            c.wait_version(version).await;
            assert_eq!(c.version(), version);
            assert_eq!(c.content(), content, "{} diverged", c.client_id());
        }
        let records = all_ops(server.addr, doc, None).await;
        assert_eq!(records.len() as u64, version);
        assert_eq!(replay(&records).last(), Some(&content));
        let transformed: u64 = clients.iter().map(|c| c.transformed).sum();
        let by_receipt: u64 = clients.iter().map(|c| c.acked_by_receipt).sum();
        eprintln!(
            "{} edits, {sent} ops ({by_receipt} acknowledged by RECEIPT first), \
             {transformed} received while pending, {} chars",
            CLIENTS as usize * EDITS,
            content.chars().count()
        );
    })
    .await;
}

#[tokio::test]
async fn subscribing_with_a_version_catches_up_then_goes_live() {
    bounded(async {
        let server = TestServer::start().await;
        let doc = "catchup";
        let mut w = Writer::new(&server, doc, "w", 0).await;
        for i in 0..30 {
            w.window(vec![json!([format!("{i}é,")])]).await;
        }
        assert_eq!(w.version, 30);

        let mut mid = server.client().await;
        let early = mid
            .subscribe_confirmed("m", "/topic/doc/catchup", &[("version", "10")])
            .await;
        let mid_events = read_ops(&mut mid, early, 11, 30).await;
        let mut head = server.client().await;
        let early = head
            .subscribe_confirmed("h", "/topic/doc/catchup", &[("version", "30")])
            .await;
        assert!(
            early.is_empty(),
            "no snapshot, nothing to catch up: {early:?}"
        );
        let mut all = server.client().await;
        let early = all
            .subscribe_confirmed("a", "/topic/doc/catchup", &[("version", "0")])
            .await;
        let all_events = read_ops(&mut all, early, 1, 30).await;

        let records = all_ops(server.addr, doc, None).await;
        for (ev, rec) in all_events.iter().zip(&records) {
            assert_event_is_record(ev, rec, doc);
        }
        for (ev, rec) in mid_events.iter().zip(&records[10..]) {
            assert_event_is_record(ev, rec, doc);
        }

        // Then live.
        for i in 0..5 {
            w.window(vec![json!([format!("live{i}")])]).await;
        }
        let records = all_ops(server.addr, doc, None).await;
        for c in [&mut mid, &mut head, &mut all] {
            let live = read_ops(c, Vec::new(), 31, 35).await;
            for (ev, rec) in live.iter().zip(&records[30..]) {
                assert_event_is_record(ev, rec, doc);
            }
            assert_quiet(c).await;
        }

        // A version from the future is refused.
        let mut future = server.client().await;
        future
            .subscribe("f", "/topic/doc/catchup", &[("version", "36")])
            .await;
        let error = future.expect_error_and_close().await;
        assert!(
            error
                .header("message")
                .unwrap()
                .contains("version-in-future"),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_while_ops_are_submitted_has_no_gap_and_no_duplicate() {
    bounded(async {
        init_tracing();
        let server = TestServer::start().await;
        let doc = "racing";
        let mut w = Writer::new(&server, doc, "w", 0).await;
        w.window(vec![json!(["seed"])]).await;
        // The writer keeps submitting (windows of 1–16 ops, each window on one base, so the
        // server transforms them) until every subscription below is made.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut rng = StdRng::seed_from_u64(7);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let n = rng.random_range(1..=16);
                    let ops = (0..n).map(|j| json!([format!("{i}.{j} ")])).collect();
                    w.window(ops).await;
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..=3))).await;
                    i += 1;
                }
                w
            }
        });

        // Subscribe repeatedly while the writer runs, from various points of the history.
        let mut rng = StdRng::seed_from_u64(11);
        let mut subs = Vec::new();
        for i in 0..12u64 {
            tokio::time::sleep(Duration::from_millis(rng.random_range(5..=30))).await;
            let (current, _) = get_doc(server.addr, doc).await;
            let from = match i % 4 {
                0 => current,
                1 => current.saturating_sub(1),
                2 => current / 2,
                _ => 0,
            };
            let mut c = server.client().await;
            let id = format!("s{i}");
            let version = from.to_string();
            let early = c
                .subscribe_confirmed(&id, "/topic/doc/racing", &[("version", version.as_str())])
                .await;
            subs.push((c, from, early));
        }
        stop.store(true, Ordering::SeqCst);
        let mut w = writer.await.expect("writer task");
        let last = w.version;
        // A few live ones after the storm, too.
        for i in 0..3 {
            w.window(vec![json!([format!("after{i}")])]).await;
        }
        let records = all_ops(server.addr, doc, None).await;
        assert_eq!(records.len() as u64, last + 3);
        for (c, from, early) in &mut subs {
            let events = read_ops(c, std::mem::take(early), *from + 1, last + 3).await;
            for ev in &events {
                let v = ev["version"].as_u64().unwrap() as usize;
                assert_event_is_record(ev, &records[v - 1], doc);
            }
            assert_quiet(c).await;
        }
        eprintln!(
            "{} ops, subscribed from {:?}",
            last + 3,
            subs.iter().map(|s| s.1).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_read_for_a_long_time_gets_every_op_once() {
    bounded(async {
        init_tracing();
        // The subscriber reads nothing while the writer runs; give the write timeout room, so
        // that what is tested is the catch-up, not how long a stalled connection may live.
        let server = TestServer::start_with(|c| c.write_timeout_ms = 120_000).await;
        let doc = "lagging";
        // Large events (4 KB each, 10 MB in all) so that the socket buffers, the connection's 256-frame
        // outbound queue and the 1024-event broadcast buffer all fill up, while the document
        // itself stays WIDTH * CHUNK chars: op i of a batch replaces chunk i.
        const CHUNK: usize = 1000;
        const WIDTH: usize = 64;
        const OPS: usize = 2560;
        const LETTERS: [char; 5] = ['😀', '中', '👍', '𝄞', '🌍'];
        // Version v (from 2 on) replaces chunk (v - 2) % WIDTH with one repeated letter.
        let chunk_at = |version: u64| {
            let i = (version - 2) as usize;
            let letter = LETTERS[(i / WIDTH + i % WIDTH) % LETTERS.len()];
            (i % WIDTH, letter.to_string().repeat(CHUNK))
        };
        let op_at = |version: u64| {
            let (n, text) = chunk_at(version);
            splice_json(CHUNK * WIDTH, n * CHUNK, CHUNK, &text)
        };
        let mut w = Writer::new(&server, doc, "w", 0).await;
        w.chain(vec![json!(["-".repeat(CHUNK * WIDTH)])]).await;

        // The lagging connection has a small receive buffer, so it pushes back early.
        let mut lagging = StompClient::open_with_recv_buffer(&server.ws_url(), 4096).await;
        lagging.connect().await;
        let frames = lagging
            .subscribe_confirmed("lag", "/topic/doc/lagging", &[])
            .await;
        assert_eq!(frames.len(), 1);
        let snap = body_json(&frames[0]);
        assert_eq!(snap["version"], 1);

        for batch in 0..(OPS / WIDTH) as u64 {
            let first = 2 + batch * WIDTH as u64;
            w.chain((first..first + WIDTH as u64).map(op_at).collect())
                .await;
        }
        let last = w.version;
        assert_eq!(last, 1 + OPS as u64);

        // Now read everything: every version once, in order, no gap, each the op submitted.
        let events = read_ops(&mut lagging, Vec::new(), 2, last).await;
        for ev in &events {
            let version = ev["version"].as_u64().unwrap();
            assert_eq!((&ev["client"], &ev["seq"]), (&json!("w"), &json!(version)));
            assert!(
                ev["op"] == op_at(version),
                "version {version} is not the op submitted"
            );
        }
        assert_quiet(&mut lagging).await;
        // The connection is still open and working.
        lagging
            .send(
                &StompFrame::new(Command::Subscribe)
                    .with_header("id", "errors")
                    .with_header("destination", "/user/queue/errors")
                    .with_header("receipt", "still-there"),
            )
            .await;
        let (before, _) = lagging.until_receipt("still-there").await;
        assert!(before.is_empty(), "{before:?}");
        let expected: String = (last + 1 - WIDTH as u64..=last)
            .map(|v| chunk_at(v).1)
            .collect();
        let (version, content) = get_doc(server.addr, doc).await;
        assert_eq!(version, last);
        assert!(
            content == expected,
            "the final content is not the last batch's"
        );
    })
    .await;
}

#[tokio::test]
async fn a_resubmitted_op_is_applied_once_even_after_a_restart() {
    bounded(async {
        let mut server = TestServer::start().await;
        let doc = "dedup";
        let first = json!({"client":"dup","seq":1,"base":0,"op":["hello"]});
        let mut c = server.client().await;
        assert_eq!(submit(&mut c, doc, &first).await, 1);
        let other = json!({"client":"other","seq":1,"base":1,"op":[5," world"]});
        assert_eq!(submit(&mut c, doc, &other).await, 2);

        let mut sub = server.client().await;
        sub.subscribe_confirmed("s", "/topic/doc/dedup", &[("version", "2")])
            .await;
        // Same client, seq, base and op: answered with the original version, not applied.
        assert_eq!(submit(&mut c, doc, &first).await, 1);
        assert_eq!(submit(&mut c, doc, &other).await, 2);
        assert_eq!(
            get_doc(server.addr, doc).await,
            (2, "hello world".to_owned())
        );
        // No event for the duplicates: the next event is the next new op.
        let next = json!({"client":"dup","seq":2,"base":2,"op":[11,"!"]});
        assert_eq!(submit(&mut c, doc, &next).await, 3);
        let events = read_ops(&mut sub, Vec::new(), 3, 3).await;
        assert_eq!(
            (events[0]["client"].clone(), events[0]["seq"].clone()),
            (json!("dup"), json!(2))
        );
        assert_quiet(&mut sub).await;
        c.close().await;
        sub.close().await;

        server.restart().await;
        let mut c = server.client().await;
        assert_eq!(submit(&mut c, doc, &first).await, 1);
        assert_eq!(submit(&mut c, doc, &next).await, 3);
        assert_eq!(
            get_doc(server.addr, doc).await,
            (3, "hello world!".to_owned())
        );
        let records = all_ops(server.addr, doc, None).await;
        assert_eq!(records.len(), 3);
        assert_eq!(replay(&records).last().unwrap(), "hello world!");
        // And the document goes on normally.
        let more = json!({"client":"dup","seq":3,"base":3,"op":[12," 👋"]});
        assert_eq!(submit(&mut c, doc, &more).await, 4);
        assert_eq!(
            get_doc(server.addr, doc).await,
            (4, "hello world! 👋".to_owned())
        );
    })
    .await;
}

fn load_trace(name: &str) -> Trace {
    let trace = trace::load_named(name).unwrap_or_else(|e| {
        panic!("{e} (the editing traces are expected at ../shared/traces/sequential relative to the repository root)")
    });
    assert_eq!(
        trace.start_content, "",
        "{name}: the replay starts from an empty document"
    );
    trace
}

#[tokio::test]
async fn two_editors_replay_a_real_trace_in_turns() {
    bounded(async {
        let trace = load_trace("sveltecomponent");
        assert!(trace.patches.len() > 10_000);
        let server = TestServer::start().await;
        let doc = "svelte";
        let mut editors = [
            OtClient::join(&server, doc).await,
            OtClient::join(&server, doc).await,
        ];
        const BLOCK: usize = 200;
        for (i, block) in trace.patches.chunks(BLOCK).enumerate() {
            let (me, other) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
            for p in block {
                editors[me].splice(p.pos, p.del, &p.insert).await;
            }
            editors[me].wait_idle().await;
            let version = editors[me].version();
            editors[other].wait_version(version).await;
            assert_eq!(editors[other].version(), version);
            assert_eq!(
                editors[0].content(),
                editors[1].content(),
                "diverged after block {i}"
            );
        }
        let (version, content) = get_doc(server.addr, doc).await;
        assert!(
            content == trace.end_content,
            "the server's content is not the trace's endContent"
        );
        for e in &editors {
            assert_eq!(e.version(), version);
            assert!(
                e.content() == trace.end_content,
                "an editor's content is not endContent"
            );
        }
        assert!(replay(&all_ops(server.addr, doc, None).await).last() == Some(&trace.end_content));
        eprintln!("{} patches in {version} ops", trace.patches.len());
    })
    .await;
}

#[tokio::test]
async fn an_idle_document_is_unloaded_and_reloads_transparently() {
    bounded(async {
        const IDLE_MS: u64 = 200;
        let server = TestServer::start_with(|c| c.idle_doc_ms = IDLE_MS).await;
        let doc = "idle";
        let mut rng = StdRng::seed_from_u64(3);
        let mut a = OtClient::join(&server, doc).await;
        for _ in 0..20 {
            a.random_edit(&mut rng).await;
        }
        a.wait_idle().await;
        // A document with a subscriber stays loaded however long it is idle.
        tokio::time::sleep(Duration::from_millis(IDLE_MS * 3)).await;
        assert_eq!(
            server.open_documents(),
            1,
            "a subscribed document stays loaded"
        );
        let (v1, content1) = (a.version(), a.content());
        let len1 = content1.chars().count();
        a.close().await;

        // No subscriber, no request: the document task unloads. A submission with the right
        // base goes to a fresh task that reloaded the document from storage.
        server.wait_all_unloaded().await;
        let mut w = server.client().await;
        let append = json!({"client":"w","seq":1,"base":v1,"op":splice_json(len1, len1, 0, "!")});
        assert_eq!(submit(&mut w, doc, &append).await, v1 + 1);

        server.wait_all_unloaded().await;
        let body = json!({"client":"w","seq":2,"base":v1 + 1,"op":["¿"]}).to_string();
        let (status, reply) = server.post("/docs/idle/ops", &body).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["version"], v1 + 2);

        // A stale base after a reload: transformed against ops that are only in storage.
        server.wait_all_unloaded().await;
        let stale = json!({"client":"w","seq":3,"base":v1,"op":splice_json(len1, len1, 0, "?")});
        assert_eq!(submit(&mut w, doc, &stale).await, v1 + 3);
        // At the end, "?" (later) goes before the "!" committed after its base.
        let expected = format!("¿{content1}?!");

        server.wait_all_unloaded().await;
        assert_eq!(get_doc(server.addr, doc).await, (v1 + 3, expected.clone()));
        server.wait_all_unloaded().await;
        let mut b = OtClient::join(&server, doc).await;
        assert_eq!((b.version(), b.content()), (v1 + 3, expected.clone()));
        b.insert(0, "👋").await;
        b.wait_idle().await;
        assert_eq!(b.version(), v1 + 4);
        let records = all_ops(server.addr, doc, None).await;
        assert_eq!(records.len() as u64, v1 + 4);
        assert_eq!(replay(&records).last(), Some(&format!("👋{expected}")));
        assert_eq!(
            get_doc(server.addr, doc).await,
            (v1 + 4, format!("👋{expected}"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_connection_that_reads_nothing_is_closed_after_the_write_timeout() {
    bounded(async {
        // Same stall as the lagging test above, but with a short write timeout: the server
        // gives up on the connection instead of waiting for it, and the document never waits.
        let server = TestServer::start_with(|c| c.write_timeout_ms = 300).await;
        let doc = "stalled";
        const CHUNK: usize = 4000;
        const OPS: u64 = 2000;
        let mut w = Writer::new(&server, doc, "w", 0).await;
        w.chain(vec![json!(["-".repeat(CHUNK)])]).await;

        let mut stalled = StompClient::open_with_recv_buffer(&server.ws_url(), 4096).await;
        stalled.connect().await;
        stalled
            .subscribe_confirmed("s", "/topic/doc/stalled", &[])
            .await;
        // 2000 ops of 4000 chars each (about 8 MB of events) while the subscriber reads nothing:
        // every one is acknowledged (the writer is never held back by the stalled reader).
        for batch in 0..OPS / 100 {
            let ops = (0..100)
                .map(|i| {
                    let letter = if (batch + i) % 2 == 0 { "a" } else { "b" };
                    splice_json(CHUNK, 0, CHUNK, &letter.repeat(CHUNK))
                })
                .collect();
            w.chain(ops).await;
        }
        assert_eq!(w.version, 1 + OPS);
        // The stalled connection was closed by the server: reading what was buffered ends in
        // a close well within the bound, and fewer events than were submitted reached it.
        let frames = stalled.until_closed().await;
        let events = frames
            .iter()
            .filter(|f| f.command == Command::Message)
            .count() as u64;
        assert!(
            events < OPS,
            "a connection closed for stalling cannot have received every op ({events})"
        );
        // The document and the writer are unaffected.
        let (version, content) = get_doc(server.addr, doc).await;
        assert_eq!(version, 1 + OPS);
        assert_eq!(content.chars().count(), CHUNK);
    })
    .await;
}

// A multi-threaded runtime, as the server has in production: document tasks commit truly
// concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_documents_committing_at_once_all_make_progress() {
    bounded(async {
        // Commits of different documents share flushes (group commit across documents); with
        // sled's `flush_async` this pattern used to hang (sled issues #1241/#1308).
        let server = TestServer::start().await;
        const DOCS: usize = 8;
        const PER_DOC: usize = 3;
        const OPS: u64 = 40;
        let mut tasks = Vec::new();
        for i in 0..DOCS * PER_DOC {
            let url = server.ws_url();
            tasks.push(tokio::spawn(async move {
                let mut c = StompClient::open(&url).await;
                c.connect().await;
                let doc = format!("many-{}", i % DOCS);
                let mut base = 0;
                for seq in 1..=OPS {
                    let body =
                        json!({"client": format!("c{i}"), "seq": seq, "base": base, "op": ["x"]});
                    c.send_op(&doc, &body, Some("r")).await;
                    let (_, receipt) = c.until_receipt("r").await;
                    base = receipt
                        .header("version")
                        .unwrap_or_else(|| panic!("rejected: {receipt:?}"))
                        .parse()
                        .expect("version");
                }
            }));
        }
        for t in tasks {
            t.await.expect("client task");
        }
        for d in 0..DOCS {
            let (version, content) = get_doc(server.addr, &format!("many-{d}")).await;
            assert_eq!(version, PER_DOC as u64 * OPS);
            assert_eq!(content, "x".repeat(PER_DOC * OPS as usize));
        }
    })
    .await;
}
