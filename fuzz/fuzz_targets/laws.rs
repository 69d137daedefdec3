//! The OT laws on a generated document `s` (any chars, astral included) and generated operations
//! that are always valid: `a` and `b` on `s` (concurrent), `c` on `apply(s, a)` (sequential).
//! See README.md for the list of checks; any violation panics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ot::testkit::{assert_canonical, char_len};
use ot::{
    transform, transform_index, transform_through, Bias, Component, Document, Operation, Side,
};
use ot_fuzz::{build_op, Step, Text};

#[derive(Arbitrary, Debug)]
struct Input {
    doc: Text,
    a: Vec<Step>,
    b: Vec<Step>,
    c: Vec<Step>,
    /// Bit 0: write deletes as `{"d": "text"}`; bit 1: also `{"d": n}`; bit 2: omit the trailing
    /// retain on the wire.
    wire_style: u8,
}

const SIDES: [Side; 2] = [Side::Left, Side::Right];

fn apply(op: &Operation, s: &str) -> String {
    op.apply(s)
        .unwrap_or_else(|e| panic!("{op:?} does not apply to {s:?}: {e}"))
}

fn compose(a: &Operation, b: &Operation) -> Operation {
    a.compose(b)
        .unwrap_or_else(|e| panic!("compose({a:?}, {b:?}): {e}"))
}

fn xform(a: &Operation, b: &Operation, side: Side) -> (Operation, Operation) {
    transform(a, b, side).unwrap_or_else(|e| panic!("transform({a:?}, {b:?}, {side:?}): {e}"))
}

/// Where the single insert of `op` (a one-char insert, transformed) sits in its base document.
fn insert_position(op: &Operation) -> usize {
    let mut pos = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Insert(_) => return pos,
            Component::Delete(_) => panic!("cursor marker deletes: {op:?}"),
        }
    }
    panic!("cursor marker lost its insert: {op:?}")
}

/// The wire form of `op` with checked deletes (`{"d": "text"}`, whose text comes from `base`)
/// and/or `{"d": n}` deletes, optionally without its trailing retain.
fn checked_json(op: &Operation, base: &str, style: u8) -> String {
    let mut items = Vec::new();
    let mut rest: &str = base;
    let comps = op.components();
    for (i, c) in comps.iter().enumerate() {
        let split = |s: &str, n: usize| -> (String, usize) {
            let head: String = s.chars().take(n).collect();
            let len = head.len();
            (head, len)
        };
        match c {
            Component::Retain(n) => {
                rest = &rest[split(rest, *n).1..];
                if !(style & 4 != 0 && i + 1 == comps.len()) {
                    items.push(serde_json::json!(n));
                }
            }
            Component::Insert(s) => items.push(serde_json::json!(s)),
            Component::Delete(n) => {
                let (gone, bytes) = split(rest, *n);
                rest = &rest[bytes..];
                items.push(match (style & 1 != 0, style & 2 != 0 && i % 2 == 0) {
                    (_, true) => serde_json::json!({ "d": n }),
                    (true, false) => serde_json::json!({ "d": gone }),
                    (false, false) => serde_json::json!(-(*n as i64)),
                });
            }
        }
    }
    serde_json::Value::Array(items).to_string()
}

fuzz_target!(|input: Input| {
    let s = input.doc.build();
    let len = char_len(&s);
    let a = build_op(len, &input.a);
    let b = build_op(len, &input.b);
    for op in [&a, &b] {
        assert_canonical(op);
        assert_eq!(op.base_len(), len);
    }

    let sa = apply(&a, &s);
    let sb = apply(&b, &s);
    assert_eq!(char_len(&sa), a.target_len());
    assert_eq!(char_len(&sb), b.target_len());
    let c = build_op(a.target_len(), &input.c);
    assert_canonical(&c);
    let sac = apply(&c, &sa);

    // Document (rope) apply == Operation::apply on a String; Document::invert == invert.
    let mut doc = Document::from_text(&s);
    assert_eq!(doc.char_len(), len);
    assert_eq!(doc.byte_len(), s.len());
    assert_eq!(doc.to_string(), s);
    let a_inv = a.invert(&s).expect("invert a");
    assert_eq!(doc.invert(&a).expect("Document::invert a"), a_inv);
    doc.apply(&a).expect("Document::apply a");
    assert_eq!(doc.to_string(), sa, "Document::apply a");
    assert_eq!(doc.char_len(), char_len(&sa));
    assert_eq!(doc, Document::from_text(&sa), "rope equality after a");
    let c_inv = c.invert(&sa).expect("invert c");
    assert_eq!(doc.invert(&c).expect("Document::invert c"), c_inv);
    doc.apply(&c).expect("Document::apply c");
    assert_eq!(doc.to_string(), sac, "Document::apply c");
    // An operation for another length is refused.
    assert_eq!(doc.apply(&b).is_ok(), b.base_len() == char_len(&sac));

    // Compose: apply(apply(s, a), c) == apply(s, a ∘ c); associativity; compose_all.
    let ac = compose(&a, &c);
    assert_canonical(&ac);
    assert_eq!(apply(&ac, &s), sac, "compose law");
    let ac_ci = compose(&ac, &c_inv);
    assert_eq!(ac_ci, compose(&a, &compose(&c, &c_inv)), "associativity");
    assert_eq!(apply(&ac_ci, &s), sa);
    let all = Operation::compose_all([a.clone(), c.clone(), c_inv.clone()]).expect("compose_all");
    assert_eq!(all.as_ref(), Some(&ac_ci), "compose_all");
    assert_eq!(Operation::compose_all([]).expect("empty compose_all"), None);
    assert_eq!(compose(&Operation::identity(len), &a), a, "identity ∘ a");
    assert_eq!(
        compose(&a, &Operation::identity(a.target_len())),
        a,
        "a ∘ identity"
    );

    // Invert round trips.
    assert_canonical(&a_inv);
    assert_eq!(apply(&a_inv, &sa), s, "invert law");
    assert_eq!(a_inv.invert(&sa).as_ref(), Ok(&a), "double invert");
    assert!(apply(&compose(&a, &a_inv), &s) == s);

    // Transform (TP1), both sides, plus symmetry and identity.
    for side in SIDES {
        let (a2, b2) = xform(&a, &b, side);
        assert_canonical(&a2);
        assert_canonical(&b2);
        let left = apply(&b2, &sa);
        let right = apply(&a2, &sb);
        assert_eq!(left, right, "TP1 convergence, side {side:?}");
        assert_eq!(
            compose(&a, &b2),
            compose(&b, &a2),
            "TP1 compose, side {side:?}"
        );
        assert_eq!(
            xform(&b, &a, side.opposite()),
            (b2.clone(), a2.clone()),
            "transform symmetry, side {side:?}"
        );
        let id = Operation::identity(len);
        assert_eq!(
            xform(&a, &id, side),
            (a.clone(), Operation::identity(a.target_len())),
            "transform against identity"
        );

        // transform_through a two-step history is stepwise transformation and converges with
        // the history transformed stepwise.
        let b_ac = transform_through(&b, [&a, &c], side).expect("transform_through");
        let (b_a, a_b) = xform(&b, &a, side);
        let (b_a_c, c_b) = xform(&b_a, &c, side);
        assert_eq!(b_ac, b_a_c, "transform_through is stepwise, {side:?}");
        assert_eq!(
            apply(&b_ac, &sac),
            apply(&c_b, &apply(&a_b, &sb)),
            "transform_through converges, {side:?}"
        );
        assert_eq!(compose(&ac, &b_ac), compose(&b, &compose(&a_b, &c_b)));
        // ... and equals transforming through the composition when b or the history inserts
        // nothing. (With inserts on both sides, ties can be ordered differently, on either side:
        // s = "a", a = [1, "x"], c = [-1, 1], b = ["y", 1] gives "yx" stepwise but "xy" through
        // a ∘ c = ["x", -1] with b on the Right. See ot/tests/properties.rs.)
        let (b_ac2, ac_b) = xform(&b, &ac, side);
        assert_eq!(apply(&b_ac2, &sac), apply(&ac_b, &sb), "TP1 against a ∘ c");
        let inserts = |op: &Operation| {
            op.components()
                .iter()
                .any(|c| matches!(c, Component::Insert(_)))
        };
        if !inserts(&b) || !(inserts(&a) || inserts(&c)) {
            assert_eq!(b_ac, b_ac2, "transform_through vs composition, {side:?}");
        }
    }

    // Cursors: transform_index stays within the result, is monotonic, agrees with transforming
    // a one-char insert at the cursor (Stay = the cursor's insert on the left, Push = right).
    for (bias, side) in [(Bias::Stay, Side::Left), (Bias::Push, Side::Right)] {
        let mut prev = 0usize;
        for i in 0..=len.min(64) + 1 {
            let j = transform_index(i, &a, bias);
            assert!(
                j <= a.target_len(),
                "transform_index({i}) = {j} out of bounds"
            );
            assert!(j >= prev, "transform_index not monotonic at {i}");
            prev = j;
            if i <= len {
                let marker = Operation::splice(len, i, 0, "\u{1}").expect("marker");
                let (moved, _) = xform(&marker, &a, side);
                assert_eq!(j, insert_position(&moved), "transform_index({i}, {bias:?})");
            }
        }
        assert_eq!(
            transform_index(usize::MAX, &a, bias),
            transform_index(len, &a, bias)
        );
    }
    assert_eq!(transform_index(len, &a, Bias::Push), a.target_len());
    assert_eq!(transform_index(0, &a, Bias::Stay), 0);

    // Wire: plain round trip, and the checked/short forms parse back to `a`.
    assert_eq!(
        Operation::from_json(&a.to_json()).as_ref(),
        Ok(&a),
        "wire round trip"
    );
    let json = checked_json(&a, &s, input.wire_style);
    let parsed = ot::CheckedOp::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    parsed.verify(s.as_str()).expect("verify on str");
    let mut doc = Document::from_text(&s);
    parsed.verify(&doc).expect("verify on Document");
    assert_eq!(
        doc.apply_checked(&parsed).as_ref(),
        Ok(&a),
        "apply_checked {json}"
    );
    assert_eq!(doc.to_string(), sa);
});
