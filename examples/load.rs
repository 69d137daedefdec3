//! A load generator for otterdoc: N STOMP clients, each submitting ops one at a time (the
//! ot.js discipline: one op in flight, the next sent when the RECEIPT says the previous is
//! durable) against a shared set of documents. Prints throughput and receipt latency.
//!
//! ```sh
//! cargo run --release --example load -- --clients 32 --docs 4 --ops 500
//! cargo run --release --example load -- --url ws://127.0.0.1:8080/ws   # against a running server
//! ```
//! Without `--url` it starts a server in-process on a loopback port with a temp data dir.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use otterdoc::stomp::{Command, FrameParser, Parsed, StompFrame};
use tokio_tungstenite::tungstenite::Message;

struct Args {
    url: Option<String>,
    clients: usize,
    docs: usize,
    ops: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: None,
        clients: 16,
        docs: 1,
        ops: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = Some(value),
            "--clients" => args.clients = value.parse().expect("--clients N"),
            "--docs" => args.docs = value.parse().expect("--docs N"),
            "--ops" => args.ops = value.parse().expect("--ops N"),
            other => panic!("unknown flag {other}; use --url, --clients, --docs, --ops"),
        }
    }
    args
}

async fn client(url: String, doc: String, name: String, ops: usize) -> Vec<Duration> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connect");
    let mut parser = FrameParser::new(1 << 20);
    let connect = StompFrame::new(Command::Connect)
        .with_header("accept-version", "1.2")
        .with_header("heart-beat", "0,0");
    ws.send(Message::binary(connect.encode()))
        .await
        .expect("send");
    let next_frame = async |ws: &mut tokio_tungstenite::WebSocketStream<_>,
                            parser: &mut FrameParser| loop {
        if let Some(Parsed::Frame(f)) = parser.next_frame().expect("valid frame") {
            return f;
        }
        match ws.next().await {
            Some(Ok(Message::Text(t))) => parser.push(t.as_bytes()),
            Some(Ok(Message::Binary(b))) => parser.push(&b),
            Some(Ok(_)) => {}
            _ => panic!("connection closed"),
        }
    };
    let connected = next_frame(&mut ws, &mut parser).await;
    assert_eq!(connected.command, Command::Connected);
    let mut latencies = Vec::with_capacity(ops);
    let mut base = 0u64;
    for seq in 1..=ops {
        let body = serde_json::json!({"client": name, "seq": seq, "base": base, "op": ["x"]});
        let send = StompFrame::new(Command::Send)
            .with_header("destination", format!("/app/doc/{doc}"))
            .with_header("receipt", seq.to_string())
            .with_body(body.to_string());
        let started = Instant::now();
        ws.send(Message::binary(send.encode())).await.expect("send");
        let receipt = next_frame(&mut ws, &mut parser).await;
        latencies.push(started.elapsed());
        assert_eq!(receipt.command, Command::Receipt, "{receipt:?}");
        base = receipt
            .header("version")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("op rejected: {receipt:?}"));
    }
    let _ = ws.close(None).await;
    latencies
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, server) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
            let config = otterdoc::Config::new(
                "127.0.0.1:0".parse().expect("addr"),
                dir.path().join("data"),
            );
            let server = otterdoc::Server::start(config)
                .await
                .expect("server starts");
            (format!("ws://{}/ws", server.local_addr()), Some(server))
        }
    };
    let run = format!("load-{}", std::process::id());
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|i| {
            let doc = format!("{run}-{}", i % args.docs.max(1));
            tokio::spawn(client(url.clone(), doc, format!("c{i}"), args.ops))
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    let total = latencies.len();
    println!(
        "clients={} docs={} ops={} total_ops={} elapsed={:.2}s throughput={:.0} ops/s receipt_latency p50={:.2?} p99={:.2?} max={:.2?}",
        args.clients,
        args.docs,
        args.ops,
        total,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        latencies[total - 1],
    );
    if let Some(server) = server {
        server.shutdown().await;
    }
}
