//! `idle`: N connections, each CONNECTed (heart-beats off) and subscribed to one document,
//! then idle. The server's RSS is read before the first and after the last (once it has
//! settled), and divided by N. The document is opened beforehand, so its own memory is not
//! counted against the connections.

use std::time::{Duration, Instant};

use anyhow::bail;
use futures::future::join_all;

use super::{progress, source_address, Context, Outcome};
use crate::procstat::{Meter, Pid};
use crate::report::{Latencies, Measured, Params, Report};
use crate::stomp::Conn;

/// How many connections are opened at once.
const CONNECT_CONCURRENCY: usize = 256;
/// File descriptors kept for everything but the connections.
const SPARE_FDS: u64 = 256;

/// Runs the scenario.
pub(crate) async fn run(
    ctx: &Context,
    connections: usize,
    settle: Duration,
) -> anyhow::Result<Outcome> {
    if connections == 0 {
        bail!("--connections must be at least 1");
    }
    let mut notes = Vec::new();
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE)?.0;
    let possible = usize::try_from(limit.saturating_sub(SPARE_FDS)).unwrap_or(usize::MAX);
    let n = if connections > possible {
        notes.push(format!(
            "the open-file limit ({limit}) allows only {possible} connections, not {connections}: raise `ulimit -n`"
        ));
        possible
    } else {
        connections
    };
    let addr = ctx.server.addr;
    let doc = format!("bench-idle-{:x}", ctx.seed ^ u64::from(std::process::id()));
    let destination = format!("/topic/doc/{doc}");
    // Open the document (and let the server warm up) with one connection that stays.
    let mut warm = Conn::open(addr, None).await?;
    warm.subscribe("w", &destination, &[]).await?;
    tokio::time::sleep(settle).await;
    let server = Meter::start(Pid::Of(ctx.server.pid))?;
    let client = Pid::Own.cpu()?;
    let start = Instant::now();
    let bar = progress(n as u64, "idle connections");
    let mut open = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(CONNECT_CONCURRENCY) {
        let end = (chunk_start + CONNECT_CONCURRENCY).min(n);
        let destination = &destination;
        let opened = join_all((chunk_start..end).map(|i| async move {
            let mut conn = Conn::open(addr, source_address(i)).await?;
            conn.subscribe("s", destination, &[]).await?;
            anyhow::Ok(conn)
        }))
        .await;
        for conn in opened {
            open.push(conn?);
            bar.inc(1);
        }
    }
    let wall = start.elapsed();
    bar.finish_and_clear();
    tokio::time::sleep(settle).await;
    let client_cpu = Pid::Own.cpu()?.saturating_sub(client);
    let usage = server.stop()?;
    let own_rss = Pid::Own.rss_kib()?;
    notes.push(format!(
        "the bench itself holds {own_rss} KiB for {n} client connections"
    ));
    for conn in open {
        drop(conn);
    }
    warm.close().await;
    let measured = Measured {
        wall,
        ops: 0,
        deliveries: 0,
        server: usage,
        client_cpu,
        connections: Some(n),
    };
    let params = Params {
        connections: Some(n),
        docs: Some(1),
        seed: ctx.seed,
        ..Params::default()
    };
    let mut report = Report::new(
        "idle",
        params,
        ctx.server.pid,
        &measured,
        Latencies::default(),
    );
    // Connecting as fast as possible is not the idle state being measured.
    report.client.saturated = false;
    report.notes.retain(|n| !n.contains("load generator used"));
    report.notes.extend(notes);
    Ok(Outcome {
        report,
        samples: Vec::new(),
    })
}
