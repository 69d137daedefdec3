//! `fanout`: one writer submits N ops at a fixed rate R (on a timer, not waiting for acks),
//! while S subscribers, each on its own connection, receive them. Delivery latency is from the
//! SEND to each subscriber's receipt of the op; the server's CPU is divided by the deliveries.
//! The writer runs on a thread of its own, so its timer and receipts never queue behind the
//! subscribers' work in the bench.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures::future::join_all;
use otterdoc::stomp::Command;
use tokio::sync::Barrier;

use super::{progress, source_address, Context, Outcome};
use crate::procstat::{Meter, Pid};
use crate::report::{Latencies, Measured, Params, Report};
use crate::stats::Samples;
use crate::stomp::{send_frame, Conn};

/// How many subscribers connect at once.
const CONNECT_CONCURRENCY: usize = 256;

/// What the writer saw: per seq, when it was sent and the version its receipt named.
struct Written {
    sent: Vec<Instant>,
    version: HashMap<u64, u64>,
    ack: Samples,
    behind: usize,
}

async fn write(
    addr: std::net::SocketAddr,
    doc: String,
    ops: usize,
    rate: f64,
    go: Arc<std::sync::Barrier>,
) -> anyhow::Result<Written> {
    let mut conn = Conn::open(addr, None).await?;
    go.wait();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut written = Written {
        sent: Vec::with_capacity(ops),
        version: HashMap::with_capacity(ops),
        ack: Samples::default(),
        behind: 0,
    };
    let mut base = 0u64;
    while written.version.len() < ops {
        tokio::select! {
            _ = tick.tick(), if written.sent.len() < ops => {
                let seq = written.sent.len() as u64 + 1;
                if written.sent.len() - written.version.len() > 1000 {
                    written.behind += 1;
                }
                let body = serde_json::json!({"client": "writer", "seq": seq, "base": base, "op": ["x"]});
                written.sent.push(Instant::now());
                conn.send(&send_frame(&doc, body.to_string(), &seq.to_string())).await?;
            }
            frame = conn.next() => {
                let frame = frame?;
                if frame.command != Command::Receipt {
                    bail!("writer got {frame:?}");
                }
                if let Some(error) = frame.header("error") {
                    bail!("writer op rejected: {error}");
                }
                let seq: u64 = frame.header("receipt-id").and_then(|r| r.parse().ok()).context("receipt-id")?;
                let version: u64 = frame.header("version").and_then(|v| v.parse().ok()).context("version")?;
                let index = usize::try_from(seq - 1)?;
                written.ack.push(Instant::now() - written.sent[index]);
                written.version.insert(version, seq);
                base = base.max(version);
            }
        }
    }
    conn.close().await;
    Ok(written)
}

/// Runs the scenario.
pub(crate) async fn run(
    ctx: &Context,
    subscribers: usize,
    rate: f64,
    ops: usize,
) -> anyhow::Result<Outcome> {
    if subscribers == 0 || ops == 0 || rate.is_nan() || rate <= 0.0 {
        bail!("--subscribers, --ops and --rate must be positive");
    }
    let addr = ctx.server.addr;
    let doc = format!(
        "bench-fanout-{:x}",
        ctx.seed ^ u64::from(std::process::id())
    );
    let bar = progress(subscribers as u64, "connecting subscribers");
    let mut subs = Vec::with_capacity(subscribers);
    for chunk_start in (0..subscribers).step_by(CONNECT_CONCURRENCY) {
        let end = (chunk_start + CONNECT_CONCURRENCY).min(subscribers);
        let doc = &doc;
        let opened = join_all((chunk_start..end).map(|n| async move {
            let mut conn = Conn::open(addr, source_address(n)).await?;
            conn.subscribe("s", &format!("/topic/doc/{doc}"), &[])
                .await?;
            anyhow::Ok(conn)
        }))
        .await;
        for conn in opened {
            subs.push(conn?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let bar = progress((ops * subscribers) as u64, "fanout deliveries");
    // Each subscriber records (version, arrival) of every op until it has seen all of them.
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let mut tasks = Vec::with_capacity(subscribers);
    for mut conn in subs {
        let (ready, bar) = (ready.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            ready.wait().await;
            let mut seen = Vec::with_capacity(ops);
            while seen.len() < ops {
                let frame = conn.next().await?;
                let version = frame
                    .header("message-id")
                    .and_then(|id| id.rsplit('-').next())
                    .and_then(|v| v.parse::<u64>().ok())
                    .with_context(|| format!("subscriber got {frame:?}"))?;
                seen.push((version, Instant::now()));
                bar.inc(1);
            }
            conn.close().await;
            anyhow::Ok(seen)
        }));
    }
    ready.wait().await;
    let go = Arc::new(std::sync::Barrier::new(2));
    let writer = {
        let (doc, go) = (doc.clone(), go.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("writer runtime")?
                .block_on(write(addr, doc, ops, rate, go))
        })
    };
    // The writer connects first; the measurement starts when it is about to send.
    tokio::task::spawn_blocking(move || go.wait()).await?;
    let server = Meter::start(Pid::Of(ctx.server.pid))?;
    let client = Pid::Own.cpu()?;
    let start = Instant::now();
    let mut delivered = Vec::with_capacity(subscribers);
    for task in tasks {
        delivered.push(task.await.context("subscriber task")??);
    }
    let written = tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    let wall = start.elapsed();
    let client_cpu = Pid::Own.cpu()?.saturating_sub(client);
    let usage = server.stop()?;
    bar.finish_and_clear();

    let mut delivery = Samples::default();
    let mut in_order = true;
    for seen in &delivered {
        for (i, (version, at)) in seen.iter().enumerate() {
            in_order &= *version == i as u64 + 1;
            if let Some(seq) = written.version.get(version) {
                let sent = written.sent[usize::try_from(seq - 1)?];
                delivery.push(at.saturating_duration_since(sent));
            }
        }
    }
    let measured = Measured {
        wall,
        ops: ops as u64,
        deliveries: (ops * subscribers) as u64,
        server: usage,
        client_cpu,
        connections: None,
    };
    let latencies = Latencies {
        ack: written.ack.summary(),
        echo: None,
        broadcast: None,
        delivery: delivery.summary(),
    };
    let params = Params {
        subscribers: Some(subscribers),
        ops: Some(ops),
        rate: Some(rate),
        docs: Some(1),
        seed: ctx.seed,
        ..Params::default()
    };
    let mut report = Report::new("fanout", params, ctx.server.pid, &measured, latencies);
    report.converged = Some(in_order);
    if !in_order {
        report
            .notes
            .push("a subscriber saw versions out of order or with a gap".into());
    }
    if written.behind > 0 {
        report.notes.push(format!(
            "the server fell more than 1000 acks behind the rate {} times",
            written.behind
        ));
    }
    Ok(Outcome {
        report,
        samples: vec![("ack", written.ack), ("delivery", delivery)],
    })
}
