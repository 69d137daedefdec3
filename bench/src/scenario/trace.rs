//! `trace`: a real editing trace (josephg/editing-traces, `../shared/traces/sequential/`)
//! replayed through the server, its patches dealt round-robin to K editors: patch j is made by
//! editor j mod K once it has seen version j, so every patch applies to exactly the text it
//! was recorded against, and the result must be the trace's `endContent` (or, with
//! `--patches`, the text after that many patches).

use std::path::Path;

use anyhow::{bail, Context as _};
use ot::testkit::trace::{self, Patch};
use ot::{Document, Operation};
use std::sync::Arc;
use tokio::sync::Barrier;

use super::{measure, progress, served, Context, Outcome};
use crate::editor::{broadcast_latencies, Editor};
use crate::report::{Latencies, Measured, Params, Report};
use crate::stats::Samples;

/// Runs `name` (a trace name like `automerge-paper`, or a path to a `.json.gz`) with
/// `editors` editors, replaying at most `limit` patches.
pub(crate) async fn run(
    ctx: &Context,
    name: &str,
    editors: usize,
    limit: Option<usize>,
) -> anyhow::Result<Outcome> {
    if editors == 0 {
        bail!("--editors must be at least 1");
    }
    let loaded = if name.ends_with(".json.gz") || Path::new(name).exists() {
        trace::load(name)
    } else {
        trace::load_named(name)
    }
    .with_context(|| format!("loading trace {name}"))?;
    if !loaded.start_content.is_empty() {
        bail!("the trace does not start from an empty document");
    }
    let all = loaded.patches.len();
    let count = limit.unwrap_or(all).min(all);
    let patches: Arc<Vec<Patch>> = Arc::new(loaded.patches.into_iter().take(count).collect());
    let expected = if count == all {
        loaded.end_content.clone()
    } else {
        let mut doc = Document::from_text("");
        for p in patches.iter() {
            doc.apply(&Operation::splice(doc.char_len(), p.pos, p.del, &p.insert)?)?;
        }
        doc.to_string()
    };
    let addr = ctx.server.addr;
    let doc = format!(
        "bench-trace-{}-{:x}",
        loaded.name,
        ctx.seed ^ u64::from(std::process::id())
    );
    let ready = Arc::new(Barrier::new(editors + 1));
    let go = Arc::new(Barrier::new(editors + 1));
    let bar = progress(count as u64, "trace patches");
    let mut tasks = Vec::new();
    for e in 0..editors {
        let (ready, go, bar, doc, patches) = (
            ready.clone(),
            go.clone(),
            bar.clone(),
            doc.clone(),
            patches.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut editor = Editor::join(addr, None, &doc, format!("t{e}")).await?;
            ready.wait().await;
            go.wait().await;
            loop {
                let v = usize::try_from(editor.version)?;
                if v >= patches.len() {
                    break;
                }
                if v % editors == e && editor.idle() {
                    let p = &patches[v];
                    let op = Operation::splice(editor.content.char_len(), p.pos, p.del, &p.insert)?;
                    editor.submit(op).await?;
                    bar.inc(1);
                }
                editor.step().await?;
            }
            editor.catch_up_to(patches.len() as u64).await?;
            let content = editor.content.to_string();
            anyhow::Ok((content, editor.close().await))
        }));
    }
    ready.wait().await;
    let (results, phase) = measure(ctx, &go, tasks).await?;
    bar.finish_and_clear();
    let (_, on_server) = served(addr, &doc).await?;
    let converged = results.iter().all(|(c, _)| *c == expected) && on_server == expected;
    let records: Vec<_> = results.into_iter().map(|(_, r)| r).collect();
    let broadcast = broadcast_latencies(&records);
    let mut ack = Samples::default();
    let mut echo = Samples::default();
    for r in records {
        ack.extend(r.ack);
        echo.extend(r.echo);
    }
    let measured = Measured {
        wall: phase.wall,
        ops: count as u64,
        deliveries: (count * editors) as u64,
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
        ops: Some(count),
        docs: Some(1),
        seed: ctx.seed,
        ..Params::default()
    };
    let mut report = Report::new("trace", params, ctx.server.pid, &measured, latencies);
    report.converged = Some(converged);
    report
        .extra
        .insert("trace".into(), loaded.name.clone().into());
    report.extra.insert("patches".into(), count.into());
    report
        .extra
        .insert("end_content_chars".into(), expected.chars().count().into());
    report.notes.push(
        "patches are made in turn (each waits for the previous one), so this is a latency-bound chain, not a throughput test".into(),
    );
    Ok(Outcome {
        report,
        samples: vec![("ack", ack), ("echo", echo), ("broadcast", broadcast)],
    })
}
