//! Replays the real editing traces (josephg/editing-traces, sequential set; see
//! `shared/traces/PROVENANCE.txt`) patch by patch through `Operation::splice` and
//! `Document::apply`, and checks each ends exactly at its recorded `endContent`.
//!
//! The traces live outside the crate, at `<repo root>/../shared/traces/sequential`. A missing
//! directory is a failure, not a skip.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::read::GzDecoder;
use ot::{Document, Operation};
use serde_json::Value;

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/sequential")
}

/// Every `*.json.gz` in the traces directory, sorted; panics if there is none.
fn trace_files() -> Vec<PathBuf> {
    let dir = traces_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "editing traces not found at {}: {e} (they are expected at ../shared/traces/sequential \
             relative to the repository root)",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading the traces directory").path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json.gz trace in {}", dir.display());
    files
}

struct Trace {
    name: String,
    start: String,
    end: String,
    /// Per patch: (position, deleted chars, inserted text), positions in code points.
    patches: Vec<(usize, usize, String)>,
}

fn load(path: &Path) -> Trace {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut json = String::new();
    GzDecoder::new(File::open(path).unwrap_or_else(|e| panic!("{name}: {e}")))
        .read_to_string(&mut json)
        .unwrap_or_else(|e| panic!("{name}: gunzip: {e}"));
    let value: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = |key: &str| {
        value[key]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no string {key}"))
            .to_owned()
    };
    let txns = value["txns"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no txns array"));
    let mut patches = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        let list = txn["patches"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: txn {t} has no patches"));
        assert!(!list.is_empty(), "{name}: txn {t} is empty");
        for p in list {
            let bad = || panic!("{name}: txn {t}: bad patch {p}");
            let (Some(pos), Some(del), Some(ins)) = (p[0].as_u64(), p[1].as_u64(), p[2].as_str())
            else {
                bad()
            };
            patches.push((pos as usize, del as usize, ins.to_owned()));
        }
    }
    let (start, end) = (text("startContent"), text("endContent"));
    Trace {
        name,
        start,
        end,
        patches,
    }
}

/// Every trace, loaded once for all the tests of this file.
fn traces() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| trace_files().iter().map(|p| load(p)).collect())
}

/// The operations of a trace, one per patch, each built for the length the document has then.
fn operations(trace: &Trace) -> Vec<Operation> {
    let mut len = trace.start.chars().count();
    trace
        .patches
        .iter()
        .enumerate()
        .map(|(i, (pos, del, ins))| {
            let op = Operation::splice(len, *pos, *del, ins)
                .unwrap_or_else(|e| panic!("{}: patch {i}: {e}", trace.name));
            assert!(!op.is_noop(), "{}: patch {i} changes nothing", trace.name);
            len = op.target_len();
            op
        })
        .collect()
}

fn replay(trace: &Trace, ops: &[Operation]) -> Document {
    let mut doc = Document::from_text(&trace.start);
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
            trace.end.chars().count(),
            "{}: length",
            trace.name
        );
        assert_eq!(doc.byte_len(), trace.end.len(), "{}: bytes", trace.name);
        assert!(
            doc.to_string() == trace.end,
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
        assert_eq!(all.base_len(), trace.start.chars().count());
        assert_eq!(all.target_len(), trace.end.chars().count());
        assert!(
            all.apply(&trace.start).unwrap() == trace.end,
            "{name}: composed apply"
        );
        let mut doc = Document::from_text(&trace.start);
        doc.apply(&all).unwrap();
        assert!(doc.to_string() == trace.end, "{name}: composed rope apply");
        let undo = all.invert(&trace.start).unwrap();
        assert!(
            undo.apply(&trace.end).unwrap() == trace.start,
            "{name}: undo"
        );
    }
}
