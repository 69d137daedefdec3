//! Interop with a real STOMP client: `tests/interop/client.mjs` runs `@stomp/stompjs` (v7) over
//! the `ws` package against `/ws`, and over `sockjs-client` (1.6) against `/sockjs` once per
//! SockJS transport (forced with its `transports` option), against a server started here. The script subscribes, submits an op and an
//! invalid op with receipts, prints `READY`; this test then submits another client's op over
//! HTTP, and the script prints a JSON summary once it has seen that op, and exits 0.
//!
//! Needs `node` on PATH and the locked npm packages: `npm ci --prefix tests/interop`. Without
//! them the test fails (it does not skip).
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{TestServer, WAIT};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const INSTALL_HINT: &str = "run `npm ci --prefix tests/interop` from the repository root first";

fn interop_dir() -> PathBuf {
    crate::common::repo_root().join("tests/interop")
}

/// Panics unless every package of `package-lock.json` is installed at its locked version.
fn require_node_modules(dir: &Path) {
    let lock_path = dir.join("package-lock.json");
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(&lock_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", lock_path.display())),
    )
    .expect("package-lock.json is JSON");
    let packages = lock["packages"]
        .as_object()
        .expect("package-lock.json has packages");
    let mut checked = 0;
    for (key, entry) in packages {
        if !key.starts_with("node_modules/") || entry["optional"] == true {
            continue;
        }
        let manifest = dir.join(key).join("package.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            panic!("{} is missing: the npm packages of the interop test are not installed; {INSTALL_HINT}", manifest.display());
        };
        let installed: Value =
            serde_json::from_str(&text).expect("an installed package.json is JSON");
        assert_eq!(
            installed["version"], entry["version"],
            "{key} is installed at another version than package-lock.json locks; {INSTALL_HINT}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "package-lock.json locks no packages");
}

/// The `node` executable on PATH.
fn find_node() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`node` (v18 or later) is not on PATH; the interop test needs it")
        })
}

/// The running script: its stdout lines arrive on a channel, its stderr is kept for failures.
/// Killed on drop if still running, so a failing test leaves no process behind.
struct NodeClient {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl NodeClient {
    /// Runs the script against `url` (over `ws`, or over `sockjs-client` with only
    /// `sockjs_transport` allowed).
    fn spawn(url: &str, doc: &str, sockjs_transport: Option<&str>) -> NodeClient {
        let node = find_node();
        let mut child = Command::new(&node)
            .arg("tests/interop/client.mjs")
            .arg(url)
            .arg(doc)
            .args(sockjs_transport)
            .current_dir(crate::common::repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", node.display()));
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        NodeClient {
            child,
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next stdout line; panics (with the script's stderr) on EOF or after [`WAIT`].
    async fn line(&mut self, waiting_for: &str) -> String {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = self.wait().await;
                // Let the stderr thread drain the pipe.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "node exited ({status}) before printing {waiting_for}; its stderr:\n{}",
                    self.stderr()
                )
            }
            Err(_) => panic!(
                "no {waiting_for} from node within {WAIT:?}; its stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Waits (at most [`WAIT`]) for the script to exit.
    async fn wait(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on node") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node did not exit within {WAIT:?}; its stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for NodeClient {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn stompjs_client_interoperates() {
    stompjs_scenario(Via::WebSocket).await;
}

#[tokio::test]
async fn stompjs_over_sockjs_websocket_interoperates() {
    stompjs_scenario(Via::SockJs("websocket")).await;
}

#[tokio::test]
async fn stompjs_over_sockjs_xhr_streaming_interoperates() {
    stompjs_scenario(Via::SockJs("xhr-streaming")).await;
}

#[tokio::test]
async fn stompjs_over_sockjs_xhr_polling_interoperates() {
    stompjs_scenario(Via::SockJs("xhr-polling")).await;
}

#[tokio::test]
async fn stompjs_over_sockjs_eventsource_interoperates() {
    stompjs_scenario(Via::SockJs("eventsource")).await;
}

#[tokio::test]
async fn stompjs_over_plain_tcp_edits_with_a_websocket_client() {
    stompjs_scenario(Via::Tcp).await;
}

/// How the script reaches the server.
#[derive(Clone, Copy)]
enum Via {
    /// `/ws`.
    WebSocket,
    /// The SockJS endpoint, with only this `sockjs-client` transport allowed.
    SockJs(&'static str),
    /// `--stomp-tcp-listen`, through `@stomp/tcp-wrapper`; the other client is a STOMP
    /// client on `/ws` (over the others, an HTTP client).
    Tcp,
}

/// The scenario of the module docs, over `via`.
async fn stompjs_scenario(via: Via) {
    require_node_modules(&interop_dir());
    let server = TestServer::start_with(|c| {
        if matches!(via, Via::Tcp) {
            c.stomp_tcp_listen = Some("127.0.0.1:0".parse().unwrap());
        }
    })
    .await;
    let doc = "interop-doc";
    let (url, sockjs_transport) = match via {
        Via::WebSocket => (server.ws_url(), None),
        Via::SockJs(transport) => (format!("http://{}/sockjs", server.addr), Some(transport)),
        Via::Tcp => {
            let addr = server
                .stomp_tcp_addr()
                .expect("--stomp-tcp-listen is bound");
            (format!("tcp://{addr}"), None)
        }
    };
    let mut node = NodeClient::spawn(&url, doc, sockjs_transport);

    let ready = node.line("READY").await;
    assert_eq!(
        ready,
        "READY",
        "first stdout line of node; stderr:\n{}",
        node.stderr()
    );

    // Another client's op, made against the version the script's own op produced.
    let other = match via {
        Via::Tcp => "rust-ws",
        _ => "rust-http",
    };
    let submission = json!({"client":other,"seq":1,"base":1,"op":[5," world"]});
    if matches!(via, Via::Tcp) {
        let mut ws = server.client().await;
        let before = ws
            .subscribe_confirmed("d", &format!("/topic/doc/{doc}"), &[])
            .await;
        // It sees what the TCP client wrote, then adds to it.
        let snapshot = crate::common::stomp::body_json(&before[0]);
        assert_eq!(snapshot["content"], "hello", "{snapshot}");
        ws.send_op(doc, &submission, Some("ws-1")).await;
        let (_, receipt) = ws.until_receipt("ws-1").await;
        assert_eq!(receipt.header("version"), Some("2"), "{receipt:?}");
    } else {
        let (status, body) = server
            .post(&format!("/docs/{doc}/ops"), &submission.to_string())
            .await;
        assert_eq!(status, 200, "POST op: {body}");
        assert_eq!(body["version"], 2, "POST op: {body}");
    }

    let line = node.line("the JSON summary").await;
    let summary: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "summary line is not JSON ({e}): {line}\nstderr:\n{}",
            node.stderr()
        )
    });
    let status = node.wait().await;
    assert!(
        status.success(),
        "node exited with {status}; stderr:\n{}",
        node.stderr()
    );

    let me = summary["client"]
        .as_str()
        .expect("summary names the script's client id")
        .to_owned();
    assert_eq!(summary["ok"], true, "{summary}");
    match via {
        Via::SockJs(transport) => assert_eq!(summary["transport"], transport, "{summary}"),
        Via::WebSocket => assert_eq!(summary["subprotocol"], "v12.stomp", "{summary}"),
        Via::Tcp => {}
    }
    assert_eq!(summary["version"], "1.2", "{summary}");
    assert_eq!(
        summary["snapshot"],
        json!({"type":"snapshot","doc":doc,"version":0,"content":"","hash":crate::common::history::GENESIS_HASH}),
        "{summary}"
    );
    assert_eq!(summary["ownReceipt"]["receipt-id"], "op-1", "{summary}");
    assert_eq!(summary["ownReceipt"]["version"], "1", "{summary}");
    // The events carry a server timestamp; everything else is known.
    let pick = |event: &Value, fields: &[&str]| -> Value {
        fields
            .iter()
            .map(|f| (f.to_string(), event[f].clone()))
            .collect()
    };
    let op_fields = ["type", "doc", "version", "op", "client", "seq", "user"];
    assert_eq!(
        pick(&summary["ownOp"], &op_fields),
        json!({"type":"op","doc":doc,"version":1,"op":["hello"],"client":me,"seq":1,"user":"anonymous"}),
        "{summary}"
    );
    assert_eq!(summary["badReceipt"]["receipt-id"], "op-bad", "{summary}");
    assert_eq!(summary["badReceipt"]["error"], "invalid-op", "{summary}");
    assert_eq!(
        pick(
            &summary["errorEvent"],
            &["type", "code", "doc", "client", "seq", "receipt"]
        ),
        json!({"type":"error","code":"invalid-op","doc":doc,"client":me,"seq":2,"receipt":"op-bad"}),
        "{summary}"
    );
    assert_eq!(
        pick(&summary["otherOp"], &op_fields),
        json!({"type":"op","doc":doc,"version":2,"op":[5," world"],"client":other,"seq":1,"user":"anonymous"}),
        "{summary}"
    );

    let (status, body) = server.get(&format!("/docs/{doc}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        crate::common::history::without_hash(body),
        json!({"doc":doc,"version":2,"content":"hello world"})
    );
    let (status, body) = server.get(&format!("/docs/{doc}/ops")).await;
    assert_eq!(status, 200, "{body}");
    let ops = body["ops"].as_array().expect("ops array");
    assert_eq!(ops.len(), 2, "{body}");
    assert_eq!(
        pick(&ops[0], &["client", "seq"]),
        json!({"client":me,"seq":1}),
        "{body}"
    );
}
