//! Arbitrary client bytes through a whole STOMP session, in process: one server (a document
//! registry over a sled store in a temp directory, with small limits so inputs reach them) is
//! shared by every run; each input is one connection, its bytes split into transport messages
//! at every 0xFF byte (a byte that never occurs in UTF-8, so seeds stay readable). The session
//! must end once the client closes (no hang), never panic (a panic in any task aborts the
//! fuzzer), and everything it writes must be well-formed STOMP: server frames only, and at most
//! one ERROR, as the last frame.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use otterdoc::app::App;
use otterdoc::session::{self, Peer};
use otterdoc::stomp::{Command, FrameParser, Inbound, Parsed};
use otterdoc::store::SledStore;
use otterdoc::Config;

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: App,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // The directory lives as long as the fuzzer process.
        let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
        let mut config = Config::new(
            "127.0.0.1:0".parse().expect("address"),
            dir.path().join("data"),
        );
        config.max_frame_bytes = 2048;
        config.max_op_bytes = 1024;
        config.max_doc_bytes = 8192;
        config.snapshot_interval = 3;
        config.idle_doc_ms = 50;
        config.max_subscriptions = 8;
        config.max_transactions = 4;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime.block_on(async {
            let store = Arc::new(SledStore::open(&config.data).expect("sled"));
            App::new(config, store).expect("app")
        });
        Harness { runtime, app }
    })
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let (to_server, inbound) = mpsc::unbounded::<Result<Inbound, std::io::Error>>();
    let (outbound, from_server) = mpsc::unbounded::<Bytes>();
    for message in data.split(|&b| b == 0xFF) {
        to_server
            .unbounded_send(Ok(Inbound::Data(Bytes::copy_from_slice(message))))
            .expect("the session's inbound");
    }
    let written: Vec<Bytes> = harness.runtime.block_on(async {
        let session = tokio::spawn(session::run(
            harness.app.clone(),
            Peer::default(),
            inbound,
            outbound,
        ));
        // Time for the session and the document tasks to answer what they were sent (receipts,
        // messages, errors) before the client goes away.
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        // The client closes; the transport is gone (the lingering close ends at once).
        let _ = to_server.unbounded_send(Ok(Inbound::Close));
        drop(to_server);
        // Under libFuzzer's own -timeout (10 s in run.sh), so this message is what a hang shows.
        tokio::time::timeout(Duration::from_secs(5), session)
            .await
            .expect("the session ends once the client has closed")
            .expect("the session task");
        from_server.collect().await
    });

    let mut parser = FrameParser::new(usize::MAX);
    for chunk in &written {
        parser.push(chunk);
    }
    let mut frames = Vec::new();
    loop {
        match parser.next_frame() {
            Ok(Some(Parsed::Frame(frame))) => frames.push(frame),
            Ok(Some(Parsed::HeartBeat)) => {}
            Ok(None) => break,
            Err(err) => panic!("the server wrote malformed STOMP: {err}"),
        }
    }
    assert_eq!(parser.buffered(), 0, "the server wrote a partial frame");
    for (i, frame) in frames.iter().enumerate() {
        match frame.command {
            Command::Connected | Command::Message | Command::Receipt => {}
            Command::Error => assert_eq!(i, frames.len() - 1, "an ERROR is the last frame"),
            other => panic!("the server wrote a client frame: {other:?}"),
        }
    }
});
