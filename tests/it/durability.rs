//! Durability and process behaviour: a graceful restart keeps everything; `kill -9` in the middle
//! of a stream of submissions loses no acknowledged op and leaves no gap or duplicate; SIGTERM
//! closes sessions with an ERROR and exits 0; a data directory of another on-disk format is
//! refused; and the CLI documents every flag with its environment variable.
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::history::{all_ops, apply, get_doc, replay, without_hash};
use crate::common::http::try_post;
use crate::common::process::{otterdoc, run_to_exit, serve, ServerProcess};
use crate::common::stomp::{body_json, Incoming};
use crate::common::{StompClient, TestServer, WAIT};
use otterdoc::stomp::{Command, StompFrame};
use otterdoc::{Config, Server};
use serde_json::{json, Value};

/// Checks that the history of `doc` replays to what `GET /docs/<doc>` answers, and that every
/// version's content (`?version=n`) matches the replay; returns the texts by version.
async fn check_replay(addr: SocketAddr, doc: &str, ops: &[Value]) -> Vec<String> {
    let texts = replay(ops);
    let (version, content) = get_doc(addr, doc).await;
    assert_eq!(version, ops.len() as u64);
    assert_eq!(Some(&content), texts.last(), "content = replayed history");
    for (n, text) in texts.iter().enumerate() {
        let (_, content) = get_doc(addr, &format!("{doc}?version={n}")).await;
        assert_eq!(&content, text, "content at version {n}");
    }
    texts
}

/// The (client, seq) of every op, asserting none appears twice.
fn ids_by_version(ops: &[Value]) -> HashMap<(String, u64), u64> {
    let mut ids = HashMap::new();
    for op in ops {
        let id = (
            op["client"].as_str().expect("client").to_owned(),
            op["seq"].as_u64().expect("seq"),
        );
        let version = op["version"].as_u64().expect("version");
        if let Some(first) = ids.insert(id.clone(), version) {
            panic!("op {id:?} is in the history twice: versions {first} and {version}");
        }
    }
    ids
}

#[tokio::test]
async fn graceful_restart_keeps_content_versions_and_history() {
    let mut server = TestServer::start_with(|c| c.snapshot_interval = 4).await;
    let doc = "restart";
    // Ops over STOMP and over HTTP, some from stale bases.
    let mut c = server.client().await;
    for seq in 1..=6u64 {
        let body = json!({"client": "s", "seq": seq, "base": seq - 1, "op": [format!("s{seq} ")]});
        let receipt = format!("r{seq}");
        c.send_op(doc, &body, Some(&receipt)).await;
        let (_, frame) = c.until_receipt(&receipt).await;
        assert_eq!(
            frame.header("version"),
            Some(seq.to_string().as_str()),
            "{frame:?}"
        );
    }
    c.close().await;
    for seq in 1..=5u64 {
        let base = 6 + seq - 1 - (seq % 2) * 3;
        let body = json!({"client": "h", "seq": seq, "base": base, "op": [1, format!("<h{seq}>")]});
        let (status, reply) = server
            .post(&format!("/docs/{doc}/ops"), &body.to_string())
            .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["version"], 6 + seq);
    }
    let other = json!({"client": "o", "seq": 1, "base": 0, "op": ["other doc"]});
    assert_eq!(
        server.post("/docs/other/ops", &other.to_string()).await.0,
        200
    );

    let ops = all_ops(server.addr, doc, Some(1000)).await;
    assert_eq!(ops.len(), 11);
    let texts = check_replay(server.addr, doc, &ops).await;
    let (_, before) = server.get(&format!("/docs/{doc}")).await;

    server.restart().await;

    let (status, after) = server.get(&format!("/docs/{doc}")).await;
    assert_eq!((status, &after), (200, &before));
    assert_eq!(
        all_ops(server.addr, doc, Some(1000)).await,
        ops,
        "history, times included, is unchanged"
    );
    assert_eq!(check_replay(server.addr, doc, &ops).await, texts);
    let (status, body) = server.get("/docs/other").await;
    assert_eq!(
        (status, without_hash(body)),
        (
            200,
            json!({"doc": "other", "version": 1, "content": "other doc"})
        )
    );

    // New ops continue from version 11: at the head, from a stale base (transformed against
    // history read back from storage), and a resubmission from before the restart is recognised.
    let body = json!({"client": "h", "seq": 6, "base": 11, "op": ["A"]});
    let (status, at_head) = server
        .post(&format!("/docs/{doc}/ops"), &body.to_string())
        .await;
    assert_eq!(
        (status, at_head["version"].clone()),
        (200, json!(12)),
        "{at_head}"
    );
    let body = json!({"client": "h", "seq": 7, "base": 2, "op": [3, "B"]});
    let (status, reply) = server
        .post(&format!("/docs/{doc}/ops"), &body.to_string())
        .await;
    assert_eq!(
        (status, reply["version"].clone()),
        (200, json!(13)),
        "{reply}"
    );
    let stale = apply(&apply(&texts[11], &at_head["op"]), &reply["op"]);
    // "s2 s1 " at version 2: the B went between the two, whatever was inserted since.
    assert!(stale.contains("s2 Bs1 "), "{stale:?}");
    let body = json!({"client": "s", "seq": 3, "base": 2, "op": ["s3 "]});
    let (status, reply) = server
        .post(&format!("/docs/{doc}/ops"), &body.to_string())
        .await;
    assert_eq!(
        (status, reply),
        (200, json!({"version": 3, "op": ops[2]["op"]}))
    );
    let (status, body) = server.get(&format!("/docs/{doc}")).await;
    assert_eq!(
        (status, without_hash(body)),
        (200, json!({"doc": doc, "version": 13, "content": stale}))
    );

    // A new subscriber gets the current state; one resuming from version 9 gets 10..=13.
    let mut c = server.client().await;
    let frames = c
        .subscribe_confirmed("all", &format!("/topic/doc/{doc}"), &[])
        .await;
    let snapshot = body_json(&frames[0]);
    assert_eq!(
        without_hash(snapshot),
        json!({"type": "snapshot", "doc": doc, "version": 13, "content": stale})
    );
    let mut d = server.client().await;
    let mut seen: Vec<Value> = d
        .subscribe_confirmed("resume", &format!("/topic/doc/{doc}"), &[("version", "9")])
        .await
        .iter()
        .map(body_json)
        .collect();
    while seen.len() < 4 {
        seen.push(d.message_json().await);
    }
    let versions: Vec<u64> = seen
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [10, 11, 12, 13]);
    assert_eq!(seen[0]["op"], ops[9]["op"]);
    assert_eq!(seen[0]["time"], ops[9]["time"]);
    c.close().await;
    d.close().await;
}

#[tokio::test]
async fn idle_documents_are_unloaded_and_reloaded_from_storage() {
    let server = TestServer::start_with(|c| {
        c.idle_doc_ms = 20;
        c.snapshot_interval = 3;
    })
    .await;
    let doc = "idle";
    let path = format!("/docs/{doc}/ops");
    let mut texts = vec![String::new()];
    // Requests land before, around and after the moment the document is unloaded.
    for seq in 1..=16u64 {
        let head = texts.len() as u64 - 1;
        let base = head.saturating_sub(seq % 3);
        let body = json!({"client": "i", "seq": seq, "base": base, "op": [format!("{seq},")]});
        let (status, reply) = server.post(&path, &body.to_string()).await;
        assert_eq!(
            (status, reply["version"].clone()),
            (200, json!(head + 1)),
            "{reply}"
        );
        let next = apply(texts.last().unwrap(), &reply["op"]);
        texts.push(next);
        if seq % 4 == 0 {
            // A resubmission is recognised from storage once the document was unloaded.
            let again = json!({"client": "i", "seq": seq - 2, "base": 0, "op": ["?"]});
            let (status, reply) = server.post(&path, &again.to_string()).await;
            assert_eq!(
                (status, reply["version"].clone()),
                (200, json!(seq - 2)),
                "{reply}"
            );
        }
        tokio::time::sleep(Duration::from_millis(seq * 3)).await;
        let (status, body) = server.get(&format!("/docs/{doc}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"], seq);
        assert_eq!(body["content"].as_str(), texts.last().map(String::as_str));
    }
    let ops = all_ops(server.addr, doc, Some(1000)).await;
    assert_eq!(check_replay(server.addr, doc, &ops).await, texts);
}

/// One acknowledged op.
#[derive(Clone, Debug)]
struct Ack {
    client: String,
    seq: u64,
    version: u64,
}

/// A sent op: its submission body.
type Sent = Vec<Value>;

/// Submits ops over one STOMP connection, keeping `window` SENDs with receipts in flight, until
/// the connection goes away. Records every acknowledged op; returns every op it sent.
async fn stomp_writer(
    url: String,
    doc: &'static str,
    client: String,
    window: usize,
    acked: Arc<Mutex<Vec<Ack>>>,
) -> Sent {
    let mut stomp = StompClient::open(&url).await;
    let connect = StompFrame::new(Command::Connect)
        .with_header("accept-version", "1.2")
        .with_header("heart-beat", "0,0");
    let mut sent: Sent = Vec::new();
    if !stomp.try_send(&connect).await {
        return sent;
    }
    let mut outstanding: HashSet<u64> = HashSet::new();
    let mut base = 0;
    let mut connected = false;
    loop {
        while connected && outstanding.len() < window {
            let seq = sent.len() as u64 + 1;
            let body = json!({"client": client, "seq": seq, "base": base, "op": [format!("{client}.{seq} ")]});
            let frame = StompFrame::new(Command::Send)
                .with_header("destination", format!("/app/doc/{doc}"))
                .with_header("content-type", "application/json")
                .with_header("receipt", seq.to_string())
                .with_body(body.to_string());
            sent.push(body);
            if !stomp.try_send(&frame).await {
                return sent;
            }
            outstanding.insert(seq);
        }
        let frame = match stomp.next_within(WAIT).await {
            None => panic!("{client}: no answer from the server within {WAIT:?}"),
            Some(Incoming::Closed) => return sent,
            Some(Incoming::HeartBeat) => continue,
            Some(Incoming::Frame(frame)) => frame,
        };
        match frame.command {
            Command::Connected => connected = true,
            Command::Receipt => {
                let seq: u64 = frame
                    .header("receipt-id")
                    .and_then(|r| r.parse().ok())
                    .expect("receipt-id");
                assert_eq!(
                    frame.header("error"),
                    None,
                    "{client}: op {seq} rejected: {frame:?}"
                );
                let version: u64 = frame
                    .header("version")
                    .and_then(|v| v.parse().ok())
                    .expect("version");
                assert!(
                    outstanding.remove(&seq),
                    "{client}: unexpected receipt {seq}"
                );
                acked.lock().unwrap().push(Ack {
                    client: client.clone(),
                    seq,
                    version,
                });
                base = base.max(version);
            }
            other => panic!("{client}: unexpected {}: {frame:?}", other.as_str()),
        }
    }
}

/// Submits ops one at a time over HTTP until the server goes away.
async fn http_writer(
    addr: SocketAddr,
    doc: &'static str,
    client: String,
    acked: Arc<Mutex<Vec<Ack>>>,
) -> Sent {
    let mut sent: Sent = Vec::new();
    let mut base = 0;
    loop {
        let seq = sent.len() as u64 + 1;
        let body =
            json!({"client": client, "seq": seq, "base": base, "op": [format!("{client}.{seq} ")]});
        sent.push(body.clone());
        let Some((status, reply)) = try_post(addr, &format!("/docs/{doc}/ops"), &body).await else {
            return sent;
        };
        assert_eq!(status, 200, "{client}: op {seq} rejected: {reply}");
        base = reply["version"].as_u64().expect("version");
        acked.lock().unwrap().push(Ack {
            client: client.clone(),
            seq,
            version: base,
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_op() {
    const DOC: &str = "crash";
    const ACKS_BEFORE_KILL: usize = 400;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let args = ["--snapshot-interval", "7"];
    let mut server = ServerProcess::spawn(&data, &args);
    let acked = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let mut writers = Vec::new();
    for name in ["s1", "s2"] {
        let task = stomp_writer(server.ws_url(), DOC, name.to_owned(), 16, acked.clone());
        writers.push(tokio::spawn(task));
    }
    writers.push(tokio::spawn(http_writer(
        server.addr,
        DOC,
        "h1".to_owned(),
        acked.clone(),
    )));

    let deadline = tokio::time::Instant::now() + WAIT;
    while acked.lock().unwrap().len() < ACKS_BEFORE_KILL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} acks within {WAIT:?}",
            acked.lock().unwrap().len()
        );
        assert!(
            writers.iter().all(|w| !w.is_finished()),
            "a writer stopped early; stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    let mut sent: HashMap<String, Sent> = HashMap::new();
    for (writer, name) in writers.into_iter().zip(["s1", "s2", "h1"]) {
        let ops = tokio::time::timeout(WAIT, writer)
            .await
            .expect("writer stops")
            .expect("writer");
        sent.insert(name.to_owned(), ops);
    }
    let acked = acked.lock().unwrap().clone();
    let total_sent: usize = sent.values().map(Vec::len).sum();
    assert!(acked.len() >= ACKS_BEFORE_KILL);
    assert!(
        total_sent > acked.len(),
        "some ops were in flight at the kill ({total_sent} sent)"
    );

    let server = ServerProcess::spawn(&data, &args);
    let ops = all_ops(server.addr, DOC, Some(1000)).await;
    let ids = ids_by_version(&ops);
    for ack in &acked {
        let op = ops.get(ack.version as usize - 1).unwrap_or_else(|| {
            panic!(
                "acknowledged op {ack:?} is missing: history ends at {}",
                ops.len()
            )
        });
        assert_eq!(
            (op["client"].as_str(), op["seq"].as_u64()),
            (Some(ack.client.as_str()), Some(ack.seq)),
            "at version {}",
            ack.version
        );
    }
    // Nothing that was never sent; unacknowledged ops may or may not have made it.
    for (client, seq) in ids.keys() {
        let count = sent.get(client).map_or(0, Vec::len) as u64;
        assert!(
            (1..=count).contains(seq),
            "op {client}/{seq} was never sent"
        );
    }
    check_replay(server.addr, DOC, &ops).await;

    // The clients resubmit everything they never saw acknowledged: ops that made it are
    // recognised, the rest are applied, and each op ends up in the history exactly once.
    let acked_ids: HashSet<(String, u64)> =
        acked.iter().map(|a| (a.client.clone(), a.seq)).collect();
    let mut resubmitted = 0;
    for (client, bodies) in &sent {
        for body in bodies {
            let seq = body["seq"].as_u64().unwrap();
            if acked_ids.contains(&(client.clone(), seq)) {
                continue;
            }
            resubmitted += 1;
            let (status, reply) = server.post(&format!("/docs/{DOC}/ops"), body).await;
            assert_eq!(status, 200, "{reply}");
            let version = reply["version"].as_u64().unwrap();
            match ids.get(&(client.clone(), seq)) {
                Some(&stored) => assert_eq!(version, stored, "a stored op is recognised"),
                None => assert!(version > ops.len() as u64, "a lost op is applied anew"),
            }
        }
    }
    assert!(resubmitted > 0);
    eprintln!(
        "kill -9: {} acknowledged, {total_sent} sent, {} stored at the kill, {resubmitted} resubmitted",
        acked.len(),
        ids.len()
    );
    let ops = all_ops(server.addr, DOC, Some(1000)).await;
    let ids = ids_by_version(&ops);
    assert_eq!(ids.len(), total_sent, "every sent op exactly once");
    check_replay(server.addr, DOC, &ops).await;
}

#[tokio::test]
async fn sigterm_closes_sessions_with_an_error_and_exits_0() {
    const DOC: &str = "term";
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = ServerProcess::spawn(&data, &[]);
    let mut c = StompClient::open(&server.ws_url()).await;
    c.connect().await;
    c.subscribe_confirmed("sub", &format!("/topic/doc/{DOC}"), &[])
        .await;
    let mut acked: HashMap<u64, u64> = HashMap::new();
    for seq in 1..=5u64 {
        let body = json!({"client": "t", "seq": seq, "base": seq - 1, "op": [format!("{seq} ")]});
        let receipt = seq.to_string();
        c.send_op(DOC, &body, Some(&receipt)).await;
        let (_, frame) = c.until_receipt(&receipt).await;
        acked.insert(seq, frame.header("version").unwrap().parse().unwrap());
    }
    // A burst still in flight when the signal arrives.
    for seq in 6..=60u64 {
        let body = json!({"client": "t", "seq": seq, "base": 5, "op": [format!("{seq} ")]});
        c.send_op(DOC, &body, Some(&seq.to_string())).await;
    }
    server.terminate();
    let frames = c.until_closed().await;
    let error = frames
        .iter()
        .find(|f| f.command == Command::Error)
        .unwrap_or_else(|| panic!("an ERROR before the close, got {frames:?}"));
    let message = error.header("message").unwrap_or_default();
    assert!(message.contains("shutting down"), "{error:?}");
    for frame in frames.iter().filter(|f| f.command == Command::Receipt) {
        let seq: u64 = frame.header("receipt-id").unwrap().parse().unwrap();
        if let Some(version) = frame.header("version") {
            acked.insert(seq, version.parse().unwrap());
        }
    }
    let status = server.wait_exit(WAIT).await.unwrap_or_else(|| {
        panic!(
            "still running {WAIT:?} after SIGTERM; stderr:\n{}",
            server.stderr()
        )
    });
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
    assert_eq!(status.code(), Some(0));
    drop(server);

    let server = ServerProcess::spawn(&data, &[]);
    let ops = all_ops(server.addr, DOC, Some(1000)).await;
    let ids = ids_by_version(&ops);
    assert!(
        ops.len() >= acked.len(),
        "{} ops, {} acknowledged",
        ops.len(),
        acked.len()
    );
    for (seq, version) in &acked {
        assert_eq!(
            ids.get(&("t".to_owned(), *seq)),
            Some(version),
            "acknowledged op {seq}"
        );
    }
    check_replay(server.addr, DOC, &ops).await;
    eprintln!(
        "SIGTERM: {} acknowledged, {} stored",
        acked.len(),
        ops.len()
    );
}

#[tokio::test]
async fn a_data_dir_of_another_format_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    {
        let db = sled::open(&data).expect("sled opens");
        db.open_tree("meta")
            .unwrap()
            .insert("format", "something-else")
            .unwrap();
        db.flush().unwrap();
    }
    let config = Config::new("127.0.0.1:0".parse().unwrap(), data.clone());
    let err = match Server::start(config).await {
        Ok(_) => panic!("a server started on a data directory of another format"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("something-else"), "{err}");
    assert!(err.contains("otterdoc-ops-v2"), "{err}");

    let (status, _, stderr) = run_to_exit(serve(&data, &[])).await;
    assert!(!status.success(), "exit status {status}");
    assert!(
        stderr.contains("something-else"),
        "stderr names the format:\n{stderr}"
    );
    // Refused, not rewritten.
    let db = sled::open(&data).expect("sled opens");
    let format = db.open_tree("meta").unwrap().get("format").unwrap();
    assert_eq!(format.as_deref(), Some(&b"something-else"[..]));
    drop(db);

    // Data without any format marker is refused too.
    let bare = dir.path().join("bare");
    {
        let db = sled::open(&bare).expect("sled opens");
        db.open_tree("ops").unwrap().insert("x", "y").unwrap();
        db.flush().unwrap();
    }
    let config = Config::new("127.0.0.1:0".parse().unwrap(), bare);
    assert!(
        Server::start(config).await.is_err(),
        "data without a format marker is refused"
    );
}

/// Every flag of `otterdoc serve` and its environment variable.
const FLAGS: [(&str, &str); 10] = [
    ("--listen", "OTTERDOC_LISTEN"),
    ("--data", "OTTERDOC_DATA"),
    ("--max-frame-bytes", "OTTERDOC_MAX_FRAME_BYTES"),
    ("--max-op-bytes", "OTTERDOC_MAX_OP_BYTES"),
    ("--max-doc-bytes", "OTTERDOC_MAX_DOC_BYTES"),
    ("--snapshot-interval", "OTTERDOC_SNAPSHOT_INTERVAL"),
    ("--heartbeat-ms", "OTTERDOC_HEARTBEAT_MS"),
    ("--idle-doc-ms", "OTTERDOC_IDLE_DOC_MS"),
    ("--connect-timeout-ms", "OTTERDOC_CONNECT_TIMEOUT_MS"),
    ("--write-timeout-ms", "OTTERDOC_WRITE_TIMEOUT_MS"),
];

#[tokio::test]
async fn cli_lists_every_flag_with_its_env_var_and_reads_the_env() {
    let mut help = otterdoc();
    help.args(["serve", "--help"]);
    let (status, stdout, stderr) = run_to_exit(help).await;
    assert!(status.success(), "{status}: {stderr}");
    for (flag, var) in FLAGS {
        let lines: Vec<&str> = stdout.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} is not in the help:\n{stdout}"));
        // The flag's entry runs until the next flag; clap puts `[env: VAR=]` in it.
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('-'))
            .map_or(lines.len(), |i| start + 1 + i);
        let entry = lines[start..end].join(" ");
        assert!(
            entry.contains(&format!("env: {var}")),
            "{flag} names {var}:\n{stdout}"
        );
    }

    // Only environment variables, no flags.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("from-env");
    let mut cmd = otterdoc();
    cmd.arg("serve")
        .env("OTTERDOC_LISTEN", "127.0.0.1:0")
        .env("OTTERDOC_DATA", &data)
        .env("OTTERDOC_MAX_OP_BYTES", "100");
    let mut server = ServerProcess::start(cmd);
    assert_eq!(server.get("/healthz").await, (200, json!({"status": "ok"})));
    let op = json!({"client": "e", "seq": 1, "base": 0, "op": ["env"]});
    assert_eq!(server.post("/docs/env/ops", &op).await.0, 200);
    let big = json!({"client": "e", "seq": 2, "base": 1, "op": ["x".repeat(100)]});
    let (status, body) = server.post("/docs/env/ops", &big).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &json!("op-too-large")),
        "{body}"
    );
    assert!(data.is_dir(), "the data directory comes from OTTERDOC_DATA");
    server.terminate();
    let status = server.wait_exit(WAIT).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    drop(server);

    // Flags win over the environment; the history is where OTTERDOC_DATA said.
    let mut cmd = serve(&data, &[]);
    cmd.env("OTTERDOC_LISTEN", "not an address")
        .env("OTTERDOC_MAX_OP_BYTES", "100");
    let server = ServerProcess::start(cmd);
    let (status, body) = server.get("/docs/env").await;
    assert_eq!(
        (status, without_hash(body)),
        (200, json!({"doc": "env", "version": 1, "content": "env"}))
    );
    drop(server);

    // A bad value is refused before anything starts.
    let mut cmd = serve(&dir.path().join("unused"), &[]);
    cmd.env("OTTERDOC_SNAPSHOT_INTERVAL", "0");
    let (status, _, stderr) = run_to_exit(cmd).await;
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("snapshot-interval"), "{stderr}");
}
