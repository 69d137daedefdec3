//! Every scenario of `otterdoc-bench`, at a tiny size, against a real server it starts itself
//! (the `otterdoc` binary built next to it by `cargo test --workspace`): the tool must run, its
//! JSON must have the shared schema, and every run must converge. This keeps the instrument
//! from rotting; the figures themselves are not checked here (see `docs/benchmarks.md`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_otterdoc-bench"));
    let server = bin.with_file_name("otterdoc");
    assert!(
        server.exists(),
        "{} is missing: run the suite with `cargo test --workspace`, which builds it",
        server.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let out = Command::new(&bin)
        .args(args)
        .arg("--json")
        .arg(&json)
        .args(["--timeout", "120"])
        .output()
        .expect("run otterdoc-bench");
    assert!(
        out.status.success(),
        "otterdoc-bench {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("the JSON was written");
    serde_json::from_str(&text).expect("the JSON parses")
}

/// The keys the ShareDB driver writes too (`bench/peers/sharedb/check.js`).
fn check_schema(v: &Value, scenario: &str) {
    assert_eq!(v["target"], "otterdoc");
    assert_eq!(v["scenario"], scenario);
    for key in [
        "params",
        "wall_s",
        "ops",
        "ops_per_s",
        "deliveries",
        "latency_ms",
        "server",
        "client",
        "notes",
    ] {
        assert!(v.get(key).is_some(), "{scenario}: missing {key}: {v}");
    }
    for key in [
        "editors",
        "ops",
        "docs",
        "subscribers",
        "rate",
        "connections",
        "seed",
    ] {
        assert!(v["params"].get(key).is_some(), "{scenario}: params.{key}");
    }
    for key in ["ack", "echo", "broadcast", "delivery"] {
        assert!(
            v["latency_ms"].get(key).is_some(),
            "{scenario}: latency_ms.{key}"
        );
    }
    for key in [
        "pid",
        "cpu_s",
        "cpu_us_per_op",
        "cpu_us_per_delivery",
        "rss_kib_before",
        "rss_kib_after",
        "rss_kib_peak",
        "rss_kib_per_connection",
    ] {
        assert!(v["server"].get(key).is_some(), "{scenario}: server.{key}");
    }
    for key in ["cpu_s", "cpu_util", "saturated"] {
        assert!(v["client"].get(key).is_some(), "{scenario}: client.{key}");
    }
}

fn check_latency(v: &Value, kind: &str, count: u64) {
    let s = &v["latency_ms"][kind];
    assert_eq!(s["count"], count, "{kind}: {s}");
    let p50 = s["p50"].as_f64().unwrap();
    let max = s["max"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{kind}: {s}");
}

#[test]
fn edit_and_docs_converge_and_measure_every_latency() {
    let v = bench(&["edit", "--editors", "3", "--ops", "15"]);
    check_schema(&v, "edit");
    assert_eq!(v["converged"], true);
    assert_eq!(
        (v["ops"].as_u64(), v["deliveries"].as_u64()),
        (Some(45), Some(135))
    );
    check_latency(&v, "ack", 45);
    check_latency(&v, "echo", 45);
    check_latency(&v, "broadcast", 45);
    assert!(v["latency_ms"]["delivery"].is_null());

    let v = bench(&["docs", "--docs", "2", "--editors", "2", "--ops", "10"]);
    check_schema(&v, "docs");
    assert_eq!(v["converged"], true);
    assert_eq!(v["ops"], 40);
    check_latency(&v, "echo", 40);
}

#[test]
fn fanout_delivers_every_op_to_every_subscriber_in_order() {
    let v = bench(&[
        "fanout",
        "--subscribers",
        "6",
        "--rate",
        "300",
        "--ops",
        "30",
    ]);
    check_schema(&v, "fanout");
    assert_eq!(v["converged"], true);
    assert_eq!(v["deliveries"], 180);
    check_latency(&v, "delivery", 180);
    check_latency(&v, "ack", 30);
}

#[test]
fn idle_reports_memory_per_connection() {
    let v = bench(&["idle", "--connections", "30", "--settle", "0.2"]);
    check_schema(&v, "idle");
    assert_eq!(v["params"]["connections"], 30);
    assert!(v["server"]["rss_kib_per_connection"].is_number(), "{v}");
}

#[test]
fn trace_and_history_read_back_what_they_wrote() {
    let v = bench(&[
        "trace",
        "--trace",
        "sveltecomponent",
        "--editors",
        "2",
        "--patches",
        "60",
    ]);
    check_schema(&v, "trace");
    assert_eq!(v["converged"], true);
    assert_eq!(v["extra"]["patches"], 60);

    let v = bench(&[
        "history",
        "--ops",
        "600",
        "--reads",
        "10",
        "--server-arg=--snapshot-interval=100",
    ]);
    check_schema(&v, "history");
    assert_eq!(v["converged"], true);
    for key in ["content_at_version_ms", "ops_page_ms", "cold_load_ms"] {
        assert!(!v["extra"][key].is_null(), "history: {key}: {v}");
    }
}
