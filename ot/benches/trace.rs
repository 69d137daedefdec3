//! Criterion benchmarks of the `ot` crate on the real sequential editing traces in
//! `shared/traces/sequential` (see `shared/traces/PROVENANCE.txt`):
//!
//! - `ropes/<trace>`: the raw edits of every trace on jumprope (what `ot::Document` uses),
//!   ropey and crop (byte-indexed: each code-point offset is converted in the loop), next to
//!   `ot::Document::apply` through pre-built `ot::Operation`s;
//! - `apply`, `transform`, `compose` on automerge-paper (259,778 edits): `ot` against the
//!   `operational-transform` 0.6.1 crate on the same inputs.
//!
//! Every figure is per trace edit (`Throughput::Elements`), so criterion prints edits/s.
//! `cargo run --release -p ot --example speed_report` prints the summary table and ratios.
//!
//! ```text
//! cargo bench -p ot --bench trace                 # everything, a few minutes
//! cargo bench -p ot --bench trace -- transform    # one group
//! ```

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use ot::Document;

const TRACES: [&str; 4] = [
    "automerge-paper",
    "rustcode",
    "seph-blog1",
    "sveltecomponent",
];

/// Small samples and short measurements: the machine is shared and noisy, and the slow
/// `operational-transform` baselines take up to half a second per iteration (see
/// [`slow_group`]).
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

/// For groups whose iterations take tens to hundreds of milliseconds: the same number of
/// iterations in every sample, and `secs` to measure them.
fn slow_group(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, secs: u64) {
    g.sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(secs));
}

/// Raw rope edits on every trace, and `Document::apply` through pre-built operations.
fn ropes(c: &mut Criterion) {
    for name in TRACES {
        let trace = load(name);
        let ops = build_ot_ops(&trace);
        for (rope, text) in [
            ("jumprope", run_jumprope(&trace).to_string()),
            ("ropey", run_ropey(&trace).to_string()),
            ("crop", run_crop(&trace).to_string()),
            (
                "Document",
                run_document(Document::from_text(&trace.start_content), &ops).to_string(),
            ),
        ] {
            assert_eq!(text, trace.end_content, "{rope} on {name}");
        }
        let start = Document::from_text(&trace.start_content);
        let mut g = c.benchmark_group(format!("ropes/{name}"));
        slow_group(&mut g, 2);
        g.throughput(Throughput::Elements(trace.patches.len() as u64));
        g.bench_function("jumprope", |b| b.iter(|| run_jumprope(black_box(&trace))));
        g.bench_function("ropey", |b| b.iter(|| run_ropey(black_box(&trace))));
        g.bench_function("crop", |b| b.iter(|| run_crop(black_box(&trace))));
        g.bench_function("ot Document::apply", |b| {
            b.iter_batched(
                || start.clone(),
                |doc| run_document(doc, black_box(&ops)),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

/// `operational-transform` applies an operation by building a new `String`, O(document) per
/// edit: on the whole trace that is minutes, so both libraries apply the same sample of the
/// trace — 10 windows of 200 consecutive edits spread evenly over it, each from the document
/// as it is there — and, for reference, the first 10,000 edits (short documents only).
fn apply(c: &mut Criterion) {
    let trace = load(MAIN_TRACE);
    let ot_ops = build_ot_ops(&trace);
    let otrs_ops = build_otrs_ops(&trace);
    let windows = build_windows(&trace, 10, 200);
    let sampled: usize = windows.iter().map(|w| w.len).sum();
    check_windows(&windows, &ot_ops, &otrs_ops);
    let prefix = 10_000;
    let start = Document::from_text(&trace.start_content);

    let mut g = c.benchmark_group(format!("apply/{}", trace.name));
    slow_group(&mut g, 5);
    g.throughput(Throughput::Elements(trace.patches.len() as u64));
    g.bench_function("ot Document::apply, whole trace", |b| {
        b.iter_batched(
            || start.clone(),
            |doc| run_document(doc, black_box(&ot_ops)),
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(sampled as u64));
    g.bench_function("ot Document::apply, 10x200 windows", |b| {
        b.iter_batched(
            || window_docs(&windows),
            |docs| run_windows_document(&windows, docs, black_box(&ot_ops)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("operational-transform apply, 10x200 windows", |b| {
        b.iter_batched(
            || window_texts(&windows),
            |texts| run_windows_otrs(&windows, texts, black_box(&otrs_ops)),
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(prefix as u64));
    g.bench_function("ot Document::apply, first 10k", |b| {
        b.iter_batched(
            || start.clone(),
            |doc| run_document(doc, black_box(&ot_ops[..prefix])),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("operational-transform apply, first 10k", |b| {
        b.iter_batched(
            || trace.start_content.clone(),
            |text| run_otrs_apply(text, black_box(&otrs_ops[..prefix])),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Each trace edit against a concurrent edit of the same document elsewhere (see
/// `build_transform_pairs`): streamed through all pre-built pairs, and in chunks of 1,000 pairs
/// fresh in cache (see `time_chunked`).
fn transform(c: &mut Criterion) {
    let trace = load(MAIN_TRACE);
    let (ours, theirs) = build_transform_pairs(&trace);
    let mut g = c.benchmark_group(format!("transform/{}", trace.name));
    slow_group(&mut g, 2);
    g.throughput(Throughput::Elements(ours.len() as u64));
    g.bench_function("ot transform, streamed", |b| {
        b.iter(|| run_transform_ot(black_box(&ours)))
    });
    g.bench_function("operational-transform transform, streamed", |b| {
        b.iter(|| run_transform_otrs(black_box(&theirs)))
    });
    g.bench_function("ot transform, chunks of 1000", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| time_chunked(&ours, 1000, run_transform_ot).0)
                .sum()
        })
    });
    g.bench_function("operational-transform transform, chunks of 1000", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| time_chunked(&theirs, 1000, run_transform_otrs).0)
                .sum()
        })
    });
    g.finish();
}

/// Composing the whole trace into one operation: `ot::Operation::compose_all` (a balanced tree
/// of pairwise composes) against the same tree of `operational-transform` composes.
fn compose(c: &mut Criterion) {
    let trace = load(MAIN_TRACE);
    let ot_ops = build_ot_ops(&trace);
    let otrs_ops = build_otrs_ops(&trace);
    check(&trace, &ot_ops, &otrs_ops);
    let mut g = c.benchmark_group(format!("compose/{}", trace.name));
    slow_group(&mut g, 5);
    g.throughput(Throughput::Elements(ot_ops.len() as u64));
    g.bench_function("ot Operation::compose_all", |b| {
        b.iter_batched(|| ot_ops.clone(), run_compose_ot, BatchSize::LargeInput)
    });
    g.bench_function("operational-transform tree compose", |b| {
        b.iter_batched(|| otrs_ops.clone(), run_compose_otrs, BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = ropes, apply, transform, compose
}
criterion_main!(benches);
