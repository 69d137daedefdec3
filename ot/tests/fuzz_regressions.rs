//! Minimal cases of bugs found by the cargo-fuzz targets in `fuzz/` (see fuzz/README.md).

use ot::{CheckedOp, ComponentError, Document, Operation, WireError};

fn too_large(json: &str) -> Option<usize> {
    match Operation::from_json(json) {
        Err(WireError::Component {
            index,
            reason: ComponentError::TooLarge(_),
        }) => Some(index),
        _ => None,
    }
}

/// fuzz/wire_json: `[1, 18446744073709551615]` overflowed the retain sum — a panic ("attempt to
/// add with overflow") with overflow checks, a wrapped-around `Retain(0)` without.
#[test]
fn wire_lengths_that_overflow_the_operation_are_rejected() {
    assert_eq!(too_large("[1,18446744073709551615]"), Some(1));
    assert_eq!(
        too_large("[18446744073709551615,18446744073709551615]"),
        Some(0)
    );
    assert_eq!(too_large(r#"[9223372036854775807,{"d":1}]"#), Some(1));
    assert_eq!(too_large(r#"[9223372036854775807,"x",-1]"#), Some(2));
    assert!(matches!(
        CheckedOp::from_json(r#"[9223372036854775807,{"d":"x"}]"#),
        Err(WireError::Component {
            index: 1,
            reason: ComponentError::TooLarge(_)
        })
    ));
}

/// fuzz/apply_any: `[{"d": 17390529644336419474}]` parsed, and then `to_json` panicked
/// ("serialising an operation cannot fail: delete too long"), since a delete longer than
/// `i64::MAX` cannot be written as a negative JSON integer.
#[test]
fn wire_deletes_parse_only_if_they_serialise() {
    assert_eq!(too_large(r#"[{"d":17390529644336419474}]"#), Some(0));
    assert_eq!(too_large("[-9223372036854775808]"), Some(0));
    assert_eq!(too_large("[-9223372036854775807,-1]"), Some(1));
    assert_eq!(too_large(r#"[{"d":9223372036854775807},{"d":1}]"#), Some(1));
}

/// The largest lengths the wire accepts still round-trip, and checking / applying them against
/// a real document fails cleanly.
#[test]
fn largest_wire_lengths_round_trip() {
    for json in [
        "[9223372036854775807]",
        "[-9223372036854775807]",
        r#"[9223372036854775806,"abc",-1]"#,
        r#"[-4611686018427387904,"x",4611686018427387903]"#,
    ] {
        let op = Operation::from_json(json).unwrap();
        assert_eq!(op.base_len(), 9223372036854775807);
        assert_eq!(Operation::from_json(&op.to_json()).unwrap(), op);
        assert!(op.apply("abc").is_err());
        assert!(Document::from_text("abc").apply(&op).is_err());
    }
    let checked = CheckedOp::from_json(r#"[9223372036854775806,{"d":"x"}]"#).unwrap();
    assert!(checked.verify("abc").is_err());
    let mut doc = Document::from_text("abc");
    assert!(doc.apply_checked(&checked).is_err());
    assert_eq!(doc.to_string(), "abc");
}
