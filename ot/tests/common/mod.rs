//! Generators and reference models shared by the `ot` integration tests.
//!
//! Every generator produces *valid* input for a concrete document: a document is drawn first and
//! an operation is then built from abstract [`Step`]s fitted to that document's length, so
//! shrinking stays meaningful (a shorter step list or document is still a valid case).
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use ot::{Bias, Component, Operation};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, FileFailurePersistence};

/// proptest configuration of the property tests: the default case count (256, or
/// `PROPTEST_CASES`) and failure persistence into `ot/proptest-regressions/<name>.txt` (committed,
/// replayed before the random cases on every run).
pub fn config(regressions_file: &'static str) -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions_file))),
        ..Config::default()
    }
}

/// One char of test text: mostly a small ASCII alphabet (so that equal neighbours and repeated
/// text are common), plus combining marks, CJK, astral-plane emoji (4 UTF-8 bytes, 2 UTF-16
/// units), ZWJ / variation selectors and other multi-byte chars.
pub fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'e'),
        1 => Just('\n'),
        2 => proptest::char::range('\u{0300}', '\u{036F}'), // combining diacritical marks
        2 => proptest::char::range('\u{4E00}', '\u{4E2F}'), // CJK unified ideographs
        2 => proptest::char::range('\u{1F600}', '\u{1F64F}'), // emoticons (astral plane)
        2 => select(vec![
            'é', 'ß', 'Ω', '\u{200D}', '\u{FE0F}', '𝄞', '👍', '\u{1F3FD}', '🇫', '🇷', '한',
            '\u{10FFFF}',
        ]),
    ]
}

/// Text of up to `max` chars (possibly empty).
pub fn arb_text(max: usize) -> impl Strategy<Value = String> {
    vec(arb_char(), 0..=max).prop_map(String::from_iter)
}

/// Non-empty text of up to `max` chars.
pub fn arb_insert(max: usize) -> impl Strategy<Value = String> {
    vec(arb_char(), 1..=max).prop_map(String::from_iter)
}

/// A document for the property tests.
pub fn arb_doc() -> impl Strategy<Value = String> {
    arb_text(24)
}

/// An abstract edit step, turned into components by [`build`] once the length of the document
/// is known.
#[derive(Clone, Debug)]
pub enum Step {
    /// Retain a fraction of what is left.
    Retain(Index),
    /// Delete 1..=3 chars (clamped to what is left).
    Delete(usize),
    /// Delete a fraction of what is left (long deletes).
    DeleteSpan(Index),
    /// Insert text.
    Insert(String),
}

pub fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<Index>().prop_map(Step::Retain),
        2 => (1usize..=3).prop_map(Step::Delete),
        1 => any::<Index>().prop_map(Step::DeleteSpan),
        3 => arb_insert(5).prop_map(Step::Insert),
    ]
}

pub fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    vec(arb_step(), 0..7)
}

/// The operation described by `steps` on a document of `len` chars (always valid: it spans
/// exactly `len` chars, ending with a retain of whatever the steps did not consume).
pub fn build(steps: &[Step], len: usize) -> Operation {
    let mut op = Operation::new();
    let mut left = len;
    for step in steps {
        match step {
            Step::Retain(i) => {
                let k = i.index(left + 1);
                op.retain(k);
                left -= k;
            }
            Step::Delete(n) => {
                let k = (*n).min(left);
                op.delete(k);
                left -= k;
            }
            Step::DeleteSpan(i) => {
                let k = i.index(left + 1);
                op.delete(k);
                left -= k;
            }
            Step::Insert(s) => {
                op.insert(s);
            }
        }
    }
    op.retain(left);
    op
}

/// Builds `steps` for each element in turn, each op applying to the result of the one before
/// (starting from a document of `len` chars).
pub fn build_chain(chain: &[Vec<Step>], len: usize) -> Vec<Operation> {
    let mut len = len;
    chain
        .iter()
        .map(|steps| {
            let op = build(steps, len);
            len = op.target_len();
            op
        })
        .collect()
}

pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Reference implementation of apply on a `Vec<char>`, written independently of the crate.
pub fn model_apply(doc: &str, op: &Operation) -> String {
    let chars: Vec<char> = doc.chars().collect();
    assert_eq!(chars.len(), op.base_len(), "model_apply: length mismatch");
    let mut out = String::new();
    let mut i = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                out.extend(&chars[i..i + n]);
                i += n;
            }
            Component::Insert(s) => out.push_str(s),
            Component::Delete(n) => i += n,
        }
    }
    assert_eq!(i, chars.len());
    out
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

/// Checks the canonical-form invariants of an operation's components.
pub fn assert_canonical(op: &Operation) {
    let cs = op.components();
    for c in cs {
        match c {
            Component::Retain(0) | Component::Delete(0) => panic!("empty component in {op:?}"),
            Component::Insert(s) if s.is_empty() => panic!("empty insert in {op:?}"),
            _ => {}
        }
    }
    for w in cs.windows(2) {
        assert_ne!(
            std::mem::discriminant(&w[0]),
            std::mem::discriminant(&w[1]),
            "adjacent components of the same kind in {op:?}"
        );
        assert!(
            !matches!((&w[0], &w[1]), (Component::Delete(_), Component::Insert(_))),
            "delete immediately followed by insert in {op:?}"
        );
    }
    let base: usize = cs.iter().map(Component::base_len).sum();
    let target: usize = cs.iter().map(Component::target_len).sum();
    assert_eq!(op.base_len(), base, "base_len of {op:?}");
    assert_eq!(op.target_len(), target, "target_len of {op:?}");
}

/// A small deterministic PRNG (SplitMix64) for the seeded loops: no dependency, same sequence
/// on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random char with the same mix as [`arb_char`].
    pub fn char(&mut self) -> char {
        const SPECIAL: &[char] = &[
            'é',
            'ß',
            'Ω',
            '\u{200D}',
            '\u{FE0F}',
            '𝄞',
            '👍',
            '\u{1F3FD}',
            '🇫',
            '🇷',
            '한',
            '\n',
        ];
        let pick = |lo: u32, span: usize, r: &mut Self| {
            char::from_u32(lo + r.below(span) as u32).expect("ranges hold only scalar values")
        };
        match self.below(16) {
            0..=7 => pick('a' as u32, 26, self),
            8 | 9 => pick(0x0300, 0x70, self),
            10 | 11 => pick(0x4E00, 0x200, self),
            12 | 13 => pick(0x1F600, 0x50, self),
            _ => SPECIAL[self.below(SPECIAL.len())],
        }
    }

    pub fn text(&mut self, max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.char()).collect()
    }
}

/// `ot/testdata/vectors.json`.
pub fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json")
}
