//! The real editing traces of [josephg/editing-traces](https://github.com/josephg/editing-traces)
//! (sequential set): loading one into a [`Trace`], finding them all, and turning one into
//! operations.
//!
//! A trace file is gzipped JSON, `{"startContent", "endContent", "txns": [{"patches": [[pos,
//! del, "insert"], …]}, …]}`: applying every patch of every transaction in order, each like
//! JavaScript's `Array.splice`, takes `startContent` to `endContent`. Positions and lengths
//! count Unicode code points, the unit of this crate. The files are kept outside the repository,
//! at `../shared/traces/sequential` relative to its root (see [`traces_dir`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::{Operation, OtError};

/// One editor change: at code point `pos`, delete `del` code points, then insert `insert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    /// Position in the document as it is before this patch, in code points.
    pub pos: usize,
    /// Number of code points deleted at `pos`.
    pub del: usize,
    /// Text inserted at `pos` (possibly empty).
    pub insert: String,
}

/// A sequential editing trace, its transactions flattened into one list of patches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The file name without `.json.gz`, e.g. `automerge-paper`.
    pub name: String,
    /// The document before the first patch (empty in every published trace).
    pub start_content: String,
    /// The document after the last patch.
    pub end_content: String,
    /// Every patch of every transaction, in order.
    pub patches: Vec<Patch>,
}

/// Why a trace could not be found, read or replayed.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The traces directory cannot be listed.
    #[error(
        "editing traces not found at {}: {source} (they are expected at \
         ../shared/traces/sequential relative to the repository root, or at $OT_TRACE_DIR)",
        dir.display()
    )]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// What listing it reported.
        source: std::io::Error,
    },
    /// The traces directory holds no `*.json.gz` file.
    #[error("no *.json.gz trace in {}", dir.display())]
    NoTraces {
        /// The directory.
        dir: PathBuf,
    },
    /// The file cannot be opened.
    #[error("cannot open trace {}: {source}", path.display())]
    Open {
        /// The trace file.
        path: PathBuf,
        /// What opening it reported.
        source: std::io::Error,
    },
    /// The file is not gzip, or not UTF-8 once decompressed.
    #[error("cannot gunzip trace {}: {source}", path.display())]
    Gunzip {
        /// The trace file.
        path: PathBuf,
        /// What decompressing it reported.
        source: std::io::Error,
    },
    /// The JSON is not a trace (not JSON, or a field missing or of the wrong type).
    #[error("trace {} is not in the editing-traces format: {source}", path.display())]
    Json {
        /// The trace file.
        path: PathBuf,
        /// What the JSON parser reported.
        source: serde_json::Error,
    },
    /// A transaction without patches (the format requires at least one).
    #[error("trace {}: transaction {txn} has no patches", path.display())]
    EmptyTxn {
        /// The trace file.
        path: PathBuf,
        /// Index of the transaction.
        txn: usize,
    },
    /// A patch that neither deletes nor inserts (the format promises every patch changes
    /// something).
    #[error("trace {}: patch {patch} of transaction {txn} changes nothing", path.display())]
    EmptyPatch {
        /// The trace file.
        path: PathBuf,
        /// Index of the transaction.
        txn: usize,
        /// Index of the patch in the transaction.
        patch: usize,
    },
    /// A patch that does not fit the document it applies to.
    #[error("trace {name}: patch {index}: {source}")]
    PatchDoesNotFit {
        /// [`Trace::name`].
        name: String,
        /// Index of the patch in [`Trace::patches`].
        index: usize,
        /// Why [`Operation::splice`] refused it.
        source: OtError,
    },
}

/// The directory of the sequential traces: `$OT_TRACE_DIR` when set, otherwise
/// `../shared/traces/sequential` relative to the repository root (which holds this crate in
/// `ot/`).
pub fn traces_dir() -> PathBuf {
    match std::env::var_os("OT_TRACE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/sequential"),
    }
}

/// Every `*.json.gz` file in [`traces_dir`], sorted by name. A missing or empty directory is an
/// error, so that a test cannot pass by replaying nothing.
pub fn trace_files() -> Result<Vec<PathBuf>, TraceError> {
    let dir = traces_dir();
    let dir_error = |source| TraceError::Dir {
        dir: dir.clone(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(dir_error)? {
        let path = entry.map_err(dir_error)?.path();
        if path.to_string_lossy().ends_with(".json.gz") {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(TraceError::NoTraces { dir });
    }
    files.sort();
    Ok(files)
}

/// Loads `<name>.json.gz` from [`traces_dir`], e.g. `load_named("automerge-paper")`.
pub fn load_named(name: &str) -> Result<Trace, TraceError> {
    load(traces_dir().join(format!("{name}.json.gz")))
}

/// Loads the trace file at `path` and checks the structure the format promises (every
/// transaction has a patch, every patch changes something); whether the patches fit the
/// document is left to replaying them ([`Trace::operations`]).
pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| TraceError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .map_err(|source| TraceError::Gunzip {
            path: path.to_owned(),
            source,
        })?;
    let raw: RawTrace = serde_json::from_str(&json).map_err(|source| TraceError::Json {
        path: path.to_owned(),
        source,
    })?;
    let mut patches = Vec::new();
    for (txn, RawTxn { patches: list }) in raw.txns.into_iter().enumerate() {
        if list.is_empty() {
            return Err(TraceError::EmptyTxn {
                path: path.to_owned(),
                txn,
            });
        }
        for (patch, (pos, del, insert)) in list.into_iter().enumerate() {
            if del == 0 && insert.is_empty() {
                return Err(TraceError::EmptyPatch {
                    path: path.to_owned(),
                    txn,
                    patch,
                });
            }
            patches.push(Patch { pos, del, insert });
        }
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match file_name.strip_suffix(".json.gz") {
        Some(stem) => stem.to_owned(),
        None => file_name,
    };
    Ok(Trace {
        name,
        start_content: raw.start_content,
        end_content: raw.end_content,
        patches,
    })
}

impl Trace {
    /// One [`Operation::splice`] per patch, each built for the length the document has just
    /// before it (so they compose in order from `start_content`).
    pub fn operations(&self) -> Result<Vec<Operation>, TraceError> {
        let mut len = self.start_content.chars().count();
        let mut ops = Vec::with_capacity(self.patches.len());
        for (index, p) in self.patches.iter().enumerate() {
            let op = Operation::splice(len, p.pos, p.del, &p.insert).map_err(|source| {
                TraceError::PatchDoesNotFit {
                    name: self.name.clone(),
                    index,
                    source,
                }
            })?;
            len = op.target_len();
            ops.push(op);
        }
        Ok(ops)
    }

    /// True when no text of the trace is outside the Basic Multilingual Plane, so that its
    /// code-point offsets equal UTF-16 offsets (true of every published trace).
    pub fn bmp_only(&self) -> bool {
        std::iter::once(self.start_content.as_str())
            .chain(self.patches.iter().map(|p| p.insert.as_str()))
            .all(|s| s.chars().all(|c| (c as u32) <= 0xFFFF))
    }
}

/// A trace file as it is on disk (unknown fields such as a transaction's `time` are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrace {
    start_content: String,
    end_content: String,
    txns: Vec<RawTxn>,
}

#[derive(Deserialize)]
struct RawTxn {
    /// `[position, deleted, inserted]`.
    patches: Vec<(usize, usize, String)>,
}
