//! Reference models: the meaning of applying an operation and of moving a cursor through it,
//! written directly over `char`s and independently of the crate's own code (no rope, no
//! component splitting, no shared helpers), so that the tests compare two implementations.

use crate::{Bias, Component, Operation};

/// Number of chars (code points) in `s`, counted the obvious way.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Applies raw, possibly non-canonical components to `doc`, one by one. `None` when they do
/// not span exactly the whole document.
pub fn model_apply_components(doc: &[char], comps: &[Component]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0usize;
    for c in comps {
        match c {
            Component::Retain(n) => {
                let end = i.checked_add(*n).filter(|&e| e <= doc.len())?;
                out.extend(&doc[i..end]);
                i = end;
            }
            Component::Insert(s) => out.push_str(s),
            Component::Delete(n) => {
                i = i.checked_add(*n).filter(|&e| e <= doc.len())?;
            }
        }
    }
    (i == doc.len()).then_some(out)
}

/// `op` applied to `doc`; panics when `op` does not span `doc`.
pub fn model_apply(doc: &str, op: &Operation) -> String {
    let chars: Vec<char> = doc.chars().collect();
    model_apply_components(&chars, op.components()).unwrap_or_else(|| {
        panic!(
            "model_apply: {op:?} does not span a document of {} chars",
            chars.len()
        )
    })
}

/// Reference for `transform_index`: the number of output chars that end up before the cursor.
/// A retained base char is before the cursor iff its index is `< index`; an inserted char is
/// before it iff it is inserted at a base position `< index` (`Bias::Stay`) or `<= index`
/// (`Bias::Push`). Positions past the end are clamped.
pub fn model_transform_index(index: usize, op: &Operation, bias: Bias) -> usize {
    let index = index.min(op.base_len());
    let mut base = 0;
    let mut before = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                before += (*n).min(index.saturating_sub(base));
                base += n;
            }
            Component::Delete(n) => base += n,
            Component::Insert(s) => {
                let counts = match bias {
                    Bias::Stay => base < index,
                    Bias::Push => base <= index,
                };
                if counts {
                    before += char_len(s);
                }
            }
        }
    }
    before
}

/// Where each char of the base document went: `Some(output position)` or `None` if deleted.
pub fn char_destinations(op: &Operation) -> Vec<Option<usize>> {
    let mut dest = Vec::with_capacity(op.base_len());
    let mut out = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                for _ in 0..*n {
                    dest.push(Some(out));
                    out += 1;
                }
            }
            Component::Delete(n) => dest.extend(std::iter::repeat_n(None, *n)),
            Component::Insert(s) => out += char_len(s),
        }
    }
    dest
}
