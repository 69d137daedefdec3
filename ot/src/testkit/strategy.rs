//! proptest strategies for documents and operations, and the runner configuration the property
//! tests use.
//!
//! Every generator produces *valid* input for a concrete document: a document is drawn first and
//! an operation is then built from abstract [`Step`]s fitted to that document's length, so
//! shrinking stays meaningful (a shorter step list or document is still a valid case).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, FileFailurePersistence};

use crate::Operation;

/// proptest configuration of the property tests: the default case count (256, or
/// `PROPTEST_CASES`) and failure persistence into `regressions_file` (for this crate
/// `ot/proptest-regressions/<test>.txt`, committed and replayed before the random cases on
/// every run). Pass an absolute path, e.g. built with `concat!(env!("CARGO_MANIFEST_DIR"), …)`.
pub fn proptest_config(regressions_file: &'static str) -> Config {
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

/// One [`Step`]: retains and inserts most often, short deletes, sometimes a long one.
pub fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<Index>().prop_map(Step::Retain),
        2 => (1usize..=3).prop_map(Step::Delete),
        1 => any::<Index>().prop_map(Step::DeleteSpan),
        3 => arb_insert(5).prop_map(Step::Insert),
    ]
}

/// The steps of one operation (up to 6; none gives the identity).
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
