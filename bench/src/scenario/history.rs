//! `history`: a document with H ops, built by one STOMP writer keeping W SENDs in flight
//! (bulk throughput is reported too); then, over HTTP, the content at random versions, pages of
//! the op log, and a cold load — the first read of the document after a restart of the server,
//! which loads it from the newest snapshot plus the ops after it.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{bail, Context as _};
use otterdoc::stomp::Command;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{progress, Context, Outcome};
use crate::procstat::{Meter, Pid};
use crate::report::{Latencies, Measured, Params, Report};
use crate::stats::Samples;
use crate::stomp::{send_frame, Conn};

/// Ops per page read back (the server's largest page).
const PAGE: u64 = 1000;

/// Builds the history: `ops` one-character inserts at random positions, `window` in flight.
async fn build(ctx: &Context, doc: &str, ops: u64, window: usize) -> anyhow::Result<Samples> {
    let mut conn = Conn::open(ctx.server.addr, None).await?;
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    let bar = progress(ops, "building history");
    let mut ack = Samples::default();
    let mut outstanding: std::collections::HashMap<u64, Instant> = Default::default();
    let (mut sent, mut acked, mut base) = (0u64, 0u64, 0u64);
    while acked < ops {
        while sent < ops && outstanding.len() < window {
            sent += 1;
            // Every op inserts one character, so the text at version `base` has `base` of them.
            let pos = rng.random_range(0..=base);
            // A zero retain is not a component: an insert at 0 is just the insert.
            let op = if pos == 0 {
                serde_json::json!(["x"])
            } else {
                serde_json::json!([pos, "x"])
            };
            let body =
                serde_json::json!({"client": "history", "seq": sent, "base": base, "op": op});
            outstanding.insert(sent, Instant::now());
            conn.send(&send_frame(doc, body.to_string(), &sent.to_string()))
                .await?;
        }
        let frame = conn.next().await?;
        if frame.command != Command::Receipt || frame.header("error").is_some() {
            bail!("history writer got {frame:?}");
        }
        let seq: u64 = frame
            .header("receipt-id")
            .and_then(|r| r.parse().ok())
            .context("receipt-id")?;
        let version: u64 = frame
            .header("version")
            .and_then(|v| v.parse().ok())
            .context("version")?;
        if let Some(at) = outstanding.remove(&seq) {
            ack.push(at.elapsed());
        }
        acked += 1;
        base = base.max(version);
        bar.inc(1);
    }
    bar.finish_and_clear();
    conn.close().await;
    Ok(ack)
}

/// Runs the scenario.
pub(crate) async fn run(
    ctx: &mut Context,
    ops: u64,
    window: usize,
    reads: usize,
) -> anyhow::Result<Outcome> {
    if ops == 0 || window == 0 || reads == 0 {
        bail!("--ops, --window and --reads must be at least 1");
    }
    let doc = format!(
        "bench-history-{:x}",
        ctx.seed ^ u64::from(std::process::id())
    );
    let server = Meter::start(Pid::Of(ctx.server.pid))?;
    let client = Pid::Own.cpu()?;
    let start = Instant::now();
    let ack = build(ctx, &doc, ops, window).await?;
    let build_wall = start.elapsed();
    let client_cpu = Pid::Own.cpu()?.saturating_sub(client);
    let usage = server.stop()?;

    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x5eed);
    let get = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(url).send().await?;
            if !response.status().is_success() {
                bail!("GET answered {}", response.status());
            }
            anyhow::Ok(response.json::<serde_json::Value>().await?)
        }
    };
    let addr = ctx.server.addr;
    let mut content_at = Samples::default();
    let mut wrong = HashSet::new();
    for _ in 0..reads {
        let v = rng.random_range(0..=ops);
        let t = Instant::now();
        let body = get(format!("http://{addr}/docs/{doc}?version={v}")).await?;
        content_at.push(t.elapsed());
        // Every op inserted one "x": the text at version v is v of them.
        if body["content"].as_str().map(|c| c.len() as u64) != Some(v) {
            wrong.insert(v);
        }
    }
    let mut pages = Samples::default();
    for _ in 0..reads {
        let from = rng.random_range(0..ops);
        let t = Instant::now();
        let body = get(format!(
            "http://{addr}/docs/{doc}/ops?from={from}&limit={PAGE}"
        ))
        .await?;
        pages.push(t.elapsed());
        let expected = (ops - from).min(PAGE) as usize;
        if body["ops"].as_array().map(Vec::len) != Some(expected) {
            wrong.insert(from);
        }
    }
    ctx.server.restart().await?;
    let addr = ctx.server.addr;
    let t = Instant::now();
    let body = get(format!("http://{addr}/docs/{doc}")).await?;
    let cold = t.elapsed();
    let cold_ok = body["version"].as_u64() == Some(ops);
    let t = Instant::now();
    get(format!("http://{addr}/docs/{doc}?version={}", ops / 2)).await?;
    let cold_version = t.elapsed();

    let measured = Measured {
        wall: build_wall,
        ops,
        deliveries: 0,
        server: usage,
        client_cpu,
        connections: None,
    };
    let latencies = Latencies {
        ack: ack.summary(),
        ..Latencies::default()
    };
    let params = Params {
        ops: Some(usize::try_from(ops)?),
        docs: Some(1),
        seed: ctx.seed,
        ..Params::default()
    };
    let mut report = Report::new("history", params, ctx.server.pid, &measured, latencies);
    report.converged = Some(wrong.is_empty() && cold_ok);
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    report.extra.insert(
        "content_at_version_ms".into(),
        serde_json::to_value(content_at.summary())?,
    );
    report
        .extra
        .insert("ops_page_ms".into(), serde_json::to_value(pages.summary())?);
    report.extra.insert("cold_load_ms".into(), ms(cold).into());
    report
        .extra
        .insert("cold_content_at_version_ms".into(), ms(cold_version).into());
    report.extra.insert("window".into(), window.into());
    report.notes.push(format!(
        "wall, ops/s and ack are for building the history with {window} SENDs in flight"
    ));
    if !wrong.is_empty() {
        report
            .notes
            .push(format!("{} reads answered the wrong content", wrong.len()));
    }
    Ok(Outcome {
        report,
        samples: vec![("content at version", content_at), ("ops page", pages)],
    })
}
