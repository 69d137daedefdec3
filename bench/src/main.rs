//! `otterdoc-bench`: measures otterdoc as real editors see it. It drives a server (one it
//! starts on a temp data directory, or a running one) over STOMP/WebSocket from many clients in
//! one process; every editor subscribes to its document's topic and keeps one op in flight, so
//! fan-out is always part of the figure. Latencies are measured from SEND to RECEIPT (durable
//! ack) and to the echo on the topic; the server's CPU and RSS come from `/proc/<pid>`; the
//! bench's own CPU is reported too, and flagged when it saturates a core.
//!
//! The result schema is shared with the ShareDB driver in `bench/peers/sharedb`, and
//! `bench/compare.sh` runs both in one go. See `docs/benchmarks.md`.

mod editor;
mod procstat;
mod report;
mod scenario;
mod server;
mod stats;
mod stomp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use scenario::{Context, Outcome};
use server::{Server, Target};

#[derive(Parser)]
#[command(
    name = "otterdoc-bench",
    version,
    about = "Benchmarks an otterdoc server with real STOMP/WebSocket editors"
)]
struct Cli {
    /// The otterdoc binary to start (default: `otterdoc` next to this binary).
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// An extra flag for the started server (repeatable), e.g. `--server-arg=--snapshot-interval=500`.
    #[arg(long = "server-arg", global = true, allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Use a running server at this address (`host:port` or `ws://host:port/ws`) instead.
    #[arg(long, global = true, requires = "pid")]
    url: Option<String>,
    /// The pid of the server given by `--url` (its CPU and RSS are read from /proc).
    #[arg(long, global = true, requires = "url")]
    pid: Option<u32>,
    /// Write the result as JSON here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Plot the latency distributions (CDF) as SVG here.
    #[arg(long, global = true)]
    plot: Option<PathBuf>,
    /// Seed of the random edits.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Give up (exit status 3) after this many seconds.
    #[arg(long, global = true, default_value_t = 600)]
    timeout: u64,
    /// Worker threads of the bench's runtime (the fanout writer has a thread of its own).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// K editors on one document, M random edits each.
    Edit {
        #[arg(long, default_value_t = 8)]
        editors: usize,
        #[arg(long, default_value_t = 500)]
        ops: usize,
    },
    /// D documents with E editors each, M edits per editor.
    Docs {
        #[arg(long, default_value_t = 16)]
        docs: usize,
        #[arg(long, default_value_t = 3)]
        editors: usize,
        #[arg(long, default_value_t = 200)]
        ops: usize,
    },
    /// One writer at a fixed rate, S subscribers.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Ops per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 500)]
        ops: usize,
    },
    /// N idle subscribed connections; server RSS per connection.
    Idle {
        #[arg(long, default_value_t = 2000)]
        connections: usize,
        /// Seconds to let memory settle before reading it.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
    /// A real editing trace replayed by K editors in turn.
    Trace {
        /// A trace name from ../shared/traces/sequential (e.g. automerge-paper) or a path.
        #[arg(long, default_value = "automerge-paper")]
        trace: String,
        #[arg(long, default_value_t = 2)]
        editors: usize,
        /// Replay only the first N patches.
        #[arg(long)]
        patches: Option<usize>,
    },
    /// A document with H ops: content at random versions, op pages, cold load.
    History {
        #[arg(long, default_value_t = 100_000)]
        ops: u64,
        /// SENDs in flight while building the history.
        #[arg(long, default_value_t = 256)]
        window: usize,
        /// Random reads of each kind.
        #[arg(long, default_value_t = 200)]
        reads: usize,
    },
}

fn parse_url(url: &str) -> anyhow::Result<SocketAddr> {
    let host = url
        .trim_start_matches("ws://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    host.parse()
        .with_context(|| format!("--url {url:?} is not ip:port or ws://ip:port/ws"))
}

async fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let target = match (&cli.url, cli.pid) {
        (Some(url), Some(pid)) => Target::Running {
            addr: parse_url(url)?,
            pid,
        },
        _ => Target::Spawn {
            bin: match &cli.server_bin {
                Some(bin) => bin.clone(),
                None => server::sibling_binary()?,
            },
            args: cli.server_args.clone(),
        },
    };
    let mut ctx = Context {
        server: Server::start(target).await?,
        seed: cli.seed,
    };
    let outcome = match &cli.scenario {
        Scenario::Edit { editors, ops } => {
            scenario::edit::run(&ctx, "edit", 1, *editors, *ops).await
        }
        Scenario::Docs { docs, editors, ops } => {
            scenario::edit::run(&ctx, "docs", *docs, *editors, *ops).await
        }
        Scenario::Fanout {
            subscribers,
            rate,
            ops,
        } => scenario::fanout::run(&ctx, *subscribers, *rate, *ops).await,
        Scenario::Idle {
            connections,
            settle,
        } => {
            let settle = Duration::try_from_secs_f64(*settle).context("--settle")?;
            scenario::idle::run(&ctx, *connections, settle).await
        }
        Scenario::Trace {
            trace,
            editors,
            patches,
        } => scenario::trace::run(&ctx, trace, *editors, *patches).await,
        Scenario::History { ops, window, reads } => {
            scenario::history::run(&mut ctx, *ops, *window, *reads).await
        }
    };
    let stopped = ctx.server.stop().await;
    let outcome = outcome?;
    stopped.context("stopping the server")?;
    Ok(outcome)
}

/// Raises the open-file limit as far as this process may: as root, the hard limit too (up to
/// the kernel's `fs.nr_open`); otherwise the soft limit up to the hard one.
fn raise_open_file_limit() {
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    if rlimit::setrlimit(rlimit::Resource::NOFILE, nr_open, nr_open).is_err() {
        if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
            eprintln!("otterdoc-bench: cannot raise the open-file limit: {e}");
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Many connections need many descriptors; the server started below inherits the limit.
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("otterdoc-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let limit = Duration::from_secs(cli.timeout);
    let result = runtime.block_on(async { tokio::time::timeout(limit, run(&cli)).await });
    let outcome = match result {
        Err(_) => {
            eprintln!(
                "otterdoc-bench: gave up after {} s (--timeout)",
                cli.timeout
            );
            return std::process::ExitCode::from(3);
        }
        Ok(Err(e)) => {
            eprintln!("otterdoc-bench: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
        Ok(Ok(outcome)) => outcome,
    };
    print!("{}", outcome.report.table());
    if let Some(path) = &cli.json {
        if let Err(e) = outcome.report.write_json(path) {
            eprintln!("otterdoc-bench: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if let Some(path) = &cli.plot {
        let samples: Vec<(&str, &stats::Samples)> =
            outcome.samples.iter().map(|(n, s)| (*n, s)).collect();
        let title = format!("otterdoc {} latency", outcome.report.scenario);
        if let Err(e) = report::plot(path, &title, &samples) {
            eprintln!("otterdoc-bench: plot: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if outcome.report.converged == Some(false) {
        eprintln!("otterdoc-bench: the run did not converge");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
