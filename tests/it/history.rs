//! History as an API, through HTTP (and STOMP editors) on a real server with a temp data dir:
//! the hash chain (in events, reads and `verify`, after a restart, and against a record
//! corrupted directly in sled), `GET /docs`, diffs, restore and text merges converging with
//! concurrent editors, copies with and without history, deletion with live subscribers and
//! queued submissions (and what stays on disk), and the changefeed's order and resumption
//! across `kill -9`, paged and as Server-Sent Events.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::history::{all_ops, apply, get_doc, replay, without_hash, GENESIS_HASH};
use crate::common::http::{self, request};
use crate::common::ot_client::OtClient;
use crate::common::process::ServerProcess;
use crate::common::stomp::body_json;
use crate::common::{TestServer, WAIT};
use otterdoc::stomp::Command;

fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(
        got.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}

async fn post_json(addr: std::net::SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    http::post(addr, path, &body.to_string()).await
}

/// Submits `op` at `base` over HTTP and returns the version it made.
async fn submit(addr: std::net::SocketAddr, doc: &str, seq: u64, base: u64, op: Value) -> u64 {
    let (status, body) = post_json(
        addr,
        &format!("/docs/{doc}/ops"),
        &json!({"client": "h", "seq": seq, "base": base, "op": op}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().expect("version")
}

/// The op appending `text` to a document of `len` code points.
fn append_op(len: usize, text: &str) -> Value {
    if len == 0 {
        json!([text])
    } else {
        json!([len, text])
    }
}

/// Writes `texts.len()` versions of `doc` over HTTP, each replacing the whole text.
async fn write_versions(addr: std::net::SocketAddr, doc: &str, texts: &[&str]) {
    let mut current = String::new();
    for (i, text) in texts.iter().enumerate() {
        let len = current.chars().count();
        let op = if len == 0 {
            json!([text])
        } else {
            json!([-(len as i64), text])
        };
        submit(addr, doc, i as u64 + 1, i as u64, op).await;
        current = (*text).to_owned();
    }
}

// ---------------------------------------------------------------------------------------------
// The hash chain
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_hash_chain_is_in_events_reads_and_verify_and_survives_a_restart() {
    let mut server = TestServer::start_with(|c| c.snapshot_interval = 4).await;
    let doc = "chained";
    let mut sub = server.client().await;
    let frames = sub
        .subscribe_confirmed("s", &format!("/topic/doc/{doc}"), &[])
        .await;
    assert_eq!(body_json(&frames[0])["hash"], GENESIS_HASH);
    for i in 0..10u64 {
        submit(server.addr, doc, i + 1, i, append_op(i as usize, "x")).await;
    }
    let ops = all_ops(server.addr, doc, None).await;
    assert_eq!(ops.len(), 10);
    // Each record's hash is the chain's, recomputed here from its fields.
    let mut previous = otterdoc::store::ChainHash::GENESIS;
    for record in &ops {
        let parsed: otterdoc::store::OpRecord = serde_json::from_value(record.clone()).unwrap();
        let expected = previous.next(&parsed);
        assert_eq!(parsed.hash, expected, "{record}");
        previous = expected;
    }
    // The op events carry the same hashes.
    for record in &ops {
        let event = sub.message_json().await;
        assert_eq!(event["version"], record["version"]);
        assert_eq!(event["hash"], record["hash"], "{event}");
    }
    // Content at a version comes with that version's hash.
    for v in [0u64, 3, 4, 10] {
        let (status, body) = server.get(&format!("/docs/{doc}?version={v}")).await;
        assert_eq!(status, 200, "{body}");
        let expected = if v == 0 {
            json!(GENESIS_HASH)
        } else {
            ops[v as usize - 1]["hash"].clone()
        };
        assert_eq!(body["hash"], expected, "version {v}");
    }
    let (status, current) = server.get(&format!("/docs/{doc}")).await;
    assert_eq!(status, 200);
    assert_eq!(current["hash"], ops[9]["hash"]);
    let verified = server.get(&format!("/docs/{doc}/verify")).await;
    assert_eq!(
        verified,
        (
            200,
            json!({"doc": doc, "ok": true, "version": 10, "hash": ops[9]["hash"]})
        )
    );

    // After a restart the chain continues from the stored head.
    server.restart().await;
    let v = submit(server.addr, doc, 11, 10, append_op(10, "y")).await;
    assert_eq!(v, 11);
    let ops = all_ops(server.addr, doc, None).await;
    let parsed: otterdoc::store::OpRecord = serde_json::from_value(ops[10].clone()).unwrap();
    assert_eq!(parsed.hash, previous.next(&parsed));
    let (status, verified) = server.get(&format!("/docs/{doc}/verify")).await;
    assert_eq!((status, &verified["ok"]), (200, &json!(true)), "{verified}");
    assert_eq!(verified["version"], 11);

    // Errors.
    assert_error(&server.get("/docs/never/verify").await, 404, "not-found");
    assert_error(&server.get("/docs/b@d/verify").await, 400, "invalid-doc-id");
}

/// Rewrites version `version` of `doc` in the stopped server's sled database with `change`.
fn corrupt(data: &Path, doc: &str, version: u64, change: impl FnOnce(&mut Value)) {
    let db = sled::open(data).expect("open the data dir directly");
    let ops = db.open_tree("ops").unwrap();
    let mut key = doc.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    let mut record: Value = serde_json::from_slice(&ops.get(&key).unwrap().unwrap()).unwrap();
    change(&mut record);
    ops.insert(key, serde_json::to_vec(&record).unwrap())
        .unwrap();
    db.flush().unwrap();
}

#[tokio::test]
async fn verify_points_at_a_record_corrupted_in_sled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::spawn(&data, &[]);
    let texts = ["one", "two", "three", "four", "five"];
    write_versions(server.addr, "tampered", &texts).await;
    write_versions(server.addr, "untouched", &texts).await;
    drop(server);

    // Same length, other text: the op still applies, only the chain can tell.
    corrupt(&data, "tampered", 3, |r| r["op"] = json!([-3, "THREE"]));
    let server = ServerProcess::spawn(&data, &[]);
    let (status, body) = server.get("/docs/tampered/verify").await;
    assert_eq!((status, &body["ok"]), (200, &json!(false)), "{body}");
    assert_eq!(body["version"], 3, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("hash"), "{body}");
    let (_, fine) = server.get("/docs/untouched/verify").await;
    assert_eq!(fine["ok"], true, "{fine}");
    drop(server);

    // A stored hash changed, and a record dropped.
    corrupt(&data, "untouched", 2, |r| {
        r["hash"] = json!("ab".repeat(32))
    });
    {
        let db = sled::open(&data).unwrap();
        let ops = db.open_tree("ops").unwrap();
        let mut key = b"tampered\0".to_vec();
        key.extend_from_slice(&2u64.to_be_bytes());
        ops.remove(key).unwrap();
        db.flush().unwrap();
    }
    let server = ServerProcess::spawn(&data, &[]);
    let (_, body) = server.get("/docs/untouched/verify").await;
    assert_eq!(
        (&body["ok"], &body["version"]),
        (&json!(false), &json!(2)),
        "{body}"
    );
    let (_, body) = server.get("/docs/tampered/verify").await;
    assert_eq!(
        (&body["ok"], &body["version"]),
        (&json!(false), &json!(2)),
        "{body}"
    );
    assert!(
        body["reason"].as_str().unwrap().contains("missing"),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// GET /docs and diffs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn docs_are_listed_by_prefix_in_pages_with_their_summary() {
    let server = TestServer::start().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for (id, texts) in [
        ("proj.b", &["héllo"][..]),
        ("proj.a", &["a", "ab", "abc"][..]),
        ("proj.c", &["x"][..]),
        ("other", &["o"][..]),
    ] {
        write_versions(server.addr, id, texts).await;
    }
    let (status, body) = server.get("/docs?prefix=proj.").await;
    assert_eq!(status, 200, "{body}");
    let docs = body["docs"].as_array().unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d["doc"].as_str().unwrap()).collect();
    assert_eq!(ids, ["proj.a", "proj.b", "proj.c"]);
    assert_eq!(body["next"], Value::Null);
    let a = &docs[0];
    assert_eq!((&a["version"], &a["length"]), (&json!(3), &json!(3)));
    let b = &docs[1];
    assert_eq!(b["length"], 5, "code points, not bytes");
    let (created, modified) = (
        a["created"].as_u64().unwrap(),
        a["modified"].as_u64().unwrap(),
    );
    assert!(before <= created && created <= modified, "{a}");

    // Paged.
    let (_, page) = server.get("/docs?prefix=proj.&limit=2").await;
    assert_eq!(page["docs"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], "proj.b");
    let (_, rest) = server.get("/docs?prefix=proj.&limit=2&after=proj.b").await;
    let ids: Vec<&str> = rest["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["proj.c"]);
    let (_, all) = server.get("/docs").await;
    assert_eq!(all["docs"].as_array().unwrap().len(), 4);
    let (_, none) = server.get("/docs?prefix=zzz").await;
    assert_eq!(none, json!({"docs": [], "next": null}));

    assert_error(&server.get("/docs?limit=0").await, 400, "invalid-query");
    assert_error(&server.get("/docs?limit=-1").await, 400, "invalid-query");
}

#[tokio::test]
async fn diffs_compose_near_versions_and_use_snapshots_for_far_ones() {
    let server = TestServer::start_with(|c| c.snapshot_interval = 5).await;
    let doc = "diffed";
    let mut rng = StdRng::seed_from_u64(11);
    let mut text = String::new();
    let mut texts = vec![text.clone()];
    for i in 0..60u64 {
        let len = text.chars().count();
        let pos = rng.random_range(0..=len);
        let del = if len > pos && rng.random_bool(0.3) {
            1
        } else {
            0
        };
        let word: String = (0..rng.random_range(1..4))
            .map(|_| ['a', 'é', '\n', '😀', 'z'][rng.random_range(0..5)])
            .collect();
        let op = ot::Operation::splice(len, pos, del, &word).unwrap();
        submit(
            server.addr,
            doc,
            i + 1,
            i,
            serde_json::to_value(&op).unwrap(),
        )
        .await;
        text = op.apply(&text).unwrap();
        texts.push(text.clone());
    }
    for (from, to) in [
        (0, 60),
        (3, 7),
        (10, 15),
        (2, 59),
        (20, 20),
        (0, 1),
        (59, 60),
    ] {
        let (status, body) = server
            .get(&format!("/docs/{doc}/diff?from={from}&to={to}"))
            .await;
        assert_eq!(status, 200, "{from}..{to}: {body}");
        assert_eq!(
            (&body["doc"], &body["from"], &body["to"]),
            (&json!(doc), &json!(from), &json!(to))
        );
        assert_eq!(apply(&texts[from], &body["op"]), texts[to], "{from}..{to}");
        let op: ot::Operation = serde_json::from_value(body["op"].clone()).unwrap();
        let (ins, del) = otterdoc::document::op_size(&op);
        assert_eq!(
            (body["inserted"].as_u64(), body["deleted"].as_u64()),
            (Some(ins as u64), Some(del as u64))
        );
        if to - from > 5 {
            // Far apart: a minimal diff, never more than the texts differ by.
            assert!(ins <= texts[to].chars().count() && del <= texts[from].chars().count());
        }
    }
    // `to` defaults to the current version.
    let (_, body) = server.get(&format!("/docs/{doc}/diff?from=30")).await;
    assert_eq!(body["to"], 60);
    assert_eq!(apply(&texts[30], &body["op"]), texts[60]);

    // Unified, line-based.
    write_versions(server.addr, "lines", &["a\nb\nc\n", "a\nB\nc\nd\n"]).await;
    let response = request(
        server.addr,
        "GET",
        "/docs/lines/diff?from=1&to=2&format=unified",
        &[],
        None,
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let unified = String::from_utf8(response.body).unwrap();
    assert_eq!(
        unified,
        "--- lines@1\n+++ lines@2\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
    );

    // Errors.
    assert_error(
        &server.get(&format!("/docs/{doc}/diff?from=5&to=4")).await,
        400,
        "invalid-query",
    );
    assert_error(
        &server.get(&format!("/docs/{doc}/diff?to=4")).await,
        400,
        "invalid-query",
    );
    assert_error(
        &server.get(&format!("/docs/{doc}/diff?from=x")).await,
        400,
        "invalid-query",
    );
    assert_error(
        &server.get(&format!("/docs/{doc}/diff?from=1&to=61")).await,
        409,
        "version-in-future",
    );
    assert_error(
        &server
            .get(&format!("/docs/{doc}/diff?from=1&format=html"))
            .await,
        400,
        "invalid-query",
    );
    assert_error(
        &server.get("/docs/nothing/diff?from=0").await,
        404,
        "not-found",
    );
    assert_error(
        &server.get("/docs/b@d/diff?from=0").await,
        400,
        "invalid-doc-id",
    );
}

// ---------------------------------------------------------------------------------------------
// Restore and text merges
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn restore_is_one_idempotent_op_that_concurrent_editors_converge_on() {
    let server = TestServer::start().await;
    let doc = "restored";
    write_versions(server.addr, doc, &["first draft", "second draft", "third"]).await;
    let mut watcher = server.client().await;
    watcher
        .subscribe_confirmed("w", &format!("/topic/doc/{doc}"), &[("version", "3")])
        .await;

    let restore = json!({"version": 1, "client": "admin", "seq": 1});
    let (status, body) = post_json(server.addr, &format!("/docs/{doc}/restore"), &restore).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["version"], &body["restored"], &body["duplicate"]),
        (&json!(4), &json!(1), &json!(false))
    );
    assert_eq!(
        get_doc(server.addr, doc).await,
        (4, "first draft".to_owned())
    );
    // An ordinary op: broadcast, recorded with the caller.
    let event = watcher.message_json().await;
    assert_eq!(
        (&event["version"], &event["client"], &event["op"]),
        (&json!(4), &json!("admin"), &body["op"])
    );
    // A retry answers the same op; nothing new.
    let (status, again) = post_json(server.addr, &format!("/docs/{doc}/restore"), &restore).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&again["version"], &again["duplicate"]),
        (&json!(4), &json!(true))
    );
    // Undone by a later restore; version 0 is the empty text.
    let (_, undo) = post_json(
        server.addr,
        &format!("/docs/{doc}/restore"),
        &json!({"version": 3, "client": "admin", "seq": 2}),
    )
    .await;
    assert_eq!(undo["version"], 5);
    assert_eq!(get_doc(server.addr, doc).await.1, "third");
    let (_, empty) = post_json(
        server.addr,
        &format!("/docs/{doc}/restore"),
        &json!({"version": 0, "client": "admin", "seq": 3, "base": 5}),
    )
    .await;
    assert_eq!(empty["version"], 6);
    assert_eq!(get_doc(server.addr, doc).await.1, "");
    let texts = replay(&all_ops(server.addr, doc, None).await);
    assert_eq!(texts[4], "first draft");

    // With editors typing concurrently: everyone converges on the server's text.
    let live = "restored-live";
    write_versions(server.addr, live, &["the original text of the document"]).await;
    let mut a = OtClient::join(&server, live).await;
    let mut b = OtClient::join(&server, live).await;
    let mut rng = StdRng::seed_from_u64(5);
    for round in 0..8u64 {
        for _ in 0..3 {
            a.random_edit(&mut rng).await;
            b.random_edit(&mut rng).await;
        }
        let (status, body) = post_json(
            server.addr,
            &format!("/docs/{live}/restore"),
            &json!({"version": 1, "client": "restorer", "seq": round + 1}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        a.pump_for(Duration::from_millis(5)).await;
        b.pump_for(Duration::from_millis(5)).await;
    }
    a.wait_idle().await;
    b.wait_idle().await;
    let (head, content) = get_doc(server.addr, live).await;
    a.wait_version(head).await;
    b.wait_version(head).await;
    assert_eq!(a.content(), content);
    assert_eq!(b.content(), content);
    assert_eq!(
        replay(&all_ops(server.addr, live, None).await)
            .last()
            .unwrap(),
        &content
    );

    // Errors.
    let path = format!("/docs/{doc}/restore");
    assert_error(
        &http::post(server.addr, &path, "").await,
        400,
        "malformed-body",
    );
    assert_error(
        &http::post(server.addr, &path, "{").await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(server.addr, &path, &json!({"client": "x", "seq": 1})).await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"version": -1, "client": "x", "seq": 1}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"version": 1, "client": "", "seq": 1}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"version": 99, "client": "x", "seq": 9}),
        )
        .await,
        409,
        "version-in-future",
    );
    assert_error(
        &post_json(
            server.addr,
            "/docs/nothing/restore",
            &json!({"version": 0, "client": "x", "seq": 1}),
        )
        .await,
        404,
        "not-found",
    );
    assert_error(
        &post_json(server.addr, "/docs/b@d/restore", &restore).await,
        400,
        "invalid-doc-id",
    );
    let huge = json!({"version": 1, "client": "x", "seq": 1, "pad": "x".repeat(70_000)});
    assert_error(
        &post_json(server.addr, &path, &huge).await,
        413,
        "op-too-large",
    );
}

#[tokio::test]
async fn a_saved_text_merges_with_concurrent_edits_instead_of_overwriting_them() {
    let server = TestServer::start_with(|c| c.max_doc_bytes = 10_000).await;
    let doc = "merged";
    write_versions(server.addr, doc, &["hello world"]).await;
    // Someone edits after version 1…
    submit(server.addr, doc, 10, 1, json!(["Oh, "])).await;
    // …and a script saves its edit made from version 1.
    let (status, body) = post_json(
        server.addr,
        &format!("/docs/{doc}/text"),
        &json!({"content": "hello brave world!", "base": 1, "client": "script", "seq": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["version"], &body["duplicate"]),
        (&json!(3), &json!(false))
    );
    assert_eq!(get_doc(server.addr, doc).await.1, "Oh, hello brave world!");
    // Only what changed: two inserts.
    let op: ot::Operation = serde_json::from_value(body["op"].clone()).unwrap();
    assert_eq!(otterdoc::document::op_size(&op), (7, 0));
    // A retry is recognised.
    let (_, again) = post_json(
        server.addr,
        &format!("/docs/{doc}/text"),
        &json!({"content": "hello brave world!", "base": 1, "client": "script", "seq": 1}),
    )
    .await;
    assert_eq!(
        (&again["version"], &again["duplicate"]),
        (&json!(3), &json!(true))
    );
    // A new document starts from base 0.
    let (_, fresh) = post_json(
        server.addr,
        "/docs/merged-new/text",
        &json!({"content": "new 😀", "base": 0, "client": "s", "seq": 1}),
    )
    .await;
    assert_eq!(fresh["version"], 1);
    assert_eq!(get_doc(server.addr, "merged-new").await.1, "new 😀");

    // Concurrent STOMP editors and repeated saves converge.
    let live = "merged-live";
    write_versions(server.addr, live, &["line one\nline two\nline three\n"]).await;
    let mut a = OtClient::join(&server, live).await;
    let mut b = OtClient::join(&server, live).await;
    let mut rng = StdRng::seed_from_u64(9);
    for seq in 1..=8u64 {
        a.random_edit(&mut rng).await;
        b.random_edit(&mut rng).await;
        // The saver read the document a moment ago and appends a line.
        let (base, text) = get_doc(server.addr, live).await;
        a.pump_for(Duration::from_millis(3)).await;
        b.random_edit(&mut rng).await;
        let saved = format!("{text}saved {seq}\n");
        let (status, body) = post_json(
            server.addr,
            &format!("/docs/{live}/text"),
            &json!({"content": saved, "base": base, "client": "saver", "seq": seq}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    a.wait_idle().await;
    b.wait_idle().await;
    let (head, content) = get_doc(server.addr, live).await;
    a.wait_version(head).await;
    b.wait_version(head).await;
    assert_eq!(a.content(), content);
    assert_eq!(b.content(), content);
    // Each save was merged as exactly its change (its line appended), whatever the editors
    // did meanwhile; nothing the editors typed was overwritten.
    let saves: Vec<Value> = all_ops(server.addr, live, None)
        .await
        .into_iter()
        .filter(|r| r["client"] == "saver")
        .collect();
    assert_eq!(saves.len(), 8);
    for (i, save) in saves.iter().enumerate() {
        let inserted: Vec<&str> = save["op"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let negative = save["op"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_i64().is_some_and(|n| n < 0));
        assert_eq!(inserted, [format!("saved {}\n", i + 1)], "{save}");
        assert!(!negative, "a save deleted nothing: {save}");
    }

    // Errors.
    let path = format!("/docs/{doc}/text");
    assert_error(
        &http::post(server.addr, &path, "").await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"base": 0, "client": "x", "seq": 1}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"content": 5, "base": 0, "client": "x", "seq": 1}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            &path,
            &json!({"content": "", "base": 9, "client": "x", "seq": 2}),
        )
        .await,
        409,
        "version-in-future",
    );
    assert_error(
        &post_json(
            server.addr,
            "/docs/b@d/text",
            &json!({"content": "", "base": 0, "client": "x", "seq": 1}),
        )
        .await,
        400,
        "invalid-doc-id",
    );
    let big = json!({"content": "x".repeat(10_001), "base": 0, "client": "x", "seq": 3});
    assert_error(
        &post_json(server.addr, &path, &big).await,
        413,
        "document-too-large",
    );
    let huger = json!({"content": "x".repeat(30_000), "base": 0, "client": "x", "seq": 3});
    assert_error(
        &post_json(server.addr, &path, &huger).await,
        413,
        "op-too-large",
    );
}

// ---------------------------------------------------------------------------------------------
// Copies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn copies_with_history_keep_the_records_and_without_are_one_insert() {
    let server = TestServer::start_with(|c| c.snapshot_interval = 3).await;
    let texts = ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg"];
    write_versions(server.addr, "source", &texts).await;
    let source_ops = all_ops(server.addr, "source", None).await;

    // A subscriber of the target sees the copied ops arrive.
    let mut watcher = server.client().await;
    let frames = watcher
        .subscribe_confirmed("w", "/topic/doc/copy-full", &[])
        .await;
    assert_eq!(body_json(&frames[0])["version"], 0);
    let (status, body) = post_json(
        server.addr,
        "/docs/source/copy",
        &json!({"to": "copy-full", "version": 5, "history": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"doc": "copy-full", "from": "source", "source_version": 5, "version": 5, "history": true})
    );
    let copied = all_ops(server.addr, "copy-full", None).await;
    assert_eq!(copied, source_ops[..5], "the same records, hashes included");
    for record in &copied {
        assert_eq!(watcher.message_json().await["hash"], record["hash"]);
    }
    for v in 0..=5usize {
        let (_, at) = server.get(&format!("/docs/copy-full?version={v}")).await;
        assert_eq!(
            at["content"],
            texts.get(v.wrapping_sub(1)).copied().unwrap_or(""),
            "{v}"
        );
    }
    let (_, verified) = server.get("/docs/copy-full/verify").await;
    assert_eq!(
        (&verified["ok"], &verified["hash"]),
        (&json!(true), &source_ops[4]["hash"])
    );
    // The copy goes on independently.
    submit(server.addr, "copy-full", 1, 5, json!([5, "!"])).await;
    assert_eq!(
        get_doc(server.addr, "copy-full").await,
        (6, "abcde!".to_owned())
    );
    assert_eq!(get_doc(server.addr, "source").await.0, 7);

    // Without history (and the current version by default).
    let (status, body) = post_json(
        server.addr,
        "/docs/source/copy",
        &json!({"to": "copy-text", "history": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["version"], &body["source_version"]),
        (&json!(1), &json!(7))
    );
    let ops = all_ops(server.addr, "copy-text", None).await;
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["op"], json!(["abcdefg"]));
    assert_eq!(
        (&ops[0]["client"], &ops[0]["seq"]),
        (&json!("otterdoc-copy"), &json!(0))
    );

    // Errors.
    let exists = post_json(
        server.addr,
        "/docs/source/copy",
        &json!({"to": "copy-text"}),
    )
    .await;
    assert_error(&exists, 409, "document-exists");
    assert_error(
        &post_json(server.addr, "/docs/source/copy", &json!({"to": "source"})).await,
        409,
        "document-exists",
    );
    assert_error(
        &post_json(
            server.addr,
            "/docs/source/copy",
            &json!({"to": "c2", "version": 8}),
        )
        .await,
        409,
        "version-in-future",
    );
    assert_error(
        &post_json(
            server.addr,
            "/docs/source/copy",
            &json!({"to": "c2", "version": 0}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(
            server.addr,
            "/docs/source/copy",
            &json!({"to": "c2", "history": "yes"}),
        )
        .await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(server.addr, "/docs/source/copy", &json!({"version": 1})).await,
        400,
        "malformed-body",
    );
    assert_error(
        &post_json(server.addr, "/docs/source/copy", &json!({"to": "b@d"})).await,
        400,
        "invalid-doc-id",
    );
    assert_error(
        &post_json(server.addr, "/docs/nothing/copy", &json!({"to": "c3"})).await,
        404,
        "not-found",
    );
    assert_error(
        &http::post(server.addr, "/docs/source/copy", "").await,
        400,
        "malformed-body",
    );
    assert_eq!(
        server.get("/docs/c2").await.0,
        404,
        "no failed copy left a document"
    );
}

// ---------------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------------

/// Every key of `doc` left in the stopped server's database, in any tree.
fn stored_keys_of(data: &Path, doc: &str) -> Vec<String> {
    let db = sled::open(data).unwrap();
    let mut found = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        for entry in tree.iter() {
            let (k, v) = entry.unwrap();
            let mut prefix = doc.as_bytes().to_vec();
            prefix.push(0);
            let names_doc = k.starts_with(&prefix)
                || String::from_utf8_lossy(&v).contains(&format!("\"doc\":\"{doc}\""));
            if names_doc {
                found.push(format!(
                    "{}: {:?}",
                    String::from_utf8_lossy(&name),
                    String::from_utf8_lossy(&k)
                ));
            }
        }
    }
    found
}

#[tokio::test]
async fn deleting_tells_subscribers_refuses_queued_ops_and_frees_the_id() {
    let mut server = TestServer::start_with(|c| c.snapshot_interval = 2).await;
    let doc = "doomed";
    write_versions(server.addr, doc, &["a", "ab", "abc", "abcd", "abcde"]).await;
    let mut live = server.client().await;
    live.subscribe_confirmed("live", &format!("/topic/doc/{doc}"), &[])
        .await;
    let mut acking = server.client().await;
    // It starts from version 2, so it catches up 3..=5 (some may come before the receipt).
    let mut caught_up = acking
        .subscribe_confirmed(
            "ack",
            &format!("/topic/doc/{doc}"),
            &[("ack", "client"), ("version", "2")],
        )
        .await;
    while caught_up.len() < 3 {
        caught_up.push(acking.frame().await);
    }
    let versions: Vec<Value> = caught_up
        .iter()
        .map(|f| body_json(f)["version"].clone())
        .collect();
    assert_eq!(versions, [json!(3), json!(4), json!(5)]);

    let response = request(server.addr, "DELETE", &format!("/docs/{doc}"), &[], None).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"doc": doc, "deleted": true, "version": 5})
    );
    // The live subscriber: the deleted event, and nothing more.
    let event = live.message_json().await;
    assert_eq!(event, json!({"type": "deleted", "doc": doc}));
    // So does the one that started from version 2, after the versions it caught up.
    let f = acking.frame().await;
    assert_eq!(f.command, Command::Message);
    assert_eq!(f.header("message-id"), Some("ack-deleted"));
    assert_eq!(body_json(&f)["type"], "deleted");

    // Gone from every read, and from the listing.
    assert_error(&server.get(&format!("/docs/{doc}")).await, 404, "not-found");
    assert_error(
        &server.get(&format!("/docs/{doc}/ops")).await,
        404,
        "not-found",
    );
    assert_error(
        &server.get(&format!("/docs/{doc}?version=1")).await,
        404,
        "not-found",
    );
    let (_, listed) = server.get("/docs?prefix=doomed").await;
    assert_eq!(listed["docs"], json!([]));
    assert_error(
        &(
            request(server.addr, "DELETE", &format!("/docs/{doc}"), &[], None)
                .await
                .status,
            request(server.addr, "DELETE", &format!("/docs/{doc}"), &[], None)
                .await
                .json(),
        ),
        404,
        "not-found",
    );

    // A stale client gets version-in-future; the id starts again at version 1.
    assert_error(
        &post_json(
            server.addr,
            &format!("/docs/{doc}/ops"),
            &json!({"client": "old", "seq": 9, "base": 5, "op": [5, "x"]}),
        )
        .await,
        409,
        "version-in-future",
    );
    submit(server.addr, doc, 1, 0, json!(["reborn"])).await;
    assert_eq!(get_doc(server.addr, doc).await, (1, "reborn".to_owned()));
    // The old subscriptions stay silent; a new one sees the new document.
    let mut fresh = server.client().await;
    let frames = fresh
        .subscribe_confirmed("f", &format!("/topic/doc/{doc}"), &[])
        .await;
    assert_eq!(
        without_hash(body_json(&frames[0])),
        json!({"type": "snapshot", "doc": doc, "version": 1, "content": "reborn"})
    );
    submit(server.addr, doc, 2, 1, json!([6, "!"])).await;
    assert_eq!(fresh.message_json().await["version"], 2);
    for quiet in [&mut live, &mut acking] {
        match quiet.next_within(Duration::from_millis(300)).await {
            None | Some(crate::common::stomp::Incoming::HeartBeat) => {}
            Some(other) => panic!("a subscription of the deleted document got {other:?}"),
        }
    }

    // Submissions queued behind a deletion are refused with document-deleted, and none is
    // applied after it: many concurrent submissions at base 1, and a DELETE among them.
    let mut refused_seen = 0;
    for trial in 0..20 {
        let id = format!("queued-{trial}");
        write_versions(server.addr, &id, &["start"]).await;
        let mut posts = Vec::new();
        for n in 0..60u64 {
            let (addr, id) = (server.addr, id.clone());
            posts.push(tokio::spawn(async move {
                let body = json!({"client": format!("c{n}"), "seq": 1, "base": 1, "op": [5, "x"]});
                let (status, reply) = post_json(addr, &format!("/docs/{id}/ops"), &body).await;
                (status, reply["error"]["code"].as_str().map(str::to_owned))
            }));
        }
        tokio::task::yield_now().await;
        let deleted = request(server.addr, "DELETE", &format!("/docs/{id}"), &[], None).await;
        let mut accepted = 0;
        for post in posts {
            match post.await.unwrap() {
                (200, None) => accepted += 1,
                (409, Some(code)) if code == "document-deleted" => refused_seen += 1,
                // Reached the next task (at version 0) after the deletion.
                (409, Some(code)) if code == "version-in-future" => {}
                other => panic!("trial {trial}: {other:?}"),
            }
        }
        assert_eq!(deleted.status, 200, "{:?}", deleted.json());
        assert_eq!(
            deleted.json()["version"],
            1 + accepted,
            "the deletion came after exactly the accepted ops"
        );
        assert_eq!(server.get(&format!("/docs/{id}")).await.0, 404);
        if refused_seen > 0 {
            break;
        }
    }
    assert!(
        refused_seen > 0,
        "no submission was ever queued behind a deletion"
    );

    // On disk: no key of the document is left, in any tree; its bytes may remain in sled's
    // log segments until sled reclaims them (docs/storage.md#deletion).
    let marker = "a distinctive text that is deleted";
    write_versions(server.addr, "shredded", &[marker]).await;
    assert_eq!(
        request(server.addr, "DELETE", "/docs/shredded", &[], None)
            .await
            .status,
        200
    );
    server.stop().await;
    let data = server_data(&server);
    // Only its `deleted` changefeed entry names it.
    let left = stored_keys_of(&data, "shredded");
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("changes: "), "{left:?}");
    // The reborn document: 2 ops, their 2 feed entries, its snapshot at 2, and the old
    // document's `deleted` entry — nothing of its first life.
    let reborn = stored_keys_of(&data, doc);
    assert_eq!(reborn.len(), 6, "{reborn:?}");
    let in_files = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .chain(
            std::fs::read_dir(data.join("blobs"))
                .into_iter()
                .flatten()
                .flatten(),
        )
        .any(|e| {
            std::fs::read(e.path())
                .is_ok_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker.as_bytes()))
        });
    eprintln!(
        "deleted text still in the data directory's files right after the deletion: {in_files}"
    );
    server.restart().await;
    assert_error(&server.get("/docs/shredded").await, 404, "not-found");
}

fn server_data(server: &TestServer) -> std::path::PathBuf {
    server.data_dir().to_owned()
}

// ---------------------------------------------------------------------------------------------
// The changefeed
// ---------------------------------------------------------------------------------------------

/// Reads `n` events from `GET /changes/stream` (with `Last-Event-ID: last` if given).
pub(crate) async fn stream_events(
    addr: std::net::SocketAddr,
    after: Option<u64>,
    last: Option<u64>,
    n: usize,
) -> Vec<(u64, Value)> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut url = format!("http://{addr}/changes/stream");
    if let Some(after) = after {
        url.push_str(&format!("?after={after}"));
    }
    let mut req = client.get(url);
    if let Some(last) = last {
        req = req.header("last-event-id", last.to_string());
    }
    let mut response = req.send().await.expect("stream");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while events.len() < n {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("events in time")
            .expect("stream readable")
            .expect("stream open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut data) = (None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<u64>().unwrap());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str::<Value>(v.trim()).unwrap());
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
        }
    }
    events
}

async fn changes_after(addr: std::net::SocketAddr, after: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let (status, page) = http::get(addr, &format!("/changes?after={cursor}&limit=7")).await;
        assert_eq!(status, 200, "{page}");
        let entries = page["changes"].as_array().unwrap().clone();
        if entries.is_empty() {
            return out;
        }
        cursor = page["cursor"].as_u64().unwrap();
        out.extend(entries);
    }
}

#[tokio::test]
async fn the_changefeed_is_in_commit_order_and_resumes_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::spawn(&data, &[]);
    // Ops of several documents, interleaved, and a deletion.
    let mut expected = Vec::new();
    for round in 0..5u64 {
        for doc in ["feed-a", "feed-b"] {
            let v = submit(
                server.addr,
                doc,
                round + 1,
                round,
                append_op(round as usize, "z"),
            )
            .await;
            expected.push(json!({"type": "op", "doc": doc, "version": v}));
        }
    }
    assert_eq!(
        request(server.addr, "DELETE", "/docs/feed-b", &[], None)
            .await
            .status,
        200
    );
    expected.retain(|e| e["doc"] != "feed-b");
    expected.push(json!({"type": "deleted", "doc": "feed-b", "version": 5}));
    let feed = changes_after(server.addr, 0).await;
    let seen: Vec<Value> = feed
        .iter()
        .map(|c| json!({"type": c["type"], "doc": c["doc"], "version": c["version"]}))
        .collect();
    assert_eq!(seen, expected);
    let cursors: Vec<u64> = feed.iter().map(|c| c["cursor"].as_u64().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    let first = &feed[0];
    assert_eq!(
        (&first["user"], &first["client"], &first["seq"]),
        (&json!("anonymous"), &json!("h"), &json!(1))
    );
    assert!(first["time"].as_u64().unwrap() > 0);
    let deleted = feed.last().unwrap();
    assert_eq!(
        (&deleted["client"], &deleted["seq"]),
        (&Value::Null, &Value::Null)
    );

    // The stream gives the same entries with their cursors as ids.
    let streamed = stream_events(server.addr, Some(0), None, feed.len()).await;
    assert_eq!(
        streamed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        cursors
    );
    assert_eq!(
        streamed.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        feed
    );
    // Last-Event-ID wins over ?after and resumes after it.
    let resumed = stream_events(server.addr, Some(0), Some(cursors[3]), 2).await;
    assert_eq!(resumed[0].0, cursors[4]);

    // kill -9 while ops are being committed; every acknowledged op is in the feed after the
    // restart, in order, none twice and none invented.
    let writer = {
        let addr = server.addr;
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..10_000u64 {
                let body = json!({"client": "k", "seq": i + 1, "base": i, "op": append_op(i as usize, "k")});
                match http::try_post(addr, "/docs/feed-kill/ops", &body).await {
                    Some((200, reply)) => acked.push(reply["version"].as_u64().unwrap()),
                    _ => return acked,
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    let acked = writer.await.unwrap();
    assert!(!acked.is_empty());
    let server = ServerProcess::spawn(&data, &[]);
    let after_crash = changes_after(server.addr, 0).await;
    assert_eq!(
        after_crash[..feed.len()],
        feed[..],
        "entries before the crash are unchanged"
    );
    let killed: Vec<u64> = after_crash[feed.len()..]
        .iter()
        .map(|c| {
            assert_eq!(c["doc"], "feed-kill");
            c["version"].as_u64().unwrap()
        })
        .collect();
    let stored = get_doc(server.addr, "feed-kill").await.0;
    assert_eq!(
        killed,
        (1..=stored).collect::<Vec<_>>(),
        "one entry per stored op, in order"
    );
    assert!(
        stored >= *acked.last().unwrap(),
        "every acknowledged op is stored"
    );
    let all: BTreeSet<u64> = after_crash
        .iter()
        .map(|c| c["cursor"].as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), after_crash.len());
    // An EventSource that had seen the last entry before the crash resumes with the next one,
    // and new commits follow.
    let last_before = cursors.last().copied().unwrap();
    let resumed = stream_events(server.addr, None, Some(last_before), 1).await;
    assert_eq!(resumed[0].1, after_crash[feed.len()]);
    let tail = *all.iter().last().unwrap();
    let listening = {
        let addr = server.addr;
        tokio::spawn(async move { stream_events(addr, Some(tail), None, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    submit(server.addr, "feed-new", 1, 0, json!(["n"])).await;
    let new = listening.await.unwrap();
    assert_eq!(
        (&new[0].1["doc"], &new[0].1["version"]),
        (&json!("feed-new"), &json!(1))
    );
    assert!(new[0].0 > tail);

    // Errors.
    assert_error(
        &http::get(server.addr, "/changes?after=x").await,
        400,
        "invalid-query",
    );
    assert_error(
        &http::get(server.addr, "/changes?limit=0").await,
        400,
        "invalid-query",
    );
    let bad = request(
        server.addr,
        "GET",
        "/changes/stream",
        &[("last-event-id", "nope")],
        None,
    )
    .await;
    assert_eq!(
        (bad.status, &bad.json()["error"]["code"]),
        (400, &json!("invalid-query"))
    );
}

// ---------------------------------------------------------------------------------------------
// Format v1
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_data_dir_of_format_v1_is_upgraded_in_place_and_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let texts = ["v1 text", "v1 text, older build", "v1"];
    {
        // A database as otterdoc-ops-v1 wrote it: records without hash or cursor, no feed.
        let db = sled::open(&data).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", &b"otterdoc-ops-v1"[..])
            .unwrap();
        let ops = db.open_tree("ops").unwrap();
        let snapshots = db.open_tree("snapshots").unwrap();
        let mut previous = String::new();
        for (i, text) in texts.iter().enumerate() {
            let version = i as u64 + 1;
            let op = otterdoc::document::text_diff(&previous, text);
            let record = json!({"version": version, "op": op, "client": "old", "seq": version,
                                "user": "anonymous", "time": 1_700_000_000_000u64 + version});
            let mut key = b"legacy\0".to_vec();
            key.extend_from_slice(&version.to_be_bytes());
            ops.insert(&key, serde_json::to_vec(&record).unwrap())
                .unwrap();
            if version == 2 {
                snapshots.insert(&key, text.as_bytes()).unwrap();
            }
            previous = (*text).to_owned();
        }
        db.flush().unwrap();
    }
    let server = ServerProcess::spawn(&data, &[]);
    for (i, text) in texts.iter().enumerate() {
        let (status, body) = server.get(&format!("/docs/legacy?version={}", i + 1)).await;
        assert_eq!((status, &body["content"]), (200, &json!(text)), "{body}");
    }
    // Every record now has its link of the chain, and the chain verifies.
    let ops = all_ops(server.addr, "legacy", None).await;
    let mut previous = otterdoc::store::ChainHash::GENESIS;
    for record in &ops {
        let parsed: otterdoc::store::OpRecord = serde_json::from_value(record.clone()).unwrap();
        previous = previous.next(&parsed);
        assert_eq!(parsed.hash, previous, "{record}");
    }
    let (_, verified) = server.get("/docs/legacy/verify").await;
    assert_eq!(
        (&verified["ok"], &verified["version"]),
        (&json!(true), &json!(3)),
        "{verified}"
    );
    // The feed starts at the upgrade.
    assert_eq!(changes_after(server.addr, 0).await, Vec::<Value>::new());
    assert_eq!(
        submit(server.addr, "legacy", 9, 3, json!([2, "!"])).await,
        4
    );
    let feed = changes_after(server.addr, 0).await;
    assert_eq!(feed.len(), 1);
    assert_eq!(
        (&feed[0]["doc"], &feed[0]["version"]),
        (&json!("legacy"), &json!(4))
    );
    drop(server);
    let db = sled::open(&data).unwrap();
    let format = db
        .open_tree("meta")
        .unwrap()
        .get("format")
        .unwrap()
        .unwrap();
    assert_eq!(&format[..], otterdoc::store::FORMAT);
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/// How the local webhook receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// 500.
    Fail,
    /// 200 after a delay.
    Slow,
    /// 200.
    Ok,
}

/// What the receiver saw: every POST (when, its body, and whether the signature was right),
/// and the bodies it acknowledged.
#[derive(Default)]
struct Received {
    attempts: Vec<(std::time::Instant, Value, bool)>,
    acknowledged: Vec<Value>,
}

type Shared<T> = std::sync::Arc<std::sync::Mutex<T>>;

/// A webhook receiver on a raw socket (so it can also be down: not listening at all).
struct Receiver {
    addr: std::net::SocketAddr,
    mode: Shared<Mode>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start(
        port: u16,
        mode: Mode,
        secret: &'static str,
        received: Shared<Received>,
    ) -> Receiver {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], port).into()).unwrap();
        let listener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = std::sync::Arc::new(std::sync::Mutex::new(mode));
        let task = {
            let (mode, received) = (mode.clone(), received.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (mode, received) = (mode.clone(), received.clone());
                    tokio::spawn(async move {
                        let _ = Self::serve(stream, mode, received, secret).await;
                    });
                }
            })
        };
        Receiver {
            addr,
            mode,
            task: Some(task),
        }
    }

    async fn serve(
        mut stream: tokio::net::TcpStream,
        mode: Shared<Mode>,
        received: Shared<Received>,
        secret: &str,
    ) -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            let httparse::Status::Complete(head) = request.parse(&buf).unwrap() else {
                continue;
            };
            let header = |name: &str| {
                request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length").unwrap().parse().unwrap();
            if buf.len() < head + length {
                continue;
            }
            let body = &buf[head..head + length];
            let timestamp: u64 = header("x-otterdoc-timestamp").unwrap().parse().unwrap();
            let signed = header("x-otterdoc-signature")
                == Some(otterdoc::webhook::signature(
                    secret.as_bytes(),
                    timestamp,
                    body,
                ));
            let value: Value = serde_json::from_slice(body).unwrap();
            let now_mode = *mode.lock().unwrap();
            received.lock().unwrap().attempts.push((
                std::time::Instant::now(),
                value.clone(),
                signed,
            ));
            let status = match now_mode {
                Mode::Fail => "500 Internal Server Error",
                Mode::Slow => {
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    "200 OK"
                }
                Mode::Ok => "200 OK",
            };
            if status.starts_with("200") {
                received.lock().unwrap().acknowledged.push(value);
            }
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(answer.as_bytes()).await?;
            return Ok(());
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Stops listening: connections are refused until it starts again.
    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Waits until `done` holds for what the receiver saw.
async fn until(received: &Shared<Received>, what: &str, done: impl Fn(&Received) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    while !done(&received.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every changefeed cursor the receiver acknowledged, in the order it acknowledged them.
fn acknowledged_cursors(received: &Received) -> Vec<u64> {
    received
        .acknowledged
        .iter()
        .flat_map(|b| b["changes"].as_array().unwrap().clone())
        .map(|c| c["cursor"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn webhooks_retry_a_failing_slow_or_absent_receiver_and_resume_after_kill_9() {
    const SECRET: &str = "webhook secret";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret_file = dir.path().join("webhook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let received: Shared<Received> = Default::default();
    let mut receiver = Receiver::start(0, Mode::Fail, SECRET, received.clone()).await;
    let url = format!("http://{}/hook", receiver.addr);
    let flags = [
        "--webhook-url",
        &url,
        "--webhook-secret-file",
        secret_file.to_str().unwrap(),
    ];
    let mut server = ServerProcess::spawn(&data, &flags);
    for i in 0..5u64 {
        submit(server.addr, "hooked", i + 1, i, append_op(i as usize, "w")).await;
    }
    // Failing: the same batch again, with growing pauses.
    until(&received, "three failed attempts", |r| {
        r.attempts.len() >= 3
    })
    .await;
    {
        let r = received.lock().unwrap();
        let firsts: Vec<&Value> = r.attempts.iter().map(|(_, b, _)| &b["first"]).collect();
        assert!(firsts.windows(2).all(|w| w[0] == w[1]), "{firsts:?}");
        assert!(
            r.attempts.iter().all(|(_, _, signed)| *signed),
            "every POST is signed"
        );
        let gaps: Vec<Duration> = r.attempts.windows(2).map(|w| w[1].0 - w[0].0).collect();
        eprintln!("webhook retry gaps while failing: {gaps:?}");
        assert!(gaps[1] > gaps[0], "backoff grows: {gaps:?}");
    }
    let (_, metrics) = {
        let response = request(server.addr, "GET", "/metrics", &[], None).await;
        (response.status, String::from_utf8(response.body).unwrap())
    };
    assert!(
        metrics.contains("otterdoc_webhook_failures_total"),
        "{metrics}"
    );

    // Slow but answering: everything arrives, in order.
    receiver.set(Mode::Slow);
    let feed = changes_after(server.addr, 0).await;
    let want: Vec<u64> = feed.iter().map(|c| c["cursor"].as_u64().unwrap()).collect();
    until(&received, "the first five entries", |r| {
        acknowledged_cursors(r) == want
    })
    .await;
    assert_eq!(
        received.lock().unwrap().acknowledged[0]["changes"]
            .as_array()
            .unwrap(),
        &feed
    );

    // Down (not listening) while more is committed, and the server killed.
    receiver.down();
    for i in 5..10u64 {
        submit(server.addr, "hooked", i + 1, i, append_op(i as usize, "w")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    let acknowledged_before = acknowledged_cursors(&received.lock().unwrap());
    let server = ServerProcess::spawn(&data, &flags);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // It comes back: everything after what it acknowledged, in order, at least once.
    let _receiver = Receiver::start(receiver.addr.port(), Mode::Ok, SECRET, received.clone()).await;
    let feed = changes_after(server.addr, 0).await;
    let all: Vec<u64> = feed.iter().map(|c| c["cursor"].as_u64().unwrap()).collect();
    assert_eq!(all.len(), 10);
    until(&received, "all ten entries", |r| {
        acknowledged_cursors(r).last() == all.last()
    })
    .await;
    let got = acknowledged_cursors(&received.lock().unwrap());
    assert_eq!(got[..acknowledged_before.len()], acknowledged_before[..]);
    let mut deduped = got.clone();
    deduped.dedup();
    assert!(deduped.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
    assert_eq!(deduped, all, "every entry, none invented: {got:?}");
    let (status, metrics) = {
        let response = request(server.addr, "GET", "/metrics", &[], None).await;
        (response.status, String::from_utf8(response.body).unwrap())
    };
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("otterdoc_webhook_lag_entries") && l.ends_with(" 0")),
        "{metrics}"
    );

    // Misconfigured webhooks stop start-up.
    let (status, _, stderr) = crate::common::process::run_to_exit(crate::common::process::serve(
        &dir.path().join("other"),
        &["--webhook-url", &url],
    ))
    .await;
    assert!(!status.success());
    assert!(stderr.contains("--webhook-secret-file"), "{stderr}");
    let (status, _, stderr) = crate::common::process::run_to_exit(crate::common::process::serve(
        &dir.path().join("other"),
        &[
            "--webhook-url",
            "https://example.com/",
            "--webhook-secret-file",
            secret_file.to_str().unwrap(),
        ],
    ))
    .await;
    assert!(!status.success());
    assert!(stderr.contains("http://"), "{stderr}");
}
