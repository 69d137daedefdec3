//! Reading a document back over HTTP and replaying its history: `GET /docs/<id>`, every page of
//! `GET /docs/<id>/ops`, and the text at every version rebuilt from the stored ops.

use std::net::SocketAddr;

use serde_json::Value;

use super::http::get;

/// Applies an op as the server returned it (wire JSON, spanning the whole document) to `text`.
pub fn apply(text: &str, op: &Value) -> String {
    let parsed: ot::Operation = serde_json::from_value(op.clone())
        .unwrap_or_else(|e| panic!("the server's op {op} does not parse: {e}"));
    parsed
        .apply(text)
        .unwrap_or_else(|e| panic!("the server's op {op} does not apply to {text:?}: {e}"))
}

/// Replays op records (as listed by `GET /docs/<id>/ops`) from the empty document: the text at
/// every version, so `[n]` is the content at version `n` and `.last()` the content after all of
/// them.
pub fn replay(records: &[Value]) -> Vec<String> {
    let mut texts = vec![String::new()];
    for record in records {
        let next = apply(texts.last().expect("text"), &record["op"]);
        texts.push(next);
    }
    texts
}

/// `GET /docs/<doc>` that must succeed: (version, content). `doc` may carry a query, as in
/// `"notes?version=3"`.
pub async fn get_doc(addr: SocketAddr, doc: &str) -> (u64, String) {
    let path = format!("/docs/{doc}");
    let (status, body) = get(addr, &path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    let version = body["version"].as_u64().expect("version");
    let content = body["content"].as_str().expect("content").to_owned();
    (version, content)
}

/// Every op record of `doc`, following `next` through all pages of `GET /docs/<doc>/ops`
/// (`limit` ops a page, at most the server's largest page; `None`: the server's default), and
/// checking the pages on the way: they are for `doc`, the versions are 1, 2, 3… with no gap, a
/// page is never over `limit`, and a page with a `next` is full (not empty) and ends at `next`.
pub async fn all_ops(addr: SocketAddr, doc: &str, limit: Option<usize>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut from = 0u64;
    let mut pages = 0;
    loop {
        let path = match limit {
            Some(limit) => format!("/docs/{doc}/ops?from={from}&limit={limit}"),
            None => format!("/docs/{doc}/ops?from={from}"),
        };
        let (status, page) = get(addr, &path).await;
        assert_eq!(status, 200, "GET {path}: {page}");
        pages += 1;
        assert_eq!(page["doc"], doc, "{page}");
        let ops = page["ops"].as_array().expect("ops array");
        if let Some(limit) = limit {
            assert!(
                ops.len() <= limit,
                "page of {} ops over limit {limit}",
                ops.len()
            );
        }
        for op in ops {
            assert_eq!(
                op["version"],
                out.len() as u64 + 1,
                "versions are consecutive from 1: page from {from}: {page}"
            );
            out.push(op.clone());
        }
        match &page["next"] {
            Value::Null => return out,
            next => {
                let next = next.as_u64().expect("next is a version or null");
                assert!(!ops.is_empty(), "a page with a next is not empty: {page}");
                if let Some(limit) = limit {
                    assert_eq!(ops.len(), limit, "a page with a next is full: {page}");
                }
                assert_eq!(
                    next,
                    out.len() as u64,
                    "next is the last version of the page"
                );
                from = next;
            }
        }
        assert!(pages < 10_000, "too many pages");
    }
}

/// `hash_0`, the hash chain's link at version 0, as the server writes it.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `body` without its `hash` field, after checking that it is one (64 lowercase hex digits),
/// so the rest of a body whose hash depends on times can be compared exactly.
pub fn without_hash(mut body: Value) -> Value {
    let hash = body
        .as_object_mut()
        .and_then(|map| map.remove("hash"))
        .unwrap_or_else(|| panic!("{body} has no hash"));
    let hash = hash
        .as_str()
        .unwrap_or_else(|| panic!("hash {hash} is not a string"));
    assert!(
        hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "hash {hash:?} is not 64 lowercase hex digits"
    );
    body
}
