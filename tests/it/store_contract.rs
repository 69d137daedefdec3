//! The contract of the storage boundary (`otterdoc::store::Store`), written once against the
//! trait and run against every implementation: each `#[tokio::test]` at the bottom runs the
//! whole suite on one backend. A new backend adds one such test and must pass all of it.

use std::sync::Arc;

use ot::Operation;
use otterdoc::doc_id::DocId;
use otterdoc::store::{OpRecord, SledStore, Store};

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
    }
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
