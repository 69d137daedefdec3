//! Shared pieces of the fuzz targets: turning fuzzer bytes into documents (any chars, astral
//! ones included) and operations (always valid for a given document). The checks and reference
//! models the targets share with the property tests (`assert_canonical`,
//! `model_apply_components`, `char_len`) come from `ot::testkit`.

use arbitrary::Arbitrary;
use ot::Operation;

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
