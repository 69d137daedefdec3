//! The real `otterdoc` binary as a child process: for what only a process can show (kill -9,
//! signals, exit statuses, the CLI and its environment variables).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::WAIT;

/// The server binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_otterdoc");

/// The binary, with no `OTTERDOC_*` variable inherited from the environment running the tests
/// (they would change the defaults `--help` shows and the behaviour under test).
pub fn otterdoc() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTTERDOC_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// `otterdoc serve --listen 127.0.0.1:0 --data <data> <extra...>`.
pub fn serve(data: &Path, extra: &[&str]) -> Command {
    let mut cmd = otterdoc();
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra);
    cmd
}

/// Collects everything a child writes on a pipe, on a thread (so the pipe never fills up).
fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// Spawns `cmd` with no stdin and piped stdout/stderr.
fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn otterdoc")
}

/// Waits (polling, bounded by `within`) for `child` to exit.
pub async fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a short-lived command to completion (bounded): (status, stdout, stderr).
pub async fn run_to_exit(mut cmd: Command) -> (ExitStatus, String, String) {
    let mut child = spawn_piped(&mut cmd);
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let Some(status) = wait_exit(&mut child, WAIT).await else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "otterdoc did not exit within {WAIT:?}; stderr:\n{}",
            stderr.lock().unwrap()
        );
    };
    // The pipes close with the process; give the reader threads a moment to finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let out = stdout.lock().unwrap().clone();
    let err = stderr.lock().unwrap().clone();
    (status, out, err)
}

/// A server process; killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `cmd` and waits for its `otterdoc listening on <addr>` line.
    pub fn start(mut cmd: Command) -> ServerProcess {
        let mut child = spawn_piped(&mut cmd);
        let stderr = drain(child.stderr.take().expect("stderr"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let mut process = ServerProcess {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stderr,
        };
        let line = match rx.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => panic!(
                "otterdoc printed no listening line (exit: {:?}); stderr:\n{}",
                process.child.try_wait(),
                process.stderr()
            ),
        };
        let addr = line
            .strip_prefix("otterdoc listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        process.addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        assert_ne!(process.addr.port(), 0, "the line names the port chosen");
        process
    }

    /// `otterdoc serve` on `data` with `extra` flags.
    pub fn spawn(data: &Path, extra: &[&str]) -> ServerProcess {
        Self::start(serve(data, extra))
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// What the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The resident set size of the process, from `/proc/<pid>/status` (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line");
        kib * 1024
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM through `kill -TERM <pid>`.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, within).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        super::http::get(self.addr, path).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        super::http::post(self.addr, path, &body.to_string()).await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
