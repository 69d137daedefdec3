//! A first end-to-end pass: connect, subscribe, submit with a receipt, see the op.
use crate::common::TestServer;
use serde_json::json;

#[tokio::test]
async fn submit_and_receive_an_op() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let before = c.subscribe_confirmed("s1", "/topic/doc/hello", &[]).await;
    assert_eq!(before.len(), 1);
    let snap = crate::common::stomp::body_json(&before[0]);
    assert_eq!(
        snap,
        json!({"type":"snapshot","doc":"hello","version":0,"content":"","hash":crate::common::history::GENESIS_HASH})
    );
    c.send_op(
        "hello",
        &json!({"client":"c1","seq":1,"base":0,"op":["hi"]}),
        Some("r1"),
    )
    .await;
    let (frames, receipt) = c.until_receipt("r1").await;
    assert_eq!(receipt.header("version"), Some("1"));
    let mut all = frames;
    if all.is_empty() {
        all.push(c.frame().await);
    }
    let ev = crate::common::stomp::body_json(&all[0]);
    assert_eq!(ev["version"], 1);
    assert_eq!(ev["op"], json!(["hi"]));
    let (status, body) = server.get("/docs/hello").await;
    assert_eq!(status, 200);
    // The content comes with the hash of its version: the op event's.
    assert_eq!(body["hash"], ev["hash"]);
    assert_eq!(
        crate::common::history::without_hash(body),
        json!({"doc":"hello","version":1,"content":"hi"})
    );
}
