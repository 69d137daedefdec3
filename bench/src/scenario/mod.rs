//! The scenarios, one file each; every one drives the server as real clients do and returns a
//! [`Report`](crate::report::Report) (plus the latency samples to plot).

pub(crate) mod edit;
pub(crate) mod fanout;
pub(crate) mod history;
pub(crate) mod idle;
pub(crate) mod trace;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

use crate::procstat::{Meter, Pid, Usage};
use crate::stats::Samples;

/// What every scenario has to work with.
pub(crate) struct Context {
    pub(crate) server: crate::server::Server,
    pub(crate) seed: u64,
}

/// A scenario's outcome: the report and the named latency samples behind it.
pub(crate) struct Outcome {
    pub(crate) report: crate::report::Report,
    pub(crate) samples: Vec<(&'static str, Samples)>,
}

/// Connections per local address: loopback has about 28k ephemeral ports per address pair, so
/// past this many the bench connects from the next 127.0.0.x.
const PER_SOURCE: usize = 20_000;

/// The local address the `n`-th connection of a run connects from (`None`: the default).
pub(crate) fn source_address(n: usize) -> Option<IpAddr> {
    let block = n / PER_SOURCE;
    (block > 0).then(|| IpAddr::from([127, 0, 0, u8::try_from(block + 1).unwrap_or(254)]))
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// What the measured phase of a scenario cost.
pub(crate) struct Phase {
    pub(crate) wall: Duration,
    pub(crate) client_cpu: Duration,
    pub(crate) server: Usage,
}

/// The measured phase shared by the editing scenarios: starts measuring the server and the
/// bench, releases `go` (every client waits on it, ready), and stops once every task is done.
pub(crate) async fn measure<T>(
    ctx: &Context,
    go: &Barrier,
    tasks: Vec<JoinHandle<anyhow::Result<T>>>,
) -> anyhow::Result<(Vec<T>, Phase)> {
    let server = Meter::start(Pid::Of(ctx.server.pid))?;
    let client = Pid::Own.cpu()?;
    let start = Instant::now();
    go.wait().await;
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.context("client task")??);
    }
    let wall = start.elapsed();
    let client_cpu = Pid::Own.cpu()?.saturating_sub(client);
    let server = server.stop()?;
    Ok((
        results,
        Phase {
            wall,
            client_cpu,
            server,
        },
    ))
}

/// `GET /docs/<doc>`: its (version, content) as the server has it.
pub(crate) async fn served(addr: SocketAddr, doc: &str) -> anyhow::Result<(u64, String)> {
    let body: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("http://{addr}/docs/{doc}"))
        .send()
        .await?
        .json()
        .await?;
    let version = body["version"].as_u64().context("no version")?;
    let content = body["content"].as_str().context("no content")?.to_owned();
    Ok((version, content))
}
