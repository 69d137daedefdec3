//! Arbitrary, usually invalid, input against arbitrary documents: operations built from raw
//! components (any lengths, non-canonical), splices with any position, and structured wire JSON
//! with huge / negative / float numbers and checked deletes. Every API must return `Err` (never
//! panic) when the input does not fit, agree with a naive reference `apply` when it does, and
//! leave a `Document` unchanged when it refuses an operation.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ot::testkit::{assert_canonical, char_len, model_apply_components};
use ot::{
    transform, transform_index, transform_through, Bias, CheckedOp, Component, Document, Operation,
    OtError, Side,
};
use ot_fuzz::Text;

#[derive(Arbitrary, Debug)]
enum Raw {
    Retain(u8),
    Insert(Text),
    Delete(u8),
    BigRetain(u32),
    BigDelete(u32),
}

impl Raw {
    fn component(&self) -> Component {
        match self {
            Raw::Retain(n) => Component::Retain((*n).into()),
            Raw::Delete(n) => Component::Delete((*n).into()),
            Raw::BigRetain(n) => Component::Retain(*n as usize),
            Raw::BigDelete(n) => Component::Delete(*n as usize),
            Raw::Insert(t) => Component::Insert(t.build().into()),
        }
    }
}

/// One wire component, written as JSON text by hand so that numbers can be anything.
#[derive(Arbitrary, Debug)]
enum Wire {
    Small(i8),
    Int(i64),
    Unsigned(u64),
    /// `-n` for any u64 (below i64::MIN serde_json reads it as a float).
    Negative(u64),
    Float(i32),
    Str(Text),
    DeleteCount(u64),
    DeleteText(Text),
    Null,
    Object,
    Nested,
}

fn wire_json(items: &[Wire]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|w| match w {
            Wire::Small(n) => n.to_string(),
            Wire::Int(n) => n.to_string(),
            Wire::Unsigned(n) => n.to_string(),
            Wire::Negative(n) => format!("-{n}"),
            Wire::Float(n) => format!("{n}.5"),
            Wire::Str(t) => serde_json::Value::String(t.build()).to_string(),
            Wire::DeleteCount(n) => format!("{{\"d\":{n}}}"),
            Wire::DeleteText(t) => format!("{{\"d\":{}}}", serde_json::Value::String(t.build())),
            Wire::Null => "null".to_owned(),
            Wire::Object => "{\"r\":1}".to_owned(),
            Wire::Nested => "[1]".to_owned(),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

#[derive(Arbitrary, Debug)]
struct Input {
    doc: Text,
    a: Vec<Raw>,
    b: Vec<Raw>,
    wire: Vec<Wire>,
    index: usize,
    splice: (usize, usize, Text),
}

fn check_apply(op: &Operation, raw: &[Component], s: &str) {
    let doc_chars: Vec<char> = s.chars().collect();
    let expected = model_apply_components(&doc_chars, raw);
    let got = op.apply(s);
    match (&got, &expected) {
        (Ok(x), Some(y)) => assert_eq!(x, y, "apply vs naive for {raw:?}"),
        (Err(OtError::BaseLengthMismatch { expected, actual }), None) => {
            assert_eq!((*expected, *actual), (op.base_len(), doc_chars.len()))
        }
        _ => panic!("apply {got:?} vs naive {expected:?} for {raw:?} on {s:?}"),
    }
    let mut doc = Document::from_text(s);
    let inverted = doc.invert(op);
    assert_eq!(inverted, op.invert(s), "Document::invert vs invert");
    match doc.apply(op) {
        Ok(()) => assert_eq!(Ok(doc.to_string()), got, "Document::apply"),
        Err(e) => {
            assert_eq!(Err(e), got, "Document::apply error");
            assert_eq!(doc.to_string(), s, "a refused op changed the Document");
        }
    }
    if let (Ok(inv), Ok(after)) = (inverted, &got) {
        assert_eq!(inv.apply(after).as_deref(), Ok(s), "invert");
    }
}

fuzz_target!(|input: Input| {
    let s = input.doc.build();
    let len = char_len(&s);
    let raw_a: Vec<Component> = input.a.iter().map(Raw::component).collect();
    let raw_b: Vec<Component> = input.b.iter().map(Raw::component).collect();
    let a = Operation::from_components(raw_a.clone());
    let b = Operation::from_components(raw_b.clone());
    assert_canonical(&a);
    assert_canonical(&b);
    check_apply(&a, &raw_a, &s);
    check_apply(&b, &raw_b, &s);

    // Compose / transform of operations that may not fit together.
    match a.compose(&b) {
        Ok(ab) => {
            assert_eq!(a.target_len(), b.base_len());
            assert_canonical(&ab);
            if let Ok(sa) = a.apply(&s) {
                assert_eq!(ab.apply(&s), b.apply(&sa), "compose law");
            }
        }
        Err(e) => assert!(
            matches!(e, OtError::ComposeLengthMismatch { .. }) && a.target_len() != b.base_len()
        ),
    }
    for side in [Side::Left, Side::Right] {
        match transform(&a, &b, side) {
            Ok((a2, b2)) => {
                assert_eq!(a.base_len(), b.base_len());
                assert_eq!(a.compose(&b2), b.compose(&a2), "TP1 compose");
                if let (Ok(sa), Ok(sb)) = (a.apply(&s), b.apply(&s)) {
                    assert_eq!(b2.apply(&sa), a2.apply(&sb), "TP1");
                }
            }
            Err(e) => assert!(
                matches!(e, OtError::TransformBaseMismatch { .. }) && a.base_len() != b.base_len()
            ),
        }
        let through = transform_through(&a, [&b, &b], side);
        // The second step transforms against `b` again, so `b` must also fit its own result.
        let fits = a.base_len() == b.base_len() && b.target_len() == b.base_len();
        assert_eq!(
            through.is_ok(),
            fits,
            "transform_through twice through {b:?}"
        );
    }
    for bias in [Bias::Stay, Bias::Push] {
        for i in [input.index, 0, len, usize::MAX] {
            assert!(transform_index(i, &a, bias) <= a.target_len());
        }
    }

    // fit_to any length a document can have (the builder does not guard against lengths that
    // overflow usize: fit_to(usize::MAX) on an op that inserts overflows its target_len).
    for n in [0, len, input.index.min(isize::MAX as usize)] {
        let mut fitted = a.clone();
        match fitted.fit_to(n) {
            Ok(()) => assert!(fitted.base_len() == n && a.base_len() <= n),
            Err(_) => assert!(a.base_len() > n && fitted == a),
        }
    }

    // Splices anywhere.
    let (pos, del, text) = &input.splice;
    let text = text.build();
    match Operation::splice(len, *pos, *del, &text) {
        Ok(op) => {
            assert!(pos.checked_add(*del).is_some_and(|end| end <= len));
            assert_canonical(&op);
            let cs: Vec<char> = s.chars().collect();
            let expected: String = cs[..*pos]
                .iter()
                .chain(text.chars().collect::<Vec<_>>().iter())
                .chain(cs[pos + del..].iter())
                .collect();
            assert_eq!(op.apply(&s), Ok(expected), "splice");
        }
        Err(e) => assert!(matches!(e, OtError::RangeOutOfBounds { .. })),
    }

    // Wire: structured JSON with any numbers, then verify / apply_checked on this document.
    let json = wire_json(&input.wire);
    if let Ok(c) = CheckedOp::from_json(&json) {
        assert_canonical(&c.op);
        if let Ok(op) = Operation::from_json(&json) {
            assert_eq!(
                Operation::from_json(&op.to_json()),
                Ok(op),
                "wire round trip"
            );
        }
        let on_str = c.verify(s.as_str());
        let mut doc = Document::from_text(&s);
        assert_eq!(c.verify(&doc), on_str, "verify: str vs Document");
        match doc.apply_checked(&c) {
            Ok(full) => {
                assert!(on_str.is_ok());
                assert_eq!(Ok(doc.to_string()), full.apply(&s), "apply_checked");
            }
            Err(_) => assert_eq!(doc.to_string(), s, "refused apply_checked changed the doc"),
        }
    }
});
