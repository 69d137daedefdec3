//! The HTTP API through a real server and a real HTTP client: health, submitting ops
//! (transform, dedup, every error code), reading documents at any version or time (with
//! snapshots, also after a restart), paging through history, and JSON errors for unknown routes
//! and wrong methods.
use std::collections::HashMap;
use std::time::Duration;

use crate::common::history::{all_ops, apply, get_doc, replay, without_hash, GENESIS_HASH};
use crate::common::http::{self, request};
use crate::common::{TestServer, WAIT};
use serde_json::{json, Value};

fn submission(client: &str, seq: u64, base: u64, op: Value) -> String {
    json!({"client": client, "seq": seq, "base": base, "op": op}).to_string()
}

async fn post_op(
    server: &TestServer,
    doc: &str,
    client: &str,
    seq: u64,
    base: u64,
    op: Value,
) -> (u16, Value) {
    server
        .post(
            &format!("/docs/{doc}/ops"),
            &submission(client, seq, base, op),
        )
        .await
}

/// Posts an op that must be accepted; returns (version, applied op).
async fn post_ok(
    server: &TestServer,
    doc: &str,
    client: &str,
    seq: u64,
    base: u64,
    op: Value,
) -> (u64, Value) {
    let (status, body) = post_op(server, doc, client, seq, base, op.clone()).await;
    assert_eq!(status, 200, "POST {op} at base {base} to {doc}: {body}");
    let version = body["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version: {body}"));
    (version, body["op"].clone())
}

#[track_caller]
fn assert_error(response: &(u16, Value), status: u16, code: &str) {
    assert_eq!(
        response.0, status,
        "expected {status} {code}, got {response:?}"
    );
    assert_eq!(response.1["error"]["code"], code, "{response:?}");
    let message = response.1["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "the error has a message: {response:?}");
    let keys: Vec<&String> = response.1.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["error"], "only an error member: {response:?}");
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn post_applies_transforms_stale_ops_and_dedups_resubmissions() {
    let server = TestServer::start().await;
    let (status, body) = post_op(&server, "post", "a", 1, 0, json!(["hello"])).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": 1, "op": ["hello"]}))
    );
    // The trailing retain may be left out; the answer spans the whole document.
    let (status, body) = post_op(&server, "post", "a", 2, 1, json!([5, " world"])).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": 2, "op": [5, " world"]}))
    );
    let (status, body) = post_op(&server, "post", "a", 3, 2, json!([2, "-"])).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": 3, "op": [2, "-", 9]}))
    );
    // A stale base (1) is transformed through versions 2 and 3.
    let (status, body) = post_op(&server, "post", "b", 1, 1, json!([4, "!"])).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": 4, "op": [5, "!", 7]}))
    );
    assert_eq!(
        get_doc(server.addr, "post").await,
        (4, "he-ll!o world".to_owned())
    );
    // At the position where a concurrent op inserted, the later op's text goes before that
    // op's text (docs/protocol.md, the tie-break).
    let (status, body) = post_op(&server, "post", "b", 2, 1, json!([5, "?"])).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": 5, "op": [7, "?", 6]}))
    );
    assert_eq!(
        get_doc(server.addr, "post").await,
        (5, "he-ll!o? world".to_owned())
    );

    // Two ops made at base 0 at the same position: both applied, the second transformed to go
    // before the first (the later op's text goes first: docs/protocol.md, the tie-break).
    let (v1, op1) = post_ok(&server, "tie", "x", 1, 0, json!(["x"])).await;
    assert_eq!((v1, &op1), (1, &json!(["x"])));
    let (v2, op2) = post_ok(&server, "tie", "y", 1, 0, json!(["y"])).await;
    assert_eq!((v2, &op2), (2, &json!(["y", 1])));
    assert_eq!(get_doc(server.addr, "tie").await, (2, "yx".to_owned()));

    // Resubmitting the same (client, seq) answers with the first outcome and applies nothing.
    for base in [0, 1] {
        let (status, body) = post_op(&server, "tie", "y", 1, base, json!(["y"])).await;
        assert_eq!((status, body), (200, json!({"version": 2, "op": ["y", 1]})));
    }
    let (status, body) = post_op(&server, "tie", "x", 1, 0, json!(["x"])).await;
    assert_eq!((status, body), (200, json!({"version": 1, "op": ["x"]})));
    assert_eq!(get_doc(server.addr, "tie").await, (2, "yx".to_owned()));
    let ops = all_ops(server.addr, "tie", Some(100)).await;
    assert_eq!(ops.len(), 2, "{ops:?}");
    for (op, (client, seq)) in ops.iter().zip([("x", 1), ("y", 1)]) {
        assert_eq!(
            (op["client"].as_str(), op["seq"].as_u64()),
            (Some(client), Some(seq))
        );
        assert_eq!(op["user"], "anonymous");
        assert!(op["time"].as_u64().is_some_and(|t| t > 0), "{op}");
    }
}

#[tokio::test]
async fn post_rejects_with_the_documented_error_codes() {
    const MAX_OP: usize = 256;
    let server = TestServer::start_with(|c| {
        c.max_op_bytes = MAX_OP;
        c.max_doc_bytes = 64;
    })
    .await;
    let path = "/docs/err/ops";
    // Before the document exists: a rejected op does not create it.
    assert_error(
        &post_op(&server, "err", "c", 1, 1, json!(["x"])).await,
        409,
        "version-in-future",
    );
    assert_error(&server.get("/docs/err").await, 404, "not-found");
    assert_eq!(
        post_ok(&server, "err", "c", 1, 0, json!(["hello"])).await.0,
        1
    );

    for body in [
        "nope",
        "",
        "[]",
        "{}",
        "null",
        r#"{"client":"c","seq":2,"base":1}"#,
        r#"{"seq":2,"base":1,"op":["x"]}"#,
        r#"{"client":"c","base":1,"op":["x"]}"#,
        r#"{"client":"c","seq":2,"op":["x"]}"#,
        r#"{"client":"c","seq":-1,"base":1,"op":["x"]}"#,
        r#"{"client":"c","seq":2,"base":"1","op":["x"]}"#,
        r#"{"client":"","seq":2,"base":1,"op":["x"]}"#,
        r#"{"client":7,"seq":2,"base":1,"op":["x"]}"#,
    ] {
        let response = server.post(path, body).await;
        assert_error(&response, 400, "malformed-body");
    }
    let long_client = "c".repeat(65);
    assert_error(
        &post_op(&server, "err", &long_client, 2, 1, json!(["x"])).await,
        400,
        "malformed-body",
    );
    for op in [
        json!([1.5]),
        json!("abc"),
        json!([0]),
        json!([null]),
        json!([{"x": 1}]),
        json!([""]),
        json!([[1]]),
        json!([true]),
    ] {
        let response = post_op(&server, "err", "c", 2, 1, op.clone()).await;
        assert_error(&response, 400, "invalid-op");
    }
    for bad in ["bad!id", "a%20b", "%C3%A9", &"x".repeat(129)] {
        let response = server
            .post(
                &format!("/docs/{bad}/ops"),
                &submission("c", 2, 0, json!(["x"])),
            )
            .await;
        assert_error(&response, 400, "invalid-doc-id");
    }
    assert_error(
        &post_op(&server, "err", "c", 2, 2, json!(["x"])).await,
        409,
        "version-in-future",
    );
    assert_error(
        &post_op(&server, "err", "c", 2, 99, json!(["x"])).await,
        409,
        "version-in-future",
    );
    // "hello" has 5 chars at version 1, none at version 0.
    assert_error(
        &post_op(&server, "err", "c", 2, 1, json!([6, "x"])).await,
        422,
        "op-does-not-fit",
    );
    assert_error(
        &post_op(&server, "err", "c", 2, 1, json!([3, -3])).await,
        422,
        "op-does-not-fit",
    );
    assert_error(
        &post_op(&server, "err", "c", 2, 0, json!([1, "x"])).await,
        422,
        "op-does-not-fit",
    );
    // Checked deletes are verified against the text at the base version.
    assert_error(
        &post_op(&server, "err", "c", 2, 1, json!([{"d": "help"}])).await,
        422,
        "delete-mismatch",
    );
    assert_error(
        &post_op(&server, "err", "c", 2, 1, json!([1, {"d": "x"}])).await,
        422,
        "delete-mismatch",
    );
    assert_error(
        &post_op(&server, "err", "c", 2, 1, json!([3, {"d": "lo!"}])).await,
        422,
        "delete-mismatch",
    );
    assert_eq!(
        post_ok(&server, "err", "c", 2, 1, json!([{"d": "he"}])).await,
        (2, json!([-2, 3]))
    );
    // Stale, but checked against version 1 ("hello"), then transformed.
    assert_eq!(
        post_ok(&server, "err", "d", 1, 1, json!([4, {"d": "o"}, "p"])).await,
        (3, json!([2, "p", -1]))
    );
    assert_eq!(get_doc(server.addr, "err").await, (3, "llp".to_owned()));

    // Op size: the limit caps the body. Exactly at the limit is fine; one byte over is not.
    let mut exact = submission("c", 3, 3, json!(["!"]));
    exact.push_str(&" ".repeat(MAX_OP - exact.len()));
    assert_eq!(exact.len(), MAX_OP);
    let (status, body) = server.post(path, &exact).await;
    assert_eq!((status, body), (200, json!({"version": 4, "op": ["!", 3]})));
    let mut over = submission("c", 4, 4, json!(["?"]));
    over.push_str(&" ".repeat(MAX_OP + 1 - over.len()));
    assert_error(&server.post(path, &over).await, 413, "op-too-large");
    let big_op = submission("c", 4, 4, json!(["y".repeat(MAX_OP)]));
    assert_error(&server.post(path, &big_op).await, 413, "op-too-large");
    let huge = "z".repeat(8 * 1024);
    assert_error(&server.post(path, &huge).await, 413, "op-too-large");
    // A body without a length is refused rather than read without bound.
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    let response = http::raw(server.addr, chunked.as_bytes()).await;
    assert_error(&response, 411, "length-required");

    // Document size: 64 UTF-8 bytes. "!llp" has 4.
    let too_much = "a".repeat(61);
    assert_error(
        &post_op(&server, "err", "c", 4, 4, json!([too_much])).await,
        413,
        "document-too-large",
    );
    let fill = "a".repeat(58);
    assert_eq!(
        post_ok(&server, "err", "c", 4, 4, json!([fill.clone()]))
            .await
            .0,
        5
    ); // 62 bytes
    assert_error(
        &post_op(&server, "err", "c", 5, 5, json!(["éé"])).await,
        413,
        "document-too-large",
    );
    assert_eq!(post_ok(&server, "err", "c", 5, 5, json!(["é"])).await.0, 6); // 64 bytes
    assert_error(
        &post_op(&server, "err", "c", 6, 6, json!(["x"])).await,
        413,
        "document-too-large",
    );
    // Deleting as much as it inserts keeps it within the limit.
    assert_eq!(
        post_ok(&server, "err", "c", 6, 6, json!([-2, "zz"])).await,
        (7, json!(["zz", -2, 61]))
    );
    let expected = format!("zz{}!llp", &fill[1..]);
    assert_eq!(get_doc(server.addr, "err").await, (7, expected.clone()));

    // Nothing rejected reached the history.
    let ops = all_ops(server.addr, "err", Some(100)).await;
    assert_eq!(ops.len(), 7);
    assert_eq!(replay(&ops).last().unwrap(), &expected);
}

#[tokio::test]
async fn get_doc_answers_404_for_unwritten_docs_and_400_for_bad_ids() {
    let server = TestServer::start().await;
    for path in [
        "/docs/never",
        "/docs/never?version=0",
        "/docs/never?at=1",
        "/docs/never/ops",
    ] {
        assert_error(&server.get(path).await, 404, "not-found");
    }
    for bad in ["bad!id", "a%20b", "a%2Fb", "%C3%A9", &"x".repeat(129)] {
        assert_error(
            &server.get(&format!("/docs/{bad}")).await,
            400,
            "invalid-doc-id",
        );
        assert_error(
            &server.get(&format!("/docs/{bad}/ops")).await,
            400,
            "invalid-doc-id",
        );
    }
    let longest = "x".repeat(128);
    assert_error(
        &server.get(&format!("/docs/{longest}")).await,
        404,
        "not-found",
    );
    post_ok(&server, &longest, "c", 1, 0, json!(["ok"])).await;
    let (status, body) = server.get(&format!("/docs/{longest}")).await;
    assert_eq!(
        (status, without_hash(body)),
        (200, json!({"doc": longest, "version": 1, "content": "ok"}))
    );
}

/// A small deterministic generator, so a failure replays the same ops.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// A random op against `text`: retain, delete some chars, insert a few (some multi-byte).
fn random_op(rng: &mut Lcg, text: &str) -> Value {
    let len = text.chars().count() as u64;
    let pos = rng.below(len + 1);
    let del = rng.below((len - pos).min(4) + 1);
    let inserts = ["a", "bc", "é", "😀x", "\n", "zzz"];
    let insert = inserts[rng.below(inserts.len() as u64) as usize];
    let mut op = Vec::new();
    if pos > 0 {
        op.push(json!(pos));
    }
    op.push(json!(insert));
    if del > 0 {
        op.push(json!(-(del as i64)));
    }
    Value::Array(op)
}

#[tokio::test]
async fn get_doc_at_every_version_with_snapshots_and_after_a_restart() {
    let mut server = TestServer::start_with(|c| c.snapshot_interval = 5).await;
    let doc = "versions";
    let mut rng = Lcg(7);
    let mut texts = vec![String::new()];
    for seq in 1..=23u64 {
        let head = texts.len() as u64 - 1;
        // Mostly at the head, sometimes from a stale base (transformed by the server).
        let base = if seq % 4 == 0 {
            head.saturating_sub(2)
        } else {
            head
        };
        let op = random_op(&mut rng, &texts[base as usize]);
        let (version, applied) = post_ok(&server, doc, "gen", seq, base, op).await;
        assert_eq!(version, head + 1);
        let next = apply(texts.last().unwrap(), &applied);
        texts.push(next);
    }
    let head = 23u64;
    for round in ["before restart", "after restart"] {
        assert_eq!(
            get_doc(server.addr, doc).await,
            (head, texts[23].clone()),
            "{round}"
        );
        for (n, text) in texts.iter().enumerate() {
            let (status, body) = server.get(&format!("/docs/{doc}?version={n}")).await;
            assert_eq!(status, 200, "{round}: version {n}: {body}");
            assert_eq!(
                without_hash(body),
                json!({"doc": doc, "version": n, "content": text}),
                "{round}: version {n}"
            );
        }
        assert_error(
            &server.get(&format!("/docs/{doc}?version=24")).await,
            409,
            "version-in-future",
        );
        assert_error(
            &server
                .get(&format!("/docs/{doc}?version=18446744073709551615"))
                .await,
            409,
            "version-in-future",
        );
        for query in [
            "version=abc",
            "version=-1",
            "version=1.5",
            "version=",
            "version=99999999999999999999",
            "at=x",
            "at=-5",
            "version=1&at=5",
            "at=5&version=1",
        ] {
            assert_error(
                &server.get(&format!("/docs/{doc}?{query}")).await,
                400,
                "invalid-query",
            );
        }
        // Unknown query parameters are ignored.
        assert_eq!(
            get_doc(server.addr, &format!("{doc}?other=1")).await.0,
            head
        );
        server.restart().await;
    }
    // New ops continue from the right version after the restart.
    let op = random_op(&mut rng, &texts[23]);
    assert_eq!(post_ok(&server, doc, "gen", 24, head, op).await.0, 24);
}

#[tokio::test]
async fn get_doc_at_a_time_answers_the_last_version_applied_by_then() {
    let server = TestServer::start_with(|c| c.snapshot_interval = 4).await;
    let doc = "timeline";
    let mut seq = 0;
    let mut head = 0;
    for group in 0..4 {
        for _ in 0..3 {
            seq += 1;
            let (version, _) =
                post_ok(&server, doc, "t", seq, head, json!([format!("{group}")])).await;
            head = version;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let ops = all_ops(server.addr, doc, Some(100)).await;
    assert_eq!(ops.len(), 12);
    let texts = replay(&ops);
    let times: Vec<u64> = ops
        .iter()
        .map(|op| op["time"].as_u64().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times never decrease: {times:?}"
    );
    assert!(
        times[0] < times[3] && times[3] < times[6] && times[6] < times[9],
        "groups are apart: {times:?}"
    );
    // The last version applied at or before `ms`.
    let expected = |ms: u64| times.iter().filter(|&&t| t <= ms).count();
    let mut probes = vec![0, times[0] - 1, u64::MAX];
    for &t in &times {
        probes.extend([t - 1, t, t + 1]);
    }
    for ms in probes {
        let v = expected(ms);
        let (status, body) = server.get(&format!("/docs/{doc}?at={ms}")).await;
        assert_eq!(status, 200, "at={ms}: {body}");
        assert_eq!(
            without_hash(body),
            json!({"doc": doc, "version": v, "content": texts[v]}),
            "at={ms}"
        );
    }
    let (status, body) = server
        .get(&format!("/docs/{doc}?at={}", times[0] - 1))
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"doc": doc, "version": 0, "content": "", "hash": GENESIS_HASH})
        )
    );
}

#[tokio::test]
async fn ops_pages_reproduce_the_history() {
    let server = TestServer::start_with(|c| c.snapshot_interval = 5).await;
    let doc = "paged";
    let mut rng = Lcg(11);
    let mut text = String::new();
    for seq in 1..=11u64 {
        let op = random_op(&mut rng, &text);
        let (version, applied) = post_ok(&server, doc, "p", seq, seq - 1, op).await;
        assert_eq!(version, seq);
        text = apply(&text, &applied);
    }
    let paged = all_ops(server.addr, doc, Some(3)).await;
    let (status, whole) = server.get(&format!("/docs/{doc}/ops")).await;
    assert_eq!(status, 200);
    assert_eq!(whole["next"], Value::Null);
    assert_eq!(whole["ops"].as_array().unwrap(), &paged);
    assert_eq!(replay(&paged).last().unwrap(), &text);
    for (i, op) in paged.iter().enumerate() {
        let keys: Vec<&String> = op.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["client", "hash", "op", "seq", "time", "user", "version"],
            "{op}"
        );
        assert_eq!(op["seq"], i as u64 + 1);
        assert_eq!(op["client"], "p");
        assert_eq!(op["user"], "anonymous");
    }
    // A page of exactly the rest, then from the head: nothing, and no next.
    let (_, page) = server.get(&format!("/docs/{doc}/ops?from=8&limit=3")).await;
    assert_eq!(page["ops"].as_array().unwrap(), &paged[8..]);
    assert_eq!(page["next"], Value::Null);
    let (_, page) = server.get(&format!("/docs/{doc}/ops?from=9&limit=1")).await;
    assert_eq!(page["ops"].as_array().unwrap(), &paged[9..10]);
    assert_eq!(page["next"], 10);
    let (status, page) = server.get(&format!("/docs/{doc}/ops?from=11")).await;
    assert_eq!(
        (status, page),
        (200, json!({"doc": doc, "ops": [], "next": null}))
    );
    assert_error(
        &server.get(&format!("/docs/{doc}/ops?from=12")).await,
        409,
        "version-in-future",
    );
    for query in [
        "from=x", "from=-1", "limit=0", "limit=x", "limit=-3", "from=1.5", "limit=",
    ] {
        assert_error(
            &server.get(&format!("/docs/{doc}/ops?{query}")).await,
            400,
            "invalid-query",
        );
    }
    assert_error(&server.get("/docs/unknown/ops").await, 404, "not-found");
    assert_error(
        &server.get("/docs/unknown/ops?from=5").await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn ops_pages_default_to_100_and_clamp_at_1000() {
    const WORKERS: u64 = 8;
    const PER_WORKER: u64 = 130; // 1040 ops in all
    let server = TestServer::start().await;
    let doc = "bulk";
    let addr = server.addr;
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        tasks.push(tokio::spawn(async move {
            let client = format!("w{w}");
            let mut base = 0;
            let mut acked = Vec::new();
            for seq in 1..=PER_WORKER {
                let body = submission(&client, seq, base, json!([format!("{w}")]));
                let (status, reply) = http::post(addr, "/docs/bulk/ops", &body).await;
                assert_eq!(status, 200, "{reply}");
                base = reply["version"].as_u64().expect("version");
                acked.push((client.clone(), seq, base));
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(
            tokio::time::timeout(WAIT * 3, task)
                .await
                .expect("workers finish")
                .expect("worker"),
        );
    }
    let total = WORKERS * PER_WORKER;
    let (status, page) = server.get("/docs/bulk/ops").await;
    assert_eq!(status, 200);
    assert_eq!(page["ops"].as_array().unwrap().len(), 100, "default limit");
    assert_eq!(page["next"], 100);
    let (_, page) = server.get("/docs/bulk/ops?from=10&limit=100000").await;
    assert_eq!(page["ops"].as_array().unwrap().len(), 1000, "clamped limit");
    assert_eq!(page["ops"][0]["version"], 11);
    assert_eq!(page["next"], 1010);
    let (_, page) = server
        .get("/docs/bulk/ops?limit=18446744073709551615")
        .await;
    assert_eq!(page["ops"].as_array().unwrap().len(), 1000, "clamped limit");
    assert_eq!(page["next"], 1000);
    let (_, page) = server.get("/docs/bulk/ops?from=1000&limit=1000").await;
    assert_eq!(
        page["ops"].as_array().unwrap().len(),
        (total - 1000) as usize
    );
    assert_eq!(page["next"], Value::Null);

    let ops = all_ops(server.addr, doc, Some(1000)).await;
    assert_eq!(ops.len() as u64, total);
    let by_version: HashMap<u64, (String, u64)> = ops
        .iter()
        .map(|op| {
            let ids = (
                op["client"].as_str().unwrap().to_owned(),
                op["seq"].as_u64().unwrap(),
            );
            (op["version"].as_u64().unwrap(), ids)
        })
        .collect();
    assert_eq!(acked.len() as u64, total);
    for (client, seq, version) in &acked {
        assert_eq!(
            by_version.get(version),
            Some(&(client.clone(), *seq)),
            "op {client}/{seq} at {version}"
        );
    }
    let (version, content) = get_doc(server.addr, "bulk").await;
    assert_eq!(version, total);
    assert_eq!(replay(&ops).last().unwrap(), &content);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json_errors() {
    let server = TestServer::start().await;
    for path in [
        "/nope",
        "/d",
        "/d/a/b",
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/docs/a/b",
        "/docs/a/ops/x",
        "/healthz/x",
    ] {
        assert_error(&server.get(path).await, 404, "route-not-found");
    }
    assert_error(
        &http::post(server.addr, "/nope", "{}").await,
        404,
        "route-not-found",
    );
    for (method, path) in [
        ("POST", "/healthz"),
        ("PUT", "/docs"),
        ("POST", "/docs/a"),
        ("PUT", "/docs/a/ops"),
        ("DELETE", "/docs/a/ops"),
        ("PATCH", "/healthz"),
    ] {
        let response = request(server.addr, method, path, &[], Some(b"{}")).await;
        assert_error(
            &(response.status, response.json()),
            405,
            "method-not-allowed",
        );
    }
    // HEAD is not GET here (a HEAD response has no body to check).
    for path in ["/healthz", "/docs/a", "/docs/a/ops", "/", "/assets/app.js"] {
        assert_eq!(
            request(server.addr, "HEAD", path, &[], None).await.status,
            405,
            "HEAD {path}"
        );
    }
    // A plain GET on the WebSocket endpoint is a bad request, still as JSON.
    let response = request(server.addr, "GET", "/ws", &[], None).await;
    let body: Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_error(&(response.status, body), 400, "bad-request");
}

#[tokio::test]
async fn the_demo_editor_is_served_from_the_binary() {
    let server = TestServer::start().await;
    let home = request(server.addr, "GET", "/", &[], None).await;
    assert_eq!(home.status, 200);
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(home.body.clone()).unwrap();
    assert!(
        page.contains(r#"<script type="module" src="/assets/app.js">"#),
        "{page}"
    );
    let csp = home.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    // The editor page is the same page, for any valid document id.
    let doc_page = request(server.addr, "GET", "/d/notes-1.v2", &[], None).await;
    assert_eq!((doc_page.status, &doc_page.body), (200, &home.body));
    assert_error(&server.get("/d/a%20b").await, 400, "invalid-doc-id");
    for (name, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let path = format!("/assets/{name}");
        let asset = request(server.addr, "GET", &path, &[], None).await;
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type"), Some(content_type));
        assert_eq!(asset.header("cache-control"), Some("no-cache"));
        let etag = asset.header("etag").expect("an ETag").to_owned();
        let expected = std::fs::read(crate::common::repo_root().join("assets/demo").join(name))
            .expect("the committed bundle");
        assert!(asset.body == expected, "{path} is the committed bundle");
        // Revalidation: 304 without a body while the ETag matches.
        let again = request(server.addr, "GET", &path, &[("if-none-match", &etag)], None).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        let changed = request(
            server.addr,
            "GET",
            &path,
            &[("if-none-match", "\"old\"")],
            None,
        )
        .await;
        assert_eq!(changed.status, 200);
    }
}
