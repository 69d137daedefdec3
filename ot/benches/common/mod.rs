//! Shared by `benches/trace.rs` and `examples/speed_report.rs`: turning the sequential editing
//! traces in `shared/traces/sequential` (loaded by `ot::testkit::trace`) into the inputs of each
//! benchmark (raw rope edits, `ot::Operation`s, `operational_transform::OperationSeq`s,
//! concurrent pairs).
//!
//! Every "run" function here is what gets timed; every "build" function is setup done outside
//! the timed region. Each run function returns something derived from its result so the
//! optimiser cannot drop the work, and the callers check results against the trace's
//! `endContent` once, before timing.
// Included by a bench and an example binary, which export nothing: `pub` means "shared".
#![allow(unreachable_pub)]

use std::time::{Duration, Instant};

use jumprope::JumpRope;
use operational_transform::OperationSeq;
use ot::testkit::trace::Trace;
use ot::{Document, Operation, Side};

/// The trace that the speed targets are stated on.
pub const MAIN_TRACE: &str = "automerge-paper";

/// Loads `<name>.json.gz` from the traces directory (panics if it cannot).
pub fn load(name: &str) -> Trace {
    ot::testkit::trace::load_named(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Document length (in code points) before each patch.
pub fn doc_lens(trace: &Trace) -> Vec<usize> {
    let mut len = trace.start_content.chars().count();
    trace
        .patches
        .iter()
        .map(|p| {
            let before = len;
            len = len - p.del + p.insert.chars().count();
            before
        })
        .collect()
}

/// One `ot::Operation::splice` per patch.
pub fn build_ot_ops(trace: &Trace) -> Vec<Operation> {
    trace.operations().unwrap_or_else(|e| panic!("{e}"))
}

/// `operational_transform`'s equivalent of [`ot::Operation::splice`].
pub fn otrs_splice(len: usize, pos: usize, del: usize, ins: &str) -> OperationSeq {
    let mut op = OperationSeq::with_capacity(4);
    op.retain(pos as u64);
    op.insert(ins);
    op.delete(del as u64);
    op.retain((len - pos - del) as u64);
    op
}

/// One `operational_transform::OperationSeq` per patch (same shape as [`build_ot_ops`]).
pub fn build_otrs_ops(trace: &Trace) -> Vec<OperationSeq> {
    trace
        .patches
        .iter()
        .zip(doc_lens(trace))
        .map(|(p, len)| otrs_splice(len, p.pos, p.del, &p.insert))
        .collect()
}

// ---- raw rope edits -------------------------------------------------------------------------

pub fn run_jumprope(trace: &Trace) -> JumpRope {
    let mut rope = JumpRope::from(trace.start_content.as_str());
    for p in &trace.patches {
        if p.del > 0 {
            rope.remove(p.pos..p.pos + p.del);
        }
        if !p.insert.is_empty() {
            rope.insert(p.pos, &p.insert);
        }
    }
    rope
}

pub fn run_ropey(trace: &Trace) -> ropey::Rope {
    let mut rope = ropey::Rope::from_str(&trace.start_content);
    for p in &trace.patches {
        if p.del > 0 {
            rope.remove(p.pos..p.pos + p.del);
        }
        if !p.insert.is_empty() {
            rope.insert(p.pos, &p.insert);
        }
    }
    rope
}

/// crop indexes by UTF-8 byte: each code-point offset is converted in the timed loop, through
/// crop's UTF-16 metric (exact here because the traces have no astral characters, checked by
/// [`Trace::bmp_only`]).
pub fn run_crop(trace: &Trace) -> crop::Rope {
    assert!(trace.bmp_only(), "crop conversion needs a BMP-only trace");
    let mut rope = crop::Rope::from(trace.start_content.as_str());
    for p in &trace.patches {
        let start = rope.byte_of_utf16_code_unit(p.pos);
        if p.del > 0 {
            let end = rope.byte_of_utf16_code_unit(p.pos + p.del);
            rope.delete(start..end);
        }
        if !p.insert.is_empty() {
            rope.insert(start, &p.insert);
        }
    }
    rope
}

// ---- through operations ---------------------------------------------------------------------

/// Applies `ops` to `doc` (built by the caller, outside the timed region).
pub fn run_document(mut doc: Document, ops: &[Operation]) -> Document {
    for op in ops {
        doc.apply(op).expect("op applies");
    }
    doc
}

/// `operational_transform` has no rope: each apply builds a new `String`.
pub fn run_otrs_apply(mut text: String, ops: &[OperationSeq]) -> String {
    for op in ops {
        text = op.apply(&text).expect("op applies");
    }
    text
}

/// A contiguous run of `len` trace edits starting at edit `first`, with the document text as it
/// is just before edit `first`.
pub struct Window {
    pub first: usize,
    pub len: usize,
    pub text: String,
}

/// `count` windows of `len` consecutive edits, spread evenly over the trace, so that applying
/// them samples the document lengths of the whole trace (a prefix would only see the short
/// documents of its start).
pub fn build_windows(trace: &Trace, count: usize, len: usize) -> Vec<Window> {
    let n = trace.patches.len();
    assert!(count * len <= n);
    let firsts: Vec<usize> = (0..count)
        .map(|i| i * (n - len) / (count - 1).max(1))
        .collect();
    let mut rope = JumpRope::from(trace.start_content.as_str());
    let mut windows = Vec::with_capacity(count);
    let mut next = 0;
    for (i, p) in trace.patches.iter().enumerate() {
        if next < count && firsts[next] == i {
            windows.push(Window {
                first: i,
                len,
                text: rope.to_string(),
            });
            next += 1;
        }
        if p.del > 0 {
            rope.remove(p.pos..p.pos + p.del);
        }
        rope.insert(p.pos, &p.insert);
    }
    windows
}

/// The start documents of `windows`, for [`run_windows_document`] (setup, not timed).
pub fn window_docs(windows: &[Window]) -> Vec<Document> {
    windows
        .iter()
        .map(|w| Document::from_text(&w.text))
        .collect()
}

/// The start texts of `windows`, for [`run_windows_otrs`] (setup, not timed).
pub fn window_texts(windows: &[Window]) -> Vec<String> {
    windows.iter().map(|w| w.text.clone()).collect()
}

pub fn run_windows_document(windows: &[Window], docs: Vec<Document>, ops: &[Operation]) -> usize {
    windows
        .iter()
        .zip(docs)
        .map(|(w, doc)| run_document(doc, &ops[w.first..w.first + w.len]).char_len())
        .sum()
}

pub fn run_windows_otrs(windows: &[Window], texts: Vec<String>, ops: &[OperationSeq]) -> usize {
    windows
        .iter()
        .zip(texts)
        .map(|(w, text)| run_otrs_apply(text, &ops[w.first..w.first + w.len]).len())
        .sum()
}

// ---- transform ------------------------------------------------------------------------------

/// For each trace edit, a synthetic concurrent edit of the same base document at another
/// position (half a document away): a one-char insert on even edits, a one-char delete on odd
/// ones (an insert when the document is empty). Returns the (trace op, concurrent op) pairs in
/// both libraries' types.
#[allow(clippy::type_complexity)]
pub fn build_transform_pairs(
    trace: &Trace,
) -> (
    Vec<(Operation, Operation)>,
    Vec<(OperationSeq, OperationSeq)>,
) {
    let mut ours = Vec::with_capacity(trace.patches.len());
    let mut theirs = Vec::with_capacity(trace.patches.len());
    for (i, (p, len)) in trace.patches.iter().zip(doc_lens(trace)).enumerate() {
        let q = (p.pos + len / 2) % (len + 1);
        let (del, ins) = if i % 2 == 1 && q < len {
            (1, "")
        } else {
            (0, "x")
        };
        ours.push((
            Operation::splice(len, p.pos, p.del, &p.insert).expect("patch fits"),
            Operation::splice(len, q, del, ins).expect("synthetic edit fits"),
        ));
        theirs.push((
            otrs_splice(len, p.pos, p.del, &p.insert),
            otrs_splice(len, q, del, ins),
        ));
    }
    (ours, theirs)
}

#[inline(never)]
pub fn run_transform_ot(pairs: &[(Operation, Operation)]) -> usize {
    pairs
        .iter()
        .map(|(a, b)| {
            let (a2, b2) = ot::transform(a, b, Side::Left).expect("same base");
            a2.target_len() + b2.components().len()
        })
        .sum()
}

#[inline(never)]
pub fn run_transform_otrs(pairs: &[(OperationSeq, OperationSeq)]) -> usize {
    pairs
        .iter()
        .map(|(a, b)| {
            let (a2, b2) = a.transform(b).expect("same base");
            a2.target_len() + b2.ops().len()
        })
        .sum()
}

/// Runs `run` over `pairs` in chunks of `chunk`, each chunk cloned (untimed) just before it is
/// timed, and returns the total time of the runs. A server transforms an operation that has just
/// arrived against recent history, both hot in cache; streaming through 259k pre-built pairs
/// scattered over the heap instead adds the same cache misses to both libraries.
pub fn time_chunked<P: Clone>(
    pairs: &[P],
    chunk: usize,
    mut run: impl FnMut(&[P]) -> usize,
) -> (Duration, usize) {
    let mut total = Duration::ZERO;
    let mut acc = 0;
    for c in pairs.chunks(chunk) {
        let fresh = c.to_vec();
        let t = Instant::now();
        acc += run(std::hint::black_box(&fresh));
        total += t.elapsed();
    }
    (total, acc)
}

// ---- compose --------------------------------------------------------------------------------

pub fn run_compose_ot(ops: Vec<Operation>) -> Operation {
    Operation::compose_all(ops)
        .expect("consecutive ops")
        .expect("non-empty")
}

/// The same balanced tree as `ot::Operation::compose_all`: pairwise rounds until one is left.
pub fn run_compose_otrs(mut level: Vec<OperationSeq>) -> OperationSeq {
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut it = level.into_iter();
        while let Some(first) = it.next() {
            match it.next() {
                Some(second) => next.push(first.compose(&second).expect("consecutive ops")),
                None => next.push(first),
            }
        }
        level = next;
    }
    level.pop().expect("non-empty")
}

/// Checks that both libraries turn every window into the same text (panics if not).
pub fn check_windows(windows: &[Window], ot_ops: &[Operation], otrs_ops: &[OperationSeq]) {
    for w in windows {
        let ops = w.first..w.first + w.len;
        let ours = run_document(Document::from_text(&w.text), &ot_ops[ops.clone()]);
        let theirs = run_otrs_apply(w.text.clone(), &otrs_ops[ops]);
        assert_eq!(ours.to_string(), theirs, "window at edit {}", w.first);
    }
}

/// Runs every pipeline once and checks it reproduces the trace's end text (panics if not).
pub fn check(trace: &Trace, ot_ops: &[Operation], otrs_ops: &[OperationSeq]) {
    assert_eq!(
        run_jumprope(trace).to_string(),
        trace.end_content,
        "jumprope"
    );
    assert_eq!(run_ropey(trace).to_string(), trace.end_content, "ropey");
    assert_eq!(run_crop(trace).to_string(), trace.end_content, "crop");
    assert_eq!(
        run_document(Document::from_text(&trace.start_content), ot_ops).to_string(),
        trace.end_content,
        "Document"
    );
    let composed = run_compose_ot(ot_ops.to_vec());
    assert_eq!(
        composed.apply(&trace.start_content).unwrap(),
        trace.end_content,
        "compose_all"
    );
    let composed = run_compose_otrs(otrs_ops.to_vec());
    assert_eq!(
        composed.apply(&trace.start_content).unwrap(),
        trace.end_content,
        "otrs compose"
    );
}
