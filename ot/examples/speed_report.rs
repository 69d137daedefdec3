//! Speed report for the `ot` crate on the automerge-paper editing trace (259,778 edits):
//! raw rope edits (jumprope, ropey, crop), `ot::Document::apply` through pre-built operations,
//! and `ot` against the `operational-transform` 0.6.1 crate for apply, transform and compose.
//!
//! ```text
//! cargo run --release -p ot --example speed_report            # about a minute
//! cargo run --release -p ot --example speed_report -- --full  # + operational-transform's apply
//!                                                             #   over the whole trace (minutes)
//! ```
//!
//! Each comparison times its two sides alternately (A, B, A, B, …) in one process, so that a
//! change in the load of the (shared) machine hits both, and reports each side's median. Inputs
//! are built and checked against the trace's final text before timing; only the work itself is
//! timed. `cargo bench -p ot --bench trace` gives criterion's figures for the same workloads.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use ot::Document;

/// One timed run: builds its input with `setup` (untimed), then times `run` on it.
fn timed<I, O>(setup: impl FnOnce() -> I, run: impl FnOnce(I) -> O) -> Duration {
    let input = setup();
    let t = Instant::now();
    let out = run(black_box(input));
    let elapsed = t.elapsed();
    drop(black_box(out));
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs each closure `reps` times, alternating between them, and returns their median times.
fn interleaved<const N: usize>(
    reps: usize,
    mut runs: [&mut dyn FnMut() -> Duration; N],
) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(reps));
    for _ in 0..reps {
        for (run, t) in runs.iter_mut().zip(times.iter_mut()) {
            t.push(run());
        }
    }
    times.map(median)
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

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn add(&mut self, name: &'static str, ops: usize, time: Duration) {
        let r = Row { name, ops, time };
        println!(
            "  {:<48} {:>7} edits {:>10.2} ms {:>12.0} edits/s",
            r.name,
            r.ops,
            r.time.as_secs_f64() * 1e3,
            r.ops_per_sec()
        );
        self.rows.push(r);
    }

    fn rate(&self, name: &str) -> f64 {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .map(Row::ops_per_sec)
            .unwrap_or(f64::NAN)
    }

    fn ratio(&self, what: &str, num: &str, den: &str, target: Option<f64>) {
        let value = self.rate(num) / self.rate(den);
        match target {
            Some(t) => {
                let verdict = if value >= t { "met" } else { "MISSED" };
                println!("  {what:<60} {value:>9.2}x {t:>7}x  {verdict}");
            }
            None => println!("  {what:<60} {value:>9.2}x {:>8}  (for reference)", "-"),
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let trace = load(MAIN_TRACE);
    let n = trace.patches.len();
    let ot_ops = build_ot_ops(&trace);
    let otrs_ops = build_otrs_ops(&trace);
    check(&trace, &ot_ops, &otrs_ops);
    // operational-transform's apply costs O(document) per edit: sample the whole trace with
    // windows of consecutive edits spread over it (see `build_windows`), ours on the same ones.
    let windows = build_windows(&trace, 20, 500);
    check_windows(&windows, &ot_ops, &otrs_ops);
    let sampled: usize = windows.iter().map(|w| w.len).sum();
    let prefix = 10_000;
    let (pairs_ot, pairs_otrs) = build_transform_pairs(&trace);
    let start = Document::from_text(&trace.start_content);

    println!(
        "trace {}: {n} edits, final document {} chars; medians of interleaved runs",
        trace.name,
        trace.end_content.chars().count()
    );
    let mut t = Table::default();

    let [jump, ropey, crop, doc] = interleaved(
        9,
        [
            &mut || timed(|| (), |_| run_jumprope(&trace)),
            &mut || timed(|| (), |_| run_ropey(&trace)),
            &mut || timed(|| (), |_| run_crop(&trace)),
            &mut || timed(|| start.clone(), |d| run_document(d, &ot_ops)),
        ],
    );
    t.add("raw jumprope", n, jump);
    t.add("raw ropey", n, ropey);
    t.add("raw crop (char->byte offsets via utf16 metric)", n, crop);
    t.add("ot Document::apply (pre-built ops)", n, doc);

    let [ours, theirs] = interleaved(
        3,
        [
            &mut || {
                timed(
                    || window_docs(&windows),
                    |d| run_windows_document(&windows, d, &ot_ops),
                )
            },
            &mut || {
                timed(
                    || window_texts(&windows),
                    |s| run_windows_otrs(&windows, s, &otrs_ops),
                )
            },
        ],
    );
    t.add("ot Document::apply, 20x500 windows", sampled, ours);
    t.add(
        "operational-transform apply, 20x500 windows",
        sampled,
        theirs,
    );
    let [ours, theirs] = interleaved(
        3,
        [
            &mut || timed(|| start.clone(), |d| run_document(d, &ot_ops[..prefix])),
            &mut || {
                timed(
                    || trace.start_content.clone(),
                    |s| run_otrs_apply(s, &otrs_ops[..prefix]),
                )
            },
        ],
    );
    t.add("ot Document::apply, first 10k", prefix, ours);
    t.add("operational-transform apply, first 10k", prefix, theirs);
    if full {
        let theirs = timed(
            || trace.start_content.clone(),
            |s| run_otrs_apply(s, &otrs_ops),
        );
        t.add("operational-transform apply, whole trace", n, theirs);
    }

    let [ours, theirs, ours_hot, theirs_hot] = interleaved(
        9,
        [
            &mut || timed(|| (), |_| run_transform_ot(&pairs_ot)),
            &mut || timed(|| (), |_| run_transform_otrs(&pairs_otrs)),
            &mut || time_chunked(&pairs_ot, 1000, run_transform_ot).0,
            &mut || time_chunked(&pairs_otrs, 1000, run_transform_otrs).0,
        ],
    );
    t.add("ot transform, streamed", n, ours);
    t.add("operational-transform transform, streamed", n, theirs);
    t.add("ot transform, chunks of 1000", n, ours_hot);
    t.add(
        "operational-transform transform, chunks of 1000",
        n,
        theirs_hot,
    );

    let [ours, theirs] = interleaved(
        5,
        [
            &mut || timed(|| ot_ops.clone(), run_compose_ot),
            &mut || timed(|| otrs_ops.clone(), run_compose_otrs),
        ],
    );
    t.add("ot Operation::compose_all", n, ours);
    t.add("operational-transform tree compose", n, theirs);

    println!();
    println!("summary ({}):", trace.name);
    println!("  {:<60} {:>10} {:>8}", "ratio", "measured", "target");
    t.ratio(
        "Document-through-ops / raw jumprope",
        "ot Document::apply (pre-built ops)",
        "raw jumprope",
        Some(0.5),
    );
    t.ratio(
        "apply: ot / op-transform (same 20x500 windows)",
        "ot Document::apply, 20x500 windows",
        "operational-transform apply, 20x500 windows",
        Some(1000.0),
    );
    t.ratio(
        "apply: ot whole trace / op-transform 20x500 windows",
        "ot Document::apply (pre-built ops)",
        "operational-transform apply, 20x500 windows",
        Some(1000.0),
    );
    if full {
        t.ratio(
            "apply: ot / op-transform (whole trace)",
            "ot Document::apply (pre-built ops)",
            "operational-transform apply, whole trace",
            Some(1000.0),
        );
    }
    t.ratio(
        "apply: ot / op-transform (first 10k: short documents)",
        "ot Document::apply, first 10k",
        "operational-transform apply, first 10k",
        None,
    );
    t.ratio(
        "transform: ot / op-transform (chunks of 1000, hot)",
        "ot transform, chunks of 1000",
        "operational-transform transform, chunks of 1000",
        Some(2.0),
    );
    t.ratio(
        "transform: ot / op-transform (pre-built pairs, streamed)",
        "ot transform, streamed",
        "operational-transform transform, streamed",
        Some(2.0),
    );
    t.ratio(
        "compose (whole trace, tree): ot / op-transform",
        "ot Operation::compose_all",
        "operational-transform tree compose",
        Some(2.0),
    );
}
