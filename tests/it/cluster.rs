//! Several otterdoc nodes (the real binary, `--node-id`) on loopback ports sharing one
//! PostgreSQL: clients spread over the nodes edit one document with random pauses, disconnect
//! at random and reconnect to another node; they converge, and the history (read from any
//! node) holds every acknowledged op exactly once and replays to what every client shows.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::history::{all_ops, get_doc, replay};
use crate::common::http::request;
use crate::common::ot_client::OtClient;
use crate::common::postgres;
use crate::common::process::ServerProcess;
use crate::crash::check_history;

/// Node `i` of the cluster on database `db`.
pub fn start_node(dir: &std::path::Path, db: &str, i: usize) -> ServerProcess {
    ServerProcess::spawn(
        &dir.join(format!("data-{i}")),
        &[
            "--store",
            db,
            "--node-id",
            &format!("n{i}"),
            "--lease-ms",
            "1000",
        ],
    )
}

/// A counter or gauge of `node`'s `/metrics`.
pub async fn metric(node: &ServerProcess, name: &str) -> f64 {
    let response = request(node.addr, "GET", "/metrics", &[], None).await;
    let text = String::from_utf8(response.body).expect("metrics text");
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_with_clients_spread_over_them() {
    const DOC: &str = "shared-doc";
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 60;
    let seed: u64 = std::env::var("OTTERDOC_TEST_CLUSTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("cluster convergence: OTTERDOC_TEST_CLUSTER_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes: Vec<ServerProcess> = (0..3).map(|i| start_node(dir.path(), &db, i)).collect();

    let mut clients = Vec::new();
    let mut at = Vec::new();
    for i in 0..CLIENTS {
        clients.push(OtClient::join_url(&nodes[i % 3].ws_url(), DOC).await);
        at.push(i % 3);
    }
    for _ in 0..ROUNDS {
        for (i, client) in clients.iter_mut().enumerate() {
            if rng.random_bool(0.6) {
                client.random_edit(&mut rng).await;
            }
            let pause = Duration::from_millis(rng.random_range(0..4));
            client.pump_for(pause).await;
            if rng.random_bool(0.03) {
                // Drop the connection and come back on another node.
                let next = (at[i] + rng.random_range(1..3)) % 3;
                let (current, _) = get_doc(nodes[next].addr, DOC).await;
                client.reconnect(&nodes[next].ws_url(), current).await;
                at[i] = next;
            }
        }
    }
    for client in &mut clients {
        client.wait_idle().await;
    }
    let (version, content) = get_doc(nodes[0].addr, DOC).await;
    for node in &nodes {
        assert_eq!(
            get_doc(node.addr, DOC).await,
            (version, content.clone()),
            "every node serves the same document"
        );
    }
    for client in &mut clients {
        client.wait_version(version).await;
        assert_eq!(client.version(), version, "{}", client.client_id());
        assert_eq!(
            client.content(),
            content,
            "{} converged",
            client.client_id()
        );
    }
    let ops = all_ops(nodes[2].addr, DOC, None).await;
    let counts = check_history(&ops, &clients);
    for client in &clients {
        assert_eq!(
            counts.get(client.client_id()).copied().unwrap_or(0),
            client.last_seq(),
            "{}: every op it made is stored exactly once",
            client.client_id()
        );
    }
    assert_eq!(
        replay(&ops).last(),
        Some(&content),
        "the history replays to the text"
    );
    assert!(version > 50, "the clients got ops through ({version})");
    // One node owned the document; the others forwarded to it and relayed it.
    let mut leases = 0.0;
    let mut forwarded = 0.0;
    for node in &nodes {
        leases += metric(node, "otterdoc_leases_acquired_total").await;
        forwarded += metric(node, "otterdoc_forwarded_submissions_total").await;
    }
    eprintln!("{version} ops, {leases} leases taken, {forwarded} submissions forwarded");
    assert_eq!(leases, 1.0, "one owner throughout");
    assert!(forwarded > 0.0, "submissions were forwarded to the owner");
}

/// The node (index) named by `doc`'s unexpired lease, and the lease's epoch, from the
/// database.
async fn owner_of(db: &str, doc: &str) -> Option<(usize, i64)> {
    let row = postgres::client(db)
        .await
        .query_opt(
            "SELECT node, epoch FROM leases WHERE doc = $1 AND expires_at > now()",
            &[&doc],
        )
        .await
        .expect("read the lease")?;
    let node: String = row.get(0);
    Some((node.strip_prefix('n')?.parse().ok()?, row.get(1)))
}

/// Types with short random pauses until `until`, or until the connection goes away.
async fn type_until(mut editor: OtClient, seed: u64, until: tokio::time::Instant) -> OtClient {
    let mut rng = StdRng::seed_from_u64(seed);
    while tokio::time::Instant::now() < until {
        editor.random_edit(&mut rng).await;
        let pause = Duration::from_micros(rng.random_range(0..3000));
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            match editor.try_pump(wait).await {
                None => return editor,
                Some(_) if tokio::time::Instant::now() >= deadline => break,
                Some(_) => {}
            }
        }
    }
    editor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_owner_moves_the_document_and_loses_no_acknowledged_op() {
    const DOC: &str = "failover-doc";
    const CLIENTS: usize = 6;
    let trials: usize = std::env::var("OTTERDOC_TEST_FAILOVER_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("OTTERDOC_TEST_CLUSTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("failover: {trials} trials, OTTERDOC_TEST_CLUSTER_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes: Vec<ServerProcess> = (0..3).map(|i| start_node(dir.path(), &db, i)).collect();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(OtClient::join_url(&nodes[i % 3].ws_url(), DOC).await);
    }
    clients[0].insert(0, "start").await;
    clients[0].wait_idle().await;

    for trial in 0..trials {
        let (owner, epoch) = owner_of(&db, DOC).await.expect("the document has an owner");
        let until = tokio::time::Instant::now() + Duration::from_millis(rng.random_range(300..800));
        let typing: Vec<_> = clients
            .drain(..)
            .map(|c| tokio::spawn(type_until(c, rng.random(), until)))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
        nodes[owner].kill9();
        for task in typing {
            clients.push(task.await.expect("a client task"));
        }
        nodes[owner] = start_node(dir.path(), &db, owner);

        // The history, read from any node, holds every op acknowledged so far exactly once.
        let reader = &nodes[(owner + 1) % 3];
        let ops = all_ops(reader.addr, DOC, None).await;
        check_history(&ops, &clients);
        eprintln!(
            "trial {trial}: killed n{owner} (lease epoch {epoch}), {} ops stored, {} acknowledged",
            ops.len(),
            clients
                .iter()
                .map(|c| c.acknowledged().len())
                .sum::<usize>()
        );
        // Clients of the dead node come back on any node.
        for client in &mut clients {
            if client.try_pump(Duration::ZERO).await.is_none() {
                let next = &nodes[rng.random_range(0..3)];
                let (current, _) = get_doc(next.addr, DOC).await;
                client.reconnect(&next.ws_url(), current).await;
            }
        }
    }
    for client in &mut clients {
        client.wait_idle().await;
    }
    let (version, content) = get_doc(nodes[0].addr, DOC).await;
    for node in &nodes {
        assert_eq!(get_doc(node.addr, DOC).await, (version, content.clone()));
    }
    for client in &mut clients {
        client.wait_version(version).await;
        assert_eq!(
            client.content(),
            content,
            "{} converged",
            client.client_id()
        );
    }
    let ops = all_ops(nodes[1].addr, DOC, None).await;
    let counts = check_history(&ops, &clients);
    for client in &clients {
        assert_eq!(
            counts.get(client.client_id()).copied().unwrap_or(0),
            client.last_seq(),
            "{}: every op it made is stored exactly once",
            client.client_id()
        );
    }
    assert_eq!(replay(&ops).last(), Some(&content));
    // Each kill moved the document: a new lease, under a higher epoch, every time.
    let (_, epoch) = owner_of(&db, DOC).await.expect("an owner at the end");
    assert!(
        epoch > trials as i64,
        "epoch {epoch} after {trials} failovers"
    );
}

/// Waits (bounded) until `/readyz` of `node` answers `status`.
async fn wait_ready(node: &ServerProcess, status: u16) {
    let deadline = tokio::time::Instant::now() + crate::common::WAIT;
    loop {
        let (got, body) = node.get("/readyz").await;
        if got == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still answers {got} {body}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_postgres_stops_acking_and_no_document_forks() {
    const DOC: &str = "cut-doc";
    let mut rng = StdRng::seed_from_u64(7);
    let db = postgres::database().await;
    let proxy = crate::common::proxy::Proxy::start(postgres::port()).await;
    let via_proxy = db.replacen(
        &format!(":{}/", postgres::port()),
        &format!(":{}/", proxy.port),
        1,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let cut_node = start_node(dir.path(), &via_proxy, 0);
    let other = start_node(dir.path(), &db, 1);

    // The document starts on the node that will be cut off; the other relays it.
    let mut a = OtClient::join_url(&cut_node.ws_url(), DOC).await;
    a.insert(0, "a").await;
    a.wait_idle().await;
    let mut b = OtClient::join_url(&other.ws_url(), DOC).await;
    b.insert(0, "b").await;
    b.wait_idle().await;
    assert_eq!(owner_of(&db, DOC).await.map(|(n, _)| n), Some(0));

    proxy.cut();
    let acked = a.acknowledged();
    a.insert(0, "cut ").await;
    // The other node takes the document over once the cut node's lease lapses, and goes on.
    for _ in 0..10 {
        b.random_edit(&mut rng).await;
        b.pump_for(Duration::from_millis(30)).await;
    }
    b.wait_idle().await;
    wait_ready(&cut_node, 503).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline
        && a.try_pump(Duration::from_millis(50)).await.is_some()
    {}
    assert_eq!(
        a.acknowledged(),
        acked,
        "nothing is acknowledged by the cut-off node"
    );
    assert_eq!(owner_of(&db, DOC).await.map(|(n, _)| n), Some(1));

    proxy.restore();
    wait_ready(&cut_node, 200).await;
    if a.try_pump(Duration::ZERO).await.is_none() {
        let (current, _) = get_doc(cut_node.addr, DOC).await;
        a.reconnect(&cut_node.ws_url(), current).await;
    }
    a.wait_idle().await;
    let (version, content) = get_doc(cut_node.addr, DOC).await;
    assert_eq!(get_doc(other.addr, DOC).await, (version, content.clone()));
    for client in [&mut a, &mut b] {
        client.wait_version(version).await;
        assert_eq!(
            client.content(),
            content,
            "{} converged",
            client.client_id()
        );
    }
    let clients = [a, b];
    let ops = all_ops(cut_node.addr, DOC, None).await;
    let counts = check_history(&ops, &clients);
    for client in &clients {
        assert_eq!(
            counts.get(client.client_id()).copied().unwrap_or(0),
            client.last_seq(),
            "{}: every op it made is stored exactly once",
            client.client_id()
        );
    }
    assert_eq!(replay(&ops).last(), Some(&content), "one history, no fork");
}

/// A number from the environment, or `default`.
fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Aggregate edits/s over many documents with 1, 2 and 3 nodes, and the latency a forwarded
/// submission adds (one hop). A figure printer, not a timed assert: all nodes, PostgreSQL and
/// the editors share this one machine, so the nodes compete for the same cores (a simulation
/// of a cluster, not one). `OTTERDOC_TEST_CLUSTER_BENCH_OPS` (edits per editor, default 20)
/// and `OTTERDOC_TEST_CLUSTER_BENCH_DOCS` (default 6) scale it; docs/cluster.md has a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_with_one_two_and_three_nodes_and_the_cost_of_a_hop() {
    let ops = env_or("OTTERDOC_TEST_CLUSTER_BENCH_OPS", 20);
    let docs = env_or("OTTERDOC_TEST_CLUSTER_BENCH_DOCS", 6);
    const EDITORS: usize = 2;
    for n in 1..=3 {
        let db = postgres::database().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let nodes: Vec<ServerProcess> = (0..n).map(|i| start_node(dir.path(), &db, i)).collect();
        // Each document is first opened on node d % n (which then owns it); its editors are
        // spread over all the nodes, so with several nodes most submissions are forwarded.
        let mut editors = Vec::new();
        for d in 0..docs {
            let doc = format!("bench-{d}");
            for e in 0..EDITORS {
                let node = &nodes[(d + e) % n];
                editors.push(OtClient::join_url(&node.ws_url(), &doc).await);
            }
        }
        let started = std::time::Instant::now();
        let tasks: Vec<_> = editors
            .into_iter()
            .enumerate()
            .map(|(i, mut editor)| {
                tokio::spawn(async move {
                    let mut rng = StdRng::seed_from_u64(i as u64);
                    for _ in 0..ops {
                        editor.random_edit(&mut rng).await;
                        editor.wait_idle().await;
                    }
                    editor
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("an editor").acknowledged().len();
        }
        let elapsed = started.elapsed();
        assert_eq!(total, docs * EDITORS * ops, "every edit acknowledged");
        let mut forwarded = 0.0;
        for node in &nodes {
            forwarded += metric(node, "otterdoc_forwarded_submissions_total").await;
        }
        eprintln!(
            "cluster throughput: {n} node(s), {docs} docs x {EDITORS} editors x {ops} edits: \
             {total} edits in {:.2} s = {:.0} edits/s ({forwarded} forwarded)",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );
    }

    // One hop: the same sequential edits, from the owner's node and from another node.
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes: Vec<ServerProcess> = (0..2).map(|i| start_node(dir.path(), &db, i)).collect();
    let mut direct = OtClient::join_url(&nodes[0].ws_url(), "hop").await;
    let mut forwarded = OtClient::join_url(&nodes[1].ws_url(), "hop").await;
    let mut rng = StdRng::seed_from_u64(99);
    let latency = |samples: &mut Vec<f64>, t: std::time::Instant| {
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    };
    let (mut at_owner, mut via_hop) = (Vec::new(), Vec::new());
    for _ in 0..ops.max(20) * 5 {
        let t = std::time::Instant::now();
        direct.random_edit(&mut rng).await;
        direct.wait_idle().await;
        latency(&mut at_owner, t);
        forwarded.wait_version(direct.version()).await;
        let t = std::time::Instant::now();
        forwarded.random_edit(&mut rng).await;
        forwarded.wait_idle().await;
        latency(&mut via_hop, t);
        direct.wait_version(forwarded.version()).await;
    }
    let quantile = |samples: &mut Vec<f64>, q: f64| {
        samples.sort_by(f64::total_cmp);
        samples[((samples.len() - 1) as f64 * q).round() as usize]
    };
    eprintln!(
        "cluster hop: submission to ack at the owner p50 {:.2} ms p99 {:.2} ms; \
         via another node p50 {:.2} ms p99 {:.2} ms ({} samples each)",
        quantile(&mut at_owner, 0.5),
        quantile(&mut at_owner, 0.99),
        quantile(&mut via_hop, 0.5),
        quantile(&mut via_hop, 0.99),
        at_owner.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_node_with_the_secret_may_forward_for_a_user() {
    use crate::common::StompClient;
    use otterdoc::stomp::{Command, StompFrame};
    use serde_json::json;
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start_node(dir.path(), &db, 0);
    let secret: String = postgres::client(&db)
        .await
        .query_one("SELECT secret FROM peer_secret", &[])
        .await
        .expect("the peer secret")
        .get(0);
    let peer = |passcode: &str| -> Vec<(&'static str, String)> {
        vec![
            ("accept-version", "1.2".into()),
            ("heart-beat", "0,0".into()),
            ("otterdoc-peer", "intruder".into()),
            ("passcode", passcode.into()),
        ]
    };
    let send = |doc: &str, user: &str, receipt: &str, body: serde_json::Value| {
        StompFrame::new(Command::Send)
            .with_header("destination", format!("/app/doc/{doc}"))
            .with_header("receipt", receipt)
            .with_header("otterdoc-user", user)
            .with_body(body.to_string())
    };

    // A wrong secret: an ERROR, and the connection closes.
    let mut c = StompClient::open(&node.ws_url()).await;
    let headers = peer("not-the-secret");
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let error = c.connect_with(&refs).await;
    assert_eq!(error.command, Command::Error, "{error:?}");
    assert!(
        error
            .header("message")
            .unwrap_or_default()
            .contains("wrong node secret"),
        "{error:?}"
    );

    // The secret: a node's session, whose SENDs name the user they are forwarded for.
    let mut c = StompClient::open(&node.ws_url()).await;
    let headers = peer(&secret);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let connected = c.connect_with(&refs).await;
    assert_eq!(connected.command, Command::Connected, "{connected:?}");
    let body = json!({"client": "n", "seq": 1, "base": 0, "op": ["x"]});
    c.send(&send("users", "alice", "r1", body)).await;
    assert_eq!(c.until_receipt("r1").await.1.header("version"), Some("1"));

    // An ordinary client's otterdoc-user is ignored.
    let mut d = StompClient::open(&node.ws_url()).await;
    d.connect().await;
    let body = json!({"client": "d", "seq": 1, "base": 1, "op": ["y"]});
    d.send(&send("users", "mallory", "r2", body)).await;
    assert_eq!(d.until_receipt("r2").await.1.header("version"), Some("2"));
    let ops = all_ops(node.addr, "users", None).await;
    let users: Vec<_> = ops
        .iter()
        .map(|o| o["user"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(users, ["alice", "anonymous"]);

    // Presence is refused in this mode, saying why; CONNECTED does not announce it, so clients
    // (the TypeScript client, the demo) never ask for it.
    let mut e = StompClient::open(&node.ws_url()).await;
    let connected = e.connect().await;
    assert_eq!(connected.header("features"), Some(""), "{connected:?}");
    e.subscribe("p", "/topic/doc/users/presence", &[]).await;
    let error = e.expect_error_and_close().await;
    assert!(
        error
            .header("message")
            .unwrap_or_default()
            .contains("presence is not available"),
        "{error:?}"
    );
}

/// The (type, doc, version) of every changefeed entry `node` serves.
async fn feed_of(node: &ServerProcess) -> Vec<(String, String, u64)> {
    let (status, page) = node.get("/changes?after=0&limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["type"].as_str().expect("type").to_owned(),
                c["doc"].as_str().expect("doc").to_owned(),
                c["version"].as_u64().expect("version"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_writes_go_through_the_owner_and_the_changefeed_is_shared() {
    use crate::common::StompClient;
    use serde_json::json;
    const DOC: &str = "owned-doc";
    let db = postgres::database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes: Vec<ServerProcess> = (0..2).map(|i| start_node(dir.path(), &db, i)).collect();
    for node in &nodes {
        wait_ready(node, 200).await;
    }
    // Node 0 opens the document first, so it owns it.
    for (i, text) in ["one", " two", " three"].into_iter().enumerate() {
        let len = ["", "one", "one two"][i].len();
        let op = if len == 0 {
            json!([text])
        } else {
            json!([len, text])
        };
        let body = json!({"client": "w", "seq": i + 1, "base": i, "op": op}).to_string();
        let (status, reply) =
            crate::common::http::post(nodes[0].addr, &format!("/docs/{DOC}/ops"), &body).await;
        assert_eq!(status, 200, "{reply}");
    }
    assert_eq!(owner_of(&db, DOC).await.map(|(n, _)| n), Some(0));
    // A subscriber on node 1 is served by node 1's relay of the owner.
    let mut watcher = StompClient::open(&nodes[1].ws_url()).await;
    watcher.connect().await;
    watcher
        .subscribe_confirmed("w", &format!("/topic/doc/{DOC}"), &[])
        .await;

    // Node 1 does not own it: restore and delete there are refused, naming the owner; nothing
    // is written.
    let refused = [
        (
            "POST",
            format!("/docs/{DOC}/restore"),
            Some(json!({"version": 1, "client": "r", "seq": 1})),
        ),
        ("DELETE", format!("/docs/{DOC}"), None),
    ];
    for (method, path, body) in &refused {
        let body = body.as_ref().map(|b| b.to_string());
        let response = crate::common::http::request(
            nodes[1].addr,
            method,
            path,
            &[],
            body.as_deref().map(str::as_bytes),
        )
        .await;
        let answer = response.json();
        assert_eq!(response.status, 503, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("owned by node n0"), "{message}");
    }
    assert_eq!(
        get_doc(nodes[1].addr, DOC).await,
        (3, "one two three".into())
    );
    // A copy is made by the target's task: nobody owns the new id, so node 1 takes it and
    // reads the source from the database.
    let (status, copied) = crate::common::http::post(
        nodes[1].addr,
        &format!("/docs/{DOC}/copy"),
        &json!({"to": "copy-of-it"}).to_string(),
    )
    .await;
    assert_eq!(
        (status, copied["version"].clone()),
        (200, json!(3)),
        "{copied}"
    );
    assert_eq!(owner_of(&db, "copy-of-it").await.map(|(n, _)| n), Some(1));
    assert_eq!(
        all_ops(nodes[0].addr, "copy-of-it", None).await,
        all_ops(nodes[0].addr, DOC, None).await
    );
    // A text merge is a submission at its base: node 1 makes it and forwards it to the owner,
    // which merges it with what came after the base (" three"), once, however often it is sent.
    let save = json!({"content": "ONE two", "base": 2, "client": "t", "seq": 1}).to_string();
    for _ in 0..2 {
        let (status, merged) =
            crate::common::http::post(nodes[1].addr, &format!("/docs/{DOC}/text"), &save).await;
        assert_eq!(
            (status, merged["version"].clone()),
            (200, json!(4)),
            "{merged}"
        );
    }
    let (status, stale) = crate::common::http::post(
        nodes[1].addr,
        &format!("/docs/{DOC}/text"),
        &json!({"content": "x", "base": 9, "client": "t", "seq": 2}).to_string(),
    )
    .await;
    assert_eq!(
        (status, stale["error"]["code"].clone()),
        (409, json!("version-in-future")),
        "{stale}"
    );
    assert_eq!(
        get_doc(nodes[0].addr, DOC).await,
        (4, "ONE two three".into())
    );
    assert_eq!(
        watcher.message_json().await["version"],
        4,
        "the merge reached node 1's subscriber"
    );
    // Reads of the history are served by any node, from the shared store.
    let (status, verified) = nodes[1].get(&format!("/docs/{DOC}/verify")).await;
    assert_eq!(
        (status, verified["ok"].clone()),
        (200, json!(true)),
        "{verified}"
    );

    // On the owner the deletion goes through; node 1's subscriber hears of it.
    let response =
        crate::common::http::request(nodes[0].addr, "DELETE", &format!("/docs/{DOC}"), &[], None)
            .await;
    assert_eq!(response.status, 200, "{}", response.json());
    assert_eq!(
        watcher.message_json().await,
        json!({"type": "deleted", "doc": DOC})
    );
    // One feed, in the database: both nodes serve the same entries.
    let mut expected: Vec<_> = (1..=3)
        .map(|v| ("op".to_owned(), "copy-of-it".to_owned(), v))
        .collect();
    expected.push(("deleted".to_owned(), DOC.to_owned(), 4));
    assert_eq!(feed_of(&nodes[0]).await, expected);
    assert_eq!(feed_of(&nodes[1]).await, expected);

    // Node 0's event stream, from the deletion on, gets what node 1 commits next.
    let (_, page) = nodes[0].get("/changes?after=0&limit=1000").await;
    let seen = page["cursor"].as_u64().expect("cursor");
    let addr = nodes[0].addr;
    let stream =
        tokio::spawn(async move { crate::history::stream_events(addr, Some(seen), None, 1).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The id starts over, on whichever node writes it first (node 1 now).
    let body = json!({"client": "again", "seq": 1, "base": 0, "op": ["fresh"]}).to_string();
    let (status, reply) =
        crate::common::http::post(nodes[1].addr, &format!("/docs/{DOC}/ops"), &body).await;
    assert_eq!(
        (status, reply["version"].clone()),
        (200, json!(1)),
        "{reply}"
    );
    // (Nothing on node 0 reads the feed meanwhile: the stream learns of it by the poll.)
    let events = stream.await.expect("stream task");
    assert!(events[0].0 > seen, "{events:?}");
    assert_eq!(
        (events[0].1["doc"].clone(), events[0].1["version"].clone()),
        (json!(DOC), json!(1)),
        "{events:?}"
    );
    assert_eq!(get_doc(nodes[0].addr, DOC).await, (1, "fresh".into()));
    let mut fed = feed_of(&nodes[0]).await;
    assert_eq!(fed.pop(), Some(("op".to_owned(), DOC.to_owned(), 1)));
}
