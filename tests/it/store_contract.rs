//! The contract of the storage boundary (`otterdoc::store::Store`), written once against the
//! trait and run against every implementation: each `#[tokio::test]` at the bottom runs the
//! whole suite on one backend. A new backend adds one such test and must pass all of it.
//! Stores several nodes share (PostgreSQL) also meet the lease contract below: claims, expiry,
//! epochs, and commits fenced by them.

use std::sync::Arc;

use ot::Operation;
use otterdoc::doc_id::DocId;
use std::time::Duration;

use otterdoc::store::{
    ChainHash, ChangeKind, Claim, Deletion, Holder, Lease, Leases, OpRecord, PgStore, SledStore,
    Store, StoreError, Verification,
};

use crate::common::postgres;

/// Opens the backend under test. Every call opens the same underlying storage (as a restart
/// would); the suite drops the previous store before calling it again.
type Open<'a> = &'a (dyn Fn() -> Arc<dyn Store> + Sync);

fn doc(id: &str) -> DocId {
    DocId::parse(id).expect("valid id")
}

/// Record `version` of a document whose text before it has `len` chars: appends `text`.
fn record(version: u64, len: usize, text: &str, time: u64) -> OpRecord {
    OpRecord {
        version,
        op: Operation::splice(len, len, 0, text).expect("splice"),
        client: format!("c{}", version % 3),
        seq: version,
        user: "anonymous".into(),
        time,
        hash: ChainHash::GENESIS,
    }
}

/// `records` with their hash chain from `hash_0` (they must start at version 1).
fn chained(mut records: Vec<OpRecord>) -> (Vec<OpRecord>, ChainHash) {
    let mut hash = ChainHash::GENESIS;
    for r in &mut records {
        hash = r.chain_after(&hash);
    }
    (records, hash)
}

/// `n` records appending "0", "1", … "9", "0", … from version `first`, on a text of `len`.
fn records(first: u64, n: u64, mut len: usize, time: u64) -> Vec<OpRecord> {
    (first..first + n)
        .map(|v| {
            let r = record(v, len, &(v % 10).to_string(), time + v);
            len += 1;
            r
        })
        .collect()
}

/// The text at version `v` of a document built by `records(1, ..)`.
fn text_at(v: u64) -> String {
    (1..=v).map(|i| (i % 10).to_string()).collect()
}

async fn run_contract(open: Open<'_>) {
    a_document_without_ops_is_empty(open).await;
    appends_read_back_in_order_with_ranges_and_limits(open).await;
    content_at_any_version_uses_snapshots_and_replay(open).await;
    documents_never_see_each_others_keys(open).await;
    everything_appended_survives_a_reopen(open).await;
    version_at_time_finds_the_last_op_by_then(open).await;
    concurrent_appends_to_many_documents_are_all_durable(open).await;
    records_keep_their_hash_chain_and_verify_finds_the_first_break(open).await;
    every_append_enters_the_changefeed_in_commit_order(open).await;
    a_deletion_removes_everything_and_the_id_starts_over(open).await;
    documents_are_listed_by_prefix_in_pages(open).await;
    webhook_cursors_are_stored_durably(open).await;
}

async fn webhook_cursors_are_stored_durably(open: Open<'_>) {
    {
        let store = open();
        assert_eq!(store.webhook_cursor("http://a/").await.unwrap(), None);
        store.set_webhook_cursor("http://a/", 7).await.unwrap();
        store.set_webhook_cursor("http://b/", 3).await.unwrap();
        store.set_webhook_cursor("http://a/", 9).await.unwrap();
    }
    let store = open();
    assert_eq!(store.webhook_cursor("http://a/").await.unwrap(), Some(9));
    assert_eq!(store.webhook_cursor("http://b/").await.unwrap(), Some(3));
}

async fn records_keep_their_hash_chain_and_verify_finds_the_first_break(open: Open<'_>) {
    let store = open();
    let d = doc("chain");
    let (all, last) = chained(records(1, 9, 0, 5));
    store
        .append(&d, &all[..4], &[(4, text_at(4))])
        .await
        .unwrap();
    store.append(&d, &all[4..], &[]).await.unwrap();
    assert_eq!(store.ops(&d, 0, 9, usize::MAX).await.unwrap(), all);
    let loaded = store.load(&d).await.unwrap();
    assert_eq!(loaded.hash, last, "load gives the hash of the head");
    assert_eq!(
        store.verify(&d).await.unwrap(),
        Verification::Intact {
            version: 9,
            hash: last
        }
    );
    // A record whose hash is not the chain's: verify names its version.
    let b = doc("chain-broken");
    let (mut bad, _) = chained(records(1, 5, 0, 5));
    bad[2].user = "mallory".into();
    store.append(&b, &bad, &[]).await.unwrap();
    match store.verify(&b).await.unwrap() {
        Verification::Broken { version, reason } => {
            assert_eq!(version, 3, "{reason}");
            assert!(reason.contains("hash"), "{reason}");
        }
        other => panic!("a broken chain verified: {other:?}"),
    }
}

async fn every_append_enters_the_changefeed_in_commit_order(open: Open<'_>) {
    let start = *open().changes_head().borrow();
    {
        let store = open();
        let (x, y) = (doc("feed-x"), doc("feed-y"));
        store.append(&x, &records(1, 2, 0, 50), &[]).await.unwrap();
        store.append(&y, &records(1, 1, 0, 60), &[]).await.unwrap();
        store.append(&x, &records(3, 1, 2, 70), &[]).await.unwrap();
        let head = *store.changes_head().borrow();
        let feed = store.changes(start, 100).await.unwrap();
        assert_eq!(feed.last().map(|c| c.cursor), Some(head));
        let seen: Vec<(String, u64)> = feed.iter().map(|c| (c.doc.clone(), c.version)).collect();
        assert_eq!(
            seen,
            [("feed-x", 1), ("feed-x", 2), ("feed-y", 1), ("feed-x", 3)]
                .map(|(d, v)| (d.to_owned(), v))
        );
        assert!(feed.windows(2).all(|w| w[0].cursor < w[1].cursor));
        let first = &feed[0];
        assert_eq!(first.kind, ChangeKind::Op);
        assert_eq!(
            (
                first.time,
                first.user.as_str(),
                first.client.as_deref(),
                first.seq
            ),
            (51, "anonymous", Some("c1"), Some(1))
        );
        // Paged: limit and after.
        let page = store.changes(start, 2).await.unwrap();
        assert_eq!(page, feed[..2]);
        assert_eq!(store.changes(page[1].cursor, 100).await.unwrap(), feed[2..]);
        assert!(store.changes(head, 100).await.unwrap().is_empty());
        store.flush().await.unwrap();
    }
    // The same feed after a reopen, and new entries continue above it.
    let store = open();
    let again = store.changes(start, 100).await.unwrap();
    assert_eq!(again.len(), 4);
    let before = *store.changes_head().borrow();
    assert_eq!(before, again[3].cursor);
    store
        .append(&doc("feed-y"), &records(2, 1, 1, 80), &[])
        .await
        .unwrap();
    let next = store.changes(before, 100).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].cursor > before);
}

async fn a_deletion_removes_everything_and_the_id_starts_over(open: Open<'_>) {
    let d = doc("doomed");
    let start;
    {
        let store = open();
        store
            .append(
                &d,
                &records(1, 6, 0, 9),
                &[(3, text_at(3)), (6, text_at(6))],
            )
            .await
            .unwrap();
        start = *store.changes_head().borrow();
        let deletion = Deletion {
            version: 6,
            user: "remover".into(),
            time: 99,
        };
        store.delete(&d, &deletion).await.unwrap();
        assert_eq!(store.head(&d).await.unwrap(), 0);
        assert!(store
            .ops(&d, 0, u64::MAX, usize::MAX)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.op(&d, 1).await.unwrap(), None);
        assert_eq!(
            store.snapshot_at_or_before(&d, u64::MAX).await.unwrap(),
            (0, String::new())
        );
        let feed = store.changes(start, 100).await.unwrap();
        assert_eq!(feed.len(), 1, "{feed:?}");
        assert_eq!(feed[0].kind, ChangeKind::Deleted);
        assert_eq!(
            (
                feed[0].doc.as_str(),
                feed[0].version,
                feed[0].user.as_str(),
                feed[0].time
            ),
            ("doomed", 6, "remover", 99)
        );
        // The document's op entries left the feed with it.
        let all = store.changes(0, 100_000).await.unwrap();
        assert!(all
            .iter()
            .all(|c| c.doc != "doomed" || c.kind == ChangeKind::Deleted));
        assert!(store.list("doomed", None, 10).await.unwrap().is_empty());
    }
    let store = open();
    assert_eq!(
        store.head(&d).await.unwrap(),
        0,
        "still deleted after a reopen"
    );
    // The id starts again at version 1, with a fresh chain.
    let (fresh, hash) = chained(records(1, 2, 0, 100));
    store.append(&d, &fresh, &[]).await.unwrap();
    assert_eq!(store.ops(&d, 0, 9, 9).await.unwrap(), fresh);
    assert_eq!(
        store.verify(&d).await.unwrap(),
        Verification::Intact { version: 2, hash }
    );
}

async fn documents_are_listed_by_prefix_in_pages(open: Open<'_>) {
    let store = open();
    for id in ["list.b", "list.a", "list.a.x", "list-c", "listz"] {
        store
            .append(&doc(id), &records(1, 1, 0, 0), &[])
            .await
            .unwrap();
    }
    let ids = |v: Vec<DocId>| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list("list.", None, 10).await.unwrap()),
        ["list.a", "list.a.x", "list.b"]
    );
    assert_eq!(
        ids(store.list("list.", None, 2).await.unwrap()),
        ["list.a", "list.a.x"]
    );
    assert_eq!(
        ids(store.list("list.", Some("list.a.x"), 2).await.unwrap()),
        ["list.b"]
    );
    assert_eq!(
        ids(store.list("list", Some("list.b"), 10).await.unwrap()),
        ["listz"]
    );
    assert_eq!(
        ids(store.list("list", None, 10).await.unwrap()),
        ["list-c", "list.a", "list.a.x", "list.b", "listz"]
    );
    let summary = store.summary(&doc("list.a")).await.unwrap().unwrap();
    assert_eq!((summary.version, summary.length), (1, 1));
    assert_eq!(store.summary(&doc("list.none")).await.unwrap(), None);
}

async fn a_document_without_ops_is_empty(open: Open<'_>) {
    let store = open();
    let d = doc("never");
    assert_eq!(store.head(&d).await.unwrap(), 0);
    assert_eq!(store.op(&d, 1).await.unwrap(), None);
    assert!(store.ops(&d, 0, 10, 10).await.unwrap().is_empty());
    assert_eq!(
        store.snapshot_at_or_before(&d, 5).await.unwrap(),
        (0, String::new())
    );
    assert_eq!(store.content_at(&d, 0).await.unwrap().to_string(), "");
    let loaded = store.load(&d).await.unwrap();
    assert_eq!((loaded.version, loaded.last_time), (0, 0));
    assert_eq!(loaded.document.to_string(), "");
    assert_eq!(store.version_at_time(&d, u64::MAX).await.unwrap(), 0);
}

async fn appends_read_back_in_order_with_ranges_and_limits(open: Open<'_>) {
    let store = open();
    let d = doc("ranges");
    let first = records(1, 5, 0, 1000);
    store.append(&d, &first, &[]).await.unwrap();
    let second = records(6, 7, 5, 1000);
    store.append(&d, &second, &[]).await.unwrap();
    assert_eq!(store.head(&d).await.unwrap(), 12);
    let all: Vec<OpRecord> = first.iter().chain(&second).cloned().collect();
    assert_eq!(store.ops(&d, 0, 12, usize::MAX).await.unwrap(), all);
    assert_eq!(store.ops(&d, 3, 7, usize::MAX).await.unwrap(), all[3..7]);
    assert_eq!(store.ops(&d, 3, 12, 2).await.unwrap(), all[3..5]);
    assert!(store.ops(&d, 7, 7, 10).await.unwrap().is_empty());
    assert!(store.ops(&d, 9, 4, 10).await.unwrap().is_empty());
    assert!(store.ops(&d, 0, 12, 0).await.unwrap().is_empty());
    // Past the head: only what exists.
    assert_eq!(store.ops(&d, 10, 99, 10).await.unwrap(), all[10..]);
    assert_eq!(store.op(&d, 6).await.unwrap().as_ref(), Some(&all[5]));
    assert_eq!(store.op(&d, 13).await.unwrap(), None);
    assert_eq!(store.op(&d, 0).await.unwrap(), None);
}

async fn content_at_any_version_uses_snapshots_and_replay(open: Open<'_>) {
    let store = open();
    let d = doc("snapshots");
    // Snapshots at 4 and 8, written with the batch that produced them.
    store
        .append(&d, &records(1, 4, 0, 0), &[(4, text_at(4))])
        .await
        .unwrap();
    store
        .append(&d, &records(5, 6, 4, 0), &[(8, text_at(8))])
        .await
        .unwrap();
    for (v, expected) in [(0, 0), (3, 0), (4, 4), (7, 4), (8, 8), (10, 8), (99, 8)] {
        let (at, text) = store.snapshot_at_or_before(&d, v).await.unwrap();
        assert_eq!(at, expected, "snapshot at or before {v}");
        assert_eq!(text, text_at(at));
    }
    for v in 0..=10 {
        let content = store.content_at(&d, v).await.unwrap().to_string();
        assert_eq!(content, text_at(v), "content at {v}");
    }
    let loaded = store.load(&d).await.unwrap();
    assert_eq!(loaded.version, 10);
    assert_eq!(loaded.document.to_string(), text_at(10));
    assert_eq!(loaded.last_time, 10, "the time of the last op");
}

async fn documents_never_see_each_others_keys(open: Open<'_>) {
    let store = open();
    // Ids that are prefixes of each other, and ids that sort between them.
    let ids = ["a", "a.b", "ab", "a-", "b"];
    for (i, id) in ids.iter().enumerate() {
        let n = i as u64 + 1;
        store
            .append(&doc(id), &records(1, n, 0, 0), &[(n, text_at(n))])
            .await
            .unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        let n = i as u64 + 1;
        let d = doc(id);
        assert_eq!(store.head(&d).await.unwrap(), n, "{id}");
        assert_eq!(
            store.ops(&d, 0, u64::MAX, usize::MAX).await.unwrap().len() as u64,
            n
        );
        assert_eq!(
            store.snapshot_at_or_before(&d, u64::MAX).await.unwrap(),
            (n, text_at(n)),
            "{id}"
        );
    }
}

async fn everything_appended_survives_a_reopen(open: Open<'_>) {
    let d = doc("reopen");
    {
        let store = open();
        store
            .append(&d, &records(1, 3, 0, 7), &[(3, text_at(3))])
            .await
            .unwrap();
        store.append(&d, &records(4, 2, 3, 7), &[]).await.unwrap();
        store.flush().await.unwrap();
    }
    let store = open();
    assert_eq!(store.head(&d).await.unwrap(), 5);
    assert_eq!(
        store.content_at(&d, 5).await.unwrap().to_string(),
        text_at(5)
    );
    assert_eq!(
        store.ops(&d, 0, 5, usize::MAX).await.unwrap(),
        [records(1, 3, 0, 7), records(4, 2, 3, 7)].concat()
    );
}

async fn version_at_time_finds_the_last_op_by_then(open: Open<'_>) {
    let store = open();
    let d = doc("times");
    // Times 10, 20, 20, 30, 40: never decreasing, with a tie.
    let times = [10, 20, 20, 30, 40];
    let ops: Vec<OpRecord> = times
        .iter()
        .enumerate()
        .map(|(i, t)| record(i as u64 + 1, i, "x", *t))
        .collect();
    store.append(&d, &ops, &[]).await.unwrap();
    for (ms, version) in [
        (0, 0),
        (9, 0),
        (10, 1),
        (19, 1),
        (20, 3),
        (35, 4),
        (40, 5),
        (99, 5),
    ] {
        assert_eq!(
            store.version_at_time(&d, ms).await.unwrap(),
            version,
            "version at {ms} ms"
        );
    }
}

async fn concurrent_appends_to_many_documents_are_all_durable(open: Open<'_>) {
    const DOCS: u64 = 16;
    const BATCHES: u64 = 10;
    {
        let store = open();
        let mut tasks = Vec::new();
        for n in 0..DOCS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let d = doc(&format!("busy-{n}"));
                for b in 0..BATCHES {
                    let batch = records(b * 3 + 1, 3, (b * 3) as usize, 0);
                    store.append(&d, &batch, &[]).await.expect("append");
                }
            }));
        }
        for task in tasks {
            task.await.expect("appender");
        }
    }
    let store = open();
    for n in 0..DOCS {
        let d = doc(&format!("busy-{n}"));
        assert_eq!(store.head(&d).await.unwrap(), BATCHES * 3);
        assert_eq!(
            store.content_at(&d, BATCHES * 3).await.unwrap().to_string(),
            text_at(BATCHES * 3)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let open = move || -> Arc<dyn Store> { Arc::new(SledStore::open(&path).expect("open sled")) };
    run_contract(&open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_meets_the_contract() {
    let url = postgres::database().await;
    // Each call connects anew (as a restarted node would) to the same database.
    let open = move || -> Arc<dyn Store> {
        let url = url.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                Arc::new(PgStore::connect(&url).await.expect("connect")) as Arc<dyn Store>
            })
        })
    };
    run_contract(&open).await;
}

fn holder(node: &str) -> Holder {
    Holder {
        node: node.into(),
        incarnation: uuid::Uuid::new_v4().to_string(),
        addr: format!("{node}.test:8080"),
    }
}

fn granted(claim: Claim) -> Lease {
    match claim {
        Claim::Granted(lease) => lease,
        Claim::Held(owner) => panic!("expected a grant, the lease is held by {owner:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leases_fence_commits() {
    let url = postgres::database().await;
    let store = PgStore::connect(&url).await.expect("connect");
    let (a, b) = (holder("a"), holder("b"));
    let d = doc("leased");
    let long = Duration::from_secs(60);

    // A free document is granted, epoch 1; its holder may claim again (a new epoch).
    let first = granted(store.claim(&d, &a, long).await.unwrap());
    assert_eq!(first.epoch, 1);
    let second = granted(store.claim(&d, &a, long).await.unwrap());
    assert_eq!(second.epoch, 2);
    // Held and unexpired: another holder learns who owns it and where.
    match store.claim(&d, &b, long).await.unwrap() {
        Claim::Held(owner) => {
            assert_eq!(
                (owner.node.as_str(), owner.addr.as_str()),
                ("a", "a.test:8080")
            );
            assert_eq!(owner.epoch, 2);
            assert!(owner.remaining > Duration::from_secs(50), "{owner:?}");
        }
        Claim::Granted(lease) => panic!("granted a held lease: {lease:?}"),
    }
    // Commits under the current epoch land; under the stale one they are refused, whole.
    store
        .append_fenced(&d, second, &records(1, 2, 0, 0), &[])
        .await
        .unwrap();
    let refused = store
        .append_fenced(&d, first, &records(3, 1, 2, 0), &[(3, text_at(3))])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { epoch: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(store.head(&d).await.unwrap(), 2);
    assert_eq!(store.snapshot_at_or_before(&d, 9).await.unwrap().0, 0);

    // Released: another holder takes it at once, with a higher epoch, and the old one is fenced.
    store.release(&d, &a, second).await.unwrap();
    let third = granted(store.claim(&d, &b, long).await.unwrap());
    assert_eq!(third.epoch, 3);
    let stale = store
        .append_fenced(&d, second, &records(3, 1, 2, 0), &[])
        .await;
    assert!(matches!(stale, Err(StoreError::Fenced { .. })), "{stale:?}");
    store
        .append_fenced(&d, third, &records(3, 1, 2, 0), &[])
        .await
        .unwrap();

    // A version already stored is refused (whole), however the writer came to make it.
    let taken = store
        .append_fenced(&d, third, &records(3, 2, 2, 0), &[])
        .await;
    assert!(
        matches!(taken, Err(StoreError::VersionTaken { version: 3, .. })),
        "{taken:?}"
    );
    let taken = store.append(&d, &records(2, 1, 1, 0), &[]).await;
    assert!(
        matches!(taken, Err(StoreError::VersionTaken { .. })),
        "{taken:?}"
    );
    // And a gap is refused too.
    let gap = store.append(&d, &records(9, 1, 8, 0), &[]).await;
    assert!(matches!(gap, Err(StoreError::Corrupt { .. })), "{gap:?}");
    assert_eq!(store.head(&d).await.unwrap(), 3);
    assert_eq!(
        store.content_at(&d, 3).await.unwrap().to_string(),
        text_at(3)
    );

    // Expiry: a short lease that is not renewed is taken by the next claimant.
    let e = doc("expiring");
    let short = Duration::from_millis(300);
    let old = granted(store.claim(&e, &a, short).await.unwrap());
    assert!(matches!(
        store.claim(&e, &b, short).await.unwrap(),
        Claim::Held(_)
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let new = granted(store.claim(&e, &b, long).await.unwrap());
    assert!(new.epoch > old.epoch);
    // renew_all extends only what the holder still has.
    assert!(
        store.renew_all(&a, long).await.unwrap().is_empty(),
        "a holds nothing now"
    );
    let theirs = store.renew_all(&b, long).await.unwrap();
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    assert!(theirs.contains(&(e.clone(), new)) && theirs.contains(&(d.clone(), third)));
    let owner = store.owner(&e).await.unwrap().expect("an owner");
    assert_eq!((owner.node.as_str(), owner.epoch), ("b", new.epoch));
    assert_eq!(store.owner(&doc("nobody")).await.unwrap(), None);

    // The peer secret is made once and the same for every node.
    let secret = store.peer_secret().await.unwrap();
    assert!(secret.len() >= 32);
    let other = PgStore::connect(&url).await.expect("connect");
    assert_eq!(other.peer_secret().await.unwrap(), secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_claims_grant_one_owner_and_one_history() {
    let url = postgres::database().await;
    let d = doc("contended");
    let mut tasks = Vec::new();
    for n in 0..6 {
        let url = url.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let store = PgStore::connect(&url).await.expect("connect");
            let me = holder(&format!("n{n}"));
            match store.claim(&d, &me, Duration::from_secs(60)).await.unwrap() {
                Claim::Granted(lease) => {
                    // The winner commits, and a second commit of the same versions fails.
                    store
                        .append_fenced(&d, lease, &records(1, 3, 0, 0), &[])
                        .await
                        .unwrap();
                    1
                }
                Claim::Held(_) => 0,
            }
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += task.await.unwrap();
    }
    assert_eq!(winners, 1, "exactly one node owns the document");
    let store = PgStore::connect(&url).await.expect("connect");
    assert_eq!(store.head(&d).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_schema_from_a_newer_build() {
    let url = postgres::database().await;
    PgStore::connect(&url).await.expect("first start migrates");
    let db = postgres::client(&url).await;
    let applied: i64 = db
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert!(applied >= 1);
    // A second start applies nothing again.
    PgStore::connect(&url).await.expect("second start");
    let again: i64 = db
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(again, applied);
    db.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')",
        &[],
    )
    .await
    .unwrap();
    let err = PgStore::connect(&url).await.err().expect("refused");
    let message = err.to_string();
    assert!(message.contains("schema version 999"), "{message}");
}
