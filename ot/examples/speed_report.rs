//! Speed report for the `ot` crate on the automerge-paper editing trace (259,778 edits):
//! raw rope edits (jumprope, ropey, crop), `ot::Document::apply` through pre-built operations,
//! and `ot` against the `operational-transform` 0.6.1 crate for apply, transform and compose.
//!
//! ```text
//! cargo run --release -p ot --example speed_report            # about a minute
//! cargo run --release -p ot --example speed_report -- --full  # + operational-transform's apply
//!                                                             #   over the whole trace (slow)
//! ```
//!
//! Each figure is the median of several timed runs (std::time::Instant) of the same work in the
//! same process; inputs are built and checked before timing. `cargo bench -p ot --bench trace`
//! gives criterion's figures for the same workloads.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use ot::Document;

/// Runs `setup` then times `run` on its output, `reps` times (at least), and returns the median.
fn median_time<I, O>(
    reps: usize,
    mut setup: impl FnMut() -> I,
    mut run: impl FnMut(I) -> O,
) -> Duration {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let input = setup();
        let t = Instant::now();
        let out = run(black_box(input));
        times.push(t.elapsed());
        drop(black_box(out));
    }
    times.sort();
    times[times.len() / 2]
}

struct Row {
    name: &'static str,
    ops: usize,
    time: Duration,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.time.as_secs_f64()
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let trace = load(MAIN_TRACE);
    let n = trace.patches.len();
    let ot_ops = build_ot_ops(&trace);
    let otrs_ops = build_otrs_ops(&trace);
    check(&trace, &ot_ops, &otrs_ops);
    // Apply on operational-transform costs O(document) per op: sample the whole trace with
    // windows of consecutive edits (see `build_windows`), and time ours on the same windows.
    let windows = build_windows(&trace, 20, 500);
    check_windows(&windows, &ot_ops, &otrs_ops);
    let window_ops: usize = windows.iter().map(|w| w.len).sum();
    let prefix = 10_000;
    let (pairs_ot, pairs_otrs) = build_transform_pairs(&trace);
    let start_doc = Document::from_text(&trace.start);

    println!(
        "trace {} — {n} edits, final document {} chars",
        trace.name,
        trace.end.chars().count()
    );
    let mut rows = Vec::new();
    let mut row = |name, ops, time| {
        let r = Row { name, ops, time };
        println!(
            "  {:<44} {:>9} ops {:>10.2} ms {:>14.0} ops/s",
            r.name,
            r.ops,
            r.time.as_secs_f64() * 1e3,
            r.ops_per_sec()
        );
        rows.push(r);
    };
    row(
        "raw jumprope",
        n,
        median_time(9, || (), |_| run_jumprope(&trace)),
    );
    row("raw ropey", n, median_time(9, || (), |_| run_ropey(&trace)));
    row(
        "raw crop (char->byte via utf16)",
        n,
        median_time(9, || (), |_| run_crop(&trace)),
    );
    row(
        "ot Document::apply (pre-built ops)",
        n,
        median_time(9, || start_doc.clone(), |d| run_document(d, &ot_ops)),
    );
    row(
        "ot Document::apply, 20x500 windows",
        window_ops,
        median_time(
            9,
            || window_docs(&windows),
            |d| run_windows_document(&windows, d, &ot_ops),
        ),
    );
    row(
        "operational-transform apply, 20x500 windows",
        window_ops,
        median_time(
            3,
            || window_texts(&windows),
            |t| run_windows_otrs(&windows, t, &otrs_ops),
        ),
    );
    row(
        "ot Document::apply, first 10k",
        prefix,
        median_time(
            9,
            || start_doc.clone(),
            |d| run_document(d, &ot_ops[..prefix]),
        ),
    );
    row(
        "operational-transform apply, first 10k",
        prefix,
        median_time(
            3,
            || trace.start.clone(),
            |t| run_otrs_apply(t, &otrs_ops[..prefix]),
        ),
    );
    if full {
        row(
            "operational-transform apply, whole trace",
            n,
            median_time(1, || trace.start.clone(), |t| run_otrs_apply(t, &otrs_ops)),
        );
    }
    row(
        "ot transform",
        n,
        median_time(9, || (), |_| run_transform_ot(&pairs_ot)),
    );
    row(
        "operational-transform transform",
        n,
        median_time(9, || (), |_| run_transform_otrs(&pairs_otrs)),
    );
    let chunked = |run: &dyn Fn() -> Duration| {
        let mut times: Vec<Duration> = (0..7).map(|_| run()).collect();
        times.sort();
        times[times.len() / 2]
    };
    row(
        "ot transform, chunks of 1000",
        n,
        chunked(&|| time_chunked(&pairs_ot, 1000, run_transform_ot).0),
    );
    row(
        "operational-transform transform, chunks 1000",
        n,
        chunked(&|| time_chunked(&pairs_otrs, 1000, run_transform_otrs).0),
    );
    row(
        "ot Operation::compose_all",
        n,
        median_time(5, || ot_ops.clone(), run_compose_ot),
    );
    row(
        "operational-transform tree compose",
        n,
        median_time(3, || otrs_ops.clone(), run_compose_otrs),
    );

    let rate = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(Row::ops_per_sec)
            .unwrap_or(f64::NAN)
    };
    println!();
    println!("summary ({}):", trace.name);
    println!("  {:<58} {:>10} {:>8}", "ratio", "measured", "target");
    let ratio = |what: &str, value: f64, target: f64| {
        let verdict = if value >= target { "met" } else { "MISSED" };
        println!("  {what:<58} {value:>9.2}x {target:>7}x  {verdict}");
    };
    ratio(
        "Document-through-ops / raw jumprope",
        rate("ot Document::apply (pre-built ops)") / rate("raw jumprope"),
        0.5,
    );
    ratio(
        "apply: ot / operational-transform (same 20x500 windows)",
        rate("ot Document::apply, 20x500 windows")
            / rate("operational-transform apply, 20x500 windows"),
        1000.0,
    );
    ratio(
        "apply: ot whole trace / op-transform (20x500 windows)",
        rate("ot Document::apply (pre-built ops)")
            / rate("operational-transform apply, 20x500 windows"),
        1000.0,
    );
    if full {
        ratio(
            "apply: ot / operational-transform (whole trace)",
            rate("ot Document::apply (pre-built ops)")
                / rate("operational-transform apply, whole trace"),
            1000.0,
        );
    }
    println!(
        "  {:<58} {:>9.2}x  (prefix: short documents, for reference)",
        "apply: ot / operational-transform (first 10k)",
        rate("ot Document::apply, first 10k") / rate("operational-transform apply, first 10k"),
    );
    ratio(
        "transform: ot / op-transform (pre-built pairs, streamed)",
        rate("ot transform") / rate("operational-transform transform"),
        2.0,
    );
    ratio(
        "transform: ot / op-transform (chunks of 1000, hot)",
        rate("ot transform, chunks of 1000")
            / rate("operational-transform transform, chunks 1000"),
        2.0,
    );
    ratio(
        "compose (whole trace, tree): ot / operational-transform",
        rate("ot Operation::compose_all") / rate("operational-transform tree compose"),
        2.0,
    );
}
