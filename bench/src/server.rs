//! The server under test: either an `otterdoc serve` child process the bench starts on a temp
//! data directory (and can restart, for cold-load timing), or one already running (`--url`
//! and `--pid`). A child is a separate process on purpose: its CPU and memory can then be read
//! from `/proc` apart from the load generator's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How the bench reaches the server.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// Start `otterdoc serve` from this binary, with these extra flags.
    Spawn { bin: PathBuf, args: Vec<String> },
    /// A server already running at this address, with this pid.
    Running { addr: SocketAddr, pid: u32 },
}

/// A server being benchmarked.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    child: Option<Child>,
    target: Target,
    data: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts (or attaches to) the server.
    pub(crate) async fn start(target: Target) -> anyhow::Result<Server> {
        match &target {
            Target::Running { addr, pid } => Ok(Server {
                addr: *addr,
                pid: *pid,
                child: None,
                target,
                data: None,
            }),
            Target::Spawn { .. } => {
                let data = tempfile::tempdir().context("temp data directory")?;
                let (child, addr, pid) = spawn(&target, &data.path().join("data")).await?;
                Ok(Server {
                    addr,
                    pid,
                    child: Some(child),
                    target,
                    data: Some(data),
                })
            }
        }
    }

    /// Stops the child gracefully (SIGTERM) and starts it again on the same data directory.
    pub(crate) async fn restart(&mut self) -> anyhow::Result<()> {
        let Some(data) = self.data.as_ref().map(|d| d.path().join("data")) else {
            bail!("cannot restart a server the bench did not start (--url)");
        };
        self.stop().await?;
        let (child, addr, pid) = spawn(&self.target, &data).await?;
        self.child = Some(child);
        self.addr = addr;
        self.pid = pid;
        Ok(())
    }

    /// Stops a child the bench started (SIGTERM, then waits for it to exit).
    pub(crate) async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().context("child pid")?;
            let status = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
            if !status.success() {
                bail!("kill -TERM {pid} failed");
            }
            match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                Ok(status) => {
                    let status = status?;
                    if !status.success() {
                        bail!("the server exited with {status}");
                    }
                }
                Err(_) => {
                    let _ = child.kill().await;
                    bail!("the server did not stop within 30 s of SIGTERM");
                }
            }
        }
        Ok(())
    }
}

async fn spawn(
    target: &Target,
    data: &std::path::Path,
) -> anyhow::Result<(Child, SocketAddr, u32)> {
    let Target::Spawn { bin, args } = target else {
        bail!("not a spawned server");
    };
    let mut child = Command::new(bin)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the server printed no listening line within 30 s")??
        .context("the server exited before it was ready")?;
    let addr = line
        .strip_prefix("otterdoc listening on ")
        .with_context(|| format!("unexpected first line {line:?}"))?
        .parse()?;
    // Keep draining stdout so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().context("child pid")?;
    Ok((child, addr, pid))
}

/// The `otterdoc` binary next to this one (both are built into the same target directory).
pub(crate) fn sibling_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("otterdoc");
    if !bin.exists() {
        bail!(
            "{} not found: build it (`cargo build --release --workspace`) or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}
