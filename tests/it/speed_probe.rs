//! The history read-speed bench (not a timed test: it prints figures and asserts only that the
//! reads are right, never how long they took). The test command runs it small (20,000 ops);
//! the figures in the closing note come from 10^6. It writes a document of `N` ops (a
//! 100-character text, a snapshot every 1000 ops, as `--snapshot-interval` 1000 does) straight
//! into a `SledStore`, then times reading versions across it (each one snapshot read plus fewer
//! than 1000 ops), a diff between far-apart versions from the texts at both ends, and, for
//! comparison, reading every record (what a full replay would need). Run:
//! `N=1000000 cargo test --release --test it speed_probe`, with cargo's option to show output.

use ot::Operation;
use otterdoc::doc_id::DocId;
use otterdoc::store::{ChainHash, OpRecord, SledStore, Store};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_probe() {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    assert!(
        n >= 1000 && n.is_multiple_of(1000),
        "N is a multiple of 1000"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let d = DocId::parse("big").unwrap();
    let mut doc = ot::Document::from_text("");
    let mut hash = ChainHash::GENESIS;
    let t = Instant::now();
    let mut v = 0u64;
    while v < n {
        let mut batch = Vec::new();
        let mut snaps = Vec::new();
        for _ in 0..1000 {
            v += 1;
            let len = doc.char_len();
            let op = if len < 100 {
                Operation::splice(len, len, 0, "x").unwrap()
            } else {
                Operation::splice(len, (v as usize) % len, 1, "y").unwrap()
            };
            doc.apply(&op).unwrap();
            let mut r = OpRecord {
                version: v,
                op,
                client: "c".into(),
                seq: v,
                user: "u".into(),
                time: v,
                hash: ChainHash::GENESIS,
            };
            hash = r.chain_after(&hash);
            batch.push(r);
            if v.is_multiple_of(1000) {
                snaps.push((v, doc.to_string()));
            }
        }
        store.append(&d, &batch, &snaps).await.unwrap();
    }
    eprintln!("wrote {n} ops in {:?}", t.elapsed());
    assert_eq!(
        store.content_at(&d, n).await.unwrap().to_string(),
        doc.to_string()
    );
    for target in [1, n / 3, n / 2 + 777, n - 1, n] {
        let t = Instant::now();
        let text = store.content_at(&d, target).await.unwrap();
        eprintln!(
            "content_at({target}) {:?} ({} chars)",
            t.elapsed(),
            text.char_len()
        );
    }
    let t = Instant::now();
    let a = store.content_at(&d, 10).await.unwrap().to_string();
    let b = store.content_at(&d, n - 5).await.unwrap().to_string();
    let op = otterdoc::document::text_diff(&a, &b);
    assert_eq!(
        op.apply(&a).unwrap(),
        b,
        "the diff turns one end into the other"
    );
    eprintln!(
        "diff 10..{} via both ends: {:?} ({})",
        n - 5,
        t.elapsed(),
        op.to_json().len()
    );
    let t = Instant::now();
    let all = store.ops(&d, 0, n, usize::MAX).await.unwrap();
    assert_eq!(all.len() as u64, n);
    eprintln!(
        "reading all {} records (what a replay would need): {:?}",
        all.len(),
        t.elapsed()
    );
}
