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
