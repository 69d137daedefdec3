//! Model-based tests: the rope-backed `Document` against a naive model (a `Vec<char>` edited
//! directly) over long random edit sequences with Unicode text, so that the rope's internal
//! nodes split, merge and are edited across their boundaries.

use ot::testkit::*;
use ot::{CheckedOp, Document, Operation, TextSource};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

/// A random multi-component operation on a document of `len` chars, built component by
/// component from `rng` (positions spread over the whole document, sometimes long deletes and
/// long inserts).
fn random_op(rng: &mut SplitMix64, len: usize) -> Operation {
    let mut op = Operation::new();
    let mut left = len;
    let components = 1 + rng.below(5);
    for _ in 0..components {
        match rng.below(10) {
            0..=3 if left > 0 => {
                let k = rng.below(left + 1);
                op.retain(k);
                left -= k;
            }
            4..=5 if left > 0 => {
                let max = if rng.below(20) == 0 {
                    left
                } else {
                    left.min(8)
                };
                let k = 1 + rng.below(max);
                op.delete(k);
                left -= k;
            }
            _ => {
                let max = if rng.below(30) == 0 { 200 } else { 12 };
                op.insert(&rng.text(max));
            }
        }
    }
    op.retain(left);
    op
}

/// A random editor-style splice: (pos, delete, text).
fn random_splice(rng: &mut SplitMix64, len: usize) -> (usize, usize, String) {
    let pos = rng.below(len + 1);
    let del = match rng.below(3) {
        0 => 0,
        _ => rng.below((len - pos).min(6) + 1),
    };
    let text = if rng.below(3) == 0 {
        String::new()
    } else {
        rng.text(6)
    };
    (pos, del, text)
}

/// The naive model: apply each component to a `Vec<char>` directly.
fn model_edit(model: &mut Vec<char>, op: &Operation) {
    assert_eq!(model.len(), op.base_len());
    let mut pos = 0;
    for c in op.components() {
        match c {
            ot::Component::Retain(n) => pos += n,
            ot::Component::Insert(s) => {
                let chars: Vec<char> = s.chars().collect();
                let n = chars.len();
                model.splice(pos..pos, chars);
                pos += n;
            }
            ot::Component::Delete(n) => {
                model.drain(pos..pos + n);
            }
        }
    }
}

/// Runs `steps` random edits from `seed` against both the rope and the model, checking them
/// after every edit, then undoes everything and checks the composition of the whole history.
fn run(seed: u64, steps: usize, start: &str) {
    let mut rng = SplitMix64(seed);
    let mut doc = Document::from_text(start);
    let mut model: Vec<char> = start.chars().collect();
    let mut text = start.to_owned();
    let mut history = Vec::with_capacity(steps);
    let mut undo = Vec::with_capacity(steps);
    let mut max_len = 0;
    for step in 0..steps {
        let len = model.len();
        let op = match rng.below(4) {
            0 => {
                let (pos, del, ins) = random_splice(&mut rng, len);
                let op = Operation::splice(len, pos, del, &ins).unwrap();
                let mut m = model.clone();
                m.splice(pos..pos + del, ins.chars());
                let mut via_model = model.clone();
                model_edit(&mut via_model, &op);
                assert_eq!(
                    via_model, m,
                    "seed {seed} step {step}: splice {pos} {del} {ins:?}"
                );
                op
            }
            _ => random_op(&mut rng, len),
        };
        assert_eq!(op.base_len(), len);
        assert_canonical(&op);

        let inverse = doc.invert(&op).unwrap();
        if rng.below(8) == 0 {
            // Through the wire with checked deletes, verified against the rope.
            let wire = checked_wire(&op, &model);
            let parsed = CheckedOp::from_json(&wire).unwrap();
            assert_eq!(
                doc.apply_checked(&parsed).unwrap(),
                op,
                "seed {seed} step {step}"
            );
        } else {
            doc.apply(&op).unwrap();
        }
        model_edit(&mut model, &op);
        text = op.apply(&text).unwrap();

        let expected: String = model.iter().collect();
        assert_eq!(text, expected, "seed {seed} step {step}: Operation::apply");
        assert_eq!(doc.char_len(), model.len(), "seed {seed} step {step}");
        assert_eq!(doc.byte_len(), expected.len(), "seed {seed} step {step}");
        assert_eq!(doc.to_string(), expected, "seed {seed} step {step}: rope");
        if !model.is_empty() && step % 16 == 0 {
            let start = rng.below(model.len());
            let n = rng.below(model.len() - start + 1);
            let slice: String = model[start..start + n].iter().collect();
            assert_eq!(
                doc.slice_chars(start, n),
                slice,
                "seed {seed} step {step}: slice"
            );
        }
        max_len = max_len.max(model.len());
        history.push(op);
        undo.push(inverse);
    }
    assert!(
        max_len > 1000,
        "seed {seed}: the document stayed small ({max_len} chars)"
    );

    // The whole history composed does the same.
    let all = Operation::compose_all(history.iter().cloned())
        .unwrap()
        .unwrap();
    assert_eq!(all.apply(start).unwrap(), text, "seed {seed}: compose_all");
    let mut fresh = Document::from_text(start);
    fresh.apply(&all).unwrap();
    assert_eq!(fresh, doc);

    // Undo everything, newest first.
    for (i, inv) in undo.iter().enumerate().rev() {
        doc.apply(inv)
            .unwrap_or_else(|e| panic!("seed {seed}: undo {i}: {e}"));
        model_edit(&mut model, inv);
    }
    assert_eq!(doc.to_string(), start, "seed {seed}: undo all");
    assert_eq!(model.iter().collect::<String>(), start);
}

/// `op` in the wire format with every delete written as `{"d": "deleted text"}` and the trailing
/// retain left out.
fn checked_wire(op: &Operation, doc: &[char]) -> String {
    let mut items = Vec::new();
    let mut pos = 0;
    for c in op.components() {
        match c {
            ot::Component::Retain(n) => {
                items.push(json!(n));
                pos += n;
            }
            ot::Component::Insert(s) => items.push(json!(s)),
            ot::Component::Delete(n) => {
                items.push(json!({ "d": doc[pos..pos + n].iter().collect::<String>() }));
                pos += n;
            }
        }
    }
    if matches!(op.components().last(), Some(ot::Component::Retain(_))) {
        items.pop();
    }
    Value::Array(items).to_string()
}

#[test]
fn rope_matches_model_from_empty() {
    for seed in [1, 2, 3] {
        run(seed, 2500, "");
    }
}

#[test]
fn rope_matches_model_from_unicode_text() {
    let start: String = "Grüße, 世界! 👋🏽 e\u{301} 🇫🇷 𝄞\n".repeat(40);
    run(0xC0FFEE, 2500, &start);
}

/// Long runs of single-char typing and backspacing at one moving caret, like the real traces.
#[test]
fn typing_at_a_caret() {
    let mut rng = SplitMix64(42);
    let mut doc = Document::new();
    let mut model: Vec<char> = Vec::new();
    let mut caret = 0;
    for step in 0..6000 {
        let len = model.len();
        if rng.below(50) == 0 {
            caret = rng.below(len + 1);
        }
        let op = if rng.below(5) == 0 && caret > 0 {
            caret -= 1;
            Operation::splice(len, caret, 1, "").unwrap()
        } else {
            let c = rng.char();
            caret += 1;
            Operation::splice(len, caret - 1, 0, &c.to_string()).unwrap()
        };
        doc.apply(&op).unwrap();
        model_edit(&mut model, &op);
        if step % 100 == 0 {
            assert_eq!(
                doc.to_string(),
                model.iter().collect::<String>(),
                "step {step}"
            );
        }
    }
    assert_eq!(doc.to_string(), model.iter().collect::<String>());
    assert_eq!(doc.char_len(), model.len());
}

proptest! {
    #![proptest_config(proptest_config(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/model.txt"
    )))]

    /// Random sequences of operations on random (Unicode) documents: the rope, the string apply
    /// and the naive model agree after every step.
    #[test]
    fn rope_matches_model_on_sequences(
        start in arb_text(300),
        chain in vec(arb_steps(), 1..40),
    ) {
        let mut doc = Document::from_text(&start);
        let mut model: Vec<char> = start.chars().collect();
        let mut text = start.clone();
        for op in build_chain(&chain, model.len()) {
            let inv = doc.invert(&op).unwrap();
            prop_assert_eq!(&inv, &op.invert(&text).unwrap());
            doc.apply(&op).unwrap();
            model_edit(&mut model, &op);
            text = op.apply(&text).unwrap();
            let expected: String = model.iter().collect();
            prop_assert_eq!(&text, &expected);
            prop_assert_eq!(doc.to_string(), expected);
            prop_assert_eq!(doc.char_len(), model.len());
        }
    }
}
