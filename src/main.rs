//! The `otterdoc` binary: `otterdoc serve [flags]` runs the server until SIGINT/SIGTERM, then
//! shuts down gracefully and exits 0.

use anyhow::Context;
use clap::{Parser, Subcommand};
use otterdoc::{Config, Server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "otterdoc",
    version,
    about = "Collaborative text editing over STOMP/WebSocket, with full history"
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Subcommand)]
enum CliCommand {
    /// Run the server.
    Serve(Config),
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives right after the server says it is ready
/// is still caught (and leads to a graceful shutdown, not the default "terminate now").
fn termination_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into a log file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        CliCommand::Serve(config) => {
            let signal = termination_signal()?;
            let server = Server::start(config)
                .await
                .context("otterdoc could not start")?;
            // One machine-readable line, so scripts (and tests) can find a port chosen with :0.
            println!("otterdoc listening on {}", server.local_addr());
            signal.await;
            tracing::info!("signal received, shutting down");
            server.shutdown().await;
        }
    }
    Ok(())
}
