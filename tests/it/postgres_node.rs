//! One otterdoc node on PostgreSQL (`--store postgres://...`), as the real binary: it serves
//! edits like the sled default and keeps them across restarts (the data directory is never
//! touched), `/readyz` says whether it can reach its database, a second node on the same
//! database is refused at start (several nodes are not available yet), bad `--store` values
//! are refused with a clear message, and a node cut off from PostgreSQL (a TCP proxy between
//! them) stops acknowledging, keeps the history whole, and recovers when the path is back.
//! The crash loop on PostgreSQL is in `crash.rs`.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use crate::common::history::{all_ops, get_doc, replay};
use crate::common::ot_client::OtClient;
use crate::common::process::{run_to_exit, serve, ServerProcess};
use crate::common::proxy::Proxy;
use crate::common::{postgres, StompClient, WAIT};

/// `otterdoc serve` on `store`, with a data directory under `dir` that must stay unused.
fn node(dir: &std::path::Path, store: &str) -> ServerProcess {
    ServerProcess::spawn(&dir.join("data"), &["--store", store])
}

/// Waits (bounded) until `/readyz` answers `status`; returns its body.
async fn wait_ready(server: &ServerProcess, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (got, body) = server.get("/readyz").await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still answers {got} {body}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_postgres_serves_edits_and_keeps_them_across_restarts() {
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = node(dir.path(), &db);
    wait_ready(&server, 200).await;

    let mut rng = StdRng::seed_from_u64(12);
    let mut a = OtClient::join_url(&server.ws_url(), "pg-doc").await;
    let mut b = OtClient::join_url(&server.ws_url(), "pg-doc").await;
    for _ in 0..40 {
        a.random_edit(&mut rng).await;
        b.random_edit(&mut rng).await;
        a.pump(Duration::from_millis(2)).await;
        b.pump(Duration::from_millis(2)).await;
    }
    a.wait_idle().await;
    b.wait_idle().await;
    let (version, content) = get_doc(server.addr, "pg-doc").await;
    for editor in [&mut a, &mut b] {
        editor.wait_version(version).await;
        assert_eq!(
            editor.content(),
            content,
            "{} converged",
            editor.client_id()
        );
    }
    assert_eq!(version, a.last_seq() + b.last_seq(), "every op stored once");
    let ops = all_ops(server.addr, "pg-doc", None).await;
    assert_eq!(
        replay(&ops).last().map(String::as_str),
        Some(content.as_str())
    );
    a.close().await;
    b.close().await;

    // kill -9, then a new process on the same database: everything acknowledged is there.
    server.kill9();
    let server = node(dir.path(), &db);
    assert_eq!(get_doc(server.addr, "pg-doc").await, (version, content));
    assert_eq!(all_ops(server.addr, "pg-doc", None).await, ops);
    assert!(
        !dir.path().join("data").exists(),
        "with --store, nothing is written under --data"
    );

    // The rows are in PostgreSQL, keyed by (doc, version).
    let rows = postgres::client(&db)
        .await
        .query_one(
            "SELECT count(*), max(version) FROM ops WHERE doc = 'pg-doc'",
            &[],
        )
        .await
        .expect("count the ops");
    assert_eq!(rows.get::<_, i64>(0), version as i64);
    assert_eq!(rows.get::<_, i64>(1), version as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_database_is_refused() {
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = node(dir.path(), &db);
    let mut c = StompClient::open(&first.ws_url()).await;
    c.connect().await;
    let body = json!({"client": "one", "seq": 1, "base": 0, "op": ["hello"]});
    c.send_op("shared", &body, Some("r1")).await;
    let (_, receipt) = c.until_receipt("r1").await;
    assert_eq!(receipt.header("version"), Some("1"), "{receipt:?}");

    let other = tempfile::tempdir().expect("temp dir");
    let (status, _, stderr) =
        run_to_exit(serve(&other.path().join("data"), &["--store", &db])).await;
    assert!(!status.success(), "a second node must not start: {stderr}");
    assert!(
        stderr.contains("another otterdoc node is already running on this database"),
        "the refusal says why: {stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");

    // Nor may a node that would share it (--node-id) while this one holds it alone.
    let (status, _, stderr) = run_to_exit(serve(
        &other.path().join("data"),
        &["--store", &db, "--node-id", "n1"],
    ))
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("started without --node-id runs on this database"),
        "{stderr}"
    );

    // Once the first is gone (even by kill -9), a node may start on the database again.
    first.kill9();
    let next = node(other.path(), &db);
    assert_eq!(get_doc(next.addr, "shared").await, (1, "hello".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_store_values_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (status, _, stderr) = run_to_exit(serve(&data, &["--store", "sled:///tmp/x"])).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected a postgres:// URL"), "{stderr}");

    // Nothing listens there: the node says it cannot use the database, and exits.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://otterdoc@127.0.0.1:{port}/nowhere");
    let (status, _, stderr) = run_to_exit(serve(&data, &["--store", &url])).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot use the PostgreSQL database given by --store"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_postgres_stops_acking_and_recovers() {
    let db = postgres::database().await;
    let proxy = Proxy::start(postgres::port()).await;
    let via_proxy = db.replacen(
        &format!(":{}/", postgres::port()),
        &format!(":{}/", proxy.port),
        1,
    );
    assert_ne!(via_proxy, db);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = node(dir.path(), &via_proxy);
    wait_ready(&server, 200).await;

    let mut c = StompClient::open(&server.ws_url()).await;
    c.connect().await;
    let send = |seq: u64, base: u64, text: &str| json!({"client": "cut", "seq": seq, "base": base, "op": [text]});
    c.send_op("cut-doc", &send(1, 0, "a"), Some("r1")).await;
    assert_eq!(c.until_receipt("r1").await.1.header("version"), Some("1"));

    proxy.cut();
    let body = wait_ready(&server, 503).await;
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // A submission now is not acknowledged: its RECEIPT reports the failure.
    c.send_op("cut-doc", &send(2, 1, "b"), Some("r2")).await;
    let (_, receipt) = c.until_receipt("r2").await;
    assert!(receipt.header("version").is_none(), "{receipt:?}");
    assert!(receipt.header("error").is_some(), "{receipt:?}");
    // Reads that need the store fail with a JSON error, never a hang.
    let (status, body) = server.get("/docs/cut-doc/ops").await;
    assert!(status >= 500, "{status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");

    proxy.restore();
    wait_ready(&server, 200).await;
    // The client resubmits unchanged, as the error tells it to: applied exactly once.
    c.send_op("cut-doc", &send(2, 1, "b"), Some("r2b")).await;
    assert_eq!(c.until_receipt("r2b").await.1.header("version"), Some("2"));
    c.send_op("cut-doc", &send(2, 1, "b"), Some("r2c")).await;
    assert_eq!(c.until_receipt("r2c").await.1.header("version"), Some("2"));
    let ops = all_ops(server.addr, "cut-doc", None).await;
    let seqs: Vec<_> = ops.iter().map(|o| o["seq"].as_u64()).collect();
    assert_eq!(seqs, [Some(1), Some(2)], "{ops:?}");
    assert_eq!(get_doc(server.addr, "cut-doc").await, (2, "ba".to_owned()));
}

/// `POST` of a JSON body on the real binary.
async fn post(
    server: &ServerProcess,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    crate::common::http::post(server.addr, path, &body.to_string()).await
}

/// Every changefeed entry of `server`, paged.
async fn feed(server: &ServerProcess) -> Vec<serde_json::Value> {
    let (mut out, mut after) = (Vec::new(), 0);
    loop {
        let (status, page) = server.get(&format!("/changes?after={after}&limit=3")).await;
        assert_eq!(status, 200, "{page}");
        let entries = page["changes"].as_array().expect("changes").clone();
        if entries.is_empty() {
            return out;
        }
        after = page["cursor"].as_u64().expect("cursor");
        out.extend(entries);
    }
}

fn entry(kind: &str, doc: &str, version: u64) -> (String, String, u64) {
    (kind.to_owned(), doc.to_owned(), version)
}

fn entries(feed: &[serde_json::Value]) -> Vec<(String, String, u64)> {
    feed.iter()
        .map(|c| {
            entry(
                c["type"].as_str().expect("type"),
                c["doc"].as_str().expect("doc"),
                c["version"].as_u64().expect("version"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_routes_and_the_changefeed_work_on_postgres_and_a_schema_1_database_is_upgraded() {
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = node(dir.path(), &db);
    wait_ready(&server, 200).await;
    // Five versions of "notes": "a", "ab", … "abcde".
    let mut text = String::new();
    for (i, c) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        let op = if text.is_empty() {
            json!([c])
        } else {
            json!([text.len(), c])
        };
        let (status, body) = post(
            &server,
            "/docs/notes/ops",
            &json!({"client": "h", "seq": i + 1, "base": i, "op": op}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        text.push_str(c);
    }
    let (status, verified) = server.get("/docs/notes/verify").await;
    assert_eq!(
        (status, verified["ok"].clone()),
        (200, json!(true)),
        "{verified}"
    );
    let hash = verified["hash"].as_str().expect("hash").to_owned();
    assert_eq!(
        all_ops(server.addr, "notes", None).await[4]["hash"],
        json!(hash),
        "the chain's head is the last record's hash"
    );
    let (status, listed) = server.get("/docs?prefix=no").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["docs"][0]["doc"], "notes", "{listed}");
    assert_eq!(listed["docs"][0]["version"], 5, "{listed}");
    let (status, diff) = server.get("/docs/notes/diff?from=1&to=4").await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        (diff["inserted"].as_u64(), diff["deleted"].as_u64()),
        (Some(3), Some(0))
    );
    let (status, restored) = post(
        &server,
        "/docs/notes/restore",
        &json!({"version": 2, "client": "r", "seq": 1}),
    )
    .await;
    assert_eq!(
        (status, restored["version"].clone()),
        (200, json!(6)),
        "{restored}"
    );
    let (status, merged) = post(
        &server,
        "/docs/notes/text",
        &json!({"content": "ab!", "base": 6, "client": "t", "seq": 1}),
    )
    .await;
    assert_eq!(
        (status, merged["version"].clone()),
        (200, json!(7)),
        "{merged}"
    );
    assert_eq!(get_doc(server.addr, "notes").await, (7, "ab!".to_owned()));
    let (status, copied) = post(
        &server,
        "/docs/notes/copy",
        &json!({"to": "notes-copy", "version": 5}),
    )
    .await;
    assert_eq!(status, 200, "{copied}");
    let copy_ops = all_ops(server.addr, "notes-copy", None).await;
    assert_eq!(copy_ops, all_ops(server.addr, "notes", None).await[..5]);
    let (status, _) = post(&server, "/docs/notes/copy", &json!({"to": "notes-copy"})).await;
    assert_eq!(status, 409, "the target exists");

    // Deleting: one durable statement; the feed keeps only the `deleted` entry of the document.
    let response =
        crate::common::http::request(server.addr, "DELETE", "/docs/notes", &[], None).await;
    assert_eq!(response.status, 200, "{}", response.json());
    let (status, _) = server.get("/docs/notes").await;
    assert_eq!(status, 404);
    let expected: Vec<_> = (1..=5)
        .map(|v| entry("op", "notes-copy", v))
        .chain([entry("deleted", "notes", 7)])
        .collect();
    let before = feed(&server).await;
    assert_eq!(entries(&before), expected);
    assert!(before
        .windows(2)
        .all(|w| w[0]["cursor"].as_u64() < w[1]["cursor"].as_u64()));
    let left = postgres::client(&db)
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM ops WHERE doc = 'notes') \
             + (SELECT count(*) FROM snapshots WHERE doc = 'notes')",
            &[],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(left, 0, "no row of the deleted document is left");

    // kill -9: the feed is the same, and new entries continue above it.
    server.kill9();
    let mut server = node(dir.path(), &db);
    assert_eq!(feed(&server).await, before);
    let (status, body) = post(
        &server,
        "/docs/notes/ops",
        &json!({"client": "h", "seq": 1, "base": 0, "op": ["again"]}),
    )
    .await;
    assert_eq!(
        (status, body["version"].clone()),
        (200, json!(1)),
        "the id starts over: {body}"
    );
    let after = feed(&server).await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(after[before.len()]["cursor"].as_u64() > before.last().unwrap()["cursor"].as_u64());
    let (_, copy_verified) = server.get("/docs/notes-copy/verify").await;
    assert_eq!(copy_verified["ok"], true, "{copy_verified}");

    // A database as a build before migration 2 left it (no hashes, no feed): the next start
    // migrates it and computes the chain of the ops already stored.
    server.kill9();
    postgres::client(&db)
        .await
        .batch_execute(
            "DROP TABLE changes, feed_head, webhook_cursors; \
             ALTER TABLE ops DROP COLUMN hash; \
             DELETE FROM schema_migrations WHERE version >= 2;",
        )
        .await
        .expect("back to schema 1");
    let server = node(dir.path(), &db);
    let (status, upgraded) = server.get("/docs/notes-copy/verify").await;
    assert_eq!(status, 200, "{upgraded}");
    assert_eq!(
        upgraded, copy_verified,
        "the same chain, computed at the upgrade"
    );
    assert_eq!(all_ops(server.addr, "notes-copy", None).await, copy_ops);
    assert!(
        feed(&server).await.is_empty(),
        "ops stored before have no feed entries"
    );
}
