//! The crash loop: the real binary as a child, editors typing concurrently with a receipt on
//! every op, `kill -9` at a random moment, a restart on the same data directory — many times
//! over. After every restart the history must hold every op whose RECEIPT (or op event) reached
//! its editor, exactly once and at the version announced, and each editor's ops must form an
//! unbroken run from its first (nothing stored after a gap). The editors then reconnect,
//! resubmit what was never acknowledged, and at the end all of them converge on the server's
//! text, with every op they made in the history exactly once.
//!
//! The same loop runs on sled (the data directory) and on PostgreSQL (`--store`).
//!
//! `OTTERDOC_TEST_CRASH_TRIALS` sets the number of kills (the test command's default is quick;
//! `docs/operations.md` gives the long run), `OTTERDOC_TEST_CRASH_SEED` replays a run:
//!
//! ```sh
//! OTTERDOC_TEST_CRASH_TRIALS=500 cargo test --test it crash -- --nocapture
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::common::history::{all_ops, apply, get_doc};
use crate::common::ot_client::OtClient;
use crate::common::process::ServerProcess;

const DOC: &str = "crash-loop";
const EDITORS: usize = 3;
/// Kills in the test command's quick setting.
const QUICK_TRIALS: usize = 6;
/// A snapshot every few ops, so kills land around snapshot writes too.
const SERVER_ARGS: [&str; 2] = ["--snapshot-interval", "5"];

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// Checks the stored history against what the editors were told: every acknowledged op is at
/// its version, each editor's stored seqs are exactly 1..=n (no gap, no repeat), and no op was
/// stored that its editor never made. Returns the stored ops' count per editor.
pub(crate) fn check_history(ops: &[Value], editors: &[OtClient]) -> HashMap<String, u64> {
    let mut seqs: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["version"].as_u64(), Some(i as u64 + 1), "{op}");
        let client = op["client"].as_str().expect("client");
        seqs.entry(client)
            .or_default()
            .push(op["seq"].as_u64().expect("seq"));
    }
    for editor in editors {
        for (seq, version) in editor.acknowledged() {
            let op = ops.get(version as usize - 1).unwrap_or_else(|| {
                panic!(
                    "{}: op {seq} was acknowledged at version {version}, but the history ends at {}",
                    editor.client_id(),
                    ops.len()
                )
            });
            assert_eq!(
                (op["client"].as_str(), op["seq"].as_u64()),
                (Some(editor.client_id()), Some(seq)),
                "the op acknowledged at version {version}"
            );
        }
    }
    let mut counts = HashMap::new();
    for (client, stored) in seqs {
        let editor = editors
            .iter()
            .find(|e| e.client_id() == client)
            .unwrap_or_else(|| panic!("an op of {client}, who is no editor"));
        let expected: Vec<u64> = (1..=stored.len() as u64).collect();
        assert_eq!(stored, expected, "{client}: stored seqs are 1..=n in order");
        assert!(
            stored.len() as u64 <= editor.last_seq(),
            "{client}: never made that op"
        );
        counts.insert(client.to_owned(), stored.len() as u64);
    }
    counts
}

/// Checks that the stored ops replay to the text the server serves.
async fn check_replay(server: &ServerProcess, ops: &[Value]) {
    let text = ops
        .iter()
        .fold(String::new(), |text, record| apply(&text, &record["op"]));
    let (version, content) = get_doc(server.addr, DOC).await;
    assert_eq!(version, ops.len() as u64);
    assert_eq!(content, text, "replay ends at the served text");
}

/// One editor typing with short random pauses until its connection goes away.
async fn type_until_killed(mut editor: OtClient, seed: u64) -> OtClient {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        editor.random_edit(&mut rng).await;
        let pause = Duration::from_micros(rng.random_range(0..3000));
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            let now = tokio::time::Instant::now();
            let wait = deadline.saturating_duration_since(now);
            match editor.try_pump(wait).await {
                None => return editor,
                Some(_) if tokio::time::Instant::now() >= deadline => break,
                Some(_) => {}
            }
        }
    }
}

async fn restart(data: &Path, store: &[&str]) -> ServerProcess {
    let args: Vec<&str> = SERVER_ARGS.iter().chain(store).copied().collect();
    ServerProcess::spawn(data, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_no_acknowledged_op() {
    crash_loop(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_on_postgres_loses_no_acknowledged_op() {
    let db = crate::common::postgres::database().await;
    crash_loop(&["--store", &db]).await;
}

/// The loop, with the server's history in sled (`store` empty) or where `store` says.
async fn crash_loop(store: &[&str]) {
    let trials = env_number("OTTERDOC_TEST_CRASH_TRIALS").map_or(QUICK_TRIALS, |n| n as usize);
    let seed = env_number("OTTERDOC_TEST_CRASH_SEED").unwrap_or_else(rand::random);
    eprintln!("crash loop: {trials} trials, OTTERDOC_TEST_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    let mut server = restart(&data, store).await;
    let mut editors = Vec::new();
    for _ in 0..EDITORS {
        editors.push(OtClient::join_url(&server.ws_url(), DOC).await);
    }
    // One op first, so the history exists from the first kill on.
    editors[0].random_edit(&mut rng).await;
    editors[0].wait_idle().await;
    let mut acknowledged_total = 0;
    for trial in 0..trials {
        if rng.random_bool(0.2) {
            // Now and then, a kill during start-up (recovery, before any client is back).
            server.kill9();
            server = restart(&data, store).await;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
            server.kill9();
            server = restart(&data, store).await;
        }
        let typing: Vec<_> = editors
            .drain(..)
            .map(|editor| tokio::spawn(type_until_killed(editor, rng.random())))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..400))).await;
        server.kill9();
        for task in typing {
            editors.push(task.await.expect("an editor task"));
        }

        server = restart(&data, store).await;
        let ops = all_ops(server.addr, DOC, Some(1000)).await;
        let counts = check_history(&ops, &editors);
        check_replay(&server, &ops).await;
        acknowledged_total = editors.iter().map(|e| e.acknowledged().len()).sum();
        let made: u64 = editors.iter().map(OtClient::last_seq).sum();
        eprintln!(
            "trial {trial}: {} ops stored, {acknowledged_total} acknowledged, {made} made ({} stored per editor)",
            ops.len(),
            editors
                .iter()
                .map(|e| counts.get(e.client_id()).copied().unwrap_or(0).to_string())
                .collect::<Vec<_>>()
                .join("/")
        );
        let current = ops.len() as u64;
        for editor in &mut editors {
            editor.reconnect(&server.ws_url(), current).await;
        }
    }
    assert!(acknowledged_total > 0, "the editors got some ops through");

    // Everyone settles: nothing more is typed, everything pending is acknowledged.
    for editor in &mut editors {
        editor.wait_idle().await;
    }
    let (version, content) = get_doc(server.addr, DOC).await;
    for editor in &mut editors {
        editor.wait_version(version).await;
        assert_eq!(editor.version(), version, "{}", editor.client_id());
        assert_eq!(
            editor.content(),
            content,
            "{} converged",
            editor.client_id()
        );
    }
    let ops = all_ops(server.addr, DOC, Some(1000)).await;
    let counts = check_history(&ops, &editors);
    for editor in &editors {
        assert_eq!(
            counts.get(editor.client_id()).copied().unwrap_or(0),
            editor.last_seq(),
            "{}: every op it made is stored exactly once",
            editor.client_id()
        );
    }
    check_replay(&server, &ops).await;
}
