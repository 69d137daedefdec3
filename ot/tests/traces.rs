//! Replays the real editing traces (josephg/editing-traces, sequential set; see
//! `shared/traces/PROVENANCE.txt`) patch by patch through `Operation::splice` and
//! `Document::apply`, and checks each ends exactly at its recorded `endContent`.
//!
//! The traces live outside the crate, at `<repo root>/../shared/traces/sequential` (or
//! `$OT_TRACE_DIR`), and are read by `ot::testkit::trace`. A missing directory is a failure, not
//! a skip.

use std::sync::OnceLock;

use ot::testkit::trace::{self, Trace};
use ot::{Document, Operation};

/// Every `*.json.gz` in the traces directory, sorted; panics if there is none.
fn trace_files() -> Vec<std::path::PathBuf> {
    trace::trace_files().unwrap_or_else(|e| panic!("{e}"))
}

/// Every trace, loaded once for all the tests of this file.
fn traces() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| {
        trace_files()
            .iter()
            .map(|p| trace::load(p).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    })
}

/// The operations of a trace, one per patch, each built for the length the document has then.
fn operations(trace: &Trace) -> Vec<Operation> {
    let ops = trace.operations().unwrap_or_else(|e| panic!("{e}"));
    for (i, op) in ops.iter().enumerate() {
        assert!(!op.is_noop(), "{}: patch {i} changes nothing", trace.name);
    }
    ops
}

fn replay(trace: &Trace, ops: &[Operation]) -> Document {
    let mut doc = Document::from_text(&trace.start_content);
    for (i, op) in ops.iter().enumerate() {
        doc.apply(op)
            .unwrap_or_else(|e| panic!("{}: patch {i}: {e}", trace.name));
    }
    doc
}

#[test]
fn every_trace_replays_to_its_end_content() {
    let files = trace_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "automerge-paper.json.gz",
        "rustcode.json.gz",
        "seph-blog1.json.gz",
        "sveltecomponent.json.gz",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    for trace in traces() {
        assert!(!trace.patches.is_empty(), "{}: no patches", trace.name);
        let ops = operations(trace);
        let doc = replay(trace, &ops);
        assert_eq!(
            doc.char_len(),
            trace.end_content.chars().count(),
            "{}: length",
            trace.name
        );
        assert_eq!(
            doc.byte_len(),
            trace.end_content.len(),
            "{}: bytes",
            trace.name
        );
        assert!(
            doc.to_string() == trace.end_content,
            "{}: content differs from endContent",
            trace.name
        );
    }
}

/// The whole history of a trace composed into one operation (balanced `compose_all`) takes
/// `startContent` to `endContent`, on strings and on the rope, and its inverse takes it back.
/// Done for every trace (`rustcode` and `seph-blog1` have non-ASCII text, `rustcode` and
/// `sveltecomponent` multi-patch transactions).
#[test]
fn composed_history_takes_start_to_end() {
    for trace in traces() {
        let name = &trace.name;
        let ops = operations(trace);
        let all = Operation::compose_all(ops)
            .unwrap()
            .expect("a non-empty trace");
        assert_eq!(all.base_len(), trace.start_content.chars().count());
        assert_eq!(all.target_len(), trace.end_content.chars().count());
        assert!(
            all.apply(&trace.start_content).unwrap() == trace.end_content,
            "{name}: composed apply"
        );
        let mut doc = Document::from_text(&trace.start_content);
        doc.apply(&all).unwrap();
        assert!(
            doc.to_string() == trace.end_content,
            "{name}: composed rope apply"
        );
        let undo = all.invert(&trace.start_content).unwrap();
        assert!(
            undo.apply(&trace.end_content).unwrap() == trace.start_content,
            "{name}: undo"
        );
    }
}
