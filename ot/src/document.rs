//! `Document`: the text of one document held in a rope, so that applying an operation costs
//! O(components · log n) instead of O(document length).
//!
//! # Why jumprope
//! We compared jumprope 1.1, ropey 1.6 and crop 0.4 replaying the four sequential editing traces
//! in `shared/traces/sequential` (`cargo bench -p ot --bench trace`, group `ropes/<trace>`;
//! criterion medians on the shared 2-core dev machine, so ±20 %), in million edits per second:
//!
//! | trace (edits)             | jumprope | ropey | crop¹ | `Document::apply`² |
//! |---------------------------|---------:|------:|------:|-------------------:|
//! | automerge-paper (259,778) |     13.1 |   4.0 |   2.4 |               11.1 |
//! | rustcode (40,173)         |      7.7 |   2.7 |   1.7 |                7.2 |
//! | seph-blog1 (137,993)      |     13.1 |   3.9 |   2.4 |                9.6 |
//! | sveltecomponent (19,749)  |      9.1 |   2.9 |   2.0 |                8.4 |
//!
//! ¹ crop indexes by UTF-8 byte, so each code-point offset is converted in the loop (through
//! its `utf16-metric`, exact for these traces, which have no astral characters).
//! ² this type, through pre-built [`Operation::splice`]s: 0.7–0.95× raw jumprope.
//!
//! jumprope is the fastest of the three on every trace — about 3× ropey, 4.5–5.5× crop — and it
//! indexes by code point natively, exactly the unit of our operations. ropey is also code-point
//! indexed but slower on these workloads; crop would need that conversion on every edit.

use jumprope::JumpRope;

use crate::checked::CheckedOp;
use crate::error::OtError;
use crate::operation::{Component, Operation};
use crate::text::{char_len, TextSource};

/// A plain-text document held in a rope.
///
/// ```
/// use ot::{Document, Operation};
/// let mut doc = Document::from_text("hello");
/// doc.apply(&Operation::splice(5, 5, 0, " world").unwrap()).unwrap();
/// assert_eq!(doc.to_string(), "hello world");
/// assert_eq!(doc.char_len(), 11);
/// ```
#[derive(Clone, Default)]
pub struct Document {
    rope: JumpRope,
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// A document holding `text`.
    pub fn from_text(text: &str) -> Self {
        Self {
            rope: JumpRope::from(text),
        }
    }

    /// Length in chars (code points).
    pub fn char_len(&self) -> usize {
        self.rope.len_chars()
    }

    /// Length in UTF-8 bytes.
    pub fn byte_len(&self) -> usize {
        self.rope.len_bytes()
    }

    /// True when the document is empty.
    pub fn is_empty(&self) -> bool {
        self.rope.is_empty()
    }

    /// Applies `op`. Errors (leaving the document unchanged) when `op` spans a document of
    /// another length.
    pub fn apply(&mut self, op: &Operation) -> Result<(), OtError> {
        let actual = self.rope.len_chars();
        if op.base_len() != actual {
            return Err(OtError::BaseLengthMismatch {
                expected: op.base_len(),
                actual,
            });
        }
        let mut pos = 0;
        for c in op.components() {
            match c {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => {
                    self.rope.insert(pos, s);
                    pos += char_len(s);
                }
                Component::Delete(n) => self.rope.remove(pos..pos + n),
            }
        }
        Ok(())
    }

    /// Verifies `op`'s checked deletes against this document, then applies it (after restoring
    /// an omitted trailing retain). Nothing changes when it errors.
    pub fn apply_checked(&mut self, op: &CheckedOp) -> Result<Operation, OtError> {
        op.verify(self)?;
        let mut full = op.op.clone();
        full.fit_to(self.char_len())?;
        self.apply(&full)?;
        Ok(full)
    }

    /// The undo of `op` against this document (call before applying `op`).
    pub fn invert(&self, op: &Operation) -> Result<Operation, OtError> {
        let actual = self.char_len();
        if op.base_len() != actual {
            return Err(OtError::BaseLengthMismatch {
                expected: op.base_len(),
                actual,
            });
        }
        let mut out = Operation::with_capacity(op.components().len());
        let mut pos = 0;
        for c in op.components() {
            match c {
                Component::Retain(n) => {
                    out.retain(*n);
                    pos += n;
                }
                Component::Insert(s) => {
                    out.delete(char_len(s));
                }
                Component::Delete(n) => {
                    out.insert(&self.slice_chars(pos, *n));
                    pos += n;
                }
            }
        }
        Ok(out)
    }
}

impl TextSource for Document {
    fn char_len(&self) -> usize {
        self.rope.len_chars()
    }
    fn slice_chars(&self, start: usize, len: usize) -> String {
        let mut out = String::new();
        for s in self.rope.slice_substrings(start..start + len) {
            out.push_str(s);
        }
        out
    }
}

impl std::fmt::Display for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in self.rope.substrings() {
            f.write_str(s)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Document").field(&self.to_string()).finish()
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.rope == other.rope
    }
}

impl Eq for Document {}
