//! `edit` (K editors on one document) and `docs` (D documents with E editors each): every
//! editor subscribes to its document, makes M small random edits with one op in flight (the next
//! goes out when its own op comes back on the topic), and transforms whatever arrives
//! meanwhile. At the end every editor of a document must hold the same text, equal to what
//! `GET /docs/<id>` answers.

use std::sync::Arc;

use anyhow::bail;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::Barrier;

use super::{measure, progress, served, source_address, Context, Outcome};
use crate::editor::{broadcast_latencies, Editor, Record};
use crate::report::{Latencies, Measured, Params, Report};
use crate::stats::Samples;

/// Runs `docs` documents with `editors` editors each, `ops` edits per editor.
pub(crate) async fn run(
    ctx: &Context,
    scenario: &'static str,
    docs: usize,
    editors: usize,
    ops: usize,
) -> anyhow::Result<Outcome> {
    if docs == 0 || editors == 0 {
        bail!("--docs and --editors must be at least 1");
    }
    let addr = ctx.server.addr;
    let run_id = format!("{:x}", ctx.seed ^ u64::from(std::process::id()));
    // Everyone connected and subscribed, then the measurement starts, then everyone edits.
    let ready = Arc::new(Barrier::new(docs * editors + 1));
    let go = Arc::new(Barrier::new(docs * editors + 1));
    let bar = progress((docs * editors * ops) as u64, scenario);
    let mut tasks = Vec::new();
    for d in 0..docs {
        let doc = format!("bench-{scenario}-{run_id}-{d}");
        for e in 0..editors {
            let (ready, go, bar, doc) = (ready.clone(), go.clone(), bar.clone(), doc.clone());
            let seed = ctx
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add((d * editors + e) as u64);
            let local = source_address(d * editors + e);
            tasks.push(tokio::spawn(async move {
                let client = format!("e{d}-{e}");
                let mut editor = Editor::join(addr, local, &doc, client).await?;
                ready.wait().await;
                go.wait().await;
                let mut rng = StdRng::seed_from_u64(seed);
                for _ in 0..ops {
                    let op = editor.random_op(&mut rng);
                    editor.submit(op).await?;
                    while !editor.idle() {
                        editor.step().await?;
                    }
                    bar.inc(1);
                }
                editor.catch_up_to((editors * ops) as u64).await?;
                let content = editor.content.to_string();
                let version = editor.version;
                let record = editor.close().await;
                anyhow::Ok((doc, content, version, record))
            }));
        }
    }
    ready.wait().await;
    let (results, phase) = measure(ctx, &go, tasks).await?;
    bar.finish_and_clear();

    // Convergence: per document, every editor's text is the server's.
    let mut converged = true;
    let mut notes = Vec::new();
    for chunk in results.chunks(editors) {
        let (doc, content, version, _) = &chunk[0];
        let same = chunk
            .iter()
            .all(|(_, c, v, _)| c == content && v == version);
        if !same || served(addr, doc).await? != (*version, content.clone()) {
            converged = false;
            notes.push(format!("document {doc} did not converge"));
        }
    }
    let records: Vec<Record> = results.into_iter().map(|(_, _, _, r)| r).collect();
    let mut ack = Samples::default();
    let mut echo = Samples::default();
    let mut broadcast = Samples::default();
    for chunk in records.chunks(editors) {
        broadcast.extend(broadcast_latencies(chunk));
    }
    for r in records {
        ack.extend(r.ack);
        echo.extend(r.echo);
    }
    let total = (docs * editors * ops) as u64;
    let measured = Measured {
        wall: phase.wall,
        ops: total,
        deliveries: total * editors as u64,
        server: phase.server,
        client_cpu: phase.client_cpu,
        connections: None,
    };
    let latencies = Latencies {
        ack: ack.summary(),
        echo: echo.summary(),
        broadcast: broadcast.summary(),
        delivery: None,
    };
    let params = Params {
        editors: Some(editors),
        ops: Some(ops),
        docs: Some(docs),
        seed: ctx.seed,
        ..Params::default()
    };
    let mut report = Report::new(scenario, params, ctx.server.pid, &measured, latencies);
    report.converged = Some(converged);
    report.notes.extend(notes);
    report
        .notes
        .push("deliveries count every editor's copy of each op, its own echo included".into());
    Ok(Outcome {
        report,
        samples: vec![("ack", ack), ("echo", echo), ("broadcast", broadcast)],
    })
}
