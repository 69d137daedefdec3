//! Shared pieces of the fuzz targets: turning fuzzer bytes into documents (any chars, astral
//! ones included) and operations (always valid for a given document, or arbitrary), plus the
//! structural checks every operation must pass.

use arbitrary::Arbitrary;
use ot::{Component, Operation};

/// Characters the generators favour: ASCII, multi-byte BMP, astral (4-byte UTF-8, surrogate
/// pairs in UTF-16), combining marks, ZWJ, BOM, the last code point, NUL and line breaks.
pub const PALETTE: &[char] = &[
    'a',
    'b',
    'c',
    ' ',
    '\n',
    '\r',
    '\t',
    '\0',
    '"',
    '\\',
    'é',
    'ß',
    '中',
    '\u{0301}',
    '\u{200D}',
    '\u{FEFF}',
    '\u{FFFF}',
    '😀',
    '👩',
    '\u{10000}',
    '\u{10FFFF}',
];

/// One generated char: usually from [`PALETTE`], sometimes any Unicode scalar value.
#[derive(Arbitrary, Debug, Clone)]
pub enum Ch {
    /// Index into [`PALETTE`] (modulo its length).
    Palette(u8),
    /// Any scalar value.
    Any(char),
}

impl Ch {
    /// The char this stands for.
    pub fn to_char(&self) -> char {
        match self {
            Ch::Palette(i) => PALETTE[usize::from(*i) % PALETTE.len()],
            Ch::Any(c) => *c,
        }
    }
}

/// Generated text.
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct Text(pub Vec<Ch>);

impl Text {
    /// The text as a `String`.
    pub fn build(&self) -> String {
        self.0.iter().map(Ch::to_char).collect()
    }
}

/// One step of an operation that is always valid: lengths are clamped to what is left of the
/// document, so `1 + n % left` chars are retained or deleted (nothing when `left == 0`).
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    /// Retain some chars.
    Retain(u16),
    /// Insert text (ignored when empty).
    Insert(Text),
    /// Delete some chars.
    Delete(u16),
}

/// Builds an operation valid for a document of `base_len` chars from `steps`, ending with a
/// retain of whatever the steps left untouched.
pub fn build_op(base_len: usize, steps: &[Step]) -> Operation {
    let mut op = Operation::new();
    let mut left = base_len;
    for step in steps {
        match step {
            Step::Insert(t) => {
                op.insert(&t.build());
            }
            Step::Retain(n) | Step::Delete(n) => {
                if left == 0 {
                    continue;
                }
                let k = 1 + usize::from(*n) % left;
                left -= k;
                if matches!(step, Step::Retain(_)) {
                    op.retain(k);
                } else {
                    op.delete(k);
                }
            }
        }
    }
    op.retain(left);
    op
}

/// Panics unless `op` is in canonical form and its cached lengths are right: no empty
/// components, no two adjacent components of the same kind, never a delete directly followed by
/// an insert; and re-canonicalising its components gives it back unchanged (idempotence).
pub fn assert_canonical(op: &Operation) {
    let comps = op.components();
    let (mut base, mut target) = (0usize, 0usize);
    for (i, c) in comps.iter().enumerate() {
        match c {
            Component::Retain(n) | Component::Delete(n) => assert!(*n > 0, "empty {c:?} in {op:?}"),
            Component::Insert(s) => assert!(!s.is_empty(), "empty insert in {op:?}"),
        }
        base += c.base_len();
        target += c.target_len();
        if i > 0 {
            let prev = &comps[i - 1];
            assert!(
                std::mem::discriminant(prev) != std::mem::discriminant(c),
                "adjacent components of one kind at {i} in {op:?}"
            );
            assert!(
                !matches!((prev, c), (Component::Delete(_), Component::Insert(_))),
                "delete before insert at {i} in {op:?}"
            );
        }
    }
    assert_eq!(op.base_len(), base, "cached base_len of {op:?}");
    assert_eq!(op.target_len(), target, "cached target_len of {op:?}");
    assert_eq!(
        op.is_noop(),
        comps.iter().all(|c| matches!(c, Component::Retain(_))),
        "is_noop of {op:?}"
    );
    let again = Operation::from_components(comps.iter().cloned());
    assert_eq!(&again, op, "canonical form is not idempotent");
    assert_eq!(again.into_components(), comps, "into_components");
}

/// Reference `apply` over raw (possibly non-canonical) components: walks them one by one over
/// the document's chars. `None` when they do not span exactly the whole document.
pub fn naive_apply(doc: &[char], comps: &[Component]) -> Option<String> {
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

/// Number of chars (code points) in `s`.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}
